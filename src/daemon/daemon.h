/* daemon: berthd's one context (STYLE.md rule 5) and its main loop.
 *
 * Everything berthd owns hangs off struct berthd, which is passed explicitly
 * to the API handlers (api_req.ctx) and the reconciler. The loop thread owns
 * the store handle: worker threads never touch it, their results come back
 * to the loop through the workq.
 */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/prom.h"
#include "daemon/settings.h"
#include "source/source.h"

struct event_base;
struct event;
struct workq;
struct api_sources;
struct api_pendings;
struct store_container;
struct api_server;
struct api_render_cache;
struct store;
struct sse_hub;
struct secret_key;
struct recon;
struct redact;

/* GET /containers of an org as it was last answered, for as long as the
 * store has not been written since (store_generation()). */
struct berthd_list_cache {
	char org_id[65];
	uint64_t generation;
	char *body; /* owned JSON text, or NULL */
	size_t len;
};

#define BERTHD_LIST_CACHE 8

/* An event written inside a transaction, published once it committed. */
struct berthd_pending_event {
	char org_id[65];
	int64_t id;
	char *kind; /* owned */
	char *json; /* owned */
	struct berthd_pending_event *next;
};

/* Counters behind GET /metrics that the store cannot answer. */
struct berthd_metrics {
	uint64_t updates_ready; /* updates that ended in success */
	uint64_t updates_failed;
	uint64_t updates_cancelled;
	struct prom_hist update_seconds; /* update durations, created to finished */
	uint64_t api_requests;
};

struct berthd {
	struct settings settings;             /* owned */
	struct event_base *base;              /* owned */
	struct workq *workq;                  /* owned: blocking work (runtime, API) */
	struct workq *fetchq;                 /* owned: fetches and pulls, a lane per host */
	struct workq *healthq;                /* owned: health checks and monitoring */
	struct store *store;                  /* owned, loop thread only */
	struct secret_key *key;               /* owned: seals secret values */
	struct sse_hub *hub;                  /* owned: event streams */
	struct berthd_pending_event *pending; /* owned list, newest first */
	struct event *flush;                  /* owned: publishes pending events */
	struct api_server *api;               /* owned */
	struct recon *recon;                  /* owned: the reconciler */
	struct berthd_metrics metrics;
	struct berthd_list_cache list_cache[BERTHD_LIST_CACHE]; /* by org, round robin */
	unsigned list_cache_next;
	struct api_render_cache *render_cache; /* owned or NULL: each container's list JSON */
	char default_org_id[33];           /* the org made at first start; its tokens are admin */
	struct event *sigterm;             /* owned */
	struct event *sigint;              /* owned */
	_Atomic int stopping;              /* SIGTERM seen: finish and exit (read by workers) */
	char *fetch_program;               /* owned: berth-fetch beside berthd */
	struct source_opts sources;        /* how sources are reached (borrows the above) */
	struct api_sources *api_sources;   /* owned: the API's fetches, made on first use */
	struct api_pendings *api_pendings; /* owned: containers waiting for their source */
};

/* Keeps berthd's memory, where secret values are opened, out of core files
 * and away from other processes of its user: no core dump (RLIMIT_CORE 0,
 * soft and hard, which its children inherit) and not dumpable (only a process
 * with CAP_SYS_PTRACE can ptrace it, open its /proc/<pid>/mem or follow its
 * /proc/<pid>/fd links). Call first in main(). Returns 0, or negative with
 * err. */
int berthd_harden(struct err *err);

/* Prepares the state directory, opens the store (creating org `default` and
 * its admin token at first start) and starts serving. Takes ownership of
 * settings (moved into d). */
int berthd_start(struct berthd *d, struct settings *settings, struct err *err);

/* Runs the loop until SIGTERM or SIGINT. */
int berthd_run(struct berthd *d);

/* Releases everything berthd_start() made. Enclaves and the router are left
 * running: the next start adopts them. */
void berthd_stop(struct berthd *d);

/* Appends an event about container c (of its org, by its id and name) to
 * the store and sends it to the org's event streams. Returns 0 or negative
 * with err. Loop thread only. */
int berthd_event(struct berthd *d, const struct store_container *c, const char *kind,
                 struct err *err, const char *fmt, ...) BERTH_PRINTF(5, 6);

/* Opens the value of org_id's secret name: on success *value, NUL-terminated
 * and *len bytes long, which the caller releases with secret_value_free().
 * Fails with a sentence when the org has no such secret or it does not open.
 * Loop thread only. */
int berthd_secret_open(struct berthd *d, const char *org_id, const char *name, char **value,
                       size_t *len, struct err *err);

/* What redacts the secrets named in secrets_json (a deployment's JSON array of
 * names; NULL is none) from an enclave's text, with their values as org_id
 * holds them now: *out is a new set (secret/redact.h) the caller frees with
 * redact_free(). Fails as berthd_secret_open() does: a set that missed a value
 * would let it through. Loop thread only. */
int berthd_redact_of(struct berthd *d, const char *org_id, const char *secrets_json,
                     struct redact **out, struct err *err);

/* The isolation level a deployment gets when its config names none:
 * --runtime's (runsc: "gvisor"), else the runtime's default. */
const char *berthd_isolation_default(const struct berthd *d);

/* Whether this host's runtime can run enclaves at isolation level iso. */
int berthd_isolation_available(const struct berthd *d, const char *iso);

/* The isolation levels this host offers, "runc, gvisor"; caller frees. */
char *berthd_isolation_offered(const struct berthd *d);

/* The store's error code mapped to an HTTP status: 404, 409, or 500. */
int berthd_http_status(int store_rc);

#endif
