/* attest: the nonce, the certificate key's hash and the canonical JSON of an
 * attestation document. */
#include "tls/attest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
