/* Unit tests of src/api/api-server: routing, captures, auth, JSON errors,
 * asynchronous replies, over real HTTP on loopback. */
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api-server.h"
#include "common/buf.h"
#include "common/util.h"

static void
h_get_thing(struct api_req *r)
{
	char *q = api_req_query(r, "tail");

	api_reply_json(
	    r, 200,
	    json_pack("{s:s,s:s,s:s?}", "name", r->captures[0], "org", r->who.org_name, "tail", q));
	free(q);
}

static void
h_post_thing(struct api_req *r)
{
	json_t *body = api_req_json(r);

	if (body == NULL)
		return;
	api_reply_json(r, 202, body);
}

static void
h_health(struct api_req *r)
{
	api_reply_text(r, 200, "text/plain", "ok\n", 3);
}

static void
h_async_fire(evutil_socket_t fd, short what, void *arg)
{
	struct api_req *r = arg;

	(void)fd;
	(void)what;
	api_reply_text(r, 200, "text/plain", "later", 5);
}

static void
h_async(struct api_req *r)
{
	struct timeval tv = {0, 20000};

	/* Answer on a later loop pass: the request stays the handler's. */
	event_base_once(evhttp_connection_get_base(evhttp_request_get_connection(r->req)), -1,
	                EV_TIMEOUT, h_async_fire, r, &tv);
}

static const struct api_route test_routes[] = {
    {.method = API_GET, .pattern = "/api/v1/things/{}", .handler = h_get_thing},
    {.method = API_POST, .pattern = "/api/v1/things", .handler = h_post_thing},
    {.method = API_GET, .pattern = "/healthz", .handler = h_health, .flags = API_PUBLIC},
    {.method = API_GET, .pattern = "/async", .handler = h_async, .flags = API_PUBLIC},
    {0},
};
static const struct api_route *const test_tables[] = {test_routes, NULL};

static int
test_auth(void *ctx, const char *token, struct api_principal *who)
{
	(void)ctx;
	if (strcmp(token, "good") != 0)
		return -1;
	snprintf(who->org_name, sizeof who->org_name, "acme");
	return 0;
}

struct fixture {
	struct event_base *base;
	struct api_server *server;
	pthread_t thread;
	int port;
};

static void *
loop_thread(void *arg)
{
	struct fixture *f = arg;

	event_base_loop(f->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct err err = ERR_INIT;

	evthread_use_pthreads();
	f->base = event_base_new();
	assert_int_equal(
	    api_server_new(f->base, "127.0.0.1", 0, test_tables, test_auth, NULL, &f->server, &err),
	    0);
	f->port = api_server_port(f->server);
	assert_true(f->port > 0);
	pthread_create(&f->thread, NULL, loop_thread, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	event_base_loopbreak(f->base);
	pthread_join(f->thread, NULL);
	api_server_free(f->server);
	event_base_free(f->base);
	free(f);
	return 0;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	buf_append(arg, p, size * n);
	return size * n;
}

/* Makes one request; returns the status and fills body (caller frees). */
static long
request(struct fixture *f, const char *method, const char *path, const char *token,
        const char *body, char **out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf b = BUF_INIT;
	char *url = xasprintf("http://127.0.0.1:%d%s", f->port, path);
	char *auth = NULL;
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	if (token != NULL) {
		auth = xasprintf("Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	free(auth);
	*out = buf_take(&b);
	return status;
}

static void
test_routing_and_captures(void **state)
{
	char *body;

	assert_int_equal(
	    request(*state, "GET", "/api/v1/things/w%20eb?tail=5", "good", NULL, &body), 200);
	assert_string_equal(body, "{\"name\":\"w eb\",\"org\":\"acme\",\"tail\":\"5\"}\n");
	free(body);
	assert_int_equal(request(*state, "GET", "/api/v1/nothing", "good", NULL, &body), 404);
	assert_non_null(strstr(body, "\"code\":\"not_found\""));
	free(body);
	assert_int_equal(request(*state, "DELETE", "/api/v1/things", "good", NULL, &body), 405);
	free(body);
	assert_int_equal(request(*state, "GET", "/healthz", NULL, NULL, &body), 200);
	assert_string_equal(body, "ok\n");
	free(body);
}

static void
test_auth_required(void **state)
{
	char *body;

	assert_int_equal(request(*state, "GET", "/api/v1/things/a", NULL, NULL, &body), 401);
	assert_non_null(strstr(body, "needs a bearer token"));
	free(body);
	assert_int_equal(request(*state, "GET", "/api/v1/things/a", "bad", NULL, &body), 401);
	assert_non_null(strstr(body, "not valid"));
	free(body);
}

static void
test_json_bodies(void **state)
{
	char *body;

	assert_int_equal(request(*state, "POST", "/api/v1/things", "good", "{\"a\":1}", &body),
	                 202);
	assert_string_equal(body, "{\"a\":1}\n");
	free(body);
	assert_int_equal(request(*state, "POST", "/api/v1/things", "good", "{\"a\":", &body), 400);
	assert_non_null(strstr(body, "malformed JSON at line 1"));
	free(body);
	assert_int_equal(request(*state, "POST", "/api/v1/things", "good", "[1]", &body), 400);
	assert_non_null(strstr(body, "must be a JSON object"));
	free(body);
	assert_int_equal(
	    request(*state, "POST", "/api/v1/things", "good", "{\"a\":1,\"a\":2}", &body), 400);
	free(body);
}

static void
test_async_reply(void **state)
{
	char *body;

	assert_int_equal(request(*state, "GET", "/async", NULL, NULL, &body), 200);
	assert_string_equal(body, "later");
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routing_and_captures),
	    cmocka_unit_test(test_auth_required),
	    cmocka_unit_test(test_json_bodies),
	    cmocka_unit_test(test_async_reply),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
