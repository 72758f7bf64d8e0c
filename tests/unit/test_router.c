/* Unit tests of src/router/route.c: hosts, addresses, tables, paths, drains. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

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

	atomic_store(&old->slots[1].finished, 1);
	c = route_registry_counters(&reg);
	u = find_upstream(c, "127.0.0.1:1");
	assert_string_equal(json_string_value(json_object_get(u, "state")), "drained");
	assert_int_equal(json_integer_value(json_object_get(u, "total")), 1);
	json_decref(c);

	/* once nothing references it, a later change forgets it */
	route_table_unref(t1);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_normalize),         cmocka_unit_test(test_parse_address),
	    cmocka_unit_test(test_table_lookup_and_paths), cmocka_unit_test(test_table_errors),
	    cmocka_unit_test(test_registry_drain_states),  cmocka_unit_test(test_with_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
