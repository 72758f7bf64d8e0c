/* router_client: a small blocking client of berth-router's admin API, for
 * berthd. Each call opens the unix socket, makes one HTTP request and closes
 * it; a call takes at most a few seconds (socket timeouts). */
#ifndef BERTH_ROUTER_CLIENT_H
#define BERTH_ROUTER_CLIENT_H

#include <errno.h>
#include <jansson.h>

#include "common/err.h"

/* What a call returns when the router answered that it has no such route
 * (404); every other failure (unreachable, refused, garbage) is -1. */
#define ROUTER_CLIENT_ENOTFOUND (-ENOENT)

/* Makes one request (body may be NULL). Returns 0 with the HTTP status and the
 * response body (owned by the caller, NUL-terminated), or -1 with err when the
 * router could not be reached or answered garbage. */
int router_client_request(const char *socket_path, const char *method, const char *path,
                          const char *body, int *status, char **resp, struct err *err);

/* Replaces the whole table ({"generation": N, "routes": [...]}). Returns 0, or
 * -1 with err holding the router's reason (e.g. an older generation). */
int router_client_push_table(const char *socket_path, const json_t *table, struct err *err);

/* Creates or replaces the route of host. Returns 0 or -1 with err. */
int router_client_set_route(const char *socket_path, const char *host, const json_t *route,
                            struct err *err);

/* Removes the route of host. Returns 0, ROUTER_CLIENT_ENOTFOUND when the
 * router has none, or -1 with err. */
int router_client_delete_route(const char *socket_path, const char *host, struct err *err);

/* Sets the ACME HTTP-01 challenge of token for host: the router answers
 * GET /.well-known/acme-challenge/TOKEN on host with key_auth. 0 or -1. */
int router_client_set_challenge(const char *socket_path, const char *host, const char *token,
                                const char *key_auth, struct err *err);

/* Removes token's challenge: 0, ROUTER_CLIENT_ENOTFOUND, or -1 with err. */
int router_client_delete_challenge(const char *socket_path, const char *token, struct err *err);

/* Sets the ACME TLS-ALPN-01 challenge of host: the router answers an
 * acme-tls/1 handshake for host with the challenge certificate of key_auth
 * (RFC 8737). 0 or -1. */
int router_client_set_tls_challenge(const char *socket_path, const char *host, const char *key_auth,
                                    struct err *err);

/* Removes host's TLS-ALPN-01 challenge: 0, ROUTER_CLIENT_ENOTFOUND, or -1. */
int router_client_delete_tls_challenge(const char *socket_path, const char *host, struct err *err);

/* Reads the per-upstream counters: {"generation": N, "upstreams": [{"host",
 * "address", "state", "in_flight", "total", "errors"}]}. Returns 0 and a new
 * reference in *out, or -1 with err. */
int router_client_get_counters(const char *socket_path, json_t **out, struct err *err);

#endif
