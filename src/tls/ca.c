/* ca: berth's local certificate authority (see ca.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "tls/ca.h"

#define CA_DAYS (10 * 365)

struct ca {
	EVP_PKEY *key; /* owned: the CA's private key */
	X509 *cert;    /* owned */
	char *pem;     /* owned: cert in PEM */
};

/* err with OpenSSL's last error appended, and its queue emptied. */
static int
ossl_err(struct err *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return err_make(err, 0, "%s%s%s", what, buf[0] != '\0' ? ": " : "", buf);
}

/* The contents of a memory BIO as an owned string. */
static char *
bio_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	return xstrndup(data != NULL ? data : "", n > 0 ? (size_t)n : 0);
}

/* A DNS name: letters, digits, '-' and '.', labels of 1..63, 253 at most.
 * Anything else could smuggle more names into the SAN extension's text. */
static int
host_ok(const char *h)
{
	size_t len = strlen(h), label = 0;

	if (len == 0 || len > 253 || h[0] == '.' || h[len - 1] == '.')
		return 0;
	for (const char *p = h; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A new certificate for pub named cn, valid for days, not yet signed. */
static X509 *
cert_new(EVP_PKEY *pub, const char *cn, int days)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = BN_new();
	ASN1_INTEGER *serial = NULL;

	if (x == NULL || name == NULL || bn == NULL || !X509_set_version(x, 2) ||
	    !BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || !X509_set_serialNumber(x, serial) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    !X509_set_pubkey(x, pub) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"berth", -1,
	                                -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                                0) ||
	    !X509_set_subject_name(x, name)) {
		X509_free(x);
		x = NULL;
	}
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_NAME_free(name);
	return x;
}

/* A self-signed CA certificate for key. */
static X509 *
ca_cert_make(EVP_PKEY *key)
{
	char cn[64];
	unsigned char rnd[4];
	X509 *x;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return NULL;
	snprintf(cn, sizeof cn, "berth local CA %02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	x = cert_new(key, cn, CA_DAYS);
	if (x == NULL || !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static char *
cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b != NULL && PEM_write_bio_X509(b, x))
		s = bio_string(b);
	BIO_free(b);
	return s;
}

/* key then cert in PEM, owned; NULL on failure. */
static char *
key_cert_pem(EVP_PKEY *key, X509 *x)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *s = NULL;

	if (b != NULL && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) &&
	    (x == NULL || PEM_write_bio_X509(b, x)))
		s = bio_string(b);
	BIO_free(b);
	return s;
}

static int
load_key(const char *path, EVP_PKEY **out, struct err *err)
{
	struct stat st;
	BIO *b = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	*out = NULL;
	if (stat(path, &st) < 0)
		return err_make(err, errno, "stat %s", path);
	/* A key others can read is no longer the CA's alone. */
	if ((st.st_mode & 077) != 0)
		return err_make(
		    err, 0,
		    "%s is readable by other users (mode %04o): chmod 600 it, or remove "
		    "the CA to make a new one",
		    path, (unsigned)(st.st_mode & 07777));
	if (file_read_all(path, 64 * 1024, &text, &len, err) < 0)
		return -1;
	b = BIO_new_mem_buf(text, (int)len);
	if (b != NULL)
		*out = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (*out == NULL) {
		ossl_err(err, "not a private key");
		err_wrap(err, "%s", path);
		goto out;
	}
	rc = 0;
out:
	BIO_free(b);
	if (text != NULL)
		OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	ERR_clear_error();
	return x;
}

int
ca_open(const char *dir, struct ca **out, struct err *err)
{
	char *kpath = xasprintf("%s/" CA_KEY_FILE, dir),
	     *cpath = xasprintf("%s/" CA_CERT_FILE, dir);
	struct ca *ca = xcalloc(1, sizeof *ca);
	char *kpem = NULL;
	size_t len = 0;
	int have_key, have_cert, rc = -1;

	*out = NULL;
	if (mkdir_p(dir, 0700, err) < 0)
		goto out;
	have_key = access(kpath, F_OK) == 0;
	have_cert = access(cpath, F_OK) == 0;
	if (have_cert && !have_key) {
		rc = err_make(err, 0, "%s is there but its key %s is not", cpath, kpath);
		goto out;
	}
	if (have_key) {
		if (load_key(kpath, &ca->key, err) < 0)
			goto out;
	} else {
		ca->key = EVP_EC_gen("P-256");
		kpem = ca->key != NULL ? key_cert_pem(ca->key, NULL) : NULL;
		if (kpem == NULL) {
			rc = ossl_err(err, "make the CA key");
			goto out;
		}
		if (file_write_secret(kpath, kpem, strlen(kpem), err) < 0)
			goto out;
	}
	if (have_cert) {
		if (file_read_all(cpath, 64 * 1024, &ca->pem, &len, err) < 0)
			goto out;
		ca->cert = pem_cert(ca->pem);
		if (ca->cert == NULL) {
			rc = err_make(err, 0, "%s is not a certificate", cpath);
			goto out;
		}
		if (!X509_check_private_key(ca->cert, ca->key)) {
			ERR_clear_error();
			rc = err_make(err, 0, "%s does not match its key %s", cpath, kpath);
			goto out;
		}
	} else {
		/* A key without a certificate (a crash between the two writes):
		 * the certificate is made again from the key. */
		ca->cert = ca_cert_make(ca->key);
		ca->pem = ca->cert != NULL ? cert_pem(ca->cert) : NULL;
		if (ca->pem == NULL) {
			rc = ossl_err(err, "make the CA certificate");
			goto out;
		}
		if (file_write_atomic(cpath, ca->pem, strlen(ca->pem), 0644, err) < 0)
			goto out;
	}
	*out = take_ptr(&ca);
	rc = 0;
out:
	if (rc < 0)
		err_wrap(err, "the local CA in %s", dir);
	ca_pem_free(kpem);
	ca_free(ca);
	free(kpath);
	free(cpath);
	return rc;
}

const char *
ca_cert_pem(const struct ca *ca)
{
	return ca->pem;
}

/* A leaf certificate for host, valid for days: signed by ca, or self-signed
 * when ca is NULL (with extra, borrowed, when not NULL). */
static int
leaf_issue(const struct ca *ca, const char *host, int days, X509_EXTENSION *extra, char **pem,
           struct err *err)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL, *up;
	char *san = NULL;
	int rc = -1;

	*pem = NULL;
	if (!host_ok(host))
		return err_make(err, 0, "\"%s\" is not a host name a certificate can be issued for",
		                host);
	san = xasprintf("DNS:%s", host);
	key = EVP_EC_gen("P-256");
	if (key == NULL || (x = cert_new(key, host, days)) == NULL)
		goto fail;
	up = ca != NULL ? ca->cert : x;
	if (!X509_set_issuer_name(x, X509_get_subject_name(up)) ||
	    (ca != NULL && (add_ext(x, up, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	                    add_ext(x, up, NID_key_usage, "critical,digitalSignature") < 0 ||
	                    add_ext(x, up, NID_ext_key_usage, "serverAuth") < 0)) ||
	    add_ext(x, up, NID_subject_alt_name, san) < 0 ||
	    (ca != NULL && add_ext(x, up, NID_authority_key_identifier, "keyid:always") < 0) ||
	    (extra != NULL && !X509_add_ext(x, extra, -1)) ||
	    !X509_sign(x, ca != NULL ? ca->key : key, EVP_sha256()) ||
	    (*pem = key_cert_pem(key, x)) == NULL)
		goto fail;
	rc = 0;
	goto out;
fail:
	rc = ossl_err(err, "issue a certificate");
	err_wrap(err, "%s", host);
out:
	free(san);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
ca_issue(struct ca *ca, const char *host, int days, char **pem, struct err *err)
{
	return leaf_issue(ca, host, days, NULL, pem, err);
}

int
ca_self_signed(const char *host, int days, X509_EXTENSION *extra, char **pem, struct err *err)
{
	return leaf_issue(NULL, host, days, extra, pem, err);
}

int
ca_signed(const struct ca *ca, const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = NULL;
	int ok = 0;

	/* The first certificate of the text, past any key before it. */
	if (b != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x != NULL)
		ok = X509_verify(x, ca->key) == 1;
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return ok;
}

static int
issuer_issue(void *arg, const char *host, char **pem, struct err *err)
{
	return ca_issue(arg, host, CA_LEAF_DAYS, pem, err);
}

static int
issuer_owns(void *arg, const char *pem)
{
	return ca_signed(arg, pem);
}

void
ca_as_issuer(struct ca *ca, struct certs_issuer *out)
{
	out->name = "local-ca";
	out->issue = issuer_issue;
	out->owns = issuer_owns;
	out->arg = ca;
}

void
ca_pem_free(char *pem)
{
	if (pem == NULL)
		return;
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
}

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->pem);
	free(ca);
}
