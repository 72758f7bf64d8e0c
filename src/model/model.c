/* model: the rules of the container, update and enclave state machines. */
#include "model/model.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const container_status_names[] = {
    [CONTAINER_DEPLOYING] = "deploying",
    [CONTAINER_RUNNING] = "running",
    [CONTAINER_FAILED] = "failed",
};

static const char *const update_status_names[] = {
    [UPDATE_PENDING] = "pending", [UPDATE_STARTED] = "started",     [UPDATE_READY] = "ready",
    [UPDATE_FAILED] = "failed",   [UPDATE_CANCELLED] = "cancelled",
};

static const char *const phase_names[] = {
    [PHASE_NONE] = NULL,
    [PHASE_STOPPING] = "stopping",
    [PHASE_DEPLOYING] = "deploying",
};

static const char *const update_kind_names[] = {
    [UPDATE_KIND_TAG] = "tag",
    [UPDATE_KIND_EDIT_CONFIG] = "edit-config",
    [UPDATE_KIND_PROMOTE] = "promote",
    [UPDATE_KIND_RETRY] = "retry",
};

static const char *const strategy_names[] = {
    [STRATEGY_BLUE_GREEN] = "blue-green",
    [STRATEGY_RECREATE] = "recreate",
};

static const char *const enclave_state_names[] = {
    [ENCLAVE_CREATING] = "creating", [ENCLAVE_BOOTING] = "booting",
    [ENCLAVE_HEALTHY] = "healthy",   [ENCLAVE_UNHEALTHY] = "unhealthy",
    [ENCLAVE_STOPPING] = "stopping", [ENCLAVE_STOPPED] = "stopped",
    [ENCLAVE_FAILED] = "failed",
};

static const char *
name_of(const char *const *names, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || names[v] == NULL)
		return "?";
	return names[v];
}

static int
parse_name(const char *const *names, size_t n, const char *s, int *out)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(names[i], s) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -1;
}

#define NAMES(a) a, sizeof(a) / sizeof((a)[0])

const char *
model_container_status_str(enum container_status v)
{
	return name_of(NAMES(container_status_names), (int)v);
}

int
model_container_status_parse(const char *s, enum container_status *out)
{
	int v;

	if (parse_name(NAMES(container_status_names), s, &v) < 0)
		return -1;
	*out = (enum container_status)v;
	return 0;
}

const char *
model_update_status_str(enum update_status v)
{
	return name_of(NAMES(update_status_names), (int)v);
}

int
model_update_status_parse(const char *s, enum update_status *out)
{
	int v;

	if (parse_name(NAMES(update_status_names), s, &v) < 0)
		return -1;
	*out = (enum update_status)v;
	return 0;
}

const char *
model_update_kind_str(enum update_kind v)
{
	return name_of(NAMES(update_kind_names), (int)v);
}

int
model_update_kind_parse(const char *s, enum update_kind *out)
{
	int v;

	if (parse_name(NAMES(update_kind_names), s, &v) < 0)
		return -1;
	*out = (enum update_kind)v;
	return 0;
}

const char *
model_strategy_str(enum strategy v)
{
	return name_of(NAMES(strategy_names), (int)v);
}

int
model_strategy_parse(const char *s, enum strategy *out)
{
	int v;

	if (parse_name(NAMES(strategy_names), s, &v) < 0)
		return -1;
	*out = (enum strategy)v;
	return 0;
}

const char *
model_enclave_state_str(enum enclave_state v)
{
	return name_of(NAMES(enclave_state_names), (int)v);
}

int
model_enclave_state_parse(const char *s, enum enclave_state *out)
{
	int v;

	if (parse_name(NAMES(enclave_state_names), s, &v) < 0)
		return -1;
	*out = (enum enclave_state)v;
	return 0;
}

const char *
model_phase_str(enum recreate_phase p)
{
	if (p == PHASE_NONE)
		return NULL;
	return name_of(NAMES(phase_names), (int)p);
}

int
model_phase_parse(const char *s, enum recreate_phase *out)
{
	int v;

	if (s == NULL) {
		*out = PHASE_NONE;
		return 0;
	}
	if (parse_name(NAMES(phase_names), s, &v) < 0)
		return -1;
	*out = (enum recreate_phase)v;
	return 0;
}

int
model_container_can_transition(enum container_status from, enum container_status to)
{
	switch (from) {
	case CONTAINER_DEPLOYING:
		return to == CONTAINER_RUNNING || to == CONTAINER_FAILED;
	case CONTAINER_RUNNING:
		return to == CONTAINER_DEPLOYING || to == CONTAINER_FAILED;
	case CONTAINER_FAILED:
		return to == CONTAINER_DEPLOYING;
	}
	return 0;
}

int
model_enclave_can_transition(enum enclave_state from, enum enclave_state to)
{
	switch (from) {
	case ENCLAVE_CREATING:
		return to == ENCLAVE_BOOTING || to == ENCLAVE_STOPPING || to == ENCLAVE_FAILED;
	case ENCLAVE_BOOTING:
		return to == ENCLAVE_HEALTHY || to == ENCLAVE_STOPPING || to == ENCLAVE_FAILED;
	case ENCLAVE_HEALTHY:
		return to == ENCLAVE_UNHEALTHY || to == ENCLAVE_STOPPING || to == ENCLAVE_FAILED;
	case ENCLAVE_UNHEALTHY:
		return to == ENCLAVE_HEALTHY || to == ENCLAVE_STOPPING || to == ENCLAVE_FAILED;
	case ENCLAVE_STOPPING:
		return to == ENCLAVE_STOPPED;
	case ENCLAVE_FAILED:
		/* A failed enclave may hold a namespace or processes: clean it up. */
		return to == ENCLAVE_STOPPING;
	case ENCLAVE_STOPPED:
		return 0;
	}
	return 0;
}

struct update_state
model_update_initial(enum strategy strategy)
{
	struct update_state s = {
	    .strategy = strategy,
	    .status = UPDATE_PENDING,
	    .phase = strategy == STRATEGY_RECREATE ? PHASE_STOPPING : PHASE_NONE,
	};
	return s;
}

/* The position of a non-failed update state on its strategy's path, -1 when
 * the state is not on it:
 *   blue-green: 0 pending, 1 started, 2 ready, 3 switched, 4 finished
 *   recreate:   0 pending/stopping, 1 pending/deploying, 2 started, 3 ready,
 *               4 switched, 5 finished */
static int
update_step(const struct update_state *s)
{
	int base;

	if (s->strategy == STRATEGY_BLUE_GREEN) {
		if (s->phase != PHASE_NONE)
			return -1;
		base = 0;
	} else if (s->strategy == STRATEGY_RECREATE) {
		if (s->status == UPDATE_PENDING && s->phase == PHASE_STOPPING)
			return s->switched || s->finished ? -1 : 0;
		if (s->phase != PHASE_DEPLOYING)
			return -1;
		base = 1;
	} else {
		return -1;
	}
	switch (s->status) {
	case UPDATE_PENDING:
		return s->switched || s->finished ? -1 : base;
	case UPDATE_STARTED:
		return s->switched || s->finished ? -1 : base + 1;
	case UPDATE_READY:
		if (!s->switched)
			return s->finished ? -1 : base + 2;
		return base + 3 + (s->finished ? 1 : 0);
	default:
		return -1;
	}
}

static int
update_ended_badly(const struct update_state *s)
{
	return s->status == UPDATE_FAILED || s->status == UPDATE_CANCELLED;
}

int
model_update_state_valid(const struct update_state *s)
{
	if (update_ended_badly(s)) {
		if (!s->finished || s->switched)
			return 0;
		if (s->strategy == STRATEGY_BLUE_GREEN)
			return s->phase == PHASE_NONE;
		if (s->strategy == STRATEGY_RECREATE)
			return s->phase == PHASE_STOPPING || s->phase == PHASE_DEPLOYING;
		return 0;
	}
	return update_step(s) >= 0;
}

int
model_update_is_terminal(const struct update_state *s)
{
	return s->finished != 0;
}

int
model_update_succeeded(const struct update_state *s)
{
	return s->finished && s->status == UPDATE_READY;
}

int
model_update_can_cancel(const struct update_state *s)
{
	return model_update_state_valid(s) && !s->finished && !s->switched;
}

struct update_state
model_update_end(const struct update_state *s, int failed)
{
	struct update_state e = *s;

	e.status = failed ? UPDATE_FAILED : UPDATE_CANCELLED;
	e.switched = 0;
	e.finished = 1;
	return e;
}

int
model_update_can_transition(const struct update_state *from, const struct update_state *to)
{
	if (!model_update_state_valid(from) || !model_update_state_valid(to))
		return 0;
	if (from->strategy != to->strategy || from->finished)
		return 0;
	if (update_ended_badly(to))
		return model_update_can_cancel(from) && to->phase == from->phase;
	return update_step(to) == update_step(from) + 1;
}

enum container_status
model_container_status_during(enum container_status before, const struct update_state *u)
{
	if (u->strategy == STRATEGY_BLUE_GREEN && before == CONTAINER_RUNNING)
		return CONTAINER_RUNNING;
	if (!u->finished)
		return CONTAINER_DEPLOYING;
	return u->status == UPDATE_READY ? CONTAINER_RUNNING : CONTAINER_FAILED;
}

enum model_refusal
model_update_request_check(enum update_kind kind, int update_in_progress, int has_deployment,
                           int current_debug, const char **why)
{
	if (update_in_progress) {
		*why = "an update is in progress; cancel it or wait for it to end";
		return MODEL_EBUSY;
	}
	switch (kind) {
	case UPDATE_KIND_TAG:
	case UPDATE_KIND_RETRY:
		return MODEL_OK;
	case UPDATE_KIND_EDIT_CONFIG:
		if (!has_deployment) {
			*why = "the container has no deployment to edit";
			return MODEL_EINVALID;
		}
		return MODEL_OK;
	case UPDATE_KIND_PROMOTE:
		if (!has_deployment) {
			*why = "the container has no deployment to promote";
			return MODEL_EINVALID;
		}
		if (!current_debug) {
			*why = "the container already runs in production (debug is off)";
			return MODEL_EINVALID;
		}
		return MODEL_OK;
	}
	*why = "unknown update kind";
	return MODEL_EINVALID;
}

static int
nonneg(int n)
{
	return n < 0 ? 0 : n;
}

int
model_gpus_fit(int host_gpus, int gpus_in_use, int gpus_new)
{
	return nonneg(gpus_in_use) + nonneg(gpus_new) <= nonneg(host_gpus) || nonneg(gpus_new) == 0;
}

enum strategy
model_choose_strategy(enum config_strategy forced, int host_gpus, int gpus_in_use_by_others,
                      int gpus_old, int gpus_new)
{
	if (forced == CONFIG_STRATEGY_BLUE_GREEN)
		return STRATEGY_BLUE_GREEN;
	if (forced == CONFIG_STRATEGY_RECREATE)
		return STRATEGY_RECREATE;
	if (model_gpus_fit(host_gpus, nonneg(gpus_in_use_by_others) + nonneg(gpus_old), gpus_new))
		return STRATEGY_BLUE_GREEN;
	return STRATEGY_RECREATE;
}

void
model_enclave_name(const char *deployment_id, char out[MODEL_ENCLAVE_NAME_LEN + 1])
{
	size_t n = strnlen(deployment_id, MODEL_ENCLAVE_NAME_LEN - 2);

	memcpy(out, "e-", 2);
	memcpy(out + 2, deployment_id, n);
	out[2 + n] = '\0';
}

char *
model_kept_logs_dir(const char *state_dir, const char *container_id, const char *deployment_id)
{
	if (deployment_id == NULL)
		return xasprintf("%s/logs/%s", state_dir, container_id);
	return xasprintf("%s/logs/%s/%s", state_dir, container_id, deployment_id);
}

int
model_restart_parse(const char *s, struct restart_rule *out)
{
	char *end = NULL;
	long n;

	*out = (struct restart_rule){RESTART_NO, 0};
	if (s == NULL || strcmp(s, "no") == 0)
		return 0;
	if (strcmp(s, "always") == 0 || strcmp(s, "unless-stopped") == 0) {
		/* berth has no user stop of a container: unless-stopped is always. */
		out->policy = RESTART_ALWAYS;
		return 0;
	}
	if (strcmp(s, "on-failure") == 0) {
		out->policy = RESTART_ON_FAILURE;
		return 0;
	}
	if (strncmp(s, "on-failure:", 11) != 0 || s[11] < '0' || s[11] > '9')
		return -1;
	n = strtol(s + 11, &end, 10);
	if (*end != '\0' || n < 0 || n > 999999)
		return -1;
	out->policy = RESTART_ON_FAILURE;
	out->max = (int)n;
	return 0;
}

/* How much a rule restarts: the larger, the looser. */
static long
restart_looseness(struct restart_rule r)
{
	if (r.policy == RESTART_NO)
		return 0;
	if (r.policy == RESTART_ALWAYS)
		return 2000000;
	return r.max == 0 ? 1000000 : r.max; /* on-failure:N below plain on-failure */
}

struct restart_rule
model_restart_stricter(struct restart_rule a, struct restart_rule b)
{
	return restart_looseness(a) <= restart_looseness(b) ? a : b;
}

enum restart_verdict
model_restart_decide(struct restart_rule rule, int64_t attempts)
{
	if (rule.policy == RESTART_NO)
		return RESTART_VERDICT_FAIL;
	/* on-failure:0 is docker's "no limit" too. */
	if (rule.policy == RESTART_ON_FAILURE && rule.max > 0 && attempts >= rule.max)
		return RESTART_VERDICT_GIVE_UP;
	return RESTART_VERDICT_RESTART;
}

int64_t
model_restart_backoff_ms(int64_t attempts)
{
	int64_t ms = MODEL_RESTART_BACKOFF_MIN_MS;

	for (int64_t i = 0; i < attempts && ms < MODEL_RESTART_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < MODEL_RESTART_BACKOFF_MAX_MS ? ms : MODEL_RESTART_BACKOFF_MAX_MS;
}
