/* spawn: posix_spawn() of berth-relay, which runs the program, plus a poll
 * loop over the program's pipes and the relay's status pipe. */
#include "runtime/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/linux.h"

extern char **environ;

/* environ with extra "K=V" entries replacing same-named ones; caller frees the
 * vector only (strings are borrowed). */
static char **
env_merge(char *const *extra)
{
	size_t n = 0, k = 0;
	char **v;

	for (char **e = environ; e != NULL && *e != NULL; e++)
		n++;
	v = xcalloc(n + strv_len(extra) + 1, sizeof *v);
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		size_t klen = strcspn(*e, "=");
		int replaced = 0;

		for (char *const *x = extra; x != NULL && *x != NULL; x++)
			if (strncmp(*x, *e, klen + 1) == 0)
				replaced = 1;
		if (!replaced)
			v[k++] = *e;
	}
	for (char *const *x = extra; x != NULL && *x != NULL; x++)
		v[k++] = *x;
	return v;
}

/* The program file of name, in out (of size PATH_MAX): name itself when it
 * holds a '/', else the first executable in PATH. 0, or -1 when there is
 * none. A buffer of the caller's, not the heap: the forked relay child never
 * frees, so a heap copy would show as lost when it exits. */
static int
find_program(const char *name, char *out)
{
	const char *p = getenv("PATH");

	if (strchr(name, '/') != NULL)
		return snprintf(out, PATH_MAX, "%s", name) < PATH_MAX ? 0 : -1;
	if (p == NULL)
		p = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (;;) {
		size_t n = strcspn(p, ":");
		int len = snprintf(out, PATH_MAX, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name);

		if (len < PATH_MAX && access(out, X_OK) == 0)
			return 0;
		if (p[n] == '\0')
			return -1;
		p += n + 1;
	}
}

int
spawn_sealed_copy(const char *name, struct err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int in, fd;

	if (find_program(name, path) < 0)
		return err_make(err, ENOENT, "sealed copy of %s: not found", name);
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_make(err, errno, "sealed copy of %s: open", path);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || fstat(in, &st) < 0) {
		err_make(err, errno, "sealed copy of %s", path);
		goto fail;
	}
	for (off_t done = 0; done < st.st_size;) {
		ssize_t n = sendfile(fd, in, NULL, (size_t)(st.st_size - done));

		if (n <= 0) {
			err_make(err, n < 0 ? errno : EIO, "sealed copy of %s: copy", path);
			goto fail;
		}
		done += n;
	}
	/* Exactly runc's own seals: with them it takes the file for its copy. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		err_make(err, errno, "sealed copy of %s: seal", path);
		goto fail;
	}
	close(in);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	close(in);
	return -1;
}

/* A started program: its relay's pid and pidfd, and where its status comes. */
struct child {
	pid_t pid;
	int pidfd;
	int status_fd;
};

/* The relay program (src/relay/main.c): beside this program, else in the
 * build directory (for the tests' programs, in a folder below it). */
static pthread_once_t relay_once = PTHREAD_ONCE_INIT;
static char relay_path[PATH_MAX]; /* set once, then only read */

static void
relay_find(void)
{
	char *sibling = exe_sibling("berth-relay");

	snprintf(relay_path, sizeof relay_path, "%s",
	         access(sibling, X_OK) == 0 ? sibling : BERTH_RELAY_PATH);
	free(sibling);
}

/* Starts argv[0] (resolved in PATH) with the given stdio, under berth-relay
 * (posix_spawn(): a vfork, so the page tables of a large, threaded daemon
 * are not copied for every helper). Returns 0 and fills c, or negative when
 * it could not be started (an exec failure included). */
static int
start_child(char *const *argv, int program_fd, char *const *env, const int fds[3], struct child *c,
            struct err *err)
{
	char path[PATH_MAX];
	int report[2] = {-1, -1}, status_pipe[2] = {-1, -1}, child_errno = 0, status, rc = -1;
	int high[6] = {-1, -1, -1, -1, -1, -1};
	int nfd = program_fd > 2 ? 6 : 5;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	size_t argc = 0;
	char **rargv;
	ssize_t n;
	pid_t pid;

	c->pid = -1;
	c->pidfd = -1;
	c->status_fd = -1;
	if (program_fd > 2)
		snprintf(path, sizeof path, "/proc/self/fd/%d", SPAWN_PROGRAM_FD);
	else if (find_program(argv[0], path) < 0)
		return err_make(err, ENOENT, "run %s", argv[0]);
	pthread_once(&relay_once, relay_find);
	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0) {
		rc = err_make(err, errno, "pipe");
		goto out;
	}
	/* Copies above the targets first, so no dup2 clobbers a source. */
	for (int i = 0; i < nfd; i++) {
		int src = i < 3    ? fds[i]
		          : i == 3 ? report[1]
		          : i == 4 ? status_pipe[1]
		                   : program_fd;

		if ((high[i] = fcntl(src, F_DUPFD_CLOEXEC, 10)) < 0) {
			rc = err_make(err, errno, "dup");
			goto out;
		}
	}
	while (argv[argc] != NULL)
		argc++;
	rargv = xcalloc(argc + 2, sizeof *rargv);
	rargv[0] = relay_path;
	rargv[1] = path;
	for (size_t i = 1; i < argc; i++)
		rargv[i + 1] = argv[i];
	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < nfd; i++)
		posix_spawn_file_actions_adddup2(&fa, high[i], i);
	posix_spawn_file_actions_addclosefrom_np(&fa, nfd);
	posix_spawnattr_init(&attr);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, relay_path, &fa, &attr, rargv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(rargv);
	/* Only the relay may hold the write ends now: its EOF is our answer. */
	for (int i = 0; i < nfd; i++)
		close(take_fd(&high[i]));
	close(take_fd(&report[1]));
	close(take_fd(&status_pipe[1]));
	if (rc != 0) {
		rc = err_make(err, rc, "run %s", relay_path);
		goto out;
	}
	rc = -1;
	/* Before the relay can be waited for: its pid is ours until then. */
	/* For killing it: its pid may be reaped by a waitpid(-1) elsewhere.
	 * ESRCH: it has already ended (and been reaped), nothing to kill.
	 * ENOSYS (valgrind knows no pidfd_open): the pid is used instead. */
	if ((c->pidfd = pidfd_open(pid, 0)) < 0 && errno != ESRCH && errno != ENOSYS) {
		rc = err_make(err, errno, "pidfd_open");
		kill(pid, SIGKILL);
		linux_wait_quiet(pid, &status, NULL);
		goto out;
	}
	/* EOF: the program was exec'd. An int: exec failed with that errno. */
	while ((n = read(report[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof child_errno) {
		if (c->pidfd >= 0)
			close(take_fd(&c->pidfd));
		linux_wait_quiet(pid, &status, NULL);
		rc = err_make(err, child_errno, "run %s", path);
		goto out;
	}
	c->pid = pid;
	c->status_fd = take_fd(&status_pipe[0]);
	rc = 0;
out:
	for (int i = 0; i < nfd; i++)
		if (high[i] >= 0)
			close(high[i]);
	for (int i = 0; i < 2; i++) {
		if (report[i] >= 0)
			close(report[i]);
		if (status_pipe[i] >= 0)
			close(status_pipe[i]);
	}
	return rc;
}

static void
keep(struct buf *b, const char *data, size_t n, size_t max)
{
	if (b->len < max)
		buf_append(b, data, n < max - b->len ? n : max - b->len);
}

/* Kills a relay by its pidfd, or by its pid when there is none. */
static void
relay_kill(pid_t pid, int pidfd)
{
	if (pidfd >= 0)
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	else
		kill(pid, SIGKILL);
}

int
spawn_run(const struct spawn_opts *opts, struct spawn_result *res, struct err *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	size_t max = opts->max_output ? opts->max_output : 1 << 20, written = 0;
	int64_t deadline = now_mono_ms() + (opts->timeout_ms > 0 ? opts->timeout_ms : 30000);
	char **env = NULL;
	int64_t started = now_mono_ms(), last_output = 0;
	int rc = -1, status, exited = 0, pidfd = -1, code;
	enum spawn_killed killed = SPAWN_RAN;
	struct child c = {-1, -1, -1};
	pid_t pid = -1;

	memset(res, 0, sizeof *res);
	res->status = -1;
	/* stdin is a socket so that writing after the child closed it fails with
	 * EPIPE (MSG_NOSIGNAL) instead of raising SIGPIPE in the caller. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)
		return err_make(err, errno, "socketpair");
	if (opts->stdout_fd < 0 && (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)) {
		rc = err_make(err, errno, "pipe");
		goto out;
	}
	env = env_merge(opts->env_extra);
	{
		int fds[3] = {in[0], opts->stdout_fd >= 0 ? opts->stdout_fd : out[1],
		              opts->stdout_fd >= 0 ? opts->stdout_fd : errp[1]};

		rc = start_child(opts->argv, opts->program_fd, env, fds, &c, err);
	}
	free(env);
	if (rc < 0)
		goto out;
	pid = c.pid;
	pidfd = c.pidfd;
	close(take_fd(&in[0]));
	if (out[1] >= 0)
		close(take_fd(&out[1]));
	if (errp[1] >= 0)
		close(take_fd(&errp[1]));
	if (opts->stdin_data == NULL || opts->stdin_len == 0)
		close(take_fd(&in[1]));

	/* Until the child exits and its pipes are drained. After it exits, what
	 * its own children still hold open is not waited for. */
	for (;;) {
		struct pollfd p[4] = {{in[1], POLLOUT, 0},
		                      {out[0], POLLIN, 0},
		                      {errp[0], POLLIN, 0},
		                      {exited ? -1 : c.status_fd, POLLIN, 0}};
		int64_t now = now_mono_ms(), left = deadline - now;
		char chunk[8192];
		ssize_t n;
		int ready;

		if (exited && out[0] < 0 && errp[0] < 0)
			break;
		if (!exited) {
			if (left <= 0)
				killed = SPAWN_TIMEOUT;
			else if (opts->first_ms > 0 && last_output == 0 &&
			         now - started >= opts->first_ms)
				killed = SPAWN_SILENT;
			else if (opts->idle_ms > 0 && last_output > 0 &&
			         now - last_output >= opts->idle_ms)
				killed = SPAWN_IDLE;
			else if (opts->cancel != NULL && atomic_load(opts->cancel))
				killed = SPAWN_CANCELLED;
			if (killed != SPAWN_RAN)
				break;
			/* Awake in time for the nearest deadline. */
			if (opts->first_ms > 0 || opts->idle_ms > 0 || opts->cancel != NULL)
				left = left < 200 ? left : 200;
		}
		ready = poll(p, 4, exited ? 0 : (int)left);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			rc = err_make(err, errno, "poll");
			goto out;
		}
		if (ready == 0 && exited)
			break;
		if (p[3].revents)
			exited = 1;
		if (p[0].revents) {
			n = send(in[1], opts->stdin_data + written, opts->stdin_len - written,
			         MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				written += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
			    written == opts->stdin_len)
				close(take_fd(&in[1]));
		}
		for (int i = 1; i < 3; i++) {
			int *fd = i == 1 ? &out[0] : &errp[0];

			if (!p[i].revents)
				continue;
			n = read(*fd, chunk, sizeof chunk);
			if (n > 0) {
				keep(i == 1 ? &res->out : &res->errout, chunk, (size_t)n, max);
				last_output = now_mono_ms();
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				close(take_fd(fd));
		}
	}
	if (killed != SPAWN_RAN)
		relay_kill(pid, pidfd);
	/* A waitpid(-1) elsewhere in the process may have taken the relay:
	 * then what it reported is all there is. */
	if (linux_wait_quiet(pid, &status, NULL) < 0)
		status = killed != SPAWN_RAN ? SIGKILL : 127 << 8;
	pid = -1;
	/* The program's status from the relay; without it (the relay was
	 * killed on the deadline) the relay's own. */
	if (read(c.status_fd, &code, sizeof code) == (ssize_t)sizeof code)
		res->status = code;
	else
		res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	res->killed = killed;
	switch (killed) {
	case SPAWN_RAN:
		rc = 0;
		break;
	case SPAWN_TIMEOUT:
		rc = err_make(err, ETIMEDOUT, "%s did not finish in %lld ms", opts->argv[0],
		              (long long)(opts->timeout_ms > 0 ? opts->timeout_ms : 30000));
		break;
	case SPAWN_SILENT:
		rc = err_make(err, ETIMEDOUT, "%s was silent for its first %lld ms", opts->argv[0],
		              (long long)opts->first_ms);
		break;
	case SPAWN_IDLE:
		rc = err_make(err, ETIMEDOUT, "%s went silent for %lld ms", opts->argv[0],
		              (long long)opts->idle_ms);
		break;
	case SPAWN_CANCELLED:
		rc = err_make(err, ECANCELED, "%s was cancelled", opts->argv[0]);
		break;
	}
out:
	if (pid > 0) {
		relay_kill(pid, pidfd);
		linux_wait_quiet(pid, &status, NULL);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (c.status_fd >= 0)
		close(c.status_fd);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (res->out.data == NULL)
		buf_puts(&res->out, "");
	if (res->errout.data == NULL)
		buf_puts(&res->errout, "");
	return rc;
}

void
spawn_result_free(struct spawn_result *res)
{
	buf_free(&res->out);
	buf_free(&res->errout);
}

void
spawn_first_line(const char *s, char out[301])
{
	size_t n;

	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	n = strcspn(s, "\n");
	if (n > 300)
		n = 300;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	memcpy(out, s, n);
	out[n] = '\0';
}
