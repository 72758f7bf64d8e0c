/* table: the CLI's human output: columns aligned to their widest cell. */
#ifndef BERTH_TABLE_H
#define BERTH_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table {
	size_t ncols;
	size_t nrows; /* the header row included */
	char **cells; /* owned: nrows * ncols strings, row by row */
};

/* Starts a table whose header row is the ncols strings of headers (copied). */
void table_init(struct table *t, size_t ncols, const char *const *headers);

/* Adds a row of ncols cells (copied); a NULL or empty cell shows as "-". */
void table_add(struct table *t, const char *const *cells);

/* Prints t to f: columns two spaces apart, the last one unpadded. */
void table_print(const struct table *t, FILE *f);

/* s cut to at most width display cells, ending in "..." when cut; owned. */
char *table_fit(const char *s, size_t width);

/* Frees what t holds. */
void table_free(struct table *t);

#endif
