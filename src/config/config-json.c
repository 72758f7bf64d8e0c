/* config-json: the canonical form, a parsed config as JSON with a stable key
 * order (its sha256 is the config's hash), and the JSON helpers the recorded
 * keys use too. A key added to the canonical form changes every hash: newer
 * keys are written only when set.
 */
#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "config/config-int.h"

json_t *
cfg_jstr(const char *s)
{
	json_t *j = json_string(s);

	if (j == NULL) /* texts were checked for UTF-8 when read */
		log_fatal("config: a string is not valid UTF-8");
	return j;
}

json_t *
cfg_jstrv(char *const *v)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		json_array_append_new(a, cfg_jstr(v[i]));
	return a;
}

static void
jset_str(json_t *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, k, cfg_jstr(v));
}

static void
jset_strv(json_t *o, const char *k, char *const *v)
{
	if (v != NULL)
		json_object_set_new(o, k, cfg_jstrv(v));
}

static void
jset_int(json_t *o, const char *k, int64_t v)
{
	if (v >= 0)
		json_object_set_new(o, k, json_integer(v));
}

static void
jmerge(json_t *o, const char *extra)
{
	json_t *x;

	if (extra == NULL)
		return;
	x = json_loads(extra, 0, NULL);
	if (x == NULL)
		log_fatal("config: recorded keys are not JSON");
	json_object_update(o, x);
	json_decref(x);
}

static json_t *
container_json(const struct config_container *ct)
{
	json_t *o = json_object(), *a, *t;
	const struct config_healthcheck *hc = &ct->healthcheck;
	size_t i;

	jset_str(o, "name", ct->name);
	jset_str(o, "image", ct->image);
	jset_strv(o, "command", ct->command);
	jset_strv(o, "entrypoint", ct->entrypoint);
	jset_str(o, "working_dir", ct->working_dir);
	jset_str(o, "user", ct->user);
	if (ct->n_env > 0) {
		a = json_array();
		for (i = 0; i < ct->n_env; i++)
			json_array_append_new(
			    a,
			    json_pack("{s:o,s:o}", "key", cfg_jstr(ct->env[i].key), "value",
			              ct->env[i].value ? cfg_jstr(ct->env[i].value) : json_null()));
		json_object_set_new(o, "env", a);
	}
	jset_strv(o, "secrets", ct->secrets);
	if (hc->kind != CONFIG_HEALTHCHECK_NONE_SET) {
		static const char *const kinds[] = {"", "CMD", "CMD-SHELL", "NONE"};

		t = json_array();
		json_array_append_new(t, cfg_jstr(kinds[hc->kind]));
		for (i = 0; hc->test != NULL && hc->test[i] != NULL; i++)
			json_array_append_new(t, cfg_jstr(hc->test[i]));
		a = json_object();
		json_object_set_new(a, "test", t);
		if (hc->kind != CONFIG_HEALTHCHECK_DISABLED) {
			json_object_set_new(a, "interval", json_integer(hc->interval_ms));
			json_object_set_new(a, "timeout", json_integer(hc->timeout_ms));
			json_object_set_new(a, "start_period", json_integer(hc->start_period_ms));
			json_object_set_new(a, "start_interval",
			                    json_integer(hc->start_interval_ms));
			json_object_set_new(a, "retries", json_integer(hc->retries));
		}
		json_object_set_new(o, "healthcheck", a);
	}
	if (ct->gpus_all)
		json_object_set_new(o, "gpus", cfg_jstr("all"));
	else
		jset_int(o, "gpus", ct->gpus);
	jset_str(o, "runtime", ct->runtime);
	jset_strv(o, "ports", ct->ports);
	jset_int(o, "memory", ct->memory_bytes);
	if (ct->cpus > 0)
		json_object_set_new(o, "cpus", json_real(ct->cpus));
	jset_int(o, "shm_size", ct->shm_size_bytes);
	if (ct->n_tmpfs > 0) {
		a = json_array();
		for (i = 0; i < ct->n_tmpfs; i++)
			json_array_append_new(a, json_pack("{s:o,s:o}", "path",
			                                   cfg_jstr(ct->tmpfs[i].path), "options",
			                                   ct->tmpfs[i].options
			                                       ? cfg_jstr(ct->tmpfs[i].options)
			                                       : json_null()));
		json_object_set_new(o, "tmpfs", a);
	}
	json_object_set_new(o, "read_only", json_boolean(ct->read_only));
	jset_int(o, "pids_limit", ct->pids_limit);
	jset_str(o, "restart", ct->restart);
	jset_str(o, "stop_signal", ct->stop_signal);
	jset_int(o, "stop_timeout", ct->stop_timeout_ms);
	jset_strv(o, "cap_add", ct->cap_add);
	jset_strv(o, "cap_drop", ct->cap_drop);
	jset_strv(o, "devices", ct->devices);
	jset_str(o, "ipc", ct->ipc);
	jset_str(o, "pid", ct->pid);
	jset_strv(o, "volumes", ct->volumes);
	jset_strv(o, "models", ct->models);
	jset_strv(o, "networks", ct->networks);
	jset_strv(o, "security_opt", ct->security_opt);
	json_object_set_new(o, "privileged", json_boolean(ct->privileged));
	/* The newer keys, only when set, so files without them keep their hash. */
	if (ct->cvm_admin)
		json_object_set_new(o, "cvm_admin", json_true());
	if (ct->seal_register)
		json_object_set_new(o, "seal_register", json_true());
	if (ct->attestation)
		json_object_set_new(o, "attestation", json_true());
	jset_strv(o, "keys", ct->keys);
	jset_strv(o, "persistent_volumes", ct->persistent_volumes);
	jset_str(o, "network_mode", ct->network_mode);
	if (ct->gpu_ids != NULL) {
		struct buf b = BUF_INIT;

		for (i = 0; ct->gpu_ids[i] != NULL; i++)
			buf_printf(&b, "%s%s", i ? "," : "", ct->gpu_ids[i]);
		json_object_set_new(o, "gpus", cfg_jstr(b.data));
		buf_free(&b);
	}
	if (ct->registry_username != NULL || ct->registry_password_secret != NULL) {
		a = json_object();
		jset_str(a, "username", ct->registry_username);
		jset_str(a, "password_secret", ct->registry_password_secret);
		json_object_set_new(o, "registry", a);
	}
	return o;
}

json_t *
cfg_json(const struct config *c)
{
	static const char *const strategies[] = {"auto", "blue-green", "recreate"};
	json_t *o = json_object(), *a, *s, *d;
	size_t i;

	jset_str(o, "cvm-version", c->cvm_version);
	jset_str(o, "shim-version", c->shim_version);
	jset_str(o, "keyserver-url", c->keyserver_url);
	jset_int(o, "cpus", c->cpus);
	jset_int(o, "memory", c->memory_mib);
	jset_int(o, "gpus", c->gpus);
	a = json_array();
	for (i = 0; i < c->n_containers; i++)
		json_array_append_new(a, container_json(&c->containers[i]));
	json_object_set_new(o, "containers", a);

	s = json_object();
	json_object_set_new(s, "upstream-port", json_integer(c->shim.upstream_port));
	jset_str(s, "upstream-container", c->shim.upstream_container);
	jset_strv(s, "paths", c->shim.paths);
	jset_strv(s, "origins", c->shim.origins);
	jset_int(s, "listen-port", c->shim.listen_port);
	if (c->shim.authenticated >= 0)
		json_object_set_new(s, "authenticated", json_boolean(c->shim.authenticated));
	jmerge(s, c->shim.extra_json);
	json_object_set_new(o, "shim", s);

	d = json_object();
	json_object_set_new(d, "strategy", cfg_jstr(strategies[c->deploy.strategy]));
	json_object_set_new(d, "health-timeout", json_integer(c->deploy.health_timeout_ms));
	json_object_set_new(d, "min-healthy-time", json_integer(c->deploy.min_healthy_time_ms));
	json_object_set_new(d, "drain-timeout", json_integer(c->deploy.drain_timeout_ms));
	json_object_set_new(d, "hold-timeout", json_integer(c->deploy.hold_timeout_ms));
	json_object_set_new(d, "health-path",
	                    c->deploy.health_path ? cfg_jstr(c->deploy.health_path) : json_null());
	jset_str(d, "isolation", c->deploy.isolation);
	json_object_set_new(o, "deploy", d);

	jmerge(o, c->extra_json);
	return o;
}
