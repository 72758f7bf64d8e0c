/* hostkey: an Ed25519 key pair derived from a seed file. */
#include "secret/hostkey.h"

#include <sodium.h>
#include <string.h>

#include "common/log.h"
#include "secret/secret.h"

struct hostkey {
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

_Static_assert(crypto_sign_SEEDBYTES == SECRET_KEY_BYTES, "a seed is a key file's size");
_Static_assert(crypto_sign_PUBLICKEYBYTES == HOSTKEY_PUBLIC, "public key size");
_Static_assert(crypto_sign_BYTES == HOSTKEY_SIGNATURE, "signature size");

static struct hostkey *
hostkey_alloc(void)
{
	struct hostkey *k = sodium_malloc(sizeof *k);

	if (k == NULL)
		log_fatal("out of memory (sodium_malloc)");
	return k;
}

int
hostkey_load(const char *path, int create, struct hostkey **out, struct err *err)
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	struct hostkey *k;

	*out = NULL;
	if (sodium_init() < 0)
		return err_make(err, 0, "libsodium failed to initialise");
	if (secret_file_load(path, "host key", create, seed, err) < 0)
		return -1;
	k = hostkey_alloc();
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	sodium_memzero(seed, sizeof seed);
	sodium_mprotect_readonly(k);
	*out = k;
	return 0;
}

void
hostkey_free(struct hostkey *k)
{
	if (k != NULL)
		sodium_free(k);
}

void
hostkey_public_hex(const struct hostkey *k, char out[2 * HOSTKEY_PUBLIC + 1])
{
	sodium_bin2hex(out, 2 * HOSTKEY_PUBLIC + 1, k->pk, sizeof k->pk);
}

void
hostkey_sign_hex(const struct hostkey *k, const void *msg, size_t len,
                 char out[2 * HOSTKEY_SIGNATURE + 1])
{
	unsigned char sig[crypto_sign_BYTES];

	crypto_sign_detached(sig, NULL, msg, len, k->sk);
	sodium_bin2hex(out, 2 * HOSTKEY_SIGNATURE + 1, sig, sizeof sig);
}

static int
from_hex(const char *hex, unsigned char *bin, size_t n)
{
	size_t got = 0;

	if (hex == NULL || strlen(hex) != 2 * n)
		return -1;
	if (sodium_hex2bin(bin, n, hex, 2 * n, NULL, &got, NULL) != 0 || got != n)
		return -1;
	return 0;
}

int
hostkey_verify_hex(const char *pub_hex, const char *sig_hex, const void *msg, size_t len)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];

	if (sodium_init() < 0 || from_hex(pub_hex, pk, sizeof pk) < 0 ||
	    from_hex(sig_hex, sig, sizeof sig) < 0)
		return 0;
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}
