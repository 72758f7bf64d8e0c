/* ca: berth's local certificate authority.
 *
 * One EC P-256 key and a self-signed CA certificate in a directory of
 * berthd's (ca.key, mode 0600, and ca.pem), made on first use and reused
 * after. It issues a leaf certificate, with a fresh P-256 key, per container
 * host. The CA's key never leaves this module: nothing returns or logs it.
 */
#ifndef BERTH_CA_H
#define BERTH_CA_H

#include <stddef.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "tls/certs.h"

#define CA_KEY_FILE  "ca.key"
#define CA_CERT_FILE "ca.pem"

/* A leaf lives this long (browsers accept 398 days at most). */
#define CA_LEAF_DAYS 397

struct ca;

/* Opens the CA in dir: loads ca.key and ca.pem, or makes both when neither
 * exists (dir is created 0700, the key written 0600). A key without its
 * certificate, or one that does not match it, is an error, never replaced
 * silently. Returns 0 with *out owned, or negative with err. */
int ca_open(const char *dir, struct ca **out, struct err *err);

/* The CA certificate in PEM; borrowed, valid while ca is. */
const char *ca_cert_pem(const struct ca *ca);

/* Issues a certificate for host (a DNS name), valid from an hour ago for
 * days days, signed by the CA. Returns 0 with *pem owned: the new private key
 * then the certificate, in PEM; or negative with err. The caller must keep
 * *pem out of logs and wipe it (ca_pem_free). Thread-safe. */
int ca_issue(struct ca *ca, const char *host, int days, char **pem, struct err *err);

/* A self-signed certificate for host (no CA's): a new P-256 key, valid from
 * an hour ago for days days, one dNSName SAN, and extra (borrowed; NULL:
 * none). Returns 0 with *pem owned (the key, then the certificate; wipe it
 * with ca_pem_free), or negative with err. */
int ca_self_signed(const char *host, int days, X509_EXTENSION *extra, char **pem, struct err *err);

/* Whether the certificate in pem (the first one in it) was signed by this
 * CA's key: 1 yes, 0 no (or not a certificate). */
int ca_signed(const struct ca *ca, const char *pem);

/* Fills out with the CA as the certificate store's issuer (tls/certs.h),
 * ca borrowed: it issues CA_LEAF_DAYS leaves and owns the leaves it signed. */
void ca_as_issuer(struct ca *ca, struct certs_issuer *out);

/* Wipes and frees a PEM text that holds a key; NULL is fine. */
void ca_pem_free(char *pem);

/* Frees the CA; NULL is fine. */
void ca_free(struct ca *ca);

#endif
