/* recon: the reconciler. It compares the desired state in the store (written
 * by the API) with what runs, and takes the next step of every container's
 * state machine: image pulls, enclave boots, health checks, router switches,
 * drains, stops. Every transition is written to the store before its side
 * effect; side effects are idempotent and named from the deployment, so a
 * restart resumes where it stopped (DESIGN.md, "How a change flows").
 * Loop thread only; blocking work runs on the work queues it is given.
 *
 * The reconciler knows nothing of berthd: recon_new() is handed everything it
 * uses (struct recon_env), so it can be built and driven on its own.
 */
#ifndef BERTH_RECON_H
#define BERTH_RECON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct event_base;
struct certs;
struct eventlog;
struct hostkey;
struct lifecycle;
struct recon;
struct recon_host;
struct secret_key;
struct store;
struct workq;

/* What the reconciler is told. Strings are borrowed. */
struct recon_settings {
	const char *domain; /* container hosts are <name>.<org>.<domain> */
	/* What each isolation level's runtime says of itself ("runc version
	 * 1.1.12"), for the attestation documents; NULL when not offered. */
	const char *runtime_runc;
	const char *runtime_gvisor;
};

/* One host berthd drives through its agent (recon_env.hosts). */
struct recon_env_host {
	const char *id;          /* the id its agent reported (unique) */
	struct recon_host *host; /* recon-host.h */
	int64_t cpus;            /* its capacity; 0: not said, not bounded */
	int64_t memory_bytes;
	int gpus;
	const char *router_peer; /* "ip:port" of its router for the others, or NULL */
};

struct recon_env {
	struct event_base *base; /* the loop the reconciler runs in */
	struct store *store;     /* the loop thread's handle */
	struct workq *workq;     /* runtime steps: boots' last part, stops, router pushes */
	struct workq *fetchq;    /* pulls, keyed by registry host */
	struct workq *healthq;   /* health checks and the monitor */
	struct recon_host *host; /* enclaves, images, checks, the router (recon-host.h) */
	/* With n_hosts > 0, the hosts of agents that berthd drives instead of
	 * host (then NULL): each new enclave is placed on one of them
	 * (recon-place.h), and its row names it (enclave.host_id). */
	const struct recon_env_host *hosts;
	size_t n_hosts;
	struct eventlog *events;      /* where container events go */
	struct lifecycle *lc;         /* sets statuses and states (on store and events) */
	const struct secret_key *key; /* opens the values of bound secrets */
	struct certs *certs;          /* the hosts' certificates, or NULL: TLS is off */
	/* Certificates come from a slow peer (ACME): obtained in the background
	 * on fetchq, one at a time, for the hosts the router has routes of, and
	 * renewed when due; a route never waits for its certificate, and each
	 * issue or failure is an event of the container (recon-certs.c).
	 * 0: issued (by the local CA) before the route is pushed. */
	int certs_background;
	const struct hostkey *hostkey; /* signs the documents of the enclaves' local
	                                * attestation sockets (recon-attest.c); NULL:
	                                * those answer 503 */
	const _Atomic int *stopping;   /* non-zero: the owner stops; finish nothing new */
	struct recon_settings settings;
};

struct store_sync;

/* From now on, each job's work (a side effect: the runtime, a host, the
 * router) waits until every commit made before the job was submitted is
 * durable (store-sync.h); sync is borrowed and outlives r's pools. Before
 * this call commits must be durable when they return. */
void recon_set_sync(struct recon *r, struct store_sync *sync);

/* A reconciler on env (copied; everything it points to is borrowed and
 * outlives the reconciler). */
int recon_new(const struct recon_env *env, struct recon **out, struct err *err);

/* Adopts running enclaves, removes orphans, resumes every unfinished update
 * and pending delete; then keeps reconciling. */
int recon_start(struct recon *r, struct err *err);

/* Before recon_start() (a follower replica's): asks the hosts that did not
 * say who they are yet, on a worker, and only records what they answer
 * (placement and the API's strategy need it); nothing is adopted or acted
 * on until recon_start(). Call it every second or so. */
void recon_hosts_refresh(struct recon *r);

/* The desired state of container_id changed (created, updated, cancelled,
 * deleted): look at it again soon. */
void recon_kick(struct recon *r, const char *container_id);

struct config;

/* Whether a host has room for a new enclave of cfg beside every live one
 * (the version an update replaces included): 1 or 0; -1 when berthd drives
 * its own host alone (the API's own count of its GPUs decides). */
int recon_room_beside(struct recon *r, const struct config *cfg);

/* berthd's heartbeat watch: the agent of host host_id has been silent
 * past the host timeout, why saying so ("host b lost (no heartbeat for
 * 31 s)", copied); why NULL: it is back (it registered or heartbeat again).
 * Lost, it takes no new enclave and the containers it serves are moved to
 * hosts with room; back, the enclaves it holds that no live row of it
 * names (those moved away) are removed and the others adopted again. A
 * host this berthd does not drive is ignored. */
void recon_host_set_lost(struct recon *r, const char *host_id, const char *why);

/* Frees r; running enclaves are left running. */
void recon_free(struct recon *r);

#endif
