/* Unit tests of src/store/store-sync: no side effect runs before the flush
 * that covers its commit has returned; one flush covers every commit before
 * it; a failed flush shuts the gate. The syncer's flush is a test double the
 * test holds and releases. */
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store-sync.h"
#include "unit.h"

/* The test double: each flush waits until the test allows one more. */
struct held_flush {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int allowed;  /* flushes the test let return */
	int started;  /* flushes begun */
	int finished; /* flushes returned */
	int fail;     /* the next flush fails */
};

static int
held_flush(void *arg, struct err *err)
{
	struct held_flush *h = arg;
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	h->started++;
	pthread_cond_broadcast(&h->cond);
	while (h->finished >= h->allowed)
		pthread_cond_wait(&h->cond, &h->lock);
	if (h->fail)
		rc = err_make(err, 5, "fsync test: input/output error");
	h->finished++;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static void
held_init(struct held_flush *h)
{
	memset(h, 0, sizeof *h);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
}

static void
held_allow(struct held_flush *h, int n)
{
	pthread_mutex_lock(&h->lock);
	h->allowed += n;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void
held_wait_started(struct held_flush *h, int n)
{
	pthread_mutex_lock(&h->lock);
	while (h->started < n)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

struct effect {
	int ran;
	int failed;
	int order; /* when it ran, among all effects */
	int *counter;
};

static void
effect_run(void *arg, int failed)
{
	struct effect *e = arg;

	e->ran++;
	e->failed = failed;
	e->order = ++*e->counter;
}

/* Turns the loop for ms milliseconds. */
static void
loop_for(struct event_base *base, int ms)
{
	struct timeval tv = {0, ms * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Turns the loop until e ran, at most 5 s. */
static void
loop_until_ran(struct event_base *base, struct effect *e)
{
	for (int i = 0; i < 500 && !e->ran; i++)
		loop_for(base, 10);
	assert_int_equal(e->ran, 1);
}

static void
test_effect_waits_for_its_flush(void **state)
{
	struct event_base *base = event_base_new();
	struct held_flush h;
	struct store_sync *s;
	struct effect e = {0}, none = {0};
	int counter = 0;
	uint64_t gen;

	(void)state;
	held_init(&h);
	s = store_sync_new(base, held_flush, &h);
	e.counter = none.counter = &counter;
	gen = store_sync_committed(s);
	assert_int_equal(gen, 1);
	store_sync_after(s, gen, effect_run, &e);
	held_wait_started(&h, 1);
	/* The flush has begun but not returned: the effect must not run, even
	 * when the loop is woken (a waiter on nothing committed). */
	store_sync_after(s, 0, effect_run, &none);
	loop_until_ran(base, &none);
	loop_for(base, 100);
	assert_int_equal(e.ran, 0);
	assert_int_equal(store_sync_durable(s), 0);
	held_allow(&h, 1);
	loop_until_ran(base, &e);
	assert_int_equal(e.failed, 0);
	assert_int_equal(store_sync_durable(s), 1);
	store_sync_free(s);
	event_base_free(base);
}

static void
test_one_flush_covers_commits_before_it(void **state)
{
	struct event_base *base = event_base_new();
	struct held_flush h;
	struct store_sync *s;
	struct effect e[4] = {{0}};
	int counter = 0;
	uint64_t g1, g2, g3;

	(void)state;
	held_init(&h);
	s = store_sync_new(base, held_flush, &h);
	for (int i = 0; i < 4; i++)
		e[i].counter = &counter;
	g1 = store_sync_committed(s);
	store_sync_after(s, g1, effect_run, &e[0]);
	held_wait_started(&h, 1);
	/* Committed while the first flush runs: it does not cover them. */
	g2 = store_sync_committed(s);
	g3 = store_sync_committed(s);
	store_sync_after(s, g3, effect_run, &e[2]);
	store_sync_after(s, g2, effect_run, &e[1]);
	store_sync_after(s, g3, effect_run, &e[3]);
	held_allow(&h, 1);
	loop_until_ran(base, &e[0]);
	loop_for(base, 50);
	assert_int_equal(e[1].ran + e[2].ran + e[3].ran, 0);
	/* One more flush covers both. */
	held_allow(&h, 1);
	loop_until_ran(base, &e[3]);
	assert_int_equal(h.finished, 2);
	assert_int_equal(store_sync_durable(s), 3);
	for (int i = 0; i < 4; i++)
		assert_int_equal(e[i].order, i + 1);
	store_sync_free(s);
	event_base_free(base);
}

static void
test_failed_flush_shuts_the_gate(void **state)
{
	struct event_base *base = event_base_new();
	struct held_flush h;
	struct store_sync *s;
	struct effect e = {0}, later = {0}, old = {0};
	int counter = 0;
	uint64_t g1, g2;

	(void)state;
	held_init(&h);
	s = store_sync_new(base, held_flush, &h);
	e.counter = later.counter = old.counter = &counter;
	g1 = store_sync_committed(s);
	store_sync_after(s, g1, effect_run, &old);
	held_allow(&h, 1);
	loop_until_ran(base, &old);
	assert_int_equal(old.failed, 0);
	h.fail = 1;
	g2 = store_sync_committed(s);
	store_sync_after(s, g2, effect_run, &e);
	held_allow(&h, 1);
	loop_until_ran(base, &e);
	assert_int_equal(e.failed, 1);
	assert_int_equal(store_sync_durable(s), 1);
	/* No later flush can vouch for it: every later commit fails too. */
	store_sync_after(s, store_sync_committed(s), effect_run, &later);
	loop_until_ran(base, &later);
	assert_int_equal(later.failed, 1);
	store_sync_free(s);
	event_base_free(base);
}

static void
test_without_flush_runs_on_next_pass(void **state)
{
	struct event_base *base = event_base_new();
	struct store_sync *s = store_sync_new(base, NULL, NULL);
	struct effect e = {0};
	int counter = 0;

	(void)state;
	e.counter = &counter;
	store_sync_after(s, store_sync_committed(s), effect_run, &e);
	/* Never from inside the call. */
	assert_int_equal(e.ran, 0);
	loop_until_ran(base, &e);
	assert_int_equal(e.failed, 0);
	store_sync_free(s);
	event_base_free(base);
}

static void
test_free_flushes_the_waiters_left(void **state)
{
	struct event_base *base = event_base_new();
	struct held_flush h;
	struct store_sync *s;
	struct effect e = {0};
	int counter = 0;

	(void)state;
	held_init(&h);
	h.allowed = 100;
	s = store_sync_new(base, held_flush, &h);
	e.counter = &counter;
	store_sync_after(s, store_sync_committed(s), effect_run, &e);
	store_sync_free(s);
	assert_int_equal(e.ran, 1);
	assert_int_equal(e.failed, 0);
	assert_true(h.finished >= 1);
	event_base_free(base);
}

static void
test_note_counts_only_new_writes(void **state)
{
	struct event_base *base = event_base_new();
	struct store_sync *s = store_sync_new(base, NULL, NULL);

	(void)state;
	/* The store's generation moved: one commit; the same again: none. */
	assert_int_equal(store_sync_note(s, 7), 1);
	assert_int_equal(store_sync_note(s, 7), 1);
	assert_int_equal(store_sync_note(s, 9), 2);
	assert_int_equal(store_sync_last(s), 2);
	store_sync_free(s);
	event_base_free(base);
}

struct waiter_thread {
	struct store_sync *s;
	uint64_t gen;
	_Atomic int done;
	int rc;
};

static void *
waiter_run(void *arg)
{
	struct waiter_thread *w = arg;

	w->rc = store_sync_wait(w->s, w->gen);
	w->done = 1;
	return NULL;
}

/* A pool's thread blocks until its commit's flush returned; a failed flush
 * wakes it with -1. */
static void
test_wait_blocks_until_flushed(void **state)
{
	struct event_base *base = event_base_new();
	struct held_flush h;
	struct waiter_thread w = {0}, w2 = {0};
	pthread_t t, t2;

	(void)state;
	held_init(&h);
	w.s = w2.s = store_sync_new(base, held_flush, &h);
	w.gen = store_sync_note(w.s, 1);
	assert_int_equal(store_sync_wait(w.s, 0), 0); /* nothing to wait for */
	assert_int_equal(pthread_create(&t, NULL, waiter_run, &w), 0);
	held_wait_started(&h, 1);
	usleep(100 * 1000);
	assert_int_equal(w.done, 0);
	held_allow(&h, 1);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, 0);
	/* The next commit's flush fails: its waiter is told. */
	pthread_mutex_lock(&h.lock);
	h.fail = 1;
	pthread_mutex_unlock(&h.lock);
	w2.gen = store_sync_note(w2.s, 2);
	assert_int_equal(pthread_create(&t2, NULL, waiter_run, &w2), 0);
	held_wait_started(&h, 2);
	usleep(50 * 1000);
	assert_int_equal(w2.done, 0);
	held_allow(&h, 1);
	pthread_join(t2, NULL);
	assert_int_equal(w2.rc, -1);
	store_sync_free(w.s);
	event_base_free(base);
}

static void
test_wal_flush(void **state)
{
	const char *dir = *state;
	char db[4096], wal[4200];
	struct store_sync_wal w = {.db_path = db};
	struct err err = ERR_INIT;
	int fd;

	snprintf(db, sizeof db, "%s/berth.db", dir);
	snprintf(wal, sizeof wal, "%s-wal", db);
	/* No WAL yet: nothing was committed to flush. */
	assert_int_equal(store_sync_wal_flush(&w, &err), 0);
	assert_int_equal(w.ino, 0);
	fd = open(wal, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "frame", 5), 5);
	close(fd);
	assert_int_equal(store_sync_wal_flush(&w, &err), 0);
	assert_true(w.ino != 0);
	assert_int_equal(store_sync_wal_flush(&w, &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_effect_waits_for_its_flush),
	    cmocka_unit_test(test_one_flush_covers_commits_before_it),
	    cmocka_unit_test(test_failed_flush_shuts_the_gate),
	    cmocka_unit_test(test_without_flush_runs_on_next_pass),
	    cmocka_unit_test(test_free_flushes_the_waiters_left),
	    cmocka_unit_test(test_note_counts_only_new_writes),
	    cmocka_unit_test(test_wait_blocks_until_flushed),
	    cmocka_unit_test_setup_teardown(test_wal_flush, unit_setup_dir, unit_teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
