/* store-sql: the store's SQL, written once, on the sqldb seam: SQLite
 * (sqldb-sqlite.c) or PostgreSQL (sqldb-pg.c). Versioned migrations
 * (store-schema.c, one text per dialect), prepared statements kept for the
 * store's life. Every value reaches SQL through a binding. */
#include "store/store.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "model/model.h"
#include "store/sqldb.h"
#include "store/store-schema.h"

#define CONTAINER_COLS                                                                             \
	"id, org_id, name, status, status_detail, debug, source_repo, source_tag, "                \
	"deployment_id, created_at, updated_at, deleted_at, pending, restarts, restart_attempts, " \
	"restart_at"
#define DEPLOYMENT_COLS                                                                            \
	"id, container_id, tag, config, config_sha256, measurement, images, debug, secrets, "      \
	"env, created_at, isolation, source_commit"
#define UPDATE_COLS                                                                                \
	"id, container_id, kind, strategy, status, phase, from_deployment_id, "                    \
	"to_deployment_id, error, health_log, created_at, switched_at, finished_at"
#define ENCLAVE_COLS                                                                               \
	"id, container_id, deployment_id, name, state, address, created_at, updated_at, reason, "  \
	"attested_keys, host_id"

/* The statements, prepared once on first use and kept for the store's life. */
enum stmt_id {
	S_ORG_INSERT,
	S_ORG_BY_ID,
	S_ORG_BY_NAME,
	S_TOKEN_INSERT,
	S_TOKEN_FIND,
	S_TOKEN_DELETE,
	S_CONTAINER_INSERT,
	S_CONTAINER_BY_ID,
	S_CONTAINER_BY_NAME,
	S_CONTAINER_LIST,
	S_CONTAINER_HEADS,
	S_CONTAINER_UPDATE,
	S_CONTAINER_DELETE,
	S_DEPLOYMENT_INSERT,
	S_DEPLOYMENT_GET,
	S_DEPLOYMENT_LIST,
	S_UPDATE_INSERT,
	S_UPDATE_GET,
	S_UPDATE_LATEST,
	S_UPDATE_LIST,
	S_UPDATE_UNFINISHED,
	S_UPDATE_UPDATE,
	S_ENCLAVE_INSERT,
	S_ENCLAVE_GET,
	S_ENCLAVE_LIST,
	S_ENCLAVE_LIVE,
	S_ENCLAVE_UPDATE,
	S_ENCLAVE_DELETE,
	S_SECRET_UPSERT,
	S_SECRET_GET,
	S_SECRET_ANY,
	S_SECRET_LIST,
	S_SECRET_BOUND_TO,
	S_SECRET_DELETE,
	S_SECRET_ID_FOR_CONTAINER,
	S_BINDING_INSERT,
	S_BINDING_LIST,
	S_BINDING_DELETE_DEPLOYMENT,
	S_SETTING_UPSERT,
	S_SETTING_LIST,
	S_SETTING_DELETE,
	S_EVENT_INSERT,
	S_EVENT_LIST,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_ORG_INSERT] = "INSERT INTO org (id, name, created_at) VALUES (?1, ?2, ?3)",
    [S_ORG_BY_ID] = "SELECT id, name, created_at FROM org WHERE id = ?1",
    [S_ORG_BY_NAME] = "SELECT id, name, created_at FROM org WHERE name = ?1",
    [S_TOKEN_INSERT] = "INSERT INTO api_token (hash, org_id, created_at) VALUES (?1, ?2, ?3)",
    [S_TOKEN_FIND] = "SELECT o.id, o.name, o.created_at FROM api_token t"
                     " JOIN org o ON o.id = t.org_id WHERE t.hash = ?1",
    [S_TOKEN_DELETE] = "DELETE FROM api_token WHERE hash = ?1",
    [S_CONTAINER_INSERT] =
        "INSERT INTO container (" CONTAINER_COLS ")"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
        " ?16)",
    [S_CONTAINER_BY_ID] = "SELECT " CONTAINER_COLS ", version FROM container WHERE id = ?1",
    [S_CONTAINER_BY_NAME] = "SELECT " CONTAINER_COLS ", version FROM container"
                            " WHERE org_id = ?1 AND name = ?2 AND deleted_at = 0",
    [S_CONTAINER_LIST] =
        "SELECT " CONTAINER_COLS ", version FROM container"
        " WHERE (CAST(?1 AS TEXT) IS NULL OR org_id = ?1) AND (deleted_at <> 0) = ?2"
        " ORDER BY org_id, name, created_at",
    [S_CONTAINER_HEADS] = "SELECT id, deployment_id, version FROM container"
                          " WHERE (CAST(?1 AS TEXT) IS NULL OR org_id = ?1) AND deleted_at = 0"
                          " ORDER BY org_id, name, created_at",
    [S_CONTAINER_UPDATE] = "UPDATE container SET status = ?2, status_detail = ?3, debug = ?4,"
                           " source_repo = ?5, source_tag = ?6, deployment_id = ?7,"
                           " updated_at = ?8, deleted_at = ?9, pending = ?10, restarts = ?11,"
                           " restart_attempts = ?12, restart_at = ?13 WHERE id = ?1",
    [S_CONTAINER_DELETE] = "DELETE FROM container WHERE id = ?1",
    [S_DEPLOYMENT_INSERT] = "INSERT INTO deployment (" DEPLOYMENT_COLS ")"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_DEPLOYMENT_GET] = "SELECT " DEPLOYMENT_COLS " FROM deployment WHERE id = ?1",
    [S_DEPLOYMENT_LIST] = "SELECT " DEPLOYMENT_COLS " FROM deployment WHERE container_id = ?1"
                          " ORDER BY created_at DESC, rowid DESC",
    [S_UPDATE_INSERT] = "INSERT INTO \"update\" (" UPDATE_COLS ")"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_UPDATE_GET] = "SELECT " UPDATE_COLS " FROM \"update\" WHERE id = ?1",
    [S_UPDATE_LATEST] = "SELECT " UPDATE_COLS " FROM \"update\" WHERE container_id = ?1"
                        " ORDER BY created_at DESC, rowid DESC LIMIT 1",
    [S_UPDATE_LIST] = "SELECT " UPDATE_COLS " FROM \"update\" WHERE container_id = ?1"
                      " ORDER BY created_at DESC, rowid DESC",
    [S_UPDATE_UNFINISHED] = "SELECT " UPDATE_COLS " FROM \"update\" WHERE finished_at = 0"
                            " ORDER BY created_at, rowid",
    [S_UPDATE_UPDATE] = "UPDATE \"update\" SET status = ?2, phase = ?3, error = ?4,"
                        " health_log = ?5, switched_at = ?6, finished_at = ?7 WHERE id = ?1",
    [S_ENCLAVE_INSERT] = "INSERT INTO enclave (" ENCLAVE_COLS ")"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [S_ENCLAVE_GET] = "SELECT " ENCLAVE_COLS " FROM enclave WHERE id = ?1",
    [S_ENCLAVE_LIST] = "SELECT " ENCLAVE_COLS " FROM enclave WHERE container_id = ?1"
                       " ORDER BY created_at, rowid",
    [S_ENCLAVE_LIVE] = "SELECT " ENCLAVE_COLS " FROM enclave WHERE state <> 'stopped'"
                       " ORDER BY created_at, rowid",
    [S_ENCLAVE_UPDATE] = "UPDATE enclave SET state = ?2, address = ?3, updated_at = ?4,"
                         " reason = ?5, attested_keys = ?6 WHERE id = ?1",
    [S_ENCLAVE_DELETE] = "DELETE FROM enclave WHERE id = ?1",
    [S_SECRET_UPSERT] = "INSERT INTO secret (id, org_id, name, sealed, nonce, created_at,"
                        " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
                        " ON CONFLICT (org_id, name) DO UPDATE SET sealed = excluded.sealed,"
                        " nonce = excluded.nonce, updated_at = excluded.updated_at",
    [S_SECRET_GET] = "SELECT id, org_id, name, created_at, updated_at, sealed, nonce"
                     " FROM secret WHERE org_id = ?1 AND name = ?2",
    [S_SECRET_ANY] = "SELECT id, org_id, name, created_at, updated_at, sealed, nonce"
                     " FROM secret ORDER BY created_at, id LIMIT 1",
    [S_SECRET_LIST] = "SELECT id, org_id, name, created_at, updated_at FROM secret"
                      " WHERE org_id = ?1 ORDER BY name",
    [S_SECRET_BOUND_TO] = "SELECT DISTINCT c.name FROM secret_binding b"
                          " JOIN container c ON c.id = b.container_id"
                          " WHERE b.secret_id = ?1 ORDER BY c.name",
    [S_SECRET_DELETE] = "DELETE FROM secret WHERE id = ?1",
    [S_SECRET_ID_FOR_CONTAINER] = "SELECT s.id FROM secret s"
                                  " JOIN container c ON c.org_id = s.org_id"
                                  " WHERE c.id = ?1 AND s.name = ?2",
    [S_BINDING_INSERT] = "INSERT INTO secret_binding (container_id, deployment_id, secret_id)"
                         " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    [S_BINDING_LIST] = "SELECT b.container_id, b.deployment_id, b.secret_id, s.name"
                       " FROM secret_binding b JOIN secret s ON s.id = b.secret_id"
                       " JOIN deployment d ON d.id = b.deployment_id"
                       " WHERE b.container_id = ?1 ORDER BY d.created_at, d.rowid, s.name",
    [S_BINDING_DELETE_DEPLOYMENT] = "DELETE FROM secret_binding WHERE deployment_id = ?1",
    [S_SETTING_UPSERT] = "INSERT INTO container_setting (container_id, key, value)"
                         " VALUES (?1, ?2, ?3) ON CONFLICT (container_id, key)"
                         " DO UPDATE SET value = excluded.value",
    [S_SETTING_LIST] = "SELECT key, value FROM container_setting WHERE container_id = ?1"
                       " ORDER BY key",
    [S_SETTING_DELETE] = "DELETE FROM container_setting WHERE container_id = ?1 AND key = ?2",
    [S_EVENT_INSERT] = "INSERT INTO event (org_id, container, time, kind, message,"
                       " container_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    [S_EVENT_LIST] = "SELECT id, org_id, container, time, kind, message, container_id"
                     " FROM event WHERE org_id = ?1 AND id > ?2"
                     " AND (CAST(?3 AS TEXT) IS NULL OR container_id = ?3) ORDER BY id LIMIT ?4",
};

struct sql_store {
	struct store base;                  /* first, so a struct store * is one of these */
	struct sqldb *db;                   /* owned */
	struct sqldb_stmt *stmts[S__COUNT]; /* owned, prepared lazily */
};

static struct sql_store *
to_sql(struct store *st)
{
	return (struct sql_store *)st;
}

/* Sets err to a store code with a formatted sentence; returns code. */
static int BERTH_PRINTF(3, 4) fail(struct err *err, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_make(err, 0, "%s", msg);
	if (err != NULL)
		err->code = -code;
	return code;
}

static int
failed(const struct sql_store *s, enum sqldb_failure kind)
{
	return sqldb_failure(s->db) == kind;
}

static int
failed_unique(const struct sql_store *s)
{
	return failed(s, SQLDB_FAIL_UNIQUE);
}

static int
failed_foreign_key(const struct sql_store *s)
{
	return failed(s, SQLDB_FAIL_FOREIGN_KEY);
}

/* The cached statement id, reset and unbound; NULL with err set on failure. */
static struct sqldb_stmt *
stmt(struct sql_store *s, enum stmt_id id, struct err *err)
{
	if (s->stmts[id] == NULL &&
	    s->db->ops->prepare(s->db, stmt_sql[id], &s->stmts[id], err) < 0)
		return NULL;
	return s->stmts[id];
}

/* Makes a used statement ready for its next use. */
static void
stmt_done(struct sqldb_stmt *q)
{
	q->db->ops->reset(q);
}

/* Steps a query: 1 with a row, 0 at the end, negative on failure. */
static int
step_row(struct sql_store *s, struct sqldb_stmt *q, const char *what, struct err *err)
{
	return s->db->ops->step(q, what, err);
}

/* Runs a statement that returns no rows. */
static int
step_done(struct sql_store *s, struct sqldb_stmt *q, const char *what, struct err *err)
{
	int rc = step_row(s, q, what, err);

	stmt_done(q);
	return rc < 0 ? rc : 0;
}

static void
bind_text(struct sqldb_stmt *q, int i, const char *v)
{
	q->db->ops->bind_text(q, i, v);
}

/* An empty id is SQL NULL. */
static void
bind_id(struct sqldb_stmt *q, int i, const char *id)
{
	bind_text(q, i, id != NULL && id[0] != '\0' ? id : NULL);
}

static void
bind_int(struct sqldb_stmt *q, int i, int64_t v)
{
	q->db->ops->bind_int(q, i, v);
}

static void
bind_blob(struct sqldb_stmt *q, int i, const void *p, size_t n)
{
	q->db->ops->bind_blob(q, i, p, n);
}

static const char *
col_str(struct sqldb_stmt *q, int i)
{
	return q->db->ops->col_text(q, i);
}

static char *
col_dup(struct sqldb_stmt *q, int i)
{
	const char *v = col_str(q, i);

	return v != NULL ? xstrdup(v) : NULL;
}

static void
col_id(struct sqldb_stmt *q, int i, store_id out)
{
	const char *v = col_str(q, i);

	snprintf(out, sizeof(store_id), "%s", v != NULL ? v : "");
}

static int64_t
col_int(struct sqldb_stmt *q, int i)
{
	return q->db->ops->col_int(q, i);
}

static uint8_t *
col_blob(struct sqldb_stmt *q, int i, size_t *len)
{
	return q->db->ops->col_blob(q, i, len);
}

/* A row reader fills one record from the current row; negative on a value
 * this program does not know (a damaged or foreign database). */
typedef int (*row_fn)(struct sqldb_stmt *st, void *out, struct err *err);

/* Reads the one row of a bound query into out; STORE_ENOTFOUND with
 * "<what> not found" when there is none. */
static int
read_one(struct sql_store *s, struct sqldb_stmt *st, row_fn row, void *out, const char *what,
         struct err *err)
{
	int rc = step_row(s, st, what, err);

	if (rc == 0)
		rc = fail(err, STORE_ENOTFOUND, "%s not found", what);
	else if (rc > 0)
		rc = row(st, out, err);
	stmt_done(st);
	return rc;
}

/* Reads every row of a bound query into a new array of elem-sized records. */
static int
read_list(struct sql_store *s, struct sqldb_stmt *st, row_fn row, size_t elem,
          void (*clear)(void *), void **out, size_t *n, struct err *err)
{
	char *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	while ((rc = step_row(s, st, "list", err)) > 0) {
		if (len == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, elem);
		}
		memset(v + len * elem, 0, elem);
		if ((rc = row(st, v + len * elem, err)) < 0)
			break;
		len++;
	}
	stmt_done(st);
	if (rc < 0) {
		for (size_t i = 0; i < len; i++)
			clear(v + i * elem);
		free(v);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}

static int
bad_value(struct err *err, const char *table, const char *col, const char *v)
{
	return err_make(err, 0, "%s.%s holds an unknown value \"%s\"", table, col, v ? v : "NULL");
}

/* ---- transactions ---- */

static int
sql_begin(struct store *st, struct err *err)
{
	struct sqldb *db = to_sql(st)->db;

	return db->ops->begin_write(db, err);
}

static int
sql_commit(struct store *st, struct err *err)
{
	struct sqldb *db = to_sql(st)->db;

	return db->ops->commit(db, err);
}

static void
sql_rollback(struct store *st)
{
	struct sqldb *db = to_sql(st)->db;

	db->ops->rollback(db);
}

/* ---- orgs and tokens ---- */

static int
row_org(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_org *o = out;

	col_id(st, 0, o->id);
	o->name = col_dup(st, 1);
	o->created_at = col_int(st, 2);
	return 0;
}

static int
sql_org_create(struct store *st, const struct store_org *o, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_ORG_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, o->id);
	bind_text(q, 2, o->name);
	bind_int(q, 3, o->created_at);
	if ((rc = step_done(s, q, "insert org", err)) < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "org %s already exists", o->name);
	return rc;
}

static int
sql_org_get(struct store *st, const char *id, const char *name, struct store_org *out,
            struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, id != NULL ? S_ORG_BY_ID : S_ORG_BY_NAME, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id != NULL ? id : name);
	return read_one(s, q, row_org, out, "org", err);
}

static int
sql_token_add(struct store *st, const char *org_id, const char *hash, int64_t now, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_TOKEN_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, hash);
	bind_text(q, 2, org_id);
	bind_int(q, 3, now);
	rc = step_done(s, q, "insert token", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "this token is already registered");
	else if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "org not found");
	return rc;
}

static int
sql_token_find(struct store *st, const char *hash, struct store_org *out, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_TOKEN_FIND, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, hash);
	return read_one(s, q, row_org, out, "token", err);
}

/* Runs a DELETE or UPDATE by key; STORE_ENOTFOUND when it touched no row. */
static int
change_one(struct sql_store *s, struct sqldb_stmt *q, const char *what, struct err *err)
{
	int rc = step_row(s, q, what, err);
	int64_t changed = rc >= 0 ? s->db->ops->changes(q) : 0;

	stmt_done(q);
	if (rc >= 0 && changed == 0)
		return fail(err, STORE_ENOTFOUND, "%s not found", what);
	return rc < 0 ? rc : 0;
}

static int
sql_token_delete(struct store *st, const char *hash, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_TOKEN_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, hash);
	return change_one(s, q, "token", err);
}

/* ---- containers ---- */

static int
row_container(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_container *c = out;

	col_id(st, 0, c->id);
	col_id(st, 1, c->org_id);
	c->name = col_dup(st, 2);
	c->status_detail = col_dup(st, 4);
	c->debug = (int)col_int(st, 5);
	c->source_repo = col_dup(st, 6);
	c->source_tag = col_dup(st, 7);
	col_id(st, 8, c->deployment_id);
	c->created_at = col_int(st, 9);
	c->updated_at = col_int(st, 10);
	c->deleted_at = col_int(st, 11);
	c->pending = col_dup(st, 12);
	c->restarts = col_int(st, 13);
	c->restart_attempts = col_int(st, 14);
	c->restart_at = col_int(st, 15);
	c->version = col_int(st, 16);
	if (model_container_status_parse(col_str(st, 3), &c->status) < 0) {
		store_container_clear(c);
		return bad_value(err, "container", "status", col_str(st, 3));
	}
	return 0;
}

static void
clear_container(void *p)
{
	store_container_clear(p);
}

static void
bind_container(struct sqldb_stmt *q, const struct store_container *c)
{
	bind_text(q, 1, c->id);
	bind_text(q, 2, c->org_id);
	bind_text(q, 3, c->name);
	bind_text(q, 4, model_container_status_str(c->status));
	bind_text(q, 5, c->status_detail);
	bind_int(q, 6, c->debug ? 1 : 0);
	bind_text(q, 7, c->source_repo);
	bind_text(q, 8, c->source_tag);
	bind_id(q, 9, c->deployment_id);
	bind_int(q, 10, c->created_at);
	bind_int(q, 11, c->updated_at);
	bind_int(q, 12, c->deleted_at);
	bind_text(q, 13, c->pending);
	bind_int(q, 14, c->restarts);
	bind_int(q, 15, c->restart_attempts);
	bind_int(q, 16, c->restart_at);
}

static int
sql_container_create(struct store *st, const struct store_container *c, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_CONTAINER_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_container(q, c);
	rc = step_done(s, q, "insert container", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "container %s already exists", c->name);
	else if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "org or deployment of container %s not found",
		          c->name);
	return rc;
}

static int
sql_container_get(struct store *st, const char *id, const char *org_id, const char *name,
                  struct store_container *out, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, id != NULL ? S_CONTAINER_BY_ID : S_CONTAINER_BY_NAME, err);
	int rc;

	if (q == NULL)
		return -1;
	if (id != NULL) {
		bind_text(q, 1, id);
	} else {
		bind_text(q, 1, org_id);
		bind_text(q, 2, name);
	}
	rc = read_one(s, q, row_container, out, "container", err);
	if (rc == STORE_ENOTFOUND && name != NULL)
		rc = fail(err, STORE_ENOTFOUND, "container %s not found", name);
	return rc;
}

static int
sql_container_list(struct store *st, const char *org_id, int deleted, struct store_container **out,
                   size_t *n, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_CONTAINER_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, org_id);
	bind_int(q, 2, deleted ? 1 : 0);
	return read_list(s, q, row_container, sizeof **out, clear_container, (void **)out, n, err);
}

static int
row_head(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_container_head *h = out;

	(void)err;
	col_id(st, 0, h->id);
	col_id(st, 1, h->deployment_id);
	h->version = col_int(st, 2);
	return 0;
}

static void
clear_nothing(void *p)
{
	(void)p;
}

static int
sql_container_heads(struct store *st, const char *org_id, struct store_container_head **out,
                    size_t *n, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_CONTAINER_HEADS, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, org_id);
	return read_list(s, q, row_head, sizeof **out, clear_nothing, (void **)out, n, err);
}

static int
sql_container_put(struct store *st, const struct store_container *c, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_CONTAINER_UPDATE, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, c->id);
	bind_text(q, 2, model_container_status_str(c->status));
	bind_text(q, 3, c->status_detail);
	bind_int(q, 4, c->debug ? 1 : 0);
	bind_text(q, 5, c->source_repo);
	bind_text(q, 6, c->source_tag);
	bind_id(q, 7, c->deployment_id);
	bind_int(q, 8, c->updated_at);
	bind_int(q, 9, c->deleted_at);
	bind_text(q, 10, c->pending);
	bind_int(q, 11, c->restarts);
	bind_int(q, 12, c->restart_attempts);
	bind_int(q, 13, c->restart_at);
	rc = change_one(s, q, "container", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "container %s already exists", c->name);
	else if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "deployment %s not found", c->deployment_id);
	return rc;
}

static int
sql_container_delete(struct store *st, const char *id, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_CONTAINER_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return change_one(s, q, "container", err);
}

/* ---- deployments ---- */

static int
row_deployment(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_deployment *d = out;

	col_id(st, 0, d->id);
	col_id(st, 1, d->container_id);
	d->tag = col_dup(st, 2);
	d->config = col_dup(st, 3);
	snprintf(d->config_sha256, sizeof d->config_sha256, "%s",
	         col_str(st, 4) ? col_str(st, 4) : "");
	d->measurement = col_dup(st, 5);
	d->images_json = col_dup(st, 6);
	d->debug = (int)col_int(st, 7);
	d->secrets_json = col_dup(st, 8);
	d->env_json = col_dup(st, 9);
	d->created_at = col_int(st, 10);
	d->isolation = col_dup(st, 11);
	snprintf(d->commit, sizeof d->commit, "%s", col_str(st, 12) ? col_str(st, 12) : "");
	return 0;
}

static void
clear_deployment(void *p)
{
	store_deployment_clear(p);
}

static int
sql_deployment_create(struct store *st, const struct store_deployment *d, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_DEPLOYMENT_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	if (d->config == NULL || d->measurement == NULL || d->isolation == NULL)
		return err_make(err, 0, "a deployment needs its config, measurement and isolation");
	bind_text(q, 1, d->id);
	bind_text(q, 2, d->container_id);
	bind_text(q, 3, d->tag);
	bind_text(q, 4, d->config);
	bind_text(q, 5, d->config_sha256);
	bind_text(q, 6, d->measurement);
	bind_text(q, 7, d->images_json ? d->images_json : "[]");
	bind_int(q, 8, d->debug ? 1 : 0);
	bind_text(q, 9, d->secrets_json ? d->secrets_json : "[]");
	bind_text(q, 10, d->env_json ? d->env_json : "{}");
	bind_int(q, 11, d->created_at);
	bind_text(q, 12, d->isolation);
	bind_text(q, 13, d->commit[0] ? d->commit : NULL);
	rc = step_done(s, q, "insert deployment", err);
	if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "container of the deployment not found");
	return rc;
}

static int
sql_deployment_get(struct store *st, const char *id, struct store_deployment *out, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_DEPLOYMENT_GET, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return read_one(s, q, row_deployment, out, "deployment", err);
}

static int
sql_deployment_list(struct store *st, const char *container_id, struct store_deployment **out,
                    size_t *n, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_DEPLOYMENT_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_list(s, q, row_deployment, sizeof **out, clear_deployment, (void **)out, n,
	                 err);
}

/* ---- updates ---- */

static int
row_update(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_update *u = out;
	const char *bad = NULL;

	col_id(st, 0, u->id);
	col_id(st, 1, u->container_id);
	col_id(st, 6, u->from_deployment_id);
	col_id(st, 7, u->to_deployment_id);
	u->error = col_dup(st, 8);
	u->health_log_json = col_dup(st, 9);
	u->created_at = col_int(st, 10);
	u->switched_at = col_int(st, 11);
	u->finished_at = col_int(st, 12);
	u->state.switched = u->switched_at != 0;
	u->state.finished = u->finished_at != 0;
	if (model_update_kind_parse(col_str(st, 2), &u->kind) < 0)
		bad = "kind";
	else if (model_strategy_parse(col_str(st, 3), &u->state.strategy) < 0)
		bad = "strategy";
	else if (model_update_status_parse(col_str(st, 4), &u->state.status) < 0)
		bad = "status";
	else if (model_phase_parse(col_str(st, 5), &u->state.phase) < 0)
		bad = "phase";
	if (bad != NULL) {
		int col = strcmp(bad, "kind") == 0       ? 2
		          : strcmp(bad, "strategy") == 0 ? 3
		          : strcmp(bad, "status") == 0   ? 4
		                                         : 5;
		int rc = bad_value(err, "update", bad, col_str(st, col));

		store_update_clear(u);
		return rc;
	}
	return 0;
}

static void
clear_update(void *p)
{
	store_update_clear(p);
}

static int
sql_update_create(struct store *st, const struct store_update *u, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_UPDATE_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, u->id);
	bind_text(q, 2, u->container_id);
	bind_text(q, 3, model_update_kind_str(u->kind));
	bind_text(q, 4, model_strategy_str(u->state.strategy));
	bind_text(q, 5, model_update_status_str(u->state.status));
	bind_text(q, 6, model_phase_str(u->state.phase));
	bind_id(q, 7, u->from_deployment_id);
	bind_id(q, 8, u->to_deployment_id);
	bind_text(q, 9, u->error);
	bind_text(q, 10, u->health_log_json ? u->health_log_json : "[]");
	bind_int(q, 11, u->created_at);
	bind_int(q, 12, u->switched_at);
	bind_int(q, 13, u->finished_at);
	rc = step_done(s, q, "insert update", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "an update of the container is in progress");
	else if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "container or deployment of the update not found");
	else if (rc < 0 && failed(s, SQLDB_FAIL_CHECK))
		rc = err_make(err, 0, "update: a kind, strategy, status or phase out of range");
	return rc;
}

static int
sql_update_get(struct store *st, const char *id, struct store_update *out, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_UPDATE_GET, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return read_one(s, q, row_update, out, "update", err);
}

static int
sql_update_latest(struct store *st, const char *container_id, struct store_update *out,
                  struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_UPDATE_LATEST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_one(s, q, row_update, out, "update", err);
}

static int
sql_update_list(struct store *st, const char *container_id, struct store_update **out, size_t *n,
                struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q =
	    stmt(s, container_id != NULL ? S_UPDATE_LIST : S_UPDATE_UNFINISHED, err);

	if (q == NULL)
		return -1;
	if (container_id != NULL)
		bind_text(q, 1, container_id);
	return read_list(s, q, row_update, sizeof **out, clear_update, (void **)out, n, err);
}

static int
sql_update_put(struct store *st, const struct store_update *u, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_UPDATE_UPDATE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, u->id);
	bind_text(q, 2, model_update_status_str(u->state.status));
	bind_text(q, 3, model_phase_str(u->state.phase));
	bind_text(q, 4, u->error);
	bind_text(q, 5, u->health_log_json ? u->health_log_json : "[]");
	bind_int(q, 6, u->state.switched ? u->switched_at : 0);
	bind_int(q, 7, u->state.finished ? u->finished_at : 0);
	return change_one(s, q, "update", err);
}

/* ---- enclaves ---- */

static int
row_enclave(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_enclave *e = out;

	col_id(st, 0, e->id);
	col_id(st, 1, e->container_id);
	col_id(st, 2, e->deployment_id);
	e->name = col_dup(st, 3);
	e->address = col_dup(st, 5);
	e->created_at = col_int(st, 6);
	e->updated_at = col_int(st, 7);
	e->reason = col_dup(st, 8);
	e->attested_keys = col_dup(st, 9);
	e->host_id = col_dup(st, 10);
	if (model_enclave_state_parse(col_str(st, 4), &e->state) < 0) {
		int rc = bad_value(err, "enclave", "state", col_str(st, 4));

		store_enclave_clear(e);
		return rc;
	}
	return 0;
}

static void
clear_enclave(void *p)
{
	store_enclave_clear(p);
}

static int
sql_enclave_create(struct store *st, const struct store_enclave *e, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_ENCLAVE_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, e->id);
	bind_text(q, 2, e->container_id);
	bind_text(q, 3, e->deployment_id);
	bind_text(q, 4, e->name);
	bind_text(q, 5, model_enclave_state_str(e->state));
	bind_text(q, 6, e->address);
	bind_int(q, 7, e->created_at);
	bind_int(q, 8, e->updated_at);
	bind_text(q, 9, e->reason);
	bind_text(q, 10, e->attested_keys);
	bind_text(q, 11, e->host_id);
	rc = step_done(s, q, "insert enclave", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "enclave %s exists and is not stopped",
		          e->name ? e->name : "?");
	else if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "container or deployment of the enclave not found");
	return rc;
}

static int
sql_enclave_get(struct store *st, const char *id, struct store_enclave *out, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_ENCLAVE_GET, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return read_one(s, q, row_enclave, out, "enclave", err);
}

static int
sql_enclave_list(struct store *st, const char *container_id, struct store_enclave **out, size_t *n,
                 struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, container_id != NULL ? S_ENCLAVE_LIST : S_ENCLAVE_LIVE, err);

	if (q == NULL)
		return -1;
	if (container_id != NULL)
		bind_text(q, 1, container_id);
	return read_list(s, q, row_enclave, sizeof **out, clear_enclave, (void **)out, n, err);
}

static int
sql_enclave_put(struct store *st, const struct store_enclave *e, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_ENCLAVE_UPDATE, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, e->id);
	bind_text(q, 2, model_enclave_state_str(e->state));
	bind_text(q, 3, e->address);
	bind_int(q, 4, e->updated_at);
	bind_text(q, 5, e->reason);
	bind_text(q, 6, e->attested_keys);
	rc = change_one(s, q, "enclave", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "another enclave named %s is not stopped",
		          e->name ? e->name : "?");
	return rc;
}

static int
sql_enclave_delete(struct store *st, const char *id, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_ENCLAVE_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return change_one(s, q, "enclave", err);
}

/* ---- secrets ---- */

static int
row_secret(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_secret *sec = out;

	col_id(st, 0, sec->id);
	col_id(st, 1, sec->org_id);
	sec->name = col_dup(st, 2);
	sec->created_at = col_int(st, 3);
	sec->updated_at = col_int(st, 4);
	return 0;
}

static int
row_secret_sealed(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_secret *sec = out;

	row_secret(st, out, err);
	sec->sealed = col_blob(st, 5, &sec->sealed_len);
	sec->nonce = col_blob(st, 6, &sec->nonce_len);
	return 0;
}

static void
clear_secret(void *p)
{
	store_secret_clear(p);
}

static int
sql_secret_put(struct store *st, const struct store_secret *sec, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SECRET_UPSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, sec->id);
	bind_text(q, 2, sec->org_id);
	bind_text(q, 3, sec->name);
	bind_blob(q, 4, sec->sealed, sec->sealed_len);
	bind_blob(q, 5, sec->nonce, sec->nonce_len);
	bind_int(q, 6, sec->created_at);
	rc = step_done(s, q, "write secret", err);
	if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "org not found");
	return rc;
}

static int
sql_secret_get(struct store *st, const char *org_id, const char *name, struct store_secret *out,
               struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SECRET_GET, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, org_id);
	bind_text(q, 2, name);
	rc = read_one(s, q, row_secret_sealed, out, "secret", err);
	if (rc == STORE_ENOTFOUND)
		rc = fail(err, STORE_ENOTFOUND, "secret %s not found", name);
	return rc;
}

static int
sql_secret_any(struct store *st, struct store_secret *out, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SECRET_ANY, err);
	int rc;

	if (q == NULL)
		return -1;
	rc = read_one(s, q, row_secret_sealed, out, "secret", err);
	if (rc == STORE_ENOTFOUND)
		rc = fail(err, STORE_ENOTFOUND, "no secret");
	return rc;
}

/* The names of the containers binding secret_id, as a new strv (NULL: none). */
static int
secret_bound_to(struct sql_store *s, const char *secret_id, char ***out, struct err *err)
{
	struct sqldb_stmt *q = stmt(s, S_SECRET_BOUND_TO, err);
	char **v = NULL;
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, secret_id);
	while ((rc = step_row(s, q, "secret bindings", err)) > 0)
		v = strv_push(v, col_str(q, 0));
	stmt_done(q);
	if (rc < 0) {
		strv_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

static int
sql_secret_list(struct store *st, const char *org_id, struct store_secret **out, size_t *n,
                struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SECRET_LIST, err);
	int rc;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	bind_text(q, 1, org_id);
	rc = read_list(s, q, row_secret, sizeof **out, clear_secret, (void **)out, n, err);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		rc = secret_bound_to(s, (*out)[i].id, &(*out)[i].bound_to, err);
	if (rc < 0 && *out != NULL) {
		store_secret_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int
sql_secret_delete(struct store *st, const char *org_id, const char *name, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct store_secret sec = {0};
	char **users = NULL, *list = NULL;
	struct sqldb_stmt *q;
	int rc;

	if ((rc = sql_secret_get(st, org_id, name, &sec, err)) < 0)
		return rc;
	if ((q = stmt(s, S_SECRET_DELETE, err)) == NULL) {
		rc = -1;
		goto out;
	}
	bind_text(q, 1, sec.id);
	/* SQLite reports an ON DELETE RESTRICT violation as a trigger's. */
	rc = step_done(s, q, "delete secret", err);
	if (rc < 0 && (failed_foreign_key(s) || failed(s, SQLDB_FAIL_RAISED))) {
		struct buf b = BUF_INIT;

		if (secret_bound_to(s, sec.id, &users, NULL) == 0)
			for (size_t i = 0; users != NULL && users[i] != NULL; i++)
				buf_printf(&b, "%s%s", i ? ", " : "", users[i]);
		list = buf_take(&b);
		rc = fail(err, STORE_EINUSE,
		          "secret %s is bound to container%s %s; update them first", name,
		          strv_len(users) == 1 ? "" : "s", list);
	}
out:
	free(list);
	strv_free(users);
	store_secret_clear(&sec);
	return rc;
}

/* ---- bindings ---- */

static int
sql_binding_add(struct store *st, const char *container_id, const char *deployment_id,
                const char *secret_name, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SECRET_ID_FOR_CONTAINER, err);
	store_id secret_id;
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	bind_text(q, 2, secret_name);
	rc = step_row(s, q, "find secret", err);
	if (rc > 0)
		col_id(q, 0, secret_id);
	stmt_done(q);
	if (rc == 0)
		return fail(err, STORE_ENOTFOUND, "secret %s not found", secret_name);
	if (rc < 0)
		return rc;
	if ((q = stmt(s, S_BINDING_INSERT, err)) == NULL)
		return -1;
	bind_text(q, 1, container_id);
	bind_text(q, 2, deployment_id);
	bind_text(q, 3, secret_id);
	rc = step_done(s, q, "bind secret", err);
	if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "deployment %s not found", deployment_id);
	return rc;
}

static int
row_binding(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_binding *b = out;

	col_id(st, 0, b->container_id);
	col_id(st, 1, b->deployment_id);
	col_id(st, 2, b->secret_id);
	b->secret_name = col_dup(st, 3);
	return 0;
}

static void
clear_binding(void *p)
{
	struct store_binding *b = p;

	free(b->secret_name);
}

static int
sql_binding_list(struct store *st, const char *container_id, struct store_binding **out, size_t *n,
                 struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_BINDING_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_list(s, q, row_binding, sizeof **out, clear_binding, (void **)out, n, err);
}

static int
sql_binding_delete_deployment(struct store *st, const char *deployment_id, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_BINDING_DELETE_DEPLOYMENT, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, deployment_id);
	return step_done(s, q, "delete bindings", err);
}

/* ---- settings ---- */

static int
sql_setting_set(struct store *st, const char *container_id, const char *key, const char *value,
                struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SETTING_UPSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	bind_text(q, 2, key);
	bind_text(q, 3, value != NULL ? value : "");
	rc = step_done(s, q, "write setting", err);
	if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "container not found");
	return rc;
}

static int
row_setting(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_setting *kv = out;

	kv->key = col_dup(st, 0);
	kv->value = col_dup(st, 1);
	return 0;
}

static void
clear_setting(void *p)
{
	struct store_setting *kv = p;

	free(kv->key);
	free(kv->value);
}

static int
sql_setting_list(struct store *st, const char *container_id, struct store_setting **out, size_t *n,
                 struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SETTING_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_list(s, q, row_setting, sizeof **out, clear_setting, (void **)out, n, err);
}

static int
sql_setting_delete(struct store *st, const char *container_id, const char *key, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_SETTING_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	bind_text(q, 2, key);
	return change_one(s, q, "setting", err);
}

/* ---- events ---- */

static int
sql_event_append(struct store *st, const struct store_event *e, int64_t *id, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_EVENT_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, e->org_id);
	bind_text(q, 2, e->container);
	bind_int(q, 3, e->time);
	bind_text(q, 4, e->kind != NULL ? e->kind : "");
	bind_text(q, 5, e->message != NULL ? e->message : "");
	bind_id(q, 6, e->container_id);
	rc = step_row(s, q, "append event", err);
	if (rc > 0)
		*id = col_int(q, 0);
	stmt_done(q);
	if (rc == 0)
		rc = err_make(err, 0, "append event: no id returned");
	return rc < 0 ? rc : 0;
}

static int
row_event(struct sqldb_stmt *st, void *out, struct err *err)
{
	struct store_event *e = out;

	e->id = col_int(st, 0);
	col_id(st, 1, e->org_id);
	e->container = col_dup(st, 2);
	e->time = col_int(st, 3);
	e->kind = col_dup(st, 4);
	e->message = col_dup(st, 5);
	col_id(st, 6, e->container_id);
	return 0;
}

static void
clear_event(void *p)
{
	struct store_event *e = p;

	free(e->container);
	free(e->kind);
	free(e->message);
}

static int
sql_event_list(struct store *st, const char *org_id, const char *container_id, int64_t after,
               size_t limit, struct store_event **out, size_t *n, struct err *err)
{
	struct sql_store *s = to_sql(st);
	struct sqldb_stmt *q = stmt(s, S_EVENT_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, org_id);
	bind_int(q, 2, after);
	bind_text(q, 3, container_id);
	/* No limit is the largest one: both engines take it, not every one -1. */
	bind_int(q, 4, limit > 0 && limit < INT64_MAX ? (int64_t)limit : INT64_MAX);
	return read_list(s, q, row_event, sizeof **out, clear_event, (void **)out, n, err);
}

/* ---- open, migrate, close ---- */

static void
sql_close(struct store *st)
{
	struct sql_store *s = to_sql(st);

	for (size_t i = 0; i < S__COUNT; i++)
		if (s->stmts[i] != NULL)
			s->db->ops->finalize(s->stmts[i]);
	sqldb_close(s->db);
	free(s);
}

static const struct store_ops sql_ops = {
    .name = "sql",
    .close = sql_close,
    .begin = sql_begin,
    .commit = sql_commit,
    .rollback = sql_rollback,
    .org_create = sql_org_create,
    .org_get = sql_org_get,
    .token_add = sql_token_add,
    .token_find = sql_token_find,
    .token_delete = sql_token_delete,
    .container_create = sql_container_create,
    .container_get = sql_container_get,
    .container_list = sql_container_list,
    .container_heads = sql_container_heads,
    .container_put = sql_container_put,
    .container_delete = sql_container_delete,
    .deployment_create = sql_deployment_create,
    .deployment_get = sql_deployment_get,
    .deployment_list = sql_deployment_list,
    .update_create = sql_update_create,
    .update_get = sql_update_get,
    .update_latest = sql_update_latest,
    .update_list = sql_update_list,
    .update_put = sql_update_put,
    .enclave_create = sql_enclave_create,
    .enclave_get = sql_enclave_get,
    .enclave_list = sql_enclave_list,
    .enclave_put = sql_enclave_put,
    .enclave_delete = sql_enclave_delete,
    .secret_put = sql_secret_put,
    .secret_get = sql_secret_get,
    .secret_any = sql_secret_any,
    .secret_list = sql_secret_list,
    .secret_delete = sql_secret_delete,
    .binding_add = sql_binding_add,
    .binding_list = sql_binding_list,
    .binding_delete_deployment = sql_binding_delete_deployment,
    .setting_set = sql_setting_set,
    .setting_list = sql_setting_list,
    .setting_delete = sql_setting_delete,
    .event_append = sql_event_append,
    .event_list = sql_event_list,
};

/* Applies the migrations the database lacks, each in its own write
 * transaction. The version is read again inside the transaction, so two
 * processes opening a new database at once apply each migration once. */
static int
migrate(struct sql_store *s, struct err *err)
{
	const struct sqldb_ops *ops = s->db->ops;
	int known = store_schema_version(), version;
	const char *const *migrations = store_migrations(ops->dialect);

	for (;;) {
		if (ops->begin_write(s->db, err) < 0)
			return -1;
		if (ops->schema_version(s->db, &version, err) < 0)
			goto fail;
		if (version > known) {
			ops->rollback(s->db);
			return fail(err, STORE_ESCHEMA,
			            "%s: the database has schema version %d, newer than the %d "
			            "this berth knows; run a newer berth",
			            s->db->name, version, known);
		}
		if (version == known)
			return ops->commit(s->db, err);
		if (ops->exec(s->db, migrations[version], "migration", err) < 0) {
			err_wrap(err, "schema version %d", version + 1);
			goto fail;
		}
		if (ops->set_schema_version(s->db, version + 1, err) < 0 ||
		    ops->commit(s->db, err) < 0)
			goto fail;
	}
fail:
	ops->rollback(s->db);
	return -1;
}

/* The store on an open database (taken over, closed on failure). */
static int
open_on(struct sqldb *db, struct store **out, struct err *err)
{
	struct sql_store *s = xcalloc(1, sizeof *s);
	int rc;

	*out = NULL;
	s->base.ops = &sql_ops;
	s->db = db;
	if ((rc = migrate(s, err)) < 0) {
		sql_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}

int
store_open_sqlite(const char *path, struct store **out, struct err *err)
{
	struct sqldb *db;

	*out = NULL;
	if (sodium_init() < 0)
		return err_make(err, 0, "libsodium failed to initialise");
	if (sqldb_open_sqlite(path, &db, err) < 0)
		return -1;
	return open_on(db, out, err);
}

int
store_open_pg(const char *url, struct store **out, struct err *err)
{
	struct sqldb *db;

	*out = NULL;
	if (sodium_init() < 0)
		return err_make(err, 0, "libsodium failed to initialise");
	if (sqldb_open_pg(url, &db, err) < 0)
		return -1;
	return open_on(db, out, err);
}

int
store_defer_durability(struct store *st, const char **db_path, struct err *err)
{
	struct sqldb *db = to_sql(st)->db;

	*db_path = NULL;
	if (db->ops->dialect != SQLDB_SQLITE)
		return 0;
	if (db->ops->exec(db, "PRAGMA synchronous = NORMAL", "pragma", err) < 0)
		return -1;
	*db_path = db->name;
	return 0;
}

int
store_open(const char *spec, struct store **out, struct err *err)
{
	if (sqldb_is_pg_url(spec))
		return store_open_pg(spec, out, err);
	return store_open_sqlite(spec, out, err);
}
