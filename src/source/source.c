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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

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

/* A plain path is made absolute (so "./app" and "/srv/app" share a mirror);
 * URLs (scheme:// or scp-like host:path) are kept as given. */
static char *
source_normalize_url(const char *url, struct err *err)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
	char abs[PATH_MAX];

	if (url[0] == '\0') {
		err_make(err, 0, "source URL is empty");
		return NULL;
	}
	if (strstr(url, "://") != NULL || (colon != NULL && (slash == NULL || colon < slash)))
		return xstrdup(url);
	if (realpath(url, abs) == NULL) {
		err_make(err, errno, "source %s", url);
		return NULL;
	}
	return xstrdup(abs);
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
};

static int
fetch_progress(const git_indexer_progress *stats, void *payload)
{
	struct fetch_guard *g = payload;

	(void)stats;
	if (now_mono_ms() > g->deadline) {
		g->timed_out = 1;
		return -1; /* cancels the transfer */
	}
	return 0;
}

/* Fetches url's tags into repo. The remote is anonymous and skips url.*.insteadOf
 * rewriting: the mirror is named from the URL, so its config needs no remote,
 * and libgit2 1.5 leaks memory in the config regex lookups both would make. */
static int
source_fetch(git_repository *repo, const char *url, struct err *err)
{
	char *spec = SOURCE_REFSPEC;
	git_strarray refspecs = {&spec, 1};
	git_remote_create_options ropts;
	git_fetch_options opts;
	struct fetch_guard guard = {now_mono_ms() + SOURCE_FETCH_TIMEOUT_MS, 0};
	git_remote *remote = NULL;
	int rc;

	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	git_remote_create_options_init(&ropts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ropts.repository = repo;
	ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ropts) < 0)
		return git_fail(err, "source %s", url);
	opts.prune = GIT_FETCH_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* the refspec takes them all */
	opts.callbacks.transfer_progress = fetch_progress;
	opts.callbacks.payload = &guard;
	rc = git_remote_fetch(remote, &refspecs, &opts, "berth: fetch");
	if (rc < 0) {
		if (guard.timed_out)
			rc = err_make(err, 0, "fetch %s: took longer than %d s", url,
			              SOURCE_FETCH_TIMEOUT_MS / 1000);
		else
			rc = git_fail(err, "fetch %s", url);
	}
	git_remote_free(remote);
	return rc;
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
source_clone(const char *tmp, const char *dir, const char *url, struct err *err)
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
	if (source_fetch(repo, url, err) < 0)
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

int
source_sync(const char *cache_dir, const char *url, struct source_repo **out, struct err *err)
{
	git_repository *repo = NULL;
	char *norm = NULL, *dir = NULL, *tmp = NULL, *lock = NULL;
	int lock_fd = -1, rc = -1;

	*out = NULL;
	if (source_init(err) < 0)
		return -1;
	norm = source_normalize_url(url, err);
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
	if (access(dir, F_OK) != 0) {
		if (source_clone(tmp, dir, norm, err) < 0)
			goto out;
		if (git_repository_open_bare(&repo, dir) < 0) {
			rc = git_fail(err, "open mirror %s", dir);
			goto out;
		}
	} else {
		if (git_repository_open_bare(&repo, dir) < 0) {
			rc = git_fail(err, "open mirror %s", dir);
			goto out;
		}
		if (source_fetch(repo, norm, err) < 0)
			goto out;
	}
	*out = source_repo_new(take_ptr(&repo), norm);
	rc = 0;
out:
	if (lock_fd >= 0)
		close(lock_fd); /* releases the lock */
	git_repository_free(repo);
	free(norm);
	free(dir);
	free(tmp);
	free(lock);
	return rc;
}

int
source_open(const char *cache_dir, const char *url, struct source_repo **out, struct err *err)
{
	git_repository *repo = NULL;
	char *norm, *dir;
	int rc = -1;

	*out = NULL;
	if (source_init(err) < 0)
		return -1;
	norm = source_normalize_url(url, err);
	if (norm == NULL)
		return -1;
	dir = source_mirror_path(cache_dir, norm, ".git");
	if (access(dir, F_OK) != 0) {
		rc = err_make(err, 0, "source %s has not been fetched yet", norm);
		goto out;
	}
	if (git_repository_open_bare(&repo, dir) < 0) {
		rc = git_fail(err, "open mirror %s", dir);
		goto out;
	}
	*out = source_repo_new(repo, norm);
	rc = 0;
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
