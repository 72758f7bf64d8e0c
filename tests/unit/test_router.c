/* Unit tests of src/router/route.c (hosts, addresses, tables, paths, drains)
 * and src/router/chunked.c (the request body's framing). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "router/chunked.h"
#include "config/config.h"
#include "common/util.h"
#include "router/route.h"

static void
test_host_normalize(void **state)
{
	char out[ROUTE_HOST_MAX + 1];
	char big[300];

	(void)state;
	assert_int_equal(route_host_normalize("Web.ACME.example.com", 20, out), 0);
	assert_string_equal(out, "web.acme.example.com");
	assert_int_equal(route_host_normalize("web.example.com:8080", 20, out), 0);
	assert_string_equal(out, "web.example.com");
	assert_int_equal(route_host_normalize(" web.example.com. ", 18, out), 0);
	assert_string_equal(out, "web.example.com");
	assert_int_equal(route_host_normalize("[::1]:80", 8, out), 0);
	assert_string_equal(out, "[::1]");
	assert_int_equal(route_host_normalize("", 0, out), -1);
	assert_int_equal(route_host_normalize(":80", 3, out), -1);
	assert_int_equal(route_host_normalize("a/b", 3, out), -1);
	assert_int_equal(route_host_normalize("a b", 3, out), -1);
	assert_int_equal(route_host_normalize("a\"b", 3, out), -1);
	assert_int_equal(route_host_normalize("a:8x", 4, out), -1);
	assert_int_equal(route_host_normalize("[::1", 4, out), -1);
	memset(big, 'a', sizeof(big));
	assert_int_equal(route_host_normalize(big, sizeof(big), out), -1);
}

static void
test_parse_address(void **state)
{
	struct sockaddr_storage sa;
	socklen_t len;

	(void)state;
	assert_int_equal(route_parse_address("127.0.0.1:8080", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(route_parse_address("[::1]:80", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(route_parse_address("localhost:80", &sa, &len), -1);
	assert_int_equal(route_parse_address("127.0.0.1", &sa, &len), -1);
	assert_int_equal(route_parse_address("127.0.0.1:0", &sa, &len), 0);
	assert_int_equal(route_parse_address("127.0.0.1:-1", &sa, &len), -1);
	assert_int_equal(route_parse_address("127.0.0.1:65536", &sa, &len), -1);
	assert_int_equal(route_parse_address("127.0.0.1:80x", &sa, &len), -1);
	assert_int_equal(route_parse_address("[::1]80", &sa, &len), -1);
}

static struct route_table *
table(struct route_registry *reg, const char *text, struct err *err)
{
	json_t *j = json_loads(text, 0, NULL);
	struct route_table *t = NULL;

	assert_non_null(j);
	if (route_table_from_json(reg, j, &t, err) < 0)
		t = NULL;
	json_decref(j);
	return t;
}

/* "forward" is read, written back, and checked to be a boolean. */
static void
test_route_forward(void **state)
{
	struct route_registry reg;
	struct err err = ERR_INIT;
	struct route_table *t;
	json_t *back;

	(void)state;
	route_registry_init(&reg, 1);
	t = table(&reg,
	          "{\"generation\": 1, \"routes\": ["
	          "{\"host\": \"a.x\", \"upstreams\": [\"10.0.0.2:8080\"], \"forward\": true},"
	          "{\"host\": \"b.x\", \"upstreams\": [\"10.0.0.3:1\"]}]}",
	          &err);
	assert_non_null(t);
	assert_int_equal(route_table_lookup(t, "a.x")->forward, 1);
	assert_int_equal(route_table_lookup(t, "b.x")->forward, 0);
	back = route_table_to_json(t);
	assert_true(json_is_true(
	    json_object_get(json_array_get(json_object_get(back, "routes"), 0), "forward")));
	assert_null(json_object_get(json_array_get(json_object_get(back, "routes"), 1), "forward"));
	json_decref(back);
	route_table_unref(t);
	assert_null(table(&reg,
	                  "{\"generation\": 2, \"routes\": [{\"host\": \"a.x\", "
	                  "\"upstreams\": [\"10.0.0.2:8080\"], \"forward\": 1}]}",
	                  &err));
	assert_non_null(strstr(err.msg, "forward must be true or false"));
	err_clear(&err);
	/* The peer key: checked, kept by a route set alone, never shown. */
	t = table(&reg,
	          "{\"generation\": 3, \"peer_key\": \"0123456789abcdef-_\", \"routes\": ["
	          "{\"host\": \"a.x\", \"upstreams\": [\"10.0.0.2:8080\"]}]}",
	          &err);
	assert_non_null(t);
	assert_string_equal(t->peer_key, "0123456789abcdef-_");
	{
		struct route_table *t2;
		json_t *r = json_pack("{s:[s]}", "upstreams", "10.0.0.4:1");

		assert_int_equal(route_table_with_route(&reg, t, "b.x", r, 4, &t2, &err), 0);
		assert_string_equal(t2->peer_key, "0123456789abcdef-_");
		back = route_table_to_json(t2);
		assert_null(json_object_get(back, "peer_key"));
		json_decref(back);
		json_decref(r);
		route_table_unref(t2);
	}
	route_table_unref(t);
	for (size_t i = 0; i < 3; i++) {
		static const char *bad[] = {"\"short\"", "\"0123456789abcdef ok\"", "7"};
		char *text = xasprintf("{\"peer_key\": %s, \"routes\": []}", bad[i]);

		assert_null(table(&reg, text, &err));
		assert_non_null(strstr(err.msg, "peer_key must be"));
		err_clear(&err);
		free(text);
	}
	route_registry_free(&reg);
}

static void
test_table_lookup_and_paths(void **state)
{
	struct route_registry reg;
	struct err err = ERR_INIT;
	struct route_table *t;
	const struct route *r;

	(void)state;
	route_registry_init(&reg, 2);
	t = table(&reg,
	          "{\"generation\": 7, \"routes\": ["
	          "{\"host\": \"Web.Example.com\", \"upstreams\": [\"127.0.0.1:1\","
	          " {\"address\": \"127.0.0.1:2\", \"weight\": 3}],"
	          " \"paths\": [\"/health\", \"/v1/*\"], \"drain_timeout_ms\": \"2s\"},"
	          "{\"host\": \"held.example.com\", \"mode\": \"hold\"},"
	          "{\"host\": \"*\", \"upstreams\": [\"127.0.0.1:3\"]}]}",
	          &err);
	assert_non_null(t);
	assert_int_equal(t->generation, 7);
	r = route_table_lookup(t, "web.example.com");
	assert_non_null(r);
	assert_string_equal(r->host, "web.example.com");
	assert_int_equal(r->nups, 2);
	assert_int_equal(r->total_weight, 4);
	assert_int_equal(r->drain_timeout_ms, 2000);
	assert_int_equal(r->hold_timeout_ms, ROUTE_DEFAULT_HOLD_MS);
	assert_true(route_path_allowed(r, "/health", 7));
	assert_false(route_path_allowed(r, "/healthz", 8));
	assert_true(route_path_allowed(r, "/v1/", 4));
	assert_true(route_path_allowed(r, "/v1/models", 10));
	assert_false(route_path_allowed(r, "/v1", 3));
	/* A star as a whole middle segment: one segment, not empty. */
	assert_true(config_path_allows("/plan/*/sign", "/plan/42/sign", 13));
	assert_false(config_path_allows("/plan/*/sign", "/plan//sign", 11));
	assert_false(config_path_allows("/plan/*/sign", "/plan/4/2/sign", 14));
	assert_false(config_path_allows("/plan/*/sign", "/plan/42/signx", 14));
	assert_true(config_path_allows("/plan/*/items/*", "/plan/a/items/b/c", 17));
	assert_true(config_path_allows("/v1*", "/v1x", 4));
	assert_false(config_path_allows("/a*b", "/axb", 4));
	assert_false(route_path_allowed(r, "/", 1));
	r = route_table_lookup(t, "held.example.com");
	assert_int_equal(r->mode, ROUTE_HOLD);
	assert_true(route_path_allowed(r, "/anything", 9));
	r = route_table_lookup(t, "other.example.com");
	assert_non_null(r);
	assert_string_equal(r->host, "*");
	route_table_unref(t);
	route_registry_free(&reg);
}

static void
test_table_errors(void **state)
{
	static const char *bad[] = {
	    "[]",
	    "{\"generation\": -1}",
	    "{\"generation\": 1, \"routes\": {}}",
	    "{\"routes\": [{\"upstreams\": [\"127.0.0.1:1\"]}]}",
	    "{\"routes\": [{\"host\": \"a b\", \"upstreams\": [\"127.0.0.1:1\"]}]}",
	    "{\"routes\": [{\"host\": \"a:80\", \"upstreams\": [\"127.0.0.1:1\"]}]}",
	    "{\"routes\": [{\"host\": \"a\", \"mode\": \"sleep\"}]}",
	    "{\"routes\": [{\"host\": \"a\"}]}",
	    "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"nowhere:1\"]}]}",
	    "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"127.0.0.1:0\"]}]}",
	    "{\"routes\": [{\"host\": \"a\", \"upstreams\": [{\"address\": \"127.0.0.1:1\","
	    " \"weight\": 0}]}]}",
	    "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"127.0.0.1:1\", \"127.0.0.1:1\"]}]}",
	    "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"127.0.0.1:1\"],"
	    " \"paths\": [\"x\"]}]}",
	    "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"127.0.0.1:1\"],"
	    " \"paths\": [\"/a*b\"]}]}",
	    "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"127.0.0.1:1\"],"
	    " \"drain_timeout_ms\": \"soon\"}]}",
	    "{\"routes\": [{\"host\": \"a\", \"mode\": \"down\"}, {\"host\": \"A\", \"mode\":"
	    " \"down\"}]}",
	};
	struct route_registry reg;
	size_t i;

	(void)state;
	route_registry_init(&reg, 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err err = ERR_INIT;
		struct route_table *t = table(&reg, bad[i], &err);
		if (t != NULL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err_isset(&err));
	}
	route_registry_free(&reg);
}

static json_t *
find_upstream(json_t *counters, const char *address)
{
	json_t *u;
	size_t i;

	json_array_foreach(counters, i, u)
	{
		if (strcmp(json_string_value(json_object_get(u, "address")), address) == 0)
			return u;
	}
	return NULL;
}

static void
test_registry_drain_states(void **state)
{
	struct route_registry reg;
	struct err err = ERR_INIT;
	struct route_table *t1, *t2, *t3;
	struct upstream *old;
	json_t *c, *u;

	(void)state;
	route_registry_init(&reg, 2);
	t1 = table(&reg,
	           "{\"routes\": [{\"host\": \"a\", \"drain_timeout_ms\": 500,"
	           " \"upstreams\": [\"127.0.0.1:1\"]}]}",
	           &err);
	route_registry_commit(&reg, t1, 1000);
	old = t1->routes[0].ups[0].up;
	assert_false(atomic_load(&old->draining));
	/* a request in flight on the old upstream */
	atomic_store(&old->slots[1].started, 1);

	t2 = table(&reg, "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"127.0.0.1:2\"]}]}",
	           &err);
	route_registry_commit(&reg, t2, 2000);
	assert_true(atomic_load(&old->draining));
	/* the drain timeout of the route it was served under */
	assert_int_equal(atomic_load(&old->drain_deadline_ms), 2500);
	c = route_registry_counters(&reg);
	u = find_upstream(c, "127.0.0.1:1");
	assert_string_equal(json_string_value(json_object_get(u, "state")), "draining");
	assert_int_equal(json_integer_value(json_object_get(u, "in_flight")), 1);
	json_decref(c);

	/* Finished, but a worker is still on t1 (which routes to it): it
	 * may start a request there at any moment, so not drained yet. */
	atomic_store(&old->slots[1].finished, 1);
	c = route_registry_counters(&reg);
	u = find_upstream(c, "127.0.0.1:1");
	assert_string_equal(json_string_value(json_object_get(u, "state")), "draining");
	assert_int_equal(json_integer_value(json_object_get(u, "in_flight")), 0);
	json_decref(c);

	/* Every worker on t2: drained. */
	route_table_unref(t1);
	c = route_registry_counters(&reg);
	u = find_upstream(c, "127.0.0.1:1");
	assert_string_equal(json_string_value(json_object_get(u, "state")), "drained");
	assert_int_equal(json_integer_value(json_object_get(u, "total")), 1);
	json_decref(c);

	/* once nothing references it, a later change forgets it */
	t3 = table(&reg, "{\"routes\": [{\"host\": \"a\", \"upstreams\": [\"127.0.0.1:2\"]}]}",
	           &err);
	route_registry_commit(&reg, t3, 3000);
	c = route_registry_counters(&reg);
	assert_null(find_upstream(c, "127.0.0.1:1"));
	assert_non_null(find_upstream(c, "127.0.0.1:2"));
	json_decref(c);
	/* the same upstream object is kept across tables */
	assert_ptr_equal(t2->routes[0].ups[0].up, t3->routes[0].ups[0].up);
	route_table_unref(t2);
	route_table_unref(t3);
	route_registry_free(&reg);
}

static void
test_with_route(void **state)
{
	struct route_registry reg;
	struct err err = ERR_INIT;
	struct route_table *t, *t2, *t3;
	json_t *r = json_loads("{\"upstreams\": [\"127.0.0.1:9\"], \"mode\": \"down\"}", 0, NULL);

	(void)state;
	route_registry_init(&reg, 1);
	t = table(&reg,
	          "{\"generation\": 3, \"routes\": [{\"host\": \"a\", \"upstreams\":"
	          " [\"127.0.0.1:1\"]}]}",
	          &err);
	assert_int_equal(route_table_with_route(&reg, t, "B.example", r, 3, &t2, &err), 0);
	assert_int_equal(t2->nroutes, 2);
	assert_int_equal(route_table_lookup(t2, "b.example")->mode, ROUTE_DOWN);
	assert_int_equal(route_table_with_route(&reg, t2, "a", NULL, 4, &t3, &err), 0);
	assert_int_equal(t3->nroutes, 1);
	assert_int_equal(t3->generation, 4);
	assert_null(route_table_lookup(t3, "a"));
	route_table_unref(t2);
	assert_int_equal(route_table_with_route(&reg, t3, "a", NULL, 4, &t2, &err), -ENOENT);
	assert_int_equal(route_table_with_route(&reg, t3, "bad host", r, 4, &t2, &err), -1);
	route_table_unref(t);
	route_table_unref(t3);
	json_decref(r);
	route_registry_free(&reg);
}

/* Parses s whole: 0 or -1, *used the body bytes, *why the error. */
static int
chunked_whole(const char *s, size_t len, size_t *used, char *why, size_t whylen)
{
	struct chunked ck;
	struct err err = ERR_INIT;
	int rc;

	chunked_init(&ck);
	rc = chunked_parse(&ck, s, len, used, &err);
	snprintf(why, whylen, "%s", err.msg);
	if (rc == 0 && !chunked_done(&ck))
		return 1; /* not complete: the test's own value */
	return rc;
}

#define CK(lit, used, why) chunked_whole(lit, sizeof(lit) - 1, used, why, sizeof(why))

static void
test_chunked_valid(void **state)
{
	static const char body[] = "5\r\nhello\r\n1A;ext=1; q=\"a b\"\r\n"
	                           "0123456789abcdefghijklmnop\r\n0\r\nX-T: v\r\n\r\nGET /next";
	struct chunked ck;
	struct err err = ERR_INIT;
	char why[ERR_MSG_MAX];
	size_t used, i, total = 0;

	(void)state;
	assert_int_equal(CK("0\r\n\r\n", &used, why), 0);
	assert_int_equal(used, 5);
	assert_int_equal(CK("5\r\nhello\r\n0\r\n\r\n", &used, why), 0);
	assert_int_equal(CK("000005\r\nhello\r\n0000\r\n\r\n", &used, why), 0);
	assert_int_equal(CK("5 ;a=b\r\nhello\r\n0\r\n\r\n", &used, why), 0);
	/* the body ends where it ends; what follows is the next request */
	assert_int_equal(chunked_whole(body, sizeof(body) - 1, &used, why, sizeof(why)), 0);
	assert_int_equal(used, sizeof(body) - 1 - strlen("GET /next"));
	/* byte by byte, the same */
	chunked_init(&ck);
	for (i = 0; i < sizeof(body) - 1 && !chunked_done(&ck); i++) {
		size_t u;
		assert_int_equal(chunked_parse(&ck, body + i, 1, &u, &err), 0);
		total += u;
	}
	assert_true(chunked_done(&ck));
	assert_int_equal(total, used);
	/* not complete yet */
	assert_int_equal(CK("5\r\nhel", &used, why), 1);
	assert_int_equal(used, 6);
}

static void
test_chunked_strict(void **state)
{
	char why[ERR_MSG_MAX], big[2 * CHUNKED_EXT_MAX + 64], tr[CHUNKED_TRAILER_MAX + 64];
	size_t used, n;

	(void)state;
	/* CRLF after chunk data: "helloXY" would be data, CRLF to a lenient
	 * parser, and the "0" the next request's start */
	assert_int_equal(CK("5\r\nhelloXY0\r\n\r\n", &used, why), -1);
	assert_string_equal(why, "chunk data is not followed by CRLF");
	assert_int_equal(used, 8);
	assert_int_equal(CK("5\r\nhello\rX", &used, why), -1);
	assert_int_equal(CK("5\r\nhello\n0\r\n\r\n", &used, why), -1);
	/* no bare LF, no lone CR in size lines, trailers, the end */
	assert_int_equal(CK("5\nhello\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("5;a\nhello\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("5\rhello\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\n\n", &used, why), -1);
	assert_int_equal(CK("0\r\nX: a\nY: b\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nX: a\rY: b\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nX: a\rYY: b\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\n\rX", &used, why), -1);
	/* sizes: hex only, bounded digits, bounded value */
	assert_int_equal(CK("zz\r\nabc\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("\r\n", &used, why), -1);
	assert_int_equal(CK("0x5\r\nhello\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("-5\r\n", &used, why), -1);
	assert_int_equal(CK("+5\r\n", &used, why), -1);
	assert_int_equal(CK("5 \r\nhello\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("7fffffff\r\n", &used, why), 1);
	assert_int_equal(CK("80000000\r\n", &used, why), -1);
	assert_string_equal(why, "a chunk is too large");
	assert_int_equal(CK("100000005\r\nhello\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("fffffffffffffffff1\r\n", &used, why), -1);
	assert_int_equal(CK("0000000000000005\r\n", &used, why), 1);
	assert_int_equal(CK("00000000000000005\r\n", &used, why), -1);
	assert_string_equal(why, "a chunk size has too many digits");
	/* extensions: no control characters, bounded */
	assert_int_equal(CK("5;a\x01\r\nhello\r\n0\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("5;a\x7f\r\nhello\r\n0\r\n\r\n", &used, why), -1);
	n = (size_t)snprintf(big, sizeof(big), "5;");
	memset(big + n, 'x', CHUNKED_EXT_MAX + 1);
	n += CHUNKED_EXT_MAX + 1;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\nhello\r\n0\r\n\r\n");
	assert_int_equal(chunked_whole(big, n, &used, why, sizeof(why)), -1);
	assert_string_equal(why, "chunk extensions are too long");
	n = (size_t)snprintf(big, sizeof(big), "5;");
	memset(big + n, 'x', CHUNKED_EXT_MAX);
	n += CHUNKED_EXT_MAX;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\nhello\r\n0\r\n\r\n");
	assert_int_equal(chunked_whole(big, n, &used, why, sizeof(why)), 0);
	/* trailers: fields, not folded, not framing ones, bounded */
	assert_int_equal(CK("0\r\nX: a\r\n b\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\n X: a\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nX a: b\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\n: b\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nX: a\x00b\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nContent-Length: 5\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nTRANSFER-ENCODING: chunked\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nHost: x\r\n\r\n", &used, why), -1);
	assert_int_equal(CK("0\r\nContent-Lengthy: 5\r\n\r\n", &used, why), 0);
	n = (size_t)snprintf(tr, sizeof(tr), "0\r\nX: ");
	memset(tr + n, 'v', CHUNKED_TRAILER_MAX);
	n += CHUNKED_TRAILER_MAX;
	n += (size_t)snprintf(tr + n, sizeof(tr) - n, "\r\n\r\n");
	assert_int_equal(chunked_whole(tr, n, &used, why, sizeof(why)), -1);
	assert_string_equal(why, "the trailer section is too long");
}

static void
test_chunked_error_sticks(void **state)
{
	struct chunked ck;
	struct err err = ERR_INIT;
	size_t used;

	(void)state;
	chunked_init(&ck);
	assert_int_equal(chunked_parse(&ck, "5\r\nhelloX", 9, &used, &err), -1);
	assert_int_equal(used, 8);
	err_clear(&err);
	assert_int_equal(chunked_parse(&ck, "\r\n0\r\n\r\n", 7, &used, &err), -1);
	assert_int_equal(chunked_parse(&ck, "", 0, &used, &err), -1);
}

/* route_path_clean() on s: 0 with the cleaned path in out, or -1. */
static int
clean(const char *s, char *out)
{
	struct err err = ERR_INIT;
	size_t n;

	if (route_path_clean(s, strlen(s), out, &n, &err) < 0) {
		assert_true(err.msg[0] != '\0');
		return -1;
	}
	out[n] = '\0';
	return 0;
}

static void
test_path_clean(void **state)
{
	static const char *const refused[] = {
	    "/v1/../admin",    "/v1/..",        "/v1/./x",          "/v1/.",
	    "/./v1/x",         "/v1/..;/admin", "/v1/..;x=1/admin", "/v1/.;/x",
	    "/v1/..%3b/admin", "/v1/..%3B/x",   "/v1/%2e%2e/admin", "/v1/%2E./admin",
	    "/v1/.%2e/admin",  "/v1%2fadmin",   "/v1/%2F",          "/v1/%5cadmin",
	    "/v1\\..\\admin",  "/v1/\\",        "/v1/%00/x",        "/v1/%252e%252e/x",
	    "/v1/%252F",       "/v1/%c0%ae/x",  "/v1/%C1%9C",       "/v1/%",
	    "/v1/%2",          "/v1/%zz",       "/v1/%u002e%u002e", "/v1//../admin",
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (clean(refused[i], out) == 0)
			fail_msg("%s passed as %s", refused[i], out);
	}
	assert_int_equal(clean("/v1/x", out), 0);
	assert_string_equal(out, "/v1/x");
	assert_int_equal(clean("/v1//x///y", out), 0);
	assert_string_equal(out, "/v1/x/y");
	assert_int_equal(clean("//v1/x", out), 0);
	assert_string_equal(out, "/v1/x");
	assert_int_equal(clean("/v1/x;jsessionid=1", out), 0);
	assert_int_equal(clean("/v1/...", out), 0);
	assert_int_equal(clean("/v1/..x/.y", out), 0);
	assert_int_equal(clean("/v1/a%20b%41%25", out), 0);
	assert_string_equal(out, "/v1/a%20b%41%25");
	assert_int_equal(clean("/v1/%2541", out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_normalize),
	    cmocka_unit_test(test_parse_address),
	    cmocka_unit_test(test_table_lookup_and_paths),
	    cmocka_unit_test(test_table_errors),
	    cmocka_unit_test(test_registry_drain_states),
	    cmocka_unit_test(test_with_route),
	    cmocka_unit_test(test_route_forward),
	    cmocka_unit_test(test_chunked_valid),
	    cmocka_unit_test(test_chunked_strict),
	    cmocka_unit_test(test_chunked_error_sticks),
	    cmocka_unit_test(test_path_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
