/* Unit tests of src/tls/certs.c: a host's file is issued once, kept while
 * good, issued again when it is not (due, foreign, broken), and host names
 * never leave the directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "tls/ca.h"
#include "tls/certs.h"
#include "unit.h"

struct fixture {
	char *dir;
	struct ca *ca;
	int days; /* of what the test issuer issues */
	int issues;
};

static int
issue(void *arg, const char *host, char **pem, struct err *err)
{
	struct fixture *f = arg;

	f->issues++;
	return ca_issue(f->ca, host, f->days, pem, err);
}

static int
owns(void *arg, const char *pem)
{
	return ca_signed(((struct fixture *)arg)->ca, pem);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct err err = ERR_INIT;
	char *ca = NULL;

	f->dir = unit_tmpdir("certs");
	f->days = CA_LEAF_DAYS;
	ca = xasprintf("%s/ca", f->dir);
	assert_int_equal(ca_open(ca, &f->ca, &err), 0);
	free(ca);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	unit_rmtree(f->dir);
	ca_free(f->ca);
	free(f->dir);
	free(f);
	return 0;
}

static struct certs *
store(struct fixture *f)
{
	struct certs_issuer iss = {.name = "test", .issue = issue, .owns = owns, .arg = f};
	char *dir = xasprintf("%s/tls", f->dir);
	struct err err = ERR_INIT;
	struct certs *cs = NULL;

	assert_int_equal(certs_open(dir, &iss, &cs, &err), 0);
	free(dir);
	return cs;
}

static char *
read_text(const char *path)
{
	struct err err = ERR_INIT;
	char *text = NULL;
	size_t len;

	assert_int_equal(file_read_all(path, 1 << 20, &text, &len, &err), 0);
	return text;
}

static void
test_issued_once_then_kept(void **state)
{
	struct fixture *f = *state;
	struct certs *cs = store(f);
	struct err err = ERR_INIT;
	char *path = certs_path(cs, "web.acme.example"), *first, *second;
	struct stat st;
	int issued = -1;

	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	first = read_text(path);
	assert_non_null(strstr(first, "PRIVATE KEY"));
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 0);
	second = read_text(path);
	assert_string_equal(first, second);
	assert_int_equal(f->issues, 1);
	/* Another host: another file. */
	assert_int_equal(certs_ensure(cs, "web.acme.debug.example", &issued, &err), 0);
	assert_int_equal(issued, 1);
	free(first);
	free(second);
	free(path);
	certs_free(cs);
}

static void
test_issued_again_when_due_foreign_or_broken(void **state)
{
	struct fixture *f = *state;
	struct certs *cs = store(f);
	struct err err = ERR_INIT;
	char *path = certs_path(cs, "web.acme.example"), *other_dir, *pem = NULL;
	struct ca *other = NULL;
	int issued = -1;

	/* Not due: less than CERTS_RENEW_DAYS left, but not yet two thirds of
	 * its life gone (from an hour ago, 29 days). */
	f->days = CERTS_RENEW_DAYS - 1;
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 1);
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 0);
	{
		long long at = certs_renew_at(cs, "web.acme.example"), now = (long long)time(NULL);
		long long life = (CERTS_RENEW_DAYS - 1) * 86400LL + 3600;
		assert_true(llabs(at - (now - 3600 + life * 2 / 3)) < 120);
	}
	/* Due: its life is over (it ends now); issued again, a long one, due
	 * CERTS_RENEW_DAYS before its end. */
	assert_int_equal(ca_issue(f->ca, "web.acme.example", 0, &pem, &err), 0);
	assert_int_equal(file_write_secret(path, pem, strlen(pem), &err), 0);
	ca_pem_free(take_ptr(&pem));
	f->days = CA_LEAF_DAYS;
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 1);
	assert_true(llabs(certs_renew_at(cs, "web.acme.example") -
	                  ((long long)time(NULL) + (CA_LEAF_DAYS - CERTS_RENEW_DAYS) * 86400LL)) <
	            120);
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 0);
	/* Foreign: another CA's certificate for the same host. */
	other_dir = xasprintf("%s/other", f->dir);
	assert_int_equal(ca_open(other_dir, &other, &err), 0);
	assert_int_equal(ca_issue(other, "web.acme.example", 90, &pem, &err), 0);
	assert_int_equal(file_write_secret(path, pem, strlen(pem), &err), 0);
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 1);
	/* Another host's certificate in this host's file. */
	ca_pem_free(pem);
	assert_int_equal(ca_issue(f->ca, "api.acme.example", 90, &pem, &err), 0);
	assert_int_equal(file_write_secret(path, pem, strlen(pem), &err), 0);
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 1);
	/* Broken. */
	assert_int_equal(file_write_secret(path, "junk", 4, &err), 0);
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(issued, 1);
	ca_pem_free(pem);
	ca_free(other);
	free(other_dir);
	free(path);
	certs_free(cs);
}

static void
test_host_names_stay_in_the_directory(void **state)
{
	struct fixture *f = *state;
	struct certs *cs = store(f);
	struct err err = ERR_INIT;
	char *outside = xasprintf("%s/x.pem", f->dir);

	assert_true(certs_ensure(cs, "../x", NULL, &err) < 0);
	assert_true(certs_ensure(cs, "a/../../x", NULL, &err) < 0);
	assert_true(certs_ensure(cs, ".hidden", NULL, &err) < 0);
	assert_true(certs_ensure(cs, "", NULL, &err) < 0);
	assert_int_equal(access(outside, F_OK), -1);
	assert_int_equal(f->issues, 0);
	free(outside);
	certs_free(cs);
}

/* certs_info() reads a file once, and again when it was replaced; a file
 * gone is no certificate. */
static void
test_info_follows_the_file(void **state)
{
	struct fixture *f = *state;
	struct certs *cs = store(f);
	struct err err = ERR_INIT;
	struct certs_info a, b, c;
	char *path = certs_path(cs, "web.acme.example"), *pem = NULL;
	int issued;

	assert_int_equal(certs_info(cs, "web.acme.example", &a), -1);
	assert_int_equal(certs_ensure(cs, "web.acme.example", &issued, &err), 0);
	assert_int_equal(certs_info(cs, "web.acme.example", &a), 0);
	assert_int_equal(certs_info(cs, "web.acme.example", &b), 0);
	assert_memory_equal(&a, &b, sizeof a);
	/* Replaced (a new key): the new file's. */
	assert_int_equal(ca_issue(f->ca, "web.acme.example", 5, &pem, &err), 0);
	assert_int_equal(file_write_secret(path, pem, strlen(pem), &err), 0);
	ca_pem_free(pem);
	assert_int_equal(certs_info(cs, "web.acme.example", &c), 0);
	assert_string_not_equal(c.public_key_sha256, a.public_key_sha256);
	assert_true(c.not_after < a.not_after);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(certs_info(cs, "web.acme.example", &c), -1);
	free(path);
	certs_free(cs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_issued_once_then_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_issued_again_when_due_foreign_or_broken, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_host_names_stay_in_the_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_info_follows_the_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
