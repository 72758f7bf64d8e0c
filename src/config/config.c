/* config: tinfoil-config.yml into typed structs, validated, with a canonical
 * form and its hash.
 *
 * Each mapping of the format is a table of fields (key, type, where it goes).
 * cfg_walk_map() applies a table to a mapping, so unknown keys, wrong types and
 * ranges are reported the same way at every level. Every error is collected,
 * then sorted into document order.
 *
 * This file is the API; the files it uses are listed in config-int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "config/config-int.h"
#include "config/config-policy.h"
#include "config/config-yaml.h"
#include "config/config.h"

json_t *
cfg_jstr(const char *s)
{
	json_t *j = json_string(s);

	if (j == NULL) /* texts were checked for UTF-8 when read */
		log_fatal("config: a string is not valid UTF-8");
	return j;
}

/* ---- shim, deploy, top level ---- */

static void
parse_upstream_container(struct pctx *p, const ynode *v, void *obj)
{
	struct config_shim *s = obj;

	if (cfg_want_scalar(p, v, "a container name") < 0)
		return;
	free(s->upstream_container);
	s->upstream_container = xstrdup(v->text);
	p->upstream_container = v;
}

static void
parse_paths(struct pctx *p, const ynode *v, void *obj)
{
	struct config_shim *s = obj;
	size_t i;
	int bad = 0;

	if (v->kind != CONFIG_YAML_SEQ) {
		cfg_type_error(p, v, "a list of paths");
		return;
	}
	for (i = 0; i < v->n; i++)
		bad |= cfg_path_check(p, v->items[i]) < 0;
	if (!bad)
		cfg_read_strv(p, v, "a list of paths", &s->paths);
}

static void
parse_shim_domains(struct pctx *p, const ynode *v, void *obj)
{
	char **d = NULL;

	(void)obj;
	if (cfg_read_strv(p, v, "a list of domain names", &d) == 0)
		json_object_set_new(p->rec, "domains", cfg_jstrv(d));
	strv_free(d);
}

static const char *const tls_modes[] = {"self-signed", "acme", "cert-proxy", NULL};
static const char *const tls_envs[] = {"production", "staging", NULL};
static const char *const tls_challenges[] = {"tls", "dns", "http", NULL};

#define SH(f) offsetof(struct config_shim, f)
static const struct field shim_fields[] = {
    {.key = "upstream-port", .type = F_INT, .off = SH(upstream_port), .min = 1, .max = 65535},
    {.key = "upstream-container", .type = F_FUNC, .fn = parse_upstream_container},
    {.key = "paths", .type = F_FUNC, .fn = parse_paths},
    {.key = "origins", .type = F_STRV, .off = SH(origins)},
    {.key = "listen-port", .type = F_INT, .off = SH(listen_port), .min = 1, .max = 65535},
    {.key = "authenticated", .type = F_BOOL, .off = SH(authenticated)},
    {.key = "authenticated-endpoints", .type = F_REC_PATHS},
    {.key = "rate-limit", .type = F_REC_NUM, .min = 0},
    {.key = "rate-burst", .type = F_REC_INT, .min = 0, .max = INT32_MAX},
    {.key = "tls-mode", .type = F_REC_STR, .choices = tls_modes},
    {.key = "tls-env", .type = F_REC_STR, .choices = tls_envs},
    {.key = "tls-challenge", .type = F_REC_STR, .choices = tls_challenges},
    {.key = "tls-wildcard", .type = F_REC_BOOL},
    {.key = "tls-own-san-domain", .type = F_REC_BOOL},
    {.key = "control-plane", .type = F_REC_STR},
    {.key = "email", .type = F_REC_STR},
    {.key = "publish-attestation", .type = F_REC_BOOL},
    {.key = "dummy-attestation", .type = F_REC_BOOL},
    {.key = "cache-dir", .type = F_REC_STR},
    {.key = "atc", .type = F_REC_STR},
    {.key = "expected-gpus", .type = F_REC_INT, .min = 0, .max = 8},
    {.key = "domains", .type = F_FUNC, .fn = parse_shim_domains},
    {.key = "domain", .type = F_REC_STR},
};
#undef SH

/* Rules between shim keys, once they are read (rec holds the recorded ones). */
static void
shim_rules(struct pctx *p, const ynode *v, json_t *rec)
{
	const ynode *cp = config_yaml_get(v, "control-plane");
	json_t *ch = json_object_get(rec, "tls-challenge"),
	       *wc = json_object_get(rec, "tls-wildcard");

	if (p->c->shim.authenticated == 1 && cp != NULL && cp->kind == CONFIG_YAML_SCALAR &&
	    cp->len == 0)
		config_error_at(p->errs, cp, NULL,
		                "control-plane may not be empty when authenticated is true");
	/* tls-challenge defaults to dns. */
	if (json_is_true(wc) && ch != NULL && strcmp(json_string_value(ch), "dns") != 0)
		config_error_at(p->errs, config_yaml_get(v, "tls-wildcard"), NULL,
		                "tls-wildcard needs tls-challenge: dns (got %s)",
		                json_string_value(ch));
}

void
cfg_parse_shim(struct pctx *p, const ynode *v, void *obj)
{
	struct config *c = obj;
	json_t *rec = json_object(), *saved = p->rec;

	p->seen_shim = 1;
	if (v->kind != CONFIG_YAML_MAP) {
		cfg_type_error(p, v, "a mapping (upstream-port, paths, ...)");
		json_decref(rec);
		return;
	}
	p->rec = rec;
	/* The reference decodes the shim loosely: unknown keys are ignored. */
	p->warn_unknown = 1;
	cfg_walk_map(p, v, shim_fields, ARRAY_LEN(shim_fields), &c->shim);
	p->warn_unknown = 0;
	p->rec = saved;
	shim_rules(p, v, rec);
	if (json_object_size(rec) > 0)
		c->shim.extra_json = json_dumps(rec, CANONICAL_FLAGS);
	json_decref(rec);
	if (c->shim.upstream_port == 0 && cfg_missing(v, "upstream-port"))
		config_error_at(p->errs, v, "upstream-port", "required key is missing");
}

static void
parse_strategy(struct pctx *p, const ynode *v, void *obj)
{
	struct config_deploy *d = obj;

	if (v->kind == CONFIG_YAML_SCALAR && strcmp(v->text, "auto") == 0)
		d->strategy = CONFIG_STRATEGY_AUTO;
	else if (v->kind == CONFIG_YAML_SCALAR && strcmp(v->text, "blue-green") == 0)
		d->strategy = CONFIG_STRATEGY_BLUE_GREEN;
	else if (v->kind == CONFIG_YAML_SCALAR && strcmp(v->text, "recreate") == 0)
		d->strategy = CONFIG_STRATEGY_RECREATE;
	else
		cfg_type_error(p, v, "auto, blue-green or recreate");
}

static void
parse_health_path(struct pctx *p, const ynode *v, void *obj)
{
	struct config_deploy *d = obj;

	if (cfg_path_check(p, v) < 0)
		return;
	if (strchr(v->text, '*') != NULL) {
		config_error_at(p->errs, v, NULL, "the health path must be one path, without *");
		return;
	}
	free(d->health_path);
	d->health_path = xstrdup(v->text);
}

const char *const config_isolation_levels[] = {"runc", "gvisor", NULL};

#define DP(f) offsetof(struct config_deploy, f)
static const struct field deploy_fields[] = {
    {.key = "strategy", .type = F_FUNC, .fn = parse_strategy},
    {.key = "health-timeout", .type = F_DUR, .off = DP(health_timeout_ms), .min = 1},
    {.key = "min-healthy-time", .type = F_DUR, .off = DP(min_healthy_time_ms)},
    {.key = "drain-timeout", .type = F_DUR, .off = DP(drain_timeout_ms)},
    {.key = "hold-timeout", .type = F_DUR, .off = DP(hold_timeout_ms)},
    {.key = "health-path", .type = F_FUNC, .fn = parse_health_path},
    {.key = "isolation", .type = F_STR, .off = DP(isolation), .choices = config_isolation_levels},
};
#undef DP

void
cfg_parse_deploy(struct pctx *p, const ynode *v, void *obj)
{
	struct config *c = obj;

	if (v->kind != CONFIG_YAML_MAP) {
		cfg_type_error(p, v, "a mapping (strategy, health-timeout, ...)");
		return;
	}
	cfg_walk_map(p, v, deploy_fields, ARRAY_LEN(deploy_fields), &c->deploy);
}

/* One semver number: no leading zero. */
static const char *
semver_number(const char *s, long *out)
{
	const char *e = s;

	while (isdigit((unsigned char)*e))
		e++;
	if (e == s || (s[0] == '0' && e - s > 1) || e - s > 9)
		return NULL;
	*out = atol(s);
	return e;
}

/* The reference's rule: "v" + the version is semver (0.14 passes); from
 * 0.15.0 (a prerelease of it counts as below) the value is pinned,
 * X.Y.Z@sha256:<64 lower-case hex>, without build metadata. Below it, what
 * follows @sha256: is not looked at. */
void
cfg_parse_cvm_version(struct pctx *p, const ynode *v, void *obj)
{
	struct config *c = obj;
	const char *t, *pin, *q;
	char *ver;
	long num[3] = {0, 0, 0};
	int parts, pre = 0, build = 0, bad;
	size_t i;

	if (cfg_want_scalar(p, v, "a version such as 0.15.0@sha256:<64 hex>") < 0)
		return;
	t = v->text;
	if (*t != '\0') {
		if (*t == 'v')
			t++;
		pin = strstr(t, "@sha256:");
		ver = xstrndup(t, pin != NULL ? (size_t)(pin - t) : strlen(t));
		q = semver_number(ver, &num[0]);
		parts = 1;
		while (q != NULL && *q == '.' && parts < 3)
			q = semver_number(q + 1, &num[parts++]);
		bad = q == NULL;
		if (!bad && *q == '-') {
			pre = 1;
			q++;
			bad = strspn(q, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			                "wxyz-.") == 0;
			q += strspn(
			    q, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.");
		}
		if (!bad && *q == '+') {
			build = 1;
			q++;
			bad = strspn(q, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			                "wxyz-.") == 0;
			q += strspn(
			    q, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.");
		}
		bad = bad || *q != '\0';
		free(ver);
		if (bad) {
			config_error_at(p->errs, v, NULL,
			                "\"%s\" is not a version such as 0.15.0@sha256:<64 hex>",
			                v->text);
			return;
		}
		if ((num[0] > 0 || num[1] > 15 || (num[1] == 15 && (num[2] > 0 || !pre)))) {
			const char *hex = pin != NULL ? pin + 8 : "";

			for (i = 0; hex[i] != '\0'; i++)
				if (!isdigit((unsigned char)hex[i]) &&
				    !(hex[i] >= 'a' && hex[i] <= 'f'))
					break;
			if (parts != 3 || build || pin == NULL || i != 64 || hex[i] != '\0') {
				config_error_at(p->errs, v, NULL,
				                "from 0.15.0 the cvm-version must be pinned: write "
				                "X.Y.Z@sha256:<64 lower-case hex>, got \"%s\"",
				                v->text);
				return;
			}
		}
	}
	free(c->cvm_version);
	c->cvm_version = xstrdup(v->text);
}

#define TOP(f) offsetof(struct config, f)
static const struct field top_fields[] = {
    {.key = "cvm-version", .type = F_FUNC, .fn = cfg_parse_cvm_version},
    {.key = "keyserver-url", .type = F_STR, .off = TOP(keyserver_url)},
    {.key = "attested-keys", .type = F_FUNC, .fn = cfg_parse_attested_keys},
    {.key = "shim-version", .type = F_STR, .off = TOP(shim_version)},
    {.key = "cpus", .type = F_INT, .off = TOP(cpus), .min = 1, .max = 1024},
    {.key = "memory", .type = F_INT64, .off = TOP(memory_mib), .min = 1, .max = 64 * 1024 * 1024},
    {.key = "gpus", .type = F_INT, .off = TOP(gpus), .min = 0, .max = 8},
    {.key = "containers", .type = F_FUNC, .fn = cfg_parse_containers},
    {.key = "shim", .type = F_FUNC, .fn = cfg_parse_shim},
    {.key = "deploy", .type = F_FUNC, .fn = cfg_parse_deploy},
    {.key = "models", .type = F_FUNC, .fn = cfg_parse_models},
    {.key = "volumes", .type = F_FUNC, .fn = cfg_parse_volumes},
    {.key = "networks", .type = F_FUNC, .fn = cfg_parse_networks},
    {.key = "cvm-network", .type = F_FUNC, .fn = cfg_parse_cvm_network},
    {.key = "security", .type = F_REC},
};
#undef TOP

int
config_path_allows(const char *pattern, const char *path, size_t len)
{
	const char *p = pattern, *end = path + len, *q = path;

	for (;;) {
		if (p[0] == '*' && p[1] == '\0')
			return 1; /* a prefix: whatever follows */
		if (p[0] == '*' && p[1] == '/' && p > pattern && p[-1] == '/') {
			/* A whole middle segment: one segment, not empty. */
			const char *slash = memchr(q, '/', (size_t)(end - q));

			if (slash == NULL || slash == q)
				return 0;
			q = slash;
			p++;
			continue;
		}
		if (*p == '\0')
			return q == end;
		if (q == end || *p != *q)
			return 0;
		p++;
		q++;
	}
}

/* ---- canonical form ---- */

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

/* ---- the API ---- */

static int
error_cmp(const void *a, const void *b)
{
	const struct config_error *x = a, *y = b;

	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.column != y->pos.column)
		return x->pos.column < y->pos.column ? -1 : 1;
	return 0;
}

/* Sorts errs into document order, keeping the order of errors at one place. */
static void
errors_sort(struct config_errors *errs)
{
	size_t i, j;

	/* Insertion sort is stable; error lists are short. Fall back to qsort
	 * (unstable, still ordered by position) for pathological inputs. */
	if (errs->n > 4096) {
		qsort(errs->items, errs->n, sizeof(*errs->items), error_cmp);
		return;
	}
	for (i = 1; i < errs->n; i++) {
		struct config_error e = errs->items[i];

		for (j = i; j > 0 && error_cmp(&errs->items[j - 1], &e) > 0; j--)
			errs->items[j] = errs->items[j - 1];
		errs->items[j] = e;
	}
}

/* A model-enclave file of the reference's older format (ovmf-version,
 * vllm-args, platform, cvmimage-version, no containers) is refused with one
 * sentence instead of a list of unknown keys. Whether it was. */
static int
legacy_model_enclave(const ynode *root, struct config_errors *errs)
{
	static const char *const keys[] = {"ovmf-version", "vllm-args", "platform",
	                                   "cvmimage-version"};
	size_t i, j;

	if (config_yaml_get(root, "containers") != NULL)
		return 0;
	for (i = 0; i + 1 < root->n; i += 2)
		for (j = 0; j < ARRAY_LEN(keys); j++)
			if (root->items[i]->kind == CONFIG_YAML_SCALAR &&
			    strcmp(root->items[i]->text, keys[j]) == 0) {
				config_error_add(
				    errs, root->items[i]->pos, "",
				    "this is a legacy model-enclave config (%s, no "
				    "containers), which berth does not deploy: write the "
				    "model server as a container with a shim",
				    keys[j]);
				return 1;
			}
	return 0;
}

static struct config *
config_new(const char *name)
{
	struct config *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(name);
	c->warnings.path = xstrdup(name);
	c->unsupported.path = xstrdup(name);
	c->cpus = -1;
	c->memory_mib = -1;
	c->gpus = -1;
	c->shim.listen_port = -1;
	c->shim.authenticated = -1;
	c->deploy.strategy = CONFIG_STRATEGY_AUTO;
	c->deploy.health_timeout_ms = 5 * 60 * 1000;
	c->deploy.min_healthy_time_ms = 2000;
	c->deploy.drain_timeout_ms = 30000;
	c->deploy.hold_timeout_ms = 30000;
	return c;
}

int
config_parse(const char *name, const char *text, size_t len, struct config **out,
             struct config_errors *errs)
{
	struct pctx p = {.errs = errs};
	struct config *c = NULL;
	ynode *root = NULL;
	json_t *rec = NULL, *canon;
	int rc = -1;

	*out = NULL;
	memset(errs, 0, sizeof(*errs));
	errs->path = xstrdup(name);
	if (len > CONFIG_MAX_BYTES) {
		config_error_add(errs, (struct config_pos){0, 0}, "",
		                 "the file is %zu bytes, more than the limit of %d (1 MiB)", len,
		                 CONFIG_MAX_BYTES);
		goto out;
	}
	if (config_yaml_parse(text, len, &root, errs) < 0)
		goto out;
	if (root == NULL) {
		config_error_add(errs, (struct config_pos){1, 1}, "",
		                 "the file is empty; a config needs containers and shim");
		goto out;
	}
	if (root->kind != CONFIG_YAML_MAP) {
		config_error_at(errs, root, NULL,
		                "expected a mapping at the top level (containers, shim, ...)");
		goto out;
	}
	if (legacy_model_enclave(root, errs))
		goto out;
	c = config_new(name);
	p.c = c;
	rec = json_object();
	p.rec = rec;
	cfg_walk_map(&p, root, top_fields, ARRAY_LEN(top_fields), c);
	cfg_check_whole(&p, root);
	if (errs->n > 0)
		goto out;
	if (json_object_size(rec) > 0)
		c->extra_json = json_dumps(rec, CANONICAL_FLAGS);
	canon = cfg_json(c);
	c->canonical = json_dumps(canon, CANONICAL_FLAGS);
	json_decref(canon);
	if (c->canonical == NULL)
		log_fatal("out of memory");
	sha256_hex(c->canonical, strlen(c->canonical), c->config_sha256);
	errors_sort(&c->warnings);
	errors_sort(&c->unsupported);
	*out = take_ptr(&c);
	rc = 0;
out:
	if (rc < 0) {
		errors_sort(errs);
	} else {
		free(errs->path);
		errs->path = NULL;
	}
	json_decref(rec);
	free(p.names);
	free(p.cnodes);
	config_free(c);
	config_yaml_free(root);
	return rc;
}

int
config_load(const char *path, struct config **out, struct config_errors *errs)
{
	struct err err = ERR_INIT;
	size_t len = 0;
	char *text = NULL;
	int rc;

	*out = NULL;
	if (file_read_all(path, CONFIG_MAX_BYTES, &text, &len, &err) < 0) {
		memset(errs, 0, sizeof(*errs));
		errs->path = xstrdup(path);
		config_error_add(errs, (struct config_pos){0, 0}, "", "%s",
		                 err.code == EFBIG ? "the file is larger than the limit of 1 MiB"
		                                   : err.msg);
		return -1;
	}
	rc = config_parse(path, text, len, out, errs);
	free(text);
	return rc;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	free(c->cvm_version);
	free(c->shim_version);
	for (i = 0; i < c->n_containers; i++)
		cfg_container_free(&c->containers[i]);
	free(c->containers);
	free(c->shim.upstream_container);
	strv_free(c->shim.paths);
	strv_free(c->shim.origins);
	free(c->shim.extra_json);
	free(c->deploy.health_path);
	free(c->deploy.isolation);
	free(c->canonical);
	free(c->extra_json);
	free(c->keyserver_url);
	config_errors_free(&c->warnings);
	config_errors_free(&c->unsupported);
	free(c);
}

void
config_errors_free(struct config_errors *errs)
{
	size_t i;

	if (errs == NULL)
		return;
	for (i = 0; i < errs->n; i++) {
		free(errs->items[i].key_path);
		free(errs->items[i].message);
	}
	free(errs->items);
	free(errs->path);
	memset(errs, 0, sizeof(*errs));
}

char *
config_errors_format(const struct config_errors *errs)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < errs->n; i++) {
		const struct config_error *e = &errs->items[i];

		buf_puts(&b, errs->path != NULL ? errs->path : "config");
		if (e->pos.line > 0)
			buf_printf(&b, ":%d:%d", e->pos.line, e->pos.column);
		buf_puts(&b, ": ");
		if (e->key_path != NULL && e->key_path[0] != '\0')
			buf_printf(&b, "%s: ", e->key_path);
		buf_printf(&b, "%s\n", e->message);
	}
	return buf_take(&b);
}

const struct config_container *
config_container_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < c->n_containers; i++)
		if (c->containers[i].name != NULL && strcmp(c->containers[i].name, name) == 0)
			return &c->containers[i];
	return NULL;
}

const struct config_container *
config_upstream_container(const struct config *c)
{
	const struct config_container *ct = config_container_find(c, c->shim.upstream_container);

	if (ct == NULL && c->n_containers > 0)
		ct = &c->containers[0];
	return ct;
}

int
config_gpus_required(const struct config *c, int host_gpus)
{
	size_t i;
	int sum = 0, all = 0;

	if (c->gpus >= 0)
		return c->gpus;
	for (i = 0; i < c->n_containers; i++) {
		if (c->containers[i].gpus_all)
			all = 1;
		else if (c->containers[i].gpus > 0)
			sum += c->containers[i].gpus;
	}
	if (all)
		return host_gpus > sum ? host_gpus : sum;
	return sum;
}

int
config_unsupported(const struct config *c, struct config_errors *errs)
{
	size_t i;

	memset(errs, 0, sizeof(*errs));
	errs->path = xstrdup(c->path);
	for (i = 0; i < c->unsupported.n; i++) {
		const struct config_error *e = &c->unsupported.items[i];

		config_error_add(errs, e->pos, e->key_path, "%s", e->message);
	}
	return errs->n > 0 ? -1 : 0;
}

char *
config_to_json(const struct config *c)
{
	json_t *j = cfg_json(c);
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(15));

	json_decref(j);
	if (s == NULL)
		log_fatal("out of memory");
	return s;
}

int
config_container_wants_gpus(const struct config_container *cc)
{
	return cc->gpus_all || cc->gpus > 0 ||
	       (cc->runtime != NULL && strcmp(cc->runtime, "nvidia") == 0);
}

int
config_wants_gpus(const struct config *c)
{
	for (size_t i = 0; i < c->n_containers; i++)
		if (config_container_wants_gpus(&c->containers[i]))
			return 1;
	return 0;
}
