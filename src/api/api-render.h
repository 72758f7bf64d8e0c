/* api-render: each container's JSON as GET /containers answers it, kept by
 * (container id, store version) so that a list read while writes go on
 * renders only the containers that changed.
 *
 * The store moves a container's version with every write to anything
 * api_json_container() reads of it (its row, updates, settings, deployments,
 * and its enclaves, which it may come to show: triggers in store-sqlite.c), so an entry whose
 * version matches the row just read is what rendering it again would give. Loop thread only.
 */
#ifndef BERTH_API_RENDER_H
#define BERTH_API_RENDER_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "store/store-types.h"

struct berthd;
struct api_render_cache;

/* Frees the cache; NULL is fine. */
void api_render_cache_free(struct api_render_cache *rc);

/* Appends to b the compact JSON array of the n containers of org org_id
 * (named org_name) whose heads are hs, the text json_dumps(JSON_COMPACT)
 * gives for the array of their api_json_container() objects. Reads whole
 * and renders only the containers the cache lacks at their version
 * (creating d->render_cache on first use), and forgets the org's containers
 * that hs no longer holds. Returns 0, or a store error with err; b is then
 * partly written. */
int api_render_list(struct berthd *d, const char *org_id, const char *org_name,
                    const struct store_container_head *hs, size_t n, struct buf *b,
                    struct err *err);

#endif
