/* Unit tests of src/image without a registry: references, image configs, and
 * a cache filled by hand (load, unpack with whiteouts and escapes, gc). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/util.h"
#include "image/image-internal.h"
#include "image/image.h"

static void
test_ref_parse(void **state)
{
	static const char d[] =
	    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const struct {
		const char *ref, *host, *name, *tag;
		int with_digest;
	} ok[] = {
	    {"127.0.0.1:5000/hello:v1", "127.0.0.1:5000", "hello", "v1", 0},
	    {"localhost/team/app", "localhost", "team/app", NULL, 0},
	    {"registry.example.com/a/b/c:1.2.3-rc_1", "registry.example.com", "a/b/c", "1.2.3-rc_1",
	     0},
	    {"ghcr.io/x/y__z:latest@", "ghcr.io", "x/y__z", "latest", 1},
	    {"localhost:5000/app@", "localhost:5000", "app", NULL, 1},
	    {"[::1]:5000/app:v2@", "[::1]:5000", "app", "v2", 1},
	};
	static const struct {
		const char *ref, *msg;
	} bad[] = {
	    {"", "empty"},
	    {"busybox", "no registry host"},
	    {"library/busybox:1", "no registry host"},
	    {"127.0.0.1:5000/Upper", "bad repository name"},
	    {"127.0.0.1:5000/a//b", "bad repository name"},
	    {"127.0.0.1:5000/a-", "bad repository name"},
	    {"127.0.0.1:5000/a:", "bad tag"},
	    {"127.0.0.1:5000/a:b:c", "bad tag"},
	    {"127.0.0.1:5000/a@sha256:00", "digest"},
	    {"127.0.0.1:5000/a@sha512:00", "digest"},
	    {"127.0.0.1:5000/", "bad repository name"},
	    {"bad!.host/a", "bad registry host"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(ok); i++) {
		struct image_ref r;
		struct err err = ERR_INIT;
		char *ref =
		    ok[i].with_digest ? xasprintf("%s%s", ok[i].ref, d) : xstrdup(ok[i].ref);

		assert_int_equal(image_ref_parse(ref, &r, &err), 0);
		assert_string_equal(r.host, ok[i].host);
		assert_string_equal(r.name, ok[i].name);
		if (ok[i].tag)
			assert_string_equal(r.tag, ok[i].tag);
		else
			assert_null(r.tag);
		if (ok[i].with_digest)
			assert_string_equal(r.digest, d);
		else
			assert_null(r.digest);
		image_ref_clear(&r);
		free(ref);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		struct image_ref r;
		struct err err = ERR_INIT;

		assert_true(image_ref_parse(bad[i].ref, &r, &err) < 0);
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].ref, err.msg, bad[i].msg);
		assert_null(r.host);
	}
}

static void
test_config_parse(void **state)
{
	static const char full[] =
	    "{\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"/bin/app\"],"
	    "\"Cmd\":[\"-v\",\"x\"],\"Env\":[\"PATH=/bin\",\"A=b=c\"],\"User\":\"app\","
	    "\"WorkingDir\":\"/srv\",\"StopSignal\":\"SIGINT\",\"Healthcheck\":{\"Test\":"
	    "[\"CMD-SHELL\",\"true\"],\"Interval\":30000000000,\"Timeout\":1500000000,"
	    "\"StartPeriod\":0,\"Retries\":4}}}";
	static const char *const bad[] = {
	    "not json",
	    "[]",
	    "{\"config\":[]}",
	    "{\"config\":{\"Cmd\":\"sh\"}}",
	    "{\"config\":{\"Env\":[1]}}",
	    "{\"config\":{\"User\":7}}",
	    "{\"config\":{\"Healthcheck\":{\"Interval\":\"5s\"}}}",
	    "{\"config\":{\"Healthcheck\":{\"Retries\":-1}}}",
	};
	struct image_config c;
	struct err err = ERR_INIT;
	size_t i;

	(void)state;
	assert_int_equal(image_config_parse(full, strlen(full), &c, &err), 0);
	assert_string_equal(c.entrypoint[0], "/bin/app");
	assert_null(c.entrypoint[1]);
	assert_int_equal(strv_len(c.cmd), 2);
	assert_string_equal(c.env[1], "A=b=c");
	assert_string_equal(c.user, "app");
	assert_string_equal(c.working_dir, "/srv");
	assert_string_equal(c.stop_signal, "SIGINT");
	assert_string_equal(c.healthcheck[0], "CMD-SHELL");
	assert_int_equal(c.hc_interval_ms, 30000);
	assert_int_equal(c.hc_timeout_ms, 1500);
	assert_int_equal(c.hc_start_period_ms, 0);
	assert_int_equal(c.hc_retries, 4);
	image_config_clear(&c);

	/* No config object, or nulls: an empty config. Cmd [] stays empty. */
	assert_int_equal(image_config_parse("{}", 2, &c, &err), 0);
	assert_null(c.entrypoint);
	image_config_clear(&c);
	{
		static const char empty_cmd[] = "{\"config\":{\"Cmd\":[],\"Env\":null}}";

		assert_int_equal(image_config_parse(empty_cmd, strlen(empty_cmd), &c, &err), 0);
	}
	assert_non_null(c.cmd);
	assert_null(c.cmd[0]);
	assert_null(c.env);
	image_config_clear(&c);

	for (i = 0; i < ARRAY_LEN(bad); i++) {
		err_clear(&err);
		assert_true(image_config_parse(bad[i], strlen(bad[i]), &c, &err) < 0);
		assert_true(err_isset(&err));
		assert_null(c.cmd);
	}
}

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* The registry's documents: what image_manifest_parse() takes and refuses. */
static void
test_manifest_parse(void **state)
{
	static const char manifest[] =
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":7},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
	    "\"digest\":\"sha256:" D64 "\",\"size\":9},{\"digest\":\"sha256:" D64
	    "\",\"size\":0}]}";
	static const char index[] =
	    "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:" D64 "\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}},{\"digest\":"
	    "\"sha256:" D64 "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":"
	    "\"amd64\"}}]}";
	static const struct {
		const char *doc, *content_type, *want;
	} bad[] = {
	    {"", NULL, "bad JSON"},
	    {"[]", NULL, "not an object"},
	    {"{\"schemaVersion\":1}", NULL, "schema 1 is not supported"},
	    {"{\"schemaVersion\":2}", "application/vnd.oci.image.layer.v1.tar",
	     "unsupported media"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:00\",\"size\":1}}", NULL,
	     "config: digest missing or not sha256"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":1.5}}", NULL,
	     "bad size"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":1}}", NULL,
	     "no layers"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64
	     "\",\"size\":1},\"layers\":[{\"mediaType\":\"application/x-lrzip\",\"digest\":"
	     "\"sha256:" D64 "\",\"size\":1}]}",
	     NULL, "unsupported media type application/x-lrzip"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64
	     "\",\"size\":1},\"layers\":[{\"digest\":\"sha256:" D64
	     "\",\"size\":1,\"urls\":[\"http://x/\"]}]}",
	     NULL, "foreign layers"},
	    {"{\"schemaVersion\":2,\"manifests\":[]}", NULL, "no image for linux/"},
	};
	struct image_manifest m;
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(image_manifest_parse(manifest, strlen(manifest), NULL, "t", &m, &err), 0);
	assert_false(m.is_index);
	assert_int_equal(m.config.size, 7);
	assert_int_equal(m.n_layers, 2);
	assert_int_equal(m.layers[0].size, 9);
	assert_null(m.layers[2].digest);
	image_manifest_clear(&m);
	assert_int_equal(image_manifest_parse(index, strlen(index), NULL, "t", &m, &err), 0);
	assert_true(m.is_index);
	assert_int_equal(m.pick.size, 2);
	image_manifest_clear(&m);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err_clear(&err);
		assert_true(image_manifest_parse(bad[i].doc, strlen(bad[i].doc),
		                                 bad[i].content_type, "t", &m, &err) < 0);
		if (strstr(err.msg, bad[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.msg, bad[i].want);
		assert_null(m.root);
		assert_null(m.layers);
	}
}

/* A scratch directory and a cache inside it. */
struct fixture {
	char dir[64];
	struct image_cache *cache;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct err err = ERR_INIT;
	char *cache;

	snprintf(f->dir, sizeof f->dir, "/tmp/berth-imgunit-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	cache = xasprintf("%s/cache", f->dir);
	if (image_cache_open(cache, &f->cache, &err) < 0)
		return -1;
	free(cache);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);

	image_cache_close(f->cache);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	free(f);
	return 0;
}

/* Puts data into the cache under its digest; returns "sha256:..." (owned). */
static char *
put_blob(struct fixture *f, const void *data, size_t len)
{
	char hex[65], *digest, *path;
	FILE *fp;

	sha256_hex(data, len, hex);
	digest = xasprintf("sha256:%s", hex);
	path = image_cache_blob_path(f->cache, digest);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	free(path);
	return digest;
}

/* One tar entry of a test layer. */
struct entry {
	const char *name;
	int type;         /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFBLK,
	                   * AE_IFIFO, or 0 for a hardlink */
	const char *data; /* content, or the link target; NULL: zeros bytes of 0 */
	size_t zeros;
};

/* A tar layer of entries compressed with filter (ARCHIVE_FILTER_GZIP, _ZSTD or
 * _NONE), put into the cache; returns its digest. */
static char *
put_layer_filter(struct fixture *f, const struct entry *e, size_t n, size_t *size, int filter)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	size_t cap = 1 << 16, used = 0, i;
	char *out = xmalloc(cap), *digest;

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, out, cap, &used), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_mtime(ae, 1700000000, 0);
		if (e[i].type == AE_IFREG) {
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, 0644);
			archive_entry_set_size(
			    ae, (la_int64_t)(e[i].data ? strlen(e[i].data) : e[i].zeros));
		} else if (e[i].type == AE_IFCHR || e[i].type == AE_IFBLK ||
		           e[i].type == AE_IFIFO) {
			archive_entry_set_filetype(ae, (unsigned)e[i].type);
			archive_entry_set_perm(ae, 0666);
			archive_entry_set_rdevmajor(ae, e[i].type == AE_IFBLK ? 8 : 1);
			archive_entry_set_rdevminor(ae, e[i].type == AE_IFBLK ? 0 : 3);
		} else if (e[i].type == AE_IFDIR) {
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, 0755);
		} else if (e[i].type == AE_IFLNK) {
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
		} else {
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
		}
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (e[i].type == AE_IFREG && e[i].data != NULL) {
			archive_write_data(a, e[i].data, strlen(e[i].data));
		} else if (e[i].type == AE_IFREG) {
			char *z = xcalloc(1, e[i].zeros + 1);

			assert_int_equal(archive_write_data(a, z, e[i].zeros), e[i].zeros);
			free(z);
		}
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ae);
	digest = put_blob(f, out, used);
	if (size != NULL)
		*size = used;
	free(out);
	return digest;
}

static char *
put_layer(struct fixture *f, const struct entry *e, size_t n, size_t *size)
{
	return put_layer_filter(f, e, n, size, ARCHIVE_FILTER_GZIP);
}

/* An image of the given layers with a manifest and config in the cache. */
static struct image *
put_image(struct fixture *f, char **layers, const size_t *sizes, size_t n)
{
	static const char config[] = "{\"config\":{\"Cmd\":[\"/bin/sh\"]}}";
	struct buf m = BUF_INIT;
	struct image *img;
	struct err err = ERR_INIT;
	char *config_digest = put_blob(f, config, strlen(config)), *manifest, *ref;
	size_t i;

	buf_printf(
	    &m,
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[",
	    config_digest, strlen(config));
	for (i = 0; i < n; i++)
		buf_printf(&m,
		           "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
		           "\"digest\":\"%s\",\"size\":%zu}",
		           i ? "," : "", layers[i], sizes[i]);
	buf_puts(&m, "]}");
	manifest = put_blob(f, m.data, m.len);
	ref = xasprintf("localhost/unit@%s", manifest);
	if (image_load(f->cache, ref, &img, &err) < 0)
		fail_msg("image_load: %s", err.msg);
	assert_string_equal(img->manifest_digest, manifest);
	assert_string_equal(img->config_digest, config_digest);
	assert_int_equal(strv_len(img->layers), n);
	assert_string_equal(img->config.cmd[0], "/bin/sh");
	buf_free(&m);
	free(config_digest);
	free(manifest);
	free(ref);
	return img;
}

static char *
read_file(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel), *data = NULL;
	size_t len;
	struct err err = ERR_INIT;

	if (file_read_all(path, 1 << 20, &data, &len, &err) < 0)
		data = NULL;
	free(path);
	return data;
}

static int
exists(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel);
	struct stat st;
	int ok = lstat(path, &st) == 0;

	free(path);
	return ok;
}

static void
test_unpack_whiteouts(void **state)
{
	static const struct entry lower[] = {
	    {"/", AE_IFDIR, NULL, 0},
	    {"etc", AE_IFDIR, NULL, 0},
	    {"etc/keep", AE_IFREG, "keep", 0},
	    {"etc/gone", AE_IFREG, "gone", 0},
	    {"var/cache/old", AE_IFREG, "old", 0},
	    {"bin/sh", AE_IFLNK, "/bin/busybox", 0},
	};
	static const struct entry upper[] = {
	    {"./etc/.wh.gone", AE_IFREG, "", 0},
	    {"var/cache/mine", AE_IFREG, "mine", 0},
	    {"var/cache/.wh..wh..opq", AE_IFREG, "", 0},
	    {"etc/keep", AE_IFREG, "kept", 0},
	    {"etc/keep2", 0, "etc/keep", 0},
	};
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	size_t sizes[2];
	char *layers[3] = {put_layer(f, lower, ARRAY_LEN(lower), &sizes[0]),
	                   put_layer(f, upper, ARRAY_LEN(upper), &sizes[1]), NULL};
	struct image *img = put_image(f, layers, sizes, 2);
	char *rootfs = xasprintf("%s/rootfs", f->dir), *s;
	char link[64];
	ssize_t n;

	if (image_unpack(f->cache, img, rootfs, &err) < 0)
		fail_msg("unpack: %s", err.msg);
	assert_string_equal((s = read_file(rootfs, "etc/keep")), "kept");
	free(s);
	assert_string_equal((s = read_file(rootfs, "etc/keep2")), "kept");
	free(s);
	assert_false(exists(rootfs, "etc/gone"));
	assert_false(exists(rootfs, "var/cache/old"));
	assert_true(exists(rootfs, "var/cache/mine"));
	assert_false(exists(rootfs, "var/cache/.wh..wh..opq"));
	s = xasprintf("%s/bin/sh", rootfs);
	n = readlink(s, link, sizeof link - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "/bin/busybox");
	free(s);

	/* Unpacking over an existing rootfs is refused and changes nothing. */
	err_clear(&err);
	assert_true(image_unpack(f->cache, img, rootfs, &err) < 0);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_true(exists(rootfs, "etc/keep"));

	image_free(img);
	free(layers[0]);
	free(layers[1]);
	free(rootfs);
}

static void
test_unpack_escapes(void **state)
{
	static const struct entry dotdot[] = {
	    {"a", AE_IFREG, "a", 0},
	    {"a/../../out", AE_IFREG, "x", 0},
	};
	static const struct entry through_link[] = {
	    {"lnk", AE_IFLNK, "/tmp", 0},
	    {"lnk/berth-imgunit-pwned", AE_IFREG, "x", 0},
	};
	static const struct entry hardlink_out[] = {
	    {"h", 0, "../../../../etc/hostname", 0},
	};
	static const struct {
		const struct entry *e;
		size_t n;
		const char *msg;
	} cases[] = {
	    {dotdot, ARRAY_LEN(dotdot), "escapes the rootfs"},
	    {through_link, ARRAY_LEN(through_link), "goes through a symlink"},
	    {hardlink_out, ARRAY_LEN(hardlink_out), "outside the rootfs"},
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct err err = ERR_INIT;
		size_t size;
		char *layers[2] = {put_layer(f, cases[i].e, cases[i].n, &size), NULL};
		struct image *img = put_image(f, layers, &size, 1);
		char *rootfs = xasprintf("%s/rootfs%zu", f->dir, i);

		assert_true(image_unpack(f->cache, img, rootfs, &err) < 0);
		if (strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: %s", i, err.msg);
		assert_false(exists(rootfs, ""));
		assert_false(exists("/tmp", "berth-imgunit-pwned"));
		image_free(img);
		free(layers[0]);
		free(rootfs);
	}
}

static void
test_unpack_zstd_and_plain(void **state)
{
	static const struct entry z[] = {{"z.txt", AE_IFREG, "zstd", 0}};
	static const struct entry p[] = {{"p.txt", AE_IFREG, "plain", 0}};
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	size_t sizes[2];
	char *layers[3] = {put_layer_filter(f, z, 1, &sizes[0], ARCHIVE_FILTER_ZSTD),
	                   put_layer_filter(f, p, 1, &sizes[1], ARCHIVE_FILTER_NONE), NULL};
	struct image *img = put_image(f, layers, sizes, 2);
	char *rootfs = xasprintf("%s/rootfs", f->dir), *s;

	if (image_unpack(f->cache, img, rootfs, &err) < 0)
		fail_msg("unpack: %s", err.msg);
	assert_string_equal((s = read_file(rootfs, "z.txt")), "zstd");
	free(s);
	assert_string_equal((s = read_file(rootfs, "p.txt")), "plain");
	free(s);
	image_free(img);
	free(layers[0]);
	free(layers[1]);
	free(rootfs);
}

/* Whether the fixture's directory holds no temporary unpack directory. */
static int
no_unpack_leftovers(struct fixture *f)
{
	char *cmd = xasprintf("ls -a '%s' | grep -q unpack", f->dir);
	int found = system(cmd) == 0;

	free(cmd);
	return !found;
}

/* Unpacks layers (of sizes) into <dir>/rootfs, expecting an error with want;
 * nothing may be left behind. */
static void
unpack_fails(struct fixture *f, char **layers, const size_t *sizes, size_t n, const char *want)
{
	struct image *img = put_image(f, layers, sizes, n);
	char *rootfs = xasprintf("%s/rootfs", f->dir);
	struct err err = ERR_INIT;

	if (image_unpack(f->cache, img, rootfs, &err) == 0)
		fail_msg("unpack succeeded, want \"%s\"", want);
	if (strstr(err.msg, want) == NULL)
		fail_msg("got \"%s\", want \"%s\"", err.msg, want);
	assert_non_null(strstr(err.msg, "image localhost/unit@sha256:"));
	assert_false(exists(rootfs, ""));
	assert_true(no_unpack_leftovers(f));
	image_free(img);
	free(rootfs);
}

/* Character and block devices are not created, nor hardlinks to them; a
 * device still replaces a lower layer's file. FIFOs are created. */
static void
test_unpack_device_nodes(void **state)
{
	static const struct entry lower[] = {
	    {"x", AE_IFREG, "was a file", 0},
	    {"dev", AE_IFDIR, NULL, 0},
	};
	static const struct entry upper[] = {
	    {"dev/zero", AE_IFCHR, NULL, 0},    {"dev/sda", AE_IFBLK, NULL, 0},
	    {"dev/zero2", 0, "dev/zero", 0},    {"x", AE_IFCHR, NULL, 0},
	    {"run/initctl", AE_IFIFO, NULL, 0}, {"ok", AE_IFREG, "ok", 0},
	};
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	size_t sizes[2];
	char *layers[3] = {put_layer(f, lower, ARRAY_LEN(lower), &sizes[0]),
	                   put_layer(f, upper, ARRAY_LEN(upper), &sizes[1]), NULL};
	struct image *img = put_image(f, layers, sizes, 2);
	char *rootfs = xasprintf("%s/rootfs", f->dir), *path;
	struct stat st;

	if (image_unpack(f->cache, img, rootfs, &err) < 0)
		fail_msg("unpack: %s", err.msg);
	assert_false(exists(rootfs, "dev/zero"));
	assert_false(exists(rootfs, "dev/sda"));
	assert_false(exists(rootfs, "dev/zero2"));
	assert_false(exists(rootfs, "x"));
	assert_true(exists(rootfs, "ok"));
	path = xasprintf("%s/run/initctl", rootfs);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	free(path);
	image_free(img);
	free(layers[0]);
	free(layers[1]);
	free(rootfs);
}

/* The byte cap holds for the whole image, at the entry that would pass it:
 * a few KiB of gzip claiming 8 MiB stop at a 1 MiB cap. */
static void
test_unpack_byte_cap(void **state)
{
	static const struct entry bomb[] = {{"small", AE_IFREG, "s", 0},
	                                    {"big", AE_IFREG, NULL, 8 << 20}};
	static const struct entry half1[] = {{"a", AE_IFREG, NULL, 600 << 10}};
	static const struct entry half2[] = {{"b", AE_IFREG, NULL, 600 << 10}};
	static const struct entry exact[] = {{"m", AE_IFREG, NULL, 1 << 20}};
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	size_t sizes[2];
	char *layers[3] = {put_layer(f, bomb, ARRAY_LEN(bomb), &sizes[0]), NULL, NULL};
	char *want, *rootfs = xasprintf("%s/rootfs", f->dir);
	struct image *img;

	assert_true(sizes[0] < (64 << 10));
	image_cache_set_unpack_caps(f->cache, 1 << 20, 0);
	want =
	    xasprintf("layer %s unpacks past the 1 MiB cap (--image-max-bytes) at big", layers[0]);
	unpack_fails(f, layers, sizes, 1, want);
	free(want);
	free(layers[0]);

	/* Two layers, each under the cap, are over it together. */
	layers[0] = put_layer(f, half1, 1, &sizes[0]);
	layers[1] = put_layer(f, half2, 1, &sizes[1]);
	want = xasprintf("layer %s unpacks past the 1 MiB cap", layers[1]);
	unpack_fails(f, layers, sizes, 2, want);
	free(want);
	free(layers[0]);
	free(layers[1]);
	layers[1] = NULL;

	/* At the cap is fine. */
	layers[0] = put_layer(f, exact, 1, &sizes[0]);
	img = put_image(f, layers, sizes, 1);
	if (image_unpack(f->cache, img, rootfs, &err) < 0)
		fail_msg("unpack: %s", err.msg);
	image_free(img);
	free(layers[0]);

	/* The default cap (256 GiB) takes the bomb. */
	image_cache_set_unpack_caps(f->cache, 0, 0);
	layers[0] = put_layer(f, bomb, ARRAY_LEN(bomb), &sizes[0]);
	img = put_image(f, layers, sizes, 1);
	free(rootfs);
	rootfs = xasprintf("%s/rootfs2", f->dir);
	if (image_unpack(f->cache, img, rootfs, &err) < 0)
		fail_msg("unpack: %s", err.msg);
	image_free(img);
	free(layers[0]);
	free(rootfs);
}

static void
test_unpack_entry_cap(void **state)
{
	struct entry many[30];
	char names[30][8];
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	size_t size;
	char *layers[2] = {NULL, NULL}, *want, *rootfs = xasprintf("%s/rootfs", f->dir);
	struct image *img;

	for (size_t i = 0; i < ARRAY_LEN(many); i++) {
		snprintf(names[i], sizeof names[i], "f%zu", i);
		many[i] = (struct entry){names[i], AE_IFREG, "", 0};
	}
	layers[0] = put_layer(f, many, ARRAY_LEN(many), &size);
	image_cache_set_unpack_caps(f->cache, 0, 20);
	want = xasprintf("layer %s unpacks past the 20-entry cap (--image-max-entries)", layers[0]);
	unpack_fails(f, layers, &size, 1, want);
	free(want);
	image_cache_set_unpack_caps(f->cache, 0, 30);
	img = put_image(f, layers, &size, 1);
	if (image_unpack(f->cache, img, rootfs, &err) < 0)
		fail_msg("unpack: %s", err.msg);
	assert_true(exists(rootfs, "f29"));
	image_free(img);
	free(layers[0]);
	free(rootfs);
}

/* Compressions OCI does not have are refused, even those libarchive reads
 * itself (bzip2, xz, lz4, ...). */
static void
test_unpack_foreign_compressions(void **state)
{
	static const struct entry e[] = {{"a", AE_IFREG, "a", 0}};
	static const struct {
		int filter;
		const char *want;
	} cases[] = {
	    {ARCHIVE_FILTER_BZIP2, "is compressed with bzip2: only gzip, zstd and uncompressed"},
	    {ARCHIVE_FILTER_XZ, "is compressed with xz"},
	    {ARCHIVE_FILTER_LZ4, "is compressed with lz4"},
	    {ARCHIVE_FILTER_LZIP, "is compressed with lzip"},
	    {ARCHIVE_FILTER_COMPRESS, "is compressed with compress (.Z)"},
	    {ARCHIVE_FILTER_LZMA, "(a layer is a tar, gzip or zstd stream)"},
	    {ARCHIVE_FILTER_UU, "(a layer is a tar, gzip or zstd stream)"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t size;
		char *layers[2] = {put_layer_filter(f, e, 1, &size, cases[i].filter), NULL};

		unpack_fails(f, layers, &size, 1, cases[i].want);
		free(layers[0]);
	}
}

/* libarchive's lrzip and grzip filters run those programs from PATH: a
 * layer with their magic must run nothing. */
static void
test_unpack_runs_no_decompressor_program(void **state)
{
	static const char lrzip[] = "LRZI\0\x06\0\0\0\0\0\0\0\0\0\0";
	static const char grzip[] = "GRZipII\0\x02\x04:)\0\0\0\0";
	struct fixture *f = *state;
	char *bin = xasprintf("%s/bin", f->dir), *marker = xasprintf("%s/spawned", f->dir);
	char *old_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char *path = xasprintf("%s:%s", bin, old_path);
	struct err err = ERR_INIT;

	assert_int_equal(mkdir(bin, 0755), 0);
	for (int i = 0; i < 2; i++) {
		char *prog = xasprintf("%s/%s", bin, i ? "grzip" : "lrzip");
		char *script = xasprintf("#!/bin/sh\ntouch '%s'\nexit 1\n", marker);

		assert_int_equal(file_write_atomic(prog, script, strlen(script), 0755, &err), 0);
		free(prog);
		free(script);
	}
	setenv("PATH", path, 1);
	for (int i = 0; i < 2; i++) {
		size_t size = i ? sizeof grzip - 1 : sizeof lrzip - 1;
		char *layers[2] = {put_blob(f, i ? grzip : lrzip, size), NULL};

		unpack_fails(f, layers, &size, 1,
		             i ? "compressed with grzip" : "compressed with lrzip");
		assert_false(exists(marker, ""));
		free(layers[0]);
	}
	setenv("PATH", old_path, 1);
	free(bin);
	free(marker);
	free(old_path);
	free(path);
}

static void
test_load_and_gc(void **state)
{
	static const struct entry e1[] = {{"one", AE_IFREG, "1", 0}};
	static const struct entry e2[] = {{"two", AE_IFREG, "2", 0}};
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	size_t s1, s2, removed = 99;
	char *l1[2] = {put_layer(f, e1, 1, &s1), NULL}, *l2[2] = {put_layer(f, e2, 1, &s2), NULL};
	struct image *a = put_image(f, l1, &s1, 1), *b = put_image(f, l2, &s2, 1), *x = NULL;
	char *keep[2] = {xasprintf("localhost/unit:tag@%s", a->manifest_digest), NULL};
	char *path;

	/* Only digests can be kept: GC refuses a tag rather than guess. */
	{
		char *tagged[2] = {"localhost/unit:tag", NULL};

		assert_true(image_cache_gc(f->cache, tagged, &removed, &err) < 0);
		err_clear(&err);
	}
	/* a and b share their config; gc keeping a removes b's manifest and layer. */
	assert_int_equal(image_cache_gc(f->cache, keep, &removed, &err), 0);
	assert_int_equal(removed, 2);
	path = image_cache_blob_path(f->cache, a->layers[0]);
	assert_int_equal(access(path, F_OK), 0);
	free(path);
	path = image_cache_blob_path(f->cache, b->layers[0]);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	assert_true(image_load(f->cache, keep[0], &x, &err) == 0);
	image_free(take_ptr(&x));
	free(keep[0]);
	keep[0] = xasprintf("localhost/unit@%s", b->manifest_digest);
	assert_true(image_load(f->cache, keep[0], &x, &err) < 0);
	assert_null(x);
	assert_int_equal(image_cache_gc(f->cache, NULL, &removed, &err), 0);
	assert_int_equal(removed, 3);
	assert_null(image_cache_blob_path(f->cache, "sha256:../../etc"));

	image_free(a);
	image_free(b);
	free(keep[0]);
	free(l1[0]);
	free(l2[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ref_parse),
	    cmocka_unit_test(test_config_parse),
	    cmocka_unit_test(test_manifest_parse),
	    cmocka_unit_test_setup_teardown(test_unpack_whiteouts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_zstd_and_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_device_nodes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_byte_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_entry_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_foreign_compressions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_runs_no_decompressor_program, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_load_and_gc, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
