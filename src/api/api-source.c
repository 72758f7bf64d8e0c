#include "api/api-source.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-common.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "daemon/daemon.h"
#include "source/source.h"

/* A request waiting for a source. */
struct api_source_wait {
	struct api_req *r;      /* borrowed; NULL once the client went away */
	struct api_source *src; /* borrowed */
	struct event *timer;    /* owned */
	api_source_fn done;
	void *arg;
	struct api_source_wait *next; /* in src->waits */
};

/* One source as the API knows it. */
struct api_source {
	char *repo;                    /* owned: as requests give it */
	struct api_source_job *job;    /* owned while in the pool, else NULL */
	int ever_fetched;              /* a fetch of this process succeeded: the mirror exists */
	int64_t fetched_at, failed_at; /* monotonic ms of the last success, failure; 0: none */
	struct err err;                /* the last failure */
	struct api_source_wait *waits; /* owned list */
	struct api_source *next;
};

static void fetch_job_free(struct api_source_job *j);

struct api_sources {
	struct api_source *list; /* owned */
};

/* A fetch in the pool. */
struct api_source_job {
	struct api_source *src; /* borrowed: sources outlive the pool */
	char *cache_dir;        /* owned */
	char *repo;             /* owned copy */
	const struct source_opts *opts;
	int rc;
	struct err err;
};

static void
wait_end(struct api_source_wait *w, enum api_source_result res, const struct err *err)
{
	struct api_source *s = w->src;
	struct api_source_wait **pp;
	int64_t now = now_mono_ms();

	for (pp = &s->waits; *pp != NULL && *pp != w; pp = &(*pp)->next)
		;
	if (*pp == w)
		*pp = w->next;
	if (w->r != NULL)
		api_req_set_closecb(w->r, NULL, NULL);
	if (w->timer != NULL)
		event_free(w->timer);
	w->done(w->r, w->arg, res, s->fetched_at > 0 ? (now - s->fetched_at) / 1000 : -1, err);
	free(w);
}

static void
wait_on_close(struct evhttp_connection *conn, void *p)
{
	struct api_source_wait *w = p;
	struct api_req *r = take_ptr(&w->r);

	(void)conn;
	if (r == NULL)
		return;
	api_req_gone(r);
}

static void
wait_on_timer(evutil_socket_t fd, short what, void *p)
{
	struct api_source_wait *w = p;

	(void)fd, (void)what;
	wait_end(w, w->src->ever_fetched ? API_SOURCE_STALE : API_SOURCE_WAITING, NULL);
}

static void
fetch_work(void *arg)
{
	struct api_source_job *j = arg;
	struct source_repo *repo = NULL;

	j->rc = source_sync(j->cache_dir, j->repo, j->opts, &repo, &j->err);
	source_close(repo);
}

static void
fetch_done(void *arg)
{
	struct api_source_job *j = arg;
	struct api_source *s = j->src;

	s->job = NULL;
	if (j->rc == 0) {
		s->fetched_at = now_mono_ms();
		s->ever_fetched = 1;
		err_clear(&s->err);
	} else {
		s->failed_at = now_mono_ms();
		err_clear(&s->err);
		s->err = j->err;
		memset(&j->err, 0, sizeof j->err);
		log_info("source %s: %s", s->repo, s->err.msg);
	}
	while (s->waits != NULL)
		wait_end(s->waits, j->rc == 0 ? API_SOURCE_FETCHED : API_SOURCE_FAILED, &s->err);
	fetch_job_free(j);
}

static void
fetch_job_free(struct api_source_job *j)
{
	free(j->cache_dir);
	free(j->repo);
	free(j);
}

static struct api_source *
source_entry(struct berthd *d, const char *repo)
{
	struct api_source *s;

	if (d->api_sources == NULL)
		d->api_sources = xcalloc(1, sizeof *d->api_sources);
	for (s = d->api_sources->list; s != NULL; s = s->next)
		if (strcmp(s->repo, repo) == 0)
			return s;
	s = xcalloc(1, sizeof *s);
	s->repo = xstrdup(repo);
	s->next = d->api_sources->list;
	d->api_sources->list = s;
	return s;
}

static void
source_start(struct berthd *d, struct api_source *s)
{
	struct api_source_job *j = xcalloc(1, sizeof *j);
	char host[256];

	j->src = s;
	j->cache_dir = xasprintf("%s/sources", d->settings.state_dir);
	j->repo = xstrdup(s->repo);
	j->opts = &d->sources;
	s->job = j;
	source_url_host(s->repo, host, sizeof host);
	workq_submit_keyed(d->fetchq, host, fetch_work, fetch_done, j);
}

void
api_source_fetch(struct api_req *r, struct berthd *d, const char *repo, int64_t fresh_ms,
                 api_source_fn done, void *arg)
{
	struct api_source *s = source_entry(d, repo);
	struct timeval tv = {API_SOURCE_WAIT_MS / 1000, (API_SOURCE_WAIT_MS % 1000) * 1000};
	int64_t now = now_mono_ms();
	struct api_source_wait *w;

	if (s->job == NULL) {
		if (fresh_ms > 0 && s->fetched_at > 0 && now - s->fetched_at <= fresh_ms &&
		    s->fetched_at >= s->failed_at) {
			done(r, arg, API_SOURCE_FETCHED, (now - s->fetched_at) / 1000, NULL);
			return;
		}
		/* A fetch that just failed is not tried again at once for a
		 * request: a stuck host would be asked by every one. berthd's
		 * own work (a retry, a restart) fetches again. */
		if (r != NULL && s->failed_at > s->fetched_at &&
		    now - s->failed_at < API_SOURCE_FAIL_MS) {
			done(r, arg, API_SOURCE_FAILED, -1, &s->err);
			return;
		}
		source_start(d, s);
	}
	w = xcalloc(1, sizeof *w);
	w->r = r;
	w->src = s;
	w->done = done;
	w->arg = arg;
	/* Without a request: work of berthd's own, which waits for the end. */
	if (r != NULL) {
		w->timer = evtimer_new(d->base, wait_on_timer, w);
		evtimer_add(w->timer, &tv);
		/* Through the server, which owns the connection's close callback. */
		api_req_set_closecb(r, wait_on_close, w);
	}
	w->next = s->waits;
	s->waits = w;
}

void
api_sources_free(struct api_sources *t)
{
	if (t == NULL)
		return;
	while (t->list != NULL) {
		struct api_source *s = t->list;

		t->list = s->next;
		while (s->waits != NULL)
			wait_end(s->waits, API_SOURCE_WAITING, NULL);
		/* Dropped by the pool before it ran. */
		if (s->job != NULL)
			fetch_job_free(s->job);
		err_clear(&s->err);
		free(s->repo);
		free(s);
	}
	free(t);
}
