/* store-types: the records berth keeps, and the operations every store
 * implementation provides (store-sql.c, on SQLite or PostgreSQL).
 *
 * Records own their strings (free them with the matching store_*_clear());
 * ids are fixed arrays so they can be copied and compared without ceremony.
 * Times are milliseconds since the epoch (0 = not set); callers format them.
 * JSON columns are kept as text; the store does not look inside.
 */
#ifndef BERTH_STORE_TYPES_H
#define BERTH_STORE_TYPES_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "model/model-types.h"

/* Return codes beyond the generic -1, so the API can pick an HTTP status.
 * They are negative errno values, so err_wrap() keeps them on the way up. */
#define STORE_ENOTFOUND (-ENOENT) /* no such row (404) */
#define STORE_ECONFLICT (-EEXIST) /* a unique name is taken, or an update runs (409) */
#define STORE_EINUSE    (-EBUSY)  /* still referenced, e.g. a bound secret (409) */
#define STORE_ESTATE    (-EILSEQ) /* an illegal state transition (409) */
#define STORE_ESCHEMA   (-EPROTO) /* the database is newer than this program */

/* Ids: 32 lower-case hex characters from 16 random bytes. */
#define STORE_ID_LEN 32
typedef char store_id[STORE_ID_LEN + 1]; /* "" when unset */

struct store_org {
	store_id id;
	char *name; /* owned */
	int64_t created_at;
};

struct store_container {
	store_id id;
	store_id org_id;
	char *name; /* owned; unique per org among live containers */
	enum container_status status;
	char *status_detail; /* owned or NULL */
	int debug;
	char *source_repo;      /* owned or NULL (config uploaded) */
	char *source_tag;       /* owned or NULL */
	store_id deployment_id; /* what serves (or is being first deployed), "" when none */
	int64_t created_at;
	int64_t updated_at;
	int64_t deleted_at; /* 0; set when a delete is requested, until teardown ends */
	char *pending;      /* owned or NULL: created before its source was fetched, no
	                     * deployment yet; JSON {"secrets": [names]} of the request */
	/* The config's `restart` at work (src/recon/recon-restart.c): */
	int64_t restarts;         /* times its serving enclave was brought back, ever */
	int64_t restart_attempts; /* restarts since it was last healthy for a minute */
	int64_t restart_at;       /* wall ms: a restart waits (backoff) until then; 0: none
	                           * under way */
	int64_t version;          /* read only: moves with every write to the row, its updates,
	                           * settings or deployments (store triggers); not written */
};

/* What a look over every container needs of each: which row, at which
 * version, serving which deployment. */
struct store_container_head {
	store_id id;
	store_id deployment_id; /* "" when none */
	int64_t version;
};

/* Immutable once written. */
struct store_deployment {
	store_id id;
	store_id container_id;
	char *tag;              /* owned or NULL */
	char *config;           /* owned: the exact YAML text */
	char config_sha256[65]; /* hex */
	char *measurement;      /* owned, hex */
	char *images_json;      /* owned: ["name@sha256:...", ...] */
	int debug;
	char *secrets_json; /* owned: ["API_KEY", ...] (names only) */
	char *env_json;     /* owned: {"KEY": "value", ...} */
	char *isolation;    /* owned: "runc" or "gvisor", resolved when it was made */
	char commit[41];    /* the tag's commit (hex) when made from a source, else "" */
	int64_t created_at;
};

struct store_update {
	store_id id;
	store_id container_id;
	enum update_kind kind;
	struct update_state state;   /* strategy, status, phase, switched, finished */
	store_id from_deployment_id; /* "" when the container had none */
	store_id to_deployment_id;
	char *error;           /* owned or NULL */
	char *health_log_json; /* owned: ["<time> <check result>", ...] */
	int64_t created_at;
	int64_t switched_at; /* 0 until the router switched */
	int64_t finished_at; /* 0 until finished (state.finished) */
};

struct store_enclave {
	store_id id;
	store_id container_id;
	store_id deployment_id;
	char *name; /* owned; derived from the deployment (model_enclave_name()) */
	enum enclave_state state;
	char *address; /* owned or NULL: "10.88.0.5:8000" once known */
	char *reason;  /* owned or NULL: why it failed (kept as it stops) */
	int64_t created_at;
	int64_t updated_at;
	/* owned JSON array or NULL: the public parts of its attested keys,
	 * [{"id", "key", "public_key"}] (migration 8), set once it booted */
	char *attested_keys;
	/* owned or NULL: the id of the host that runs it (migration 10), NULL
	 * for berthd's own host; written by enclave_create only */
	char *host_id;
};

struct store_secret {
	store_id id;
	store_id org_id;
	char *name;      /* owned; unique per org */
	uint8_t *sealed; /* owned ciphertext, NULL in lists */
	size_t sealed_len;
	uint8_t *nonce; /* owned, NULL in lists */
	size_t nonce_len;
	char **bound_to; /* owned strv of container names binding it (lists only) */
	int64_t created_at;
	int64_t updated_at;
};

/* A deployment's use of a secret. Bindings are per deployment: an old
 * deployment's stay until its enclave stopped. */
struct store_binding {
	store_id container_id;
	store_id deployment_id;
	store_id secret_id;
	char *secret_name; /* owned */
};

/* An external env setting of a container. */
struct store_setting {
	char *key;   /* owned */
	char *value; /* owned */
};

struct store_event {
	int64_t id; /* increasing; ?after=<id> */
	store_id org_id;
	char *container;       /* owned: the container's name, kept after it is deleted */
	store_id container_id; /* "" for events of no container (and before migration 4) */
	int64_t time;
	char *kind;    /* owned: "update.started", ... */
	char *message; /* owned */
};

struct store;

/* The operations of one implementation. Each returns 0 or a negative value
 * with err set (STORE_E* where it applies). Records returned are filled in
 * full and owned by the caller; lists are arrays the caller frees with
 * store_*_list_free(). Wrappers in store.h add the rules common to every
 * implementation (ids, times, transition checks, token hashing). */
struct store_ops {
	const char *name; /* "sql" */
	void (*close)(struct store *st);
	int (*begin)(struct store *st, struct err *err);
	int (*commit)(struct store *st, struct err *err);
	void (*rollback)(struct store *st);

	int (*org_create)(struct store *st, const struct store_org *o, struct err *err);
	int (*org_get)(struct store *st, const char *id, const char *name, struct store_org *out,
	               struct err *err);

	int (*token_add)(struct store *st, const char *org_id, const char *hash, int64_t now,
	                 struct err *err);
	int (*token_find)(struct store *st, const char *hash, struct store_org *out,
	                  struct err *err);
	int (*token_delete)(struct store *st, const char *hash, struct err *err);

	int (*container_create)(struct store *st, const struct store_container *c, struct err *err);
	/* By id, or by org_id and name (live containers only). */
	int (*container_get)(struct store *st, const char *id, const char *org_id, const char *name,
	                     struct store_container *out, struct err *err);
	/* Live containers of org_id (every org when NULL), by name; or, with
	 * deleted set, those waiting for their teardown. */
	int (*container_list)(struct store *st, const char *org_id, int deleted,
	                      struct store_container **out, size_t *n, struct err *err);
	/* The heads of container_list()'s rows (live only), in its order. */
	int (*container_heads)(struct store *st, const char *org_id,
	                       struct store_container_head **out, size_t *n, struct err *err);
	int (*container_put)(struct store *st, const struct store_container *c, struct err *err);
	int (*container_delete)(struct store *st, const char *id, struct err *err);

	int (*deployment_create)(struct store *st, const struct store_deployment *d,
	                         struct err *err);
	int (*deployment_get)(struct store *st, const char *id, struct store_deployment *out,
	                      struct err *err);
	int (*deployment_list)(struct store *st, const char *container_id,
	                       struct store_deployment **out, size_t *n, struct err *err);

	int (*update_create)(struct store *st, const struct store_update *u, struct err *err);
	int (*update_get)(struct store *st, const char *id, struct store_update *out,
	                  struct err *err);
	/* The newest update of the container. */
	int (*update_latest)(struct store *st, const char *container_id, struct store_update *out,
	                     struct err *err);
	/* Updates of container_id newest first, or with container_id NULL every
	 * unfinished update oldest first. */
	int (*update_list)(struct store *st, const char *container_id, struct store_update **out,
	                   size_t *n, struct err *err);
	int (*update_put)(struct store *st, const struct store_update *u, struct err *err);

	int (*enclave_create)(struct store *st, const struct store_enclave *e, struct err *err);
	int (*enclave_get)(struct store *st, const char *id, struct store_enclave *out,
	                   struct err *err);
	/* Enclaves of container_id, or with NULL every enclave not stopped. */
	int (*enclave_list)(struct store *st, const char *container_id, struct store_enclave **out,
	                    size_t *n, struct err *err);
	int (*enclave_put)(struct store *st, const struct store_enclave *e, struct err *err);
	int (*enclave_delete)(struct store *st, const char *id, struct err *err);

	int (*secret_put)(struct store *st, const struct store_secret *s, struct err *err);
	int (*secret_get)(struct store *st, const char *org_id, const char *name,
	                  struct store_secret *out, struct err *err);
	int (*secret_any)(struct store *st, struct store_secret *out, struct err *err);
	int (*secret_list)(struct store *st, const char *org_id, struct store_secret **out,
	                   size_t *n, struct err *err);
	int (*secret_delete)(struct store *st, const char *org_id, const char *name,
	                     struct err *err);

	int (*binding_add)(struct store *st, const char *container_id, const char *deployment_id,
	                   const char *secret_name, struct err *err);
	int (*binding_list)(struct store *st, const char *container_id, struct store_binding **out,
	                    size_t *n, struct err *err);
	int (*binding_delete_deployment)(struct store *st, const char *deployment_id,
	                                 struct err *err);

	int (*setting_set)(struct store *st, const char *container_id, const char *key,
	                   const char *value, struct err *err);
	int (*setting_list)(struct store *st, const char *container_id, struct store_setting **out,
	                    size_t *n, struct err *err);
	int (*setting_delete)(struct store *st, const char *container_id, const char *key,
	                      struct err *err);

	int (*event_append)(struct store *st, const struct store_event *e, int64_t *id,
	                    struct err *err);
	int (*event_list)(struct store *st, const char *org_id, const char *container_id,
	                  int64_t after, size_t limit, struct store_event **out, size_t *n,
	                  struct err *err);
};

/* The part every implementation embeds first. */
struct store {
	const struct store_ops *ops; /* borrowed, static */
	int txn_depth;               /* 1 inside store_begin() .. commit/rollback */
	uint64_t generation;         /* bumped by every write call: caches compare it */
};

#endif
