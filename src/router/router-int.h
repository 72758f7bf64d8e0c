/* router-int: what router.c, router_admin.c and the connection files
 * (router_conn.c and the files of router-conn-int.h) share. Not for other
 * modules: they use router.h. */
#ifndef BERTH_ROUTER_INT_H
#define BERTH_ROUTER_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <http_parser.h>

#include "router/route.h"
#include "router/router.h"
#include "router/router_acme.h"
#include "router/router_tls.h"
#include "router/rstream.h"

#define ROUTER_ADMIT_BUCKETS 1024 /* of the per-client connection counts */
#define ROUTER_RESP_HEAD_MAX (64 * 1024)
#define ROUTER_HIGH_WATER    (256 * 1024) /* bytes queued for one side before the other pauses */
#define ROUTER_HOLD_MAX      (32 * 1024)  /* a retryable answer this small is sent once whole */

struct hdr {
	const char *name;
	size_t nlen;
	const char *val;
	size_t vlen;
};

struct conn;
TAILQ_HEAD(conn_list, conn);
struct worker;

/* One worker thread: an event loop, its listeners, its connections. Everything
 * here is touched by the worker's thread only, but for the fields marked
 * shared. */
struct worker {
	struct router *r; /* borrowed */
	size_t id;
	pthread_t thread;
	struct event_base *base;           /* owned */
	struct evconnlistener **listeners; /* owned, one per listen address */
	size_t nlisteners;
	int notify_fd;                         /* owned eventfd: other threads wake the worker */
	struct event *notify;                  /* owned: reads notify_fd */
	_Atomic(struct route_table *) mailbox; /* shared: a new table handed over */
	_Atomic int stop_requested;            /* shared */
	struct route_table *table;             /* the worker's reference to its table */
	int stopping;                          /* no new connections, close after each exchange */
	int accepting;                         /* the listeners are enabled (wait_for_table) */
	struct conn_list conns;                /* every client connection */
	struct conn_list held;                 /* held requests, oldest first */
	unsigned nheld;
	struct upconn_list idle;   /* every pooled upstream connection */
	struct conn_list dead;     /* closed, freed on the next loop pass */
	struct event *reap;        /* owned: frees dead */
	struct event *drain_timer; /* owned: cuts drains past their deadline */
	int drain_armed;
	struct event *stop_timer;   /* owned: the end of a graceful stop */
	struct event *accept_timer; /* owned: resumes accepting after an error */
	struct rstream_list dirty;  /* streams with output to write */
	struct event *flush;        /* owned: writes them, later in the same loop pass */
	unsigned rr;                /* round robin position */
	const struct timeval *tv_idle, *tv_header, *tv_connect, *tv_response,
	    *tv_body; /* common timeouts */
	/* scratch for parsing one head; valid during one call */
	struct hdr *hdrs; /* owned: set.max_headers of them */
	size_t nhdrs;
	int hdr_overflow;
	int hdr_last_was_value;
	const char *url;
	size_t url_len;
	const char *path; /* the path the upstream gets: in url, or path_buf */
	size_t path_len;
	size_t query_off; /* where the query of url starts (url_len when none) */
	int head_complete;
	char *scratch; /* owned: a head being written */
	size_t scratch_len, scratch_cap;
	char *path_buf; /* owned: the cleaned path of a request target */
	size_t path_cap;
	/* shared counters, written by the worker only */
	_Atomic uint64_t conns_open;
	_Atomic uint64_t conns_total;
	_Atomic uint64_t in_flight;
	_Atomic uint64_t held_now;
} __attribute__((aligned(64)));

/* Open connections from one client address. */
struct admit_entry {
	char ip[INET6_ADDRSTRLEN];
	unsigned n;
	struct admit_entry *next; /* owned: the next in its bucket */
};

struct router {
	struct router_settings set; /* owned copies */
	size_t nworkers;
	struct worker *workers;  /* owned array */
	struct event_base *base; /* owned: the main thread's loop (admin, signals) */
	struct route_registry reg;
	struct route_table *table;   /* the main thread's reference to the current table */
	struct route_stats *nostats; /* requests that matched no route */
	int *listen_fds;             /* owned: nworkers * nlisten sockets */
	int *listen_ports;           /* owned: the port of each listen address */
	int *listen_first;           /* owned: worker 0's socket of each address (open while
	                              * the router runs; /v1/status lists them for berthd) */
	size_t nlisten;              /* listen addresses: set.listen, then set.tls_listen */
	size_t nplain;               /* of which the first nplain are plain HTTP */
	struct router_tls *tls;      /* owned, or NULL without tls_listen */
	struct router_acme acme;     /* the HTTP-01 challenges berthd set */
	struct hostkey *hostkey;     /* owned, or NULL without --host-key: no attestation */
	struct evhttp *admin;        /* owned */
	int admin_fd;
	struct event *sigterm, *sigint; /* owned */
	_Atomic int nrunning;           /* worker threads still running */
	int done_fd;                    /* owned eventfd, written by the last worker to stop */
	struct event *workers_done;     /* owned: reads done_fd */
	int stopping;
	/* connection limits, shared by the workers */
	_Atomic unsigned nconns;                         /* client connections open */
	pthread_mutex_t admit_lock;                      /* guards admit */
	struct admit_entry *admit[ROUTER_ADMIT_BUCKETS]; /* owned chains, by client address */
};

/* Accepts a client connection on a worker, over TLS when tls; takes
 * ownership of fd. */
void router_conn_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa,
                        socklen_t salen, int tls);
/* Acts on the worker's new table: releases held requests, starts drains. */
void router_conn_table_changed(struct worker *w);
/* Starts a graceful stop of the worker's connections. */
void router_conn_stop(struct worker *w);
/* Closes every connection of the worker at once. */
void router_conn_close_all(struct worker *w);
/* Frees the connections closed since the last call. */
void router_conn_reap(struct worker *w);

/* Counts a new connection from ip against the limits. Returns 0, or -1 with
 * *status the answer for it (503 all full, 429 the client's share is) and
 * nothing counted. */
int router_admit(struct router *r, const char *ip, int *status);
/* Forgets a connection router_admit() counted. */
void router_admit_release(struct router *r, const char *ip);

/* What the workers count, summed (each worker writes its own; readers take
 * a snapshot). */
struct router_counters {
	uint64_t conns_open, conns_total;
	uint64_t in_flight, held;
};

/* Sums every worker's counters into out. Any thread. */
void router_counters_snapshot(const struct router *r, struct router_counters *out);

/* Installs t (takes the caller's reference) as the current table: hands it to
 * every worker and marks removed upstreams as draining. */
void router_install_table(struct router *r, struct route_table *t);

/* Starts the admin API on the settings' unix socket. Returns 0 or -1 with err. */
int router_admin_start(struct router *r, struct err *err);
/* Stops it and removes the socket. */
void router_admin_stop(struct router *r);

#endif
