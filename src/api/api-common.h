/* api-common: what the route files of /api/v1 share: the daemon behind a
 * request, store errors as answers, container look-up, and work that must
 * leave the loop (git) while the request waits for it. Loop thread only. */
#ifndef BERTH_API_COMMON_H
#define BERTH_API_COMMON_H

#include "api/api-server.h"
#include "common/err.h"
#include "common/workq.h"
#include "store/store-types.h"

struct berthd;

/* The daemon serving r; counts the request for GET /metrics. */
struct berthd *api_daemon(struct api_req *r);

/* Answers a store failure: 404 not_found, 409 conflict or 500 internal with
 * err's sentence. */
void api_reply_store_error(struct api_req *r, int rc, const struct err *err);

/* Answers status with v (stolen), or 500 when v is NULL (a value jansson
 * could not build). */
void api_reply_object(struct api_req *r, int status, json_t *v);

/* The live container name of r's org into c (clear it after). Answers 404
 * (or 500) and returns -1 when there is none. */
int api_container_lookup(struct api_req *r, const char *name, struct store_container *c);

/* The steps of one write of the API, run inside its transaction: each
 * records its event (eventlog_add, lifecycle_*). 0, or a negative code (a
 * store code) with err set. */
typedef int (*api_steps_fn)(struct berthd *d, void *arg, struct err *err);

/* One write of the API: steps(d, arg, err) in one transaction of d's store,
 * committed. Returns 0 once committed; else the transaction is rolled back
 * and the failure's code returned (steps' or the store's), err saying why.
 * Nothing is answered: the handler refuses by the code, or, committed,
 * kicks the reconciler and answers (api_reply_kicked). */
int api_write(struct berthd *d, api_steps_fn steps, void *arg, struct err *err);

/* After a committed write of container container_id: the reconciler kicked
 * for it, then status answered with v (stolen; NULL: 500). */
void api_reply_kicked(struct api_req *r, const char *container_id, int status, json_t *v);

/* Called on the loop when an api_async() job is done. r is NULL when the
 * client went away meanwhile: done must then free arg and answer nothing. */
typedef void (*api_async_done_fn)(struct api_req *r, void *arg);

/* Runs work(arg) on the daemon's workq and then done(r, arg) on the loop;
 * r stays unanswered until done answers it. The handler returns after this
 * call without answering. */
void api_async(struct api_req *r, workq_fn work, api_async_done_fn done, void *arg);

/* Lets go of r, whose client went away while it waited (from a close
 * callback set with api_req_set_closecb()): frees it or hands it back to
 * evhttp, which frees it. */
void api_req_gone(struct api_req *r);

#endif
