#include "secret/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

struct secret_key {
	unsigned char bytes[SECRET_KEY_BYTES];
};

/* Bound into every seal, so values sealed by a future format never open as this one. */
static const char secret_ad_domain[] = "berth.secret.v1";

int
secret_init(struct err *err)
{
	if (sodium_init() < 0)
		return err_make(err, 0, "libsodium failed to initialise");
	return 0;
}

static struct secret_key *
secret_key_alloc(void)
{
	struct secret_key *key = sodium_malloc(sizeof *key);

	if (key == NULL)
		log_fatal("out of memory (sodium_malloc)");
	return key;
}

struct secret_key *
secret_key_from_bytes(const unsigned char bytes[SECRET_KEY_BYTES])
{
	struct secret_key *key = secret_key_alloc();

	memcpy(key->bytes, bytes, SECRET_KEY_BYTES);
	sodium_mprotect_readonly(key);
	return key;
}

void
secret_key_free(struct secret_key *key)
{
	/* sodium_free() wipes the memory before releasing it. */
	if (key != NULL)
		sodium_free(key);
}

static int
write_full(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fsync_dir(const char *state_dir)
{
	int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Creates path with fresh random bytes, never replacing an existing file: the
 * key is written to a temporary file made with O_EXCL, then link(2)ed into
 * place, which fails if another process won the race (and then its key is
 * the one). A crash leaves either no key file or a complete one. */
static int
secret_key_create(const char *path, struct err *err)
{
	unsigned char bytes[SECRET_KEY_BYTES];
	char *tmp, *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd = -1, rc = -1;

	if (slash != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		strcpy(dir, ".");
	tmp = xasprintf("%s.tmp.%ld.%08x", path, (long)getpid(), randombytes_random());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = err_make(err, errno, "create %s", tmp);
		goto out;
	}
	randombytes_buf(bytes, sizeof bytes);
	if (fchmod(fd, 0600) < 0 || write_full(fd, bytes, sizeof bytes) < 0 || fsync(fd) < 0) {
		rc = err_make(err, errno, "write %s", tmp);
		goto out;
	}
	if (close(take_fd(&fd)) < 0) {
		rc = err_make(err, errno, "close %s", tmp);
		goto out;
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		rc = err_make(err, errno, "link %s to %s", tmp, path);
		goto out;
	}
	if (fsync_dir(dir) < 0) {
		rc = err_make(err, errno, "fsync %s", dir);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(bytes, sizeof bytes);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(dir);
	return rc;
}

int
secret_file_load(const char *path, const char *what, int create,
                 unsigned char bytes[SECRET_KEY_BYTES], struct err *err)
{
	struct stat st;
	size_t got = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && create) {
		if (secret_key_create(path, err) < 0)
			return err_wrap(err, "creating the %s", what);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0 && errno == ELOOP)
		return err_make(err, 0, "%s %s is a symbolic link; it must be a file", what, path);
	if (fd < 0)
		return err_make(err, errno, "open the %s %s", what, path);
	if (fstat(fd, &st) < 0) {
		rc = err_make(err, errno, "stat %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_make(err, 0, "%s %s is not a regular file", what, path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = err_make(err, 0, "%s %s is owned by uid %u, not by this user (uid %u)", what,
		              path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = err_make(err, 0,
		              "%s %s is open to group or others (mode %04o); "
		              "it must be mode 0600 (chmod 600 %s)",
		              what, path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size != SECRET_KEY_BYTES) {
		rc = err_make(err, 0, "%s %s is %lld bytes long, not %d: it is damaged", what, path,
		              (long long)st.st_size, SECRET_KEY_BYTES);
		goto out;
	}
	while (got < SECRET_KEY_BYTES) {
		ssize_t n = read(fd, bytes + got, SECRET_KEY_BYTES - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_make(err, errno, "read %s", path);
			goto out;
		}
		if (n == 0) {
			rc = err_make(err, 0, "%s %s shrank while being read", what, path);
			goto out;
		}
		got += (size_t)n;
	}
	rc = 0;
out:
	if (rc < 0)
		sodium_memzero(bytes, SECRET_KEY_BYTES);
	close(fd);
	return rc;
}

int
secret_key_load(const char *state_dir, struct secret_key **out, struct err *err)
{
	struct secret_key *key = secret_key_alloc();
	char *path = xasprintf("%s/%s", state_dir, SECRET_KEY_FILE);
	int rc;

	*out = NULL;
	rc = secret_file_load(path, "master key", 1, key->bytes, err);
	free(path);
	if (rc < 0) {
		secret_key_free(key);
		return rc;
	}
	sodium_mprotect_readonly(key);
	*out = key;
	return 0;
}

int
secret_name_check(const char *name, struct err *err)
{
	size_t len = strlen(name);

	if (len == 0)
		return err_make(err, 0, "secret name is empty");
	if (len > SECRET_NAME_MAX)
		return err_make(err, 0, "secret name is %zu characters long, over the %d allowed",
		                len, SECRET_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
		         (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return err_make(
			    err, 0,
			    "secret name \"%s\" is invalid: it must start with a letter "
			    "or _ and hold only letters, digits and _",
			    name);
	}
	return 0;
}

/* The associated data of a seal: domain, org and name, NUL-separated (neither
 * holds a NUL, so the encoding is unambiguous). Caller frees. */
static unsigned char *
secret_ad(const char *org, const char *name, size_t *len)
{
	size_t ld = sizeof secret_ad_domain, lo = strlen(org) + 1, ln = strlen(name);
	unsigned char *ad = xmalloc(ld + lo + ln);

	memcpy(ad, secret_ad_domain, ld);
	memcpy(ad + ld, org, lo);
	memcpy(ad + ld + lo, name, ln);
	*len = ld + lo + ln;
	return ad;
}

static int
secret_check_owner(const char *org, const char *name, struct err *err)
{
	if (org == NULL || org[0] == '\0')
		return err_make(err, 0, "secret %s has no org", name);
	return secret_name_check(name, err);
}

int
secret_seal(const struct secret_key *key, const char *org, const char *name, const void *value,
            size_t len, unsigned char **sealed, size_t *sealed_len,
            unsigned char nonce[SECRET_NONCE_BYTES], struct err *err)
{
	unsigned long long clen = 0;
	unsigned char *ad, *c;
	size_t adlen;

	*sealed = NULL;
	*sealed_len = 0;
	if (secret_check_owner(org, name, err) < 0)
		return -1;
	if (len > SECRET_VALUE_MAX)
		return err_make(err, 0, "secret %s is %zu bytes long, over the %d bytes allowed",
		                name, len, SECRET_VALUE_MAX);
	/* Values become environment variables, which end at a NUL. */
	if (memchr(value, '\0', len) != NULL)
		return err_make(err, 0,
		                "secret %s holds a NUL byte, which an environment variable cannot",
		                name);
	ad = secret_ad(org, name, &adlen);
	c = xmalloc(len + SECRET_TAG_BYTES);
	randombytes_buf(nonce, SECRET_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, value, len, ad, adlen, NULL, nonce,
	                                           key->bytes);
	free(ad);
	*sealed = c;
	*sealed_len = (size_t)clen;
	return 0;
}

int
secret_open(const struct secret_key *key, const char *org, const char *name,
            const unsigned char *sealed, size_t sealed_len,
            const unsigned char nonce[SECRET_NONCE_BYTES], char **value, size_t *len,
            struct err *err)
{
	unsigned long long mlen = 0;
	unsigned char *ad;
	size_t adlen;
	char *m;
	int rc;

	*value = NULL;
	*len = 0;
	if (secret_check_owner(org, name, err) < 0)
		return -1;
	if (sealed_len < SECRET_TAG_BYTES || sealed_len > SECRET_VALUE_MAX + SECRET_TAG_BYTES)
		return err_make(err, 0, "sealed secret %s/%s is %zu bytes long: it is damaged", org,
		                name, sealed_len);
	ad = secret_ad(org, name, &adlen);
	m = xmalloc(sealed_len - SECRET_TAG_BYTES + 1);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)m, &mlen, NULL, sealed,
	                                                sealed_len, ad, adlen, nonce, key->bytes);
	free(ad);
	if (rc != 0) {
		secret_value_free(m, sealed_len - SECRET_TAG_BYTES + 1);
		return err_make(err, 0,
		                "secret %s/%s cannot be opened: it was sealed with another key "
		                "or for another name, or it is damaged",
		                org, name);
	}
	m[mlen] = '\0';
	*value = m;
	*len = (size_t)mlen;
	return 0;
}

void
secret_value_free(char *value, size_t len)
{
	if (value == NULL)
		return;
	sodium_memzero(value, len);
	free(value);
}

void
token_generate(char out[TOKEN_LEN + 1])
{
	unsigned char raw[32];
	size_t plen = strlen(TOKEN_PREFIX);

	randombytes_buf(raw, sizeof raw);
	memcpy(out, TOKEN_PREFIX, plen);
	sodium_bin2base64(out + plen, TOKEN_LEN + 1 - plen, raw, sizeof raw,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

void
token_hash(const char *token, char out_hex[TOKEN_HASH_HEX])
{
	sha256_hex(token, strlen(token), out_hex);
}

int
token_equal(const char *a_hex, const char *b_hex)
{
	size_t la = strlen(a_hex), lb = strlen(b_hex);

	/* Hash lengths are public (always 64); only the content must not leak. */
	if (la != lb)
		return 0;
	return sodium_memcmp(a_hex, b_hex, la) == 0;
}
