/* Unit tests of src/runtime without the kernel: the OCI spec of a container
 * (docker's entrypoint/command and env rules, users from the rootfs,
 * capabilities, tmpfs options, limits), enclave names, signals, the process
 * runner and GPU discovery. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "runtime/bundle.h"
#include "runtime/enclave.h"
#include "runtime/firewall.h"
#include "runtime/gpu.h"
#include "runtime/linux.h"
#include "runtime/logcopy.h"
#include "runtime/oci.h"
#include "runtime/spawn.h"

static char rootfs[] = "/tmp/berth-unit-rootfs-XXXXXX";

static int
setup_rootfs(void **state)
{
	char *p;
	struct err err = ERR_INIT;

	(void)state;
	if (mkdtemp(rootfs) == NULL)
		return -1;
	p = xasprintf("%s/etc", rootfs);
	mkdir(p, 0755);
	free(p);
	p = xasprintf("%s/etc/passwd", rootfs);
	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
	                             "# a comment line\n"
	                             "app:x:1000:1001::/home/app:/bin/sh\n"
	                             "broken:x:notanumber:1\n";
	file_write_atomic(p, passwd, sizeof passwd - 1, 0644, &err);
	free(p);
	p = xasprintf("%s/etc/group", rootfs);
	static const char group[] = "root:x:0:\napp:x:1001:\nstaff:x:50:app\n";
	file_write_atomic(p, group, sizeof group - 1, 0644, &err);
	free(p);
	return 0;
}

static int
teardown_rootfs(void **state)
{
	struct err err = ERR_INIT;

	(void)state;
	return linux_remove_tree(rootfs, &err);
}

static void
cc_init(struct config_container *cc)
{
	memset(cc, 0, sizeof *cc);
	cc->name = "web";
	cc->gpus = -1;
	cc->memory_bytes = -1;
	cc->cpus = -1;
	cc->shm_size_bytes = -1;
	cc->pids_limit = -1;
	cc->stop_timeout_ms = -1;
}

static json_t *
build(const struct config_container *cc, const struct image_config *ic, struct err *err)
{
	struct bundle_input in = {.id = "b-x-web",
	                          .cc = cc,
	                          .image = ic,
	                          .rootfs = rootfs,
	                          .netns = "/run/berth/netns/b-x",
	                          .hosts_file = "/s/hosts",
	                          .resolv_file = "/s/resolv.conf"};
	json_t *spec = NULL;

	if (bundle_spec(&in, &spec, err) < 0)
		return NULL;
	return spec;
}

static char *
args_of(json_t *spec)
{
	json_t *a = json_object_get(json_object_get(spec, "process"), "args"), *v;
	struct buf b = BUF_INIT;
	size_t i;

	json_array_foreach(a, i, v) buf_printf(&b, "%s%s", i ? " " : "", json_string_value(v));
	return buf_take(&b);
}

static void
check_args(struct config_container *cc, struct image_config *ic, const char *want)
{
	struct err err = ERR_INIT;
	json_t *spec = build(cc, ic, &err);
	char *got;

	assert_non_null(spec);
	got = args_of(spec);
	assert_string_equal(got, want);
	free(got);
	json_decref(spec);
}

static void
test_entrypoint_and_command_rules(void **state)
{
	struct config_container cc;
	struct image_config ic = {0};
	char *img_entry[] = {"/entry", "-v", NULL}, *img_cmd[] = {"serve", NULL};
	char *cfg_entry[] = {"/other", NULL}, *cfg_cmd[] = {"--port", "8000", NULL};
	struct err err = ERR_INIT;

	(void)state;
	cc_init(&cc);
	ic.entrypoint = img_entry;
	ic.cmd = img_cmd;
	check_args(&cc, &ic, "/entry -v serve");
	cc.command = cfg_cmd; /* replaces Cmd, keeps Entrypoint */
	check_args(&cc, &ic, "/entry -v --port 8000");
	cc.entrypoint = cfg_entry; /* replaces both when a command is given too */
	check_args(&cc, &ic, "/other --port 8000");
	cc.command = NULL; /* an entrypoint alone drops the image's Cmd */
	check_args(&cc, &ic, "/other");
	cc.entrypoint = NULL;
	ic.entrypoint = NULL;
	check_args(&cc, &ic, "serve");
	ic.cmd = NULL;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "no command"));
	assert_null(build(&cc, NULL, &err));
}

static const char *
env_get(json_t *spec, const char *key)
{
	json_t *env = json_object_get(json_object_get(spec, "process"), "env"), *v;
	size_t i, n = strlen(key), seen = 0;
	const char *found = NULL;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);

		if (strncmp(s, key, n) == 0 && s[n] == '=') {
			found = s + n + 1;
			seen++;
		}
	}
	assert_true(seen <= 1); /* never twice */
	return found;
}

static void
test_env_order(void **state)
{
	struct config_container cc;
	char *img_env[] = {"A=image", "B=image", "PATH=/img/bin", "NOVALUE", NULL};
	char *cmd[] = {"x", NULL}, *secrets[] = {"B", "TOKEN", NULL}, *missing[] = {"NOPE", NULL};
	struct image_config ic = {.env = img_env, .cmd = cmd};
	struct config_env env[] = {{"A", "config"}, {"C", NULL}, {"D", NULL}, {"B", "config"}};
	struct bundle_kv settings[] = {{"C", "setting"}, {"A", "setting-not-for-literal"}};
	struct bundle_kv sec[] = {{"B", "secret"}, {"TOKEN", "t"}};
	struct bundle_input in = {.cc = &cc,
	                          .image = &ic,
	                          .rootfs = rootfs,
	                          .netns = "/n",
	                          .settings = settings,
	                          .n_settings = 2,
	                          .secrets = sec,
	                          .n_secrets = 2};
	struct err err = ERR_INIT;
	json_t *spec;

	(void)state;
	cc_init(&cc);
	cc.env = env;
	cc.n_env = ARRAY_LEN(env);
	cc.secrets = secrets;
	assert_int_equal(bundle_spec(&in, &spec, &err), 0);
	assert_string_equal(env_get(spec, "A"), "config");
	assert_string_equal(env_get(spec, "B"), "secret");
	assert_string_equal(env_get(spec, "C"), "setting");
	assert_null(env_get(spec, "D")); /* bare key without a setting: unset */
	assert_string_equal(env_get(spec, "TOKEN"), "t");
	assert_string_equal(env_get(spec, "PATH"), "/img/bin");
	assert_string_equal(env_get(spec, "NOVALUE"), "");
	assert_string_equal(env_get(spec, "HOSTNAME"), "web");
	json_decref(spec);
	cc.secrets = missing;
	assert_int_equal(bundle_spec(&in, &spec, &err), -1);
	assert_string_equal(err.msg, "container web: secret NOPE was not provided");
	/* No PATH anywhere: docker's default. */
	cc.secrets = NULL;
	ic.env = NULL;
	assert_int_equal(bundle_spec(&in, &spec, &err), 0);
	assert_non_null(strstr(env_get(spec, "PATH"), "/usr/local/sbin"));
	json_decref(spec);
}

static void
check_user(const char *user, int uid, int gid, const char *error)
{
	struct config_container cc;
	char *cmd[] = {"x", NULL};
	struct image_config ic = {.cmd = cmd};
	struct err err = ERR_INIT;
	json_t *spec, *u;

	cc_init(&cc);
	cc.user = (char *)user;
	spec = build(&cc, &ic, &err);
	if (error != NULL) {
		assert_null(spec);
		assert_non_null(strstr(err.msg, error));
		return;
	}
	assert_non_null(spec);
	u = json_object_get(json_object_get(spec, "process"), "user");
	assert_int_equal(json_integer_value(json_object_get(u, "uid")), uid);
	assert_int_equal(json_integer_value(json_object_get(u, "gid")), gid);
	json_decref(spec);
}

static void
test_user_lookup(void **state)
{
	(void)state;
	check_user(NULL, 0, 0, NULL);
	check_user("app", 1000, 1001, NULL);
	check_user("1000", 1000, 1001, NULL); /* numeric uid, group from passwd */
	check_user("4242", 4242, 0, NULL);    /* unlisted numeric uid */
	check_user("app:staff", 1000, 50, NULL);
	check_user("1000:77", 1000, 77, NULL);
	check_user("ghost", 0, 0, "user \"ghost\" not found");
	check_user("app:nogroup", 0, 0, "group \"nogroup\" not found");
	check_user("broken", 0, 0, "not found");
}

static void
test_user_lookup_stays_in_rootfs(void **state)
{
	/* /etc/passwd as a symlink to the host's file resolves inside the rootfs. */
	char *p = xasprintf("%s/etc/passwd", rootfs), *saved = xasprintf("%s.saved", p);

	(void)state;
	assert_int_equal(rename(p, saved), 0);
	assert_int_equal(symlink("/../../../../etc/passwd.saved", p), 0);
	check_user("app", 1000, 1001, NULL); /* found via /etc/passwd.saved in the rootfs */
	unlink(p);
	assert_int_equal(symlink("/../../../../../etc/shadow", p), 0);
	check_user("root", 0, 0, "not found"); /* the host's file is never read */
	unlink(p);
	assert_int_equal(rename(saved, p), 0);
	free(p);
	free(saved);
}

/* Puts a file of another kind at the rootfs's etc/NAME (make returns 0)
 * and checks that user finds the error, without blocking: a blocked open
 * is a SIGALRM that ends the test run. */
static void
check_user_refused(const char *name, int (*make)(const char *path), const char *user,
                   const char *error)
{
	char *p = xasprintf("%s/etc/%s", rootfs, name), *saved = xasprintf("%s.saved", p);

	assert_int_equal(rename(p, saved), 0);
	assert_int_equal(make(p), 0);
	alarm(10);
	check_user(user, 0, 0, error);
	alarm(0);
	if (remove(p) < 0)
		fail_msg("remove %s: %s", p, strerror(errno));
	assert_int_equal(rename(saved, p), 0);
	free(p);
	free(saved);
}

static int
make_fifo(const char *path)
{
	return mkfifo(path, 0644);
}

static int
make_dir(const char *path)
{
	return mkdir(path, 0755);
}

static int
make_chardev(const char *path)
{
	return mknod(path, S_IFCHR | 0644, makedev(1, 5)); /* /dev/zero */
}

/* 1 MiB and a byte: app's line first, so a read cut at the cap would find it. */
static int
make_oversized(const char *path)
{
	struct err err = ERR_INIT;
	size_t n = (1 << 20) + 1;
	char *text = xmalloc(n);
	static const char app[] = "app:x:1000:1001::/home/app:/bin/sh\n";
	int rc;

	memset(text, '#', n);
	memcpy(text, app, sizeof app - 1);
	text[n - 1] = '\n';
	rc = file_write_atomic(path, text, n, 0644, &err);
	free(text);
	return rc;
}

/* The image's passwd and group are read only when they are regular files of
 * at most 1 MiB, and never block (a FIFO used to hang the deploy). */
static void
test_user_lookup_refuses_special_files(void **state)
{
	(void)state;
	check_user_refused("passwd", make_fifo, "app",
	                   "container web: the image's /etc/passwd is not a regular file (a FIFO)");
	check_user_refused("passwd", make_fifo, "1000", "/etc/passwd is not a regular file");
	check_user_refused("group", make_fifo, "app:staff",
	                   "container web: the image's /etc/group is not a regular file (a FIFO)");
	check_user_refused("passwd", make_dir, "app",
	                   "/etc/passwd is not a regular file (a directory)");
	if (geteuid() == 0)
		check_user_refused("passwd", make_chardev, "app",
		                   "/etc/passwd is not a regular file (a character device)");
	check_user_refused("passwd", make_oversized, "app",
	                   "container web: the image's /etc/passwd is larger than 1 MiB");
}

static int
has(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) if (strcmp(json_string_value(v), s) == 0) return 1;
	return 0;
}

static char *
read_via(int rootfd, const char *path, int *err_no)
{
	char buf[256];
	int fd = linux_open_in_root_by_hand(rootfd, path);
	ssize_t n;

	*err_no = fd < 0 ? errno : 0;
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return xstrdup(buf);
}

/* The openat2 fallback resolves links inside the root and never leaves it. */
static void
test_open_in_root_by_hand(void **state)
{
	static const char *links[][2] = {
	    {"etc/abs", "/etc/passwd"},
	    {"etc/rel", "../etc/./passwd"},
	    {"etc/up", "../../../../etc/passwd"},
	    {"etc/out", "/../../../../etc/hostname"},
	    {"etc/loop1", "loop2"},
	    {"etc/loop2", "loop1"},
	    {"dir", "etc"},
	};
	int rootfd, e;
	char *text;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(links); i++) {
		char *p = xasprintf("%s/%s", rootfs, links[i][0]);

		assert_int_equal(symlink(links[i][1], p), 0);
		free(p);
	}
	rootfd = open(rootfs, O_PATH | O_DIRECTORY);
	assert_true(rootfd >= 0);
	const char *same[] = {"/etc/passwd", "etc/passwd", "/../../etc/passwd", "/etc/abs",
	                      "/etc/rel",    "/etc/up",    "/dir/passwd",       "/dir/../dir/abs"};
	for (size_t i = 0; i < ARRAY_LEN(same); i++) {
		text = read_via(rootfd, same[i], &e);
		assert_non_null(text);
		assert_true(strncmp(text, "root:x:0:0:", 11) == 0);
		free(text);
	}
	/* /etc/hostname exists on the host, not in the root. */
	assert_null(read_via(rootfd, "/etc/out", &e));
	assert_int_equal(e, ENOENT);
	assert_null(read_via(rootfd, "/etc/loop1", &e));
	assert_int_equal(e, ELOOP);
	/* A FIFO opens at once (the caller then sees it is no file). */
	{
		char *fifo = xasprintf("%s/etc/fifo", rootfs);
		int fd;

		assert_int_equal(mkfifo(fifo, 0644), 0);
		alarm(10);
		fd = linux_open_in_root_by_hand(rootfd, "/dir/fifo");
		alarm(0);
		assert_true(fd >= 0);
		close(fd);
		unlink(fifo);
		free(fifo);
	}
	close(rootfd);
	for (size_t i = 0; i < ARRAY_LEN(links); i++) {
		char *p = xasprintf("%s/%s", rootfs, links[i][0]);

		unlink(p);
		free(p);
	}
}

static void
test_capabilities(void **state)
{
	struct config_container cc;
	char *cmd[] = {"x", NULL}, *add[] = {"SYS_NICE", "CAP_IPC_LOCK", NULL};
	char *drop[] = {"chown", NULL}, *all[] = {"ALL", NULL}, *bad[] = {"WIZARDRY", NULL};
	char *admin[] = {"NET_ADMIN", NULL}, *raw[] = {"CAP_NET_RAW", NULL};
	struct image_config ic = {.cmd = cmd};
	struct err err = ERR_INIT;
	json_t *spec, *caps;

	(void)state;
	cc_init(&cc);
	spec = build(&cc, &ic, &err);
	caps = json_object_get(json_object_get(spec, "process"), "capabilities");
	assert_true(has(json_object_get(caps, "bounding"), "CAP_CHOWN"));
	assert_true(has(json_object_get(caps, "effective"), "CAP_NET_BIND_SERVICE"));
	assert_false(has(json_object_get(caps, "bounding"), "CAP_SYS_ADMIN"));
	assert_false(has(json_object_get(caps, "bounding"), "CAP_NET_RAW"));
	assert_false(has(json_object_get(caps, "bounding"), "CAP_MKNOD"));
	assert_false(has(json_object_get(caps, "bounding"), "CAP_AUDIT_WRITE"));
	assert_int_equal(json_array_size(json_object_get(caps, "bounding")), 11);
	assert_true(
	    json_is_true(json_object_get(json_object_get(spec, "process"), "noNewPrivileges")));
	json_decref(spec);
	/* The allowed additions, with or without the prefix. */
	cc.cap_add = add;
	spec = build(&cc, &ic, &err);
	caps = json_object_get(json_object_get(spec, "process"), "capabilities");
	assert_true(has(json_object_get(caps, "bounding"), "CAP_SYS_NICE"));
	assert_true(has(json_object_get(caps, "bounding"), "CAP_IPC_LOCK"));
	assert_int_equal(json_array_size(json_object_get(caps, "bounding")), 13);
	json_decref(spec);
	/* Anything else is refused, as is cap_drop. */
	cc.cap_add = admin;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "cap_add NET_ADMIN is refused"));
	cc.cap_add = raw;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "cap_add CAP_NET_RAW is refused"));
	cc.cap_add = all;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "cap_add ALL is refused"));
	cc.cap_add = bad;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "unknown capability"));
	cc.cap_add = NULL;
	cc.cap_drop = drop;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "cap_drop is refused"));
	cc.cap_drop = NULL;
	/* A non-root user keeps only the bounding set. */
	cc.user = "app";
	spec = build(&cc, &ic, &err);
	caps = json_object_get(json_object_get(spec, "process"), "capabilities");
	assert_int_equal(json_array_size(json_object_get(caps, "effective")), 0);
	assert_int_equal(json_array_size(json_object_get(caps, "bounding")), 11);
	json_decref(spec);
}

static json_t *
mount_at(json_t *spec, const char *dst)
{
	size_t i;
	json_t *m;

	json_array_foreach(
	    json_object_get(spec, "mounts"), i,
	    m) if (strcmp(json_string_value(json_object_get(m, "destination")), dst) == 0) return m;
	return NULL;
}

static void
test_mounts_limits_namespaces(void **state)
{
	struct config_container cc;
	char *cmd[] = {"x", NULL};
	struct image_config ic = {.cmd = cmd, .working_dir = "/srv", .stop_signal = "SIGQUIT"};
	struct config_tmpfs t[] = {{"/tmp", "size=512m,mode=1777,exec"}, {"/cache", NULL}};
	struct config_tmpfs bad[] = {{"/x", "size=1m,bind=/etc"}};
	struct err err = ERR_INIT;
	json_t *spec, *linux_, *m, *ns;
	size_t i;
	int net = 0, pid = 0;

	(void)state;
	cc_init(&cc);
	cc.tmpfs = t;
	cc.n_tmpfs = 2;
	cc.read_only = 1;
	cc.pids_limit = 64;
	cc.memory_bytes = 256 << 20;
	cc.cpus = 1.5;
	cc.stop_timeout_ms = 2500;
	spec = build(&cc, &ic, &err);
	assert_non_null(spec);
	assert_true(json_is_true(json_object_get(json_object_get(spec, "root"), "readonly")));
	assert_string_equal(json_string_value(json_object_get(spec, "hostname")), "web");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(spec, "process"), "cwd")), "/srv");
	m = mount_at(spec, "/tmp");
	assert_true(has(json_object_get(m, "options"), "size=512m"));
	assert_true(has(json_object_get(m, "options"), "exec"));
	assert_false(has(json_object_get(m, "options"), "noexec"));
	m = mount_at(spec, "/cache");
	assert_true(has(json_object_get(m, "options"), "noexec"));
	assert_true(has(json_object_get(m, "options"), "nosuid"));
	m = mount_at(spec, "/etc/hosts");
	assert_string_equal(json_string_value(json_object_get(m, "source")), "/s/hosts");
	assert_non_null(mount_at(spec, "/etc/resolv.conf"));
	assert_non_null(mount_at(spec, "/proc"));
	assert_non_null(mount_at(spec, "/dev/shm"));
	linux_ = json_object_get(spec, "linux");
	assert_true(has(json_object_get(linux_, "maskedPaths"), "/proc/kcore"));
	assert_true(has(json_object_get(linux_, "readonlyPaths"), "/proc/sys"));
	json_array_foreach(json_object_get(linux_, "namespaces"), i, ns)
	{
		const char *type = json_string_value(json_object_get(ns, "type"));

		if (strcmp(type, "network") == 0) {
			net = 1;
			assert_string_equal(json_string_value(json_object_get(ns, "path")),
			                    "/run/berth/netns/b-x");
		}
		pid |= strcmp(type, "pid") == 0;
	}
	assert_true(net && pid);
	m = json_object_get(linux_, "resources");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "pids"), "limit")),
	                 64);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "memory"), "limit")),
	                 256 << 20);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "cpu"), "quota")),
	                 150000);
	m = json_object_get(spec, "annotations");
	assert_string_equal(json_string_value(json_object_get(m, "berth.stop-signal")), "3");
	assert_string_equal(json_string_value(json_object_get(m, "berth.stop-timeout-ms")), "2500");
	json_decref(spec);
	cc.tmpfs = bad;
	cc.n_tmpfs = 1;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "unsupported option \"bind=/etc\""));
	cc.tmpfs = NULL;
	cc.n_tmpfs = 0;
	cc.working_dir = "relative";
	assert_null(build(&cc, &ic, &err));
	cc.working_dir = NULL;
	cc.pid = "host";
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "pid is refused"));
	cc.pid = "private";
	assert_null(build(&cc, &ic, &err));
	cc.pid = NULL;
	cc.ipc = "container:db";
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "ipc must be"));
	cc.ipc = NULL;
	{
		char *nnp[] = {"no-new-privileges:true", NULL};
		char *dev[] = {"/dev/kmsg", NULL};

		cc.security_opt = nnp;
		assert_null(build(&cc, &ic, &err));
		assert_non_null(strstr(err.msg, "security_opt is refused"));
		cc.security_opt = NULL;
		cc.devices = dev;
		assert_null(build(&cc, &ic, &err));
		assert_non_null(strstr(err.msg, "devices are refused"));
		cc.devices = NULL;
	}
	cc.privileged = 1;
	assert_null(build(&cc, &ic, &err));
	assert_non_null(strstr(err.msg, "privileged"));
}

/* Every container gets the seccomp profile, a pids limit, its cgroup below
 * the enclave's, an absolute root and, with ipc: host, the enclave's ipc
 * namespace. */
static void
test_sandbox_fields(void **state)
{
	struct config_container cc;
	char *cmd[] = {"x", NULL};
	struct image_config ic = {.cmd = cmd};
	struct err err = ERR_INIT;
	json_t *spec, *linux_, *sc, *ns, *s;
	size_t i;
	int seen_clone = 0, seen_mount_denied = 0;
	const char *ipc_path = NULL;

	(void)state;
	cc_init(&cc);
	spec = build(&cc, &ic, &err);
	linux_ = json_object_get(spec, "linux");
	sc = json_object_get(linux_, "seccomp");
	assert_string_equal(json_string_value(json_object_get(sc, "defaultAction")),
	                    "SCMP_ACT_ERRNO");
	assert_true(json_array_size(json_object_get(sc, "syscalls")) > 10);
	json_array_foreach(json_object_get(sc, "syscalls"), i, s)
	{
		const char *action = json_string_value(json_object_get(s, "action"));
		size_t k;
		json_t *n;

		json_array_foreach(json_object_get(s, "names"), k, n)
		{
			if (strcmp(json_string_value(n), "clone") == 0) {
				seen_clone = 1;
				assert_non_null(json_object_get(s, "args"));
			}
			if (strcmp(json_string_value(n), "mount") == 0 ||
			    strcmp(json_string_value(n), "unshare") == 0) {
				assert_string_equal(action, "SCMP_ACT_ERRNO");
				seen_mount_denied++;
			}
		}
	}
	assert_true(seen_clone);
	assert_int_equal(seen_mount_denied, 2);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(json_object_get(linux_, "resources"), "pids"), "limit")),
	    4096);
	json_decref(spec);
	cc.ipc = "host";
	cc.shm_size_bytes = 256 << 20;
	cc.memory_bytes = 128 << 20;
	{
		struct bundle_input in = {.id = "b-x-web",
		                          .cc = &cc,
		                          .image = &ic,
		                          .rootfs = "/nonexistent",
		                          .netns = "/run/berth/netns/b-x",
		                          .root_path = "/s/web/rootfs",
		                          .cgroup_parent = "berth/b-x",
		                          .ipc_ns = "/proc/42/ns/ipc",
		                          .enclave_memory_bytes = 64 << 20};

		assert_int_equal(bundle_spec(&in, &spec, &err), 0);
	}
	linux_ = json_object_get(spec, "linux");
	assert_string_equal(json_string_value(json_object_get(linux_, "cgroupsPath")),
	                    "/berth/b-x/web");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(spec, "root"), "path")),
	    "/s/web/rootfs");
	json_array_foreach(json_object_get(linux_, "namespaces"), i, ns)
	{
		if (strcmp(json_string_value(json_object_get(ns, "type")), "ipc") == 0)
			ipc_path = json_string_value(json_object_get(ns, "path"));
	}
	assert_non_null(ipc_path);
	assert_string_equal(ipc_path, "/proc/42/ns/ipc");
	/* /dev/shm: the smallest of shm_size, the container's and the enclave's memory. */
	assert_true(has(json_object_get(mount_at(spec, "/dev/shm"), "options"), "size=67108864"));
	json_decref(spec);
}

static void
test_signals_and_names(void **state)
{
	char name[ENCLAVE_NAME_MAX + 1];

	(void)state;
	assert_int_equal(bundle_signal_parse("SIGTERM"), SIGTERM);
	assert_int_equal(bundle_signal_parse("usr1"), SIGUSR1);
	assert_int_equal(bundle_signal_parse("9"), 9);
	assert_int_equal(bundle_signal_parse("SIGNOPE"), -1);
	assert_int_equal(bundle_signal_parse("99"), -1);
	assert_int_equal(bundle_signal_parse(""), -1);
	enclave_name("0F1E2D3C-4B5A-6978-8796-a5b4c3d2e1f0", name);
	assert_string_equal(name, "b-0f1e2d3c4b5a");
	enclave_name("abc", name);
	assert_string_equal(name, "b-abc");
}

static void
test_spawn(void **state)
{
	char *cat[] = {"cat", NULL}, *fail[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	char *slow[] = {"sleep", "5", NULL}, *env[] = {"sh", "-c", "echo $BERTH_X", NULL};
	char *extra[] = {"BERTH_X=yes", NULL}, *none[] = {"/nonexistent/prog", NULL};
	struct spawn_opts so = {
	    .argv = cat, .stdout_fd = -1, .stdin_data = "hello", .stdin_len = 5};
	struct spawn_result res;
	struct err err = ERR_INIT;
	int64_t t0;

	(void)state;
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.out.data, "hello");
	spawn_result_free(&res);
	so = (struct spawn_opts){.argv = fail, .stdout_fd = -1};
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	assert_int_equal(res.status, 3);
	assert_string_equal(res.out.data, "out\n");
	assert_string_equal(res.errout.data, "err\n");
	spawn_result_free(&res);
	so = (struct spawn_opts){.argv = env, .env_extra = extra, .stdout_fd = -1};
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	assert_string_equal(res.out.data, "yes\n");
	spawn_result_free(&res);
	so = (struct spawn_opts){.argv = slow, .stdout_fd = -1, .timeout_ms = 200};
	t0 = now_mono_ms();
	assert_true(spawn_run(&so, &res, &err) < 0);
	assert_int_equal(err.code, ETIMEDOUT);
	assert_true(now_mono_ms() - t0 < 2000);
	spawn_result_free(&res);
	so = (struct spawn_opts){.argv = none, .stdout_fd = -1};
	assert_true(spawn_run(&so, &res, &err) < 0);
	assert_int_equal(err.code, ENOENT);
	spawn_result_free(&res);
}

/* A sealed copy runs as its program: /proc/self/exe is the memfd (what runc
 * checks to skip its own copy), the copy cannot change, and the program does
 * not inherit the descriptor. */
static void
test_spawn_sealed_copy(void **state)
{
	char *sh[] = {"sh", "-c",
	              "readlink /proc/$$/exe; [ -e /proc/$$/fd/5 ] && echo leaked || echo closed",
	              NULL};
	struct spawn_opts so = {.argv = sh, .stdout_fd = -1};
	struct spawn_result res;
	struct err err = ERR_INIT;
	int fd;

	(void)state;
	fd = spawn_sealed_copy("sh", &err);
	if (fd < 0)
		fail_msg("spawn_sealed_copy: %s", err.msg);
	assert_int_equal(fcntl(fd, F_GET_SEALS),
	                 F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	assert_true(write(fd, "x", 1) < 0);
	so.program_fd = fd;
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.out.data, "/memfd:sh (deleted)\nclosed\n");
	spawn_result_free(&res);
	close(fd);
	assert_true(spawn_sealed_copy("/nonexistent/prog", &err) < 0);
	assert_int_equal(err.code, ENOENT);
}

/* A program killed on its deadline is gone, not left to its relay's parent:
 * it runs in a child of berth-relay that dies with the relay. */
static void
test_spawn_deadline_takes_the_program(void **state)
{
	char *sh[] = {"sh", "-c", "echo $$; exec sleep 30", NULL};
	struct spawn_opts so = {.argv = sh, .stdout_fd = -1, .timeout_ms = 300};
	struct spawn_result res;
	struct err err = ERR_INIT;
	pid_t pid;
	int gone = 0;

	(void)state;
	assert_true(spawn_run(&so, &res, &err) < 0);
	assert_int_equal(res.killed, SPAWN_TIMEOUT);
	pid = (pid_t)atoi(res.out.data);
	assert_true(pid > 1);
	for (int i = 0; i < 200 && !gone; i++) {
		char path[64], state_c = 0;
		FILE *f;

		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		/* Gone, or a zombie of init's until it reaps it. */
		gone = f == NULL || (fscanf(f, "%*d %*s %c", &state_c) == 1 && state_c == 'Z');
		if (f != NULL)
			fclose(f);
		if (!gone)
			usleep(10000);
	}
	assert_true(gone);
	spawn_result_free(&res);
}

static volatile int reaper_stop;

static void *
reaper(void *arg)
{
	(void)arg;
	while (!reaper_stop) {
		waitpid(-1, NULL, WNOHANG);
		usleep(50);
	}
	return NULL;
}

/* A daemon reaping with waitpid(-1) from its loop never takes our children. */
static void
test_spawn_beside_a_reaper(void **state)
{
	char *sh[] = {"sh", "-c", "exit 5", NULL};
	struct spawn_opts so = {.argv = sh, .stdout_fd = -1};
	struct spawn_result res;
	struct err err = ERR_INIT;
	pthread_t t;

	(void)state;
	reaper_stop = 0;
	assert_int_equal(pthread_create(&t, NULL, reaper, NULL), 0);
	for (int i = 0; i < 40; i++) {
		if (spawn_run(&so, &res, &err) < 0)
			fail_msg("spawn_run: %s", err.msg);
		assert_int_equal(res.status, 5);
		spawn_result_free(&res);
	}
	reaper_stop = 1;
	pthread_join(t, NULL);
}

static void
test_gpu_inventory(void **state)
{
	char dir[] = "/tmp/berth-unit-dev-XXXXXX";
	const char *names[] = {"nvidia1", "nvidia0", "nvidiactl", "nvidia-uvm", "nvidia10x"};
	struct gpu_inventory inv;
	struct err err = ERR_INIT;
	const char *no_cdi[] = {NULL};
	json_t *edits;
	int idx = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(gpu_inventory_scan(dir, 0, no_cdi, &inv, &err), 0);
	assert_int_equal(inv.count, 0);
	gpu_inventory_free(&inv);
	assert_int_equal(gpu_inventory_scan(dir, 2, no_cdi, &inv, &err), 0);
	assert_int_equal(inv.count, 2);
	assert_true(inv.simulated);
	assert_int_equal(gpu_edits(&inv, &idx, 1, &edits, &err), 0);
	assert_null(edits); /* simulated: nothing passed */
	gpu_inventory_free(&inv);
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);

		file_write_atomic(p, "", 0, 0644, &err);
		free(p);
	}
	assert_int_equal(gpu_inventory_scan(dir, 4, no_cdi, &inv, &err), 0);
	assert_int_equal(inv.count, 2);
	assert_false(inv.simulated);
	assert_non_null(strstr(inv.devices[0], "/nvidia0"));
	/* Regular files are not devices: a clear error. */
	assert_true(gpu_edits(&inv, &idx, 1, &edits, &err) < 0);
	assert_non_null(strstr(err.msg, "not a character device"));
	idx = 5;
	assert_true(gpu_edits(&inv, &idx, 1, &edits, &err) < 0);
	assert_non_null(strstr(err.msg, "gpu 5 does not exist"));
	gpu_inventory_free(&inv);
	assert_int_equal(linux_remove_tree(dir, &err), 0);
	assert_true(gpu_inventory_scan(dir, 0, no_cdi, &inv, &err) < 0);
	gpu_inventory_free(&inv);
}

static void
test_gpu_cdi(void **state)
{
	char dev[] = "/tmp/berth-unit-dev-XXXXXX", cdi[] = "/tmp/berth-unit-cdi-XXXXXX";
	const char *dirs[] = {cdi, NULL};
	static const char spec[] =
	    "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\",\n"
	    " \"devices\": [{\"name\": \"0\", \"containerEdits\": {\"deviceNodes\": [\n"
	    "   {\"path\": \"/dev/nvidia0\", \"hostPath\": \"/dev/null\"}]}}],\n"
	    " \"containerEdits\": {\"env\": [\"NVIDIA_CTK_LIBCUDA_DIR=/usr/lib\"],\n"
	    "   \"mounts\": [{\"hostPath\": \"/usr/lib/libcuda.so\",\n"
	    "               \"containerPath\": \"/usr/lib/libcuda.so\"}]}}";
	struct gpu_inventory inv;
	struct err err = ERR_INIT;
	json_t *edits, *d;
	char *p;
	int idx = 0;

	(void)state;
	assert_non_null(mkdtemp(dev));
	assert_non_null(mkdtemp(cdi));
	p = xasprintf("%s/nvidia0", dev);
	file_write_atomic(p, "", 0, 0644, &err);
	free(p);
	p = xasprintf("%s/other.json", cdi);
	file_write_atomic(p, "{\"kind\": \"vendor.com/fpga\"}", 26, 0644, &err);
	free(p);
	p = xasprintf("%s/nvidia.json", cdi);
	file_write_atomic(p, spec, sizeof spec - 1, 0644, &err);
	assert_int_equal(gpu_inventory_scan(dev, 0, dirs, &inv, &err), 0);
	assert_int_equal(inv.count, 1);
	assert_string_equal(inv.cdi_spec, p);
	free(p);
	assert_int_equal(gpu_edits(&inv, &idx, 1, &edits, &err), 0);
	d = json_array_get(json_object_get(edits, "devices"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "path")), "/dev/nvidia0");
	assert_int_equal(json_integer_value(json_object_get(d, "major")), 1); /* /dev/null's */
	assert_int_equal(json_integer_value(json_object_get(d, "minor")), 3);
	assert_true(has(json_object_get(edits, "env"), "NVIDIA_CTK_LIBCUDA_DIR=/usr/lib"));
	assert_true(has(json_object_get(edits, "env"), "NVIDIA_VISIBLE_DEVICES=0"));
	assert_int_equal(json_array_size(json_object_get(edits, "mounts")), 1);
	json_decref(edits);
	gpu_inventory_free(&inv);
	assert_int_equal(linux_remove_tree(dev, &err), 0);
	assert_int_equal(linux_remove_tree(cdi, &err), 0);
}

/* Whether a copier holds dir's lock: waits up to 5 s for want to hold. */
static int
copier_runs(const char *dir, int want)
{
	char *lock = xasprintf("%s/log.lock", dir);
	int runs = -1;

	for (int i = 0; i < 500; i++) {
		int fd = open(lock, O_RDWR | O_CLOEXEC);

		runs = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0;
		if (fd >= 0)
			close(fd); /* also lets the lock go */
		if (runs == want)
			break;
		usleep(10000);
	}
	free(lock);
	return runs;
}

/* The log file's text once it holds want (or after 5 s), owned. */
static char *
log_text(const char *path, const char *want)
{
	struct err err = ERR_INIT;
	char *text = NULL;
	size_t len;

	for (int i = 0; i < 500; i++) {
		free(text);
		text = NULL;
		if (file_read_all(path, 1 << 20, &text, &len, &err) < 0)
			err_clear(&err);
		else if (strcmp(text, want) == 0)
			break;
		usleep(10000);
	}
	return text != NULL ? text : xstrdup("");
}

/* Issue 11, defect 3: a copier with a lifeline ends when its daemon does
 * (after copying what was written), the FIFO keeps what comes meanwhile, and
 * a resume copies it, secrets still replaced; it ends with the container's
 * last writer. */
static void
test_logcopy_lifeline_and_resume(void **state)
{
	char dir[] = "/tmp/berth-unit-logcopy-XXXXXX";
	struct logcopy_value v = {"hunter22", 8, "[secret PW]"};
	struct err err = ERR_INIT;
	int life[2], wfd = -1;
	char *path, *text;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/log", dir);
	assert_int_equal(pipe2(life, O_CLOEXEC), 0);
	struct logcopy_opts o = {
	    .dir = dir, .path = path, .max_bytes = 1 << 20, .lifeline = life[0]};
	assert_int_equal(logcopy_start(&o, &v, 1, &wfd, &err), 0);
	assert_int_equal(copier_runs(dir, 1), 1);
	assert_int_equal(write(wfd, "one hunter22\n", 13), 13);
	/* The daemon goes: so does its copier, once what was written is copied. */
	close(life[1]);
	assert_int_equal(copier_runs(dir, 0), 0);
	text = log_text(path, "one [secret PW]\n");
	assert_string_equal(text, "one [secret PW]\n");
	free(text);
	/* Meanwhile the container writes on: the FIFO keeps it. */
	assert_int_equal(write(wfd, "two hunter22\n", 13), 13);
	/* The next daemon resumes, and twice starts one copier. */
	close(life[0]);
	assert_int_equal(pipe2(life, O_CLOEXEC), 0);
	o.lifeline = life[0];
	assert_int_equal(logcopy_resume(&o, &err), 0);
	assert_int_equal(logcopy_resume(&o, &err), 0);
	text = log_text(path, "one [secret PW]\ntwo [secret PW]\n");
	assert_string_equal(text, "one [secret PW]\ntwo [secret PW]\n");
	free(text);
	assert_int_equal(copier_runs(dir, 1), 1);
	/* The container exits: its copier too, the lifeline still open. */
	close(wfd);
	assert_int_equal(copier_runs(dir, 0), 0);
	/* A container that exited before the resume: the copier ends at once. */
	assert_int_equal(logcopy_resume(&o, &err), 0);
	assert_int_equal(copier_runs(dir, 0), 0);
	close(life[0]);
	close(life[1]);
	/* No FIFO: nothing to resume. */
	o.dir = "/nonexistent";
	assert_int_equal(logcopy_resume(&o, &err), -ENOENT);
	err_clear(&err);
	{
		char cmd[96];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	free(path);
}

/* What each setting adds to the enclave's tables (the system tests show
 * what the rules do). */
static void
test_firewall_ruleset(void **state)
{
	struct firewall_enclave fe = {
	    .name = "b-x", .bridge = "berth0", .veth = "veth1", .ip = "10.213.0.5"};
	char *r;

	(void)state;
	r = firewall_ruleset(&fe);
	assert_non_null(strstr(r, "\tip saddr 10.213.0.5 drop\n"));
	assert_null(strstr(r, "masquerade"));
	assert_null(strstr(r, "hook output"));
	free(r);
	fe.egress_open = 1;
	fe.upstream_mark = BERTH_UPSTREAM_MARK;
	r = firewall_ruleset(&fe);
	assert_null(strstr(r, "\tip saddr 10.213.0.5 drop\n"));
	assert_non_null(strstr(r, "ip saddr 10.213.0.5 oifname != \"berth0\" masquerade"));
	assert_non_null(strstr(r, "ip saddr 10.213.0.5 oifname \"berth0\" drop"));
	assert_non_null(strstr(r, "ip daddr 10.213.0.5 ct state new meta mark != 0x62657274 meta "
	                          "l4proto tcp reject with tcp reset"));
	free(r);
}

/* A fake OCI runtime whose `list` fails FAILS times (as runc does when a
 * container's state directory goes while it lists), then answers. */
static void
fake_list_runtime(const char *dir, int fails)
{
	char *path = xasprintf("%s/runc", dir);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
	        "#!/bin/sh\n"
	        "n=$(cat %s/count 2>/dev/null || echo 0); echo $((n + 1)) >%s/count\n"
	        "if [ \"$n\" -lt %d ]; then\n"
	        "  echo 'stat %s/root/e-x-web: no such file or directory' >&2; exit 1\n"
	        "fi\n"
	        "echo '[{\"id\": \"e-y-web\"}]'\n",
	        dir, dir, fails, dir);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
}

static void
test_oci_list_asks_again_when_a_container_goes_meanwhile(void **state)
{
	char dir[] = "/tmp/berth-unit-oci-XXXXXX";
	struct oci o = {0};
	struct err err = ERR_INIT;
	json_t *list = NULL;
	char *count;

	(void)state;
	assert_non_null(mkdtemp(dir));
	o.binary = xasprintf("%s/runc", dir);
	o.root = xasprintf("%s/root", dir);
	count = xasprintf("%s/count", dir);
	/* Two failures: the third run answers. */
	fake_list_runtime(dir, 2);
	assert_int_equal(oci_list(&o, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	/* Failing every time: the error is the runtime's. */
	unlink(count);
	fake_list_runtime(dir, 100);
	assert_true(oci_list(&o, &list, &err) < 0);
	assert_null(list);
	assert_non_null(strstr(err.msg, "no such file or directory"));
	unlink(count);
	unlink(o.binary);
	free(count);
	free(o.binary);
	free(o.root);
	assert_int_equal(rmdir(dir), 0);
}

/* The bundles' tmpfs: one berth mounted, even by a berthd that was killed,
 * is berth's to unmount; a directory on a tmpfs mounted above it is not. */
static void
test_tmpfs_ensure_owns_its_mount(void **state)
{
	char dir[] = "/tmp/berth-unit-tmpfs-XXXXXX";
	struct err err = ERR_INIT;
	char *b, *sub;

	(void)state;
	if (geteuid() != 0)
		return; /* mounting needs root (make test runs as root) */
	assert_non_null(mkdtemp(dir));
	b = xasprintf("%s/bundles", dir);
	sub = xasprintf("%s/sub", b);
	assert_int_equal(linux_tmpfs_ensure(b, 1, &err), 1);   /* mounted now */
	assert_int_equal(linux_tmpfs_ensure(b, 1, &err), 1);   /* found, its own */
	assert_int_equal(linux_tmpfs_ensure(sub, 1, &err), 0); /* on one above */
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(umount2(b, 0), 0);
	assert_int_equal(rmdir(b), 0);
	assert_int_equal(rmdir(dir), 0);
	free(sub);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entrypoint_and_command_rules),
	    cmocka_unit_test(test_env_order),
	    cmocka_unit_test(test_user_lookup),
	    cmocka_unit_test(test_user_lookup_stays_in_rootfs),
	    cmocka_unit_test(test_user_lookup_refuses_special_files),
	    cmocka_unit_test(test_open_in_root_by_hand),
	    cmocka_unit_test(test_capabilities),
	    cmocka_unit_test(test_mounts_limits_namespaces),
	    cmocka_unit_test(test_sandbox_fields),
	    cmocka_unit_test(test_firewall_ruleset),
	    cmocka_unit_test(test_signals_and_names),
	    cmocka_unit_test(test_spawn),
	    cmocka_unit_test(test_spawn_sealed_copy),
	    cmocka_unit_test(test_spawn_deadline_takes_the_program),
	    cmocka_unit_test(test_spawn_beside_a_reaper),
	    cmocka_unit_test(test_logcopy_lifeline_and_resume),
	    cmocka_unit_test(test_tmpfs_ensure_owns_its_mount),
	    cmocka_unit_test(test_gpu_inventory),
	    cmocka_unit_test(test_gpu_cdi),
	    cmocka_unit_test(test_oci_list_asks_again_when_a_container_goes_meanwhile),
	};

	return cmocka_run_group_tests(tests, setup_rootfs, teardown_rootfs);
}
