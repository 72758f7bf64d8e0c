/* recon-move: the containers of a lost host (docs/architecture.md, "A lost
 * host").
 *
 * berthd's heartbeat watch says when an agent's host is lost
 * (recon_host_set_lost). A container whose serving enclave runs there is
 * redeployed: the same deployment (its config, secrets and settings) placed
 * on another host by the rules of any new enclave (the lost host left out),
 * brought up behind its health gate, then served. The rows say where a move
 * stands, written before each side effect, with the restart's own marker
 * (docs/lifecycle.md "Restarts"):
 *
 *   the lost host's row   closed (stopped, its reason the host's sentence):
 *                         nothing can be asked of that host; its enclave goes
 *                         when the host comes back, as no live row names it
 *   restart_at != 0       the route holds until the new enclave serves; the
 *                         restart's steps bring the deployment up (the
 *                         config's `restart` is not asked: the enclave did
 *                         not fail, its host went away, and no restart is
 *                         counted)
 *
 * With no room elsewhere nothing moves: the enclave keeps its row (it may
 * still run, and serves again if its host comes back), an event says why,
 * and each resync tries again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "eventlog/eventlog.h"
#include "lifecycle/lifecycle.h"
#include "recon/recon-int.h"
#include "store/store.h"

/* No host has room for c (why): said once per sentence, as an event. */
static void
move_blocked(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
             const struct recon_hostent *h, const char *why)
{
	struct err err = ERR_INIT;
	char *msg = xasprintf("%s: not moved, %s; it moves once a host has room, and serves "
	                      "from host %s again if that comes back first",
	                      h->lost, why, h->id);

	if (ctr->move_blocked != NULL && strcmp(ctr->move_blocked, msg) == 0) {
		free(msg);
		return;
	}
	log_warn("%s: %s", c->name, msg);
	if (eventlog_add(r->env.events, c, "container.move_blocked", &err, "%s", msg) < 0) {
		log_error("event container.move_blocked of %s: %s", c->name, err.msg);
		free(msg);
		return; /* said at the next try */
	}
	free(ctr->move_blocked);
	ctr->move_blocked = msg;
}

int
recon_move_step(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                struct store_enclave *enclaves, size_t n)
{
	struct store_enclave *e;
	struct recon_hostent *h;
	struct store_deployment d = {0};
	struct err err = ERR_INIT, perr = ERR_INIT;
	const char *to = NULL;
	char *detail = NULL;
	int rc;

	if (c->deleted_at != 0 || c->status != CONTAINER_RUNNING || c->restart_at != 0)
		return 0;
	e = recon_enclave_of(enclaves, n, c->deployment_id);
	if (e == NULL || (e->state != ENCLAVE_HEALTHY && e->state != ENCLAVE_UNHEALTHY))
		return 0;
	h = recon_host_entry(r, e->host_id);
	if (recon_host_lost_why(h) == NULL) {
		free(take_ptr(&ctr->move_blocked));
		return 0;
	}
	if (store_deployment_get(r->env.store, c->deployment_id, &d, &err) < 0) {
		log_error("container %s: deployment: %s", ctr->id, err.msg);
		ctr->retry_at_ms = now_mono_ms() + 1000;
		return 1;
	}
	rc = recon_place_enclave(r, c, &d, enclaves, n, &to, &perr);
	if (rc != 0 || to == NULL) {
		move_blocked(r, ctr, c, h, rc < 0 ? perr.msg : "no other host answers");
		store_deployment_clear(&d);
		return 0;
	}
	free(take_ptr(&ctr->move_blocked));
	detail = xasprintf("moving to host %s: %s", to, h->lost);
	/* The rows first: the lost host's closed, the restart's marker set
	 * (the route holds), the event; then the new enclave's row and boot.
	 * A crash between them finds a restart under way. */
	if (store_begin(r->env.store, &err) < 0)
		goto fail;
	if (lifecycle_enclave_set(r->env.lc, e, ENCLAVE_STOPPING, h->lost, &err) < 0 ||
	    lifecycle_enclave_set(r->env.lc, e, ENCLAVE_STOPPED, h->lost, &err) < 0)
		goto rollback;
	c->restart_at = now_wall_ms();
	if (lifecycle_container_set(r->env.lc, c, c->status, detail, "container.moving", &err,
	                            "%s: redeploying deployment %s on host %s", h->lost, d.id,
	                            to) < 0)
		goto rollback;
	if (store_commit(r->env.store, &err) < 0)
		goto fail;
	log_warn("%s: %s", c->name, detail);
	recon_crashpoint(r, "move-decided");
	/* Nothing of the old enclave answers here any more (the new one has
	 * the same name: dropped before it comes up). */
	recon_attest_drop(r, e->name);
	/* Its row is stopped now: the bring-up places a new one. */
	(void)recon_bringup(r, ctr, c, &d, enclaves, n);
	goto out;
rollback:
	store_rollback(r->env.store);
fail:
	log_error("container %s: move: %s", ctr->id, err.msg);
	ctr->retry_at_ms = now_mono_ms() + 1000;
out:
	free(detail);
	store_deployment_clear(&d);
	return 1;
}

int
recon_move_update_step(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                       struct store_update *u, struct store_enclave *enclaves, size_t n)
{
	struct store_enclave *e;
	struct recon_hostent *h;
	char *reason;

	/* Switched: the new version serves; the retire closes the old row. */
	if (u->state.finished || u->state.switched)
		return 0;
	e = recon_enclave_of(enclaves, n, u->to_deployment_id);
	if (e == NULL || e->state == ENCLAVE_FAILED || e->state == ENCLAVE_STOPPING)
		return 0;
	h = recon_host_entry(r, e->host_id);
	if (recon_host_lost_why(h) == NULL)
		return 0;
	/* The new version came up on the host that went away: the update
	 * fails with the reason, and a retry places it again (elsewhere). */
	if (ctr->watch != NULL && strcmp(ctr->watch->enclave_id, e->id) == 0)
		recon_watch_cancel(take_ptr(&ctr->watch));
	reason = xasprintf("%s while the new version came up there", h->lost);
	log_warn("%s: update %s: %s", c->name, u->id, reason);
	recon_update_fail(r, ctr, c, u, reason);
	free(reason);
	return 1;
}

char *
recon_move_serving(struct recon *r, const struct store_container *c, const struct store_enclave *e,
                   const char **kind)
{
	struct store_enclave *v = NULL;
	struct err err = ERR_INIT;
	char *msg = NULL, *lost = NULL;
	size_t n = 0, at;

	if (e->host_id == NULL || store_enclave_list(r->env.store, c->id, &v, &n, &err) < 0) {
		err_clear(&err);
		return NULL;
	}
	for (at = 0; at < n && strcmp(v[at].id, e->id) != 0; at++)
		;
	/* The row the new one replaced: the deployment's previous one. */
	for (size_t i = at; i-- > 0;) {
		if (strcmp(v[i].deployment_id, e->deployment_id) != 0)
			continue;
		if (v[i].state == ENCLAVE_STOPPED && v[i].host_id != NULL && v[i].reason != NULL) {
			lost = xasprintf("host %s lost ", v[i].host_id);
			if (strncmp(v[i].reason, lost, strlen(lost)) == 0) {
				msg =
				    xasprintf("%s: redeployed on host %s", v[i].reason, e->host_id);
				*kind = "container.moved";
			}
		}
		break;
	}
	free(lost);
	store_enclave_list_free(v, n);
	return msg;
}
