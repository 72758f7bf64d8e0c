/* image-internal: what the image module's files share, private to src/image. */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include "image/image.h"

/* Holds the cache's lock shared (pulls, unpacks) so garbage collection waits. */
void image_cache_lock_shared(struct image_cache *cache);
/* Releases what image_cache_lock_shared() took. */
void image_cache_unlock(struct image_cache *cache);
/* The caps image_cache_set_unpack_caps() set (or their defaults). */
void image_cache_unpack_caps(const struct image_cache *cache, uint64_t *max_bytes,
                             uint64_t *max_entries);

#endif
