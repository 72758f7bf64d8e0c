/* logcopy: the copier process. Forked from a threaded program, it makes only
 * system calls: open, poll, read, write, rename, close.
 *
 * Its descriptors: 0 the FIFO (non-blocking), 1 and 2 /dev/null, 3 the
 * lifeline (or /dev/null), 4 the lock file, which it holds locked. */
#include "runtime/logcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
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
	char *buf;    /* LOG_CHUNK + longest bytes */
	int lifeline; /* fd 3 is a lifeline: its hang-up ends the copier */
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
	int dying = 0;

	c->fd = open_log(c->path, &c->size);
	for (;;) {
		struct pollfd pf[2] = {{.fd = 0, .events = POLLIN}, {.fd = 3, .events = POLLIN}};
		size_t total, i = 0, from = 0;
		ssize_t n;
		int eof;

		/* The daemon gone (its end of the lifeline closed): what the
		 * FIFO holds is copied, then the copier goes too. */
		if (!dying && poll(pf, c->lifeline ? 2 : 1, -1) < 0)
			continue; /* EINTR */
		if (c->lifeline && pf[1].revents != 0)
			dying = 1;
		n = read(0, c->buf + carry, LOG_CHUNK);
		/* 0: no writer is left, the container has exited. */
		eof = n == 0;
		if (n < 0) {
			if (errno == EINTR || (errno == EAGAIN && !dying))
				continue;
			eof = 1; /* drained (EAGAIN while dying), or broken */
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

/* The redaction values as log.redact keeps them: for each, the value's and
 * the replacement's lengths (uint32) and bytes. */
static int
redact_write(const char *path, const struct logcopy_value *values, size_t n, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc;

	for (size_t i = 0; i < n; i++) {
		uint32_t lens[2] = {(uint32_t)values[i].len,
		                    (uint32_t)strlen(values[i].replacement)};

		buf_append(&b, lens, sizeof lens);
		buf_append(&b, values[i].value, lens[0]);
		buf_append(&b, values[i].replacement, lens[1]);
	}
	rc = file_write_secret(path, b.data != NULL ? b.data : "", b.len, err);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	return rc;
}

/* Reads log.redact back: *values (owned array, its strings pointing into
 * *data, owned too). */
static int
redact_read(const char *path, struct logcopy_value **values, size_t *n, char **data, size_t *len,
            struct err *err)
{
	size_t off = 0;

	*values = NULL;
	*n = 0;
	if (file_read_all(path, 1 << 20, data, len, err) < 0)
		return -1;
	while (off + 2 * sizeof(uint32_t) <= *len) {
		uint32_t lens[2];
		struct logcopy_value *v;

		memcpy(lens, *data + off, sizeof lens);
		off += sizeof lens;
		if (lens[0] > *len - off || lens[1] > *len - off - lens[0])
			break;
		*values = xreallocarray(*values, *n + 1, sizeof **values);
		v = &(*values)[(*n)++];
		v->value = *data + off;
		v->len = lens[0];
		/* Its own copy: the replacement needs a NUL. */
		v->replacement = xstrndup(*data + off + lens[0], lens[1]);
		off += lens[0] + lens[1];
	}
	if (off != *len) {
		for (size_t i = 0; i < *n; i++)
			free((char *)(*values)[i].replacement);
		free(take_ptr(values));
		*n = 0;
		return err_make(err, 0, "%s is damaged", path);
	}
	return 0;
}

/* Starts a copier on o's FIFO, unless one holds the lock already (then 0). */
static int
run_copier(const struct logcopy_opts *o, const struct logcopy_value *values, size_t n_values,
           struct err *err)
{
	char *rotated = xasprintf("%s.1", o->path), *fifo = xasprintf("%s/log.fifo", o->dir);
	char *lock = xasprintf("%s/log.lock", o->dir);
	struct copier c = {.path = o->path, .rotated = rotated, .max = o->max_bytes};
	int lockfd = -1, rfd = -1, w, status, rc = 0;
	pid_t pid;

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
	lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0) {
		rc = err_make(err, errno, "open %s", lock);
		goto out;
	}
	if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			rc = err_make(err, errno, "lock %s", lock);
		goto out; /* EWOULDBLOCK: a copier runs */
	}
	rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0) {
		rc = err_make(err, errno, "open %s", fifo);
		goto out;
	}
	/* A reader opened while no writer is there would not see a hang-up
	 * when none comes (a container that exited before a resume): one
	 * writer's passing makes the next "no writer left" one. */
	if ((w = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0)
		close(w);
	pid = linux_fork_quiet(NULL, err);
	if (pid < 0) {
		rc = err_wrap(err, "log copier");
		goto out;
	}
	if (pid == 0) {
		sigset_t none;
		int null, life;

		/* Detach: a new session, and a grandchild that init adopts, so the
		 * copier is never a zombie of ours; the lifeline ends it. */
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
		/* Out of the way of 0-4 first: any of them may be one of these. */
		null = fcntl(open("/dev/null", O_RDWR), F_DUPFD, 10);
		rfd = fcntl(rfd, F_DUPFD, 10);
		lockfd = fcntl(lockfd, F_DUPFD, 10);
		life = o->lifeline >= 0 ? fcntl(o->lifeline, F_DUPFD, 10) : -1;
		if (null < 0 || rfd < 0 || lockfd < 0 || (o->lifeline >= 0 && life < 0))
			_exit(1);
		dup2(rfd, 0);
		dup2(null, 1);
		dup2(null, 2);
		dup2(life >= 0 ? life : null, 3);
		dup2(lockfd, 4);
		close_range(5, ~0U, 0);
		c.lifeline = life >= 0;
		copy_loop(&c);
	}
	linux_wait_quiet(pid, &status, NULL);
out:
	if (rfd >= 0)
		close(rfd);
	if (lockfd >= 0)
		close(lockfd); /* the copier's copy keeps the lock */
	free(c.buf);
	free(c.values);
	free(rotated);
	free(fifo);
	free(lock);
	return rc;
}

int
logcopy_start(const struct logcopy_opts *o, const struct logcopy_value *values, size_t n_values,
              int *write_fd, struct err *err)
{
	char *fifo = xasprintf("%s/log.fifo", o->dir), *redact = xasprintf("%s/log.redact", o->dir);
	char *lock = xasprintf("%s/log.lock", o->dir);
	int wfd = -1, rc = -1;

	*write_fd = -1;
	/* A FIFO left by an earlier attempt at this container goes, and its
	 * lock: that attempt's copier, which may not have seen its end yet,
	 * keeps the old one, and must not pass for this container's. */
	if ((unlink(lock) < 0 && errno != ENOENT) || (unlink(fifo) < 0 && errno != ENOENT) ||
	    mkfifo(fifo, 0600) < 0) {
		err_make(err, errno, "make %s", fifo);
		goto out;
	}
	/* Read-write: the container's writes never fail for want of a reader. */
	wfd = open(fifo, O_RDWR | O_CLOEXEC);
	if (wfd < 0) {
		err_make(err, errno, "open %s", fifo);
		goto out;
	}
	/* Room for what comes while no copier runs (berthd restarting). */
	(void)fcntl(wfd, F_SETPIPE_SZ, LOGCOPY_FIFO_BYTES);
	if (redact_write(redact, values, n_values, err) < 0 ||
	    run_copier(o, values, n_values, err) < 0)
		goto out;
	*write_fd = take_fd(&wfd);
	rc = 0;
out:
	if (wfd >= 0)
		close(wfd);
	free(fifo);
	free(redact);
	free(lock);
	return rc;
}

int
logcopy_resume(const struct logcopy_opts *o, struct err *err)
{
	char *fifo = xasprintf("%s/log.fifo", o->dir), *redact = xasprintf("%s/log.redact", o->dir);
	struct logcopy_value *values = NULL;
	char *data = NULL;
	size_t n = 0, len = 0;
	struct stat st;
	int rc;

	if (stat(fifo, &st) < 0 || !S_ISFIFO(st.st_mode))
		rc = err_make(err, ENOENT, "%s", fifo);
	else if ((rc = redact_read(redact, &values, &n, &data, &len, err)) == 0)
		rc = run_copier(o, values, n, err);
	for (size_t i = 0; i < n; i++)
		free((char *)values[i].replacement);
	free(values);
	if (data != NULL)
		explicit_bzero(data, len);
	free(data);
	free(fifo);
	free(redact);
	return rc;
}
