/* /api/v1/containers: list, create, get, delete, tags, events. */
#include <event2/http.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-common.h"
#include "api/api-deploy.h"
#include "api/api-json.h"
#include "api/api-pending.h"
#include "api/api-render.h"
#include "api/api-routes.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "eventlog/eventlog.h"
#include "lifecycle/lifecycle.h"
#include "model/model.h"
#include "recon/recon.h"
#include "store/store.h"

/* The cached answer of the org's list, when the store has not moved since. */
static struct berthd_list_cache *
containers_list_cached(struct berthd *d, const char *org_id)
{
	/* The generation counts this handle's writes only; a replica's peers
	 * write too. */
	if (d->leader != NULL)
		return NULL;
	for (int i = 0; i < BERTHD_LIST_CACHE; i++) {
		struct berthd_list_cache *e = &d->list_cache[i];

		if (e->body != NULL && strcmp(e->org_id, org_id) == 0 &&
		    e->generation == store_generation(d->store))
			return e;
	}
	return NULL;
}

/* Keeps body (taken) as the org's list at generation; returns the entry. */
static struct berthd_list_cache *
containers_list_remember(struct berthd *d, const char *org_id, uint64_t generation, char *body,
                         size_t len)
{
	struct berthd_list_cache *e = NULL;
	struct berthd_list_body *b = xmalloc(sizeof *b);

	b->refs = 1;
	b->len = len;
	b->text = body;
	for (int i = 0; i < BERTHD_LIST_CACHE && e == NULL; i++)
		if (strcmp(d->list_cache[i].org_id, org_id) == 0)
			e = &d->list_cache[i];
	if (e == NULL)
		e = &d->list_cache[d->list_cache_next++ % BERTHD_LIST_CACHE];
	berthd_list_body_unref(e->body);
	snprintf(e->org_id, sizeof e->org_id, "%s", org_id);
	e->generation = generation;
	e->body = b;
	return e;
}

static void
list_body_sent(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	berthd_list_body_unref(arg);
}

/* Answers with the cached text: a reference, not a copy. */
static void
containers_list_send(struct api_req *r, struct berthd_list_body *b)
{
	b->refs++;
	api_reply_ref(r, 200, "application/json", b->text, b->len, list_body_sent, b);
}

static void
containers_list(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container_head *hs = NULL;
	struct berthd_list_cache *hit = containers_list_cached(d, r->who.org_id);
	uint64_t generation = store_generation(d->store);
	struct err err = ERR_INIT;
	struct buf body = BUF_INIT;
	size_t n = 0, len;
	int rc;

	/* Nothing was written since the last answer: it still holds. */
	if (hit != NULL) {
		containers_list_send(r, hit->body);
		return;
	}
	if ((rc = store_container_heads(d->store, r->who.org_id, &hs, &n, &err)) < 0)
		goto fail;
	/* Something was: only the containers it touched are read and rendered
	 * again. */
	if ((rc = api_render_list(d, r->who.org_id, r->who.org_name, hs, n, &body, &err)) < 0)
		goto fail;
	free(hs);
	buf_putc(&body, '\n');
	/* Reading does not write: the generation is still the one read at. */
	len = body.len;
	hit = containers_list_remember(d, r->who.org_id, generation, buf_take(&body), len);
	containers_list_send(r, hit->body);
	return;
fail:
	free(hs);
	buf_free(&body);
	api_reply_store_error(r, rc, &err);
}

static void
containers_get(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct err err = ERR_INIT;
	json_t *out;
	int rc;

	if (api_container_lookup(r, r->captures[0], &c) < 0)
		return;
	if ((rc = api_json_container(d, r->who.org_name, &c, &out, &err)) < 0)
		api_reply_store_error(r, rc, &err);
	else
		api_reply_json(r, 200, out);
	store_container_clear(&c);
}

/* A POST /containers on its way: the body's values, the source's config
 * once a worker has read it, and what create_steps() writes. */
struct create_job {
	struct api_fetch_job job; /* first; its fetch with from_repo */
	struct berthd *d;         /* borrowed */
	char *name;               /* owned */
	char *config;             /* owned or NULL: uploaded YAML */
	int debug;
	char **secrets; /* owned strv */
	json_t *env;    /* owned object or NULL */
	int from_repo;
	int pending;                 /* written before its source was fetched */
	struct store_container c;    /* the row written */
	struct store_deployment dep; /* its first deployment, unless pending */
};

static void
create_job_free(struct api_fetch_job *job)
{
	struct create_job *j = (struct create_job *)job;

	free(j->name);
	free(j->config);
	strv_free(j->secrets);
	json_decref(j->env);
	api_fetch_clear(&j->job.fetch);
	store_deployment_clear(&j->dep);
	store_container_clear(&j->c);
	free(j);
}

/* The container, its first deployment, bindings and settings, and the
 * event (api_write's steps). */
static int
create_steps(struct berthd *d, void *arg, struct err *err)
{
	struct create_job *j = arg;
	struct store_container *c = &j->c;
	const char *key;
	json_t *val;
	int rc;

	if ((rc = store_container_create(d->store, c, err)) < 0)
		return rc;
	if (!j->pending) {
		if ((rc = api_deploy_write(d, c->id, &j->dep, err)) < 0)
			return rc;
		snprintf(c->deployment_id, sizeof c->deployment_id, "%s", j->dep.id);
		if ((rc = store_container_save(d->store, c, err)) < 0)
			return rc;
	}
	json_object_foreach(j->env, key, val)
	{
		if ((rc = store_setting_set(d->store, c->id, key, json_string_value(val), err)) < 0)
			return rc;
	}
	return eventlog_add(
	    d->events, c, "container.created", err, "container %s created from %s%s%s%s%s", c->name,
	    j->from_repo ? c->source_repo : "an uploaded config", j->from_repo ? " at " : "",
	    j->from_repo ? j->job.fetch.tag : "", c->debug ? " (debug)" : "",
	    j->pending ? "; its source is still being fetched" : "");
}

/* Checks the create and writes it (create_steps); answers 202 with the
 * container. pending: the source is still being fetched; the container is
 * written without a deployment, which api-pending.c writes when the fetch
 * ends. Takes j. */
static void
create_write(struct api_req *r, struct create_job *j, int pending)
{
	struct berthd *d = j->d;
	struct store_container *c = &j->c;
	const struct api_fetch *f = &j->job.fetch;
	struct api_deploy_spec spec = {0};
	struct err err = ERR_INIT;
	char file[256];
	json_t *out = NULL;
	int rc;

	j->pending = pending;
	if (j->from_repo) {
		snprintf(file, sizeof file, "%s@%s", SOURCE_CONFIG_FILE, f->tag);
		spec.file = file;
		spec.config = f->text;
		spec.config_len = f->len;
		spec.tag = f->tag;
		spec.commit = f->commit;
	} else {
		spec.file = "config";
		spec.config = j->config;
		spec.config_len = strlen(j->config);
	}
	spec.debug = j->debug;
	spec.secrets = j->secrets;
	spec.env = j->env;
	if (pending) {
		struct api_refusal why = {0};
		json_t *names = json_array();

		/* What can be checked without the config is. */
		if (api_deploy_check_names(d, &r->who, j->secrets, &why) < 0) {
			json_decref(names);
			api_refusal_reply(r, &why);
			goto out;
		}
		for (char **n = j->secrets; n != NULL && *n != NULL; n++)
			json_array_append_new(names, json_string(*n));
		names = json_pack("{s:o}", "secrets", names);
		c->pending = json_dumps(names, JSON_COMPACT);
		json_decref(names);
	} else if (api_deploy_prepare(r, d, &spec, &j->dep, NULL) < 0) {
		goto out;
	}

	snprintf(c->org_id, sizeof c->org_id, "%.*s", STORE_ID_LEN, r->who.org_id);
	c->name = xstrdup(j->name);
	c->status = CONTAINER_DEPLOYING;
	c->status_detail = pending ? xasprintf("fetching %s", f->repo) : xstrdup("queued");
	c->debug = pending ? j->debug : j->dep.debug;
	c->source_repo = !j->from_repo ? NULL : pending ? xstrdup(f->repo) : xstrdup(f->url);
	c->source_tag = j->from_repo ? xstrdup(f->tag) : NULL;
	if ((rc = api_write(d, create_steps, j, &err)) < 0) {
		if (rc == STORE_ECONFLICT)
			api_reply_error(r, 409, "name_taken", "name: a container named %s exists",
			                j->name);
		else
			api_reply_store_error(r, rc, &err);
		goto out;
	}
	if (pending)
		api_pending_resolve(d, c);
	else
		berthd_kick(d, c->id);
	if ((rc = api_json_container(d, r->who.org_name, c, &out, &err)) < 0)
		api_reply_store_error(r, rc, &err);
	else
		api_reply_json(r, 202, out);
out:
	create_job_free(&j->job);
}

static void
create_fetched(struct api_req *r, struct api_fetch_job *job)
{
	create_write(r, (struct create_job *)job, 0);
}

/* The source has not answered within the API's wait: the container is
 * created now and deployed when the fetch ends. */
static void
create_waiting(struct api_req *r, struct api_fetch_job *job)
{
	create_write(r, (struct create_job *)job, 1);
}

static void
containers_create(struct api_req *r)
{
	static const char *const fields[] = {"name",  "repo",    "tag", "config",
	                                     "debug", "secrets", "env", NULL};
	struct berthd *d = api_daemon(r);
	struct store_container existing = {0};
	struct create_job *j = NULL;
	struct err err = ERR_INIT;
	const char *name, *repo, *tag, *config;
	json_t *body;
	int present, rc;

	if ((body = api_req_json(r)) == NULL)
		return;
	j = xcalloc(1, sizeof *j);
	j->d = d;
	j->job.fetched = create_fetched;
	j->job.waiting = create_waiting;
	j->job.free = create_job_free;
	if (api_json_check_fields(r, body, fields) < 0 ||
	    api_json_get_string(r, body, "name", 0, &name) < 0 ||
	    api_json_get_string(r, body, "repo", 1, &repo) < 0 ||
	    api_json_get_string(r, body, "tag", 1, &tag) < 0 ||
	    api_json_get_string(r, body, "config", 1, &config) < 0 ||
	    api_json_get_bool(r, body, "debug", &j->debug) < 0 ||
	    api_json_get_secret_names(r, body, "secrets", &j->secrets, &present) < 0 ||
	    api_json_get_env(r, body, "env", &j->env) < 0)
		goto out;
	if (name == NULL) {
		api_reply_error(r, 422, "invalid_field", "name: required");
		goto out;
	}
	if (!api_json_dns_label(name)) {
		api_reply_error(r, 422, "invalid_name",
		                "name: \"%s\" is not a DNS label (a-z, 0-9 and -, at most 63, "
		                "not starting or ending with -)",
		                name);
		goto out;
	}
	if (config != NULL && (repo != NULL || tag != NULL)) {
		api_reply_error(r, 422, "invalid_request",
		                "config: give either repo and tag, or config, not both");
		goto out;
	}
	if (config == NULL && (repo == NULL || tag == NULL)) {
		api_reply_error(r, 422, "invalid_request",
		                repo != NULL  ? "tag: required with repo"
		                : tag != NULL ? "repo: required with tag"
		                              : "config: give either repo and tag, or config");
		goto out;
	}
	/* Fail fast before a git fetch; the transaction checks again. */
	rc = store_container_get_by_name(d->store, r->who.org_id, name, &existing, &err);
	store_container_clear(&existing);
	if (rc == 0) {
		api_reply_error(r, 409, "name_taken", "name: a container named %s exists", name);
		goto out;
	}
	if (rc != STORE_ENOTFOUND) {
		api_reply_store_error(r, rc, &err);
		goto out;
	}
	j->name = xstrdup(name);
	if (config != NULL) {
		j->config = xstrdup(config);
		create_write(r, take_ptr(&j), 0);
	} else {
		j->from_repo = 1;
		api_fetch_init(&j->job.fetch, d, repo, tag);
		api_fetch_job_start(r, d, &j->job, 0, 0);
		j = NULL;
	}
out:
	if (j != NULL)
		create_job_free(&j->job);
	json_decref(body);
}

/* A delete's steps: the update in progress cancelled (mark_deleted would
 * cancel it too, unsaid), the container marked, the event. */
static int
delete_steps(struct berthd *d, void *arg, struct err *err)
{
	struct store_container *c = arg;
	struct store_update u = {0};
	int rc;

	rc = store_update_latest(d->store, c->id, &u, err);
	if (rc == STORE_ENOTFOUND) {
		err_clear(err);
		rc = 0;
	} else if (rc == 0 && model_update_can_cancel(&u.state)) {
		store_update_clear(&u); /* the cancel fills it again */
		rc = lifecycle_update_cancel(&d->lc, c, &u, "by its delete", err);
	}
	store_update_clear(&u);
	if (rc < 0 || (rc = store_container_mark_deleted(d->store, c->id, err)) < 0)
		return rc;
	return eventlog_add(d->events, c, "container.deleting", err,
	                    "container %s is being deleted", c->name);
}

static void
containers_delete(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct err err = ERR_INIT;
	int rc;

	if (api_container_lookup(r, r->captures[0], &c) < 0)
		return;
	if ((rc = api_write(d, delete_steps, &c, &err)) < 0)
		api_reply_store_error(r, rc, &err);
	else
		api_reply_kicked(r, c.id, 202,
		                 json_pack("{s:s,s:s}", "name", c.name, "status", "deleting"));
	store_container_clear(&c);
}

/* A tag list this fresh answers from the mirror without fetching. */
#define API_TAGS_FRESH_MS 10000

static void
tags_free(struct api_fetch_job *job)
{
	api_fetch_clear(&job->fetch);
	free(job);
}

static void
tags_fetched(struct api_req *r, struct api_fetch_job *job)
{
	struct api_fetch *f = &job->fetch;
	json_t *list;

	/* The tags as the mirror has them, and how old that is. */
	if (f->age_s >= 0) {
		char age[32];

		snprintf(age, sizeof age, "%lld", (long long)f->age_s);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Age", age);
	}
	list = json_array();
	for (size_t i = 0; i < f->n_tags; i++) {
		json_t *t = json_pack("{s:s,s:s,s:b}", "tag", f->tags[i].name, "commit",
		                      f->tags[i].commit, "valid", f->tags[i].valid);

		if (!f->tags[i].valid && f->tags[i].error != NULL)
			json_object_set_new(t, "error", json_string(f->tags[i].error));
		json_array_append_new(list, t);
	}
	api_reply_json(r, 200, list);
	tags_free(job);
}

static void
containers_tags(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct api_fetch_job *job;

	if (api_container_lookup(r, r->captures[0], &c) < 0)
		return;
	if (c.source_repo == NULL) {
		api_reply_error(r, 422, "no_source",
		                "container %s was created from an uploaded config and has no repo",
		                c.name);
		store_container_clear(&c);
		return;
	}
	job = xcalloc(1, sizeof *job);
	api_fetch_init(&job->fetch, d, c.source_repo, NULL);
	job->fetch.list_tags = 1;
	job->fetched = tags_fetched;
	job->free = tags_free;
	store_container_clear(&c);
	api_fetch_job_start(r, d, job, API_TAGS_FRESH_MS, 1);
}

/* Parses ?after=<id>: 0 when absent. Answers 400 and returns -1 when bad. */
static int
events_after(struct api_req *r, int64_t *after)
{
	char *s = api_req_query(r, "after"), *end;
	long long v;
	int rc = 0;

	*after = 0;
	if (s == NULL)
		return 0;
	v = strtoll(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < 0 || v == LLONG_MAX) {
		api_reply_error(r, 400, "invalid_query", "after: expected an event id, not \"%s\"",
		                s);
		rc = -1;
	} else {
		*after = v;
	}
	free(s);
	return rc;
}

static void
containers_events(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct store_event *evs = NULL;
	struct err err = ERR_INIT;
	json_t *list;
	int64_t after;
	size_t n = 0;
	int rc;

	if (events_after(r, &after) < 0 || api_container_lookup(r, r->captures[0], &c) < 0)
		return;
	rc = store_event_list(d->store, r->who.org_id, c.id, after, 0, &evs, &n, &err);
	if (rc < 0) {
		api_reply_store_error(r, rc, &err);
		goto out;
	}
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_json_event(&evs[i]));
	api_reply_json(r, 200, list);
out:
	store_event_list_free(evs, n);
	store_container_clear(&c);
}

const struct api_route api_routes_containers[] = {
    {.method = API_GET, .pattern = "/api/v1/containers", .handler = containers_list},
    {.method = API_POST, .pattern = "/api/v1/containers", .handler = containers_create},
    {.method = API_GET, .pattern = "/api/v1/containers/{}", .handler = containers_get},
    {.method = API_DELETE, .pattern = "/api/v1/containers/{}", .handler = containers_delete},
    {.method = API_GET, .pattern = "/api/v1/containers/{}/tags", .handler = containers_tags},
    {.method = API_GET, .pattern = "/api/v1/containers/{}/events", .handler = containers_events},
    {0},
};
