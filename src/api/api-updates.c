/* /api/v1/containers/{name}/updates: request, list and cancel updates.
 *
 * Every update gets a new deployment row, even retry and promote (a copy), so
 * the enclave of each update has its own name. A copy keeps the isolation
 * level of what it copies; a new config resolves its own. The container keeps
 * its deployment_id and source tag: the reconciler moves them when the update
 * succeeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-common.h"
#include "api/api-deploy.h"
#include "api/api-json.h"
#include "api/api-pending.h"
#include "api/api-routes.h"
#include "common/util.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "eventlog/eventlog.h"
#include "lifecycle/lifecycle.h"
#include "model/model.h"
#include "recon/recon.h"
#include "store/store.h"

/* A POST .../updates on its way: the body's values, and for kind tag the
 * config at the new tag once a worker has read it. */
struct update_job {
	struct api_fetch_job job; /* first; its fetch with kind tag */
	struct berthd *d;         /* borrowed */
	enum update_kind kind;
	char *name;     /* owned: the container's */
	char *config;   /* owned or NULL: edit-config's new config */
	char **secrets; /* owned strv: edit-config's list, with secrets_given */
	int secrets_given;
	json_t *env; /* owned object or NULL: edit-config's new settings */
	int debug;   /* edit-config's, with debug_given */
	int debug_given;
};

static void
update_job_free(struct api_fetch_job *job)
{
	struct update_job *j = (struct update_job *)job;

	free(j->name);
	free(j->config);
	strv_free(j->secrets);
	json_decref(j->env);
	api_fetch_clear(&j->job.fetch);
	free(j);
}

/* Replaces every external setting of the container with env's. */
static int
update_settings_replace(struct berthd *d, const char *container_id, json_t *env, struct err *err)
{
	struct store_setting *s = NULL;
	const char *key;
	json_t *val;
	size_t n = 0;
	int rc;

	if ((rc = store_setting_list(d->store, container_id, &s, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = store_setting_delete(d->store, container_id, s[i].key, err);
	store_setting_list_free(s, n);
	json_object_foreach(env, key, val)
	{
		if (rc == 0)
			rc = store_setting_set(d->store, container_id, key, json_string_value(val),
			                       err);
	}
	return rc;
}

/* What an update writes (update_steps). */
struct update_write {
	const struct update_job *j;
	struct store_container *c;
	struct store_deployment *dep; /* the new deployment */
	struct store_update *u;       /* the update row, its strategy chosen */
};

/* An update's steps: the new deployment, for edit-config its settings, the
 * update row, the container's status and the update.pending event. */
static int
update_steps(struct berthd *d, void *arg, struct err *err)
{
	struct update_write *w = arg;
	struct store_container *c = w->c;
	struct store_update *u = w->u;
	enum container_status status;
	int rc;

	if ((rc = api_deploy_write(d, c->id, w->dep, err)) < 0)
		return rc;
	if (w->j->kind == UPDATE_KIND_EDIT_CONFIG && w->j->env != NULL &&
	    (rc = update_settings_replace(d, c->id, w->j->env, err)) < 0)
		return rc;
	snprintf(u->to_deployment_id, sizeof u->to_deployment_id, "%s", w->dep->id);
	if ((rc = store_update_create(d->store, u, err)) < 0)
		return rc;
	status = model_container_status_during(c->status, &u->state);
	return lifecycle_container_set(
	    &d->lc, c, status, status != c->status ? "queued" : c->status_detail, "update.pending",
	    err, "%s update (%s%s%s) of %s pending", model_strategy_str(u->state.strategy),
	    model_update_kind_str(u->kind), w->dep->tag != NULL ? " " : "",
	    w->dep->tag != NULL ? w->dep->tag : "", c->name);
}

/* Checks, in the store's present state, whether the update may be made and
 * writes it (update_steps) in one transaction. Answers r; takes j. */
static void
update_finish(struct api_req *r, struct update_job *j)
{
	struct berthd *d = j->d;
	struct store_container c = {0};
	struct store_deployment cur = {0}, base = {0}, dep = {0};
	struct store_update latest = {0}, u = {0};
	struct api_deploy_spec spec = {0};
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	char **names = NULL, file[256];
	json_t *env = NULL, *settings = NULL;
	const struct store_deployment *from;
	const char *why = NULL;
	struct update_write w;
	int rc, in_progress = 0, has_latest = 0, host, in_use = 0, room;

	if (api_container_lookup(r, j->name, &c) < 0)
		goto out;
	rc = store_update_latest(d->store, c.id, &latest, &err);
	if (rc == 0) {
		has_latest = 1;
		in_progress = !model_update_is_terminal(&latest.state);
	} else if (rc != STORE_ENOTFOUND) {
		goto fail;
	}
	err_clear(&err);
	if (c.deployment_id[0] != '\0' &&
	    (rc = store_deployment_get(d->store, c.deployment_id, &cur, &err)) < 0)
		goto fail;
	switch (model_update_request_check(j->kind, in_progress, c.deployment_id[0] != '\0',
	                                   cur.debug, &why)) {
	case MODEL_OK:
		break;
	case MODEL_EBUSY:
		api_reply_error(r, 409, "update_in_progress", "%s", why);
		goto out;
	case MODEL_EINVALID:
		api_reply_error(r, 422, "invalid_update", "kind: %s", why);
		goto out;
	}
	if ((rc = api_deploy_settings_of(d, c.id, &settings, &err)) < 0)
		goto fail;

	/* What the new deployment copies: the current one, or for a retry the
	 * one the last update failed to bring up. */
	from = &cur;
	if (j->kind == UPDATE_KIND_RETRY && has_latest && latest.state.status == UPDATE_FAILED) {
		if ((rc = store_deployment_get(d->store, latest.to_deployment_id, &base, &err)) < 0)
			goto fail;
		from = &base;
	}
	if (from->config == NULL) {
		api_reply_error(r, 422, "invalid_update", "kind: the container has no deployment");
		goto out;
	}
	names = api_deploy_names_of(from->secrets_json);
	spec.tag = from->tag;
	spec.commit = from->commit[0] ? from->commit : NULL;
	spec.debug = from->debug;
	spec.secrets = names;
	spec.config = from->config;
	spec.config_len = strlen(from->config);
	/* The isolation level goes with the config: a copy of a deployment's
	 * config keeps its level; a new config (a tag, an edited config)
	 * resolves it anew. */
	spec.isolation = from->isolation;
	if (from->tag != NULL)
		snprintf(file, sizeof file, "%s@%s", SOURCE_CONFIG_FILE, from->tag);
	else
		snprintf(file, sizeof file, "config");
	spec.file = file;
	switch (j->kind) {
	case UPDATE_KIND_TAG:
		snprintf(file, sizeof file, "%s@%s", SOURCE_CONFIG_FILE, j->job.fetch.tag);
		spec.config = j->job.fetch.text;
		spec.config_len = j->job.fetch.len;
		spec.tag = j->job.fetch.tag;
		spec.commit = j->job.fetch.commit;
		spec.env = settings;
		spec.isolation = NULL;
		break;
	case UPDATE_KIND_EDIT_CONFIG:
		if (j->config != NULL) {
			snprintf(file, sizeof file, "config");
			spec.config = j->config;
			spec.config_len = strlen(j->config);
			spec.isolation = NULL;
			spec.commit = NULL;
		}
		if (j->secrets_given)
			spec.secrets = j->secrets;
		if (j->debug_given)
			spec.debug = j->debug;
		spec.env = j->env != NULL ? j->env : settings;
		break;
	case UPDATE_KIND_PROMOTE:
	case UPDATE_KIND_RETRY:
		/* A copy keeps the settings its deployment was made with. */
		env = json_loads(from->env_json != NULL ? from->env_json : "{}", 0, NULL);
		spec.env = env;
		if (j->kind == UPDATE_KIND_PROMOTE)
			spec.debug = 0;
		break;
	}
	if (api_deploy_prepare(r, d, &spec, &dep, &cfg) < 0)
		goto out;

	host = api_deploy_host_gpus(d);
	/* What the others hold matters only to a new version that takes GPUs
	 * (a look over every container: not for each update). */
	if (config_gpus_required(cfg, host) > 0 &&
	    (rc = api_deploy_gpus_in_use(d, c.id, host, &in_use, &err)) < 0)
		goto fail;
	snprintf(u.container_id, sizeof u.container_id, "%s", c.id);
	u.kind = j->kind;
	u.state.strategy = model_choose_strategy(cfg->deploy.strategy, host, in_use,
	                                         api_deploy_config_gpus(cur.config, host),
	                                         config_gpus_required(cfg, host));
	/* With agents, a GPU container goes blue-green onto any host with room
	 * beside the version it replaces (its own or another), recreate when
	 * none has. */
	if (cfg->deploy.strategy == CONFIG_STRATEGY_AUTO &&
	    (room = recon_room_beside(d->recon, cfg)) >= 0)
		u.state.strategy = room ? STRATEGY_BLUE_GREEN : STRATEGY_RECREATE;
	snprintf(u.from_deployment_id, sizeof u.from_deployment_id, "%s", c.deployment_id);

	w = (struct update_write){.j = j, .c = &c, .dep = &dep, .u = &u};
	if ((rc = api_write(d, update_steps, &w, &err)) < 0)
		goto fail;
	api_reply_kicked(r, c.id, 202, api_json_update(&u));
	goto out;
fail:
	if (rc == STORE_ECONFLICT)
		api_reply_error(r, 409, "update_in_progress",
		                "an update is in progress; cancel it or wait for it to end");
	else
		api_reply_store_error(r, rc, &err);
out:
	config_free(cfg);
	json_decref(env);
	json_decref(settings);
	strv_free(names);
	store_update_clear(&u);
	store_update_clear(&latest);
	store_deployment_clear(&dep);
	store_deployment_clear(&base);
	store_deployment_clear(&cur);
	store_container_clear(&c);
	update_job_free(&j->job);
}

static void
update_fetched(struct api_req *r, struct api_fetch_job *job)
{
	update_finish(r, (struct update_job *)job);
}

/* A retry of a container whose first fetch failed: deploying again, its
 * source fetched again. */
static int
pending_retry_steps(struct berthd *d, void *arg, struct err *err)
{
	struct store_container *c = arg;
	char *detail = xasprintf("fetching %s", c->source_repo);
	int rc;

	rc = lifecycle_container_set(&d->lc, c, CONTAINER_DEPLOYING, detail, "container.retried",
	                             err, "fetching %s at %s again", c->source_repo, c->source_tag);
	free(detail);
	return rc;
}

/* A container created before its source was fetched has no deployment to
 * update yet. A retry of one whose fetch failed fetches again: 202 with the
 * container (there is no update object: the first deployment is retried). */
static void
update_pending(struct api_req *r, struct berthd *d, struct store_container *c,
               enum update_kind kind)
{
	struct err err = ERR_INIT;
	json_t *out;
	int rc;

	if (c->status != CONTAINER_FAILED) {
		api_reply_error(r, 409, "no_deployment",
		                "container %s has no deployment yet: its source is being fetched",
		                c->name);
		return;
	}
	if (kind != UPDATE_KIND_RETRY) {
		api_reply_error(r, 409, "no_deployment",
		                "container %s failed before its first deployment; retry it",
		                c->name);
		return;
	}
	if ((rc = api_write(d, pending_retry_steps, c, &err)) < 0) {
		api_reply_store_error(r, rc, &err);
		return;
	}
	api_pending_resolve(d, c);
	if ((rc = api_json_container(d, r->who.org_name, c, &out, &err)) < 0)
		api_reply_store_error(r, rc, &err);
	else
		api_reply_json(r, 202, out);
}

static void
updates_create(struct api_req *r)
{
	static const char *const tag_fields[] = {"kind", "tag", NULL};
	static const char *const edit_fields[] = {"kind", "config", "secrets",
	                                          "env",  "debug",  NULL};
	static const char *const bare_fields[] = {"kind", NULL};
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct store_update latest = {0};
	struct update_job *j = xcalloc(1, sizeof *j);
	struct err err = ERR_INIT;
	const char *kind, *tag = NULL, *config = NULL;
	json_t *body;
	int rc;

	j->d = d;
	j->job.fetched = update_fetched;
	j->job.free = update_job_free;
	if ((body = api_req_json(r)) == NULL) {
		update_job_free(&j->job);
		return;
	}
	if (api_json_get_string(r, body, "kind", 0, &kind) < 0)
		goto out;
	if (kind == NULL || model_update_kind_parse(kind, &j->kind) < 0) {
		api_reply_error(r, 422, "invalid_field",
		                "kind: expected tag, edit-config, promote or retry");
		goto out;
	}
	switch (j->kind) {
	case UPDATE_KIND_TAG:
		if (api_json_check_fields(r, body, tag_fields) < 0 ||
		    api_json_get_string(r, body, "tag", 0, &tag) < 0)
			goto out;
		if (tag == NULL) {
			api_reply_error(r, 422, "invalid_field", "tag: required with kind tag");
			goto out;
		}
		break;
	case UPDATE_KIND_EDIT_CONFIG:
		if (api_json_check_fields(r, body, edit_fields) < 0 ||
		    api_json_get_string(r, body, "config", 1, &config) < 0 ||
		    api_json_get_secret_names(r, body, "secrets", &j->secrets, &j->secrets_given) <
		        0 ||
		    api_json_get_env(r, body, "env", &j->env) < 0)
			goto out;
		j->debug_given = json_object_get(body, "debug") != NULL;
		if (api_json_get_bool(r, body, "debug", &j->debug) < 0)
			goto out;
		j->config = config != NULL ? xstrdup(config) : NULL;
		break;
	case UPDATE_KIND_PROMOTE:
	case UPDATE_KIND_RETRY:
		if (api_json_check_fields(r, body, bare_fields) < 0)
			goto out;
		break;
	}
	if (api_container_lookup(r, r->captures[0], &c) < 0)
		goto out;
	j->name = xstrdup(c.name);
	if (c.pending != NULL) {
		update_pending(r, d, &c, j->kind);
		goto out;
	}
	if (j->kind != UPDATE_KIND_TAG) {
		update_finish(r, take_ptr(&j));
		goto out;
	}
	if (c.source_repo == NULL) {
		api_reply_error(r, 422, "no_source",
		                "tag: container %s was created from an uploaded config and has no "
		                "repo; use edit-config",
		                c.name);
		goto out;
	}
	/* Refuse a second update before a git fetch; update_finish checks again. */
	rc = store_update_latest(d->store, c.id, &latest, &err);
	if (rc == 0 && !model_update_is_terminal(&latest.state)) {
		api_reply_error(r, 409, "update_in_progress",
		                "an update is in progress; cancel it or wait for it to end");
		goto out;
	}
	api_fetch_init(&j->job.fetch, d, c.source_repo, tag);
	/* A source slower than the API's wait: the tag as berth's copy has it
	 * (the one the tag list showed), when it has it. */
	api_fetch_job_start(r, d, &j->job, 0, 1);
	j = NULL;
out:
	if (j != NULL)
		update_job_free(&j->job);
	store_update_clear(&latest);
	store_container_clear(&c);
	json_decref(body);
}

static void
updates_list(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct store_update *us = NULL;
	struct err err = ERR_INIT;
	json_t *list;
	size_t n = 0;
	int rc;

	if (api_container_lookup(r, r->captures[0], &c) < 0)
		return;
	if ((rc = store_update_list(d->store, c.id, &us, &n, &err)) < 0) {
		api_reply_store_error(r, rc, &err);
		goto out;
	}
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_json_update(&us[i]));
	api_reply_json(r, 200, list);
out:
	store_update_list_free(us, n);
	store_container_clear(&c);
}

/* What a cancel writes (cancel_steps): the update, its event. */
struct cancel_write {
	const struct store_container *c;
	struct store_update *u; /* the update cancelled */
};

static int
cancel_steps(struct berthd *d, void *arg, struct err *err)
{
	struct cancel_write *w = arg;

	return lifecycle_update_cancel(&d->lc, w->c, w->u, NULL, err);
}

static void
updates_cancel(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct store_update u = {0};
	struct cancel_write w;
	struct err err = ERR_INIT;
	int rc;

	if (api_container_lookup(r, r->captures[0], &c) < 0)
		return;
	w = (struct cancel_write){.c = &c, .u = &u};
	if ((rc = api_write(d, cancel_steps, &w, &err)) == 0)
		api_reply_kicked(r, c.id, 202, api_json_update(&u));
	else if (rc == STORE_ENOTFOUND)
		api_reply_error(r, 404, "not_found", "container %s has no update to cancel",
		                c.name);
	else if (rc == STORE_ESTATE)
		api_reply_error(r, 409, "not_cancellable", "%s", err.msg);
	else
		api_reply_store_error(r, rc, &err);
	store_update_clear(&u);
	store_container_clear(&c);
}

const struct api_route api_routes_updates[] = {
    {.method = API_POST, .pattern = "/api/v1/containers/{}/updates", .handler = updates_create},
    {.method = API_GET, .pattern = "/api/v1/containers/{}/updates", .handler = updates_list},
    {.method = API_POST,
     .pattern = "/api/v1/containers/{}/updates/current/cancel",
     .handler = updates_cancel},
    {0},
};
