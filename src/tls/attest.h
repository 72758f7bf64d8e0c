/* attest: the attestation document berth-router serves on each container's
 * host (docs/verification.md): its constants and the helpers the router, which
 * signs it, and `berth verify`, which checks it, share. */
#ifndef BERTH_TLS_ATTEST_H
#define BERTH_TLS_ATTEST_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>

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

#endif
