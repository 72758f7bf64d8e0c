#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		log_fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		log_fatal("out of memory (%zu x %zu bytes)", nmemb, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		log_fatal("out of memory (%zu bytes)", n);
	return q;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		log_fatal("allocation overflow (%zu x %zu)", nmemb, size);
	return xrealloc(p, nmemb * size);
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		log_fatal("out of memory (strdup)");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		log_fatal("out of memory (strndup)");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		log_fatal("out of memory (asprintf)");
	return p;
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	if (v != NULL)
		while (v[n] != NULL)
			n++;
	return n;
}

char **
strv_push(char **v, const char *s)
{
	size_t n = strv_len(v);

	v = xreallocarray(v, n + 2, sizeof *v);
	v[n] = xstrdup(s);
	v[n + 1] = NULL;
	return v;
}

char **
strv_dup(char *const *v)
{
	char **out;
	size_t n;

	if (v == NULL)
		return NULL;
	n = strv_len(v);
	out = xcalloc(n + 1, sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

void
strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int
strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

void
sha256_hex(const void *data, size_t n, char out[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, n);
	hex_encode(h, sizeof h, out);
}

int64_t
now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
time_rfc3339(int64_t wall_ms, char out[32])
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
duration_parse(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ms", 1}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
	double total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p != '\0') {
		char *end;
		double v;
		size_t i;

		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno != 0 || v < 0)
			return -1;
		p = end;
		for (i = 0; i < ARRAY_LEN(units); i++) {
			size_t ul = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, ul) == 0) {
				total += v * units[i].ms;
				p += ul;
				break;
			}
		}
		if (i == ARRAY_LEN(units))
			return -1;
		if (total > (double)INT64_MAX / 2)
			return -1;
	}
	*ms = (int64_t)total;
	return 0;
}

char *
http_header_value(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	const char *v, *end = line + n;

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return NULL;
	for (v = line + k + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	return xstrndup(v, (size_t)(end - v));
}

enum path_step
path_next(const char **p, const char **name, size_t *n)
{
	for (;;) {
		while (**p == '/')
			(*p)++;
		*name = *p;
		*n = strcspn(*p, "/");
		*p += *n;
		if (*n == 0)
			return PATH_END;
		if (*n == 2 && (*name)[0] == '.' && (*name)[1] == '.')
			return PATH_DOTDOT;
		if (*n != 1 || (*name)[0] != '.')
			return PATH_NAME;
	}
}

/* "1 MiB" for a whole number of MiB, else "N bytes": a size in a sentence. */
static void
size_text(size_t n, char out[32])
{
	if (n > 0 && n % (1u << 20) == 0)
		snprintf(out, 32, "%zu MiB", n >> 20);
	else
		snprintf(out, 32, "%zu bytes", n);
}

int
fd_read_all(int fd, const char *name, size_t max, char **out, size_t *len, struct err *err)
{
	size_t cap = max < 4096 ? max + 1 : 4096, n = 0;
	char *buf = xmalloc(cap + 1), max_text[32];

	/* Reads one byte more than allowed, which tells a file that is larger
	 * (or grew since its caller's fstat) without reading all of it. */
	for (;;) {
		ssize_t r;

		if (n == cap) {
			cap = cap > max + 1 - cap ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return err_make(err, errno, "read %s", name);
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			free(buf);
			size_text(max, max_text);
			return err_make(err, EFBIG, "%s is larger than %s", name, max_text);
		}
	}
	buf[n] = '\0';
	*out = buf;
	if (len != NULL)
		*len = n;
	return 0;
}

int
file_read_all(const char *path, size_t max, char **out, size_t *len, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return err_make(err, errno, "open %s", path);
	rc = fd_read_all(fd, path, max, out, len, err);
	close(fd);
	return rc;
}

int
fd_write_sync(int fd, const void *data, size_t len, const char *name, struct err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return err_make(err, errno, "write %s", name);
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0)
		return err_make(err, errno, "fsync %s", name);
	return 0;
}

int
file_write_rename(const char *tmp, const char *path, const void *data, size_t len, int flags,
                  int mode, int exact_mode, struct err *err)
{
	int fd, rc = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
	if (fd < 0)
		return err_make(err, errno, "create %s", tmp);
	if (exact_mode && fchmod(fd, (mode_t)mode) < 0) {
		rc = err_make(err, errno, "chmod %s", tmp);
		goto out;
	}
	if ((rc = fd_write_sync(fd, data, len, tmp, err)) < 0)
		goto out;
	if (close(take_fd(&fd)) < 0) {
		rc = err_make(err, errno, "write %s", tmp);
		goto out;
	}
	/* rename() replaces a symlink at path; it does not write through it. */
	if (rename(tmp, path) < 0) {
		rc = err_make(err, errno, "rename %s", path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int
file_write_atomic(const char *path, const void *data, size_t len, int mode, struct err *err)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int rc = file_write_rename(tmp, path, data, len, O_TRUNC, mode, 0, err);

	free(tmp);
	return rc;
}

/* fsync of the directory holding path: makes a rename in it durable. */
static int
file_sync_parent(const char *path, struct err *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL   ? xstrdup(".")
	            : slash == path ? xstrdup("/")
	                            : xstrndup(path, (size_t)(slash - path));
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		rc = err_make(err, errno, "open %s", dir);
	else if (fsync(fd) < 0)
		rc = err_make(err, errno, "fsync %s", dir);
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int
file_write_secret(const char *path, const void *data, size_t len, struct err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int rc;

	/* A temporary left by a crash, or whatever was planted under its name:
	 * unlink() removes a symlink itself, never what it points at. Whatever
	 * the umask, the mode is 0600, not less strict. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		rc = err_make(err, errno, "remove %s", tmp);
	else if ((rc = file_write_rename(tmp, path, data, len, O_EXCL | O_NOFOLLOW, 0600, 1,
	                                 err)) == 0)
		rc = file_sync_parent(path, err);
	free(tmp);
	return rc;
}

int
mkdir_p(const char *path, int mode, struct err *err)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			rc = err_make(err, errno, "mkdir %s", p);
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

char *
exe_sibling(const char *name)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n <= 0)
		return xstrdup(name);
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash != NULL)
		slash[1] = '\0';
	return xasprintf("%s%s", self, name);
}

int
dir_has_entries(const char *path)
{
	DIR *d = opendir(path);
	int found = 0;

	for (struct dirent *de; d != NULL && !found && (de = readdir(d)) != NULL;)
		found = de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return found;
}

int
sock_mark_upstream(int fd)
{
	unsigned mark = BERTH_UPSTREAM_MARK;

	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0 ? -errno : 0;
}
