/* router_acme: the HTTP-01 challenges berth-router answers for berthd's ACME
 * client (RFC 8555 8.3), and the checks of a TLS-ALPN-01 one (RFC 8737; its
 * certificates are router_tls.h's: PUT/DELETE /v1/tls-challenges/HOST).
 *
 * berthd sets a challenge over the admin API (PUT /v1/challenges/TOKEN with
 * the host and the key authorization) before it tells the ACME server to
 * look, and deletes it after. A plain-HTTP request for
 * /.well-known/acme-challenge/TOKEN whose Host is the challenge's host is
 * answered with the key authorization before any route is looked up, so a
 * host without a route yet, or with shim.paths, is validated all the same.
 * The admin side writes on the main thread; workers read under the lock.
 */
#ifndef BERTH_ROUTER_ACME_H
#define BERTH_ROUTER_ACME_H

#include <pthread.h>
#include <stddef.h>

#include "common/err.h"

#define ROUTER_ACME_PREFIX      "/.well-known/acme-challenge/"
#define ROUTER_ACME_MAX         1024 /* challenges set at once */
#define ROUTER_ACME_TOKEN_MAX   128
#define ROUTER_ACME_KEYAUTH_MAX 256

struct router_acme_chal;

struct router_acme {
	pthread_mutex_t lock;
	struct router_acme_chal *v; /* owned array */
	size_t n;
};

void router_acme_init(struct router_acme *a);
void router_acme_free(struct router_acme *a);

/* Sets (or replaces) the challenge of token. Returns 0, or -1 with err for a
 * token, host or key authorization that is not valid, or too many. */
int router_acme_set(struct router_acme *a, const char *token, const char *host,
                    const char *key_auth, struct err *err);
/* Removes token's challenge: 0, or -1 when there was none. */
int router_acme_delete(struct router_acme *a, const char *token);
/* The number of challenges set. */
size_t router_acme_count(struct router_acme *a);

/* For a request of host (normalized) for path (len bytes): when it is the
 * challenge path of a token set for that host, copies its key authorization
 * into out (ROUTER_ACME_KEYAUTH_MAX + 1 bytes) and returns 1; else 0. */
int router_acme_answer(struct router_acme *a, const char *host, const char *path, size_t len,
                       char *out);

/* Checks a TLS-ALPN-01 challenge's host and key authorization (a token,
 * '.', a thumbprint: base64url both) before router_tls_set_alpn() takes
 * them; norm (ROUTE_HOST_MAX + 1 bytes) gets the normalized host. Returns
 * 0, or -1 with err. */
int router_acme_alpn_check(const char *host, const char *key_auth, char *norm, struct err *err);

#endif
