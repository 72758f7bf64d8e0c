/* store-sync: commits noted on the loop, flushed by one syncer thread, their
 * side effects released on the loop once durable (store-sync.h). */
#include "store/store-sync.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

struct sync_waiter {
	uint64_t gen;
	store_sync_cb cb;
	void *arg; /* borrowed: the caller's */
	struct sync_waiter *next;
};

struct store_sync {
	struct event_base *base; /* borrowed */
	store_sync_flush_fn flush;
	void *flush_arg;  /* borrowed */
	struct event *ev; /* owned: the eventfd's, or a timer without a syncer */
	int efd;          /* owned: the syncer wakes the loop, -1 without one */
	pthread_t thread;

	/* The loop's alone. */
	uint64_t last;               /* generation of the last commit noted */
	uint64_t written;            /* the store's generation store_sync_note() saw */
	struct sync_waiter *waiters; /* owned, sorted by gen, then by call */
	int running;                 /* inside sync_release(): no free */

	/* Under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* the syncer waits on it for work */
	pthread_cond_t flushed; /* store_sync_wait() waits on it */
	uint64_t wanted;        /* the last commit the syncer was told of */
	uint64_t durable;       /* the last commit flushed */
	int failed;             /* a flush failed: the gate is shut for good */
	int stopping;
};

static void *
sync_thread(void *arg)
{
	struct store_sync *s = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->stopping && !s->failed && s->durable >= s->wanted)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->failed || (s->stopping && s->durable >= s->wanted))
			break;
		/* Every commit noted before the flush begins is covered by it:
		 * its frames were written before store_sync_committed(). */
		uint64_t target = s->wanted;
		struct err err = ERR_INIT;

		pthread_mutex_unlock(&s->lock);
		int rc = s->flush(s->flush_arg, &err);
		pthread_mutex_lock(&s->lock);
		if (rc < 0) {
			log_error("store: flushing commits failed, no later commit is acted on: %s",
			          err.msg);
			s->failed = 1;
		} else {
			s->durable = target;
		}
		pthread_cond_broadcast(&s->flushed);
		if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_error("store-sync: waking the loop: %s", strerror(errno));
	}
	pthread_cond_broadcast(&s->flushed);
	pthread_mutex_unlock(&s->lock);
	if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("store-sync: waking the loop: %s", strerror(errno));
	return NULL;
}

/* Runs the waiters that are durable (or all, failed, once the gate failed). */
static void
sync_release(struct store_sync *s)
{
	uint64_t durable;
	int failed;

	if (s->flush == NULL) {
		durable = s->last;
		failed = 0;
	} else {
		pthread_mutex_lock(&s->lock);
		durable = s->durable;
		failed = s->failed;
		pthread_mutex_unlock(&s->lock);
	}
	s->running = 1;
	while (s->waiters != NULL && (failed || s->waiters->gen <= durable)) {
		struct sync_waiter *w = s->waiters;

		s->waiters = w->next;
		w->cb(w->arg, failed && w->gen > durable);
		free(w);
	}
	s->running = 0;
}

static void
sync_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct store_sync *s = arg;
	uint64_t n;

	(void)what;
	if (fd >= 0 && read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_error("store-sync: reading its eventfd: %s", strerror(errno));
	sync_release(s);
}

struct store_sync *
store_sync_new(struct event_base *base, store_sync_flush_fn flush, void *flush_arg)
{
	struct store_sync *s = xcalloc(1, sizeof *s);

	s->base = base;
	s->flush = flush;
	s->flush_arg = flush_arg;
	s->efd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_cond_init(&s->flushed, NULL);
	if (flush == NULL) {
		s->ev = evtimer_new(base, sync_on_wake, s);
		if (s->ev == NULL)
			log_fatal("store-sync: cannot make its event");
		return s;
	}
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0)
		log_fatal("eventfd: %s", strerror(errno));
	s->ev = event_new(base, s->efd, EV_READ | EV_PERSIST, sync_on_wake, s);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0)
		log_fatal("store-sync: cannot register its event");
	if (pthread_create(&s->thread, NULL, sync_thread, s) != 0)
		log_fatal("store-sync: cannot start its thread");
	return s;
}

void
store_sync_free(struct store_sync *s)
{
	if (s == NULL)
		return;
	if (s->running)
		log_fatal("store-sync: freed from one of its own callbacks");
	if (s->flush != NULL) {
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	} else {
		s->durable = s->last;
	}
	sync_release(s);
	/* Left only when the last flush failed: sync_release() ran them all. */
	event_free(s->ev);
	if (s->efd >= 0)
		close(s->efd);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->flushed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

uint64_t
store_sync_committed(struct store_sync *s)
{
	uint64_t gen = ++s->last;

	if (s->flush != NULL) {
		pthread_mutex_lock(&s->lock);
		s->wanted = gen;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return gen;
}

uint64_t
store_sync_note(struct store_sync *s, uint64_t written)
{
	if (written != s->written) {
		s->written = written;
		store_sync_committed(s);
	}
	return s->last;
}

int
store_sync_wait(struct store_sync *s, uint64_t gen)
{
	int failed;

	if (s->flush == NULL)
		return 0;
	pthread_mutex_lock(&s->lock);
	while (s->durable < gen && !s->failed)
		pthread_cond_wait(&s->flushed, &s->lock);
	failed = s->durable < gen;
	pthread_mutex_unlock(&s->lock);
	return failed ? -1 : 0;
}

uint64_t
store_sync_last(const struct store_sync *s)
{
	return s->last;
}

uint64_t
store_sync_durable(struct store_sync *s)
{
	uint64_t d;

	if (s->flush == NULL)
		return s->last;
	pthread_mutex_lock(&s->lock);
	d = s->durable;
	pthread_mutex_unlock(&s->lock);
	return d;
}

void
store_sync_after(struct store_sync *s, uint64_t gen, store_sync_cb cb, void *arg)
{
	struct sync_waiter *w = xcalloc(1, sizeof *w);
	struct sync_waiter **p = &s->waiters;

	w->gen = gen;
	w->cb = cb;
	w->arg = arg;
	while (*p != NULL && (*p)->gen <= gen)
		p = &(*p)->next;
	w->next = *p;
	*p = w;
	/* Already durable: released on the next loop pass, not from here. */
	if (s->flush == NULL) {
		struct timeval now = {0, 0};

		evtimer_add(s->ev, &now);
	} else {
		uint64_t one = 1;
		int now;

		pthread_mutex_lock(&s->lock);
		now = gen <= s->durable || s->failed;
		pthread_mutex_unlock(&s->lock);
		if (!now)
			return;

		if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_error("store-sync: waking the loop: %s", strerror(errno));
	}
}

int
store_sync_wal_flush(void *flush_arg, struct err *err)
{
	struct store_sync_wal *w = flush_arg;
	char path[4096];
	struct stat st;
	int fd, rc = 0;

	if (snprintf(path, sizeof path, "%s-wal", w->db_path) >= (int)sizeof path)
		return err_make(err, ENAMETOOLONG, "flush %s-wal", w->db_path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_make(err, errno, "open %s", path);
	if (fsync(fd) < 0 || fstat(fd, &st) < 0) {
		rc = err_make(err, errno, "fsync %s", path);
		goto out;
	}
	if ((uint64_t)st.st_dev != w->dev || (uint64_t)st.st_ino != w->ino) {
		/* A new WAL: its name is in the directory, which needs its own
		 * flush. */
		char dir[4096];
		char *slash;
		int dfd;

		snprintf(dir, sizeof dir, "%s", w->db_path);
		slash = strrchr(dir, '/');
		if (slash == NULL)
			snprintf(dir, sizeof dir, ".");
		else if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			rc = err_make(err, errno, "fsync %s", dir);
			if (dfd >= 0)
				close(dfd);
			goto out;
		}
		close(dfd);
		w->dev = (uint64_t)st.st_dev;
		w->ino = (uint64_t)st.st_ino;
	}
out:
	close(fd);
	return rc;
}
