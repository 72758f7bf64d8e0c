/* verify: the checks of an attestation document. */
#include "cli/verify.h"

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
