/* Unit tests of src/api/sse: events reach the streams of their org only, and
 * a client that goes away is forgotten. Real HTTP on loopback. */
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

#include <cmocka.h>

#include "api/api-server.h"
#include "api/sse.h"
#include "common/buf.h"
#include "common/util.h"

static struct sse_hub *hub;

static void
h_stream(struct api_req *r)
{
	sse_hub_subscribe(hub, r->req, r->captures[0]);
	api_req_release(r);
}

static const struct api_route routes[] = {
    {.method = API_GET, .pattern = "/stream/{}", .handler = h_stream, .flags = API_PUBLIC},
    {0},
};
static const struct api_route *const tables[] = {routes, NULL};

static struct event_base *base;
static pthread_t loop;

static void *
loop_main(void *arg)
{
	(void)arg;
	event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct publish {
	const char *org;
	int64_t id;
};

static void
do_publish(evutil_socket_t fd, short what, void *arg)
{
	struct publish *p = arg;

	(void)fd;
	(void)what;
	sse_hub_publish(hub, p->org, p->id, "update.started", "{\"container\":\"web\"}");
}

struct reader {
	struct buf got;
	int port;
	const char *org;
	const char *until;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct reader *rd = arg;

	buf_append(&rd->got, p, size * n);
	/* Stop once the awaited event arrived. */
	return strstr(rd->got.data, rd->until) != NULL ? 0 : size * n;
}

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	CURL *c = curl_easy_init();
	char *url = xasprintf("http://127.0.0.1:%d/stream/%s", rd->port, rd->org);

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rd);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	free(url);
	return NULL;
}

static void
test_events_reach_their_org(void **state)
{
	struct api_server *server;
	struct err err = ERR_INIT;
	struct reader acme = {BUF_INIT, 0, "acme", "id: 7\n"};
	struct reader other = {BUF_INIT, 0, "other", "id: 6\n"};
	struct publish p1 = {"other", 6}, p2 = {"acme", 7};
	pthread_t t1, t2;
	struct timeval now = {0, 0}, later = {0, 250000};

	(void)state;
	evthread_use_pthreads();
	base = event_base_new();
	hub = sse_hub_new(base, 100);
	assert_int_equal(api_server_new(base, "127.0.0.1", 0, tables, NULL, NULL, &server, &err),
	                 0);
	acme.port = other.port = api_server_port(server);
	pthread_create(&loop, NULL, loop_main, NULL);
	pthread_create(&t1, NULL, reader_main, &acme);
	pthread_create(&t2, NULL, reader_main, &other);
	for (int i = 0; i < 200 && sse_hub_count(hub) < 2; i++)
		usleep(10000);
	assert_int_equal(sse_hub_count(hub), 2);
	event_base_once(base, -1, EV_TIMEOUT, do_publish, &p1, &now);
	/* Later than a keepalive period, so that a keepalive went out first. */
	event_base_once(base, -1, EV_TIMEOUT, do_publish, &p2, &later);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_non_null(strstr(acme.got.data,
	                       "id: 7\nevent: update.started\ndata: {\"container\":\"web\"}\n\n"));
	assert_null(strstr(acme.got.data, "id: 6"));
	assert_non_null(strstr(other.got.data, "id: 6\n"));
	assert_null(strstr(other.got.data, "id: 7"));
	assert_non_null(strstr(acme.got.data, ": keepalive\n\nid: 7"));
	/* Both clients left; the hub forgets them. */
	for (int i = 0; i < 200 && sse_hub_count(hub) > 0; i++)
		usleep(10000);
	assert_int_equal(sse_hub_count(hub), 0);
	event_base_loopbreak(base);
	pthread_join(loop, NULL);
	sse_hub_free(hub);
	api_server_free(server);
	event_base_free(base);
	buf_free(&acme.got);
	buf_free(&other.got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events_reach_their_org),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
