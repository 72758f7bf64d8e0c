/* logcopy: the copier process. Forked from a threaded program, it makes only
 * system calls: open, read, write, rename, close. */
#include "runtime/logcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/linux.h"

static int
open_log(const char *path, int64_t *size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	*size = fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
	return fd;
}

/* The copier's state, all allocated before the fork: the child only makes
 * system calls. */
struct copier {
	const char *path, *rotated;
	int64_t max, size;
	int fd;
	struct logcopy_value *values; /* longest first */
	size_t n_values, longest;
	char *buf; /* LOG_CHUNK + longest bytes */
};

#define LOG_CHUNK 16384

/* Appends len bytes to the log, rotating it first when they would pass max.
 * A write error (disk full) drops output rather than blocking the container
 * on a full pipe. */
static void
emit(struct copier *c, const char *p, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	if (c->size > 0 && c->size + (int64_t)len > c->max) {
		if (c->fd >= 0)
			close(c->fd);
		rename(c->path, c->rotated);
		c->fd = open_log(c->path, &c->size);
	}
	while (c->fd >= 0 && off < len) {
		ssize_t w = write(c->fd, p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	c->size += (int64_t)len;
}

/* The longest value that starts at p (avail bytes), or NULL; *partial set
 * when the bytes left are the start of a value that may yet follow. */
static const struct logcopy_value *
match_at(const struct copier *c, const char *p, size_t avail, int *partial)
{
	*partial = 0;
	for (size_t k = 0; k < c->n_values; k++) {
		const struct logcopy_value *v = &c->values[k];

		if (avail >= v->len) {
			if (memcmp(p, v->value, v->len) == 0)
				return v;
		} else if (memcmp(p, v->value, avail) == 0) {
			*partial = 1;
		}
	}
	return NULL;
}

static _Noreturn void
copy_loop(struct copier *c)
{
	size_t carry = 0;

	c->fd = open_log(c->path, &c->size);
	for (;;) {
		ssize_t n = read(0, c->buf + carry, LOG_CHUNK);
		size_t total, i = 0, from = 0;
		int eof = n == 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			eof = 1;
			n = 0;
		}
		total = carry + (size_t)n;
		/* Every bound value becomes "[secret NAME]" before it reaches the
		 * disk; bytes that may be the start of a value wait for the next
		 * read. */
		while (i < total) {
			int partial;
			const struct logcopy_value *v =
			    match_at(c, c->buf + i, total - i, &partial);

			if (v != NULL) {
				emit(c, c->buf + from, i - from);
				emit(c, v->replacement, strlen(v->replacement));
				i += v->len;
				from = i;
			} else if (partial && !eof) {
				break;
			} else {
				i++;
			}
		}
		emit(c, c->buf + from, i - from);
		if (eof)
			break;
		memmove(c->buf, c->buf + i, total - i);
		carry = total - i;
	}
	_exit(0);
}

static int
cmp_longest(const void *a, const void *b)
{
	const struct logcopy_value *x = a, *y = b;

	return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

int
logcopy_start(const char *path, int64_t max_bytes, const struct logcopy_value *values,
              size_t n_values, int *write_fd, struct err *err)
{
	char *rotated = xasprintf("%s.1", path);
	struct copier c = {.path = path, .rotated = rotated, .max = max_bytes};
	int p[2], status, rc = 0;
	pid_t pid;

	*write_fd = -1;
	c.values = xcalloc(n_values + 1, sizeof *c.values);
	for (size_t i = 0; i < n_values; i++) {
		if (values[i].len < LOGCOPY_MIN_LEN)
			continue; /* as redact.h: too short to hide */
		c.values[c.n_values++] = values[i];
		if (values[i].len > c.longest)
			c.longest = values[i].len;
	}
	qsort(c.values, c.n_values, sizeof *c.values, cmp_longest);
	c.buf = xmalloc(LOG_CHUNK + c.longest + 1);
	if (pipe2(p, O_CLOEXEC) < 0) {
		rc = err_make(err, errno, "pipe");
		goto out;
	}
	pid = linux_fork_quiet(NULL, err);
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		rc = err_wrap(err, "log copier");
		goto out;
	}
	if (pid == 0) {
		sigset_t none;
		int null;

		/* Detach: a new session, and a grandchild that init adopts, so the
		 * copier survives the daemon and is never a zombie of ours. */
		setsid();
		if (linux_fork_quiet(NULL, NULL) != 0)
			_exit(0);
		/* A name of its own, so `pgrep berthd` does not find copiers. */
		prctl(PR_SET_NAME, "berth-logcopy", 0, 0, 0);
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
		copy_loop(&c);
	}
	close(p[0]);
	linux_wait_quiet(pid, &status, NULL);
	*write_fd = p[1];
out:
	free(c.buf);
	free(c.values);
	free(rotated);
	return rc;
}
