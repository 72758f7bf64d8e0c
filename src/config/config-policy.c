/* config-policy: the container policy of the reference validator, applied to
 * the YAML tree so that every refusal names the key or entry it is about.
 *
 * An enclave's containers run with what berth gives every container: no
 * privileged mode, berth's own security options and capability set, their
 * own PID namespace, no host devices. A config may add only the capabilities
 * below, and choose among the IPC modes below. Anything else is refused when
 * the file is read, so it never reaches a deployment, a measurement or the
 * runtime.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/config-policy.h"

typedef struct config_yaml_node ynode;

/* What cap_add may name, as normalised (the reference's list). */
static const char *const allowed_caps[] = {"IPC_LOCK", "NET_BIND_SERVICE", "SYS_NICE"};

/* What ipc may say besides nothing. `host` is the enclave's IPC namespace,
 * shared by its containers (the reference's host is the CVM); the runtime
 * gives that meaning, never the host's namespace. */
static const char *const ipc_modes[] = {"private", "none", "shareable", "host"};

/* Keys refused whenever they are written, whatever their value (even
 * `privileged: false` or an empty value), as the reference refuses them. */
static const struct {
	const char *key;
	const char *why;
} refused_keys[] = {
    {"privileged",
     "privileged containers are refused: an enclave's containers never get host privileges"},
    {"security_opt", "security_opt is refused: berth applies the same security options "
                     "(seccomp, AppArmor, no-new-privileges) to every container, and a config "
                     "may not loosen them"},
    {"cap_drop", "cap_drop is refused: every container starts from the same capability set, "
                 "which only cap_add changes"},
};

/* "a, b or c" into b. */
static void
join_or(struct buf *b, const char *const *words, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_printf(b, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", words[i]);
}

static int
in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

int
config_policy_cap_normalise(char *c)
{
	size_t i;

	for (i = 0; c[i] != '\0'; i++)
		c[i] = (char)toupper((unsigned char)c[i]);
	if (strncmp(c, "CAP_", 4) == 0)
		memmove(c, c + 4, strlen(c + 4) + 1);
	if (c[0] == '\0' || strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != strlen(c))
		return -1;
	return 0;
}

/* pid: any value is refused; each container has its own PID namespace. */
static void
check_pid(const ynode *v, struct config_errors *errs)
{
	char tmp[72];

	if (v->kind != CONFIG_YAML_SCALAR || v->len == 0)
		return;
	config_error_at(errs, v, NULL,
	                "pid %s is refused: each container has its own PID namespace, never the "
	                "host's or another container's",
	                config_yaml_shown(v, tmp));
}

static void
check_ipc(const ynode *v, struct config_errors *errs)
{
	struct buf modes = BUF_INIT;
	char tmp[72];

	if (v->kind != CONFIG_YAML_SCALAR || v->len == 0 ||
	    in_list(v->text, ipc_modes, ARRAY_LEN(ipc_modes)))
		return;
	join_or(&modes, ipc_modes, ARRAY_LEN(ipc_modes));
	config_error_at(errs, v, NULL,
	                "ipc %s is refused: expected %s (host is the IPC namespace the enclave's "
	                "containers share, never the host's)",
	                config_yaml_shown(v, tmp), modes.data);
	buf_free(&modes);
}

/* devices: every entry is refused; GPUs come from gpus and runtime: nvidia. */
static void
check_devices(const ynode *v, struct config_errors *errs)
{
	char tmp[72];
	size_t i;

	if (v->kind != CONFIG_YAML_SEQ)
		return;
	for (i = 0; i < v->n; i++)
		if (v->items[i]->kind == CONFIG_YAML_SCALAR)
			config_error_at(
			    errs, v->items[i], NULL,
			    "device %s is refused: containers get no host devices; GPUs "
			    "come only from gpus with runtime: nvidia",
			    config_yaml_shown(v->items[i], tmp));
}

static void
check_cap_add(const ynode *v, struct config_errors *errs)
{
	struct buf caps = BUF_INIT;
	char tmp[72], *c;
	size_t i;

	if (v->kind != CONFIG_YAML_SEQ)
		return;
	join_or(&caps, allowed_caps, ARRAY_LEN(allowed_caps));
	for (i = 0; i < v->n; i++) {
		if (v->items[i]->kind != CONFIG_YAML_SCALAR)
			continue;
		c = xstrdup(v->items[i]->text);
		/* A name that is no capability at all is the parser's to report. */
		if (config_policy_cap_normalise(c) == 0 &&
		    !in_list(c, allowed_caps, ARRAY_LEN(allowed_caps)))
			config_error_at(errs, v->items[i], NULL,
			                "capability %s is refused: cap_add may only add %s",
			                config_yaml_shown(v->items[i], tmp), caps.data);
		free(c);
	}
	buf_free(&caps);
}

/* volumes: Docker named volumes only, `source:target` with a name as the
 * source. A host path is refused, the sockets of the reference's debug
 * toolbox too: berth never mounts the host's files into an enclave. */
static void
check_volumes(const ynode *v, struct config_errors *errs)
{
	size_t i;

	if (v->kind != CONFIG_YAML_SEQ)
		return;
	for (i = 0; i < v->n; i++) {
		const ynode *it = v->items[i];
		const char *colon;
		size_t n, j;

		if (it->kind != CONFIG_YAML_SCALAR)
			continue;
		colon = strchr(it->text, ':');
		n = colon != NULL ? (size_t)(colon - it->text) : it->len;
		for (j = 1; j < n && (isalnum((unsigned char)it->text[j]) ||
		                      strchr("_.-", it->text[j]) != NULL);
		     j++)
			;
		if (it->text[0] == '/' || it->text[0] == '.' || it->text[0] == '~')
			config_error_at(
			    errs, it, NULL,
			    "host path %.*s is refused: volumes must use a named volume "
			    "source (name:/path); an enclave never mounts the host's files",
			    (int)n, it->text);
		else if (colon == NULL || n == 0 || !isalnum((unsigned char)it->text[0]) || j < n ||
		         colon[1] != '/')
			config_error_at(
			    errs, it, NULL,
			    "expected name:/path with a named volume source, got \"%s\"", it->text);
	}
}

void
config_policy_check_container(const ynode *m, struct config_errors *errs)
{
	static const struct {
		const char *key;
		void (*check)(const ynode *v, struct config_errors *errs);
	} value_checks[] = {
	    {"pid", check_pid},         {"ipc", check_ipc},         {"devices", check_devices},
	    {"cap_add", check_cap_add}, {"volumes", check_volumes},
	};
	size_t i, j;

	for (i = 0; i + 1 < m->n; i += 2) {
		const ynode *k = m->items[i], *v = m->items[i + 1];

		/* A repeated key was reported as such where it was read. */
		if (k->bad || k->kind != CONFIG_YAML_SCALAR)
			continue;
		for (j = 0; j < ARRAY_LEN(refused_keys); j++)
			if (strcmp(k->text, refused_keys[j].key) == 0)
				config_error_at(errs, k, NULL, "%s", refused_keys[j].why);
		for (j = 0; j < ARRAY_LEN(value_checks); j++)
			if (strcmp(k->text, value_checks[j].key) == 0)
				value_checks[j].check(v, errs);
	}
}
