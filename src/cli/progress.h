/* progress: what `berth container update` and `create --wait` show while they
 * follow a container: one status line (a pull bar, the blue-green statuses,
 * the two recreate phases), the new version's health log lines as they
 * appear, and when and how it ended. Pure: frames in, text out, so the unit
 * tests replay recorded sequences of container JSON. */
#ifndef BERTH_PROGRESS_H
#define BERTH_PROGRESS_H

#include <jansson.h>
#include <stddef.h>

#define PROGRESS_BAR_WIDTH 24

/* Following one update of a container, or its first deploy. */
struct progress {
	char *name;       /* owned: the container's name */
	char *update_id;  /* owned; NULL when following the first deploy */
	size_t log_shown; /* health_log lines already handed out */
	int tty;          /* render for a terminal: a bar and exact percentages */
	int done;         /* the followed work has ended */
	int ok;           /* ... and succeeded */
	char *result;     /* owned: once done, the closing sentence */
};

/* What one container frame adds. */
struct progress_frame {
	char *line;  /* owned: the status line, without newline; when it ended in
	              * failure, the reason is in p->result, not here */
	char **logs; /* owned strv: health log lines new since the last frame */
};

/* Starts following the container name: its update update_id, or its first
 * deploy when update_id is NULL. Both copied. */
void progress_init(struct progress *p, const char *name, const char *update_id, int tty);

/* Feeds one `GET /containers/{name}` answer; fills f (clear it with
 * progress_frame_clear) and updates p->done, ok and result. Returns 0, or -1
 * when the container's `update` is not the followed one (the caller may find
 * it in `GET /containers/{name}/updates` and feed it in a copy). */
int progress_feed(struct progress *p, const json_t *container, struct progress_frame *f);

/* Frees what f holds. */
void progress_frame_clear(struct progress_frame *f);

/* Frees what p holds. */
void progress_clear(struct progress *p);

/* The percentage of a detail such as "pulling image 40%", or -1; *prefix_len
 * (may be NULL) receives the length of the text before the number. */
int progress_percent(const char *detail, size_t *prefix_len);

/* "[##########..............]  40%" for percent (clamped to 0..100) in a bar
 * of width cells; owned. */
char *progress_bar(int percent, int width);

#endif
