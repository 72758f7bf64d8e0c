/* source: Git repositories whose tags hold tinfoil-config.yml.
 *
 * A source is mirrored into a bare repository in a cache directory, named from
 * the sha256 of its URL, holding the source's tags (every refs/tags/ ref,
 * forced and pruned). Every call blocks; each is safe from any thread, as long as one
 * struct source_repo is used by one thread at a time. Two threads (or
 * processes) syncing the same URL take turns on a lock file.
 */
#ifndef BERTH_SOURCE_H
#define BERTH_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The file berth reads at a tag, and the largest accepted (CONFIG_MAX_BYTES). */
#define SOURCE_CONFIG_FILE "tinfoil-config.yml"
#define SOURCE_FILE_MAX    (1024 * 1024)

/* How long one fetch may transfer before it is abandoned. */
#define SOURCE_FETCH_TIMEOUT_MS (5 * 60 * 1000)

/* How berth reaches sources. */
struct source_opts {
	char *const *roots; /* borrowed strv: local paths must be under one; NULL: none is */
	const char
	    *fetch_program; /* borrowed: berth-fetch, run per fetch; NULL: fetch in process */
	int64_t connect_ms; /* with fetch_program: killed when silent this long at first, */
	int64_t idle_ms;    /* or later this long (0: no such deadline), */
	int64_t total_ms;   /* or past this (0: SOURCE_FETCH_TIMEOUT_MS) */
	const _Atomic int *cancel; /* borrowed or NULL: non-zero kills the fetch */
};

/* An open mirror of a source. */
struct source_repo;

/* One tag of a source. */
struct source_tag {
	char *name;      /* owned, "v2" (without refs/tags/) */
	char commit[41]; /* hex id of the commit the tag points to (annotated tags peeled) */
	int64_t time;    /* the commit's time, seconds since the epoch */
	int valid;       /* 1 when the config file at the tag is there and valid */
	char *error;     /* owned: why it is not valid, or NULL */
};

/* Checks a config's text; returns 0 when valid, or a negative value and an
 * owned sentence in *error (the caller of the callback frees it). */
typedef int (*source_validate_fn)(const char *text, size_t len, char **error, void *arg);

/* A source_validate_fn that parses the text with config_parse() (arg unused);
 * the error is config_errors_format()'s "file:line:col: key: sentence" lines. */
int source_validate_config(const char *text, size_t len, char **error, void *arg);

/* Initialises libgit2, once for the process; safe to call more than once. */
int source_init(struct err *err);

/* Mirrors url (a local path, http(s)://, ssh) into cache_dir: clones it on
 * first use, fetches it after (tags forced and pruned). opts NULL: any local
 * path, fetched in this process (tests); else as opts says. On success *out
 * is an open mirror; the caller closes it with source_close(). */
int source_sync(const char *cache_dir, const char *url, const struct source_opts *opts,
                struct source_repo **out, struct err *err);

/* Opens the mirror of url made by an earlier source_sync(), without fetching;
 * url is checked against opts as source_sync() does. */
int source_open(const char *cache_dir, const char *url, const struct source_opts *opts,
                struct source_repo **out, struct err *err);

/* Called as a fetch makes progress. */
typedef void (*source_progress_fn)(void *arg);

/* Fetches url's tags into the bare repository at git_dir, in this process,
 * calling progress (may be NULL) as bytes come; what berth-fetch runs. */
int source_fetch_into(const char *git_dir, const char *url, int64_t timeout_ms,
                      source_progress_fn progress, void *arg, struct err *err);

/* The host (with its port) url names, for errors: "git.example.com:8443";
 * a local path is itself. */
void source_url_host(const char *url, char *out, size_t size);

/* Closes a mirror; NULL is fine. */
void source_close(struct source_repo *r);

/* The URL of a mirror, as given (a path made absolute). Borrowed. */
const char *source_url(const struct source_repo *r);

/* Lists the tags of r, newest first (by their commit's time, then by name,
 * v10 before v9). Each tag's SOURCE_CONFIG_FILE is read and, when validate is
 * not NULL, checked with it. On success *out is an owned array of *n tags (free
 * with source_tags_free()); an empty source gives *out NULL and *n 0. */
int source_tags(struct source_repo *r, source_validate_fn validate, void *validate_arg,
                struct source_tag **out, size_t *n, struct err *err);

/* Frees an array of n tags; NULL is fine. */
void source_tags_free(struct source_tag *tags, size_t n);

/* The commit id (hex) a tag points to. Fails with "tag v9 not found in <url>". */
int source_tag_commit(struct source_repo *r, const char *tag, char commit[41], struct err *err);

/* Reads path at tag (annotated tags peeled to their commit), at most
 * SOURCE_FILE_MAX bytes. On success *text is an owned NUL-terminated copy of
 * *len bytes. Fails on an unknown tag, a missing path, or a file too large. */
int source_read_file(struct source_repo *r, const char *tag, const char *path, char **text,
                     size_t *len, struct err *err);

#endif
