/* config-shim: the top-level `shim` (what berth-router lets through to which
 * container; other keys recorded), `deploy` (berth's extension: strategy,
 * timeouts, health path, isolation) and `cvm-version`.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "config/config-int.h"
#include "config/config.h"

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

/* The dot-separated identifiers of a prerelease or build metadata (after
 * "-" or "+"): what follows them, or NULL when there are none. */
static const char *
semver_idents(const char *s)
{
	size_t n = strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.");

	return n > 0 ? s + n : NULL;
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
			q = semver_idents(q + 1);
			bad = q == NULL;
		}
		if (!bad && *q == '+') {
			build = 1;
			q = semver_idents(q + 1);
			bad = q == NULL;
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
