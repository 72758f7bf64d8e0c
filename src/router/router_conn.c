/* router_conn: one client connection of berth-router: its state machine
 * (conn_set_state), its one timer, the counters of a request, the replies the
 * router makes itself, routing a read request to an answer, a hold or an
 * upstream, the client's callbacks, accept and close, and the worker's stop.
 *
 * A request head is read whole (up to max_header_size), checked, routed on the
 * worker's current table and rewritten; the body then streams through as the
 * parser validates it, byte for byte, so chunked framing is kept and nothing is
 * buffered whole. The response does the same the other way. Upstream
 * connections are pooled per worker and upstream.
 *
 * The rest of a connection's code is in the files router-conn-int.h lists:
 * router_h1.c (heads and framing), router_hold.c (held requests),
 * router_upstream.c (the pool, connecting, retries, drains) and
 * router_proxy.c (the exchange with a connected upstream).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/util.h"
#include "router/chunked.h"
#include "router/router-conn-int.h"

static const char *
conn_state_str(enum conn_state st)
{
	static const char *names[] = {
	    [CS_HEAD] = "head",   [CS_HELD] = "held",     [CS_CONNECT] = "connect",
	    [CS_PROXY] = "proxy", [CS_TUNNEL] = "tunnel", [CS_CLOSING] = "closing",
	    [CS_DEAD] = "dead",
	};

	return names[st];
}

/* Every state change goes through here: CS_DEAD is final. */
void
router_conn_set_state(struct conn *c, enum conn_state st)
{
	if (c->state == CS_DEAD)
		log_fatal("connection from %s: %s after dead", c->client_ip, conn_state_str(st));
	c->state = st;
}

static void client_read_cb(struct rstream *s, void *arg);
static void client_write_cb(struct rstream *s, void *arg);
static void client_event_cb(struct rstream *s, enum rstream_event ev, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
router_conn_timer_set(struct conn *c, const struct timeval *tv)
{
	event_add(&c->timer, tv);
}

void
router_conn_timer_set_ms(struct conn *c, int64_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(&c->timer, &tv);
}

/* --- counters --- */

void
router_conn_attempt_end(struct conn *c, int error)
{
	struct upstream_slot *slot;

	if (!c->attempt)
		return;
	slot = &c->up->slots[c->w->id];
	STAT_INC(slot->finished);
	if (error)
		STAT_INC(slot->errors);
	c->attempt = 0;
}

/* Counts the finished request for the route and ends it. */
void
router_conn_request_end(struct conn *c)
{
	struct route_stats *rs;
	struct route_stats_slot *s;
	uint64_t us;
	int cls, b;

	if (!c->in_request)
		return;
	c->in_request = 0;
	rs = c->route ? c->route->stats : c->w->r->nostats;
	s = &rs->slots[c->w->id];
	cls = c->status >= 100 && c->status < 600 ? c->status / 100 : 0;
	STAT_INC(s->status[cls]);
	us = (uint64_t)(now_us() - c->t_start_us);
	for (b = 0; b < ROUTE_LATENCY_BUCKETS - 1 && us > route_latency_bounds_us[b]; b++)
		;
	STAT_INC(s->latency[b]);
	STAT_ADD(s->latency_sum_us, us);
	STAT_ADD(c->w->in_flight, (uint64_t)-1);
	/* An idle connection keeps no buffer. */
	evbuffer_drain(c->head, evbuffer_get_length(c->head));
	route_table_unref(take_ptr(&c->table));
	c->route = NULL;
	c->up = NULL;
}

/* --- closing --- */

void
router_conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->state == CS_DEAD)
		return;
	if (c->state == CS_HELD) {
		TAILQ_REMOVE(&w->held, c, hold_link);
		w->nheld--;
		STAT_ADD(w->held_now, (uint64_t)-1);
	}
	if (c->in_request && c->status == 0)
		c->status = 499; /* the client went away first */
	router_conn_attempt_end(c, 0);
	router_conn_request_end(c);
	router_upstream_free(take_ptr(&c->uc));
	event_del(&c->timer);
	rstream_free(take_ptr(&c->cs));
	if (c->admitted)
		router_admit_release(w->r, c->client_ip);
	c->admitted = 0;
	router_conn_set_state(c, CS_DEAD);
	TAILQ_REMOVE(&w->conns, c, link);
	TAILQ_INSERT_TAIL(&w->dead, c, link);
	event_active(w->reap, EV_READ, 0);
	STAT_ADD(w->conns_open, (uint64_t)-1);
}

void
router_conn_reap(struct worker *w)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&w->dead)) != NULL) {
		TAILQ_REMOVE(&w->dead, c, link);
		evbuffer_free(c->head);
		free(c);
	}
	if (w->stopping && TAILQ_EMPTY(&w->conns))
		event_base_loopexit(w->base, NULL);
}

/* Closes the client once its output is written. */
void
router_conn_close_after_write(struct conn *c)
{
	if (c->state == CS_DEAD)
		return;
	if (c->state == CS_HELD) {
		TAILQ_REMOVE(&c->w->held, c, hold_link);
		c->w->nheld--;
		STAT_ADD(c->w->held_now, (uint64_t)-1);
	}
	router_conn_set_state(c, CS_CLOSING);
	event_del(&c->timer);
	if (evbuffer_get_length(c->cs->out) == 0) {
		router_conn_close(c);
		return;
	}
	/* Stop reading; a bounded wait for the last bytes to leave. */
	rstream_read(c->cs, 0);
	router_conn_timer_set(c, c->w->tv_idle);
}

/* --- local replies --- */

static const char *
status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "Error";
}

void
router_conn_request_begin(struct conn *c)
{
	c->in_request = 1;
	c->t_start_us = now_us();
	c->status = 0;
	c->tried = 0;
	c->ntries = 0;
	c->refused_until_ms = 0;
	c->req_done = c->resp_head = c->resp_held = c->resp_done = c->resp_eof = 0;
	c->close_after = c->upgrade = c->is_head = c->idempotent = 0;
	c->body_sent = c->stale_retry = c->timed_out = c->dechunk = 0;
	c->empty_retries = 0;
	c->resend = 0;
	c->keepalive = 0;
	STAT_INC(c->w->in_flight);
}

/* Answers the current request itself, with why (a sentence, or NULL for the
 * reason phrase) as the body. Keeps the connection when the request was read
 * whole and the client wants it, else closes it after writing. After it, c is
 * either back in CS_HEAD or closing. */
void
router_conn_reply_body(struct conn *c, int status, const char *type, const char *body, size_t len,
                       int force_close)
{
	struct evbuffer *out = c->cs->out;
	const char *reason = status_reason(status);
	char retry[48] = "";
	int keep = !force_close && c->req_done && c->keepalive && !c->w->stopping &&
	           !c->close_after && !c->upgrade;

	if (status == 503 || status == 429)
		snprintf(retry, sizeof(retry), "Retry-After: %d\r\n", c->w->r->set.retry_after_s);
	c->status = status;
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                    "%s%s\r\n",
	                    status, reason, type, len, retry, keep ? "" : "Connection: close\r\n");
	if (!c->is_head) /* a response to HEAD has the length, not the body */
		evbuffer_add(out, body, len);
	router_conn_attempt_end(c, 0);
	router_conn_request_end(c);
	router_upstream_free(take_ptr(&c->uc));
	if (!keep) {
		router_conn_close_after_write(c);
		return;
	}
	router_conn_set_state(c, CS_HEAD);
	c->head_started = 0;
	c->scanned = 0;
	router_conn_timer_set(c, c->w->tv_idle);
}

void
router_conn_reply_why(struct conn *c, int status, const char *why, int force_close)
{
	char *text = xasprintf("%s\n", why != NULL ? why : status_reason(status));

	router_conn_reply_body(c, status, "text/plain", text, strlen(text), force_close);
	free(text);
}

void
router_conn_reply(struct conn *c, int status, int force_close)
{
	router_conn_reply_why(c, status, NULL, force_close);
}

/* --- the next step of a request --- */

/* Acts on the request's route: answers, holds or sends it upstream. */
void
router_conn_route(struct conn *c)
{
	switch (c->route->mode) {
	case ROUTE_DOWN:
		router_conn_reply(c, 503, 0);
		return;
	case ROUTE_HOLD:
		router_hold_start(c);
		return;
	case ROUTE_SERVE:
		router_upstream_dispatch(c);
		return;
	}
}

/* Handles the request heads waiting in the client's input, as long as each
 * is answered at once. */
void
router_conn_process(struct conn *c)
{
	while (c->state == CS_HEAD && router_h1_read_request_head(c))
		;
}

/* --- callbacks --- */

static void
client_read_cb(struct rstream *s, void *arg)
{
	struct conn *c = arg;
	struct err err = ERR_INIT;

	switch (c->state) {
	case CS_HEAD:
		router_conn_process(c);
		break;
	case CS_PROXY:
		if (!c->req_done)
			router_proxy_forward_body(c);
		break;
	case CS_HELD:
	case CS_CONNECT:
		/* Not sent yet: a framing error now keeps all of it from the
		 * upstream, the head too. */
		if (c->in_request && !c->body_complete && router_h1_body_scan(c, &err) < 0)
			router_proxy_body_failed(c, &err);
		break;
	case CS_TUNNEL:
		evbuffer_add_buffer(c->uc->s->out, s->in);
		if (evbuffer_get_length(c->uc->s->out) > ROUTER_HIGH_WATER) {
			rstream_read(s, 0);
			c->c_paused = 1;
		}
		break;
	case CS_CLOSING:
		evbuffer_drain(s->in, evbuffer_get_length(s->in));
		break;
	default:
		break;
	}
}

static void
client_write_cb(struct rstream *s, void *arg)
{
	struct conn *c = arg;

	if (c->state == CS_CLOSING) {
		router_conn_close(c);
		return;
	}
	if (!c->u_paused || c->uc == NULL)
		return;
	c->u_paused = 0;
	rstream_read(c->uc->s, 1);
	if (c->state == CS_PROXY) {
		router_proxy_timer(c);
		router_proxy_response_read(c);
	} else if (c->state == CS_TUNNEL)
		evbuffer_add_buffer(s->out, c->uc->s->in);
}

static void
client_event_cb(struct rstream *s, enum rstream_event ev, void *arg)
{
	struct conn *c = arg;

	/* A client that shut its side down after a whole request (printf |
	 * nc) still gets the answer; the connection closes after it. */
	if (ev == RSTREAM_EOF && c->in_request && (c->req_done || c->body_complete) &&
	    (c->state == CS_HELD || c->state == CS_CONNECT || c->state == CS_PROXY)) {
		c->close_after = 1;
		c->keepalive = 0;
		rstream_read(s, 0);
		return;
	}
	router_conn_close(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	switch (c->state) {
	case CS_HEAD:
		if (evbuffer_get_length(c->cs->in) == 0) {
			router_conn_close(c); /* idle keep-alive connection */
			return;
		}
		if (!c->in_request)
			router_conn_request_begin(c);
		router_conn_reply(c, 408, 1);
		return;
	case CS_HELD:
		router_hold_end(c);
		router_conn_reply(c, 503, 0);
		break;
	case CS_CONNECT:
		if (c->resend) {
			router_upstream_resend(c);
			break;
		}
		c->timed_out = 1;
		router_conn_attempt_end(c, 1);
		router_upstream_free(take_ptr(&c->uc));
		router_upstream_dispatch(c);
		break;
	case CS_PROXY:
		if (c->resp_head) {
			/* Stalled in the middle of a response: the upstream
			 * stopped sending, or the client stopped reading. */
			router_conn_attempt_end(c, !c->u_paused);
			router_upstream_free(take_ptr(&c->uc));
			if (c->u_paused)
				router_conn_close(c);
			else
				router_conn_close_after_write(c);
			return;
		}
		if (!c->req_done) {
			/* The client stopped sending its body. */
			router_conn_attempt_end(c, 0);
			router_upstream_free(take_ptr(&c->uc));
			router_conn_reply(c, 408, 1);
			return;
		}
		router_conn_attempt_end(c, 1);
		router_upstream_free(take_ptr(&c->uc));
		router_conn_reply(c, 504, 0);
		break;
	case CS_CLOSING:
		router_conn_close(c);
		return;
	default:
		return;
	}
	if (c->state == CS_HEAD)
		router_conn_process(c);
}

/* --- the worker's side --- */

void
router_conn_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa, socklen_t salen,
                   int tls)
{
	struct conn *c;
	SSL *ssl = NULL;
	int status;

	if (tls && (ssl = router_tls_ssl_new(w->r->tls, fd)) == NULL) {
		log_warn("tls: no memory for a connection");
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->tls = tls != 0;
	c->cs = rstream_new(w, fd, client_read_cb, client_write_cb, client_event_cb, c);
	if (ssl != NULL)
		rstream_start_tls(c->cs, ssl);
	c->head = evbuffer_new();
	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->client_ip,
		          sizeof(c->client_ip));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->client_ip,
		          sizeof(c->client_ip));
	event_assign(&c->timer, w->base, -1, 0, conn_timer_cb, c);
	router_conn_set_state(c, CS_HEAD);
	TAILQ_INSERT_TAIL(&w->conns, c, link);
	STAT_INC(w->conns_open);
	STAT_INC(w->conns_total);
	if (router_admit(w->r, c->client_ip, &status) < 0) {
		/* Answered at once, before reading: the client learns why. */
		router_conn_request_begin(c);
		router_conn_reply_why(c, status,
		                      status == 429 ? "too many connections from your address"
		                                    : "too many connections",
		                      1);
		return;
	}
	c->admitted = 1;
	router_conn_timer_set(c, w->tv_idle);
}

void
router_conn_table_changed(struct worker *w)
{
	router_upstream_table_changed(w);
	router_hold_table_changed(w);
}

void
router_conn_stop(struct worker *w)
{
	struct timeval tv = {w->r->set.shutdown_timeout_ms / 1000,
	                     (w->r->set.shutdown_timeout_ms % 1000) * 1000};
	struct conn *c, *next;
	size_t i;

	w->stopping = 1;
	for (i = 0; i < w->nlisteners; i++)
		evconnlistener_free(w->listeners[i]);
	w->nlisteners = 0;
	event_del(w->accept_timer);
	evtimer_add(w->stop_timer, &tv);
	router_upstream_pool_clear(w);
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CS_HEAD && evbuffer_get_length(c->cs->in) == 0)
			router_conn_close(c);
		else if (c->state == CS_HELD) {
			router_hold_end(c);
			router_conn_reply(c, 503, 1);
		}
	}
	if (TAILQ_EMPTY(&w->conns))
		event_base_loopexit(w->base, NULL);
}

void
router_conn_close_all(struct worker *w)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&w->conns)) != NULL)
		router_conn_close(c);
	router_upstream_pool_clear(w);
}
