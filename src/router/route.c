/* route: immutable routing tables, and the registry of what outlives them. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "router/route.h"

const uint64_t route_latency_bounds_us[ROUTE_LATENCY_BUCKETS] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, UINT64_MAX,
};

#define RELAXED memory_order_relaxed

const char *
route_mode_str(enum route_mode m)
{
	switch (m) {
	case ROUTE_SERVE:
		return "serve";
	case ROUTE_HOLD:
		return "hold";
	case ROUTE_DOWN:
		return "down";
	}
	return "?";
}

static int
route_mode_parse(const char *s, enum route_mode *m)
{
	if (strcmp(s, "serve") == 0)
		*m = ROUTE_SERVE;
	else if (strcmp(s, "hold") == 0)
		*m = ROUTE_HOLD;
	else if (strcmp(s, "down") == 0)
		*m = ROUTE_DOWN;
	else
		return -1;
	return 0;
}

int
route_parse_address(const char *s, struct sockaddr_storage *sa, socklen_t *salen)
{
	char host[64];
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	long port;

	memset(sa, 0, sizeof(*sa));
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	if (*s == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*salen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*salen = sizeof(*sin);
	}
	return 0;
}

int
route_host_normalize(const char *in, size_t len, char *out)
{
	const char *port = NULL;
	size_t i, n = 0, port_len = 0;

	while (len > 0 && (in[0] == ' ' || in[0] == '\t'))
		in++, len--;
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	if (len > 0 && in[0] == '[') {
		/* An IPv6 literal: keep the brackets, drop the port. */
		const char *rb = memchr(in, ']', len);
		if (rb == NULL)
			return -1;
		port = rb + 1;
		port_len = len - (size_t)(port - in);
		len = (size_t)(rb - in) + 1;
		if (port_len > 0 && *port != ':')
			return -1;
	} else {
		const char *colon = memchr(in, ':', len);
		if (colon != NULL) {
			port = colon;
			port_len = len - (size_t)(colon - in);
			len = (size_t)(colon - in);
		}
	}
	/* The port, ignored, must be one: ":" and up to five digits. */
	if (port_len == 1 || port_len > 6)
		return -1;
	for (i = 1; i < port_len; i++)
		if (port[i] < '0' || port[i] > '9')
			return -1;
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > ROUTE_HOST_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (!(isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '[' ||
		      ch == ']' || ch == ':' || ch == '*'))
			return -1;
		out[n++] = (char)tolower(ch);
	}
	out[n] = '\0';
	return 0;
}

/* --- objects kept across tables --- */

struct upstream *
upstream_ref(struct upstream *up)
{
	atomic_fetch_add(&up->refs, 1);
	return up;
}

void
upstream_unref(struct upstream *up)
{
	if (up == NULL || atomic_fetch_sub(&up->refs, 1) != 1)
		return;
	free(up->host);
	free(up->address);
	free(up->slots);
	free(up);
}

struct route_stats *
route_stats_new(const char *host, size_t nslots)
{
	struct route_stats *s = xcalloc(1, sizeof(*s));

	atomic_init(&s->refs, 1);
	s->host = xstrdup(host);
	s->nslots = nslots;
	s->slots = aligned_alloc(64, nslots * sizeof(*s->slots));
	if (s->slots == NULL)
		log_fatal("out of memory");
	memset(s->slots, 0, nslots * sizeof(*s->slots));
	return s;
}

void
route_stats_unref(struct route_stats *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->host);
	free(s->slots);
	free(s);
}

uint64_t
upstream_in_flight(const struct upstream *up)
{
	uint64_t started = 0, finished = 0;
	size_t i;

	/* Read finished first: a request counted as finished is always
	 * counted as started, so the difference never goes negative. */
	for (i = 0; i < up->nslots; i++)
		finished += atomic_load_explicit(&up->slots[i].finished, RELAXED);
	atomic_thread_fence(memory_order_acquire);
	for (i = 0; i < up->nslots; i++)
		started += atomic_load_explicit(&up->slots[i].started, RELAXED);
	return started >= finished ? started - finished : 0;
}

/* Nothing but the registry holds up (no worker's table, no request, no
 * pooled connection) and no request is on it: it is drained. */
static int
upstream_released(const struct upstream *up)
{
	return atomic_load(&up->refs) == 1 && upstream_in_flight(up) == 0;
}

void
route_registry_init(struct route_registry *reg, size_t nslots)
{
	memset(reg, 0, sizeof(*reg));
	reg->nslots = nslots;
}

void
route_registry_free(struct route_registry *reg)
{
	size_t i;

	for (i = 0; i < reg->nups; i++)
		upstream_unref(reg->ups[i]);
	for (i = 0; i < reg->nstats; i++)
		route_stats_unref(reg->stats[i]);
	free(reg->ups);
	free(reg->stats);
	memset(reg, 0, sizeof(*reg));
}

/* The registry's upstream for (host, address), created when missing; a new reference. */
static struct upstream *
registry_upstream(struct route_registry *reg, const char *host, const char *address,
                  const struct sockaddr_storage *sa, socklen_t salen)
{
	struct upstream *up;
	size_t i;

	for (i = 0; i < reg->nups; i++) {
		up = reg->ups[i];
		if (strcmp(up->host, host) == 0 && strcmp(up->address, address) == 0)
			return upstream_ref(up);
	}
	up = xcalloc(1, sizeof(*up));
	atomic_init(&up->refs, 2); /* the registry's and the caller's */
	up->host = xstrdup(host);
	up->address = xstrdup(address);
	memcpy(&up->sa, sa, sizeof(*sa));
	up->salen = salen;
	up->nslots = reg->nslots;
	up->slots = aligned_alloc(64, reg->nslots * sizeof(*up->slots));
	if (up->slots == NULL)
		log_fatal("out of memory");
	memset(up->slots, 0, reg->nslots * sizeof(*up->slots));
	for (i = 0; i < reg->nslots; i++)
		TAILQ_INIT(&up->slots[i].idle);
	reg->ups = xreallocarray(reg->ups, reg->nups + 1, sizeof(*reg->ups));
	reg->ups[reg->nups++] = up;
	return up;
}

static struct route_stats *
registry_stats(struct route_registry *reg, const char *host)
{
	struct route_stats *s;
	size_t i;

	for (i = 0; i < reg->nstats; i++) {
		if (strcmp(reg->stats[i]->host, host) == 0) {
			atomic_fetch_add(&reg->stats[i]->refs, 1);
			return reg->stats[i];
		}
	}
	s = route_stats_new(host, reg->nslots);
	atomic_fetch_add(&s->refs, 1);
	reg->stats = xreallocarray(reg->stats, reg->nstats + 1, sizeof(*reg->stats));
	reg->stats[reg->nstats++] = s;
	return s;
}

/* --- tables --- */

static void
route_clear(struct route *r)
{
	size_t i;

	for (i = 0; i < r->nups; i++)
		upstream_unref(r->ups[i].up);
	free(r->ups);
	free(r->host);
	strv_free(r->paths);
	free(r->attestation);
	route_stats_unref(r->stats);
	memset(r, 0, sizeof(*r));
}

struct route_table *
route_table_ref(struct route_table *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, RELAXED);
	return t;
}

void
route_table_unref(struct route_table *t)
{
	size_t i;

	if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < t->nroutes; i++)
		route_clear(&t->routes[i]);
	free(t->routes);
	free(t);
}

static int
json_ms(const json_t *o, const char *key, int64_t def, int64_t *out, struct err *err)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && duration_parse(json_string_value(v), out) == 0)
		return 0;
	return err_make(err, 0, "%s: not a duration (milliseconds or \"30s\")", key);
}

static int
path_pattern_valid(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || p[0] != '/')
		return 0;
	/* A star ends the pattern, or is a whole middle segment. */
	for (const char *s = strchr(p, '*'); s != NULL; s = strchr(s + 1, '*'))
		if (s != p + n - 1 && !(s[-1] == '/' && s[1] == '/'))
			return 0;
	return 1;
}

/* Fills r from a JSON route object; host overrides the object's "host". */
static int
route_from_json(struct route_registry *reg, const json_t *j, const char *host, struct route *r,
                struct err *err)
{
	char norm[ROUTE_HOST_MAX + 1];
	const char *mode;
	json_t *ups, *paths, *v;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(j))
		return err_make(err, 0, "a route must be an object");
	if (host == NULL)
		host = json_string_value(json_object_get(j, "host"));
	if (host == NULL)
		return err_make(err, 0, "route without \"host\"");
	if (strcmp(host, "*") == 0)
		strcpy(norm, "*");
	else if (strchr(host, ':') != NULL || route_host_normalize(host, strlen(host), norm) < 0 ||
	         strchr(norm, '*') != NULL)
		return err_make(err, 0, "route host \"%s\" is not a host name", host);
	r->host = xstrdup(norm);
	mode = json_string_value(json_object_get(j, "mode"));
	if (mode == NULL)
		mode = "serve";
	if (route_mode_parse(mode, &r->mode) < 0) {
		err_make(err, 0, "mode \"%s\" is not serve, hold or down", mode);
		goto fail;
	}
	if (json_ms(j, "drain_timeout_ms", ROUTE_DEFAULT_DRAIN_MS, &r->drain_timeout_ms, err) < 0 ||
	    json_ms(j, "hold_timeout_ms", ROUTE_DEFAULT_HOLD_MS, &r->hold_timeout_ms, err) < 0)
		goto fail;
	v = json_object_get(j, "hold_refused");
	if (v != NULL && !json_is_boolean(v)) {
		err_make(err, 0, "hold_refused must be true or false");
		goto fail;
	}
	r->hold_refused = json_is_true(v);
	v = json_object_get(j, "forward");
	if (v != NULL && !json_is_boolean(v)) {
		err_make(err, 0, "forward must be true or false");
		goto fail;
	}
	r->forward = json_is_true(v);
	paths = json_object_get(j, "paths");
	if (paths != NULL && !json_is_null(paths)) {
		if (!json_is_array(paths)) {
			err_make(err, 0, "paths must be an array of strings");
			goto fail;
		}
		json_array_foreach(paths, i, v)
		{
			const char *p = json_string_value(v);
			if (p == NULL || !path_pattern_valid(p)) {
				err_make(err, 0, "path \"%s\" is not \"/exact\" or \"/prefix*\"",
				         p ? p : "?");
				goto fail;
			}
			r->paths = strv_push(r->paths, p);
		}
		if (r->paths == NULL) /* an empty list allows nothing */
			r->paths = xcalloc(1, sizeof(char *));
	}
	v = json_object_get(j, "attestation");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v)) {
			err_make(err, 0, "attestation must be an object");
			goto fail;
		}
		r->attestation = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	}
	ups = json_object_get(j, "upstreams");
	if (ups != NULL && !json_is_null(ups) && !json_is_array(ups)) {
		err_make(err, 0, "upstreams must be an array");
		goto fail;
	}
	r->ups = xcalloc(json_array_size(ups) + 1, sizeof(*r->ups));
	json_array_foreach(ups, i, v)
	{
		struct sockaddr_storage sa;
		socklen_t salen;
		const char *addr = json_is_string(v)
		                       ? json_string_value(v)
		                       : json_string_value(json_object_get(v, "address"));
		json_int_t weight = 1;
		size_t k;

		if (json_is_object(v) && json_object_get(v, "weight") != NULL) {
			if (!json_is_integer(json_object_get(v, "weight"))) {
				err_make(err, 0, "upstream weight must be an integer");
				goto fail;
			}
			weight = json_integer_value(json_object_get(v, "weight"));
		}
		if (addr == NULL || route_parse_address(addr, &sa, &salen) < 0 ||
		    ((struct sockaddr_in *)&sa)->sin_port == 0) {
			err_make(err, 0, "upstream \"%s\" is not a numeric ADDR:PORT",
			         addr ? addr : "?");
			goto fail;
		}
		if (weight < 1 || weight > 1000) {
			err_make(err, 0, "upstream %s: weight %lld not within 1..1000", addr,
			         (long long)weight);
			goto fail;
		}
		for (k = 0; k < r->nups; k++) {
			if (strcmp(r->ups[k].up->address, addr) == 0) {
				err_make(err, 0, "upstream %s listed twice", addr);
				goto fail;
			}
		}
		r->ups[r->nups].up = registry_upstream(reg, r->host, addr, &sa, salen);
		r->ups[r->nups].weight = (unsigned)weight;
		r->total_weight += (unsigned)weight;
		r->nups++;
	}
	if (r->mode == ROUTE_SERVE && r->nups == 0) {
		err_make(err, 0, "route %s serves but has no upstreams", r->host);
		goto fail;
	}
	r->stats = registry_stats(reg, r->host);
	return 0;
fail:
	err_wrap(err, "route %s", r->host);
	route_clear(r);
	return -1;
}

static int
route_cmp(const void *a, const void *b)
{
	return strcmp(((const struct route *)a)->host, ((const struct route *)b)->host);
}

/* Sorts, checks for duplicates, finds the "*" route. */
static int
table_finish(struct route_table *t, struct err *err)
{
	size_t i;

	qsort(t->routes, t->nroutes, sizeof(*t->routes), route_cmp);
	for (i = 0; i < t->nroutes; i++) {
		if (i > 0 && strcmp(t->routes[i - 1].host, t->routes[i].host) == 0)
			return err_make(err, 0, "route %s given twice", t->routes[i].host);
		if (strcmp(t->routes[i].host, "*") == 0)
			t->any = &t->routes[i];
	}
	return 0;
}

/* A peer key is a token that fits a header value as it is. */
static int
peer_key_valid(const char *k)
{
	size_t n = k != NULL ? strlen(k) : 0;

	if (n < 16 || n > ROUTE_PEER_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '-' && k[i] != '_')
			return 0;
	return 1;
}

int
route_table_from_json(struct route_registry *reg, const json_t *j, struct route_table **out,
                      struct err *err)
{
	struct route_table *t;
	json_t *routes, *gen, *key, *v;
	size_t i;

	*out = NULL;
	if (!json_is_object(j))
		return err_make(err, 0, "the table must be a JSON object");
	gen = json_object_get(j, "generation");
	if (gen != NULL && (!json_is_integer(gen) || json_integer_value(gen) < 0))
		return err_make(err, 0, "generation must be a non-negative integer");
	routes = json_object_get(j, "routes");
	if (routes != NULL && !json_is_array(routes))
		return err_make(err, 0, "routes must be an array");
	key = json_object_get(j, "peer_key");
	if (key != NULL && !peer_key_valid(json_string_value(key)))
		return err_make(err, 0,
		                "peer_key must be a string of 16 to %d letters, digits, '-' or '_'",
		                ROUTE_PEER_KEY_MAX);
	t = xcalloc(1, sizeof(*t));
	if (key != NULL)
		snprintf(t->peer_key, sizeof t->peer_key, "%s", json_string_value(key));
	atomic_init(&t->refs, 1);
	t->generation = gen ? (uint64_t)json_integer_value(gen) : 0;
	t->routes = xcalloc(json_array_size(routes) + 1, sizeof(*t->routes));
	json_array_foreach(routes, i, v)
	{
		if (route_from_json(reg, v, NULL, &t->routes[t->nroutes], err) < 0)
			goto fail;
		t->nroutes++;
	}
	if (table_finish(t, err) < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	route_table_unref(t);
	return -1;
}

static json_t *
route_to_json(const struct route *r)
{
	json_t *o = json_object(), *ups = json_array();
	size_t i;

	json_object_set_new(o, "host", json_string(r->host));
	json_object_set_new(o, "mode", json_string(route_mode_str(r->mode)));
	for (i = 0; i < r->nups; i++)
		json_array_append_new(ups, json_pack("{s:s,s:i}", "address", r->ups[i].up->address,
		                                     "weight", (int)r->ups[i].weight));
	json_object_set_new(o, "upstreams", ups);
	if (r->paths != NULL) {
		json_t *p = json_array();
		for (i = 0; r->paths[i] != NULL; i++)
			json_array_append_new(p, json_string(r->paths[i]));
		json_object_set_new(o, "paths", p);
	} else {
		json_object_set_new(o, "paths", json_null());
	}
	json_object_set_new(o, "drain_timeout_ms", json_integer(r->drain_timeout_ms));
	json_object_set_new(o, "hold_timeout_ms", json_integer(r->hold_timeout_ms));
	json_object_set_new(o, "hold_refused", json_boolean(r->hold_refused));
	if (r->forward)
		json_object_set_new(o, "forward", json_true());
	if (r->attestation != NULL)
		json_object_set_new(o, "attestation", json_loads(r->attestation, 0, NULL));
	return o;
}

json_t *
route_table_to_json(const struct route_table *t)
{
	json_t *routes = json_array();
	size_t i;

	for (i = 0; i < t->nroutes; i++)
		json_array_append_new(routes, route_to_json(&t->routes[i]));
	return json_pack("{s:I,s:o}", "generation", (json_int_t)t->generation, "routes", routes);
}

int
route_table_with_route(struct route_registry *reg, const struct route_table *base, const char *host,
                       const json_t *route, uint64_t generation, struct route_table **out,
                       struct err *err)
{
	char norm[ROUTE_HOST_MAX + 1];
	json_t *j = route_table_to_json(base), *routes = json_object_get(j, "routes"), *v;
	size_t i;
	int rc, found = 0;

	*out = NULL;
	if (strcmp(host, "*") == 0) {
		strcpy(norm, "*");
	} else if (route_host_normalize(host, strlen(host), norm) < 0) {
		json_decref(j);
		return err_make(err, 0, "\"%s\" is not a host name", host);
	}
	json_array_foreach(routes, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "host")), norm) == 0) {
			json_array_remove(routes, i);
			found = 1;
			break;
		}
	}
	if (route == NULL && !found) {
		json_decref(j);
		return err_make(err, ENOENT, "no route %s", norm);
	}
	if (route != NULL) {
		json_t *copy;
		if (!json_is_object(route)) {
			json_decref(j);
			return err_make(err, 0, "a route must be an object");
		}
		copy = json_deep_copy(route);
		json_object_set_new(copy, "host", json_string(norm));
		json_array_append_new(routes, copy);
	}
	json_object_set_new(j, "generation", json_integer((json_int_t)generation));
	rc = route_table_from_json(reg, j, out, err);
	json_decref(j);
	/* Not in the table's JSON (which its status shows): kept as it was. */
	if (rc == 0)
		memcpy((*out)->peer_key, base->peer_key, sizeof base->peer_key);
	return rc;
}

static int
table_has_upstream(const struct route_table *t, const struct upstream *up)
{
	size_t i, k;

	for (i = 0; i < t->nroutes; i++)
		for (k = 0; k < t->routes[i].nups; k++)
			if (t->routes[i].ups[k].up == up)
				return 1;
	return 0;
}

static const struct route *
table_route_of(const struct route_table *t, const char *host)
{
	size_t i;

	for (i = 0; i < t->nroutes; i++)
		if (strcmp(t->routes[i].host, host) == 0)
			return &t->routes[i];
	return NULL;
}

void
route_registry_commit(struct route_registry *reg, const struct route_table *t, int64_t now_ms)
{
	size_t i, n;

	for (i = n = 0; i < reg->nups; i++) {
		struct upstream *up = reg->ups[i];
		const struct route *r = table_route_of(t, up->host);

		if (table_has_upstream(t, up)) {
			up->drain_timeout_ms = r->drain_timeout_ms;
			atomic_store(&up->draining, 0);
		} else if (!atomic_load(&up->draining)) {
			/* The drain timeout of the route it was served under. */
			if (up->drain_timeout_ms == 0)
				up->drain_timeout_ms = ROUTE_DEFAULT_DRAIN_MS;
			atomic_store(&up->drain_deadline_ms, now_ms + up->drain_timeout_ms);
			atomic_store(&up->draining, 1);
		} else if (upstream_released(up)) {
			/* Drained and reported drained since the last change: forget it. */
			upstream_unref(up);
			continue;
		}
		reg->ups[n++] = up;
	}
	reg->nups = n;
	/* Statistics of removed routes stay: their counters are monotonic
	 * for Prometheus and cost little. */
}

json_t *
route_registry_counters(const struct route_registry *reg)
{
	json_t *a = json_array();
	size_t i, k;

	for (i = 0; i < reg->nups; i++) {
		const struct upstream *up = reg->ups[i];
		uint64_t total = 0, errors = 0, in_flight = upstream_in_flight(up);
		int draining = atomic_load(&up->draining);
		/* Drained only when released: a worker still on a table that
		 * routes to it could start a request there. */
		const char *state = !draining                ? "active"
		                    : !upstream_released(up) ? "draining"
		                                             : "drained";

		for (k = 0; k < up->nslots; k++) {
			total += atomic_load_explicit(&up->slots[k].started, RELAXED);
			errors += atomic_load_explicit(&up->slots[k].errors, RELAXED);
		}
		json_array_append_new(
		    a, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "host", up->host, "address",
		                 up->address, "state", state, "in_flight", (json_int_t)in_flight,
		                 "total", (json_int_t)total, "errors", (json_int_t)errors));
	}
	return a;
}

static int
route_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct route *)elem)->host);
}

const struct route *
route_table_lookup(const struct route_table *t, const char *host)
{
	const struct route *r =
	    bsearch(host, t->routes, t->nroutes, sizeof(*t->routes), route_key_cmp);

	return r != NULL ? r : t->any;
}

int
route_path_allowed(const struct route *r, const char *path, size_t len)
{
	size_t i;

	if (r->paths == NULL)
		return 1;
	for (i = 0; r->paths[i] != NULL; i++)
		if (config_path_allows(r->paths[i], path, len))
			return 1;
	return 0;
}

static int
hex_digit(char ch)
{
	return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* Whether the percent-encoded byte at p ("%XY") decodes to something an
 * upstream could read as part of a dot segment or a separator: '.', '/', '\\',
 * NUL, or the lead byte of an overlong UTF-8 form of one (%c0, %c1). */
static int
pct_is_tricky(const char *p)
{
	char a = p[1], b = (char)(p[2] | 0x20);

	return (a == '2' && (b == 'e' || b == 'f')) || (a == '5' && b == 'c') ||
	       (a == '0' && b == '0') || ((a | 0x20) == 'c' && (b == '0' || b == '1'));
}

int
route_path_clean(const char *path, size_t len, char *out, size_t *out_len, struct err *err)
{
	size_t i, n = 0, seg = 0; /* seg: where the current segment starts in out */

	for (i = 0; i < len; i++) {
		char ch = path[i];

		if (ch == '\\')
			return err_make(err, 0, "a backslash in the path");
		if (ch == '%') {
			if (i + 2 >= len || !hex_digit(path[i + 1]) || !hex_digit(path[i + 2]))
				return err_make(err, 0, "a bad percent-encoding in the path");
			if (pct_is_tricky(path + i))
				return err_make(err, 0,
				                "an encoded dot, slash or backslash in the path");
			/* "%25" then an encoding of those: decoded twice, it is one. */
			if (path[i + 1] == '2' && path[i + 2] == '5' && i + 4 < len &&
			    hex_digit(path[i + 3]) && hex_digit(path[i + 4])) {
				char dbl[3] = {'%', path[i + 3], path[i + 4]};
				if (pct_is_tricky(dbl))
					return err_make(
					    err, 0,
					    "a double-encoded dot, slash or backslash in the path");
			}
		}
		if (ch == '/') {
			if (n > 0 && out[n - 1] == '/')
				continue; /* "//" is "/" */
			out[n++] = ch;
			seg = n;
			continue;
		}
		out[n++] = ch;
		/* A dot segment, with or without parameters ("..;x", as
		 * Tomcat reads it), once the segment is known. */
		if (i + 1 == len || path[i + 1] == '/' || ch == ';' ||
		    (ch == '%' && path[i + 1] == '3' && (path[i + 2] | 0x20) == 'b')) {
			size_t end = ch == ';' || ch == '%' ? n - 1 : n;
			size_t sl = end - seg;

			if ((sl == 1 && out[seg] == '.') ||
			    (sl == 2 && out[seg] == '.' && out[seg + 1] == '.'))
				return err_make(err, 0, "a dot segment in the path");
		}
	}
	*out_len = n;
	return 0;
}
