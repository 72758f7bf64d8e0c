/* router: lifecycle of berth-router: listeners, worker threads, table handoff
 * and the graceful stop. The proxying itself is in router_conn.c and the files of
 * router-conn-int.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include "common/log.h"
#include "common/util.h"
#include "router/router-int.h"
#include "secret/hostkey.h"

void
router_settings_init(struct router_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->max_header_size = 16 * 1024;
	s->max_headers = 100;
	s->max_connections = 16384;
	s->max_client_connections = 1024;
	s->body_timeout_ms = 30000;
	s->header_timeout_ms = 10000;
	s->idle_timeout_ms = 60000;
	s->connect_timeout_ms = 5000;
	s->response_timeout_ms = 60000;
	s->shutdown_timeout_ms = 30000;
	s->hold_queue_max = 1024;
	s->retry_after_s = 5;
}

void
router_settings_free(struct router_settings *s)
{
	strv_free(s->listen);
	free(s->admin_socket);
	strv_free(s->tls_listen);
	free(s->tls_dir);
	free(s->host_key);
	s->host_key = NULL;
	s->listen = NULL;
	s->admin_socket = NULL;
	s->tls_listen = NULL;
	s->tls_dir = NULL;
}

static int
listen_socket(const struct sockaddr_storage *sa, socklen_t salen, struct err *err)
{
	int fd, one = 1;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_make(err, errno, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		err_make(err, errno, "setsockopt");
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)sa, salen) < 0) {
		err_make(err, errno, "bind");
		close(fd);
		return -1;
	}
	if (listen(fd, 1024) < 0) {
		err_make(err, errno, "listen");
		close(fd);
		return -1;
	}
	return fd;
}

/* "fd:N", a listening socket the router was given (berthd keeps a copy, so
 * that connections wait in its backlog while no router runs): N made
 * non-blocking and close-on-exec, or -1 with err. */
static int
inherited_socket(const char *addr, struct err *err)
{
	int fd, type = 0, listening = 0, flags;
	socklen_t len = sizeof(int);
	char *end;
	long n;

	errno = 0;
	n = strtol(addr + 3, &end, 10);
	if (errno != 0 || end == addr + 3 || *end != '\0' || n < 3 || n > INT_MAX)
		return err_make(
		    err, 0, "listen address \"%s\": fd:N needs a descriptor of 3 or more", addr);
	fd = (int)n;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
		return err_make(err, errno,
		                "listen address \"%s\" is not a listening stream socket", addr);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return err_make(err, errno, "listen address \"%s\"", addr);
	return fd;
}

/* Worker k's socket of addr: a new one bound to sa, or, for an inherited
 * socket (fd:N), N itself for worker 0 and a duplicate for the others (one
 * accept queue that every worker takes from). */
static int
worker_socket(const char *addr, size_t k, int first, const struct sockaddr_storage *sa,
              socklen_t salen, struct err *err)
{
	int fd;

	if (strncmp(addr, "fd:", 3) != 0)
		return listen_socket(sa, salen, err);
	if (k == 0)
		return inherited_socket(addr, err);
	fd = fcntl(first, F_DUPFD_CLOEXEC, 3);
	return fd >= 0 ? fd : err_make(err, errno, "dup of %s", addr);
}

/* Binds nworkers sockets per listen address; a port 0 is resolved by the
 * first socket so that every worker listens on the same port. */
static int
router_bind(struct router *r, struct err *err)
{
	size_t i, k;

	r->nplain = strv_len(r->set.listen);
	r->nlisten = r->nplain + strv_len(r->set.tls_listen);
	r->listen_fds = xcalloc(r->nlisten * r->nworkers, sizeof(int));
	r->listen_ports = xcalloc(r->nlisten, sizeof(int));
	r->listen_first = xcalloc(r->nlisten, sizeof(int));
	for (i = 0; i < r->nlisten * r->nworkers; i++)
		r->listen_fds[i] = -1;
	for (i = 0; i < r->nlisten; i++) {
		const char *addr =
		    i < r->nplain ? r->set.listen[i] : r->set.tls_listen[i - r->nplain];
		struct sockaddr_storage sa;
		socklen_t salen = 0;

		if (strncmp(addr, "fd:", 3) != 0 && route_parse_address(addr, &sa, &salen) < 0)
			return err_make(err, 0,
			                "listen address \"%s\" is not a numeric ADDR:PORT or fd:N",
			                addr);
		for (k = 0; k < r->nworkers; k++) {
			int fd = worker_socket(addr, k, r->listen_first[i], &sa, salen, err);
			if (fd < 0)
				return err_wrap(err, "listen on %s", addr);
			r->listen_fds[k * r->nlisten + i] = fd;
			if (k == 0) {
				r->listen_first[i] = fd;
				salen = sizeof(sa);
				if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
					return err_make(err, errno, "getsockname");
				r->listen_ports[i] =
				    ntohs(sa.ss_family == AF_INET6
				              ? ((struct sockaddr_in6 *)&sa)->sin6_port
				              : ((struct sockaddr_in *)&sa)->sin_port);
			}
		}
		log_info("listening on %s (port %d%s), %zu threads", addr, router_listen_port(r, i),
		         i < r->nplain ? "" : ", TLS", r->nworkers);
	}
	return 0;
}

int
router_listen_port(const struct router *r, size_t i)
{
	return i < r->nlisten ? r->listen_ports[i] : -1;
}

static struct admit_entry **
admit_find(struct router *r, const char *ip)
{
	struct admit_entry **e;
	uint32_t h = 2166136261u; /* FNV-1a */
	const char *p;

	for (p = ip; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (e = &r->admit[h % ROUTER_ADMIT_BUCKETS]; *e != NULL; e = &(*e)->next)
		if (strcmp((*e)->ip, ip) == 0)
			break;
	return e;
}

int
router_admit(struct router *r, const char *ip, int *status)
{
	unsigned max = r->set.max_client_connections;
	struct admit_entry **e;
	int rc = 0;

	if (atomic_fetch_add(&r->nconns, 1) >= r->set.max_connections &&
	    r->set.max_connections > 0) {
		atomic_fetch_sub(&r->nconns, 1);
		*status = 503;
		return -1;
	}
	if (max == 0)
		return 0;
	pthread_mutex_lock(&r->admit_lock);
	e = admit_find(r, ip);
	if (*e == NULL) {
		*e = xcalloc(1, sizeof(**e));
		snprintf((*e)->ip, sizeof((*e)->ip), "%s", ip);
	}
	if ((*e)->n >= max) {
		atomic_fetch_sub(&r->nconns, 1);
		*status = 429;
		rc = -1;
	} else {
		(*e)->n++;
	}
	pthread_mutex_unlock(&r->admit_lock);
	return rc;
}

void
router_admit_release(struct router *r, const char *ip)
{
	struct admit_entry **e, *gone;

	atomic_fetch_sub(&r->nconns, 1);
	if (r->set.max_client_connections == 0)
		return;
	pthread_mutex_lock(&r->admit_lock);
	e = admit_find(r, ip);
	if (*e != NULL && --(*e)->n == 0) {
		gone = *e;
		*e = gone->next;
		free(gone);
	}
	pthread_mutex_unlock(&r->admit_lock);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	router_conn_accept(arg, fd, sa, (socklen_t)salen, 0);
}

static void
accept_tls_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
              void *arg)
{
	router_conn_accept(arg, fd, sa, (socklen_t)salen, 1);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	size_t i;

	for (i = 0; i < w->nlisteners && w->accepting; i++)
		evconnlistener_enable(w->listeners[i]);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	router_conn_reap(arg);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	rstream_flush_all(arg);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = {0, 100000};
	int e = EVUTIL_SOCKET_ERROR();
	size_t i;

	/* EMFILE and friends: pause accepting for a moment rather than spin. */
	log_warn("accept: %s", evutil_socket_error_to_string(e));
	for (i = 0; i < w->nlisteners; i++)
		evconnlistener_disable(w->listeners[i]);
	evtimer_add(w->accept_timer, &tv);
}

/* Runs on the worker: picks up a new table or a stop request. */
static void
worker_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct route_table *t;
	uint64_t v;
	int stop;

	if (read(w->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("worker %zu: eventfd: %s", w->id, strerror(errno));
	t = atomic_exchange(&w->mailbox, NULL);
	if (t != NULL) {
		route_table_unref(w->table);
		w->table = t;
		router_conn_table_changed(w);
		if (!w->accepting && t->generation > 0 && !w->stopping) {
			w->accepting = 1;
			accept_resume_cb(-1, 0, w);
		}
	}
	stop = atomic_exchange(&w->stop_requested, 0);
	if (stop == 2) {
		router_conn_close_all(w);
		event_base_loopbreak(w->base);
	} else if (stop == 1 && !w->stopping) {
		router_conn_stop(w);
	}
}

/* Wakes a worker up from another thread: it reads its mailbox and flags. */
static void
worker_wake(struct worker *w)
{
	uint64_t one = 1;

	if (w->notify_fd >= 0 && write(w->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("worker %zu: eventfd: %s", w->id, strerror(errno));
}

static void
worker_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	log_warn("worker %zu: shutdown timeout, closing %s connections", w->id,
	         TAILQ_EMPTY(&w->conns) ? "no" : "the remaining");
	router_conn_close_all(w);
	event_base_loopbreak(w->base);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct router *r = w->r;

	event_base_dispatch(w->base);
	router_conn_close_all(w);
	router_conn_reap(w);
	if (atomic_fetch_sub(&r->nrunning, 1) == 1) {
		uint64_t one = 1;
		if (write(r->done_fd, &one, sizeof(one)) < 0)
			log_warn("eventfd: %s", strerror(errno));
	}
	return NULL;
}

static int
worker_init(struct router *r, struct worker *w, size_t id, struct err *err)
{
	struct timeval tv;
	size_t i;

	w->r = r;
	w->id = id;
	w->base = event_base_new();
	if (w->base == NULL)
		return err_make(err, 0, "event_base_new failed");
	w->hdrs = xcalloc(r->set.max_headers > 0 ? r->set.max_headers : 1, sizeof(*w->hdrs));
	TAILQ_INIT(&w->conns);
	TAILQ_INIT(&w->held);
	TAILQ_INIT(&w->idle);
	TAILQ_INIT(&w->dead);
	/* Other threads wake the worker through an eventfd rather than
	 * event_active(), so that its event base needs no locks. */
	w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->notify_fd < 0)
		return err_make(err, errno, "eventfd");
	w->notify = event_new(w->base, w->notify_fd, EV_READ | EV_PERSIST, worker_notify_cb, w);
	event_add(w->notify, NULL);
	w->reap = event_new(w->base, -1, 0, reap_cb, w);
	w->flush = event_new(w->base, -1, 0, flush_cb, w);
	TAILQ_INIT(&w->dirty);
	w->stop_timer = evtimer_new(w->base, worker_stop_timer_cb, w);
	w->accept_timer = evtimer_new(w->base, accept_resume_cb, w);
	w->drain_timer = NULL; /* made by router_upstream on first use */
#define MS_TV(ms) (tv.tv_sec = (ms) / 1000, tv.tv_usec = ((ms) % 1000) * 1000, &tv)
	w->tv_idle = event_base_init_common_timeout(w->base, MS_TV(r->set.idle_timeout_ms));
	w->tv_header = event_base_init_common_timeout(w->base, MS_TV(r->set.header_timeout_ms));
	w->tv_connect = event_base_init_common_timeout(w->base, MS_TV(r->set.connect_timeout_ms));
	w->tv_response = event_base_init_common_timeout(w->base, MS_TV(r->set.response_timeout_ms));
	w->tv_body = event_base_init_common_timeout(w->base, MS_TV(r->set.body_timeout_ms));
#undef MS_TV
	w->listeners = xcalloc(r->nlisten, sizeof(*w->listeners));
	/* A router that berthd (re)started waits for its table: until then
	 * connections wait in the listen backlog instead of being answered
	 * 404 for hosts the router does not know yet. */
	w->accepting = !r->set.wait_for_table || r->table->generation > 0;
	for (i = 0; i < r->nlisten; i++) {
		int fd = r->listen_fds[id * r->nlisten + i];
		w->listeners[i] = evconnlistener_new(
		    w->base, i < r->nplain ? accept_cb : accept_tls_cb, w,
		    LEV_OPT_CLOSE_ON_FREE | (w->accepting ? 0 : LEV_OPT_DISABLED), -1, fd);
		if (w->listeners[i] == NULL)
			return err_make(err, 0, "evconnlistener_new failed");
		r->listen_fds[id * r->nlisten + i] = -1; /* the listener owns it now */
		evconnlistener_set_error_cb(w->listeners[i], accept_error_cb);
		w->nlisteners++;
	}
	w->table = route_table_ref(r->table);
	return 0;
}

int
router_new(const struct router_settings *s, struct router **out, struct err *err)
{
	struct router *r;
	size_t i;
	long ncpu;

	*out = NULL;
	r = xcalloc(1, sizeof(*r));
	r->done_fd = -1;
	pthread_mutex_init(&r->admit_lock, NULL);
	router_acme_init(&r->acme);
	r->set = *s;
	r->set.listen = s->listen ? strv_dup(s->listen) : strv_push(NULL, "127.0.0.1:8080");
	r->set.admin_socket = s->admin_socket ? xstrdup(s->admin_socket) : NULL;
	r->set.tls_listen = s->tls_listen ? strv_dup(s->tls_listen) : NULL;
	r->set.tls_dir = s->tls_dir ? xstrdup(s->tls_dir) : NULL;
	r->set.host_key = s->host_key ? xstrdup(s->host_key) : NULL;
	r->admin_fd = -1;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	r->nworkers = s->threads > 0 ? (size_t)s->threads : ncpu > 0 ? (size_t)ncpu : 1;
	route_registry_init(&r->reg, r->nworkers);
	r->nostats = route_stats_new("", r->nworkers);
	r->table = xcalloc(1, sizeof(*r->table));
	atomic_init(&r->table->refs, 1);
	if (r->set.tls_listen != NULL) {
		if (r->set.tls_dir == NULL) {
			err_make(err, 0,
			         "--tls-listen needs --tls-dir, where the certificates are");
			goto fail;
		}
		if (router_tls_new(r->set.tls_dir, &r->tls, err) < 0)
			goto fail;
	}
	/* Read once: the key stays in this process's memory. */
	if (r->set.host_key != NULL && hostkey_load(r->set.host_key, 0, &r->hostkey, err) < 0)
		goto fail;
	if (router_bind(r, err) < 0)
		goto fail;
	r->workers = aligned_alloc(64, r->nworkers * sizeof(*r->workers));
	if (r->workers == NULL)
		log_fatal("out of memory");
	memset(r->workers, 0, r->nworkers * sizeof(*r->workers));
	for (i = 0; i < r->nworkers; i++)
		r->workers[i].notify_fd = -1;
	for (i = 0; i < r->nworkers; i++)
		if (worker_init(r, &r->workers[i], i, err) < 0)
			goto fail;
	r->base = event_base_new();
	if (r->base == NULL) {
		err_make(err, 0, "event_base_new failed");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	router_free(r);
	return -1;
}

void
router_counters_snapshot(const struct router *r, struct router_counters *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < r->nworkers; i++) {
		const struct worker *w = &r->workers[i];

		out->conns_open += atomic_load_explicit(&w->conns_open, memory_order_relaxed);
		out->conns_total += atomic_load_explicit(&w->conns_total, memory_order_relaxed);
		out->in_flight += atomic_load_explicit(&w->in_flight, memory_order_relaxed);
		out->held += atomic_load_explicit(&w->held_now, memory_order_relaxed);
	}
}

void
router_install_table(struct router *r, struct route_table *t)
{
	size_t i;

	/* Certificates first: berthd writes a host's file before its route. */
	if (r->tls != NULL)
		router_tls_reload(r->tls);
	route_registry_commit(&r->reg, t, now_mono_ms());
	route_table_unref(r->table);
	r->table = t;
	for (i = 0; i < r->nworkers; i++) {
		struct worker *w = &r->workers[i];
		struct route_table *old = atomic_exchange(&w->mailbox, route_table_ref(t));
		/* A table the worker never picked up is simply superseded. */
		route_table_unref(old);
		worker_wake(w);
	}
	log_info("route table generation %llu installed, %zu routes",
	         (unsigned long long)t->generation, t->nroutes);
}

int
router_set_table_json(struct router *r, const json_t *table, struct err *err)
{
	struct route_table *t;

	if (route_table_from_json(&r->reg, table, &t, err) < 0)
		return -1;
	router_install_table(r, t);
	return 0;
}

static void
workers_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router *r = arg;

	event_base_loopexit(r->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct router *r = arg;
	size_t i;

	if (r->stopping) {
		log_info("signal %d again: stopping now", (int)sig);
		for (i = 0; i < r->nworkers; i++) {
			atomic_store(&r->workers[i].stop_requested, 2);
			worker_wake(&r->workers[i]);
		}
		return;
	}
	r->stopping = 1;
	log_info("signal %d: stopping, in-flight requests get %lld ms", (int)sig,
	         (long long)r->set.shutdown_timeout_ms);
	router_admin_stop(r);
	for (i = 0; i < r->nworkers; i++) {
		atomic_store(&r->workers[i].stop_requested, 1);
		worker_wake(&r->workers[i]);
	}
}

int
router_run(struct router *r, struct err *err)
{
	size_t i, started = 0;
	int rc = 0;

	r->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->done_fd < 0)
		return err_make(err, errno, "eventfd");
	r->workers_done = event_new(r->base, r->done_fd, EV_READ, workers_done_cb, r);
	event_add(r->workers_done, NULL);
	r->sigterm = evsignal_new(r->base, SIGTERM, signal_cb, r);
	r->sigint = evsignal_new(r->base, SIGINT, signal_cb, r);
	signal(SIGPIPE, SIG_IGN);
	event_add(r->sigterm, NULL);
	event_add(r->sigint, NULL);
	if (r->set.admin_socket != NULL && router_admin_start(r, err) < 0)
		return -1;
	atomic_store(&r->nrunning, (int)r->nworkers);
	for (i = 0; i < r->nworkers; i++) {
		int e = pthread_create(&r->workers[i].thread, NULL, worker_main, &r->workers[i]);
		if (e != 0) {
			rc = err_make(err, e, "pthread_create");
			break;
		}
		started++;
	}
	if (rc == 0)
		event_base_dispatch(r->base);
	else
		for (i = 0; i < started; i++)
			atomic_store(&r->workers[i].stop_requested, 2), worker_wake(&r->workers[i]);
	for (i = 0; i < started; i++)
		pthread_join(r->workers[i].thread, NULL);
	router_admin_stop(r);
	log_info("stopped");
	return rc;
}

void
router_free(struct router *r)
{
	size_t i, k;

	if (r == NULL)
		return;
	router_admin_stop(r);
	for (i = 0; r->workers != NULL && i < r->nworkers; i++) {
		struct worker *w = &r->workers[i];
		if (w->base == NULL)
			continue;
		router_conn_close_all(w);
		router_conn_reap(w);
		for (k = 0; k < w->nlisteners; k++)
			evconnlistener_free(w->listeners[k]);
		free(w->listeners);
		route_table_unref(atomic_exchange(&w->mailbox, NULL));
		route_table_unref(w->table);
		if (w->notify)
			event_free(w->notify);
		if (w->notify_fd >= 0)
			close(w->notify_fd);
		free(w->scratch);
		free(w->path_buf);
		free(w->hdrs);
		if (w->reap)
			event_free(w->reap);
		if (w->flush)
			event_free(w->flush);
		if (w->stop_timer)
			event_free(w->stop_timer);
		if (w->accept_timer)
			event_free(w->accept_timer);
		if (w->drain_timer)
			event_free(w->drain_timer);
		event_base_free(w->base);
	}
	free(r->workers);
	for (i = 0; r->listen_fds != NULL && i < r->nlisten * r->nworkers; i++)
		if (r->listen_fds[i] >= 0)
			close(r->listen_fds[i]);
	free(r->listen_fds);
	free(r->listen_ports);
	free(r->listen_first);
	route_table_unref(r->table);
	route_stats_unref(r->nostats);
	route_registry_free(&r->reg);
	if (r->sigterm)
		event_free(r->sigterm);
	if (r->sigint)
		event_free(r->sigint);
	if (r->workers_done)
		event_free(r->workers_done);
	if (r->done_fd >= 0)
		close(r->done_fd);
	if (r->base)
		event_base_free(r->base);
	for (i = 0; i < ROUTER_ADMIT_BUCKETS; i++) {
		struct admit_entry *e, *next;
		for (e = r->admit[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&r->admit_lock);
	router_acme_free(&r->acme);
	router_tls_free(r->tls);
	hostkey_free(r->hostkey);
	router_settings_free(&r->set);
	free(r);
}
