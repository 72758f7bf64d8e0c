/* Unit tests of src/router/router_client.c against a real router, run in
 * this process on its own thread. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/util.h"
#include "router/router.h"
#include "router/router_client.h"

struct fixture {
	struct router *r;
	pthread_t thread;
	char sock[128];
	int rc;
};

static void *
run(void *arg)
{
	struct fixture *f = arg;
	struct err err = ERR_INIT;

	f->rc = router_run(f->r, &err);
	return NULL;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct router_settings set;
	struct err err = ERR_INIT;
	struct stat st;
	int i;

	snprintf(f->sock, sizeof(f->sock), "/tmp/berth-rtr-unit-%d.sock", (int)getpid());
	router_settings_init(&set);
	set.listen = strv_push(NULL, "127.0.0.1:0");
	set.admin_socket = xstrdup(f->sock);
	set.threads = 1;
	if (router_new(&set, &f->r, &err) < 0)
		fail_msg("router_new: %s", err.msg);
	router_settings_free(&set);
	/* port 0 became one real port, the same for every worker */
	assert_true(router_listen_port(f->r, 0) > 0);
	assert_int_equal(router_listen_port(f->r, 1), -1);
	pthread_create(&f->thread, NULL, run, f);
	for (i = 0; i < 500 && stat(f->sock, &st) < 0; i++)
		usleep(10000);
	assert_int_equal(stat(f->sock, &st), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	/* router_run stops on SIGTERM, which its event loop handles. */
	kill(getpid(), SIGTERM);
	pthread_join(f->thread, NULL);
	assert_int_equal(f->rc, 0);
	router_free(f->r);
	free(f);
	return 0;
}

static void
test_push_set_counters(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	json_t *t, *route, *c = NULL, *u;

	t = json_loads("{\"generation\": 4, \"routes\": [{\"host\": \"a.example.com\","
	               " \"upstreams\": [\"127.0.0.1:1\"]}]}",
	               0, NULL);
	assert_int_equal(router_client_push_table(f->sock, t, &err), 0);
	/* an older generation is refused with the router's reason */
	json_object_set_new(t, "generation", json_integer(3));
	assert_true(router_client_push_table(f->sock, t, &err) < 0);
	assert_non_null(strstr(err.msg, "older"));
	err_clear(&err);

	route = json_loads("{\"upstreams\": [\"127.0.0.1:2\"], \"mode\": \"hold\"}", 0, NULL);
	assert_int_equal(router_client_set_route(f->sock, "b.example.com", route, &err), 0);
	assert_int_equal(router_client_get_counters(f->sock, &c, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "generation")), 4);
	assert_int_equal(json_array_size(json_object_get(c, "upstreams")), 2);
	u = json_array_get(json_object_get(c, "upstreams"), 0);
	assert_string_equal(json_string_value(json_object_get(u, "state")), "active");
	assert_int_equal(json_integer_value(json_object_get(u, "in_flight")), 0);
	json_decref(c);

	assert_int_equal(router_client_delete_route(f->sock, "b.example.com", &err), 0);
	assert_int_equal(router_client_delete_route(f->sock, "b.example.com", &err),
	                 ROUTER_CLIENT_ENOTFOUND);
	/* by its code, not its words: a host with 404 in its name is no answer */
	assert_int_equal(router_client_delete_route(f->sock, "x404.example.com", &err),
	                 ROUTER_CLIENT_ENOTFOUND);
	err_clear(&err);
	/* a bad route is refused, with the reason */
	json_object_set_new(route, "mode", json_string("sideways"));
	assert_true(router_client_set_route(f->sock, "c.example.com", route, &err) < 0);
	assert_non_null(strstr(err.msg, "sideways"));
	json_decref(route);
	json_decref(t);
}

static void
test_unreachable(void **state)
{
	struct err err = ERR_INIT;
	json_t *c = NULL;

	(void)state;
	assert_true(router_client_get_counters("/nonexistent/berth.sock", &c, &err) < 0);
	assert_null(c);
	assert_non_null(strstr(err.msg, "/nonexistent/berth.sock"));
	err_clear(&err);
	/* A router that is not there has not deleted anything. */
	assert_int_equal(
	    router_client_delete_route("/nonexistent/berth.sock", "a.example.com", &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_push_set_counters, setup, teardown),
	    cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
