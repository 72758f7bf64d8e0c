/* sqldb: the small seam between the store's SQL (store-sql.c) and an engine
 * (sqldb-sqlite.c, sqldb-pg.c). The store writes its queries once, with
 * numbered placeholders ?1, ?2 ... (a driver translates them to its own); a
 * statement is prepared once and kept for the connection's life.
 *
 * Every int function returns 0 (or 1 for a row from sqldb_step()) or a
 * negative value with err set, its message naming the database (never with
 * a password: the name is redacted) and what was being done. After a
 * failure, sqldb_failure() classifies it so the store can map a constraint
 * to its STORE_E* code.
 *
 * Transactions: sqldb_begin_write() opens one that holds the database's
 * write lock at once (SQLite BEGIN IMMEDIATE; PostgreSQL BEGIN and the
 * advisory transaction lock SQLDB_PG_WRITE_LOCK), so a read then a write
 * inside it see no other writer in between. A failed write inside a
 * transaction leaves the transaction as it was before the statement (as
 * SQLite does; the PostgreSQL driver uses a savepoint), so the caller
 * decides whether to commit. (A failed read there aborts a PostgreSQL
 * transaction: its commit then fails, nothing is half written.) A handle is
 * used by one thread at a time. */
#ifndef BERTH_SQLDB_H
#define BERTH_SQLDB_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* PostgreSQL advisory lock keys berth uses (pg_advisory_*lock(key)):
 *   1  the write lock: every write transaction of every berthd holds it
 *   2  reserved: the leader lock of several berthd on one database */
#define SQLDB_PG_WRITE_LOCK  1
#define SQLDB_PG_LEADER_LOCK 2

/* What a failed statement violated. */
enum sqldb_failure {
	SQLDB_FAIL_NONE,
	SQLDB_FAIL_UNIQUE,      /* a unique index or primary key */
	SQLDB_FAIL_FOREIGN_KEY, /* a foreign key (a missing parent, or a RESTRICT) */
	SQLDB_FAIL_CHECK,       /* a CHECK constraint */
	SQLDB_FAIL_RAISED,      /* a trigger refused the change */
	SQLDB_FAIL_OTHER,
};

/* The SQL dialect of a driver, for the few texts that differ (migrations). */
enum sqldb_dialect {
	SQLDB_SQLITE,
	SQLDB_POSTGRES,
};

struct sqldb;
struct sqldb_stmt;

struct sqldb_ops {
	enum sqldb_dialect dialect;
	void (*close)(struct sqldb *db);
	int (*exec)(struct sqldb *db, const char *sql, const char *what, struct err *err);
	int (*prepare)(struct sqldb *db, const char *sql, struct sqldb_stmt **out, struct err *err);
	void (*finalize)(struct sqldb_stmt *q);
	void (*bind_text)(struct sqldb_stmt *q, int i, const char *v);
	void (*bind_int)(struct sqldb_stmt *q, int i, int64_t v);
	void (*bind_blob)(struct sqldb_stmt *q, int i, const void *p, size_t n);
	int (*step)(struct sqldb_stmt *q, const char *what, struct err *err);
	void (*reset)(struct sqldb_stmt *q);
	const char *(*col_text)(struct sqldb_stmt *q, int i);
	int64_t (*col_int)(struct sqldb_stmt *q, int i);
	uint8_t *(*col_blob)(struct sqldb_stmt *q, int i, size_t *len);
	int64_t (*changes)(struct sqldb_stmt *q);
	int (*begin_write)(struct sqldb *db, struct err *err);
	int (*commit)(struct sqldb *db, struct err *err);
	void (*rollback)(struct sqldb *db);
	int (*in_transaction)(struct sqldb *db);
	int (*schema_version)(struct sqldb *db, int *version, struct err *err);
	int (*set_schema_version)(struct sqldb *db, int version, struct err *err);
};

/* What every driver's connection embeds first. */
struct sqldb {
	const struct sqldb_ops *ops;  /* borrowed, static */
	char *name;                   /* owned: the path, or the URL without its password */
	enum sqldb_failure last_fail; /* of the last failed call */
};

/* What every driver's statement embeds first. */
struct sqldb_stmt {
	struct sqldb *db; /* borrowed */
};

/* Opens the SQLite file at path (created when missing) in WAL mode, foreign
 * keys on, synchronous FULL (store_defer_durability() may lower it). */
int sqldb_open_sqlite(const char *path, struct sqldb **out, struct err *err);

/* Connects to the PostgreSQL database of url (a postgres:// or postgresql://
 * URL, libpq's syntax). */
int sqldb_open_pg(const char *url, struct sqldb **out, struct err *err);

struct pg_conn; /* libpq's PGconn */

/* A libpq connection to url with the bounds sqldb_open_pg() sets (connect,
 * statements, locks, a silent peer) and application_name, for a thread
 * that needs one of its own (the replicas' election); the URL's settings
 * override them. NULL only when out of memory: check PQstatus(). */
struct pg_conn *sqldb_pg_connect(const char *url, const char *application_name);

/* Whether spec is a PostgreSQL URL rather than a file path. */
int sqldb_is_pg_url(const char *spec);

/* A copy of spec fit for messages: a URL's password (in user:password@ or
 * a password= parameter) replaced by "xxxxx". Owned by the caller. */
char *sqldb_redact(const char *spec);

/* Sets db->last_fail and err to "<db name>: <what>: <msg>"; returns -1. The
 * drivers' common error path. */
int sqldb_fail(struct sqldb *db, enum sqldb_failure kind, struct err *err, const char *what,
               const char *msg);

static inline void
sqldb_close(struct sqldb *db)
{
	if (db != NULL)
		db->ops->close(db);
}

static inline enum sqldb_failure
sqldb_failure(const struct sqldb *db)
{
	return db->last_fail;
}

#endif
