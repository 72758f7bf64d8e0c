/* hostkey: the host's Ed25519 signing key, which signs attestation documents
 * (docs/verification.md).
 *
 * <state>/host-key holds its 32-byte seed (mode 0600, made on first start,
 * kept across restarts); the key pair is derived from it with libsodium. The
 * private half stays in guarded memory; only the public half is shown. */
#ifndef BERTH_HOSTKEY_H
#define BERTH_HOSTKEY_H

#include <stddef.h>

#include "common/err.h"

#define HOSTKEY_FILE      "host-key"
#define HOSTKEY_PUBLIC    32 /* crypto_sign_PUBLICKEYBYTES */
#define HOSTKEY_SIGNATURE 64 /* crypto_sign_BYTES */

struct hostkey;

/* Loads the key whose seed is in path, creating the file first when create is
 * set and it does not exist (secret_file_load()'s checks). *out is owned; free
 * it with hostkey_free(). */
int hostkey_load(const char *path, int create, struct hostkey **out, struct err *err);

void hostkey_free(struct hostkey *k);

/* The public key as 64 lower-case hex chars and a NUL. */
void hostkey_public_hex(const struct hostkey *k, char out[2 * HOSTKEY_PUBLIC + 1]);

/* The detached Ed25519 signature of msg, as 128 hex chars and a NUL. */
void hostkey_sign_hex(const struct hostkey *k, const void *msg, size_t len,
                      char out[2 * HOSTKEY_SIGNATURE + 1]);

/* 1 when sig_hex (128 hex chars) is a valid signature of msg by the public
 * key pub_hex (64 hex chars), else 0. */
int hostkey_verify_hex(const char *pub_hex, const char *sig_hex, const void *msg, size_t len);

#endif
