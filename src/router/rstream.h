/* rstream: the non-blocking sockets under berth-router's connections. */
#ifndef BERTH_RSTREAM_H
#define BERTH_RSTREAM_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>

struct worker;
struct ssl_st;

/* A non-blocking socket with input and output buffers. Reading
 * is a persistent event, registered once; output is written at the end of the
 * loop pass that queued it, without waiting for a write event, so a request
 * costs no epoll_ctl at all. Callbacks may free the stream. */
enum rstream_event {
	RSTREAM_CONNECTED,
	RSTREAM_EOF,
	RSTREAM_ERROR,
};

struct rstream;
typedef void (*rstream_cb)(struct rstream *s, void *arg);
typedef void (*rstream_event_cb)(struct rstream *s, enum rstream_event ev, void *arg);

struct rstream {
	struct worker *w; /* borrowed */
	evutil_socket_t fd;
	struct evbuffer *in;  /* owned */
	struct evbuffer *out; /* owned */
	struct event rev, wev;
	rstream_cb on_read;        /* new input */
	rstream_cb on_drained;     /* the output was written out */
	rstream_event_cb on_event; /* connected, EOF, error */
	void *arg;
	size_t read_max; /* reading pauses while the input holds this much */
	unsigned want_read : 1;
	unsigned wm_paused : 1;
	unsigned rev_added : 1;
	unsigned wev_added : 1;
	unsigned connecting : 1;
	unsigned connect_failed : 1;
	unsigned dirty : 1;
	unsigned read_wants_write : 1;   /* TLS: a read waits for the socket to take output */
	unsigned write_wants_read : 1;   /* TLS: a write waits for input (the handshake) */
	struct ssl_st *ssl;              /* owned, or NULL for plain TCP */
	TAILQ_ENTRY(rstream) dirty_link; /* in w->dirty while output waits */
};
TAILQ_HEAD(rstream_list, rstream);

/* Wraps a connected socket (takes ownership of fd); reading starts at once. */
struct rstream *rstream_new(struct worker *w, evutil_socket_t fd, rstream_cb on_read,
                            rstream_cb on_drained, rstream_event_cb on_event, void *arg);
/* Starts connecting to sa; the outcome comes as RSTREAM_CONNECTED or
 * RSTREAM_ERROR, never from within this call. Output queued meanwhile is
 * sent once connected. */
struct rstream *rstream_connect(struct worker *w, const struct sockaddr *sa, socklen_t salen,
                                rstream_cb on_read, rstream_cb on_drained,
                                rstream_event_cb on_event, void *arg);
/* Makes s a TLS server stream: every byte read and written goes through
 * ssl (taken over, already on s's socket, in accept state); the handshake
 * runs within the first reads. A failed handshake is an RSTREAM_ERROR. */
void rstream_start_tls(struct rstream *s, struct ssl_st *ssl);
/* Turns reading on or off. */
void rstream_read(struct rstream *s, int on);
/* Closes the socket and frees the stream. NULL is fine. */
void rstream_free(struct rstream *s);
/* Writes the output of every stream that queued some (the worker's flush event). */
void rstream_flush_all(struct worker *w);

#endif
