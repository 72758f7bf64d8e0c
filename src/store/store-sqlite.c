/* store-sqlite: the store on SQLite (WAL, foreign keys, versioned migrations,
 * cached prepared statements). Every value reaches SQL through a binding. */
#include "store/store.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "model/model.h"

/* How long a writer waits for another connection's lock. */
#define BUSY_TIMEOUT_MS 5000

/* Migrations: migrations[i] takes the schema from version i to i + 1. Append
 * only; never edit one that has shipped. PRAGMA user_version holds the
 * version. */
static const char *const migrations[] = {
    /* 1: the first schema. Composite keys (deployment id, container id) make
     * sure a row never names another container's deployment. */
    "CREATE TABLE org ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE api_token ("
    "  hash TEXT PRIMARY KEY," /* sha256 hex of the token; the token is never kept */
    "  org_id TEXT NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX api_token_org ON api_token(org_id);"
    "CREATE TABLE container ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('deploying', 'running', 'failed')),"
    "  status_detail TEXT,"
    "  debug INTEGER NOT NULL CHECK (debug IN (0, 1)),"
    "  source_repo TEXT,"
    "  source_tag TEXT,"
    "  deployment_id TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  deleted_at INTEGER NOT NULL DEFAULT 0," /* delete requested, teardown pending */
    "  FOREIGN KEY (deployment_id, id) REFERENCES deployment(id, container_id)"
    ") STRICT;"
    /* A deleted container's name is free at once; its teardown goes on. */
    "CREATE UNIQUE INDEX container_org_name ON container(org_id, name) WHERE deleted_at = 0;"
    "CREATE TABLE deployment ("
    "  id TEXT PRIMARY KEY,"
    "  container_id TEXT NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  tag TEXT,"
    "  config TEXT NOT NULL,"
    "  config_sha256 TEXT NOT NULL,"
    "  measurement TEXT NOT NULL,"
    "  images TEXT NOT NULL,"
    "  debug INTEGER NOT NULL CHECK (debug IN (0, 1)),"
    "  secrets TEXT NOT NULL,"
    "  env TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (id, container_id)"
    ") STRICT;"
    "CREATE INDEX deployment_container ON deployment(container_id);"
    "CREATE TRIGGER deployment_immutable BEFORE UPDATE ON deployment"
    "  BEGIN SELECT RAISE(ABORT, 'deployments are immutable'); END;"
    "CREATE TABLE \"update\" ("
    "  id TEXT PRIMARY KEY,"
    "  container_id TEXT NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('tag', 'edit-config', 'promote', 'retry')),"
    "  strategy TEXT NOT NULL CHECK (strategy IN ('blue-green', 'recreate')),"
    "  status TEXT NOT NULL"
    "    CHECK (status IN ('pending', 'started', 'ready', 'failed', 'cancelled')),"
    "  phase TEXT CHECK (phase IN ('stopping', 'deploying')),"
    "  from_deployment_id TEXT,"
    "  to_deployment_id TEXT NOT NULL,"
    "  error TEXT,"
    "  health_log TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  switched_at INTEGER NOT NULL DEFAULT 0,"
    "  finished_at INTEGER NOT NULL DEFAULT 0,"
    "  FOREIGN KEY (from_deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE,"
    "  FOREIGN KEY (to_deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE"
    ") STRICT;"
    /* At most one update in progress per container. */
    "CREATE UNIQUE INDEX update_in_progress ON \"update\"(container_id) WHERE finished_at = 0;"
    "CREATE INDEX update_container ON \"update\"(container_id, created_at);"
    "CREATE INDEX update_from ON \"update\"(from_deployment_id, container_id);"
    "CREATE INDEX update_to ON \"update\"(to_deployment_id, container_id);"
    "CREATE TABLE enclave ("
    "  id TEXT PRIMARY KEY,"
    "  container_id TEXT NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  deployment_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('creating', 'booting', 'healthy', 'unhealthy',"
    "                                       'stopping', 'stopped', 'failed')),"
    "  address TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  FOREIGN KEY (deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE"
    ") STRICT;"
    "CREATE UNIQUE INDEX enclave_live_name ON enclave(name) WHERE state <> 'stopped';"
    "CREATE INDEX enclave_container ON enclave(container_id);"
    "CREATE INDEX enclave_deployment ON enclave(deployment_id, container_id);"
    "CREATE TABLE secret ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  sealed BLOB NOT NULL,"
    "  nonce BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (org_id, name)"
    ") STRICT;"
    /* Per deployment: an old deployment's bindings live until its enclave
     * stopped. A bound secret cannot be deleted (RESTRICT). */
    "CREATE TABLE secret_binding ("
    "  container_id TEXT NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  deployment_id TEXT NOT NULL,"
    "  secret_id TEXT NOT NULL REFERENCES secret(id) ON DELETE RESTRICT,"
    "  PRIMARY KEY (deployment_id, secret_id),"
    "  FOREIGN KEY (deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE"
    ") STRICT;"
    "CREATE INDEX secret_binding_container ON secret_binding(container_id);"
    "CREATE INDEX secret_binding_secret ON secret_binding(secret_id);"
    "CREATE TABLE container_setting ("
    "  container_id TEXT NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (container_id, key)"
    ") STRICT;"
    /* No foreign key: events outlive their container and keep its name. */
    "CREATE TABLE event ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  org_id TEXT NOT NULL,"
    "  container TEXT,"
    "  time INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  message TEXT NOT NULL"
    ") STRICT;"
    "CREATE INDEX event_org ON event(org_id, id);"
    "CREATE TRIGGER event_append_only BEFORE UPDATE ON event"
    "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
    /* 2: the isolation level a deployment runs at. Deployments made before it
     * ran under runc. No CHECK: levels will be added (vm, cvm), and SQLite
     * cannot widen a CHECK without rebuilding the table. */
    "ALTER TABLE deployment ADD COLUMN isolation TEXT NOT NULL DEFAULT 'runc';",
    /* 3: a container created while its source was still being fetched
     * keeps what its first deployment is to bind until the fetch ends. */
    "ALTER TABLE container ADD COLUMN pending TEXT;",
    /* 4: events name their container by id too: a new container with a
     * deleted one's name does not inherit its events. Old events go to the
     * live container of their name, when there is one. */
    "ALTER TABLE event ADD COLUMN container_id TEXT;"
    "DROP TRIGGER event_append_only;"
    "UPDATE event SET container_id = (SELECT c.id FROM container c WHERE c.org_id ="
    "  event.org_id AND c.name = event.container AND c.deleted_at = 0);"
    "CREATE TRIGGER event_append_only BEFORE UPDATE ON event"
    "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    "CREATE INDEX event_container ON event(container_id, id);",
    /* 5: why an enclave failed, so a restarted berthd still says why. */
    "ALTER TABLE enclave ADD COLUMN reason TEXT;",
    /* 6: a container's version moves with every write to what the API
     * renders of it, or may: its row, updates, settings, deployments and
     * enclaves.
     * Triggers, so no write path can forget it: the API caches each
     * container's JSON by (id, version). The guard stops the row's own
     * trigger from firing on its own UPDATE (recursive triggers are off, but
     * this holds even if they were on). */
    "ALTER TABLE container ADD COLUMN version INTEGER NOT NULL DEFAULT 0;"
    "CREATE TRIGGER container_version AFTER UPDATE ON container"
    "  WHEN NEW.version = OLD.version"
    "  BEGIN UPDATE container SET version = OLD.version + 1 WHERE id = NEW.id; END;"
    "CREATE TRIGGER container_version_update_insert AFTER INSERT ON \"update\""
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = NEW.container_id; END;"
    "CREATE TRIGGER container_version_update_update AFTER UPDATE ON \"update\""
    "  BEGIN UPDATE container SET version = version + 1"
    "    WHERE id IN (OLD.container_id, NEW.container_id); END;"
    "CREATE TRIGGER container_version_update_delete AFTER DELETE ON \"update\""
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = OLD.container_id; END;"
    "CREATE TRIGGER container_version_setting_insert AFTER INSERT ON container_setting"
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = NEW.container_id; END;"
    "CREATE TRIGGER container_version_setting_update AFTER UPDATE ON container_setting"
    "  BEGIN UPDATE container SET version = version + 1"
    "    WHERE id IN (OLD.container_id, NEW.container_id); END;"
    "CREATE TRIGGER container_version_setting_delete AFTER DELETE ON container_setting"
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = OLD.container_id; END;"
    "CREATE TRIGGER container_version_deployment_insert AFTER INSERT ON deployment"
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = NEW.container_id; END;"
    "CREATE TRIGGER container_version_deployment_delete AFTER DELETE ON deployment"
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = OLD.container_id; END;"
    "CREATE TRIGGER container_version_enclave_insert AFTER INSERT ON enclave"
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = NEW.container_id; END;"
    "CREATE TRIGGER container_version_enclave_update AFTER UPDATE ON enclave"
    "  BEGIN UPDATE container SET version = version + 1"
    "    WHERE id IN (OLD.container_id, NEW.container_id); END;"
    "CREATE TRIGGER container_version_enclave_delete AFTER DELETE ON enclave"
    "  BEGIN UPDATE container SET version = version + 1 WHERE id = OLD.container_id; END;",
    /* 7: the commit a deployment's tag pointed to, for its attestation. */
    "ALTER TABLE deployment ADD COLUMN source_commit TEXT;",
    /* 8: the public parts of an enclave's attested keys (JSON), for its
     * attestation document. Queries: ENCLAVE_COLS gains the column (10th),
     * the insert binds ?10, the update sets it from ?6. */
    "ALTER TABLE enclave ADD COLUMN attested_keys TEXT;",
};

#define CONTAINER_COLS                                                                             \
	"id, org_id, name, status, status_detail, debug, source_repo, source_tag, "                \
	"deployment_id, created_at, updated_at, deleted_at, pending"
#define DEPLOYMENT_COLS                                                                            \
	"id, container_id, tag, config, config_sha256, measurement, images, debug, secrets, "      \
	"env, created_at, isolation, source_commit"
#define UPDATE_COLS                                                                                \
	"id, container_id, kind, strategy, status, phase, from_deployment_id, "                    \
	"to_deployment_id, error, health_log, created_at, switched_at, finished_at"
#define ENCLAVE_COLS                                                                               \
	"id, container_id, deployment_id, name, state, address, created_at, updated_at, reason, "  \
	"attested_keys"

/* The statements, prepared once on first use and kept for the store's life. */
enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
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
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ORG_INSERT] = "INSERT INTO org (id, name, created_at) VALUES (?1, ?2, ?3)",
    [S_ORG_BY_ID] = "SELECT id, name, created_at FROM org WHERE id = ?1",
    [S_ORG_BY_NAME] = "SELECT id, name, created_at FROM org WHERE name = ?1",
    [S_TOKEN_INSERT] = "INSERT INTO api_token (hash, org_id, created_at) VALUES (?1, ?2, ?3)",
    [S_TOKEN_FIND] = "SELECT o.id, o.name, o.created_at FROM api_token t"
                     " JOIN org o ON o.id = t.org_id WHERE t.hash = ?1",
    [S_TOKEN_DELETE] = "DELETE FROM api_token WHERE hash = ?1",
    [S_CONTAINER_INSERT] = "INSERT INTO container (" CONTAINER_COLS ")"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_CONTAINER_BY_ID] = "SELECT " CONTAINER_COLS ", version FROM container WHERE id = ?1",
    [S_CONTAINER_BY_NAME] = "SELECT " CONTAINER_COLS ", version FROM container"
                            " WHERE org_id = ?1 AND name = ?2 AND deleted_at = 0",
    [S_CONTAINER_LIST] = "SELECT " CONTAINER_COLS ", version FROM container"
                         " WHERE (?1 IS NULL OR org_id = ?1) AND (deleted_at <> 0) = ?2"
                         " ORDER BY org_id, name, created_at",
    [S_CONTAINER_UPDATE] = "UPDATE container SET status = ?2, status_detail = ?3, debug = ?4,"
                           " source_repo = ?5, source_tag = ?6, deployment_id = ?7,"
                           " updated_at = ?8, deleted_at = ?9, pending = ?10 WHERE id = ?1",
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
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
    [S_SECRET_LIST] = "SELECT id, org_id, name, created_at, updated_at FROM secret"
                      " WHERE org_id = ?1 ORDER BY name",
    [S_SECRET_BOUND_TO] = "SELECT DISTINCT c.name FROM secret_binding b"
                          " JOIN container c ON c.id = b.container_id"
                          " WHERE b.secret_id = ?1 ORDER BY c.name",
    [S_SECRET_DELETE] = "DELETE FROM secret WHERE id = ?1",
    [S_SECRET_ID_FOR_CONTAINER] = "SELECT s.id FROM secret s"
                                  " JOIN container c ON c.org_id = s.org_id"
                                  " WHERE c.id = ?1 AND s.name = ?2",
    [S_BINDING_INSERT] = "INSERT OR IGNORE INTO secret_binding (container_id, deployment_id,"
                         " secret_id) VALUES (?1, ?2, ?3)",
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
                       " container_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_EVENT_LIST] = "SELECT id, org_id, container, time, kind, message, container_id"
                     " FROM event WHERE org_id = ?1 AND id > ?2"
                     " AND (?3 IS NULL OR container_id = ?3) ORDER BY id LIMIT ?4",
};

struct sqlite_store {
	struct store base;             /* first, so a struct store * is one of these */
	sqlite3 *db;                   /* owned */
	char *path;                    /* owned, for messages */
	sqlite3_stmt *stmts[S__COUNT]; /* owned, prepared lazily */
	int last_ext;                  /* extended result code of the last failure */
};

static struct sqlite_store *
to_sqlite(struct store *st)
{
	return (struct sqlite_store *)st;
}

int
store_schema_version(void)
{
	return (int)ARRAY_LEN(migrations);
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

/* Fills err from the connection's last error. */
static int
db_fail(struct sqlite_store *s, struct err *err, const char *what)
{
	s->last_ext = sqlite3_extended_errcode(s->db);
	return err_make(err, 0, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int
failed_unique(const struct sqlite_store *s)
{
	return s->last_ext == SQLITE_CONSTRAINT_UNIQUE ||
	       s->last_ext == SQLITE_CONSTRAINT_PRIMARYKEY;
}

static int
failed_foreign_key(const struct sqlite_store *s)
{
	return s->last_ext == SQLITE_CONSTRAINT_FOREIGNKEY;
}

/* The cached statement id, reset and unbound; NULL with err set on failure. */
static sqlite3_stmt *
stmt(struct sqlite_store *s, enum stmt_id id, struct err *err)
{
	sqlite3_stmt *st = s->stmts[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
		                       NULL) != SQLITE_OK) {
			db_fail(s, err, "prepare");
			return NULL;
		}
		s->stmts[id] = st;
	}
	return st;
}

/* Makes a used statement ready for its next use. */
static void
stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows. */
static int
step_done(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct err *err)
{
	int rc = sqlite3_step(st), ret = 0;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = db_fail(s, err, what);
	stmt_done(st);
	return ret;
}

/* Steps a query: 1 with a row, 0 at the end, negative on failure. */
static int
step_row(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct err *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(s, err, what);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* An empty id is SQL NULL. */
static void
bind_id(sqlite3_stmt *st, int i, const char *id)
{
	bind_text(st, i, id != NULL && id[0] != '\0' ? id : NULL);
}

static void
bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, v);
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	return v != NULL ? xstrdup((const char *)v) : NULL;
}

static const char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	return v != NULL ? (const char *)v : NULL;
}

static void
col_id(sqlite3_stmt *st, int i, store_id out)
{
	const char *v = col_str(st, i);

	snprintf(out, sizeof(store_id), "%s", v != NULL ? v : "");
}

static int64_t
col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

static uint8_t *
col_blob(sqlite3_stmt *st, int i, size_t *len)
{
	const void *v = sqlite3_column_blob(st, i);
	uint8_t *p;

	*len = (size_t)sqlite3_column_bytes(st, i);
	p = xmalloc(*len);
	if (*len > 0)
		memcpy(p, v, *len);
	return p;
}

/* A row reader fills one record from the current row; negative on a value
 * this program does not know (a damaged or foreign database). */
typedef int (*row_fn)(sqlite3_stmt *st, void *out, struct err *err);

/* Reads the one row of a bound query into out; STORE_ENOTFOUND with
 * "<what> not found" when there is none. */
static int
read_one(struct sqlite_store *s, sqlite3_stmt *st, row_fn row, void *out, const char *what,
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
read_list(struct sqlite_store *s, sqlite3_stmt *st, row_fn row, size_t elem, void (*clear)(void *),
          void **out, size_t *n, struct err *err)
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
run(struct sqlite_store *s, enum stmt_id id, const char *what, struct err *err)
{
	sqlite3_stmt *st = stmt(s, id, err);

	return st != NULL ? step_done(s, st, what, err) : -1;
}

static int
sq_begin(struct store *st, struct err *err)
{
	return run(to_sqlite(st), S_BEGIN, "begin", err);
}

static int
sq_commit(struct store *st, struct err *err)
{
	return run(to_sqlite(st), S_COMMIT, "commit", err);
}

static void
sq_rollback(struct store *st)
{
	struct sqlite_store *s = to_sqlite(st);

	/* SQLite may have rolled back on its own (after SQLITE_FULL, say). */
	if (!sqlite3_get_autocommit(s->db))
		run(s, S_ROLLBACK, "rollback", NULL);
}

/* ---- orgs and tokens ---- */

static int
row_org(sqlite3_stmt *st, void *out, struct err *err)
{
	struct store_org *o = out;

	col_id(st, 0, o->id);
	o->name = col_dup(st, 1);
	o->created_at = col_int(st, 2);
	return 0;
}

static int
sq_org_create(struct store *st, const struct store_org *o, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_ORG_INSERT, err);
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
sq_org_get(struct store *st, const char *id, const char *name, struct store_org *out,
           struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, id != NULL ? S_ORG_BY_ID : S_ORG_BY_NAME, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id != NULL ? id : name);
	return read_one(s, q, row_org, out, "org", err);
}

static int
sq_token_add(struct store *st, const char *org_id, const char *hash, int64_t now, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_TOKEN_INSERT, err);
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
sq_token_find(struct store *st, const char *hash, struct store_org *out, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_TOKEN_FIND, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, hash);
	return read_one(s, q, row_org, out, "token", err);
}

/* Runs a DELETE or UPDATE by key; STORE_ENOTFOUND when it touched no row. */
static int
change_one(struct sqlite_store *s, sqlite3_stmt *q, const char *what, struct err *err)
{
	int rc = step_done(s, q, what, err);

	if (rc == 0 && sqlite3_changes(s->db) == 0)
		rc = fail(err, STORE_ENOTFOUND, "%s not found", what);
	return rc;
}

static int
sq_token_delete(struct store *st, const char *hash, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_TOKEN_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, hash);
	return change_one(s, q, "token", err);
}

/* ---- containers ---- */

static int
row_container(sqlite3_stmt *st, void *out, struct err *err)
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
	c->version = col_int(st, 13);
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
bind_container(sqlite3_stmt *q, const struct store_container *c)
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
}

static int
sq_container_create(struct store *st, const struct store_container *c, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_CONTAINER_INSERT, err);
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
sq_container_get(struct store *st, const char *id, const char *org_id, const char *name,
                 struct store_container *out, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, id != NULL ? S_CONTAINER_BY_ID : S_CONTAINER_BY_NAME, err);
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
sq_container_list(struct store *st, const char *org_id, int deleted, struct store_container **out,
                  size_t *n, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_CONTAINER_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, org_id);
	bind_int(q, 2, deleted ? 1 : 0);
	return read_list(s, q, row_container, sizeof **out, clear_container, (void **)out, n, err);
}

static int
sq_container_put(struct store *st, const struct store_container *c, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_CONTAINER_UPDATE, err);
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
	rc = change_one(s, q, "container", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "container %s already exists", c->name);
	else if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "deployment %s not found", c->deployment_id);
	return rc;
}

static int
sq_container_delete(struct store *st, const char *id, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_CONTAINER_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return change_one(s, q, "container", err);
}

/* ---- deployments ---- */

static int
row_deployment(sqlite3_stmt *st, void *out, struct err *err)
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
sq_deployment_create(struct store *st, const struct store_deployment *d, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_DEPLOYMENT_INSERT, err);
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
sq_deployment_get(struct store *st, const char *id, struct store_deployment *out, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_DEPLOYMENT_GET, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return read_one(s, q, row_deployment, out, "deployment", err);
}

static int
sq_deployment_list(struct store *st, const char *container_id, struct store_deployment **out,
                   size_t *n, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_DEPLOYMENT_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_list(s, q, row_deployment, sizeof **out, clear_deployment, (void **)out, n,
	                 err);
}

/* ---- updates ---- */

static int
row_update(sqlite3_stmt *st, void *out, struct err *err)
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
sq_update_create(struct store *st, const struct store_update *u, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_UPDATE_INSERT, err);
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
	else if (rc < 0 && s->last_ext == SQLITE_CONSTRAINT_CHECK)
		rc = err_make(err, 0, "update: a kind, strategy, status or phase out of range");
	return rc;
}

static int
sq_update_get(struct store *st, const char *id, struct store_update *out, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_UPDATE_GET, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return read_one(s, q, row_update, out, "update", err);
}

static int
sq_update_latest(struct store *st, const char *container_id, struct store_update *out,
                 struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_UPDATE_LATEST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_one(s, q, row_update, out, "update", err);
}

static int
sq_update_list(struct store *st, const char *container_id, struct store_update **out, size_t *n,
               struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, container_id != NULL ? S_UPDATE_LIST : S_UPDATE_UNFINISHED, err);

	if (q == NULL)
		return -1;
	if (container_id != NULL)
		bind_text(q, 1, container_id);
	return read_list(s, q, row_update, sizeof **out, clear_update, (void **)out, n, err);
}

static int
sq_update_put(struct store *st, const struct store_update *u, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_UPDATE_UPDATE, err);

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
row_enclave(sqlite3_stmt *st, void *out, struct err *err)
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
sq_enclave_create(struct store *st, const struct store_enclave *e, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_ENCLAVE_INSERT, err);
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
	rc = step_done(s, q, "insert enclave", err);
	if (rc < 0 && failed_unique(s))
		rc = fail(err, STORE_ECONFLICT, "enclave %s exists and is not stopped",
		          e->name ? e->name : "?");
	else if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "container or deployment of the enclave not found");
	return rc;
}

static int
sq_enclave_get(struct store *st, const char *id, struct store_enclave *out, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_ENCLAVE_GET, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return read_one(s, q, row_enclave, out, "enclave", err);
}

static int
sq_enclave_list(struct store *st, const char *container_id, struct store_enclave **out, size_t *n,
                struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, container_id != NULL ? S_ENCLAVE_LIST : S_ENCLAVE_LIVE, err);

	if (q == NULL)
		return -1;
	if (container_id != NULL)
		bind_text(q, 1, container_id);
	return read_list(s, q, row_enclave, sizeof **out, clear_enclave, (void **)out, n, err);
}

static int
sq_enclave_put(struct store *st, const struct store_enclave *e, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_ENCLAVE_UPDATE, err);
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
sq_enclave_delete(struct store *st, const char *id, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_ENCLAVE_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return change_one(s, q, "enclave", err);
}

/* ---- secrets ---- */

static int
row_secret(sqlite3_stmt *st, void *out, struct err *err)
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
row_secret_sealed(sqlite3_stmt *st, void *out, struct err *err)
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
sq_secret_put(struct store *st, const struct store_secret *sec, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_SECRET_UPSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, sec->id);
	bind_text(q, 2, sec->org_id);
	bind_text(q, 3, sec->name);
	sqlite3_bind_blob(q, 4, sec->sealed_len ? (const void *)sec->sealed : "",
	                  (int)sec->sealed_len, SQLITE_STATIC);
	sqlite3_bind_blob(q, 5, sec->nonce_len ? (const void *)sec->nonce : "", (int)sec->nonce_len,
	                  SQLITE_STATIC);
	bind_int(q, 6, sec->created_at);
	rc = step_done(s, q, "write secret", err);
	if (rc < 0 && failed_foreign_key(s))
		rc = fail(err, STORE_ENOTFOUND, "org not found");
	return rc;
}

static int
sq_secret_get(struct store *st, const char *org_id, const char *name, struct store_secret *out,
              struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_SECRET_GET, err);
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

/* The names of the containers binding secret_id, as a new strv (NULL: none). */
static int
secret_bound_to(struct sqlite_store *s, const char *secret_id, char ***out, struct err *err)
{
	sqlite3_stmt *q = stmt(s, S_SECRET_BOUND_TO, err);
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
sq_secret_list(struct store *st, const char *org_id, struct store_secret **out, size_t *n,
               struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_SECRET_LIST, err);
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
sq_secret_delete(struct store *st, const char *org_id, const char *name, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct store_secret sec = {0};
	char **users = NULL, *list = NULL;
	sqlite3_stmt *q;
	int rc;

	if ((rc = sq_secret_get(st, org_id, name, &sec, err)) < 0)
		return rc;
	if ((q = stmt(s, S_SECRET_DELETE, err)) == NULL) {
		rc = -1;
		goto out;
	}
	bind_text(q, 1, sec.id);
	/* SQLite reports an ON DELETE RESTRICT violation as a trigger's. */
	rc = step_done(s, q, "delete secret", err);
	if (rc < 0 && (failed_foreign_key(s) || s->last_ext == SQLITE_CONSTRAINT_TRIGGER)) {
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
sq_binding_add(struct store *st, const char *container_id, const char *deployment_id,
               const char *secret_name, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_SECRET_ID_FOR_CONTAINER, err);
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
row_binding(sqlite3_stmt *st, void *out, struct err *err)
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
sq_binding_list(struct store *st, const char *container_id, struct store_binding **out, size_t *n,
                struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_BINDING_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_list(s, q, row_binding, sizeof **out, clear_binding, (void **)out, n, err);
}

static int
sq_binding_delete_deployment(struct store *st, const char *deployment_id, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_BINDING_DELETE_DEPLOYMENT, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, deployment_id);
	return step_done(s, q, "delete bindings", err);
}

/* ---- settings ---- */

static int
sq_setting_set(struct store *st, const char *container_id, const char *key, const char *value,
               struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_SETTING_UPSERT, err);
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
row_setting(sqlite3_stmt *st, void *out, struct err *err)
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
sq_setting_list(struct store *st, const char *container_id, struct store_setting **out, size_t *n,
                struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_SETTING_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	return read_list(s, q, row_setting, sizeof **out, clear_setting, (void **)out, n, err);
}

static int
sq_setting_delete(struct store *st, const char *container_id, const char *key, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_SETTING_DELETE, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, container_id);
	bind_text(q, 2, key);
	return change_one(s, q, "setting", err);
}

/* ---- events ---- */

static int
sq_event_append(struct store *st, const struct store_event *e, int64_t *id, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_EVENT_INSERT, err);
	int rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, e->org_id);
	bind_text(q, 2, e->container);
	bind_int(q, 3, e->time);
	bind_text(q, 4, e->kind != NULL ? e->kind : "");
	bind_text(q, 5, e->message != NULL ? e->message : "");
	bind_id(q, 6, e->container_id);
	if ((rc = step_done(s, q, "append event", err)) == 0)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int
row_event(sqlite3_stmt *st, void *out, struct err *err)
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
sq_event_list(struct store *st, const char *org_id, const char *container_id, int64_t after,
              size_t limit, struct store_event **out, size_t *n, struct err *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, S_EVENT_LIST, err);

	if (q == NULL)
		return -1;
	bind_text(q, 1, org_id);
	bind_int(q, 2, after);
	bind_text(q, 3, container_id);
	bind_int(q, 4, limit > 0 && limit < INT64_MAX ? (int64_t)limit : -1);
	return read_list(s, q, row_event, sizeof **out, clear_event, (void **)out, n, err);
}

/* ---- open, migrate, close ---- */

static void
sq_close(struct store *st)
{
	struct sqlite_store *s = to_sqlite(st);

	for (size_t i = 0; i < S__COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	/* Closing checkpoints the WAL when this was the last connection. */
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .org_create = sq_org_create,
    .org_get = sq_org_get,
    .token_add = sq_token_add,
    .token_find = sq_token_find,
    .token_delete = sq_token_delete,
    .container_create = sq_container_create,
    .container_get = sq_container_get,
    .container_list = sq_container_list,
    .container_put = sq_container_put,
    .container_delete = sq_container_delete,
    .deployment_create = sq_deployment_create,
    .deployment_get = sq_deployment_get,
    .deployment_list = sq_deployment_list,
    .update_create = sq_update_create,
    .update_get = sq_update_get,
    .update_latest = sq_update_latest,
    .update_list = sq_update_list,
    .update_put = sq_update_put,
    .enclave_create = sq_enclave_create,
    .enclave_get = sq_enclave_get,
    .enclave_list = sq_enclave_list,
    .enclave_put = sq_enclave_put,
    .enclave_delete = sq_enclave_delete,
    .secret_put = sq_secret_put,
    .secret_get = sq_secret_get,
    .secret_list = sq_secret_list,
    .secret_delete = sq_secret_delete,
    .binding_add = sq_binding_add,
    .binding_list = sq_binding_list,
    .binding_delete_deployment = sq_binding_delete_deployment,
    .setting_set = sq_setting_set,
    .setting_list = sq_setting_list,
    .setting_delete = sq_setting_delete,
    .event_append = sq_event_append,
    .event_list = sq_event_list,
};

/* Runs one-off SQL with no parameters (pragmas, migrations). */
static int
exec(struct sqlite_store *s, const char *sql, const char *what, struct err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		s->last_ext = sqlite3_extended_errcode(s->db);
		err_make(err, 0, "%s: %s: %s", s->path, what, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* The text of the one-row, one-column answer of a pragma into out. */
static int
pragma_text(struct sqlite_store *s, const char *sql, char *out, size_t n, struct err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_fail(s, err, sql);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		snprintf(out, n, "%s", col_str(q, 0) ? col_str(q, 0) : "");
		rc = 0;
	} else {
		rc = db_fail(s, err, sql);
	}
	sqlite3_finalize(q);
	return rc;
}

static int
schema_version(struct sqlite_store *s, int *version, struct err *err)
{
	char v[32];

	if (pragma_text(s, "PRAGMA user_version", v, sizeof v, err) < 0)
		return -1;
	*version = atoi(v);
	return 0;
}

/* Applies the migrations the file lacks, each in its own transaction. The
 * version is read again inside the transaction, so two processes opening a
 * new file at once apply each migration once. */
static int
migrate(struct sqlite_store *s, struct err *err)
{
	int known = store_schema_version(), version;

	for (;;) {
		char sql[64];

		if (exec(s, "BEGIN IMMEDIATE", "begin migration", err) < 0)
			return -1;
		if (schema_version(s, &version, err) < 0)
			goto fail;
		if (version > known) {
			exec(s, "ROLLBACK", "rollback", NULL);
			return fail(err, STORE_ESCHEMA,
			            "%s: the database has schema version %d, newer than the %d "
			            "this berth knows; run a newer berth",
			            s->path, version, known);
		}
		if (version == known)
			return exec(s, "COMMIT", "commit", err);
		if (exec(s, migrations[version], "migration", err) < 0) {
			err_wrap(err, "schema version %d", version + 1);
			goto fail;
		}
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
		if (exec(s, sql, "set schema version", err) < 0 ||
		    exec(s, "COMMIT", "commit migration", err) < 0)
			goto fail;
	}
fail:
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK", "rollback", NULL);
	return -1;
}

int
store_open_sqlite(const char *path, struct store **out, struct err *err)
{
	struct sqlite_store *s = xcalloc(1, sizeof *s);
	char v[32];
	int rc;

	*out = NULL;
	if (sodium_init() < 0) {
		free(s);
		return err_make(err, 0, "libsodium failed to initialise");
	}
	s->base.ops = &sqlite_ops;
	s->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		if (s->db != NULL)
			rc = db_fail(s, err, "open");
		else
			rc = err_make(err, 0, "%s: open: out of memory", path);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* FULL: a commit is on disk before the side effect it allows runs. */
	if ((rc = exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", "pragma", err)) <
	    0)
		goto fail;
	if ((rc = pragma_text(s, "PRAGMA foreign_keys", v, sizeof v, err)) < 0)
		goto fail;
	if (strcmp(v, "1") != 0) {
		rc = err_make(err, 0, "%s: this SQLite does not enforce foreign keys", path);
		goto fail;
	}
	if ((rc = pragma_text(s, "PRAGMA journal_mode = WAL", v, sizeof v, err)) < 0)
		goto fail;
	if (strcmp(v, "wal") != 0) {
		rc = err_make(err, 0, "%s: cannot use WAL mode (journal mode is %s)", path, v);
		goto fail;
	}
	if ((rc = migrate(s, err)) < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return rc;
}
