/* progress: rendering the follow of an update or a first deploy. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "common/buf.h"
#include "common/util.h"

void
progress_init(struct progress *p, const char *name, const char *update_id, int tty)
{
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->update_id = update_id != NULL ? xstrdup(update_id) : NULL;
	p->tty = tty;
}

void
progress_clear(struct progress *p)
{
	free(p->name);
	free(p->update_id);
	free(p->result);
	memset(p, 0, sizeof(*p));
}

void
progress_frame_clear(struct progress_frame *f)
{
	free(f->line);
	strv_free(f->logs);
	f->line = NULL;
	f->logs = NULL;
}

int
progress_percent(const char *detail, size_t *prefix_len)
{
	size_t n, end;
	int pct = 0;

	if (detail == NULL || strncmp(detail, "pulling", 7) != 0)
		return -1;
	n = strlen(detail);
	if (n < 2 || detail[n - 1] != '%')
		return -1;
	end = n - 1;
	while (end > 0 && isdigit((unsigned char)detail[end - 1]))
		end--;
	if (end == n - 1 || n - 1 - end > 3)
		return -1;
	for (size_t i = end; i < n - 1; i++)
		pct = pct * 10 + (detail[i] - '0');
	if (prefix_len != NULL)
		*prefix_len = end;
	return pct > 100 ? 100 : pct;
}

char *
progress_bar(int percent, int width)
{
	struct buf b = BUF_INIT;
	int filled, i;

	if (percent < 0)
		percent = 0;
	if (percent > 100)
		percent = 100;
	filled = percent * width / 100;
	buf_putc(&b, '[');
	for (i = 0; i < width; i++)
		buf_putc(&b, i < filled ? '#' : '.');
	buf_printf(&b, "] %3d%%", percent);
	return buf_take(&b);
}

/* Appends detail to b: a pull percentage as a bar on a terminal, else in
 * steps of ten so that a log gets one line per step, not per percent. */
static void
put_detail(const struct progress *p, struct buf *b, const char *detail)
{
	size_t prefix;
	int pct = progress_percent(detail, &prefix);
	char *bar;

	if (pct < 0) {
		buf_puts(b, detail);
		return;
	}
	buf_append(b, detail, prefix);
	if (!p->tty) {
		buf_printf(b, "%d%%", pct / 10 * 10);
		return;
	}
	bar = progress_bar(pct, PROGRESS_BAR_WIDTH);
	buf_puts(b, bar);
	free(bar);
}

static char *
line_make(const struct progress *p, const char *stage, const char *detail)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s: %s", p->name, stage);
	if (detail != NULL && detail[0] != '\0') {
		buf_puts(&b, "  ");
		put_detail(p, &b, detail);
	}
	return buf_take(&b);
}

static void
finish(struct progress *p, int ok, char *result)
{
	p->done = 1;
	p->ok = ok;
	free(p->result);
	p->result = result;
}

static const char *
str_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The version a container serves: its deployment's tag, or a short id. */
static char *
version_of(const json_t *c)
{
	const json_t *d = json_object_get(c, "deployment");
	const char *tag = str_of(d, "tag"), *id = str_of(d, "id");

	if (tag != NULL)
		return xstrdup(tag);
	if (id != NULL)
		return xasprintf("deployment %.12s", id);
	return xstrdup("its new deployment");
}

static void
feed_first_deploy(struct progress *p, const json_t *c, struct progress_frame *f)
{
	const char *status = str_of(c, "status"), *detail = str_of(c, "status_detail");
	const char *url = str_of(c, "url");

	if (status != NULL && strcmp(status, "running") == 0) {
		f->line = line_make(p, "running", url);
		finish(p, 1,
		       url != NULL ? xasprintf("%s is running at %s", p->name, url)
		                   : xasprintf("%s is running", p->name));
	} else if (status != NULL && strcmp(status, "failed") == 0) {
		f->line = line_make(p, "failed", NULL);
		finish(p, 0,
		       xasprintf("%s failed to deploy: %s", p->name,
		                 detail != NULL ? detail : "berthd gave no reason"));
	} else {
		f->line = line_make(p, status != NULL ? status : "deploying",
		                    detail != NULL ? detail : "starting");
	}
}

static void
collect_logs(struct progress *p, const json_t *u, struct progress_frame *f)
{
	const json_t *log = json_object_get(u, "health_log");
	size_t i, n = json_array_size(log);

	if (n < p->log_shown) /* the server trimmed the log: show what is new */
		p->log_shown = 0;
	for (i = p->log_shown; i < n; i++) {
		const json_t *l = json_array_get(log, i);

		if (json_is_string(l))
			f->logs = strv_push(f->logs, json_string_value(l));
	}
	p->log_shown = n;
}

int
progress_feed(struct progress *p, const json_t *c, struct progress_frame *f)
{
	const json_t *u = json_object_get(c, "update");
	const char *cstatus = str_of(c, "status"), *detail = str_of(c, "status_detail");
	const char *ustatus, *strategy, *phase, *id, *stage, *why;
	int recreate;
	char *version;

	f->line = NULL;
	f->logs = NULL;
	if (p->update_id == NULL) {
		feed_first_deploy(p, c, f);
		return 0;
	}
	id = str_of(u, "id");
	if (id == NULL || strcmp(id, p->update_id) != 0)
		return -1;
	collect_logs(p, u, f);
	ustatus = str_of(u, "status");
	strategy = str_of(u, "strategy");
	phase = str_of(u, "phase");
	recreate = strategy != NULL && strcmp(strategy, "recreate") == 0;
	if (ustatus == NULL)
		ustatus = "pending";
	if (cstatus == NULL)
		cstatus = "deploying";

	if (strcmp(ustatus, "failed") == 0) {
		why = str_of(u, "error");
		if (why == NULL)
			why = detail != NULL ? detail : "berthd gave no reason";
		f->line = line_make(p, "failed", NULL);
		finish(p, 0, xasprintf("the update of %s failed: %s", p->name, why));
		return 0;
	}
	if (strcmp(ustatus, "cancelled") == 0) {
		f->line = line_make(p, "cancelled", NULL);
		finish(p, 0, xasprintf("the update of %s was cancelled", p->name));
		return 0;
	}
	if (strcmp(ustatus, "ready") == 0 && str_of(u, "finished_at") != NULL) {
		if (strcmp(cstatus, "running") == 0) {
			version = version_of(c);
			f->line = line_make(p, "done", NULL);
			finish(p, 1, xasprintf("%s now runs %s", p->name, version));
			free(version);
			return 0;
		}
		if (strcmp(cstatus, "failed") == 0) {
			why = detail != NULL ? detail : "berthd gave no reason";
			f->line = line_make(p, "failed", NULL);
			finish(p, 0, xasprintf("the update of %s failed: %s", p->name, why));
			return 0;
		}
		/* deploying: the switch is being written; the next frame tells */
		f->line = line_make(p, "ready", "switching traffic");
		return 0;
	}

	/* In progress. A failed container's detail is an earlier failure's. */
	if (strcmp(cstatus, "failed") == 0)
		detail = NULL;
	if (recreate && phase != NULL && strcmp(phase, "stopping") == 0) {
		stage = "1/2 stopping old";
		if (detail == NULL)
			detail = "draining";
	} else if (recreate && phase != NULL && strcmp(phase, "deploying") == 0) {
		stage = "2/2 deploying new";
		/* the first phase's detail may linger until the new version's pull */
		if (detail == NULL || strncmp(detail, "stopping", 8) == 0)
			detail = "booting";
	} else {
		stage = ustatus;
		if (detail == NULL)
			detail = strcmp(ustatus, "started") == 0 ? "health checks"
			         : strcmp(ustatus, "ready") == 0 ? "switching traffic"
			                                         : "deploying the new version";
	}
	f->line = line_make(p, stage, detail);
	return 0;
}
