/* attest: the attestation document berth-router serves on each container's
 * host (docs/verification.md): its constants and the helpers the router, which
 * signs it, and `berth verify`, which checks it, share. */
#ifndef BERTH_TLS_ATTEST_H
#define BERTH_TLS_ATTEST_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "common/err.h"

struct hostkey;

#define ATTEST_PATH          "/.well-known/berth-attestation"
#define ATTEST_FORMAT        "berth-attestation-v1"
#define ATTEST_NONCE_MIN_HEX 32  /* 16 bytes */
#define ATTEST_NONCE_MAX_HEX 128 /* 64 bytes */
/* The canonical JSON: keys sorted bytewise, no whitespace, UTF-8 as is with
 * only '"', '\\' and control characters escaped (jansson's compact form). */
#define ATTEST_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* The nonce of a query string (without its '?', len bytes): the value of
 * nonce=, hex of ATTEST_NONCE_MIN_HEX..ATTEST_NONCE_MAX_HEX digits (even),
 * lower-cased into out. Returns 0, or -1 when it is missing or not such. */
int attest_nonce_from_query(const char *q, size_t len, char out[ATTEST_NONCE_MAX_HEX + 1]);

/* sha256 (hex) of cert's SubjectPublicKeyInfo (DER). Returns 0 or -1. */
int attest_spki_sha256(X509 *cert, char out[65]);

/* The bytes signed: the canonical JSON of doc without its "signature".
 * Owned. */
char *attest_canonical(const json_t *doc);

/* Completes facts (the deployment's, borrowed; not changed) into a signed
 * document: format, nonce, time, tee, host_key, tls_public_key_sha256
 * (spki hex, or NULL: null, a channel without TLS) and the signature by
 * key over the canonical JSON of the rest. The one place a document is
 * made: berth-router's /.well-known/berth-attestation and berthd's local
 * attestation socket. Returns the compact JSON (owned), or NULL when
 * facts is not an object. */
char *attest_document(const json_t *facts, const char *nonce, const char *spki,
                      const struct hostkey *key);

/* The kinds of attested keys (tinfoil-config's attested-keys[].key). */
#define ATTEST_KEY_KINDS "ecdsa-p256, ed25519 or x25519"

/* A key pair made for one attested key of an enclave. The private part
 * lives in memory until it is written into the enclave's tmpfs, and is
 * wiped when cleared; nothing else keeps it. */
struct attest_keypair {
	char *private_pem; /* owned, PKCS#8 PEM, wiped by attest_keypair_clear() */
	size_t private_len;
	char *public_pem; /* owned, SubjectPublicKeyInfo PEM */
	char *public_b64; /* owned: base64 of the SubjectPublicKeyInfo (DER), the
	                   * document's attested_keys[].public_key */
};

/* Makes a new key pair of kind ("ecdsa-p256", "ed25519", "x25519") with
 * OpenSSL's random source into *out (cleared first). Returns 0, or -1 with
 * err for an unknown kind or a failure of OpenSSL. */
int attest_keypair_generate(const char *kind, struct attest_keypair *out, struct err *err);

/* Wipes and frees what k holds; k is zeroed. */
void attest_keypair_clear(struct attest_keypair *k);

#endif
