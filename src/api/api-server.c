#include "api/api-server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/util.h"

/* One client connection. evhttp makes and frees the connection; the server
 * learns of it when evhttp asks for its bufferevent (api_server_bevcb) and
 * of its end through the connection's close callback, which it owns. */
struct api_conn {
	struct api_server *server;       /* borrowed */
	struct bufferevent *bev;         /* borrowed from evhttp (referenced until attached) */
	struct evhttp_connection *evcon; /* borrowed; NULL until attached */
	struct event *deadline;          /* owned: the header/idle timer */
	api_conn_close_fn user_closecb;  /* a handler's, see api_req_set_closecb() */
	void *user_arg;                  /* the handler's */
	int attached;                    /* evcon is known and its close callback ours */
	int over_limit;                  /* accepted beyond max_connections: answer 503 */
	int closed;                      /* evhttp freed it; on the dead list */
	struct api_conn *prev, *next;    /* the server's list (live or dead) */
};

struct api_server {
	struct evhttp *http;                   /* owned */
	struct event_base *base;               /* borrowed */
	const struct api_route *const *tables; /* borrowed, static */
	api_auth_fn auth;
	api_hold_fn hold;
	api_role_fn role;
	void *ctx; /* borrowed */
	int port;
	struct api_server_limits limits;
	struct api_conn *conns;  /* owned list: open connections, newest first */
	struct api_conn *dead;   /* owned list: closed, freed on a later loop pass */
	int n_conns;             /* length of conns */
	struct event *attach_ev; /* owned: attaches the connections just accepted */
	struct event *reap_ev;   /* owned: frees the dead list */
};

static const char *const api_method_names[] = {"GET", "POST", "PUT", "DELETE"};

static void
api_conn_link(struct api_conn **head, struct api_conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head != NULL)
		(*head)->prev = c;
	*head = c;
}

static void
api_conn_unlink(struct api_conn **head, struct api_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* (Re)starts the time c has to send a whole request; an over-limit
 * connection gets at most a second, it is only there to be told 503. */
static void
api_conn_arm_deadline(struct api_conn *c)
{
	int ms = c->server->limits.header_timeout_ms;
	struct timeval tv;

	if (c->over_limit && (ms <= 0 || ms > 1000))
		ms = 1000;
	if (ms <= 0)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(c->deadline, &tv);
}

/* evhttp frees the connection: tell the handler that asked, then forget it
 * (on a later loop pass: this may run inside c's own deadline callback). */
static void
api_conn_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct api_conn *c = arg;
	struct api_server *s = c->server;
	api_conn_close_fn fn = c->user_closecb;

	c->user_closecb = NULL;
	if (fn != NULL)
		fn(evcon, c->user_arg);
	event_del(c->deadline);
	api_conn_unlink(&s->conns, c);
	s->n_conns--;
	c->closed = 1;
	c->evcon = NULL;
	api_conn_link(&s->dead, c);
	event_active(s->reap_ev, 0, 0);
}

static void
api_conn_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct api_conn *c = arg;

	(void)fd;
	(void)what;
	log_debug("api: a client sent no whole request in time; closing its connection");
	/* Calls api_conn_on_close(), which puts c on the dead list. */
	evhttp_connection_free(c->evcon);
}

static void
api_server_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct api_server *s = arg;
	struct api_conn *c;

	(void)fd;
	(void)what;
	while ((c = s->dead) != NULL) {
		api_conn_unlink(&s->dead, c);
		event_free(c->deadline);
		free(c);
	}
}

/* Learns the evhttp connection of each bufferevent handed out since the last
 * pass: evhttp set it as the callbacks' argument. This runs in the same loop
 * pass as the accept, before any read on the new connections. */
static void
api_server_on_attach(evutil_socket_t fd, short what, void *arg)
{
	struct api_server *s = arg;
	struct api_conn *c, *next;

	(void)fd;
	(void)what;
	for (c = s->conns; c != NULL; c = next) {
		bufferevent_data_cb readcb = NULL;
		void *cbarg = NULL;

		next = c->next;
		if (c->attached)
			continue;
		bufferevent_getcb(c->bev, &readcb, NULL, NULL, &cbarg);
		if (readcb == NULL || cbarg == NULL) {
			/* evhttp gave up on it (out of memory) and freed it: our
			 * reference was the last. */
			bufferevent_decref(c->bev);
			api_conn_unlink(&s->conns, c);
			s->n_conns--;
			event_free(c->deadline);
			free(c);
			continue;
		}
		c->evcon = cbarg;
		c->attached = 1;
		evhttp_connection_set_closecb(c->evcon, api_conn_on_close, c);
		bufferevent_decref(c->bev);
		api_conn_arm_deadline(c);
	}
}

/* evhttp's hook for the bufferevent of each accepted connection (the same
 * kind it makes without one): where the server counts connections. */
static struct bufferevent *
api_server_bevcb(struct event_base *base, void *arg)
{
	struct api_server *s = arg;
	struct api_conn *c = xcalloc(1, sizeof *c);

	c->server = s;
	c->bev = bufferevent_socket_new(base, -1, 0);
	if (c->bev == NULL)
		log_fatal("bufferevent_socket_new failed");
	/* Kept alive until attached, whatever evhttp does with it meanwhile. */
	bufferevent_incref(c->bev);
	c->deadline = evtimer_new(base, api_conn_on_deadline, c);
	api_conn_link(&s->conns, c);
	s->n_conns++;
	if (s->limits.max_connections > 0 && s->n_conns > s->limits.max_connections)
		c->over_limit = 1;
	event_active(s->attach_ev, 0, 0);
	return c->bev;
}

/* The record of evcon, or NULL. */
static struct api_conn *
api_server_conn_of(struct api_server *s, struct evhttp_connection *evcon)
{
	for (struct api_conn *c = s->conns; c != NULL && evcon != NULL; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

/* The answer went out and the connection stays open for another request:
 * it has the header timeout again to send one. */
static void
api_on_complete(struct evhttp_request *req, void *arg)
{
	struct api_conn *c = arg;

	(void)req;
	if (!c->closed && c->attached)
		api_conn_arm_deadline(c);
}

void
api_conn_set_closecb(struct api_conn *c, api_conn_close_fn fn, void *arg)
{
	if (c == NULL || c->closed)
		return;
	c->user_closecb = fn;
	c->user_arg = arg;
}

void
api_req_set_closecb(struct api_req *r, api_conn_close_fn fn, void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);

	if (r->conn != NULL)
		api_conn_set_closecb(r->conn, fn, arg);
	else if (evcon != NULL)
		/* Not a connection of ours (no server): evhttp's own. */
		evhttp_connection_set_closecb(evcon, fn, arg);
}

void
api_server_set_hold(struct api_server *s, api_hold_fn hold)
{
	s->hold = hold;
}

void
api_server_set_role(struct api_server *s, api_role_fn role)
{
	s->role = role;
}

void
api_server_set_limits(struct api_server *s, const struct api_server_limits *limits)
{
	s->limits = *limits;
}

int
api_server_connections(const struct api_server *s)
{
	return s->n_conns;
}

static int
api_method_of(struct evhttp_request *req, enum api_method *m)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		*m = API_GET;
		return 0;
	case EVHTTP_REQ_POST:
		*m = API_POST;
		return 0;
	case EVHTTP_REQ_PUT:
		*m = API_PUT;
		return 0;
	case EVHTTP_REQ_DELETE:
		*m = API_DELETE;
		return 0;
	default:
		return -1;
	}
}

/* Matches path against pattern; on a match fills the captures (decoded). */
static int
api_match(const char *pattern, const char *path, struct api_req *r)
{
	const char *p = pattern, *s = path;
	int n = 0;

	while (*p != '\0' && *s != '\0') {
		if (p[0] == '{' && p[1] == '}') {
			const char *end = strchr(s, '/');
			size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
			char *raw;

			if (len == 0 || n == API_MAX_CAPTURES)
				goto fail;
			raw = xstrndup(s, len);
			r->captures[n] = evhttp_uridecode(raw, 0, NULL);
			free(raw);
			if (r->captures[n] == NULL)
				goto fail;
			n++;
			p += 2;
			s += len;
			continue;
		}
		if (*p != *s)
			goto fail;
		p++;
		s++;
	}
	/* A trailing slash is tolerated. */
	if (*p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'))) {
		r->n_captures = n;
		return 1;
	}
fail:
	for (int i = 0; i < n; i++) {
		free(r->captures[i]);
		r->captures[i] = NULL;
	}
	return 0;
}

static void
api_req_free(struct api_req *r)
{
	for (int i = 0; i < r->n_captures; i++)
		free(r->captures[i]);
	free(r);
}

/* An answer to a write, made and waiting for the hold hook. */
struct api_held {
	struct api_req *r; /* borrowed; NULL once its connection closed */
	int status;
	struct evbuffer *body; /* owned */
};

static void
api_held_free(struct api_held *h)
{
	evbuffer_free(h->body);
	free(h);
}

/* The connection of a held answer closed: r goes now, the hold's release
 * finds it gone. */
static void
api_held_on_close(struct evhttp_connection *conn, void *arg)
{
	struct api_held *h = arg;
	struct api_req *r = take_ptr(&h->r);

	(void)conn;
	r->held = 0;
	if (evhttp_request_get_connection(r->req) == NULL)
		/* Detached: sending frees it (nothing goes out). */
		evhttp_send_reply(r->req, 503, NULL, NULL);
	if (!r->in_handler)
		api_req_free(r);
}

static void
api_held_release(void *held, int failed)
{
	struct api_held *h = held;
	struct api_req *r = take_ptr(&h->r);

	if (r == NULL) {
		api_held_free(h);
		return;
	}
	api_req_set_closecb(r, NULL, NULL);
	r->held = 0;
	if (failed) {
		/* What it answers for may be lost: not that answer. */
		static const char msg[] = "{\"error\":{\"code\":\"store_failed\",\"message\":"
		                          "\"the store could not make the change durable\"}}\n";

		evbuffer_drain(h->body, evbuffer_get_length(h->body));
		evbuffer_add(h->body, msg, sizeof msg - 1);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Connection", "close");
		evhttp_send_reply(r->req, 503, NULL, h->body);
	} else {
		evhttp_send_reply(r->req, h->status, NULL, h->body);
	}
	if (!r->in_handler)
		api_req_free(r);
	api_held_free(h);
}

/* Sends the reply (an answer to a write once the hold hook lets it) and
 * frees r unless its handler is still running. */
static void
api_send(struct api_req *r, int status, const char *content_type, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	if (r->replied) {
		log_error("api: second reply to %s ignored", r->path);
		return;
	}
	r->replied = 1;
	if (content_type != NULL)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	/* (A request whose connection closed sends nothing: no hold.) */
	if (r->method != API_GET && r->server != NULL && r->server->hold != NULL &&
	    evhttp_request_get_connection(r->req) != NULL) {
		struct api_held *held = xcalloc(1, sizeof *held);

		held->r = r;
		held->status = status;
		held->body = evbuffer_new();
		evbuffer_add_buffer(held->body, body);
		r->held = 1;
		api_req_set_closecb(r, api_held_on_close, held);
		if (r->server->hold(r->server->ctx, api_held_release, held))
			return;
		api_req_set_closecb(r, NULL, NULL);
		r->held = 0;
		evbuffer_add_buffer(body, held->body);
		held->r = NULL;
		api_held_free(held);
	}
	evhttp_send_reply(r->req, status, NULL, body);
	if (!r->in_handler)
		api_req_free(r);
}

void
api_reply_json(struct api_req *r, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);

	if (text == NULL)
		log_fatal("api: cannot encode a JSON reply");
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	json_decref(body);
	api_send(r, status, "application/json", buf);
	evbuffer_free(buf);
}

void
api_reply_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api_reply_json(r, status,
	               json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void
api_reply_text(struct api_req *r, int status, const char *content_type, const char *body,
               size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (body != NULL)
		evbuffer_add(buf, body, len);
	api_send(r, status, content_type, buf);
	evbuffer_free(buf);
}

void
api_reply_ref(struct api_req *r, int status, const char *content_type, const void *data, size_t len,
              void (*done)(const void *data, size_t len, void *arg), void *arg)
{
	struct evbuffer *buf = evbuffer_new();

	if (evbuffer_add_reference(buf, data, len, done, arg) < 0)
		log_fatal("api: cannot reference an answer");
	api_send(r, status, content_type, buf);
	evbuffer_free(buf);
}

void
api_req_release(struct api_req *r)
{
	r->replied = 1;
	if (!r->in_handler)
		api_req_free(r);
}

json_t *
api_req_json(struct api_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	json_t *v;

	if (len > API_MAX_BODY) {
		api_reply_error(r, 413, "too_large", "the request body is larger than %d bytes",
		                API_MAX_BODY);
		return NULL;
	}
	if (len == 0) {
		api_reply_error(r, 400, "bad_json", "the request needs a JSON object body");
		return NULL;
	}
	v = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		/* Not jansson's text: it quotes the body, which may hold a secret. */
		api_reply_error(r, 400, "bad_json", "malformed JSON at line %d, column %d",
		                jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		api_reply_error(r, 400, "bad_json", "the request body must be a JSON object");
		return NULL;
	}
	return v;
}

char *
api_req_query(struct api_req *r, const char *key)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	const char *v;
	char *out = NULL;

	if (q == NULL)
		return NULL;
	params.tqh_first = NULL;
	params.tqh_last = &params.tqh_first;
	if (evhttp_parse_query_str(q, &params) == 0) {
		v = evhttp_find_header(&params, key);
		if (v != NULL)
			out = xstrdup(v);
	}
	evhttp_clear_headers(&params);
	return out;
}

/* The bearer token of req, or NULL. */
static const char *
api_bearer(struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h != '\0' ? h : NULL;
}

static void
api_dispatch(struct evhttp_request *req, void *arg)
{
	struct api_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw_path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const struct api_route *route = NULL;
	struct api_req *r = xcalloc(1, sizeof *r);
	const char *role = s->role != NULL ? s->role(s->ctx) : NULL;
	int path_matched = 0;

	r->req = req;
	r->server = s;
	r->conn = api_server_conn_of(s, evhttp_request_get_connection(req));
	r->ctx = s->ctx;
	r->path = raw_path != NULL ? raw_path : "/";
	r->in_handler = 1;
	if (role != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Berth-Role", role);

	if (r->conn != NULL) {
		/* The request is in: the handler's time is not the client's. */
		event_del(r->conn->deadline);
		evhttp_request_set_on_complete_cb(req, api_on_complete, r->conn);
		if (r->conn->over_limit) {
			struct evkeyvalq *h = evhttp_request_get_output_headers(req);

			evhttp_add_header(h, "Connection", "close");
			evhttp_add_header(h, "Retry-After", "1");
			api_reply_error(r, 503, "too_many_connections",
			                "the server has %d connections open, its limit; try again "
			                "later",
			                s->limits.max_connections);
			goto out;
		}
	}
	if (api_method_of(req, &r->method) < 0) {
		api_reply_error(r, 405, "method_not_allowed", "this method is not supported");
		goto out;
	}
	for (const struct api_route *const *t = s->tables; *t != NULL && route == NULL; t++) {
		for (const struct api_route *e = *t; e->pattern != NULL; e++) {
			if (!api_match(e->pattern, r->path, r))
				continue;
			path_matched = 1;
			if (e->method == r->method) {
				route = e;
				break;
			}
			for (int i = 0; i < r->n_captures; i++) {
				free(r->captures[i]);
				r->captures[i] = NULL;
			}
			r->n_captures = 0;
		}
	}
	if (route == NULL) {
		if (path_matched)
			api_reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s",
			                api_method_names[r->method], r->path);
		else
			api_reply_error(r, 404, "not_found", "no such endpoint: %s", r->path);
		goto out;
	}
	if (!(route->flags & API_PUBLIC)) {
		const char *token = api_bearer(req);

		if (token == NULL || s->auth == NULL || s->auth(s->ctx, token, &r->who) < 0) {
			evhttp_add_header(evhttp_request_get_output_headers(req),
			                  "WWW-Authenticate", "Bearer");
			api_reply_error(r, 401, "unauthorized",
			                token == NULL ? "this endpoint needs a bearer token"
			                              : "the token is not valid");
			goto out;
		}
	}
	if ((route->flags & API_LEADER_ONLY) && role != NULL && strcmp(role, "leader") != 0) {
		api_reply_error(
		    r, 503, "not_leader",
		    "this berthd is a follower replica: ask the leader (GET /api/v1/host "
		    "says where it is)");
		goto out;
	}
	route->handler(r);
out:
	r->in_handler = 0;
	if (r->replied && !r->held)
		api_req_free(r);
}

int
api_server_new(struct event_base *base, const char *addr, int port,
               const struct api_route *const *tables, api_auth_fn auth, void *ctx,
               struct api_server **out, struct err *err)
{
	struct api_server *s = xcalloc(1, sizeof *s);
	struct evhttp_bound_socket *sock;

	s->http = evhttp_new(base);
	if (s->http == NULL)
		log_fatal("evhttp_new failed");
	s->base = base;
	s->limits.max_connections = API_MAX_CONNECTIONS_DEFAULT;
	s->limits.header_timeout_ms = API_HEADER_TIMEOUT_MS_DEFAULT;
	s->attach_ev = event_new(base, -1, 0, api_server_on_attach, s);
	s->reap_ev = event_new(base, -1, 0, api_server_on_reap, s);
	evhttp_set_bevcb(s->http, api_server_bevcb, s);
	s->tables = tables;
	s->auth = auth;
	s->ctx = ctx;
	evhttp_set_max_body_size(s->http, API_MAX_BODY + 1);
	evhttp_set_max_headers_size(s->http, 64 * 1024);
	evhttp_set_timeout(s->http, 60);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(s->http, api_dispatch, s);
	sock = evhttp_bind_socket_with_handle(s->http, addr, (ev_uint16_t)port);
	if (sock == NULL) {
		int e = errno;
		api_server_free(s);
		return err_make(err, e, "listen on %s:%d", addr, port);
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);
		int one = 1;

		/* Accepted connections inherit it: answers of a few segments
		 * must not wait for the client's delayed ACK (Nagle). */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			s->port =
			    ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			                                   : ((struct sockaddr_in *)&ss)->sin_port);
	}
	*out = s;
	return 0;
}

int
api_server_port(const struct api_server *s)
{
	return s->port;
}

void
api_server_free(struct api_server *s)
{
	if (s == NULL)
		return;
	/* Frees every connection: each close callback puts its record on the
	 * dead list. */
	evhttp_free(s->http);
	api_server_on_attach(-1, 0, s); /* none is left unattached after this */
	api_server_on_reap(-1, 0, s);
	event_free(s->attach_ev);
	event_free(s->reap_ev);
	free(s);
}
