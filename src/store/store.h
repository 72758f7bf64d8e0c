/* store: berth's durable state: orgs, tokens, containers, deployments,
 * updates, enclaves, secrets and their bindings, settings and events.
 *
 * Every function returns 0 or a negative value with err set. Besides -1 for
 * anything the database (SQLite or PostgreSQL) or the disk can cause, callers can rely on:
 *   STORE_ENOTFOUND  no such row                                  (API: 404)
 *   STORE_ECONFLICT  a name is taken / an update is in progress   (API: 409)
 *   STORE_EINUSE     a secret is still bound                      (API: 409)
 *   STORE_ESTATE     a state transition the model refuses         (API: 409)
 *   STORE_ESCHEMA    the database was written by a newer berth
 *
 * A store handle is used by one thread at a time. Each call is atomic on its
 * own; store_begin() .. store_commit() groups calls into one transaction
 * (no nesting). The *_save() functions check the state transition against
 * the stored row with src/model and refuse an illegal one, so neither the API
 * nor the reconciler can write a state the lifecycle does not allow.
 *
 * Records hold owned strings: release them with the *_clear() function of
 * their type; lists are arrays released with *_list_free(). Ids and times are
 * filled in by the create functions.
 */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/store-types.h"

/* Opens (creating when missing) the SQLite database at path, in WAL mode with
 * foreign keys on, and applies the migrations it lacks. Returns 0 and a new
 * store in *out (release with store_close()); STORE_ESCHEMA when the file's
 * schema is newer than this program's. */
int store_open_sqlite(const char *path, struct store **out, struct err *err);

/* Connects to the PostgreSQL database of url (postgres:// or postgresql://,
 * libpq's URL syntax) and applies the migrations it lacks, under the write
 * lock. The same schema versions, rules and codes as SQLite's; messages name
 * the URL without its password. */
int store_open_pg(const char *url, struct store **out, struct err *err);

/* store_open_pg() for a postgres:// or postgresql:// URL, else
 * store_open_sqlite() of the path spec. */
int store_open(const char *spec, struct store **out, struct err *err);

/* For a caller that makes commits durable itself, before anything depends
 * on them (the durability gate, store-sync.h): SQLite's commits then return
 * once they are in the WAL (synchronous = NORMAL) and *db_path is the
 * database's file (borrowed), whose WAL store_sync_wal_flush() flushes.
 * PostgreSQL's commits stay durable when they return: *db_path NULL. */
int store_defer_durability(struct store *st, const char **db_path, struct err *err);

/* Closes the store (rolling back an open transaction) and frees it; NULL is ok. */
void store_close(struct store *st);

/* A number that changes with every write through this handle: what was read
 * at one value is still true while it has not moved. */
static inline uint64_t
store_generation(const struct store *st)
{
	return st->generation;
}

/* Whether a store_begin() transaction is open. */
static inline int
store_in_transaction(const struct store *st)
{
	return st->txn_depth > 0;
}

/* The schema version this program writes. */
int store_schema_version(void);

/* Starts a transaction that takes the write lock at once. */
int store_begin(struct store *st, struct err *err);
/* Commits the open transaction. On failure it is rolled back. */
int store_commit(struct store *st, struct err *err);
/* Rolls back the open transaction; harmless when none is open. */
void store_rollback(struct store *st);

/* A new random id. */
void store_new_id(store_id out);

/* ---- orgs and API tokens ---- */

/* Creates org name; out (may be NULL) receives it. STORE_ECONFLICT if taken. */
int store_org_create(struct store *st, const char *name, struct store_org *out, struct err *err);
/* The org with id, or STORE_ENOTFOUND. */
int store_org_get(struct store *st, const char *id, struct store_org *out, struct err *err);
/* The org named name, or STORE_ENOTFOUND. */
int store_org_get_by_name(struct store *st, const char *name, struct store_org *out,
                          struct err *err);
/* Frees the strings of o and zeroes it. */
void store_org_clear(struct store_org *o);

/* Adds an API token of org_id. Only its sha256 is stored. */
int store_token_add(struct store *st, const char *org_id, const char *token, struct err *err);
/* The org of token into out; STORE_ENOTFOUND for an unknown token. */
int store_token_lookup(struct store *st, const char *token, struct store_org *out, struct err *err);
/* Revokes token; STORE_ENOTFOUND when unknown. */
int store_token_delete(struct store *st, const char *token, struct err *err);

/* ---- containers ---- */

/* Inserts c (org_id, name, status, detail, debug, source, deployment_id); fills
 * its id and times. STORE_ECONFLICT when the org has a live container of
 * that name. */
int store_container_create(struct store *st, struct store_container *c, struct err *err);
/* By id, including containers being deleted. */
int store_container_get(struct store *st, const char *id, struct store_container *out,
                        struct err *err);
/* The live container name of org_id. */
int store_container_get_by_name(struct store *st, const char *org_id, const char *name,
                                struct store_container *out, struct err *err);
/* Live containers of org_id by name, or of every org when org_id is NULL. */
int store_container_list(struct store *st, const char *org_id, struct store_container **out,
                         size_t *n, struct err *err);
/* The heads (id, version, deployment) of store_container_list()'s rows, in
 * its order: a look over every container that reads few of them whole.
 * Release with free(). */
int store_container_heads(struct store *st, const char *org_id, struct store_container_head **out,
                          size_t *n, struct err *err);
/* Containers whose delete was requested and whose teardown is not done. */
int store_container_list_deleted(struct store *st, struct store_container **out, size_t *n,
                                 struct err *err);
/* Writes c's status, status_detail, debug, source and deployment_id and sets
 * c->updated_at. STORE_ESTATE when the status change is illegal,
 * STORE_ENOTFOUND when deployment_id is not one of this container's. */
int store_container_save(struct store *st, struct store_container *c, struct err *err);
/* Marks the container deleted (it disappears from get_by_name and lists, its
 * name and its secrets' bindings are free again) and cancels its update when
 * one can be cancelled. The
 * reconciler then tears it down and calls store_container_delete(). */
int store_container_mark_deleted(struct store *st, const char *id, struct err *err);
/* Removes the container with its deployments, updates, enclaves, bindings and
 * settings. Events keep its name. */
int store_container_delete(struct store *st, const char *id, struct err *err);
/* Frees the strings of c and zeroes it. */
void store_container_clear(struct store_container *c);
/* Frees a list of n containers. */
void store_container_list_free(struct store_container *v, size_t n);

/* ---- deployments (immutable) ---- */

/* Inserts d; fills its id and created_at. */
int store_deployment_create(struct store *st, struct store_deployment *d, struct err *err);
/* The deployment with id, or STORE_ENOTFOUND. */
int store_deployment_get(struct store *st, const char *id, struct store_deployment *out,
                         struct err *err);
/* Deployments of a container, newest first. */
int store_deployment_list(struct store *st, const char *container_id, struct store_deployment **out,
                          size_t *n, struct err *err);
/* Frees the strings of d and zeroes it. */
void store_deployment_clear(struct store_deployment *d);
/* Frees a list of n deployments. */
void store_deployment_list_free(struct store_deployment *v, size_t n);

/* ---- updates ---- */

/* Inserts u (container_id, kind, state.strategy, from/to deployment) in its
 * initial state (model_update_initial()); fills id, state and created_at.
 * STORE_ECONFLICT when the container has an unfinished update,
 * STORE_ENOTFOUND when a deployment is not one of this container's. */
int store_update_create(struct store *st, struct store_update *u, struct err *err);
/* The update with id, or STORE_ENOTFOUND. */
int store_update_get(struct store *st, const char *id, struct store_update *out, struct err *err);
/* The newest update of the container (in progress or the last one). */
int store_update_latest(struct store *st, const char *container_id, struct store_update *out,
                        struct err *err);
/* Updates of a container, newest first. */
int store_update_list(struct store *st, const char *container_id, struct store_update **out,
                      size_t *n, struct err *err);
/* Unfinished updates of every container, oldest first (resume at start-up). */
int store_update_list_unfinished(struct store *st, struct store_update **out, size_t *n,
                                 struct err *err);
/* Writes u's state, error and health log. Sets switched_at and finished_at
 * when the state says so. STORE_ESTATE when the transition is illegal. */
int store_update_save(struct store *st, struct store_update *u, struct err *err);
/* Cancels the update in progress of the container; out (may be NULL) gets it.
 * STORE_ENOTFOUND when the container has no update, STORE_ESTATE when the
 * newest one is finished or past the switch. */
int store_update_cancel(struct store *st, const char *container_id, struct store_update *out,
                        struct err *err);
/* Frees the strings of u and zeroes it. */
void store_update_clear(struct store_update *u);
/* Frees a list of n updates. */
void store_update_list_free(struct store_update *v, size_t n);

/* ---- enclaves ---- */

/* Inserts e (container_id, deployment_id, name, state, address); fills id and
 * times. STORE_ECONFLICT when an enclave of that name is not stopped,
 * STORE_ENOTFOUND when the deployment is not the container's. */
int store_enclave_create(struct store *st, struct store_enclave *e, struct err *err);
/* The enclave with id, or STORE_ENOTFOUND. */
int store_enclave_get(struct store *st, const char *id, struct store_enclave *out, struct err *err);
/* Enclaves of a container, oldest first. */
int store_enclave_list(struct store *st, const char *container_id, struct store_enclave **out,
                       size_t *n, struct err *err);
/* Every enclave not stopped, of every container (adopt at start-up). */
int store_enclave_list_live(struct store *st, struct store_enclave **out, size_t *n,
                            struct err *err);
/* Writes e's state and address, sets e->updated_at. STORE_ESTATE when the
 * state change is illegal. */
int store_enclave_save(struct store *st, struct store_enclave *e, struct err *err);
/* Forgets a stopped enclave; STORE_ENOTFOUND when unknown. */
int store_enclave_delete(struct store *st, const char *id, struct err *err);
/* Frees the strings of e and zeroes it. */
void store_enclave_clear(struct store_enclave *e);
/* Frees a list of n enclaves. */
void store_enclave_list_free(struct store_enclave *v, size_t n);

/* ---- secrets, sealed by src/secret ---- */

/* Creates or replaces the secret name of org_id (created_at kept on replace). */
int store_secret_put(struct store *st, const char *org_id, const char *name, const uint8_t *sealed,
                     size_t sealed_len, const uint8_t *nonce, size_t nonce_len, struct err *err);
/* The secret with its sealed value and nonce. */
int store_secret_get(struct store *st, const char *org_id, const char *name,
                     struct store_secret *out, struct err *err);
/* The oldest secret of any org, with its sealed value and nonce (a
 * replica's check of its key); STORE_ENOTFOUND when there is none. */
int store_secret_any(struct store *st, struct store_secret *out, struct err *err);
/* Secrets of the org by name, without values, with bound_to filled. */
int store_secret_list(struct store *st, const char *org_id, struct store_secret **out, size_t *n,
                      struct err *err);
/* Deletes it; STORE_EINUSE (naming the containers) while any deployment binds it. */
int store_secret_delete(struct store *st, const char *org_id, const char *name, struct err *err);
/* Wipes and frees the sealed value, frees the rest, zeroes s. */
void store_secret_clear(struct store_secret *s);
/* Frees a list of n secrets. */
void store_secret_list_free(struct store_secret *v, size_t n);

/* Binds the org secret secret_name to a deployment of the container.
 * STORE_ENOTFOUND when the org has no such secret or the deployment is not
 * the container's. Binding twice is a no-op. */
int store_binding_add(struct store *st, const char *container_id, const char *deployment_id,
                      const char *secret_name, struct err *err);
/* Bindings of every deployment of the container, by deployment then name. */
int store_binding_list(struct store *st, const char *container_id, struct store_binding **out,
                       size_t *n, struct err *err);
/* Drops the bindings of a deployment whose enclave has stopped. */
int store_binding_delete_deployment(struct store *st, const char *deployment_id, struct err *err);
/* Frees a list of n bindings. */
void store_binding_list_free(struct store_binding *v, size_t n);

/* ---- external env settings of a container ---- */

/* Sets key to value (replacing). */
int store_setting_set(struct store *st, const char *container_id, const char *key,
                      const char *value, struct err *err);
/* Settings of the container by key. */
int store_setting_list(struct store *st, const char *container_id, struct store_setting **out,
                       size_t *n, struct err *err);
/* Removes key; STORE_ENOTFOUND when not set. */
int store_setting_delete(struct store *st, const char *container_id, const char *key,
                         struct err *err);
/* Frees a list of n settings. */
void store_setting_list_free(struct store_setting *v, size_t n);

/* ---- events (append-only) ---- */

/* Appends an event of org_id about the container container_id, named
 * container (both may be NULL), stamped now; *id (may be NULL) receives its
 * id. */
int store_event_append(struct store *st, const char *org_id, const char *container_id,
                       const char *container, const char *kind, const char *message, int64_t *id,
                       struct err *err);
/* Events of org_id with id > after, oldest first, at most limit (0: no limit);
 * only those of the container container_id when not NULL (not of another
 * container that had its name). */
int store_event_list(struct store *st, const char *org_id, const char *container_id, int64_t after,
                     size_t limit, struct store_event **out, size_t *n, struct err *err);
/* Frees a list of n events. */
void store_event_list_free(struct store_event *v, size_t n);

#endif
