/* certs: the certificates of container hosts, as berthd keeps them for
 * berth-router.
 *
 * One file per host, DIR/HOST.pem (mode 0600, written atomically): the
 * private key, then the certificate and its chain. berth-router reads the
 * directory (--tls-dir) at each table change; berthd makes sure a host's file
 * is there and fresh before it gives the router a route for it. Who issues a
 * certificate is an issuer: the local CA today (tls/ca.h), ACME later; the
 * store only keeps the files and decides when one is due.
 */
#ifndef BERTH_CERTS_H
#define BERTH_CERTS_H

#include "common/err.h"

/* A certificate is issued again once it has less than this left and less
 * than a third of its lifetime: the local CA's 397-day ones 30 days before
 * they end, a 90-day ACME one at 60 days, a short-lived one at two thirds of
 * its life. */
#define CERTS_RENEW_DAYS 30

struct certs_issuer {
	const char *name; /* "local-ca" */
	/* Issues a certificate for host: 0 with *pem owned (key then chain, in
	 * PEM), or negative with err. Called from worker threads, one at a time. */
	int (*issue)(void *arg, const char *host, char **pem, struct err *err);
	/* Whether a kept certificate (its file's text) is still this issuer's:
	 * 1 yes, 0 no (issue again). NULL: any is. */
	int (*owns)(void *arg, const char *pem);
	void *arg; /* borrowed */
};

struct certs;

/* Opens the store in dir (made 0700) with its issuer (copied; its arg
 * borrowed). Returns 0 with *out owned, or negative with err. */
int certs_open(const char *dir, const struct certs_issuer *issuer, struct certs **out,
               struct err *err);

/* Makes sure DIR/HOST.pem holds a key and a certificate for host that the
 * issuer owns, not yet due for renewal (see CERTS_RENEW_DAYS): kept as it is,
 * or issued and written (atomically: a reader sees the old file or the new).
 * *issued (may be NULL) says which. Thread-safe. Returns 0, or negative with
 * err. */
int certs_ensure(struct certs *cs, const char *host, int *issued, struct err *err);

/* When host's certificate is due for renewal (Unix seconds), or 0 when it has
 * none that is good now. Blocking (reads the file). */
long long certs_renew_at(struct certs *cs, const char *host);

/* What a client can check of host's certificate, from its file. */
struct certs_info {
	char issuer[256];           /* the issuer's name, RFC 2253 ("CN=...,O=...") */
	long long not_after;        /* Unix seconds */
	char public_key_sha256[65]; /* hex SHA-256 of the SubjectPublicKeyInfo (DER): the
	                             * attestation document's tls_public_key_sha256 */
};

/* Fills out from host's file. Returns 0, or -1 when host has no certificate
 * that reads. Blocking (reads one small file); never returns the key. */
int certs_info(struct certs *cs, const char *host, struct certs_info *out);

/* The path of host's file; owned. */
char *certs_path(const struct certs *cs, const char *host);

/* Frees the store; NULL is fine. */
void certs_free(struct certs *cs);

#endif
