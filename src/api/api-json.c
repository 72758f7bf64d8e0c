#include "api/api-json.h"

#include <string.h>

#include "common/util.h"
#include "daemon/daemon.h"
#include "model/model.h"
#include "secret/secret.h"
#include "store/store.h"
#include "tls/certs.h"

json_t *
api_json_time(int64_t ms)
{
	char when[32];

	if (ms == 0)
		return json_null();
	time_rfc3339(ms, when);
	return json_string(when);
}

static json_t *
api_json_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* A JSON column of the store parsed, or fallback (a new reference) when it is
 * missing or unreadable: the store writes these columns, so that is a bug,
 * not something to fail a whole answer for. */
static json_t *
api_json_column(const char *text, json_t *fallback)
{
	json_t *v = text != NULL ? json_loads(text, 0, NULL) : NULL;

	if (v == NULL)
		return fallback;
	json_decref(fallback);
	return v;
}

json_t *
api_json_deployment(const struct store_deployment *dep)
{
	return json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:o,s:b,s:o,s:s,s:o}", "id", dep->id, "tag",
	                 api_json_str_or_null(dep->tag), "commit",
	                 api_json_str_or_null(dep->commit[0] ? dep->commit : NULL), "config",
	                 dep->config ? dep->config : "", "config_sha256", dep->config_sha256,
	                 "measurement", dep->measurement ? dep->measurement : "", "images",
	                 api_json_column(dep->images_json, json_array()), "debug", dep->debug,
	                 "secrets", api_json_column(dep->secrets_json, json_array()), "isolation",
	                 dep->isolation ? dep->isolation : "runc", "created_at",
	                 api_json_time(dep->created_at));
}

json_t *
api_json_update(const struct store_update *u)
{
	const char *phase = model_phase_str(u->state.phase);

	return json_pack(
	    "{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o}", "id", u->id, "kind",
	    model_update_kind_str(u->kind), "strategy", model_strategy_str(u->state.strategy),
	    "status", model_update_status_str(u->state.status), "phase",
	    api_json_str_or_null(phase), "from",
	    api_json_str_or_null(u->from_deployment_id[0] ? u->from_deployment_id : NULL), "to",
	    u->to_deployment_id, "error", api_json_str_or_null(u->error), "health_log",
	    api_json_column(u->health_log_json, json_array()), "created_at",
	    api_json_time(u->created_at), "finished_at", api_json_time(u->finished_at));
}

json_t *
api_json_event(const struct store_event *ev)
{
	return json_pack("{s:I,s:o,s:o,s:s,s:s}", "id", (json_int_t)ev->id, "time",
	                 api_json_time(ev->time), "container", api_json_str_or_null(ev->container),
	                 "kind", ev->kind, "message", ev->message ? ev->message : "");
}

json_t *
api_json_secret(const struct store_secret *s)
{
	json_t *bound = json_array();

	for (size_t i = 0; s->bound_to != NULL && s->bound_to[i] != NULL; i++)
		json_array_append_new(bound, json_string(s->bound_to[i]));
	return json_pack("{s:s,s:o,s:o,s:o}", "name", s->name, "created_at",
	                 api_json_time(s->created_at), "updated_at", api_json_time(s->updated_at),
	                 "bound_to", bound);
}

/* From c's enclave rows: into *keys the public parts of the attested keys
 * of the enclave serving c's deployment, the ones its attestation document
 * lists (a new list with each boot: a blue-green update's new enclave has
 * its own; [] when the config declares none, null while no enclave of that
 * deployment serves); into *host the id of that enclave's host (null for
 * berthd's own host, or while none serves); into *list c's enclaves not
 * stopped, [{name, deployment, state, host}]. -1 with err when the store
 * fails. */
static int
serving_enclaves(struct berthd *d, const struct store_container *c, json_t **keys, json_t **host,
                 json_t **list, struct err *err)
{
	struct store_enclave *v = NULL;
	size_t n = 0;

	*keys = json_null();
	*host = json_null();
	*list = json_array();
	if (store_enclave_list(d->store, c->id, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* A placement refused never was an enclave anywhere. */
		if (v[i].state == ENCLAVE_STOPPED ||
		    (v[i].state == ENCLAVE_FAILED && v[i].address == NULL && v[i].host_id == NULL &&
		     d->n_agent_hosts > 0))
			continue;
		json_array_append_new(*list, json_pack("{s:s,s:s,s:s,s:o}", "name", v[i].name,
		                                       "deployment", v[i].deployment_id, "state",
		                                       model_enclave_state_str(v[i].state), "host",
		                                       api_json_str_or_null(v[i].host_id)));
		if (c->deployment_id[0] != '\0' &&
		    strcmp(v[i].deployment_id, c->deployment_id) == 0 &&
		    (v[i].state == ENCLAVE_HEALTHY || v[i].state == ENCLAVE_UNHEALTHY)) {
			json_decref(*keys);
			*keys = api_json_column(v[i].attested_keys, json_array());
			json_decref(*host);
			*host = api_json_str_or_null(v[i].host_id);
		}
	}
	store_enclave_list_free(v, n);
	return 0;
}

int
api_json_container(struct berthd *d, const char *org_name, const struct store_container *c,
                   json_t **out, struct err *err)
{
	struct store_deployment dep = {0};
	struct store_update u = {0};
	struct store_setting *settings = NULL;
	size_t n_settings = 0;
	json_t *jdep = NULL, *jupd = NULL, *env = NULL, *cert = NULL, *keys = NULL, *on = NULL,
	       *enclaves = NULL;
	char *url = NULL, *debug_url = NULL, *tls_url = NULL;
	int rc;

	if (c->deployment_id[0] != '\0') {
		if ((rc = store_deployment_get(d->store, c->deployment_id, &dep, err)) < 0)
			goto out;
		jdep = api_json_deployment(&dep);
	}
	rc = store_update_latest(d->store, c->id, &u, err);
	if (rc == 0)
		jupd = api_json_update(&u);
	else if (rc == STORE_ENOTFOUND)
		err_clear(err);
	else
		goto out;
	if ((rc = store_setting_list(d->store, c->id, &settings, &n_settings, err)) < 0 ||
	    (rc = serving_enclaves(d, c, &keys, &on, &enclaves, err)) < 0)
		goto out;
	env = json_object();
	for (size_t i = 0; i < n_settings; i++)
		json_object_set_new(env, settings[i].key, json_string(settings[i].value));
	url = xasprintf("http://%s.%s.%s:%d", c->name, org_name, d->settings.domain,
	                d->settings.router_port);
	tls_url = d->settings.tls_port != 0 ? xasprintf("https://%s.%s.%s:%d", c->name, org_name,
	                                                d->settings.domain, d->settings.tls_port)
	                                    : NULL;
	debug_url = c->debug ? xasprintf("http://%s.%s.debug.%s:%d", c->name, org_name,
	                                 d->settings.domain, d->settings.router_port)
	                     : NULL;
	if (d->certs != NULL) {
		struct certs_info ci;
		char *host = xasprintf("%s.%s.%s", c->name, org_name, d->settings.domain);

		if (certs_info(d->certs, host, &ci) == 0)
			cert = json_pack("{s:s,s:o,s:s}", "issuer", ci.issuer, "not_after",
			                 api_json_time((int64_t)ci.not_after * 1000),
			                 "public_key_sha256", ci.public_key_sha256);
		free(host);
	}
	*out = json_pack(
	    "{s:s,s:s,s:s,s:o,s:s,s:o,s:s?,s:b,s:o,s:{s:o,s:o},s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,"
	    "s:o}",
	    "name", c->name, "org", org_name, "status", model_container_status_str(c->status),
	    "status_detail", api_json_str_or_null(c->status_detail), "url", url, "tls_url",
	    tls_url != NULL ? json_string(tls_url) : json_null(), "debug_url", debug_url, "debug",
	    c->debug, "isolation", api_json_str_or_null(jdep != NULL ? dep.isolation : NULL),
	    "source", "repo", api_json_str_or_null(c->source_repo), "tag",
	    api_json_str_or_null(c->source_tag), "deployment", jdep != NULL ? jdep : json_null(),
	    "update", jupd != NULL ? jupd : json_null(), "env", env, "created_at",
	    api_json_time(c->created_at), "updated_at", api_json_time(c->updated_at), "certificate",
	    cert != NULL ? cert : json_null(), "attested_keys", keys, "restarts",
	    (json_int_t)c->restarts, "host", on, "enclaves", enclaves);
	jdep = jupd = env = cert = keys = on = enclaves = NULL;
	rc = *out != NULL ? 0 : err_make(err, 0, "container %s could not be encoded", c->name);
out:
	json_decref(jdep);
	json_decref(jupd);
	json_decref(env);
	json_decref(cert);
	json_decref(keys);
	json_decref(on);
	json_decref(enclaves);
	free(url);
	free(debug_url);
	free(tls_url);
	store_setting_list_free(settings, n_settings);
	store_update_clear(&u);
	store_deployment_clear(&dep);
	return rc;
}

int
api_json_check_fields(struct api_req *r, json_t *body, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v)
	{
		size_t i;

		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			api_reply_error(r, 422, "unknown_field", "%s: unknown field", key);
			return -1;
		}
	}
	return 0;
}

int
api_json_get_string(struct api_req *r, json_t *body, const char *key, int nullable,
                    const char **out)
{
	json_t *v = json_object_get(body, key);

	*out = NULL;
	if (v == NULL || (nullable && json_is_null(v)))
		return 0;
	if (!json_is_string(v)) {
		api_reply_error(r, 422, "invalid_field", "%s: expected a string", key);
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		api_reply_error(r, 422, "invalid_field", "%s: must not contain a NUL character",
		                key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
api_json_get_bool(struct api_req *r, json_t *body, const char *key, int *out)
{
	json_t *v = json_object_get(body, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		api_reply_error(r, 422, "invalid_field", "%s: expected true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
api_json_get_secret_names(struct api_req *r, json_t *body, const char *key, char ***out,
                          int *present)
{
	json_t *v = json_object_get(body, key), *item;
	struct err err = ERR_INIT;
	char **names = NULL;
	size_t i;

	*out = NULL;
	*present = v != NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v)) {
		api_reply_error(r, 422, "invalid_field", "%s: expected a list of secret names",
		                key);
		return -1;
	}
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item)) {
			api_reply_error(r, 422, "invalid_field", "%s[%zu]: expected a secret name",
			                key, i);
			goto fail;
		}
		if (secret_name_check(json_string_value(item), &err) < 0) {
			api_reply_error(r, 422, "invalid_field", "%s[%zu]: %s", key, i, err.msg);
			goto fail;
		}
		if (!strv_contains(names, json_string_value(item)))
			names = strv_push(names, json_string_value(item));
	}
	*out = names;
	return 0;
fail:
	strv_free(names);
	return -1;
}

int
api_json_get_env(struct api_req *r, json_t *body, const char *key, json_t **out)
{
	json_t *v = json_object_get(body, key), *val;
	struct err err = ERR_INIT;
	const char *name;

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v)) {
		api_reply_error(r, 422, "invalid_field", "%s: expected an object of NAME: value",
		                key);
		return -1;
	}
	json_object_foreach(v, name, val)
	{
		/* Variable names follow the rule of secret names (they become
		 * variables too). */
		if (secret_name_check(name, &err) < 0) {
			api_reply_error(r, 422, "invalid_field",
			                "%s.%s: a variable name must start with a letter or _ and "
			                "hold only letters, digits and _",
			                key, name);
			return -1;
		}
		if (!json_is_string(val)) {
			api_reply_error(r, 422, "invalid_field", "%s.%s: expected a string", key,
			                name);
			return -1;
		}
		if (strlen(json_string_value(val)) != json_string_length(val)) {
			api_reply_error(r, 422, "invalid_field",
			                "%s.%s: must not contain a NUL character", key, name);
			return -1;
		}
	}
	*out = json_incref(v);
	return 0;
}

int
api_json_dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return 0;
	}
	return 1;
}
