#include "secret/redact.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"

#define NONE SIZE_MAX

struct redact_value {
	char *name;  /* owned */
	char *value; /* owned, wiped when freed; len bytes */
	size_t len;
};

struct redact {
	struct redact_value *v; /* owned array, longest value first */
	size_t n;
};

struct redact *
redact_new(void)
{
	return xcalloc(1, sizeof(struct redact));
}

void
redact_add(struct redact *rd, const char *name, const char *value, size_t len)
{
	size_t at;

	while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		len--;
	if (len < REDACT_MIN_LEN)
		return;
	/* After every value at least as long: equal lengths keep their order. */
	for (at = 0; at < rd->n && rd->v[at].len >= len; at++)
		;
	rd->v = xrealloc(rd->v, (rd->n + 1) * sizeof *rd->v);
	memmove(&rd->v[at + 1], &rd->v[at], (rd->n - at) * sizeof *rd->v);
	rd->v[at].name = xstrdup(name);
	rd->v[at].value = xmalloc(len);
	memcpy(rd->v[at].value, value, len);
	rd->v[at].len = len;
	rd->n++;
}

size_t
redact_count(const struct redact *rd)
{
	return rd != NULL ? rd->n : 0;
}

/* The first occurrence of v starting in [from, limit), or NONE. */
static size_t
find(const char *text, size_t len, size_t from, size_t limit, const struct redact_value *v)
{
	size_t stop = limit == NONE || limit - 1 + v->len > len ? len : limit - 1 + v->len;
	const char *p;

	if (from >= stop || stop - from < v->len)
		return NONE;
	p = memmem(text + from, stop - from, v->value, v->len);
	return p != NULL ? (size_t)(p - text) : NONE;
}

char *
redact_mem(const struct redact *rd, const char *text, size_t len, size_t *out_len)
{
	struct buf out = BUF_INIT;
	size_t *next = NULL, *scan = NULL, i = 0;
	char *s;

	if (rd == NULL || rd->n == 0) {
		buf_append(&out, text, len);
		goto out;
	}
	/* next[k]: the first occurrence of value k at or after i (NONE when
	 * there is none), found again only once i has passed it. */
	next = xcalloc(rd->n, sizeof *next);
	scan = xcalloc(rd->n, sizeof *scan);
	for (size_t k = 0; k < rd->n; k++)
		next[k] = find(text, len, 0, NONE, &rd->v[k]);
	while (i < len) {
		size_t start = NONE, end, first = 0;
		int grew = 1;

		for (size_t k = 0; k < rd->n; k++) {
			if (next[k] != NONE && next[k] < i)
				next[k] = find(text, len, i, NONE, &rd->v[k]);
			/* Strictly earlier: at a tie the longer value, listed first, wins. */
			if (next[k] < start) {
				start = next[k];
				first = k;
			}
		}
		if (start == NONE)
			break;
		end = start + rd->v[first].len;
		/* Occurrences starting inside the span extend it, until none does;
		 * scan[k] is where value k's search inside the span goes on. */
		for (size_t k = 0; k < rd->n; k++)
			scan[k] = start + 1;
		while (grew) {
			grew = 0;
			for (size_t k = 0; k < rd->n; k++) {
				size_t q;

				while ((q = find(text, len, scan[k], end, &rd->v[k])) != NONE) {
					scan[k] = q + 1;
					if (q + rd->v[k].len > end) {
						end = q + rd->v[k].len;
						grew = 1;
					}
				}
				if (scan[k] < end)
					scan[k] = end;
			}
		}
		buf_append(&out, text + i, start - i);
		buf_printf(&out, "[secret %s]", rd->v[first].name);
		i = end;
	}
	buf_append(&out, text + i, len - i);
out:
	free(next);
	free(scan);
	if (out_len != NULL)
		*out_len = out.len;
	s = buf_take(&out);
	return s;
}

char *
redact_text(const struct redact *rd, const char *text)
{
	return text != NULL ? redact_mem(rd, text, strlen(text), NULL) : NULL;
}

void
redact_inplace(const struct redact *rd, char *buf, size_t size)
{
	char *s;

	if (rd == NULL || rd->n == 0 || size == 0)
		return;
	s = redact_text(rd, buf);
	sodium_memzero(buf, size);
	snprintf(buf, size, "%s", s);
	free(s);
}

void
redact_free(struct redact *rd)
{
	if (rd == NULL)
		return;
	for (size_t k = 0; k < rd->n; k++) {
		sodium_memzero(rd->v[k].value, rd->v[k].len);
		free(rd->v[k].value);
		free(rd->v[k].name);
	}
	free(rd->v);
	free(rd);
}
