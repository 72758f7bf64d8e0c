/* verify: the checks `berth verify` makes of an attestation document
 * (docs/verification.md), apart from fetching it, so that each can be tested
 * with a recorded document. */
#ifndef BERTH_CLI_VERIFY_H
#define BERTH_CLI_VERIFY_H

#include <jansson.h>
#include <stddef.h>

/* Exit statuses of `berth verify` (docs/cli.md#verify); 1 and 2 are the
 * CLI's own (a failure before any check, a usage mistake). */
enum verify_code {
	VERIFY_OK = 0,
	VERIFY_EFETCH = 3,       /* no document: connection, TLS handshake or HTTP failed */
	VERIFY_EDOC = 4,         /* not an attestation document of a format known here */
	VERIFY_ESIGNATURE = 5,   /* the signature does not hold for the document's host key */
	VERIFY_EHOSTKEY = 6,     /* signed by another host key than the one given */
	VERIFY_ENONCE = 7,       /* not an answer to this nonce: replayed or forged */
	VERIFY_ETLSKEY = 8,      /* the connection's certificate is not the one attested */
	VERIFY_EMEASUREMENT = 9, /* another measurement than the one expected */
};

/* What the document must say. */
struct verify_expect {
	const char *nonce;       /* borrowed: the hex nonce sent */
	const char *tls_key;     /* borrowed: sha256 hex of this connection's certificate key */
	const char *host_key;    /* borrowed hex, or NULL: any (still checked for a signature) */
	const char *measurement; /* borrowed hex, or NULL: not checked */
};

/* Checks the shape of doc's attested_keys (absent, or a list of {id, key,
 * public_key} whose public_key is a SubjectPublicKeyInfo, base64 DER, of
 * that key type): VERIFY_OK, or VERIFY_EDOC with a sentence in why. */
int verify_attested_keys(const json_t *doc, char *why, size_t size);

/* Checks doc against e: format, signature, attested keys' shape, host key,
 * nonce, TLS key, measurement, in that order. Returns VERIFY_OK, or the first failed check's
 * code with a sentence in why. */
int verify_document(const json_t *doc, const struct verify_expect *e, char *why, size_t size);

#endif
