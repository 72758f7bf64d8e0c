/* verify: the checks of an attestation document. */
#include "cli/verify.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secret/hostkey.h"
#include "tls/attest.h"

static const char *
field(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static int
fail(char *why, size_t size, int code, const char *fmt, const char *a, const char *b)
{
	snprintf(why, size, fmt, a, b);
	return code;
}

/* The OpenSSL key type an attested key kind names, or NID_undef. */
static int
key_type(const char *kind)
{
	if (kind == NULL)
		return NID_undef;
	if (strcmp(kind, "ecdsa-p256") == 0)
		return EVP_PKEY_EC;
	if (strcmp(kind, "ed25519") == 0)
		return EVP_PKEY_ED25519;
	if (strcmp(kind, "x25519") == 0)
		return EVP_PKEY_X25519;
	return NID_undef;
}

/* Whether b64 is the base64 of a SubjectPublicKeyInfo of OpenSSL type
 * type (and, for ecdsa-p256, on P-256). */
static int
spki_is(const char *b64, int type)
{
	size_t n = strlen(b64);
	unsigned char *der = malloc(n / 4 * 3 + 3);
	const unsigned char *p = der;
	EVP_PKEY *k = NULL;
	int len, ok = 0;

	if (der == NULL || n == 0 || n % 4 != 0)
		goto out;
	len = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
	if (len < 0)
		goto out;
	len -= (n >= 1 && b64[n - 1] == '=') + (n >= 2 && b64[n - 2] == '=');
	k = d2i_PUBKEY(NULL, &p, len);
	ok = k != NULL && p == der + len && EVP_PKEY_get_base_id(k) == type;
	if (ok && type == EVP_PKEY_EC) {
		char group[32] = "";

		ok = EVP_PKEY_get_group_name(k, group, sizeof group, NULL) == 1 &&
		     strcmp(group, "prime256v1") == 0;
	}
out:
	EVP_PKEY_free(k);
	free(der);
	return ok;
}

int
verify_attested_keys(const json_t *doc, char *why, size_t size)
{
	const json_t *keys = json_object_get(doc, "attested_keys"), *k;
	size_t i;

	if (keys == NULL)
		return VERIFY_OK;
	if (!json_is_array(keys))
		return fail(why, size, VERIFY_EDOC, "attested_keys is not a list%s%s", "", "");
	json_array_foreach(keys, i, k)
	{
		const char *id = field(k, "id"), *kind = field(k, "key");
		const char *pub = field(k, "public_key");

		if (id == NULL || kind == NULL || pub == NULL || key_type(kind) == NID_undef)
			return fail(why, size, VERIFY_EDOC,
			            "attested key %s lacks its id, a known key type or its "
			            "public_key%s",
			            id != NULL ? id : "(no id)", "");
		if (!spki_is(pub, key_type(kind)))
			return fail(why, size, VERIFY_EDOC,
			            "attested key %s: public_key is not a %s SubjectPublicKeyInfo "
			            "(base64 DER)",
			            id, kind);
	}
	return VERIFY_OK;
}

int
verify_document(const json_t *doc, const struct verify_expect *e, char *why, size_t size)
{
	const char *format = field(doc, "format"), *key = field(doc, "host_key");
	const char *sig = field(doc, "signature"), *m = field(doc, "measurement");
	const char *tls = field(doc, "tls_public_key_sha256"), *nonce = field(doc, "nonce");
	char *canon;
	int ok;

	if (!json_is_object(doc) || format == NULL || strcmp(format, ATTEST_FORMAT) != 0)
		return fail(why, size, VERIFY_EDOC,
		            "the answer is not an attestation document of format %s%s",
		            ATTEST_FORMAT, "");
	if (key == NULL || sig == NULL || m == NULL || nonce == NULL)
		return fail(why, size, VERIFY_EDOC,
		            "the document lacks its host_key, signature, measurement or nonce%s%s",
		            "", "");
	canon = attest_canonical(doc);
	ok = hostkey_verify_hex(key, sig, canon, strlen(canon));
	free(canon);
	if (!ok)
		return fail(why, size, VERIFY_ESIGNATURE,
		            "the signature does not hold: the document is not what host key %s "
		            "signed%s",
		            key, "");
	if (verify_attested_keys(doc, why, size) != VERIFY_OK)
		return VERIFY_EDOC;
	if (e->host_key != NULL && strcasecmp(e->host_key, key) != 0)
		return fail(why, size, VERIFY_EHOSTKEY,
		            "the document is signed by host key %s, not by the expected %s", key,
		            e->host_key);
	if (strcmp(nonce, e->nonce) != 0)
		return fail(why, size, VERIFY_ENONCE,
		            "the document answers nonce %s, not the %s sent: it is replayed", nonce,
		            e->nonce);
	if (tls == NULL || strcmp(tls, e->tls_key) != 0)
		return fail(why, size, VERIFY_ETLSKEY,
		            "this connection's certificate key (sha256 %s) is not the attested one "
		            "(%s)",
		            e->tls_key, tls != NULL ? tls : "none");
	if (e->measurement != NULL && strcasecmp(e->measurement, m) != 0)
		return fail(why, size, VERIFY_EMEASUREMENT,
		            "the measurement is %s, not the expected %s", m, e->measurement);
	snprintf(why, size, "all checks hold");
	return VERIFY_OK;
}
