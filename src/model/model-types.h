/* model-types: the states of berth's state machines, shared by the store, the
 * reconciler and the API. The rules that move between them live in model.h.
 *
 * Transient states are those the reconciler is expected to leave on its own;
 * the others are where a machine rests until a user or a failure moves it.
 */
#ifndef BERTH_MODEL_TYPES_H
#define BERTH_MODEL_TYPES_H

/* A container's status, as the dashboard shows it. No terminal state: a
 * container leaves the machine only by being deleted. */
enum container_status {
	CONTAINER_DEPLOYING, /* transient: image pull, enclave boot, health checks */
	CONTAINER_RUNNING,   /* live and serving traffic */
	CONTAINER_FAILED,    /* nothing serves; status_detail says why; retry offered */
};

/* An update's status. There is no "finished" status in the API: an update
 * that succeeded stays `ready` and gets finished_at (see struct update_state). */
enum update_status {
	UPDATE_PENDING,   /* transient: the new version is being deployed */
	UPDATE_STARTED,   /* transient: new enclave running, health checks in progress */
	UPDATE_READY,     /* new version healthy; transient until finished, then success */
	UPDATE_FAILED,    /* terminal: the new version failed; finished_at set */
	UPDATE_CANCELLED, /* terminal: cancelled by a user or a delete; finished_at set */
};

/* The phase of a recreate update (the dashboard's two-phase indicator). */
enum recreate_phase {
	PHASE_NONE,      /* blue-green updates have no phase */
	PHASE_STOPPING,  /* transient: requests held, old enclave drains and stops */
	PHASE_DEPLOYING, /* transient until finished: new enclave boots, health checks */
};

/* What an update asked for. */
enum update_kind {
	UPDATE_KIND_TAG,         /* a new Git tag */
	UPDATE_KIND_EDIT_CONFIG, /* same tag, changed config, secrets, env or debug */
	UPDATE_KIND_PROMOTE,     /* the current deployment with debug off */
	UPDATE_KIND_RETRY,       /* the deployment of the last failed update again */
};

/* How an update replaces the old version. */
enum strategy {
	STRATEGY_BLUE_GREEN, /* both versions run; the router switches; no downtime */
	STRATEGY_RECREATE,   /* the old stops first (GPUs); downtime while the new boots */
};

/* An enclave's state. */
enum enclave_state {
	ENCLAVE_CREATING,  /* transient: network namespace, bundles, runtime create */
	ENCLAVE_BOOTING,   /* transient: processes started, not yet healthy */
	ENCLAVE_HEALTHY,   /* health checks pass */
	ENCLAVE_UNHEALTHY, /* health checks fail after having passed */
	ENCLAVE_STOPPING,  /* transient: draining, then the processes are stopped */
	ENCLAVE_STOPPED,   /* terminal: nothing of it is left on the host */
	ENCLAVE_FAILED,    /* broke; resources may remain, so it must still be stopped */
};

/* What the config's `restart` asks for when the serving enclave stops
 * without being asked to (docs/lifecycle.md "Restarts"). */
enum restart_policy {
	RESTART_NO,         /* `no` or no key: the container turns failed */
	RESTART_ON_FAILURE, /* `on-failure[:N]`: brought back, at most N times in a row */
	RESTART_ALWAYS,     /* `always`, `unless-stopped`: brought back every time */
};

/* The restart rule of a deployment: its policy and on-failure's N. */
struct restart_rule {
	enum restart_policy policy;
	int max; /* on-failure:N's N; 0 for no limit */
};

/* The full state of an update, as the store keeps it.
 *
 * Success is `ready` with `finished` set: the router switched to the new
 * version (`switched`), the old one drained and stopped, finished_at written.
 * `failed` and `cancelled` always have `finished` set. `switched` is the
 * point of no return: after it an update can only finish. */
struct update_state {
	enum strategy strategy; /* fixed for the update's whole life */
	enum update_status status;
	enum recreate_phase phase; /* PHASE_NONE for blue-green, never NONE for recreate */
	int switched;              /* 0/1: traffic goes to the new version (ready only) */
	int finished;              /* 0/1: finished_at is set; no transition follows */
};

#endif
