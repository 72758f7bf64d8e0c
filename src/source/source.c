#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/spawn.h"

/* The mirror holds the source's tags and nothing else. */
#define SOURCE_REFSPEC "+refs/tags/*:refs/tags/*"

struct source_repo {
	git_repository *repo; /* owned */
	char *url;            /* owned, normalised */
};

static pthread_once_t source_once = PTHREAD_ONCE_INIT;
static int source_init_rc;

static void
source_init_once(void)
{
	source_init_rc = git_libgit2_init();
}

int
source_init(struct err *err)
{
	pthread_once(&source_once, source_init_once);
	if (source_init_rc < 0)
		return err_make(err, 0, "libgit2 failed to initialise");
	/* Worker threads use libgit2 at once: it must be built for that. */
	if (!(git_libgit2_features() & GIT_FEATURE_THREADS))
		return err_make(err, 0, "libgit2 is built without thread support");
	return 0;
}

/* Fills err with a context and libgit2's last error of this thread. */
static int git_fail(struct err *err, const char *fmt, ...) BERTH_PRINTF(2, 3);

static int
git_fail(struct err *err, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char ctx[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	return err_make(err, 0, "%s: %s", ctx, e != NULL && e->message ? e->message : "git error");
}

/* path lies in dir or below it (both absolute, without "." or ".."). */
static int
path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0' || n == 1);
}

static int
path_under_any(const char *path, char *const *roots)
{
	for (; roots != NULL && *roots != NULL; roots++)
		if (path_under(path, *roots))
			return 1;
	return 0;
}

/* path made absolute and rid of ".", ".." and repeated slashes by its text
 * alone (nothing is looked up). Owned. */
static char *
path_lexical(const char *path)
{
	char cwd[PATH_MAX], *joined, *out, *o;
	const char *p, *name;
	enum path_step step;
	size_t n;

	if (path[0] != '/' && getcwd(cwd, sizeof cwd) != NULL)
		joined = xasprintf("%s/%s", cwd, path);
	else
		joined = xasprintf("/%s", path);
	out = xmalloc(strlen(joined) + 2);
	o = out;
	for (p = joined; (step = path_next(&p, &name, &n)) != PATH_END;) {
		if (step == PATH_DOTDOT) {
			while (o > out && *--o != '/')
				;
		} else {
			*o++ = '/';
			memcpy(o, name, n);
			o += n;
		}
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	free(joined);
	return out;
}

/* A plain path is made absolute (so "./app" and "/srv/app" share a mirror);
 * URLs (scheme:// or scp-like host:path) are kept as given. With opts, a
 * path must lie under one of opts->roots, as written and once resolved, and
 * whether a path outside them exists is never told; file:// is refused
 * (it would pass the roots by). */
static char *
source_normalize_url(const char *url, const struct source_opts *opts, struct err *err)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
	char abs[PATH_MAX], *lex;

	if (url[0] == '\0') {
		err_make(err, 0, "source URL is empty");
		return NULL;
	}
	if (strncasecmp(url, "file:", 5) == 0) {
		err_make(err, 0, "%s: file:// URLs are not accepted; give the repository's path",
		         url);
		return NULL;
	}
	if (strstr(url, "://") != NULL || (colon != NULL && (slash == NULL || colon < slash)))
		return xstrdup(url);
	if (opts != NULL) {
		lex = path_lexical(url);
		if (!path_under_any(lex, opts->roots)) {
			free(lex);
			goto outside;
		}
		free(lex);
	}
	if (realpath(url, abs) == NULL) {
		err_make(err, errno, "source %s", url);
		return NULL;
	}
	if (opts != NULL && !path_under_any(abs, opts->roots))
		goto outside; /* a symbolic link out of the roots */
	return xstrdup(abs);
outside:
	if (opts->roots == NULL)
		err_make(err, 0,
		         "%s: local repository paths are not accepted here (berthd has no "
		         "--source-root); give a URL",
		         url);
	else
		err_make(err, 0, "%s: local repository paths must be under %s%s", url,
		         opts->roots[0],
		         opts->roots[1] != NULL ? " or another --source-root" : " (--source-root)");
	return NULL;
}

static struct source_repo *
source_repo_new(git_repository *repo, const char *url)
{
	struct source_repo *r = xcalloc(1, sizeof *r);

	r->repo = repo;
	r->url = xstrdup(url);
	return r;
}

void
source_close(struct source_repo *r)
{
	if (r == NULL)
		return;
	git_repository_free(r->repo);
	free(r->url);
	free(r);
}

const char *
source_url(const struct source_repo *r)
{
	return r->url;
}

struct fetch_guard {
	int64_t deadline;
	int timed_out;
	source_progress_fn progress; /* or NULL */
	void *arg;
};

static int
fetch_progress(const git_indexer_progress *stats, void *payload)
{
	struct fetch_guard *g = payload;

	(void)stats;
	if (g->progress != NULL)
		g->progress(g->arg);
	if (now_mono_ms() > g->deadline) {
		g->timed_out = 1;
		return -1; /* cancels the transfer */
	}
	return 0;
}

static int
fetch_sideband(const char *str, int len, void *payload)
{
	struct fetch_guard *g = payload;

	(void)str, (void)len;
	if (g->progress != NULL)
		g->progress(g->arg);
	return 0;
}

int
source_fetch_into(const char *git_dir, const char *url, int64_t timeout_ms,
                  source_progress_fn progress, void *arg, struct err *err)
{
	char *spec = SOURCE_REFSPEC;
	git_strarray refspecs = {&spec, 1};
	git_remote_create_options ropts;
	git_fetch_options opts;
	struct fetch_guard guard = {now_mono_ms() + timeout_ms, 0, progress, arg};
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	int rc = -1;

	if (source_init(err) < 0)
		return -1;
	if (git_repository_open_bare(&repo, git_dir) < 0)
		return git_fail(err, "open mirror %s", git_dir);
	/* The remote is anonymous and skips url.*.insteadOf rewriting: the
	 * mirror is named from the URL, so its config needs no remote, and
	 * libgit2 1.5 leaks memory in the config regex lookups both would make. */
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	git_remote_create_options_init(&ropts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ropts.repository = repo;
	ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ropts) < 0) {
		rc = git_fail(err, "source %s", url);
		goto out;
	}
	opts.prune = GIT_FETCH_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* the refspec takes them all */
	opts.callbacks.transfer_progress = fetch_progress;
	opts.callbacks.sideband_progress = fetch_sideband;
	opts.callbacks.payload = &guard;
	rc = git_remote_fetch(remote, &refspecs, &opts, "berth: fetch");
	if (rc < 0) {
		if (guard.timed_out)
			rc = err_make(err, 0, "fetch %s: took longer than %lld s", url,
			              (long long)(timeout_ms / 1000));
		else
			rc = git_fail(err, "fetch %s", url);
	}
out:
	git_remote_free(remote);
	git_repository_free(repo);
	return rc;
}

void
source_url_host(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://"), *end;

	if (p == NULL) {
		const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

		if (colon == NULL || (slash != NULL && slash < colon)) {
			snprintf(out, size, "%s", url); /* a local path */
			return;
		}
		p = url; /* scp-like [user@]host:path */
		end = colon;
	} else {
		p += 3;
		end = p + strcspn(p, "/?#");
	}
	for (const char *at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	snprintf(out, size, "%.*s", (int)(end - p), p);
}

/* Runs the fetch in opts->fetch_program, a process of its own that is killed
 * on a deadline or a cancel: libgit2 1.5 has no timeout of its own for a peer
 * that stops answering. */
static int
source_fetch_child(const char *git_dir, const char *url, const struct source_opts *opts,
                   struct err *err)
{
	char *argv[] = {(char *)opts->fetch_program, (char *)git_dir, (char *)url, NULL};
	struct spawn_opts so = {0};
	struct spawn_result res;
	char host[256], line[301];
	struct err sub = ERR_INIT;
	int rc;

	source_url_host(url, host, sizeof host);
	so.argv = argv;
	so.stdout_fd = -1;
	so.timeout_ms = opts->total_ms > 0 ? opts->total_ms : SOURCE_FETCH_TIMEOUT_MS;
	so.first_ms = opts->connect_ms;
	so.idle_ms = opts->idle_ms;
	so.cancel = opts->cancel;
	so.max_output = 4096;
	rc = spawn_run(&so, &res, &sub);
	if (rc < 0) {
		switch (res.killed) {
		case SPAWN_SILENT:
			rc = err_make(err, 0,
			              "fetch %s: %s did not answer within %lld s "
			              "(--fetch-connect-timeout)",
			              url, host, (long long)(opts->connect_ms / 1000));
			break;
		case SPAWN_IDLE:
			rc = err_make(err, 0,
			              "fetch %s: %s went silent for %lld s (--fetch-idle-timeout)",
			              url, host, (long long)(opts->idle_ms / 1000));
			break;
		case SPAWN_TIMEOUT:
			rc = err_make(err, 0,
			              "fetch %s: %s: the fetch took longer than %lld s "
			              "(--source-timeout)",
			              url, host, (long long)(so.timeout_ms / 1000));
			break;
		case SPAWN_CANCELLED:
			rc = err_make(err, 0, "fetch %s: cancelled (berthd is stopping)", url);
			err->code = ECANCELED;
			break;
		case SPAWN_RAN:
			rc = err_make(err, sub.code, "fetch %s: %s", url, sub.msg);
			break;
		}
	} else if (res.status != 0) {
		spawn_first_line(res.errout.data, line);
		rc = err_make(err, 0, "%s", line[0] != '\0' ? line : "the fetch failed");
	}
	spawn_result_free(&res);
	err_clear(&sub);
	return rc;
}

/* Fetches url's tags into the mirror at git_dir: in a child when opts names
 * the program, else here. */
static int
source_fetch(const char *git_dir, const char *url, const struct source_opts *opts, struct err *err)
{
	if (opts != NULL && opts->fetch_program != NULL)
		return source_fetch_child(git_dir, url, opts, err);
	return source_fetch_into(git_dir, url,
	                         opts != NULL && opts->total_ms > 0 ? opts->total_ms
	                                                            : SOURCE_FETCH_TIMEOUT_MS,
	                         NULL, NULL, err);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Clones url into a temporary bare mirror, then renames it into place, so a
 * mirror directory that exists is always a complete one. Called under the
 * entry's lock. */
static int
source_clone(const char *tmp, const char *dir, const char *url, const struct source_opts *opts,
             struct err *err)
{
	git_repository *repo = NULL;
	int rc = -1;

	/* A leftover of a crash during an earlier clone: ours, under the lock. */
	if (access(tmp, F_OK) == 0 && nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0) {
		rc = err_make(err, errno, "remove %s", tmp);
		goto out;
	}
	if (git_repository_init(&repo, tmp, 1) < 0) {
		rc = git_fail(err, "create mirror %s", tmp);
		goto out;
	}
	git_repository_free(take_ptr(&repo));
	if (source_fetch(tmp, url, opts, err) < 0)
		goto out;
	if (rename(tmp, dir) < 0) {
		rc = err_make(err, errno, "rename %s to %s", tmp, dir);
		goto out;
	}
	rc = 0;
out:
	git_repository_free(repo);
	if (rc < 0)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}

/* The mirror's directory for url: <cache>/<sha256(url)>.git. */
static char *
source_mirror_path(const char *cache_dir, const char *url, const char *suffix)
{
	char key[65];

	sha256_hex(url, strlen(url), key);
	return xasprintf("%s/%s%s", cache_dir, key, suffix);
}

/* Opens the mirror dir of the source norm (copied) as *out. */
static int
mirror_open(const char *dir, const char *norm, struct source_repo **out, struct err *err)
{
	git_repository *repo = NULL;

	if (git_repository_open_bare(&repo, dir) < 0)
		return git_fail(err, "open mirror %s", dir);
	*out = source_repo_new(repo, norm);
	return 0;
}

int
source_sync(const char *cache_dir, const char *url, const struct source_opts *opts,
            struct source_repo **out, struct err *err)
{
	char *norm = NULL, *dir = NULL, *tmp = NULL, *lock = NULL;
	int lock_fd = -1, rc = -1;

	*out = NULL;
	if (source_init(err) < 0)
		return -1;
	norm = source_normalize_url(url, opts, err);
	if (norm == NULL)
		goto out;
	if (mkdir_p(cache_dir, 0700, err) < 0) {
		rc = err_wrap(err, "source cache");
		goto out;
	}
	dir = source_mirror_path(cache_dir, norm, ".git");
	tmp = source_mirror_path(cache_dir, norm, ".tmp");
	lock = source_mirror_path(cache_dir, norm, ".lock");
	/* flock() locks belong to an open file description: two threads of
	 * this process exclude each other as two processes do. */
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0) {
		rc = err_make(err, errno, "open %s", lock);
		goto out;
	}
	while (flock(lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = err_make(err, errno, "lock %s", lock);
			goto out;
		}
	}
	if (access(dir, F_OK) != 0 ? source_clone(tmp, dir, norm, opts, err) < 0
	                           : source_fetch(dir, norm, opts, err) < 0)
		goto out;
	rc = mirror_open(dir, norm, out, err);
out:
	if (lock_fd >= 0)
		close(lock_fd); /* releases the lock */
	free(norm);
	free(dir);
	free(tmp);
	free(lock);
	return rc;
}

int
source_open(const char *cache_dir, const char *url, const struct source_opts *opts,
            struct source_repo **out, struct err *err)
{
	char *norm, *dir;
	int rc = -1;

	*out = NULL;
	if (source_init(err) < 0)
		return -1;
	norm = source_normalize_url(url, opts, err);
	if (norm == NULL)
		return -1;
	dir = source_mirror_path(cache_dir, norm, ".git");
	if (access(dir, F_OK) != 0) {
		rc = err_make(err, 0, "source %s has not been fetched yet", norm);
		goto out;
	}
	rc = mirror_open(dir, norm, out, err);
out:
	free(norm);
	free(dir);
	return rc;
}

/* Reads path in commit's tree into an owned buffer. Errors name the file and
 * the tag (for the user) but not the URL; callers add it. */
static int
read_at_commit(git_repository *repo, git_commit *commit, const char *tag, const char *path,
               char **text, size_t *len, struct err *err)
{
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_odb *odb = NULL;
	git_blob *blob = NULL;
	git_filemode_t mode;
	git_object_t type;
	size_t size;
	int rc = -1;

	*text = NULL;
	*len = 0;
	if (git_commit_tree(&tree, commit) < 0) {
		rc = git_fail(err, "tag %s", tag);
		goto out;
	}
	rc = git_tree_entry_bypath(&entry, tree, path);
	if (rc == GIT_ENOTFOUND) {
		rc = err_make(err, 0, "%s not found at tag %s", path, tag);
		goto out;
	}
	if (rc < 0) {
		rc = git_fail(err, "%s at tag %s", path, tag);
		goto out;
	}
	mode = git_tree_entry_filemode(entry);
	if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
		rc = err_make(err, 0, "%s at tag %s is not a regular file", path, tag);
		goto out;
	}
	/* Check the size from the object header before loading the blob. */
	if (git_repository_odb(&odb, repo) < 0 ||
	    git_odb_read_header(&size, &type, odb, git_tree_entry_id(entry)) < 0) {
		rc = git_fail(err, "%s at tag %s", path, tag);
		goto out;
	}
	if (size > SOURCE_FILE_MAX) {
		rc = err_make(err, 0, "%s at tag %s is %zu bytes, over the 1 MiB limit", path, tag,
		              size);
		goto out;
	}
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) < 0) {
		rc = git_fail(err, "%s at tag %s", path, tag);
		goto out;
	}
	size = (size_t)git_blob_rawsize(blob);
	*text = xmalloc(size + 1);
	memcpy(*text, git_blob_rawcontent(blob), size);
	(*text)[size] = '\0';
	*len = size;
	rc = 0;
out:
	git_blob_free(blob);
	git_odb_free(odb);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	return rc;
}

/* The commit tag points to, peeling annotated tags. */
static int
lookup_tag(struct source_repo *r, const char *tag, git_commit **commit, struct err *err)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	char *name = xasprintf("refs/tags/%s", tag);
	int valid = 0, rc = -1;

	*commit = NULL;
	if (git_reference_name_is_valid(&valid, name) < 0 || !valid) {
		rc = err_make(err, 0, "tag %s not found in %s", tag, r->url);
		goto out;
	}
	rc = git_reference_lookup(&ref, r->repo, name);
	if (rc == GIT_ENOTFOUND) {
		rc = err_make(err, 0, "tag %s not found in %s", tag, r->url);
		goto out;
	}
	if (rc < 0) {
		rc = git_fail(err, "tag %s in %s", tag, r->url);
		goto out;
	}
	if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0) {
		rc = git_fail(err, "tag %s in %s does not point to a commit", tag, r->url);
		goto out;
	}
	*commit = (git_commit *)take_ptr(&obj);
	rc = 0;
out:
	git_object_free(obj);
	git_reference_free(ref);
	free(name);
	return rc;
}

int
source_tag_commit(struct source_repo *r, const char *tag, char commit[41], struct err *err)
{
	git_commit *c;

	if (lookup_tag(r, tag, &c, err) < 0)
		return -1;
	git_oid_tostr(commit, 41, git_commit_id(c));
	git_commit_free(c);
	return 0;
}

int
source_read_file(struct source_repo *r, const char *tag, const char *path, char **text, size_t *len,
                 struct err *err)
{
	git_commit *c;
	int rc;

	*text = NULL;
	*len = 0;
	if (lookup_tag(r, tag, &c, err) < 0)
		return -1;
	rc = read_at_commit(r->repo, c, tag, path, text, len, err);
	if (rc < 0 && err != NULL) {
		size_t m = strlen(err->msg);
		snprintf(err->msg + m, sizeof err->msg - m, " in %s", r->url);
	}
	git_commit_free(c);
	return rc;
}

static int
tag_newest_first(const void *a, const void *b)
{
	const struct source_tag *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? 1 : -1;
	return strverscmp(y->name, x->name);
}

/* Fills t's commit, time and validity from the commit the tag points to. */
static void
tag_inspect(struct source_repo *r, git_reference *ref, struct source_tag *t,
            source_validate_fn validate, void *arg)
{
	struct err err = ERR_INIT;
	git_object *obj = NULL;
	char *text = NULL, *why = NULL;
	size_t len;

	if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0) {
		git_fail(&err, "tag %s does not point to a commit", t->name);
		t->error = xstrdup(err.msg);
		return;
	}
	git_oid_tostr(t->commit, sizeof t->commit, git_object_id(obj));
	t->time = (int64_t)git_commit_time((git_commit *)obj);
	if (read_at_commit(r->repo, (git_commit *)obj, t->name, SOURCE_CONFIG_FILE, &text, &len,
	                   &err) < 0) {
		t->error = xstrdup(err.msg);
	} else if (validate != NULL && validate(text, len, &why, arg) < 0) {
		t->error = why != NULL ? take_ptr(&why) : xstrdup("invalid configuration");
	} else {
		t->valid = 1;
	}
	free(why);
	free(text);
	git_object_free(obj);
}

int
source_tags(struct source_repo *r, source_validate_fn validate, void *validate_arg,
            struct source_tag **out, size_t *n, struct err *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	struct source_tag *v = NULL;
	size_t k = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (git_reference_iterator_glob_new(&it, r->repo, "refs/tags/*") < 0)
		return git_fail(err, "list tags of %s", r->url);
	while ((rc = git_reference_next(&ref, it)) == 0) {
		if (k == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof *v);
		}
		memset(&v[k], 0, sizeof v[k]);
		v[k].name = xstrdup(git_reference_name(ref) + strlen("refs/tags/"));
		tag_inspect(r, ref, &v[k], validate, validate_arg);
		k++;
		git_reference_free(take_ptr(&ref));
	}
	git_reference_iterator_free(it);
	if (rc != GIT_ITEROVER) {
		source_tags_free(v, k);
		return git_fail(err, "list tags of %s", r->url);
	}
	if (k > 1)
		qsort(v, k, sizeof *v, tag_newest_first);
	*out = v;
	*n = k;
	return 0;
}

void
source_tags_free(struct source_tag *tags, size_t n)
{
	if (tags == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(tags[i].name);
		free(tags[i].error);
	}
	free(tags);
}
