/* Unit tests of src/model: every legal path of the lifecycle is walked, and
 * every pair of states outside the legal set is refused. The legal sets here
 * are written out by hand from reference/deployment-lifecycle.txt, apart from
 * the implementation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "model/model.h"

#define BG STRATEGY_BLUE_GREEN
#define RC STRATEGY_RECREATE

static struct update_state
st(enum strategy strategy, enum update_status status, enum recreate_phase phase, int switched,
   int finished)
{
	struct update_state s = {strategy, status, phase, switched, finished};
	return s;
}

/* The update states of the lifecycle, by name. */
#define BG_PENDING     st(BG, UPDATE_PENDING, PHASE_NONE, 0, 0)
#define BG_STARTED     st(BG, UPDATE_STARTED, PHASE_NONE, 0, 0)
#define BG_READY       st(BG, UPDATE_READY, PHASE_NONE, 0, 0)
#define BG_SWITCHED    st(BG, UPDATE_READY, PHASE_NONE, 1, 0)
#define BG_DONE        st(BG, UPDATE_READY, PHASE_NONE, 1, 1)
#define BG_FAILED      st(BG, UPDATE_FAILED, PHASE_NONE, 0, 1)
#define BG_CANCELLED   st(BG, UPDATE_CANCELLED, PHASE_NONE, 0, 1)
#define RC_STOPPING    st(RC, UPDATE_PENDING, PHASE_STOPPING, 0, 0)
#define RC_DEPLOYING   st(RC, UPDATE_PENDING, PHASE_DEPLOYING, 0, 0)
#define RC_STARTED     st(RC, UPDATE_STARTED, PHASE_DEPLOYING, 0, 0)
#define RC_READY       st(RC, UPDATE_READY, PHASE_DEPLOYING, 0, 0)
#define RC_SWITCHED    st(RC, UPDATE_READY, PHASE_DEPLOYING, 1, 0)
#define RC_DONE        st(RC, UPDATE_READY, PHASE_DEPLOYING, 1, 1)
#define RC_FAILED_S    st(RC, UPDATE_FAILED, PHASE_STOPPING, 0, 1)
#define RC_CANCELLED_S st(RC, UPDATE_CANCELLED, PHASE_STOPPING, 0, 1)
#define RC_FAILED_D    st(RC, UPDATE_FAILED, PHASE_DEPLOYING, 0, 1)
#define RC_CANCELLED_D st(RC, UPDATE_CANCELLED, PHASE_DEPLOYING, 0, 1)

struct edge {
	struct update_state from, to;
};

static const struct update_state *
legal_states(size_t *n)
{
	static struct update_state v[17];

	v[0] = BG_PENDING, v[1] = BG_STARTED, v[2] = BG_READY, v[3] = BG_SWITCHED;
	v[4] = BG_DONE, v[5] = BG_FAILED, v[6] = BG_CANCELLED;
	v[7] = RC_STOPPING, v[8] = RC_DEPLOYING, v[9] = RC_STARTED, v[10] = RC_READY;
	v[11] = RC_SWITCHED, v[12] = RC_DONE, v[13] = RC_FAILED_S, v[14] = RC_CANCELLED_S;
	v[15] = RC_FAILED_D, v[16] = RC_CANCELLED_D;
	*n = 17;
	return v;
}

static const struct edge *
legal_edges(size_t *n)
{
	static struct edge e[24];
	size_t i = 0;

	/* blue-green: the happy path, then failure or cancel before the switch */
	e[i++] = (struct edge){BG_PENDING, BG_STARTED};
	e[i++] = (struct edge){BG_STARTED, BG_READY};
	e[i++] = (struct edge){BG_READY, BG_SWITCHED};
	e[i++] = (struct edge){BG_SWITCHED, BG_DONE};
	e[i++] = (struct edge){BG_PENDING, BG_FAILED};
	e[i++] = (struct edge){BG_STARTED, BG_FAILED};
	e[i++] = (struct edge){BG_READY, BG_FAILED};
	e[i++] = (struct edge){BG_PENDING, BG_CANCELLED};
	e[i++] = (struct edge){BG_STARTED, BG_CANCELLED};
	e[i++] = (struct edge){BG_READY, BG_CANCELLED};
	/* recreate: stopping, deploying, then as blue-green; phase kept on failure */
	e[i++] = (struct edge){RC_STOPPING, RC_DEPLOYING};
	e[i++] = (struct edge){RC_DEPLOYING, RC_STARTED};
	e[i++] = (struct edge){RC_STARTED, RC_READY};
	e[i++] = (struct edge){RC_READY, RC_SWITCHED};
	e[i++] = (struct edge){RC_SWITCHED, RC_DONE};
	e[i++] = (struct edge){RC_STOPPING, RC_FAILED_S};
	e[i++] = (struct edge){RC_STOPPING, RC_CANCELLED_S};
	e[i++] = (struct edge){RC_DEPLOYING, RC_FAILED_D};
	e[i++] = (struct edge){RC_DEPLOYING, RC_CANCELLED_D};
	e[i++] = (struct edge){RC_STARTED, RC_FAILED_D};
	e[i++] = (struct edge){RC_STARTED, RC_CANCELLED_D};
	e[i++] = (struct edge){RC_READY, RC_FAILED_D};
	e[i++] = (struct edge){RC_READY, RC_CANCELLED_D};
	*n = i;
	return e;
}

static int
same(const struct update_state *a, const struct update_state *b)
{
	return a->strategy == b->strategy && a->status == b->status && a->phase == b->phase &&
	       a->switched == b->switched && a->finished == b->finished;
}

static int
edge_is_legal(const struct update_state *a, const struct update_state *b)
{
	size_t n;
	const struct edge *e = legal_edges(&n);

	for (size_t i = 0; i < n; i++)
		if (same(&e[i].from, a) && same(&e[i].to, b))
			return 1;
	return 0;
}

/* Every combination of the struct's fields, valid or not. */
static size_t
all_states(struct update_state *out)
{
	size_t n = 0;

	for (int s = 0; s <= RC; s++)
		for (int u = 0; u <= UPDATE_CANCELLED; u++)
			for (int p = 0; p <= PHASE_DEPLOYING; p++)
				for (int sw = 0; sw <= 1; sw++)
					for (int f = 0; f <= 1; f++)
						out[n++] = st(s, u, p, sw, f);
	return n;
}

static void
test_update_states_valid_exactly_the_lifecycle(void **state)
{
	struct update_state all[2 * 5 * 3 * 2 * 2];
	size_t n = all_states(all), nlegal, valid = 0;
	const struct update_state *legal = legal_states(&nlegal);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		int expect = 0;

		for (size_t j = 0; j < nlegal; j++)
			expect |= same(&all[i], &legal[j]);
		assert_int_equal(model_update_state_valid(&all[i]), expect);
		valid += (size_t)expect;
	}
	assert_int_equal(valid, 17);
	/* A strategy out of range is not a state either. */
	struct update_state bad = BG_PENDING;
	bad.strategy = (enum strategy)7;
	assert_false(model_update_state_valid(&bad));
}

static void
test_update_every_pair(void **state)
{
	struct update_state all[2 * 5 * 3 * 2 * 2];
	size_t n = all_states(all), legal = 0, refused = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int expect = edge_is_legal(&all[i], &all[j]);
			int got = model_update_can_transition(&all[i], &all[j]);

			if (got != expect)
				fail_msg(
				    "%s/%s/sw%d/f%d -> %s/%s/sw%d/f%d: got %d",
				    model_update_status_str(all[i].status),
				    model_phase_str(all[i].phase) ? model_phase_str(all[i].phase)
				                                  : "-",
				    all[i].switched, all[i].finished,
				    model_update_status_str(all[j].status),
				    model_phase_str(all[j].phase) ? model_phase_str(all[j].phase)
				                                  : "-",
				    all[j].switched, all[j].finished, got);
			legal += (size_t)got;
			refused += (size_t)!got;
		}
	}
	assert_int_equal(legal, 23);
	assert_int_equal(legal + refused, n * n);
}

static void
test_update_terminal_refuses_everything(void **state)
{
	struct update_state all[2 * 5 * 3 * 2 * 2];
	size_t n = all_states(all);
	struct update_state terminal[] = {BG_DONE,     BG_FAILED,     BG_CANCELLED,
	                                  RC_DONE,     RC_FAILED_S,   RC_CANCELLED_S,
	                                  RC_FAILED_D, RC_CANCELLED_D};

	(void)state;
	for (size_t t = 0; t < ARRAY_LEN(terminal); t++) {
		assert_true(model_update_is_terminal(&terminal[t]));
		assert_false(model_update_can_cancel(&terminal[t]));
		for (size_t j = 0; j < n; j++)
			assert_false(model_update_can_transition(&terminal[t], &all[j]));
	}
}

/* Walks path, checking each step and the container status that goes with it. */
static void
walk(enum container_status before, const struct update_state *path, size_t n,
     const enum container_status *expect_container)
{
	enum container_status c = before;

	for (size_t i = 0; i < n; i++) {
		enum container_status next = model_container_status_during(before, &path[i]);

		if (i > 0)
			assert_true(model_update_can_transition(&path[i - 1], &path[i]));
		assert_int_equal(next, expect_container[i]);
		if (next != c)
			assert_true(model_container_can_transition(c, next));
		c = next;
	}
}

static void
test_first_deploy(void **state)
{
	(void)state;
	assert_true(model_container_can_transition(CONTAINER_DEPLOYING, CONTAINER_RUNNING));
	assert_true(model_container_can_transition(CONTAINER_DEPLOYING, CONTAINER_FAILED));
}

static void
test_blue_green_success_keeps_running(void **state)
{
	struct update_state path[] = {BG_PENDING, BG_STARTED, BG_READY, BG_SWITCHED, BG_DONE};
	enum container_status c[] = {CONTAINER_RUNNING, CONTAINER_RUNNING, CONTAINER_RUNNING,
	                             CONTAINER_RUNNING, CONTAINER_RUNNING};
	struct update_state first = model_update_initial(BG);

	(void)state;
	assert_true(same(&first, &path[0]));
	walk(CONTAINER_RUNNING, path, ARRAY_LEN(path), c);
	assert_true(model_update_succeeded(&path[4]));
	assert_false(model_update_succeeded(&path[3]));
	assert_false(model_update_can_cancel(&path[3])); /* past the switch */
}

static void
test_blue_green_failure_before_switch(void **state)
{
	struct update_state pre[] = {BG_PENDING, BG_STARTED, BG_READY};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(pre); i++) {
		struct update_state f = model_update_end(&pre[i], 1);
		struct update_state c = model_update_end(&pre[i], 0);

		assert_true(model_update_can_cancel(&pre[i]));
		struct update_state bf = BG_FAILED, bc = BG_CANCELLED;

		assert_true(same(&f, &bf));
		assert_true(same(&c, &bc));
		assert_true(model_update_can_transition(&pre[i], &f));
		assert_true(model_update_can_transition(&pre[i], &c));
		/* the old version never noticed */
		assert_int_equal(model_container_status_during(CONTAINER_RUNNING, &f),
		                 CONTAINER_RUNNING);
		assert_int_equal(model_container_status_during(CONTAINER_RUNNING, &c),
		                 CONTAINER_RUNNING);
	}
}

static void
test_recreate_success_and_failure(void **state)
{
	struct update_state ok[] = {RC_STOPPING, RC_DEPLOYING, RC_STARTED,
	                            RC_READY,    RC_SWITCHED,  RC_DONE};
	enum container_status okc[] = {CONTAINER_DEPLOYING, CONTAINER_DEPLOYING,
	                               CONTAINER_DEPLOYING, CONTAINER_DEPLOYING,
	                               CONTAINER_DEPLOYING, CONTAINER_RUNNING};
	struct update_state bad[] = {RC_STOPPING, RC_DEPLOYING, RC_STARTED, RC_FAILED_D};
	enum container_status badc[] = {CONTAINER_DEPLOYING, CONTAINER_DEPLOYING,
	                                CONTAINER_DEPLOYING, CONTAINER_FAILED};
	struct update_state first = model_update_initial(RC);

	(void)state;
	assert_true(same(&first, &ok[0]));
	walk(CONTAINER_RUNNING, ok, ARRAY_LEN(ok), okc);
	walk(CONTAINER_RUNNING, bad, ARRAY_LEN(bad), badc);
	/* a failure while stopping keeps the phase */
	struct update_state fs = model_update_end(&ok[0], 1), rfs = RC_FAILED_S;
	assert_true(same(&fs, &rfs));
	assert_int_equal(model_container_status_during(CONTAINER_RUNNING, &fs), CONTAINER_FAILED);
	/* the phase never goes back */
	assert_false(model_update_can_transition(&ok[1], &ok[0]));
}

static void
test_retry_from_failed(void **state)
{
	/* The failed update stays failed; a new update (kind retry) moves the
	 * container failed -> deploying -> running, whatever the strategy. */
	struct update_state bg[] = {BG_PENDING, BG_STARTED, BG_READY, BG_SWITCHED, BG_DONE};
	enum container_status bgc[] = {CONTAINER_DEPLOYING, CONTAINER_DEPLOYING,
	                               CONTAINER_DEPLOYING, CONTAINER_DEPLOYING, CONTAINER_RUNNING};
	struct update_state bgbad[] = {BG_PENDING, BG_FAILED};
	enum container_status bgbadc[] = {CONTAINER_DEPLOYING, CONTAINER_FAILED};
	struct update_state rc[] = {RC_STOPPING, RC_DEPLOYING, RC_STARTED,
	                            RC_READY,    RC_SWITCHED,  RC_DONE};
	enum container_status rcc[] = {CONTAINER_DEPLOYING, CONTAINER_DEPLOYING,
	                               CONTAINER_DEPLOYING, CONTAINER_DEPLOYING,
	                               CONTAINER_DEPLOYING, CONTAINER_RUNNING};
	const char *why = NULL;

	(void)state;
	assert_int_equal(model_update_request_check(UPDATE_KIND_RETRY, 0, 1, 0, &why), MODEL_OK);
	walk(CONTAINER_FAILED, bg, ARRAY_LEN(bg), bgc);
	walk(CONTAINER_FAILED, bgbad, ARRAY_LEN(bgbad), bgbadc);
	walk(CONTAINER_FAILED, rc, ARRAY_LEN(rc), rcc);
}

static void
test_cancel_and_delete_during_update(void **state)
{
	size_t n;
	const struct update_state *v = legal_states(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		int cancellable = !v[i].finished && !v[i].switched;

		assert_int_equal(model_update_can_cancel(&v[i]), cancellable);
		if (cancellable) {
			struct update_state c = model_update_end(&v[i], 0);

			assert_true(model_update_can_transition(&v[i], &c));
			assert_true(model_update_is_terminal(&c));
		}
	}
	/* A switched update is past the point of no return: a delete lets it
	 * finish (or removes it with the container). */
	struct update_state sw = BG_SWITCHED, done = BG_DONE;
	assert_true(model_update_can_transition(&sw, &done));
}

static void
test_container_pairs(void **state)
{
	/* deploying->running|failed, running->deploying|failed, failed->deploying */
	static const int legal[3][3] = {
	    [CONTAINER_DEPLOYING] = {[CONTAINER_RUNNING] = 1, [CONTAINER_FAILED] = 1},
	    [CONTAINER_RUNNING] = {[CONTAINER_DEPLOYING] = 1, [CONTAINER_FAILED] = 1},
	    [CONTAINER_FAILED] = {[CONTAINER_DEPLOYING] = 1},
	};

	(void)state;
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			assert_int_equal(model_container_can_transition((enum container_status)a,
			                                                (enum container_status)b),
			                 legal[a][b]);
}

static void
test_enclave_pairs(void **state)
{
	const enum enclave_state C = ENCLAVE_CREATING, B = ENCLAVE_BOOTING, H = ENCLAVE_HEALTHY,
	                         U = ENCLAVE_UNHEALTHY, S = ENCLAVE_STOPPING, X = ENCLAVE_STOPPED,
	                         F = ENCLAVE_FAILED;
	/* rows and columns: creating booting healthy unhealthy stopping stopped failed */
	static const int legal[7][7] = {
	    {0, 1, 0, 0, 1, 0, 1}, /* creating -> booting | stopping | failed */
	    {0, 0, 1, 0, 1, 0, 1}, /* booting -> healthy | stopping | failed */
	    {0, 0, 0, 1, 1, 0, 1}, /* healthy -> unhealthy | stopping | failed */
	    {0, 0, 1, 0, 1, 0, 1}, /* unhealthy -> healthy | stopping | failed */
	    {0, 0, 0, 0, 0, 1, 0}, /* stopping -> stopped */
	    {0, 0, 0, 0, 0, 0, 0}, /* stopped: terminal */
	    {0, 0, 0, 0, 1, 0, 0}, /* failed -> stopping */
	};
	int n = 0;

	(void)state;
	for (int a = 0; a < 7; a++)
		for (int b = 0; b < 7; b++) {
			assert_int_equal(model_enclave_can_transition((enum enclave_state)a,
			                                              (enum enclave_state)b),
			                 legal[a][b]);
			n += legal[a][b];
		}
	assert_int_equal(n, 14);
	/* the ordinary life: creating, booting, healthy, a blip, stopping, stopped */
	assert_true(model_enclave_can_transition(C, B) && model_enclave_can_transition(B, H) &&
	            model_enclave_can_transition(H, U) && model_enclave_can_transition(U, H) &&
	            model_enclave_can_transition(H, S) && model_enclave_can_transition(S, X));
	/* a failed enclave is cleaned up */
	assert_true(model_enclave_can_transition(B, F) && model_enclave_can_transition(F, S));
}

static void
test_names_round_trip(void **state)
{
	(void)state;
#define ROUND(fn, type, first, last)                                                               \
	for (int v = (int)first; v <= (int)last; v++) {                                            \
		enum type out;                                                                     \
		const char *s = model_##fn##_str((enum type)v);                                    \
		assert_string_not_equal(s, "?");                                                   \
		assert_int_equal(model_##fn##_parse(s, &out), 0);                                  \
		assert_int_equal((int)out, v);                                                     \
	}                                                                                          \
	{                                                                                          \
		enum type out;                                                                     \
		assert_int_equal(model_##fn##_parse("Running ", &out), -1);                        \
		assert_int_equal(model_##fn##_parse(NULL, &out), -1);                              \
		assert_string_equal(model_##fn##_str((enum type)99), "?");                         \
	}
	ROUND(container_status, container_status, CONTAINER_DEPLOYING, CONTAINER_FAILED)
	ROUND(update_status, update_status, UPDATE_PENDING, UPDATE_CANCELLED)
	ROUND(update_kind, update_kind, UPDATE_KIND_TAG, UPDATE_KIND_RETRY)
	ROUND(strategy, strategy, STRATEGY_BLUE_GREEN, STRATEGY_RECREATE)
	ROUND(enclave_state, enclave_state, ENCLAVE_CREATING, ENCLAVE_FAILED)
#undef ROUND
	assert_string_equal(model_container_status_str(CONTAINER_RUNNING), "running");
	assert_string_equal(model_update_kind_str(UPDATE_KIND_EDIT_CONFIG), "edit-config");
	assert_string_equal(model_strategy_str(STRATEGY_BLUE_GREEN), "blue-green");

	enum recreate_phase p = PHASE_DEPLOYING;
	assert_null(model_phase_str(PHASE_NONE));
	assert_string_equal(model_phase_str(PHASE_STOPPING), "stopping");
	assert_int_equal(model_phase_parse(NULL, &p), 0);
	assert_int_equal(p, PHASE_NONE);
	assert_int_equal(model_phase_parse("deploying", &p), 0);
	assert_int_equal(p, PHASE_DEPLOYING);
	assert_int_equal(model_phase_parse("none", &p), -1);
}

static void
test_strategy_choice(void **state)
{
	struct {
		enum config_strategy forced;
		int host, others, old, new_;
		enum strategy expect;
	} t[] = {
	    {CONFIG_STRATEGY_AUTO, 0, 0, 0, 0, BG},       /* CPU only */
	    {CONFIG_STRATEGY_AUTO, 8, 0, 4, 4, BG},       /* both fit */
	    {CONFIG_STRATEGY_AUTO, 8, 0, 8, 8, RC},       /* gpus: all */
	    {CONFIG_STRATEGY_AUTO, 8, 2, 3, 4, RC},       /* others take 2 */
	    {CONFIG_STRATEGY_AUTO, 8, 1, 3, 4, BG},       /* exactly fits */
	    {CONFIG_STRATEGY_AUTO, 8, 0, 0, 8, BG},       /* old was CPU only */
	    {CONFIG_STRATEGY_BLUE_GREEN, 8, 0, 8, 8, BG}, /* forced */
	    {CONFIG_STRATEGY_RECREATE, 0, 0, 0, 0, RC},   /* forced */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		assert_int_equal(
		    model_choose_strategy(t[i].forced, t[i].host, t[i].others, t[i].old, t[i].new_),
		    t[i].expect);
	assert_true(model_gpus_fit(0, 0, 0));
	assert_true(model_gpus_fit(8, 4, 4));
	assert_false(model_gpus_fit(8, 5, 4));
	assert_false(model_gpus_fit(0, 0, 1));
	assert_true(model_gpus_fit(0, 3, 0)); /* CPU and memory overcommit */
	assert_true(model_gpus_fit(4, -1, 4));
}

static void
test_update_request_check(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_int_equal(model_update_request_check(UPDATE_KIND_TAG, 1, 1, 0, &why), MODEL_EBUSY);
	assert_non_null(why);
	assert_int_equal(model_update_request_check(UPDATE_KIND_TAG, 0, 1, 0, &why), MODEL_OK);
	assert_int_equal(model_update_request_check(UPDATE_KIND_PROMOTE, 0, 1, 1, &why), MODEL_OK);
	assert_int_equal(model_update_request_check(UPDATE_KIND_PROMOTE, 0, 1, 0, &why),
	                 MODEL_EINVALID);
	assert_int_equal(model_update_request_check(UPDATE_KIND_EDIT_CONFIG, 0, 0, 0, &why),
	                 MODEL_EINVALID);
	assert_int_equal(model_update_request_check((enum update_kind)9, 0, 1, 0, &why),
	                 MODEL_EINVALID);
}

static void
test_enclave_name(void **state)
{
	char name[MODEL_ENCLAVE_NAME_LEN + 1];

	(void)state;
	model_enclave_name("0123456789abcdef0123456789abcdef", name);
	assert_string_equal(name, "e-0123456789ab");
	assert_int_equal(strlen(name), MODEL_ENCLAVE_NAME_LEN);
	model_enclave_name("abc", name);
	assert_string_equal(name, "e-abc");
}

/* The config's restart values, the stricter of two, the verdicts and the
 * backoff of docs/lifecycle.md "Restarts". */
static void
test_restart_rules(void **state)
{
	struct restart_rule r, no = {RESTART_NO, 0}, always = {RESTART_ALWAYS, 0};
	struct restart_rule on2 = {RESTART_ON_FAILURE, 2}, on = {RESTART_ON_FAILURE, 0};

	(void)state;
	assert_int_equal(model_restart_parse(NULL, &r), 0);
	assert_int_equal(r.policy, RESTART_NO);
	assert_int_equal(model_restart_parse("no", &r), 0);
	assert_int_equal(r.policy, RESTART_NO);
	assert_int_equal(model_restart_parse("always", &r), 0);
	assert_int_equal(r.policy, RESTART_ALWAYS);
	assert_int_equal(model_restart_parse("unless-stopped", &r), 0);
	assert_int_equal(r.policy, RESTART_ALWAYS);
	assert_int_equal(model_restart_parse("on-failure", &r), 0);
	assert_int_equal(r.policy, RESTART_ON_FAILURE);
	assert_int_equal(r.max, 0);
	assert_int_equal(model_restart_parse("on-failure:2", &r), 0);
	assert_int_equal(r.policy, RESTART_ON_FAILURE);
	assert_int_equal(r.max, 2);
	assert_int_equal(model_restart_parse("on-failure:", &r), -1);
	assert_int_equal(model_restart_parse("on-failure:x", &r), -1);
	assert_int_equal(model_restart_parse("sometimes", &r), -1);

	assert_int_equal(model_restart_stricter(always, no).policy, RESTART_NO);
	assert_int_equal(model_restart_stricter(on2, always).max, 2);
	assert_int_equal(model_restart_stricter(on, on2).max, 2);
	assert_int_equal(model_restart_stricter(always, on).policy, RESTART_ON_FAILURE);

	assert_int_equal(model_restart_decide(no, 0), RESTART_VERDICT_FAIL);
	assert_int_equal(model_restart_decide(always, 1000), RESTART_VERDICT_RESTART);
	assert_int_equal(model_restart_decide(on, 1000), RESTART_VERDICT_RESTART);
	assert_int_equal(model_restart_decide(on2, 1), RESTART_VERDICT_RESTART);
	assert_int_equal(model_restart_decide(on2, 2), RESTART_VERDICT_GIVE_UP);

	assert_int_equal(model_restart_backoff_ms(0), 100);
	assert_int_equal(model_restart_backoff_ms(1), 200);
	assert_int_equal(model_restart_backoff_ms(6), 6400);
	assert_int_equal(model_restart_backoff_ms(7), 10000);
	assert_int_equal(model_restart_backoff_ms(1000000), 10000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_update_states_valid_exactly_the_lifecycle),
	    cmocka_unit_test(test_update_every_pair),
	    cmocka_unit_test(test_update_terminal_refuses_everything),
	    cmocka_unit_test(test_first_deploy),
	    cmocka_unit_test(test_blue_green_success_keeps_running),
	    cmocka_unit_test(test_blue_green_failure_before_switch),
	    cmocka_unit_test(test_recreate_success_and_failure),
	    cmocka_unit_test(test_retry_from_failed),
	    cmocka_unit_test(test_cancel_and_delete_during_update),
	    cmocka_unit_test(test_container_pairs),
	    cmocka_unit_test(test_enclave_pairs),
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_strategy_choice),
	    cmocka_unit_test(test_update_request_check),
	    cmocka_unit_test(test_enclave_name),
	    cmocka_unit_test(test_restart_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
