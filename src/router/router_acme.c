/* router_acme: HTTP-01 challenges (see router_acme.h). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "router/route.h"
#include "router/router_acme.h"

struct router_acme_chal {
	char token[ROUTER_ACME_TOKEN_MAX + 1];
	char host[ROUTE_HOST_MAX + 1];
	char key_auth[ROUTER_ACME_KEYAUTH_MAX + 1];
};

void
router_acme_init(struct router_acme *a)
{
	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->lock, NULL);
}

void
router_acme_free(struct router_acme *a)
{
	pthread_mutex_destroy(&a->lock);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

/* base64url (tokens, RFC 8555 8.1) and its '.' (a key authorization). */
static int
b64url_ok(const char *s, size_t max, int dot)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || (dot && c == '.')))
			return 0;
	}
	return n > 0 && n <= max;
}

static struct router_acme_chal *
find(struct router_acme *a, const char *token, size_t len)
{
	for (size_t i = 0; i < a->n; i++)
		if (strlen(a->v[i].token) == len && memcmp(a->v[i].token, token, len) == 0)
			return &a->v[i];
	return NULL;
}

int
router_acme_set(struct router_acme *a, const char *token, const char *host, const char *key_auth,
                struct err *err)
{
	char norm[ROUTE_HOST_MAX + 1];
	struct router_acme_chal *c;
	int rc = 0;

	if (!b64url_ok(token, ROUTER_ACME_TOKEN_MAX, 0))
		return err_make(err, 0, "the token must be base64url, %d characters at most",
		                ROUTER_ACME_TOKEN_MAX);
	if (key_auth == NULL || !b64url_ok(key_auth, ROUTER_ACME_KEYAUTH_MAX, 1) ||
	    strncmp(key_auth, token, strlen(token)) != 0 || key_auth[strlen(token)] != '.')
		return err_make(err, 0,
		                "the key authorization must be the token, '.' and a "
		                "thumbprint");
	if (host == NULL || route_host_normalize(host, strlen(host), norm) < 0)
		return err_make(err, 0, "the challenge needs a \"host\" that is a host name");
	pthread_mutex_lock(&a->lock);
	c = find(a, token, strlen(token));
	if (c == NULL && a->n >= ROUTER_ACME_MAX) {
		rc = err_make(err, 0, "%d challenges are set already", ROUTER_ACME_MAX);
	} else {
		if (c == NULL) {
			a->v = xreallocarray(a->v, a->n + 1, sizeof *a->v);
			c = &a->v[a->n++];
		}
		snprintf(c->token, sizeof c->token, "%s", token);
		snprintf(c->host, sizeof c->host, "%s", norm);
		snprintf(c->key_auth, sizeof c->key_auth, "%s", key_auth);
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int
router_acme_delete(struct router_acme *a, const char *token)
{
	struct router_acme_chal *c;
	int rc = -1;

	pthread_mutex_lock(&a->lock);
	c = find(a, token, strlen(token));
	if (c != NULL) {
		*c = a->v[--a->n];
		rc = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

size_t
router_acme_count(struct router_acme *a)
{
	size_t n;

	pthread_mutex_lock(&a->lock);
	n = a->n;
	pthread_mutex_unlock(&a->lock);
	return n;
}

int
router_acme_answer(struct router_acme *a, const char *host, const char *path, size_t len, char *out)
{
	static const size_t plen = sizeof ROUTER_ACME_PREFIX - 1;
	struct router_acme_chal *c;
	int found = 0;

	if (len <= plen || memcmp(path, ROUTER_ACME_PREFIX, plen) != 0)
		return 0;
	pthread_mutex_lock(&a->lock);
	/* Nothing set: the path is the route's, as any other. */
	if (a->n > 0 && (c = find(a, path + plen, len - plen)) != NULL &&
	    strcmp(c->host, host) == 0) {
		memcpy(out, c->key_auth, sizeof c->key_auth);
		found = 1;
	}
	pthread_mutex_unlock(&a->lock);
	return found;
}

int
router_acme_alpn_check(const char *host, const char *key_auth, char *norm, struct err *err)
{
	const char *dot = key_auth != NULL ? strchr(key_auth, '.') : NULL;

	if (dot == NULL || dot == key_auth || dot[1] == '\0' || strchr(dot + 1, '.') != NULL ||
	    !b64url_ok(key_auth, ROUTER_ACME_KEYAUTH_MAX, 1))
		return err_make(err, 0,
		                "the key authorization must be the token, '.' and a "
		                "thumbprint");
	if (host == NULL || route_host_normalize(host, strlen(host), norm) < 0)
		return err_make(err, 0, "\"%s\" is not a host name", host != NULL ? host : "");
	return 0;
}
