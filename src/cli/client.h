/* client: the HTTP client of berthd's REST API (libcurl, blocking), for the
 * CLI. One client is one connection kept alive between requests. */
#ifndef BERTH_CLIENT_H
#define BERTH_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct client;

/* An answer of the API. */
struct client_resp {
	long status;        /* HTTP status */
	char *body;         /* owned, NUL-terminated; "" when empty */
	size_t len;         /* bytes in body */
	char *content_type; /* owned, or NULL */
	json_t *json;       /* owned: body parsed when it was JSON, else NULL */
};

/* client_request() failures: the server answered with an error status (err
 * holds its sentence), or it could not be reached at all. */
enum {
	CLIENT_EHTTP = -2,
	CLIENT_EREACH = -3,
};

/* A client of the API at url ("http://host:port", no /api/v1) with token
 * (may be NULL); both copied. Returns 0, or -1 with err. */
int client_new(const char *url, const char *token, struct client **out, struct err *err);

/* Frees c and closes its connection. */
void client_free(struct client *c);

/* The base URL c talks to. */
const char *client_url(const struct client *c);

/* Whether c sends a token. */
int client_has_token(const struct client *c);

/* Sends method path (below /api/v1, query included) with body as JSON (may be
 * NULL; borrowed) and fills resp (clear it with client_resp_clear).
 * Returns 0 for a 2xx answer; CLIENT_EHTTP for another status, with the API's
 * error sentence in err; CLIENT_EREACH when berthd cannot be reached, with
 * "cannot reach berthd at URL: why" in err. */
int client_request(struct client *c, const char *method, const char *path, const json_t *body,
                   struct client_resp *resp, struct err *err);

/* GET of a path outside /api/v1 ("/ca.pem"); returns like client_request(). */
int client_get_outside(struct client *c, const char *path, struct client_resp *resp,
                       struct err *err);

/* Frees what resp holds. */
void client_resp_clear(struct client_resp *resp);

/* The sentence of an error answer: the API's error.message, or a sentence
 * naming the status when the body has none. Fills err, returns CLIENT_EHTTP. */
int client_resp_error(const struct client_resp *resp, struct err *err);

/* ---- server-sent events ---- */

/* A text/event-stream parser: feed it bytes, it calls on_event once per
 * event (a blank line ends one); comments and unknown fields are skipped. */
struct client_sse {
	struct buf line;  /* the line being read */
	struct buf data;  /* data lines of the event so far, joined by '\n' */
	char *id, *event; /* owned, or NULL */
	int has_data;     /* a data field was seen */
	int after_cr;     /* the last byte was '\r' (a "\r\n" is one end of line) */
	/* Called with the event's id and name (may be NULL) and its data;
	 * returns 0, or -1 to stop (client_stream() then ends the stream). */
	int (*on_event)(void *arg, const char *id, const char *event, const char *data);
	void *arg;
	int stopped; /* on_event returned -1: the rest is ignored */
};

/* Starts a parser calling on_event(arg, ...). */
void client_sse_init(struct client_sse *p,
                     int (*on_event)(void *arg, const char *id, const char *event,
                                     const char *data),
                     void *arg);

/* Parses n more bytes of the stream. */
void client_sse_feed(struct client_sse *p, const char *bytes, size_t n);

/* Frees what p holds. */
void client_sse_clear(struct client_sse *p);

/* Reads GET path (below /api/v1) as an event stream until berthd ends it:
 * on_open(arg) once the 200 answer starts (it may return -1 to stop), then
 * p's on_event for each event. Returns 0 when the stream ended, or on_open or
 * on_event stopped it; CLIENT_EHTTP when the answer was not an event stream (*status
 * holds its HTTP status, err the sentence); CLIENT_EREACH when berthd
 * cannot be reached or went silent (no byte, not even a keep-alive, for
 * idle_ms). */
int client_stream(struct client *c, const char *path, struct client_sse *p,
                  int (*on_open)(void *arg), void *arg, long idle_ms, long *status,
                  struct err *err);

/* s percent-encoded for one path segment; owned. */
char *client_escape(const char *s);

#endif
