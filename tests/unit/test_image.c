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
	int type;         /* AE_IFREG, AE_IFDIR, AE_IFLNK, or 0 for a hardlink */
	const char *data; /* content, or the link target */
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
			archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
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
		if (e[i].type == AE_IFREG)
			archive_write_data(a, e[i].data, strlen(e[i].data));
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
	    {"/", AE_IFDIR, NULL},
	    {"etc", AE_IFDIR, NULL},
	    {"etc/keep", AE_IFREG, "keep"},
	    {"etc/gone", AE_IFREG, "gone"},
	    {"var/cache/old", AE_IFREG, "old"},
	    {"bin/sh", AE_IFLNK, "/bin/busybox"},
	};
	static const struct entry upper[] = {
	    {"./etc/.wh.gone", AE_IFREG, ""},
	    {"var/cache/mine", AE_IFREG, "mine"},
	    {"var/cache/.wh..wh..opq", AE_IFREG, ""},
	    {"etc/keep", AE_IFREG, "kept"},
	    {"etc/keep2", 0, "etc/keep"},
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
	    {"a", AE_IFREG, "a"},
	    {"a/../../out", AE_IFREG, "x"},
	};
	static const struct entry through_link[] = {
	    {"lnk", AE_IFLNK, "/tmp"},
	    {"lnk/berth-imgunit-pwned", AE_IFREG, "x"},
	};
	static const struct entry hardlink_out[] = {
	    {"h", 0, "../../../../etc/hostname"},
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
	static const struct entry z[] = {{"z.txt", AE_IFREG, "zstd"}};
	static const struct entry p[] = {{"p.txt", AE_IFREG, "plain"}};
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

static void
test_load_and_gc(void **state)
{
	static const struct entry e1[] = {{"one", AE_IFREG, "1"}};
	static const struct entry e2[] = {{"two", AE_IFREG, "2"}};
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
	    cmocka_unit_test_setup_teardown(test_unpack_whiteouts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpack_zstd_and_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_and_gc, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
