/* recon-restart: the config's `restart` when the serving enclave stops on its
 * own (docs/lifecycle.md "Restarts").
 *
 * An OCI runtime cannot start a stopped container again, and an enclave is
 * the unit berth boots, checks and routes to; so a restart is a new enclave
 * of the same deployment, booted from the cached image, behind its own health
 * gate. The container's row says where a restart stands, written before each
 * side effect, so that a berthd killed in the middle resumes from the store:
 *
 *   restart_at == 0   none under way: when nothing serves, decide (restart,
 *                     or failed as without the key)
 *   restart_at != 0   one under way: the route holds; once the wall clock
 *                     passes restart_at (the backoff), the deployment is
 *                     brought up again; healthy, it serves and restart_at is 0
 *
 * restart_attempts counts the restarts since the enclave was last healthy for
 * MODEL_RESTART_RESET_MS: the backoff doubles with it and on-failure:N stops
 * at N. restarts counts every restart, for the API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "lifecycle/lifecycle.h"
#include "model/model.h"
#include "recon/recon-int.h"
#include "store/store.h"

struct restart_rule
recon_restart_rule(const struct config *cfg)
{
	struct restart_rule rule = {RESTART_ALWAYS, 0};

	for (size_t i = 0; i < cfg->n_containers; i++) {
		struct restart_rule one;

		if (model_restart_parse(cfg->containers[i].restart, &one) < 0)
			one = (struct restart_rule){RESTART_NO, 0};
		rule = model_restart_stricter(rule, one);
	}
	return rule;
}

/* The restart rule of deployment id, parsed once per deployment. */
static struct restart_rule
restart_rule_of(struct recon *r, struct recon_ctr *ctr, const char *deployment_id)
{
	struct store_deployment d = {0};
	struct config *cfg = NULL;
	struct err err = ERR_INIT;

	if (strcmp(ctr->restart_cfg_id, deployment_id) == 0)
		return ctr->restart_rule;
	if (store_deployment_get(r->env.store, deployment_id, &d, &err) < 0) {
		log_error("deployment %s: %s", deployment_id, err.msg);
		return (struct restart_rule){RESTART_NO, 0};
	}
	cfg = recon_config_of(&d);
	store_deployment_clear(&d);
	if (cfg == NULL)
		return (struct restart_rule){RESTART_NO, 0};
	ctr->restart_rule = recon_restart_rule(cfg);
	config_free(cfg);
	snprintf(ctr->restart_cfg_id, sizeof ctr->restart_cfg_id, "%s", deployment_id);
	return ctr->restart_rule;
}

/* The newest enclave row of deployment id among n (any state), or NULL. */
static const struct store_enclave *
restart_newest_of(const struct store_enclave *v, size_t n, const char *deployment_id)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(v[i].deployment_id, deployment_id) == 0)
			return &v[i];
	return NULL;
}

/* Saves c (its restart fields changed) in status s with detail and, when
 * kind is not NULL, an event of kind saying msg; then crash point step
 * (NULL: none), and c is looked at again. Returns 1: the step is taken (a
 * failed write is retried from the store). */
static int
restart_save(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
             enum container_status s, const char *detail, const char *kind, const char *msg,
             const char *step)
{
	struct err err = ERR_INIT;
	int rc = kind != NULL
	             ? lifecycle_container_set(r->env.lc, c, s, detail, kind, &err, "%s", msg)
	             : lifecycle_container_set(r->env.lc, c, s, detail, NULL, &err, NULL);

	if (rc < 0) {
		log_error("container %s: restart: %s", ctr->id, err.msg);
		ctr->retry_at_ms = now_mono_ms() + 1000;
		return 1;
	}
	if (step != NULL)
		recon_crashpoint(r, step);
	recon_kick(r, c->id);
	return 1;
}

/* The serving enclave (or a restart's) stopped, saying why: restart after
 * the backoff, or give up (on-failure:N ran out: failed, saying so).
 * Returns 1 when it took the step, 0 when the policy is `no` (the caller
 * fails the container as without the key). */
static int
restart_decide(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
               struct restart_rule rule, const char *why)
{
	int64_t wait_ms;
	char *detail;
	int rc;

	switch (model_restart_decide(rule, c->restart_attempts)) {
	case RESTART_VERDICT_FAIL:
		return 0;
	case RESTART_VERDICT_GIVE_UP:
		c->restart_at = 0;
		c->restart_attempts = 0;
		detail = xasprintf("gave up after %d restart%s (on-failure:%d): %s", rule.max,
		                   rule.max == 1 ? "" : "s", rule.max, why);
		rc = restart_save(r, ctr, c, CONTAINER_FAILED, detail, "container.failed", detail,
		                  "restart-gave-up");
		free(detail);
		return rc;
	case RESTART_VERDICT_RESTART:
		break;
	}
	wait_ms = model_restart_backoff_ms(c->restart_attempts);
	c->restart_attempts++;
	c->restarts++;
	c->restart_at = now_wall_ms() + wait_ms;
	detail = xasprintf("restarting (restart %lld) in %.1f s: %s", (long long)c->restarts,
	                   (double)wait_ms / 1000.0, why);
	log_warn("container %s: %s", c->name, detail);
	/* The row first: the route holds from here on, and a berthd killed
	 * now finds the restart under way. */
	rc = restart_save(r, ctr, c, c->status, detail, "container.restarting", detail,
	                  "restart-decided");
	free(detail);
	return rc;
}

int
recon_restart_step(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                   struct store_enclave *enclaves, size_t n)
{
	struct restart_rule rule = restart_rule_of(r, ctr, c->deployment_id);
	const struct store_enclave *last = restart_newest_of(enclaves, n, c->deployment_id);
	struct store_deployment d = {0};
	struct err err = ERR_INIT;
	const char *why =
	    last != NULL && last->reason != NULL ? last->reason : "the running enclave stopped";
	int64_t now = now_wall_ms();

	if (c->restart_at == 0)
		return restart_decide(r, ctr, c, rule, why);
	/* A restart under way. Its enclave is made after restart_at: one older
	 * is the one that stopped. */
	if (last != NULL && last->created_at >= c->restart_at &&
	    (last->state == ENCLAVE_FAILED || last->state == ENCLAVE_STOPPING ||
	     last->state == ENCLAVE_STOPPED)) {
		if (last->state != ENCLAVE_STOPPED)
			return 1; /* the cleanup removes it first */
		return restart_decide(r, ctr, c, rule, why);
	}
	if (now < c->restart_at) {
		ctr->retry_at_ms = now_mono_ms() + (c->restart_at - now);
		return 1;
	}
	if (store_deployment_get(r->env.store, c->deployment_id, &d, &err) < 0) {
		log_error("container %s: deployment: %s", ctr->id, err.msg);
		ctr->retry_at_ms = now_mono_ms() + 1000;
		return 1;
	}
	/* Working or failed alike: healthy, the next step finds it serving
	 * (recon_restart_serving); failed, the cleanup takes it and the next
	 * attempt is decided above. */
	(void)recon_bringup(r, ctr, c, &d, enclaves, n);
	store_deployment_clear(&d);
	return 1;
}

int
recon_restart_notice(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                     const struct store_enclave *enclaves, size_t n)
{
	const struct store_enclave *e = NULL;

	if (c->status != CONTAINER_RUNNING || c->restart_at != 0 || c->deleted_at != 0)
		return 0;
	for (size_t i = n; e == NULL && i-- > 0;)
		if (enclaves[i].state != ENCLAVE_STOPPED &&
		    strcmp(enclaves[i].deployment_id, c->deployment_id) == 0)
			e = &enclaves[i];
	if (e == NULL || e->state != ENCLAVE_FAILED)
		return 0;
	return restart_decide(r, ctr, c, restart_rule_of(r, ctr, c->deployment_id),
	                      e->reason != NULL ? e->reason : "the running enclave stopped");
}

int
recon_restart_serving(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                      const struct store_enclave *e)
{
	char *msg;
	int rc;

	if (c->restart_at != 0) {
		const char *kind = "container.restarted";

		/* Brought back and healthy: the route serves it again (why it
		 * stopped is in the container.restarting event before); or it
		 * moved from a lost host (recon-move.c). */
		msg = recon_move_serving(r, c, e, &kind);
		if (msg == NULL)
			msg = xasprintf(
			    "restarted (restart %lld): the new enclave is healthy and serves",
			    (long long)c->restarts);
		c->restart_at = 0;
		rc = restart_save(r, ctr, c, c->status, NULL, kind, msg, "restarted");
		free(msg);
		return rc;
	}
	if (c->restart_attempts > 0 && e->state == ENCLAVE_HEALTHY &&
	    now_wall_ms() - e->updated_at >= MODEL_RESTART_RESET_MS) {
		/* Healthy for a minute: the crash loop, if any, is over. */
		c->restart_attempts = 0;
		return restart_save(r, ctr, c, c->status, c->status_detail, NULL, NULL, NULL);
	}
	return 0;
}

int
recon_restart_holds(const struct store_container *c)
{
	return c->deleted_at == 0 && c->status == CONTAINER_RUNNING && c->restart_at != 0;
}
