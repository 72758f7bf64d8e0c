/* Unit tests of src/common: errors, buffers, string vectors, durations, files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/prom.h"
#include "common/strmap.h"
#include "common/util.h"

static void
test_err_make_and_wrap(void **state)
{
	struct err err = ERR_INIT;
	int rc;

	(void)state;
	assert_false(err_isset(&err));
	rc = err_make(&err, ENOENT, "open %s", "x.yml");
	assert_int_equal(rc, -ENOENT);
	assert_string_equal(err.msg, "open x.yml: No such file or directory");
	rc = err_wrap(&err, "loading %s", "config");
	assert_int_equal(rc, -ENOENT);
	assert_string_equal(err.msg, "loading config: open x.yml: No such file or directory");
	assert_true(err_isset(&err));
	err_clear(&err);
	assert_false(err_isset(&err));
	assert_int_equal(err_make(&err, 0, "plain"), -1);
	assert_string_equal(err.msg, "plain");
	assert_int_equal(err_make(NULL, 0, "nobody listens"), -1);
}

static void
test_buf(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	buf_puts(&b, "abc");
	buf_putc(&b, '-');
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(strncmp(b.data, "abc-0,1,2,", 10), 0);
	assert_int_equal(b.len, strlen(b.data));
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	s = buf_take(&b);
	assert_string_equal(s, "");
	assert_null(b.data);
	free(s);
	buf_free(&b);
}

static void
test_strv(void **state)
{
	char **v = NULL, **d;

	(void)state;
	assert_int_equal(strv_len(v), 0);
	v = strv_push(v, "a");
	v = strv_push(v, "b");
	assert_int_equal(strv_len(v), 2);
	assert_true(strv_contains(v, "b"));
	assert_false(strv_contains(v, "c"));
	d = strv_dup(v);
	assert_string_equal(d[1], "b");
	assert_null(d[2]);
	assert_null(strv_dup(NULL));
	strv_free(v);
	strv_free(d);
}

static void
test_duration(void **state)
{
	static const struct {
		const char *in;
		int ok;
		int64_t ms;
	} cases[] = {
	    {"30s", 1, 30000}, {"5m", 1, 300000},  {"1h30m", 1, 5400000}, {"500ms", 1, 500},
	    {"1.5s", 1, 1500}, {"2h", 1, 7200000}, {"1m30s", 1, 90000},   {"0s", 1, 0},
	    {"", 0, 0},        {"30", 0, 0},       {"s", 0, 0},           {"-1s", 0, 0},
	    {"1x", 0, 0},      {"1s ", 0, 0},      {"1d", 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t ms = -7;
		int rc = duration_parse(cases[i].in, &ms);
		if (cases[i].ok) {
			assert_int_equal(rc, 0);
			assert_int_equal(ms, cases[i].ms);
		} else {
			assert_int_equal(rc, -1);
		}
	}
}

static void
test_sha256_and_time(void **state)
{
	char hex[65], t[32];

	(void)state;
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	time_rfc3339(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00Z");
	time_rfc3339(1795690546000, t);
	assert_string_equal(t, "2026-11-26T10:55:46Z");
}

/* The body sink of curl's transfers: everything up to the limit, then a
 * refusal that ends the transfer; a limit of 0 takes nothing. */
static void
test_buf_capped(void **state)
{
	struct buf_capped c = {.max = 6}, none = {0};
	char text[] = "abcdefg";

	(void)state;
	assert_int_equal(buf_capped_write(text, 1, 4, &c), 4);
	assert_int_equal(buf_capped_write(text, 2, 1, &c), 2);
	assert_int_equal(c.buf.len, 6);
	assert_false(c.overflow);
	assert_int_equal(buf_capped_write(text, 1, 1, &c), 0);
	assert_true(c.overflow);
	assert_int_equal(c.buf.len, 6);
	assert_int_equal(strncmp(c.buf.data, "abcdab", 6), 0);
	assert_int_equal(buf_capped_write(text, 1, 0, &none), 0);
	assert_false(none.overflow);
	assert_int_equal(buf_capped_write(text, 1, 1, &none), 0);
	assert_true(none.overflow);
	buf_free(&c.buf);
	buf_free(&none.buf);
}

/* A header line as curl hands it over: the name in any case, the value
 * without the white space around it. */
static void
test_http_header_value(void **state)
{
	static const char line[] = "location: \t https://x/y \r\n";
	char *v;

	(void)state;
	v = http_header_value(line, strlen(line), "Location");
	assert_string_equal(v, "https://x/y");
	free(v);
	assert_null(http_header_value(line, strlen(line), "Loc"));
	assert_null(http_header_value(line, strlen(line), "Locations"));
	assert_null(http_header_value("HTTP/1.1 200 OK\r\n", 17, "HTTP/1.1"));
	v = http_header_value("Retry-After:\r\n", 14, "retry-after");
	assert_string_equal(v, "");
	free(v);
}

/* The walk of a path's components: slashes and "." skipped, ".." told. */
static void
test_path_next(void **state)
{
	const char *p = "//a/./bc/.././/d.", *name;
	size_t n;

	(void)state;
	assert_int_equal(path_next(&p, &name, &n), PATH_NAME);
	assert_int_equal(n, 1);
	assert_int_equal(name[0], 'a');
	assert_int_equal(path_next(&p, &name, &n), PATH_NAME);
	assert_int_equal(n, 2);
	assert_int_equal(strncmp(name, "bc", 2), 0);
	assert_int_equal(path_next(&p, &name, &n), PATH_DOTDOT);
	assert_int_equal(path_next(&p, &name, &n), PATH_NAME);
	assert_int_equal(n, 2);
	assert_int_equal(strncmp(name, "d.", 2), 0);
	assert_int_equal(path_next(&p, &name, &n), PATH_END);
	assert_int_equal(path_next(&p, &name, &n), PATH_END);
	p = "/./.";
	assert_int_equal(path_next(&p, &name, &n), PATH_END);
}

static void
test_files(void **state)
{
	char dir[] = "/tmp/berth-test-XXXXXX", *path, *sub, *data = NULL;
	struct err err = ERR_INIT;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sub = xasprintf("%s/a/b/c", dir);
	assert_int_equal(mkdir_p(sub, 0700, &err), 0);
	path = xasprintf("%s/f", sub);
	assert_int_equal(file_write_atomic(path, "hello", 5, 0600, &err), 0);
	assert_int_equal(file_read_all(path, 100, &data, &len, &err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	assert_true(file_read_all(path, 3, &data, &len, &err) < 0);
	assert_non_null(strstr(err.msg, "larger than 3 bytes"));
	assert_true(file_read_all("/nonexistent/x", 3, &data, &len, &err) < 0);
	unlink(path);
	free(path);
	free(sub);
	sub = xasprintf("rm -rf %s", dir);
	assert_int_equal(system(sub), 0);
	free(sub);
}

static void
test_prom(void **state)
{
	static const double bounds[] = {0.5, 1, 5};
	struct prom_hist h;
	struct buf b = BUF_INIT;
	char *esc;

	(void)state;
	prom_hist_init(&h, bounds, 3);
	prom_hist_observe(&h, 0.2);
	prom_hist_observe(&h, 0.7);
	prom_hist_observe(&h, 0.7);
	prom_hist_observe(&h, 30);
	prom_header(&b, "berth_update_seconds", "histogram", "Update durations.");
	prom_hist_write(&b, "berth_update_seconds", "outcome=\"ready\"", &h);
	prom_sample(&b, "berth_containers", "status=\"running\"", 3);
	prom_sample(&b, "berth_up", "", 1);
	assert_string_equal(b.data, "# HELP berth_update_seconds Update durations.\n"
	                            "# TYPE berth_update_seconds histogram\n"
	                            "berth_update_seconds_bucket{outcome=\"ready\",le=\"0.5\"} 1\n"
	                            "berth_update_seconds_bucket{outcome=\"ready\",le=\"1\"} 3\n"
	                            "berth_update_seconds_bucket{outcome=\"ready\",le=\"5\"} 3\n"
	                            "berth_update_seconds_bucket{outcome=\"ready\",le=\"+Inf\"} 4\n"
	                            "berth_update_seconds_sum{outcome=\"ready\"} 31.6\n"
	                            "berth_update_seconds_count{outcome=\"ready\"} 4\n"
	                            "berth_containers{status=\"running\"} 3\n"
	                            "berth_up 1\n");
	buf_free(&b);
	esc = prom_escape("a\"b\\c\nd");
	assert_string_equal(esc, "a\\\"b\\\\c\\nd");
	free(esc);
}

/* The admin token's file: 0600 whatever the umask, and a symlink planted at
 * the temporary or the final name is replaced, never written through. */
static void
test_file_write_secret(void **state)
{
	char dir[] = "/tmp/berth-secret-XXXXXX";
	struct err err = ERR_INIT;
	struct stat st;
	char *path, *tmp, *victim, *text = NULL;
	mode_t old;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/admin-token", dir);
	tmp = xasprintf("%s/admin-token.tmp", dir);
	victim = xasprintf("%s/victim", dir);

	old = umask(0);
	assert_int_equal(file_write_secret(path, "one\n", 4, &err), 0);
	umask(old);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);

	/* At the temporary name. */
	assert_int_equal(file_write_atomic(victim, "keep", 4, 0644, &err), 0);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(file_write_secret(path, "two\n", 4, &err), 0);
	assert_int_equal(file_read_all(victim, 100, &text, NULL, &err), 0);
	assert_string_equal(text, "keep");
	free(text);
	assert_int_equal(file_read_all(path, 100, &text, NULL, &err), 0);
	assert_string_equal(text, "two\n");
	free(text);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	/* At the final name. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(file_write_secret(path, "three\n", 6, &err), 0);
	assert_int_equal(file_read_all(victim, 100, &text, NULL, &err), 0);
	assert_string_equal(text, "keep");
	free(text);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(lstat(victim, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	unlink(path);
	unlink(victim);
	rmdir(dir);
	free(path);
	free(tmp);
	free(victim);
}

static int
keep_even(const char *key, void *value, void *arg)
{
	(void)key;
	(*(int *)arg)++;
	return (intptr_t)value % 2 == 0;
}

/* Puts, gets, replaces and deletes through several doublings; filter keeps
 * what it is told to. */
static void
test_strmap(void **state)
{
	struct strmap *m = strmap_new();
	char key[32];
	int seen = 0;

	(void)state;
	for (intptr_t i = 1; i <= 1000; i++) {
		snprintf(key, sizeof key, "id-%ld", (long)i);
		assert_null(strmap_put(m, key, (void *)i));
	}
	assert_int_equal(strmap_len(m), 1000);
	for (intptr_t i = 1; i <= 1000; i++) {
		snprintf(key, sizeof key, "id-%ld", (long)i);
		assert_int_equal((intptr_t)strmap_get(m, key), i);
	}
	assert_null(strmap_get(m, "id-0"));
	assert_int_equal((intptr_t)strmap_put(m, "id-7", (void *)8), 7);
	assert_int_equal((intptr_t)strmap_get(m, "id-7"), 8);
	assert_int_equal((intptr_t)strmap_del(m, "id-9"), 9);
	assert_null(strmap_del(m, "id-9"));
	assert_null(strmap_get(m, "id-9"));
	assert_int_equal(strmap_len(m), 999);
	strmap_filter(m, keep_even, &seen, NULL);
	assert_int_equal(seen, 999);
	assert_int_equal(strmap_len(m), 501); /* 2..1000 even, and id-7 (8) */
	assert_int_equal((intptr_t)strmap_get(m, "id-7"), 8);
	assert_null(strmap_get(m, "id-11"));
	strmap_free(m, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_err_make_and_wrap),
	    cmocka_unit_test(test_buf),
	    cmocka_unit_test(test_buf_capped),
	    cmocka_unit_test(test_path_next),
	    cmocka_unit_test(test_http_header_value),
	    cmocka_unit_test(test_strv),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_sha256_and_time),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_file_write_secret),
	    cmocka_unit_test(test_prom),
	    cmocka_unit_test(test_strmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
