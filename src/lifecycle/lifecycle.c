#include "lifecycle/lifecycle.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "eventlog/eventlog.h"
#include "model/model.h"
#include "store/store.h"

void
lifecycle_init(struct lifecycle *lc, struct store *store, struct eventlog *events)
{
	static const double update_bounds[] = {1, 2, 5, 10, 30, 60, 120, 300, 600, 1800};

	memset(lc, 0, sizeof *lc);
	lc->store = store;
	lc->events = events;
	prom_hist_init(&lc->metrics.update_seconds, update_bounds, (int)ARRAY_LEN(update_bounds));
}

/* What an ended update adds to the metrics, counted once it committed. */
struct count {
	struct lifecycle_metrics *m;
	enum update_status status;
	double seconds; /* < 0: unknown */
};

static void
count_update(void *arg)
{
	struct count *k = arg;
	struct lifecycle_metrics *m = k->m;

	if (k->status == UPDATE_CANCELLED) {
		m->updates_cancelled++;
		return; /* its duration is the user's, not the update's */
	}
	if (k->status == UPDATE_READY)
		m->updates_ready++;
	else if (k->status == UPDATE_FAILED)
		m->updates_failed++;
	if (k->seconds >= 0)
		prom_hist_observe(&m->update_seconds, k->seconds);
}

static struct eventlog_then
count_of(struct lifecycle *lc, const struct store_update *u)
{
	struct count *k = xcalloc(1, sizeof *k);
	struct eventlog_then then = {count_update, k};

	k->m = &lc->metrics;
	k->status = u->state.status;
	k->seconds = u->finished_at > 0 && u->created_at > 0
	                 ? (double)(u->finished_at - u->created_at) / 1000
	                 : -1;
	return then;
}

/* An event of kind about c, then what follows it; nothing when kind is NULL
 * (then runs at once). */
static int
tell(struct lifecycle *lc, const struct store_container *c, const char *kind,
     struct eventlog_then *then, struct err *err, const char *fmt, va_list ap)
{
	if (kind != NULL)
		return eventlog_addv(lc->events, c, kind, then, err, fmt, ap);
	if (then != NULL) {
		then->fn(then->arg);
		free(then->arg);
	}
	return 0;
}

int
lifecycle_container_set(struct lifecycle *lc, struct store_container *c, enum container_status s,
                        const char *detail, const char *kind, struct err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (detail != c->status_detail) {
		free(c->status_detail);
		c->status_detail = detail != NULL ? xstrdup(detail) : NULL;
	}
	c->status = s;
	if ((rc = store_container_save(lc->store, c, err)) < 0)
		return rc;
	va_start(ap, fmt);
	rc = tell(lc, c, kind, NULL, err, fmt, ap);
	va_end(ap);
	return rc;
}

int
lifecycle_update_set(struct lifecycle *lc, const struct store_container *c, struct store_update *u,
                     const struct update_state *to, const char *kind, struct err *err,
                     const char *fmt, ...)
{
	struct eventlog_then then;
	va_list ap;
	int rc;

	u->state = *to;
	if ((rc = store_update_save(lc->store, u, err)) < 0)
		return rc;
	va_start(ap, fmt);
	if (model_update_is_terminal(&u->state)) {
		then = count_of(lc, u);
		rc = tell(lc, c, kind, &then, err, fmt, ap);
	} else {
		rc = tell(lc, c, kind, NULL, err, fmt, ap);
	}
	va_end(ap);
	return rc;
}

int
lifecycle_update_cancel(struct lifecycle *lc, const struct store_container *c,
                        struct store_update *u, const char *why, struct err *err)
{
	struct eventlog_then then;
	int rc;

	store_update_clear(u);
	if ((rc = store_update_cancel(lc->store, c->id, u, err)) < 0)
		return rc;
	then = count_of(lc, u);
	return eventlog_add_then(lc->events, c, "update.cancelled", &then, err,
	                         "%s update of %s cancelled%s%s", model_update_kind_str(u->kind),
	                         c->name, why != NULL ? " " : "", why != NULL ? why : "");
}

int
lifecycle_enclave_set(struct lifecycle *lc, struct store_enclave *e, enum enclave_state s,
                      const char *reason, struct err *err)
{
	if (e->state == s && reason == NULL)
		return 0;
	e->state = s;
	if (reason != NULL) {
		free(e->reason);
		e->reason = xstrdup(reason);
	}
	return store_enclave_save(lc->store, e, err);
}
