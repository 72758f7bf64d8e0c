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
#include "lifecycle/lifecycle.h"
#include "daemon/settings.h"
#include "source/source.h"
#include "store/store-sync.h"

struct event_base;
struct event;
struct workq;
struct api_sources;
struct api_pendings;
struct store_container;
struct api_server;
struct api_render_cache;
struct strmap;
struct store;
struct sse_hub;
struct secret_key;
struct eventlog;
struct recon;
struct recon_host;
struct recon_env_host;
struct runtime;
struct ca;
struct acme;
struct certs;
struct api_hosts;
struct leader;

/* GET /containers of an org as it was last answered, for as long as the
 * store has not been written since (store_generation()). */
/* A list answer's text, shared by the cache and the answers still being
 * sent (they send it without a copy). Loop thread only. */
struct berthd_list_body {
	int refs;
	size_t len;
	char *text; /* owned */
};

struct berthd_list_cache {
	char org_id[65];
	uint64_t generation;
	struct berthd_list_body *body; /* a reference, or NULL */
};

/* Drops a reference to b (NULL is fine); the last frees it. */
void berthd_list_body_unref(struct berthd_list_body *b);

#define BERTHD_LIST_CACHE 8

/* Counters behind GET /metrics that the store cannot answer (the updates'
 * are lifecycle's). */
struct berthd_metrics {
	uint64_t api_requests;
};

struct berthd {
	struct settings settings;           /* owned */
	struct event_base *base;            /* owned */
	struct workq *workq;                /* owned: blocking work (runtime, API) */
	struct workq *fetchq;               /* owned: fetches and pulls, a lane per host */
	struct workq *healthq;              /* owned: health checks and monitoring */
	struct store *store;                /* owned, loop thread only */
	struct store_sync *sync;            /* owned: the durability gate (store-sync.h) */
	struct store_sync_wal wal;          /* SQLite's flush of the store's WAL */
	int flush_delay_ms;                 /* BERTH_FLUSH_DELAY_MS: each flush waits (tests) */
	struct secret_key *key;             /* owned: seals secret values */
	struct hostkey *hostkey;            /* owned: signs attestation documents */
	struct sse_hub *hub;                /* owned: event streams */
	struct eventlog *events;            /* owned: container events, to the store and hub */
	struct lifecycle lc;                /* the state machines' setters and their counts */
	struct runtime *rt;                 /* owned: the host runtime */
	struct api_server *api;             /* owned */
	struct recon *recon;                /* owned: the reconciler */
	struct recon_host *recon_host;      /* owned or NULL (--agent): what the reconciler does to
	                                     * berthd's own host */
	struct recon_env_host *agent_hosts; /* owned array (ids and hosts owned): the hosts of
	                                     * --agent, when given */
	size_t n_agent_hosts;
	struct berthd_metrics metrics;
	struct berthd_list_cache list_cache[BERTHD_LIST_CACHE]; /* by org, round robin */
	unsigned list_cache_next;
	struct api_render_cache *render_cache; /* owned or NULL: each container's list JSON */
	struct strmap *deployment_gpus;        /* owned or NULL: api_deploy_gpus_in_use()'s */
	char default_org_id[33];           /* the org made at first start; its tokens are admin */
	struct event *sigterm;             /* owned */
	struct event *sigint;              /* owned */
	_Atomic int stopping;              /* SIGTERM seen: finish and exit (read by workers) */
	char *fetch_program;               /* owned: berth-fetch beside berthd */
	struct source_opts sources;        /* how sources are reached (borrows the above) */
	struct api_sources *api_sources;   /* owned: the API's fetches, made on first use */
	struct api_pendings *api_pendings; /* owned: containers waiting for their source */
	struct ca *ca;                     /* owned: the local CA, NULL when TLS is off or
	                                    * certificates come from ACME */
	struct acme *acme;                 /* owned: the ACME account, with --tls-certs acme */
	struct certs *certs;               /* owned: the hosts' certificates, NULL when off */
	struct api_hosts *hosts;           /* owned or NULL: hosts of agents (--agent-token-file) */
	struct leader *leader;             /* owned or NULL: the election of --replica-url */
	int leading;                       /* the reconciler runs here: always without
	                                    * --replica-url, once elected with it (loop thread) */
	struct event *follow_timer;        /* owned or NULL: a follower's hosts asked again */
};

/* Keeps berthd's memory, where secret values are opened, out of core files
 * and away from other processes of its user: no core dump (RLIMIT_CORE 0,
 * soft and hard, which its children inherit) and not dumpable (only a process
 * with CAP_SYS_PTRACE can ptrace it, open its /proc/<pid>/mem or follow its
 * /proc/<pid>/fd links). Call first in main(). Returns 0, or negative with
 * err. */
int berthd_harden(struct err *err);

/* What berthd_runtime_open() opens a host's runtime with (berthd's, or
 * berth-agent's). Strings borrowed for the call. */
struct berthd_runtime_opts {
	const char *state_dir;
	const char *oci_runtime; /* NULL: detected */
	const char *isolation;   /* the host's default level, or NULL */
	const char *subnet;
	const char *bridge;
	const char *cgroup_parent; /* NULL: "berth" (runtime.h) */
	int gpus;                  /* simulated, <= 0 for none */
	const char *egress_dns;    /* the allowlists' DNS server, or NULL: resolv.conf's */
	int egress_dns_timeout_ms; /* <= 0: the default */
};

/* Opens the runtime of the enclaves of state_dir (its state in a run
 * directory of that state directory alone). 0 with *out (runtime_close()),
 * or negative with err. */
int berthd_runtime_open(const struct berthd_runtime_opts *o, struct runtime **out, struct err *err);

/* Prepares the state directory, opens the store (creating org `default` and
 * its admin token at first start) and starts serving. Takes ownership of
 * settings (moved into d). */
int berthd_start(struct berthd *d, struct settings *settings, struct err *err);

/* Runs the loop until SIGTERM or SIGINT. */
int berthd_run(struct berthd *d);

/* Releases everything berthd_start() made. Enclaves and the router are left
 * running: the next start adopts them. */
void berthd_stop(struct berthd *d);

/* The isolation level a deployment gets when its config names none:
 * --runtime's (runsc: "gvisor"), else the runtime's default. */
const char *berthd_isolation_default(const struct berthd *d);

/* Whether this host's runtime can run enclaves at isolation level iso. */
int berthd_isolation_available(const struct berthd *d, const char *iso);

/* The isolation levels this host offers, "runc, gvisor"; caller frees. */
char *berthd_isolation_offered(const struct berthd *d);

/* After a committed write: the reconciler looks at container_id, here when
 * this berthd leads, else at the leader (leader_kick()). */
void berthd_kick(struct berthd *d, const char *container_id);

/* "leader" or "follower" for a replica, NULL for a berthd that is not one. */
const char *berthd_role(const struct berthd *d);

/* The leader's API URL (this berthd's when it leads, NULL when unknown or
 * not a replica); the caller frees it. */
char *berthd_leader_url(const struct berthd *d);

/* The store's error code mapped to an HTTP status: 404, 409, or 500. */
int berthd_http_status(int store_rc);

#endif
