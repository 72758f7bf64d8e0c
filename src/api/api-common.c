#include "api/api-common.h"

#include <event2/http.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "recon/recon.h"
#include "store/store.h"

struct berthd *
api_daemon(struct api_req *r)
{
	struct berthd *d = r->ctx;

	d->metrics.api_requests++;
	return d;
}

void
api_reply_store_error(struct api_req *r, int rc, const struct err *err)
{
	int status = berthd_http_status(rc);

	if (status == 500)
		log_error("api: %s %s: %s", r->method == API_GET ? "GET" : "write", r->path,
		          err->msg);
	api_reply_error(r, status,
	                status == 404   ? "not_found"
	                : status == 409 ? "conflict"
	                                : "internal",
	                "%s", err->msg[0] != '\0' ? err->msg : "the store failed");
}

void
api_reply_object(struct api_req *r, int status, json_t *v)
{
	if (v == NULL) {
		log_error("api: %s: an answer could not be encoded", r->path);
		api_reply_error(r, 500, "internal", "the answer could not be encoded");
		return;
	}
	api_reply_json(r, status, v);
}

int
api_write(struct berthd *d, api_steps_fn steps, void *arg, struct err *err)
{
	int rc;

	if ((rc = store_begin(d->store, err)) < 0)
		return rc;
	if ((rc = steps(d, arg, err)) < 0) {
		store_rollback(d->store);
		return rc;
	}
	return store_commit(d->store, err);
}

void
api_reply_kicked(struct api_req *r, const char *container_id, int status, json_t *v)
{
	struct berthd *d = r->ctx;

	berthd_kick(d, container_id);
	api_reply_object(r, status, v);
}

int
api_container_lookup(struct api_req *r, const char *name, struct store_container *c)
{
	struct berthd *d = r->ctx;
	struct err err = ERR_INIT;
	int rc;

	rc = store_container_get_by_name(d->store, r->who.org_id, name, c, &err);
	if (rc == STORE_ENOTFOUND) {
		api_reply_error(r, 404, "not_found", "no container named %s", name);
		return -1;
	}
	if (rc < 0) {
		api_reply_store_error(r, rc, &err);
		return -1;
	}
	return 0;
}

/* A request waiting for work on the workq. evhttp frees (or, when its reply
 * has not begun, detaches) a request whose connection closes; the close
 * callback hands the request back so done() never sees a freed one. */
struct api_async {
	struct api_req *r; /* borrowed; NULL once the client went away */
	workq_fn work;
	api_async_done_fn done;
	void *arg; /* the caller's */
};

static void
api_async_on_close(struct evhttp_connection *conn, void *p)
{
	struct api_async *a = p;
	struct api_req *r = take_ptr(&a->r);

	(void)conn;
	if (r == NULL)
		return;
	log_debug("api: client of %s went away before its answer", r->path);
	api_req_gone(r);
}

void
api_req_gone(struct api_req *r)
{
	if (evhttp_request_get_connection(r->req) == NULL)
		/* Detached: answering it frees it (nothing is sent) and r. */
		api_reply_text(r, 503, NULL, NULL, 0);
	else
		/* Still on the connection, which frees it right after this. */
		api_req_release(r);
}

static void
api_async_work(void *p)
{
	struct api_async *a = p;

	a->work(a->arg);
}

static void
api_async_done(void *p)
{
	struct api_async *a = p;

	if (a->r != NULL)
		api_req_set_closecb(a->r, NULL, NULL);
	a->done(a->r, a->arg);
	free(a);
}

void
api_async(struct api_req *r, workq_fn work, api_async_done_fn done, void *arg)
{
	struct berthd *d = r->ctx;
	struct api_async *a = xcalloc(1, sizeof *a);

	a->r = r;
	a->work = work;
	a->done = done;
	a->arg = arg;
	/* Through the server, which owns the connection's close callback. */
	api_req_set_closecb(r, api_async_on_close, a);
	workq_submit(d->workq, api_async_work, api_async_done, a);
}
