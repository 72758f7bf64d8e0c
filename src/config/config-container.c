/* config-container: one entry of `containers`, its field table, and the keys
 * about what it runs: name, image, command, entrypoint, env, secrets,
 * persistent_volumes, network_mode, registry. The keys about how it runs are
 * in config-container-run.c; the policy (config-policy.c) is applied to each
 * entry here.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/config-int.h"
#include "config/config-policy.h"

static void
parse_name(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;

	if (cfg_want_scalar(p, v, "a name") < 0)
		return;
	if (!cfg_name_ok(v->text, 63)) {
		config_error_at(p->errs, v, NULL,
		                "\"%s\" is not a valid name (letters, digits, _ . -, starting with "
		                "a letter or digit, at most 63)",
		                v->text);
		return;
	}
	free(ct->name);
	ct->name = xstrdup(v->text);
	p->names[p->c->n_containers] = v;
}

/* Whether ref is name[:tag] in the docker reference grammar (loosely: the
 * registry host may hold upper case, a port; the path is lower case). */
static int
image_name_ok(const char *ref, size_t len)
{
	const char *slash = memchr(ref, '/', len), *colon, *p;
	size_t i, path_start = 0;

	if (len == 0)
		return 0;
	/* A registry host is a first component with '.', ':' or "localhost". */
	if (slash != NULL) {
		size_t hl = (size_t)(slash - ref);

		if (memchr(ref, '.', hl) || memchr(ref, ':', hl) ||
		    (hl == 9 && memcmp(ref, "localhost", 9) == 0)) {
			if (hl == 0)
				return 0;
			for (i = 0; i < hl; i++)
				if (!isalnum((unsigned char)ref[i]) && !strchr(".-:", ref[i]))
					return 0;
			path_start = hl + 1;
		}
	}
	/* The tag follows the last ':' after the last '/'. */
	p = ref + path_start;
	colon = NULL;
	for (i = path_start; i < len; i++)
		if (ref[i] == ':')
			colon = ref + i;
		else if (ref[i] == '/')
			colon = NULL;
	if (colon != NULL) {
		size_t tl = len - (size_t)(colon - ref) - 1;

		if (tl == 0 || tl > 128 || !(isalnum((unsigned char)colon[1]) || colon[1] == '_'))
			return 0;
		for (i = 1; i <= tl; i++)
			if (!isalnum((unsigned char)colon[i]) && !strchr("_.-", colon[i]))
				return 0;
		len = (size_t)(colon - ref);
	}
	if ((size_t)(p - ref) >= len)
		return 0;
	for (; p < ref + len; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		      strchr("._-/", *p)))
			return 0;
	return !strchr("._-/", ref[len - 1]) && !strchr("._-/", ref[path_start]);
}

static void
parse_image(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	const char *at, *hex;
	size_t i;

	if (cfg_want_scalar(p, v, "an image reference") < 0)
		return;
	at = strrchr(v->text, '@');
	if (at == NULL) {
		config_error_at(p->errs, v, NULL,
		                "\"%s\" is not pinned by digest; write name[:tag]@sha256:<64 hex>",
		                v->text);
		return;
	}
	hex = at + 1;
	if (strncmp(hex, "sha256:", 7) != 0) {
		config_error_at(p->errs, v, NULL, "the digest must be sha256:<64 hex>, got \"%s\"",
		                hex);
		return;
	}
	hex += 7;
	for (i = 0; hex[i] != '\0'; i++)
		if (!isdigit((unsigned char)hex[i]) && !(hex[i] >= 'a' && hex[i] <= 'f'))
			break;
	if (i != 64 || hex[i] != '\0') {
		config_error_at(
		    p->errs, v, NULL,
		    "the digest must be sha256: and 64 lower-case hex digits, got \"%s\"", at + 1);
		return;
	}
	if (!image_name_ok(v->text, (size_t)(at - v->text))) {
		config_error_at(p->errs, v, NULL, "\"%.*s\" is not a valid image name",
		                (int)(at - v->text), v->text);
		return;
	}
	free(ct->image);
	free(ct->image_digest);
	ct->image = xstrdup(v->text);
	ct->image_digest = xstrdup(at + 1);
}

/* Splits s into words as a POSIX shell would, without expansions. */
static int
shell_split(const char *s, char ***out)
{
	struct buf w = BUF_INIT;
	char **v = xcalloc(1, sizeof(*v));
	int in_word = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n') {
			if (in_word) {
				v = strv_push(v, w.data != NULL ? w.data : "");
				buf_reset(&w);
				in_word = 0;
			}
			continue;
		}
		in_word = 1;
		if (*s == '\'') {
			const char *e = strchr(s + 1, '\'');

			if (e == NULL)
				goto fail;
			buf_append(&w, s + 1, (size_t)(e - s - 1));
			s = e;
		} else if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\0')
					goto fail;
				if (*s == '\\' && s[1] != '\0' && strchr("\"\\$`", s[1]))
					s++;
				buf_putc(&w, *s);
			}
		} else if (*s == '\\') {
			if (s[1] == '\0')
				goto fail;
			buf_putc(&w, *++s);
		} else {
			buf_putc(&w, *s);
		}
	}
	if (in_word)
		v = strv_push(v, w.data != NULL ? w.data : "");
	buf_free(&w);
	*out = v;
	return 0;
fail:
	buf_free(&w);
	strv_free(v);
	return -1;
}

static void
read_command(struct pctx *p, const ynode *v, char ***argv, int *is_string)
{
	char **r;

	if (v->kind == CONFIG_YAML_SCALAR) {
		if (shell_split(v->text, &r) < 0) {
			config_error_at(p->errs, v, NULL,
			                "unterminated quote or trailing \\ in \"%s\"", v->text);
			return;
		}
		strv_free(*argv);
		*argv = r;
		*is_string = 1;
		return;
	}
	if (cfg_read_strv(p, v, "a list of strings or one string", argv) == 0)
		*is_string = 0;
}

static void
parse_command(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;

	read_command(p, v, &ct->command, &ct->command_is_string);
}

static void
parse_entrypoint(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;

	read_command(p, v, &ct->entrypoint, &ct->entrypoint_is_string);
}

static int
env_key_ok(struct pctx *p, const ynode *k)
{
	size_t i;

	if (k->len > MAX_ENV_NAME) {
		config_error_at(p->errs, k, NULL, "a variable name has at most 256 bytes");
		return 0;
	}
	if (k->len == 0 || strchr(k->text, '=') != NULL) {
		config_error_at(p->errs, k, NULL,
		                "\"%s\" is not a variable name; write - KEY: \"value\" for a value "
		                "or - KEY to take it from the deployment's settings",
		                k->text);
		return 0;
	}
	for (i = 0; i < k->len; i++) {
		if ((unsigned char)k->text[i] <= ' ') {
			config_error_at(
			    p->errs, k, NULL,
			    "a variable name may not hold spaces or control characters");
			return 0;
		}
	}
	return 1;
}

static void
env_add(struct pctx *p, struct config_container *ct, const ynode *k, const ynode *v)
{
	struct config_env *e;

	if (!env_key_ok(p, k))
		return;
	if (v != NULL && v->kind != CONFIG_YAML_NULL && v->kind != CONFIG_YAML_SCALAR) {
		cfg_type_error(p, v, "a string value");
		return;
	}
	ct->env = xreallocarray(ct->env, ct->n_env + 1, sizeof(*ct->env));
	e = &ct->env[ct->n_env++];
	e->key = xstrdup(k->text);
	e->value = v != NULL && v->kind == CONFIG_YAML_SCALAR ? xstrdup(v->text) : NULL;
}

/* The older form `- KEY=value`, which real files use: whether it is one
 * (added to ct, or reported). */
static int
env_assignment(struct pctx *p, struct config_container *ct, const ynode *it)
{
	const char *eq = strchr(it->text, '=');
	struct config_env *e;
	char *key;

	if (eq == NULL || eq == it->text)
		return 0;
	key = xstrndup(it->text, (size_t)(eq - it->text));
	if (!cfg_env_name_ok(key) || strlen(key) > MAX_ENV_NAME) {
		config_error_at(
		    p->errs, it, NULL,
		    "\"%s\" is not a variable name (letters, digits and _, not starting "
		    "with a digit, at most 256 bytes)",
		    key);
		free(key);
		return 1;
	}
	ct->env = xreallocarray(ct->env, ct->n_env + 1, sizeof(*ct->env));
	e = &ct->env[ct->n_env++];
	e->key = key;
	e->value = xstrdup(eq + 1);
	return 1;
}

static int
env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct config_env *)a)->key, ((const struct config_env *)b)->key);
}

static void
parse_env(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	struct named *names;
	const ynode **keys;
	size_t i, n = 0;

	if (v->kind != CONFIG_YAML_SEQ && v->kind != CONFIG_YAML_MAP) {
		cfg_type_error(p, v, "a list of - KEY: \"value\" or - KEY");
		return;
	}
	keys = xcalloc(v->n + 1, sizeof(*keys));
	if (v->kind == CONFIG_YAML_MAP) {
		for (i = 0; i + 1 < v->n; i += 2) {
			if (v->items[i]->bad || v->items[i]->kind != CONFIG_YAML_SCALAR)
				continue;
			env_add(p, ct, v->items[i], v->items[i + 1]);
			keys[n++] = v->items[i];
		}
	} else {
		for (i = 0; i < v->n; i++) {
			const ynode *it = v->items[i];

			if (it->kind == CONFIG_YAML_SCALAR && env_assignment(p, ct, it)) {
				keys[n++] = it;
			} else if (it->kind == CONFIG_YAML_SCALAR) {
				env_add(p, ct, it, NULL);
				keys[n++] = it;
			} else if (it->kind == CONFIG_YAML_MAP && it->n == 2) {
				if (it->items[0]->bad || it->items[0]->kind != CONFIG_YAML_SCALAR)
					continue;
				env_add(p, ct, it->items[0], it->items[1]);
				keys[n++] = it->items[0];
			} else if (it->kind == CONFIG_YAML_MAP && it->n > 2) {
				config_error_at(p->errs, it, NULL,
				                "one KEY: \"value\" per list entry");
			} else {
				cfg_type_error(p, it, "- KEY: \"value\" or - KEY");
			}
		}
	}
	names = xcalloc(n + 1, sizeof(*names));
	for (i = 0; i < n; i++) {
		/* `KEY=value` names KEY. */
		names[i].name = xstrndup(keys[i]->text, strcspn(keys[i]->text, "="));
		names[i].node = keys[i];
	}
	cfg_check_unique(p, names, n, "variable");
	for (i = 0; i < n; i++)
		free((char *)names[i].name);
	free(names);
	free(keys);
	if (ct->n_env > 1)
		qsort(ct->env, ct->n_env, sizeof(*ct->env), env_cmp);
}

static void
parse_secrets(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	struct named *names;
	size_t i, n = 0;

	if (cfg_read_strv(p, v, "a list of secret names", &ct->secrets) < 0)
		return;
	names = xcalloc(v->n + 1, sizeof(*names));
	for (i = 0; i < v->n; i++) {
		if (!cfg_env_name_ok(v->items[i]->text)) {
			config_error_at(p->errs, v->items[i], NULL,
			                "\"%s\" is not a valid secret name (letters, digits and _, "
			                "not starting with a digit)",
			                v->items[i]->text);
			continue;
		}
		names[n].name = v->items[i]->text;
		names[n++].node = v->items[i];
	}
	cfg_check_unique(p, names, n, "secret");
	free(names);
	qsort(ct->secrets, strv_len(ct->secrets), sizeof(char *), cfg_str_cmp);
}

/* A clean absolute path: no empty, "." or ".." segments, no trailing /. */
static int
clean_abs_path(const char *s)
{
	const char *seg = s;

	if (s[0] != '/')
		return 0;
	if (s[1] == '\0')
		return 1;
	while (*seg == '/') {
		size_t n = strcspn(seg + 1, "/");

		if (n == 0 || (n == 1 && seg[1] == '.') ||
		    (n == 2 && seg[1] == '.' && seg[2] == '.'))
			return 0;
		seg += n + 1;
	}
	return *seg == '\0';
}

/* persistent_volumes: "name:/clean/absolute/path", the name declared in
 * `volumes` (checked with the other sections). */
static void
parse_persistent_volumes(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	size_t i;

	if (cfg_read_strv(p, v, "a list of name:/path", &ct->persistent_volumes) < 0)
		return;
	for (i = 0; i < v->n; i++) {
		const char *t = v->items[i]->text, *colon = strchr(t, ':');

		if (colon == NULL || colon == t || !clean_abs_path(colon + 1))
			config_error_at(p->errs, v->items[i], NULL,
			                "expected name:/path with a clean absolute path (no :ro), "
			                "got \"%s\"",
			                t);
	}
}

static void
parse_network_mode(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	char tmp[72];

	if (cfg_want_scalar(p, v, "none") < 0)
		return;
	if (strcmp(v->text, "none") != 0) {
		config_error_at(p->errs, v, NULL,
		                "network_mode %s is refused: only none is accepted (the enclave "
		                "gives containers their network; never the host's)",
		                config_yaml_shown(v, tmp));
		return;
	}
	free(ct->network_mode);
	ct->network_mode = xstrdup(v->text);
}

static void
parse_registry_secret(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;

	if (cfg_want_scalar(p, v, "a secret name") < 0)
		return;
	if (!cfg_env_name_ok(v->text)) {
		config_error_at(p->errs, v, NULL,
		                "\"%s\" is not a valid secret name (letters, digits and _, not "
		                "starting with a digit)",
		                v->text);
		return;
	}
	free(ct->registry_password_secret);
	ct->registry_password_secret = xstrdup(v->text);
}

static const struct field registry_fields[] = {
    {.key = "username", .type = F_STR, .off = offsetof(struct config_container, registry_username)},
    {.key = "password_secret", .type = F_FUNC, .fn = parse_registry_secret},
};

/* The older `registry: {username, password_secret}`: credentials to pull a
 * private image, the password an org secret. */
static void
parse_registry(struct pctx *p, const ynode *v, void *obj)
{
	if (v->kind != CONFIG_YAML_MAP) {
		cfg_type_error(p, v, "a mapping (username, password_secret)");
		return;
	}
	cfg_walk_map(p, v, registry_fields, ARRAY_LEN(registry_fields), obj);
	if (cfg_missing(v, "username"))
		config_error_at(p->errs, v, "username", "required key is missing");
	if (cfg_missing(v, "password_secret"))
		config_error_at(p->errs, v, "password_secret", "required key is missing");
}

static const char *const runtimes[] = {"nvidia", "runc", "crun", NULL};

#define CT(f) offsetof(struct config_container, f)
static const struct field container_fields[] = {
    {.key = "name", .type = F_FUNC, .fn = parse_name},
    {.key = "image", .type = F_FUNC, .fn = parse_image},
    {.key = "command", .type = F_FUNC, .fn = parse_command},
    {.key = "entrypoint", .type = F_FUNC, .fn = parse_entrypoint},
    {.key = "working_dir", .type = F_PATH, .off = CT(working_dir)},
    {.key = "user", .type = F_STR, .off = CT(user)},
    {.key = "env", .type = F_FUNC, .fn = parse_env},
    {.key = "secrets", .type = F_FUNC, .fn = parse_secrets},
    {.key = "healthcheck", .type = F_FUNC, .fn = cfg_parse_healthcheck},
    {.key = "gpus", .type = F_FUNC, .fn = cfg_parse_gpus},
    {.key = "runtime", .type = F_STR, .off = CT(runtime), .choices = runtimes},
    {.key = "ports", .type = F_FUNC, .fn = cfg_parse_ports},
    {.key = "memory", .type = F_SIZE, .off = CT(memory_bytes), .min = 1},
    {.key = "cpus", .type = F_FUNC, .fn = cfg_parse_cpus_container},
    {.key = "shm_size", .type = F_SIZE, .off = CT(shm_size_bytes), .min = 1},
    {.key = "tmpfs", .type = F_FUNC, .fn = cfg_parse_tmpfs},
    {.key = "read_only", .type = F_BOOL, .off = CT(read_only)},
    {.key = "pids_limit", .type = F_INT64, .off = CT(pids_limit), .min = 1, .max = 4194304},
    {.key = "restart", .type = F_FUNC, .fn = cfg_parse_restart},
    {.key = "stop_signal", .type = F_FUNC, .fn = cfg_parse_stop_signal},
    {.key = "stop_timeout", .type = F_FUNC, .fn = cfg_parse_stop_timeout},
    {.key = "cap_add", .type = F_FUNC, .fn = cfg_parse_cap_add},
    {.key = "cap_drop", .type = F_FUNC, .fn = cfg_parse_cap_drop},
    {.key = "devices", .type = F_STRV, .off = CT(devices)},
    {.key = "ipc", .type = F_STR, .off = CT(ipc)},
    {.key = "pid", .type = F_STR, .off = CT(pid)},
    {.key = "volumes", .type = F_STRV, .off = CT(volumes)},
    {.key = "models", .type = F_STRV, .off = CT(models)},
    {.key = "networks", .type = F_STRV, .off = CT(networks)},
    {.key = "security_opt", .type = F_STRV, .off = CT(security_opt)},
    {.key = "privileged", .type = F_BOOL, .off = CT(privileged)},
    {.key = "cvm_admin", .type = F_BOOL, .off = CT(cvm_admin)},
    {.key = "seal_register", .type = F_BOOL, .off = CT(seal_register)},
    {.key = "attestation", .type = F_BOOL, .off = CT(attestation)},
    {.key = "keys", .type = F_STRV, .off = CT(keys)},
    {.key = "persistent_volumes", .type = F_FUNC, .fn = parse_persistent_volumes},
    {.key = "network_mode", .type = F_FUNC, .fn = parse_network_mode},
    {.key = "registry", .type = F_FUNC, .fn = parse_registry},
};
#undef CT

static void
container_init(struct config_container *ct, struct config_pos pos)
{
	memset(ct, 0, sizeof(*ct));
	ct->gpus = -1;
	ct->memory_bytes = -1;
	ct->cpus = -1;
	ct->shm_size_bytes = -1;
	ct->pids_limit = -1;
	ct->stop_timeout_ms = -1;
	ct->healthcheck.kind = CONFIG_HEALTHCHECK_NONE_SET;
	ct->healthcheck.interval_ms = 30000;
	ct->healthcheck.timeout_ms = 30000;
	ct->healthcheck.start_period_ms = 0;
	ct->healthcheck.start_interval_ms = 5000;
	ct->healthcheck.retries = 3;
	ct->pos = pos;
}

void
cfg_container_free(struct config_container *ct)
{
	size_t i;

	free(ct->name);
	free(ct->image);
	free(ct->image_digest);
	strv_free(ct->command);
	strv_free(ct->entrypoint);
	free(ct->working_dir);
	free(ct->user);
	for (i = 0; i < ct->n_env; i++) {
		free(ct->env[i].key);
		free(ct->env[i].value);
	}
	free(ct->env);
	strv_free(ct->secrets);
	strv_free(ct->healthcheck.test);
	free(ct->runtime);
	strv_free(ct->ports);
	for (i = 0; i < ct->n_tmpfs; i++) {
		free(ct->tmpfs[i].path);
		free(ct->tmpfs[i].options);
	}
	free(ct->tmpfs);
	free(ct->restart);
	free(ct->stop_signal);
	strv_free(ct->cap_add);
	strv_free(ct->cap_drop);
	strv_free(ct->devices);
	free(ct->ipc);
	free(ct->pid);
	strv_free(ct->volumes);
	strv_free(ct->models);
	strv_free(ct->networks);
	strv_free(ct->security_opt);
	strv_free(ct->keys);
	strv_free(ct->persistent_volumes);
	free(ct->network_mode);
	free(ct->registry_username);
	free(ct->registry_password_secret);
	strv_free(ct->gpu_ids);
}

/* The reference's bounds on a container's lists. */
static void
container_limits(struct pctx *p, const ynode *m)
{
	const ynode *hc = config_yaml_get(m, "healthcheck"), *t;
	size_t i;

	for (i = 0; i + 1 < m->n; i += 2) {
		const ynode *k = m->items[i], *v = m->items[i + 1];
		int tmpfs = strcmp(k->text, "tmpfs") == 0;
		size_t n = v->kind == CONFIG_YAML_MAP ? v->n / 2 : v->n;

		if (k->bad ||
		    (v->kind != CONFIG_YAML_SEQ && !(tmpfs && v->kind == CONFIG_YAML_MAP)))
			continue;
		if (n > (tmpfs ? MAX_TMPFS : MAX_LIST))
			config_error_at(p->errs, v, NULL, "%zu entries, more than the limit of %d",
			                n, tmpfs ? MAX_TMPFS : MAX_LIST);
	}
	t = hc != NULL ? config_yaml_get(hc, "test") : NULL;
	if (t != NULL && t->kind == CONFIG_YAML_SEQ && t->n > MAX_HC_TEST)
		config_error_at(p->errs, t, NULL, "%zu entries, more than the limit of %d", t->n,
		                MAX_HC_TEST);
}

/* What a container asks for that berth accepts but cannot honour yet. */
static void
container_unsupported(struct pctx *p, const ynode *m, const struct config_container *ct)
{
	if (ct->cvm_admin)
		cfg_unsupported(
		    p, config_yaml_get(m, "cvm_admin"),
		    "cvm_admin is not supported yet: berth's runc and gVisor enclaves cannot "
		    "give a container admin rights over the enclave without giving them "
		    "over the host");
	if (ct->seal_register)
		cfg_unsupported(p, config_yaml_get(m, "seal_register"),
		                "seal_register is not supported yet");
	if (strv_len(ct->models) > 0)
		cfg_unsupported(p, config_yaml_get(m, "models"),
		                "model grants are not supported yet");
	if (strv_len(ct->volumes) > 0)
		cfg_unsupported(p, config_yaml_get(m, "volumes"),
		                "named volumes are not supported yet");
}

/* Whether path equals dir or lies under it (trailing slashes ignored). */
static int
path_under(const char *path, size_t n, const char *dir)
{
	size_t d = strlen(dir);

	return n >= d && strncmp(path, dir, d) == 0 && (n == d || path[d] == '/');
}

/* The paths berth itself mounts in containers (bundle.c: /proc, /dev and
 * its pts, shm and mqueue, /sys and its cgroup, /etc/hosts,
 * /etc/resolv.conf, the attested keys in /run/tinfoil/keys and the
 * attestation socket's /run/tinfoil/attestation), which no tmpfs, volume or
 * persistent volume may replace: the sandbox's masked /proc paths and
 * read-only /sys would go with them. Returns the reserved path path (len
 * bytes) hits, or NULL. A target above them (/run, /run/tinfoil, /etc) is
 * mounted first and berth's on top of it. */
static const char *
reserved_target(const char *path, size_t len)
{
	static const char *const under[] = {"/proc", "/sys", "/dev", "/run/tinfoil/keys",
	                                    "/run/tinfoil/attestation"};
	static const char *const exact[] = {"/etc/hosts", "/etc/resolv.conf"};
	size_t i;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 1 && path[0] == '/')
		return "/";
	for (i = 0; i < ARRAY_LEN(under); i++)
		if (path_under(path, len, under[i]))
			return under[i];
	for (i = 0; i < ARRAY_LEN(exact); i++)
		if (len == strlen(exact[i]) && strncmp(path, exact[i], len) == 0)
			return exact[i];
	return NULL;
}

/* One target of a tmpfs, volume or persistent volume, at node v. Overlaps
 * with /run/tinfoil/keys of a container granted keys are config-check.c's
 * (the reference's rule, with its own words): not said twice. */
static void
check_target(struct pctx *p, const ynode *v, const struct config_container *ct, const char *what,
             const char *path, size_t len)
{
	const char *hit;

	if (len == 0 || path[0] != '/' || (hit = reserved_target(path, len)) == NULL)
		return;
	if (strv_len(ct->keys) > 0 &&
	    (strcmp(hit, "/") == 0 || path_under(path, len, "/run/tinfoil/keys")))
		return;
	config_error_at(p->errs, v, NULL, "%s target %.*s is reserved: berth mounts %s%s itself",
	                what, (int)len, path, hit, strcmp(hit, "/") == 0 ? " (the image)" : "");
}

/* No tmpfs, volume or persistent volume of m over what berth mounts. */
static void
container_reserved_paths(struct pctx *p, const ynode *m, const struct config_container *ct)
{
	static const char *const lists[] = {"volumes", "persistent_volumes"};
	const ynode *t = config_yaml_get(m, "tmpfs");
	size_t i, k;

	for (i = 0; t != NULL && t->kind == CONFIG_YAML_MAP && i + 1 < t->n; i += 2)
		check_target(p, t->items[i], ct, "tmpfs", t->items[i]->text, t->items[i]->len);
	for (i = 0; t != NULL && t->kind == CONFIG_YAML_SEQ && i < t->n; i++)
		if (t->items[i]->kind == CONFIG_YAML_SCALAR)
			check_target(p, t->items[i], ct, "tmpfs", t->items[i]->text,
			             strcspn(t->items[i]->text, ":"));
	for (k = 0; k < ARRAY_LEN(lists); k++) {
		const ynode *l = config_yaml_get(m, lists[k]);

		for (i = 0; l != NULL && l->kind == CONFIG_YAML_SEQ && i < l->n; i++) {
			const char *colon;

			if (l->items[i]->kind != CONFIG_YAML_SCALAR ||
			    (colon = strchr(l->items[i]->text, ':')) == NULL)
				continue;
			check_target(p, l->items[i], ct, k == 0 ? "volume" : "persistent volume",
			             colon + 1, strcspn(colon + 1, ":"));
		}
	}
}

void
cfg_parse_containers(struct pctx *p, const ynode *v, void *obj)
{
	struct config *c = obj;
	size_t i, j;

	p->seen_containers = 1;
	if (v->kind != CONFIG_YAML_SEQ) {
		cfg_type_error(p, v, "a list of containers");
		return;
	}
	if (v->n == 0) {
		config_error_at(p->errs, v, NULL, "at least one container is required");
		return;
	}
	if (v->n > MAX_CONTAINERS)
		config_error_at(p->errs, v, NULL, "%zu containers, more than the limit of %d", v->n,
		                MAX_CONTAINERS);
	c->containers = xcalloc(v->n, sizeof(*c->containers));
	p->names = xcalloc(v->n, sizeof(*p->names));
	p->cnodes = xcalloc(v->n, sizeof(*p->cnodes));
	for (i = 0; i < v->n; i++) {
		const ynode *it = v->items[i];
		struct config_container *ct = &c->containers[c->n_containers];

		if (it->kind != CONFIG_YAML_MAP) {
			cfg_type_error(p, it, "a container (a mapping with name, image, ...)");
			continue;
		}
		container_init(ct, it->pos);
		p->cnodes[c->n_containers] = it;
		cfg_walk_map(p, it, container_fields, ARRAY_LEN(container_fields), ct);
		config_policy_check_container(it, p->errs);
		container_limits(p, it);
		container_unsupported(p, it, ct);
		container_reserved_paths(p, it, ct);
		if (cfg_missing(it, "name"))
			config_error_at(p->errs, it, "name", "required key is missing");
		if (cfg_missing(it, "image"))
			config_error_at(p->errs, it, "image",
			                "required key is missing (name[:tag]@sha256:<64 hex>)");
		/* A secret is injected as the variable of its name: one meaning only. */
		for (j = 0; j < ct->n_env; j++) {
			if (strv_contains(ct->secrets, ct->env[j].key))
				config_error_at(p->errs, config_yaml_get(it, "secrets"), NULL,
				                "%s is both a secret and in env", ct->env[j].key);
		}
		c->n_containers++;
	}
}
