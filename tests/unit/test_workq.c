/* Unit tests of src/common/workq: work runs off the loop, done runs on it. */
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/workq.h"

struct job {
	pthread_t loop_thread;
	pthread_t work_thread;
	int value;
	int result;
	int *finished;
	struct event_base *base;
	int total;
};

static void
job_work(void *arg)
{
	struct job *j = arg;

	j->work_thread = pthread_self();
	usleep(1000);
	j->result = j->value * 2;
}

static void
job_done(void *arg)
{
	struct job *j = arg;

	/* done() runs on the loop's thread, after work() produced its result. */
	assert_true(pthread_equal(pthread_self(), j->loop_thread));
	assert_false(pthread_equal(j->work_thread, j->loop_thread));
	assert_int_equal(j->result, j->value * 2);
	if (++*j->finished == j->total)
		event_base_loopbreak(j->base);
}

static void
test_workq_runs_jobs(void **state)
{
	struct event_base *base = event_base_new();
	struct workq *q = workq_new(base, 3, 0);
	struct job jobs[50];
	int finished = 0;

	(void)state;
	for (int i = 0; i < 50; i++) {
		jobs[i] = (struct job){.loop_thread = pthread_self(),
		                       .value = i,
		                       .finished = &finished,
		                       .base = base,
		                       .total = 50};
		workq_submit(q, job_work, job_done, &jobs[i]);
	}
	assert_int_equal(workq_pending(q), 50);
	event_base_dispatch(base);
	assert_int_equal(finished, 50);
	assert_int_equal(workq_pending(q), 0);
	workq_free(q);
	event_base_free(base);
}

static void
test_workq_free_drops_queued(void **state)
{
	struct event_base *base = event_base_new();
	struct workq *q = workq_new(base, 1, 0);
	struct job jobs[20];
	int finished = 0;

	(void)state;
	for (int i = 0; i < 20; i++) {
		jobs[i] = (struct job){.loop_thread = pthread_self(),
		                       .value = i,
		                       .finished = &finished,
		                       .base = base,
		                       .total = 1000};
		workq_submit(q, job_work, job_done, &jobs[i]);
	}
	/* Free at once: the running job finishes and its done() runs, queued ones
	 * are dropped, nothing leaks (ASan checks). */
	workq_free(q);
	assert_true(finished < 20);
	event_base_free(base);
}

/* A job of the "stuck" lane waits until released; jobs of another lane
 * count themselves and end the loop when all ran. */
struct lane_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int released;
	int stuck_running, stuck_max;
	int good_done;
	struct event_base *base;
};

static void
stuck_work(void *arg)
{
	struct lane_state *s = arg;

	pthread_mutex_lock(&s->lock);
	if (++s->stuck_running > s->stuck_max)
		s->stuck_max = s->stuck_running;
	while (!s->released)
		pthread_cond_wait(&s->cond, &s->lock);
	s->stuck_running--;
	pthread_mutex_unlock(&s->lock);
}

static void
good_work(void *arg)
{
	(void)arg;
}

static void
good_done(void *arg)
{
	struct lane_state *s = arg;

	if (++s->good_done == 6)
		event_base_loopbreak(s->base);
}

static void
test_workq_lanes_pass_a_stuck_key(void **state)
{
	struct event_base *base = event_base_new();
	struct workq *q = workq_new(base, 3, 2);
	struct lane_state s = {.base = base};

	(void)state;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	/* Five jobs stuck on one peer, then six for others: the stuck key
	 * holds two of the three workers, never the third. */
	for (int i = 0; i < 5; i++)
		workq_submit_keyed(q, "registry.stuck:5000", stuck_work, NULL, &s);
	for (int i = 0; i < 6; i++)
		workq_submit_keyed(q, i % 2 ? "good.example" : NULL, good_work, good_done, &s);
	event_base_dispatch(base);
	assert_int_equal(s.good_done, 6);
	pthread_mutex_lock(&s.lock);
	assert_int_equal(s.stuck_max, 2);
	s.released = 1;
	pthread_cond_broadcast(&s.cond);
	pthread_mutex_unlock(&s.lock);
	/* The stuck ones then all run, two at a time; free waits for them. */
	while (workq_pending(q) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(s.stuck_max, 2);
	workq_free(q);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_workq_runs_jobs),
	    cmocka_unit_test(test_workq_free_drops_queued),
	    cmocka_unit_test(test_workq_lanes_pass_a_stuck_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
