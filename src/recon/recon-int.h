/* recon-int: what the reconciler's files share. Not for other modules. */
#ifndef BERTH_RECON_INT_H
#define BERTH_RECON_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config-types.h"
#include "health/health.h"
#include "recon/recon-host.h"
#include "recon/recon.h"
#include "store/store-types.h"

struct event;
struct enclave;
struct redact;

/* Every job on the workq starts with this, so that jobs still queued when
 * the daemon stops can be found and freed (the workq drops them). */
struct recon_job {
	struct recon *r;                     /* borrowed */
	struct recon_job *prev, *next;       /* in r->jobs */
	void (*free)(struct recon_job *job); /* frees the whole job */
	/* The durability gate's: the pool's thread waits for generation
	 * `durable` (every commit before the job was submitted) before work. */
	struct store_sync *sync; /* borrowed, NULL: no gate */
	uint64_t durable;
	void (*work)(void *job);
};

/* A health gate in progress: the checks of one new enclave until it is ready
 * (healthy for min-healthy-time) or failed (health-timeout). */
struct recon_watch {
	struct recon *r;         /* borrowed */
	struct recon_host *host; /* borrowed: the one that runs the enclave */
	store_id container_id;
	store_id deployment_id;
	store_id enclave_id;         /* its store row */
	store_id update_id;          /* the update waiting for it, "" for a first deploy */
	struct enclave *enclave;     /* owned: for exec checks */
	struct redact *redact;       /* owned: the enclave's secret values, out of their output */
	struct health_check *checks; /* owned array */
	size_t n_checks;
	struct health_tracker *tracker; /* owned */
	struct event *timer;            /* owned */
	int running;                    /* checks in flight on the workq */
	int cancelled;                  /* nobody wants the verdict: free when running is 0 */
	enum health_gate gate;          /* the verdict, once not WAITING */
	size_t logged;                  /* health log entries already written */
};

/* What the reconciler remembers of a container between steps. The store is
 * the truth; this only says what is in flight. */
struct recon_ctr {
	store_id id;
	int busy;                  /* a job of this container is on the workq */
	int dropped;               /* deleted: its kept logs and volumes are gone */
	struct recon_watch *watch; /* owned, or NULL */
	/* The index in r->hosts of the host whose router has the container's route: that of the
	 * enclave it names (the first host until one is named). */
	size_t route_on;
	char *route_pushed;        /* owned JSON of the route the router has, or NULL */
	int64_t drain_deadline_ms; /* monotonic; 0 when no drain is under way */
	int drained;               /* the router reported the draining upstream idle */
	int64_t retry_at_ms;       /* monotonic; a failed step waits until then */
	store_id route_cfg_id;     /* the deployment route_paths and the timeouts are of */
	json_t *route_paths;       /* owned: its shim.paths, or JSON null */
	json_t *route_attest;      /* owned: its attestation facts, or JSON null */
	int64_t route_drain_ms;
	int64_t route_hold_ms;
	int route_restarts;               /* its config's restart is not "no" */
	store_id restart_cfg_id;          /* the deployment restart_rule is of */
	struct restart_rule restart_rule; /* its config's `restart` (recon-restart.c) */
	char *move_blocked; /* owned, or NULL: the sentence of the last move that found no
	                     * room (said once as an event, recon-move.c) */
	struct recon_ctr *next;
};

/* The router link: berth-router found or started, its table kept in sync. */
struct recon_router {
	int up;                /* the last liveness check answered */
	int checking;          /* a liveness check or full push is in flight */
	int64_t generation;    /* of the last full table pushed */
	int64_t next_check_ms; /* monotonic */
};

/* A host the reconciler drives (recon_env's hosts, or its one host), with
 * its router link. */
struct recon_hostent {
	char *id;                /* owned, or NULL: berthd's own host (or pending) */
	int pending;             /* an agent's host whose id is not known yet: it did
	                          * not answer; asked again on the timer */
	struct recon_host *host; /* borrowed */
	struct recon_host_capacity cap;
	struct recon_router router;
	/* owned, or NULL: why the host is lost ("host b lost (no heartbeat
	 * for 31 s)", berthd's heartbeat watch says it: recon_host_set_lost);
	 * placement leaves it out, its serving enclaves' containers move */
	char *lost;
	/* Monotonic, 0: none. It came back: its stale enclaves (those no live
	 * row of it names: moved away) go, on a worker, from the timer pass
	 * after this time; a removal that failed is tried again,
	 * returned_tries times at most. Until it ends the host takes no new
	 * enclave (one of the same name would race the removal). */
	int64_t returned_at_ms;
	int returned_tries;
	int returning; /* its removal is under way (or to be tried again) */
	int stale_job; /* the removal's job is on the workq */
};

struct recon {
	struct recon_env env;        /* what it was given (all borrowed) */
	struct recon_hostent *hosts; /* owned array, never empty */
	size_t n_hosts;
	struct event *tick;  /* owned: runs kicked containers on the next pass */
	struct event *timer; /* owned: periodic resync and router liveness */
	char **kicked;       /* owned container ids, in kick order */
	size_t n_kicked, cap_kicked;
	struct strmap *kicked_set; /* owned: the ids in kicked */
	struct recon_ctr *ctrs;    /* owned list */
	struct strmap *ctr_index;  /* owned: id -> ctr of ctrs (borrowed) */
	struct recon_job *jobs;    /* owned list of jobs on the workq */
	struct store_sync *sync;   /* borrowed or NULL: the durability gate */
	int started;               /* recon_start() ran: it acts on what it learns */
	uint64_t timer_count;      /* timer passes, for the periodic resync */
	int monitoring;            /* a monitor pass is on the workq */
	const char *crash_at;      /* BERTH_CRASH_AT: a named step that kills berthd */
	struct recon_cert
	    *certs_bg;      /* owned list: hosts whose certificates come in the background */
	int certs_ordering; /* a certificate job is on fetchq */
	int64_t certs_next_scan_ms;  /* monotonic */
	uint64_t routes_moved;       /* counts changes of the containers' route_pushed */
	uint64_t certs_scanned;      /* routes_moved at the last certs_scan() */
	struct recon_attest *attest; /* owned list: the enclaves' local attestation sockets */
	/* Given to every router in its full table: the hop marker's value
	 * between them, by which a router believes the client address a peer
	 * forwards (docs/architecture.md). New at each start. */
	char peer_key[65];
};

/* recon.c */
struct recon_ctr *recon_ctr_get(struct recon *r, const char *id);
void recon_job_submit(struct recon *r, struct recon_job *job, void (*work)(void *),
                      void (*done)(void *));
/* The daemon's pools: work waiting on peers (pulls, fetches) and health
 * checks each have their own workers, so neither delays the runtime's
 * steps (boots' last part, stops, deletes, router pushes). */
enum recon_pool {
	RECON_POOL_RUNTIME,
	RECON_POOL_FETCH, /* keyed by the peer's host: one stuck peer holds few workers */
	RECON_POOL_HEALTH,
};
void recon_job_submit_in(struct recon *r, enum recon_pool pool, const char *key,
                         struct recon_job *job, void (*work)(void *), void (*done)(void *));
void recon_job_done(struct recon_job *job);
/* recon_job_done() for a job that held container container_id busy: returns
 * that container, free for its next step, or NULL when the reconciler stops
 * (the result is dropped; the next start redoes the step from the store). */
struct recon_ctr *recon_job_done_ctr(struct recon_job *job, const char *container_id);
/* Dies with SIGKILL when BERTH_CRASH_AT names step (crash tests). */
void recon_crashpoint(struct recon *r, const char *step);
/* Whether the owner stops: nothing new is started, results are dropped. */
static inline int
recon_stopping(const struct recon *r)
{
	return atomic_load(r->env.stopping) != 0;
}

/* The host of row e (its host_id; NULL is berthd's own host), or NULL when
 * this berthd does not drive that host (logged once per call site by the
 * caller). */
struct recon_hostent *recon_host_entry(struct recon *r, const char *host_id);
static inline struct recon_host *
recon_host_for(struct recon *r, const struct store_enclave *e)
{
	struct recon_hostent *h = recon_host_entry(r, e->host_id);

	return h != NULL ? h->host : NULL;
}
/* The sentence for row e whose host this berthd does not drive (owned). */
char *recon_host_unknown(struct recon *r, const struct store_enclave *e);

/* Whether host h is lost (recon_host_set_lost): its why, or NULL. */
static inline const char *
recon_host_lost_why(const struct recon_hostent *h)
{
	return h != NULL ? h->lost : NULL;
}

/* The newest live (not stopped) enclave row of deployment id among v[0..n),
 * or NULL. */
struct store_enclave *recon_enclave_of(struct store_enclave *v, size_t n,
                                       const char *deployment_id);

/* Chooses the host of deployment d's new enclave (of container c, whose rows
 * are enclaves[0..n)), lost hosts left out: 0 with *host_id (borrowed from
 * r->hosts; NULL for berthd's own host), 1 when no agent answered yet (ask
 * again later), or negative with err saying why no host has room. */
int recon_place_enclave(struct recon *r, const struct store_container *c,
                        const struct store_deployment *d, const struct store_enclave *enclaves,
                        size_t n, const char **host_id, struct err *err);

/* recon.c: ends update u of c in failure (the new version failed before
 * the switch) with reason. */
void recon_update_fail(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                       struct store_update *u, const char *reason);

/* recon-move.c: the containers of a lost host (docs/architecture.md, "A
 * lost host"). */
/* c's serving enclave is on a lost host and no update is under way: places
 * the deployment on another host with room, closes the lost host's row and
 * brings it up there (the route holds meanwhile, as for a restart); no room:
 * an event says so, once, and it is tried again at each resync. Returns 1
 * when it took the step. */
int recon_move_step(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                    struct store_enclave *enclaves, size_t n);
/* An update of c in progress whose new version's enclave is on a lost host
 * and has no job in flight: fails it with the reason (the old version serves
 * on, or is moved next). Returns 1 when it took the step. */
int recon_move_update_step(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                           struct store_update *u, struct store_enclave *enclaves, size_t n);
/* The message of a restart that ended (its enclave e serves): a move's
 * ("host b lost (...): redeployed on host a", owned, *kind its event's kind)
 * when the row e replaced was closed for its lost host, else NULL. */
char *recon_move_serving(struct recon *r, const struct store_container *c,
                         const struct store_enclave *e, const char **kind);

/* Where a deployment's bring-up stands. */
enum bringup {
	BRINGUP_WORKING, /* a job or a health gate is under way */
	BRINGUP_READY,   /* its enclave passed the health gate */
	BRINGUP_FAILED,  /* its enclave failed; its row may say why (reason) */
};
/* Brings deployment d of container c up as an enclave: creates its row, runs
 * the boot job, then the health gate. Looked at again on every step. */
enum bringup recon_bringup(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                           const struct store_deployment *d, struct store_enclave *enclaves,
                           size_t n);

/* recon-restart.c: the config's `restart` (docs/lifecycle.md "Restarts"). */
/* c runs, no update under way, and its deployment's enclave does not serve:
 * decides a restart, waits out its backoff, brings the deployment up again,
 * or gives up (on-failure:N). Returns 1 when it took the step, 0 when the
 * config says `no` (the container is to turn failed). */
int recon_restart_step(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                       struct store_enclave *enclaves, size_t n);
/* Before the cleanup removes it: c's serving enclave failed (the monitor
 * found it stopped) and no restart is under way. Decides, so that the route
 * holds before the enclave goes. Returns 1 when it took the step, 0 when
 * there is nothing to decide or the config says `no`. */
int recon_restart_notice(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                         const struct store_enclave *enclaves, size_t n);
/* c's enclave e serves: ends a restart under way (event container.restarted),
 * or forgets the attempts after a minute of health. Returns 1 when it wrote
 * something (the step ends), 0 otherwise. */
int recon_restart_serving(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                          const struct store_enclave *e);
/* The restart rule of cfg: the stricter of its containers' `restart` (an
 * enclave comes back whole). */
struct restart_rule recon_restart_rule(const struct config *cfg);
/* Whether c's route holds requests for a restart under way: 1 or 0. */
int recon_restart_holds(const struct store_container *c);

/* recon-attest.c: the local attestation sockets of enclaves' containers. */
struct recon_attest;
struct config;
/* Serves fd (a listening socket, taken) for container of enclave (row
 * enclave_id, name enclave). */
void recon_attest_add(struct recon *r, const char *enclave_id, const char *enclave,
                      const char *container, int fd);
/* Binds the sockets of e's containers that cfg gives `attestation: true`
 * again and serves them (after berthd's restart). */
void recon_attest_open(struct recon *r, const struct store_enclave *e, const struct config *cfg);
/* recon_attest_open() with the config of e's deployment. */
void recon_attest_reopen(struct recon *r, const struct store_enclave *e);
/* Stops serving the sockets of enclave (its name), or of one container. */
void recon_attest_drop(struct recon *r, const char *enclave);
void recon_attest_drop_container(struct recon *r, const char *enclave, const char *container);
/* Frees every socket (the reconciler goes). */
void recon_attest_free_all(struct recon *r);

/* recon-route.c: the facts of deployment d of c that its attestation
 * document states, with keys (the enclave's attested_keys JSON, or NULL:
 * none) as "attested_keys" when it has any. New reference. */
json_t *recon_attest_facts(struct recon *r, const struct store_container *c,
                           const struct store_deployment *d, const char *keys);

/* recon-boot.c: bringing a deployment up as an enclave, and its health gate. */
/* Starts (or resumes) the enclave of deployment d of container c: pulls,
 * unpacks, creates. The enclave row e exists (state creating). resume: remove
 * leftovers of an interrupted attempt first. Marks ctr busy. */
void recon_boot_start(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
                      const struct store_deployment *d, const struct store_enclave *e, int resume);
/* Takes back a booting enclave of deployment d of container c after a
 * restart and starts its health gate. */
void recon_boot_adopt(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
                      const struct store_deployment *d, const struct store_enclave *e);
/* Starts the health gate of enclave (taken; of host, borrowed), whose exec
 * checks' output is redacted with redact (taken; the values of the
 * enclave's secrets). */
void recon_watch_start(struct recon *r, struct recon_ctr *ctr, const struct store_deployment *d,
                       const struct store_enclave *e, struct recon_host *host,
                       struct enclave *enclave, struct redact *redact);
/* Stops a gate; it is freed once its running checks came back. */
void recon_watch_cancel(struct recon_watch *w);
/* Removes an enclave from the host (stop, delete, network). Marks ctr busy. */
void recon_enclave_destroy(struct recon *r, struct recon_ctr *ctr, const struct store_enclave *e);

/* recon.c: the agent's host h, pending until now, said its id: its rows'
 * enclaves are adopted as at start-up. */
void recon_host_known(struct recon *r, struct recon_hostent *h);

/* recon-route.c: the router. */
/* The route of container c as the router should have it now (a new JSON
 * text), or NULL when it should have none. */
char *recon_route_desired(struct recon *r, const struct store_container *c, size_t *on);
/* Pushes route (JSON text, taken; NULL deletes) for c's host names to the
 * router of host on (an index in r->hosts), and takes it from the router
 * that had it before when that is another. Marks ctr busy. */
void recon_route_push(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
                      char *route, size_t on);
/* The host name of container c: <name>.<org>.<domain>. Caller frees. */
char *recon_route_host(struct recon *r, const struct store_container *c);
/* Asks the router of e's host whether e's address has requests in flight.
 * Marks ctr busy; sets ctr->drained when it has none, then kicks the
 * container. */
void recon_route_poll_drain(struct recon *r, struct recon_ctr *ctr, const struct store_enclave *e);
/* Liveness of the router: starts it when nobody answers, pushes the full
 * table when it (re)appears. Called from the periodic timer. */
void recon_router_tick(struct recon *r);

/* recon-certs.c: certificates obtained in the background (env.certs_background). */
/* Looks at the hosts the router has routes of: starts the next certificate
 * that is missing or due. Called from the periodic timer. */
void recon_certs_tick(struct recon *r);
void recon_certs_free(struct recon *r);

/* Parses the config of deployment d; NULL (logged) when it does not parse,
 * which cannot happen for a deployment the API accepted. */
struct config *recon_config_of(const struct store_deployment *d);

#endif
