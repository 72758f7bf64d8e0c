/* strmap: chained buckets, a power of two of them, doubled when the entries
 * outnumber them (strmap.h). */
#include "common/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct strmap_entry {
	struct strmap_entry *next; /* owned: the rest of the bucket */
	uint64_t hash;
	void *value; /* borrowed */
	char key[];
};

struct strmap {
	struct strmap_entry **buckets; /* owned array of owned chains */
	size_t n_buckets;              /* a power of two */
	size_t n;
};

static uint64_t
hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct strmap *
strmap_new(void)
{
	struct strmap *m = xcalloc(1, sizeof *m);

	m->n_buckets = 16;
	m->buckets = xcalloc(m->n_buckets, sizeof *m->buckets);
	return m;
}

void
strmap_free(struct strmap *m, void (*free_value)(void *value))
{
	if (m == NULL)
		return;
	strmap_filter(m, NULL, NULL, free_value);
	free(m->buckets);
	free(m);
}

static struct strmap_entry **
find(const struct strmap *m, const char *key, uint64_t h)
{
	struct strmap_entry **p = &m->buckets[h & (m->n_buckets - 1)];

	while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->next;
	return p;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_entry *e = *find(m, key, hash_of(key));

	return e != NULL ? e->value : NULL;
}

static void
grow(struct strmap *m)
{
	size_t n = m->n_buckets * 2;
	struct strmap_entry **b = xcalloc(n, sizeof *b);

	for (size_t i = 0; i < m->n_buckets; i++)
		while (m->buckets[i] != NULL) {
			struct strmap_entry *e = m->buckets[i];

			m->buckets[i] = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = n;
}

void *
strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = hash_of(key);
	struct strmap_entry **p = find(m, key, h), *e;
	size_t len;

	if (*p != NULL) {
		void *old = (*p)->value;

		(*p)->value = value;
		return old;
	}
	len = strlen(key);
	e = xmalloc(sizeof *e + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*p = e;
	if (++m->n > m->n_buckets)
		grow(m);
	return NULL;
}

void *
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_entry **p = find(m, key, hash_of(key)), *e = *p;
	void *v;

	if (e == NULL)
		return NULL;
	*p = e->next;
	v = e->value;
	free(e);
	m->n--;
	return v;
}

size_t
strmap_len(const struct strmap *m)
{
	return m->n;
}

void
strmap_filter(struct strmap *m, int (*keep)(const char *key, void *value, void *arg), void *arg,
              void (*free_value)(void *value))
{
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct strmap_entry **p = &m->buckets[i]; *p != NULL;) {
			struct strmap_entry *e = *p;

			if (keep != NULL && keep(e->key, e->value, arg)) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			if (free_value != NULL)
				free_value(e->value);
			free(e);
			m->n--;
		}
}
