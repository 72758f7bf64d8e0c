#include "api/sse.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-server.h"
#include "common/log.h"
#include "common/util.h"

struct sse_stream {
	struct sse_hub *hub;        /* borrowed */
	struct evhttp_request *req; /* borrowed from evhttp until the stream ends */
	struct api_conn *conn;      /* borrowed: the server's record, or NULL */
	char org_id[65];
	int dropping; /* its reader fell behind: closed on the hub's next reap */
	struct sse_stream *next;
};

struct sse_hub {
	struct event_base *base;    /* borrowed */
	struct event *keepalive;    /* owned */
	struct event *reap;         /* owned: closes the dropping streams */
	struct sse_stream *streams; /* owned list */
	struct sse_limits limits;
	int count;
	uint64_t dropped;
};

static void
sse_unlink(struct sse_hub *hub, struct sse_stream *s)
{
	for (struct sse_stream **pp = &hub->streams; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			hub->count--;
			return;
		}
	}
}

/* The client went away. libevent detaches a request whose reply is still
 * being sent from its failed connection and leaves it to us: ending the reply
 * of a detached request frees it. */
static void
sse_on_close(struct evhttp_connection *conn, void *arg)
{
	struct sse_stream *s = arg;

	(void)conn;
	sse_unlink(s->hub, s);
	if (evhttp_request_get_connection(s->req) == NULL)
		evhttp_send_reply_end(s->req);
	free(s);
}

/* Bytes written to s that its client has not taken yet (what evhttp's
 * bufferevent still holds; the kernel's socket buffer comes on top). */
static size_t
sse_buffered(struct sse_stream *s)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(s->req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;

	return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void
sse_write(struct sse_stream *s, const char *text, size_t len)
{
	struct evbuffer *b;
	size_t waiting;

	if (s->dropping)
		return;
	b = evbuffer_new();
	evbuffer_add(b, text, len);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
	waiting = sse_buffered(s);
	if (s->hub->limits.max_buffered > 0 && waiting > s->hub->limits.max_buffered) {
		/* Holding more for it would let one stalled reader grow berthd
		 * without bound; the others must not wait for it either. */
		s->dropping = 1;
		s->hub->dropped++;
		log_warn("events: dropping a stream of org %s: its reader is %zu bytes behind "
		         "(the bound is %zu)",
		         s->org_id, waiting, s->hub->limits.max_buffered);
		event_active(s->hub->reap, 0, 0);
	}
}

static int
sse_listed(const struct sse_hub *hub, const struct sse_stream *s)
{
	for (const struct sse_stream *p = hub->streams; p != NULL; p = p->next)
		if (p == s)
			return 1;
	return 0;
}

/* Closes the connections of the dropping streams, outside the callbacks that
 * marked them (a publish walks the list). */
static void
sse_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct sse_hub *hub = arg;

	(void)fd;
	(void)what;
	for (;;) {
		struct sse_stream *s = hub->streams;
		struct evhttp_connection *conn;

		while (s != NULL && !s->dropping)
			s = s->next;
		if (s == NULL)
			return;
		conn = evhttp_request_get_connection(s->req);
		if (conn != NULL)
			/* Calls sse_on_close(), which unlinks and frees s. */
			evhttp_connection_free(conn);
		if (sse_listed(hub, s)) {
			/* Not closed through us after all: let it go anyway. */
			sse_unlink(hub, s);
			free(s);
		}
	}
}

static void
sse_on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct sse_hub *hub = arg;

	(void)fd;
	(void)what;
	for (struct sse_stream *s = hub->streams; s != NULL; s = s->next)
		sse_write(s, ": keepalive\n\n", 13);
}

struct sse_hub *
sse_hub_new(struct event_base *base, int64_t keepalive_ms, const struct sse_limits *limits)
{
	struct sse_hub *hub = xcalloc(1, sizeof *hub);
	struct timeval tv = {(time_t)(keepalive_ms / 1000),
	                     (suseconds_t)(keepalive_ms % 1000) * 1000};

	hub->base = base;
	hub->limits.max_per_org = SSE_MAX_PER_ORG_DEFAULT;
	hub->limits.max_buffered = SSE_MAX_BUFFERED_DEFAULT;
	if (limits != NULL)
		hub->limits = *limits;
	hub->keepalive = event_new(base, -1, EV_PERSIST, sse_on_keepalive, hub);
	hub->reap = event_new(base, -1, 0, sse_on_reap, hub);
	event_add(hub->keepalive, &tv);
	return hub;
}

int
sse_hub_subscribe(struct sse_hub *hub, struct api_req *r, const char *org_id)
{
	struct evhttp_request *req = r->req;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct sse_stream *s;
	int open = 0;

	for (s = hub->streams; s != NULL; s = s->next)
		if (!s->dropping && strcmp(s->org_id, org_id) == 0)
			open++;
	if (hub->limits.max_per_org > 0 && open >= hub->limits.max_per_org) {
		api_reply_error(r, 429, "too_many_streams",
		                "the org has %d event streams open, its limit; close one first",
		                open);
		return -1;
	}
	s = xcalloc(1, sizeof *s);
	s->hub = hub;
	s->req = req;
	s->conn = r->conn;
	snprintf(s->org_id, sizeof s->org_id, "%s", org_id);
	s->next = hub->streams;
	hub->streams = s;
	hub->count++;
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	/* Streams are long-lived: the server's idle timeout must not cut them. */
	evhttp_connection_set_timeout(conn, -1);
	api_req_set_closecb(r, sse_on_close, s);
	api_req_release(r);
	evhttp_send_reply_start(req, 200, "OK");
	sse_write(s, ": berth events\n\n", 16);
	return 0;
}

void
sse_hub_publish(struct sse_hub *hub, const char *org_id, int64_t id, const char *kind,
                const char *json)
{
	char *msg = NULL;
	int n = 0;

	for (struct sse_stream *s = hub->streams; s != NULL; s = s->next) {
		if (s->dropping || strcmp(s->org_id, org_id) != 0)
			continue;
		if (msg == NULL) {
			msg = xasprintf("id: %lld\nevent: %s\ndata: %s\n\n", (long long)id, kind,
			                json);
			n = (int)strlen(msg);
		}
		sse_write(s, msg, (size_t)n);
	}
	free(msg);
}

int
sse_hub_count(const struct sse_hub *hub)
{
	return hub->count;
}

uint64_t
sse_hub_dropped(const struct sse_hub *hub)
{
	return hub->dropped;
}

void
sse_hub_free(struct sse_hub *hub)
{
	struct sse_stream *s, *next;

	if (hub == NULL)
		return;
	for (s = hub->streams; s != NULL; s = next) {
		struct evhttp_connection *conn = evhttp_request_get_connection(s->req);

		next = s->next;
		if (s->conn != NULL)
			api_conn_set_closecb(s->conn, NULL, NULL);
		else if (conn != NULL)
			evhttp_connection_set_closecb(conn, NULL, NULL);
		evhttp_send_reply_end(s->req);
		free(s);
	}
	event_free(hub->keepalive);
	event_free(hub->reap);
	free(hub);
}
