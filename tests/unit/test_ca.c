/* Unit tests of src/tls/ca.c: the local CA's files and the leaves it issues. */
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
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "tls/ca.h"
#include "unit.h"

static int
file_mode(const char *dir, const char *name)
{
	char *p = xasprintf("%s%s%s", dir, name[0] != '\0' ? "/" : "", name);
	struct stat st;
	int rc = stat(p, &st);

	free(p);
	return rc == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void
test_ca_created_0600_and_reloaded(void **state)
{
	char *dir = xasprintf("%s/ca", (char *)*state);
	struct err err = ERR_INIT;
	struct ca *ca = NULL, *again = NULL;

	assert_int_equal(ca_open(dir, &ca, &err), 0);
	assert_int_equal(file_mode(dir, ""), 0700);
	assert_int_equal(file_mode(dir, CA_KEY_FILE), 0600);
	assert_non_null(strstr(ca_cert_pem(ca), "-----BEGIN CERTIFICATE-----"));
	assert_null(strstr(ca_cert_pem(ca), "PRIVATE"));
	/* Opened again: the same CA, not a new one. */
	assert_int_equal(ca_open(dir, &again, &err), 0);
	assert_string_equal(ca_cert_pem(ca), ca_cert_pem(again));
	ca_free(again);
	ca_free(ca);
	free(dir);
}

static void
test_ca_refuses_a_readable_key_and_strays(void **state)
{
	char *dir = xasprintf("%s/ca", (char *)*state),
	     *other = xasprintf("%s/other", (char *)*state);
	char *key = xasprintf("%s/" CA_KEY_FILE, dir), *cert = xasprintf("%s/" CA_CERT_FILE, dir);
	char *ocert = xasprintf("%s/" CA_CERT_FILE, other);
	struct err err = ERR_INIT;
	struct ca *ca = NULL;

	assert_int_equal(ca_open(dir, &ca, &err), 0);
	ca_free(ca);
	ca = NULL;
	assert_int_equal(chmod(key, 0644), 0);
	assert_true(ca_open(dir, &ca, &err) < 0);
	assert_null(ca);
	assert_non_null(strstr(err.msg, "readable by other users"));
	assert_int_equal(chmod(key, 0600), 0);
	/* Another CA's certificate beside this key. */
	err_clear(&err);
	assert_int_equal(ca_open(other, &ca, &err), 0);
	ca_free(ca);
	ca = NULL;
	assert_int_equal(rename(ocert, cert), 0);
	assert_true(ca_open(dir, &ca, &err) < 0);
	assert_non_null(strstr(err.msg, "does not match"));
	/* A certificate without its key is never replaced by a new CA. */
	err_clear(&err);
	assert_int_equal(unlink(key), 0);
	assert_true(ca_open(dir, &ca, &err) < 0);
	assert_non_null(strstr(err.msg, "is not"));
	assert_int_equal(access(key, F_OK), -1);
	/* A key without its certificate (a crash between the writes): kept. */
	err_clear(&err);
	assert_int_equal(unlink(cert), 0);
	assert_int_equal(ca_open(other, &ca, &err), 0);
	ca_free(ca);
	free(dir);
	free(other);
	free(key);
	free(cert);
	free(ocert);
}

/* The key and the certificate of a PEM that ca_issue() made. */
static void
parse_leaf(const char *pem, EVP_PKEY **key, X509 **x)
{
	BIO *b = BIO_new_mem_buf(pem, -1);

	*key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	*x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(*key);
	assert_non_null(*x);
	BIO_free(b);
}

static void
test_ca_issues_a_server_leaf(void **state)
{
	char *dir = xasprintf("%s/ca", (char *)*state);
	const char *host = "web.acme.containers.localhost";
	struct err err = ERR_INIT;
	struct ca *ca = NULL;
	char *pem = NULL;
	EVP_PKEY *key;
	X509 *x, *root;
	BIO *b;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	GENERAL_NAMES *names;
	time_t soon = time(NULL) + 390L * 86400, late = time(NULL) + 398L * 86400;

	assert_int_equal(ca_open(dir, &ca, &err), 0);
	assert_int_equal(ca_issue(ca, host, CA_LEAF_DAYS, &pem, &err), 0);
	parse_leaf(pem, &key, &x);
	assert_int_equal(X509_check_private_key(x, key), 1);
	assert_int_equal(X509_check_host(x, host, 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "api.acme.containers.localhost", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(EVP_PKEY_get_bits(key), 256);
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(names), 1);
	GENERAL_NAMES_free(names);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &soon) > 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &late) < 0);
	/* It verifies as a TLS server certificate under the CA alone. */
	b = BIO_new_mem_buf(ca_cert_pem(ca), -1);
	root = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_int_equal(X509_STORE_add_cert(store, root), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	assert_int_equal(X509_verify_cert(ctx), 1);
	assert_int_equal(ca_signed(ca, pem), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(root);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	ca_pem_free(pem);
	ca_free(ca);
	free(dir);
}

static void
test_ca_refuses_names_that_are_not_hosts(void **state)
{
	static const char *bad[] = {
	    "a.example,DNS:evil.example",
	    "",
	    "a..b",
	    ".a",
	    "a.",
	    "x/y",
	    "*.a.example",
	    "a b.example",
	    "a.example\nDNS:evil",
	    "IP:127.0.0.1",
	};
	char *dir = xasprintf("%s/ca", (char *)*state);
	struct err err = ERR_INIT;
	struct ca *ca = NULL;
	char *pem = NULL;

	assert_int_equal(ca_open(dir, &ca, &err), 0);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err_clear(&err);
		assert_true(ca_issue(ca, bad[i], 30, &pem, &err) < 0);
		assert_null(pem);
		assert_non_null(strstr(err.msg, "not a host name"));
	}
	ca_free(ca);
	free(dir);
}

static void
test_ca_signed_tells_its_own_leaves(void **state)
{
	char *a = xasprintf("%s/a", (char *)*state), *b = xasprintf("%s/b", (char *)*state);
	struct err err = ERR_INIT;
	struct ca *ca = NULL, *cb = NULL;
	char *pem = NULL;

	assert_int_equal(ca_open(a, &ca, &err), 0);
	assert_int_equal(ca_open(b, &cb, &err), 0);
	assert_int_equal(ca_issue(cb, "x.example", 30, &pem, &err), 0);
	assert_int_equal(ca_signed(cb, pem), 1);
	assert_int_equal(ca_signed(ca, pem), 0);
	assert_int_equal(ca_signed(ca, "not a certificate"), 0);
	ca_pem_free(pem);
	ca_free(ca);
	ca_free(cb);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ca_created_0600_and_reloaded, unit_setup_dir,
	                                    unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_ca_refuses_a_readable_key_and_strays,
	                                    unit_setup_dir, unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_ca_issues_a_server_leaf, unit_setup_dir,
	                                    unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_ca_refuses_names_that_are_not_hosts,
	                                    unit_setup_dir, unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_ca_signed_tells_its_own_leaves, unit_setup_dir,
	                                    unit_teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
