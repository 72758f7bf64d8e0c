#include "recon/recon.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "common/workq.h"
#include "config/config.h"
#include "eventlog/eventlog.h"
#include "lifecycle/lifecycle.h"
#include "model/model.h"
#include "recon/recon-int.h"
#include "recon/recon-place.h"
#include "runtime/enclave.h"
#include "store/store-sync.h"
#include "store/store.h"

/* How often the timer looks at gates, drains and the router. */
#define RECON_TIMER_MS 100
/* Every container is looked at again this often, whatever happened. */
#define RECON_RESYNC_MS 5000
/* A step that failed for a transient reason (the disk, the router) waits. */
#define RECON_RETRY_MS 1000
/* A host back: the removal of its stale enclaves, tried again this often
 * and this many times when one failed. */
#define RECON_RETURNED_RETRY_MS 2000
#define RECON_RETURNED_TRIES    30

static void recon_on_tick(evutil_socket_t fd, short what, void *arg);
static void recon_on_timer(evutil_socket_t fd, short what, void *arg);
static void recon_step(struct recon *r, struct recon_ctr *ctr);
static void recon_adopt_on(struct recon *r, struct recon_hostent *only, int orphans);
static void recon_stale_start(struct recon *r, struct recon_hostent *h);

struct recon_ctr *
recon_ctr_get(struct recon *r, const char *id)
{
	struct recon_ctr *ctr;

	if ((ctr = strmap_get(r->ctr_index, id)) != NULL)
		return ctr;
	ctr = xcalloc(1, sizeof *ctr);
	snprintf(ctr->id, sizeof ctr->id, "%s", id);
	ctr->next = r->ctrs;
	r->ctrs = ctr;
	strmap_put(r->ctr_index, ctr->id, ctr);
	return ctr;
}

static void
recon_ctr_free(struct recon_ctr *ctr)
{
	if (ctr->watch != NULL)
		recon_watch_cancel(take_ptr(&ctr->watch));
	free(ctr->route_pushed);
	free(ctr->move_blocked);
	json_decref(ctr->route_paths);
	json_decref(ctr->route_attest);
	free(ctr);
}

/* Forgets a container that is gone from the store. */
static void
recon_ctr_forget(struct recon *r, struct recon_ctr *ctr)
{
	for (struct recon_ctr **pp = &r->ctrs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ctr) {
			*pp = ctr->next;
			strmap_del(r->ctr_index, ctr->id);
			recon_ctr_free(ctr);
			r->routes_moved++;
			return;
		}
	}
}

void
recon_job_submit(struct recon *r, struct recon_job *job, void (*work)(void *), void (*done)(void *))
{
	recon_job_submit_in(r, RECON_POOL_RUNTIME, NULL, job, work, done);
}

void
recon_set_sync(struct recon *r, struct store_sync *sync)
{
	r->sync = sync;
}

/* On the pool's thread: the job's side effect once what it acts on is
 * durable. A failed flush may have lost it: berthd stops, and its next
 * start acts on what the disk holds. */
static void
recon_job_work(void *p)
{
	struct recon_job *job = p;

	if (job->sync != NULL && store_sync_wait(job->sync, job->durable) < 0)
		log_fatal(
		    "store: a commit could not be made durable; stopping before acting on it");
	job->work(job);
}

void
recon_job_submit_in(struct recon *r, enum recon_pool pool, const char *key, struct recon_job *job,
                    void (*work)(void *), void (*done)(void *))
{
	struct workq *q = pool == RECON_POOL_FETCH    ? r->env.fetchq
	                  : pool == RECON_POOL_HEALTH ? r->env.healthq
	                                              : r->env.workq;

	job->r = r;
	job->prev = NULL;
	job->next = r->jobs;
	if (r->jobs != NULL)
		r->jobs->prev = job;
	r->jobs = job;
	job->sync = r->sync;
	/* (Inside a transaction its commit is still to come: noted then too.) */
	job->durable = r->sync == NULL
	                   ? 0
	                   : store_sync_note(r->sync, store_in_transaction(r->env.store)
	                                                  ? 0
	                                                  : store_generation(r->env.store));
	job->work = work;
	workq_submit_keyed(q, key, recon_job_work, done, job);
}

void
recon_job_done(struct recon_job *job)
{
	struct recon *r = job->r;

	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		r->jobs = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	job->prev = job->next = NULL;
}

struct recon_ctr *
recon_job_done_ctr(struct recon_job *job, const char *container_id)
{
	struct recon_ctr *ctr;

	recon_job_done(job);
	if (recon_stopping(job->r))
		return NULL;
	ctr = recon_ctr_get(job->r, container_id);
	ctr->busy = 0;
	return ctr;
}

void
recon_crashpoint(struct recon *r, const char *step)
{
	if (r->crash_at != NULL && strcmp(r->crash_at, step) == 0) {
		log_warn("BERTH_CRASH_AT=%s: killing berthd here", step);
		kill(getpid(), SIGKILL);
	}
}

struct config *
recon_config_of(const struct store_deployment *d)
{
	struct config_errors errs = {0};
	struct config *cfg = NULL;

	if (config_parse("config", d->config, strlen(d->config), &cfg, &errs) < 0) {
		char *text = config_errors_format(&errs);
		log_error("deployment %s: its config no longer parses: %s", d->id, text);
		free(text);
		config_errors_free(&errs);
		return NULL;
	}
	return cfg;
}

/* A store write failed: log it and look at the container again later. */
static void
recon_store_failed(struct recon_ctr *ctr, const char *what, const struct err *err)
{
	log_error("container %s: %s: %s", ctr->id, what, err->msg);
	ctr->retry_at_ms = now_mono_ms() + RECON_RETRY_MS;
}

/* Writes the container's status_detail when it changed. */
static void
recon_set_detail(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                 const char *detail)
{
	struct err err = ERR_INIT;

	if ((c->status_detail == NULL && detail == NULL) ||
	    (c->status_detail != NULL && detail != NULL && strcmp(c->status_detail, detail) == 0))
		return;
	if (lifecycle_container_set(r->env.lc, c, c->status, detail, NULL, &err, NULL) < 0)
		recon_store_failed(ctr, "status detail", &err);
}

struct store_enclave *
recon_enclave_of(struct store_enclave *v, size_t n, const char *deployment_id)
{
	for (size_t i = n; i-- > 0;)
		if (v[i].state != ENCLAVE_STOPPED && strcmp(v[i].deployment_id, deployment_id) == 0)
			return &v[i];
	return NULL;
}

/* The reason the newest enclave of deployment id among n gave for its
 * failure, or NULL. */
static const char *
recon_reason_of(const struct store_enclave *v, size_t n, const char *deployment_id)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(v[i].deployment_id, deployment_id) == 0)
			return v[i].reason;
	return NULL;
}

/* Saves enclave e in state s; 0 or negative (logged, retried later). */
static int
recon_enclave_set(struct recon *r, struct recon_ctr *ctr, struct store_enclave *e,
                  enum enclave_state s)
{
	struct err err = ERR_INIT;

	if (lifecycle_enclave_set(r->env.lc, e, s, NULL, &err) < 0) {
		recon_store_failed(ctr, "enclave state", &err);
		return -1;
	}
	return 0;
}

struct recon_hostent *
recon_host_entry(struct recon *r, const char *host_id)
{
	for (size_t i = 0; i < r->n_hosts; i++) {
		const char *id = r->hosts[i].id;

		if (r->hosts[i].pending)
			continue;
		if (id == NULL ? host_id == NULL : host_id != NULL && strcmp(id, host_id) == 0)
			return &r->hosts[i];
	}
	return NULL;
}

char *
recon_host_unknown(struct recon *r, const struct store_enclave *e)
{
	size_t pending = 0;

	for (size_t i = 0; i < r->n_hosts; i++)
		pending += r->hosts[i].pending != 0;
	if (e->host_id == NULL)
		return xstrdup("the enclave is on berthd's own host, which this berthd does not "
		               "drive (it drives its agents' hosts)");
	if (pending > 0)
		return xasprintf("the enclave is on host %s, which is none of the hosts that "
		                 "answered (%zu agent%s did not answer yet)",
		                 e->host_id, pending, pending == 1 ? "" : "s");
	return xasprintf("the enclave is on host %s, which this berthd does not drive (no "
	                 "--agent of that host)",
	                 e->host_id);
}

/* What cfg asks of a host. GPUs "all" ask one at least (every GPU of the
 * host it gets). */
static struct place_need
recon_need_of(const struct config *cfg)
{
	struct place_need need = {
	    .cpus = cfg->cpus > 0 ? cfg->cpus : 0,
	    .memory_bytes = cfg->memory_mib > 0 ? cfg->memory_mib << 20 : 0,
	    .gpus = config_gpus_required(cfg, 0),
	};

	if (need.gpus == 0 && config_gpus_required(cfg, 1) > 0)
		need.gpus = 1;
	return need;
}

/* The hosts as placement sees them, with what their live enclaves hold:
 * *ph and *of (of[k], the index in r->hosts of (*ph)[k]) owned, *n_ph of
 * them (hosts that have not answered yet take nothing and are left out).
 * 0, or negative with err. */
static int
recon_place_view(struct recon *r, struct place_host **ph_out, size_t **of_out, size_t *n_out,
                 struct err *err)
{
	struct place_host *ph;
	size_t *of, n_ph = 0;
	struct store_enclave *live = NULL;
	struct config *cfg;
	size_t n_live = 0;

	if (store_enclave_list_live(r->env.store, &live, &n_live, err) < 0)
		return -1;
	ph = xcalloc(r->n_hosts, sizeof *ph);
	of = xcalloc(r->n_hosts, sizeof *of);
	for (size_t h = 0; h < r->n_hosts; h++) {
		/* A lost host takes nothing new (its containers are leaving). */
		if (r->hosts[h].pending || r->hosts[h].lost != NULL || r->hosts[h].returning)
			continue;
		ph[n_ph].id = r->hosts[h].id;
		ph[n_ph].cpus = r->hosts[h].cap.cpus;
		ph[n_ph].memory_bytes = r->hosts[h].cap.memory_bytes;
		ph[n_ph].gpus = r->hosts[h].cap.gpus;
		of[n_ph++] = h;
	}
	/* What the live enclaves of each host hold, from their configs. */
	for (size_t j = 0; j < n_live; j++) {
		struct store_deployment ld = {0};
		struct err lerr = ERR_INIT;
		struct place_host *p = NULL;

		for (size_t k = 0; k < n_ph && live[j].host_id != NULL; k++)
			if (strcmp(ph[k].id, live[j].host_id) == 0)
				p = &ph[k];
		if (p == NULL)
			continue;
		p->enclaves++;
		if (store_deployment_get(r->env.store, live[j].deployment_id, &ld, &lerr) == 0 &&
		    (cfg = recon_config_of(&ld)) != NULL) {
			p->used_cpus += cfg->cpus > 0 ? cfg->cpus : 0;
			p->used_memory_bytes += cfg->memory_mib > 0 ? cfg->memory_mib << 20 : 0;
			p->used_gpus += config_gpus_required(cfg, p->gpus);
			config_free(cfg);
		}
		store_deployment_clear(&ld);
	}
	store_enclave_list_free(live, n_live);
	*ph_out = ph;
	*of_out = of;
	*n_out = n_ph;
	return 0;
}

/* (recon-int.h) An update prefers the host of the enclave it replaces. With
 * berthd's own host alone there is nothing to choose: the API's checks at
 * deploy time stand. */
int
recon_place_enclave(struct recon *r, const struct store_container *c,
                    const struct store_deployment *d, const struct store_enclave *enclaves,
                    size_t n, const char **host_id, struct err *err)
{
	struct place_host *ph;
	size_t *of, n_ph;
	struct config *cfg;
	struct place_need need;
	int prefer = -1, i;

	*host_id = NULL;
	if (r->env.n_hosts == 0)
		return 0;
	if ((cfg = recon_config_of(d)) == NULL)
		return err_make(err, 0, "the deployment's config does not parse");
	need = recon_need_of(cfg);
	config_free(cfg);
	if (recon_place_view(r, &ph, &of, &n_ph, err) < 0)
		return -1;
	/* An update stays where the version it replaces runs, when it can. */
	for (size_t j = 0; j < n; j++) {
		if (strcmp(enclaves[j].deployment_id, c->deployment_id) != 0 ||
		    strcmp(enclaves[j].deployment_id, d->id) == 0 ||
		    enclaves[j].state == ENCLAVE_STOPPED || enclaves[j].host_id == NULL)
			continue;
		for (size_t k = 0; k < n_ph; k++)
			if (strcmp(ph[k].id, enclaves[j].host_id) == 0)
				prefer = (int)k;
	}
	if (n_ph == 0) {
		/* Every agent is away for now: wait for one, refuse nothing. */
		free(ph);
		free(of);
		return 1;
	}
	i = recon_place(ph, n_ph, &need, prefer, err);
	if (i >= 0)
		*host_id = r->hosts[of[i]].id;
	free(ph);
	free(of);
	return i >= 0 ? 0 : -1;
}

int
recon_room_beside(struct recon *r, const struct config *cfg)
{
	struct place_host *ph;
	size_t *of, n_ph;
	struct place_need need;
	struct err err = ERR_INIT;
	int i;

	if (r->env.n_hosts == 0)
		return -1;
	need = recon_need_of(cfg);
	if (recon_place_view(r, &ph, &of, &n_ph, &err) < 0) {
		log_error("placement: %s", err.msg);
		return 0;
	}
	i = n_ph > 0 ? recon_place(ph, n_ph, &need, -1, &err) : -1;
	free(ph);
	free(of);
	return i >= 0;
}

enum bringup
recon_bringup(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
              const struct store_deployment *d, struct store_enclave *enclaves, size_t n)
{
	struct store_enclave *e = recon_enclave_of(enclaves, n, d->id);
	struct err err = ERR_INIT;

	if (e == NULL) {
		struct store_enclave row = {0};
		char name[MODEL_ENCLAVE_NAME_LEN + 1];
		const char *host_id = NULL;
		struct err perr = ERR_INIT;
		int rc = recon_place_enclave(r, c, d, enclaves, n, &host_id, &perr),
		    placed = rc == 0;

		if (rc > 0) {
			log_info("%s: no agent answered yet; deployment %s waits for a host",
			         c->name, d->id);
			ctr->retry_at_ms = now_mono_ms() + 1000;
			return BRINGUP_WORKING;
		}
		model_enclave_name(d->id, name);
		snprintf(row.container_id, sizeof row.container_id, "%s", c->id);
		snprintf(row.deployment_id, sizeof row.deployment_id, "%s", d->id);
		row.name = name;
		row.host_id = (char *)host_id;
		row.state = placed ? ENCLAVE_CREATING : ENCLAVE_FAILED;
		/* No host has room: the row says why, and the next step fails
		 * the deploy (or the update) with it. */
		row.reason = placed ? NULL : perr.msg;
		/* The row first, its host in it: a crash from here on finds the
		 * enclave's name and where it runs. */
		if (store_enclave_create(r->env.store, &row, &err) < 0) {
			row.name = row.host_id = row.reason = NULL;
			recon_store_failed(ctr, "enclave row", &err);
			return BRINGUP_WORKING;
		}
		if (!placed) {
			log_warn("%s: deployment %s is not placed: %s", c->name, d->id, perr.msg);
			recon_kick(r, c->id);
		} else {
			if (host_id != NULL)
				log_info("%s: enclave %s placed on host %s", c->name, name,
				         host_id);
			recon_crashpoint(r, "enclave-row");
			recon_boot_start(r, ctr, c, d, &row, 0);
		}
		row.name = row.host_id = row.reason = NULL;
		store_enclave_clear(&row);
		return BRINGUP_WORKING;
	}
	switch (e->state) {
	case ENCLAVE_CREATING:
		/* Not busy, so no job of ours: an attempt a crash interrupted. */
		recon_boot_start(r, ctr, c, d, e, 1);
		return BRINGUP_WORKING;
	case ENCLAVE_BOOTING:
	case ENCLAVE_UNHEALTHY:
		if (ctr->watch == NULL || strcmp(ctr->watch->enclave_id, e->id) != 0) {
			if (ctr->watch != NULL)
				recon_watch_cancel(take_ptr(&ctr->watch));
			recon_boot_adopt(r, ctr, c, d, e);
		}
		return BRINGUP_WORKING;
	case ENCLAVE_HEALTHY:
		return BRINGUP_READY;
	case ENCLAVE_FAILED:
	case ENCLAVE_STOPPING:
	case ENCLAVE_STOPPED:
		break;
	}
	return BRINGUP_FAILED;
}

/* Retires every live enclave of c but the one of deployment keep: marks it
 * stopping (the router no longer routes to it), waits until the router says
 * its requests drained or drain_ms passed, then removes it. Returns 1 while
 * at work, 0 when none is left. */
static int
recon_retire(struct recon *r, struct recon_ctr *ctr, struct store_enclave *enclaves, size_t n,
             const char *keep, int64_t drain_ms)
{
	int64_t now = now_mono_ms();

	for (size_t i = 0; i < n; i++) {
		struct store_enclave *e = &enclaves[i];

		if (e->state == ENCLAVE_STOPPED ||
		    (keep != NULL && strcmp(e->deployment_id, keep) == 0))
			continue;
		if (e->state != ENCLAVE_STOPPING) {
			if (recon_enclave_set(r, ctr, e, ENCLAVE_STOPPING) < 0)
				return 1;
			recon_crashpoint(r, "draining");
			ctr->drain_deadline_ms = 0;
		}
		if (e->address == NULL || recon_host_lost_why(recon_host_entry(r, e->host_id))) {
			/* It never had traffic, or its host is lost: no router
			 * there tells of its requests (nor would they finish). */
			recon_enclave_destroy(r, ctr, e);
			return 1;
		}
		if (ctr->drain_deadline_ms == 0) {
			ctr->drain_deadline_ms = now + drain_ms;
			ctr->drained = 0;
		}
		if (!ctr->drained && now < ctr->drain_deadline_ms) {
			recon_route_poll_drain(r, ctr, e);
			return 1;
		}
		if (!ctr->drained)
			log_warn("enclave %s: drain-timeout passed with requests in flight",
			         e->name);
		ctr->drain_deadline_ms = 0;
		ctr->drained = 0;
		recon_enclave_destroy(r, ctr, e);
		return 1;
	}
	return 0;
}

/* Removes enclaves nobody wants: those of deployments that neither serve
 * nor are being brought up (a cancelled or failed update's new version), and
 * failed ones. The deployment being brought up is left to its bring-up, which
 * records a failure before its enclave goes. Returns 1 when it started
 * something. */
static int
recon_cleanup(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
              const struct store_update *u, struct store_enclave *enclaves, size_t n)
{
	const char *target = NULL;

	if (u != NULL && !u->state.finished)
		target = u->to_deployment_id;
	else if (u == NULL && c->status == CONTAINER_DEPLOYING)
		target = c->deployment_id;
	for (size_t i = 0; i < n; i++) {
		struct store_enclave *e = &enclaves[i];

		if (e->state == ENCLAVE_STOPPED)
			continue;
		if (target != NULL && strcmp(e->deployment_id, target) == 0)
			continue;
		if (strcmp(e->deployment_id, c->deployment_id) == 0 &&
		    (target != NULL ||
		     (e->state != ENCLAVE_FAILED && e->state != ENCLAVE_STOPPING)))
			continue; /* it serves, or it is the old version an update retires */
		if (ctr->watch != NULL && strcmp(ctr->watch->enclave_id, e->id) == 0)
			recon_watch_cancel(take_ptr(&ctr->watch));
		if (e->state != ENCLAVE_STOPPING &&
		    recon_enclave_set(r, ctr, e, ENCLAVE_STOPPING) < 0)
			return 1;
		recon_enclave_destroy(r, ctr, e);
		return 1;
	}
	return 0;
}

/* The first deploy of c: no update, status deploying. */
static void
recon_first_deploy(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                   struct store_enclave *enclaves, size_t n)
{
	struct store_deployment d = {0};
	struct err err = ERR_INIT;
	const char *why;

	if (store_deployment_get(r->env.store, c->deployment_id, &d, &err) < 0) {
		recon_store_failed(ctr, "deployment", &err);
		return;
	}
	switch (recon_bringup(r, ctr, c, &d, enclaves, n)) {
	case BRINGUP_WORKING:
		break;
	case BRINGUP_READY:
		if (lifecycle_container_set(r->env.lc, c, CONTAINER_RUNNING, NULL,
		                            "container.running", &err,
		                            "deployment %s is live at its URL", d.id) < 0) {
			recon_store_failed(ctr, "container running", &err);
			break;
		}
		recon_kick(r, c->id);
		break;
	case BRINGUP_FAILED:
		why = recon_reason_of(enclaves, n, d.id);
		if (why == NULL)
			why = "the enclave failed";
		if (lifecycle_container_set(r->env.lc, c, CONTAINER_FAILED, why, "container.failed",
		                            &err, "%s", why) < 0) {
			recon_store_failed(ctr, "container failed", &err);
			break;
		}
		recon_kick(r, c->id);
		break;
	}
	store_deployment_clear(&d);
}

void
recon_update_fail(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                  struct store_update *u, const char *reason)
{
	struct update_state end = model_update_end(&u->state, 1);
	struct err err = ERR_INIT;
	char *detail = NULL;
	int rc;

	free(u->error);
	u->error = xstrdup(reason);
	if (store_begin(r->env.store, &err) < 0)
		goto fail;
	if (lifecycle_update_set(r->env.lc, c, u, &end, "update.failed", &err, "%s", reason) < 0)
		goto rollback;
	/* Blue-green: the old version never noticed, unless nothing served. */
	if (u->state.strategy == STRATEGY_RECREATE || c->status != CONTAINER_RUNNING) {
		detail = xasprintf("update failed: %s", reason);
		rc = lifecycle_container_set(r->env.lc, c, CONTAINER_FAILED, detail, NULL, &err,
		                             NULL);
		free(detail);
	} else {
		rc = lifecycle_container_set(r->env.lc, c, c->status, NULL, NULL, &err, NULL);
	}
	if (rc < 0)
		goto rollback;
	if (store_commit(r->env.store, &err) < 0)
		goto fail;
	recon_crashpoint(r, "update-failed");
	recon_kick(r, c->id);
	return;
rollback:
	store_rollback(r->env.store);
fail:
	recon_store_failed(ctr, "update failed", &err);
}

/* The update succeeded: the container runs its new deployment. */
static void
recon_update_finish(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
                    struct store_update *u, const struct store_deployment *d)
{
	struct update_state done = u->state;
	struct err err = ERR_INIT;

	done.finished = 1;
	if (store_begin(r->env.store, &err) < 0)
		goto fail;
	if (lifecycle_update_set(r->env.lc, c, u, &done, "update.finished", &err,
	                         "%s update to deployment %s done; it serves now",
	                         model_update_kind_str(u->kind), d->id) < 0)
		goto rollback;
	snprintf(c->deployment_id, sizeof c->deployment_id, "%s", d->id);
	c->debug = d->debug;
	free(c->source_tag);
	c->source_tag = d->tag != NULL ? xstrdup(d->tag) : NULL;
	/* A new version starts with no restart under way and none counted. */
	c->restart_at = 0;
	c->restart_attempts = 0;
	if (lifecycle_container_set(r->env.lc, c, CONTAINER_RUNNING, NULL, NULL, &err, NULL) < 0)
		goto rollback;
	/* The old version stopped: its secrets' bindings go. */
	if (u->from_deployment_id[0] != '\0' &&
	    store_binding_delete_deployment(r->env.store, u->from_deployment_id, &err) < 0)
		goto rollback;
	if (store_commit(r->env.store, &err) < 0)
		goto fail;
	recon_crashpoint(r, "finished");
	recon_kick(r, c->id);
	return;
rollback:
	store_rollback(r->env.store);
fail:
	recon_store_failed(ctr, "update finish", &err);
}

/* Saves u (of c) in status s and phase p, with an event of kind (may be
 * NULL) saying msg; 0 or negative (logged). */
static int
recon_update_set(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
                 struct store_update *u, enum update_status s, enum recreate_phase p,
                 const char *kind, const char *msg)
{
	struct update_state to = u->state;
	struct err err = ERR_INIT;

	to.status = s;
	to.phase = p;
	if (lifecycle_update_set(r->env.lc, c, u, &to, kind, &err, "%s", msg) < 0) {
		recon_store_failed(ctr, "update state", &err);
		return -1;
	}
	return 0;
}

/* Drives the update u in progress of c. */
static void
recon_update(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
             struct store_update *u, struct store_enclave *enclaves, size_t n)
{
	struct store_deployment d = {0};
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	int64_t drain_ms;

	if (store_deployment_get(r->env.store, u->to_deployment_id, &d, &err) < 0) {
		recon_store_failed(ctr, "deployment", &err);
		return;
	}
	cfg = recon_config_of(&d);
	drain_ms = cfg != NULL ? cfg->deploy.drain_timeout_ms : 30000;

	if (u->state.switched) {
		/* Traffic is on the new version (the route converged before this
		 * step ran): retire the old one, then the update is done. */
		if (recon_retire(r, ctr, enclaves, n, d.id, drain_ms))
			goto out;
		recon_crashpoint(r, "old-stopped");
		recon_update_finish(r, ctr, c, u, &d);
		goto out;
	}
	if (u->state.strategy == STRATEGY_RECREATE && u->state.phase == PHASE_STOPPING) {
		/* The route holds requests (converged before this step): the old
		 * version drains and stops before the new one may take its GPUs. */
		recon_set_detail(r, ctr, c, "stopping the old version");
		if (recon_retire(r, ctr, enclaves, n, d.id, drain_ms))
			goto out;
		if (recon_update_set(r, ctr, c, u, UPDATE_PENDING, PHASE_DEPLOYING,
		                     "update.deploying",
		                     "the old version stopped; deploying the new one") == 0) {
			recon_set_detail(r, ctr, c, "deploying the new version");
			recon_crashpoint(r, "recreate-stopped");
			recon_kick(r, c->id);
		}
		goto out;
	}
	switch (recon_bringup(r, ctr, c, &d, enclaves, n)) {
	case BRINGUP_WORKING: {
		struct store_enclave *e = recon_enclave_of(enclaves, n, d.id);
		if (e != NULL && e->state == ENCLAVE_BOOTING && u->state.status == UPDATE_PENDING &&
		    recon_update_set(r, ctr, c, u, UPDATE_STARTED, u->state.phase, "update.started",
		                     "the new version's enclave runs; health checks in progress") ==
		        0)
			recon_crashpoint(r, "started");
		break;
	}
	case BRINGUP_READY: {
		struct update_state to;

		if (u->state.status == UPDATE_PENDING &&
		    recon_update_set(r, ctr, c, u, UPDATE_STARTED, u->state.phase, NULL, "") < 0)
			break;
		if (u->state.status == UPDATE_STARTED) {
			if (recon_update_set(
			        r, ctr, c, u, UPDATE_READY, u->state.phase, "update.ready",
			        "the new version is healthy; switching traffic to it") < 0)
				break;
			recon_crashpoint(r, "ready");
		}
		/* The switch: written first, the route follows on the next step. */
		to = u->state;
		to.switched = 1;
		if (lifecycle_update_set(r->env.lc, c, u, &to, "update.switched", &err,
		                         "traffic goes to deployment %s", d.id) < 0) {
			recon_store_failed(ctr, "switch", &err);
			break;
		}
		recon_crashpoint(r, "switched");
		recon_kick(r, c->id);
		break;
	}
	case BRINGUP_FAILED: {
		const char *why = recon_reason_of(enclaves, n, d.id);

		recon_update_fail(r, ctr, c, u,
		                  why != NULL ? why : "the new version's enclave failed");
		break;
	}
	}
out:
	config_free(cfg);
	store_deployment_clear(&d);
}

/* The kept logs and volumes of a deleted container: on every host that
 * may hold some (any that ran one of its enclaves). */
struct drop_job {
	struct recon_job hdr;
	store_id container_id;
	char name[256];
	struct recon_host **hosts; /* owned array of borrowed hosts */
	size_t n_hosts;
};

static void
drop_job_free(struct recon_job *hdr)
{
	struct drop_job *job = (struct drop_job *)hdr;

	free(job->hosts);
	free(job);
}

static void
drop_work(void *arg)
{
	struct drop_job *job = arg;
	struct err err = ERR_INIT;

	for (size_t i = 0; i < job->n_hosts; i++) {
		struct recon_host *host = job->hosts[i];

		if (host->ops->drop_logs != NULL &&
		    host->ops->drop_logs(host, job->container_id, &err) < 0) {
			log_warn("%s: kept logs: %s", job->name, err.msg);
			err_clear(&err);
		}
		if (host->ops->drop_volumes != NULL &&
		    host->ops->drop_volumes(host, job->container_id, &err) < 0) {
			log_warn("%s: persistent volumes: %s", job->name, err.msg);
			err_clear(&err);
		}
	}
}

static void
drop_done(void *arg)
{
	struct drop_job *job = arg;
	struct recon_ctr *ctr = recon_job_done_ctr(&job->hdr, job->container_id);

	if (ctr != NULL) {
		ctr->dropped = 1;
		recon_kick(job->hdr.r, ctr->id);
	}
	drop_job_free(&job->hdr);
}

static void
recon_drop_files(struct recon *r, struct recon_ctr *ctr, const struct store_container *c)
{
	struct drop_job *job = xcalloc(1, sizeof *job);

	job->hdr.free = drop_job_free;
	snprintf(job->container_id, sizeof job->container_id, "%s", c->id);
	snprintf(job->name, sizeof job->name, "%s", c->name);
	job->hosts = xcalloc(r->n_hosts, sizeof *job->hosts);
	for (size_t i = 0; i < r->n_hosts; i++)
		job->hosts[job->n_hosts++] = r->hosts[i].host;
	ctr->busy = 1;
	recon_job_submit(r, &job->hdr, drop_work, drop_done);
}

/* A container whose delete was asked: everything goes, then its rows. */
static void
recon_delete(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
             struct store_enclave *enclaves, size_t n)
{
	struct err err = ERR_INIT;

	if (ctr->watch != NULL)
		recon_watch_cancel(take_ptr(&ctr->watch));
	for (size_t i = 0; i < n; i++) {
		struct store_enclave *e = &enclaves[i];

		if (e->state == ENCLAVE_STOPPED)
			continue;
		if (e->state != ENCLAVE_STOPPING &&
		    recon_enclave_set(r, ctr, e, ENCLAVE_STOPPING) < 0)
			return;
		recon_enclave_destroy(r, ctr, e);
		return;
	}
	recon_crashpoint(r, "delete-stopped");
	/* Its kept logs and volumes go first, on a pool thread (a host may
	 * be an agent that answers slowly); the row after them. */
	if (!ctr->dropped) {
		recon_drop_files(r, ctr, c);
		return;
	}
	if (store_container_delete(r->env.store, c->id, &err) < 0) {
		recon_store_failed(ctr, "delete", &err);
		return;
	}
	if (eventlog_add(r->env.events, c, "container.deleted", &err,
	                 "its enclaves stopped; it is gone") < 0) {
		log_error("event container.deleted of %s: %s", c->name, err.msg);
		err_clear(&err);
	}
	recon_ctr_forget(r, ctr);
}

/* A container at rest, or after a cancelled update: makes its status say
 * what serves. */
static void
recon_settle(struct recon *r, struct recon_ctr *ctr, struct store_container *c,
             const struct store_update *u, struct store_enclave *enclaves, size_t n)
{
	struct store_enclave *e = recon_enclave_of(enclaves, n, c->deployment_id);
	int serving = e != NULL && (e->state == ENCLAVE_HEALTHY || e->state == ENCLAVE_UNHEALTHY);
	struct err err = ERR_INIT;

	const char *why;
	int rc;

	if (c->status == CONTAINER_DEPLOYING) {
		/* An update was cancelled while the container was deploying. */
		if (serving)
			rc = lifecycle_container_set(r->env.lc, c, CONTAINER_RUNNING, NULL,
			                             "container.running", &err, "serving");
		else {
			why = u != NULL && u->state.status == UPDATE_CANCELLED
			          ? "the update was cancelled after the old version stopped; "
			            "retry to deploy again"
			          : "nothing serves; retry to deploy again";
			rc = lifecycle_container_set(r->env.lc, c, CONTAINER_FAILED, why,
			                             "container.failed", &err, "%s", why);
		}
		if (rc < 0) {
			recon_store_failed(ctr, "settle", &err);
			return;
		}
		recon_kick(r, c->id);
		return;
	}
	if (c->status == CONTAINER_RUNNING && serving && recon_restart_serving(r, ctr, c, e))
		return;
	if (c->status == CONTAINER_RUNNING && !serving) {
		/* The live enclave broke (the monitor or a restart found it):
		 * the config's `restart` may bring it back. */
		if (recon_restart_step(r, ctr, c, enclaves, n))
			return;
		why = recon_reason_of(enclaves, n, c->deployment_id);
		if (why == NULL)
			why = "the running enclave stopped; retry to deploy again";
		if (lifecycle_container_set(r->env.lc, c, CONTAINER_FAILED, why, "container.failed",
		                            &err, "%s", why) < 0) {
			recon_store_failed(ctr, "settle", &err);
			return;
		}
		recon_kick(r, c->id);
		return;
	}
	if (c->status == CONTAINER_RUNNING && c->status_detail != NULL)
		recon_set_detail(r, ctr, c, NULL);
}

static void
recon_step(struct recon *r, struct recon_ctr *ctr)
{
	struct store_container c = {0};
	struct store_update u = {0};
	struct store_enclave *enclaves = NULL;
	struct err err = ERR_INIT;
	char *route = NULL;
	int rc, has_update;
	size_t n = 0, on = 0;

	if (recon_stopping(r) || ctr->busy || now_mono_ms() < ctr->retry_at_ms)
		return;
	rc = store_container_get(r->env.store, ctr->id, &c, &err);
	if (rc == STORE_ENOTFOUND) {
		recon_ctr_forget(r, ctr);
		return;
	}
	if (rc < 0) {
		recon_store_failed(ctr, "load", &err);
		return;
	}
	rc = store_update_latest(r->env.store, c.id, &u, &err);
	if (rc < 0 && rc != STORE_ENOTFOUND) {
		recon_store_failed(ctr, "load update", &err);
		goto out;
	}
	has_update = rc == 0;
	if (store_enclave_list(r->env.store, c.id, &enclaves, &n, &err) < 0) {
		recon_store_failed(ctr, "load enclaves", &err);
		goto out;
	}

	/* The route first: nothing moves on until the router has what the
	 * store says (the switch, a hold, a removal). */
	route = recon_route_desired(r, &c, &on);
	if (ctr->route_pushed == NULL || strcmp(route, ctr->route_pushed) != 0 ||
	    on != ctr->route_on) {
		recon_route_push(r, ctr, &c, take_ptr(&route), on);
		goto out;
	}
	if (c.deleted_at != 0) {
		recon_delete(r, ctr, &c, enclaves, n);
		goto out;
	}
	/* Created before its source was fetched: the API writes its first
	 * deployment when the fetch ends (api-pending.c). */
	if (c.deployment_id[0] == '\0' && !has_update)
		goto out;
	/* A lost host: an update coming up there fails, a container it
	 * serves moves to a host with room. */
	if (has_update && !u.state.finished && recon_move_update_step(r, ctr, &c, &u, enclaves, n))
		goto out;
	if (!(has_update && !u.state.finished) && recon_move_step(r, ctr, &c, enclaves, n))
		goto out;
	/* A serving enclave that stopped: its restart is decided (the route
	 * holds) before the cleanup removes it. */
	if (!(has_update && !u.state.finished) && recon_restart_notice(r, ctr, &c, enclaves, n))
		goto out;
	if (recon_cleanup(r, ctr, &c, has_update ? &u : NULL, enclaves, n))
		goto out;
	if (has_update && !u.state.finished)
		recon_update(r, ctr, &c, &u, enclaves, n);
	else if (c.status == CONTAINER_DEPLOYING && !has_update)
		recon_first_deploy(r, ctr, &c, enclaves, n);
	else
		recon_settle(r, ctr, &c, has_update ? &u : NULL, enclaves, n);
out:
	free(route);
	store_enclave_list_free(enclaves, n);
	store_update_clear(&u);
	store_container_clear(&c);
}

void
recon_kick(struct recon *r, const char *container_id)
{
	if (strmap_get(r->kicked_set, container_id) == NULL) {
		if (r->n_kicked == r->cap_kicked) {
			r->cap_kicked = r->cap_kicked ? 2 * r->cap_kicked : 64;
			r->kicked = xreallocarray(r->kicked, r->cap_kicked, sizeof *r->kicked);
		}
		r->kicked[r->n_kicked++] = xstrdup(container_id);
		strmap_put(r->kicked_set, container_id, r);
	}
	event_active(r->tick, 0, 0);
}

/* Containers stepped per loop pass: a resync of many containers leaves
 * room for the API's requests between passes. */
#define RECON_STEPS_PER_PASS 16

static void
recon_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct recon *r = arg;
	size_t n = r->n_kicked < RECON_STEPS_PER_PASS ? r->n_kicked : RECON_STEPS_PER_PASS;
	char **ids = xreallocarray(NULL, n + 1, sizeof *ids);

	(void)fd;
	(void)what;
	/* The first few now; the rest on the next pass, after what else is
	 * ready (still kicked: a kick meanwhile adds nothing). */
	memcpy(ids, r->kicked, n * sizeof *ids);
	ids[n] = NULL;
	memmove(r->kicked, r->kicked + n, (r->n_kicked - n) * sizeof *ids);
	r->n_kicked -= n;
	if (r->n_kicked > 0)
		event_active(r->tick, 0, 0);
	for (size_t i = 0; i < n; i++) {
		/* Not kicked any more: a kick while it steps comes again. */
		strmap_del(r->kicked_set, ids[i]);
		recon_step(r, recon_ctr_get(r, ids[i]));
	}
	strv_free(ids);
}

/* Kicks every container the store knows, live or being deleted. */
static void
recon_kick_all(struct recon *r)
{
	struct store_container *v = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;

	if (store_container_list(r->env.store, NULL, &v, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			recon_kick(r, v[i].id);
		store_container_list_free(v, n);
	} else {
		log_error("recon: list containers: %s", err.msg);
	}
	if (store_container_list_deleted(r->env.store, &v, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			recon_kick(r, v[i].id);
		store_container_list_free(v, n);
	} else {
		log_error("recon: list deleted containers: %s", err.msg);
	}
}

/* ---- the monitor: serving enclaves that stopped on their own ---- */

struct monitor_job {
	struct recon_job hdr;
	char **names;             /* owned: enclaves to look at */
	struct recon_host **host; /* owned array: the host of each (borrowed) */
	char **broken;            /* owned: those not running, with their reason in why */
	char **why;
};

static void
monitor_job_free(struct recon_job *hdr)
{
	struct monitor_job *job = (struct monitor_job *)hdr;

	strv_free(job->names);
	free(job->host);
	strv_free(job->broken);
	strv_free(job->why);
	free(job);
}

/* The names of e's containers that do not run, "a, b" (owned), or NULL. */
static char *
monitor_stopped_names(const struct enclave *e)
{
	char *names = NULL, *more;

	for (size_t i = 0; e != NULL && i < e->n_containers; i++) {
		if (e->containers[i].status == OCI_RUNNING)
			continue;
		more = xasprintf("%s%s%s", names != NULL ? names : "", names != NULL ? ", " : "",
		                 e->containers[i].name);
		free(names);
		names = more;
	}
	return names;
}

static void
monitor_work(void *arg)
{
	struct monitor_job *job = arg;

	for (size_t i = 0; job->names != NULL && job->names[i] != NULL; i++) {
		struct recon_host *host = job->host[i];
		enum enclave_observed seen = ENCLAVE_OBSERVED_ABSENT;
		struct enclave *enc = NULL;
		struct err err = ERR_INIT;
		char *why = NULL, *stopped;

		int rc = host->ops->adopt(host, job->names[i], &enc, &seen, &err);

		/* A host that does not answer says nothing of its enclaves: they
		 * are left as they are (the host's own state says it is lost). */
		if (rc == RECON_HOST_EUNREACHABLE)
			continue;
		if (rc < 0) {
			why = xasprintf("the running enclave is gone: %s", err.msg);
		} else if (seen != ENCLAVE_OBSERVED_RUNNING) {
			stopped = monitor_stopped_names(enc);
			why = xasprintf("the running enclave stopped: its containers are %s%s%s%s",
			                enclave_observed_str(seen), stopped != NULL ? " (" : "",
			                stopped != NULL ? stopped : "",
			                stopped != NULL ? " stopped)" : "");
			free(stopped);
		}
		host->ops->release(host, enc);
		if (why != NULL) {
			job->broken = strv_push(job->broken, job->names[i]);
			job->why = strv_push(job->why, why);
			free(why);
		}
	}
}

static void
monitor_done(void *arg)
{
	struct monitor_job *job = arg;
	struct recon *r = job->hdr.r;
	struct store_enclave *live = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;

	recon_job_done(&job->hdr);
	r->monitoring = 0;
	if (recon_stopping(r) || job->broken == NULL ||
	    store_enclave_list_live(r->env.store, &live, &n, &err) < 0)
		goto out;
	for (size_t i = 0; job->broken[i] != NULL; i++) {
		for (size_t j = 0; j < n; j++) {
			struct store_enclave *e = &live[j];
			struct recon_ctr *ctr;

			/* Only what still serves: a step may have moved it meanwhile. */
			if (strcmp(e->name, job->broken[i]) != 0 || e->state != ENCLAVE_HEALTHY)
				continue;
			log_warn("enclave %s: %s", e->name, job->why[i]);
			ctr = recon_ctr_get(r, e->container_id);
			if (lifecycle_enclave_set(r->env.lc, e, ENCLAVE_FAILED, job->why[i], &err) <
			    0) {
				log_error("enclave %s: %s", e->name, err.msg);
				err_clear(&err);
			}
			recon_kick(r, ctr->id);
		}
	}
out:
	store_enclave_list_free(live, n);
	monitor_job_free(&job->hdr);
}

/* Looks at every serving enclave on a worker, one pass at a time. */
static void
recon_monitor(struct recon *r)
{
	struct store_enclave *live = NULL;
	struct monitor_job *job;
	struct err err = ERR_INIT;
	size_t n = 0;

	if (r->monitoring || store_enclave_list_live(r->env.store, &live, &n, &err) < 0)
		return;
	job = xcalloc(1, sizeof *job);
	job->hdr.free = monitor_job_free;
	job->host = xcalloc(n + 1, sizeof *job->host);
	for (size_t i = 0, k = 0; i < n; i++) {
		struct recon_host *host = recon_host_for(r, &live[i]);

		/* One on a host this berthd does not drive was reported at start. */
		if (live[i].state == ENCLAVE_HEALTHY && host != NULL) {
			job->names = strv_push(job->names, live[i].name);
			job->host[k++] = host;
		}
	}
	store_enclave_list_free(live, n);
	if (job->names == NULL) {
		monitor_job_free(&job->hdr);
		return;
	}
	r->monitoring = 1;
	recon_job_submit_in(r, RECON_POOL_HEALTH, NULL, &job->hdr, monitor_work, monitor_done);
}

static void
recon_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct recon *r = arg;
	int64_t now = now_mono_ms();
	static const int resync_every = RECON_RESYNC_MS / RECON_TIMER_MS;

	(void)fd;
	(void)what;
	if (recon_stopping(r))
		return;
	recon_router_tick(r);
	recon_certs_tick(r);
	for (size_t i = 0; i < r->n_hosts; i++) {
		struct recon_hostent *h = &r->hosts[i];

		if (h->returned_at_ms == 0 || now < h->returned_at_ms || h->stale_job)
			continue;
		h->returned_at_ms = 0;
		recon_stale_start(r, h);
	}
	if (++r->timer_count % resync_every == 0) {
		recon_monitor(r);
		recon_kick_all(r);
		return;
	}
	/* Drains poll and failed steps retry on their own schedule. */
	for (struct recon_ctr *ctr = r->ctrs; ctr != NULL; ctr = ctr->next)
		if (!ctr->busy && ((ctr->retry_at_ms != 0 && now >= ctr->retry_at_ms) ||
		                   ctr->drain_deadline_ms != 0))
			recon_kick(r, ctr->id);
}

int
recon_new(const struct recon_env *env, struct recon **out, struct err *err)
{
	struct recon *r = xcalloc(1, sizeof *r);
	unsigned char key[32];

	(void)err;
	r->env = *env;
	randombytes_buf(key, sizeof key);
	sodium_bin2hex(r->peer_key, sizeof r->peer_key, key, sizeof key);
	sodium_memzero(key, sizeof key);
	r->kicked_set = strmap_new();
	r->ctr_index = strmap_new();
	if (env->n_hosts == 0) {
		r->n_hosts = 1;
		r->hosts = xcalloc(1, sizeof *r->hosts);
		r->hosts[0].host = env->host;
		r->hosts[0].cap.gpus = env->host->ops->gpus(env->host);
	} else {
		r->n_hosts = env->n_hosts;
		r->hosts = xcalloc(env->n_hosts, sizeof *r->hosts);
		for (size_t i = 0; i < env->n_hosts; i++) {
			r->hosts[i].id =
			    env->hosts[i].id != NULL ? xstrdup(env->hosts[i].id) : NULL;
			r->hosts[i].pending = env->hosts[i].id == NULL;
			r->hosts[i].host = env->hosts[i].host;
			r->hosts[i].cap.cpus = env->hosts[i].cpus;
			r->hosts[i].cap.memory_bytes = env->hosts[i].memory_bytes;
			r->hosts[i].cap.gpus = env->hosts[i].gpus;
			if (env->hosts[i].router_peer != NULL)
				snprintf(r->hosts[i].cap.router_peer,
				         sizeof r->hosts[i].cap.router_peer, "%s",
				         env->hosts[i].router_peer);
		}
	}
	r->crash_at = getenv("BERTH_CRASH_AT");
	r->tick = event_new(env->base, -1, 0, recon_on_tick, r);
	r->timer = event_new(env->base, -1, EV_PERSIST, recon_on_timer, r);
	*out = r;
	return 0;
}

/* Removes the enclaves host h has that no live row of it names. */
static void
recon_remove_orphans(struct recon *r, struct recon_hostent *h, const struct store_enclave *live,
                     size_t n)
{
	struct recon_host *host = h->host;
	struct err err = ERR_INIT;
	char **names = NULL;

	if (host->ops->list(host, &names, &err) < 0) {
		log_error("recon: list the enclaves of %s: %s", h->id != NULL ? h->id : "this host",
		          err.msg);
		err_clear(&err);
	}
	for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
		int known = 0;

		for (size_t j = 0; j < n; j++)
			known |= strcmp(live[j].name, names[i]) == 0 &&
			         recon_host_entry(r, live[j].host_id) == h;
		if (known)
			continue;
		log_info("recon: removing orphan enclave %s%s%s", names[i],
		         h->id ? " of host " : "", h->id ? h->id : "");
		if (host->ops->destroy(host, names[i], &err) < 0) {
			log_error("recon: orphan %s: %s", names[i], err.msg);
			err_clear(&err);
		}
	}
	strv_free(names);
}

/* Says, in the log and in its container's events, that live row e is on a
 * host this berthd does not drive: it is left as it is, not dropped. */
static void
recon_report_unknown_host(struct recon *r, const struct store_enclave *e)
{
	struct store_container c = {0};
	struct err err = ERR_INIT;
	char *why = recon_host_unknown(r, e);

	log_warn("recon: enclave %s: %s; left as it is", e->name, why);
	if (store_container_get(r->env.store, e->container_id, &c, &err) < 0 ||
	    eventlog_add(r->env.events, &c, "enclave.host_unknown", &err,
	                 "enclave %s: %s; left as it is", e->name, why) < 0) {
		log_error("recon: enclave %s: %s", e->name, err.msg);
		err_clear(&err);
	}
	store_container_clear(&c);
	free(why);
}

/* Takes back live row e's enclave on host (its host): one that runs is
 * adopted, one that is gone or broken is marked failed (the steps then
 * retire it); a host that does not answer leaves it as it is. */
static void
recon_adopt_row(struct recon *r, struct recon_host *host, struct store_enclave *e)
{
	enum enclave_observed seen = ENCLAVE_OBSERVED_ABSENT;
	struct err err = ERR_INIT;
	int rc;

	if (e->state != ENCLAVE_HEALTHY && e->state != ENCLAVE_UNHEALTHY)
		return; /* creating/booting/stopping: their steps resume them */
	rc = host->ops->adopt(host, e->name, NULL, &seen, &err);
	if (rc == RECON_HOST_EUNREACHABLE) {
		/* Unknown, not gone: the monitor looks again. */
		log_warn("recon: enclave %s: %s", e->name, err.msg);
		return;
	}
	if (rc == 0 && seen == ENCLAVE_OBSERVED_RUNNING) {
		log_info("recon: adopted enclave %s at %s%s%s", e->name,
		         e->address != NULL ? e->address : "?", e->host_id ? " on host " : "",
		         e->host_id ? e->host_id : "");
		recon_attest_reopen(r, e);
		return;
	}
	log_warn("recon: enclave %s is not running any more%s%s", e->name,
	         err_isset(&err) ? ": " : "", err.msg);
	err_clear(&err);
	if (lifecycle_enclave_set(r->env.lc, e, ENCLAVE_FAILED, NULL, &err) < 0)
		log_error("recon: %s", err.msg);
}

/* Orphans removed (with orphans) and live rows adopted on host h (NULL:
 * every host), as at start-up. A row on no host this berthd drives is
 * reported. */
static void
recon_adopt_on(struct recon *r, struct recon_hostent *only, int orphans)
{
	struct store_enclave *live = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;

	if (store_enclave_list_live(r->env.store, &live, &n, &err) < 0) {
		log_error("recon: list live enclaves: %s", err.msg);
		return;
	}
	for (size_t i = 0; orphans && i < r->n_hosts; i++)
		if (!r->hosts[i].pending && (only == NULL || only == &r->hosts[i]))
			recon_remove_orphans(r, &r->hosts[i], live, n);
	for (size_t j = 0; j < n; j++) {
		struct store_enclave *e = &live[j];
		struct recon_hostent *h = recon_host_entry(r, e->host_id);

		/* A placement refused: its row was never anywhere. */
		if (e->state == ENCLAVE_FAILED && e->address == NULL && e->host_id == NULL &&
		    r->env.n_hosts > 0)
			continue;
		if (only != NULL && h != only)
			continue;
		if (h == NULL)
			recon_report_unknown_host(r, e);
		else
			recon_adopt_row(r, h->host, e);
	}
	store_enclave_list_free(live, n);
}

/* At start-up: enclaves the hosts have but the store does not know as live
 * are orphans of an interrupted attempt: they go. Live rows whose enclave
 * is gone or broken are marked failed (the steps then retire them). */
static void
recon_adopt_all(struct recon *r)
{
	recon_adopt_on(r, NULL, 1);
}

/* A host back: on a worker, its enclaves that no live row of it names
 * (keep, the names of those that do, taken when the job starts: the host
 * takes no new enclave meanwhile) are removed; its stop timeouts never
 * hold the loop, nor the agents' heartbeats it answers. */
struct stale_job {
	struct recon_job hdr;
	struct recon_hostent *h; /* borrowed (r->hosts lives as long as r) */
	char **keep;             /* owned */
	int failed;
};

static void
stale_job_free(struct recon_job *hdr)
{
	struct stale_job *job = (struct stale_job *)hdr;

	strv_free(job->keep);
	free(job);
}

static void
stale_work(void *arg)
{
	struct stale_job *job = arg;
	struct recon_host *host = job->h->host;
	struct err err = ERR_INIT;
	char **names = NULL;

	if (host->ops->list(host, &names, &err) < 0) {
		log_error("recon: list the enclaves of %s: %s", job->h->id, err.msg);
		err_clear(&err);
		job->failed++;
	}
	for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
		if (strv_contains(job->keep, names[i]))
			continue;
		log_info("recon: removing enclave %s of host %s, moved away while it was lost",
		         names[i], job->h->id);
		if (host->ops->destroy(host, names[i], &err) < 0) {
			log_error("recon: enclave %s of host %s: %s", names[i], job->h->id,
			          err.msg);
			err_clear(&err);
			job->failed++;
		}
	}
	strv_free(names);
}

static void
stale_done(void *arg)
{
	struct stale_job *job = arg;
	struct recon *r = job->hdr.r;
	struct recon_hostent *h = job->h;

	recon_job_done(&job->hdr);
	h->stale_job = 0;
	if (!recon_stopping(r) && h->lost == NULL) {
		if (job->failed > 0 && h->returned_tries-- > 0) {
			h->returned_at_ms = now_mono_ms() + RECON_RETURNED_RETRY_MS;
		} else {
			h->returning = 0;
			/* Its live rows adopted again, as at start-up. */
			recon_adopt_on(r, h, 0);
		}
		recon_kick_all(r);
	}
	stale_job_free(&job->hdr);
}

static void
recon_stale_start(struct recon *r, struct recon_hostent *h)
{
	struct store_enclave *live = NULL;
	struct err err = ERR_INIT;
	struct stale_job *job;
	size_t n = 0;

	if (store_enclave_list_live(r->env.store, &live, &n, &err) < 0) {
		log_error("recon: list live enclaves: %s", err.msg);
		h->returned_at_ms = now_mono_ms() + RECON_RETURNED_RETRY_MS;
		return;
	}
	job = xcalloc(1, sizeof *job);
	job->hdr.free = stale_job_free;
	job->h = h;
	job->keep = strv_push(NULL, "");
	for (size_t i = 0; i < n; i++)
		if (recon_host_entry(r, live[i].host_id) == h)
			job->keep = strv_push(job->keep, live[i].name);
	store_enclave_list_free(live, n);
	h->stale_job = 1;
	recon_job_submit(r, &job->hdr, stale_work, stale_done);
}

void
recon_host_known(struct recon *r, struct recon_hostent *h)
{
	recon_adopt_on(r, h, 1);
	recon_kick_all(r);
}

void
recon_host_set_lost(struct recon *r, const char *host_id, const char *why)
{
	struct recon_hostent *h = host_id != NULL ? recon_host_entry(r, host_id) : NULL;

	if (h == NULL || h->id == NULL || (why != NULL) == (h->lost != NULL))
		return;
	if (why != NULL) {
		log_warn("%s: its containers move to hosts with room", why);
		h->lost = xstrdup(why);
	} else {
		log_info("host %s is back: its enclaves moved away go, the others are adopted",
		         h->id);
		free(take_ptr(&h->lost));
		/* Not from inside the caller (an agent's request): on the
		 * timer's next pass. */
		h->returned_at_ms = now_mono_ms();
		h->returned_tries = RECON_RETURNED_TRIES;
		h->returning = 1;
	}
	recon_kick_all(r);
}

int
recon_start(struct recon *r, struct err *err)
{
	struct timeval tv = {0, RECON_TIMER_MS * 1000};

	(void)err;
	r->started = 1;
	recon_adopt_all(r);
	recon_router_tick(r);
	recon_kick_all(r);
	event_add(r->timer, &tv);
	return 0;
}

void
recon_free(struct recon *r)
{
	if (r == NULL)
		return;
	while (r->ctrs != NULL) {
		struct recon_ctr *ctr = r->ctrs;
		r->ctrs = ctr->next;
		recon_ctr_free(ctr);
	}
	/* Jobs the workq dropped when it stopped. */
	while (r->jobs != NULL) {
		struct recon_job *job = r->jobs;
		recon_job_done(job);
		job->free(job);
	}
	recon_certs_free(r);
	recon_attest_free_all(r);
	if (r->tick != NULL)
		event_free(r->tick);
	if (r->timer != NULL)
		event_free(r->timer);
	for (size_t i = 0; i < r->n_kicked; i++)
		free(r->kicked[i]);
	free(r->kicked);
	strmap_free(r->kicked_set, NULL);
	strmap_free(r->ctr_index, NULL);
	for (size_t i = 0; i < r->n_hosts; i++) {
		free(r->hosts[i].id);
		free(r->hosts[i].lost);
	}
	free(r->hosts);
	free(r);
}
