/* model: the rules of berth's state machines (container, update, enclave), the
 * strategy choice and GPU fit. Pure functions: no I/O, no allocation.
 *
 * The lifecycle (reference/deployment-lifecycle.txt, DESIGN.md):
 *
 *   container   deploying -> running | failed      first deploy (not an update: the
 *                                                  container is created deploying
 *                                                  with its first deployment)
 *               running   -> deploying             a recreate update begins
 *               failed    -> deploying             any update of a failed container
 *               running   -> failed                the live enclave broke
 *
 *   update, blue-green (phase none):
 *               pending -> started -> ready -> ready+switched -> ready+finished
 *               pending | started | ready -> failed | cancelled (before the switch)
 *
 *   update, recreate:
 *               pending/stopping -> pending/deploying -> started/deploying
 *                 -> ready/deploying -> ready+switched -> ready+finished
 *               any of them before the switch -> failed | cancelled (phase kept)
 *
 *   enclave     creating -> booting -> healthy <-> unhealthy
 *               any but stopped -> stopping -> stopped
 *               creating | booting | healthy | unhealthy -> failed
 *
 * A state never transitions to itself. Terminal states (update finished,
 * enclave stopped) refuse every transition.
 */
#ifndef BERTH_MODEL_H
#define BERTH_MODEL_H

#include <stddef.h>

#include "config/config-types.h"
#include "model/model-types.h"

/* Names, as in the API ("deploying", "blue-green", "edit-config", ...).
 * The *_str() functions return a static string ("?" for an unknown value);
 * the *_parse() functions return 0 and set *out, or -1 for an unknown name. */
const char *model_container_status_str(enum container_status s);
int model_container_status_parse(const char *s, enum container_status *out);
const char *model_update_status_str(enum update_status s);
int model_update_status_parse(const char *s, enum update_status *out);
/* PHASE_NONE is NULL (the API's null), the others "stopping", "deploying". */
const char *model_phase_str(enum recreate_phase p);
/* NULL parses as PHASE_NONE. */
int model_phase_parse(const char *s, enum recreate_phase *out);
const char *model_update_kind_str(enum update_kind k);
int model_update_kind_parse(const char *s, enum update_kind *out);
const char *model_strategy_str(enum strategy s);
int model_strategy_parse(const char *s, enum strategy *out);
const char *model_enclave_state_str(enum enclave_state s);
int model_enclave_state_parse(const char *s, enum enclave_state *out);

/* Whether a container may go from status `from` to `to`: 1 or 0. */
int model_container_can_transition(enum container_status from, enum container_status to);

/* Whether an enclave may go from state `from` to `to`: 1 or 0. */
int model_enclave_can_transition(enum enclave_state from, enum enclave_state to);

/* The state a new update starts in: pending, with phase stopping for recreate. */
struct update_state model_update_initial(enum strategy strategy);

/* Whether s is a state an update can be in at all (the combinations of
 * strategy, status, phase, switched and finished listed above): 1 or 0. */
int model_update_state_valid(const struct update_state *s);

/* Whether an update may go from `from` to `to`: 1 or 0. Both must be valid. */
int model_update_can_transition(const struct update_state *from, const struct update_state *to);

/* Whether the update is over (failed, cancelled or succeeded): 1 or 0. */
int model_update_is_terminal(const struct update_state *s);

/* Whether the update ended in success (ready and finished): 1 or 0. */
int model_update_succeeded(const struct update_state *s);

/* Whether a user (or a delete) may cancel the update now: not finished, not
 * switched. 1 or 0. */
int model_update_can_cancel(const struct update_state *s);

/* The state `s` moves to when cancelled (or failed, with `failed` 1): status
 * changed, phase kept, finished set. Only meaningful when cancellable. */
struct update_state model_update_end(const struct update_state *s, int failed);

/* The container status that goes with update state u, given the status the
 * container had when the update was created. A blue-green update of a running
 * container never changes its status; otherwise the container is deploying
 * while the update runs, running after success, failed after failure or
 * cancellation (the reconciler may then redeploy the old version). */
enum container_status model_container_status_during(enum container_status before,
                                                    const struct update_state *u);

/* Why an update request is refused. */
enum model_refusal {
	MODEL_OK = 0,
	MODEL_EBUSY = -1,    /* an update is in progress (API: 409) */
	MODEL_EINVALID = -2, /* the request makes no sense now (API: 422) */
};

/* Checks an update request of kind against the container: whether an update
 * is in progress, whether the current deployment is a debug one (promote needs
 * it), whether it has a deployment at all (edit-config and promote need one).
 * Returns MODEL_OK, or a refusal with *why set to a static sentence. */
enum model_refusal model_update_request_check(enum update_kind kind, int update_in_progress,
                                              int has_deployment, int current_debug,
                                              const char **why);

/* The strategy of an update. `forced` (deploy.strategy) wins when not auto;
 * otherwise blue-green when the host's GPUs hold both versions at once (GPUs are
 * exclusive and counted per host; CPU and memory may overcommit), recreate when
 * they do not. gpus_* are counts (`gpus: all` resolved to host_gpus by the
 * caller, see config_gpus_required()). */
enum strategy model_choose_strategy(enum config_strategy forced, int host_gpus,
                                    int gpus_in_use_by_others, int gpus_old, int gpus_new);

/* Whether a deployment needing gpus_new GPUs fits on a host with host_gpus of
 * which gpus_in_use are taken (by every other enclave that will keep running):
 * 1 or 0. Negative counts are treated as 0. */
int model_gpus_fit(int host_gpus, int gpus_in_use, int gpus_new);

/* The rule of one container's `restart` value (NULL: the key is absent,
 * which is `no`). Returns 0, or -1 for a value the config parser refuses. */
int model_restart_parse(const char *s, struct restart_rule *out);

/* The rule of an enclave whose containers have rules a and b: an enclave
 * comes back whole, so the stricter one (no < on-failure < always; the
 * smaller N) applies to it. */
struct restart_rule model_restart_stricter(struct restart_rule a, struct restart_rule b);

/* What to do when the serving enclave stopped on its own. */
enum restart_verdict {
	RESTART_VERDICT_FAIL,    /* policy no: the container turns failed */
	RESTART_VERDICT_GIVE_UP, /* on-failure:N with N attempts made: failed, and why */
	RESTART_VERDICT_RESTART, /* bring it back after model_restart_backoff_ms() */
};

/* The verdict for rule after attempts restarts in a row. */
enum restart_verdict model_restart_decide(struct restart_rule rule, int64_t attempts);

/* The wait before restart attempt number attempts + 1: 100 ms, doubling, at
 * most MODEL_RESTART_BACKOFF_MAX_MS, so a crash loop does not burn the host. */
int64_t model_restart_backoff_ms(int64_t attempts);
#define MODEL_RESTART_BACKOFF_MIN_MS 100
#define MODEL_RESTART_BACKOFF_MAX_MS 10000

/* An enclave healthy this long ends a crash loop: the attempts count again
 * from 0. */
#define MODEL_RESTART_RESET_MS 60000

/* Length of an enclave name, without the NUL. */
#define MODEL_ENCLAVE_NAME_LEN 14

/* The enclave name of a deployment: "e-" and the first 12 characters of its id
 * (short enough for network interface names). out holds
 * MODEL_ENCLAVE_NAME_LEN + 1 characters. */
void model_enclave_name(const char *deployment_id, char out[MODEL_ENCLAVE_NAME_LEN + 1]);

/* How many failed deployments of one container keep their logs. */
#define MODEL_KEPT_LOGS 5

/* Where the logs of a failed deployment of a debug container are kept:
 * <state_dir>/logs/<container_id>/<deployment_id> (its containers' logs
 * below it); the container's folder when deployment_id is NULL. Caller
 * frees. */
char *model_kept_logs_dir(const char *state_dir, const char *container_id,
                          const char *deployment_id);

#endif
