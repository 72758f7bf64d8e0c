/* acme: an RFC 8555 client (see acme.h). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "tls/acme.h"
#include "tls/ca.h"

#define ACME_BODY_MAX     (1024 * 1024) /* an answer of the ACME server, at most */
#define ACME_NONCE_TRIES  10            /* badNonce answers in a row before giving up */
#define ACME_POLL_MS      1000          /* between looks at a pending object */
#define ACME_USER_AGENT   "berth-acme/" BERTH_VERSION
#define ACME_PROBLEM_BASE "urn:ietf:params:acme:error:"

struct acme {
	char *dir;       /* owned */
	char *directory; /* owned: the directory URL */
	char *ca_file;   /* owned or NULL */
	char *email;     /* owned or NULL */
	int request_timeout_ms, order_timeout_ms;
	const _Atomic int *cancel;
	int prefer_alpn; /* settings' challenge is tls-alpn-01 */
	struct acme_challenges ch;
	EVP_PKEY *key;    /* owned: the account key */
	char *thumbprint; /* owned */
	pthread_mutex_t lock;
	/* Learnt from the server, kept between orders (under lock). */
	json_t *dir_json; /* owned: the directory object, or NULL */
	char *kid;        /* owned: the account URL, or NULL */
	char *nonce;      /* owned: the next Replay-Nonce, or NULL */
	int64_t deadline; /* monotonic ms: the current order's end */
};

/* ---- encodings ---- */

char *
acme_b64url(const unsigned char *data, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = xmalloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)data[i] << 16;
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

static char *
b64url_str(const char *s)
{
	return acme_b64url((const unsigned char *)s, strlen(s));
}

/* The key's public point as two 32-byte coordinates. */
static int
ec_point(EVP_PKEY *key, unsigned char x[32], unsigned char y[32])
{
	BIGNUM *bx = NULL, *by = NULL;
	int ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) &&
	         EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) &&
	         BN_bn2binpad(bx, x, 32) == 32 && BN_bn2binpad(by, y, 32) == 32;

	BN_free(bx);
	BN_free(by);
	return ok ? 0 : -1;
}

char *
acme_jwk(EVP_PKEY *key)
{
	unsigned char x[32], y[32];
	char *bx, *by, *jwk;

	if (ec_point(key, x, y) < 0) {
		ERR_clear_error();
		return NULL;
	}
	bx = acme_b64url(x, 32);
	by = acme_b64url(y, 32);
	/* RFC 7638 3.2: the required members, in lexical order, no spaces. */
	jwk = xasprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
	free(bx);
	free(by);
	return jwk;
}

char *
acme_thumbprint(EVP_PKEY *key)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *jwk = acme_jwk(key);

	if (jwk == NULL)
		return NULL;
	SHA256((const unsigned char *)jwk, strlen(jwk), md);
	free(jwk);
	return acme_b64url(md, sizeof md);
}

/* ES256 over data: the DER ECDSA signature as R || S, 32 bytes each
 * (RFC 7518 3.4), base64url. */
static char *
es256(EVP_PKEY *key, const char *data)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80], rs[64];
	const unsigned char *p = der;
	size_t dlen = sizeof der;
	ECDSA_SIG *sig = NULL;
	char *out = NULL;

	if (md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, der, &dlen, (const unsigned char *)data, strlen(data)) == 1 &&
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) != NULL &&
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32)
		out = acme_b64url(rs, sizeof rs);
	ERR_clear_error();
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return out;
}

char *
acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url, const char *payload)
{
	json_t *prot = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "nonce", nonce, "url", url);
	char *ptext, *p64, *b64, *input, *sig, *out = NULL;

	if (kid != NULL) {
		json_object_set_new(prot, "kid", json_string(kid));
	} else {
		char *jwk = acme_jwk(key);
		json_t *j = jwk != NULL ? json_loads(jwk, 0, NULL) : NULL;

		free(jwk);
		if (j == NULL) {
			json_decref(prot);
			return NULL;
		}
		json_object_set_new(prot, "jwk", j);
	}
	ptext = json_dumps(prot, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(prot);
	p64 = b64url_str(ptext);
	b64 = b64url_str(payload != NULL ? payload : "");
	input = xasprintf("%s.%s", p64, b64);
	sig = es256(key, input);
	if (sig != NULL) {
		json_t *j =
		    json_pack("{s:s,s:s,s:s}", "protected", p64, "payload", b64, "signature", sig);
		out = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	free(ptext);
	free(p64);
	free(b64);
	free(input);
	free(sig);
	return out;
}

char *
acme_csr(EVP_PKEY *key, const char *host)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = NULL;
	unsigned char *der = NULL;
	char *sanv = xasprintf("DNS:%s", host), *out = NULL;
	int len = -1;

	if (req != NULL && name != NULL && exts != NULL && X509_REQ_set_version(req, 0) &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1,
	                               -1, 0) &&
	    X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key) &&
	    (san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sanv)) != NULL &&
	    sk_X509_EXTENSION_push(exts, san) && X509_REQ_add_extensions(req, exts) &&
	    X509_REQ_sign(req, key, EVP_sha256()) > 0)
		len = i2d_X509_REQ(req, &der);
	if (len > 0)
		out = acme_b64url(der, (size_t)len);
	ERR_clear_error();
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	free(sanv);
	return out;
}

/* ---- TLS-ALPN-01 (RFC 8737) ---- */

#define ACME_OID_IDENTIFIER "1.3.6.1.5.5.7.1.31" /* id-pe-acmeIdentifier */
#define ACME_ALPN_DAYS      7                    /* a challenge certificate, at most */

void
acme_alpn_ext_value(const char *key_auth, unsigned char out[34])
{
	/* Authorization ::= OCTET STRING (SIZE (32)): tag, length, digest. */
	out[0] = 0x04;
	out[1] = 0x20;
	SHA256((const unsigned char *)key_auth, strlen(key_auth), out + 2);
}

int
acme_alpn_cert(const char *host, const char *key_auth, char **pem, struct err *err)
{
	unsigned char value[34];
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_OID_IDENTIFIER, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int rc;

	*pem = NULL;
	acme_alpn_ext_value(key_auth, value);
	if (oid == NULL || os == NULL || !ASN1_OCTET_STRING_set(os, value, sizeof value) ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, os)) == NULL)
		rc = err_make(err, 0, "make the acmeIdentifier extension of %s", host);
	else
		rc = ca_self_signed(host, ACME_ALPN_DAYS, ext, pem, err);
	ERR_clear_error();
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	return rc;
}

/* ---- HTTP ---- */

struct reply {
	long status;
	struct buf_capped body; /* at most ACME_BODY_MAX (http() sets the limit) */
	char *location;         /* owned or NULL */
	char *nonce;            /* owned or NULL */
	json_t *json;           /* owned: the body parsed, or NULL */
	int64_t retry_after;    /* seconds of Retry-After, 0 when none */
};

static void
reply_clear(struct reply *r)
{
	buf_free(&r->body.buf);
	free(r->location);
	free(r->nonce);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	char *v;

	if ((v = http_header_value(p, len, "Replay-Nonce")) != NULL) {
		free(r->nonce);
		r->nonce = v;
	} else if ((v = http_header_value(p, len, "Location")) != NULL) {
		free(r->location);
		r->location = v;
	} else if ((v = http_header_value(p, len, "Retry-After")) != NULL) {
		r->retry_after = atoll(v);
		free(v);
	}
	return len;
}

static int
cancelled(const struct acme *a)
{
	return a->cancel != NULL && atomic_load(a->cancel) != 0;
}

/* libcurl's progress callback: a request in flight ends when berthd stops. */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return cancelled(arg);
}

/* The time one request may take: its own timeout, never past the order's
 * deadline. */
static long
request_budget(const struct acme *a)
{
	int64_t left = a->deadline - now_mono_ms();

	if (left > a->request_timeout_ms)
		left = a->request_timeout_ms;
	return left > 1 ? (long)left : 1;
}

/* One request: GET (body NULL), HEAD (head) or POST of a JWS. 0 with *r
 * filled (any status), or negative with err when no answer came. */
static int
http(struct acme *a, const char *url, const char *body, int head, struct reply *r, struct err *err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	memset(r, 0, sizeof *r);
	/* after the memset: a limit of 0 would refuse every answer with a body */
	r->body.max = ACME_BODY_MAX;
	if (c == NULL)
		return err_make(err, 0, "curl_easy_init failed");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, request_budget(a));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, request_budget(a));
	curl_easy_setopt(c, CURLOPT_USERAGENT, ACME_USER_AGENT);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_capped_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (a->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, a->ca_file);
	if (head) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (body != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK) {
		int rc = err_make(err, 0, "%s: %s", url,
		                  r->body.overflow    ? "the answer is too large"
		                  : errbuf[0] != '\0' ? errbuf
		                                      : curl_easy_strerror(cc));
		reply_clear(r);
		return rc;
	}
	buf_putc(&r->body.buf, '\0');
	r->body.buf.len--;
	if (r->body.buf.len > 0)
		r->json = json_loadb(r->body.buf.data, r->body.buf.len, 0, NULL);
	return 0;
}

/* err from an ACME problem document (RFC 7807) in j, or the bare status. */
static int
problem(struct err *err, const char *what, long status, const json_t *j)
{
	const char *type = json_string_value(json_object_get(j, "type"));
	const char *detail = json_string_value(json_object_get(j, "detail"));

	if (type != NULL && strncmp(type, ACME_PROBLEM_BASE, strlen(ACME_PROBLEM_BASE)) == 0)
		type += strlen(ACME_PROBLEM_BASE);
	if (type == NULL && detail == NULL)
		return err_make(err, 0, "%s: the ACME server answered %ld", what, status);
	return err_make(err, 0, "%s: %s%s%s", what, type != NULL ? type : "",
	                type != NULL && detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

static int
is_bad_nonce(const struct reply *r)
{
	const char *type = json_string_value(json_object_get(r->json, "type"));

	return r->status == 400 && type != NULL && strcmp(type, ACME_PROBLEM_BASE "badNonce") == 0;
}

/* A URL of the directory (newNonce, newAccount, newOrder), fetched once. */
static int
dir_url(struct acme *a, const char *name, const char **url, struct err *err)
{
	if (a->dir_json == NULL) {
		struct reply r;

		if (http(a, a->directory, NULL, 0, &r, err) < 0)
			return err_wrap(err, "ACME directory");
		if (r.status != 200 || !json_is_object(r.json)) {
			problem(err, "ACME directory", r.status, r.json);
			reply_clear(&r);
			return -1;
		}
		a->dir_json = take_ptr(&r.json);
		reply_clear(&r);
	}
	*url = json_string_value(json_object_get(a->dir_json, name));
	if (*url == NULL)
		return err_make(err, 0, "the ACME directory %s has no %s", a->directory, name);
	return 0;
}

static int
fresh_nonce(struct acme *a, struct err *err)
{
	const char *url;
	struct reply r;

	if (a->nonce != NULL)
		return 0;
	if (dir_url(a, "newNonce", &url, err) < 0)
		return -1;
	if (http(a, url, NULL, 1, &r, err) < 0)
		return err_wrap(err, "a nonce");
	a->nonce = take_ptr(&r.nonce);
	reply_clear(&r);
	if (a->nonce == NULL)
		return err_make(err, 0, "%s gave no Replay-Nonce", url);
	return 0;
}

/* POSTs payload (NULL: POST-as-GET) to url as a JWS, with a new nonce for
 * each badNonce answer. 0 with *r (its status may be an error), or negative
 * with err. */
static int
post(struct acme *a, const char *url, const char *payload, int use_jwk, struct reply *r,
     struct err *err)
{
	for (int tries = 0;; tries++) {
		char *jws;
		int rc;

		if (fresh_nonce(a, err) < 0)
			return -1;
		jws = acme_jws(a->key, use_jwk ? NULL : a->kid, a->nonce, url, payload);
		free(take_ptr(&a->nonce));
		if (jws == NULL)
			return err_make(err, 0, "sign a request to %s", url);
		rc = http(a, url, jws, 0, r, err);
		free(jws);
		if (rc < 0)
			return -1;
		a->nonce = take_ptr(&r->nonce);
		if (!is_bad_nonce(r) || tries + 1 >= ACME_NONCE_TRIES)
			return 0;
		log_debug("acme: %s: badNonce, again with a new one", url);
		reply_clear(r);
	}
}

/* post() that must answer 2xx with a JSON object (or, text, any body). */
static int
post_ok(struct acme *a, const char *what, const char *url, const char *payload, int use_jwk,
        struct reply *r, struct err *err)
{
	if (post(a, url, payload, use_jwk, r, err) < 0)
		return err_wrap(err, "%s", what);
	if (r->status / 100 != 2) {
		problem(err, what, r->status, r->json);
		reply_clear(r);
		return -1;
	}
	return 0;
}

static int
account(struct acme *a, struct err *err)
{
	const char *url;
	struct reply r;
	json_t *p;
	char *text;
	int rc;

	if (a->kid != NULL)
		return 0;
	if (dir_url(a, "newAccount", &url, err) < 0)
		return -1;
	p = json_pack("{s:b}", "termsOfServiceAgreed", 1);
	if (a->email != NULL) {
		char *mailto = xasprintf("mailto:%s", a->email);
		json_object_set_new(p, "contact", json_pack("[s]", mailto));
		free(mailto);
	}
	text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	rc = post_ok(a, "the ACME account", url, text, 1, &r, err);
	free(text);
	if (rc < 0)
		return -1;
	a->kid = take_ptr(&r.location);
	reply_clear(&r);
	if (a->kid == NULL)
		return err_make(err, 0, "the ACME account: no Location in the answer");
	log_info("acme: account %s", a->kid);
	return 0;
}

/* Waits before the next look at a pending object: Retry-After when the
 * server gave one, within the order's deadline. -1 when none is left. */
static int
poll_wait(const struct acme *a, const struct reply *r, const char *what, struct err *err)
{
	int64_t ms =
	    r->retry_after > 0 && r->retry_after < 10 ? r->retry_after * 1000 : ACME_POLL_MS;

	for (int64_t end = now_mono_ms() + ms; now_mono_ms() < end;) {
		if (cancelled(a))
			return err_make(err, ECANCELED, "%s: berthd stops", what);
		if (now_mono_ms() + 100 > a->deadline)
			return err_make(err, ETIMEDOUT, "%s: not done within the order's %d s",
			                what, a->order_timeout_ms / 1000);
		usleep(100 * 1000);
	}
	return 0;
}

/* POST-as-GET url until its status is none of pending/processing/ready-to-
 * wait; *r holds the last answer. */
static int
poll_status(struct acme *a, const char *what, const char *url, const char *const *waiting,
            struct reply *r, struct err *err)
{
	for (;;) {
		const char *st;
		int wait = 0;

		if (post_ok(a, what, url, NULL, 0, r, err) < 0)
			return -1;
		st = json_string_value(json_object_get(r->json, "status"));
		if (st == NULL) {
			reply_clear(r);
			return err_make(err, 0, "%s: no status in the answer", what);
		}
		for (size_t i = 0; waiting[i] != NULL; i++)
			wait |= strcmp(st, waiting[i]) == 0;
		if (!wait)
			return 0;
		if (poll_wait(a, r, what, err) < 0) {
			reply_clear(r);
			return -1;
		}
		reply_clear(r);
	}
}

/* The error of an invalid authorization: its challenge's problem. */
static int
authz_failed(struct err *err, const char *host, const json_t *authz)
{
	const json_t *chal;
	size_t i;

	json_array_foreach(json_object_get(authz, "challenges"), i, chal)
	{
		const json_t *e = json_object_get(chal, "error");
		if (e != NULL) {
			char *what = xasprintf("the challenge of %s", host);
			problem(err, what, 0, e);
			free(what);
			return -1;
		}
	}
	return err_make(err, 0, "the authorization of %s is %s", host,
	                json_string_value(json_object_get(authz, "status")));
}

/* The challenge of authz to take: a->challenge when the server offers it
 * (and it can be served), else the other one; NULL when neither. */
TESTABLE const json_t *
acme_pick_challenge(const struct acme *a, const json_t *authz, int *alpn)
{
	const json_t *chal, *http01 = NULL, *alpn01 = NULL;
	size_t i;

	json_array_foreach(json_object_get(authz, "challenges"), i, chal)
	{
		const char *type = json_string_value(json_object_get(chal, "type"));
		if (type != NULL && strcmp(type, ACME_HTTP01) == 0 && a->ch.set != NULL)
			http01 = chal;
		else if (type != NULL && strcmp(type, ACME_TLSALPN01) == 0 &&
		         a->ch.set_alpn != NULL)
			alpn01 = chal;
	}
	*alpn = alpn01 != NULL && (a->prefer_alpn || http01 == NULL);
	return *alpn ? alpn01 : http01;
}

/* Makes one authorization valid: its challenge (HTTP-01 or TLS-ALPN-01)
 * served, answered, waited for; the challenge cleared again either way. */
static int
authorize(struct acme *a, const char *host, const char *url, struct err *err)
{
	static const char *const waiting[] = {"pending", "processing", NULL};
	struct reply r;
	const json_t *picked;
	const char *st, *token, *curl_;
	char *key_auth = NULL, *tok = NULL, *churl = NULL;
	int rc = -1, alpn;

	if (post_ok(a, "an authorization", url, NULL, 0, &r, err) < 0)
		return -1;
	st = json_string_value(json_object_get(r.json, "status"));
	if (st != NULL && strcmp(st, "valid") == 0) {
		reply_clear(&r);
		return 0; /* the server reused a valid one */
	}
	picked = acme_pick_challenge(a, r.json, &alpn);
	token = json_string_value(json_object_get(picked, "token"));
	curl_ = json_string_value(json_object_get(picked, "url"));
	if (token == NULL || curl_ == NULL) {
		reply_clear(&r);
		return err_make(err, 0,
		                "the ACME server offers neither an http-01 nor a tls-alpn-01 "
		                "challenge for %s",
		                host);
	}
	/* The token becomes a path at the router: base64url only. */
	for (const char *p = token; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			reply_clear(&r);
			return err_make(err, 0, "the challenge token for %s is not base64url",
			                host);
		}
	tok = xstrdup(token);
	churl = xstrdup(curl_);
	reply_clear(&r);
	key_auth = xasprintf("%s.%s", tok, a->thumbprint);
	if ((alpn ? a->ch.set_alpn(a->ch.arg, host, key_auth, err)
	          : a->ch.set(a->ch.arg, host, tok, key_auth, err)) < 0) {
		err_wrap(err, "serve the %s challenge of %s", alpn ? ACME_TLSALPN01 : ACME_HTTP01,
		         host);
		goto out;
	}
	log_debug("acme: %s: the %s challenge is served", host,
	          alpn ? ACME_TLSALPN01 : ACME_HTTP01);
	if (post_ok(a, "answer the challenge", churl, "{}", 0, &r, err) < 0)
		goto clear;
	reply_clear(&r);
	if (poll_status(a, "the authorization", url, waiting, &r, err) < 0)
		goto clear;
	st = json_string_value(json_object_get(r.json, "status"));
	if (strcmp(st, "valid") == 0)
		rc = 0;
	else
		authz_failed(err, host, r.json);
	reply_clear(&r);
clear:
	if (alpn)
		a->ch.clear_alpn(a->ch.arg, host);
	else
		a->ch.clear(a->ch.arg, host, tok);
out:
	free(key_auth);
	free(tok);
	free(churl);
	return rc;
}

/* A string member of an object, copied; NULL when absent. */
static char *
member(const json_t *j, const char *name)
{
	const char *s = json_string_value(json_object_get(j, name));

	return s != NULL ? xstrdup(s) : NULL;
}

static int
order_locked(struct acme *a, const char *host, char **pem, struct err *err)
{
	static const char *const finalizing[] = {"pending", "ready", "processing", NULL};
	struct reply r;
	const char *url, *st;
	char *payload, *order_url = NULL, *finalize = NULL, *cert_url = NULL, *csr = NULL;
	char **authzs = NULL;
	const json_t *v;
	EVP_PKEY *key = NULL;
	BIO *b = NULL;
	size_t i;
	int rc = -1;

	if (account(a, err) < 0 || dir_url(a, "newOrder", &url, err) < 0)
		return -1;
	payload = xasprintf("{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}", host);
	rc = post_ok(a, "the order", url, payload, 0, &r, err);
	free(payload);
	if (rc < 0)
		return -1;
	rc = -1;
	order_url = take_ptr(&r.location);
	finalize = member(r.json, "finalize");
	json_array_foreach(json_object_get(r.json, "authorizations"), i, v)
	{
		if (json_is_string(v))
			authzs = strv_push(authzs, json_string_value(v));
	}
	reply_clear(&r);
	if (order_url == NULL || finalize == NULL) {
		err_make(err, 0, "the order of %s: no Location or finalize in the answer", host);
		goto out;
	}
	for (i = 0; authzs != NULL && authzs[i] != NULL; i++)
		if (authorize(a, host, authzs[i], err) < 0)
			goto out;
	/* The certificate's key: new for each order, ours only. */
	key = EVP_EC_gen("P-256");
	csr = key != NULL ? acme_csr(key, host) : NULL;
	if (csr == NULL) {
		err_make(err, 0, "make the CSR of %s", host);
		goto out;
	}
	payload = xasprintf("{\"csr\":\"%s\"}", csr);
	rc = post_ok(a, "finalize the order", finalize, payload, 0, &r, err);
	free(payload);
	if (rc < 0)
		goto out;
	rc = -1;
	reply_clear(&r);
	if (poll_status(a, "the order", order_url, finalizing, &r, err) < 0)
		goto out;
	st = json_string_value(json_object_get(r.json, "status"));
	if (strcmp(st, "valid") != 0) {
		const json_t *e = json_object_get(r.json, "error");
		if (e != NULL)
			problem(err, "the order", 0, e);
		else
			err_make(err, 0, "the order of %s is %s", host, st);
		reply_clear(&r);
		goto out;
	}
	cert_url = member(r.json, "certificate");
	reply_clear(&r);
	if (cert_url == NULL) {
		err_make(err, 0, "the order of %s is valid but names no certificate", host);
		goto out;
	}
	if (post_ok(a, "the certificate", cert_url, NULL, 0, &r, err) < 0)
		goto out;
	if (strstr(r.body.buf.data, "-----BEGIN CERTIFICATE-----") == NULL) {
		reply_clear(&r);
		err_make(err, 0, "the certificate of %s is not PEM", host);
		goto out;
	}
	b = BIO_new(BIO_s_secmem());
	if (b == NULL || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) ||
	    BIO_write(b, r.body.buf.data, (int)r.body.buf.len) != (int)r.body.buf.len) {
		reply_clear(&r);
		err_make(err, 0, "out of memory");
		goto out;
	}
	reply_clear(&r);
	{
		char *data = NULL;
		long n = BIO_get_mem_data(b, &data);
		*pem = xstrndup(data, (size_t)n);
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	EVP_PKEY_free(key);
	strv_free(authzs);
	free(order_url);
	free(finalize);
	free(cert_url);
	free(csr);
	return rc;
}

int
acme_order(struct acme *a, const char *host, char **pem, struct err *err)
{
	int rc;

	*pem = NULL;
	pthread_mutex_lock(&a->lock);
	a->deadline = now_mono_ms() + a->order_timeout_ms;
	rc = order_locked(a, host, pem, err);
	if (rc < 0) {
		/* The next order starts from the directory and the account
		 * again: the server may have changed or forgotten either (a test
		 * server restarted, an account deactivated). Two requests. */
		json_decref(take_ptr(&a->dir_json));
		free(take_ptr(&a->kid));
		err_wrap(err, "ACME %s", a->directory);
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ---- the account ---- */

static int
load_or_make_key(const char *path, EVP_PKEY **out, struct err *err)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	BIO *b = NULL;
	int rc = -1;

	*out = NULL;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return err_make(err, errno, "stat %s", path);
		*out = EVP_EC_gen("P-256");
		b = BIO_new(BIO_s_secmem());
		if (*out == NULL || b == NULL ||
		    !PEM_write_bio_PrivateKey(b, *out, NULL, NULL, 0, NULL, NULL)) {
			err_make(err, 0, "make the ACME account key");
			goto out;
		}
		len = (size_t)BIO_get_mem_data(b, &text);
		if (file_write_secret(path, text, len, err) < 0)
			goto out;
		rc = 0;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		return err_make(err, 0, "%s is readable by other users (mode %04o): chmod 600 it",
		                path, (unsigned)(st.st_mode & 07777));
	}
	if (file_read_all(path, 64 * 1024, &text, &len, err) < 0)
		return -1;
	b = BIO_new_mem_buf(text, (int)len);
	if (b != NULL)
		*out = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	OPENSSL_cleanse(text, len);
	free(text);
	if (*out == NULL || EVP_PKEY_get_base_id(*out) != EVP_PKEY_EC)
		err_make(err, 0, "%s is not an EC private key", path);
	else
		rc = 0;
out:
	/* text, when made here, is the BIO's own memory. */
	ERR_clear_error();
	if (rc < 0) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	BIO_free(b);
	return rc;
}

int
acme_open(const char *dir, const struct acme_settings *s, const struct acme_challenges *ch,
          struct acme **out, struct err *err)
{
	struct acme *a;
	char *path;
	int rc;

	*out = NULL;
	if (s->directory == NULL || strncmp(s->directory, "https://", 8) != 0)
		return err_make(err, 0, "the ACME directory must be an https:// URL");
	if (s->challenge != NULL && strcmp(s->challenge, ACME_HTTP01) != 0 &&
	    strcmp(s->challenge, ACME_TLSALPN01) != 0)
		return err_make(err, 0, "the ACME challenge \"%s\" is not %s or %s", s->challenge,
		                ACME_HTTP01, ACME_TLSALPN01);
	if (mkdir_p(dir, 0700, err) < 0)
		return err_wrap(err, "ACME account");
	a = xcalloc(1, sizeof *a);
	a->dir = xstrdup(dir);
	a->directory = xstrdup(s->directory);
	a->ca_file = s->ca_file != NULL ? xstrdup(s->ca_file) : NULL;
	a->email = s->email != NULL ? xstrdup(s->email) : NULL;
	a->request_timeout_ms = s->request_timeout_ms > 0 ? s->request_timeout_ms : 15000;
	a->order_timeout_ms = s->order_timeout_ms > 0 ? s->order_timeout_ms : 120000;
	a->cancel = s->cancel;
	a->prefer_alpn = s->challenge != NULL && strcmp(s->challenge, ACME_TLSALPN01) == 0;
	a->ch = *ch;
	pthread_mutex_init(&a->lock, NULL);
	path = xasprintf("%s/" ACME_KEY_FILE, dir);
	rc = load_or_make_key(path, &a->key, err);
	if (rc < 0)
		err_wrap(err, "ACME account");
	free(path);
	if (rc == 0 && (a->thumbprint = acme_thumbprint(a->key)) == NULL)
		rc = err_make(err, 0, "ACME account: the key has no P-256 public point");
	if (rc < 0) {
		acme_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

static int
issuer_issue(void *arg, const char *host, char **pem, struct err *err)
{
	return acme_order(arg, host, pem, err);
}

/* A certificate of an ACME CA comes with its chain: the leaf, then the
 * intermediate that signed it. The local CA's leaves come alone. */
static int
issuer_owns(void *arg, const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *leaf = NULL, *up = NULL;
	EVP_PKEY *upkey;
	int ok = 0;

	(void)arg;
	if (b != NULL && (leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL &&
	    (up = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL &&
	    (upkey = X509_get0_pubkey(up)) != NULL)
		ok = X509_verify(leaf, upkey) == 1;
	ERR_clear_error();
	X509_free(leaf);
	X509_free(up);
	BIO_free(b);
	return ok;
}

void
acme_as_issuer(struct acme *a, struct certs_issuer *out)
{
	out->name = "acme";
	out->issue = issuer_issue;
	out->owns = issuer_owns;
	out->arg = a;
}

void
acme_free(struct acme *a)
{
	if (a == NULL)
		return;
	EVP_PKEY_free(a->key);
	json_decref(a->dir_json);
	pthread_mutex_destroy(&a->lock);
	free(a->thumbprint);
	free(a->kid);
	free(a->nonce);
	free(a->dir);
	free(a->directory);
	free(a->ca_file);
	free(a->email);
	free(a);
}
