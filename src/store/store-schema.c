/* store-schema: the migrations of the store, for SQLite and PostgreSQL. */
#include "store/store-schema.h"

#include "common/util.h"
#include "store/store.h"

/* SQLite: migrations[i] takes the schema from version i to i + 1. Append
 * only; never edit one that has shipped. PRAGMA user_version holds the
 * version. */
static const char *const sqlite_migrations[] = {
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
     * attestation document. */
    "ALTER TABLE enclave ADD COLUMN attested_keys TEXT;",
    /* 9: the config's `restart` at work (src/recon/recon-restart.c): how
     * often the serving enclave was brought back, the attempts since it was
     * last healthy for a minute (the backoff and on-failure:N count them),
     * and when the attempt under way may boot (0: none under way). */
    "ALTER TABLE container ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE container ADD COLUMN restart_attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE container ADD COLUMN restart_at INTEGER NOT NULL DEFAULT 0;",
    /* 10: the host that runs an enclave (issue 13: several hosts per
     * berthd): the id its agent registered with; NULL for berthd's own
     * host, where every enclave made before this version runs. Set when
     * the row is made and never changed: an enclave does not move, a new
     * one is placed instead. */
    "ALTER TABLE enclave ADD COLUMN host_id TEXT;",
};

/* PostgreSQL: the same versions as SQLite's, in its dialect. Text columns
 * compare bytewise (COLLATE "C") as SQLite's do, so lists come in the same
 * order whatever the database's locale. deployment, update and enclave have
 * a rowid column (an identity) for the queries' ORDER BY ... rowid, as
 * SQLite's tables have. The table berth_schema holds the version. */
#define PG_TEXT "TEXT COLLATE \"C\""
static const char *const pg_migrations[] = {
    /* 1: the first schema. container.deployment_id's foreign key is added
     * once deployment exists (PostgreSQL has no forward references). */
    "CREATE FUNCTION berth_refuse() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$ BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;"
    "CREATE TABLE org ("
    "  id " PG_TEXT " PRIMARY KEY,"
    "  name " PG_TEXT " NOT NULL UNIQUE,"
    "  created_at BIGINT NOT NULL"
    ");"
    "CREATE TABLE api_token ("
    "  hash " PG_TEXT " PRIMARY KEY,"
    "  org_id " PG_TEXT " NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  created_at BIGINT NOT NULL"
    ");"
    "CREATE INDEX api_token_org ON api_token(org_id);"
    "CREATE TABLE container ("
    "  id " PG_TEXT " PRIMARY KEY,"
    "  org_id " PG_TEXT " NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  name " PG_TEXT " NOT NULL,"
    "  status " PG_TEXT " NOT NULL CHECK (status IN ('deploying', 'running', 'failed')),"
    "  status_detail " PG_TEXT ","
    "  debug BIGINT NOT NULL CHECK (debug IN (0, 1)),"
    "  source_repo " PG_TEXT ","
    "  source_tag " PG_TEXT ","
    "  deployment_id " PG_TEXT ","
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  deleted_at BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE UNIQUE INDEX container_org_name ON container(org_id, name) WHERE deleted_at = 0;"
    "CREATE TABLE deployment ("
    "  rowid BIGINT GENERATED ALWAYS AS IDENTITY,"
    "  id " PG_TEXT " PRIMARY KEY,"
    "  container_id " PG_TEXT " NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  tag " PG_TEXT ","
    "  config " PG_TEXT " NOT NULL,"
    "  config_sha256 " PG_TEXT " NOT NULL,"
    "  measurement " PG_TEXT " NOT NULL,"
    "  images " PG_TEXT " NOT NULL,"
    "  debug BIGINT NOT NULL CHECK (debug IN (0, 1)),"
    "  secrets " PG_TEXT " NOT NULL,"
    "  env " PG_TEXT " NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  UNIQUE (id, container_id)"
    ");"
    "ALTER TABLE container ADD FOREIGN KEY (deployment_id, id)"
    "  REFERENCES deployment(id, container_id);"
    "CREATE INDEX deployment_container ON deployment(container_id);"
    "CREATE INDEX container_deployment ON container(deployment_id, id);"
    "CREATE TRIGGER deployment_immutable BEFORE UPDATE ON deployment"
    "  FOR EACH ROW EXECUTE FUNCTION berth_refuse('deployments are immutable');"
    "CREATE TABLE \"update\" ("
    "  rowid BIGINT GENERATED ALWAYS AS IDENTITY,"
    "  id " PG_TEXT " PRIMARY KEY,"
    "  container_id " PG_TEXT " NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  kind " PG_TEXT " NOT NULL CHECK (kind IN ('tag', 'edit-config', 'promote', 'retry')),"
    "  strategy " PG_TEXT " NOT NULL CHECK (strategy IN ('blue-green', 'recreate')),"
    "  status " PG_TEXT " NOT NULL"
    "    CHECK (status IN ('pending', 'started', 'ready', 'failed', 'cancelled')),"
    "  phase " PG_TEXT " CHECK (phase IN ('stopping', 'deploying')),"
    "  from_deployment_id " PG_TEXT ","
    "  to_deployment_id " PG_TEXT " NOT NULL,"
    "  error " PG_TEXT ","
    "  health_log " PG_TEXT " NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  switched_at BIGINT NOT NULL DEFAULT 0,"
    "  finished_at BIGINT NOT NULL DEFAULT 0,"
    "  FOREIGN KEY (from_deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE,"
    "  FOREIGN KEY (to_deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE"
    ");"
    "CREATE UNIQUE INDEX update_in_progress ON \"update\"(container_id) WHERE finished_at = 0;"
    "CREATE INDEX update_container ON \"update\"(container_id, created_at);"
    "CREATE INDEX update_from ON \"update\"(from_deployment_id, container_id);"
    "CREATE INDEX update_to ON \"update\"(to_deployment_id, container_id);"
    "CREATE TABLE enclave ("
    "  rowid BIGINT GENERATED ALWAYS AS IDENTITY,"
    "  id " PG_TEXT " PRIMARY KEY,"
    "  container_id " PG_TEXT " NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  deployment_id " PG_TEXT " NOT NULL,"
    "  name " PG_TEXT " NOT NULL,"
    "  state " PG_TEXT " NOT NULL CHECK (state IN ('creating', 'booting', 'healthy',"
    "    'unhealthy', 'stopping', 'stopped', 'failed')),"
    "  address " PG_TEXT ","
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  FOREIGN KEY (deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE"
    ");"
    "CREATE UNIQUE INDEX enclave_live_name ON enclave(name) WHERE state <> 'stopped';"
    "CREATE INDEX enclave_container ON enclave(container_id);"
    "CREATE INDEX enclave_deployment ON enclave(deployment_id, container_id);"
    "CREATE TABLE secret ("
    "  id " PG_TEXT " PRIMARY KEY,"
    "  org_id " PG_TEXT " NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  name " PG_TEXT " NOT NULL,"
    "  sealed BYTEA NOT NULL,"
    "  nonce BYTEA NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  UNIQUE (org_id, name)"
    ");"
    "CREATE TABLE secret_binding ("
    "  container_id " PG_TEXT " NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  deployment_id " PG_TEXT " NOT NULL,"
    "  secret_id " PG_TEXT " NOT NULL REFERENCES secret(id) ON DELETE RESTRICT,"
    "  PRIMARY KEY (deployment_id, secret_id),"
    "  FOREIGN KEY (deployment_id, container_id)"
    "    REFERENCES deployment(id, container_id) ON DELETE CASCADE"
    ");"
    "CREATE INDEX secret_binding_container ON secret_binding(container_id);"
    "CREATE INDEX secret_binding_secret ON secret_binding(secret_id);"
    "CREATE TABLE container_setting ("
    "  container_id " PG_TEXT " NOT NULL REFERENCES container(id) ON DELETE CASCADE,"
    "  key " PG_TEXT " NOT NULL,"
    "  value " PG_TEXT " NOT NULL,"
    "  PRIMARY KEY (container_id, key)"
    ");"
    /* Ids are handed out under the write lock, so they commit in order: a
     * reader of id > after misses none. */
    "CREATE TABLE event ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  org_id " PG_TEXT " NOT NULL,"
    "  container " PG_TEXT ","
    "  time BIGINT NOT NULL,"
    "  kind " PG_TEXT " NOT NULL,"
    "  message " PG_TEXT " NOT NULL"
    ");"
    "CREATE INDEX event_org ON event(org_id, id);"
    "CREATE TRIGGER event_append_only BEFORE UPDATE ON event"
    "  FOR EACH ROW EXECUTE FUNCTION berth_refuse('events are append-only');",
    /* 2 */
    "ALTER TABLE deployment ADD COLUMN isolation " PG_TEXT " NOT NULL DEFAULT 'runc';",
    /* 3 */
    "ALTER TABLE container ADD COLUMN pending " PG_TEXT ";",
    /* 4 */
    "ALTER TABLE event ADD COLUMN container_id " PG_TEXT ";"
    "ALTER TABLE event DISABLE TRIGGER event_append_only;"
    "UPDATE event SET container_id = (SELECT c.id FROM container c WHERE c.org_id ="
    "  event.org_id AND c.name = event.container AND c.deleted_at = 0);"
    "ALTER TABLE event ENABLE TRIGGER event_append_only;"
    "CREATE INDEX event_container ON event(container_id, id);",
    /* 5 */
    "ALTER TABLE enclave ADD COLUMN reason " PG_TEXT ";",
    /* 6: the container's version. Its own row's trigger runs before the
     * write (a write that sets version itself, the others' below, is left
     * alone); the others bump the old and the new container once each. */
    "ALTER TABLE container ADD COLUMN version BIGINT NOT NULL DEFAULT 0;"
    "CREATE FUNCTION berth_container_version() RETURNS trigger LANGUAGE plpgsql AS $$"
    "  BEGIN IF NEW.version = OLD.version THEN NEW.version := OLD.version + 1; END IF;"
    "  RETURN NEW; END $$;"
    "CREATE TRIGGER container_version BEFORE UPDATE ON container"
    "  FOR EACH ROW EXECUTE FUNCTION berth_container_version();"
    "CREATE FUNCTION berth_container_version_of() RETURNS trigger LANGUAGE plpgsql AS $$"
    "  BEGIN"
    "    IF TG_OP <> 'INSERT' THEN"
    "      UPDATE container SET version = version + 1 WHERE id = OLD.container_id;"
    "    END IF;"
    "    IF TG_OP = 'INSERT' OR"
    "       (TG_OP = 'UPDATE' AND NEW.container_id IS DISTINCT FROM OLD.container_id) THEN"
    "      UPDATE container SET version = version + 1 WHERE id = NEW.container_id;"
    "    END IF;"
    "    RETURN NULL;"
    "  END $$;"
    "CREATE TRIGGER container_version_update AFTER INSERT OR UPDATE OR DELETE ON \"update\""
    "  FOR EACH ROW EXECUTE FUNCTION berth_container_version_of();"
    "CREATE TRIGGER container_version_setting AFTER INSERT OR UPDATE OR DELETE"
    "  ON container_setting FOR EACH ROW EXECUTE FUNCTION berth_container_version_of();"
    "CREATE TRIGGER container_version_deployment AFTER INSERT OR DELETE ON deployment"
    "  FOR EACH ROW EXECUTE FUNCTION berth_container_version_of();"
    "CREATE TRIGGER container_version_enclave AFTER INSERT OR UPDATE OR DELETE ON enclave"
    "  FOR EACH ROW EXECUTE FUNCTION berth_container_version_of();",
    /* 7 */
    "ALTER TABLE deployment ADD COLUMN source_commit " PG_TEXT ";",
    /* 8 */
    "ALTER TABLE enclave ADD COLUMN attested_keys " PG_TEXT ";",
    /* 9 */
    "ALTER TABLE container ADD COLUMN restarts BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE container ADD COLUMN restart_attempts BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE container ADD COLUMN restart_at BIGINT NOT NULL DEFAULT 0;",
    /* 10 */
    "ALTER TABLE enclave ADD COLUMN host_id " PG_TEXT ";",
};

_Static_assert(ARRAY_LEN(sqlite_migrations) == ARRAY_LEN(pg_migrations),
               "every schema version has a migration for each dialect");

int
store_schema_version(void)
{
	return (int)ARRAY_LEN(sqlite_migrations);
}

const char *const *
store_migrations(enum sqldb_dialect dialect)
{
	return dialect == SQLDB_POSTGRES ? pg_migrations : sqlite_migrations;
}
