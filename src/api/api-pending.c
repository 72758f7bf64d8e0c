#include "api/api-pending.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-deploy.h"
#include "api/api-source.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "daemon/daemon.h"
#include "eventlog/eventlog.h"
#include "lifecycle/lifecycle.h"
#include "model/model.h"
#include "recon/recon.h"
#include "store/store.h"

/* One resolution: the container's fetch, then its config read on a worker. */
struct pending_job {
	struct berthd *d; /* borrowed */
	store_id id;      /* the container */
	struct api_fetch fetch;
	struct pending_job *prev, *next; /* in d->api_pendings */
};

struct api_pendings {
	struct pending_job *list; /* owned */
};

static void
pending_job_free(struct pending_job *j)
{
	struct api_pendings *p = j->d->api_pendings;

	if (j->prev != NULL)
		j->prev->next = j->next;
	else if (p != NULL && p->list == j)
		p->list = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	api_fetch_clear(&j->fetch);
	free(j);
}

/* What pending_fail_steps and pending_deploy_steps write. */
struct pending_write {
	struct store_container *c;
	const char *why;              /* a failure */
	struct store_deployment *dep; /* the first deployment */
	const char *tag;
};

static int
pending_fail_steps(struct berthd *d, void *arg, struct err *err)
{
	struct pending_write *w = arg;

	return lifecycle_container_set(&d->lc, w->c, CONTAINER_FAILED, w->why, "container.failed",
	                               err, "%s", w->why);
}

/* The container failed before its first deployment: why says so. It keeps
 * `pending`, so a retry fetches again. */
static void
pending_fail(struct berthd *d, struct store_container *c, const char *why)
{
	struct pending_write w = {.c = c, .why = why};
	struct err err = ERR_INIT;

	if (api_write(d, pending_fail_steps, &w, &err) < 0) {
		log_error("%s: cannot record its failure: %s", c->name, err.msg);
		return;
	}
	log_info("%s: %s", c->name, why);
}

static int
pending_deploy_steps(struct berthd *d, void *arg, struct err *err)
{
	struct pending_write *w = arg;
	struct store_container *c = w->c;
	int rc;

	if ((rc = api_deploy_write(d, c->id, w->dep, err)) < 0)
		return rc;
	snprintf(c->deployment_id, sizeof c->deployment_id, "%s", w->dep->id);
	if ((rc = store_container_save(d->store, c, err)) < 0)
		return rc;
	return eventlog_add(d->events, c, "container.fetched", err,
	                    "%s at %s fetched: deploying it", c->source_repo, w->tag);
}

/* Writes the first deployment of c from the fetched config, as a create. */
static int
pending_deploy(struct berthd *d, struct store_container *c, struct pending_job *j,
               struct api_refusal *why)
{
	struct api_principal who = {0};
	struct api_deploy_spec spec = {0};
	struct store_deployment dep = {0};
	struct store_org org = {0};
	struct pending_write w;
	struct err err = ERR_INIT;
	json_t *pending = json_loads(c->pending, 0, NULL), *env = NULL;
	char **names = NULL, *names_json = NULL, file[256];
	int rc = -1;

	if (store_org_get(d->store, c->org_id, &org, &err) < 0) {
		why->status = 500;
		why->code = "internal";
		why->message = xasprintf("reading the org failed: %s", err.msg);
		goto out;
	}
	snprintf(who.org_id, sizeof who.org_id, "%s", c->org_id);
	snprintf(who.org_name, sizeof who.org_name, "%s", org.name);
	names_json =
	    json_dumps(json_object_get(pending, "secrets"), JSON_COMPACT | JSON_ENCODE_ANY);
	names = api_deploy_names_of(names_json);
	if (api_deploy_settings_of(d, c->id, &env, &err) < 0) {
		why->status = 500;
		why->code = "internal";
		why->message = xasprintf("reading the settings failed: %s", err.msg);
		goto out;
	}
	snprintf(file, sizeof file, "%s@%s", SOURCE_CONFIG_FILE, j->fetch.tag);
	spec.file = file;
	spec.config = j->fetch.text;
	spec.config_len = j->fetch.len;
	spec.tag = j->fetch.tag;
	spec.commit = j->fetch.commit;
	spec.debug = c->debug;
	spec.secrets = names;
	spec.env = env;
	if (api_deploy_check(d, &who, &spec, &dep, NULL, why) < 0)
		goto out;
	free(c->source_repo);
	c->source_repo = xstrdup(j->fetch.url);
	free(c->status_detail);
	c->status_detail = xstrdup("queued");
	free(take_ptr(&c->pending));
	c->debug = dep.debug;
	w = (struct pending_write){.c = c, .dep = &dep, .tag = j->fetch.tag};
	if (api_write(d, pending_deploy_steps, &w, &err) < 0)
		goto fail;
	berthd_kick(d, c->id);
	rc = 0;
	goto out;
fail:
	why->status = 500;
	why->code = "internal";
	why->message = xasprintf("writing the deployment failed: %s", err.msg);
out:
	store_deployment_clear(&dep);
	store_org_clear(&org);
	json_decref(pending);
	json_decref(env);
	free(names_json);
	strv_free(names);
	return rc;
}

/* The fetch and the read are over: deploy, or fail with the reason. */
static void
pending_settle(struct pending_job *j)
{
	struct berthd *d = j->d;
	struct store_container c = {0};
	struct api_refusal why = {0};
	struct err err = ERR_INIT;

	/* Deleted, or resolved by another request meanwhile: nothing to do. */
	if (store_container_get(d->store, j->id, &c, &err) < 0 || c.deleted_at != 0 ||
	    c.pending == NULL || c.status != CONTAINER_DEPLOYING)
		goto out;
	if (api_fetch_refusal(&j->fetch, &why) < 0 || pending_deploy(d, &c, j, &why) < 0)
		pending_fail(d, &c, why.message != NULL ? why.message : "the deployment failed");
out:
	api_refusal_clear(&why);
	store_container_clear(&c);
	pending_job_free(j);
}

static void
pending_work(void *arg)
{
	struct pending_job *j = arg;

	api_fetch_run(&j->fetch);
}

static void
pending_done(void *arg)
{
	pending_settle(arg);
}

static void
pending_fetched(struct api_req *r, void *arg, enum api_source_result res, int64_t age_s,
                const struct err *err)
{
	struct pending_job *j = arg;

	(void)r, (void)age_s;
	switch (res) {
	case API_SOURCE_FETCHED:
		j->fetch.synced = 1;
		workq_submit(j->d->workq, pending_work, pending_done, j);
		break;
	case API_SOURCE_FAILED:
		j->fetch.stage = API_FETCH_SYNC;
		j->fetch.rc = -1;
		j->fetch.err = *err;
		pending_settle(j);
		break;
	default: /* berthd is stopping: the next start resolves it */
		pending_job_free(j);
		break;
	}
}

void
api_pending_resolve(struct berthd *d, const struct store_container *c)
{
	struct pending_job *j = xcalloc(1, sizeof *j);

	if (d->api_pendings == NULL)
		d->api_pendings = xcalloc(1, sizeof *d->api_pendings);
	j->d = d;
	snprintf(j->id, sizeof j->id, "%s", c->id);
	api_fetch_init(&j->fetch, d, c->source_repo, c->source_tag);
	j->next = d->api_pendings->list;
	if (j->next != NULL)
		j->next->prev = j;
	d->api_pendings->list = j;
	api_source_fetch(NULL, d, c->source_repo, 0, pending_fetched, j);
}

int
api_pending_resume(struct berthd *d, struct err *err)
{
	struct store_container *cs = NULL;
	size_t n = 0;

	if (store_container_list(d->store, NULL, &cs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (cs[i].pending != NULL && cs[i].status == CONTAINER_DEPLOYING &&
		    cs[i].source_repo != NULL && cs[i].source_tag != NULL) {
			log_info("%s: fetching its source again (interrupted)", cs[i].name);
			api_pending_resolve(d, &cs[i]);
		}
	store_container_list_free(cs, n);
	return 0;
}

void
api_pendings_free(struct api_pendings *p)
{
	if (p == NULL)
		return;
	/* Jobs the workq dropped, and fetches api_sources_free() ended. */
	while (p->list != NULL) {
		struct pending_job *j = p->list;

		p->list = j->next;
		api_fetch_clear(&j->fetch);
		free(j);
	}
	free(p);
}
