/* image: references, the blob cache, pulls and garbage collection.
 *
 * The cache is a directory:
 *   blobs/sha256/<hex>   verified blobs (manifests, indexes, configs, layers)
 *   tmp/                 downloads in progress, renamed into blobs/ once verified
 * A blob enters blobs/ only by rename after its digest matched, so its name is
 * trusted afterwards (with a size check against the manifest). Pulls and
 * unpacks hold the cache's lock shared, garbage collection exclusively. */
#include "image/image.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "image/image-internal.h"
#include "image/registry.h"

#define BLOB_JSON_MAX (4u << 20)

struct image_cache {
	char *dir;                 /* owned */
	char *blobs;               /* owned, <dir>/blobs/sha256 */
	char *tmp;                 /* owned, <dir>/tmp */
	char *private;             /* owned, <dir>/private: manifests a registry guarded */
	pthread_rwlock_t lock;     /* pulls and unpacks shared, gc exclusive */
	unsigned long tmp_counter; /* atomic: unique temporary names */
	uint64_t max_bytes;        /* unpack caps, set before any unpack */
	uint64_t max_entries;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		log_fatal("curl_global_init failed");
}

static int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

int
image_digest_valid(const char *d)
{
	return d != NULL && strncmp(d, "sha256:", 7) == 0 && strlen(d) == 71 &&
	       is_lower_hex(d + 7, 64);
}

/* A repository path: components of [a-z0-9] joined by '.', '_', '-'. */
static int
name_valid(const char *s)
{
	const char *p;
	int prev_alnum = 0;

	if (*s == '\0' || strlen(s) > 255)
		return 0;
	for (p = s; *p != '\0'; p++) {
		int alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');

		if (alnum)
			prev_alnum = 1;
		else if (*p == '.' || *p == '_' || *p == '-' || *p == '/') {
			if (!prev_alnum || p[1] == '\0')
				return 0;
			prev_alnum = *p == '_' && p[1] == '_' ? 1 : 0; /* "__" is one separator */
			if (*p == '_' && p[1] == '_')
				p++;
		} else
			return 0;
	}
	return prev_alnum;
}

static int
tag_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

static int
host_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > 255)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(".-:[]", *s) != NULL))
			return 0;
	return 1;
}

void
image_ref_clear(struct image_ref *r)
{
	free(r->host);
	free(r->name);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof *r);
}

int
image_ref_parse(const char *ref, struct image_ref *out, struct err *err)
{
	struct image_ref r = {0};
	const char *at, *slash, *last_slash, *colon, *path;
	char *first = NULL, *rest = NULL;

	memset(out, 0, sizeof *out);
	if (ref == NULL || *ref == '\0')
		return err_make(err, EINVAL, "empty image reference");
	at = strchr(ref, '@');
	if (at != NULL) {
		if (!image_digest_valid(at + 1))
			return err_make(err, EINVAL, "image %s: digest is not sha256:<64 hex>",
			                ref);
		r.digest = xstrdup(at + 1);
		rest = xstrndup(ref, (size_t)(at - ref));
	} else {
		rest = xstrdup(ref);
	}
	slash = strchr(rest, '/');
	if (slash != NULL) {
		first = xstrndup(rest, (size_t)(slash - rest));
		if (strchr(first, '.') == NULL && strchr(first, ':') == NULL &&
		    strcmp(first, "localhost") != 0)
			free(take_ptr(&first));
	}
	if (first == NULL) {
		err_make(err, EINVAL, "image %s: no registry host (write host[:port]/name)", ref);
		goto fail;
	}
	if (!host_valid(first)) {
		err_make(err, EINVAL, "image %s: bad registry host \"%s\"", ref, first);
		goto fail;
	}
	r.host = take_ptr(&first);
	path = slash + 1;
	last_slash = strrchr(path, '/');
	colon = strchr(last_slash ? last_slash : path, ':');
	if (colon != NULL) {
		r.tag = xstrdup(colon + 1);
		r.name = xstrndup(path, (size_t)(colon - path));
		if (!tag_valid(r.tag)) {
			err_make(err, EINVAL, "image %s: bad tag \"%s\"", ref, r.tag);
			goto fail;
		}
	} else {
		r.name = xstrdup(path);
	}
	if (!name_valid(r.name)) {
		err_make(err, EINVAL, "image %s: bad repository name \"%s\"", ref, r.name);
		goto fail;
	}
	free(rest);
	*out = r;
	return 0;
fail:
	free(first);
	free(rest);
	image_ref_clear(&r);
	return -1;
}

int
image_cache_open(const char *dir, struct image_cache **out, struct err *err)
{
	struct image_cache *c;
	DIR *d;
	struct dirent *de;

	pthread_once(&curl_once, curl_init_once);
	c = xcalloc(1, sizeof *c);
	c->dir = xstrdup(dir);
	c->blobs = xasprintf("%s/blobs/sha256", dir);
	c->tmp = xasprintf("%s/tmp", dir);
	c->private = xasprintf("%s/private", dir);
	if (mkdir_p(c->blobs, 0755, err) < 0 || mkdir_p(c->tmp, 0755, err) < 0 ||
	    mkdir_p(c->private, 0700, err) < 0) {
		err_wrap(err, "image cache %s", dir);
		image_cache_close(c);
		return -1;
	}
	/* Downloads an earlier run left unfinished. */
	d = opendir(c->tmp);
	if (d == NULL) {
		err_make(err, errno, "image cache: open %s", c->tmp);
		image_cache_close(c);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	if (pthread_rwlock_init(&c->lock, NULL) != 0)
		log_fatal("pthread_rwlock_init failed");
	image_cache_set_unpack_caps(c, 0, 0);
	*out = c;
	return 0;
}

void
image_cache_close(struct image_cache *cache)
{
	if (cache == NULL)
		return;
	if (cache->blobs != NULL && cache->tmp != NULL)
		pthread_rwlock_destroy(&cache->lock);
	free(cache->dir);
	free(cache->blobs);
	free(cache->tmp);
	free(cache->private);
	free(cache);
}

void
image_cache_set_unpack_caps(struct image_cache *cache, uint64_t max_bytes, uint64_t max_entries)
{
	cache->max_bytes = max_bytes > 0 ? max_bytes : IMAGE_MAX_BYTES_DEFAULT;
	cache->max_entries = max_entries > 0 ? max_entries : IMAGE_MAX_ENTRIES_DEFAULT;
}

void
image_cache_unpack_caps(const struct image_cache *cache, uint64_t *max_bytes, uint64_t *max_entries)
{
	*max_bytes = cache->max_bytes;
	*max_entries = cache->max_entries;
}

void
image_cache_lock_shared(struct image_cache *cache)
{
	pthread_rwlock_rdlock(&cache->lock);
}

void
image_cache_unlock(struct image_cache *cache)
{
	pthread_rwlock_unlock(&cache->lock);
}

char *
image_cache_blob_path(struct image_cache *cache, const char *digest)
{
	if (!image_digest_valid(digest))
		return NULL;
	return xasprintf("%s/%s", cache->blobs, digest + 7);
}

/* A fresh temporary path for digest in the cache's tmp dir. */
static char *
cache_tmp_path(struct image_cache *cache, const char *digest)
{
	unsigned long n = __atomic_fetch_add(&cache->tmp_counter, 1, __ATOMIC_RELAXED);

	return xasprintf("%s/%.16s.%d.%lu", cache->tmp, digest + 7, (int)getpid(), n);
}

/* Whether the blob of d is cached with the size the manifest gives. */
static int
cache_has(struct image_cache *cache, const struct image_desc *d)
{
	char *path = image_cache_blob_path(cache, d->digest);
	struct stat st;
	int ok = path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	         (uint64_t)st.st_size == d->size;

	free(path);
	return ok;
}

/* Stores data, already verified to hash to digest, as a blob. */
static int
cache_put(struct image_cache *cache, const char *digest, const void *data, size_t len,
          struct err *err)
{
	char *tmp = cache_tmp_path(cache, digest), *path = image_cache_blob_path(cache, digest);
	int rc = file_write_rename(tmp, path, data, len, O_EXCL, 0644, 0, err);

	free(tmp);
	free(path);
	return rc;
}

/* Reads the cached blob of digest (a JSON document, at most 4 MiB). */
static int
cache_read(struct image_cache *cache, const char *digest, char **data, size_t *len, struct err *err)
{
	char *path = image_cache_blob_path(cache, digest);
	int rc;

	if (path == NULL)
		return err_make(err, EINVAL, "bad digest %s", digest);
	rc = file_read_all(path, BLOB_JSON_MAX, data, len, err);
	free(path);
	return rc;
}

/* The marker of a manifest whose registry asked for credentials (owned),
 * or NULL for a malformed digest. */
static char *
private_marker(struct image_cache *cache, const char *digest)
{
	return image_digest_valid(digest) ? xasprintf("%s/%s", cache->private, digest + 7) : NULL;
}

/* Whether the manifest of digest came from a registry that asked for
 * credentials: then a pull asks that registry again, with its own
 * credentials, rather than trusting the cache (which another org's private
 * pull may have filled). */
static int
cache_is_private(struct image_cache *cache, const char *digest)
{
	char *path = private_marker(cache, digest);
	int yes = path != NULL && access(path, F_OK) == 0;

	free(path);
	return yes;
}

static int
cache_mark_private(struct image_cache *cache, const char *digest, struct err *err)
{
	char *path = private_marker(cache, digest);
	int fd = path != NULL ? open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
	int rc = 0;

	if (fd < 0 || fsync(fd) < 0)
		rc = err_make(err, errno, "marking manifest %s private", digest);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Where manifests come from: the registry (reg), or only the cache (NULL). */
struct source {
	struct image_cache *cache;
	struct registry *reg; /* borrowed or NULL (offline) */
};

/* Fetches the manifest or index named by reference (a digest or a tag) and,
 * when digest is known, verifies it; stores it in the cache once it parsed.
 * A digest already cached is not fetched again. On success *doc is the
 * parsed document (the caller's, image_manifest_clear) and *got_digest
 * (owned) its digest. */
static int
manifest_get(struct source *src, const char *reference, const char *digest,
             struct image_manifest *doc, char **got_digest, struct err *err)
{
	struct buf body = BUF_INIT;
	char *media_type = NULL, *data = NULL, hex[65];
	const char *what = digest ? digest : reference;
	size_t len = 0;
	int rc = -1, fetched = 0;

	memset(doc, 0, sizeof *doc);
	if (digest != NULL && !(src->reg != NULL && cache_is_private(src->cache, digest)) &&
	    cache_read(src->cache, digest, &data, &len, err) == 0) {
		body.data = take_ptr(&data);
		body.len = len;
	} else if (src->reg == NULL) {
		if (digest == NULL)
			err_make(err, ENOENT, "manifest %s: not cached", reference);
		err_wrap(err, "manifest %s", what);
		goto out;
	} else {
		err_clear(err);
		if (registry_get_manifest(src->reg, digest ? digest : reference, &body, &media_type,
		                          err) < 0) {
			err_wrap(err, "manifest %s", what);
			goto out;
		}
		sha256_hex(body.data ? body.data : "", body.len, hex);
		if (digest != NULL && strcmp(hex, digest + 7) != 0) {
			err_make(err, 0, "manifest %s: digest mismatch (got sha256:%s), refused",
			         digest, hex);
			goto out;
		}
		*got_digest = xasprintf("sha256:%s", hex);
		fetched = 1;
		/* Marked before it is cached: never in the cache unguarded. */
		if (registry_authenticated(src->reg) &&
		    cache_mark_private(src->cache, *got_digest, err) < 0)
			goto out;
	}
	if (*got_digest == NULL)
		*got_digest = xstrdup(digest);
	if (image_manifest_parse(body.data, body.len, media_type, what, doc, err) < 0)
		goto out;
	/* Cached once it proved to be a manifest, by the digest it hashes to. */
	if (fetched &&
	    cache_put(src->cache, *got_digest, body.data ? body.data : "", body.len, err) < 0) {
		err_wrap(err, "caching manifest %s", *got_digest);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		image_manifest_clear(doc);
		free(take_ptr(got_digest));
	}
	free(media_type);
	buf_free(&body);
	return rc;
}

/* Counts bytes for the caller's progress callback, reporting each percent. */
struct progress {
	image_progress_fn fn; /* may be NULL */
	void *arg;
	uint64_t done, total;
	int last_pct;
	int cancelled; /* fn asked to stop */
};

/* Reports a new percent; returns non-zero when the caller cancels. */
static int
progress_report(struct progress *p)
{
	int pct = p->total ? (int)(p->done * 100 / p->total) : 100;

	if (p->fn != NULL && pct != p->last_pct) {
		p->last_pct = pct;
		if (p->fn(p->done, p->total, p->arg) != 0)
			p->cancelled = 1;
	}
	return p->cancelled;
}

static int
on_bytes(int64_t delta, void *arg)
{
	struct progress *p = arg;

	p->done += (uint64_t)delta; /* wraps back down when delta < 0 */
	return progress_report(p);
}

void
image_free(struct image *img)
{
	if (img == NULL)
		return;
	free(img->ref);
	free(img->manifest_digest);
	free(img->config_digest);
	strv_free(img->layers);
	image_config_clear(&img->config);
	free(img);
}

static int
host_insecure(const struct image_settings *s, const char *host)
{
	static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]", "::1"};
	const char *colon = strrchr(host, ':');
	size_t bare = strlen(host), i;
	char *const *h;

	if (host[0] == '[') /* "[::1]:5000" */
		colon = strstr(host, "]:") ? strstr(host, "]:") + 1 : NULL;
	else if (colon != NULL && strchr(host, ':') != colon)
		colon = NULL;
	if (colon != NULL)
		bare = (size_t)(colon - host);
	for (i = 0; i < ARRAY_LEN(loopback); i++)
		if (strlen(loopback[i]) == bare && strncmp(host, loopback[i], bare) == 0)
			return 1;
	for (h = s ? s->insecure_hosts : NULL; h != NULL && *h != NULL; h++)
		if (strcmp(*h, host) == 0 || (strlen(*h) == bare && strncmp(*h, host, bare) == 0))
			return 1;
	return 0;
}

/* The pull and the load: resolves ref through src, gets the blobs it misses
 * (offline: fails on them), and returns the image. */
static int
image_resolve(struct image_cache *cache, struct registry *reg, const char *ref,
              image_progress_fn progress, void *arg, struct image **out, struct err *err)
{
	struct source src = {cache, reg};
	struct image_ref ir = {0};
	struct progress prog = {progress, arg, 0, 0, -1, 0};
	struct registry_blob *fetch = NULL;
	struct image_manifest index = {0}, doc = {0};
	const struct image_desc *layers;
	struct image_desc config_desc;
	struct image *img = NULL;
	char *digest = NULL, *index_digest = NULL, *config = NULL, **tmp_paths = NULL,
	     **final_paths = NULL;
	size_t n_layers = 0, n_fetch = 0, i, len;
	int rc = -1;

	*out = NULL;
	if (image_ref_parse(ref, &ir, err) < 0)
		return -1;
	if (manifest_get(&src, ir.tag ? ir.tag : "latest", ir.digest, &doc, &digest, err) < 0)
		goto out;
	if (doc.is_index) {
		index = doc;
		memset(&doc, 0, sizeof doc);
		index_digest = take_ptr(&digest);
		/* index.pick borrows from index.root, kept until the end. */
		if (manifest_get(&src, index.pick.digest, index.pick.digest, &doc, &digest, err) <
		    0)
			goto out;
		if (doc.is_index) {
			err_make(err, 0, "index %s: names another index", index_digest);
			goto out;
		}
	}
	config_desc = doc.config;
	layers = doc.layers;
	n_layers = doc.n_layers;

	/* The blobs: the config first, then the layers, each once. */
	fetch = xcalloc(n_layers + 1, sizeof *fetch);
	tmp_paths = xcalloc(n_layers + 2, sizeof *tmp_paths);
	final_paths = xcalloc(n_layers + 2, sizeof *final_paths);
	for (i = 0; i <= n_layers; i++) {
		const struct image_desc *d = i == 0 ? &config_desc : &layers[i - 1];
		size_t j;

		for (j = 0; j < i; j++) /* a layer listed twice counts once */
			if (strcmp(j == 0 ? config_desc.digest : layers[j - 1].digest, d->digest) ==
			    0)
				break;
		if (j < i)
			continue;
		prog.total += d->size;
		if (cache_has(cache, d)) {
			prog.done += d->size;
			continue;
		}
		if (reg == NULL) {
			err_make(err, ENOENT, "blob %s: not cached", d->digest);
			goto out;
		}
		tmp_paths[n_fetch] = cache_tmp_path(cache, d->digest);
		final_paths[n_fetch] = image_cache_blob_path(cache, d->digest);
		fetch[n_fetch].digest = d->digest;
		fetch[n_fetch].size = d->size;
		fetch[n_fetch].tmp_path = tmp_paths[n_fetch];
		fetch[n_fetch].final_path = final_paths[n_fetch];
		n_fetch++;
	}
	if (progress_report(&prog) != 0) {
		err_make(err, ECANCELED, "pull cancelled");
		goto out;
	}
	if (n_fetch > 0 && registry_fetch_blobs(reg, fetch, n_fetch, 0, on_bytes, &prog, err) < 0)
		goto out;

	if (cache_read(cache, config_desc.digest, &config, &len, err) < 0)
		goto out;
	img = xcalloc(1, sizeof *img);
	if (image_config_parse(config, len, &img->config, err) < 0) {
		err_wrap(err, "config %s", config_desc.digest);
		goto out;
	}
	img->ref = xstrdup(ref);
	img->manifest_digest = take_ptr(&digest);
	img->config_digest = xstrdup(config_desc.digest);
	for (i = 0; i < n_layers; i++)
		img->layers = strv_push(img->layers, layers[i].digest);
	if (img->layers == NULL) /* an image of no layers: an empty strv */
		img->layers = xcalloc(1, sizeof *img->layers);
	*out = take_ptr(&img);
	rc = 0;
out:
	if (rc < 0)
		err_wrap(err, "image %s", ref);
	image_free(img);
	image_manifest_clear(&doc);
	image_manifest_clear(&index);
	strv_free(tmp_paths);
	strv_free(final_paths);
	free(fetch);
	free(config);
	free(digest);
	free(index_digest);
	image_ref_clear(&ir);
	return rc;
}

int
image_pull(struct image_cache *cache, const struct image_settings *settings, const char *ref,
           image_progress_fn progress, void *arg, struct image **out, struct err *err)
{
	const struct image_registry_auth *auth = NULL;
	struct registry_limits lim = {0};
	struct image_ref ir;
	struct registry *reg;
	size_t i;
	int rc;

	*out = NULL;
	if (image_ref_parse(ref, &ir, err) < 0)
		return -1;
	for (i = 0; settings != NULL && i < settings->n_auths; i++)
		if (settings->auths[i].host != NULL &&
		    strcmp(settings->auths[i].host, ir.host) == 0)
			auth = &settings->auths[i];
	if (settings != NULL) {
		lim.connect_s = settings->connect_s;
		lim.idle_s = settings->idle_s;
		lim.timeout_ms = settings->timeout_ms;
		lim.cancel = settings->cancel;
	}
	reg = registry_open(ir.host, ir.name, host_insecure(settings, ir.host),
	                    auth ? auth->username : NULL, auth ? auth->password : NULL, &lim);
	pthread_rwlock_rdlock(&cache->lock);
	rc = image_resolve(cache, reg, ref, progress, arg, out, err);
	pthread_rwlock_unlock(&cache->lock);
	registry_close(reg);
	image_ref_clear(&ir);
	return rc;
}

int
image_load(struct image_cache *cache, const char *ref, struct image **out, struct err *err)
{
	int rc;

	pthread_rwlock_rdlock(&cache->lock);
	rc = image_resolve(cache, NULL, ref, NULL, NULL, out, err);
	pthread_rwlock_unlock(&cache->lock);
	return rc;
}

/* Marks digest and, when it is a cached manifest or index, what it names. */
static void
gc_mark(struct image_cache *cache, const char *digest, char ***keep, int depth)
{
	json_t *root, *list, *m;
	struct err err = ERR_INIT;
	char *data = NULL;
	size_t len, i;

	if (!image_digest_valid(digest) || strv_contains(*keep, digest + 7))
		return;
	*keep = strv_push(*keep, digest + 7);
	if (depth > 1 || cache_read(cache, digest, &data, &len, &err) < 0)
		return; /* a layer (too big to be JSON), or absent */
	root = json_loadb(data, len, 0, NULL);
	free(data);
	if (json_is_object(root)) {
		gc_mark(
		    cache,
		    json_string_value(json_object_get(json_object_get(root, "config"), "digest")),
		    keep, 2);
		list = json_object_get(root, "layers");
		for (i = 0; i < json_array_size(list) && (m = json_array_get(list, i)) != NULL; i++)
			gc_mark(cache, json_string_value(json_object_get(m, "digest")), keep, 2);
		list = json_object_get(root, "manifests");
		for (i = 0; i < json_array_size(list) && (m = json_array_get(list, i)) != NULL; i++)
			gc_mark(cache, json_string_value(json_object_get(m, "digest")), keep,
			        depth + 1);
	}
	json_decref(root);
}

int
image_cache_gc(struct image_cache *cache, char *const *keep_refs, size_t *removed, struct err *err)
{
	char **keep = NULL, *const * r;
	size_t count = 0;
	struct dirent *de;
	DIR *d = NULL;
	int rc = -1;

	/* Every ref must carry a digest: GC never guesses what a tag meant. */
	for (r = keep_refs; r != NULL && *r != NULL; r++) {
		const char *at = strchr(*r, '@');

		if (!image_digest_valid(at ? at + 1 : *r))
			return err_make(err, EINVAL, "image gc: %s has no sha256 digest", *r);
	}
	pthread_rwlock_wrlock(&cache->lock);
	for (r = keep_refs; r != NULL && *r != NULL; r++) {
		const char *at = strchr(*r, '@');

		gc_mark(cache, at ? at + 1 : *r, &keep, 0);
	}
	d = opendir(cache->blobs);
	if (d == NULL) {
		rc = err_make(err, errno, "image gc: open %s", cache->blobs);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strv_contains(keep, de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			rc = err_make(err, errno, "image gc: remove %s/%s", cache->blobs,
			              de->d_name);
			goto out;
		}
		count++;
	}
	rc = 0;
out:
	if (d != NULL)
		closedir(d);
	pthread_rwlock_unlock(&cache->lock);
	strv_free(keep);
	if (removed != NULL)
		*removed = count;
	return rc;
}
