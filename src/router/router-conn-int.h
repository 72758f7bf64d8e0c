/* router-conn-int: what the files of one client connection share:
 * router_conn.c (its state machine, timers, replies, accept and close),
 * router_h1.c (HTTP/1 heads: parsing, checks, rewriting), router_hold.c
 * (held requests), router_upstream.c (the pool, connecting, retries) and
 * router_proxy.c (the exchange: the body out, the response back, tunnels).
 * Not for other files: they use router-int.h. */
#ifndef BERTH_ROUTER_CONN_INT_H
#define BERTH_ROUTER_CONN_INT_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "common/err.h"
#include "router/chunked.h"
#include "router/router-int.h"

#define RELAXED memory_order_relaxed
/* Counters written by one thread only: a plain add, published atomically. */
#define STAT_ADD(field, n)                                                                         \
	atomic_store_explicit(&(field), atomic_load_explicit(&(field), RELAXED) + (n), RELAXED)
#define STAT_INC(field) STAT_ADD(field, 1)

enum conn_state {
	CS_HEAD,    /* reading a request head, or idle between requests */
	CS_HELD,    /* head read, waiting for the route to serve again */
	CS_CONNECT, /* waiting for the upstream connection (transient) */
	CS_PROXY,   /* request and response streaming */
	CS_TUNNEL,  /* after 101 Switching Protocols: bytes both ways */
	CS_CLOSING, /* writing a last response, then closed */
	CS_DEAD,    /* closed, freed on the next loop pass */
};

struct upconn {
	struct rstream *s;   /* owned */
	struct upstream *up; /* reference */
	struct worker *w;    /* borrowed */
	struct conn *conn;   /* borrowed: the user, NULL while pooled */
	unsigned connected : 1;
	unsigned reused : 1;
	int64_t idle_since_ms;         /* while pooled */
	TAILQ_ENTRY(upconn) slot_link; /* in up->slots[w->id].idle while pooled */
	TAILQ_ENTRY(upconn) idle_link; /* in w->idle while pooled */
};

struct conn {
	struct worker *w;   /* borrowed */
	struct rstream *cs; /* owned: the client */
	struct upconn *uc;  /* owned while serving the request */
	enum conn_state state;
	struct event timer;
	http_parser rp;        /* the request */
	http_parser sp;        /* the response */
	struct evbuffer *head; /* owned: the request head as sent upstream */
	size_t scanned;        /* client input searched for the end of a head */
	size_t rscanned;       /* upstream input searched for the end of a head */
	size_t ntries;         /* upstreams tried for the request */
	/* the request under way */
	struct route_table *table; /* reference while a request is under way */
	const struct route *route; /* in table */
	struct upstream *up;       /* in table: the upstream of the attempt */
	uint64_t tried;            /* bitmask of route->ups indices tried */
	int64_t refused_until_ms;  /* refused by every upstream: waits until then (0: not) */
	int64_t t_start_us;
	int status;
	unsigned in_request : 1;  /* a head was read and its reply is not finished */
	unsigned attempt : 1;     /* counted as started on up */
	unsigned req_done : 1;    /* the request message was forwarded whole */
	unsigned resp_head : 1;   /* the response head was forwarded */
	unsigned resp_held : 1;   /* a head came and waits for its body (ROUTER_HOLD_MAX) */
	unsigned resp_done : 1;   /* the response message was forwarded whole */
	unsigned resp_eof : 1;    /* the response body ends when the upstream closes */
	unsigned keepalive : 1;   /* the client wants the connection kept */
	unsigned close_after : 1; /* close the client after this response */
	unsigned upgrade : 1;
	unsigned is_head : 1;
	unsigned idempotent : 1;
	unsigned body_sent : 1; /* request body bytes went to the upstream */
	unsigned stale_retry : 1;
	unsigned hop : 1;           /* the request came with the hop marker (from a peer router) */
	unsigned head_hop : 1;      /* c->head carries the hop marker (head_hop_len bytes) */
	unsigned empty_retries : 2; /* resends after an empty answer (EMPTY_RETRIES) */
	unsigned resend : 1;        /* CS_CONNECT without uc: a resend to up waits its pause */
	unsigned c_paused : 1;      /* client reading paused for backpressure */
	unsigned u_paused : 1;      /* upstream reading paused for backpressure */
	unsigned timed_out : 1;
	unsigned head_started : 1;  /* the header timeout runs */
	unsigned dechunk : 1;       /* an HTTP/1.0 client gets the chunked body decoded */
	unsigned admitted : 1;      /* counted by router_admit() */
	unsigned body_chunked : 1;  /* the request body is chunked (ck), else body_left long */
	unsigned body_complete : 1; /* the request body was read and checked whole */
	unsigned tls : 1;           /* the client came over TLS */
	uint16_t head_hop_len;
	struct chunked ck;  /* the request body's framing */
	uint64_t body_left; /* Content-Length bytes not yet read */
	size_t body_ready;  /* checked body bytes at the start of cs->in, not yet sent */
	char host[ROUTE_HOST_MAX + 1];
	char client_ip[INET6_ADDRSTRLEN];
	TAILQ_ENTRY(conn) link;      /* in w->conns, or w->dead */
	TAILQ_ENTRY(conn) hold_link; /* in w->held while held */
};

/* router_conn: the state machine, timers, replies, close. */
/* Every state change goes through here: CS_DEAD is final. */
void router_conn_set_state(struct conn *c, enum conn_state st);
/* Arms the connection's one timer for tv. */
void router_conn_timer_set(struct conn *c, const struct timeval *tv);
/* Arms the connection's one timer for ms milliseconds. */
void router_conn_timer_set_ms(struct conn *c, int64_t ms);
/* Counts the attempt on c->up as finished, with an error or not. */
void router_conn_attempt_end(struct conn *c, int error);
/* Starts counting a request read on c. */
void router_conn_request_begin(struct conn *c);
/* Counts the finished request for the route and ends it. */
void router_conn_request_end(struct conn *c);
/* Closes c now; it is freed on a later loop pass. */
void router_conn_close(struct conn *c);
/* Closes the client once its output is written. */
void router_conn_close_after_write(struct conn *c);
/* Answers the current request itself, why (or NULL) as the body; c ends in CS_HEAD or closing. */
void router_conn_reply_why(struct conn *c, int status, const char *why, int force_close);
/* Answers status with body (len bytes) of Content-Type type. */
void router_conn_reply_body(struct conn *c, int status, const char *type, const char *body,
                            size_t len, int force_close);
/* Whether path (len bytes, no query) is the attestation document's. */
int router_attest_wanted(const char *path, size_t len);
/* Answers the request for the attestation document of c->route, which has
 * attestation facts (router_attest.c). */
void router_attest_answer(struct conn *c);
/* Answers the current request itself with the reason phrase as the body. */
void router_conn_reply(struct conn *c, int status, int force_close);
/* Handles the request heads waiting in the client's input, as long as each is answered at once. */
void router_conn_process(struct conn *c);
/* Acts on the request's route: answers, holds or sends it upstream. */
void router_conn_route(struct conn *c);

/* router_h1: HTTP/1 heads and framing. */
/* The http_parser callbacks: a head into the worker's scratch, a body checked, one decoded. */
extern const http_parser_settings router_h1_head_settings, router_h1_body_settings,
    router_h1_dechunk_settings;
/* Finds the end of an HTTP head in p[0..len): its length, or 0; *scanned remembers how far. */
size_t router_h1_head_end(const char *p, size_t len, size_t *scanned);
/* Empties the worker's scratch for parsing one head. */
void router_h1_scratch_reset(struct worker *w);
/* Whether a header field's name is a token and its value holds no control bytes. */
int router_h1_header_valid(const struct hdr *h);
/* Checks the request body read so far into c->body_ready. Returns 0, or -1 with err. */
int router_h1_body_scan(struct conn *c, struct err *err);
/* Whether the response body ends only when the upstream closes. */
int router_h1_response_needs_eof(const struct conn *c);
/* Writes the response head p[0..n) as the client gets it. */
void router_h1_write_response_head(struct conn *c, const char *p, size_t n);
/* Reads, checks and acts on one request head. Returns 1 when c may look for the next one. */
int router_h1_read_request_head(struct conn *c);
/* Adds the hop marker to c->head when c's route forwards to peer routers,
 * removes it when not (a held request may meet either kind of route). */
void router_h1_head_hop(struct conn *c);

/* router_hold: requests held while their route is held. */
/* Holds c's request until its route serves, or answers 503 when the queue is full. */
void router_hold_start(struct conn *c);
/* Takes c off the held queue and its timer (to CS_CONNECT, transient). */
void router_hold_end(struct conn *c);
/* Every upstream refused c's request: holds it (as router_hold_start) until
 * its route's hold_timeout_ms after the first refusal (then 503), or routes it
 * at once by a newer table. 0 when c is taken care of, -1 when the caller
 * answers (the queue full, the worker stopping). */
int router_hold_refused(struct conn *c);
/* Routes the held requests again on the worker's new table, in the order they came. */
void router_hold_table_changed(struct worker *w);

/* router_upstream: upstream connections, pooled per worker and upstream. */
/* Frees uc (NULL is fine). */
void router_upstream_free(struct upconn *uc);
/* Closes uc with a reset, dropping what was not written yet (NULL is fine). */
void router_upstream_abort(struct upconn *uc);
/* Pools uc when the upstream still takes requests, else closes it. */
void router_upstream_pool_put(struct upconn *uc);
/* Closes every pooled connection of the worker. */
void router_upstream_pool_clear(struct worker *w);
/* The timer of a pause before a resend (c->resend): the request again to c->up,
 * on a new connection. */
void router_upstream_resend(struct conn *c);
/* Sends the request to an upstream not tried yet, or answers 502/504. */
void router_upstream_dispatch(struct conn *c);
/* Closes pooled connections to draining upstreams, arms the drain timer for requests on them. */
void router_upstream_table_changed(struct worker *w);

/* router_proxy: the exchange with a connected upstream. */
/* Arms the exchange's timer for whoever must act next. */
void router_proxy_timer(struct conn *c);
/* Resets the upstream and answers 400 (or cuts the client) after a broken request body. */
void router_proxy_body_failed(struct conn *c, const struct err *err);
/* Feeds the checked request body to the upstream. Returns -1 when it ended the exchange. */
int router_proxy_forward_body(struct conn *c);
/* The response is complete: pools the upstream, waits for the next request. */
void router_proxy_exchange_done(struct conn *c);
/* Forwards what the upstream sent: the response head, then its body. */
void router_proxy_response_read(struct conn *c);

#endif
