/* secret: the master key, sealing of secret values, API tokens.
 *
 * Secret values are sealed at rest with XChaCha20-Poly1305 under a master key
 * kept in <state>/secret.key. The org and the secret's name are authenticated
 * with each value, so a sealed value cannot be moved to another name or org.
 * Every function is thread-safe once secret_init() has run.
 */
#ifndef BERTH_SECRET_H
#define BERTH_SECRET_H

#include <stddef.h>

#include "common/err.h"

#define SECRET_KEY_BYTES   32
#define SECRET_NONCE_BYTES 24 /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
#define SECRET_TAG_BYTES   16 /* added to a value's length when sealed */
#define SECRET_NAME_MAX    128
#define SECRET_VALUE_MAX   (64 * 1024) /* largest value accepted */
#define SECRET_KEY_FILE    "secret.key"

/* "berth_" and 43 base64url chars of 32 random bytes. */
#define TOKEN_PREFIX   "berth_"
#define TOKEN_LEN      49
#define TOKEN_HASH_HEX 65 /* sha256 as 64 hex chars plus NUL */

/* The master key, in guarded memory (sodium_malloc), read-only once loaded. */
struct secret_key;

/* Initialises libsodium; call once at start-up before any other secret_* or
 * token_*. Returns 0, or -1 when libsodium cannot start. */
int secret_init(struct err *err);

/* Loads <state_dir>/secret.key, creating it (32 random bytes, mode 0600,
 * atomically) when it does not exist. Refuses a key file of the wrong size,
 * not a regular file, not owned by us, or with any group/other permission.
 * On success *out is a new key; the caller frees it with secret_key_free(). */
int secret_key_load(const char *state_dir, struct secret_key **out, struct err *err);

/* Reads the SECRET_KEY_BYTES bytes of key file path (what names it in
 * errors: "master key") into bytes, creating it with random bytes (mode 0600,
 * atomically) first when create is set and it does not exist. Refuses a file
 * of the wrong size, a symbolic link, one not owned by this user, or one open
 * to group or others. */
int secret_file_load(const char *path, const char *what, int create,
                     unsigned char bytes[SECRET_KEY_BYTES], struct err *err);

/* A key made of SECRET_KEY_BYTES bytes (for tools and tests). */
struct secret_key *secret_key_from_bytes(const unsigned char bytes[SECRET_KEY_BYTES]);

/* Wipes and frees a key; NULL is fine. */
void secret_key_free(struct secret_key *key);

/* Checks a secret name: [A-Za-z_][A-Za-z0-9_]*, 1 to SECRET_NAME_MAX chars.
 * Returns 0, or -1 with a sentence naming what is wrong. */
int secret_name_check(const char *name, struct err *err);

/* Seals len bytes of value (no NUL byte: it becomes an environment variable)
 * for org/name with a fresh random nonce. On success
 * *sealed (len + SECRET_TAG_BYTES bytes, caller frees) and nonce are set. */
int secret_seal(const struct secret_key *key, const char *org, const char *name, const void *value,
                size_t len, unsigned char **sealed, size_t *sealed_len,
                unsigned char nonce[SECRET_NONCE_BYTES], struct err *err);

/* Opens a value sealed for org/name. On success *value is the plaintext,
 * NUL-terminated, *len bytes; the caller releases it with secret_value_free().
 * Fails (nothing returned) with a wrong key, org, name, nonce or any tampering. */
int secret_open(const struct secret_key *key, const char *org, const char *name,
                const unsigned char *sealed, size_t sealed_len,
                const unsigned char nonce[SECRET_NONCE_BYTES], char **value, size_t *len,
                struct err *err);

/* Wipes len bytes of a value from secret_open() and frees it; NULL is fine. */
void secret_value_free(char *value, size_t len);

/* Writes a new random API token ("berth_" + base64url of 32 bytes) into out. */
void token_generate(char out[TOKEN_LEN + 1]);

/* The sha256 of a token as lower-case hex: what the store keeps. */
void token_hash(const char *token, char out_hex[TOKEN_HASH_HEX]);

/* Whether two token hashes are equal, in time independent of their content.
 * Returns 1 when equal, 0 otherwise (also for different lengths). */
int token_equal(const char *a_hex, const char *b_hex);

#endif
