/* Unit tests of src/secret: master key file, sealing, names, tokens. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "common/util.h"
#include "secret/secret.h"
#include "unit.h"

static void
write_file(const char *path, const void *data, size_t len, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static struct secret_key *
test_key(unsigned char fill)
{
	unsigned char b[SECRET_KEY_BYTES];

	memset(b, fill, sizeof b);
	return secret_key_from_bytes(b);
}

static void
test_key_created_0600_and_reloaded(void **state)
{
	const char *dir = *state;
	struct err err = ERR_INIT;
	struct secret_key *k1 = NULL, *k2 = NULL;
	unsigned char nonce[SECRET_NONCE_BYTES], *sealed = NULL;
	size_t sealed_len, len;
	char *path = xasprintf("%s/%s", dir, SECRET_KEY_FILE), *value = NULL;
	struct stat st;

	assert_int_equal(secret_key_load(dir, &k1, &err), 0);
	assert_non_null(k1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SECRET_KEY_BYTES);

	/* The second start reads the same key: a value sealed before opens after. */
	assert_int_equal(
	    secret_seal(k1, "acme", "API_KEY", "hunter2", 7, &sealed, &sealed_len, nonce, &err), 0);
	assert_int_equal(secret_key_load(dir, &k2, &err), 0);
	assert_int_equal(
	    secret_open(k2, "acme", "API_KEY", sealed, sealed_len, nonce, &value, &len, &err), 0);
	assert_int_equal(len, 7);
	assert_string_equal(value, "hunter2");
	/* No temporary file is left behind: the directory holds the key only. */
	DIR *d = opendir(dir);
	int entries = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		entries += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 1);
	secret_value_free(value, len);
	free(sealed);
	secret_key_free(k1);
	secret_key_free(k2);
	free(path);
}

static void
test_bad_key_files_refused(void **state)
{
	const char *dir = *state;
	struct err err = ERR_INIT;
	struct secret_key *k = NULL;
	char *path = xasprintf("%s/%s", dir, SECRET_KEY_FILE);
	unsigned char bytes[SECRET_KEY_BYTES + 1] = {0};

	/* Too short: refused, and left as it was (never overwritten). */
	write_file(path, bytes, 31, 0600);
	assert_true(secret_key_load(dir, &k, &err) < 0);
	assert_null(k);
	assert_non_null(strstr(err.msg, "31 bytes long, not 32"));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 31);

	/* Too long. */
	write_file(path, bytes, 33, 0600);
	assert_true(secret_key_load(dir, &k, &err) < 0);
	assert_non_null(strstr(err.msg, "33 bytes long"));

	/* Right size but readable by group or others. */
	write_file(path, bytes, 32, 0640);
	assert_true(secret_key_load(dir, &k, &err) < 0);
	assert_non_null(strstr(err.msg, "mode 0640"));
	write_file(path, bytes, 32, 0604);
	assert_true(secret_key_load(dir, &k, &err) < 0);
	assert_non_null(strstr(err.msg, "group or others"));

	/* A directory in its place. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(secret_key_load(dir, &k, &err) < 0);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(rmdir(path), 0);

	/* A symlink is not followed. */
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_true(secret_key_load(dir, &k, &err) < 0);
	assert_null(k);
	assert_non_null(strstr(err.msg, "is a symbolic link"));
	assert_int_equal(unlink(path), 0);

	/* A missing state directory is an error, not a crash. */
	assert_true(secret_key_load("/nonexistent/berth-svc", &k, &err) < 0);
	assert_non_null(strstr(err.msg, "creating the master key"));

	/* And a good one loads. */
	write_file(path, bytes, 32, 0600);
	assert_int_equal(secret_key_load(dir, &k, &err), 0);
	secret_key_free(k);
	free(path);
}

static void
test_seal_round_trip(void **state)
{
	struct err err = ERR_INIT;
	struct secret_key *k = test_key(7);
	unsigned char n1[SECRET_NONCE_BYTES], n2[SECRET_NONCE_BYTES], *s1, *s2;
	size_t l1, l2, len;
	char *value;
	const char *plain = "postgres://user:pa55@db/x";

	(void)state;
	assert_int_equal(secret_seal(k, "acme", "DB_URL", plain, strlen(plain), &s1, &l1, n1, &err),
	                 0);
	assert_int_equal(l1, strlen(plain) + SECRET_TAG_BYTES);
	assert_null(memmem(s1, l1, "pa55", 4));
	/* The same value sealed twice differs: a fresh nonce every time. */
	assert_int_equal(secret_seal(k, "acme", "DB_URL", plain, strlen(plain), &s2, &l2, n2, &err),
	                 0);
	assert_memory_not_equal(n1, n2, SECRET_NONCE_BYTES);
	assert_memory_not_equal(s1, s2, l1);
	assert_int_equal(secret_open(k, "acme", "DB_URL", s1, l1, n1, &value, &len, &err), 0);
	assert_int_equal(len, strlen(plain));
	assert_string_equal(value, plain);
	secret_value_free(value, len);

	/* An empty value is a value. */
	free(s2);
	assert_int_equal(secret_seal(k, "acme", "EMPTY", "", 0, &s2, &l2, n2, &err), 0);
	assert_int_equal(secret_open(k, "acme", "EMPTY", s2, l2, n2, &value, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(value, "");
	secret_value_free(value, len);
	free(s1);
	free(s2);
	secret_key_free(k);
}

static void
test_open_refuses_wrong_key_name_org_tamper(void **state)
{
	struct err err = ERR_INIT;
	struct secret_key *k = test_key(1), *other = test_key(2);
	unsigned char nonce[SECRET_NONCE_BYTES], *s;
	size_t l, len;
	char *value = (char *)"untouched";

	(void)state;
	assert_int_equal(secret_seal(k, "acme", "API_KEY", "s3cret", 6, &s, &l, nonce, &err), 0);

	assert_true(secret_open(other, "acme", "API_KEY", s, l, nonce, &value, &len, &err) < 0);
	assert_null(value);
	assert_non_null(strstr(err.msg, "cannot be opened"));
	assert_true(secret_open(k, "acme", "API_KEY2", s, l, nonce, &value, &len, &err) < 0);
	assert_true(secret_open(k, "acme", "api_key", s, l, nonce, &value, &len, &err) < 0);
	assert_true(secret_open(k, "globex", "API_KEY", s, l, nonce, &value, &len, &err) < 0);
	/* org "acme" + name "API_KEY" must not equal org "acmeA" + name "PI_KEY". */
	assert_true(secret_open(k, "acmeA", "PI_KEY", s, l, nonce, &value, &len, &err) < 0);

	for (size_t i = 0; i < l; i++) {
		s[i] ^= 0x01;
		assert_true(secret_open(k, "acme", "API_KEY", s, l, nonce, &value, &len, &err) < 0);
		s[i] ^= 0x01;
	}
	nonce[0] ^= 0x80;
	assert_true(secret_open(k, "acme", "API_KEY", s, l, nonce, &value, &len, &err) < 0);
	nonce[0] ^= 0x80;
	assert_true(secret_open(k, "acme", "API_KEY", s, l - 1, nonce, &value, &len, &err) < 0);
	assert_true(secret_open(k, "acme", "API_KEY", s, 3, nonce, &value, &len, &err) < 0);
	assert_non_null(strstr(err.msg, "damaged"));
	assert_null(value);

	/* Untouched, it still opens. */
	assert_int_equal(secret_open(k, "acme", "API_KEY", s, l, nonce, &value, &len, &err), 0);
	assert_string_equal(value, "s3cret");
	secret_value_free(value, len);
	free(s);
	secret_key_free(k);
	secret_key_free(other);
}

static void
test_seal_checks_input(void **state)
{
	struct err err = ERR_INIT;
	struct secret_key *k = test_key(3);
	unsigned char nonce[SECRET_NONCE_BYTES], *s = (unsigned char *)"x";
	size_t l = 99;
	char *big = xcalloc(SECRET_VALUE_MAX + 1, 1);

	(void)state;
	assert_true(secret_seal(k, "acme", "BAD-NAME", "v", 1, &s, &l, nonce, &err) < 0);
	assert_null(s);
	assert_int_equal(l, 0);
	assert_non_null(strstr(err.msg, "BAD-NAME"));
	assert_true(secret_seal(k, "", "OK", "v", 1, &s, &l, nonce, &err) < 0);
	assert_true(secret_seal(k, "acme", "BIG", big, SECRET_VALUE_MAX + 1, &s, &l, nonce, &err) <
	            0);
	assert_non_null(strstr(err.msg, "over the"));
	assert_true(secret_seal(k, "acme", "NUL", "a\0b", 3, &s, &l, nonce, &err) < 0);
	assert_null(s);
	assert_string_equal(err.msg,
	                    "secret NUL holds a NUL byte, which an environment variable cannot");
	memset(big, 'v', SECRET_VALUE_MAX);
	assert_int_equal(secret_seal(k, "acme", "BIG", big, SECRET_VALUE_MAX, &s, &l, nonce, &err),
	                 0);
	free(s);
	free(big);
	secret_key_free(k);
}

static void
test_secret_names(void **state)
{
	struct err err = ERR_INIT;
	char name[SECRET_NAME_MAX + 2];

	(void)state;
	assert_int_equal(secret_name_check("API_KEY", &err), 0);
	assert_int_equal(secret_name_check("_x9", &err), 0);
	assert_int_equal(secret_name_check("a", &err), 0);
	assert_true(secret_name_check("", &err) < 0);
	assert_string_equal(err.msg, "secret name is empty");
	assert_true(secret_name_check("9LIVES", &err) < 0);
	assert_true(secret_name_check("MY-KEY", &err) < 0);
	assert_true(secret_name_check("MY KEY", &err) < 0);
	assert_true(secret_name_check("KEY=1", &err) < 0);
	assert_true(secret_name_check("CL\xc3\x89", &err) < 0);
	memset(name, 'A', SECRET_NAME_MAX);
	name[SECRET_NAME_MAX] = '\0';
	assert_int_equal(secret_name_check(name, &err), 0);
	name[SECRET_NAME_MAX] = 'A';
	name[SECRET_NAME_MAX + 1] = '\0';
	assert_true(secret_name_check(name, &err) < 0);
	assert_non_null(strstr(err.msg, "129 characters"));
}

static void
test_tokens(void **state)
{
	char t1[TOKEN_LEN + 1], t2[TOKEN_LEN + 1], h1[TOKEN_HASH_HEX], h2[TOKEN_HASH_HEX];

	(void)state;
	token_generate(t1);
	token_generate(t2);
	assert_int_equal(strlen(t1), TOKEN_LEN);
	assert_int_equal(strncmp(t1, "berth_", 6), 0);
	for (const char *p = t1 + 6; *p; p++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                       "0123456789-_",
		                       *p));
	assert_string_not_equal(t1, t2);

	/* The hash is sha256, stable across runs. */
	token_hash("berth_test", h1);
	assert_string_equal(h1, "919a4dccdffe37cc35df8536a078e3103b475a7df44cd96291aa49f7f531f95b");
	token_hash(t1, h1);
	token_hash(t1, h2);
	assert_string_equal(h1, h2);
	assert_true(token_equal(h1, h2));
	token_hash(t2, h2);
	assert_false(token_equal(h1, h2));
	/* Differences at the first and the last position, and lengths. */
	strcpy(h2, h1);
	h2[0] = h2[0] == 'a' ? 'b' : 'a';
	assert_false(token_equal(h1, h2));
	strcpy(h2, h1);
	h2[63] = h2[63] == 'a' ? 'b' : 'a';
	assert_false(token_equal(h1, h2));
	h2[63] = '\0';
	assert_false(token_equal(h1, h2));
	assert_false(token_equal(h1, ""));
	assert_true(token_equal("", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_key_created_0600_and_reloaded, unit_setup_dir,
	                                    unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_bad_key_files_refused, unit_setup_dir,
	                                    unit_teardown_dir),
	    cmocka_unit_test(test_seal_round_trip),
	    cmocka_unit_test(test_open_refuses_wrong_key_name_org_tamper),
	    cmocka_unit_test(test_seal_checks_input),
	    cmocka_unit_test(test_secret_names),
	    cmocka_unit_test(test_tokens),
	};

	if (secret_init(NULL) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
