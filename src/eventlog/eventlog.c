#include "eventlog/eventlog.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "store/store.h"

/* An event written inside a transaction, published once it committed. */
struct eventlog_pending {
	char org_id[65];
	int64_t id;
	char *kind; /* owned */
	char *json; /* owned */
	struct eventlog_then then;
	struct eventlog_pending *next;
};

struct eventlog {
	struct store *store; /* borrowed */
	eventlog_publish_fn publish;
	void *ctx;
	struct eventlog_pending *pending; /* owned list, newest first */
	struct event *flush;              /* owned: publishes pending events */
};

/* Publishes the events written inside transactions that committed; those of
 * a rolled-back transaction are not in the store and are dropped. */
static void
eventlog_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct eventlog *log = arg;
	struct eventlog_pending *p, *next, *rev = NULL;

	(void)fd;
	(void)what;
	for (p = take_ptr(&log->pending); p != NULL; p = next) {
		next = p->next;
		p->next = rev;
		rev = p;
	}
	for (p = rev; p != NULL; p = next) {
		struct store_event *v = NULL;
		struct err err = ERR_INIT;
		size_t n = 0;

		next = p->next;
		if (store_event_list(log->store, p->org_id, NULL, p->id - 1, 1, &v, &n, &err) ==
		        0 &&
		    n == 1 && v[0].id == p->id) {
			if (log->publish != NULL)
				log->publish(log->ctx, p->org_id, p->id, p->kind, p->json);
			if (p->then.fn != NULL)
				p->then.fn(p->then.arg);
		}
		store_event_list_free(v, n);
		free(p->then.arg);
		free(p->kind);
		free(p->json);
		free(p);
	}
}

struct eventlog *
eventlog_new(struct event_base *base, struct store *store, eventlog_publish_fn publish, void *ctx)
{
	struct eventlog *log = xcalloc(1, sizeof *log);

	log->store = store;
	log->publish = publish;
	log->ctx = ctx;
	log->flush = event_new(base, -1, 0, eventlog_on_flush, log);
	return log;
}

int
eventlog_add_then(struct eventlog *log, const struct store_container *c, const char *kind,
                  struct eventlog_then *then, struct err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = eventlog_addv(log, c, kind, then, err, fmt, ap);
	va_end(ap);
	return rc;
}

int
eventlog_addv(struct eventlog *log, const struct store_container *c, const char *kind,
              struct eventlog_then *then, struct err *err, const char *fmt, va_list ap)
{
	struct eventlog_then none = {0}, next = then != NULL ? *then : none;
	char msg[1024], when[32], *json;
	int64_t id = 0;
	json_t *ev;

	vsnprintf(msg, sizeof msg, fmt, ap);
	log_info("%s: %s: %s", c->name, kind, msg);
	if (store_event_append(log->store, c->org_id, c->id, c->name, kind, msg, &id, err) < 0) {
		free(next.arg);
		return -1;
	}
	time_rfc3339(now_wall_ms(), when);
	ev = json_pack("{s:I,s:s,s:s?,s:s,s:s}", "id", (json_int_t)id, "time", when, "container",
	               c->name, "kind", kind, "message", msg);
	json = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (store_in_transaction(log->store)) {
		/* Listeners hear it once it is committed: after this callback,
		 * when the caller's transaction has ended one way or the other. */
		struct eventlog_pending *p = xcalloc(1, sizeof *p);

		snprintf(p->org_id, sizeof p->org_id, "%s", c->org_id);
		p->id = id;
		p->kind = xstrdup(kind);
		p->json = json;
		p->then = next;
		p->next = log->pending;
		log->pending = p;
		event_active(log->flush, 0, 0);
		return 0;
	}
	if (log->publish != NULL)
		log->publish(log->ctx, c->org_id, id, kind, json);
	if (next.fn != NULL)
		next.fn(next.arg);
	free(next.arg);
	free(json);
	return 0;
}

void
eventlog_free(struct eventlog *log)
{
	if (log == NULL)
		return;
	eventlog_on_flush(-1, 0, log);
	event_free(log->flush);
	free(log);
}
