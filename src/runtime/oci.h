/* oci: the OCI runtime command line (runc, crun or gVisor's runsc), under a
 * berth-owned --root so berth's containers are apart from anything else on
 * the host. Every call is blocking and runs the runtime binary once. */
#ifndef BERTH_RUNTIME_OCI_H
#define BERTH_RUNTIME_OCI_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/err.h"

struct oci {
	char *binary;  /* owned: path or name of runc/crun/runsc */
	char *name;    /* owned: "runc", "crun" or "runsc" (what --version said) */
	char *version; /* owned: the first line --version printed, "runc version 1.1.12" */
	char *root;    /* owned: the --root state directory */
	char **flags;  /* owned strv: global flags after --root (runsc's platform), or NULL */
	int binary_fd; /* owned: runc's sealed copy (spawn_sealed_copy()) it runs from, or -1 */
};

enum oci_status {
	OCI_ABSENT,   /* no such container */
	OCI_CREATING, /* transient */
	OCI_CREATED,
	OCI_RUNNING,
	OCI_PAUSED,
	OCI_STOPPED,
};

struct oci_state {
	enum oci_status status;
	pid_t pid;           /* 0 when not running */
	char *bundle;        /* owned or NULL */
	json_t *annotations; /* owned object or NULL */
};

/* Chooses the runtime: want is "runc", "crun", "runsc" or a path (it must run
 * a container), or NULL to detect: crun when it is installed and can run a
 * container, else runc. runsc runs with --platform=ptrace (its kvm platform
 * needs nested virtualisation) and --network=host: the enclave's network
 * namespace is its host network, berth's firewall its boundary. Fills o
 * (release with oci_free()). */
int oci_open(struct oci *o, const char *want, const char *root, struct err *err);

/* Releases o's strings (the containers are not touched). */
void oci_free(struct oci *o);

/* Creates container id from bundle. The container's stdout and stderr are
 * stdio_fd (a pipe to the log copier); the runtime's own messages go to
 * <bundle>/oci.log and are quoted in the error. host_socket: the container
 * connects to a host unix socket bound into it (the local attestation
 * socket); runsc allows that to this sandbox only (--host-uds=open: connect,
 * never create), runc and crun need nothing. */
int oci_create(const struct oci *o, const char *id, const char *bundle, int host_socket,
               int stdio_fd, struct err *err);

/* Starts a created container. */
int oci_start(const struct oci *o, const char *id, struct err *err);

/* Reads the state of id; a missing container is status OCI_ABSENT, not an
 * error. Free with oci_state_free(). */
int oci_state(const struct oci *o, const char *id, struct oci_state *st, struct err *err);

/* Releases st's bundle path and annotations. */
void oci_state_free(struct oci_state *st);

/* Sends signal (a number) to the container's init; a stopped or missing
 * container is success. */
int oci_kill(const struct oci *o, const char *id, int sig, struct err *err);

/* Deletes the container (forcibly: a running one is killed); "absent" is
 * success. */
int oci_delete(const struct oci *o, const char *id, struct err *err);

/* The containers under our root: a JSON array of {id, status, pid, bundle,
 * annotations} (caller owns). */
int oci_list(const struct oci *o, json_t **out, struct err *err);

/* Runs argv inside the running container id, with a deadline; the exit code
 * and the combined output (owned, capped at 1 MiB) come back. */
int oci_exec(const struct oci *o, const char *id, char *const *argv, int64_t timeout_ms,
             int *exit_code, char **output, struct err *err);

/* The runtime's word for s ("running"), "absent" for OCI_ABSENT. */
const char *oci_status_str(enum oci_status s);

#endif
