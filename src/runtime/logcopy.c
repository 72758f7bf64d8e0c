/* logcopy: the copier process. After fork() in a threaded program only
 * async-signal-safe calls are made: open, read, write, rename, close. */
#include "runtime/logcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

static int
open_log(const char *path, int64_t *size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	*size = fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
	return fd;
}

static _Noreturn void
copy_loop(const char *path, const char *rotated, int64_t max)
{
	char chunk[16384];
	int64_t size;
	int fd = open_log(path, &size);

	for (;;) {
		ssize_t n = read(0, chunk, sizeof chunk), off = 0;

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (size > 0 && size + n > max) {
			if (fd >= 0)
				close(fd);
			rename(path, rotated);
			fd = open_log(path, &size);
		}
		/* A write error (disk full) drops output rather than blocking the
		 * container on a full pipe. */
		while (fd >= 0 && off < n) {
			ssize_t w = write(fd, chunk + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += w;
		}
		size += n;
	}
	_exit(0);
}

int
logcopy_start(const char *path, int64_t max_bytes, int *write_fd, struct err *err)
{
	char *rotated = xasprintf("%s.1", path);
	int p[2], status;
	pid_t pid;

	*write_fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(rotated);
		return err_make(err, errno, "pipe");
	}
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		free(rotated);
		return err_make(err, errno, "fork log copier");
	}
	if (pid == 0) {
		sigset_t none;
		int null;

		/* Detach: a new session, and a grandchild that init adopts, so the
		 * copier survives the daemon and is never a zombie of ours. */
		setsid();
		if (fork() != 0)
			_exit(0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		null = open("/dev/null", O_RDWR);
		dup2(p[0], 0);
		dup2(null, 1);
		dup2(null, 2);
		close_range(3, ~0U, 0);
		copy_loop(path, rotated, max_bytes);
	}
	close(p[0]);
	free(rotated);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*write_fd = p[1];
	return 0;
}
