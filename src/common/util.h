/* util: allocation that cannot fail, string vectors, ownership helpers, time. */
#ifndef BERTH_UTIL_H
#define BERTH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* TESTABLE functions are static in builds without tests, visible to unit tests. */
#ifdef BERTH_TESTING
#define TESTABLE
#else
#define TESTABLE static
#endif

/* Allocation: out-of-memory is fatal (log_fatal), so these never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) BERTH_PRINTF(1, 2);
/* xasprintf() with a va_list. */
char *xvasprintf(const char *fmt, va_list ap) BERTH_PRINTF(1, 0);

/* Hands over an owned fd or pointer, leaving the source -1 or NULL. */
static inline int
take_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

static inline void *
take_ptr(void *pp)
{
	void **p = pp, *v = *p;
	*p = NULL;
	return v;
}

/* strv: a NULL-terminated vector of owned strings. NULL is the empty vector. */
size_t strv_len(char *const *v);
/* Appends a copy of s; returns the (possibly moved) vector. */
char **strv_push(char **v, const char *s);
/* Deep copy; NULL stays NULL. */
char **strv_dup(char *const *v);
void strv_free(char **v);
/* Whether v holds s. */
int strv_contains(char *const *v, const char *s);

/* Lower-case hex of n bytes into out, which holds 2n+1 chars. */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* sha256 of n bytes as 64 lower-case hex chars plus NUL. */
void sha256_hex(const void *data, size_t n, char out[65]);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t now_mono_ms(void);

/* The path of program name in the directory of this process's own binary
 * ("/usr/lib/berth/berth-router"); name alone when that is unknown. Owned. */
char *exe_sibling(const char *name);

/* 1 when directory path holds an entry not starting with '.', else 0 (also
 * when it cannot be read). */
int dir_has_entries(const char *path);
/* Milliseconds since the epoch. */
int64_t now_wall_ms(void);
/* RFC 3339 UTC ("2026-11-26T10:55:46Z") of epoch milliseconds into out[32]. */
void time_rfc3339(int64_t wall_ms, char out[32]);

/* Parses a duration such as "30s", "5m", "1h30m", "500ms", "1.5s" into
 * milliseconds. Returns 0, or -1 when s is not a duration. */
int duration_parse(const char *s, int64_t *ms);

/* The value of header name (any case) in an HTTP header line ("Name:
 * value\r\n", n bytes, as curl hands it over), owned, without the white
 * space around it; NULL when the line is not that header. */
char *http_header_value(const char *line, size_t n, const char *name);

/* What path_next() found. */
enum path_step {
	PATH_END,    /* no component left */
	PATH_DOTDOT, /* ".." */
	PATH_NAME,   /* any other name, in *name and *n */
};

/* Walks a path by its text: skips slashes and "." components, then the next
 * component starts at *name, *n bytes long, and *p is moved past it. The
 * walks that resolve ".." (lexically or against a tree) share it. */
enum path_step path_next(const char **p, const char **name, size_t *n);

/* Reads a whole file of at most max bytes into a NUL-terminated owned buffer. */
int file_read_all(const char *path, size_t max, char **out, size_t *len, struct err *err);
/* Reads fd (named name in errors) to its end into *out, NUL-terminated and
 * owned, its length in *len (unless NULL). Returns 0, or negative with err
 * (EFBIG when more than max bytes come; at most max + 1 are read). */
int fd_read_all(int fd, const char *name, size_t max, char **out, size_t *len, struct err *err);
/* Writes len bytes of data to fd (named name in errors), then fsyncs it. */
int fd_write_sync(int fd, const void *data, size_t len, const char *name, struct err *err);

/* Writes data into the new file tmp, opened with O_WRONLY | O_CREAT |
 * O_CLOEXEC | flags and mode (made exact with fchmod, whatever the umask,
 * when exact_mode), fsync'd and closed, then renames it to path. A tmp it
 * created is removed when that fails. Returns 0, or negative with err. */
int file_write_rename(const char *tmp, const char *path, const void *data, size_t len, int flags,
                      int mode, int exact_mode, struct err *err);
/* Writes a file atomically (temp file, fsync, rename) with the given mode. */
int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct err *err);
/* Writes a secret file: to <path>.tmp, created with O_EXCL|O_NOFOLLOW and mode
 * 0600 (a stale temporary, or a symlink planted there, is removed, never
 * followed), fsync'd, renamed over path (a symlink at path is replaced, not
 * followed), and the directory fsync'd, so that path holds the whole file or
 * nothing after a crash. Returns 0, or negative with err. */
int file_write_secret(const char *path, const void *data, size_t len, struct err *err);
/* mkdir -p with mode for the created directories. */
int mkdir_p(const char *path, int mode, struct err *err);

/* The socket mark of berth's own connections to enclaves (berth-router's
 * upstreams, berthd's health checks): the firewall refuses the host's other
 * new connections to an enclave (runtime/firewall.h). "bert" in ASCII, far
 * from the small marks and masks other software routes by. */
#define BERTH_UPSTREAM_MARK 0x62657274u

/* Sets BERTH_UPSTREAM_MARK on socket fd (SO_MARK needs CAP_NET_ADMIN):
 * 0, or -errno. */
int sock_mark_upstream(int fd);

#endif
