/* Unit tests of src/store on real SQLite files in a temporary directory:
 * migrations, every CRUD, conflicts, cascades, bound secrets, transactions,
 * crash safety and a list of 1,000 containers. `test_store pg` runs every
 * case again on the real PostgreSQL of $BERTH_TEST_PG (tests/pg.sh starts
 * one; CMake's fixture does), each case in a schema of its own. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "common/util.h"
#include "model/model.h"
#include "store/sqldb.h"
#include "store/store.h"

/* The PostgreSQL server's URL when the cases run on PostgreSQL, else NULL. */
static const char *pg_url;

struct fixture {
	char dir[64];
	char path[96];   /* the SQLite file */
	char schema[40]; /* on PostgreSQL: the case's schema */
	char spec[640];  /* what store_open() is given: path, or the URL in schema */
	struct store *st;
	struct store_org org;   /* "acme" */
	struct store_org other; /* "globex" */
};

/* Runs sql on a new connection to the PostgreSQL of url; 0 when it worked. */
static int
pg_exec(const char *url, const char *sql, int64_t *first)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res = NULL;
	int rc = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		PQclear(PQexec(c, "SET client_min_messages = warning"));
		res = PQexec(c, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK ||
		    PQresultStatus(res) == PGRES_TUPLES_OK)
			rc = 0;
		if (rc == 0 && first != NULL && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
			*first = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	PQfinish(c);
	return rc;
}

/* A new empty schema on the server; spec becomes the URL that works in it. */
static int
pg_schema_new(char schema[40], char *spec, size_t n)
{
	char sql[96];
	store_id id;

	store_new_id(id);
	snprintf(schema, 40, "t_%.16s", id);
	snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
	if (pg_exec(pg_url, sql, NULL) < 0)
		return -1;
	snprintf(spec, n, "%s%soptions=-csearch_path%%3D%s", pg_url,
	         strchr(pg_url, '?') != NULL ? "&" : "?", schema);
	return 0;
}

/* The query of the schema version, and the statement that sets it. */
static const char *
version_sql(void)
{
	return pg_url != NULL ? "SELECT max(version) FROM berth_schema" : "PRAGMA user_version";
}

static void
set_version_sql(char *out, size_t n, int version)
{
	if (pg_url != NULL)
		snprintf(out, n, "UPDATE berth_schema SET version = %d", version);
	else
		snprintf(out, n, "PRAGMA user_version = %d", version);
}

static void
pg_schema_drop(const char *schema)
{
	char sql[96];

	snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
	pg_exec(pg_url, sql, NULL);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct err err = ERR_INIT;

	snprintf(f->dir, sizeof f->dir, "/tmp/berth-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/berth.db", f->dir);
	snprintf(f->spec, sizeof f->spec, "%s", f->path);
	if (pg_url != NULL && pg_schema_new(f->schema, f->spec, sizeof f->spec) < 0)
		return -1;
	if (store_open(f->spec, &f->st, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	if (store_org_create(f->st, "acme", &f->org, &err) < 0 ||
	    store_org_create(f->st, "globex", &f->other, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_close(f->st);
	store_org_clear(&f->org);
	store_org_clear(&f->other);
	if (pg_url != NULL)
		pg_schema_drop(f->schema);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The integer answer of sql on a separate, raw connection to spec. */
static int64_t
sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;

	if (sqldb_is_pg_url(path)) {
		assert_int_equal(pg_exec(path, sql, &v), 0);
		return v;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* Runs sql on a raw connection with foreign keys on; returns SQLite's code
 * (on PostgreSQL 0 when it worked, 1 when not). */
static int
sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc;

	if (sqldb_is_pg_url(path))
		return pg_exec(path, sql, NULL) == 0 ? SQLITE_OK : 1;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void
make_container(struct fixture *f, const char *org_id, const char *name, struct store_container *c)
{
	struct err err = ERR_INIT;

	memset(c, 0, sizeof *c);
	snprintf(c->org_id, sizeof c->org_id, "%s", org_id);
	c->name = xstrdup(name);
	c->status = CONTAINER_DEPLOYING;
	c->status_detail = xstrdup("pulling image");
	c->source_repo = xstrdup("/srv/git/app");
	c->source_tag = xstrdup("v1");
	if (store_container_create(f->st, c, &err) < 0)
		fail_msg("%s", err.msg);
}

static void
make_deployment(struct fixture *f, const char *container_id, const char *tag,
                struct store_deployment *d)
{
	struct err err = ERR_INIT;

	memset(d, 0, sizeof *d);
	snprintf(d->container_id, sizeof d->container_id, "%s", container_id);
	d->tag = xstrdup(tag);
	d->config = xstrdup("containers:\n  - name: app\n");
	sha256_hex(d->config, strlen(d->config), d->config_sha256);
	d->measurement = xstrdup(d->config_sha256);
	d->images_json = xstrdup("[\"app@sha256:00\"]");
	d->secrets_json = xstrdup("[\"API_KEY\"]");
	d->env_json = xstrdup("{\"A\":\"1\"}");
	d->isolation = xstrdup("runc");
	if (store_deployment_create(f->st, d, &err) < 0)
		fail_msg("%s", err.msg);
}

/* A container with a first deployment, saved as what it runs. */
static void
make_deployed(struct fixture *f, const char *name, struct store_container *c,
              struct store_deployment *d)
{
	struct err err = ERR_INIT;

	make_container(f, f->org.id, name, c);
	make_deployment(f, c->id, "v1", d);
	memcpy(c->deployment_id, d->id, sizeof c->deployment_id);
	assert_int_equal(store_container_save(f->st, c, &err), 0);
}

static void
test_migrations(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store *again = NULL;
	struct store_org o = {0};
	char sql[96];

	assert_true(store_schema_version() >= 1);
	assert_int_equal(sql_int(f->spec, version_sql()), store_schema_version());
	/* WAL is a property of the file; a raw connection sees it. */
	if (pg_url == NULL) {
		sqlite3 *db;
		sqlite3_stmt *q;

		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), 0);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
	/* Foreign keys are enforced on the store's connection. */
	struct store_deployment d = {0};
	strcpy(d.container_id, "no-such-container");
	d.config = "x";
	d.measurement = "m";
	d.isolation = "runc";
	assert_int_equal(store_deployment_create(f->st, &d, &err), STORE_ENOTFOUND);
	err_clear(&err);

	/* Reopening applies nothing and keeps the data. */
	assert_int_equal(store_open(f->spec, &again, &err), 0);
	assert_int_equal(sql_int(f->spec, version_sql()), store_schema_version());
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM org"), 2);
	assert_int_equal(store_org_get_by_name(again, "acme", &o, &err), 0);
	assert_string_equal(o.id, f->org.id);
	store_org_clear(&o);
	store_close(again);

	/* A schema from the future is refused, and left alone. */
	set_version_sql(sql, sizeof sql, store_schema_version() + 1);
	assert_int_equal(sql_exec(f->spec, sql), SQLITE_OK);
	assert_int_equal(store_open(f->spec, &again, &err), STORE_ESCHEMA);
	assert_null(again);
	assert_non_null(strstr(err.msg, "newer"));
	assert_int_equal(sql_int(f->spec, version_sql()), store_schema_version() + 1);
	set_version_sql(sql, sizeof sql, store_schema_version());
	assert_int_equal(sql_exec(f->spec, sql), SQLITE_OK);

	if (pg_url != NULL) {
		char url[640];

		/* A database that is not there is an error naming it, never with
		 * the password of its URL. */
		snprintf(url, sizeof url, "postgresql://berth:s3cret-pw@/no_such_db?%s",
		         strchr(pg_url, '?') + 1);
		assert_true(store_open(url, &again, &err) < 0);
		assert_null(again);
		assert_non_null(strstr(err.msg, "no_such_db"));
		assert_null(strstr(err.msg, "s3cret-pw"));
		return;
	}
	/* A file that is not a database is an error, and left alone. */
	{
		char junk[128];
		FILE *fp;

		snprintf(junk, sizeof junk, "%s/junk.db", f->dir);
		fp = fopen(junk, "w");
		assert_non_null(fp);
		for (int i = 0; i < 256; i++)
			fputs("not a database, ", fp);
		fclose(fp);
		assert_true(store_open_sqlite(junk, &again, &err) < 0);
		assert_null(again);
		assert_non_null(strstr(err.msg, "junk.db"));
	}
	/* A path that cannot be opened is an error, not a crash. */
	assert_true(store_open_sqlite("/nonexistent-dir/x.db", &again, &err) < 0);
	assert_true(err_isset(&err));
}

static void
test_orgs_and_tokens(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_org o = {0};
	const char *token = "berth_0123456789abcdef0123456789abcdef";
	char hash[65], sql[160];

	assert_int_equal(store_org_create(f->st, "acme", NULL, &err), STORE_ECONFLICT);
	assert_non_null(strstr(err.msg, "acme"));
	assert_int_equal(store_org_get(f->st, f->other.id, &o, &err), 0);
	assert_string_equal(o.name, "globex");
	store_org_clear(&o);
	assert_int_equal(store_org_get_by_name(f->st, "nope", &o, &err), STORE_ENOTFOUND);

	assert_int_equal(store_token_add(f->st, f->org.id, token, &err), 0);
	assert_int_equal(store_token_add(f->st, f->org.id, token, &err), STORE_ECONFLICT);
	assert_true(store_token_add(f->st, f->org.id, "short", &err) < 0);
	assert_int_equal(store_token_add(f->st, "no-org", "berth_aaaaaaaaaaaaaaaaaaaa", &err),
	                 STORE_ENOTFOUND);
	assert_int_equal(store_token_lookup(f->st, token, &o, &err), 0);
	assert_string_equal(o.id, f->org.id);
	assert_string_equal(o.name, "acme");
	store_org_clear(&o);
	assert_int_equal(store_token_lookup(f->st, "berth_wrong", &o, &err), STORE_ENOTFOUND);
	/* Only the hash is kept. */
	sha256_hex(token, strlen(token), hash);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM api_token WHERE hash = '%s'", hash);
	assert_int_equal(sql_int(f->spec, sql), 1);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM api_token WHERE hash LIKE "
	                                  "'%berth_0123%'"),
	                 0);
	assert_int_equal(store_token_delete(f->st, token, &err), 0);
	assert_int_equal(store_token_lookup(f->st, token, &o, &err), STORE_ENOTFOUND);
	assert_int_equal(store_token_delete(f->st, token, &err), STORE_ENOTFOUND);
}

static void
test_containers(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c, dup, other, got = {0}, *v = NULL;
	size_t n = 0;

	make_container(f, f->org.id, "web", &c);
	assert_int_equal(strlen(c.id), STORE_ID_LEN);
	assert_true(c.created_at > 0 && c.updated_at == c.created_at);

	/* Name unique per org, free in another. */
	memset(&dup, 0, sizeof dup);
	memcpy(dup.org_id, f->org.id, sizeof dup.org_id);
	dup.name = xstrdup("web");
	assert_int_equal(store_container_create(f->st, &dup, &err), STORE_ECONFLICT);
	assert_string_equal(err.msg, "container web already exists");
	assert_int_equal(err.code, EEXIST);
	store_container_clear(&dup);
	make_container(f, f->other.id, "web", &other);

	assert_int_equal(store_container_get_by_name(f->st, f->org.id, "web", &got, &err), 0);
	assert_string_equal(got.id, c.id);
	assert_int_equal(got.status, CONTAINER_DEPLOYING);
	assert_string_equal(got.status_detail, "pulling image");
	assert_string_equal(got.source_repo, "/srv/git/app");
	assert_string_equal(got.source_tag, "v1");
	assert_string_equal(got.deployment_id, "");
	assert_int_equal(got.deleted_at, 0);
	store_container_clear(&got);
	assert_int_equal(store_container_get_by_name(f->st, f->org.id, "nope", &got, &err),
	                 STORE_ENOTFOUND);
	assert_string_equal(err.msg, "container nope not found");
	assert_int_equal(store_container_get(f->st, "0000", &got, &err), STORE_ENOTFOUND);

	/* Legal status changes are written, illegal ones refused. */
	c.status = CONTAINER_RUNNING;
	free(c.status_detail);
	c.status_detail = NULL;
	c.debug = 1;
	c.restarts = 3;
	c.restart_attempts = 2;
	c.restart_at = 1767225600123;
	assert_int_equal(store_container_save(f->st, &c, &err), 0);
	assert_int_equal(store_container_get(f->st, c.id, &got, &err), 0);
	assert_int_equal(got.status, CONTAINER_RUNNING);
	assert_null(got.status_detail);
	assert_int_equal(got.debug, 1);
	assert_int_equal(got.restarts, 3); /* where the config's restart stands */
	assert_int_equal(got.restart_attempts, 2);
	assert_int_equal(got.restart_at, 1767225600123);
	store_container_clear(&got);
	c.status = CONTAINER_FAILED;
	assert_int_equal(store_container_save(f->st, &c, &err), 0);
	c.status = CONTAINER_RUNNING;
	c.debug = 0;
	assert_int_equal(store_container_save(f->st, &c, &err), STORE_ESTATE);
	assert_non_null(strstr(err.msg, "from failed to running"));
	assert_int_equal(store_container_get(f->st, c.id, &got, &err), 0);
	assert_int_equal(got.status, CONTAINER_FAILED);
	assert_int_equal(got.debug, 1); /* nothing of the refused save was written */
	store_container_clear(&got);
	/* A deployment that does not exist cannot become the current one. */
	c.status = CONTAINER_FAILED;
	strcpy(c.deployment_id, "feedfeed");
	assert_int_equal(store_container_save(f->st, &c, &err), STORE_ENOTFOUND);
	c.deployment_id[0] = '\0';

	/* Lists: one org, or all; names in order. */
	assert_int_equal(store_container_list(f->st, f->org.id, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "web");
	store_container_list_free(v, n);
	assert_int_equal(store_container_list(f->st, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	/* The heads: the same rows in the same order, at their versions. */
	{
		struct store_container_head *hs = NULL;
		size_t nh = 0;

		assert_int_equal(store_container_heads(f->st, NULL, &hs, &nh, &err), 0);
		assert_int_equal(nh, n);
		for (size_t i = 0; i < n; i++) {
			assert_string_equal(hs[i].id, v[i].id);
			assert_string_equal(hs[i].deployment_id, v[i].deployment_id);
			assert_int_equal(hs[i].version, v[i].version);
		}
		free(hs);
		assert_int_equal(store_container_heads(f->st, f->org.id, &hs, &nh, &err), 0);
		assert_int_equal(nh, 1);
		assert_string_equal(hs[0].id, c.id);
		free(hs);
	}
	store_container_list_free(v, n);

	/* A name with SQL in it is just a name. */
	struct store_container odd;
	make_container(f, f->org.id, "x'); DROP TABLE container;--", &odd);
	assert_int_equal(store_container_get_by_name(f->st, f->org.id,
	                                             "x'); DROP TABLE container;--", &got, &err),
	                 0);
	store_container_clear(&got);
	assert_int_equal(store_container_delete(f->st, odd.id, &err), 0);
	assert_int_equal(store_container_delete(f->st, odd.id, &err), STORE_ENOTFOUND);
	store_container_clear(&odd);

	store_container_clear(&c);
	store_container_clear(&other);
}

static void
test_mark_deleted(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c, again, got = {0}, *v = NULL;
	struct store_deployment d1, d2;
	struct store_update u = {0}, g = {0};
	size_t n;

	make_deployed(f, "web", &c, &d1);
	make_deployment(f, c.id, "v2", &d2);
	memcpy(u.container_id, c.id, sizeof u.container_id);
	memcpy(u.from_deployment_id, d1.id, sizeof(store_id));
	memcpy(u.to_deployment_id, d2.id, sizeof(store_id));
	assert_int_equal(store_update_create(f->st, &u, &err), 0);

	assert_int_equal(store_container_mark_deleted(f->st, c.id, &err), 0);
	/* Gone for the API, still there for the reconciler; the name is free. */
	assert_int_equal(store_container_get_by_name(f->st, f->org.id, "web", &got, &err),
	                 STORE_ENOTFOUND);
	assert_int_equal(store_container_get(f->st, c.id, &got, &err), 0);
	assert_true(got.deleted_at > 0);
	store_container_clear(&got);
	assert_int_equal(store_container_list(f->st, f->org.id, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	store_container_list_free(v, n);
	{
		struct store_container_head *hs = NULL;
		size_t nh = 7;

		assert_int_equal(store_container_heads(f->st, f->org.id, &hs, &nh, &err), 0);
		assert_int_equal(nh, 0);
		free(hs);
	}
	assert_int_equal(store_container_list_deleted(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, c.id);
	store_container_list_free(v, n);
	/* Its update was cancelled in the same transaction. */
	assert_int_equal(store_update_get(f->st, u.id, &g, &err), 0);
	assert_int_equal(g.state.status, UPDATE_CANCELLED);
	assert_true(g.state.finished && g.finished_at > 0);
	store_update_clear(&g);
	make_container(f, f->org.id, "web", &again);
	/* Marking twice is fine. */
	assert_int_equal(store_container_mark_deleted(f->st, c.id, &err), 0);
	assert_int_equal(store_container_delete(f->st, c.id, &err), 0);
	assert_int_equal(store_container_list_deleted(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	store_container_list_free(v, n);
	assert_int_equal(store_container_mark_deleted(f->st, c.id, &err), STORE_ENOTFOUND);

	store_update_clear(&u);
	store_deployment_clear(&d1);
	store_deployment_clear(&d2);
	store_container_clear(&c);
	store_container_clear(&again);
}

static void
test_deployments(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c;
	struct store_deployment d1, d2, got = {0}, *v = NULL;
	size_t n;
	char sql[128];

	make_deployed(f, "web", &c, &d1);
	make_deployment(f, c.id, "v2", &d2);
	assert_int_equal(store_deployment_get(f->st, d1.id, &got, &err), 0);
	assert_string_equal(got.container_id, c.id);
	assert_string_equal(got.tag, "v1");
	assert_string_equal(got.config, "containers:\n  - name: app\n");
	assert_string_equal(got.config_sha256, d1.config_sha256);
	assert_string_equal(got.measurement, d1.measurement);
	assert_string_equal(got.images_json, "[\"app@sha256:00\"]");
	assert_string_equal(got.secrets_json, "[\"API_KEY\"]");
	assert_string_equal(got.env_json, "{\"A\":\"1\"}");
	assert_string_equal(got.isolation, "runc");
	assert_int_equal(got.debug, 0);
	assert_int_equal(got.created_at, d1.created_at);
	store_deployment_clear(&got);
	assert_int_equal(store_deployment_get(f->st, "nope", &got, &err), STORE_ENOTFOUND);

	assert_int_equal(store_deployment_list(f->st, c.id, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, d2.id); /* newest first */
	assert_string_equal(v[1].id, d1.id);
	store_deployment_list_free(v, n);

	/* Immutable, even to a raw connection. */
	snprintf(sql, sizeof sql, "UPDATE deployment SET tag = 'v9' WHERE id = '%s'", d1.id);
	assert_int_not_equal(sql_exec(f->spec, sql), SQLITE_OK);
	assert_int_equal(store_deployment_get(f->st, d1.id, &got, &err), 0);
	assert_string_equal(got.tag, "v1");
	store_deployment_clear(&got);

	/* Missing config is refused. */
	struct store_deployment bad = {0};
	memcpy(bad.container_id, c.id, sizeof(store_id));
	assert_true(store_deployment_create(f->st, &bad, &err) < 0);

	store_deployment_clear(&d1);
	store_deployment_clear(&d2);
	store_container_clear(&c);
}

/* A database as schema version 1 left it, from the newest. */
static const char sqlite_to_v1[] = "DROP TRIGGER container_version;"
                                   "DROP TRIGGER container_version_update_insert;"
                                   "DROP TRIGGER container_version_update_update;"
                                   "DROP TRIGGER container_version_update_delete;"
                                   "DROP TRIGGER container_version_setting_insert;"
                                   "DROP TRIGGER container_version_setting_update;"
                                   "DROP TRIGGER container_version_setting_delete;"
                                   "DROP TRIGGER container_version_deployment_insert;"
                                   "DROP TRIGGER container_version_deployment_delete;"
                                   "DROP TRIGGER container_version_enclave_insert;"
                                   "DROP TRIGGER container_version_enclave_update;"
                                   "DROP TRIGGER container_version_enclave_delete;"
                                   "ALTER TABLE container DROP COLUMN version;"
                                   "ALTER TABLE deployment DROP COLUMN isolation;"
                                   "ALTER TABLE container DROP COLUMN pending;"
                                   "DROP INDEX event_container;"
                                   "ALTER TABLE event DROP COLUMN container_id;"
                                   "ALTER TABLE enclave DROP COLUMN reason;"
                                   "ALTER TABLE deployment DROP COLUMN source_commit;"
                                   "ALTER TABLE enclave DROP COLUMN attested_keys;"
                                   "ALTER TABLE container DROP COLUMN restarts;"
                                   "ALTER TABLE container DROP COLUMN restart_attempts;"
                                   "ALTER TABLE container DROP COLUMN restart_at;"
                                   "ALTER TABLE enclave DROP COLUMN host_id;"
                                   "PRAGMA user_version = 1";
static const char pg_to_v1[] = "DROP TRIGGER container_version ON container;"
                               "DROP TRIGGER container_version_update ON \"update\";"
                               "DROP TRIGGER container_version_setting ON container_setting;"
                               "DROP TRIGGER container_version_deployment ON deployment;"
                               "DROP TRIGGER container_version_enclave ON enclave;"
                               "DROP FUNCTION berth_container_version;"
                               "DROP FUNCTION berth_container_version_of;"
                               "ALTER TABLE container DROP COLUMN version;"
                               "ALTER TABLE deployment DROP COLUMN isolation;"
                               "ALTER TABLE container DROP COLUMN pending;"
                               "ALTER TABLE event DROP COLUMN container_id;"
                               "ALTER TABLE enclave DROP COLUMN reason;"
                               "ALTER TABLE deployment DROP COLUMN source_commit;"
                               "ALTER TABLE enclave DROP COLUMN attested_keys;"
                               "ALTER TABLE container DROP COLUMN restarts;"
                               "ALTER TABLE container DROP COLUMN restart_attempts;"
                               "ALTER TABLE container DROP COLUMN restart_at;"
                               "ALTER TABLE enclave DROP COLUMN host_id;"
                               "UPDATE berth_schema SET version = 1";

/* A deployment keeps the isolation level it was made with; rows made before
 * schema version 2 read as runc, what they ran under. */
static void
test_deployment_isolation(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c;
	struct store_deployment d = {0}, got = {0}, bad = {0};
	struct store *again = NULL;
	char sql[160];

	make_container(f, f->org.id, "web", &c);
	memcpy(d.container_id, c.id, sizeof(store_id));
	d.config = xstrdup("x");
	d.measurement = xstrdup("m");
	d.isolation = xstrdup("gvisor");
	assert_int_equal(store_deployment_create(f->st, &d, &err), 0);
	assert_int_equal(store_deployment_get(f->st, d.id, &got, &err), 0);
	assert_string_equal(got.isolation, "gvisor");
	store_deployment_clear(&got);
	/* It is part of what a deployment is: none is refused. */
	memcpy(bad.container_id, c.id, sizeof(store_id));
	bad.config = "x";
	bad.measurement = "m";
	assert_true(store_deployment_create(f->st, &bad, &err) < 0);
	assert_non_null(strstr(err.msg, "isolation"));
	err_clear(&err);
	snprintf(sql, sizeof sql, "UPDATE deployment SET isolation = 'runc' WHERE id = '%s'", d.id);
	assert_int_not_equal(sql_exec(f->spec, sql), SQLITE_OK);

	/* The file as version 1 left it: the migration gives the row runc. */
	store_close(f->st);
	f->st = NULL;
	if (pg_url == NULL)
		assert_int_equal(sql_exec(f->spec, sqlite_to_v1), SQLITE_OK);
	else
		assert_int_equal(sql_exec(f->spec, pg_to_v1), SQLITE_OK);
	assert_int_equal(store_open(f->spec, &again, &err), 0);
	f->st = again;
	assert_int_equal(sql_int(f->spec, version_sql()), store_schema_version());
	assert_int_equal(store_deployment_get(f->st, d.id, &got, &err), 0);
	assert_string_equal(got.isolation, "runc");
	assert_string_equal(got.measurement, "m");
	assert_string_equal(got.commit, ""); /* made before commits were recorded */
	store_deployment_clear(&got);
	store_deployment_clear(&d);
	store_container_clear(&c);
}

static void
new_update(struct fixture *f, const struct store_container *c, const char *from, const char *to,
           enum strategy strategy, struct store_update *u, int expect)
{
	struct err err = ERR_INIT;

	memset(u, 0, sizeof *u);
	memcpy(u->container_id, c->id, sizeof(store_id));
	snprintf(u->from_deployment_id, sizeof(store_id), "%s", from);
	snprintf(u->to_deployment_id, sizeof(store_id), "%s", to);
	u->kind = UPDATE_KIND_TAG;
	u->state.strategy = strategy;
	assert_int_equal(store_update_create(f->st, u, &err), expect);
}

/* Moves u to next and saves it, expecting rc. */
static void
advance(struct fixture *f, struct store_update *u, struct update_state next, int expect)
{
	struct err err = ERR_INIT;
	struct update_state before = u->state;

	u->state = next;
	if (store_update_save(f->st, u, &err) != expect)
		fail_msg("save: %s", err.msg);
	if (expect < 0)
		u->state = before;
}

static void
test_updates(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c;
	struct store_deployment d1, d2, d3;
	struct store_update u, second, got = {0}, *v = NULL;
	struct update_state s;
	store_id first;
	size_t n;

	make_deployed(f, "web", &c, &d1);
	make_deployment(f, c.id, "v2", &d2);
	make_deployment(f, c.id, "v3", &d3);
	assert_int_equal(store_update_latest(f->st, c.id, &got, &err), STORE_ENOTFOUND);

	new_update(f, &c, d1.id, d2.id, STRATEGY_BLUE_GREEN, &u, 0);
	memcpy(first, u.id, sizeof first);
	assert_int_equal(u.state.status, UPDATE_PENDING);
	assert_int_equal(u.state.phase, PHASE_NONE);
	/* One update at a time per container. */
	new_update(f, &c, d1.id, d3.id, STRATEGY_BLUE_GREEN, &second, STORE_ECONFLICT);

	assert_int_equal(store_update_get(f->st, u.id, &got, &err), 0);
	assert_string_equal(got.from_deployment_id, d1.id);
	assert_string_equal(got.to_deployment_id, d2.id);
	assert_int_equal(got.kind, UPDATE_KIND_TAG);
	assert_int_equal(got.state.strategy, STRATEGY_BLUE_GREEN);
	assert_string_equal(got.health_log_json, "[]");
	assert_null(got.error);
	store_update_clear(&got);

	/* Walk the blue-green path; a skip is refused and changes nothing. */
	s = u.state;
	s.status = UPDATE_READY;
	advance(f, &u, s, STORE_ESTATE);
	s.status = UPDATE_STARTED;
	advance(f, &u, s, 0);
	free(u.health_log_json);
	u.health_log_json = xstrdup("[\"2026-11-26T10:00:00Z GET /health 200\"]");
	advance(f, &u, s, 0); /* same state, new health log */
	s.status = UPDATE_READY;
	advance(f, &u, s, 0);
	s.switched = 1;
	advance(f, &u, s, 0);
	assert_true(u.switched_at > 0);
	assert_int_equal(store_update_cancel(f->st, c.id, NULL, &err), STORE_ESTATE);
	s.finished = 1;
	advance(f, &u, s, 0);
	assert_true(u.finished_at >= u.switched_at);
	assert_int_equal(store_update_get(f->st, u.id, &got, &err), 0);
	assert_true(model_update_succeeded(&got.state));
	assert_string_equal(got.health_log_json, u.health_log_json);
	store_update_clear(&got);
	/* Terminal: nothing follows. */
	s.status = UPDATE_FAILED;
	s.switched = 0;
	advance(f, &u, s, STORE_ESTATE);
	assert_int_equal(store_update_cancel(f->st, c.id, NULL, &err), STORE_ESTATE);
	assert_string_equal(err.msg, "no update is in progress");

	/* Now a recreate update that fails while deploying. */
	new_update(f, &c, d2.id, d3.id, STRATEGY_RECREATE, &second, 0);
	assert_int_equal(second.state.phase, PHASE_STOPPING);
	assert_int_equal(store_update_list_unfinished(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, second.id);
	store_update_list_free(v, n);
	s = second.state;
	s.phase = PHASE_DEPLOYING;
	advance(f, &second, s, 0);
	s.phase = PHASE_STOPPING; /* never back */
	advance(f, &second, s, STORE_ESTATE);
	s = model_update_end(&second.state, 1);
	second.error = xstrdup("health checks failed for 5m");
	advance(f, &second, s, 0);
	assert_int_equal(store_update_latest(f->st, c.id, &got, &err), 0);
	assert_string_equal(got.id, second.id);
	assert_int_equal(got.state.status, UPDATE_FAILED);
	assert_int_equal(got.state.phase, PHASE_DEPLOYING);
	assert_string_equal(got.error, "health checks failed for 5m");
	store_update_clear(&got);

	/* A retry, cancelled by the user. */
	store_update_clear(&u);
	new_update(f, &c, d2.id, d3.id, STRATEGY_BLUE_GREEN, &u, 0);
	assert_int_equal(store_update_cancel(f->st, c.id, &got, &err), 0);
	assert_int_equal(got.state.status, UPDATE_CANCELLED);
	assert_true(got.finished_at > 0);
	store_update_clear(&got);

	assert_int_equal(store_update_list(f->st, c.id, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].id, u.id); /* newest first */
	assert_string_equal(v[1].id, second.id);
	assert_string_equal(v[2].id, first);
	store_update_list_free(v, n);
	assert_int_equal(store_update_list_unfinished(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	store_update_list_free(v, n);
	assert_int_equal(store_update_get(f->st, "nope", &got, &err), STORE_ENOTFOUND);
	/* An update of an unknown deployment is refused. */
	new_update(f, &c, d2.id, "nope", STRATEGY_BLUE_GREEN, &got, STORE_ENOTFOUND);
	store_update_clear(&got);

	store_update_clear(&u);
	store_update_clear(&second);
	store_deployment_clear(&d1);
	store_deployment_clear(&d2);
	store_deployment_clear(&d3);
	store_container_clear(&c);
}

/* No row can name another container's deployment. */
static void
test_deployments_stay_with_their_container(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container a, b;
	struct store_deployment da, db;
	struct store_update u;
	struct store_enclave e = {0};
	const uint8_t sealed[] = {1};

	make_deployed(f, "a", &a, &da);
	make_deployed(f, "b", &b, &db);
	memcpy(a.deployment_id, db.id, sizeof(store_id));
	assert_int_equal(store_container_save(f->st, &a, &err), STORE_ENOTFOUND);
	memcpy(a.deployment_id, da.id, sizeof(store_id));
	new_update(f, &a, da.id, db.id, STRATEGY_BLUE_GREEN, &u, STORE_ENOTFOUND);
	new_update(f, &a, db.id, da.id, STRATEGY_BLUE_GREEN, &u, STORE_ENOTFOUND);
	memcpy(e.container_id, a.id, sizeof(store_id));
	memcpy(e.deployment_id, db.id, sizeof(store_id));
	e.name = "e-x";
	assert_int_equal(store_enclave_create(f->st, &e, &err), STORE_ENOTFOUND);
	assert_int_equal(store_secret_put(f->st, f->org.id, "K", sealed, 1, sealed, 1, &err), 0);
	assert_int_equal(store_binding_add(f->st, a.id, db.id, "K", &err), STORE_ENOTFOUND);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM \"update\""), 0);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM enclave"), 0);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM secret_binding"), 0);

	store_deployment_clear(&da);
	store_deployment_clear(&db);
	store_container_clear(&a);
	store_container_clear(&b);
}

static void
test_enclaves(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c;
	struct store_deployment d;
	struct store_enclave e = {0}, again = {0}, got = {0}, *v = NULL;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	size_t n;

	make_deployed(f, "web", &c, &d);
	model_enclave_name(d.id, name);
	memcpy(e.container_id, c.id, sizeof(store_id));
	memcpy(e.deployment_id, d.id, sizeof(store_id));
	e.name = xstrdup(name);
	e.state = ENCLAVE_CREATING;
	assert_int_equal(store_enclave_create(f->st, &e, &err), 0);
	/* One live enclave per name. */
	again = e;
	again.name = name;
	assert_int_equal(store_enclave_create(f->st, &again, &err), STORE_ECONFLICT);

	e.state = ENCLAVE_BOOTING;
	assert_int_equal(store_enclave_save(f->st, &e, &err), 0);
	e.state = ENCLAVE_STOPPED;
	assert_int_equal(store_enclave_save(f->st, &e, &err), STORE_ESTATE);
	e.state = ENCLAVE_HEALTHY;
	e.address = xstrdup("10.88.0.5:8000");
	assert_int_equal(store_enclave_save(f->st, &e, &err), 0);
	assert_int_equal(store_enclave_get(f->st, e.id, &got, &err), 0);
	assert_int_equal(got.state, ENCLAVE_HEALTHY);
	assert_string_equal(got.address, "10.88.0.5:8000");
	assert_string_equal(got.name, name);
	/* Made without a host: berthd's own. */
	assert_null(got.host_id);
	store_enclave_clear(&got);

	assert_int_equal(store_enclave_list_live(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	store_enclave_list_free(v, n);
	/* Why it failed is kept as it stops. */
	e.state = ENCLAVE_FAILED;
	e.reason = xstrdup("health check 1 failed: exit code 1");
	assert_int_equal(store_enclave_save(f->st, &e, &err), 0);
	e.state = ENCLAVE_STOPPING;
	assert_int_equal(store_enclave_save(f->st, &e, &err), 0);
	e.state = ENCLAVE_STOPPED;
	assert_int_equal(store_enclave_save(f->st, &e, &err), 0);
	assert_int_equal(store_enclave_get(f->st, e.id, &got, &err), 0);
	assert_string_equal(got.reason, "health check 1 failed: exit code 1");
	store_enclave_clear(&got);
	assert_int_equal(store_enclave_list_live(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	store_enclave_list_free(v, n);
	/* Terminal. */
	e.state = ENCLAVE_BOOTING;
	assert_int_equal(store_enclave_save(f->st, &e, &err), STORE_ESTATE);
	e.state = ENCLAVE_STOPPED;

	/* The name can be used again once the old one stopped. */
	memset(&again, 0, sizeof again);
	again = e;
	again.name = name;
	again.address = NULL;
	again.reason = NULL;
	again.state = ENCLAVE_CREATING;
	/* The host it was placed on is kept with the row, and a save (which
	 * never moves an enclave) leaves it. */
	again.host_id = "h-b";
	assert_int_equal(store_enclave_create(f->st, &again, &err), 0);
	again.state = ENCLAVE_BOOTING;
	again.host_id = NULL;
	assert_int_equal(store_enclave_save(f->st, &again, &err), 0);
	assert_int_equal(store_enclave_list(f->st, c.id, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, e.id);
	assert_null(v[0].host_id);
	assert_int_equal(v[1].state, ENCLAVE_BOOTING);
	assert_string_equal(v[1].host_id, "h-b");
	store_enclave_list_free(v, n);
	assert_int_equal(store_enclave_delete(f->st, e.id, &err), 0);
	assert_int_equal(store_enclave_get(f->st, e.id, &got, &err), STORE_ENOTFOUND);
	assert_int_equal(store_enclave_delete(f->st, e.id, &err), STORE_ENOTFOUND);

	store_enclave_clear(&e);
	store_deployment_clear(&d);
	store_container_clear(&c);
}

static void
test_secrets_and_bindings(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c, c2;
	struct store_deployment d1, d2, d3;
	struct store_secret s = {0}, *v = NULL;
	struct store_binding *b = NULL;
	const uint8_t sealed[] = {0x00, 0xff, 0x10, 0x00, 0x42}, nonce[] = {1, 2, 3};
	const uint8_t sealed2[] = {7, 7};
	size_t n;
	int64_t created;

	/* A replica's key check: the oldest secret of any org, or none. */
	assert_int_equal(store_secret_any(f->st, &s, &err), STORE_ENOTFOUND);
	err_clear(&err);
	assert_int_equal(store_secret_put(f->st, f->org.id, "API_KEY", sealed, sizeof sealed, nonce,
	                                  sizeof nonce, &err),
	                 0);
	assert_int_equal(store_secret_get(f->st, f->org.id, "API_KEY", &s, &err), 0);
	assert_int_equal(s.sealed_len, sizeof sealed);
	assert_memory_equal(s.sealed, sealed, sizeof sealed);
	assert_int_equal(s.nonce_len, sizeof nonce);
	assert_memory_equal(s.nonce, nonce, sizeof nonce);
	created = s.created_at;
	store_secret_clear(&s);
	/* Replacing keeps the id and created_at. */
	usleep(2000);
	assert_int_equal(store_secret_put(f->st, f->org.id, "API_KEY", sealed2, sizeof sealed2,
	                                  nonce, sizeof nonce, &err),
	                 0);
	assert_int_equal(store_secret_get(f->st, f->org.id, "API_KEY", &s, &err), 0);
	assert_int_equal(s.sealed_len, 2);
	assert_int_equal(s.created_at, created);
	assert_true(s.updated_at > created);
	store_secret_clear(&s);
	/* Another org does not see it. */
	assert_int_equal(store_secret_get(f->st, f->other.id, "API_KEY", &s, &err),
	                 STORE_ENOTFOUND);
	assert_string_equal(err.msg, "secret API_KEY not found");
	assert_int_equal(store_secret_put(f->st, f->org.id, "DB_URL", sealed, sizeof sealed, nonce,
	                                  sizeof nonce, &err),
	                 0);
	assert_int_equal(store_secret_any(f->st, &s, &err), 0);
	assert_string_equal(s.name, "API_KEY");
	assert_string_equal(s.org_id, f->org.id);
	assert_int_equal(s.sealed_len, 2);
	assert_int_equal(s.nonce_len, sizeof nonce);
	store_secret_clear(&s);

	/* Bind: per deployment; an old deployment keeps its bindings. */
	make_deployed(f, "web", &c, &d1);
	make_deployment(f, c.id, "v2", &d2);
	assert_int_equal(store_binding_add(f->st, c.id, d1.id, "API_KEY", &err), 0);
	assert_int_equal(store_binding_add(f->st, c.id, d1.id, "API_KEY", &err), 0);
	assert_int_equal(store_binding_add(f->st, c.id, d2.id, "API_KEY", &err), 0);
	assert_int_equal(store_binding_add(f->st, c.id, d2.id, "NOPE", &err), STORE_ENOTFOUND);
	assert_int_equal(store_binding_add(f->st, c.id, "nope", "DB_URL", &err), STORE_ENOTFOUND);
	/* A container cannot bind another org's secret. */
	make_container(f, f->other.id, "api", &c2);
	make_deployment(f, c2.id, "v1", &d3);
	assert_int_equal(store_binding_add(f->st, c2.id, d3.id, "API_KEY", &err), STORE_ENOTFOUND);

	assert_int_equal(store_binding_list(f->st, c.id, &b, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(b[0].deployment_id, d1.id);
	assert_string_equal(b[1].deployment_id, d2.id);
	assert_string_equal(b[0].secret_name, "API_KEY");
	store_binding_list_free(b, n);

	assert_int_equal(store_secret_list(f->st, f->org.id, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "API_KEY");
	assert_null(v[0].sealed); /* values never in lists */
	assert_int_equal(strv_len(v[0].bound_to), 1);
	assert_string_equal(v[0].bound_to[0], "web");
	assert_string_equal(v[1].name, "DB_URL");
	assert_null(v[1].bound_to);
	store_secret_list_free(v, n);

	/* A bound secret cannot be deleted, and the error says by whom. */
	assert_int_equal(store_secret_delete(f->st, f->org.id, "API_KEY", &err), STORE_EINUSE);
	assert_non_null(strstr(err.msg, "bound to container web"));
	assert_int_equal(err.code, EBUSY);
	assert_int_equal(store_secret_get(f->st, f->org.id, "API_KEY", &s, &err), 0);
	store_secret_clear(&s);
	/* The old deployment's enclave stopped: its bindings go; still bound by v2. */
	assert_int_equal(store_binding_delete_deployment(f->st, d1.id, &err), 0);
	assert_int_equal(store_secret_delete(f->st, f->org.id, "API_KEY", &err), STORE_EINUSE);
	assert_int_equal(store_binding_delete_deployment(f->st, d2.id, &err), 0);
	assert_int_equal(store_secret_delete(f->st, f->org.id, "API_KEY", &err), 0);
	assert_int_equal(store_secret_delete(f->st, f->org.id, "API_KEY", &err), STORE_ENOTFOUND);
	assert_int_equal(store_secret_put(f->st, "no-org", "X", sealed, sizeof sealed, nonce,
	                                  sizeof nonce, &err),
	                 STORE_ENOTFOUND);

	store_deployment_clear(&d1);
	store_deployment_clear(&d2);
	store_deployment_clear(&d3);
	store_container_clear(&c);
	store_container_clear(&c2);
}

/* c's version as the store reads it now. */
static int64_t
version_of(struct fixture *f, const struct store_container *c)
{
	struct store_container got = {0};
	struct err err = ERR_INIT;
	int64_t v;

	assert_int_equal(store_container_get(f->st, c->id, &got, &err), 0);
	v = got.version;
	store_container_clear(&got);
	return v;
}

/* Every write to what the API renders of a container moves its version (the
 * list's per-container cache is keyed by it), and only that container's. */
static void
test_container_version(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c, other;
	struct store_deployment d1, d2, od;
	struct store_update u;
	struct update_state s;
	int64_t v, ov;

	make_deployed(f, "web", &c, &d1);
	make_deployed(f, "api", &other, &od);
	ov = version_of(f, &other);
#define MOVED(what)                                                                                \
	do {                                                                                       \
		int64_t now = version_of(f, &c);                                                   \
		if (now <= v)                                                                      \
			fail_msg("%s did not move the version (%lld)", what, (long long)now);      \
		v = now;                                                                           \
	} while (0)
	v = version_of(f, &c);
	free(c.status_detail);
	c.status_detail = xstrdup("pulled");
	assert_int_equal(store_container_save(f->st, &c, &err), 0);
	MOVED("the row");
	make_deployment(f, c.id, "v2", &d2);
	MOVED("a deployment");
	new_update(f, &c, d1.id, d2.id, STRATEGY_BLUE_GREEN, &u, 0);
	MOVED("a new update");
	s = u.state;
	s.status = UPDATE_STARTED;
	advance(f, &u, s, 0);
	MOVED("an update's state");
	free(u.health_log_json);
	u.health_log_json = xstrdup("[\"ok\"]");
	advance(f, &u, s, 0);
	MOVED("an update's health log");
	assert_int_equal(store_setting_set(f->st, c.id, "A", "1", &err), 0);
	MOVED("a new setting");
	assert_int_equal(store_setting_set(f->st, c.id, "A", "2", &err), 0);
	MOVED("a changed setting");
	assert_int_equal(store_setting_delete(f->st, c.id, "A", &err), 0);
	MOVED("a deleted setting");
	{
		char sql[256];

		snprintf(sql, sizeof sql,
		         "INSERT INTO enclave (id, container_id, deployment_id, name, state,"
		         " created_at, updated_at) VALUES ('ev1', '%s', '%s', 'e-ev1', 'creating', "
		         "1, 1)",
		         c.id, d1.id);
		assert_int_equal(sql_exec(f->spec, sql), SQLITE_OK);
		MOVED("a new enclave");
		assert_int_equal(sql_exec(f->spec, "UPDATE enclave SET state = 'booting'"
		                                   " WHERE id = 'ev1'"),
		                 SQLITE_OK);
		MOVED("an enclave's state");
		assert_int_equal(sql_exec(f->spec, "DELETE FROM enclave WHERE id = 'ev1'"),
		                 SQLITE_OK);
		MOVED("a deleted enclave");
	}
	/* A write through another connection moves it too (triggers, not C). */
	assert_int_equal(sql_exec(f->spec, "UPDATE container SET status_detail = 'x'"
	                                   " WHERE name = 'web'"),
	                 SQLITE_OK);
	MOVED("a raw UPDATE");
#undef MOVED
	assert_int_equal(version_of(f, &other), ov);
	store_update_clear(&u);
	store_deployment_clear(&d1);
	store_deployment_clear(&d2);
	store_deployment_clear(&od);
	store_container_clear(&c);
	store_container_clear(&other);
}

static void
test_settings(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c;
	struct store_setting *v = NULL;
	size_t n;

	make_container(f, f->org.id, "web", &c);
	assert_int_equal(store_setting_set(f->st, c.id, "MODEL", "llama", &err), 0);
	assert_int_equal(store_setting_set(f->st, c.id, "A_FIRST", "1", &err), 0);
	assert_int_equal(store_setting_set(f->st, c.id, "MODEL", "mistral", &err), 0);
	assert_int_equal(store_setting_set(f->st, "nope", "K", "V", &err), STORE_ENOTFOUND);
	assert_int_equal(store_setting_list(f->st, c.id, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].key, "A_FIRST");
	assert_string_equal(v[1].key, "MODEL");
	assert_string_equal(v[1].value, "mistral");
	store_setting_list_free(v, n);
	assert_int_equal(store_setting_delete(f->st, c.id, "MODEL", &err), 0);
	assert_int_equal(store_setting_delete(f->st, c.id, "MODEL", &err), STORE_ENOTFOUND);
	assert_int_equal(store_setting_list(f->st, c.id, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	store_setting_list_free(v, n);
	store_container_clear(&c);
}

static void
test_events(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_event *v = NULL;
	int64_t id1, id2, id3, id4;
	size_t n;

	assert_int_equal(store_event_append(f->st, f->org.id, "cweb", "web", "container.created",
	                                    "created from v1", &id1, &err),
	                 0);
	assert_int_equal(store_event_append(f->st, f->org.id, "capi", "api", "container.created",
	                                    "x", &id2, &err),
	                 0);
	assert_int_equal(
	    store_event_append(f->st, f->org.id, "cweb", "web", "update.started", "v2", &id3, &err),
	    0);
	assert_int_equal(
	    store_event_append(f->st, f->other.id, "cweb", "web", "secret.set", "KEY", &id4, &err),
	    0);
	assert_true(id1 < id2 && id2 < id3 && id3 < id4);

	assert_int_equal(store_event_list(f->st, f->org.id, NULL, 0, 0, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, id1);
	assert_string_equal(v[0].kind, "container.created");
	assert_string_equal(v[0].message, "created from v1");
	assert_string_equal(v[0].container, "web");
	assert_true(v[0].time > 0);
	store_event_list_free(v, n);
	assert_int_equal(store_event_list(f->st, f->org.id, "cweb", id1, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, id3);
	assert_string_equal(v[0].container_id, "cweb");
	store_event_list_free(v, n);
	/* A new container with the same name: its events only, not the old's. */
	assert_int_equal(store_event_append(f->st, f->org.id, "cweb2", "web", "container.created",
	                                    "again", NULL, &err),
	                 0);
	assert_int_equal(store_event_list(f->st, f->org.id, "cweb2", 0, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].message, "again");
	store_event_list_free(v, n);
	assert_int_equal(store_event_list(f->st, f->org.id, "cweb", 0, 0, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	store_event_list_free(v, n);
	assert_int_equal(store_event_list(f->st, f->org.id, NULL, 0, 2, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	store_event_list_free(v, n);
	/* Append-only. */
	assert_int_not_equal(sql_exec(f->spec, "UPDATE event SET message = 'x'"), SQLITE_OK);
}

static void
test_delete_cascades(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c, keep;
	struct store_deployment d1, d2, dk;
	struct store_update u = {0};
	struct store_enclave e = {0};
	const uint8_t sealed[] = {1};
	struct store_event *ev = NULL;
	size_t n;

	make_deployed(f, "web", &c, &d1);
	make_deployed(f, "keep", &keep, &dk);
	make_deployment(f, c.id, "v2", &d2);
	new_update(f, &c, d1.id, d2.id, STRATEGY_BLUE_GREEN, &u, 0);
	memcpy(e.container_id, c.id, sizeof(store_id));
	memcpy(e.deployment_id, d1.id, sizeof(store_id));
	e.name = xstrdup("e-web");
	assert_int_equal(store_enclave_create(f->st, &e, &err), 0);
	assert_int_equal(store_secret_put(f->st, f->org.id, "K", sealed, 1, sealed, 1, &err), 0);
	assert_int_equal(store_binding_add(f->st, c.id, d1.id, "K", &err), 0);
	assert_int_equal(store_binding_add(f->st, keep.id, dk.id, "K", &err), 0);
	assert_int_equal(store_setting_set(f->st, c.id, "A", "1", &err), 0);
	assert_int_equal(store_setting_set(f->st, keep.id, "A", "1", &err), 0);
	assert_int_equal(store_event_append(f->st, f->org.id, "cweb", "web", "container.deleted",
	                                    "bye", NULL, &err),
	                 0);

	assert_int_equal(store_container_delete(f->st, c.id, &err), 0);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM container"), 1);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM deployment"), 1);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM \"update\""), 0);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM enclave"), 0);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM secret_binding"), 1);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM container_setting"), 1);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM secret"), 1);
	/* Events keep the name. */
	assert_int_equal(store_event_list(f->st, f->org.id, "cweb", 0, 0, &ev, &n, &err), 0);
	assert_int_equal(n, 1);
	store_event_list_free(ev, n);
	/* The other container's binding still protects the secret. */
	assert_int_equal(store_secret_delete(f->st, f->org.id, "K", &err), STORE_EINUSE);
	assert_non_null(strstr(err.msg, "keep"));

	store_enclave_clear(&e);
	store_update_clear(&u);
	store_deployment_clear(&d1);
	store_deployment_clear(&d2);
	store_deployment_clear(&dk);
	store_container_clear(&c);
	store_container_clear(&keep);
}

static void
test_transactions(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container c, c2, got = {0};
	struct store_deployment d;

	/* Rollback leaves nothing. */
	assert_int_equal(store_begin(f->st, &err), 0);
	assert_true(store_begin(f->st, &err) < 0); /* no nesting */
	make_deployed(f, "web", &c, &d);
	assert_int_equal(store_event_append(f->st, f->org.id, "cweb", "web", "k", "m", NULL, &err),
	                 0);
	store_rollback(f->st);
	assert_int_equal(store_container_get(f->st, c.id, &got, &err), STORE_ENOTFOUND);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM deployment"), 0);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM event"), 0);
	store_rollback(f->st); /* harmless */
	assert_true(store_commit(f->st, &err) < 0);
	store_container_clear(&c);
	store_deployment_clear(&d);

	/* Commit keeps everything; a save inside a rolled-back transaction is undone. */
	assert_int_equal(store_begin(f->st, &err), 0);
	make_deployed(f, "web", &c, &d);
	assert_int_equal(store_commit(f->st, &err), 0);
	assert_int_equal(sql_int(f->spec, "SELECT count(*) FROM container"), 1);
	assert_int_equal(store_begin(f->st, &err), 0);
	c.status = CONTAINER_RUNNING;
	assert_int_equal(store_container_save(f->st, &c, &err), 0);
	c.status = CONTAINER_FAILED;
	assert_int_equal(store_container_save(f->st, &c, &err), 0);
	/* A refused save inside the caller's transaction does not end it. */
	c.status = CONTAINER_RUNNING;
	assert_int_equal(store_container_save(f->st, &c, &err), STORE_ESTATE);
	make_container(f, f->org.id, "api", &c2);
	c.status = CONTAINER_FAILED;
	assert_int_equal(store_container_save(f->st, &c, &err), 0); /* same status is no move */
	store_rollback(f->st);
	assert_int_equal(store_container_get(f->st, c.id, &got, &err), 0);
	assert_int_equal(got.status, CONTAINER_DEPLOYING);
	store_container_clear(&got);
	assert_int_equal(store_container_get(f->st, c2.id, &got, &err), STORE_ENOTFOUND);

	/* A statement that fails inside the caller's transaction leaves it
	 * usable (PostgreSQL aborts a transaction on a failure: a savepoint). */
	assert_int_equal(store_begin(f->st, &err), 0);
	{
		struct store_container dup = {0};
		struct store_container ok;

		memcpy(dup.org_id, f->org.id, sizeof dup.org_id);
		dup.name = "web";
		assert_int_equal(store_container_create(f->st, &dup, &err), STORE_ECONFLICT);
		make_container(f, f->org.id, "after-conflict", &ok);
		assert_int_equal(store_commit(f->st, &err), 0);
		assert_int_equal(store_container_get(f->st, ok.id, &got, &err), 0);
		store_container_clear(&got);
		store_container_clear(&ok);
	}

	/* Closing with a transaction open rolls it back. */
	assert_int_equal(store_begin(f->st, &err), 0);
	store_container_clear(&c2);
	make_container(f, f->org.id, "lost", &c2);
	store_close(f->st);
	assert_int_equal(store_open(f->spec, &f->st, &err), 0);
	assert_int_equal(store_container_get(f->st, c2.id, &got, &err), STORE_ENOTFOUND);

	store_container_clear(&c);
	store_container_clear(&c2);
	store_deployment_clear(&d);
}

/* In a child: open, create container name, commit or not, then die at once. */
static void
child_writes_and_dies(const char *path, const char *org_id, const char *name, int commit)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		struct store_container c = {0};
		struct err err = ERR_INIT;

		if (store_open(path, &st, &err) < 0 || store_begin(st, &err) < 0)
			_exit(2);
		snprintf(c.org_id, sizeof c.org_id, "%s", org_id);
		c.name = (char *)name;
		if (store_container_create(st, &c, &err) < 0)
			_exit(3);
		if (commit && store_commit(st, &err) < 0)
			_exit(4);
		_exit(0); /* no close, no rollback: as if killed */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A write transaction holds the write lock from store_begin() on: another
 * connection's store_begin() waits until it ends (on PostgreSQL the advisory
 * lock; without it the reads of a read-check-write could be stale). */
static void
test_write_lock(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	int go[2], status;
	int64_t t0, waited;
	char c;
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;

		close(go[0]);
		if (store_open(f->spec, &st, &err) < 0 || store_begin(st, &err) < 0)
			_exit(2);
		if (write(go[1], "x", 1) != 1)
			_exit(3);
		usleep(400 * 1000);
		store_rollback(st);
		store_close(st);
		_exit(0);
	}
	close(go[1]);
	assert_int_equal(read(go[0], &c, 1), 1); /* the child holds the lock */
	close(go[0]);
	t0 = now_mono_ms();
	assert_int_equal(store_begin(f->st, &err), 0);
	waited = now_mono_ms() - t0;
	store_rollback(f->st);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(waited >= 300);
}

/* A store spec's password never reaches a message. */
static void
test_redact(void **state)
{
	static const char *const cases[][2] = {
	    {"postgres://u:pw@db.example:5432/berth", "postgres://u:xxxxx@db.example:5432/berth"},
	    {"postgresql://u:p@ss@h/db?sslmode=require",
	     "postgresql://u:xxxxx@h/db?sslmode=require"},
	    {"postgresql://u@h/db?sslmode=require&password=pw&x=1",
	     "postgresql://u@h/db?sslmode=require&password=xxxxx&x=1"},
	    {"POSTGRES:///berth?host=/tmp/s&password=pw",
	     "POSTGRES:///berth?host=/tmp/s&password=xxxxx"},
	    {"postgres://h/db", "postgres://h/db"},
	    {"/var/lib/berth/berth.db", "/var/lib/berth/berth.db"},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *r = sqldb_redact(cases[i][0]);

		assert_string_equal(r, cases[i][1]);
		free(r);
	}
	assert_true(sqldb_is_pg_url("postgresql://x"));
	assert_false(sqldb_is_pg_url("postgres.db"));
}

/* Several processes opening a new file at once apply each migration once. */
static void
test_concurrent_first_open(void **state)
{
	struct fixture *f = *state;
	char path[640], schema[40];
	pid_t pids[4];
	int status;

	snprintf(path, sizeof path, "%s/fresh.db", f->dir);
	if (pg_url != NULL)
		assert_int_equal(pg_schema_new(schema, path, sizeof path), 0);
	for (size_t i = 0; i < ARRAY_LEN(pids); i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store *st;
			struct err err = ERR_INIT;

			if (store_open(path, &st, &err) < 0) {
				fprintf(stderr, "%s\n", err.msg);
				_exit(1);
			}
			store_close(st);
			_exit(0);
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(pids); i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(sql_int(path, version_sql()), store_schema_version());
	if (pg_url == NULL) {
		assert_int_equal(
		    sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'org'"), 1);
		return;
	}
	assert_int_equal(sql_int(path, "SELECT count(*) FROM information_schema.tables"
	                               " WHERE table_schema = current_schema() AND"
	                               " table_name = 'org'"),
	                 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM berth_schema"), 1);
	pg_schema_drop(schema);
}

static void
test_crash_safety(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container got = {0};

	child_writes_and_dies(f->spec, f->org.id, "uncommitted", 0);
	child_writes_and_dies(f->spec, f->org.id, "committed", 1);
	store_close(f->st);
	assert_int_equal(store_open(f->spec, &f->st, &err), 0);
	assert_int_equal(store_container_get_by_name(f->st, f->org.id, "uncommitted", &got, &err),
	                 STORE_ENOTFOUND);
	assert_int_equal(store_container_get_by_name(f->st, f->org.id, "committed", &got, &err), 0);
	store_container_clear(&got);
}

static void
test_thousand_containers(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct store_container *v = NULL;
	size_t n;
	int64_t t0, t1, t2, t3, t4;

	t0 = now_mono_ms();
	assert_int_equal(store_begin(f->st, &err), 0);
	for (int i = 0; i < 1000; i++) {
		struct store_container c = {0};
		char name[32];

		snprintf(name, sizeof name, "svc-%04d", 999 - i);
		memcpy(c.org_id, f->org.id, sizeof c.org_id);
		c.name = name;
		assert_int_equal(store_container_create(f->st, &c, &err), 0);
	}
	assert_int_equal(store_commit(f->st, &err), 0);
	t1 = now_mono_ms();
	assert_int_equal(store_container_list(f->st, f->org.id, &v, &n, &err), 0);
	t2 = now_mono_ms();
	assert_int_equal(n, 1000);
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof name, "svc-%04zu", i);
		assert_string_equal(v[i].name, name);
	}
	store_container_list_free(v, n);
	assert_int_equal(store_container_list(f->st, f->other.id, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	store_container_list_free(v, n);
	/* One commit per write (fsync each, synchronous=FULL). */
	t3 = now_mono_ms();
	for (int i = 0; i < 200; i++)
		assert_int_equal(
		    store_event_append(f->st, f->org.id, "csvc", "svc", "k", "m", NULL, &err), 0);
	t4 = now_mono_ms();
	print_message("1000 containers: insert %lld ms (one transaction), list %lld ms; "
	              "200 single-write commits %lld ms\n",
	              (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t4 - t3));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_orgs_and_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_containers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mark_deleted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deployments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deployment_isolation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deployments_stay_with_their_container, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_enclaves, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secrets_and_bindings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_container_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_cascades, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_lock, setup, teardown),
	    cmocka_unit_test(test_redact),
	    cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thousand_containers, setup, teardown),
	};
	if (argc > 1 && strcmp(argv[1], "pg") == 0) {
		pg_url = getenv("BERTH_TEST_PG");
		if (pg_url == NULL || pg_url[0] == '\0') {
			fprintf(stderr,
			        "test_store pg: BERTH_TEST_PG (a PostgreSQL URL) is not set\n");
			return 1;
		}
		return cmocka_run_group_tests_name("store on PostgreSQL", tests, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
