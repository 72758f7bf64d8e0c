/* image-internal: what the image module's files share, private to src/image. */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "image/image.h"

/* A content descriptor of a manifest or index. */
struct image_desc {
	const char *digest; /* borrowed from the document's JSON */
	uint64_t size;
};

/* A parsed manifest, or an index and the entry of it for this host. */
struct image_manifest {
	json_t *root;              /* owned: the document; the descriptors borrow from it */
	int is_index;              /* an index: pick is set; a manifest: config and layers */
	struct image_desc pick;    /* the index's manifest for linux on this architecture */
	struct image_desc config;  /* the manifest's image configuration */
	struct image_desc *layers; /* owned array of n_layers, bottom first */
	size_t n_layers;
};

/* Whether d is "sha256:<64 lower-case hex>", the only digest berth accepts. */
int image_digest_valid(const char *d);

/* Parses the manifest or index data (len bytes, registry input) as served
 * with content_type (may be NULL); what names it in errors. Refuses what
 * berth cannot pull: schema 1, other media types, digests other than
 * sha256, foreign layers, layers it cannot unpack, an index without
 * linux/<this arch>. On success out is the caller's (image_manifest_clear);
 * on failure it is cleared. */
int image_manifest_parse(const char *data, size_t len, const char *content_type, const char *what,
                         struct image_manifest *out, struct err *err);
/* Frees what m owns and zeroes it. */
void image_manifest_clear(struct image_manifest *m);

/* Holds the cache's lock shared (pulls, unpacks) so garbage collection waits. */
void image_cache_lock_shared(struct image_cache *cache);
/* Releases what image_cache_lock_shared() took. */
void image_cache_unlock(struct image_cache *cache);
/* The caps image_cache_set_unpack_caps() set (or their defaults). */
void image_cache_unpack_caps(const struct image_cache *cache, uint64_t *max_bytes,
                             uint64_t *max_entries);

#endif
