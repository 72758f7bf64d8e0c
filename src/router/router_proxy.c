/* router_proxy: one exchange once its upstream is connected. The request body
 * goes out as far as its framing was checked, with backpressure both ways
 * (ROUTER_HIGH_WATER) and the exchange's timer on whoever must act next; the
 * response head is read, checked and rewritten, and its body streamed
 * (decoded for an HTTP/1.0 client); a 101 turns the exchange into a tunnel;
 * at its end the upstream connection is pooled or closed and the client's
 * next request is read.
 */
#include <limits.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/util.h"
#include "router/router-conn-int.h"

/* The timer of an exchange: whoever must act next gets a deadline. */
void
router_proxy_timer(struct conn *c)
{
	if (c->u_paused)
		router_conn_timer_set(c, c->w->tv_idle); /* the client must read */
	else if (!c->req_done && !c->resp_head)
		router_conn_timer_set(c, c->w->tv_body); /* the client must send its body */
	else
		router_conn_timer_set(c,
		                      c->w->tv_response); /* the upstream must answer, or go on */
}

/* A request body broke its framing: the upstream connection, if any, is
 * reset (whatever it got was a valid beginning, and no more comes), the
 * client gets a 400 if it has no response yet, else is cut. */
void
router_proxy_body_failed(struct conn *c, const struct err *err)
{
	log_debug("bad request body from %s: %s", c->client_ip, err->msg);
	router_conn_attempt_end(c, 0);
	router_upstream_abort(take_ptr(&c->uc));
	if (!c->resp_head)
		router_conn_reply_why(c, 400, err->msg, 1);
	else
		router_conn_close(c);
}

/* Feeds the request body the client sent so far to the upstream: only
 * bytes the framing check passed. Returns -1 when it ended the exchange. */
int
router_proxy_forward_body(struct conn *c)
{
	struct evbuffer *out = c->uc->s->out;
	struct err err = ERR_INIT;
	int moved = 0;

	if (router_h1_body_scan(c, &err) < 0) {
		router_proxy_body_failed(c, &err);
		return -1;
	}
	if (c->body_ready > 0) {
		evbuffer_remove_buffer(c->cs->in, out, c->body_ready);
		c->body_ready = 0;
		c->body_sent = 1;
		moved = 1;
	}
	if (c->body_complete && !c->req_done) {
		c->req_done = 1;
		moved = 1;
	}
	if (moved) /* the body timeout counts from the last byte */
		router_proxy_timer(c);
	if (!c->req_done && evbuffer_get_length(out) > ROUTER_HIGH_WATER) {
		rstream_read(c->cs, 0);
		c->c_paused = 1;
	}
	return 0;
}

/* The response is complete: pool the upstream, wait for the next request. */
void
router_proxy_exchange_done(struct conn *c)
{
	struct worker *w = c->w;
	struct upconn *uc = take_ptr(&c->uc);
	int reuse = c->req_done && !c->resp_eof && !c->upgrade && http_should_keep_alive(&c->sp);

	router_conn_attempt_end(c, 0);
	router_conn_request_end(c);
	if (reuse)
		router_upstream_pool_put(uc);
	else
		router_upstream_free(uc);
	if (c->close_after || !c->keepalive || w->stopping) {
		router_conn_close_after_write(c);
		return;
	}
	router_conn_set_state(c, CS_HEAD);
	c->head_started = 0;
	c->scanned = 0;
	router_conn_timer_set(c, w->tv_idle);
	if (c->c_paused) {
		c->c_paused = 0;
		rstream_read(c->cs, 1);
	}
	router_conn_process(c);
}

static void
conn_tunnel(struct conn *c)
{
	struct evbuffer *uin = c->uc->s->in;
	struct evbuffer *cin = c->cs->in;

	router_conn_set_state(c, CS_TUNNEL);
	c->status = 101;
	event_del(&c->timer);
	evbuffer_add_buffer(c->cs->out, uin);
	evbuffer_add_buffer(c->uc->s->out, cin);
	if (c->c_paused) {
		c->c_paused = 0;
		rstream_read(c->cs, 1);
	}
}

/* A small answer goes to the client only once it is whole: an upstream that
 * dies in the middle of it (killed, its enclave stopped) costs the client
 * nothing when the request may be sent again, it is resent
 * (conn_upstream_failed) as if no byte had come; any other gets a 502, never
 * half an answer. Returns 1 to wait for more. */
static int
conn_hold_answer(struct conn *c, size_t head_len, size_t have)
{
	uint64_t len = c->sp.content_length;

	c->resp_held = 0;
	if ((c->sp.flags & F_CHUNKED) || len == ULLONG_MAX || len > ROUTER_HOLD_MAX ||
	    have >= head_len + len)
		return 0;
	c->resp_held = 1;
	return 1;
}

/* Forwards what the upstream sent: the response head, then its body. */
void
router_proxy_response_read(struct conn *c)
{
	struct worker *w = c->w;
	struct evbuffer *in = c->uc->s->in;
	struct evbuffer *out = c->cs->out;
	enum http_errno e;

	while (!c->resp_head) {
		size_t len = evbuffer_get_length(in), want, n, np;
		const char *p;
		int paused;

		if (len == 0)
			return;
		want = len < ROUTER_RESP_HEAD_MAX + 2 ? len : ROUTER_RESP_HEAD_MAX + 2;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
		n = router_h1_head_end(p, want, &c->rscanned);
		if (n == 0) {
			if (len > ROUTER_RESP_HEAD_MAX)
				goto bad;
			return;
		}
		c->rscanned = 0;
		router_h1_scratch_reset(w);
		http_parser_init(&c->sp, HTTP_RESPONSE);
		c->sp.data = c;
		np = http_parser_execute(&c->sp, &router_h1_head_settings, p, n);
		e = HTTP_PARSER_ERRNO(&c->sp);
		if ((e != HPE_OK && e != HPE_PAUSED) || !w->head_complete || np != n ||
		    w->hdr_overflow)
			goto bad;
		for (np = 0; np < w->nhdrs; np++)
			if (!router_h1_header_valid(&w->hdrs[np]))
				goto bad;
		paused = e == HPE_PAUSED;
		if (paused)
			http_parser_pause(&c->sp, 0);
		if (c->sp.status_code >= 100 && c->sp.status_code < 200 &&
		    c->sp.status_code != 101) {
			/* Interim responses pass as they are. */
			evbuffer_remove_buffer(in, out, n);
			continue;
		}
		if (c->sp.status_code == 101) {
			if (!c->upgrade)
				goto bad;
			evbuffer_remove_buffer(in, out, n);
			conn_tunnel(c);
			return;
		}
		if (!paused && conn_hold_answer(c, n, len))
			return;
		c->resp_eof = router_h1_response_needs_eof(c);
		c->dechunk = c->rp.http_minor == 0 && (c->sp.flags & F_CHUNKED) && !paused;
		if (!c->req_done || c->resp_eof || c->upgrade || c->dechunk)
			c->close_after = 1;
		c->status = c->sp.status_code;
		router_h1_write_response_head(c, p, n);
		evbuffer_drain(in, n);
		c->resp_head = 1;
		if (paused) {
			c->resp_done = 1;
			router_proxy_exchange_done(c);
			return;
		}
	}
	while (!c->resp_done && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = http_parser_execute(
		    &c->sp, c->dechunk ? &router_h1_dechunk_settings : &router_h1_body_settings,
		    v.iov_base, v.iov_len);
		e = HTTP_PARSER_ERRNO(&c->sp);
		if (e != HPE_OK && e != HPE_PAUSED) {
			log_warn("bad response body from %s: %s", c->up->address,
			         http_errno_name(e));
			router_conn_attempt_end(c, 1);
			router_upstream_free(take_ptr(&c->uc));
			router_conn_close_after_write(c);
			return;
		}
		if (n > 0 && c->dechunk)
			evbuffer_drain(in, n);
		else if (n > 0)
			evbuffer_remove_buffer(in, out, n);
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->sp, 0);
			c->resp_done = 1;
		}
	}
	if (c->resp_done) {
		router_proxy_exchange_done(c);
		return;
	}
	if (evbuffer_get_length(out) > ROUTER_HIGH_WATER) {
		rstream_read(c->uc->s, 0);
		c->u_paused = 1;
	}
	router_proxy_timer(c);
	return;
bad:
	log_warn("bad response from %s", c->up->address);
	router_conn_attempt_end(c, 1);
	router_upstream_free(take_ptr(&c->uc));
	router_conn_reply(c, 502, !c->req_done);
	if (c->state == CS_HEAD)
		router_conn_process(c);
}
