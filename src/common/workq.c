#include "common/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

struct workq_job {
	workq_fn work;
	workq_fn done;
	void *arg;
	char *key; /* owned or NULL: the lane, see workq_submit_keyed() */
	struct workq_job *next;
};

/* A key with jobs running, and how many. */
struct workq_lane {
	char *key; /* owned */
	int running;
	struct workq_lane *next;
};

struct workq_list {
	struct workq_job *head;
	struct workq_job *tail;
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct workq_list todo;   /* guarded by lock */
	struct workq_list done;   /* guarded by lock */
	struct workq_lane *lanes; /* guarded by lock: keys with running jobs */
	int per_key;              /* jobs of one key running at once at most */
	int stopping;             /* guarded by lock */
	int pending;              /* loop thread only */
	int efd;                  /* eventfd: workers wake the loop */
	struct event *ev;         /* owned */
	pthread_t *threads;       /* owned */
	int nthreads;
};

static void
workq_list_push(struct workq_list *l, struct workq_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct workq_job *
workq_list_take_all(struct workq_list *l)
{
	struct workq_job *h = l->head;

	l->head = l->tail = NULL;
	return h;
}

static struct workq_lane *
workq_lane(struct workq *q, const char *key)
{
	struct workq_lane *l;

	for (l = q->lanes; l != NULL && strcmp(l->key, key) != 0; l = l->next)
		;
	return l;
}

/* Takes the first queued job whose lane has room (under lock), or NULL. */
static struct workq_job *
workq_take(struct workq *q)
{
	struct workq_job **pp, *j;
	struct workq_lane *l;

	for (pp = &q->todo.head; (j = *pp) != NULL; pp = &j->next) {
		if (j->key == NULL)
			break;
		l = workq_lane(q, j->key);
		if (l == NULL || l->running < q->per_key)
			break;
	}
	if (j == NULL)
		return NULL;
	*pp = j->next;
	if (q->todo.tail == j) {
		struct workq_job *t = q->todo.head;

		while (t != NULL && t->next != NULL)
			t = t->next;
		q->todo.tail = t;
	}
	if (j->key != NULL) {
		if ((l = workq_lane(q, j->key)) == NULL) {
			l = xcalloc(1, sizeof *l);
			l->key = xstrdup(j->key);
			l->next = q->lanes;
			q->lanes = l;
		}
		l->running++;
	}
	return j;
}

/* A job of key ended (under lock): its lane makes room, or goes. */
static void
workq_lane_release(struct workq *q, const char *key)
{
	struct workq_lane **pp, *l;

	for (pp = &q->lanes; (l = *pp) != NULL && strcmp(l->key, key) != 0; pp = &l->next)
		;
	if (l == NULL || --l->running > 0)
		return;
	*pp = l->next;
	free(l->key);
	free(l);
}

static void *
workq_thread(void *arg)
{
	struct workq *q = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct workq_job *j;

		while (!q->stopping && (j = workq_take(q)) == NULL)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->stopping)
			break;
		pthread_mutex_unlock(&q->lock);

		j->work(j->arg);

		pthread_mutex_lock(&q->lock);
		if (j->key != NULL) {
			workq_lane_release(q, j->key);
			/* A job of that lane may wait for the room made. */
			pthread_cond_broadcast(&q->cond);
		}
		workq_list_push(&q->done, j);
		(void)!write(q->efd, &one, sizeof one);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Runs the done callbacks of finished jobs, on the loop thread. */
static void
workq_drain_done(struct workq *q)
{
	struct workq_job *j, *next;

	pthread_mutex_lock(&q->lock);
	j = workq_list_take_all(&q->done);
	pthread_mutex_unlock(&q->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		q->pending--;
		if (j->done != NULL)
			j->done(j->arg);
		free(j->key);
		free(j);
	}
}

static void
workq_on_wake(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof n);
	workq_drain_done(arg);
}

struct workq *
workq_new(struct event_base *base, int nthreads, int per_key)
{
	struct workq *q = xcalloc(1, sizeof *q);

	if (nthreads < 1)
		nthreads = 1;
	q->per_key = per_key > 0 ? per_key : nthreads;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		log_fatal("eventfd: %s", strerror(errno));
	q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, workq_on_wake, q);
	if (q->ev == NULL || event_add(q->ev, NULL) < 0)
		log_fatal("workq: cannot register its event");
	q->threads = xcalloc((size_t)nthreads, sizeof *q->threads);
	q->nthreads = nthreads;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&q->threads[i], NULL, workq_thread, q) != 0)
			log_fatal("workq: cannot start a thread");
	return q;
}

void
workq_submit_keyed(struct workq *q, const char *key, workq_fn work, workq_fn done, void *arg)
{
	struct workq_job *j = xmalloc(sizeof *j);

	j->work = work;
	j->done = done;
	j->arg = arg;
	j->key = key != NULL ? xstrdup(key) : NULL;
	q->pending++;
	pthread_mutex_lock(&q->lock);
	workq_list_push(&q->todo, j);
	/* Every worker: the one woken must be one whose pick is this job,
	 * and a worker waits whether the queue is empty or its jobs' lanes
	 * are full. */
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void
workq_submit(struct workq *q, workq_fn work, workq_fn done, void *arg)
{
	workq_submit_keyed(q, NULL, work, done, arg);
}

int
workq_pending(const struct workq *q)
{
	return q->pending;
}

void
workq_free(struct workq *q)
{
	struct workq_job *j, *next;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	j = workq_list_take_all(&q->todo);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		free(j->key);
		free(j);
	}
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	while (q->lanes != NULL) {
		struct workq_lane *l = q->lanes;

		q->lanes = l->next;
		free(l->key);
		free(l);
	}
	workq_drain_done(q);
	event_free(q->ev);
	close(q->efd);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q->threads);
	free(q);
}
