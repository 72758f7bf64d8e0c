/* api-render: per-container JSON of GET /containers, by (id, version). */
#include "api/api-render.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-json.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "store/store.h"

/* One container's JSON as it was at version. */
struct render_entry {
	store_id id;
	store_id org_id;
	int64_t version;
	char *org_name; /* owned: the name the URLs were rendered with */
	char *json;     /* owned compact JSON object */
	size_t len;
	uint64_t pass;             /* the last api_render_list() that used it */
	struct render_entry *next; /* owned: the rest of the bucket */
};

struct api_render_cache {
	struct render_entry **buckets; /* owned array of owned chains */
	size_t n_buckets;              /* a power of two */
	size_t n;                      /* entries */
	uint64_t pass;
};

static size_t
bucket_of(const struct api_render_cache *rc, const char *id)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return (size_t)h & (rc->n_buckets - 1);
}

static void
entry_free(struct render_entry *e)
{
	free(e->org_name);
	free(e->json);
	free(e);
}

void
api_render_cache_free(struct api_render_cache *rc)
{
	if (rc == NULL)
		return;
	for (size_t i = 0; i < rc->n_buckets; i++)
		for (struct render_entry *e = rc->buckets[i], *next; e != NULL; e = next) {
			next = e->next;
			entry_free(e);
		}
	free(rc->buckets);
	free(rc);
}

/* Doubles the buckets once there are twice as many entries. */
static void
cache_grow(struct api_render_cache *rc)
{
	struct render_entry **old = rc->buckets;
	size_t n_old = rc->n_buckets;

	if (rc->n < 2 * rc->n_buckets)
		return;
	rc->n_buckets *= 2;
	rc->buckets = xcalloc(rc->n_buckets, sizeof(*rc->buckets));
	for (size_t i = 0; i < n_old; i++)
		for (struct render_entry *e = old[i], *next; e != NULL; e = next) {
			size_t b = bucket_of(rc, e->id);

			next = e->next;
			e->next = rc->buckets[b];
			rc->buckets[b] = e;
		}
	free(old);
}

static struct render_entry *
cache_find(struct api_render_cache *rc, const char *id)
{
	for (struct render_entry *e = rc->buckets[bucket_of(rc, id)]; e != NULL; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* c as compact JSON text, owned by the caller; NULL with err. */
static char *
render_text(struct berthd *d, const char *org_name, const struct store_container *c,
            struct err *err)
{
	json_t *obj = NULL;
	char *text;

	if (api_json_container(d, org_name, c, &obj, err) < 0)
		return NULL;
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		log_fatal("out of memory"); /* jansson fails to encode only when out of memory */
	return text;
}

/* Renders c into a new entry (or e, refreshed). Returns it, or NULL with err. */
static struct render_entry *
cache_render(struct berthd *d, struct api_render_cache *rc, struct render_entry *e,
             const char *org_name, const struct store_container *c, struct err *err)
{
	char *text = render_text(d, org_name, c, err);

	if (text == NULL)
		return NULL;
	if (e == NULL) {
		size_t b;

		e = xcalloc(1, sizeof(*e));
		snprintf(e->id, sizeof e->id, "%s", c->id);
		rc->n++;
		cache_grow(rc);
		b = bucket_of(rc, c->id);
		e->next = rc->buckets[b];
		rc->buckets[b] = e;
	}
	free(e->json);
	free(e->org_name);
	snprintf(e->org_id, sizeof e->org_id, "%s", c->org_id);
	e->org_name = xstrdup(org_name);
	e->version = c->version;
	e->json = text;
	e->len = strlen(text);
	return e;
}

/* Drops the entries of org_id that the pass did not use: deleted containers. */
static void
cache_sweep(struct api_render_cache *rc, const char *org_id)
{
	for (size_t i = 0; i < rc->n_buckets; i++)
		for (struct render_entry **p = &rc->buckets[i]; *p != NULL;) {
			struct render_entry *e = *p;

			if (e->pass == rc->pass || strcmp(e->org_id, org_id) != 0) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			entry_free(e);
			rc->n--;
		}
}

/* The entry of h, rendered again when its version moved; with keep 0 the
 * text is written to b at once and nothing is kept. NULL with err, or when
 * written. */
static int
render_one(struct berthd *d, struct api_render_cache *rc, const char *org_name,
           const struct store_container_head *h, int keep, struct buf *b, struct err *err)
{
	struct render_entry *e = cache_find(rc, h->id);
	struct store_container c = {0};
	int status;

	if (keep && e != NULL && e->version == h->version && strcmp(e->org_name, org_name) == 0) {
		e->pass = rc->pass;
		buf_append(b, e->json, e->len);
		return 0;
	}
	if ((status = store_container_get(d->store, h->id, &c, err)) < 0)
		return status;
	if (!keep) {
		char *text = render_text(d, org_name, &c, err);

		store_container_clear(&c);
		if (text == NULL)
			return -1;
		buf_puts(b, text);
		free(text);
		return 0;
	}
	e = cache_render(d, rc, e, org_name, &c, err);
	store_container_clear(&c);
	if (e == NULL)
		return -1;
	e->pass = rc->pass;
	buf_append(b, e->json, e->len);
	return 0;
}

int
api_render_list(struct berthd *d, const char *org_id, const char *org_name,
                const struct store_container_head *hs, size_t n, struct buf *b, struct err *err)
{
	struct api_render_cache *rc = d->render_cache;
	/* Rows read inside a write transaction may yet be rolled back, and the
	 * version with them: render them, but do not keep what was rendered. */
	int keep = !store_in_transaction(d->store);

	if (rc == NULL) {
		rc = d->render_cache = xcalloc(1, sizeof(*rc));
		rc->n_buckets = 256;
		rc->buckets = xcalloc(rc->n_buckets, sizeof(*rc->buckets));
	}
	rc->pass++;
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		int status;

		if (i > 0)
			buf_putc(b, ',');
		if ((status = render_one(d, rc, org_name, &hs[i], keep, b, err)) < 0)
			return status;
	}
	buf_putc(b, ']');
	if (keep)
		cache_sweep(rc, org_id);
	return 0;
}
