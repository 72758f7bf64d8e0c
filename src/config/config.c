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

/* ---- the reference's newer top-level sections ---- */

/* ^[a-z][a-z0-9-]{0,max-1}$ */
static int
lower_name_ok(const char *s, size_t max)
{
	return s[0] >= 'a' && s[0] <= 'z' && strlen(s) <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(s);
}

/* ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$, at most 15 */
static int
network_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 15 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	       s[0] != '-' && s[n - 1] != '-';
}

/* An RFC 1123 host name, no wildcard, no IP literal. */
static int
hostname_ok(const char *s)
{
	size_t n = strlen(s), label = 0, i;
	int alpha = 0;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-')
			return 0;
		if (label == 0 && ch == '-')
			return 0;
		alpha |= isalpha((unsigned char)ch) || ch == '-';
		label++;
	}
	return alpha; /* all digits and dots is an IPv4 literal */
}

/* A size as volumes[].size takes it (the reference's ParseSize): a number
 * and a required unit, any case, spaces allowed: B, K/KiB, M/MiB, G/GiB,
 * T/TiB (binary), KB/MB/GB/TB (decimal). Whole bytes, a multiple of 512, at
 * least 64 MiB. NULL, or why not. */
static const char *
volume_size_parse(const char *text, int64_t *out)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {{"b", 1},
	             {"k", 1024.0},
	             {"kib", 1024.0},
	             {"m", 1048576.0},
	             {"mib", 1048576.0},
	             {"g", 1073741824.0},
	             {"gib", 1073741824.0},
	             {"t", 1099511627776.0},
	             {"tib", 1099511627776.0},
	             {"kb", 1e3},
	             {"mb", 1e6},
	             {"gb", 1e9},
	             {"tb", 1e12}};
	char buf[64], *end, *u;
	size_t n, i;
	double v;

	while (*text == ' ')
		text++;
	n = strlen(text);
	while (n > 0 && text[n - 1] == ' ')
		n--;
	if (n == 0)
		return "is empty";
	if (n >= sizeof(buf))
		return "is too long";
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (!isdigit((unsigned char)buf[0]) && buf[0] != '.' && buf[0] != '-')
		return "has no number";
	errno = 0;
	v = strtod(buf, &end);
	if (end == buf || errno != 0 || strpbrk(buf, "xXeE") != NULL)
		return "is not a number and a unit";
	if (v <= 0)
		return "must be positive";
	for (u = end; *u == ' '; u++)
		;
	if (*u == '\0')
		return "needs a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)";
	for (i = 0; i < ARRAY_LEN(units); i++)
		if (strcasecmp(u, units[i].unit) == 0)
			break;
	if (i == ARRAY_LEN(units))
		return "has an unknown unit (B, K, KiB, M, MiB, G, GiB, T, TiB, KB, MB, GB or TB)";
	v *= units[i].mult;
	if (v >= 9.2e18)
		return "is too large";
	if (v != floor(v))
		return "is not a whole number of bytes";
	if (fmod(v, 512) != 0)
		return "is not a multiple of 512 bytes";
	if (v < 64.0 * 1048576)
		return "is below the minimum of 64 MiB";
	*out = (int64_t)v;
	return NULL;
}

/* Scratch values of a section entry; only checked, the entry is recorded. */
struct section_entry {
	int flag;
	int64_t number;
};

static void
check_scalar(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	cfg_want_scalar(p, v, "a string");
}

static void
check_env_name(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	if (cfg_want_scalar(p, v, "a secret name") == 0 && !cfg_env_name_ok(v->text))
		config_error_at(p->errs, v, NULL,
		                "\"%s\" is not a valid secret name (letters, digits and _, not "
		                "starting with a digit)",
		                v->text);
}

static void
check_key_secret(struct pctx *p, const ynode *v, void *obj)
{
	check_env_name(p, v, obj);
	cfg_unsupported(p, v, "key-secret (an encrypted disk) is not supported yet");
}

static void
check_volume_name(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	if (cfg_want_scalar(p, v, "a volume name") == 0 && !lower_name_ok(v->text, 63))
		config_error_at(p->errs, v, NULL,
		                "\"%s\" is not a volume name: it must be lowercase alphanumeric or "
		                "-, starting with a letter, at most 63",
		                v->text);
}

static int
id_0_65534(const char *s, size_t n)
{
	size_t i;
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65534 ? 0 : -1;
}

static void
check_owner(struct pctx *p, const ynode *v, void *obj)
{
	const char *colon;
	int ok;

	(void)obj;
	if (cfg_want_scalar(p, v, "\"uid\" or \"uid:gid\"") < 0)
		return;
	colon = strchr(v->text, ':');
	ok = colon == NULL ? id_0_65534(v->text, v->len) == 0
	                   : id_0_65534(v->text, (size_t)(colon - v->text)) == 0 &&
	                         id_0_65534(colon + 1, strlen(colon + 1)) == 0;
	if (!ok)
		config_error_at(p->errs, v, NULL,
		                "owner \"%s\" must be id or uid:gid, each from 0 to 65534",
		                v->text);
}

static void
check_volume_size(struct pctx *p, const ynode *v, void *obj)
{
	const char *why;
	int64_t n;

	(void)obj;
	if (cfg_want_scalar(p, v, "a size such as 10GiB") < 0)
		return;
	why = volume_size_parse(v->text, &n);
	if (why != NULL)
		config_error_at(p->errs, v, NULL, "size \"%s\" %s", v->text, why);
}

static void
check_overlay_source(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	if (cfg_want_scalar(p, v, "a path in the pack") < 0)
		return;
	if (v->text[0] == '/' || strcmp(v->text, "..") == 0 || strncmp(v->text, "../", 3) == 0 ||
	    strstr(v->text, "/../") != NULL ||
	    (v->len >= 3 && strcmp(v->text + v->len - 3, "/..") == 0))
		config_error_at(p->errs, v, NULL,
		                "\"%s\" must be a path relative to the model pack, without ..",
		                v->text);
}

static void
check_overlay_target(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	if (cfg_want_scalar(p, v, "a name") == 0 && !lower_name_ok(v->text, 63))
		config_error_at(p->errs, v, NULL,
		                "overlay target \"%s\" must be one lowercase name (a-z, 0-9, -)",
		                v->text);
}

static const struct field overlay_fields[] = {
    {.key = "source", .type = F_FUNC, .fn = check_overlay_source},
    {.key = "target", .type = F_FUNC, .fn = check_overlay_target},
};

static void
check_overlays(struct pctx *p, const ynode *v, void *obj)
{
	struct section_entry scratch = {0};
	struct named *names;
	size_t i, n = 0;

	(void)obj;
	if (v->kind != CONFIG_YAML_SEQ) {
		cfg_type_error(p, v, "a list of overlays (source, target)");
		return;
	}
	if (v->n > MAX_OVERLAYS)
		config_error_at(p->errs, v, NULL, "%zu overlays, more than the limit of %d", v->n,
		                MAX_OVERLAYS);
	names = xcalloc(v->n + 1, sizeof(*names));
	for (i = 0; i < v->n; i++) {
		const ynode *it = v->items[i], *t;

		if (it->kind != CONFIG_YAML_MAP) {
			cfg_type_error(p, it, "an overlay (source, target)");
			continue;
		}
		cfg_walk_map(p, it, overlay_fields, ARRAY_LEN(overlay_fields), &scratch);
		if (cfg_missing(it, "source"))
			config_error_at(p->errs, it, "source", "required key is missing");
		t = config_yaml_get(it, "target");
		if (t == NULL || t->kind != CONFIG_YAML_SCALAR) {
			if (cfg_missing(it, "target"))
				config_error_at(p->errs, it, "target", "required key is missing");
			continue;
		}
		names[n].name = t->text;
		names[n++].node = t;
	}
	cfg_check_unique(p, names, n, "overlay target");
	free(names);
	if (v->n > 0)
		cfg_unsupported(p, v, "overlays are not supported yet");
}

#define SE(f) offsetof(struct section_entry, f)
static const struct field volume_fields[] = {
    {.key = "name", .type = F_FUNC, .fn = check_volume_name},
    {.key = "exec", .type = F_BOOL, .off = SE(flag)},
    {.key = "owner", .type = F_FUNC, .fn = check_owner},
    {.key = "key-secret", .type = F_FUNC, .fn = check_key_secret},
    {.key = "size", .type = F_FUNC, .fn = check_volume_size},
    {.key = "overlays", .type = F_FUNC, .fn = check_overlays},
};

static void
check_model_name(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	if (cfg_want_scalar(p, v, "a model name") == 0 && !cfg_name_ok(v->text, 128))
		config_error_at(
		    p->errs, v, NULL,
		    "model name \"%s\" is invalid (letters, digits, _ . -, starting with "
		    "a letter or digit, at most 128)",
		    v->text);
}

static void
check_schema(struct pctx *p, const ynode *v, void *obj)
{
	int64_t n;

	(void)obj;
	if (cfg_scalar_int(v, &n) < 0)
		cfg_type_error(p, v, "an integer");
	else if (n < 0)
		config_error_at(p->errs, v, NULL, "schema must be a positive integer, got %s",
		                v->text);
}

static const struct field model_fields[] = {
    {.key = "name", .type = F_FUNC, .fn = check_model_name},
    {.key = "repo", .type = F_FUNC, .fn = check_scalar},
    {.key = "mpk", .type = F_FUNC, .fn = check_scalar},
    {.key = "mwp", .type = F_FUNC, .fn = check_scalar},
    {.key = "emwp", .type = F_FUNC, .fn = check_scalar},
    {.key = "key-secret", .type = F_FUNC, .fn = check_key_secret},
    {.key = "exec", .type = F_BOOL, .off = SE(flag)},
    {.key = "schema", .type = F_FUNC, .fn = check_schema},
};

static void
check_key_id(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	if (cfg_want_scalar(p, v, "a key id") == 0 &&
	    (!lower_name_ok(v->text, 63) || strcmp(v->text, "tls") == 0 ||
	     strcmp(v->text, "hpke") == 0))
		config_error_at(
		    p->errs, v, NULL,
		    "key id \"%s\" must be a safe lowercase name (a-z, 0-9, -, starting "
		    "with a letter, at most 63), not tls or hpke",
		    v->text);
}

static const char *const key_kinds[] = {"ecdsa-p256", "ed25519", "x25519", NULL};

static void
check_key_kind(struct pctx *p, const ynode *v, void *obj)
{
	size_t i;

	(void)obj;
	if (cfg_want_scalar(p, v, "ecdsa-p256, ed25519 or x25519") < 0)
		return;
	for (i = 0; key_kinds[i] != NULL; i++)
		if (strcmp(v->text, key_kinds[i]) == 0)
			return;
	config_error_at(p->errs, v, NULL,
	                "key \"%s\" is unsupported: expected ecdsa-p256, ed25519 or x25519",
	                v->text);
}

static void
check_key_owner(struct pctx *p, const ynode *v, void *obj)
{
	int64_t n;

	(void)obj;
	if (cfg_scalar_int(v, &n) < 0)
		cfg_type_error(p, v, "an integer");
	else if (n < 0 || n > 65534)
		config_error_at(p->errs, v, NULL, "uid and gid must be from 0 to 65534, got %s",
		                v->text);
}

static const struct field attested_key_fields[] = {
    {.key = "id", .type = F_FUNC, .fn = check_key_id},
    {.key = "key", .type = F_FUNC, .fn = check_key_kind},
    {.key = "uid", .type = F_FUNC, .fn = check_key_owner},
    {.key = "gid", .type = F_FUNC, .fn = check_key_owner},
};
#undef SE

/* A list of mappings, each walked with fields; the `key` of each entry is
 * unique ("declared twice") and, when required, present. */
static void
check_section_list(struct pctx *p, const ynode *v, const char *what, const struct field *fields,
                   size_t nfields, const char *key, int key_required, size_t limit)
{
	struct named *names;
	size_t i, n = 0;

	if (v->kind != CONFIG_YAML_SEQ) {
		char want[64];

		snprintf(want, sizeof want, "a list of %ss", what);
		cfg_type_error(p, v, want);
		return;
	}
	if (limit > 0 && v->n > limit)
		config_error_at(p->errs, v, NULL, "%zu entries, more than the limit of %zu", v->n,
		                limit);
	names = xcalloc(v->n + 1, sizeof(*names));
	for (i = 0; i < v->n; i++) {
		struct section_entry scratch = {0};
		const ynode *it = v->items[i], *k;

		if (it->kind != CONFIG_YAML_MAP) {
			char want[64];

			snprintf(want, sizeof want, "a %s (a mapping)", what);
			cfg_type_error(p, it, want);
			continue;
		}
		cfg_walk_map(p, it, fields, nfields, &scratch);
		k = config_yaml_get(it, key);
		if (k == NULL || k->kind != CONFIG_YAML_SCALAR) {
			if (key_required && (k == NULL || !k->bad))
				config_error_at(p->errs, it, key, "required key is missing");
			continue;
		}
		names[n].name = k->text;
		names[n++].node = k;
	}
	if (key_required) {
		/* "declared twice" */
		size_t j;

		for (i = 0; i < n; i++)
			for (j = 0; j < i; j++)
				if (strcmp(names[i].name, names[j].name) == 0) {
					config_error_at(
					    p->errs, names[i].node, NULL,
					    "%s \"%s\" is declared twice (first at line %d)", what,
					    names[i].name, names[j].node->pos.line);
					break;
				}
	}
	free(names);
}

void
cfg_parse_volumes(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	check_section_list(p, v, "volume", volume_fields, ARRAY_LEN(volume_fields), "name", 1, 0);
	p->volumes = v->kind == CONFIG_YAML_SEQ ? v : NULL;
	json_object_set_new(p->rec, "volumes", cfg_yaml_to_json(v));
	if (p->volumes != NULL && v->n > 0)
		cfg_unsupported(p, v, "persistent volumes are not supported yet");
}

void
cfg_parse_models(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	/* Names are checked for repeats with the grants (only required ones must
	 * be unique). */
	check_section_list(p, v, "model", model_fields, ARRAY_LEN(model_fields), "name", 0, 0);
	p->models = v->kind == CONFIG_YAML_SEQ ? v : NULL;
	json_object_set_new(p->rec, "models", cfg_yaml_to_json(v));
	if (p->models != NULL && v->n > 0)
		cfg_unsupported(p, v, "models are not supported yet");
}

void
cfg_parse_attested_keys(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	check_section_list(p, v, "attested key", attested_key_fields,
	                   ARRAY_LEN(attested_key_fields), "id", 1, MAX_ATTESTED_KEYS);
	if (v->kind == CONFIG_YAML_SEQ) {
		size_t i;

		for (i = 0; i < v->n; i++)
			if (v->items[i]->kind == CONFIG_YAML_MAP && cfg_missing(v->items[i], "key"))
				config_error_at(p->errs, v->items[i], "key",
				                "required key is missing");
		p->attested_keys = v;
	}
	json_object_set_new(p->rec, "attested-keys", cfg_yaml_to_json(v));
	if (p->attested_keys != NULL && v->n > 0)
		cfg_unsupported(p, v, "attested keys are not supported yet");
}

static const char *const egress_modes[] = {"closed", "allowlist", "open", NULL};

static void
check_allow(struct pctx *p, const ynode *v, void *obj)
{
	size_t i;

	(void)obj;
	if (v->kind != CONFIG_YAML_SEQ) {
		cfg_type_error(p, v, "a list of host names");
		return;
	}
	if (v->n > MAX_ALLOW)
		config_error_at(p->errs, v, NULL, "%zu entries, more than the limit of %d", v->n,
		                MAX_ALLOW);
	for (i = 0; i < v->n; i++)
		if (cfg_want_scalar(p, v->items[i], "a host name") == 0 &&
		    !hostname_ok(v->items[i]->text))
			config_error_at(p->errs, v->items[i], NULL,
			                "\"%s\" is not a host name (RFC 1123, no *, no IP address)",
			                v->items[i]->text);
}

/* Only egress is read into obj (a const char **). */
static void
check_egress(struct pctx *p, const ynode *v, void *obj)
{
	char tmp[72];
	size_t i;

	if (cfg_want_scalar(p, v, "closed, allowlist or open") < 0)
		return;
	for (i = 0; egress_modes[i] != NULL; i++)
		if (strcmp(v->text, egress_modes[i]) == 0) {
			*(const char **)obj = egress_modes[i];
			return;
		}
	config_error_at(p->errs, v, NULL, "expected one of closed, allowlist, open, got %s",
	                config_yaml_shown(v, tmp));
}

static const struct field network_fields[] = {
    {.key = "egress", .type = F_FUNC, .fn = check_egress},
    {.key = "allow", .type = F_FUNC, .fn = check_allow},
};

/* The egress of network node v (a mapping or null): closed when unset. */
static const char *
network_egress(const ynode *v)
{
	const ynode *e = v->kind == CONFIG_YAML_MAP ? config_yaml_get(v, "egress") : NULL;

	return e != NULL && e->kind == CONFIG_YAML_SCALAR ? e->text : "closed";
}

void
cfg_parse_networks(struct pctx *p, const ynode *v, void *obj)
{
	size_t i;

	(void)obj;
	if (v->kind != CONFIG_YAML_MAP) {
		cfg_type_error(p, v, "a mapping of network names to {egress, allow}");
		return;
	}
	p->networks = v;
	if (v->n / 2 > MAX_NETWORKS)
		config_error_at(p->errs, v, NULL, "%zu networks, more than the limit of %d",
		                v->n / 2, MAX_NETWORKS);
	for (i = 0; i + 1 < v->n; i += 2) {
		const ynode *k = v->items[i], *n = v->items[i + 1], *allow;
		const char *egress = "closed";

		if (k->bad || k->kind != CONFIG_YAML_SCALAR)
			continue;
		if (!network_name_ok(k->text) || strcmp(k->text, "shim-net") == 0)
			config_error_at(
			    p->errs, k, NULL,
			    "network name \"%s\" is invalid (a-z, 0-9 and -, not at either "
			    "end, at most 15, not shim-net)",
			    k->text);
		if (n->kind == CONFIG_YAML_NULL)
			continue;
		if (n->kind != CONFIG_YAML_MAP) {
			cfg_type_error(p, n, "a mapping (egress, allow) or nothing");
			continue;
		}
		cfg_walk_map(p, n, network_fields, ARRAY_LEN(network_fields), &egress);
		allow = config_yaml_get(n, "allow");
		if (allow != NULL && allow->kind != CONFIG_YAML_NULL &&
		    strcmp(egress, "allowlist") != 0)
			config_error_at(
			    p->errs, allow, NULL,
			    "allow is only for egress: allowlist (this network's egress is "
			    "%s)",
			    egress);
		if (strcmp(egress, "closed") != 0)
			cfg_unsupported(p, config_yaml_get(n, "egress"),
			                strcmp(egress, "open") == 0
			                    ? "egress: open is not supported yet"
			                    : "egress: allowlist is not supported yet");
	}
	json_object_set_new(p->rec, "networks", cfg_yaml_to_json(v));
}

static void
check_inbound_ports(struct pctx *p, const ynode *v, void *obj)
{
	int64_t n;
	size_t i;

	(void)obj;
	if (v->kind != CONFIG_YAML_SEQ) {
		cfg_type_error(p, v, "a list of ports");
		return;
	}
	if (v->n > MAX_INBOUND_PORTS)
		config_error_at(p->errs, v, NULL, "%zu ports, more than the limit of %d", v->n,
		                MAX_INBOUND_PORTS);
	for (i = 0; i < v->n; i++) {
		if (cfg_scalar_int(v->items[i], &n) < 0)
			cfg_type_error(p, v->items[i], "a port number");
		else if (n < 1 || n > 65535)
			config_error_at(p->errs, v->items[i], NULL,
			                "%s is out of range (1 to 65535)", v->items[i]->text);
	}
	p->inbound_ports = v;
	if (v->n > 0)
		cfg_unsupported(p, v, "inbound ports are not supported yet");
}

static const struct field cvm_network_fields[] = {
    {.key = "inbound-ports", .type = F_FUNC, .fn = check_inbound_ports},
};

void
cfg_parse_cvm_network(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	if (v->kind != CONFIG_YAML_MAP) {
		cfg_type_error(p, v, "a mapping (inbound-ports)");
		return;
	}
	cfg_walk_map(p, v, cvm_network_fields, ARRAY_LEN(cvm_network_fields), NULL);
	json_object_set_new(p->rec, "cvm-network", cfg_yaml_to_json(v));
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

/* Whether shim.paths lets path through. */
static int
paths_allow(char *const *paths, const char *path)
{
	for (; paths != NULL && *paths != NULL; paths++)
		if (config_path_allows(*paths, path, strlen(path)))
			return 1;
	return 0;
}

/* The scalar value of key in each mapping of list seq that has it. */
static const ynode *
section_find(const ynode *seq, const char *key, const char *value)
{
	size_t i;

	for (i = 0; seq != NULL && i < seq->n; i++) {
		const ynode *k = config_yaml_get(seq->items[i], key);

		if (k != NULL && k->kind == CONFIG_YAML_SCALAR && strcmp(k->text, value) == 0)
			return seq->items[i];
	}
	return NULL;
}

static int
yaml_true(const ynode *m, const char *key)
{
	const ynode *v = m != NULL ? config_yaml_get(m, key) : NULL;
	int b = 0;

	return v != NULL && cfg_scalar_bool(v, 1, &b) == 0 && b;
}

/* Whether path equals, contains or lies under /run/tinfoil/keys, or is /. */
static int
overlaps_key_dir(const char *path)
{
	static const char dir[] = "/run/tinfoil/keys";
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 1 && path[0] == '/')
		return 1;
	if (n <= sizeof(dir) - 1)
		return strncmp(dir, path, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
	return strncmp(path, dir, sizeof(dir) - 1) == 0 && path[sizeof(dir) - 1] == '/';
}

/* A container's grants of names from a declared list: each declared
 * (declared(name) != NULL), none repeated. */
static void
check_grants(struct pctx *p, const ynode *list, const char *what,
             int (*declared)(struct pctx *p, const char *name))
{
	size_t i, j;

	if (list == NULL || list->kind != CONFIG_YAML_SEQ)
		return;
	for (i = 0; i < list->n; i++) {
		const ynode *it = list->items[i];

		if (it->kind != CONFIG_YAML_SCALAR)
			continue;
		for (j = 0; j < i; j++)
			if (strcmp(list->items[j]->text, it->text) == 0)
				break;
		if (j < i)
			config_error_at(p->errs, it, NULL, "%s \"%s\" is duplicated", what,
			                it->text);
		else if (!declared(p, it->text))
			config_error_at(p->errs, it, NULL, "%s \"%s\" is not declared", what,
			                it->text);
	}
}

static int
model_declared(struct pctx *p, const char *name)
{
	return section_find(p->models, "name", name) != NULL;
}

static int
network_declared(struct pctx *p, const char *name)
{
	return strcmp(name, "shim-net") != 0 && p->networks != NULL &&
	       config_yaml_get(p->networks, name) != NULL;
}

/* Checks of one container against the top-level sections. */
static void
check_container_sections(struct pctx *p, const ynode *m, const struct config_container *ct)
{
	const ynode *nets = config_yaml_get(m, "networks"), *ports = config_yaml_get(m, "ports");
	const ynode *pv = config_yaml_get(m, "persistent_volumes"),
	            *vols = config_yaml_get(m, "volumes");
	const ynode *user = config_yaml_get(m, "user");
	size_t i, open_nets = 0;

	check_grants(p, config_yaml_get(m, "models"), "model", model_declared);
	check_grants(p, nets, "network", network_declared);
	for (i = 0; nets != NULL && nets->kind == CONFIG_YAML_SEQ && i < nets->n; i++) {
		const ynode *n =
		    p->networks != NULL ? config_yaml_get(p->networks, nets->items[i]->text) : NULL;

		if (n != NULL && strcmp(network_egress(n), "closed") != 0 && ++open_nets == 2)
			config_error_at(p->errs, nets->items[i], NULL,
			                "at most one network with egress other than closed");
	}
	/* With networks declared, a container publishes ports through one. */
	if (p->networks != NULL && ports != NULL && ports->kind == CONFIG_YAML_SEQ &&
	    ports->n > 0 && strv_len(ct->networks) == 0)
		config_error_at(p->errs, ports, NULL,
		                "ports requires an attached network (networks)");
	for (i = 0; pv != NULL && pv->kind == CONFIG_YAML_SEQ && i < pv->n; i++) {
		const char *t = pv->items[i]->text, *colon = strchr(t, ':');
		char *name;

		if (pv->items[i]->kind != CONFIG_YAML_SCALAR || colon == NULL)
			continue;
		name = xstrndup(t, (size_t)(colon - t));
		if (section_find(p->volumes, "name", name) == NULL)
			config_error_at(p->errs, pv->items[i], NULL,
			                "\"%s\" must name a volume declared in volumes", name);
		if (strv_len(ct->keys) > 0 && overlaps_key_dir(colon + 1))
			config_error_at(p->errs, pv->items[i], NULL,
			                "%s conflicts with attested keys at /run/tinfoil/keys",
			                colon + 1);
		free(name);
	}
	for (i = 0; vols != NULL && vols->kind == CONFIG_YAML_SEQ && i < vols->n; i++) {
		const char *t = vols->items[i]->text, *colon = strchr(t, ':');
		char *name;

		if (vols->items[i]->kind != CONFIG_YAML_SCALAR || colon == NULL)
			continue;
		name = xstrndup(t, (size_t)(colon - t));
		if (section_find(p->volumes, "name", name) != NULL)
			config_error_at(
			    p->errs, vols->items[i], NULL,
			    "\"%s\" is a declared volume: mount it with persistent_volumes", name);
		if (strv_len(ct->keys) > 0 && overlaps_key_dir(colon + 1))
			config_error_at(p->errs, vols->items[i], NULL,
			                "%s conflicts with attested keys at /run/tinfoil/keys",
			                colon + 1);
		free(name);
	}
	for (i = 0; strv_len(ct->keys) > 0 && i < ct->n_tmpfs; i++)
		if (strcmp(ct->tmpfs[i].path, "/run") != 0 && overlaps_key_dir(ct->tmpfs[i].path))
			config_error_at(
			    p->errs, config_yaml_get(m, "tmpfs"), NULL,
			    "tmpfs %s conflicts with attested keys at /run/tinfoil/keys",
			    ct->tmpfs[i].path);
	if (ct->cvm_admin && ct->user != NULL && strcmp(ct->user, "") != 0 &&
	    strcmp(ct->user, "0") != 0 && strcmp(ct->user, "0:0") != 0 &&
	    strcmp(ct->user, "root") != 0 && strcmp(ct->user, "root:root") != 0)
		config_error_at(
		    p->errs, user, NULL,
		    "cvm_admin requires root user (0, 0:0, root or root:root), got \"%s\"",
		    ct->user);
	if (ct->seal_register && (ct->user == NULL || !isdigit((unsigned char)ct->user[0])))
		config_error_at(p->errs, user != NULL ? user : config_yaml_get(m, "seal_register"),
		                NULL, "seal_register requires a user beginning with a numeric uid");
	/* secrets may not name a model's or a volume's key-secret. */
	for (i = 0; ct->secrets != NULL && ct->secrets[i] != NULL; i++)
		if (section_find(p->models, "key-secret", ct->secrets[i]) != NULL ||
		    section_find(p->volumes, "key-secret", ct->secrets[i]) != NULL)
			config_error_at(p->errs, config_yaml_get(m, "secrets"), NULL,
			                "secret %s is a model's or a volume's key-secret",
			                ct->secrets[i]);
}

/* Whether model entry m must be named and unique: encrypted, or granted. */
static int
model_required(struct pctx *p, const ynode *m)
{
	const ynode *name = config_yaml_get(m, "name"), *emwp = config_yaml_get(m, "emwp");
	size_t i;

	if (emwp != NULL && emwp->kind == CONFIG_YAML_SCALAR)
		return 1;
	for (i = 0; name != NULL && name->kind == CONFIG_YAML_SCALAR && i < p->c->n_containers; i++)
		if (strv_contains(p->c->containers[i].models, name->text))
			return 1;
	return 0;
}

/* Checks between the containers and the top-level sections. */
static void
check_sections(struct pctx *p, const ynode *root)
{
	struct config *c = p->c;
	const ynode *seals = NULL;
	size_t i, j, k, disks = 0;
	int inbound22 = 0;

	for (i = 0; i < c->n_containers; i++) {
		check_container_sections(p, p->cnodes[i], &c->containers[i]);
		if (c->containers[i].seal_register) {
			if (seals != NULL)
				config_error_at(
				    p->errs, config_yaml_get(p->cnodes[i], "seal_register"), NULL,
				    "at most one container may have seal_register");
			seals = p->cnodes[i];
		}
	}
	/* Models: required ones are named and unique, encrypted ones granted. */
	for (i = 0; p->models != NULL && i < p->models->n; i++) {
		const ynode *m = p->models->items[i], *name = config_yaml_get(m, "name");
		int req;

		if (m->kind != CONFIG_YAML_MAP)
			continue;
		req = model_required(p, m);
		if (name == NULL || name->kind != CONFIG_YAML_SCALAR) {
			if (req)
				config_error_at(
				    p->errs, m, "name",
				    "required key is missing (an encrypted model needs a name)");
			continue;
		}
		for (j = 0; j < i; j++) {
			const ynode *o = p->models->items[j], *on = config_yaml_get(o, "name");

			if (on != NULL && on->kind == CONFIG_YAML_SCALAR &&
			    strcmp(on->text, name->text) == 0 && (req || model_required(p, o))) {
				config_error_at(p->errs, name, NULL,
				                "model \"%s\" duplicates the one at line %d",
				                name->text, on->pos.line);
				break;
			}
		}
		if (config_yaml_get(m, "emwp") != NULL &&
		    config_yaml_get(m, "emwp")->kind == CONFIG_YAML_SCALAR) {
			for (k = 0; k < c->n_containers; k++)
				if (strv_contains(c->containers[k].models, name->text))
					break;
			if (k == c->n_containers)
				config_error_at(
				    p->errs, name, NULL,
				    "encrypted model \"%s\" requires an explicit container "
				    "grant (containers[].models)",
				    name->text);
		}
	}
	/* Overlays need exec on their volume and a declared exec model. */
	for (i = 0; p->volumes != NULL && i < p->volumes->n; i++) {
		const ynode *vol = p->volumes->items[i], *ov = config_yaml_get(vol, "overlays");
		int exec_model = 0;

		if (ov == NULL || ov->kind != CONFIG_YAML_SEQ || ov->n == 0)
			continue;
		for (j = 0; p->models != NULL && j < p->models->n; j++)
			exec_model |= yaml_true(p->models->items[j], "exec");
		if (!yaml_true(vol, "exec"))
			config_error_at(p->errs, ov, NULL,
			                "overlays need exec: true on the volume");
		if (!exec_model)
			config_error_at(p->errs, ov, NULL,
			                "overlays need a declared model with exec: true");
	}
	disks = (p->models != NULL ? p->models->n : 0) + (p->volumes != NULL ? p->volumes->n : 0);
	if (disks > MAX_DISKS)
		config_error_at(p->errs, p->volumes != NULL ? p->volumes : p->models, NULL,
		                "models and volumes make %zu disks, more than the limit of %d",
		                disks, MAX_DISKS);
	/* Attested keys: each granted to exactly one container. */
	for (i = 0; p->attested_keys != NULL && i < p->attested_keys->n; i++) {
		const ynode *id = config_yaml_get(p->attested_keys->items[i], "id");
		size_t grants = 0;

		if (id == NULL || id->kind != CONFIG_YAML_SCALAR)
			continue;
		for (k = 0; k < c->n_containers; k++)
			for (j = 0;
			     c->containers[k].keys != NULL && c->containers[k].keys[j] != NULL; j++)
				grants += strcmp(c->containers[k].keys[j], id->text) == 0;
		if (grants == 0)
			config_error_at(p->errs, id, NULL,
			                "attested key \"%s\" needs exactly one container grant "
			                "(containers[].keys)",
			                id->text);
	}
	{
		struct named *seen = NULL;
		size_t n = 0;

		for (k = 0; k < c->n_containers; k++) {
			const ynode *keys = config_yaml_get(p->cnodes[k], "keys");

			for (j = 0; keys != NULL && keys->kind == CONFIG_YAML_SEQ && j < keys->n;
			     j++) {
				const ynode *it = keys->items[j];

				if (section_find(p->attested_keys, "id", it->text) == NULL) {
					config_error_at(p->errs, it, NULL,
					                "unknown attested key \"%s\"", it->text);
					continue;
				}
				for (i = 0; i < n; i++)
					if (strcmp(seen[i].name, it->text) == 0)
						break;
				if (i < n) {
					config_error_at(
					    p->errs, it, NULL,
					    "duplicate or shared grant of attested key \"%s\" "
					    "(first at line %d)",
					    it->text, seen[i].node->pos.line);
					continue;
				}
				seen = xreallocarray(seen, n + 1, sizeof(*seen));
				seen[n].name = it->text;
				seen[n++].node = it;
			}
		}
		free(seen);
	}
	/* Host ports: published once across containers; admin SSH is 22:22. */
	for (i = 0; p->inbound_ports != NULL && i < p->inbound_ports->n; i++)
		inbound22 |= strcmp(p->inbound_ports->items[i]->text, "22") == 0;
	{
		struct named *pub = NULL;
		size_t n = 0;

		for (k = 0; k < c->n_containers; k++) {
			const ynode *ports = config_yaml_get(p->cnodes[k], "ports");

			for (j = 0; c->containers[k].ports != NULL && ports != NULL && j < ports->n;
			     j++) {
				const ynode *it = ports->items[j];
				int host = cfg_port_host(it->text);
				char key[16];

				if (host < 0)
					continue;
				if (host == 22 && inbound22 && c->containers[k].cvm_admin &&
				    strcmp(it->text, "22:22") != 0)
					config_error_at(p->errs, it, NULL,
					                "admin SSH requires 22:22, got \"%s\"",
					                it->text);
				snprintf(key, sizeof key, "%d", host);
				for (i = 0; i < n; i++)
					if (strcmp(pub[i].name, key) == 0)
						break;
				if (i < n) {
					config_error_at(
					    p->errs, it, NULL,
					    "host port %d is already published (at line %d)", host,
					    pub[i].node->pos.line);
					continue;
				}
				pub = xreallocarray(pub, n + 1, sizeof(*pub));
				pub[n].name = xstrdup(key);
				pub[n++].node = it;
			}
		}
		for (i = 0; i < n; i++)
			free((char *)pub[i].name);
		free(pub);
	}
	/* Container GPU ids exist among the enclave's GPUs. */
	for (k = 0; k < c->n_containers; k++) {
		char **ids = c->containers[k].gpu_ids;

		for (j = 0; ids != NULL && ids[j] != NULL; j++)
			if (c->gpus < 0 || atoi(ids[j]) >= c->gpus) {
				config_error_at(p->errs, config_yaml_get(p->cnodes[k], "gpus"),
				                NULL, "GPU %s is not among the %d declared by gpus",
				                ids[j], c->gpus < 0 ? 0 : c->gpus);
				break;
			}
	}
	(void)root;
}

/* Checks between sections, once each is read. */
void
cfg_check_whole(struct pctx *p, const ynode *root)
{
	struct config *c = p->c;
	struct named *names;
	size_t i, n = 0;
	int64_t counted = 0;

	if (!p->seen_containers)
		config_error_at(p->errs, root, "containers", "required key is missing");
	if (!p->seen_shim)
		config_error_at(p->errs, root, "shim", "required key is missing");

	names = xcalloc(c->n_containers + 1, sizeof(*names));
	for (i = 0; i < c->n_containers; i++) {
		if (c->containers[i].name == NULL || p->names[i] == NULL)
			continue;
		names[n].name = c->containers[i].name;
		names[n++].node = p->names[i];
	}
	cfg_check_unique(p, names, n, "container name");
	free(names);
	check_sections(p, root);

	if (c->shim.upstream_container != NULL) {
		if (c->n_containers > 0 &&
		    config_container_find(c, c->shim.upstream_container) == NULL)
			config_error_at(p->errs, p->upstream_container, NULL,
			                "no container is named \"%s\"", c->shim.upstream_container);
	} else if (c->n_containers > 0 && c->containers[0].name != NULL) {
		c->shim.upstream_container = xstrdup(c->containers[0].name);
	}

	/* /health is checked whenever the router would let it through (as
	 * route_path_allowed() matches), not only when listed exactly. */
	if (c->deploy.health_path == NULL && paths_allow(c->shim.paths, "/health"))
		c->deploy.health_path = xstrdup("/health");

	/* The enclave's GPUs: containers may not ask for more than it declares. */
	for (i = 0; i < c->n_containers; i++)
		if (c->containers[i].gpus > 0)
			counted += c->containers[i].gpus;
	if (c->gpus >= 0 && counted > c->gpus)
		config_error_at(p->errs, config_yaml_get(root, "gpus"), NULL,
		                "the containers ask for %lld GPUs, more than the %d declared here",
		                (long long)counted, c->gpus);
	for (i = 0; i < c->n_containers && c->gpus == 0; i++)
		if (c->containers[i].gpus_all)
			config_error_at(p->errs, config_yaml_get(root, "gpus"), NULL,
			                "container %s asks for gpus: all, but gpus is 0",
			                c->containers[i].name ? c->containers[i].name : "");
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
