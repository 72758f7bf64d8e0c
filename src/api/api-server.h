/* api-server: the HTTP server of berthd's REST API, on libevent's evhttp.
 *
 * Routes come from tables of `struct api_route` (one file per group of
 * routes, STYLE.md rule 4). A route's pattern is a path whose `{}` segments
 * capture one path segment each, e.g. "/api/v1/containers/{}/updates".
 * Authentication is the daemon's: the server calls its auth hook with the
 * bearer token and keeps what it answers in the request.
 */
#ifndef BERTH_API_SERVER_H
#define BERTH_API_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

struct event_base;
struct evhttp_connection;
struct evhttp_request;
struct api_server;
struct api_conn;

#define API_MAX_CAPTURES 4
#define API_MAX_BODY     (2 * 1024 * 1024)

/* Defaults of struct api_server_limits. */
#define API_MAX_CONNECTIONS_DEFAULT   1024
#define API_HEADER_TIMEOUT_MS_DEFAULT 15000

enum api_method {
	API_GET,
	API_POST,
	API_PUT,
	API_DELETE,
};

/* Who made a request, as the auth hook found it. */
struct api_principal {
	char org_id[65];
	char org_name[129];
	int admin; /* an admin token may create orgs */
};

struct api_req {
	struct evhttp_request *req; /* borrowed from evhttp */
	struct api_server *server;  /* borrowed */
	struct api_conn *conn;      /* borrowed: the server's record of the connection, or NULL */
	void *ctx;                  /* the daemon's context, borrowed */
	enum api_method method;
	const char *path;                 /* decoded path without query, owned by req */
	char *captures[API_MAX_CAPTURES]; /* owned, decoded path segments */
	int n_captures;
	struct api_principal who; /* valid when the route needs auth */
	int replied;              /* a reply was sent */
	int in_handler;           /* the handler has not returned yet */
	int held;                 /* its reply waits on the hold hook */
};

/* A handler answers with api_reply_*(), now or later: a request not answered
 * when its handler returns belongs to the handler until it is answered; the
 * reply frees it. */
typedef void (*api_handler_fn)(struct api_req *r);

enum api_route_flags {
	API_PUBLIC = 1 << 0,      /* no token needed */
	API_LEADER_ONLY = 1 << 1, /* a follower replica answers 503 not_leader */
};

struct api_route {
	enum api_method method;
	const char *pattern;
	api_handler_fn handler;
	int flags;
};

/* Answers 0 and fills who for a valid token, -1 otherwise. */
typedef int (*api_auth_fn)(void *ctx, const char *token, struct api_principal *who);

/* Starts serving on addr:port with the NULL-terminated list of route tables.
 * Returns 0, or -1 with err when the address cannot be bound. */
int api_server_new(struct event_base *base, const char *addr, int port,
                   const struct api_route *const *tables, api_auth_fn auth, void *ctx,
                   struct api_server **out, struct err *err);

/* What a server allows its clients. */
struct api_server_limits {
	/* Open client connections at most (0: no limit). A connection beyond
	 * it is answered 503 on its first request and closed. */
	int max_connections;
	/* Milliseconds a connection may take, from its accept or the end of
	 * its last answer, to send a whole request (headers and body): a
	 * client that sends nothing, or dribbles, is closed (0: none). */
	int header_timeout_ms;
};

/* Replaces the limits (API_*_DEFAULT until then); applies to connections
 * accepted from now on. */
void api_server_set_limits(struct api_server *s, const struct api_server_limits *limits);

/* Open client connections. */
int api_server_connections(const struct api_server *s);

/* What a held answer calls once it may go: failed 1 when it must not (the
 * server then closes the connection without it). */
typedef void (*api_release_fn)(void *held, int failed);

/* The daemon's hook for the answers to writes (every method but GET): 0
 * to send the answer at once, or 1 when the hook keeps it and calls
 * release(held, failed) later, on the loop, never from inside the hook. */
typedef int (*api_hold_fn)(void *ctx, api_release_fn release, void *held);

/* Sets the hold hook (NULL: none; ctx is the server's). An answer to a
 * write then leaves only once what the write committed is durable. */
void api_server_set_hold(struct api_server *s, api_hold_fn hold);

/* The daemon's replica role, "leader" or "follower", or NULL when it is
 * not one of several replicas. */
typedef const char *(*api_role_fn)(void *ctx);

/* Sets the role hook (NULL: none; ctx is the server's): every answer then
 * says the role in a Berth-Role header, and a follower answers the routes
 * marked API_LEADER_ONLY with 503 not_leader. */
void api_server_set_role(struct api_server *s, api_role_fn role);

/* A connection's close callback, as evhttp_connection_set_closecb() takes. */
typedef void (*api_conn_close_fn)(struct evhttp_connection *conn, void *arg);

/* Calls fn(conn, arg) when the connection of r closes; NULL fn clears it.
 * One callback per connection. The server owns evhttp's close callback of
 * every connection (it counts them): nothing else may set it. */
void api_req_set_closecb(struct api_req *r, api_conn_close_fn fn, void *arg);

/* The same for a connection record kept from a request (api_req.conn). */
void api_conn_set_closecb(struct api_conn *c, api_conn_close_fn fn, void *arg);

/* The port actually bound (useful with port 0). */
int api_server_port(const struct api_server *s);

void api_server_free(struct api_server *s);

/* Parses the JSON object body of r. On failure answers 400/413/415 itself and
 * returns NULL. The caller owns the result. */
json_t *api_req_json(struct api_req *r);

/* A query parameter of r, or NULL; caller frees. */
char *api_req_query(struct api_req *r, const char *key);

/* Answers status with the JSON value (stolen: the reply owns it). */
void api_reply_json(struct api_req *r, int status, json_t *body);

/* Answers {"error": {"code", "message"}} with status. */
void api_reply_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
    BERTH_PRINTF(4, 5);

/* Marks r answered by other means (e.g. an event stream that now owns r->req);
 * frees r unless its handler is still running. */
void api_req_release(struct api_req *r);

/* Answers status with len bytes at data, sent without a copy: data must
 * stay until done(data, len, arg) is called, once the answer no longer
 * needs it (sent, or its connection gone). */
void api_reply_ref(struct api_req *r, int status, const char *content_type, const void *data,
                   size_t len, void (*done)(const void *data, size_t len, void *arg), void *arg);

/* Answers status with a plain-text body (may be NULL for none). */
void api_reply_text(struct api_req *r, int status, const char *content_type, const char *body,
                    size_t len);

#endif
