/* router_attest: GET /.well-known/berth-attestation?nonce=HEX on a
 * container's host, answered by berth-router itself (never proxied): the
 * facts of the deployment the route serves, the nonce, the time, the key of
 * the TLS certificate this connection uses and the host key, signed with the
 * host key over their canonical JSON (docs/verification.md). */
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "router/router-conn-int.h"
#include "router/rstream.h"
#include "secret/hostkey.h"
#include "tls/attest.h"

int
router_attest_wanted(const char *path, size_t len)
{
	static const char p[] = ATTEST_PATH;

	return len == sizeof p - 1 && memcmp(path, p, len) == 0;
}

void
router_attest_answer(struct conn *c)
{
	struct worker *w = c->w;
	struct hostkey *key = w->r->hostkey;
	char nonce[ATTEST_NONCE_MAX_HEX + 1], spki[65];
	const char *q = w->url + w->query_off;
	size_t qlen = w->url_len - w->query_off;
	json_t *doc;
	char *body;

	if (c->is_head || c->rp.method != HTTP_GET) {
		router_conn_reply_why(c, 405, "the attestation document is fetched with GET", 0);
		return;
	}
	if (qlen > 0) {
		q++; /* the '?' */
		qlen--;
	}
	if (attest_nonce_from_query(q, qlen, nonce) < 0) {
		router_conn_reply_why(c, 400,
		                      "nonce: give ?nonce= with 16 to 64 random bytes in hex "
		                      "(32 to 128 hex digits)",
		                      0);
		return;
	}
	if (key == NULL) {
		router_conn_reply_why(c, 503,
		                      "this router has no host key (--host-key): it signs no "
		                      "attestation",
		                      0);
		return;
	}
	doc = json_loads(c->route->attestation, 0, NULL);
	if (doc == NULL) {
		router_conn_reply_why(c, 500, "the route's attestation facts are not JSON", 0);
		return;
	}
	body = attest_document(
	    doc, nonce,
	    c->cs->ssl != NULL && attest_spki_sha256(SSL_get_certificate(c->cs->ssl), spki) == 0
	        ? spki
	        : NULL,
	    key);
	json_decref(doc);
	if (body == NULL) {
		router_conn_reply_why(c, 500, "the route's attestation facts are not an object", 0);
		return;
	}
	router_conn_reply_body(c, 200, "application/json", body, strlen(body), 0);
	free(body);
}
