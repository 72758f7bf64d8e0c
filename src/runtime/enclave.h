/* enclave: one running instance of a deployment. One network namespace (lo
 * up, eth0 on berth's bridge, no egress unless open) holding every container of the
 * config, each an OCI container run by runc or crun. Containers of an enclave
 * reach each other on localhost and by name (/etc/hosts); the host reaches
 * the enclave at its IPv4 address.
 *
 * Names are deterministic (enclave_name() of the deployment id; containers
 * "<enclave>-<name>"), and every step is recorded before it is taken, so a
 * restarted berthd finds its enclaves with enclave_list(), takes them back
 * with enclave_adopt() or removes them with enclave_destroy(), which repeats
 * safely after any partial failure.
 *
 * Logs: each container's stdout and stderr go to a FIFO in its bundle read by
 * a small copier process (forked per container, detached) that appends to
 * <state>/enclaves/<enclave>/<container>/log and rotates it to log.1 past the
 * runtime's log_max_bytes: at most 2 × log_max_bytes per container. The
 * copier exits when the container has exited, and (copiers_end_with_us) when
 * berthd is gone; the FIFO holds the output meanwhile, and enclave_adopt()
 * starts a copier again (logcopy.h).
 *
 * The boundary (docs/security.md): each container runs in the process sandbox
 * of bundle.h; the enclave has a parent cgroup with its limits
 * (berth/<enclave>) and its own firewall tables (firewall.h), applied before
 * any container starts and removed last. An egress allowlist's names are
 * resolved before the firewall is made (egress.h) and asked again on their
 * TTL by enclave_adopt() (berthd's monitor adopts every few seconds).
 *
 * Every function is blocking (run it on a worker) and thread-safe; calls on
 * one enclave name are to be serialised by the caller (the reconciler owns
 * each enclave). */
#ifndef BERTH_RUNTIME_ENCLAVE_H
#define BERTH_RUNTIME_ENCLAVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "config/config-types.h"
#include "image/image-types.h"
#include "runtime/bundle.h"
#include "runtime/oci.h"
#include "runtime/runtime.h"

/* Longest enclave name (the OCI id adds "-<container>"). */
#define ENCLAVE_NAME_MAX 40

struct enclave_container_spec {
	const struct config_container *config; /* borrowed: the config's entry */
	const struct image_config *image;      /* borrowed; NULL for an empty config */
	const char *rootfs;                    /* borrowed: unpacked image rootfs, never written */
	const struct bundle_mount *volumes;    /* borrowed array: its persistent volumes */
	size_t n_volumes;
	const struct bundle_key *keys; /* borrowed array: the attested keys granted to it */
	size_t n_keys;
};

struct enclave_spec {
	const char *name;                                /* borrowed: see enclave_name() */
	const char *deployment_id;                       /* borrowed, recorded; may be NULL */
	const struct enclave_container_spec *containers; /* borrowed array, at least one */
	size_t n_containers;
	const struct bundle_kv *settings; /* borrowed: external settings for bare env keys */
	size_t n_settings;
	const struct bundle_kv *secrets; /* borrowed: secret name -> value */
	size_t n_secrets;
	const int *gpus; /* borrowed: GPU indices for containers that ask for GPUs */
	size_t n_gpus;
	const char *isolation; /* borrowed: "runc" or "gvisor" (runsc); NULL for the runtime's
	                        * default (runtime_isolation()) */
	int64_t memory_bytes;  /* the enclave's memory limit (config `memory`), 0 for none */
	double cpus;           /* the enclave's CPU limit (config `cpus`), 0 for none */
	const char *egress;    /* borrowed: "closed" (NULL), "open" or "allowlist":
	                        * connections out of the host (firewall.h), for the
	                        * whole enclave */
	char *const *allow;    /* borrowed strv: with "allowlist", the host names its
	                        * connections may go to (egress.h); NULL for none */
};

struct enclave_container {
	char *name;             /* owned: the container's name in the config */
	char *id;               /* owned: OCI id */
	char *log_path;         /* owned: current log file (log.1 is the older one) */
	enum oci_status status; /* as last observed */
	pid_t pid;              /* host pid of its init, 0 when not running */
	int stop_signal;
	int64_t stop_timeout_ms;
	int attest_fd; /* owned: the listening attestation socket enclave_create()
	                * made (config `attestation: true`), or -1; take it
	                * with take_fd() to serve it */
};

struct enclave {
	char *name;                           /* owned */
	char *deployment_id;                  /* owned or NULL */
	char *isolation;                      /* owned: "runc" or "gvisor" */
	char *ip;                             /* owned IPv4 address, NULL when unknown */
	char *ip6;                            /* owned IPv6 address, NULL when none */
	char *netns;                          /* owned: namespace path */
	char *veth;                           /* owned: the host end of its veth pair,
	                                       * NULL when unknown */
	int netns_present;                    /* the namespace is pinned at netns */
	int egress_open;                      /* its egress is open or an allowlist (recorded) */
	int egress_allowlist;                 /* only to the addresses of allow's names */
	char **allow;                         /* owned strv: the allowlist's names */
	struct enclave_container *containers; /* owned array */
	size_t n_containers;
};

/* What an enclave's containers are doing, summed up. */
enum enclave_observed {
	ENCLAVE_OBSERVED_ABSENT,  /* no container exists */
	ENCLAVE_OBSERVED_RUNNING, /* every container runs */
	ENCLAVE_OBSERVED_PARTIAL, /* some run, some do not (exited or missing) */
	ENCLAVE_OBSERVED_STOPPED, /* containers exist, none runs */
};

/* The enclave name of a deployment: "b-" and the first 12 letters or digits
 * of its id, lower-cased. out holds ENCLAVE_NAME_MAX + 1. */
void enclave_name(const char *deployment_id, char out[ENCLAVE_NAME_MAX + 1]);

/* Creates and starts an enclave: records it, creates the namespace, attaches
 * it to the bridge (netlink.h), writes hosts files and bundles, creates and starts every
 * container. On failure everything done is undone. On success *out is the
 * enclave (caller frees with enclave_free()), its address in (*out)->ip. */
int enclave_create(struct runtime *rt, const struct enclave_spec *spec, struct enclave **out,
                   struct err *err);

/* Stops every container: its stop signal, SIGKILL past its stop timeout, then
 * the runtime's delete. The namespace, address and logs stay (destroy removes
 * them). Containers already gone are success. */
int enclave_stop(struct runtime *rt, struct enclave *e, struct err *err);

/* Moves the logs of every container of enclave name (each `log` and its
 * rotated `log.1`) under dest/<container>/, before the enclave is
 * destroyed: a failed version's output, kept for its user. A copier still
 * writing keeps writing into the moved file. dest is made (0700). Returns 0
 * (nothing to keep is fine) or negative with err. */
int enclave_keep_logs(struct runtime *rt, const char *name, const char *dest, struct err *err);

/* Removes everything of enclave name: containers (stopped as enclave_stop()
 * does when running), overlays, address, veth, namespace, state and logs.
 * Each step tolerates "already gone", so it can be repeated. */
int enclave_destroy(struct runtime *rt, const char *name, struct err *err);

/* Takes back an enclave found on disk and under the runtime's root (after a
 * restart). *out is freed with enclave_free(). -ENOENT when unknown. */
int enclave_adopt(struct runtime *rt, const char *name, struct enclave **out, struct err *err);

/* The names of the enclaves found in this runtime's state directory, OCI
 * root and namespace directory (owned strv, sorted; NULL for none). The
 * namespace directory is the runtime's own: two runtimes must not share it. */
int enclave_list(struct runtime *rt, char ***names, struct err *err);

/* Refreshes the status and pid of each container of e. */
int enclave_state(struct runtime *rt, struct enclave *e, struct err *err);

/* Sums up the last observed statuses. */
enum enclave_observed enclave_observed(const struct enclave *e);

/* "absent", "running", "partial" or "stopped", for logs and JSON. */
const char *enclave_observed_str(enum enclave_observed o);

/* Runs argv in container (a name of the config) with a deadline; its exit
 * code and combined output (owned) come back. For health checks. */
int enclave_exec(struct runtime *rt, const struct enclave *e, const char *container,
                 char *const *argv, int64_t timeout_ms, int *exit_code, char **output,
                 struct err *err);

/* Checks e's attachment against its record: its veth is a port of the
 * bridge, eth0 in its namespace holds its address. */
int enclave_check_network(struct runtime *rt, const struct enclave *e, struct err *err);

/* The last lines lines of container's output (its log and the rotated log.1),
 * as one owned string in *out. */
int enclave_log_tail(const struct runtime *rt, const struct enclave *e, const char *container,
                     size_t lines, char **out, struct err *err);

/* Binds the attestation socket of container of enclave name again (its
 * /run/tinfoil/attestation.sock; after a restart of berthd) and listens:
 * *fd is non-blocking, the caller's. Returns 0 or negative with err. */
int enclave_attest_listen(struct runtime *rt, const char *name, const char *container, int *fd,
                          struct err *err);

/* The container named name in e, or NULL. */
const struct enclave_container *enclave_container_find(const struct enclave *e, const char *name);

/* Frees e and everything it owns; NULL is fine. Nothing on the host changes. */
void enclave_free(struct enclave *e);

#endif
