/* libFuzzer target: the request path of berth-router, whole. The input is
 * what a client sends on one connection; the real connection code parses,
 * checks, routes and proxies it to a real upstream in this process (which
 * answers every read with a small response), holds it or answers itself. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/log.h"
#include "common/util.h"
#include "router/router-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct router *router;
static struct worker *worker;

static void
upstream_read(struct bufferevent *bev, void *arg)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_write(bev, resp, sizeof(resp) - 1);
}

static void
upstream_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
upstream_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                void *arg)
{
	struct bufferevent *bev =
	    bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);

	bufferevent_setcb(bev, upstream_read, NULL, upstream_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
setup(void)
{
	struct router_settings set;
	struct err err = ERR_INIT;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct evconnlistener *l;
	socklen_t len = sizeof(sin);
	char *text;
	json_t *t;

	log_init("fuzz", LOG_LEVEL_ERROR);
	router_settings_init(&set);
	set.listen = strv_push(NULL, "127.0.0.1:0");
	set.threads = 1;
	if (router_new(&set, &router, &err) < 0)
		log_fatal("%s", err.msg);
	router_settings_free(&set);
	worker = &router->workers[0];
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(worker->base, upstream_accept, NULL,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	                            (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL)
		log_fatal("upstream listener");
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len);
	text = xasprintf("{\"generation\": 1, \"routes\": ["
	                 "{\"host\": \"a.example\", \"upstreams\": [\"127.0.0.1:%d\"]},"
	                 "{\"host\": \"p.example\", \"upstreams\": [\"127.0.0.1:%d\"],"
	                 " \"paths\": [\"/ok\", \"/v1/*\"]},"
	                 "{\"host\": \"h.example\", \"mode\": \"hold\"},"
	                 "{\"host\": \"d.example\", \"mode\": \"down\"},"
	                 "{\"host\": \"*\", \"upstreams\": [\"127.0.0.1:1\", \"127.0.0.1:%d\"]}]}",
	                 ntohs(sin.sin_port), ntohs(sin.sin_port), ntohs(sin.sin_port));
	t = json_loads(text, 0, NULL);
	if (t == NULL || router_set_table_json(router, t, &err) < 0)
		log_fatal("table: %s", err.msg);
	json_decref(t);
	free(text);
	event_base_loop(worker->base, EVLOOP_NONBLOCK); /* picks up the table */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in client = {.sin_family = AF_INET};
	char out[65536];
	int fds[2], i;

	if (router == NULL)
		setup();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) < 0)
		return 0;
	client.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	router_conn_accept(worker, fds[0], (struct sockaddr *)&client, sizeof(client), 0);
	if (size > 0 && write(fds[1], data, size) < 0) {
		/* a full socket buffer: the rest is simply not sent */
	}
	for (i = 0; i < 30; i++) {
		ssize_t n;

		event_base_loop(worker->base, EVLOOP_NONBLOCK);
		while ((n = read(fds[1], out, sizeof(out))) > 0)
			;
		if (n == 0)
			break;
	}
	router_conn_close_all(worker);
	router_conn_reap(worker);
	event_base_loop(worker->base, EVLOOP_NONBLOCK);
	close(fds[1]);
	return 0;
}
