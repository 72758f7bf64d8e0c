#include "api/sse.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

struct sse_stream {
	struct sse_hub *hub;        /* borrowed */
	struct evhttp_request *req; /* borrowed from evhttp until the stream ends */
	char org_id[65];
	struct sse_stream *next;
};

struct sse_hub {
	struct event_base *base;    /* borrowed */
	struct event *keepalive;    /* owned */
	struct sse_stream *streams; /* owned list */
	int count;
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

static void
sse_write(struct sse_stream *s, const char *text, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, text, len);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
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
sse_hub_new(struct event_base *base, int64_t keepalive_ms)
{
	struct sse_hub *hub = xcalloc(1, sizeof *hub);
	struct timeval tv = {(time_t)(keepalive_ms / 1000),
	                     (suseconds_t)(keepalive_ms % 1000) * 1000};

	hub->base = base;
	hub->keepalive = event_new(base, -1, EV_PERSIST, sse_on_keepalive, hub);
	event_add(hub->keepalive, &tv);
	return hub;
}

void
sse_hub_subscribe(struct sse_hub *hub, struct evhttp_request *req, const char *org_id)
{
	struct sse_stream *s = xcalloc(1, sizeof *s);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);

	s->hub = hub;
	s->req = req;
	snprintf(s->org_id, sizeof s->org_id, "%s", org_id);
	s->next = hub->streams;
	hub->streams = s;
	hub->count++;
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	/* Streams are long-lived: the server's idle timeout must not cut them. */
	evhttp_connection_set_timeout(conn, -1);
	evhttp_connection_set_closecb(conn, sse_on_close, s);
	evhttp_send_reply_start(req, 200, "OK");
	sse_write(s, ": berth events\n\n", 16);
}

void
sse_hub_publish(struct sse_hub *hub, const char *org_id, int64_t id, const char *kind,
                const char *json)
{
	char *msg = NULL;
	int n = 0;

	for (struct sse_stream *s = hub->streams; s != NULL; s = s->next) {
		if (strcmp(s->org_id, org_id) != 0)
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

void
sse_hub_free(struct sse_hub *hub)
{
	struct sse_stream *s, *next;

	if (hub == NULL)
		return;
	for (s = hub->streams; s != NULL; s = next) {
		next = s->next;
		evhttp_connection_set_closecb(evhttp_request_get_connection(s->req), NULL, NULL);
		evhttp_send_reply_end(s->req);
		free(s);
	}
	event_free(hub->keepalive);
	free(hub);
}
