/* eventlog: what happened to containers, told to their users.
 *
 * An event is appended to the store (the org's history: GET /events) and,
 * once it is committed, published to whoever listens live (the daemon wires
 * in its event streams). An event written inside a transaction is published
 * after the transaction ended, and only if it committed. Loop thread only.
 */
#ifndef BERTH_EVENTLOG_H
#define BERTH_EVENTLOG_H

#include <stdarg.h>
#include <stdint.h>

#include "common/err.h"

struct event_base;
struct store;
struct store_container;
struct eventlog;

/* Hears every committed event: its org, id, kind and JSON text (borrowed). */
typedef void (*eventlog_publish_fn)(void *ctx, const char *org_id, int64_t id, const char *kind,
                                    const char *json);

/* An event log on store (borrowed) in the loop base (borrowed); publish may
 * be NULL (nobody listens live). */
struct eventlog *eventlog_new(struct event_base *base, struct store *store,
                              eventlog_publish_fn publish, void *ctx);

/* What follows an event once it committed: fn(arg) runs then (at once
 * outside a transaction); arg (heap, taken) is freed after, or when the
 * event did not commit. */
struct eventlog_then {
	void (*fn)(void *arg);
	void *arg;
};

/* Appends an event about container c (of its org, by its id and name), and
 * what follows it (NULL: nothing; taken whatever happens). Returns 0 or
 * negative with err (the store failed). */
int eventlog_add_then(struct eventlog *log, const struct store_container *c, const char *kind,
                      struct eventlog_then *then, struct err *err, const char *fmt, ...)
    BERTH_PRINTF(6, 7);

/* eventlog_add_then() with nothing to follow. */
#define eventlog_add(log, c, kind, err, ...) eventlog_add_then(log, c, kind, NULL, err, __VA_ARGS__)

/* eventlog_add() with a va_list and what follows the event (NULL: nothing;
 * taken whatever happens). */
int eventlog_addv(struct eventlog *log, const struct store_container *c, const char *kind,
                  struct eventlog_then *then, struct err *err, const char *fmt, va_list ap);

/* Publishes what committed and frees log. */
void eventlog_free(struct eventlog *log);

#endif
