/* route: the routing table of berth-router.
 *
 * A table maps a host to a route: a mode, weighted upstreams, allowed paths
 * and timeouts. A table never changes once built; threads share it by
 * reference count, so a request sees one whole table, old or new, and readers
 * never wait for the writer.
 *
 * Upstreams and per-route statistics outlive tables: the registry (owned by
 * the thread that builds tables) keeps one object per (host, address) and one
 * per host, and a new table reuses them, so counters and pooled connections
 * survive a table change. Counters are split into one slot per worker thread,
 * written by that worker only and read by anyone with relaxed atomics.
 */
#ifndef BERTH_ROUTE_H
#define BERTH_ROUTE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <jansson.h>

#include "common/err.h"

enum route_mode {
	ROUTE_SERVE, /* requests go to the upstreams */
	ROUTE_HOLD,  /* requests wait (bounded, up to hold-timeout) */
	ROUTE_DOWN,  /* requests get 503 with Retry-After */
};

/* The hop marker: set on a request forwarded to a peer router, removed
 * from every request that goes to an enclave. */
#define ROUTE_HOP_HEADER       "X-Berth-Hop"
#define ROUTE_HOST_MAX         255
#define ROUTE_STATUS_CLASSES   6 /* [0] other, [1] 1xx ... [5] 5xx */
#define ROUTE_LATENCY_BUCKETS  14
#define ROUTE_DEFAULT_DRAIN_MS 30000
#define ROUTE_DEFAULT_HOLD_MS  30000

/* Upper bounds of the latency histogram, in microseconds (last: +Inf). */
extern const uint64_t route_latency_bounds_us[ROUTE_LATENCY_BUCKETS];

struct upconn;
TAILQ_HEAD(upconn_list, upconn);

/* One worker's share of an upstream: counters and idle connections. */
struct upstream_slot {
	_Atomic uint64_t started;  /* requests sent to the upstream */
	_Atomic uint64_t finished; /* of those, ended (any outcome) */
	_Atomic uint64_t errors;   /* of those, failed (502, 504, cut) */
	struct upconn_list idle;   /* the worker's pooled connections */
	unsigned nidle;
} __attribute__((aligned(64)));

struct upstream {
	_Atomic int refs;
	char *host;    /* owned: the host of the route it belongs to */
	char *address; /* owned: "10.0.0.2:8080" or "[::1]:8080" */
	struct sockaddr_storage sa;
	socklen_t salen;
	_Atomic int draining;              /* 1 once the current table no longer routes to it */
	_Atomic int64_t drain_deadline_ms; /* monotonic ms; valid while draining */
	int64_t drain_timeout_ms;          /* of the last route it was part of */
	size_t nslots;
	struct upstream_slot *slots; /* owned: one per worker */
};

/* One worker's share of a route's statistics. */
struct route_stats_slot {
	_Atomic uint64_t status[ROUTE_STATUS_CLASSES];
	_Atomic uint64_t latency[ROUTE_LATENCY_BUCKETS]; /* per bucket, not cumulative */
	_Atomic uint64_t latency_sum_us;
} __attribute__((aligned(64)));

struct route_stats {
	_Atomic int refs;
	char *host; /* owned; "" for requests no route matched */
	size_t nslots;
	struct route_stats_slot *slots; /* owned: one per worker */
};

struct route_upstream {
	struct upstream *up; /* reference */
	unsigned weight;     /* >= 1 */
};

struct route {
	char *host; /* owned, lower case, no port; "*" matches any host */
	enum route_mode mode;
	struct route_upstream *ups; /* owned array of nups */
	size_t nups;
	unsigned total_weight;
	char **paths; /* owned strv: "/x" exact, "/x/..*" prefix; NULL allows all */
	int64_t drain_timeout_ms;
	int64_t hold_timeout_ms;
	/* A request that every upstream refused (it reached none) waits as if
	 * the route were held, for a table that routes it again, until
	 * hold_timeout_ms after the first refusal: berthd's routes, whose
	 * enclave may be coming back. Off: 502 at once. */
	int hold_refused;
	/* The upstreams are other hosts' routers (berthd's route of a container
	 * whose live enclave runs elsewhere): requests to them carry the hop
	 * marker (ROUTE_HOP_HEADER), and a request that came with it is not
	 * forwarded again (502). */
	int forward;
	struct route_stats *stats; /* reference */
	/* Owned compact JSON (keys sorted) of the facts of the deployment this
	 * route serves, for its attestation document; NULL: none. Part of the
	 * route, so it switches with the upstreams in one table. */
	char *attestation;
};

#define ROUTE_PEER_KEY_MAX 128

struct route_table {
	_Atomic int refs;
	uint64_t generation;
	/* The secret berthd gives every router: the value of the hop marker a
	 * router sends to a peer, by which the peer believes the client
	 * address it forwards (X-Forwarded-For). Empty: none. */
	char peer_key[ROUTE_PEER_KEY_MAX + 1];
	struct route *routes; /* owned, sorted by host */
	size_t nroutes;
	const struct route *any; /* the "*" route in routes, or NULL */
};

/* Upstream and statistics objects by key; used by one thread only. */
struct route_registry {
	size_t nslots;
	struct upstream **ups; /* references */
	size_t nups;
	struct route_stats **stats; /* references */
	size_t nstats;
};

/* Prepares an empty registry whose objects have nslots worker slots. */
void route_registry_init(struct route_registry *reg, size_t nslots);
/* Drops the registry's references. */
void route_registry_free(struct route_registry *reg);

/* Builds a table from {"generation": N, "routes": [route, ...]}; reuses the
 * registry's upstream and statistics objects. Returns 0 and a new table
 * (one reference, the caller's) in *out, or -1 with err and nothing changed
 * but unreferenced registry entries. */
int route_table_from_json(struct route_registry *reg, const json_t *j, struct route_table **out,
                          struct err *err);
/* Builds a copy of base with the route of host replaced by (or added from) the
 * JSON object route, or removed when route is NULL; generation as given.
 * Returns 0 and the new table in *out, or -1 with err. */
int route_table_with_route(struct route_registry *reg, const struct route_table *base,
                           const char *host, const json_t *route, uint64_t generation,
                           struct route_table **out, struct err *err);
/* Serialises a table in the form route_table_from_json() reads; a new reference. */
json_t *route_table_to_json(const struct route_table *t);

/* Marks the registry's upstreams that t does not route to as draining (their
 * deadline starts now) and those it does as active; forgets drained ones that
 * nothing references any more. Call after each table change. */
void route_registry_commit(struct route_registry *reg, const struct route_table *t, int64_t now_ms);
/* The counters of every known upstream as a JSON array; a new reference. */
json_t *route_registry_counters(const struct route_registry *reg);

/* Takes a reference. */
struct route_table *route_table_ref(struct route_table *t);
/* Drops a reference; frees the table with the last one. NULL is fine. */
void route_table_unref(struct route_table *t);
/* Drops a reference to an upstream; frees it with the last one. */
void upstream_unref(struct upstream *up);
/* Takes a reference to an upstream. */
struct upstream *upstream_ref(struct upstream *up);
/* Drops a reference to route statistics. */
void route_stats_unref(struct route_stats *s);
/* Creates statistics with nslots slots (one reference). */
struct route_stats *route_stats_new(const char *host, size_t nslots);

/* The route of a normalised host (see route_host_normalize()), else the "*"
 * route, else NULL. The route lives as long as the table. */
const struct route *route_table_lookup(const struct route_table *t, const char *host);
/* Whether path (len bytes, no query) is allowed by the route's paths. */
int route_path_allowed(const struct route *r, const char *path, size_t len);
/* The path an upstream gets, checked for what could step out of an allowed
 * prefix on a lenient or normalising server: path (len bytes, no query) is
 * copied into out (room for len bytes) with runs of '/' made one, and
 * *out_len set. Returns 0, or -1 with err (a sentence for the client) for a
 * dot segment (also "..;x", "..%3b"), a backslash, a bad percent-encoding, or
 * an encoded (or double-encoded) '.', '/', '\\' or NUL. */
int route_path_clean(const char *path, size_t len, char *out, size_t *out_len, struct err *err);
/* Lower-cases a Host header value and strips its port and a trailing dot into
 * out[ROUTE_HOST_MAX + 1]. Returns 0, or -1 when it is not a valid host. */
int route_host_normalize(const char *in, size_t len, char *out);
/* Parses a numeric "a.b.c.d:port" or "[v6]:port" address (port 0 allowed, for
 * listening). Returns 0 or -1. */
int route_parse_address(const char *s, struct sockaddr_storage *sa, socklen_t *salen);

/* Requests in flight on an upstream: sum of its slots. */
uint64_t upstream_in_flight(const struct upstream *up);
/* "serve", "hold" or "down". */
const char *route_mode_str(enum route_mode m);

#endif
