/* sqldb-sqlite: the sqldb driver on SQLite (WAL, foreign keys on,
 * synchronous FULL, a busy timeout for other connections' locks). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/sqldb.h"

/* How long a writer waits for another connection's lock. */
#define BUSY_TIMEOUT_MS 5000

struct sq_db {
	struct sqldb base; /* first */
	sqlite3 *db;       /* owned */
};

struct sq_stmt {
	struct sqldb_stmt base; /* first */
	sqlite3_stmt *q;        /* owned */
};

static struct sq_db *
to_db(struct sqldb *db)
{
	return (struct sq_db *)db;
}

static sqlite3_stmt *
to_q(struct sqldb_stmt *q)
{
	return ((struct sq_stmt *)q)->q;
}

static enum sqldb_failure
classify(int ext)
{
	switch (ext) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return SQLDB_FAIL_UNIQUE;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return SQLDB_FAIL_FOREIGN_KEY;
	case SQLITE_CONSTRAINT_CHECK:
		return SQLDB_FAIL_CHECK;
	case SQLITE_CONSTRAINT_TRIGGER:
		/* SQLite reports an ON DELETE RESTRICT violation as a trigger's. */
		return SQLDB_FAIL_RAISED;
	default:
		return SQLDB_FAIL_OTHER;
	}
}

/* err from the connection's last error. */
static int
db_fail(struct sq_db *s, struct err *err, const char *what)
{
	return sqldb_fail(&s->base, classify(sqlite3_extended_errcode(s->db)), err, what,
	                  sqlite3_errmsg(s->db));
}

static int
sq_exec(struct sqldb *db, const char *sql, const char *what, struct err *err)
{
	struct sq_db *s = to_db(db);
	char *msg = NULL;
	int rc = 0;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		rc = sqldb_fail(db, classify(sqlite3_extended_errcode(s->db)), err, what, msg);
	sqlite3_free(msg);
	return rc;
}

static int
sq_prepare(struct sqldb *db, const char *sql, struct sqldb_stmt **out, struct err *err)
{
	struct sq_db *s = to_db(db);
	sqlite3_stmt *q = NULL;
	struct sq_stmt *st;

	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q, NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare");
	st = xcalloc(1, sizeof *st);
	st->base.db = db;
	st->q = q;
	*out = &st->base;
	return 0;
}

static void
sq_finalize(struct sqldb_stmt *q)
{
	sqlite3_finalize(to_q(q));
	free(q);
}

static void
sq_bind_text(struct sqldb_stmt *q, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(to_q(q), i);
	else
		sqlite3_bind_text(to_q(q), i, v, -1, SQLITE_STATIC);
}

static void
sq_bind_int(struct sqldb_stmt *q, int i, int64_t v)
{
	sqlite3_bind_int64(to_q(q), i, v);
}

static void
sq_bind_blob(struct sqldb_stmt *q, int i, const void *p, size_t n)
{
	sqlite3_bind_blob(to_q(q), i, n ? p : "", (int)n, SQLITE_STATIC);
}

static int
sq_step(struct sqldb_stmt *q, const char *what, struct err *err)
{
	int rc = sqlite3_step(to_q(q));

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(to_db(q->db), err, what);
}

static void
sq_reset(struct sqldb_stmt *q)
{
	sqlite3_reset(to_q(q));
	sqlite3_clear_bindings(to_q(q));
}

static const char *
sq_col_text(struct sqldb_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(to_q(q), i);
}

static int64_t
sq_col_int(struct sqldb_stmt *q, int i)
{
	return sqlite3_column_int64(to_q(q), i);
}

static uint8_t *
sq_col_blob(struct sqldb_stmt *q, int i, size_t *len)
{
	const void *v = sqlite3_column_blob(to_q(q), i);
	uint8_t *p;

	*len = (size_t)sqlite3_column_bytes(to_q(q), i);
	p = xmalloc(*len ? *len : 1);
	if (*len > 0)
		memcpy(p, v, *len);
	return p;
}

static int64_t
sq_changes(struct sqldb_stmt *q)
{
	return sqlite3_changes64(to_db(q->db)->db);
}

static int
sq_begin_write(struct sqldb *db, struct err *err)
{
	return sq_exec(db, "BEGIN IMMEDIATE", "begin", err);
}

static int
sq_commit(struct sqldb *db, struct err *err)
{
	return sq_exec(db, "COMMIT", "commit", err);
}

static int
sq_in_transaction(struct sqldb *db)
{
	return !sqlite3_get_autocommit(to_db(db)->db);
}

static void
sq_rollback(struct sqldb *db)
{
	/* SQLite may have rolled back on its own (after SQLITE_FULL, say). */
	if (sq_in_transaction(db))
		sq_exec(db, "ROLLBACK", "rollback", NULL);
}

/* The text of the one-row, one-column answer of a pragma into out. */
static int
pragma_text(struct sq_db *s, const char *sql, char *out, size_t n, struct err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_fail(s, err, sql);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(q, 0);

		snprintf(out, n, "%s", v != NULL ? (const char *)v : "");
		rc = 0;
	} else {
		rc = db_fail(s, err, sql);
	}
	sqlite3_finalize(q);
	return rc;
}

static int
sq_schema_version(struct sqldb *db, int *version, struct err *err)
{
	char v[32];

	if (pragma_text(to_db(db), "PRAGMA user_version", v, sizeof v, err) < 0)
		return -1;
	*version = atoi(v);
	return 0;
}

static int
sq_set_schema_version(struct sqldb *db, int version, struct err *err)
{
	char sql[64];

	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
	return sq_exec(db, sql, "set schema version", err);
}

static void
sq_close(struct sqldb *db)
{
	/* Closing checkpoints the WAL when this was the last connection. */
	sqlite3_close(to_db(db)->db);
	free(db->name);
	free(db);
}

static const struct sqldb_ops sqlite_ops = {
    .dialect = SQLDB_SQLITE,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .bind_text = sq_bind_text,
    .bind_int = sq_bind_int,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .reset = sq_reset,
    .col_text = sq_col_text,
    .col_int = sq_col_int,
    .col_blob = sq_col_blob,
    .changes = sq_changes,
    .begin_write = sq_begin_write,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .in_transaction = sq_in_transaction,
    .schema_version = sq_schema_version,
    .set_schema_version = sq_set_schema_version,
};

int
sqldb_open_sqlite(const char *path, struct sqldb **out, struct err *err)
{
	struct sq_db *s = xcalloc(1, sizeof *s);
	char v[32];
	int rc;

	*out = NULL;
	s->base.ops = &sqlite_ops;
	s->base.name = xstrdup(path);
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
	/* FULL: a commit is on disk before the side effect it allows runs
	 * (until a caller with a durability gate asks for NORMAL:
	 * store_defer_durability()). */
	if ((rc = sq_exec(&s->base, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", "pragma",
	                  err)) < 0)
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
	*out = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return rc;
}
