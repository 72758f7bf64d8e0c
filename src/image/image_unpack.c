/* image_unpack: layers into a root filesystem, with OCI whiteouts.
 *
 * Entries are written under the absolute, symlink-free path of a temporary
 * directory instead of relative to a chdir'd working directory: chdir is
 * process-wide and pulls run on worker threads. That rules out libarchive's
 * ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS (the rewritten names are absolute), so
 * this file reads every name relative to the rootfs (as tar does, stripping a
 * leading '/'), refuses ".." components and any entry or hardlink target whose
 * parent path crosses a symlink, and keeps libarchive's SECURE_NODOTDOT and
 * SECURE_SYMLINKS as a second line.
 *
 * A layer is hostile input. Only the compressions OCI defines are read (gzip,
 * zstd, none), all inside libarchive: its other filters would run programs
 * (lrzip, grzip, lzop) found on PATH. Every entry counts against the image's
 * caps of bytes and entries at its header, before its data is decompressed,
 * so a small blob that expands without bound stops at the cap. Character and
 * block devices are not created: the runtime gives a container its /dev, and a
 * device node in an image could reach the host's hardware through the rootfs.
 * FIFOs are created, as containerd and docker do (some images ship them, and
 * they need no privilege); berth itself never opens a file of a rootfs
 * without O_NONBLOCK and a check that it is a regular file. */
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

/* What one image's unpacking has used of its caps, over all its layers. */
struct budget {
	uint64_t max_bytes, max_entries;
	uint64_t bytes, entries;
	json_t *devices; /* owned set of the device nodes not created (relative paths) */
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

/* "1 GiB" for whole binary units, else "1500000 bytes". */
static void
format_size(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};

	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		unsigned shift = 10 * (unsigned)(ARRAY_LEN(units) - i);

		if (n >= (1ull << shift) && n % (1ull << shift) == 0) {
			snprintf(out, len, "%llu %s", (unsigned long long)(n >> shift), units[i]);
			return;
		}
	}
	snprintf(out, len, "%llu bytes", (unsigned long long)n);
}

static int
past_byte_cap(const struct layer *l, const struct budget *b, const char *rel, struct err *err)
{
	char cap[32];

	format_size(b->max_bytes, cap, sizeof cap);
	return err_make(err, EFBIG, "layer %s unpacks past the %s cap (--image-max-bytes) at %s",
	                l->digest, cap, rel);
}

/* Counts entry e against the image's caps, before anything of it is read
 * or written: its declared size is what its data may reach. */
static int
budget_take(struct budget *b, const struct layer *l, struct archive_entry *e, const char *name,
            struct err *err)
{
	la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;

	if (++b->entries > b->max_entries)
		return err_make(err, EMFILE,
		                "layer %s unpacks past the %llu-entry cap (--image-max-entries)",
		                l->digest, (unsigned long long)b->max_entries);
	if (size < 0)
		return err_make(err, EINVAL, "layer %s: %s has a negative size", l->digest, name);
	if ((uint64_t)size > b->max_bytes - b->bytes)
		return past_byte_cap(l, b, name, err);
	b->bytes += (uint64_t)size;
	return 0;
}

/* Copies the data of the current entry, which declared size bytes (counted
 * by budget_take()): a block past them is refused as it streams. */
static int
copy_data(struct archive *in, struct archive *out, struct layer *l, const struct budget *b,
          const char *rel, la_int64_t declared, struct err *err)
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
		if (offset < 0 || (uint64_t)offset > (uint64_t)declared ||
		    size > (uint64_t)(declared - offset))
			return past_byte_cap(l, b, rel, err);
		/* A failed or short write (the disk full) is only ARCHIVE_WARN to
		 * libarchive, yet the file lacks what was not written. */
		if (archive_write_data_block(out, block, size, offset) < ARCHIVE_OK)
			return err_make(err, archive_errno(out), "layer %s: write %s: %s",
			                l->digest, rel, archive_error_string(out));
	}
}

/* The compressions a layer may not use (OCI has gzip and zstd), by magic. */
static const char *
foreign_compression(const char *blob)
{
	static const struct {
		const char *name, *magic;
		size_t len;
	} magics[] = {
	    {"bzip2", "BZh", 3},
	    {"xz",
	     "\xfd"
	     "7zXZ\0",
	     6},
	    {"lz4", "\x04\x22\x4d\x18", 4},
	    {"lzip", "LZIP", 4},
	    {"lrzip", "LRZI", 4},
	    {"lzop", "\x89LZO\0", 5},
	    {"grzip", "GRZipII", 7},
	    {"compress (.Z)", "\x1f\x9d", 2},
	    {"compress (.Z)", "\x1f\xa0", 2},
	};
	unsigned char head[264] = {0};
	ssize_t n = 0;
	int fd = open(blob, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = pread(fd, head, sizeof head, 0);
		close(fd);
	}
	/* A tar whose first name happens to start like a magic is a tar. */
	if (n >= 262 && memcmp(head + 257, "ustar", 5) == 0)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(magics); i++)
		if (n >= (ssize_t)magics[i].len &&
		    memcmp(head, magics[i].magic, magics[i].len) == 0)
			return magics[i].name;
	return NULL;
}

/* Owners shifted into an enclave's id range (0, 0: as they are). */
struct id_shift {
	unsigned base, count;
};

/* Unpacks one layer blob (tar, gzip or zstd) over root, within budget. */
static int
unpack_layer(const char *root, const char *blob, const char *digest, const struct id_shift *ids,
             struct budget *budget, struct err *err)
{
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
	            ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS;
	struct layer l = {root, digest, json_object()};
	struct buf rel = BUF_INIT, link = BUF_INIT;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	const char *foreign;
	char *abs = NULL;
	unsigned devices = 0;
	int r, rc = -1;

	if (in == NULL || out == NULL)
		log_fatal("out of memory (libarchive)");
	/* As root, owners and extended attributes (file capabilities) as the
	 * image has them; xattrs a filesystem refuses are only warnings. */
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR;
	archive_write_disk_set_options(out, flags);
	foreign = foreign_compression(blob);
	if (foreign != NULL) {
		err_make(err, EINVAL,
		         "layer %s is compressed with %s: only gzip, zstd and uncompressed tar "
		         "layers (the OCI media types) are unpacked, refused",
		         digest, foreign);
		goto out;
	}
	/* Built in or not at all: ARCHIVE_WARN means an external program. */
	if (archive_read_support_filter_gzip(in) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(in) != ARCHIVE_OK) {
		err_make(err, ENOTSUP,
		         "layer %s: this libarchive has no built-in gzip or zstd (berth runs no "
		         "decompressor program)",
		         digest);
		goto out;
	}
	archive_read_support_format_tar(in);
	if (archive_read_open_filename(in, blob, 1 << 16) != ARCHIVE_OK) {
		err_make(err, 0, "layer %s: %s (a layer is a tar, gzip or zstd stream)", digest,
		         archive_error_string(in));
		goto out;
	}
	for (;;) {
		const char *name, *hardlink, *base;
		int type;

		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			err_make(err, 0, "layer %s: %s (a layer is a tar, gzip or zstd stream)",
			         digest, archive_error_string(in));
			goto out;
		}
		name = archive_entry_pathname(e);
		if (name == NULL || clean_path(name, &rel) < 0) {
			err_make(err, EPERM, "layer %s: entry \"%s\" escapes the rootfs, refused",
			         digest, name ? name : "(no name)");
			goto out;
		}
		/* Every entry counts, skipped ones too: skipping decompresses. */
		if (budget_take(budget, &l, e, rel.len ? rel.data : "/", err) < 0)
			goto out;
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
		}
		type = archive_entry_filetype(e);
		if (type == AE_IFCHR || type == AE_IFBLK ||
		    (hardlink != NULL && json_object_get(budget->devices, link.data) != NULL)) {
			/* The entry still replaces what a lower layer had there. */
			free(abs);
			abs = xasprintf("%s/%s", root, rel.data);
			if (unlink(abs) < 0 && errno != ENOENT && errno != EISDIR) {
				err_make(err, errno, "layer %s: replace %s", digest, rel.data);
				goto out;
			}
			json_object_set_new(budget->devices, rel.data, json_true());
			devices++;
			continue;
		}
		json_object_del(budget->devices, rel.data);
		if (hardlink != NULL) {
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
		if (archive_entry_size(e) > 0 &&
		    copy_data(in, out, &l, budget, rel.data, archive_entry_size(e), err) < 0)
			goto out;
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			err_make(err, 0, "layer %s: %s: %s", digest, rel.data,
			         archive_error_string(out));
			goto out;
		}
	}
	if (devices > 0)
		log_info("layer %s: %u device node(s) not created (the runtime provides /dev)",
		         digest, devices);
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
	struct budget budget = {.devices = json_object()};
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
	image_cache_unpack_caps(cache, &budget.max_bytes, &budget.max_entries);
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
		rc = unpack_layer(tmp, blob, *layer, ids, &budget, err);
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
	json_decref(budget.devices);
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
