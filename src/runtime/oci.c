/* oci: runc/crun/runsc over their command line.
 *
 * Errors of the runtime are quoted from its stderr (or its --log file for
 * create, whose stderr is the container's). "Does not exist" answers are
 * turned into success where the operation is a teardown, so every teardown
 * step can be repeated. */
#include "runtime/oci.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/linux.h"
#include "runtime/spawn.h"

#define OCI_TIMEOUT_MS 30000
#define OCI_LIST_TRIES 3 /* runs of `list` before its failure is believed */

static int
run_oci(const struct oci *o, const char *const *args, struct spawn_result *res, struct err *err)
{
	char *argv[24];
	size_t n = 0;
	struct spawn_opts so = {
	    .stdout_fd = -1, .timeout_ms = OCI_TIMEOUT_MS, .program_fd = o->binary_fd};

	argv[n++] = o->binary;
	argv[n++] = "--root";
	argv[n++] = o->root;
	for (char **f = o->flags; f != NULL && *f != NULL && n < ARRAY_LEN(argv) - 1; f++)
		argv[n++] = *f;
	for (; *args != NULL && n < ARRAY_LEN(argv) - 1; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	so.argv = argv;
	return spawn_run(&so, res, err);
}

static int
not_found(const struct spawn_result *res)
{
	const char *e = res->errout.data;

	return strstr(e, "does not exist") != NULL || strstr(e, "not found") != NULL ||
	       strstr(e, "No such file") != NULL;
}

static int
oci_fail(struct err *err, const char *what, const char *id, const struct spawn_result *res)
{
	char line[301], clean[301];
	const char *e = res->errout.data[0] ? res->errout.data : res->out.data;
	/* runc logs `time=... level=error msg="..."`: keep the message, unquoted. */
	const char *m = strstr(e, "msg=");
	size_t k = 0;

	spawn_first_line(m != NULL ? m + 4 : e, line);
	for (const char *p = line[0] == '"' ? line + 1 : line; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == '"')
			continue;
		if (p[0] == '"' && p[1] == '\0' && line[0] == '"')
			break;
		clean[k++] = *p;
	}
	clean[k] = '\0';
	return err_make(err, 0, "%s %s: exit %d: %s", what, id, res->status,
	                clean[0] ? clean : "(no message)");
}

/* Runs a trivial container with the candidate: the only sure test that it
 * works in this kernel's cgroup setup (crun refuses hybrid cgroup v1/v2). */
static int
probe_runs(const char *binary, char *const *flags, struct err *err)
{
	char dir[] = "/tmp/berth-oci-probe-XXXXXX";
	char *rootfs = NULL, *cfg = NULL, *root = NULL;
	struct spawn_result res;
	struct spawn_opts so = {.stdout_fd = -1, .timeout_ms = 10000};
	struct err ignored = ERR_INIT;
	int rc = -1;
	static const char config[] =
	    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"/bin/true\"],\"cwd\":\"/\","
	    "\"user\":{\"uid\":0,\"gid\":0},\"env\":[\"PATH=/usr/bin:/bin\"]},"
	    "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
	    "\"mounts\":[{\"destination\":\"/usr\",\"type\":\"bind\",\"source\":\"/usr\","
	    "\"options\":[\"rbind\",\"ro\"]},{\"destination\":\"/proc\",\"type\":\"proc\","
	    "\"source\":\"proc\"}],"
	    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
	    "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"network\"}]}}";
	char id[64];

	if (mkdtemp(dir) == NULL)
		return err_make(err, errno, "mkdtemp");
	rootfs = xasprintf("%s/rootfs", dir);
	cfg = xasprintf("%s/config.json", dir);
	root = xasprintf("%s/state", dir);
	snprintf(id, sizeof id, "berth-probe-%d", (int)getpid());
	if (mkdir(rootfs, 0755) < 0 ||
	    file_write_atomic(cfg, config, sizeof config - 1, 0644, err) < 0) {
		err_make(err, errno, "write probe bundle");
		goto out;
	}
	/* Debian's /bin, /lib and /lib64 are links into /usr (merged /usr). */
	{
		const char *links[][2] = {
		    {"usr/bin", "bin"}, {"usr/lib", "lib"}, {"usr/lib64", "lib64"}};

		for (size_t i = 0; i < ARRAY_LEN(links); i++) {
			char *l = xasprintf("%s/%s", rootfs, links[i][1]);

			symlink(links[i][0], l);
			free(l);
		}
	}
	{
		char *argv[16];
		size_t n = 0;

		argv[n++] = (char *)binary;
		argv[n++] = "--root";
		argv[n++] = root;
		for (; flags != NULL && *flags != NULL && n < 10; flags++)
			argv[n++] = *flags;
		argv[n++] = "run";
		argv[n++] = "--bundle";
		argv[n++] = dir;
		argv[n++] = id;
		argv[n] = NULL;
		so.argv = argv;
		rc = spawn_run(&so, &res, err);
	}
	if (rc == 0 && res.status != 0) {
		char line[301];

		spawn_first_line(res.errout.data[0] ? res.errout.data : res.out.data, line);
		rc = err_make(err, 0, "%s cannot run a container here: %s", binary, line);
	}
	spawn_result_free(&res);
out:
	linux_remove_tree(dir, &ignored);
	free(rootfs);
	free(cfg);
	free(root);
	return rc;
}

static int
version_name(const char *binary, char **name, char **version, struct err *err)
{
	char *argv[] = {(char *)binary, "--version", NULL};
	struct spawn_opts so = {.argv = argv, .stdout_fd = -1, .timeout_ms = 5000};
	struct spawn_result res;
	int rc;

	rc = spawn_run(&so, &res, err);
	if (rc == 0 && res.status != 0)
		rc = err_make(err, 0, "%s --version: exit %d", binary, res.status);
	if (rc == 0) {
		if (strncmp(res.out.data, "runc", 4) == 0)
			*name = xstrdup("runc");
		else if (strncmp(res.out.data, "crun", 4) == 0)
			*name = xstrdup("crun");
		else if (strncmp(res.out.data, "runsc", 5) == 0)
			*name = xstrdup("runsc");
		else
			rc = err_make(err, 0, "%s --version: neither runc, crun nor runsc", binary);
	}
	if (rc == 0)
		*version = xstrndup(res.out.data, strcspn(res.out.data, "\n"));
	spawn_result_free(&res);
	return rc;
}

static int
try_runtime(struct oci *o, const char *binary, struct err *err)
{
	char *name = NULL, *version = NULL;
	char **flags = NULL;

	if (version_name(binary, &name, &version, err) < 0)
		return -1;
	if (strcmp(name, "runsc") == 0) {
		flags = strv_push(flags, "--platform=ptrace");
		flags = strv_push(flags, "--network=host");
		/* The default profile inside the sandbox too, as under runc. */
		flags = strv_push(flags, "--oci-seccomp");
	}
	if (probe_runs(binary, flags, err) < 0) {
		free(name);
		free(version);
		strv_free(flags);
		return -1;
	}
	o->binary = xstrdup(binary);
	if (strcmp(name, "runc") == 0) {
		/* runc copies itself into a memfd for every container it starts,
		 * unless it already runs from a sealed one: made once here. */
		struct err e = ERR_INIT;

		if ((o->binary_fd = spawn_sealed_copy(binary, &e)) < 0)
			log_info("runtime: runc runs from its file (%s)", e.msg);
	}
	o->name = name;
	o->version = version;
	o->flags = flags;
	return 0;
}

int
oci_open(struct oci *o, const char *want, const char *root, struct err *err)
{
	struct err crun_err = ERR_INIT;

	memset(o, 0, sizeof *o);
	o->binary_fd = -1;
	if (mkdir_p(root, 0700, err) < 0)
		return err_wrap(err, "OCI runtime state root");
	if (want != NULL && want[0] != '\0') {
		if (try_runtime(o, want, err) < 0)
			return err_wrap(err, "OCI runtime %s", want);
	} else if (try_runtime(o, "crun", &crun_err) < 0) {
		log_info("runtime: crun not usable (%s); trying runc", crun_err.msg);
		if (try_runtime(o, "runc", err) < 0)
			return err_wrap(err, "no usable OCI runtime (crun: %s); runc",
			                crun_err.msg);
	}
	o->root = xstrdup(root);
	return 0;
}

void
oci_free(struct oci *o)
{
	free(o->binary);
	free(o->name);
	free(o->version);
	free(o->root);
	strv_free(o->flags);
	if (o->binary_fd >= 0)
		close(o->binary_fd);
	memset(o, 0, sizeof *o);
	o->binary_fd = -1;
}

int
oci_create(const struct oci *o, const char *id, const char *bundle, int host_socket, int stdio_fd,
           struct err *err)
{
	char *logp = xasprintf("%s/oci.log", bundle), *pidp = xasprintf("%s/pid", bundle);
	char *argv[24];
	size_t n = 0;
	struct spawn_opts so = {.argv = argv,
	                        .stdout_fd = stdio_fd,
	                        .timeout_ms = OCI_TIMEOUT_MS,
	                        .program_fd = o->binary_fd};
	struct spawn_result res;
	int rc;

	argv[n++] = o->binary;
	argv[n++] = "--root";
	argv[n++] = o->root;
	for (char **f = o->flags; f != NULL && *f != NULL && n < 12; f++)
		argv[n++] = *f;
	/* The gofer serving the sandbox's mounts is started here with the
	 * flags of this call: the later calls need not repeat it. */
	if (host_socket && strcmp(o->name, "runsc") == 0)
		argv[n++] = "--host-uds=open";
	argv[n++] = "--log";
	argv[n++] = logp;
	argv[n++] = "create";
	argv[n++] = "--bundle";
	argv[n++] = (char *)bundle;
	argv[n++] = "--pid-file";
	argv[n++] = pidp;
	argv[n++] = (char *)id;
	argv[n] = NULL;
	unlink(logp);
	rc = spawn_run(&so, &res, err);
	if (rc == 0 && res.status != 0) {
		char *text = NULL;
		size_t len;
		struct err ignored = ERR_INIT;

		if (file_read_all(logp, 1 << 16, &text, &len, &ignored) == 0 && len > 0) {
			/* The last error line says why. */
			char *m = NULL, *p = text;

			while ((p = strstr(p, "level=error")) != NULL)
				m = p++;
			buf_reset(&res.errout);
			buf_puts(&res.errout, m != NULL ? m : text);
		}
		free(text);
		rc = oci_fail(err, "create", id, &res);
	}
	spawn_result_free(&res);
	free(logp);
	free(pidp);
	return rc;
}

int
oci_start(const struct oci *o, const char *id, struct err *err)
{
	const char *args[] = {"start", id, NULL};
	struct spawn_result res;
	int rc = run_oci(o, args, &res, err);

	if (rc == 0 && res.status != 0)
		rc = oci_fail(err, "start", id, &res);
	spawn_result_free(&res);
	return rc;
}

static enum oci_status
status_parse(const char *s)
{
	static const char *names[] = {[OCI_CREATING] = "creating",
	                              [OCI_CREATED] = "created",
	                              [OCI_RUNNING] = "running",
	                              [OCI_PAUSED] = "paused",
	                              [OCI_STOPPED] = "stopped"};

	for (size_t i = OCI_CREATING; i < ARRAY_LEN(names); i++)
		if (s != NULL && strcmp(s, names[i]) == 0)
			return (enum oci_status)i;
	return OCI_STOPPED;
}

const char *
oci_status_str(enum oci_status s)
{
	switch (s) {
	case OCI_ABSENT:
		return "absent";
	case OCI_CREATING:
		return "creating";
	case OCI_CREATED:
		return "created";
	case OCI_RUNNING:
		return "running";
	case OCI_PAUSED:
		return "paused";
	case OCI_STOPPED:
		return "stopped";
	}
	return "?";
}

static void
state_from_json(json_t *j, struct oci_state *st)
{
	json_t *a = json_object_get(j, "annotations");
	const char *b = json_string_value(json_object_get(j, "bundle"));

	st->status = status_parse(json_string_value(json_object_get(j, "status")));
	st->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	if (st->status != OCI_RUNNING && st->status != OCI_CREATED && st->status != OCI_PAUSED)
		st->pid = 0;
	st->bundle = b != NULL ? xstrdup(b) : NULL;
	st->annotations = json_is_object(a) ? json_incref(a) : NULL;
}

int
oci_state(const struct oci *o, const char *id, struct oci_state *st, struct err *err)
{
	const char *args[] = {"state", id, NULL};
	struct spawn_result res;
	json_error_t je;
	json_t *j;
	int rc;

	memset(st, 0, sizeof *st);
	rc = run_oci(o, args, &res, err);
	if (rc < 0)
		goto out;
	if (res.status != 0) {
		if (not_found(&res))
			st->status = OCI_ABSENT;
		else
			rc = oci_fail(err, "state", id, &res);
		goto out;
	}
	j = json_loads(res.out.data, 0, &je);
	if (j == NULL) {
		rc = err_make(err, 0, "state %s: bad JSON: %s", id, je.text);
		goto out;
	}
	state_from_json(j, st);
	json_decref(j);
out:
	spawn_result_free(&res);
	return rc;
}

void
oci_state_free(struct oci_state *st)
{
	free(st->bundle);
	json_decref(st->annotations);
	memset(st, 0, sizeof *st);
}

int
oci_kill(const struct oci *o, const char *id, int sig, struct err *err)
{
	char signum[16];
	const char *args[] = {"kill", id, signum, NULL};
	struct spawn_result res;
	int rc;

	snprintf(signum, sizeof signum, "%d", sig);
	rc = run_oci(o, args, &res, err);
	/* A container that already stopped answers "not running". */
	if (rc == 0 && res.status != 0 && !not_found(&res) &&
	    strstr(res.errout.data, "not running") == NULL &&
	    strstr(res.errout.data, "process already finished") == NULL)
		rc = oci_fail(err, "kill", id, &res);
	spawn_result_free(&res);
	return rc;
}

int
oci_delete(const struct oci *o, const char *id, struct err *err)
{
	const char *args[] = {"delete", "--force", id, NULL};
	struct spawn_result res;
	int rc = run_oci(o, args, &res, err);

	if (rc == 0 && res.status != 0 && !not_found(&res))
		rc = oci_fail(err, "delete", id, &res);
	spawn_result_free(&res);
	return rc;
}

int
oci_list(const struct oci *o, json_t **out, struct err *err)
{
	const char *args[] = {"list", "--format", "json", NULL};
	struct spawn_result res;
	json_error_t je;
	json_t *j;
	int rc = run_oci(o, args, &res, err);

	/* runc reads each container's state directory in turn and fails the
	 * whole list when one goes meanwhile (another enclave's teardown):
	 * listing only reads, so it is asked again. */
	for (int again = 0; rc == 0 && res.status != 0 && again < OCI_LIST_TRIES - 1; again++) {
		spawn_result_free(&res);
		rc = run_oci(o, args, &res, err);
	}
	*out = NULL;
	if (rc == 0 && res.status != 0)
		rc = oci_fail(err, "list", o->root, &res);
	if (rc < 0)
		goto out;
	j = json_loads(res.out.data, JSON_DECODE_ANY, &je);
	if (j == NULL) {
		rc = err_make(err, 0, "list: bad JSON: %s", je.text);
		goto out;
	}
	if (!json_is_array(j)) { /* runc says null for none */
		json_decref(j);
		j = json_array();
	}
	*out = j;
out:
	spawn_result_free(&res);
	return rc;
}

int
oci_exec(const struct oci *o, const char *id, char *const *argv, int64_t timeout_ms, int *exit_code,
         char **output, struct err *err)
{
	size_t n = strv_len(argv), k = 0;
	char **full = xcalloc(n + 8 + strv_len(o->flags), sizeof *full);
	char pidfile[] = "/tmp/berth-exec-XXXXXX";
	struct spawn_opts so = {
	    .stdout_fd = -1, .timeout_ms = timeout_ms, .program_fd = o->binary_fd};
	struct spawn_result res;
	int rc, fd;

	*exit_code = -1;
	*output = NULL;
	fd = mkstemp(pidfile);
	if (fd < 0)
		return err_make(err, errno, "exec in %s: pid file", id);
	close(fd);
	full[k++] = o->binary;
	full[k++] = "--root";
	full[k++] = o->root;
	for (char **f = o->flags; f != NULL && *f != NULL; f++)
		full[k++] = *f;
	full[k++] = "exec";
	full[k++] = "--pid-file";
	full[k++] = pidfile;
	full[k++] = (char *)id;
	for (size_t i = 0; i < n; i++)
		full[k++] = argv[i];
	so.argv = full;
	rc = spawn_run(&so, &res, err);
	free(full);
	if (rc < 0) {
		/* Killing the runtime does not kill what it started inside: the
		 * pid file names it. */
		char *text = NULL;
		size_t len;
		struct err ignored = ERR_INIT;

		if (file_read_all(pidfile, 64, &text, &len, &ignored) == 0 && atoi(text) > 1)
			kill((pid_t)atoi(text), SIGKILL);
		free(text);
		err_wrap(err, "exec in %s", id);
		goto out;
	}
	*exit_code = res.status;
	buf_append(&res.out, res.errout.data, res.errout.len);
	*output = buf_take(&res.out);
out:
	unlink(pidfile);
	spawn_result_free(&res);
	return rc;
}
