/* config-container-run: the keys of a container about how it runs:
 * healthcheck, gpus, ports, cpus, tmpfs, restart, stop_signal, stop_timeout,
 * cap_add and cap_drop. Each is an F_FUNC of the container table
 * (config-container.c), obj the container.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config/config-int.h"
#include "config/config-policy.h"

static void
parse_hc_test(struct pctx *p, const ynode *v, void *obj)
{
	struct config_healthcheck *hc = obj;
	const char *kind;
	char **argv = NULL;
	size_t i, n;

	if (v->kind == CONFIG_YAML_SCALAR) {
		strv_free(hc->test);
		hc->test = strv_push(NULL, v->text);
		hc->kind = CONFIG_HEALTHCHECK_CMD_SHELL;
		return;
	}
	if (cfg_read_strv(p, v, "a list such as [\"CMD\", ...] or a string", &argv) < 0)
		return;
	n = strv_len(argv);
	kind = n > 0 ? argv[0] : "";
	if (strcmp(kind, "CMD") == 0 && n >= 2) {
		hc->kind = CONFIG_HEALTHCHECK_CMD;
	} else if (strcmp(kind, "CMD-SHELL") == 0 && n == 2) {
		hc->kind = CONFIG_HEALTHCHECK_CMD_SHELL;
	} else if (strcmp(kind, "NONE") == 0 && n == 1) {
		hc->kind = CONFIG_HEALTHCHECK_DISABLED;
	} else {
		config_error_at(p->errs, v, NULL,
		                "expected [\"CMD\", program, args...], [\"CMD-SHELL\", \"script\"] "
		                "or [\"NONE\"]");
		strv_free(argv);
		return;
	}
	strv_free(hc->test);
	hc->test = NULL;
	for (i = 1; i < n; i++)
		hc->test = strv_push(hc->test, argv[i]);
	strv_free(argv);
}

static void
parse_hc_disable(struct pctx *p, const ynode *v, void *obj)
{
	int b;

	(void)obj;
	if (cfg_scalar_bool(v, 1, &b) < 0) {
		cfg_type_error(p, v, "true or false");
		return;
	}
	p->hc_disable = b;
}

static const struct field healthcheck_fields[] = {
    {.key = "test", .type = F_FUNC, .fn = parse_hc_test},
    {.key = "interval",
     .type = F_DUR,
     .off = offsetof(struct config_healthcheck, interval_ms),
     .min = 1},
    {.key = "timeout",
     .type = F_DUR,
     .off = offsetof(struct config_healthcheck, timeout_ms),
     .min = 1},
    {.key = "retries",
     .type = F_INT,
     .off = offsetof(struct config_healthcheck, retries),
     .min = 0,
     .max = 1000000},
    {.key = "start_period",
     .type = F_DUR,
     .off = offsetof(struct config_healthcheck, start_period_ms)},
    {.key = "start_interval",
     .type = F_DUR,
     .off = offsetof(struct config_healthcheck, start_interval_ms),
     .min = 1},
    {.key = "disable", .type = F_FUNC, .fn = parse_hc_disable},
};

void
cfg_parse_healthcheck(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	struct config_healthcheck *hc = &ct->healthcheck;

	if (v->kind != CONFIG_YAML_MAP) {
		cfg_type_error(p, v, "a mapping (test, interval, timeout, retries, start_period)");
		return;
	}
	p->hc_disable = 0;
	cfg_walk_map(p, v, healthcheck_fields, ARRAY_LEN(healthcheck_fields), hc);
	if (p->hc_disable) {
		if (hc->kind != CONFIG_HEALTHCHECK_NONE_SET &&
		    hc->kind != CONFIG_HEALTHCHECK_DISABLED)
			config_error_at(p->errs, v, "disable",
			                "disable: true contradicts the test given");
		hc->kind = CONFIG_HEALTHCHECK_DISABLED;
		strv_free(hc->test);
		hc->test = NULL;
	} else if (hc->kind == CONFIG_HEALTHCHECK_NONE_SET && config_yaml_get(v, "test") == NULL) {
		config_error_at(p->errs, v, "test", "required key is missing");
	}
}

void
cfg_parse_gpus(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	int64_t n;

	if (v->kind == CONFIG_YAML_SCALAR && strcmp(v->text, "all") == 0) {
		ct->gpus_all = 1;
		ct->gpus = -1;
		return;
	}
	/* A device list "0,1": distinct ids, no spaces; checked against the
	 * enclave's gpus once it is read. */
	if (v->kind == CONFIG_YAML_SCALAR && strchr(v->text, ',') != NULL &&
	    strspn(v->text, "0123456789,") == v->len) {
		char **ids = NULL, *copy = xstrdup(v->text), *tok, *save = NULL;
		int bad = v->text[0] == ',' || v->text[v->len - 1] == ',' || strstr(v->text, ",,");

		for (tok = strtok_r(copy, ",", &save); tok != NULL && !bad;
		     tok = strtok_r(NULL, ",", &save)) {
			if (strlen(tok) > 2 || (tok[0] == '0' && tok[1] != '\0') ||
			    strv_contains(ids, tok))
				bad = 1;
			else
				ids = strv_push(ids, tok);
		}
		free(copy);
		if (bad) {
			strv_free(ids);
			config_error_at(p->errs, v, NULL,
			                "expected distinct GPU ids such as \"0,1\", got \"%s\"",
			                v->text);
			return;
		}
		strv_free(ct->gpu_ids);
		ct->gpu_ids = ids;
		ct->gpus = (int)strv_len(ids);
		ct->gpus_all = 0;
		cfg_unsupported(p, v,
		                "a list of GPU ids is not supported yet (berth gives the count)");
		return;
	}
	if (cfg_scalar_int(v, &n) < 0 || n < 0 || n > 64) {
		cfg_type_error(p, v, "all or a number of GPUs (0 to 64)");
		return;
	}
	ct->gpus = (int)n;
	ct->gpus_all = 0;
}

static int
port_ok(const char *s, size_t len)
{
	size_t i;
	long v = 0;

	if (len == 0 || len > 5)
		return 0;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Checks the numbers of "[ip:]host[-host]:container[-container][/proto]". */
static int
port_spec_ok(const char *spec)
{
	const char *s = spec, *end = spec + strcspn(spec, "/");
	int numbers = 0;

	if (*end == '/' && strcmp(end, "/tcp") != 0 && strcmp(end, "/udp") != 0 &&
	    strcmp(end, "/sctp") != 0)
		return 0;
	while (s < end) {
		const char *seg_end = s;
		const char *colon;

		while (seg_end < end && *seg_end != ':')
			seg_end++;
		colon = seg_end;
		if (strspn(s, "0123456789-") >= (size_t)(seg_end - s)) {
			const char *dash = memchr(s, '-', (size_t)(seg_end - s));

			if (dash != NULL) {
				if (!port_ok(s, (size_t)(dash - s)) ||
				    !port_ok(dash + 1, (size_t)(seg_end - dash - 1)))
					return 0;
			} else if (!port_ok(s, (size_t)(seg_end - s))) {
				return 0;
			}
			numbers++;
		} else if (numbers > 0) {
			return 0; /* an address after a port */
		}
		s = colon < end ? colon + 1 : end;
	}
	return numbers > 0;
}

/* The host port of "[ip:]host:container[/proto]", or -1 (no host port, a range). */
int
cfg_port_host(const char *spec)
{
	const char *end = spec + strcspn(spec, "/"), *last = NULL, *prev = NULL, *s;
	size_t len;

	for (s = spec; s < end; s++)
		if (*s == ':') {
			prev = last;
			last = s;
		}
	if (last == NULL)
		return -1;
	s = prev != NULL ? prev + 1 : spec;
	len = (size_t)(last - s);
	if (!port_ok(s, len))
		return -1;
	return atoi(s);
}

void
cfg_parse_ports(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	size_t i;
	int bad = 0;

	if (cfg_read_strv(p, v, "a list of ports", &ct->ports) < 0)
		return;
	for (i = 0; i < v->n; i++) {
		if (!port_spec_ok(v->items[i]->text)) {
			config_error_at(p->errs, v->items[i], NULL,
			                "\"%s\" is not a port mapping, or a port is out of range "
			                "(1 to 65535)",
			                v->items[i]->text);
			bad = 1;
		}
	}
	if (bad) {
		strv_free(ct->ports);
		ct->ports = NULL;
		return;
	}
	for (i = 0; i < v->n; i++) {
		int host = cfg_port_host(v->items[i]->text);

		if (host == 80 || host == 443 || host == 2222)
			config_error_at(
			    p->errs, v->items[i], NULL,
			    "host port %d is reserved (80, 443 and 2222 are the enclave's)", host);
	}
	if (v->n > 0)
		cfg_unsupported(p, v, "publishing ports is not supported yet");
}

void
cfg_parse_cpus_container(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	double d;

	if (cfg_scalar_number(v, 1, &d) < 0) {
		cfg_type_error(p, v, "a number of CPUs such as 0.5 or 2");
		return;
	}
	if (d <= 0 || d > 1024) {
		config_error_at(p->errs, v, NULL, "%s is out of range (more than 0, at most 1024)",
		                v->text);
		return;
	}
	ct->cpus = d;
}

static int
tmpfs_cmp(const void *a, const void *b)
{
	return strcmp(((const struct config_tmpfs *)a)->path,
	              ((const struct config_tmpfs *)b)->path);
}

/* Adds path (plen bytes) with options; returns 0, or -1 when not absolute. */
static int
tmpfs_add(struct pctx *p, struct config_container *ct, const ynode *at, const char *path,
          size_t plen, const char *options)
{
	struct config_tmpfs *t;

	if (plen == 0 || path[0] != '/') {
		config_error_at(p->errs, at, NULL, "a tmpfs path must be absolute, got \"%.*s\"",
		                (int)plen, path);
		return -1;
	}
	ct->tmpfs = xreallocarray(ct->tmpfs, ct->n_tmpfs + 1, sizeof(*ct->tmpfs));
	t = &ct->tmpfs[ct->n_tmpfs++];
	t->path = xstrndup(path, plen);
	t->options = options != NULL && *options != '\0' ? xstrdup(options) : NULL;
	return 0;
}

/* One "path[:options]" entry at node at. */
static int
tmpfs_add_entry(struct pctx *p, struct config_container *ct, const ynode *at)
{
	const char *colon = strchr(at->text, ':');

	return tmpfs_add(p, ct, at, at->text, colon ? (size_t)(colon - at->text) : at->len,
	                 colon ? colon + 1 : NULL);
}

/* tmpfs: one path, a list of "path[:options]", or a map of path to options. */
void
cfg_parse_tmpfs(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	struct named *names = xcalloc(v->n + 1, sizeof(*names));
	size_t i, n = 0;
	const ynode *it;

	if (v->kind == CONFIG_YAML_SCALAR) {
		tmpfs_add_entry(p, ct, v);
	} else if (v->kind == CONFIG_YAML_SEQ) {
		for (i = 0; i < v->n; i++) {
			it = v->items[i];
			if (cfg_want_scalar(p, it, "a path") < 0 || tmpfs_add_entry(p, ct, it) < 0)
				continue;
			names[n].name = ct->tmpfs[ct->n_tmpfs - 1].path;
			names[n++].node = it;
		}
	} else {
		for (i = 0; i + 1 < v->n; i += 2) {
			if (v->items[i]->bad || v->items[i]->kind != CONFIG_YAML_SCALAR)
				continue;
			it = v->items[i + 1];
			if (it->kind != CONFIG_YAML_NULL &&
			    cfg_want_scalar(p, it, "mount options such as size=512m,mode=1777") < 0)
				continue;
			tmpfs_add(p, ct, v->items[i], v->items[i]->text, v->items[i]->len,
			          it->kind == CONFIG_YAML_SCALAR ? it->text : NULL);
		}
	}
	/* A map cannot repeat a path (duplicate keys are caught when read). */
	cfg_check_unique(p, names, n, "tmpfs path");
	free(names);
	if (ct->n_tmpfs > 1)
		qsort(ct->tmpfs, ct->n_tmpfs, sizeof(*ct->tmpfs), tmpfs_cmp);
}

void
cfg_parse_restart(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	const char *s = v->text;

	if (cfg_want_scalar(p, v, "a restart policy") < 0)
		return;
	if (strcmp(s, "no") == 0 || strcmp(s, "always") == 0 || strcmp(s, "on-failure") == 0 ||
	    strcmp(s, "unless-stopped") == 0 ||
	    (strncmp(s, "on-failure:", 11) == 0 && s[11] != '\0' &&
	     strspn(s + 11, "0123456789") == strlen(s + 11) && strlen(s + 11) <= 6)) {
		free(ct->restart);
		ct->restart = xstrdup(s);
		return;
	}
	config_error_at(p->errs, v, NULL,
	                "expected no, always, on-failure[:N] or unless-stopped, got \"%s\"", s);
}

void
cfg_parse_stop_signal(struct pctx *p, const ynode *v, void *obj)
{
	static const char *const names[] = {
	    "HUP",   "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "BUS",    "FPE",    "KILL",
	    "USR1",  "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD",   "CONT",
	    "STOP",  "TSTP", "TTIN", "TTOU", "URG",  "XCPU", "XFSZ",   "VTALRM", "PROF",
	    "WINCH", "IO",   "PWR",  "SYS",  "IOT",  "POLL"};
	struct config_container *ct = obj;
	char up[16];
	const char *s;
	size_t i;

	if (cfg_want_scalar(p, v, "a signal name such as SIGTERM") < 0)
		return;
	for (i = 0; i < v->len && i + 1 < sizeof(up); i++)
		up[i] = (char)toupper((unsigned char)v->text[i]);
	up[i] = '\0';
	/* Compared by character: GCC's -Wstring-compare misreads strncmp here. */
	s = up[0] == 'S' && up[1] == 'I' && up[2] == 'G' ? up + 3 : up;
	/* Real-time signals: RTMIN, RTMIN+N, RTMAX-N, RTMAX (N from 1 to 30). */
	if (v->len < sizeof(up) && (strncmp(s, "RTMIN", 5) == 0 || strncmp(s, "RTMAX", 5) == 0)) {
		const char *rest = s + 5;
		char sign = s[4] == 'N' ? '+' : '-';

		if (*rest == '\0' ||
		    (rest[0] == sign && rest[1] >= '1' && rest[1] <= '9' &&
		     strspn(rest + 1, "0123456789") == strlen(rest + 1) && atoi(rest + 1) <= 30)) {
			free(ct->stop_signal);
			ct->stop_signal = xasprintf("SIG%s", s);
			return;
		}
	}
	for (i = 0; i < ARRAY_LEN(names); i++) {
		if (v->len < sizeof(up) && strcmp(s, names[i]) == 0) {
			free(ct->stop_signal);
			ct->stop_signal = xasprintf("SIG%s", names[i]);
			return;
		}
	}
	config_error_at(p->errs, v, NULL, "\"%s\" is not a signal name such as SIGTERM", v->text);
}

void
cfg_parse_stop_timeout(struct pctx *p, const ynode *v, void *obj)
{
	struct config_container *ct = obj;
	int64_t n;

	if (cfg_scalar_int(v, &n) == 0) {
		if (n < 0 || n > 86400) {
			config_error_at(p->errs, v, NULL, "%s is out of range (0 to 86400 seconds)",
			                v->text);
			return;
		}
		ct->stop_timeout_ms = n * 1000;
		return;
	}
	if (v->kind != CONFIG_YAML_SCALAR || duration_parse(v->text, &n) < 0) {
		cfg_type_error(p, v, "seconds or a duration such as 10s");
		return;
	}
	ct->stop_timeout_ms = n;
}

/* cap_add/cap_drop: upper case, "CAP_" removed, sorted, without repeats. */
static void
read_caps(struct pctx *p, const ynode *v, char ***out)
{
	char **caps = NULL;
	size_t i, j, n;

	if (cfg_read_strv(p, v, "a list of capabilities", &caps) < 0)
		return;
	n = strv_len(caps);
	for (i = 0; i < n; i++) {
		if (config_policy_cap_normalise(caps[i]) < 0) {
			config_error_at(p->errs, v->items[i], NULL,
			                "\"%s\" is not a capability name such as NET_ADMIN",
			                v->items[i]->text);
			strv_free(caps);
			return;
		}
	}
	qsort(caps, n, sizeof(*caps), cfg_str_cmp);
	for (i = j = 0; i < n; i++) {
		if (j > 0 && strcmp(caps[i], caps[j - 1]) == 0) {
			free(caps[i]);
			continue;
		}
		caps[j++] = caps[i];
	}
	caps[j] = NULL;
	strv_free(*out);
	*out = caps;
}

void
cfg_parse_cap_add(struct pctx *p, const ynode *v, void *obj)
{
	read_caps(p, v, &((struct config_container *)obj)->cap_add);
}

void
cfg_parse_cap_drop(struct pctx *p, const ynode *v, void *obj)
{
	read_caps(p, v, &((struct config_container *)obj)->cap_drop);
}
