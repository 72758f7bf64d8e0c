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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "api/api-server.h"
#include "common/buf.h"
#include "common/util.h"
#include "unit.h"

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

/* The hold hook of the tests: it keeps every answer for hold_ms, then lets
 * it go (failed when hold_fail). */
static struct event_base *hold_base;
static _Atomic int holds, hold_fail;
static int hold_ms;

struct hold_job {
	api_release_fn release;
	void *held;
};

static void
hold_fire(evutil_socket_t fd, short what, void *arg)
{
	struct hold_job *j = arg;

	(void)fd;
	(void)what;
	j->release(j->held, hold_fail);
	free(j);
}

static int
test_hold(void *ctx, api_release_fn release, void *held)
{
	struct hold_job *j = xcalloc(1, sizeof *j);
	struct timeval tv = {0, hold_ms * 1000};

	(void)ctx;
	holds++;
	j->release = release;
	j->held = held;
	event_base_once(hold_base, -1, EV_TIMEOUT, hold_fire, j, &tv);
	return 1;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The answer to a write leaves only when the hook lets it; a read's never
 * waits; a failed hold answers 503 instead. */
static void
test_write_answers_wait_for_the_hold(void **state)
{
	struct fixture *f = *state;
	char *body;
	int64_t t0;

	hold_base = f->base;
	hold_ms = 300;
	holds = hold_fail = 0;
	api_server_set_hold(f->server, test_hold);
	t0 = mono_ms();
	assert_int_equal(request(f, "POST", "/api/v1/things", "good", "{\"a\":1}", &body), 202);
	assert_true(mono_ms() - t0 >= 300);
	assert_string_equal(body, "{\"a\":1}\n");
	free(body);
	assert_int_equal(holds, 1);
	t0 = mono_ms();
	assert_int_equal(request(f, "GET", "/api/v1/things/x", "good", NULL, &body), 200);
	assert_true(mono_ms() - t0 < 300);
	free(body);
	assert_int_equal(holds, 1);
	hold_fail = 1;
	assert_int_equal(request(f, "POST", "/api/v1/things", "good", "{\"a\":1}", &body), 503);
	assert_non_null(strstr(body, "could not make the change durable"));
	free(body);
	api_server_set_hold(f->server, NULL);
}

/* A raw client connection to the fixture's server. */
static int
raw_connect(struct fixture *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void
wait_connections(struct fixture *f, int n)
{
	for (int i = 0; i < 300 && api_server_connections(f->server) != n; i++)
		usleep(10000);
	assert_int_equal(api_server_connections(f->server), n);
}

static const char healthz_req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

static void
test_connection_limit(void **state)
{
	struct fixture *f = *state;
	struct api_server_limits lim = {.max_connections = 2, .header_timeout_ms = 10000};
	int a, b, c, d;
	char *got, *body;

	api_server_set_limits(f->server, &lim);
	a = raw_connect(f);
	b = raw_connect(f);
	wait_connections(f, 2);
	/* Beyond the limit: told so, in the API's error form, and closed. */
	c = raw_connect(f);
	assert_int_equal(write(c, healthz_req, strlen(healthz_req)), (ssize_t)strlen(healthz_req));
	got = unit_read_to_eof(c, 3000);
	assert_non_null(got);
	assert_non_null(strstr(got, "HTTP/1.1 503"));
	assert_non_null(strstr(got, "{\"error\":{\"code\":\"too_many_connections\",\"message\":"));
	free(got);
	close(c);
	wait_connections(f, 2);
	/* A slot that frees is counted free again. */
	close(a);
	wait_connections(f, 1);
	assert_int_equal(request(f, "GET", "/healthz", NULL, NULL, &body), 200);
	free(body);
	d = raw_connect(f);
	assert_int_equal(write(d, healthz_req, strlen(healthz_req)), (ssize_t)strlen(healthz_req));
	got = unit_read_to_eof(d, 3000);
	assert_non_null(got);
	assert_non_null(strstr(got, "HTTP/1.1 200"));
	free(got);
	close(d);
	close(b);
	wait_connections(f, 0);
}

/* A client that goes away while its answer is held: the release later finds
 * it gone (ASan: nothing used after it was freed). */
static void
test_held_answer_of_a_closed_connection(void **state)
{
	static const char req[] = "POST /api/v1/things HTTP/1.1\r\nHost: t\r\n"
	                          "Authorization: Bearer good\r\nContent-Type: application/json\r\n"
	                          "Content-Length: 2\r\n\r\n{}";
	struct fixture *f = *state;
	int fd;

	hold_base = f->base;
	hold_ms = 200;
	holds = hold_fail = 0;
	api_server_set_hold(f->server, test_hold);
	fd = raw_connect(f);
	assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	for (int i = 0; i < 300 && holds == 0; i++)
		usleep(10000);
	assert_int_equal(holds, 1);
	close(fd);
	wait_connections(f, 0);
	usleep(300 * 1000); /* the release runs */
	api_server_set_hold(f->server, NULL);
}

static void
test_header_timeout(void **state)
{
	struct fixture *f = *state;
	struct api_server_limits lim = {.max_connections = 100, .header_timeout_ms = 300};
	const char *part = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ";
	int64_t start;
	char *got;
	int fd;

	api_server_set_limits(f->server, &lim);
	/* Sends nothing: closed once the header timeout passed (evhttp's own
	 * idle timeout is 60 s). */
	fd = raw_connect(f);
	start = now_mono_ms();
	got = unit_read_to_eof(fd, 3000);
	assert_non_null(got);
	assert_true(now_mono_ms() - start >= 250);
	free(got);
	close(fd);
	/* Dribbles a header a byte every 50 ms, which resets any idle timer:
	 * still closed after the header timeout. */
	fd = raw_connect(f);
	start = now_mono_ms();
	assert_int_equal(write(fd, part, strlen(part)), (ssize_t)strlen(part));
	for (int i = 0; i < 60; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 50) > 0)
			break;
		if (write(fd, "x", 1) != 1)
			break;
	}
	got = unit_read_to_eof(fd, 1000);
	assert_non_null(got);
	assert_null(strstr(got, "200"));
	assert_true(now_mono_ms() - start < 2000);
	free(got);
	close(fd);
	/* A kept-alive connection gets the timeout again after an answer. */
	fd = raw_connect(f);
	{
		const char *req = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
		assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	}
	got = unit_read_to_eof(fd, 3000);
	assert_non_null(got);
	assert_non_null(strstr(got, "HTTP/1.1 200"));
	free(got);
	close(fd);
	wait_connections(f, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routing_and_captures),
	    cmocka_unit_test(test_auth_required),
	    cmocka_unit_test(test_json_bodies),
	    cmocka_unit_test(test_async_reply),
	    cmocka_unit_test(test_connection_limit),
	    cmocka_unit_test(test_header_timeout),
	    cmocka_unit_test(test_write_answers_wait_for_the_hold),
	    cmocka_unit_test(test_held_answer_of_a_closed_connection),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
