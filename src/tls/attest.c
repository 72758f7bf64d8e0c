/* attest: the nonce, the certificate key's hash and the canonical JSON of an
 * attestation document. */
#include "tls/attest.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "secret/hostkey.h"

int
attest_nonce_from_query(const char *q, size_t len, char out[ATTEST_NONCE_MAX_HEX + 1])
{
	const char *end = q + len;

	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp != NULL ? amp : end;
		size_t n;

		if ((size_t)(stop - q) > 6 && memcmp(q, "nonce=", 6) == 0) {
			q += 6;
			n = (size_t)(stop - q);
			if (n < ATTEST_NONCE_MIN_HEX || n > ATTEST_NONCE_MAX_HEX || n % 2 != 0)
				return -1;
			for (size_t i = 0; i < n; i++) {
				char ch = q[i];

				if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
				      (ch >= 'A' && ch <= 'F')))
					return -1;
				out[i] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
			}
			out[n] = '\0';
			return 0;
		}
		q = stop + 1;
	}
	return -1;
}

int
attest_spki_sha256(X509 *cert, char out[65])
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n;

	if (cert == NULL || (n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

char *
attest_canonical(const json_t *doc)
{
	json_t *rest = json_copy((json_t *)doc);
	char *text;

	json_object_del(rest, "signature");
	text = json_dumps(rest, ATTEST_JSON_FLAGS);
	json_decref(rest);
	return text;
}

char *
attest_document(const json_t *facts, const char *nonce, const char *spki, const struct hostkey *key)
{
	char pub[2 * HOSTKEY_PUBLIC + 1], sig[2 * HOSTKEY_SIGNATURE + 1];
	json_t *doc;
	char *canon, *body;

	if (!json_is_object(facts))
		return NULL;
	doc = json_deep_copy(facts);
	hostkey_public_hex(key, pub);
	json_object_set_new(doc, "format", json_string(ATTEST_FORMAT));
	json_object_set_new(doc, "nonce", json_string(nonce));
	json_object_set_new(doc, "time", json_integer((json_int_t)time(NULL)));
	json_object_set_new(doc, "tee", json_string("none"));
	json_object_set_new(doc, "host_key", json_string(pub));
	json_object_set_new(doc, "tls_public_key_sha256",
	                    spki != NULL ? json_string(spki) : json_null());
	canon = attest_canonical(doc);
	hostkey_sign_hex(key, canon, strlen(canon), sig);
	free(canon);
	json_object_set_new(doc, "signature", json_string(sig));
	body = json_dumps(doc, ATTEST_JSON_FLAGS);
	json_decref(doc);
	return body;
}

void
attest_keypair_clear(struct attest_keypair *k)
{
	if (k->private_pem != NULL) {
		OPENSSL_cleanse(k->private_pem, k->private_len);
		free(k->private_pem);
	}
	free(k->public_pem);
	free(k->public_b64);
	memset(k, 0, sizeof *k);
}

/* The bytes of a memory BIO as a new NUL-terminated string. */
static char *
bio_text(BIO *b, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *out = xmalloc((size_t)n + 1);

	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

int
attest_keypair_generate(const char *kind, struct attest_keypair *out, struct err *err)
{
	EVP_PKEY *pkey = NULL;
	BIO *priv = NULL, *pub = NULL;
	unsigned char *der = NULL;
	int n, rc = -1;
	size_t len;

	memset(out, 0, sizeof *out);
	if (strcmp(kind, "ecdsa-p256") == 0)
		pkey = EVP_EC_gen("P-256");
	else if (strcmp(kind, "ed25519") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(kind, "x25519") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	else
		return err_make(err, 0, "attested key kind \"%s\" is not %s", kind,
		                ATTEST_KEY_KINDS);
	if (pkey == NULL) {
		err_make(err, 0, "OpenSSL could not make a %s key", kind);
		goto out;
	}
	/* The private key's PEM passes through secure memory, which OpenSSL
	 * wipes when the BIO goes. */
	priv = BIO_new(BIO_s_secmem());
	pub = BIO_new(BIO_s_mem());
	if (priv == NULL || pub == NULL ||
	    PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_PUBKEY(pub, pkey) != 1 || (n = i2d_PUBKEY(pkey, &der)) <= 0) {
		err_make(err, 0, "OpenSSL could not write the %s key", kind);
		goto out;
	}
	out->private_pem = bio_text(priv, &out->private_len);
	out->public_pem = bio_text(pub, &len);
	out->public_b64 = xmalloc(4 * (((size_t)n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out->public_b64, der, n);
	rc = 0;
out:
	if (rc < 0)
		attest_keypair_clear(out);
	OPENSSL_free(der);
	BIO_free(priv);
	BIO_free(pub);
	EVP_PKEY_free(pkey);
	return rc;
}
