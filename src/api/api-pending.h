/* api-pending: containers created while their source was still being
 * fetched (POST /containers answers within a second whatever the source
 * does). Such a container is `deploying` with no deployment and the request's
 * secret names in its `pending`; when the fetch ends, the config at the tag
 * is read and checked as a create checks it: the first deployment is written
 * (and the reconciler deploys it), or the container turns `failed` with the
 * reason (a retry fetches again). A restarted berthd resolves what is left.
 * Loop thread only. */
#ifndef BERTH_API_PENDING_H
#define BERTH_API_PENDING_H

#include "common/err.h"
#include "store/store-types.h"

struct berthd;
struct api_pendings;

/* Resolves container c (pending, not deleted) once its source is fetched. */
void api_pending_resolve(struct berthd *d, const struct store_container *c);

/* Resolves every pending container of the store (at start). */
int api_pending_resume(struct berthd *d, struct err *err);

/* Frees what resolutions are left (after the workqs were freed). NULL is fine. */
void api_pendings_free(struct api_pendings *p);

#endif
