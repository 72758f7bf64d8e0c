/* router_upstream: the upstream side of a request. Connections to upstreams,
 * pooled per worker and upstream (put back after a reusable exchange, taken
 * newest first, dropped when idle too long or when their upstream drains);
 * picking an upstream of the route, round robin by weight; connecting, and
 * trying another upstream when that fails; sending an idempotent request
 * again when a pooled or new connection closed without an answer; the
 * upstream connection's callbacks; and cutting requests in flight on a
 * draining upstream at its deadline.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/util.h"
#include "router/router-conn-int.h"

static void upstream_read_cb(struct rstream *s, void *arg);
static void upstream_write_cb(struct rstream *s, void *arg);
static void upstream_event_cb(struct rstream *s, enum rstream_event ev, void *arg);

#define UPCONN_POOL_MAX 512
/* A pooled connection idle for longer is closed rather than reused: many
 * servers close idle connections after a few seconds (gunicorn 2 s, node 5 s),
 * and a request sent as they do would be lost. */
#define UPCONN_IDLE_MAX_MS 2000
/* Resends of an idempotent request whose upstream closed without answering. */
#define EMPTY_RETRIES 3
/* The pause before the first resend, doubled for each next one. */
#define RESEND_PAUSE_MS 10

void
router_upstream_free(struct upconn *uc)
{
	if (uc == NULL)
		return;
	rstream_free(uc->s);
	upstream_unref(uc->up);
	free(uc);
}

static void
pool_remove(struct upconn *uc)
{
	struct upstream_slot *slot = &uc->up->slots[uc->w->id];

	TAILQ_REMOVE(&slot->idle, uc, slot_link);
	slot->nidle--;
	TAILQ_REMOVE(&uc->w->idle, uc, idle_link);
}

/* Pools uc when the upstream still takes requests, else closes it. */
void
router_upstream_pool_put(struct upconn *uc)
{
	struct worker *w = uc->w;
	struct upstream_slot *slot = &uc->up->slots[w->id];

	uc->conn = NULL;
	if (w->stopping || atomic_load_explicit(&uc->up->draining, RELAXED) ||
	    slot->nidle >= UPCONN_POOL_MAX || evbuffer_get_length(uc->s->in) > 0) {
		router_upstream_free(uc);
		return;
	}
	uc->reused = 1;
	uc->idle_since_ms = now_mono_ms();
	TAILQ_INSERT_HEAD(&slot->idle, uc, slot_link);
	slot->nidle++;
	TAILQ_INSERT_HEAD(&w->idle, uc, idle_link);
}

static struct upconn *
pool_take(struct worker *w, struct upstream *up)
{
	struct upconn_list *idle = &up->slots[w->id].idle;
	struct upconn *uc;
	int64_t now;

	if (TAILQ_EMPTY(idle))
		return NULL;
	/* Oldest last: drop those idle too long, then take the newest. */
	now = now_mono_ms();
	while ((uc = TAILQ_LAST(idle, upconn_list)) != NULL &&
	       now - uc->idle_since_ms > UPCONN_IDLE_MAX_MS) {
		pool_remove(uc);
		router_upstream_free(uc);
	}
	uc = TAILQ_FIRST(idle);
	if (uc != NULL)
		pool_remove(uc);
	return uc;
}

static struct upconn *
upconn_connect(struct worker *w, struct upstream *up)
{
	struct upconn *uc = xcalloc(1, sizeof(*uc));

	uc->w = w;
	uc->up = upstream_ref(up);
	uc->s = rstream_connect(w, (struct sockaddr *)&up->sa, up->salen, upstream_read_cb,
	                        upstream_write_cb, upstream_event_cb, uc);
	return uc;
}

/* Closes uc with a reset rather than a FIN, and drops what was not written
 * yet: for a request whose framing broke, so that the upstream cannot take
 * what it got for a whole request. NULL is fine. */
void
router_upstream_abort(struct upconn *uc)
{
	struct linger lg = {1, 0};

	if (uc == NULL)
		return;
	if (uc->s->fd >= 0)
		setsockopt(uc->s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	router_upstream_free(uc);
}

void
router_upstream_pool_clear(struct worker *w)
{
	struct upconn *uc;

	while ((uc = TAILQ_FIRST(&w->idle)) != NULL) {
		pool_remove(uc);
		router_upstream_free(uc);
	}
}

static int
pick_upstream(struct conn *c)
{
	const struct route *rt = c->route;
	unsigned k, acc = 0;
	size_t i, j;

	if (c->ntries >= rt->nups)
		return -1;
	k = c->w->rr++ % rt->total_weight;
	for (i = 0; i < rt->nups; i++) {
		acc += rt->ups[i].weight;
		if (k < acc)
			break;
	}
	for (j = 0; j < rt->nups; j++) {
		size_t idx = (i + j) % rt->nups;
		if (idx >= 64 || !(c->tried & (1ull << idx)))
			return (int)idx;
	}
	return -1;
}

static void
conn_upstream_ready(struct conn *c)
{
	router_conn_set_state(c, CS_PROXY);
	c->rscanned = 0;
	router_proxy_timer(c);
	if (!c->req_done)
		router_proxy_forward_body(c);
}

/* Sends the request to up, on a pooled connection unless fresh. */
static void
conn_attempt(struct conn *c, struct upstream *up, int fresh)
{
	struct worker *w = c->w;
	struct upconn *uc = fresh ? NULL : pool_take(w, up);

	c->up = up;
	c->attempt = 1;
	STAT_INC(up->slots[w->id].started);
	if (uc == NULL)
		uc = upconn_connect(w, up);
	uc->conn = c;
	c->uc = uc;
	evbuffer_add(uc->s->out, evbuffer_pullup(c->head, -1), evbuffer_get_length(c->head));
	if (uc->connected) {
		conn_upstream_ready(c);
	} else {
		router_conn_set_state(c, CS_CONNECT);
		router_conn_timer_set(c, w->tv_connect);
	}
}

void
router_upstream_resend(struct conn *c)
{
	c->resend = 0;
	conn_attempt(c, c->up, 1);
}

/* Sends the request to an upstream not tried yet, or answers 502/504. */
void
router_upstream_dispatch(struct conn *c)
{
	int idx;

	/* No loops: a request a peer router forwarded is routed here or not
	 * at all. */
	if (c->hop && c->route->forward) {
		log_info("502 for %s: forwarded by a peer router to one that forwards too",
		         c->host);
		router_conn_reply_why(c, 502,
		                      "this host does not run the container and the request was "
		                      "forwarded here by another host's router",
		                      !c->req_done);
		return;
	}
	router_h1_head_hop(c);
	idx = pick_upstream(c);
	if (idx < 0) {
		/* Every upstream refused (nothing of the request was sent): with
		 * hold_refused, it waits for berthd's next table instead. */
		if (!c->timed_out && c->ntries > 0 && !c->body_sent && c->route->hold_refused &&
		    router_hold_refused(c) == 0)
			return;
		log_info("%d for %s: no upstream of its %zu answered", c->timed_out ? 504 : 502,
		         c->host, c->route->nups);
		router_conn_reply(c, c->timed_out ? 504 : 502, !c->req_done);
		return;
	}
	if (idx < 64)
		c->tried |= 1ull << idx;
	c->ntries++;
	conn_attempt(c, c->route->ups[idx].up, 0);
}

/* The upstream failed the attempt: retry, answer 502, or cut the client. */
static void
conn_upstream_failed(struct conn *c, int eof)
{
	struct upconn *uc = c->uc;

	switch (c->state) {
	case CS_CONNECT:
		router_conn_attempt_end(c, 1);
		router_upstream_free(take_ptr(&c->uc));
		router_upstream_dispatch(c);
		break;
	case CS_TUNNEL:
		evbuffer_add_buffer(c->cs->out, uc->s->in);
		router_conn_attempt_end(c, 0);
		router_upstream_free(take_ptr(&c->uc));
		router_conn_close_after_write(c);
		return;
	case CS_PROXY:
		if (c->resp_head) {
			if (c->resp_eof && eof) {
				/* The body ends with the connection. */
				router_proxy_response_read(c);
				if (c->state != CS_PROXY || c->resp_done)
					return;
				http_parser_execute(&c->sp, &router_h1_body_settings, NULL, 0);
				c->resp_done = 1;
				router_proxy_exchange_done(c);
				return;
			}
			router_conn_attempt_end(c, 1);
			router_upstream_free(take_ptr(&c->uc));
			router_conn_close_after_write(c);
			return;
		}
		if (uc->reused && !c->body_sent && c->idempotent && !c->stale_retry &&
		    evbuffer_get_length(uc->s->in) == 0) {
			/* A pooled connection the upstream had closed: the request
			 * never reached it, send it again on a new one. */
			struct upstream *up = c->up;
			c->stale_retry = 1;
			router_conn_attempt_end(c, 0);
			router_upstream_free(take_ptr(&c->uc));
			conn_attempt(c, up, 1);
			return;
		}
		if (!c->body_sent && c->idempotent && c->empty_retries < EMPTY_RETRIES &&
		    (evbuffer_get_length(uc->s->in) == 0 || c->resp_held)) {
			/* Closed with not a byte of answer, or with a small answer
			 * not yet whole (held back): an idempotent request may be
			 * sent again (RFC 9110 9.2.2), as nginx's proxy_next_upstream
			 * and HAProxy's retry-on empty-response do. An upstream that
			 * drops a connection now and then (gVisor's host network
			 * under load does), or is killed mid-answer, costs no
			 * request; one that always does still gets its 502. */
			c->empty_retries++;
			router_conn_attempt_end(c, 1);
			router_upstream_free(take_ptr(&c->uc));
			/* gVisor's netstack closes new connections unanswered while
			 * the sandbox's accept queue is full: a resend at once meets
			 * the same. After a short pause, growing (10, 20, 40 ms). */
			router_conn_set_state(c, CS_CONNECT);
			c->resend = 1;
			router_conn_timer_set_ms(c, RESEND_PAUSE_MS << (c->empty_retries - 1));
			return;
		}
		log_info("502 for %s: upstream %s %s after %zu byte(s) of answer (%s, %d "
		         "resend(s))",
		         c->host, c->up->address, eof ? "closed" : "failed",
		         evbuffer_get_length(uc->s->in), uc->reused ? "pooled" : "new",
		         (int)c->empty_retries);
		router_conn_attempt_end(c, 1);
		router_upstream_free(take_ptr(&c->uc));
		router_conn_reply(c, 502, !c->req_done);
		break;
	default:
		return;
	}
	if (c->state == CS_HEAD)
		router_conn_process(c);
}

static void
upstream_read_cb(struct rstream *s, void *arg)
{
	struct upconn *uc = arg;
	struct conn *c = uc->conn;

	if (c == NULL) {
		/* A pooled connection must stay silent. */
		pool_remove(uc);
		router_upstream_free(uc);
		return;
	}
	if (c->state == CS_TUNNEL) {
		evbuffer_add_buffer(c->cs->out, s->in);
		if (evbuffer_get_length(c->cs->out) > ROUTER_HIGH_WATER) {
			rstream_read(s, 0);
			c->u_paused = 1;
		}
		return;
	}
	if (c->state == CS_PROXY)
		router_proxy_response_read(c);
}

static void
upstream_write_cb(struct rstream *s, void *arg)
{
	struct upconn *uc = arg;
	struct conn *c = uc->conn;

	if (c == NULL || !c->c_paused)
		return;
	c->c_paused = 0;
	rstream_read(c->cs, 1);
	if (c->state == CS_PROXY && !c->req_done)
		router_proxy_forward_body(c);
	else if (c->state == CS_TUNNEL)
		evbuffer_add_buffer(s->out, c->cs->in);
}

static void
upstream_event_cb(struct rstream *s, enum rstream_event ev, void *arg)
{
	struct upconn *uc = arg;
	struct conn *c = uc->conn;

	if (ev == RSTREAM_CONNECTED) {
		uc->connected = 1;
		if (c != NULL && c->state == CS_CONNECT)
			conn_upstream_ready(c);
		return;
	}
	if (c == NULL) {
		pool_remove(uc);
		router_upstream_free(uc);
		return;
	}
	conn_upstream_failed(c, ev == RSTREAM_EOF);
}

static void
drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct conn *c, *next;
	int64_t now = now_mono_ms();
	int pending = 0;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!c->attempt || !atomic_load_explicit(&c->up->draining, RELAXED))
			continue;
		if (now < atomic_load_explicit(&c->up->drain_deadline_ms, RELAXED)) {
			pending = 1;
			continue;
		}
		log_info("drain of %s: cutting a request past the drain timeout", c->up->address);
		router_conn_attempt_end(c, 1);
		router_upstream_free(take_ptr(&c->uc));
		if (!c->resp_head && c->state != CS_TUNNEL)
			router_conn_reply(c, 504, 1);
		else
			router_conn_close(c);
	}
	if (!pending) {
		event_del(w->drain_timer);
		w->drain_armed = 0;
	}
}

void
router_upstream_table_changed(struct worker *w)
{
	struct upconn *uc, *unext;
	struct conn *c;

	/* Pooled connections to upstreams no longer routed to. */
	for (uc = TAILQ_FIRST(&w->idle); uc != NULL; uc = unext) {
		unext = TAILQ_NEXT(uc, idle_link);
		if (atomic_load_explicit(&uc->up->draining, RELAXED)) {
			pool_remove(uc);
			router_upstream_free(uc);
		}
	}
	/* Requests in flight on them drain, up to the deadline. */
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = TAILQ_NEXT(c, link)) {
		if (c->attempt && atomic_load_explicit(&c->up->draining, RELAXED)) {
			if (w->drain_timer == NULL)
				w->drain_timer =
				    event_new(w->base, -1, EV_PERSIST, drain_timer_cb, w);
			if (!w->drain_armed) {
				struct timeval tv = {0, 50000};
				event_add(w->drain_timer, &tv);
				w->drain_armed = 1;
			}
			break;
		}
	}
}
