/* image_unpack: layers into a root filesystem, with OCI whiteouts.
 *
 * Entries are written under the absolute, symlink-free path of a temporary
 * directory instead of relative to a chdir'd working directory: chdir is
 * process-wide and pulls run on worker threads. That rules out libarchive's
 * ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS (the rewritten names are absolute), so
 * this file reads every name relative to the rootfs (as tar does, stripping a
 * leading '/'), refuses ".." components and any entry or hardlink target whose
 * parent path crosses a symlink, and keeps libarchive's SECURE_NODOTDOT and
 * SECURE_SYMLINKS as a second line. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
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

#define WHITEOUT        ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

/* One layer being unpacked. */
struct layer {
	const char *root;   /* borrowed: absolute, symlink-free */
	const char *digest; /* borrowed, for messages */
	json_t *seen;       /* owned set of the relative paths this layer wrote */
};

/* Normalises an entry name into out ("a/b", "" for the root itself);
 * refuses ".." components. A leading '/' means the rootfs (umoci writes "/"
 * for it; tar and containerd read names the same way). */
static int
clean_path(const char *name, struct buf *out)
{
	const char *p = name;

	buf_reset(out);
	buf_puts(out, "");
	while (*p == '/')
		p++;
	while (*p != '\0') {
		const char *s = p;
		size_t n;

		while (*p != '\0' && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return -1;
		if (n > 0 && !(n == 1 && s[0] == '.')) {
			if (out->len > 0)
				buf_putc(out, '/');
			buf_append(out, s, n);
		}
		while (*p == '/')
			p++;
	}
	return 0;
}

/* Refuses rel when a directory on its way (not rel itself) is a symlink or
 * not a directory: writing there would land outside the rootfs. */
static int
check_parents(const struct layer *l, const char *rel, struct err *err)
{
	struct buf path = BUF_INIT;
	const char *p = rel;
	struct stat st;
	int rc = 0;

	buf_puts(&path, l->root);
	for (;;) {
		const char *slash = strchr(p, '/');

		if (slash == NULL)
			break;
		buf_putc(&path, '/');
		buf_append(&path, p, (size_t)(slash - p));
		if (lstat(path.data, &st) < 0) {
			if (errno == ENOENT)
				break; /* created as a plain directory later */
			rc = err_make(err, errno, "layer %s: %s", l->digest, rel);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			rc = err_make(err, EPERM,
			              "layer %s: %s goes through a symlink (path escape), refused",
			              l->digest, rel);
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc = err_make(err, ENOTDIR, "layer %s: %s: parent is not a directory",
			              l->digest, rel);
			break;
		}
		p = slash + 1;
	}
	buf_free(&path);
	return rc;
}

/* Records rel and its parents as written by this layer. */
static void
mark_seen(struct layer *l, const char *rel)
{
	char *p = xstrdup(rel), *slash;

	json_object_set_new(l->seen, p, json_true());
	while ((slash = strrchr(p, '/')) != NULL) {
		*slash = '\0';
		json_object_set_new(l->seen, p, json_true());
	}
	free(p);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf of path, never following symlinks. */
static int
rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* An opaque directory: removes what lower layers left under rel, keeping
 * what this layer wrote (before or after the marker). */
static int
make_opaque(struct layer *l, const char *rel, struct err *err)
{
	char *dir = rel[0] ? xasprintf("%s/%s", l->root, rel) : xstrdup(l->root);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = 0;

	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(dir);
		return 0;
	}
	d = opendir(dir);
	if (d == NULL) {
		rc = err_make(err, errno, "layer %s: open %s", l->digest, rel);
		goto out;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char *child, *path;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		path = xasprintf("%s/%s", l->root, child);
		if (json_object_get(l->seen, child) == NULL) {
			if (rm_rf(path) < 0)
				rc = err_make(err, errno, "layer %s: remove %s", l->digest, child);
		} else if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = make_opaque(l, child, err);
		}
		free(child);
		free(path);
	}
	closedir(d);
out:
	free(dir);
	return rc;
}

/* Applies the whiteout entry rel (basename starts with ".wh."). */
static int
whiteout(struct layer *l, const char *rel, struct err *err)
{
	const char *slash = strrchr(rel, '/');
	const char *base = slash ? slash + 1 : rel;
	size_t dir_len = slash ? (size_t)(slash - rel) : 0;
	char *dir = xstrndup(rel, dir_len), *path;
	int rc = 0;

	if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
		rc = make_opaque(l, dir, err);
	} else if (base[strlen(WHITEOUT)] == '\0' || strcmp(base + strlen(WHITEOUT), ".") == 0 ||
	           strcmp(base + strlen(WHITEOUT), "..") == 0) {
		rc = err_make(err, EINVAL, "layer %s: bad whiteout %s", l->digest, rel);
	} else {
		path = xasprintf("%s%s%s/%s", l->root, dir_len ? "/" : "", dir,
		                 base + strlen(WHITEOUT));
		if (rm_rf(path) < 0)
			rc = err_make(err, errno, "layer %s: whiteout %s", l->digest, rel);
		free(path);
	}
	free(dir);
	return rc;
}

static int
copy_data(struct archive *in, struct archive *out, struct layer *l, const char *rel,
          struct err *err)
{
	const void *block;
	size_t size;
	la_int64_t offset;
	int r;

	for (;;) {
		r = archive_read_data_block(in, &block, &size, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return err_make(err, 0, "layer %s: %s: %s", l->digest, rel,
			                archive_error_string(in));
		if (archive_write_data_block(out, block, size, offset) < ARCHIVE_WARN)
			return err_make(err, 0, "layer %s: write %s: %s", l->digest, rel,
			                archive_error_string(out));
	}
}

/* Owners shifted into an enclave's id range (0, 0: as they are). */
struct id_shift {
	unsigned base, count;
};

/* Unpacks one layer blob (tar, gzip or zstd) over root. */
static int
unpack_layer(const char *root, const char *blob, const char *digest, const struct id_shift *ids,
             struct err *err)
{
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
	            ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS;
	struct layer l = {root, digest, json_object()};
	struct buf rel = BUF_INIT, link = BUF_INIT;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	char *abs = NULL;
	int r, rc = -1;

	if (in == NULL || out == NULL)
		log_fatal("out of memory (libarchive)");
	/* As root, owners and extended attributes (file capabilities) as the
	 * image has them; xattrs a filesystem refuses are only warnings. */
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR;
	archive_write_disk_set_options(out, flags);
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	if (archive_read_open_filename(in, blob, 1 << 16) != ARCHIVE_OK) {
		err_make(err, 0, "layer %s: %s", digest, archive_error_string(in));
		goto out;
	}
	for (;;) {
		const char *name, *hardlink, *base;

		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			err_make(err, 0, "layer %s: %s", digest, archive_error_string(in));
			goto out;
		}
		name = archive_entry_pathname(e);
		if (name == NULL || clean_path(name, &rel) < 0) {
			err_make(err, EPERM, "layer %s: entry \"%s\" escapes the rootfs, refused",
			         digest, name ? name : "(no name)");
			goto out;
		}
		if (rel.len == 0)
			continue; /* the rootfs itself */
		if (check_parents(&l, rel.data, err) < 0)
			goto out;
		base = strrchr(rel.data, '/') ? strrchr(rel.data, '/') + 1 : rel.data;
		if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0) {
			if (whiteout(&l, rel.data, err) < 0)
				goto out;
			continue;
		}
		if ((archive_entry_filetype(e) == AE_IFCHR ||
		     archive_entry_filetype(e) == AE_IFBLK) &&
		    geteuid() != 0)
			continue; /* device nodes need root; runtimes mount /dev anyway */
		hardlink = archive_entry_hardlink(e);
		if (hardlink != NULL) {
			if (clean_path(hardlink, &link) < 0 || link.len == 0) {
				err_make(
				    err, EPERM,
				    "layer %s: %s links to \"%s\", outside the rootfs, refused",
				    digest, rel.data, hardlink);
				goto out;
			}
			if (check_parents(&l, link.data, err) < 0)
				goto out;
			free(abs);
			abs = xasprintf("%s/%s", root, link.data);
			archive_entry_set_hardlink(e, abs);
		}
		if (ids->count > 0) {
			la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

			if (uid < 0 || gid < 0 || uid >= ids->count || gid >= ids->count) {
				err_make(err, ERANGE,
				         "layer %s: %s is owned by %lld:%lld, outside the "
				         "enclave's ids 0-%u",
				         digest, rel.data, (long long)uid, (long long)gid,
				         ids->count - 1);
				goto out;
			}
			archive_entry_set_uid(e, ids->base + uid);
			archive_entry_set_gid(e, ids->base + gid);
		}
		mark_seen(&l, rel.data);
		free(abs);
		abs = xasprintf("%s/%s", root, rel.data);
		archive_entry_set_pathname(e, abs);
		r = archive_write_header(out, e);
		if (r < ARCHIVE_WARN) {
			err_make(err, 0, "layer %s: %s: %s", digest, rel.data,
			         archive_error_string(out));
			goto out;
		}
		if (archive_entry_size(e) > 0 && copy_data(in, out, &l, rel.data, err) < 0)
			goto out;
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			err_make(err, 0, "layer %s: %s: %s", digest, rel.data,
			         archive_error_string(out));
			goto out;
		}
	}
	rc = 0;
out:
	/* Closing applies the deferred directory modes and times. */
	if (archive_write_close(out) < ARCHIVE_WARN && rc == 0)
		rc = err_make(err, 0, "layer %s: %s", digest, archive_error_string(out));
	archive_write_free(out);
	archive_read_free(in);
	json_decref(l.seen);
	buf_free(&rel);
	buf_free(&link);
	free(abs);
	return rc;
}

static int
unpack_image(struct image_cache *cache, const struct image *img, const char *rootfs_dir,
             const struct id_shift *ids, struct err *err)
{
	char *copy = xstrdup(rootfs_dir), *parent = NULL, *tmp = NULL;
	char *const *layer;
	struct stat st;
	int rc = -1, locked = 0;

	if (lstat(rootfs_dir, &st) == 0) {
		rc = err_make(err, EEXIST, "unpack %s: already exists", rootfs_dir);
		goto out;
	}
	parent = realpath(dirname(copy), NULL);
	if (parent == NULL) {
		rc = err_make(err, errno, "unpack %s: parent directory", rootfs_dir);
		goto out;
	}
	free(copy);
	copy = xstrdup(rootfs_dir);
	tmp = xasprintf("%s/.%s.unpack-XXXXXX", parent, basename(copy));
	if (mkdtemp(tmp) == NULL) {
		rc = err_make(err, errno, "unpack: create %s", tmp);
		free(take_ptr(&tmp));
		goto out;
	}
	if (chmod(tmp, 0755) < 0 || (ids->count > 0 && chown(tmp, ids->base, ids->base) < 0)) {
		rc = err_make(err, errno, "unpack: chmod/chown %s", tmp);
		goto out;
	}
	image_cache_lock_shared(cache);
	locked = 1;
	for (layer = img->layers; layer != NULL && *layer != NULL; layer++) {
		char *blob = image_cache_blob_path(cache, *layer);

		if (blob == NULL) {
			rc = err_make(err, EINVAL, "unpack: bad layer digest %s", *layer);
			goto out;
		}
		if (access(blob, R_OK) < 0) {
			rc = err_make(err, errno, "unpack: layer %s not in the cache", *layer);
			free(blob);
			goto out;
		}
		rc = unpack_layer(tmp, blob, *layer, ids, err);
		free(blob);
		if (rc < 0)
			goto out;
	}
	image_cache_unlock(cache);
	locked = 0;
	if (rename(tmp, rootfs_dir) < 0) {
		rc = err_make(err, errno, "unpack: rename to %s", rootfs_dir);
		goto out;
	}
	free(take_ptr(&tmp));
	rc = 0;
out:
	if (locked)
		image_cache_unlock(cache);
	if (rc < 0)
		err_wrap(err, "image %s", img->ref ? img->ref : "?");
	if (tmp != NULL && rm_rf(tmp) < 0)
		log_warn("unpack: could not remove %s: %s", tmp, strerror(errno));
	free(tmp);
	free(copy);
	free(parent);
	return rc;
}

int
image_unpack(struct image_cache *cache, const struct image *img, const char *rootfs_dir,
             struct err *err)
{
	struct id_shift none = {0, 0};

	return unpack_image(cache, img, rootfs_dir, &none, err);
}

int
image_unpack_shifted(struct image_cache *cache, const struct image *img, const char *rootfs_dir,
                     unsigned id_base, unsigned id_count, struct err *err)
{
	struct id_shift ids = {id_base, id_count};

	if (id_count == 0 || geteuid() != 0)
		return err_make(err, EINVAL, "unpack %s: shifted owners need root and a range",
		                rootfs_dir);
	return unpack_image(cache, img, rootfs_dir, &ids, err);
}
