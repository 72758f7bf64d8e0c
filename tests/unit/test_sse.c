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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "api/api-server.h"
#include "api/sse.h"
#include "common/buf.h"
#include "common/util.h"
#include "unit.h"

static struct sse_hub *hub;

static void
h_stream(struct api_req *r)
{
	(void)sse_hub_subscribe(hub, r, r->captures[0]);
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
	long timeout_ms;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct reader *rd = arg;

	size_t from = rd->got.len;

	buf_append(&rd->got, p, size * n);
	/* Stop once the awaited event arrived; look only where it can have
	 * newly appeared (a flood makes this buffer large). */
	from = from > strlen(rd->until) ? from - strlen(rd->until) : 0;
	return strstr(rd->got.data + from, rd->until) != NULL ? 0 : size * n;
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
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rd->timeout_ms > 0 ? rd->timeout_ms : 3000L);
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
	struct reader acme = {BUF_INIT, 0, "acme", "id: 7\n", 0};
	struct reader other = {BUF_INIT, 0, "other", "id: 6\n", 0};
	struct publish p1 = {"other", 6}, p2 = {"acme", 7};
	pthread_t t1, t2;
	struct timeval now = {0, 0}, later = {0, 250000};

	(void)state;
	evthread_use_pthreads();
	base = event_base_new();
	hub = sse_hub_new(base, 100, NULL);
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

/* A stream opened by hand: a socket that sent the request and reads only
 * when told to. rcvbuf > 0 makes its receive buffer that small. */
static int
raw_stream(int port, const char *org, int rcvbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *req =
	    xasprintf("GET /stream/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", org);

	assert_true(fd >= 0);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	free(req);
	return fd;
}

static void
wait_count(int n)
{
	for (int i = 0; i < 300 && sse_hub_count(hub) != n; i++)
		usleep(10000);
	assert_int_equal(sse_hub_count(hub), n);
}

static void
start(const struct sse_limits *lim, struct api_server **server, int *port)
{
	struct err err = ERR_INIT;

	evthread_use_pthreads();
	base = event_base_new();
	hub = sse_hub_new(base, 60000, lim);
	assert_int_equal(api_server_new(base, "127.0.0.1", 0, tables, NULL, NULL, server, &err), 0);
	*port = api_server_port(*server);
	pthread_create(&loop, NULL, loop_main, NULL);
}

static void
stop(struct api_server *server)
{
	event_base_loopbreak(base);
	pthread_join(loop, NULL);
	api_server_free(server);
	sse_hub_free(hub);
	event_base_free(base);
}

static void
test_streams_per_org_limit(void **state)
{
	struct sse_limits lim = {.max_per_org = 2, .max_buffered = 0};
	struct api_server *server;
	int port, a, b, c, o, d;
	char *got;

	(void)state;
	start(&lim, &server, &port);
	a = raw_stream(port, "acme", 0);
	b = raw_stream(port, "acme", 0);
	wait_count(2);
	/* The third of the org: 429 in the API's error form, then closed. */
	c = raw_stream(port, "acme", 0);
	got = unit_read_to_eof(c, 3000);
	assert_non_null(got);
	assert_non_null(strstr(got, "HTTP/1.1 429"));
	assert_non_null(strstr(got, "{\"error\":{\"code\":\"too_many_streams\",\"message\":"));
	free(got);
	close(c);
	/* Another org is not held back by acme's streams. */
	o = raw_stream(port, "other", 0);
	wait_count(3);
	/* A stream that ends frees its place. */
	close(a);
	wait_count(2);
	d = raw_stream(port, "acme", 0);
	wait_count(3);
	close(b);
	close(d);
	close(o);
	wait_count(0);
	stop(server);
}

/* Publishes one event of 8 KiB per loop pass, n of them: more than the
 * kernel's socket buffers hold for a reader that does not read. */
struct flood {
	struct event *ev;
	int sent, n;
	char data[8192];
};

static void
do_flood(evutil_socket_t fd, short what, void *arg)
{
	struct flood *fl = arg;

	(void)fd;
	(void)what;
	if (fl->sent == fl->n) {
		event_del(fl->ev);
		return;
	}
	fl->sent++;
	sse_hub_publish(hub, "acme", fl->sent, "log", fl->data);
}

static void
test_slow_reader_dropped(void **state)
{
	struct sse_limits lim = {.max_per_org = 0, .max_buffered = 256 * 1024};
	struct reader fast = {BUF_INIT, 0, "acme", "id: 1000\n", 30000};
	struct flood fl = {.n = 1000};
	struct timeval every = {0, 1000};
	struct api_server *server;
	pthread_t t;
	int port, slow;
	char *got;

	(void)state;
	memset(fl.data, 'x', sizeof fl.data - 3);
	fl.data[0] = '"';
	fl.data[sizeof fl.data - 3] = '"';
	start(&lim, &server, &port);
	fast.port = port;
	/* Never reads, with a receive window of a few KiB. */
	slow = raw_stream(port, "acme", 4096);
	pthread_create(&t, NULL, reader_main, &fast);
	wait_count(2);
	fl.ev = event_new(base, -1, EV_PERSIST, do_flood, &fl);
	event_add(fl.ev, &every);
	pthread_join(t, NULL);
	/* The reader that kept up saw every event... */
	assert_non_null(strstr(fast.got.data, "id: 1000\n"));
	assert_non_null(strstr(fast.got.data, "id: 1\n"));
	/* ...and the one that did not was dropped, its connection closed (it
	 * reads what the kernel holds, then the end), and logged once. */
	got = unit_read_to_eof(slow, 5000);
	assert_non_null(got);
	assert_null(strstr(got, "id: 1000\n"));
	free(got);
	assert_int_equal(sse_hub_dropped(hub), 1);
	close(slow);
	wait_count(0);
	event_base_loopbreak(base);
	pthread_join(loop, NULL);
	event_free(fl.ev);
	api_server_free(server);
	sse_hub_free(hub);
	event_base_free(base);
	buf_free(&fast.got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events_reach_their_org),
	    cmocka_unit_test(test_streams_per_org_limit),
	    cmocka_unit_test(test_slow_reader_dropped),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
