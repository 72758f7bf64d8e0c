/* daemon: berthd's one context (STYLE.md rule 5) and its main loop. */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H

#include "common/err.h"
#include "daemon/settings.h"

struct event_base;
struct event;
struct workq;
struct api_server;

struct berthd {
	struct settings settings; /* owned */
	struct event_base *base;  /* owned */
	struct workq *workq;      /* owned: blocking work */
	struct api_server *api;   /* owned */
	struct event *sigterm;    /* owned */
	struct event *sigint;     /* owned */
	struct event *sigchld;    /* owned */
	int stopping;             /* SIGTERM seen: finish and exit */
};

/* Prepares the state directory and starts serving. Takes ownership of
 * settings (moved into d). */
int berthd_start(struct berthd *d, struct settings *settings, struct err *err);

/* Runs the loop until SIGTERM or SIGINT. */
int berthd_run(struct berthd *d);

/* Releases everything berthd_start() made. Enclaves and the router are left
 * running: the next start adopts them. */
void berthd_stop(struct berthd *d);

#endif
