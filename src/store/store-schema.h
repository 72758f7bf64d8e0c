/* store-schema: the store's migrations, one text per SQL dialect. Both
 * arrays have the same versions: migration i takes a database of either
 * engine from version i to i + 1, to the same tables, columns, constraints
 * and triggers. */
#ifndef BERTH_STORE_SCHEMA_H
#define BERTH_STORE_SCHEMA_H

#include "store/sqldb.h"

/* The migrations of dialect, store_schema_version() of them (static). */
const char *const *store_migrations(enum sqldb_dialect dialect);

#endif
