/* api-render: per-container JSON of GET /containers, by (id, version). */
#include "api/api-render.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-json.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "store/store.h"

/* One container's JSON as it was at version. */
struct render_entry {
	store_id org_id;
	int64_t version;
	char *org_name; /* owned: the name the URLs were rendered with */
	char *json;     /* owned compact JSON object */
	size_t len;
	uint64_t pass; /* the last api_render_list() that used it */
};

struct api_render_cache {
	struct strmap *entries; /* owned: container id -> owned render_entry */
	uint64_t pass;
};

static void
entry_free(void *arg)
{
	struct render_entry *e = arg;

	free(e->org_name);
	free(e->json);
	free(e);
}

void
api_render_cache_free(struct api_render_cache *rc)
{
	if (rc == NULL)
		return;
	strmap_free(rc->entries, entry_free);
	free(rc);
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
		e = xcalloc(1, sizeof(*e));
		strmap_put(rc->entries, c->id, e);
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

struct sweep {
	const struct api_render_cache *rc;
	const char *org_id;
};

/* Keeps the entries the pass used and those of other orgs. */
static int
sweep_keep(const char *id, void *value, void *arg)
{
	const struct render_entry *e = value;
	const struct sweep *sw = arg;

	(void)id;
	return e->pass == sw->rc->pass || strcmp(e->org_id, sw->org_id) != 0;
}

/* The entry of h, rendered again when its version moved; with keep 0 the
 * text is written to b at once and nothing is kept. NULL with err, or when
 * written. */
static int
render_one(struct berthd *d, struct api_render_cache *rc, const char *org_name,
           const struct store_container_head *h, int keep, struct buf *b, struct err *err)
{
	struct render_entry *e = strmap_get(rc->entries, h->id);
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
		rc->entries = strmap_new();
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
	if (keep) {
		/* What the pass did not use of org_id's: deleted containers. */
		struct sweep sw = {rc, org_id};

		strmap_filter(rc->entries, sweep_keep, &sw, entry_free);
	}
	return 0;
}
