/* Unit tests of src/tls/acme.c (base64url, the JWK and its thumbprint, ES256
 * JWS, the CSR, the account key's file) and of src/router/router_acme.c (the
 * challenges berth-router answers). The protocol against a real server is
 * tests/system/tls/test_acme.py's. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "router/route.h"
#include "router/router_acme.h"
#include "tls/acme.h"
#include "tls/ca.h"

/* base64url decoding, for the checks. */
static unsigned char *
unb64(const char *s, size_t *len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(s);
	unsigned char *out = xmalloc(n + 1);
	unsigned acc = 0;
	int bits = 0;

	*len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = strchr(tab, s[i]);
		assert_non_null(p);
		acc = acc << 6 | (unsigned)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[(*len)++] = (unsigned char)(acc >> bits);
		}
	}
	out[*len] = '\0';
	return out;
}

static void
test_b64url(void **state)
{
	/* RFC 4648 10's vectors, in the URL alphabet without padding. */
	static const char *const vec[][2] = {
	    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};
	const unsigned char odd[] = {0xfb, 0xff, 0xfe};
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		s = acme_b64url((const unsigned char *)vec[i][0], strlen(vec[i][0]));
		assert_string_equal(s, vec[i][1]);
		free(s);
	}
	s = acme_b64url(odd, sizeof odd);
	assert_string_equal(s, "-__-"); /* not "+//+" */
	free(s);
}

static void
test_jwk_and_thumbprint(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	char *jwk = acme_jwk(key), *tp = acme_thumbprint(key), *want;
	unsigned char md[SHA256_DIGEST_LENGTH];
	json_t *j;

	(void)state;
	assert_non_null(jwk);
	/* RFC 7638 3.2: exactly crv, kty, x, y in that order, no spaces. */
	{
		static const char head[] = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"";
		assert_int_equal(strncmp(jwk, head, sizeof head - 1), 0);
	}
	assert_null(strchr(jwk, ' '));
	j = json_loads(jwk, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 4);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "x"))), 43);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "y"))), 43);
	json_decref(j);
	/* The thumbprint is the SHA-256 of that text, base64url. */
	SHA256((const unsigned char *)jwk, strlen(jwk), md);
	want = acme_b64url(md, sizeof md);
	assert_string_equal(tp, want);
	free(want);
	free(jwk);
	free(tp);
	EVP_PKEY_free(key);
}

/* Verifies a JWS's ES256 signature with key: R || S back to DER. */
static int
jws_verifies(EVP_PKEY *key, const char *prot64, const char *payload64, const char *sig64)
{
	size_t n;
	unsigned char *rs = unb64(sig64, &n), *der = NULL;
	char *input = xasprintf("%s.%s", prot64, payload64);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int dlen, ok;

	assert_int_equal(n, 64);
	ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
	dlen = i2d_ECDSA_SIG(sig, &der);
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(md, der, (size_t)dlen, (const unsigned char *)input, strlen(input)) ==
	         1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	free(input);
	free(rs);
	return ok;
}

/* The JWS j's protected header, decoded. */
static json_t *
protected_of(const json_t *j)
{
	size_t n;
	unsigned char *raw = unb64(json_string_value(json_object_get(j, "protected")), &n);
	json_t *prot = json_loads((char *)raw, 0, NULL);

	free(raw);
	assert_non_null(prot);
	return prot;
}

static void
test_jws_jwk_then_kid(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	char *text = acme_jws(key, NULL, "nonce1", "https://acme/new-acct", "{\"a\":1}");
	json_t *j = json_loads(text, 0, NULL), *prot;
	const char *p64, *b64, *s64;
	unsigned char *raw;
	char *jwk;
	size_t n;

	(void)state;
	assert_non_null(j);
	p64 = json_string_value(json_object_get(j, "protected"));
	b64 = json_string_value(json_object_get(j, "payload"));
	s64 = json_string_value(json_object_get(j, "signature"));
	prot = protected_of(j);
	assert_string_equal(json_string_value(json_object_get(prot, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(prot, "nonce")), "nonce1");
	assert_string_equal(json_string_value(json_object_get(prot, "url")),
	                    "https://acme/new-acct");
	assert_null(json_object_get(prot, "kid"));
	/* newAccount's header carries the public key itself. */
	jwk = json_dumps(json_object_get(prot, "jwk"), JSON_COMPACT | JSON_SORT_KEYS);
	{
		char *want = acme_jwk(key);
		assert_string_equal(jwk, want);
		free(want);
	}
	free(jwk);
	raw = unb64(b64, &n);
	assert_string_equal((char *)raw, "{\"a\":1}");
	free(raw);
	assert_true(jws_verifies(key, p64, b64, s64));
	assert_false(jws_verifies(other, p64, b64, s64));
	assert_false(jws_verifies(key, p64, "e30", s64)); /* another payload */
	json_decref(prot);
	json_decref(j);
	free(text);

	/* After it, the account URL; a POST-as-GET has the empty payload. */
	text = acme_jws(key, "https://acme/acct/1", "nonce2", "https://acme/order/1", NULL);
	j = json_loads(text, 0, NULL);
	p64 = json_string_value(json_object_get(j, "protected"));
	b64 = json_string_value(json_object_get(j, "payload"));
	prot = protected_of(j);
	assert_string_equal(json_string_value(json_object_get(prot, "kid")), "https://acme/acct/1");
	assert_null(json_object_get(prot, "jwk"));
	assert_string_equal(b64, "");
	assert_true(
	    jws_verifies(key, p64, b64, json_string_value(json_object_get(j, "signature"))));
	json_decref(prot);
	json_decref(j);
	free(text);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void
test_csr(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	char *csr = acme_csr(key, "web.default.example.org");
	unsigned char *der;
	const unsigned char *p;
	X509_REQ *req;
	STACK_OF(X509_EXTENSION) * exts;
	GENERAL_NAMES *names = NULL;
	size_t n;

	(void)state;
	assert_non_null(csr);
	assert_null(strpbrk(csr, "+/=")); /* base64url, no padding */
	der = unb64(csr, &n);
	p = der;
	req = d2i_X509_REQ(NULL, &p, (long)n);
	assert_non_null(req);
	/* Signed by the host's key, for its one name. */
	assert_int_equal(X509_REQ_verify(req, key), 1);
	exts = X509_REQ_get_extensions(req);
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name)
			names = X509V3_EXT_d2i(e);
	}
	assert_non_null(names);
	assert_int_equal(sk_GENERAL_NAME_num(names), 1);
	{
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, 0);
		assert_int_equal(g->type, GEN_DNS);
		assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName),
		                    "web.default.example.org");
	}
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	free(der);
	free(csr);
	EVP_PKEY_free(key);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int
no_set(void *arg, const char *host, const char *token, const char *key_auth, struct err *err)
{
	(void)arg, (void)host, (void)token, (void)key_auth;
	return err_make(err, 0, "not here");
}

static void
no_clear(void *arg, const char *host, const char *token)
{
	(void)arg, (void)host, (void)token;
}

static void
test_account_key_0600_reused_and_checked(void **state)
{
	char tmpl[] = "/tmp/berth-unit-acme-XXXXXX";
	struct acme_settings s = {.directory = "https://127.0.0.1:1/dir"};
	struct acme_challenges ch = {.set = no_set, .clear = no_clear};
	struct err err = ERR_INIT;
	struct acme *a = NULL;
	struct stat st;
	char *path, *first = NULL, *again = NULL;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	path = xasprintf("%s/acme/" ACME_KEY_FILE, tmpl);
	{
		char *dir = xasprintf("%s/acme", tmpl);
		assert_int_equal(acme_open(dir, &s, &ch, &a, &err), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(file_read_all(path, 65536, &first, &len, &err), 0);
		acme_free(a);
		/* Opened again: the same key, untouched. */
		assert_int_equal(acme_open(dir, &s, &ch, &a, &err), 0);
		acme_free(a);
		assert_int_equal(file_read_all(path, 65536, &again, &len, &err), 0);
		assert_string_equal(first, again);
		/* A key others can read is refused, not used. */
		assert_int_equal(chmod(path, 0644), 0);
		assert_true(acme_open(dir, &s, &ch, &a, &err) < 0);
		assert_non_null(strstr(err.msg, "readable by other users"));
		err_clear(&err);
		/* Plain HTTP to the ACME server is refused. */
		s.directory = "http://127.0.0.1:1/dir";
		assert_true(acme_open(dir, &s, &ch, &a, &err) < 0);
		err_clear(&err);
		free(dir);
	}
	/* An order against nobody fails within its timeouts, with a reason. */
	s.directory = "https://127.0.0.1:1/dir";
	s.request_timeout_ms = 2000;
	assert_int_equal(chmod(path, 0600), 0);
	{
		char *dir = xasprintf("%s/acme", tmpl), *pem = NULL;
		assert_int_equal(acme_open(dir, &s, &ch, &a, &err), 0);
		assert_true(acme_order(a, "web.example.org", &pem, &err) < 0);
		assert_null(pem);
		assert_non_null(strstr(err.msg, "ACME directory"));
		err_clear(&err);
		acme_free(a);
		free(dir);
	}
	free(first);
	free(again);
	free(path);
	nftw(tmpl, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
test_router_challenges(void **state)
{
	struct router_acme a;
	struct err err = ERR_INIT;
	char out[ROUTER_ACME_KEYAUTH_MAX + 1];
	const char *path = ROUTER_ACME_PREFIX "tok_en-1";

	(void)state;
	router_acme_init(&a);
	assert_int_equal(router_acme_set(&a, "tok_en-1", "Web.Example.org", "tok_en-1.thumb", &err),
	                 0);
	assert_int_equal(router_acme_count(&a), 1);
	/* Its host only, its path only. */
	assert_int_equal(router_acme_answer(&a, "web.example.org", path, strlen(path), out), 1);
	assert_string_equal(out, "tok_en-1.thumb");
	assert_int_equal(router_acme_answer(&a, "api.example.org", path, strlen(path), out), 0);
	assert_int_equal(router_acme_answer(&a, "web.example.org", path, strlen(path) - 1, out), 0);
	assert_int_equal(router_acme_answer(&a, "web.example.org", "/tok_en-1", 9, out), 0);
	/* What could leave the path or the body is refused. */
	assert_true(router_acme_set(&a, "../x", "web.example.org", "../x.t", &err) < 0);
	err_clear(&err);
	assert_true(router_acme_set(&a, "t2", "web.example.org", "other.thumb", &err) < 0);
	err_clear(&err);
	assert_true(router_acme_set(&a, "t2", "web.example.org", "t2.a\r\nX: y", &err) < 0);
	err_clear(&err);
	assert_true(router_acme_set(&a, "t2", "not a host", "t2.a", &err) < 0);
	err_clear(&err);
	assert_int_equal(router_acme_delete(&a, "tok_en-1"), 0);
	assert_int_equal(router_acme_delete(&a, "tok_en-1"), -1);
	assert_int_equal(router_acme_answer(&a, "web.example.org", path, strlen(path), out), 0);
	router_acme_free(&a);
}

/* RFC 8737 3: the acmeIdentifier extension, critical, whose extnValue is
 * the DER OCTET STRING of the key authorization's SHA-256; one dNSName. */
static void
test_alpn_cert(void **state)
{
	const char *key_auth = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-"
	                       "EBXdN7cBkH1WOu0tA3M9fm21mqTI";
	unsigned char want[34], digest[SHA256_DIGEST_LENGTH];
	const unsigned char *p;
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	ASN1_OCTET_STRING *inner;
	const ASN1_OCTET_STRING *data;
	X509_EXTENSION *ext;
	GENERAL_NAMES *names;
	struct err err = ERR_INIT;
	char *pem = NULL;
	EVP_PKEY *key;
	X509 *x;
	BIO *b;
	int at;

	(void)state;
	SHA256((const unsigned char *)key_auth, strlen(key_auth), digest);
	acme_alpn_ext_value(key_auth, want);
	assert_int_equal(want[0], 0x04); /* OCTET STRING */
	assert_int_equal(want[1], 32);
	assert_memory_equal(want + 2, digest, 32);

	assert_int_equal(acme_alpn_cert("web.default.example.org", key_auth, &pem, &err), 0);
	b = BIO_new_mem_buf(pem, -1);
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(key);
	assert_non_null(x);
	assert_int_equal(X509_check_private_key(x, key), 1);
	assert_int_equal(X509_verify(x, key), 1); /* self-signed */
	at = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(at >= 0);
	assert_int_equal(X509_get_ext_by_OBJ(x, oid, at), -1); /* only one */
	ext = X509_get_ext(x, at);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	data = X509_EXTENSION_get_data(ext);
	assert_int_equal(ASN1_STRING_length(data), 34);
	assert_memory_equal(ASN1_STRING_get0_data(data), want, 34);
	/* A DER parser reads the digest back out of it. */
	p = ASN1_STRING_get0_data(data);
	inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(data));
	assert_non_null(inner);
	assert_int_equal(ASN1_STRING_length(inner), 32);
	assert_memory_equal(ASN1_STRING_get0_data(inner), digest, 32);
	ASN1_OCTET_STRING_free(inner);
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(names);
	assert_int_equal(sk_GENERAL_NAME_num(names), 1);
	assert_string_equal(
	    (const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(names, 0)->d.dNSName),
	    "web.default.example.org");
	GENERAL_NAMES_free(names);
	/* Another key authorization, another digest; a bad host, no cert. */
	{
		unsigned char other[34];
		acme_alpn_ext_value("a.b", other);
		assert_memory_not_equal(other, want, 34);
	}
	ca_pem_free(pem);
	assert_true(acme_alpn_cert("not a host", key_auth, &pem, &err) < 0);
	assert_null(pem);
	err_clear(&err);
	X509_free(x);
	EVP_PKEY_free(key);
	BIO_free(b);
	ASN1_OBJECT_free(oid);
}

static int
alpn_set(void *arg, const char *host, const char *key_auth, struct err *err)
{
	(void)arg, (void)host, (void)key_auth;
	return err_make(err, 0, "not here");
}

static void
alpn_clear(void *arg, const char *host)
{
	(void)arg, (void)host;
}

/* --acme-challenge: the one asked for when offered, the other when only it
 * is, none when neither (or only one the caller cannot serve). */
static void
test_pick_challenge(void **state)
{
	char tmpl[] = "/tmp/berth-unit-acme-XXXXXX";
	struct acme_challenges both = {
	    .set = no_set, .clear = no_clear, .set_alpn = alpn_set, .clear_alpn = alpn_clear};
	struct acme_challenges http_only = {.set = no_set, .clear = no_clear};
	json_t *all = json_loads("{\"challenges\":[{\"type\":\"dns-01\",\"token\":\"d\"},"
	                         "{\"type\":\"http-01\",\"token\":\"h\"},"
	                         "{\"type\":\"tls-alpn-01\",\"token\":\"t\"}]}",
	                         0, NULL);
	json_t *h =
	    json_loads("{\"challenges\":[{\"type\":\"http-01\",\"token\":\"h\"}]}", 0, NULL);
	json_t *t =
	    json_loads("{\"challenges\":[{\"type\":\"tls-alpn-01\",\"token\":\"t\"}]}", 0, NULL);
	json_t *d = json_loads("{\"challenges\":[{\"type\":\"dns-01\",\"token\":\"d\"}]}", 0, NULL);
	struct acme_settings s = {.directory = "https://127.0.0.1:1/dir"};
	struct err err = ERR_INIT;
	struct acme *a = NULL;
	char *dir;
	int alpn = -1;

#define TOKEN_OF(j) json_string_value(json_object_get((j), "token"))
	(void)state;
	assert_non_null(mkdtemp(tmpl));
	dir = xasprintf("%s/acme", tmpl);
	/* The default, http-01. */
	assert_int_equal(acme_open(dir, &s, &both, &a, &err), 0);
	assert_string_equal(TOKEN_OF(acme_pick_challenge(a, all, &alpn)), "h");
	assert_int_equal(alpn, 0);
	assert_string_equal(TOKEN_OF(acme_pick_challenge(a, t, &alpn)), "t");
	assert_int_equal(alpn, 1);
	assert_null(acme_pick_challenge(a, d, &alpn));
	acme_free(a);
	/* tls-alpn-01 asked for. */
	s.challenge = ACME_TLSALPN01;
	assert_int_equal(acme_open(dir, &s, &both, &a, &err), 0);
	assert_string_equal(TOKEN_OF(acme_pick_challenge(a, all, &alpn)), "t");
	assert_int_equal(alpn, 1);
	assert_string_equal(TOKEN_OF(acme_pick_challenge(a, h, &alpn)), "h");
	assert_int_equal(alpn, 0);
	acme_free(a);
	/* A caller that serves HTTP-01 only never gets tls-alpn-01. */
	assert_int_equal(acme_open(dir, &s, &http_only, &a, &err), 0);
	assert_string_equal(TOKEN_OF(acme_pick_challenge(a, all, &alpn)), "h");
	assert_null(acme_pick_challenge(a, t, &alpn));
	acme_free(a);
	/* Another name is refused at open. */
	s.challenge = "dns-01";
	assert_true(acme_open(dir, &s, &both, &a, &err) < 0);
	assert_non_null(strstr(err.msg, "is not http-01 or tls-alpn-01"));
	err_clear(&err);
#undef TOKEN_OF
	json_decref(all);
	json_decref(h);
	json_decref(t);
	json_decref(d);
	free(dir);
	nftw(tmpl, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
test_router_alpn_check(void **state)
{
	char norm[ROUTE_HOST_MAX + 1];
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(router_acme_alpn_check("Web.Example.org", "tok.thumb", norm, &err), 0);
	assert_string_equal(norm, "web.example.org");
	assert_true(router_acme_alpn_check("web.example.org", "nodot", norm, &err) < 0);
	err_clear(&err);
	assert_true(router_acme_alpn_check("web.example.org", "a.b.c", norm, &err) < 0);
	err_clear(&err);
	assert_true(router_acme_alpn_check("web.example.org", ".b", norm, &err) < 0);
	err_clear(&err);
	assert_true(router_acme_alpn_check("web.example.org", "a.b\r\n", norm, &err) < 0);
	err_clear(&err);
	assert_true(router_acme_alpn_check("not a host", "a.b", norm, &err) < 0);
	err_clear(&err);
	assert_true(router_acme_alpn_check("web.example.org", NULL, norm, &err) < 0);
	err_clear(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url),
	    cmocka_unit_test(test_jwk_and_thumbprint),
	    cmocka_unit_test(test_jws_jwk_then_kid),
	    cmocka_unit_test(test_csr),
	    cmocka_unit_test(test_account_key_0600_reused_and_checked),
	    cmocka_unit_test(test_router_challenges),
	    cmocka_unit_test(test_alpn_cert),
	    cmocka_unit_test(test_pick_challenge),
	    cmocka_unit_test(test_router_alpn_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
