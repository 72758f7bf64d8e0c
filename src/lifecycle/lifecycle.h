/* lifecycle: the one place where a container's status, an update's state and
 * an enclave's state change. Each setter checks the transition against
 * src/model/, persists it, records its event and counts it, so the API and
 * the reconciler cannot disagree on what a change entails. A grep for an
 * assignment of a status finds only this file (and the rows' first values,
 * where they are created). Loop thread only.
 */
#ifndef BERTH_LIFECYCLE_H
#define BERTH_LIFECYCLE_H

#include <stdint.h>

#include "common/err.h"
#include "common/prom.h"
#include "model/model-types.h"

struct eventlog;
struct store;
struct store_container;
struct store_enclave;
struct store_update;

/* Counted once the change committed (a rolled-back one is not). */
struct lifecycle_metrics {
	uint64_t updates_ready; /* updates that ended in success */
	uint64_t updates_failed;
	uint64_t updates_cancelled;
	struct prom_hist update_seconds; /* update durations, created to finished */
};

struct lifecycle {
	struct store *store;     /* borrowed */
	struct eventlog *events; /* borrowed */
	struct lifecycle_metrics metrics;
};

void lifecycle_init(struct lifecycle *lc, struct store *store, struct eventlog *events);

/* Container c's status becomes s, its status_detail detail (copied; NULL for
 * none): c (every field the caller changed with it) is saved, and when kind
 * is not NULL an event of that kind says fmt. Works inside the caller's
 * transaction. Returns 0, or negative with err (STORE_ESTATE: src/model/
 * does not allow the change; the store failed). */
int lifecycle_container_set(struct lifecycle *lc, struct store_container *c,
                            enum container_status s, const char *detail, const char *kind,
                            struct err *err, const char *fmt, ...) BERTH_PRINTF(7, 8);

/* Update u (of container c) goes to state to: saved (with u->error and its
 * health log as they are), an event of kind (may be NULL) says fmt, and an
 * update that ended is counted once its change committed. */
int lifecycle_update_set(struct lifecycle *lc, const struct store_container *c,
                         struct store_update *u, const struct update_state *to, const char *kind,
                         struct err *err, const char *fmt, ...) BERTH_PRINTF(7, 8);

/* Cancels the update in progress of container c: *u (cleared first) gets
 * it; an event of kind update.cancelled says "<kind> update of <name>
 * cancelled", then " <why>" when why is not NULL ("by its delete"): the
 * kind is the cancelled update's, known only once the store has found it.
 * Counted once committed. STORE_ENOTFOUND without an update, STORE_ESTATE
 * when it is finished or past its switch. */
int lifecycle_update_cancel(struct lifecycle *lc, const struct store_container *c,
                            struct store_update *u, const char *why, struct err *err);

/* Enclave e goes to state s; reason (copied), when not NULL, says why (a
 * failure: kept as it stops, so a restarted berthd still says it). Saved. */
int lifecycle_enclave_set(struct lifecycle *lc, struct store_enclave *e, enum enclave_state s,
                          const char *reason, struct err *err);

#endif
