/* router: berth-router, the HTTP reverse proxy data plane.
 *
 * One event loop per worker thread, each with its own SO_REUSEPORT listeners;
 * the main thread runs the admin API and signals. Tables are built on the main
 * thread and handed to each worker by reference (see route.h).
 */
#ifndef BERTH_ROUTER_H
#define BERTH_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"

struct router_settings {
	char **listen;                   /* owned strv of "ADDR:PORT"; NULL = 127.0.0.1:8080 */
	char *admin_socket;              /* owned path, NULL = no admin API */
	char **tls_listen;               /* owned strv of "ADDR:PORT" for HTTPS; NULL = none */
	char *tls_dir;                   /* owned: HOST.pem files (router_tls.h); with tls_listen */
	char *host_key;                  /* owned: seed file of the key signing attestations */
	int threads;                     /* worker threads; 0 = one per core */
	size_t max_header_size;          /* request head limit (431 past it) */
	unsigned max_headers;            /* header fields of a request head (431 past it) */
	unsigned max_connections;        /* client connections in all (503 past it); 0 = no limit */
	unsigned max_client_connections; /* per client address (429 past it); 0 = no limit */
	int64_t header_timeout_ms;       /* first byte to end of a request head (408) */
	int64_t idle_timeout_ms;         /* keep-alive between requests */
	int64_t body_timeout_ms;         /* longest pause in a request body (408) */
	int64_t connect_timeout_ms;      /* upstream connect */
	int64_t response_timeout_ms;     /* request sent to response head (504) */
	int64_t shutdown_timeout_ms;     /* SIGTERM: in-flight requests get this long */
	unsigned hold_queue_max;         /* held requests per worker thread */
	int retry_after_s;               /* Retry-After of 503s */
	int wait_for_table;              /* accept nothing before a table of generation > 0 */
};

struct router;

/* Fills s with the defaults. */
void router_settings_init(struct router_settings *s);
/* Frees the settings' owned fields. */
void router_settings_free(struct router_settings *s);

/* Creates a router: binds the listeners (port 0 picks one port for all
 * workers), and an empty table. Copies s. Returns 0 or -1 with err. */
int router_new(const struct router_settings *s, struct router **out, struct err *err);
/* Replaces the table from its JSON form (see docs/router.md). Call before
 * router_run() or from the admin API. Returns 0 or -1 with err, the old table kept. */
int router_set_table_json(struct router *r, const json_t *table, struct err *err);
/* The port the i-th listen address is bound to. */
int router_listen_port(const struct router *r, size_t i);
/* Runs until SIGTERM or SIGINT, then stops gracefully. Returns 0 or -1 with err. */
int router_run(struct router *r, struct err *err);
/* Frees the router. */
void router_free(struct router *r);

#endif
