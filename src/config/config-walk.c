/* config-walk: the values of a config and the field walker that reads them.
 *
 * Each mapping of the format is a table of fields (key, type, where it goes,
 * config-int.h). cfg_walk_map() applies a table to a mapping, so unknown keys
 * (with a "did you mean" hint), wrong types and ranges are reported the same
 * way at every level. Here too: the scalar readers (ints, bools, numbers,
 * sizes, names) and the duplicate check the lists share.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/config-int.h"

/* ---- values ---- */

/* Notes that the key at n is accepted but not honoured at deploy yet. */
void
cfg_unsupported(struct pctx *p, const ynode *n, const char *what)
{
	config_error_at(&p->c->unsupported, n, NULL, "%s", what);
}

void
cfg_type_error(struct pctx *p, const ynode *v, const char *want)
{
	char tmp[72];

	if (v->kind == CONFIG_YAML_SCALAR && !v->plain)
		config_error_at(p->errs, v, NULL, "expected %s, got the string %s", want,
		                config_yaml_shown(v, tmp));
	else
		config_error_at(p->errs, v, NULL, "expected %s, got %s", want,
		                config_yaml_shown(v, tmp));
}

int
cfg_want_scalar(struct pctx *p, const ynode *v, const char *want)
{
	if (v->kind == CONFIG_YAML_SCALAR)
		return 0;
	cfg_type_error(p, v, want);
	return -1;
}

/* A plain decimal integer: [-+]?[0-9]+ within int64. */
int
cfg_scalar_int(const ynode *v, int64_t *out)
{
	const char *s = v->text;
	long long r;
	char *end;

	if (v->kind != CONFIG_YAML_SCALAR || !v->plain)
		return -1;
	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return -1;
	errno = 0;
	r = strtoll(v->text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = r;
	return 0;
}

/* A YAML 1.2 core-schema bool; with yaml11 also the YAML 1.1 spellings (yes,
 * no, on, off, y, n), which the reference's parser (go-yaml v3) accepts for a
 * field typed bool, so real files use them. */
int
cfg_scalar_bool(const ynode *v, int yaml11, int *out)
{
	static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
	                                "on",   "On",   "ON",   "y",   "Y"};
	static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO",
	                                "off",   "Off",   "OFF",   "n",  "N"};
	size_t i, n = yaml11 ? ARRAY_LEN(t) : 3;

	if (v->kind != CONFIG_YAML_SCALAR || !v->plain)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(v->text, t[i]) == 0)
			return *out = 1, 0;
		if (strcmp(v->text, f[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* A finite decimal number; quoted ones too when allow_quoted. */
int
cfg_scalar_number(const ynode *v, int allow_quoted, double *out)
{
	const char *s = v->text;
	char *end;
	double d;

	if (v->kind != CONFIG_YAML_SCALAR || (!v->plain && !allow_quoted))
		return -1;
	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1])))
		return -1;
	errno = 0;
	d = strtod(v->text, &end);
	if (errno != 0 || *end != '\0' || !isfinite(d) || strpbrk(v->text, "xXnNiI") != NULL)
		return -1;
	*out = d;
	return 0;
}

/* "512m", "2g", "1.5GB", "256MiB" or bytes; binary units (docker's kb, mb, ...
 * included), case-insensitive. */
static int
size_parse(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {{"", 1},
	             {"b", 1},
	             {"k", 1024.0},
	             {"kb", 1024.0},
	             {"m", 1048576.0},
	             {"mb", 1048576.0},
	             {"g", 1073741824.0},
	             {"gb", 1073741824.0},
	             {"t", 1099511627776.0},
	             {"tb", 1099511627776.0},
	             {"kib", 1024.0},
	             {"mib", 1048576.0},
	             {"gib", 1073741824.0},
	             {"tib", 1099511627776.0}};
	char *end;
	double v;
	size_t i;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0 || strpbrk(s, "xXpP") != NULL)
		return -1;
	for (i = 0; i < ARRAY_LEN(units); i++) {
		if (strcasecmp(end, units[i].unit) == 0) {
			v *= units[i].mult;
			if (v >= 9.2e18)
				return -1;
			*out = (int64_t)v;
			return 0;
		}
	}
	return -1;
}

int
cfg_name_ok(const char *s, size_t max)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]) || strlen(s) > max)
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return 0;
	return 1;
}

int
cfg_env_name_ok(const char *s)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* ---- the field walker ---- */

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, tmp;
	size_t row[64];

	if (la >= ARRAY_LEN(row) || lb >= ARRAY_LEN(row))
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (tolower((unsigned char)a[i - 1]) !=
			                      tolower((unsigned char)b[j - 1]));

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

static void
unknown_key(struct pctx *p, const ynode *k, const struct field *fields, size_t n)
{
	static const struct {
		const char *from, *to;
	} aliases[] = {{"environment", "env"},
	               {"container_name", "name"},
	               {"cmd", "command"},
	               {"workdir", "working_dir"},
	               {"mem_limit", "memory"}};
	const char *best = NULL;
	size_t i, d, bestd = 3;

	if (p->warn_unknown) {
		config_error_at(&p->c->warnings, k, NULL,
		                "warning: unknown shim key, ignored (as the reference ignores it)");
		return;
	}
	/* Hints cost an edit distance per known key: only for the first few. */
	for (i = 0; i < n && p->hints < 100; i++) {
		d = edit_distance(k->text, fields[i].key);
		if (d < bestd && d < strlen(fields[i].key)) {
			bestd = d;
			best = fields[i].key;
		}
	}
	for (i = 0; best == NULL && i < ARRAY_LEN(aliases); i++)
		for (d = 0; d < n; d++)
			if (strcmp(k->text, aliases[i].from) == 0 &&
			    strcmp(fields[d].key, aliases[i].to) == 0)
				best = aliases[i].to;
	p->hints++;
	if (strncmp(k->text, "x-", 2) == 0)
		config_error_at(p->errs, k, NULL,
		                "unknown key (docker-compose x- extensions are not supported)");
	else if (best != NULL)
		config_error_at(p->errs, k, NULL, "unknown key (did you mean \"%s\"?)", best);
	else
		config_error_at(p->errs, k, NULL, "unknown key");
}

/* Any YAML value as JSON: plain scalars become numbers, bools and null. */
json_t *
cfg_yaml_to_json(const ynode *v)
{
	json_t *j;
	int64_t i64;
	double d;
	int b;
	size_t i;

	switch (v->kind) {
	case CONFIG_YAML_NULL:
		return json_null();
	case CONFIG_YAML_SCALAR:
		if (cfg_scalar_int(v, &i64) == 0)
			return json_integer(i64);
		if (cfg_scalar_bool(v, 0, &b) == 0)
			return json_boolean(b);
		if (v->plain && cfg_scalar_number(v, 0, &d) == 0)
			return json_real(d);
		return cfg_jstr(v->text);
	case CONFIG_YAML_SEQ:
		j = json_array();
		for (i = 0; i < v->n; i++)
			json_array_append_new(j, cfg_yaml_to_json(v->items[i]));
		return j;
	case CONFIG_YAML_MAP:
		j = json_object();
		for (i = 0; i + 1 < v->n; i += 2)
			if (!v->items[i]->bad && v->items[i]->kind == CONFIG_YAML_SCALAR)
				json_object_set_new(j, v->items[i]->text,
				                    cfg_yaml_to_json(v->items[i + 1]));
		return j;
	}
	return json_null();
}

int
cfg_path_check(struct pctx *p, const ynode *v)
{
	const char *star;
	size_t i;

	if (cfg_want_scalar(p, v, "a request path") < 0)
		return -1;
	if (v->text[0] != '/') {
		config_error_at(p->errs, v, NULL, "a path must start with /, got \"%s\"", v->text);
		return -1;
	}
	for (i = 0; i < v->len; i++) {
		if ((unsigned char)v->text[i] <= ' ' || v->text[i] == '?' || v->text[i] == '#') {
			config_error_at(p->errs, v, NULL,
			                "a path may not hold spaces, control characters, ? or #");
			return -1;
		}
	}
	/* A star ends a prefix (/v1/STAR, /v1STAR) or stands for one whole
	 * segment in the middle (/plan/STAR/sign), as real files write. */
	for (star = strchr(v->text, '*'); star != NULL; star = strchr(star + 1, '*')) {
		if (star[1] == '\0')
			break;
		if (star[-1] != '/' || star[1] != '/') {
			config_error_at(
			    p->errs, v, NULL,
			    "* is only allowed at the end of a path (\"/v1/*\") or as a "
			    "whole segment (\"/plan/*/sign\"), got \"%s\"",
			    v->text);
			return -1;
		}
	}
	return 0;
}

/* A list of scalars as a strv; an empty list gives an empty (non-NULL) vector. */
int
cfg_read_strv(struct pctx *p, const ynode *v, const char *what, char ***out)
{
	char **r = xcalloc(1, sizeof(*r));
	size_t i;
	int bad = 0;

	if (v->kind != CONFIG_YAML_SEQ) {
		cfg_type_error(p, v, what);
		free(r);
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		if (v->items[i]->kind != CONFIG_YAML_SCALAR) {
			cfg_type_error(p, v->items[i], "a string");
			bad = 1;
			continue;
		}
		r = strv_push(r, v->items[i]->text);
	}
	if (bad) {
		strv_free(r);
		return -1;
	}
	strv_free(*out);
	*out = r;
	return 0;
}

static void
apply_field(struct pctx *p, const struct field *f, const ynode *v, void *obj)
{
	char *base = obj, tmp[72];
	int64_t i64;
	double d;
	size_t i;
	int b;

	switch (f->type) {
	case F_STR:
	case F_PATH:
	case F_REC_STR:
		if (cfg_want_scalar(p, v, "a string") < 0)
			return;
		if (f->type == F_PATH && v->text[0] != '/') {
			config_error_at(p->errs, v, NULL, "expected an absolute path, got %s",
			                config_yaml_shown(v, tmp));
			return;
		}
		if (f->choices != NULL) {
			struct buf list = BUF_INIT;

			for (i = 0; f->choices[i] != NULL; i++)
				if (strcmp(v->text, f->choices[i]) == 0)
					break;
			if (f->choices[i] == NULL) {
				for (i = 0; f->choices[i] != NULL; i++)
					buf_printf(&list, "%s%s", i ? ", " : "", f->choices[i]);
				config_error_at(p->errs, v, NULL, "expected one of %s, got %s",
				                list.data, config_yaml_shown(v, tmp));
				buf_free(&list);
				return;
			}
		}
		if (f->type == F_REC_STR) {
			json_object_set_new(p->rec, f->key, cfg_jstr(v->text));
		} else {
			free(*(char **)(base + f->off));
			*(char **)(base + f->off) = xstrdup(v->text);
		}
		return;
	case F_INT:
	case F_INT64:
	case F_REC_INT:
		if (cfg_scalar_int(v, &i64) < 0) {
			cfg_type_error(p, v, "an integer");
			return;
		}
		if (i64 < f->min || i64 > f->max) {
			config_error_at(p->errs, v, NULL, "%s is out of range (%lld to %lld)",
			                v->text, (long long)f->min, (long long)f->max);
			return;
		}
		if (f->type == F_INT)
			*(int *)(base + f->off) = (int)i64;
		else if (f->type == F_INT64)
			*(int64_t *)(base + f->off) = i64;
		else
			json_object_set_new(p->rec, f->key, json_integer(i64));
		return;
	case F_BOOL:
	case F_REC_BOOL:
		if (cfg_scalar_bool(v, 1, &b) < 0) {
			cfg_type_error(p, v, "true or false");
			return;
		}
		if (f->type == F_BOOL)
			*(int *)(base + f->off) = b;
		else
			json_object_set_new(p->rec, f->key, json_boolean(b));
		return;
	case F_REC_NUM:
		if (cfg_scalar_number(v, 0, &d) < 0) {
			cfg_type_error(p, v, "a number");
			return;
		}
		if (d < (double)f->min) {
			config_error_at(p->errs, v, NULL, "must be at least %lld",
			                (long long)f->min);
			return;
		}
		if (cfg_scalar_int(v, &i64) == 0)
			json_object_set_new(p->rec, f->key, json_integer(i64));
		else
			json_object_set_new(p->rec, f->key, json_real(d));
		return;
	case F_STRV:
		cfg_read_strv(p, v, "a list of strings", (char ***)(base + f->off));
		return;
	case F_REC_PATHS:
		if (v->kind != CONFIG_YAML_SEQ) {
			cfg_type_error(p, v, "a list of paths");
			return;
		}
		b = 0;
		for (i = 0; i < v->n; i++)
			b |= cfg_path_check(p, v->items[i]) < 0;
		if (!b)
			json_object_set_new(p->rec, f->key, cfg_yaml_to_json(v));
		return;
	case F_DUR:
		if (v->kind != CONFIG_YAML_SCALAR || duration_parse(v->text, &i64) < 0) {
			cfg_type_error(p, v, "a duration such as 30s, 5m or 1h30m");
			return;
		}
		if (i64 < f->min) {
			config_error_at(p->errs, v, NULL, "must be at least %lldms",
			                (long long)f->min);
			return;
		}
		*(int64_t *)(base + f->off) = i64;
		return;
	case F_SIZE:
		if (v->kind != CONFIG_YAML_SCALAR || size_parse(v->text, &i64) < 0) {
			cfg_type_error(p, v, "a size such as 512m or 2g");
			return;
		}
		if (i64 < f->min) {
			config_error_at(p->errs, v, NULL, "must be at least %lld bytes",
			                (long long)f->min);
			return;
		}
		*(int64_t *)(base + f->off) = i64;
		return;
	case F_REC:
		json_object_set_new(p->rec, f->key, cfg_yaml_to_json(v));
		return;
	case F_FUNC:
		f->fn(p, v, obj);
		return;
	}
}

/* Applies the field table to mapping m: each known key is read into obj,
 * each unknown one reported. An empty value counts as absent. */
void
cfg_walk_map(struct pctx *p, const ynode *m, const struct field *fields, size_t n, void *obj)
{
	size_t i, j;

	for (i = 0; i + 1 < m->n; i += 2) {
		const ynode *k = m->items[i], *v = m->items[i + 1];

		if (k->bad || k->kind != CONFIG_YAML_SCALAR)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(k->text, fields[j].key) == 0)
				break;
		if (j == n) {
			unknown_key(p, k, fields, n);
			continue;
		}
		if (v->kind == CONFIG_YAML_NULL)
			continue;
		apply_field(p, &fields[j], v, obj);
	}
}

/* Whether map m lacks key (an empty value counts as missing, a value already
 * reported as broken does not). */
int
cfg_missing(const ynode *m, const char *key)
{
	const ynode *v = config_yaml_get(m, key);

	return v == NULL || (v->kind == CONFIG_YAML_NULL && !v->bad);
}

/* ---- duplicates ---- */

static int
named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r != 0)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Reports every name of v[0..n) seen before, as "duplicate <what>". */
void
cfg_check_unique(struct pctx *p, struct named *v, size_t n, const char *what)
{
	size_t i, first = 0;

	for (i = 0; i < n; i++)
		v[i].idx = i;
	qsort(v, n, sizeof(*v), named_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i].name, v[i - 1].name) != 0) {
			first = i;
			continue;
		}
		config_error_at(p->errs, v[i].node, NULL, "duplicate %s \"%s\" (first at line %d)",
		                what, v[i].name, v[first].node->pos.line);
	}
}

int
cfg_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
