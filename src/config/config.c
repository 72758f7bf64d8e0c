/* config: tinfoil-config.yml into typed structs, validated, with a canonical
 * form and its hash. This file is the API: config_parse() (the top-level
 * table, then the checks of the whole), load, free, errors and the queries.
 *
 * Each mapping of the format is a table of fields (key, type, where it goes).
 * cfg_walk_map() applies a table to a mapping, so unknown keys, wrong types and
 * ranges are reported the same way at every level. Every error is collected,
 * then sorted into document order. The files of the module are listed in
 * config-int.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "config/config-int.h"
#include "config/config-yaml.h"
#include "config/config.h"

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

/* The top level; the handler of each section is in the file that reads it
 * (config-int.h). */
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
	for (i = 0; i < c->n_volumes; i++)
		free(c->volumes[i].name);
	free(c->volumes);
	for (i = 0; i < c->n_attested_keys; i++) {
		free(c->attested_keys[i].id);
		free(c->attested_keys[i].kind);
	}
	free(c->attested_keys);
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

const struct config_volume *
config_volume_find(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_volumes; i++)
		if (strcmp(c->volumes[i].name, name) == 0)
			return &c->volumes[i];
	return NULL;
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

const char *
config_egress(const struct config *c)
{
	json_t *rec = c->extra_json != NULL ? json_loads(c->extra_json, 0, NULL) : NULL;
	json_t *nets = json_object_get(rec, "networks");
	int widest = 0; /* 0 closed, 1 allowlist, 2 open */

	for (size_t i = 0; i < c->n_containers; i++)
		for (char **n = c->containers[i].networks; n != NULL && *n != NULL; n++) {
			const char *e =
			    json_string_value(json_object_get(json_object_get(nets, *n), "egress"));
			int w = e == NULL                ? 0
			        : strcmp(e, "open") == 0 ? 2
			                                 : strcmp(e, "allowlist") == 0;

			if (w > widest)
				widest = w;
		}
	json_decref(rec);
	return widest == 2 ? "open" : widest == 1 ? "allowlist" : "closed";
}

char **
config_egress_allow(const struct config *c)
{
	json_t *rec = c->extra_json != NULL ? json_loads(c->extra_json, 0, NULL) : NULL;
	json_t *nets = json_object_get(rec, "networks");
	char **out = NULL;

	for (size_t i = 0; i < c->n_containers; i++)
		for (char **n = c->containers[i].networks; n != NULL && *n != NULL; n++) {
			json_t *net = json_object_get(nets, *n), *h;
			const char *e = json_string_value(json_object_get(net, "egress"));
			size_t k;

			if (e == NULL || strcmp(e, "allowlist") != 0)
				continue;
			json_array_foreach(json_object_get(net, "allow"), k, h)
			{
				const char *name = json_string_value(h);

				if (name != NULL && !strv_contains(out, name))
					out = strv_push(out, name);
			}
		}
	json_decref(rec);
	return out;
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
