/* config-types: tinfoil-config.yml as typed structs, shared by the parser, the
 * runtime (OCI bundles), health checks, the router and the reconciler.
 *
 * Every struct owns its strings and arrays; config_free() releases the tree.
 * Optional scalars use -1 (or NULL) for "absent". Durations are milliseconds.
 */
#ifndef BERTH_CONFIG_TYPES_H
#define BERTH_CONFIG_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Source position of a value, for errors that name file:line:col. */
struct config_pos {
	int line;   /* 1-based, 0 when unknown */
	int column; /* 1-based */
};

/* One error found in a config: file:line:col: key.path: sentence. */
struct config_error {
	struct config_pos pos;
	char *key_path; /* owned, "containers[0].image", or "" */
	char *message;  /* owned sentence */
};

struct config_errors {
	char *path;                 /* owned file name */
	struct config_error *items; /* owned array */
	size_t n;
};

/* One entry of a container's `env` list. */
struct config_env {
	char *key;   /* owned */
	char *value; /* owned; NULL for a bare `- KEY` taken from external settings */
};

/* One `tmpfs` mount: a path with docker-compose style options. */
struct config_tmpfs {
	char *path;    /* owned, absolute */
	char *options; /* owned, "size=512m,mode=1777,exec" or NULL */
};

enum config_healthcheck_kind {
	CONFIG_HEALTHCHECK_NONE_SET,  /* no healthcheck key: the image's, or none */
	CONFIG_HEALTHCHECK_CMD,       /* ["CMD", argv...] */
	CONFIG_HEALTHCHECK_CMD_SHELL, /* ["CMD-SHELL", "script"] or a plain string */
	CONFIG_HEALTHCHECK_DISABLED,  /* ["NONE"] or disable: true */
};

/* docker-compose `healthcheck`. Durations default as in docker. */
struct config_healthcheck {
	enum config_healthcheck_kind kind;
	char **test;               /* owned strv: argv for CMD, one script for CMD-SHELL */
	int64_t interval_ms;       /* default 30s */
	int64_t timeout_ms;        /* default 30s */
	int64_t start_period_ms;   /* default 0 */
	int64_t start_interval_ms; /* default 5s */
	int retries;               /* default 3 */
};

struct config_container {
	char *name;            /* owned, unique in the config */
	char *image;           /* owned, "name[:tag]@sha256:<64 hex>" */
	char *image_digest;    /* owned, "sha256:<64 hex>" part of image */
	char **command;        /* owned strv or NULL (a string becomes a shell-split list) */
	char **entrypoint;     /* owned strv or NULL */
	int command_is_string; /* command was given as one string */
	int entrypoint_is_string;
	char *working_dir;      /* owned or NULL */
	char *user;             /* owned or NULL */
	struct config_env *env; /* owned array */
	size_t n_env;
	char **secrets; /* owned strv of org secret names, or NULL */
	struct config_healthcheck healthcheck;
	int gpus_all;               /* `gpus: all` */
	int gpus;                   /* `gpus: N`, -1 when absent */
	char *runtime;              /* owned, "nvidia" or NULL */
	char **ports;               /* owned strv or NULL, recorded */
	int64_t memory_bytes;       /* -1 when absent ("512m", "2g" or bytes) */
	double cpus;                /* -1 when absent */
	int64_t shm_size_bytes;     /* -1 when absent */
	struct config_tmpfs *tmpfs; /* owned array */
	size_t n_tmpfs;
	int read_only;           /* 0/1 */
	int64_t pids_limit;      /* -1 when absent */
	char *restart;           /* owned: "no", "always", "on-failure", "unless-stopped" or NULL */
	char *stop_signal;       /* owned, "SIGTERM" form, or NULL */
	int64_t stop_timeout_ms; /* -1 when absent (default 10s at run time) */
	/* The policy (config-policy.c) holds in a parsed config: cap_add names only
	 * IPC_LOCK, NET_BIND_SERVICE or SYS_NICE; cap_drop and security_opt are
	 * NULL, devices NULL or empty, pid NULL or "", privileged 0. */
	char **cap_add;        /* owned strv, "CAP_" prefix normalised away ("SYS_NICE") */
	char **cap_drop;       /* owned strv */
	char **devices;        /* owned strv */
	char *ipc;             /* owned or NULL: private, none, shareable or host (the enclave's) */
	char *pid;             /* owned or NULL */
	char **volumes;        /* owned strv, recorded; unsupported at first */
	char **models;         /* owned strv, recorded */
	char **networks;       /* owned strv, recorded */
	char **security_opt;   /* owned strv */
	int privileged;        /* 0/1 */
	struct config_pos pos; /* where the entry starts */
	/* The reference's newer keys, validated; cvm_admin and seal_register
	 * are not acted on at deploy yet (config_unsupported() lists them). */
	int cvm_admin;                  /* 0/1: administers the whole CVM */
	int seal_register;              /* 0/1 */
	int attestation;                /* 0/1: the local attestation socket */
	char **keys;                    /* owned strv of attested-key ids granted, or NULL */
	char **persistent_volumes;      /* owned strv "name:/abs/path", or NULL */
	char *network_mode;             /* owned: "none" or NULL */
	char *registry_username;        /* owned or NULL (legacy `registry`) */
	char *registry_password_secret; /* owned org secret name, or NULL */
	char **gpu_ids;                 /* owned strv from `gpus: "0,1"`, or NULL */
};

/* A top-level `volumes` entry: a persistent directory per container that
 * mounts it (persistent_volumes), kept across updates. */
struct config_volume {
	char *name;         /* owned, ^[a-z][a-z0-9-]{0,62}$ */
	int64_t size_bytes; /* -1 when absent; recorded, not enforced */
	unsigned uid, gid;  /* `owner` inside the enclave; 0:0 when absent */
	int exec;           /* 0/1: files on it may be executed (else noexec) */
};

/* A top-level `attested-keys` entry: a key pair made inside the enclave at
 * its boot, granted to one container (containers[].keys). */
struct config_attested_key {
	char *id;          /* owned, ^[a-z][a-z0-9-]{0,62}$, not tls or hpke */
	char *kind;        /* owned: "ecdsa-p256", "ed25519" or "x25519" */
	unsigned uid, gid; /* owner of the private key inside the enclave; 0:0 when absent */
};

enum config_strategy {
	CONFIG_STRATEGY_AUTO,
	CONFIG_STRATEGY_BLUE_GREEN,
	CONFIG_STRATEGY_RECREATE,
};

/* `deploy`: berth's extension, every field defaulted when absent. */
struct config_deploy {
	enum config_strategy strategy; /* default auto */
	int64_t health_timeout_ms;     /* default 5m */
	int64_t min_healthy_time_ms;   /* default 2s */
	int64_t drain_timeout_ms;      /* default 30s */
	int64_t hold_timeout_ms;       /* default 30s */
	char *health_path; /* owned; default "/health" when in shim.paths, else NULL (TCP) */
	char *isolation;   /* owned: "runc" or "gvisor"; NULL when absent: the host's default,
	                    * which the deployment records when it is made */
};

struct config_shim {
	int upstream_port;        /* required, 1..65535 */
	char *upstream_container; /* owned; defaults to the first container's name */
	char **paths;      /* owned strv: "/health" exact, prefixes end in a star; NULL = all */
	char **origins;    /* owned strv or NULL */
	int listen_port;   /* legacy, -1 when absent */
	int authenticated; /* recorded, -1 when absent */
	/* Other shim keys (rate-limit, tls-mode, ...) are kept in the canonical
	 * form only. */
	char *extra_json; /* owned: those other keys as a JSON object, or NULL */
};

struct config {
	char *path;                          /* owned: the file name used in errors */
	char *cvm_version;                   /* owned or NULL */
	char *shim_version;                  /* owned or NULL */
	int cpus;                            /* -1 when absent */
	int64_t memory_mib;                  /* -1 when absent */
	int gpus;                            /* -1 when absent (CPU only) */
	struct config_container *containers; /* owned array, at least one */
	size_t n_containers;
	struct config_shim shim;
	struct config_deploy deploy;
	char *canonical;               /* owned: the canonical form (JSON, stable key order) */
	char config_sha256[65];        /* sha256 hex of canonical */
	char *extra_json;              /* owned: recorded top-level keys (models, volumes,
	                                * networks, ...) as a JSON object, or NULL */
	char *keyserver_url;           /* owned or NULL */
	struct config_volume *volumes; /* owned array of the top-level `volumes` */
	size_t n_volumes;
	struct config_attested_key *attested_keys; /* owned array of `attested-keys` */
	size_t n_attested_keys;
	/* Warnings about an accepted file (unknown shim keys, ignored as the
	 * reference ignores them); owned, path NULL when there are none. */
	struct config_errors warnings;
	/* Keys accepted but not honoured at deploy yet, with their positions;
	 * owned, read through config_unsupported(). */
	struct config_errors unsupported;
};

#endif
