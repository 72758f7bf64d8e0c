/* bundle: the OCI runtime spec (config.json) of one container, built from its
 * image config and its entry in tinfoil-config.yml, docker-compatible where
 * docker defines the behaviour:
 *   - entrypoint: the config's replaces the image's and drops the image's Cmd
 *     unless the config gives a command too; a config command replaces Cmd;
 *   - env: image env, then config literals, then external settings for bare
 *     keys, then secrets (same-named keys are replaced in that order);
 *   - user "uid[:gid]" numeric or names looked up in the rootfs's /etc/passwd
 *     and /etc/group (without leaving the rootfs);
 *   - the enclave sandbox (docs/security.md): podman's default capabilities
 *     (no NET_RAW, MKNOD, AUDIT_WRITE) plus the allowed cap_add (IPC_LOCK,
 *     NET_BIND_SERVICE, SYS_NICE), no_new_privs always, the default seccomp
 *     profile, docker's masked and read-only /proc and /sys paths, a pids
 *     limit; the reference's refused keys refused again;
 *   - new pid, uts and mount namespaces, a new ipc one or (ipc: host) the
 *     enclave's; the enclave's network namespace by path; /etc/hosts and
 *     /etc/resolv.conf bound from the enclave's files;
 *   - /run/tinfoil/keys/<id> (each attested key granted to it) and
 *     /run/tinfoil/attestation (the directory of the attestation socket)
 *     bound read-only from its bundle (runtime/tinfoil.h); berth's binds go
 *     after the config's tmpfs and volumes, which may not hide them
 *     (config-container.c refuses targets over them).
 * Pure apart from reading the rootfs's passwd and group files. */
#ifndef BERTH_RUNTIME_BUNDLE_H
#define BERTH_RUNTIME_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "config/config-types.h"
#include "image/image-types.h"

#define BUNDLE_STOP_TIMEOUT_MS 10000

struct bundle_kv {
	const char *key;   /* borrowed */
	const char *value; /* borrowed */
};

/* A host directory bound into the container (a persistent volume). */
struct bundle_mount {
	const char *source;      /* borrowed: absolute host path */
	const char *destination; /* borrowed: absolute path inside */
	int exec;                /* 0: mounted noexec */
};

struct bundle_input {
	const char *id;                    /* borrowed: OCI container id (cgroup name) */
	const struct config_container *cc; /* borrowed: the config's container entry */
	const struct image_config *image;  /* borrowed, NULL for an empty image config */
	const char *rootfs;                /* borrowed: where to read /etc/passwd and /etc/group */
	const char *netns;                 /* borrowed: the enclave's namespace path */
	const char *hosts_file;            /* borrowed, or NULL: bound at /etc/hosts */
	const char *hosts_dir;             /* borrowed, or NULL: bound read-only at
	                                    * BUNDLE_HOSTS_DIR, /etc/hosts a link
	                                    * into it (the rootfs's, made by the
	                                    * caller) */
	const char *resolv_file;           /* borrowed, or NULL */
	const struct bundle_kv *settings;  /* borrowed: external settings for bare env keys */
	size_t n_settings;
	const struct bundle_kv *secrets; /* borrowed: secret name -> value */
	size_t n_secrets;
	json_t *annotations;          /* borrowed object merged into annotations, or NULL */
	json_t *gpu_edits;            /* borrowed {"devices", "env", "mounts"} or NULL */
	const char *root_path;        /* borrowed: root.path (absolute), NULL for "rootfs" */
	const char *cgroup_parent;    /* borrowed: "berth/<enclave>", or NULL for /berth/<id> */
	const char *ipc_ns;           /* borrowed: the enclave's ipc namespace path, or NULL */
	int64_t enclave_memory_bytes; /* the enclave's memory limit, 0 for none */
	const char *userns;           /* borrowed: the enclave's user namespace path, or NULL */
	unsigned id_base;             /* with userns: host id of root inside */
	unsigned id_count;
	const struct bundle_mount *volumes; /* borrowed array: bound rbind,nosuid,nodev */
	size_t n_volumes;
	const char *tinfoil_dir; /* borrowed: host directory of the container's
	                          * keys/<id>/ and attestation/ (tinfoil.h),
	                          * bound read-only below /run/tinfoil; NULL
	                          * for none */
};

/* One attested key granted to a container: written into its bundle's
 * tinfoil directory (keys/<id>/private_key.pem 0400 and public_key.pem 0444,
 * owned by uid:gid inside the enclave), never anywhere else. */
struct bundle_key {
	const char *id;          /* borrowed */
	const char *private_pem; /* borrowed, private_len bytes */
	size_t private_len;
	const char *public_pem; /* borrowed, NUL-terminated */
	unsigned uid, gid;      /* the owner as the container sees it */
};

/* Where berth's files are inside a container: the keys below
 * BUNDLE_TINFOIL_DIR/keys, the attestation socket in BUNDLE_ATTEST_DIR. */
#define BUNDLE_TINFOIL_DIR "/run/tinfoil"

/* The enclave's hosts file is replaced by a rename (egress.h), which a file
 * bind mount does not see: its directory is bound here instead, and the
 * container's /etc/hosts is the link BUNDLE_HOSTS_LINK to its file. */
#define BUNDLE_HOSTS_DIR   "/etc/berth"
#define BUNDLE_HOSTS_LINK  "berth/hosts"
#define BUNDLE_ATTEST_DIR  "/run/tinfoil/attestation"
#define BUNDLE_ATTEST_SOCK "attestation.sock"

/* Builds the runtime spec of in; *spec is a new JSON object (caller decrefs).
 * Fails with a sentence on anything the input gets wrong (no command, unknown
 * user or capability, bad tmpfs option, missing secret). */
int bundle_spec(const struct bundle_input *in, json_t **spec, struct err *err);

/* The container's stop signal (config, then image, then SIGTERM) as a
 * number; -1 with err for an unknown name. */
int bundle_stop_signal(const struct config_container *cc, const struct image_config *image,
                       struct err *err);

/* Parses "SIGTERM", "TERM" or "15"; returns the number or -1. */
int bundle_signal_parse(const char *s);

#endif
