/* table: aligned columns. */
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"
#include "common/util.h"

void
table_init(struct table *t, size_t ncols, const char *const *headers)
{
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
	table_add(t, headers);
}

void
table_add(struct table *t, const char *const *cells)
{
	size_t i;

	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof(char *));
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
		    xstrdup(cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-");
	t->nrows++;
}

/* Display width of a UTF-8 string: one cell per code point. */
static size_t
width_of(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

char *
table_fit(const char *s, size_t width)
{
	size_t cells = 0, i, cut = 0;

	if (width_of(s) <= width)
		return xstrdup(s);
	if (width < 4)
		return xstrndup("...", width);
	/* keep width - 3 cells, never splitting a UTF-8 sequence */
	for (i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (cells == width - 3) {
			cut = i;
			break;
		}
		cells++;
	}
	return xasprintf("%.*s...", (int)cut, s);
}

void
table_print(const struct table *t, FILE *f)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w)), r, c;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t n = width_of(t->cells[r * t->ncols + c]);

			if (n > w[c])
				w[c] = n;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, f);
			if (c + 1 < t->ncols)
				fprintf(f, "%*s", (int)(w[c] - width_of(s) + 2), "");
		}
		fputc('\n', f);
	}
	free(w);
}

void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}
