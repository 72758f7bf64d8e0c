#include "api/api-deploy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-common.h"
#include "common/strmap.h"
#include "common/util.h"
#include "config/config.h"
#include "config/measurement.h"
#include "daemon/daemon.h"
#include "source/source.h"
#include "store/store.h"

void
api_fetch_init(struct api_fetch *f, struct berthd *d, const char *repo, const char *tag)
{
	memset(f, 0, sizeof *f);
	f->cache_dir = xasprintf("%s/sources", d->settings.state_dir);
	f->opts = &d->sources;
	f->repo = xstrdup(repo);
	f->tag = tag != NULL ? xstrdup(tag) : NULL;
}

void
api_fetch_run(struct api_fetch *f)
{
	struct source_repo *repo = NULL;

	f->stage = API_FETCH_SYNC;
	f->rc = f->synced ? source_open(f->cache_dir, f->repo, f->opts, &repo, &f->err)
	                  : source_sync(f->cache_dir, f->repo, f->opts, &repo, &f->err);
	if (f->rc < 0)
		return;
	f->url = xstrdup(source_url(repo));
	if (f->tag != NULL) {
		f->stage = API_FETCH_TAG;
		if ((f->rc = source_tag_commit(repo, f->tag, f->commit, &f->err)) < 0)
			goto out;
		f->stage = API_FETCH_READ;
		if ((f->rc = source_read_file(repo, f->tag, SOURCE_CONFIG_FILE, &f->text, &f->len,
		                              &f->err)) < 0)
			goto out;
	}
	if (f->list_tags) {
		f->stage = API_FETCH_TAGS;
		f->rc =
		    source_tags(repo, source_validate_config, NULL, &f->tags, &f->n_tags, &f->err);
	}
out:
	source_close(repo);
}

static void
fetch_job_work(void *p)
{
	api_fetch_run(&((struct api_fetch_job *)p)->fetch);
}

static void
fetch_job_done(struct api_req *r, void *p)
{
	struct api_fetch_job *job = p;

	if (r == NULL || (job->use_stale ? api_fetch_check_copy(r, &job->fetch)
	                                 : api_fetch_check(r, &job->fetch)) < 0)
		job->free(job);
	else
		job->fetched(r, job);
}

static void
fetch_job_waited(struct api_req *r, void *p, enum api_source_result res, int64_t age_s,
                 const struct err *err)
{
	struct api_fetch_job *job = p;
	struct api_fetch *f = &job->fetch;
	char host[256];

	f->source = res;
	f->age_s = age_s;
	if (r == NULL) {
		job->free(job);
	} else if (res == API_SOURCE_FETCHED || job->use_stale) {
		/* Fetched, or the mirror as it is will do: read it. */
		f->synced = 1;
		if (res == API_SOURCE_FAILED)
			f->source_err = *err;
		api_async(r, fetch_job_work, fetch_job_done, job);
	} else if (res == API_SOURCE_FAILED) {
		f->stage = API_FETCH_SYNC;
		f->rc = -1;
		f->err = *err;
		fetch_job_done(r, job);
	} else if (job->waiting != NULL) {
		job->waiting(r, job);
	} else {
		source_url_host(f->repo, host, sizeof host);
		api_reply_error(r, 504, "source_timeout",
		                "repo: %s has not answered within %d ms; berth goes on fetching "
		                "%s (up to --fetch-connect-timeout): ask again shortly",
		                host, API_SOURCE_WAIT_MS, f->repo);
		job->free(job);
	}
}

void
api_fetch_job_start(struct api_req *r, struct berthd *d, struct api_fetch_job *job,
                    int64_t fresh_ms, int use_stale)
{
	job->use_stale = use_stale;
	api_source_fetch(r, d, job->fetch.repo, fresh_ms, fetch_job_waited, job);
}

static int refuse(struct api_refusal *why, int status, const char *code, const char *fmt, ...)
    BERTH_PRINTF(4, 5);

static int
refuse(struct api_refusal *why, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(why->message);
	why->status = status;
	why->code = code;
	why->message = msg;
	return -1;
}

void
api_refusal_reply(struct api_req *r, struct api_refusal *why)
{
	api_reply_object(r, why->status,
	                 json_pack("{s:{s:s,s:s}}", "error", "code", why->code, "message",
	                           why->message != NULL ? why->message : ""));
	api_refusal_clear(why);
}

void
api_refusal_clear(struct api_refusal *why)
{
	free(why->message);
	memset(why, 0, sizeof *why);
}

int
api_fetch_refusal(const struct api_fetch *f, struct api_refusal *why)
{
	if (f->rc == 0)
		return 0;
	switch (f->stage) {
	case API_FETCH_SYNC:
		/* The sentence names the source (and what failed). */
		return refuse(why, 422, "invalid_source", "repo: %s", f->err.msg);
	case API_FETCH_TAG:
		return refuse(why, 422, "unknown_tag", "tag: %s is not a tag of %s", f->tag,
		              f->url != NULL ? f->url : f->repo);
	case API_FETCH_READ:
		return refuse(why, 422, "invalid_config", "%s@%s: cannot read it: %s",
		              SOURCE_CONFIG_FILE, f->tag, f->err.msg);
	case API_FETCH_TAGS:
		return refuse(why, 500, "internal", "listing the tags of %s failed: %s", f->repo,
		              f->err.msg);
	}
	return -1;
}

int
api_fetch_check(struct api_req *r, const struct api_fetch *f)
{
	struct api_refusal why = {0};

	if (api_fetch_refusal(f, &why) == 0)
		return 0;
	api_refusal_reply(r, &why);
	return -1;
}

int
api_fetch_check_copy(struct api_req *r, const struct api_fetch *f)
{
	char host[256];

	if (f->rc == 0 || f->source == API_SOURCE_FETCHED ||
	    (f->stage != API_FETCH_SYNC && f->stage != API_FETCH_TAG))
		return api_fetch_check(r, f);
	/* berth's copy, as it was, lacks what was asked for. */
	source_url_host(f->repo, host, sizeof host);
	if (f->source == API_SOURCE_FAILED)
		api_reply_error(r, 422, "invalid_source", "repo: %s", f->source_err.msg);
	else if (f->stage == API_FETCH_SYNC)
		api_reply_error(r, 504, "source_timeout",
		                "repo: %s has not answered within %d ms and berth has no copy of "
		                "%s yet; it goes on fetching: ask again shortly",
		                host, API_SOURCE_WAIT_MS, f->repo);
	else
		api_reply_error(r, 504, "source_timeout",
		                "tag: %s is not in berth's copy of %s, and %s has not answered "
		                "within %d ms; berth goes on fetching: ask again shortly",
		                f->tag, f->repo, host, API_SOURCE_WAIT_MS);
	return -1;
}

void
api_fetch_clear(struct api_fetch *f)
{
	free(f->cache_dir);
	free(f->repo);
	free(f->tag);
	free(f->url);
	free(f->text);
	source_tags_free(f->tags, f->n_tags);
	memset(f, 0, sizeof *f);
}

/* A 422 with every error of a config, one "file:line:col: key: sentence"
 * line each (longer than api_reply_error's sentences may be). */
static int
api_deploy_config_errors(struct api_refusal *why, const struct config_errors *errs)
{
	char *msg = config_errors_format(errs);
	size_t n = strlen(msg);

	if (n > 0 && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	refuse(why, 422, "invalid_config", "%s", msg);
	free(msg);
	return -1;
}

/* 422 unless every name is a secret of the org. */
static int
api_deploy_check_secrets(struct berthd *d, const struct api_principal *who, char *const *names,
                         const char *what, struct api_refusal *why)
{
	struct store_secret *secrets = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;
	int rc = 0;

	if (names == NULL)
		return 0;
	if ((rc = store_secret_list(d->store, who->org_id, &secrets, &n, &err)) < 0)
		return refuse(why, 500, "internal", "reading the secrets failed: %s", err.msg);
	for (size_t i = 0; names[i] != NULL && rc == 0; i++) {
		size_t j;

		for (j = 0; j < n && strcmp(secrets[j].name, names[i]) != 0; j++)
			;
		if (j == n) {
			rc = refuse(why, 422, "unknown_secret",
			            "%s: %s is not a secret of org %s; set it first", what,
			            names[i], who->org_name);
		}
	}
	store_secret_list_free(secrets, n);
	return rc;
}

int
api_deploy_prepare(struct api_req *r, struct berthd *d, const struct api_deploy_spec *spec,
                   struct store_deployment *dep, struct config **cfg)
{
	struct api_refusal why = {0};

	if (api_deploy_check(d, &r->who, spec, dep, cfg, &why) == 0)
		return 0;
	api_refusal_reply(r, &why);
	return -1;
}

int
api_deploy_check(struct berthd *d, const struct api_principal *who,
                 const struct api_deploy_spec *spec, struct store_deployment *dep,
                 struct config **cfg, struct api_refusal *why)
{
	struct config_errors errs;
	struct config *c = NULL;
	const char *iso;
	char **names = NULL;
	json_t *jimages = NULL, *jnames = NULL;
	int rc = -1;

	memset(&errs, 0, sizeof errs);
	memset(dep, 0, sizeof *dep);
	/* Answers carry the text as a JSON string, which must be UTF-8. */
	if ((jnames = json_stringn(spec->config, spec->config_len)) == NULL) {
		refuse(why, 422, "invalid_config", "%s: the file is not UTF-8 text", spec->file);
		goto out;
	}
	json_decref(take_ptr(&jnames));
	if (config_parse(spec->file, spec->config, spec->config_len, &c, &errs) < 0) {
		api_deploy_config_errors(why, &errs);
		goto out;
	}
	/* Valid, but asking for what berth cannot give yet: said, not ignored. */
	if (config_unsupported(c, &errs) < 0) {
		api_deploy_config_errors(why, &errs);
		why->code = "unsupported_config";
		goto out;
	}
	/* Resolved now and recorded: a later --runtime does not change what
	 * this deployment is, nor its measurement. */
	iso = spec->isolation != NULL       ? spec->isolation
	      : c->deploy.isolation != NULL ? c->deploy.isolation
	                                    : berthd_isolation_default(d);
	if (!berthd_isolation_available(d, iso)) {
		char *offered = berthd_isolation_offered(d);

		if (spec->isolation == NULL && c->deploy.isolation != NULL)
			refuse(why, 422, "isolation_unavailable",
			       "%s: deploy.isolation: isolation %s is not available on this "
			       "host: it offers %s",
			       spec->file, iso, offered);
		else
			refuse(why, 422, "isolation_unavailable",
			       "isolation %s is not available on this host: it offers %s", iso,
			       offered);
		free(offered);
		goto out;
	}
	/* A registry's password is bound like a secret (opened at boot,
	 * redacted from what the enclave prints) but given to no container;
	 * each is checked first, for a sentence naming where it is asked for. */
	for (size_t i = 0; i < c->n_containers; i++) {
		const struct config_container *cc = &c->containers[i];
		char *one[2] = {cc->registry_password_secret, NULL};
		char *what;
		int bad;

		if (cc->registry_password_secret == NULL)
			continue;
		what = xasprintf("%s: containers[%zu].registry.password_secret", spec->file, i);
		bad = api_deploy_check_secrets(d, who, one, what, why) < 0;
		free(what);
		if (bad)
			goto out;
	}
	names = measurement_secret_names(c, spec->secrets);
	if (api_deploy_check_secrets(d, who, names, "secrets", why) < 0)
		goto out;

	jimages = json_array();
	for (size_t i = 0; i < c->n_containers; i++)
		json_array_append_new(jimages, json_string(c->containers[i].image));
	jnames = json_array();
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		json_array_append_new(jnames, json_string(names[i]));
	dep->measurement = xmalloc(65);
	measurement_of_config(c, spec->debug, names, iso, dep->measurement);
	dep->tag = spec->tag != NULL ? xstrdup(spec->tag) : NULL;
	snprintf(dep->commit, sizeof dep->commit, "%s", spec->commit != NULL ? spec->commit : "");
	dep->config = xstrndup(spec->config, spec->config_len);
	/* The canonical form's hash, as `berth config validate` prints it: the
	 * same config written differently is the same config. */
	memcpy(dep->config_sha256, c->config_sha256, sizeof dep->config_sha256);
	dep->debug = spec->debug ? 1 : 0;
	dep->isolation = xstrdup(iso);
	dep->images_json = json_dumps(jimages, JSON_COMPACT);
	dep->secrets_json = json_dumps(jnames, JSON_COMPACT);
	dep->env_json = spec->env != NULL ? json_dumps(spec->env, JSON_COMPACT | JSON_SORT_KEYS)
	                                  : xstrdup("{}");
	if (cfg != NULL)
		*cfg = take_ptr(&c);
	rc = 0;
out:
	json_decref(jimages);
	json_decref(jnames);
	strv_free(names);
	config_free(c);
	config_errors_free(&errs);
	return rc;
}

int
api_deploy_write(struct berthd *d, const char *container_id, struct store_deployment *dep,
                 struct err *err)
{
	json_t *names, *v;
	size_t i;
	int rc;

	snprintf(dep->container_id, sizeof dep->container_id, "%s", container_id);
	if ((rc = store_deployment_create(d->store, dep, err)) < 0)
		return rc;
	names = json_loads(dep->secrets_json, 0, NULL);
	json_array_foreach(names, i, v)
	{
		rc = store_binding_add(d->store, container_id, dep->id, json_string_value(v), err);
		if (rc < 0)
			break;
	}
	json_decref(names);
	return rc;
}

char **
api_deploy_names_of(const char *json_names)
{
	json_t *list = json_loads(json_names != NULL ? json_names : "[]", 0, NULL);
	json_t *v;
	char **names = NULL;
	size_t i;

	json_array_foreach(list, i, v)
	{
		if (json_is_string(v))
			names = strv_push(names, json_string_value(v));
	}
	json_decref(list);
	return names;
}

int
api_deploy_settings_of(struct berthd *d, const char *container_id, json_t **out, struct err *err)
{
	struct store_setting *s = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_setting_list(d->store, container_id, &s, &n, err)) < 0)
		return rc;
	*out = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(*out, s[i].key, json_string(s[i].value));
	store_setting_list_free(s, n);
	return 0;
}

int
api_deploy_check_names(struct berthd *d, const struct api_principal *who, char *const *names,
                       struct api_refusal *why)
{
	return api_deploy_check_secrets(d, who, names, "secrets", why);
}

int
api_deploy_host_gpus(struct berthd *d)
{
	return d->settings.gpus > 0 ? d->settings.gpus : 0;
}

int
api_deploy_config_gpus(const char *config, int host_gpus)
{
	struct config_errors errs;
	struct config *c = NULL;
	int n = 0;

	memset(&errs, 0, sizeof errs);
	if (config != NULL && config_parse("config", config, strlen(config), &c, &errs) == 0)
		n = config_gpus_required(c, host_gpus);
	config_free(c);
	config_errors_free(&errs);
	return n;
}

int
api_deploy_gpus_in_use(struct berthd *d, const char *container_id, int host_gpus, int *out,
                       struct err *err)
{
	/* A deployment's config never changes, nor then its GPUs: each is
	 * parsed once ("id/host GPUs" -> GPUs + 1), not once per write. The map
	 * is made again of the current deployments at each call, so it never
	 * holds more than there are containers. */
	struct strmap *was = d->deployment_gpus, *now = strmap_new();
	struct store_container_head *cs = NULL;
	size_t n = 0;
	int rc, total = 0;

	if ((rc = store_container_heads(d->store, NULL, &cs, &n, err)) < 0) {
		strmap_free(now, NULL);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		char key[sizeof cs[i].deployment_id + 16];
		intptr_t gpus;

		if (cs[i].deployment_id[0] == '\0')
			continue;
		snprintf(key, sizeof key, "%s/%d", cs[i].deployment_id, host_gpus);
		gpus = was != NULL ? (intptr_t)strmap_get(was, key) : 0;
		if (gpus == 0) {
			struct store_deployment dep = {0};

			if ((rc = store_deployment_get(d->store, cs[i].deployment_id, &dep, err)) <
			    0)
				break;
			gpus = api_deploy_config_gpus(dep.config, host_gpus) + 1;
			store_deployment_clear(&dep);
		}
		strmap_put(now, key, (void *)gpus);
		if (strcmp(cs[i].id, container_id) != 0)
			total += (int)gpus - 1;
	}
	free(cs);
	strmap_free(was, NULL);
	d->deployment_gpus = now;
	*out = total;
	return rc;
}
