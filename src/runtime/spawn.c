/* spawn: posix_spawn (vfork-speed) plus a poll loop over the child's pipes. */
#include "runtime/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

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

static void
keep(struct buf *b, const char *data, size_t n, size_t max)
{
	if (b->len < max)
		buf_append(b, data, n < max - b->len ? n : max - b->len);
}

int
spawn_run(const struct spawn_opts *opts, struct spawn_result *res, struct err *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	size_t max = opts->max_output ? opts->max_output : 1 << 20, written = 0;
	int64_t deadline = now_mono_ms() + (opts->timeout_ms > 0 ? opts->timeout_ms : 30000);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char **env = NULL;
	int rc = -1, status, timed_out = 0, exited = 0, pidfd = -1;
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
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (opts->stdout_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, opts->stdout_fd, 1);
		posix_spawn_file_actions_adddup2(&fa, opts->stdout_fd, 2);
	} else {
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	}
	/* Nothing of ours leaks into the child, even a descriptor another thread
	 * opened without O_CLOEXEC. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&dfl);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	env = env_merge(opts->env_extra);
	rc = posix_spawnp(&pid, opts->argv[0], &fa, &attr, opts->argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env);
	if (rc != 0) {
		pid = -1;
		rc = err_make(err, rc, "run %s", opts->argv[0]);
		goto out;
	}
	close(take_fd(&in[0]));
	if (out[1] >= 0)
		close(take_fd(&out[1]));
	if (errp[1] >= 0)
		close(take_fd(&errp[1]));
	if (opts->stdin_data == NULL || opts->stdin_len == 0)
		close(take_fd(&in[1]));

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		rc = err_make(err, errno, "pidfd_open");
		goto out;
	}
	/* Until the child exits and its pipes are drained. After it exits, what
	 * its own children still hold open is not waited for. */
	for (;;) {
		struct pollfd p[4] = {{in[1], POLLOUT, 0},
		                      {out[0], POLLIN, 0},
		                      {errp[0], POLLIN, 0},
		                      {exited ? -1 : pidfd, POLLIN, 0}};
		int64_t left = deadline - now_mono_ms();
		char chunk[8192];
		ssize_t n;
		int ready;

		if (exited && out[0] < 0 && errp[0] < 0)
			break;
		if (left <= 0 && !exited) {
			timed_out = 1;
			break;
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
			if (n > 0)
				keep(i == 1 ? &res->out : &res->errout, chunk, (size_t)n, max);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				close(take_fd(fd));
		}
	}
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			rc = err_make(err, errno, "wait for %s", opts->argv[0]);
			goto out;
		}
	}
	pid = -1;
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (timed_out)
		rc = err_make(err, ETIMEDOUT, "%s did not finish in %lld ms", opts->argv[0],
		              (long long)(opts->timeout_ms > 0 ? opts->timeout_ms : 30000));
	else
		rc = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
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
