/* Unit tests of src/daemon/leader.c on the real PostgreSQL of
 * $BERTH_TEST_PG (`test_leader pg`; CMake's fixture starts one): one
 * leader of two, the follower's view of the leader's URL, a follower's kick
 * reaching the leader's loop, the lock handed over when the leader goes,
 * and the settings refused. Without `pg` only the refusals run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "common/util.h"
#include "daemon/leader.h"

static const char *pg_url;

struct side {
	int elected;
	char *kicked; /* owned: the last container id kicked */
};

static void
on_elected(void *arg)
{
	((struct side *)arg)->elected++;
}

static void
on_kicked(void *arg, const char *container_id)
{
	struct side *s = arg;

	free(s->kicked);
	s->kicked = xstrdup(container_id);
}

/* Runs base's loop until *flag is set or ms passed: whether it was set. */
static int
run_until(struct event_base *base, const int *flag, int ms)
{
	for (int i = 0; i < ms / 10 && !*flag; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	return *flag != 0;
}

static struct leader *
start(struct event_base *base, const char *url, struct side *s)
{
	struct leader_settings ls = {.store_url = pg_url,
	                             .self_url = url,
	                             .interval_ms = 100,
	                             .elected = on_elected,
	                             .kicked = on_kicked,
	                             .arg = s};
	struct leader *l = NULL;
	struct err err = ERR_INIT;

	assert_int_equal(leader_new(base, &ls, &l, &err), 0);
	assert_int_equal(leader_start(l, &err), 0);
	return l;
}

static void
test_one_leads_the_other_follows_and_takes_over(void **state)
{
	struct event_base *base;
	struct side sa = {0}, sb = {0};
	struct leader *a, *b;
	char *url;
	int kicked = 0;

	(void)state;
	if (pg_url == NULL)
		skip();
	base = event_base_new();
	a = start(base, "http://10.0.0.1:7070", &sa);
	assert_true(run_until(base, &sa.elected, 5000));
	assert_true(leader_is_leader(a));
	url = leader_url(a);
	assert_string_equal(url, "http://10.0.0.1:7070");
	free(url);

	b = start(base, "http://10.0.0.2:7070", &sb);
	/* Tried for a while (every 100 ms), never elected; it sees a's URL. */
	assert_false(run_until(base, &sb.elected, 1000));
	assert_false(leader_is_leader(b));
	url = leader_url(b);
	assert_non_null(url);
	assert_string_equal(url, "http://10.0.0.1:7070");
	free(url);

	/* A follower's kick reaches the leader's loop, payload and all. */
	leader_kick(b, "c0ffee");
	for (int i = 0; i < 300 && !kicked; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		kicked = sa.kicked != NULL;
		usleep(10000);
	}
	assert_true(kicked);
	assert_string_equal(sa.kicked, "c0ffee");
	/* The leader's own kicks go nowhere: it acts itself. */
	leader_kick(a, "ignored");
	assert_null(sb.kicked);

	/* The leader goes (its connection with it): b leads, once. */
	leader_free(a);
	assert_true(run_until(base, &sb.elected, 5000));
	assert_int_equal(sb.elected, 1);
	assert_int_equal(sa.elected, 1);
	url = leader_url(b);
	assert_string_equal(url, "http://10.0.0.2:7070");
	free(url);
	leader_free(b);
	free(sa.kicked);
	free(sb.kicked);
	event_base_free(base);
}

static void
test_a_url_too_long_is_refused(void **state)
{
	struct event_base *base = event_base_new();
	char url[128];
	struct leader_settings ls = {.store_url = "postgresql:///x", .self_url = url};
	struct leader *l = (struct leader *)1;
	struct err err = ERR_INIT;

	(void)state;
	snprintf(url, sizeof url, "http://%0*d", 60, 0);
	assert_true(leader_new(base, &ls, &l, &err) < 0);
	assert_null(l);
	assert_non_null(strstr(err.msg, "longer than 63 bytes"));
	event_base_free(base);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_leads_the_other_follows_and_takes_over),
	    cmocka_unit_test(test_a_url_too_long_is_refused),
	};

	evthread_use_pthreads();
	if (argc > 1 && strcmp(argv[1], "pg") == 0) {
		pg_url = getenv("BERTH_TEST_PG");
		if (pg_url == NULL || pg_url[0] == '\0') {
			fprintf(stderr,
			        "test_leader pg: BERTH_TEST_PG (a PostgreSQL URL) is not set\n");
			return 1;
		}
		return cmocka_run_group_tests_name("leader on PostgreSQL", tests, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
