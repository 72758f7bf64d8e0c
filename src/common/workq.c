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
	struct workq_job *next;
};

struct workq_list {
	struct workq_job *head;
	struct workq_job *tail;
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct workq_list todo; /* guarded by lock */
	struct workq_list done; /* guarded by lock */
	int stopping;           /* guarded by lock */
	int pending;            /* loop thread only */
	int efd;                /* eventfd: workers wake the loop */
	struct event *ev;       /* owned */
	pthread_t *threads;     /* owned */
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

static void *
workq_thread(void *arg)
{
	struct workq *q = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct workq_job *j;

		while (q->todo.head == NULL && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->stopping)
			break;
		j = q->todo.head;
		q->todo.head = j->next;
		if (q->todo.head == NULL)
			q->todo.tail = NULL;
		pthread_mutex_unlock(&q->lock);

		j->work(j->arg);

		pthread_mutex_lock(&q->lock);
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
workq_new(struct event_base *base, int nthreads)
{
	struct workq *q = xcalloc(1, sizeof *q);

	if (nthreads < 1)
		nthreads = 1;
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
workq_submit(struct workq *q, workq_fn work, workq_fn done, void *arg)
{
	struct workq_job *j = xmalloc(sizeof *j);

	j->work = work;
	j->done = done;
	j->arg = arg;
	q->pending++;
	pthread_mutex_lock(&q->lock);
	workq_list_push(&q->todo, j);
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
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
		free(j);
	}
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	workq_drain_done(q);
	event_free(q->ev);
	close(q->efd);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q->threads);
	free(q);
}
