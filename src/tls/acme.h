/* acme: an RFC 8555 client that orders the certificate of a container host.
 *
 * One account per state directory: an EC P-256 key in DIR/account.key (mode
 * 0600), made on first use and reused after, so that a restart is the same
 * account. Requests are JWS signed with ES256 (RFC 7518 3.4): the account's
 * `jwk` for newAccount, its `kid` after. The HTTP-01 challenge is answered by
 * whoever the challenge calls name (berth-router, set by berthd over its admin
 * API). Every request to the ACME server has a timeout, and a whole order a
 * deadline: a slow or dead server costs the calling thread a bounded time.
 *
 * acme_order() blocks: call it from a worker thread, one at a time. The
 * certificate's key is new for each order and never logged.
 */
#ifndef BERTH_ACME_H
#define BERTH_ACME_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "tls/certs.h"

#define ACME_KEY_FILE "account.key"

/* Where the key authorization of a challenge is served from: set before the
 * challenge is answered, cleared after. set/clear answer HTTP-01 (the token's
 * path); set_alpn/clear_alpn TLS-ALPN-01 (RFC 8737: the certificate of
 * acme_alpn_cert() for host, on the acme-tls/1 protocol). Either pair may be
 * NULL: that challenge is not taken. */
struct acme_challenges {
	int (*set)(void *arg, const char *host, const char *token, const char *key_auth,
	           struct err *err);
	void (*clear)(void *arg, const char *host, const char *token);
	int (*set_alpn)(void *arg, const char *host, const char *key_auth, struct err *err);
	void (*clear_alpn)(void *arg, const char *host);
	void *arg; /* borrowed */
};

#define ACME_HTTP01    "http-01"
#define ACME_TLSALPN01 "tls-alpn-01"

struct acme_settings {
	const char *directory;     /* the directory URL (https://...) */
	const char *ca_file;       /* trusted CAs for the ACME server, or NULL: the system's */
	const char *email;         /* the account's contact, or NULL */
	int request_timeout_ms;    /* one HTTP request (default 15 s) */
	int order_timeout_ms;      /* one whole order, polls included (default 120 s) */
	const _Atomic int *cancel; /* non-zero: give up at the next poll; may be NULL */
	const char *challenge;     /* ACME_HTTP01 (default, NULL) or ACME_TLSALPN01: the one
	                            * taken when offered; the other when only it is */
};

struct acme;

/* Opens the account in dir (made 0700): loads or makes its key. Nothing goes
 * over the network yet. Returns 0 with *out owned, or negative with err. */
int acme_open(const char *dir, const struct acme_settings *s, const struct acme_challenges *ch,
              struct acme **out, struct err *err);

/* Orders a certificate for host: newOrder, the challenge of each
 * authorization, finalize with a CSR for a new P-256 key, the download.
 * Returns 0 with *pem owned (the key, then the chain, in PEM; wipe it with
 * ca_pem_free), or negative with err: the ACME server's problem ("type:
 * detail") when it gave one. */
int acme_order(struct acme *a, const char *host, char **pem, struct err *err);

/* Fills out with the ACME account as the certificate store's issuer. */
void acme_as_issuer(struct acme *a, struct certs_issuer *out);

void acme_free(struct acme *a);

/* ---- the pieces, for tests ---- */

/* base64url without padding (RFC 7515 2); owned. */
char *acme_b64url(const unsigned char *data, size_t len);

/* The JWK of key's public part, members in lexical order, no spaces (the
 * form its RFC 7638 thumbprint is taken over); owned. */
char *acme_jwk(EVP_PKEY *key);

/* The RFC 7638 thumbprint of key, base64url; owned. */
char *acme_thumbprint(EVP_PKEY *key);

/* A flattened JWS (RFC 7515 7.2.2) of payload (NULL: the empty payload of a
 * POST-as-GET) for url with nonce, signed ES256 by key; kid NULL puts the
 * jwk in the header instead. Returns the JSON text (owned) or NULL. */
char *acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
               const char *payload);

/* The extnValue of the acmeIdentifier extension (RFC 8737 3): the DER
 * OCTET STRING of the SHA-256 of key_auth, 34 bytes into out. */
void acme_alpn_ext_value(const char *key_auth, unsigned char out[34]);

/* The TLS-ALPN-01 challenge certificate of host (RFC 8737 3): a new P-256
 * key, self-signed, one dNSName SAN (host) and the critical acmeIdentifier
 * extension of key_auth. Returns 0 with *pem owned (the key, then the
 * certificate; wipe it with ca_pem_free), or negative with err. */
int acme_alpn_cert(const char *host, const char *key_auth, char **pem, struct err *err);

#ifdef BERTH_TESTING
/* The challenge of authorization authz to take (the settings' one when
 * offered and servable, else the other), *alpn set when it is tls-alpn-01;
 * NULL when neither can be taken. Borrowed from authz. */
const json_t *acme_pick_challenge(const struct acme *a, const json_t *authz, int *alpn);
#endif

/* A DER CSR for host (CN and one dNSName SAN) signed by key, base64url;
 * owned, or NULL. */
char *acme_csr(EVP_PKEY *key, const char *host);

#endif
