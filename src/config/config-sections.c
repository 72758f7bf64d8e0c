/* config-sections: the reference's newer top-level sections: volumes, models,
 * attested-keys, networks and cvm-network. Each is checked, recorded as
 * written (in the canonical form's extra keys) and kept in the pctx for the
 * checks between sections (config-check.c); none is acted on at deploy yet.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "config/config-int.h"

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

/* An id of 0..65534 (checked by check_owner), or 0. */
static unsigned
owner_id(const char *s, size_t n)
{
	return id_0_65534(s, n) == 0 ? (unsigned)strtoul(s, NULL, 10) : 0;
}

/* The volumes of list v as c->volumes, for the deploy; entries the checks
 * refused are left out (the file fails anyway). */
static void
record_volumes(struct config *c, const ynode *v)
{
	c->volumes = xcalloc(v->n + 1, sizeof *c->volumes);
	for (size_t i = 0; i < v->n; i++) {
		const ynode *it = v->items[i], *n, *o, *x, *sz;
		struct config_volume *vol = &c->volumes[c->n_volumes];
		const char *colon;
		int b = 0;

		if (it->kind != CONFIG_YAML_MAP || (n = config_yaml_get(it, "name")) == NULL ||
		    n->kind != CONFIG_YAML_SCALAR)
			continue;
		vol->name = xstrdup(n->text);
		vol->size_bytes = -1;
		if ((sz = config_yaml_get(it, "size")) != NULL && sz->kind == CONFIG_YAML_SCALAR &&
		    volume_size_parse(sz->text, &vol->size_bytes) != NULL)
			vol->size_bytes = -1;
		if ((o = config_yaml_get(it, "owner")) != NULL && o->kind == CONFIG_YAML_SCALAR) {
			colon = strchr(o->text, ':');
			vol->uid = owner_id(o->text, colon ? (size_t)(colon - o->text) : o->len);
			vol->gid = colon ? owner_id(colon + 1, strlen(colon + 1)) : vol->uid;
		}
		if ((x = config_yaml_get(it, "exec")) != NULL && cfg_scalar_bool(x, 1, &b) == 0)
			vol->exec = b;
		c->n_volumes++;
	}
}

void
cfg_parse_volumes(struct pctx *p, const ynode *v, void *obj)
{
	(void)obj;
	check_section_list(p, v, "volume", volume_fields, ARRAY_LEN(volume_fields), "name", 1, 0);
	p->volumes = v->kind == CONFIG_YAML_SEQ ? v : NULL;
	json_object_set_new(p->rec, "volumes", cfg_yaml_to_json(v));
	if (p->volumes != NULL)
		record_volumes(p->c, v);
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

/* A uid or gid of an attested key as the checks accepted it (0..65534),
 * 0 otherwise: the file fails then anyway. */
static unsigned
key_owner(const ynode *m, const char *key)
{
	const ynode *v = config_yaml_get(m, key);
	int64_t n;

	return v != NULL && cfg_scalar_int(v, &n) == 0 && n >= 0 && n <= 65534 ? (unsigned)n : 0;
}

/* The attested keys of list v as c->attested_keys, for the deploy; entries
 * without an id and a key are left out (the file fails anyway). */
static void
record_attested_keys(struct config *c, const ynode *v)
{
	c->attested_keys = xcalloc(v->n + 1, sizeof *c->attested_keys);
	for (size_t i = 0; i < v->n; i++) {
		const ynode *it = v->items[i], *id, *kind;
		struct config_attested_key *k = &c->attested_keys[c->n_attested_keys];

		if (it->kind != CONFIG_YAML_MAP || (id = config_yaml_get(it, "id")) == NULL ||
		    id->kind != CONFIG_YAML_SCALAR || (kind = config_yaml_get(it, "key")) == NULL ||
		    kind->kind != CONFIG_YAML_SCALAR)
			continue;
		k->id = xstrdup(id->text);
		k->kind = xstrdup(kind->text);
		k->uid = key_owner(it, "uid");
		k->gid = key_owner(it, "gid");
		c->n_attested_keys++;
	}
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
	if (p->attested_keys != NULL)
		record_attested_keys(p->c, v);
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
