/* client: the HTTP client of berthd's REST API (libcurl, blocking), for the
 * CLI. One client is one connection kept alive between requests. */
#ifndef BERTH_CLIENT_H
#define BERTH_CLIENT_H

#include <jansson.h>
#include <stddef.h>

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

/* Frees what resp holds. */
void client_resp_clear(struct client_resp *resp);

/* The sentence of an error answer: the API's error.message, or a sentence
 * naming the status when the body has none. Fills err, returns CLIENT_EHTTP. */
int client_resp_error(const struct client_resp *resp, struct err *err);

/* s percent-encoded for one path segment; owned. */
char *client_escape(const char *s);

#endif
