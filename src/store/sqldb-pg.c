/* sqldb-pg: the sqldb driver on PostgreSQL (libpq). Statements are prepared
 * on the server (PQprepare) with the store's ?N placeholders turned into
 * $N; values go as text parameters, blobs as binary ones; results come as
 * text. Writers are serialised as SQLite serialises them: every write
 * transaction holds the advisory lock SQLDB_PG_WRITE_LOCK, and so does a
 * write outside store_begin(), which runs in a transaction of its own. */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/sqldb.h"

#define MAX_PARAMS 16
/* A server that does not answer must not hold berthd's thread for ever:
 * connecting, a statement, a wait for a lock (another berthd's write
 * transaction) and a silent TCP peer are bounded. The URL's own settings
 * (options=..., connect_timeout=...) override these. */
#define CONNECT_TIMEOUT_S "10"
#define SERVER_OPTIONS    "-c statement_timeout=15000 -c lock_timeout=10000"
#define TCP_USER_TIMEOUT  "10000"

#define STR_(x)   #x
#define STR(x)    STR_(x)
#define BEGIN_SQL "BEGIN; SELECT pg_advisory_xact_lock(" STR(SQLDB_PG_WRITE_LOCK) ")"
#define SAVEPOINT "berth_stmt"

struct pg_db {
	struct sqldb base; /* first */
	PGconn *conn;      /* owned */
	int in_txn;        /* inside begin_write .. commit/rollback */
	unsigned epoch;    /* moves when the connection is made again */
	unsigned next_id;  /* for statement names */
};

struct pg_stmt {
	struct sqldb_stmt base; /* first */
	char name[24];          /* the server-side statement's */
	char *sql;              /* owned: with $N placeholders */
	int nparams;
	int writes;                   /* not a SELECT: takes the write lock */
	unsigned epoch;               /* of the connection it was prepared on */
	const char *vals[MAX_PARAMS]; /* borrowed until reset, or ints[] */
	int lens[MAX_PARAMS];
	int fmts[MAX_PARAMS];
	char ints[MAX_PARAMS][24];
	PGresult *res; /* owned: the last execution's, NULL before it */
	int row;       /* rows returned so far */
};

static struct pg_db *
to_db(struct sqldb *db)
{
	return (struct pg_db *)db;
}

static struct pg_stmt *
to_stmt(struct sqldb_stmt *q)
{
	return (struct pg_stmt *)q;
}

static enum sqldb_failure
classify(const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state == NULL)
		return SQLDB_FAIL_OTHER;
	if (strcmp(state, "23505") == 0)
		return SQLDB_FAIL_UNIQUE;
	if (strcmp(state, "23503") == 0 || strcmp(state, "23001") == 0)
		return SQLDB_FAIL_FOREIGN_KEY;
	if (strcmp(state, "23514") == 0)
		return SQLDB_FAIL_CHECK;
	if (strcmp(state, "P0001") == 0)
		return SQLDB_FAIL_RAISED;
	return SQLDB_FAIL_OTHER;
}

/* err from a failed result (only its primary message: the detail may quote
 * a row's values), or from the connection when there is no result. */
static int
res_fail(struct pg_db *s, const PGresult *res, struct err *err, const char *what)
{
	const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char line[512];

	if (msg == NULL)
		msg = PQerrorMessage(s->conn);
	snprintf(line, sizeof line, "%s", msg != NULL ? msg : "?");
	line[strcspn(line, "\n")] = '\0';
	return sqldb_fail(&s->base, classify(res), err, what, line);
}

static int
res_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int
pg_exec(struct sqldb *db, const char *sql, const char *what, struct err *err)
{
	struct pg_db *s = to_db(db);
	PGresult *res = PQexec(s->conn, sql);
	int rc = 0;

	if (!res_ok(res))
		rc = res_fail(s, res, err, what);
	PQclear(res);
	return rc;
}

/* Copies sql with ?N made $N (outside quotes); *nparams gets the largest N. */
static char *
translate(const char *sql, int *nparams)
{
	struct buf b = BUF_INIT;
	char quote = 0;

	*nparams = 0;
	for (const char *p = sql; *p != '\0'; p++) {
		if (quote != 0) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?' && p[1] >= '0' && p[1] <= '9') {
			int n = atoi(p + 1);

			if (n > *nparams)
				*nparams = n;
			buf_putc(&b, '$');
			continue;
		}
		buf_putc(&b, *p);
	}
	return buf_take(&b);
}

static int
server_prepare(struct pg_db *s, struct pg_stmt *st, struct err *err)
{
	PGresult *res = PQprepare(s->conn, st->name, st->sql, st->nparams, NULL);
	char what[96];
	int rc = 0;

	if (!res_ok(res)) {
		snprintf(what, sizeof what, "prepare \"%.60s\"", st->sql);
		rc = res_fail(s, res, err, what);
	}
	PQclear(res);
	st->epoch = s->epoch;
	return rc;
}

static int
pg_prepare(struct sqldb *db, const char *sql, struct sqldb_stmt **out, struct err *err)
{
	struct pg_db *s = to_db(db);
	struct pg_stmt *st = xcalloc(1, sizeof *st);

	st->base.db = db;
	st->sql = translate(sql, &st->nparams);
	if (st->nparams > MAX_PARAMS) {
		free(st->sql);
		free(st);
		return err_make(err, 0, "%s: prepare: more than %d parameters", db->name,
		                MAX_PARAMS);
	}
	st->writes = strncmp(sql, "SELECT", 6) != 0;
	snprintf(st->name, sizeof st->name, "berth_%u", s->next_id++);
	if (server_prepare(s, st, err) < 0) {
		free(st->sql);
		free(st);
		return -1;
	}
	*out = &st->base;
	return 0;
}

static void
pg_reset(struct sqldb_stmt *q)
{
	struct pg_stmt *st = to_stmt(q);

	PQclear(st->res);
	st->res = NULL;
	st->row = 0;
	memset(st->vals, 0, sizeof st->vals);
	memset(st->lens, 0, sizeof st->lens);
	memset(st->fmts, 0, sizeof st->fmts);
}

static void
pg_finalize(struct sqldb_stmt *q)
{
	struct pg_stmt *st = to_stmt(q);

	/* The server's statement goes with the connection. */
	pg_reset(q);
	free(st->sql);
	free(st);
}

static void
pg_bind_text(struct sqldb_stmt *q, int i, const char *v)
{
	struct pg_stmt *st = to_stmt(q);

	if (i < 1 || i > MAX_PARAMS)
		return;
	st->vals[i - 1] = v;
	st->lens[i - 1] = 0;
	st->fmts[i - 1] = 0;
}

static void
pg_bind_int(struct sqldb_stmt *q, int i, int64_t v)
{
	struct pg_stmt *st = to_stmt(q);

	if (i < 1 || i > MAX_PARAMS)
		return;
	snprintf(st->ints[i - 1], sizeof st->ints[i - 1], "%lld", (long long)v);
	pg_bind_text(q, i, st->ints[i - 1]);
}

static void
pg_bind_blob(struct sqldb_stmt *q, int i, const void *p, size_t n)
{
	struct pg_stmt *st = to_stmt(q);

	if (i < 1 || i > MAX_PARAMS)
		return;
	st->vals[i - 1] = n ? p : "";
	st->lens[i - 1] = (int)n;
	st->fmts[i - 1] = 1;
}

/* Makes a lost connection again when no transaction is open (one was lost
 * with the connection: its caller sees the failure). */
static void
reconnect(struct pg_db *s)
{
	if (PQstatus(s->conn) != CONNECTION_BAD || s->in_txn)
		return;
	PQreset(s->conn);
	if (PQstatus(s->conn) == CONNECTION_OK) {
		s->epoch++;
		PQclear(PQexec(s->conn, "SET client_min_messages = warning"));
	}
}

/* Runs the statement: inside a transaction behind a savepoint (so a failure
 * leaves the transaction usable), outside one in a write transaction of its
 * own when it writes. */
static int
execute(struct pg_db *s, struct pg_stmt *st, const char *what, struct err *err)
{
	int own = st->writes && !s->in_txn, sp = st->writes && s->in_txn;
	struct sqldb *db = &s->base;
	PGresult *res;

	reconnect(s);
	if (st->epoch != s->epoch && server_prepare(s, st, err) < 0)
		return -1;
	if (own && pg_exec(db, BEGIN_SQL, "begin", err) < 0)
		return -1;
	if (sp && pg_exec(db, "SAVEPOINT " SAVEPOINT, "savepoint", err) < 0)
		return -1;
	res = PQexecPrepared(s->conn, st->name, st->nparams, st->vals, st->lens, st->fmts, 0);
	if (!res_ok(res)) {
		int rc = res_fail(s, res, err, what);
		enum sqldb_failure kind = db->last_fail;

		PQclear(res);
		if (sp)
			pg_exec(db,
			        "ROLLBACK TO SAVEPOINT " SAVEPOINT "; RELEASE SAVEPOINT " SAVEPOINT,
			        "rollback to savepoint", NULL);
		if (own)
			pg_exec(db, "ROLLBACK", "rollback", NULL);
		db->last_fail = kind;
		return rc;
	}
	if ((sp && pg_exec(db, "RELEASE SAVEPOINT " SAVEPOINT, "release savepoint", err) < 0) ||
	    (own && db->ops->commit(db, err) < 0)) {
		PQclear(res);
		return -1;
	}
	st->res = res;
	return 0;
}

static int
pg_step(struct sqldb_stmt *q, const char *what, struct err *err)
{
	struct pg_stmt *st = to_stmt(q);

	if (st->res == NULL && execute(to_db(q->db), st, what, err) < 0)
		return -1;
	if (st->row < PQntuples(st->res)) {
		st->row++;
		return 1;
	}
	return 0;
}

static const char *
pg_col_text(struct sqldb_stmt *q, int i)
{
	struct pg_stmt *st = to_stmt(q);

	if (st->res == NULL || st->row < 1 || PQgetisnull(st->res, st->row - 1, i))
		return NULL;
	return PQgetvalue(st->res, st->row - 1, i);
}

static int64_t
pg_col_int(struct sqldb_stmt *q, int i)
{
	const char *v = pg_col_text(q, i);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static uint8_t *
pg_col_blob(struct sqldb_stmt *q, int i, size_t *len)
{
	const char *v = pg_col_text(q, i);
	unsigned char *raw = v != NULL ? PQunescapeBytea((const unsigned char *)v, len) : NULL;
	uint8_t *p;

	if (raw == NULL)
		*len = 0;
	p = xmalloc(*len ? *len : 1);
	if (*len > 0)
		memcpy(p, raw, *len);
	if (raw != NULL) {
		sodium_memzero(raw, *len);
		PQfreemem(raw);
	}
	return p;
}

static int64_t
pg_changes(struct sqldb_stmt *q)
{
	struct pg_stmt *st = to_stmt(q);

	return st->res != NULL ? strtoll(PQcmdTuples(st->res), NULL, 10) : 0;
}

static int
pg_begin_write(struct sqldb *db, struct err *err)
{
	struct pg_db *s = to_db(db);

	reconnect(s);
	if (pg_exec(db, BEGIN_SQL, "begin", err) < 0) {
		if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
			pg_exec(db, "ROLLBACK", "rollback", NULL);
		return -1;
	}
	s->in_txn = 1;
	return 0;
}

static int
pg_commit(struct sqldb *db, struct err *err)
{
	struct pg_db *s = to_db(db);
	PGresult *res = PQexec(s->conn, "COMMIT");
	int rc = 0;

	/* A transaction a statement aborted answers COMMIT with ROLLBACK. */
	if (!res_ok(res))
		rc = res_fail(s, res, err, "commit");
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = sqldb_fail(db, SQLDB_FAIL_OTHER, err, "commit",
		                "the transaction was aborted and rolled back");
	PQclear(res);
	s->in_txn = 0;
	return rc;
}

static void
pg_rollback(struct sqldb *db)
{
	struct pg_db *s = to_db(db);

	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		pg_exec(db, "ROLLBACK", "rollback", NULL);
	s->in_txn = 0;
}

static int
pg_in_transaction(struct sqldb *db)
{
	return to_db(db)->in_txn;
}

/* The schema version is the one row of berth_schema (made on first use,
 * under the write lock of the migration's transaction). */
static int
pg_schema_version(struct sqldb *db, int *version, struct err *err)
{
	struct pg_db *s = to_db(db);
	PGresult *res;
	int rc = 0;

	if (pg_exec(db, "CREATE TABLE IF NOT EXISTS berth_schema (version integer NOT NULL)",
	            "schema version table", err) < 0)
		return -1;
	res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM berth_schema");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		rc = res_fail(s, res, err, "read schema version");
	else
		*version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static int
pg_set_schema_version(struct sqldb *db, int version, struct err *err)
{
	char sql[96];

	snprintf(sql, sizeof sql, "DELETE FROM berth_schema; INSERT INTO berth_schema VALUES (%d)",
	         version);
	return pg_exec(db, sql, "set schema version", err);
}

static void
pg_close(struct sqldb *db)
{
	PQfinish(to_db(db)->conn);
	free(db->name);
	free(db);
}

static const struct sqldb_ops pg_ops = {
    .dialect = SQLDB_POSTGRES,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .reset = pg_reset,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_blob = pg_col_blob,
    .changes = pg_changes,
    .begin_write = pg_begin_write,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .in_transaction = pg_in_transaction,
    .schema_version = pg_schema_version,
    .set_schema_version = pg_set_schema_version,
};

/* libpq prints the server's notices on stderr by default. */
static void
ignore_notice(void *arg, const char *message)
{
}

PGconn *
sqldb_pg_connect(const char *url, const char *application_name)
{
	const char *const keys[] = {"connect_timeout",
	                            "options",
	                            "tcp_user_timeout",
	                            "keepalives_idle",
	                            "keepalives_interval",
	                            "keepalives_count",
	                            "application_name",
	                            "dbname",
	                            NULL};
	const char *const vals[] = {CONNECT_TIMEOUT_S,
	                            SERVER_OPTIONS,
	                            TCP_USER_TIMEOUT,
	                            "10",
	                            "5",
	                            "3",
	                            application_name,
	                            url,
	                            NULL};

	/* expand_dbname: the URL's own settings override the defaults before it. */
	return PQconnectdbParams(keys, vals, 1);
}

int
sqldb_open_pg(const char *url, struct sqldb **out, struct err *err)
{
	struct pg_db *s = xcalloc(1, sizeof *s);
	int rc;

	*out = NULL;
	s->base.ops = &pg_ops;
	s->base.name = sqldb_redact(url);
	s->conn = sqldb_pg_connect(url, "berthd");
	if (s->conn == NULL) {
		rc = err_make(err, 0, "%s: connect: out of memory", s->base.name);
		goto fail;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		rc = res_fail(s, NULL, err, "connect");
		goto fail;
	}
	PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
	if (PQserverVersion(s->conn) < 120000) {
		rc = err_make(err, 0, "%s: PostgreSQL %d is too old: berth needs 12 or newer",
		              s->base.name, PQserverVersion(s->conn) / 10000);
		goto fail;
	}
	if ((rc = pg_exec(&s->base, "SET client_min_messages = warning", "connect", err)) < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	pg_close(&s->base);
	return rc;
}
