/* bundle: OCI runtime spec construction with jansson. */
#include "runtime/bundle.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/linux.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PASSWD_MAX   (1 << 20)

static const char *const all_caps[] = {"CHOWN",
                                       "DAC_OVERRIDE",
                                       "DAC_READ_SEARCH",
                                       "FOWNER",
                                       "FSETID",
                                       "KILL",
                                       "SETGID",
                                       "SETUID",
                                       "SETPCAP",
                                       "LINUX_IMMUTABLE",
                                       "NET_BIND_SERVICE",
                                       "NET_BROADCAST",
                                       "NET_ADMIN",
                                       "NET_RAW",
                                       "IPC_LOCK",
                                       "IPC_OWNER",
                                       "SYS_MODULE",
                                       "SYS_RAWIO",
                                       "SYS_CHROOT",
                                       "SYS_PTRACE",
                                       "SYS_PACCT",
                                       "SYS_ADMIN",
                                       "SYS_BOOT",
                                       "SYS_NICE",
                                       "SYS_RESOURCE",
                                       "SYS_TIME",
                                       "SYS_TTY_CONFIG",
                                       "MKNOD",
                                       "LEASE",
                                       "AUDIT_WRITE",
                                       "AUDIT_CONTROL",
                                       "SETFCAP",
                                       "MAC_OVERRIDE",
                                       "MAC_ADMIN",
                                       "SYSLOG",
                                       "WAKE_ALARM",
                                       "BLOCK_SUSPEND",
                                       "AUDIT_READ",
                                       "PERFMON",
                                       "BPF",
                                       "CHECKPOINT_RESTORE"};

/* The capabilities every container starts with: podman's default set, which
 * is docker's without NET_RAW (raw sockets: spoofing, sniffing the bridge),
 * MKNOD (device nodes) and AUDIT_WRITE. docs/security.md lists it. */
static const char *const default_caps[] = {"CHOWN",   "DAC_OVERRIDE",     "FOWNER",    "FSETID",
                                           "KILL",    "NET_BIND_SERVICE", "SETFCAP",   "SETGID",
                                           "SETPCAP", "SETUID",           "SYS_CHROOT"};

/* The only capabilities cap_add may name (the reference's policy). */
static const char *const allowed_cap_add[] = {"IPC_LOCK", "NET_BIND_SERVICE", "SYS_NICE"};

/* Every container's processes stay below this many tasks unless its
 * pids_limit says otherwise: a fork bomb stops here. */
#define DEFAULT_PIDS_LIMIT 4096

static const char *const masked_paths[] = {"/proc/asound",
                                           "/proc/acpi",
                                           "/proc/kcore",
                                           "/proc/keys",
                                           "/proc/latency_stats",
                                           "/proc/timer_list",
                                           "/proc/timer_stats",
                                           "/proc/sched_debug",
                                           "/proc/scsi",
                                           "/sys/firmware",
                                           "/sys/devices/virtual/powercap"};

static const char *const readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                             "/proc/sysrq-trigger"};

static const struct {
	const char *name;
	int sig;
} signals[] = {{"HUP", SIGHUP},     {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
               {"USR1", SIGUSR1},   {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"ALRM", SIGALRM},
               {"WINCH", SIGWINCH}, {"PWR", SIGPWR},   {"STOP", SIGSTOP}, {"CONT", SIGCONT}};

int
bundle_signal_parse(const char *s)
{
	char *end;
	long n;

	if (s == NULL || *s == '\0')
		return -1;
	if (isdigit((unsigned char)*s)) {
		n = strtol(s, &end, 10);
		return *end == '\0' && n > 0 && n < 65 ? (int)n : -1;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_LEN(signals); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].sig;
	return -1;
}

int
bundle_stop_signal(const struct config_container *cc, const struct image_config *image,
                   struct err *err)
{
	const char *s = cc->stop_signal;
	int sig;

	if (s == NULL && image != NULL)
		s = image->stop_signal;
	if (s == NULL)
		return SIGTERM;
	sig = bundle_signal_parse(s);
	if (sig < 0)
		return err_make(err, 0, "stop_signal: unknown signal \"%s\"", s);
	return sig;
}

static json_t *
strv_json(char *const *v)
{
	json_t *a = json_array();

	for (; v != NULL && *v != NULL; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static int
process_args(const struct bundle_input *in, json_t **out, struct err *err)
{
	const struct config_container *cc = in->cc;
	char *const *entry = cc->entrypoint, *const *cmd = cc->command;
	json_t *args;

	if (cc->entrypoint == NULL) {
		entry = in->image != NULL ? in->image->entrypoint : NULL;
		if (cmd == NULL && in->image != NULL)
			cmd = in->image->cmd;
	}
	args = strv_json(entry);
	for (; cmd != NULL && *cmd != NULL; cmd++)
		json_array_append_new(args, json_string(*cmd));
	if (json_array_size(args) == 0) {
		json_decref(args);
		return err_make(err, 0,
		                "container %s: no command (neither the image nor the "
		                "config gives an entrypoint or command)",
		                cc->name);
	}
	*out = args;
	return 0;
}

/* Replaces or appends key=value in env (an array of strings). */
static void
env_set(json_t *env, const char *key, const char *value)
{
	size_t klen = strlen(key), i;
	json_t *v;
	char *kv = xasprintf("%s=%s", key, value);

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);

		if (strncmp(s, key, klen) == 0 && s[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			free(kv);
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
	free(kv);
}

static const char *
kv_find(const struct bundle_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

static int
process_env(const struct bundle_input *in, json_t **out, struct err *err)
{
	const struct config_container *cc = in->cc;
	json_t *env = json_array();

	for (char *const *e = in->image ? in->image->env : NULL; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		char *k = eq ? xstrndup(*e, (size_t)(eq - *e)) : xstrdup(*e);

		env_set(env, k, eq ? eq + 1 : "");
		free(k);
	}
	for (size_t i = 0; i < cc->n_env; i++)
		if (cc->env[i].value != NULL)
			env_set(env, cc->env[i].key, cc->env[i].value);
	for (size_t i = 0; i < cc->n_env; i++) {
		const char *v;

		if (cc->env[i].value != NULL)
			continue;
		/* A bare key without a setting stays unset, as in docker-compose. */
		v = kv_find(in->settings, in->n_settings, cc->env[i].key);
		if (v != NULL)
			env_set(env, cc->env[i].key, v);
	}
	for (char *const *s = cc->secrets; s != NULL && *s != NULL; s++) {
		const char *v = kv_find(in->secrets, in->n_secrets, *s);

		if (v == NULL) {
			json_decref(env);
			return err_make(err, 0, "container %s: secret %s was not provided",
			                cc->name, *s);
		}
		env_set(env, *s, v);
	}
	{
		size_t i;
		json_t *v;
		int has_path = 0;

		json_array_foreach(env, i, v) has_path |=
		    strncmp(json_string_value(v), "PATH=", 5) == 0;
		if (!has_path)
			json_array_insert_new(env, 0, json_string(DEFAULT_PATH));
		env_set(env, "HOSTNAME", cc->name);
	}
	*out = env;
	return 0;
}

static int
parse_id(const char *s, long *id)
{
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*id = strtol(s, &end, 10);
	return errno == 0 && *end == '\0' && *id >= 0 && *id <= INT_MAX - 1 ? 0 : -1;
}

/* Looks name up in a passwd/group style file of the rootfs: field 0 is the
 * name, field 2 the id, field 3 (passwd) the primary group. *found is 0 when
 * nothing matches or the file is absent. The file is the image's: read
 * without leaving the rootfs, without blocking (a FIFO is refused) and no
 * more than PASSWD_MAX bytes of it. */
static int
lookup_db(const struct bundle_input *in, const char *file, const char *name, long id_in, long *id,
          long *gid, int *found, struct err *err)
{
	struct err read_err = ERR_INIT;
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;

	*found = 0;
	if (linux_read_in_root(in->rootfs, file, PASSWD_MAX, &text, &len, &read_err) < 0) {
		if (read_err.code == ENOENT)
			return 0;
		return err_make(err, 0, "container %s: the image's %s", in->cc->name, read_err.msg);
	}
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = {0}, *p = line;
		long v;

		for (int i = 0; i < 4 && p != NULL; i++) {
			f[i] = p;
			p = strchr(p, ':');
			if (p != NULL)
				*p++ = '\0';
		}
		if (f[2] == NULL || parse_id(f[2], &v) < 0)
			continue;
		if ((name != NULL && strcmp(f[0], name) == 0) || (name == NULL && v == id_in)) {
			*id = v;
			if (gid != NULL && (f[3] == NULL || parse_id(f[3], gid) < 0))
				*gid = 0;
			*found = 1;
			break;
		}
	}
	free(text);
	return 0;
}

static int
process_user(const struct bundle_input *in, long *uid, long *gid, struct err *err)
{
	const char *spec = in->cc->user;
	char *user, *group;
	long pgid = 0;
	int rc = 0, found;

	if (spec == NULL && in->image != NULL)
		spec = in->image->user;
	*uid = *gid = 0;
	if (spec == NULL || *spec == '\0')
		return 0;
	user = xstrdup(spec);
	group = strchr(user, ':');
	if (group != NULL)
		*group++ = '\0';
	if (parse_id(user, uid) == 0) {
		/* A numeric uid takes its primary group from passwd when listed. */
		rc = lookup_db(in, "/etc/passwd", NULL, *uid, uid, &pgid, &found, err);
		if (rc < 0)
			goto out;
		if (!found)
			pgid = 0;
	} else {
		rc = lookup_db(in, "/etc/passwd", user, 0, uid, &pgid, &found, err);
		if (rc < 0)
			goto out;
		if (!found) {
			rc = err_make(
			    err, 0,
			    "container %s: user \"%s\" not found in the image's /etc/passwd",
			    in->cc->name, user);
			goto out;
		}
	}
	*gid = pgid;
	if (group != NULL && *group != '\0' && parse_id(group, gid) < 0) {
		rc = lookup_db(in, "/etc/group", group, 0, gid, NULL, &found, err);
		if (rc == 0 && !found)
			rc = err_make(
			    err, 0,
			    "container %s: group \"%s\" not found in the image's /etc/group",
			    in->cc->name, group);
	}
out:
	free(user);
	return rc;
}

static int
cap_known(const char *c)
{
	for (size_t i = 0; i < ARRAY_LEN(all_caps); i++)
		if (strcasecmp(all_caps[i], c) == 0)
			return (int)i;
	return -1;
}

static const char *
cap_strip(const char *c)
{
	return strncasecmp(c, "CAP_", 4) == 0 ? c + 4 : c;
}

static int
cap_allowed(const char *c)
{
	for (size_t i = 0; i < ARRAY_LEN(allowed_cap_add); i++)
		if (strcasecmp(allowed_cap_add[i], c) == 0)
			return 1;
	return 0;
}

static int
process_caps(const struct bundle_input *in, long uid, json_t **out, struct err *err)
{
	int set[ARRAY_LEN(all_caps)] = {0};
	json_t *list = json_array(), *caps;

	for (size_t i = 0; i < ARRAY_LEN(default_caps); i++)
		set[cap_known(default_caps[i])] = 1;
	for (char *const *c = in->cc->cap_add; c != NULL && *c != NULL; c++) {
		int k = cap_known(cap_strip(*c));

		if (k < 0 && strcasecmp(cap_strip(*c), "ALL") != 0) {
			json_decref(list);
			return err_make(err, 0, "container %s: unknown capability %s in cap_add",
			                in->cc->name, *c);
		}
		if (k < 0 || !cap_allowed(cap_strip(*c))) {
			json_decref(list);
			return err_make(err, 0,
			                "container %s: cap_add %s is refused (only IPC_LOCK, "
			                "NET_BIND_SERVICE and SYS_NICE)",
			                in->cc->name, *c);
		}
		set[k] = 1;
	}
	for (size_t i = 0; i < ARRAY_LEN(all_caps); i++) {
		if (set[i]) {
			char *n = xasprintf("CAP_%s", all_caps[i]);

			json_array_append_new(list, json_string(n));
			free(n);
		}
	}
	/* A non-root process keeps the bounding set only, as the kernel's exec
	 * rules would leave it. */
	caps = json_pack("{s:O, s:o, s:o, s:o}", "bounding", list, "inheritable", json_array(),
	                 "effective", uid == 0 ? json_copy(list) : json_array(), "permitted",
	                 uid == 0 ? json_copy(list) : json_array());
	json_decref(list);
	*out = caps;
	return 0;
}

/* docker-compose tmpfs options → mount options, noexec,nosuid,nodev unless
 * said otherwise. */
static int
tmpfs_options(const struct config_tmpfs *t, json_t **out, struct err *err)
{
	static const char *const flags[] = {"exec", "noexec", "suid", "nosuid",
	                                    "dev",  "nodev",  "ro",   "rw"};
	static const char *const keyed[] = {"size=", "mode=", "uid=", "gid=", "nr_inodes="};
	int exec = 0, suid = 0, dev = 0;
	json_t *opts = json_array();
	char *copy = t->options ? xstrdup(t->options) : NULL, *save = NULL, *o;
	int rc = 0;

	for (o = copy ? strtok_r(copy, ",", &save) : NULL; o != NULL;
	     o = strtok_r(NULL, ",", &save)) {
		int ok = 0;

		for (size_t i = 0; i < ARRAY_LEN(flags) && !ok; i++) {
			if (strcmp(o, flags[i]) == 0) {
				ok = 1;
				exec |= strcmp(o, "exec") == 0;
				suid |= strcmp(o, "suid") == 0;
				dev |= strcmp(o, "dev") == 0;
				if (strcmp(o, "exec") && strcmp(o, "suid") && strcmp(o, "dev"))
					json_array_append_new(opts, json_string(o));
			}
		}
		for (size_t i = 0; i < ARRAY_LEN(keyed) && !ok; i++) {
			size_t kl = strlen(keyed[i]);

			if (strncmp(o, keyed[i], kl) == 0 && o[kl] != '\0' &&
			    strspn(o + kl, "0123456789kmgKMG%") == strlen(o + kl)) {
				ok = 1;
				json_array_append_new(opts, json_string(o));
			}
		}
		if (!ok) {
			rc = err_make(err, 0, "tmpfs %s: unsupported option \"%s\"", t->path, o);
			goto out;
		}
	}
	json_array_append_new(opts, json_string(exec ? "exec" : "noexec"));
	json_array_append_new(opts, json_string(suid ? "suid" : "nosuid"));
	json_array_append_new(opts, json_string(dev ? "dev" : "nodev"));
out:
	free(copy);
	if (rc < 0)
		json_decref(opts);
	else
		*out = opts;
	return rc;
}

static json_t *
mount_entry(const char *dst, const char *type, const char *src, json_t *opts)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
	                 "options", opts);
}

static json_t *
opts_json(const char *csv)
{
	json_t *a = json_array();
	char *copy = xstrdup(csv), *save = NULL;

	for (char *o = strtok_r(copy, ",", &save); o != NULL; o = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(o));
	free(copy);
	return a;
}

/* /dev/shm's size: shm_size or 64 MiB, never more than the memory the
 * container may use (its pages count against that limit anyway; a larger
 * size would only promise what the OOM killer takes back). */
static int64_t
shm_bytes(const struct bundle_input *in)
{
	int64_t size = in->cc->shm_size_bytes > 0 ? in->cc->shm_size_bytes : 64 << 20;

	if (in->cc->memory_bytes > 0 && size > in->cc->memory_bytes)
		size = in->cc->memory_bytes;
	if (in->enclave_memory_bytes > 0 && size > in->enclave_memory_bytes)
		size = in->enclave_memory_bytes;
	return size;
}

static int
build_mounts(const struct bundle_input *in, json_t **out, struct err *err)
{
	const struct config_container *cc = in->cc;
	json_t *m = json_array(), *opts;
	char *shm;

	json_array_append_new(
	    m, mount_entry("/proc", "proc", "proc", opts_json("nosuid,noexec,nodev")));
	json_array_append_new(m, mount_entry("/dev", "tmpfs", "tmpfs",
	                                     opts_json("nosuid,strictatime,mode=755,size=65536k")));
	json_array_append_new(
	    m, mount_entry("/dev/pts", "devpts", "devpts",
	                   opts_json("nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5")));
	shm = xasprintf("nosuid,noexec,nodev,mode=1777,size=%lld", (long long)shm_bytes(in));
	json_array_append_new(m, mount_entry("/dev/shm", "tmpfs", "shm", opts_json(shm)));
	free(shm);
	json_array_append_new(
	    m, mount_entry("/dev/mqueue", "mqueue", "mqueue", opts_json("nosuid,noexec,nodev")));
	json_array_append_new(
	    m, mount_entry("/sys", "sysfs", "sysfs", opts_json("nosuid,noexec,nodev,ro")));
	json_array_append_new(m, mount_entry("/sys/fs/cgroup", "cgroup", "cgroup",
	                                     opts_json("nosuid,noexec,nodev,relatime,ro")));
	for (size_t i = 0; i < cc->n_tmpfs; i++) {
		if (cc->tmpfs[i].path == NULL || cc->tmpfs[i].path[0] != '/') {
			json_decref(m);
			return err_make(err, 0, "container %s: tmpfs path must be absolute",
			                cc->name);
		}
		if (tmpfs_options(&cc->tmpfs[i], &opts, err) < 0) {
			json_decref(m);
			return err_wrap(err, "container %s", cc->name);
		}
		json_array_append_new(m, mount_entry(cc->tmpfs[i].path, "tmpfs", "tmpfs", opts));
	}
	for (size_t i = 0; i < in->n_volumes; i++) {
		const struct bundle_mount *v = &in->volumes[i];

		json_array_append_new(
		    m, mount_entry(v->destination, "bind", v->source,
		                   opts_json(v->exec ? "rbind,nosuid,nodev"
		                                     : "rbind,nosuid,nodev,noexec")));
	}
	/* berth's own files last: a tmpfs at /etc or /run (allowed) is
	 * under them, not over them. */
	if (in->hosts_file != NULL)
		json_array_append_new(m, mount_entry("/etc/hosts", "bind", in->hosts_file,
		                                     opts_json("rbind,ro,nosuid,nodev,noexec")));
	if (in->hosts_dir != NULL)
		json_array_append_new(m, mount_entry(BUNDLE_HOSTS_DIR, "bind", in->hosts_dir,
		                                     opts_json("rbind,ro,nosuid,nodev,noexec")));
	if (in->resolv_file != NULL)
		json_array_append_new(m, mount_entry("/etc/resolv.conf", "bind", in->resolv_file,
		                                     opts_json("rbind,ro,nosuid,nodev,noexec")));
	/* Each of its attested keys, and the attestation socket's directory
	 * (a directory: a berthd started again binds a new socket there), one
	 * by one: /run/tinfoil itself stays the image's, where volumes may go
	 * (the reference's /run/tinfoil/volumedata). */
	for (size_t i = 0; in->tinfoil_dir != NULL && cc->keys != NULL && cc->keys[i] != NULL;
	     i++) {
		char *src = xasprintf("%s/keys/%s", in->tinfoil_dir, cc->keys[i]);
		char *dst = xasprintf("%s/keys/%s", BUNDLE_TINFOIL_DIR, cc->keys[i]);

		json_array_append_new(
		    m, mount_entry(dst, "bind", src, opts_json("rbind,ro,nosuid,nodev,noexec")));
		free(src);
		free(dst);
	}
	if (in->tinfoil_dir != NULL && cc->attestation) {
		char *src = xasprintf("%s/attestation", in->tinfoil_dir);

		json_array_append_new(m, mount_entry(BUNDLE_ATTEST_DIR, "bind", src,
		                                     opts_json("rbind,ro,nosuid,nodev,noexec")));
		free(src);
	}
	if (in->gpu_edits != NULL) {
		size_t i;
		json_t *d;

		json_array_extend(m, json_object_get(in->gpu_edits, "mounts"));
		/* A device node cannot be made in a user namespace: the host's
		 * is bound (the device cgroup still allows only it). */
		json_array_foreach(json_object_get(in->gpu_edits, "devices"), i, d)
		{
			const char *dst = json_string_value(json_object_get(d, "path"));
			const char *src = json_string_value(json_object_get(d, "hostPath"));

			if (in->userns != NULL && dst != NULL && src != NULL)
				json_array_append_new(
				    m,
				    mount_entry(dst, "bind", src, opts_json("bind,nosuid,noexec")));
		}
	}
	*out = m;
	return 0;
}

static json_t *
build_resources(const struct bundle_input *in)
{
	const struct config_container *cc = in->cc;
	json_t *r = json_object();
	json_t *devices = json_array();

	json_array_append_new(devices, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
	if (in->gpu_edits != NULL) {
		size_t i;
		json_t *d;

		json_array_foreach(json_object_get(in->gpu_edits, "devices"), i, d)
		    json_array_append_new(
		        devices, json_pack("{s:b, s:s, s:O, s:O, s:s}", "allow", 1, "type", "c",
		                           "major", json_object_get(d, "major"), "minor",
		                           json_object_get(d, "minor"), "access", "rwm"));
	}
	json_object_set_new(r, "devices", devices);
	json_object_set_new(
	    r, "pids",
	    json_pack("{s:I}", "limit",
	              (json_int_t)(cc->pids_limit > 0 ? cc->pids_limit : DEFAULT_PIDS_LIMIT)));
	if (cc->memory_bytes > 0)
		json_object_set_new(r, "memory",
		                    json_pack("{s:I}", "limit", (json_int_t)cc->memory_bytes));
	if (cc->cpus > 0)
		json_object_set_new(r, "cpu",
		                    json_pack("{s:I, s:I}", "quota",
		                              (json_int_t)(cc->cpus * 100000), "period",
		                              (json_int_t)100000));
	return r;
}

/* The reference's policy (docs/config.md), checked again here: a deployment
 * stored before the config validator refused these must not boot with them. */
static int
policy_check(const struct config_container *cc, struct err *err)
{
	const char *why = NULL;

	if (cc->privileged)
		why = "privileged containers are refused";
	else if (cc->security_opt != NULL && cc->security_opt[0] != NULL)
		why = "security_opt is refused";
	else if (cc->cap_drop != NULL && cc->cap_drop[0] != NULL)
		why = "cap_drop is refused";
	else if (cc->devices != NULL && cc->devices[0] != NULL)
		why = "devices are refused (GPUs come from gpus and runtime: nvidia)";
	else if (cc->pid != NULL && cc->pid[0] != '\0')
		why = "pid is refused (every container has its own pid namespace)";
	else if (cc->ipc != NULL && cc->ipc[0] != '\0' && strcmp(cc->ipc, "private") != 0 &&
	         strcmp(cc->ipc, "none") != 0 && strcmp(cc->ipc, "shareable") != 0 &&
	         strcmp(cc->ipc, "host") != 0)
		why = "ipc must be private, none, shareable or host (the enclave's)";
	if (why != NULL)
		return err_make(err, 0, "container %s: %s", cc->name, why);
	return 0;
}

/* The default seccomp profile (src/runtime/seccomp-default.json, embedded at
 * build time). */
extern const char seccomp_default_json[];
extern const unsigned long seccomp_default_json_len;

static json_t *
seccomp_profile(void)
{
	json_error_t je;
	json_t *j = json_loadb(seccomp_default_json, seccomp_default_json_len, 0, &je);

	if (j == NULL) /* built into the binary: a broken build */
		log_fatal("bundle: embedded seccomp profile: %s", je.text);
	return j;
}

/* The namespaces: new pid, uts and mount ones, the enclave's network
 * namespace by path, and ipc either new or (ipc: host) the enclave's. */
static json_t *
namespaces(const struct bundle_input *in)
{
	json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s, s:s}]", "type", "pid", "type", "uts",
	                       "type", "mount", "type", "network", "path", in->netns);
	const char *ipc = in->cc->ipc;

	if (in->userns != NULL)
		json_array_append_new(ns,
		                      json_pack("{s:s, s:s}", "type", "user", "path", in->userns));
	if (ipc != NULL && strcmp(ipc, "host") == 0 && in->ipc_ns != NULL)
		json_array_append_new(ns,
		                      json_pack("{s:s, s:s}", "type", "ipc", "path", in->ipc_ns));
	else
		json_array_append_new(ns, json_pack("{s:s}", "type", "ipc"));
	return ns;
}

int
bundle_spec(const struct bundle_input *in, json_t **spec, struct err *err)
{
	const struct config_container *cc = in->cc;
	json_t *args = NULL, *env = NULL, *caps = NULL, *mounts = NULL, *annotations;
	json_t *process, *linux_, *s;
	const char *cwd = cc->working_dir;
	long uid, gid;
	int sig;
	char buf[32];

	*spec = NULL;
	if (policy_check(cc, err) < 0)
		return -1;
	if (cwd == NULL && in->image != NULL && in->image->working_dir != NULL &&
	    in->image->working_dir[0] != '\0')
		cwd = in->image->working_dir;
	if (cwd == NULL)
		cwd = "/";
	if (cwd[0] != '/')
		return err_make(err, 0, "container %s: working_dir must be absolute", cc->name);
	sig = bundle_stop_signal(cc, in->image, err);
	if (sig < 0 || process_args(in, &args, err) < 0 || process_env(in, &env, err) < 0 ||
	    process_user(in, &uid, &gid, err) < 0 || process_caps(in, uid, &caps, err) < 0 ||
	    build_mounts(in, &mounts, err) < 0)
		goto fail;
	if (in->gpu_edits != NULL) {
		size_t i;
		json_t *v;

		json_array_foreach(json_object_get(in->gpu_edits, "env"), i, v)
		{
			const char *kv = json_string_value(v), *eq = strchr(kv, '=');

			if (eq != NULL) {
				char *k = xstrndup(kv, (size_t)(eq - kv));

				env_set(env, k, eq + 1);
				free(k);
			}
		}
	}
	process = json_pack("{s:b, s:{s:I, s:I}, s:o, s:o, s:s, s:o, s:b}", "terminal", 0, "user",
	                    "uid", (json_int_t)uid, "gid", (json_int_t)gid, "args", take_ptr(&args),
	                    "env", take_ptr(&env), "cwd", cwd, "capabilities", take_ptr(&caps),
	                    "noNewPrivileges", 1);
	linux_ =
	    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "namespaces", namespaces(in), "resources",
	              build_resources(in), "maskedPaths", json_array(), "readonlyPaths",
	              json_array(), "devices", json_array(), "seccomp", seccomp_profile());
	if (in->userns != NULL) {
		json_t *map = json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
		                        (json_int_t)in->id_base, "size", (json_int_t)in->id_count);

		json_object_set(linux_, "uidMappings", map);
		json_object_set_new(linux_, "gidMappings", map);
	}
	{
		/* Below the enclave's cgroup, whose limits it shares. */
		char *cg = in->cgroup_parent != NULL
		               ? xasprintf("/%s/%s", in->cgroup_parent, cc->name)
		               : xasprintf("/berth/%s", in->id != NULL ? in->id : cc->name);

		json_object_set_new(linux_, "cgroupsPath", json_string(cg));
		free(cg);
	}
	for (size_t i = 0; i < ARRAY_LEN(masked_paths); i++)
		json_array_append_new(json_object_get(linux_, "maskedPaths"),
		                      json_string(masked_paths[i]));
	for (size_t i = 0; i < ARRAY_LEN(readonly_paths); i++)
		json_array_append_new(json_object_get(linux_, "readonlyPaths"),
		                      json_string(readonly_paths[i]));
	if (in->gpu_edits != NULL && in->userns == NULL) {
		size_t i;
		json_t *d;

		json_array_foreach(json_object_get(in->gpu_edits, "devices"), i, d)
		    json_array_append(json_object_get(linux_, "devices"), d);
	}
	annotations = json_object();
	if (in->annotations != NULL)
		json_object_update(annotations, in->annotations);
	snprintf(buf, sizeof buf, "%d", sig);
	json_object_set_new(annotations, "berth.stop-signal", json_string(buf));
	snprintf(
	    buf, sizeof buf, "%lld",
	    (long long)(cc->stop_timeout_ms >= 0 ? cc->stop_timeout_ms : BUNDLE_STOP_TIMEOUT_MS));
	json_object_set_new(annotations, "berth.stop-timeout-ms", json_string(buf));
	json_object_set_new(annotations, "berth.container", json_string(cc->name));
	s = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:o}", "ociVersion", "1.0.2",
	              "process", process, "root", "path",
	              in->root_path != NULL ? in->root_path : "rootfs", "readonly",
	              cc->read_only ? 1 : 0, "hostname", cc->name, "mounts", take_ptr(&mounts),
	              "linux", linux_, "annotations", annotations);
	if (s == NULL) /* json_pack fails only on a NULL string: a broken invariant */
		log_fatal("bundle: runtime spec of %s", cc->name);
	*spec = s;
	return 0;
fail:
	json_decref(args);
	json_decref(env);
	json_decref(caps);
	json_decref(mounts);
	return -1;
}
