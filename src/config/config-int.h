/* config-int: what the files of the config module share. Not for other
 * modules, which include config/config.h.
 *
 * The files:
 *   config.c                the API: parse (the top-level table), load, free, errors, queries
 *   config-walk.c           scalar values, the field walker, unknown-key hints, duplicates
 *   config-container.c      a container: its table, name, image, command, env, secrets, ...
 *   config-container-run.c  how a container runs: healthcheck, gpus, ports, tmpfs, stop, caps
 *   config-sections.c       volumes, models, attested-keys, networks, cvm-network
 *   config-check.c          the checks between sections, once each is read
 *   config-shim.c           shim, deploy, cvm-version
 *   config-json.c           the canonical form (JSON)
 *   config-yaml.c           the YAML tree with positions; the error list
 *   config-policy.c         what a container may not ask for
 * Internal functions are cfg_*, each documented here; everything else in a
 * file is static. Every F_FUNC handler takes the pctx, the value node (never
 * an empty one) and obj, the struct its table reads into.
 */
#ifndef BERTH_CONFIG_INT_H
#define BERTH_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config-types.h"
#include "config/config-yaml.h"

typedef struct config_yaml_node ynode;

#define CANONICAL_FLAGS (JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(15))

/* Parsing state of one config. */
struct pctx {
	struct config_errors *errs;
	struct config *c;
	json_t *rec;                     /* borrowed: where recorded keys of this map go */
	int hc_disable;                  /* the healthcheck being read has disable: true */
	int seen_containers, seen_shim;  /* the keys were present */
	const ynode *upstream_container; /* the shim's value node, or NULL */
	const ynode **names;             /* owned: the name node of each container */
	const ynode **cnodes;            /* owned: each container's mapping */
	unsigned hints;                  /* "did you mean" hints computed so far */
	int warn_unknown;                /* unknown keys are warnings here (shim) */
	/* Borrowed top-level sections, for the checks between sections. */
	const ynode *networks, *volumes, *models, *attested_keys, *inbound_ports;
};

/* Limits of the reference validator. */
#define MAX_CONTAINERS    64
#define MAX_LIST          256
#define MAX_TMPFS         64
#define MAX_HC_TEST       64
#define MAX_ENV_NAME      256
#define MAX_NETWORKS      32
#define MAX_DISKS         24
#define MAX_INBOUND_PORTS 64
#define MAX_ALLOW         256
#define MAX_OVERLAYS      8
#define MAX_ATTESTED_KEYS 32

enum ftype {
	F_STR,      /* char *: any scalar, as written */
	F_PATH,     /* char *: an absolute path */
	F_INT,      /* int in [min, max] */
	F_INT64,    /* int64_t in [min, max] */
	F_BOOL,     /* int: 0 or 1 */
	F_STRV,     /* char **: a list of scalars */
	F_DUR,      /* int64_t milliseconds from "30s", "1h30m", at least min */
	F_SIZE,     /* int64_t bytes from "512m", "2g" or a number */
	F_FUNC,     /* fn() does it */
	F_REC,      /* recorded as is in pctx->rec */
	F_REC_STR,  /* recorded, a scalar (one of choices when set) */
	F_REC_BOOL, /* recorded, a bool */
	F_REC_INT,  /* recorded, an integer in [min, max] */
	F_REC_NUM,  /* recorded, a number >= min */
	F_REC_PATHS /* recorded, a list of request paths */
};

struct field {
	const char *key;
	enum ftype type;
	size_t off;
	int64_t min, max;
	void (*fn)(struct pctx *p, const ynode *v, void *obj);
	const char *const *choices; /* NULL-terminated allowed values, or NULL */
};

/* A name and where it is, for the duplicate checks. */
struct named {
	const char *name;
	const ynode *node;
	size_t idx;
};

/* ---- values (config-walk.c) ---- */

/* Notes that the key at n is accepted but not honoured at deploy yet. */
void cfg_unsupported(struct pctx *p, const ynode *n, const char *what);
/* Reports that v is not want ("a string"), saying what it is instead. */
void cfg_type_error(struct pctx *p, const ynode *v, const char *want);
/* 0 when v is a scalar; else reports it as not want and returns -1. */
int cfg_want_scalar(struct pctx *p, const ynode *v, const char *want);
/* A plain decimal integer within int64 into *out: 0, or -1. */
int cfg_scalar_int(const ynode *v, int64_t *out);
/* A YAML 1.2 bool (with yaml11 also yes, no, on, off, y, n) into *out: 0, or -1. */
int cfg_scalar_bool(const ynode *v, int yaml11, int *out);
/* A finite decimal number (quoted ones too when allow_quoted) into *out: 0, or -1. */
int cfg_scalar_number(const ynode *v, int allow_quoted, double *out);
/* Whether s is letters, digits, _ . - starting with a letter or digit, at most max. */
int cfg_name_ok(const char *s, size_t max);
/* Whether s is a variable or secret name: letters, digits, _, not starting with a digit. */
int cfg_env_name_ok(const char *s);

/* ---- the field walker, duplicates (config-walk.c) ---- */

/* Any YAML value as new JSON: plain scalars become numbers, bools and null. */
json_t *cfg_yaml_to_json(const ynode *v);
/* Checks that v is a request path as shim.paths takes it: 0, or -1 reported. */
int cfg_path_check(struct pctx *p, const ynode *v);
/* A list of scalars into *out (freeing the old; an empty list gives an empty
 * strv): 0, or -1 reported as not what, *out untouched. */
int cfg_read_strv(struct pctx *p, const ynode *v, const char *what, char ***out);
/* Applies the table fields[0..n) to mapping m: each known key is read into
 * obj, each unknown one reported. An empty value counts as absent. */
void cfg_walk_map(struct pctx *p, const ynode *m, const struct field *fields, size_t n, void *obj);
/* Whether map m lacks key (an empty value counts as missing, a value already
 * reported as broken does not). */
int cfg_missing(const ynode *m, const char *key);
/* Reports every name of v[0..n) seen before, as "duplicate <what>"; sorts v. */
void cfg_check_unique(struct pctx *p, struct named *v, size_t n, const char *what);
/* qsort() comparison of two char *. */
int cfg_str_cmp(const void *a, const void *b);

/* ---- containers (config-container.c) ---- */

/* `containers`, obj the config: each entry read, checked against the policy. */
void cfg_parse_containers(struct pctx *p, const ynode *v, void *obj);
/* Frees what ct owns, not ct. */
void cfg_container_free(struct config_container *ct);

/* ---- how a container runs (config-container-run.c) ---- */

/* F_FUNC handlers of container keys, obj the container: healthcheck; gpus
 * (all, a count or ids "0,1"); ports; cpus; tmpfs; restart; stop_signal;
 * stop_timeout; cap_add and cap_drop (normalised, sorted, without repeats). */
void cfg_parse_healthcheck(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_gpus(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_ports(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_cpus_container(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_tmpfs(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_restart(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_stop_signal(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_stop_timeout(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_cap_add(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_cap_drop(struct pctx *p, const ynode *v, void *obj);
/* The host port of "[ip:]host:container[/proto]", or -1 (no host port, a range). */
int cfg_port_host(const char *spec);

/* ---- the newer top-level sections (config-sections.c) ---- */

/* F_FUNC handlers of the top-level sections: each checked, recorded in p->rec
 * and kept in p for cfg_check_whole(). */
void cfg_parse_volumes(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_models(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_attested_keys(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_networks(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_cvm_network(struct pctx *p, const ynode *v, void *obj);

/* ---- checks between sections (config-check.c) ---- */

/* The checks between sections, once each is read; sets the shim's upstream
 * container and the health path when they default. */
void cfg_check_whole(struct pctx *p, const ynode *root);

/* ---- shim, deploy, cvm-version (config-shim.c) ---- */

/* F_FUNC handlers of `shim`, `deploy` and `cvm-version`, obj the config. */
void cfg_parse_shim(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_deploy(struct pctx *p, const ynode *v, void *obj);
void cfg_parse_cvm_version(struct pctx *p, const ynode *v, void *obj);

/* ---- canonical form (config-json.c) ---- */

/* s (UTF-8, checked when read) as a new JSON string. */
json_t *cfg_jstr(const char *s);
/* The strv v (NULL: none) as a new JSON array. */
json_t *cfg_jstrv(char *const *v);
/* c as a new JSON object: the tree of the canonical form and of config_to_json(). */
json_t *cfg_json(const struct config *c);

#endif
