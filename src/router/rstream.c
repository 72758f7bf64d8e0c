/* rstream: the streams under berth-router's connections.
 *
 * bufferevents cost four epoll_ctl and two FIONREAD ioctls per proxied
 * request: the write event is added when output is queued and removed once it
 * is written, and every read asks the kernel how much there is. Here the read
 * event stays registered, reads go straight into the buffer's free space, and
 * queued output is written with one writev at the end of the loop pass; a
 * write event is only registered when the socket is full.
 *
 * A TLS stream (rstream_start_tls) keeps that shape: SSL_read into the
 * buffer's free space, SSL_write of the queued output at the end of the loop
 * pass, on the same socket and events. bufferevent_openssl would bring back
 * the epoll_ctl per request that rstream was written to avoid.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/util.h"
#include "router/router-int.h"
#include "router/rstream.h"

#define READ_SIZE 16384

static void
update_read(struct rstream *s)
{
	int want = s->want_read && !s->wm_paused && !s->connecting;

	if (want && !s->rev_added) {
		event_add(&s->rev, NULL);
		s->rev_added = 1;
		/* Bytes OpenSSL already took off the socket: no read event
		 * would come for them. */
		if (s->ssl != NULL && SSL_has_pending(s->ssl))
			event_active(&s->rev, EV_READ, 0);
	} else if (!want && s->rev_added) {
		event_del(&s->rev);
		s->rev_added = 0;
	}
}

static void
set_write_event(struct rstream *s, int on)
{
	if (on && !s->wev_added) {
		event_add(&s->wev, NULL);
		s->wev_added = 1;
	} else if (!on && s->wev_added) {
		event_del(&s->wev);
		s->wev_added = 0;
	}
}

/* Writes what it can. Returns 1 when the output emptied, 0 when the socket is
 * full, -1 on error. */
/* flush_out() of a TLS stream: records of up to 16 KiB. The length handed
 * to SSL_write never shrinks between a retry and the call that wanted it
 * (the output only grows until written), as OpenSSL requires. */
static int
flush_tls(struct rstream *s)
{
	size_t len;

	while ((len = evbuffer_get_length(s->out)) > 0) {
		size_t n = len < 16384 ? len : 16384, done = 0;
		unsigned char *p = evbuffer_pullup(s->out, (ev_ssize_t)n);

		ERR_clear_error();
		if (SSL_write_ex(s->ssl, p, n, &done) == 1) {
			evbuffer_drain(s->out, done);
			continue;
		}
		switch (SSL_get_error(s->ssl, 0)) {
		case SSL_ERROR_WANT_WRITE:
			set_write_event(s, 1);
			return 0;
		case SSL_ERROR_WANT_READ:
			/* The handshake is not done: the next read resumes it. */
			s->write_wants_read = 1;
			set_write_event(s, 0);
			return 0;
		default:
			ERR_clear_error();
			return -1;
		}
	}
	set_write_event(s, 0);
	return 1;
}

static int
flush_out(struct rstream *s)
{
	if (s->ssl != NULL)
		return flush_tls(s);
	while (evbuffer_get_length(s->out) > 0) {
		int n = evbuffer_write(s->out, s->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
	}
	if (evbuffer_get_length(s->out) > 0) {
		set_write_event(s, 1);
		return 0;
	}
	set_write_event(s, 0);
	return 1;
}

static void
mark_dirty(struct rstream *s)
{
	if (s->dirty || s->connecting || s->wev_added)
		return;
	s->dirty = 1;
	TAILQ_INSERT_TAIL(&s->w->dirty, s, dirty_link);
	event_active(s->w->flush, EV_WRITE, 0);
}

static void
out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	if (info->n_added > 0)
		mark_dirty(arg);
}

static void
in_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct rstream *s = arg;

	if (s->wm_paused && info->n_deleted > 0 && evbuffer_get_length(b) < s->read_max) {
		s->wm_paused = 0;
		update_read(s);
	}
}

/* read_cb() of a TLS stream. */
static void
read_tls(struct rstream *s)
{
	struct evbuffer_iovec v[1];
	size_t n = 0;
	int rc;

	if (s->write_wants_read) {
		/* Output waited for the handshake: try it again after this read. */
		s->write_wants_read = 0;
		mark_dirty(s);
	}
	if (evbuffer_reserve_space(s->in, READ_SIZE, v, 1) < 1)
		log_fatal("evbuffer_reserve_space failed");
	ERR_clear_error();
	rc = SSL_read_ex(s->ssl, v[0].iov_base, v[0].iov_len, &n);
	if (rc != 1) {
		switch (SSL_get_error(s->ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_WANT_WRITE:
			s->read_wants_write = 1;
			set_write_event(s, 1);
			return;
		case SSL_ERROR_ZERO_RETURN:
			s->on_event(s, RSTREAM_EOF, s->arg);
			return;
		default:
			/* A failed handshake (plain HTTP, unknown name), a bad
			 * record, a reset. */
			ERR_clear_error();
			s->on_event(s, RSTREAM_ERROR, s->arg);
			return;
		}
	}
	v[0].iov_len = n;
	evbuffer_commit_space(s->in, v, 1);
	if (evbuffer_get_length(s->in) >= s->read_max) {
		s->wm_paused = 1;
		update_read(s);
	} else if (SSL_has_pending(s->ssl)) {
		event_active(&s->rev, EV_READ, 0);
	}
	s->on_read(s, s->arg);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rstream *s = arg;
	struct evbuffer_iovec v[2];
	int nv = evbuffer_reserve_space(s->in, READ_SIZE, v, 2);
	ssize_t n;

	if (s->ssl != NULL) {
		read_tls(s);
		return;
	}
	if (nv < 1)
		log_fatal("evbuffer_reserve_space failed");
	n = readv(fd, (struct iovec *)v, nv);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		s->on_event(s, RSTREAM_ERROR, s->arg);
		return;
	}
	if (n == 0) {
		s->on_event(s, RSTREAM_EOF, s->arg);
		return;
	}
	if ((size_t)n <= v[0].iov_len) {
		v[0].iov_len = (size_t)n;
		nv = 1;
	} else {
		v[1].iov_len = (size_t)n - v[0].iov_len;
	}
	evbuffer_commit_space(s->in, v, nv);
	if (evbuffer_get_length(s->in) >= s->read_max) {
		s->wm_paused = 1;
		update_read(s);
	}
	s->on_read(s, s->arg);
}

static void
write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rstream *s = arg;
	int rc;

	if (s->connecting) {
		int e = 0, one = 1;
		socklen_t len = sizeof(e);

		if (s->connect_failed || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 ||
		    e != 0) {
			set_write_event(s, 0);
			s->on_event(s, RSTREAM_ERROR, s->arg);
			return;
		}
		s->connecting = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (flush_out(s) < 0) {
			s->on_event(s, RSTREAM_ERROR, s->arg);
			return;
		}
		update_read(s);
		s->on_event(s, RSTREAM_CONNECTED, s->arg);
		return;
	}
	if (s->read_wants_write) {
		/* A TLS read that had to write first: read again, which
		 * flushes the output later in the pass. */
		s->read_wants_write = 0;
		if (evbuffer_get_length(s->out) == 0)
			set_write_event(s, 0);
		read_tls(s);
		return;
	}
	rc = flush_out(s);
	if (rc < 0)
		s->on_event(s, RSTREAM_ERROR, s->arg);
	else if (rc == 1 && s->on_drained != NULL)
		s->on_drained(s, s->arg);
}

void
rstream_flush_all(struct worker *w)
{
	struct rstream *s;

	while ((s = TAILQ_FIRST(&w->dirty)) != NULL) {
		int rc;

		TAILQ_REMOVE(&w->dirty, s, dirty_link);
		s->dirty = 0;
		rc = flush_out(s);
		if (rc < 0)
			s->on_event(s, RSTREAM_ERROR, s->arg);
		else if (rc == 1 && s->on_drained != NULL)
			s->on_drained(s, s->arg);
	}
}

static struct rstream *
stream_alloc(struct worker *w, evutil_socket_t fd, rstream_cb on_read, rstream_cb on_drained,
             rstream_event_cb on_event, void *arg)
{
	struct rstream *s = xcalloc(1, sizeof(*s));

	s->w = w;
	s->fd = fd;
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	if (s->in == NULL || s->out == NULL)
		log_fatal("out of memory");
	s->on_read = on_read;
	s->on_drained = on_drained;
	s->on_event = on_event;
	s->arg = arg;
	s->read_max = ROUTER_HIGH_WATER;
	s->want_read = 1;
	event_assign(&s->rev, w->base, fd, EV_READ | EV_PERSIST, read_cb, s);
	event_assign(&s->wev, w->base, fd, EV_WRITE | EV_PERSIST, write_cb, s);
	evbuffer_add_cb(s->out, out_cb, s);
	evbuffer_add_cb(s->in, in_cb, s);
	return s;
}

struct rstream *
rstream_new(struct worker *w, evutil_socket_t fd, rstream_cb on_read, rstream_cb on_drained,
            rstream_event_cb on_event, void *arg)
{
	struct rstream *s = stream_alloc(w, fd, on_read, on_drained, on_event, arg);
	int one = 1;

	evutil_make_socket_nonblocking(fd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	update_read(s);
	return s;
}

struct rstream *
rstream_connect(struct worker *w, const struct sockaddr *sa, socklen_t salen, rstream_cb on_read,
                rstream_cb on_drained, rstream_event_cb on_event, void *arg)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct rstream *s = stream_alloc(w, fd, on_read, on_drained, on_event, arg);

	s->connecting = 1;
	/* Upstreams are enclaves, whose firewall lets in the host's new
	 * connections only with berth's mark. Without the privilege to set it
	 * the connection is refused there: said once. */
	if (fd >= 0 && sock_mark_upstream(fd) < 0) {
		static _Atomic int warned;

		if (atomic_exchange(&warned, 1) == 0)
			log_warn("upstream connections carry no socket mark (%s): enclaves "
			         "refuse them",
			         strerror(errno));
	}
	if (fd < 0 || (connect(fd, sa, salen) < 0 && errno != EINPROGRESS)) {
		/* Reported from the loop, as a late failure would be. */
		s->connect_failed = 1;
		event_active(&s->wev, EV_WRITE, 0);
		return s;
	}
	set_write_event(s, 1);
	return s;
}

void
rstream_start_tls(struct rstream *s, struct ssl_st *ssl)
{
	s->ssl = ssl;
}

void
rstream_read(struct rstream *s, int on)
{
	s->want_read = on != 0;
	update_read(s);
}

void
rstream_free(struct rstream *s)
{
	if (s == NULL)
		return;
	if (s->dirty)
		TAILQ_REMOVE(&s->w->dirty, s, dirty_link);
	event_del(&s->rev);
	event_del(&s->wev);
	if (s->ssl != NULL) {
		/* close_notify, once, without waiting for the peer's. */
		ERR_clear_error();
		if (SSL_is_init_finished(s->ssl))
			(void)SSL_shutdown(s->ssl);
		ERR_clear_error();
		SSL_free(s->ssl);
	}
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
