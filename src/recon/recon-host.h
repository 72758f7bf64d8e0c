/* recon-host: everything the reconciler does to the host, as one table of
 * operations: bring an enclave up (pull, unpack, create), take one back,
 * remove one, list them, run a health check in one, and speak to
 * berth-router. The reconciler decides; these only do. berthd passes the
 * real one (recon_host_local_new(): the runtime, the image cache, the health
 * checkers, router_client and a spawned berth-router); the unit test of the
 * reconciler passes a double whose answers it scripts.
 *
 * Threads: boot, adopt, destroy, exec, check and the router operations run on
 * worker threads (several at once, each for its own job), and list, adopt,
 * destroy, router_status, router_spawn and router_push_table also once on the
 * loop at start-up; gpus and release on the loop. An implementation is
 * thread-safe; calls on one enclave name are serialised by the reconciler. */
#ifndef BERTH_RECON_HOST_H
#define BERTH_RECON_HOST_H

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config-types.h"
#include "health/health.h"
#include "runtime/bundle.h"
#include "runtime/enclave.h"

struct recon_host;
struct runtime;

/* What a host holds, as its agent said in /v1/info (0 for what it did not
 * say: cpus and memory are then not bounded). */
struct recon_host_capacity {
	int64_t cpus;
	int64_t memory_bytes;
	int gpus;
	/* "ip:port" where other hosts' routers reach this host's router
	 * (the agent's router_peer), "" when it gave none. */
	char router_peer[64];
};

/* What an enclave is brought up from. Everything borrowed for the call. */
struct recon_boot_spec {
	const char *name;                 /* the enclave's (model_enclave_name()) */
	const char *container_id;         /* whose persistent volumes it mounts */
	const char *config_text;          /* cfg's source (a remote host parses it again) */
	int resume;                       /* remove the leftovers of an interrupted attempt first */
	const struct config *cfg;         /* its containers, images, limits */
	const char *isolation;            /* "runc", "gvisor"; NULL for the runtime's default */
	const struct bundle_kv *settings; /* external settings */
	size_t n_settings;
	const struct bundle_kv *secrets; /* name -> value */
	size_t n_secrets;
	const struct bundle_key *keys; /* the config's attested keys made for this
	                                * boot, in cfg->attested_keys' order: each
	                                * goes to the container granted it */
	size_t n_keys;
	_Atomic int *percent; /* written as the pull goes: 0..100 over every image */
	_Atomic int *booting; /* set to 1 once the images are in and the enclave is created */
};

/* What an operation returns when the host itself could not be reached (a
 * remote host's agent did not answer): nothing is known of the enclave,
 * which is not to be taken for gone. The local host never returns it. */
#define RECON_HOST_EUNREACHABLE (-EHOSTUNREACH)

struct recon_host_ops {
	/* Pulls and unpacks spec's images and creates its enclave. Returns 0
	 * with *out (give it back with release; its ip is the enclave's
	 * address), or negative with err naming the step that failed (its text
	 * may quote what the enclave printed). Gives up when the owner stops. */
	int (*boot)(struct recon_host *h, const struct recon_boot_spec *spec, struct enclave **out,
	            struct err *err);
	/* Takes back enclave name as it runs now: 0 with *observed (and, when
	 * out is not NULL, *out to release), or negative with err when the host
	 * does not have it. */
	int (*adopt)(struct recon_host *h, const char *name, struct enclave **out,
	             enum enclave_observed *observed, struct err *err);
	/* Removes everything of enclave name; repeats safely. 0 or negative. */
	int (*destroy)(struct recon_host *h, const char *name, struct err *err);
	/* Before destroy: keeps the logs of enclave name, a failed version of
	 * debug container container_id, as those of deployment_id (the newest
	 * MODEL_KEPT_LOGS of the container are kept). May be NULL (nothing is
	 * kept). */
	int (*keep_logs)(struct recon_host *h, const char *name, const char *container_id,
	                 const char *deployment_id, struct err *err);
	/* Removes every kept log of container_id (it is deleted). May be NULL. */
	int (*drop_logs)(struct recon_host *h, const char *container_id, struct err *err);
	/* Removes the persistent volumes of container_id (it is deleted, none of
	 * its enclaves runs): gone from their place at once, their files removed
	 * in the background. May be NULL. */
	int (*drop_volumes)(struct recon_host *h, const char *container_id, struct err *err);
	/* The names of every enclave the host has (owned strv, NULL for none). */
	int (*list)(struct recon_host *h, char ***names, struct err *err);
	/* Runs argv in container of enclave e (health_exec_fn's contract). */
	int (*exec)(struct recon_host *h, const struct enclave *e, const char *container,
	            char *const *argv, int64_t timeout_ms, int *exit_code, char **output,
	            struct err *err);
	/* Runs one health check (HTTP and TCP ones connect to c->addr; EXEC
	 * ones call exec(exec_arg, ...)) and fills r. */
	void (*check)(struct recon_host *h, const struct health_check *c, health_exec_fn exec,
	              void *exec_arg, struct health_result *r);
	/* Gives back an enclave of boot or adopt (NULL is fine); the host's
	 * enclave is untouched. */
	void (*release)(struct recon_host *h, struct enclave *e);
	/* The host's GPUs, for the strategy's rules. */
	int (*gpus)(struct recon_host *h);
	/* Binds the attestation socket of container of enclave name again
	 * (enclave_attest_listen()): *fd is the caller's. May be NULL: no
	 * host sockets (the unit test's double). */
	int (*attest_listen)(struct recon_host *h, const char *name, const char *container, int *fd,
	                     struct err *err);

	/* berth-router's admin API. Each returns 0, or negative with err when
	 * the router could not be reached or refused. */
	/* GET /v1/status answered 200: *generation is its table's. */
	int (*router_status)(struct recon_host *h, int64_t *generation, struct err *err);
	int (*router_push_table)(struct recon_host *h, const json_t *table, struct err *err);
	int (*router_set_route)(struct recon_host *h, const char *host, const json_t *route,
	                        struct err *err);
	/* ROUTER_CLIENT_ENOTFOUND when the router had no route for host. */
	int (*router_delete_route)(struct recon_host *h, const char *host, struct err *err);
	/* A new reference to the per-upstream counters (router_client.h). */
	int (*router_counters)(struct recon_host *h, json_t **out, struct err *err);
	/* Starts berth-router, detached so it outlives berthd. Returns once it
	 * was started, not once it answers. */
	int (*router_spawn)(struct recon_host *h, struct err *err);

	/* Asks the host its id (owned) and capacity: 0, or negative with err
	 * (RECON_HOST_EUNREACHABLE when it did not answer). May be NULL:
	 * berthd's own host, which has no id. */
	int (*info)(struct recon_host *h, char **host_id, struct recon_host_capacity *cap,
	            struct err *err);
};

/* An implementation starts with this. */
struct recon_host {
	const struct recon_host_ops *ops; /* borrowed, static */
};

/* What the real host needs. Strings are borrowed and outlive it. */
struct recon_host_settings {
	const char *state_dir; /* images/, rootfs/, the router's log and pid file */
	/* berth-router: found on its admin socket, or started. */
	const char *router_socket;
	const char *router_bin; /* NULL: berth-router beside this program */
	const char *router_addr;
	int router_port;
	char *const *router_flags; /* strv of "NAME=VALUE", or NULL */
	const char *tls_addr;      /* its HTTPS listener, or NULL: TLS is off */
	int tls_port;
	/* Image pulls. */
	char *const *insecure_registries; /* strv of HOST:PORT, or NULL */
	long pull_connect_s, pull_idle_s;
	int64_t pull_timeout_ms;
	uint64_t image_max_bytes, image_max_entries;
};

/* The real host: runtime rt (borrowed), an image cache in
 * <state_dir>/images, rootfs in <state_dir>/rootfs, berth-router on
 * s->router_socket. rt NULL makes a host of the router operations alone
 * (berth-agent's hollow runtime): its enclave operations are not to be
 * called. Pulls give up when *stopping (borrowed) is non-zero.
 * Returns 0 with *out (free with recon_host_local_free()) or negative. */
int recon_host_local_new(struct runtime *rt, const struct recon_host_settings *s,
                         const _Atomic int *stopping, struct recon_host **out, struct err *err);

/* Frees a host of recon_host_local_new(); NULL is fine. Enclaves and the
 * router keep running. */
void recon_host_local_free(struct recon_host *h);

/* What a remote host (berth-agent, docs/architecture.md) needs. Strings
 * borrowed for the call. */
struct recon_host_remote_settings {
	const char *url;        /* the agent's http://ADDR:PORT */
	const char *token_file; /* the host token, shared with the agent */
	int64_t timeout_ms;     /* a short call's deadline (a boot's poll, a route) */
};

/* A host reached through its berth-agent over HTTP: every operation is a
 * request with a deadline, so a slow or dead agent is an error within it,
 * never a held thread. Pulls give up when *stopping (borrowed) is non-zero.
 * Asks the agent for its GPUs once here (within the deadline; none when it
 * does not answer). Returns 0 with *out (free with recon_host_remote_free())
 * or negative (the token file cannot be read). */
int recon_host_remote_new(const struct recon_host_remote_settings *s, const _Atomic int *stopping,
                          struct recon_host **out, struct err *err);

/* The id and capacity a host of recon_host_remote_new() had its agent
 * report at start: 0 with *host_id (borrowed, lives as long as h) and *cap,
 * or negative when the agent did not answer then (the id is not known). */
int recon_host_remote_info(struct recon_host *h, const char **host_id,
                           struct recon_host_capacity *cap);

/* The "ip:port" its agent said its router is reached at by other hosts'
 * routers (at start), or NULL; borrowed from h. */
const char *recon_host_remote_router_peer(struct recon_host *h);

/* Frees a host of recon_host_remote_new(); NULL is fine. */
void recon_host_remote_free(struct recon_host *h);

/* Reads a host token file (one line; surrounding blanks dropped): 0 with
 * *out (owned; wipe it before freeing) or negative with err. */
int recon_host_token_read(const char *path, char **out, struct err *err);

#endif
