/* router_admin: the admin API of berth-router, HTTP + JSON on a unix socket.
 * Runs on the main thread, which alone builds tables. See docs/router.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "router/router-int.h"

#define ADMIN_BODY_MAX (16 * 1024 * 1024)
#define RELAXED        memory_order_relaxed

static void
reply_json(struct evhttp_request *req, int code, json_t *j)
{
	struct evbuffer *b = evbuffer_new();
	char *s = json_dumps(j, JSON_COMPACT);

	evbuffer_add(b, s, strlen(s));
	evbuffer_add(b, "\n", 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
	free(s);
	json_decref(j);
}

static void
reply_error(struct evhttp_request *req, int code, const char *msg)
{
	reply_json(req, code, json_pack("{s:s}", "error", msg));
}

static json_t *
request_json(struct evhttp_request *req, struct err *err)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_error_t je;
	json_t *j;

	j = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, &je);
	if (j == NULL)
		err_make(err, 0, "invalid JSON at line %d column %d: %s", je.line, je.column,
		         je.text);
	return j;
}

static void
admin_put_table(struct router *r, struct evhttp_request *req)
{
	struct err err = ERR_INIT;
	struct route_table *t;
	json_t *j = request_json(req, &err), *gen;

	if (j == NULL) {
		reply_error(req, 400, err.msg);
		return;
	}
	gen = json_object_get(j, "generation");
	if (!json_is_integer(gen)) {
		json_decref(j);
		reply_error(req, 400, "the table needs an integer \"generation\"");
		return;
	}
	if ((uint64_t)json_integer_value(gen) < r->table->generation) {
		char *msg = xasprintf("generation %lld is older than the current %llu",
		                      (long long)json_integer_value(gen),
		                      (unsigned long long)r->table->generation);
		json_decref(j);
		reply_error(req, 409, msg);
		free(msg);
		return;
	}
	if (route_table_from_json(&r->reg, j, &t, &err) < 0) {
		json_decref(j);
		reply_error(req, 400, err.msg);
		return;
	}
	json_decref(j);
	router_install_table(r, t);
	reply_json(req, 200, json_pack("{s:I}", "generation", (json_int_t)t->generation));
}

/* PUT (route != NULL) or DELETE one route. */
static void
admin_set_route(struct router *r, struct evhttp_request *req, const char *host, int del)
{
	struct err err = ERR_INIT;
	struct route_table *t;
	uint64_t generation = r->table->generation;
	json_t *j = NULL, *gen;
	int rc;

	if (!del) {
		j = request_json(req, &err);
		if (j == NULL) {
			reply_error(req, 400, err.msg);
			return;
		}
		gen = json_object_get(j, "generation");
		if (gen != NULL) {
			if (!json_is_integer(gen) || json_integer_value(gen) < 0) {
				json_decref(j);
				reply_error(req, 400, "generation must be a non-negative integer");
				return;
			}
			if ((uint64_t)json_integer_value(gen) < generation) {
				json_decref(j);
				reply_error(req, 409, "generation older than the current one");
				return;
			}
			generation = (uint64_t)json_integer_value(gen);
			json_object_del(j, "generation");
		}
	}
	rc = route_table_with_route(&r->reg, r->table, host, j, generation, &t, &err);
	json_decref(j);
	if (rc < 0) {
		reply_error(req, err.code == ENOENT ? 404 : 400, err.msg);
		return;
	}
	router_install_table(r, t);
	reply_json(req, 200, json_pack("{s:I}", "generation", (json_int_t)t->generation));
}

/* PUT {"host", "key_authorization"} or DELETE one ACME challenge. */
static void
admin_challenge(struct router *r, struct evhttp_request *req, const char *token, int del)
{
	struct err err = ERR_INIT;
	json_t *j;
	int rc;

	if (del) {
		if (router_acme_delete(&r->acme, token) < 0)
			reply_error(req, 404, "no such challenge");
		else
			reply_json(req, 200, json_pack("{s:s}", "token", token));
		return;
	}
	j = request_json(req, &err);
	if (j == NULL) {
		reply_error(req, 400, err.msg);
		return;
	}
	rc = router_acme_set(&r->acme, token, json_string_value(json_object_get(j, "host")),
	                     json_string_value(json_object_get(j, "key_authorization")), &err);
	json_decref(j);
	if (rc < 0)
		reply_error(req, 400, err.msg);
	else
		reply_json(req, 200, json_pack("{s:s}", "token", token));
}

/* PUT {"key_authorization"} or DELETE the TLS-ALPN-01 challenge of host. */
static void
admin_tls_challenge(struct router *r, struct evhttp_request *req, const char *host, int del)
{
	char norm[ROUTE_HOST_MAX + 1];
	struct err err = ERR_INIT;
	json_t *j;
	int rc;

	if (r->tls == NULL) {
		reply_error(req, 409, "the router has no TLS listener (--tls-listen)");
		return;
	}
	if (del) {
		if (route_host_normalize(host, strlen(host), norm) < 0 ||
		    router_tls_clear_alpn(r->tls, norm) < 0)
			reply_error(req, 404, "no such challenge");
		else
			reply_json(req, 200, json_pack("{s:s}", "host", norm));
		return;
	}
	j = request_json(req, &err);
	if (j == NULL) {
		reply_error(req, 400, err.msg);
		return;
	}
	rc = router_acme_alpn_check(
	    host, json_string_value(json_object_get(j, "key_authorization")), norm, &err);
	if (rc == 0)
		rc = router_tls_set_alpn(
		    r->tls, norm, json_string_value(json_object_get(j, "key_authorization")), &err);
	json_decref(j);
	if (rc < 0)
		reply_error(req, 400, err.msg);
	else
		reply_json(req, 200, json_pack("{s:s}", "host", norm));
}

static void
admin_get_route(struct router *r, struct evhttp_request *req, const char *host)
{
	json_t *all = route_table_to_json(r->table), *v;
	char norm[ROUTE_HOST_MAX + 1];
	size_t i;

	if (strcmp(host, "*") == 0)
		strcpy(norm, "*");
	else if (route_host_normalize(host, strlen(host), norm) < 0)
		norm[0] = '\0';
	json_array_foreach(json_object_get(all, "routes"), i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "host")), norm) == 0) {
			reply_json(req, 200, json_incref(v));
			json_decref(all);
			return;
		}
	}
	json_decref(all);
	reply_error(req, 404, "no such route");
}

static void
metrics_route(struct buf *b, const struct route_stats *s)
{
	static const char *cls[ROUTE_STATUS_CLASSES] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	uint64_t lat[ROUTE_LATENCY_BUCKETS] = {0}, st[ROUTE_STATUS_CLASSES] = {0}, sum_us = 0,
	         cum = 0;
	size_t i, k;

	for (i = 0; i < s->nslots; i++) {
		for (k = 0; k < ROUTE_STATUS_CLASSES; k++)
			st[k] += atomic_load_explicit(&s->slots[i].status[k], RELAXED);
		for (k = 0; k < ROUTE_LATENCY_BUCKETS; k++)
			lat[k] += atomic_load_explicit(&s->slots[i].latency[k], RELAXED);
		sum_us += atomic_load_explicit(&s->slots[i].latency_sum_us, RELAXED);
	}
	for (k = 0; k < ROUTE_STATUS_CLASSES; k++)
		if (st[k] > 0)
			buf_printf(b,
			           "berth_router_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
			           s->host, cls[k], (unsigned long long)st[k]);
	for (k = 0; k < ROUTE_LATENCY_BUCKETS; k++) {
		cum += lat[k];
		if (k == ROUTE_LATENCY_BUCKETS - 1)
			buf_printf(b,
			           "berth_router_request_duration_seconds_bucket{route=\"%s\","
			           "le=\"+Inf\"} %llu\n",
			           s->host, (unsigned long long)cum);
		else
			buf_printf(b,
			           "berth_router_request_duration_seconds_bucket{route=\"%s\","
			           "le=\"%g\"} %llu\n",
			           s->host, (double)route_latency_bounds_us[k] / 1e6,
			           (unsigned long long)cum);
	}
	buf_printf(b, "berth_router_request_duration_seconds_sum{route=\"%s\"} %.6f\n", s->host,
	           (double)sum_us / 1e6);
	buf_printf(b, "berth_router_request_duration_seconds_count{route=\"%s\"} %llu\n", s->host,
	           (unsigned long long)cum);
}

static void
admin_metrics(struct router *r, struct evhttp_request *req)
{
	struct buf b = BUF_INIT;
	struct evbuffer *out = evbuffer_new();
	struct router_counters n;
	size_t i;

	router_counters_snapshot(r, &n);
	buf_printf(&b, "# TYPE berth_router_requests_total counter\n"
	               "# TYPE berth_router_request_duration_seconds histogram\n");
	metrics_route(&b, r->nostats);
	for (i = 0; i < r->reg.nstats; i++)
		metrics_route(&b, r->reg.stats[i]);
	buf_printf(&b,
	           "# TYPE berth_router_in_flight gauge\nberth_router_in_flight %llu\n"
	           "# TYPE berth_router_held gauge\nberth_router_held %llu\n"
	           "# TYPE berth_router_connections gauge\nberth_router_connections %llu\n"
	           "# TYPE berth_router_connections_total counter\n"
	           "berth_router_connections_total %llu\n"
	           "# TYPE berth_router_table_generation gauge\n"
	           "berth_router_table_generation %llu\n",
	           (unsigned long long)n.in_flight, (unsigned long long)n.held,
	           (unsigned long long)n.conns_open, (unsigned long long)n.conns_total,
	           (unsigned long long)r->table->generation);
	buf_printf(&b, "# TYPE berth_router_upstream_in_flight gauge\n"
	               "# TYPE berth_router_upstream_requests_total counter\n"
	               "# TYPE berth_router_upstream_errors_total counter\n");
	for (i = 0; i < r->reg.nups; i++) {
		const struct upstream *up = r->reg.ups[i];
		uint64_t total = 0, errors = 0;
		size_t k;

		for (k = 0; k < up->nslots; k++) {
			total += atomic_load_explicit(&up->slots[k].started, RELAXED);
			errors += atomic_load_explicit(&up->slots[k].errors, RELAXED);
		}
		buf_printf(
		    &b,
		    "berth_router_upstream_in_flight{route=\"%s\",address=\"%s\"} %llu\n"
		    "berth_router_upstream_requests_total{route=\"%s\",address=\"%s\"} %llu\n"
		    "berth_router_upstream_errors_total{route=\"%s\",address=\"%s\"} %llu\n",
		    up->host, up->address, (unsigned long long)upstream_in_flight(up), up->host,
		    up->address, (unsigned long long)total, up->host, up->address,
		    (unsigned long long)errors);
	}
	evbuffer_add(out, b.data, b.len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
	buf_free(&b);
}

static void
admin_cb(struct evhttp_request *req, void *arg)
{
	struct router *r = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char *host = NULL;

	if (path == NULL) {
		reply_error(req, 400, "no path");
		return;
	}
	if (strcmp(path, "/v1/table") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			reply_json(req, 200, route_table_to_json(r->table));
		else if (cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_POST)
			admin_put_table(r, req);
		else
			reply_error(req, 405, "GET or PUT");
	} else if (strncmp(path, "/v1/routes/", 11) == 0 && path[11] != '\0') {
		host = evhttp_uridecode(path + 11, 0, NULL);
		if (cmd == EVHTTP_REQ_GET)
			admin_get_route(r, req, host);
		else if (cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_POST)
			admin_set_route(r, req, host, 0);
		else if (cmd == EVHTTP_REQ_DELETE)
			admin_set_route(r, req, host, 1);
		else
			reply_error(req, 405, "GET, PUT or DELETE");
	} else if (strncmp(path, "/v1/challenges/", 15) == 0 && path[15] != '\0') {
		host = evhttp_uridecode(path + 15, 0, NULL);
		if (cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_DELETE)
			admin_challenge(r, req, host, cmd == EVHTTP_REQ_DELETE);
		else
			reply_error(req, 405, "PUT or DELETE");
	} else if (strncmp(path, "/v1/tls-challenges/", 19) == 0 && path[19] != '\0') {
		host = evhttp_uridecode(path + 19, 0, NULL);
		if (cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_DELETE)
			admin_tls_challenge(r, req, host, cmd == EVHTTP_REQ_DELETE);
		else
			reply_error(req, 405, "PUT or DELETE");
	} else if (strcmp(path, "/v1/upstreams") == 0 && cmd == EVHTTP_REQ_GET) {
		reply_json(req, 200,
		           json_pack("{s:I,s:o}", "generation", (json_int_t)r->table->generation,
		                     "upstreams", route_registry_counters(&r->reg)));
	} else if (strcmp(path, "/v1/status") == 0 && cmd == EVHTTP_REQ_GET) {
		struct router_counters n;

		json_t *fds = json_array();

		router_counters_snapshot(r, &n);
		/* berthd takes a copy of each (pidfd_getfd) to hold the backlog
		 * while a router it has to start again is away. */
		for (size_t i = 0; i < r->nlisten; i++)
			json_array_append_new(fds, json_integer(r->listen_first[i]));
		reply_json(req, 200,
		           json_pack("{s:s,s:I,s:i,s:i,s:I,s:I,s:I,s:i,s:o}", "version",
		                     BERTH_VERSION, "generation", (json_int_t)r->table->generation,
		                     "routes", (int)r->table->nroutes, "threads", (int)r->nworkers,
		                     "connections", (json_int_t)n.conns_open, "in_flight",
		                     (json_int_t)n.in_flight, "held", (json_int_t)n.held, "pid",
		                     (int)getpid(), "listen_fds", fds));
	} else if (strcmp(path, "/metrics") == 0 && cmd == EVHTTP_REQ_GET) {
		admin_metrics(r, req);
	} else {
		reply_error(req, 404, "no such endpoint");
	}
	free(host);
}

int
router_admin_start(struct router *r, struct err *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *path = r->set.admin_socket;
	struct stat st;
	int fd, rc = -1;

	/* Bound under a temporary name and renamed once listening, so that
	 * the socket appears only when it accepts connections. */
	if (strlen(path) + 5 >= sizeof(sun.sun_path))
		return err_make(err, 0, "admin socket path %s is too long", path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s.new", path);
	/* A socket left by an earlier run; anything else is not ours to remove. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return err_make(err, EEXIST, "admin socket %s", path);
	if (lstat(sun.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_make(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(sun.sun_path, 0600) < 0 ||
	    listen(fd, 64) < 0 || rename(sun.sun_path, path) < 0) {
		err_make(err, errno, "admin socket %s", path);
		unlink(sun.sun_path);
		goto out;
	}
	r->admin = evhttp_new(r->base);
	evhttp_set_max_body_size(r->admin, ADMIN_BODY_MAX);
	evhttp_set_allowed_methods(r->admin, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST |
	                                         EVHTTP_REQ_DELETE);
	evhttp_set_gencb(r->admin, admin_cb, r);
	if (evhttp_accept_socket_with_handle(r->admin, fd) == NULL) {
		evhttp_free(take_ptr(&r->admin));
		unlink(path);
		err_make(err, 0, "admin socket %s: evhttp_accept_socket failed", path);
		goto out;
	}
	r->admin_fd = take_fd(&fd);
	log_info("admin API on %s", path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void
router_admin_stop(struct router *r)
{
	if (r->admin == NULL)
		return;
	evhttp_free(take_ptr(&r->admin)); /* closes the socket too */
	r->admin_fd = -1;
	unlink(r->set.admin_socket);
}
