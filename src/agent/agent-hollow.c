/* agent-hollow: enclaves that are a listening socket each (agent-hollow.h).
 *
 * Threads: boot, destroy, adopt and list run on the agent's workers; the
 * listeners' accepts and the connections run on the loop. The enclaves are
 * shared under lock and found by name (the operations) or by address (a
 * connection, from its socket's local address), so a connection never holds
 * an enclave: one destroyed while a request is read is simply not answered
 * (the connection closes). Listeners are libevent's thread-safe ones, freed
 * from the worker that destroys. */
#include "agent/agent-hollow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "runtime/enclave.h"

/* Longest request head read before the connection is closed. */
#define HOLLOW_HEAD_MAX 16384

struct hollow_enclave {
	char *name;                 /* owned */
	char ip[INET_ADDRSTRLEN];   /* its loopback address */
	int port;                   /* the config's shim.upstream-port */
	struct evconnlistener *lev; /* owned: the "enclave" */
};

/* One accepted connection. Loop thread only. */
struct hollow_conn {
	struct agent_hollow *h;   /* borrowed */
	struct bufferevent *bev;  /* owned */
	char ip[INET_ADDRSTRLEN]; /* the local address it was accepted on */
	int port;
	int closing; /* answered with Connection: close: freed once written */
	struct hollow_conn *prev, *next;
};

struct agent_hollow {
	struct recon_host base;
	struct event_base *ev;     /* borrowed */
	struct recon_host *router; /* borrowed */
	uint32_t net;              /* the subnet, host order */
	uint32_t size;             /* addresses in it */
	int gpus;                  /* simulated */
	pthread_mutex_t lock;      /* the maps and cursor */
	struct strmap *by_name;    /* name -> struct hollow_enclave, owned */
	struct strmap *by_ip;      /* ip -> the same, borrowed */
	uint32_t cursor;           /* the last address given */
	struct hollow_conn *conns; /* loop thread: every open connection */
};

static struct agent_hollow *
hollow_of(struct recon_host *h)
{
	return (struct agent_hollow *)h;
}

static void
hollow_enclave_free(void *p)
{
	struct hollow_enclave *he = p;

	if (he == NULL)
		return;
	if (he->lev != NULL)
		evconnlistener_free(he->lev);
	free(he->name);
	free(he);
}

/* ---- the connections (loop thread) ---- */

static void
conn_free(struct hollow_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

/* The value of header name in head (NUL-terminated, CRLF lines) into out,
 * or 0 when it has none. */
static int
head_value(const char *head, const char *name, char *out, size_t n)
{
	size_t len = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l, "\r\n")) {
		l += 2;
		if (strncasecmp(l, name, len) == 0 && l[len] == ':') {
			const char *v = l + len + 1;
			size_t k;

			v += strspn(v, " \t");
			k = strcspn(v, "\r");
			if (k >= n)
				k = n - 1;
			memcpy(out, v, k);
			out[k] = '\0';
			return 1;
		}
	}
	return 0;
}

/* Answers one request: 1 when one was answered, 0 when it is not all in
 * yet, -1 when the connection is to close now. */
static int
conn_answer_one(struct hollow_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char head[HOLLOW_HEAD_MAX + 1], value[64], method[16], path[256], version[16];
	char name[ENCLAVE_NAME_MAX + 1] = "";
	size_t head_len, body_len = 0;
	struct hollow_enclave *he;
	int status, keep;

	if (end.pos < 0)
		return evbuffer_get_length(in) > HOLLOW_HEAD_MAX ? -1 : 0;
	head_len = (size_t)end.pos + 4;
	if (head_len > HOLLOW_HEAD_MAX)
		return -1;
	evbuffer_copyout(in, head, head_len);
	head[head_len] = '\0';
	if (sscanf(head, "%15s %255s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0)
		return -1;
	if (head_value(head, "Transfer-Encoding", value, sizeof value))
		return -1; /* nothing of berth sends a chunked body here */
	if (head_value(head, "Content-Length", value, sizeof value))
		body_len = strtoul(value, NULL, 10);
	if (body_len > (1u << 20))
		return -1;
	if (evbuffer_get_length(in) < head_len + body_len)
		return 0;
	evbuffer_drain(in, head_len + body_len);
	keep = strcmp(version, "HTTP/1.0") != 0;
	if (head_value(head, "Connection", value, sizeof value))
		keep = strcasecmp(value, "close") != 0 &&
		       (keep || strcasecmp(value, "keep-alive") == 0);
	pthread_mutex_lock(&c->h->lock);
	he = strmap_get(c->h->by_ip, c->ip);
	if (he != NULL && he->port == c->port)
		snprintf(name, sizeof name, "%s", he->name);
	pthread_mutex_unlock(&c->h->lock);
	if (name[0] == '\0')
		return -1; /* destroyed meanwhile */
	path[strcspn(path, "?")] = '\0';
	status = strcmp(path, "/") == 0 || strcmp(path, "/health") == 0 ? 200 : 404;
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	                    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	                    "Connection: %s\r\n\r\n%s\n",
	                    status, status == 200 ? "OK" : "Not Found",
	                    status == 200 ? strlen(name) + 1 : strlen("not found") + 1,
	                    keep ? "keep-alive" : "close", status == 200 ? name : "not found");
	if (!keep) {
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
	return 1;
}

static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	struct hollow_conn *c = arg;
	int rc;

	(void)bev;
	while (!c->closing && (rc = conn_answer_one(c)) > 0)
		;
	if (!c->closing && rc < 0)
		conn_free(c);
}

static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct hollow_conn *c = arg;

	(void)bev;
	if (c->closing)
		conn_free(c);
}

static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void
hollow_on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *peer, int len,
                 void *arg)
{
	struct agent_hollow *h = arg;
	struct sockaddr_in local;
	socklen_t n = sizeof local;
	struct hollow_conn *c;

	(void)lev;
	(void)peer;
	(void)len;
	if (getsockname(fd, (struct sockaddr *)&local, &n) < 0 || local.sin_family != AF_INET) {
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->h = h;
	inet_ntop(AF_INET, &local.sin_addr, c->ip, sizeof c->ip);
	c->port = ntohs(local.sin_port);
	c->bev = bufferevent_socket_new(h->ev, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = c;
	h->conns = c;
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	bufferevent_enable(c->bev, EV_READ);
}

/* ---- the operations (workers) ---- */

/* The next address of the subnet that no enclave has, under h->lock: 0
 * with ip filled, or negative when every one is taken. */
static int
hollow_next_ip(struct agent_hollow *h, char ip[INET_ADDRSTRLEN], struct err *err)
{
	for (uint32_t tries = 0; tries < h->size; tries++) {
		struct in_addr a;

		h->cursor = (h->cursor + 1) % h->size;
		if (h->cursor == 0 || (h->size > 2 && h->cursor == h->size - 1))
			continue; /* the subnet's first and last, as on a real one */
		a.s_addr = htonl(h->net + h->cursor);
		inet_ntop(AF_INET, &a, ip, INET_ADDRSTRLEN);
		if (strmap_get(h->by_ip, ip) == NULL)
			return 0;
	}
	return err_make(err, 0, "hollow runtime: every address of the subnet is taken");
}

static struct enclave *
hollow_enclave_copy(const struct hollow_enclave *he)
{
	struct enclave *e = xcalloc(1, sizeof *e);

	e->name = xstrdup(he->name);
	e->ip = xstrdup(he->ip);
	e->isolation = xstrdup("runc");
	return e;
}

static int
hollow_destroy(struct recon_host *hh, const char *name, struct err *err)
{
	struct agent_hollow *h = hollow_of(hh);
	struct hollow_enclave *he;

	(void)err;
	pthread_mutex_lock(&h->lock);
	he = strmap_del(h->by_name, name);
	if (he != NULL)
		strmap_del(h->by_ip, he->ip);
	pthread_mutex_unlock(&h->lock);
	if (he != NULL)
		log_debug("hollow enclave %s at %s:%d closed", he->name, he->ip, he->port);
	hollow_enclave_free(he);
	return 0;
}

static int
hollow_boot(struct recon_host *hh, const struct recon_boot_spec *spec, struct enclave **out,
            struct err *err)
{
	struct agent_hollow *h = hollow_of(hh);
	struct hollow_enclave *he = xcalloc(1, sizeof *he);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct enclave *e;

	*out = NULL;
	/* A boot again (resume, or a retry of the same deployment) starts anew. */
	hollow_destroy(hh, spec->name, err);
	he->name = xstrdup(spec->name);
	he->port = spec->cfg->shim.upstream_port;
	pthread_mutex_lock(&h->lock);
	if (hollow_next_ip(h, he->ip, err) < 0) {
		pthread_mutex_unlock(&h->lock);
		hollow_enclave_free(he);
		return -1;
	}
	/* Held for this one while its socket opens. */
	strmap_put(h->by_ip, he->ip, he);
	pthread_mutex_unlock(&h->lock);
	sin.sin_port = htons((uint16_t)he->port);
	inet_pton(AF_INET, he->ip, &sin.sin_addr);
	he->lev = evconnlistener_new_bind(h->ev, hollow_on_accept, h,
	                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                                      LEV_OPT_REUSEABLE | LEV_OPT_THREADSAFE,
	                                  -1, (struct sockaddr *)&sin, sizeof sin);
	pthread_mutex_lock(&h->lock);
	if (he->lev == NULL) {
		int e_no = errno;

		strmap_del(h->by_ip, he->ip);
		pthread_mutex_unlock(&h->lock);
		err_make(err, e_no, "hollow runtime: listen on %s:%d", he->ip, he->port);
		hollow_enclave_free(he);
		return -1;
	}
	strmap_put(h->by_name, he->name, he);
	e = hollow_enclave_copy(he);
	pthread_mutex_unlock(&h->lock);
	if (spec->percent != NULL)
		atomic_store(spec->percent, 100);
	if (spec->booting != NULL)
		atomic_store(spec->booting, 1);
	log_debug("hollow enclave %s listening on %s:%d", e->name, e->ip, he->port);
	*out = e;
	return 0;
}

static int
hollow_adopt(struct recon_host *hh, const char *name, struct enclave **out,
             enum enclave_observed *observed, struct err *err)
{
	struct agent_hollow *h = hollow_of(hh);
	struct hollow_enclave *he;
	struct enclave *e = NULL;

	pthread_mutex_lock(&h->lock);
	he = strmap_get(h->by_name, name);
	if (he != NULL)
		e = hollow_enclave_copy(he);
	pthread_mutex_unlock(&h->lock);
	if (e == NULL) {
		err_make(err, 0, "no enclave %s on this host", name);
		err->code = ENOENT;
		return -1;
	}
	*observed = ENCLAVE_OBSERVED_RUNNING;
	if (out != NULL)
		*out = e;
	else
		enclave_free(e);
	return 0;
}

static int
hollow_name_add(const char *key, void *value, void *arg)
{
	char ***names = arg;

	(void)value;
	*names = strv_push(*names, key);
	return 1;
}

static int
hollow_list(struct recon_host *hh, char ***names, struct err *err)
{
	struct agent_hollow *h = hollow_of(hh);

	(void)err;
	*names = NULL;
	pthread_mutex_lock(&h->lock);
	strmap_filter(h->by_name, hollow_name_add, names, NULL);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static int
hollow_exec(struct recon_host *hh, const struct enclave *e, const char *container,
            char *const *argv, int64_t timeout_ms, int *exit_code, char **output, struct err *err)
{
	(void)hh;
	(void)e;
	(void)container;
	(void)argv;
	(void)timeout_ms;
	(void)err;
	*exit_code = 0;
	*output = xstrdup("");
	return 0;
}

/* Nothing is kept: a hollow enclave has no logs, no volumes. The agent's
 * API answers these calls, so they are there, and succeed. */
static int
hollow_keep_logs(struct recon_host *hh, const char *name, const char *container_id,
                 const char *deployment_id, struct err *err)
{
	(void)hh;
	(void)name;
	(void)container_id;
	(void)deployment_id;
	(void)err;
	return 0;
}

static int
hollow_drop(struct recon_host *hh, const char *container_id, struct err *err)
{
	(void)hh;
	(void)container_id;
	(void)err;
	return 0;
}

static void
hollow_check(struct recon_host *hh, const struct health_check *c, health_exec_fn exec,
             void *exec_arg, struct health_result *r)
{
	(void)hh;
	health_check_run(c, exec, exec_arg, r);
}

static void
hollow_release(struct recon_host *hh, struct enclave *e)
{
	(void)hh;
	enclave_free(e);
}

static int
hollow_gpus(struct recon_host *hh)
{
	return hollow_of(hh)->gpus;
}

/* ---- the router's operations: the real router's, when there is one ---- */

static int
hollow_no_router(struct err *err)
{
	return err_make(err, 0, "this hollow host has no router");
}

static int
hollow_router_status(struct recon_host *hh, int64_t *generation, struct err *err)
{
	struct recon_host *r = hollow_of(hh)->router;

	return r != NULL ? r->ops->router_status(r, generation, err) : hollow_no_router(err);
}

static int
hollow_router_push_table(struct recon_host *hh, const json_t *table, struct err *err)
{
	struct recon_host *r = hollow_of(hh)->router;

	return r != NULL ? r->ops->router_push_table(r, table, err) : hollow_no_router(err);
}

static int
hollow_router_set_route(struct recon_host *hh, const char *host, const json_t *route,
                        struct err *err)
{
	struct recon_host *r = hollow_of(hh)->router;

	return r != NULL ? r->ops->router_set_route(r, host, route, err) : hollow_no_router(err);
}

static int
hollow_router_delete_route(struct recon_host *hh, const char *host, struct err *err)
{
	struct recon_host *r = hollow_of(hh)->router;

	return r != NULL ? r->ops->router_delete_route(r, host, err) : hollow_no_router(err);
}

static int
hollow_router_counters(struct recon_host *hh, json_t **out, struct err *err)
{
	struct recon_host *r = hollow_of(hh)->router;

	return r != NULL ? r->ops->router_counters(r, out, err) : hollow_no_router(err);
}

static int
hollow_router_spawn(struct recon_host *hh, struct err *err)
{
	struct recon_host *r = hollow_of(hh)->router;

	return r != NULL ? r->ops->router_spawn(r, err) : hollow_no_router(err);
}

static const struct recon_host_ops hollow_ops = {
    .boot = hollow_boot,
    .adopt = hollow_adopt,
    .destroy = hollow_destroy,
    .keep_logs = hollow_keep_logs,
    .drop_logs = hollow_drop,
    .drop_volumes = hollow_drop,
    .list = hollow_list,
    .exec = hollow_exec,
    .check = hollow_check,
    .release = hollow_release,
    .gpus = hollow_gpus,
    .router_status = hollow_router_status,
    .router_push_table = hollow_router_push_table,
    .router_set_route = hollow_router_set_route,
    .router_delete_route = hollow_router_delete_route,
    .router_counters = hollow_router_counters,
    .router_spawn = hollow_router_spawn,
};

/* subnet "127.A.B.C/N" (N from 8 to 30) into *net (host order, the
 * network) and *size: 0, or negative with err. */
static int
hollow_subnet_parse(const char *subnet, uint32_t *net, uint32_t *size, struct err *err)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(subnet, '/');
	struct in_addr a;
	char *end;
	long bits;

	if (slash == NULL || (size_t)(slash - subnet) >= sizeof addr)
		goto bad;
	memcpy(addr, subnet, (size_t)(slash - subnet));
	addr[slash - subnet] = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (*end != '\0' || bits < 8 || bits > 30 || inet_pton(AF_INET, addr, &a) != 1)
		goto bad;
	*net = ntohl(a.s_addr) & (0xffffffffu << (32 - bits));
	*size = 1u << (32 - bits);
	if ((*net >> 24) != 127)
		return err_make(err, 0,
		                "hollow runtime: --subnet %s is not loopback (127.0.0.0/8): its "
		                "enclaves listen on the host's loopback",
		                subnet);
	return 0;
bad:
	return err_make(err, 0, "hollow runtime: --subnet \"%s\" is not an IPv4 CIDR (/8 to /30)",
	                subnet);
}

int
agent_hollow_new(struct event_base *base, const char *subnet, int gpus, struct recon_host *router,
                 struct recon_host **out, struct err *err)
{
	struct agent_hollow *h;
	uint32_t net = 0, size = 0;

	*out = NULL;
	if (hollow_subnet_parse(subnet, &net, &size, err) < 0)
		return -1;
	h = xcalloc(1, sizeof *h);
	h->base.ops = &hollow_ops;
	h->ev = base;
	h->router = router;
	h->net = net;
	h->size = size;
	h->gpus = gpus > 0 ? gpus : 0;
	pthread_mutex_init(&h->lock, NULL);
	h->by_name = strmap_new();
	h->by_ip = strmap_new();
	*out = &h->base;
	return 0;
}

void
agent_hollow_free(struct recon_host *hh)
{
	struct agent_hollow *h;

	if (hh == NULL)
		return;
	h = hollow_of(hh);
	while (h->conns != NULL)
		conn_free(h->conns);
	strmap_free(h->by_ip, NULL);
	strmap_free(h->by_name, hollow_enclave_free);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
