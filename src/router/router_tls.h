/* router_tls: berth-router's TLS: the server context and the certificates
 * it picks by SNI.
 *
 * Certificates come from a directory (--tls-dir) of HOST.pem files, each a
 * private key then its certificate chain (tls/certs.h writes them for
 * berthd). The directory is read at start and again at each table change, on
 * the main thread; workers look a name up under a read lock during the
 * handshake. A name without a file, or no SNI at all, fails the handshake
 * with an unrecognized_name alert: there is no default certificate, so a
 * scan of the port learns no host name.
 *
 * TLS-ALPN-01 (RFC 8737): berthd sets a challenge per host over the admin
 * API; a ClientHello whose ALPN offers exactly "acme-tls/1" for that SNI
 * name gets the challenge certificate (tls/acme.h, acme_alpn_cert) and that
 * protocol, and nothing else: no HTTP is read on it. Any other ClientHello
 * (h2, http/1.1, no ALPN, acme-tls/1 among others) never sees a challenge
 * certificate, and an acme-tls/1-only one for a name without a challenge
 * fails with no_application_protocol.
 */
#ifndef BERTH_ROUTER_TLS_H
#define BERTH_ROUTER_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "common/err.h"

struct router_tls;

/* Makes the server context and loads dir. Returns 0 with *out owned, or
 * negative with err. */
int router_tls_new(const char *dir, struct router_tls **out, struct err *err);
/* Reads the directory again: new and changed files are loaded, files gone
 * are forgotten, unchanged ones kept. A file that does not load is skipped
 * with a warning (its old certificate, if any, is kept). Main thread. */
void router_tls_reload(struct router_tls *t);
/* The number of hosts with a certificate. */
size_t router_tls_hosts(struct router_tls *t);
/* Sets (or replaces) the TLS-ALPN-01 challenge of host (normalized) with a
 * new challenge certificate of key_auth. Main thread. Returns 0, or negative
 * with err (too many set, or the certificate could not be made). */
int router_tls_set_alpn(struct router_tls *t, const char *host, const char *key_auth,
                        struct err *err);
/* Removes host's challenge: 0, or -1 when there was none. Main thread. */
int router_tls_clear_alpn(struct router_tls *t, const char *host);

/* A new server-side SSL on fd (not owned), or NULL when out of memory. */
SSL *router_tls_ssl_new(struct router_tls *t, int fd);
/* Frees t; NULL is fine. */
void router_tls_free(struct router_tls *t);

#endif
