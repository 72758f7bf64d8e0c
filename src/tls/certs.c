/* certs: the certificate files of container hosts (see certs.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/strmap.h"
#include "common/util.h"
#include "tls/attest.h"
#include "tls/ca.h"
#include "tls/certs.h"

struct certs {
	char *dir; /* owned */
	struct certs_issuer issuer;
	pthread_mutex_t lock;      /* one issue and write at a time */
	pthread_mutex_t info_lock; /* of infos */
	struct strmap *infos;      /* owned: host -> struct info_entry (owned) */
};

/* certs_info() of a file as it was: a file is replaced by a rename, never
 * written in place, so the same inode and mtime mean the same certificate. */
struct info_entry {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	struct certs_info info;
};

int
certs_open(const char *dir, const struct certs_issuer *issuer, struct certs **out, struct err *err)
{
	struct certs *cs;

	*out = NULL;
	if (mkdir_p(dir, 0700, err) < 0)
		return err_wrap(err, "certificates");
	cs = xcalloc(1, sizeof *cs);
	cs->dir = xstrdup(dir);
	cs->issuer = *issuer;
	pthread_mutex_init(&cs->lock, NULL);
	pthread_mutex_init(&cs->info_lock, NULL);
	cs->infos = strmap_new();
	*out = cs;
	return 0;
}

char *
certs_path(const struct certs *cs, const char *host)
{
	return xasprintf("%s/%s.pem", cs->dir, host);
}

/* The renewal time of a certificate valid from nb to na (Unix seconds). */
static time_t
renew_time(time_t nb, time_t na)
{
	time_t by_days = na - (time_t)CERTS_RENEW_DAYS * 86400, by_life = nb + (na - nb) * 2 / 3;

	return by_days > by_life ? by_days : by_life;
}

static int
asn1_unix(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* When the certificate in pem, with its key, for host, is due: 0 when it is
 * not a good one now (no key, no match, another name, not yet or no longer
 * valid). */
static time_t
due_time(const char *pem, const char *host)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	time_t nb, na, due = 0;

	if (b == NULL)
		return 0;
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (key != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x != NULL && X509_check_private_key(x, key) == 1 &&
	    X509_check_host(x, host, 0, 0, NULL) == 1 &&
	    asn1_unix(X509_get0_notBefore(x), &nb) == 0 &&
	    asn1_unix(X509_get0_notAfter(x), &na) == 0 && nb <= time(NULL) && na > nb)
		due = renew_time(nb, na);
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(key);
	BIO_free(b);
	return due;
}

static int
still_good(const char *pem, const char *host)
{
	return due_time(pem, host) > time(NULL);
}

long long
certs_renew_at(struct certs *cs, const char *host)
{
	struct err err = ERR_INIT;
	char *path = certs_path(cs, host), *text = NULL;
	size_t len = 0;
	time_t due = 0;

	if (file_read_all(path, 256 * 1024, &text, &len, &err) == 0) {
		due = due_time(text, host);
		OPENSSL_cleanse(text, len);
	}
	free(text);
	free(path);
	return (long long)due;
}

static int
info_read(struct certs *cs, const char *host, struct certs_info *out)
{
	struct err err = ERR_INIT;
	char *path = certs_path(cs, host), *text = NULL;
	size_t len = 0;
	BIO *b = NULL, *name = NULL;
	X509 *x = NULL;
	time_t na;
	int rc = -1, n;

	memset(out, 0, sizeof *out);
	if (host[0] == '\0' || host[0] == '.' || strchr(host, '/') != NULL ||
	    file_read_all(path, 256 * 1024, &text, &len, &err) < 0)
		goto out;
	b = BIO_new_mem_buf(text, (int)len);
	/* The key comes first; the certificate reader skips it. */
	x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	name = BIO_new(BIO_s_mem());
	if (x == NULL || name == NULL || asn1_unix(X509_get0_notAfter(x), &na) < 0 ||
	    attest_spki_sha256(x, out->public_key_sha256) < 0 ||
	    X509_NAME_print_ex(name, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253) < 0)
		goto out;
	n = BIO_read(name, out->issuer, sizeof out->issuer - 1);
	out->issuer[n > 0 ? n : 0] = '\0';
	out->not_after = (long long)na;
	rc = 0;
out:
	ERR_clear_error();
	err_clear(&err);
	BIO_free(name);
	BIO_free(b);
	X509_free(x);
	if (text != NULL)
		OPENSSL_cleanse(text, len);
	free(text);
	free(path);
	return rc;
}

int
certs_info(struct certs *cs, const char *host, struct certs_info *out)
{
	char *path = certs_path(cs, host);
	struct info_entry *e;
	struct stat st;
	int rc;

	memset(out, 0, sizeof *out);
	if (host[0] == '\0' || host[0] == '.' || strchr(host, '/') != NULL) {
		free(path);
		return -1;
	}
	rc = stat(path, &st);
	free(path);
	pthread_mutex_lock(&cs->info_lock);
	if (rc < 0) {
		free(strmap_del(cs->infos, host));
		pthread_mutex_unlock(&cs->info_lock);
		return -1;
	}
	e = strmap_get(cs->infos, host);
	if (e != NULL && e->dev == st.st_dev && e->ino == st.st_ino &&
	    e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
		*out = e->info;
		pthread_mutex_unlock(&cs->info_lock);
		return 0;
	}
	pthread_mutex_unlock(&cs->info_lock);
	/* Read and parsed once per file, not once per answer that shows it. */
	if (info_read(cs, host, out) < 0)
		return -1;
	e = xcalloc(1, sizeof *e);
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->mtime = st.st_mtim;
	e->info = *out;
	pthread_mutex_lock(&cs->info_lock);
	free(strmap_put(cs->infos, host, e));
	pthread_mutex_unlock(&cs->info_lock);
	return 0;
}

int
certs_ensure(struct certs *cs, const char *host, int *issued, struct err *err)
{
	char *path = NULL, *text = NULL, *pem = NULL;
	size_t len = 0;
	int rc = -1;

	if (issued != NULL)
		*issued = 0;
	/* host becomes a file name: a name with a '/' or a leading '.' must
	 * never reach the path. */
	if (host[0] == '\0' || host[0] == '.' || strchr(host, '/') != NULL)
		return err_make(err, 0, "\"%s\" is not a host name", host);
	path = certs_path(cs, host);
	pthread_mutex_lock(&cs->lock);
	if (file_read_all(path, 256 * 1024, &text, &len, err) == 0) {
		if (still_good(text, host) &&
		    (cs->issuer.owns == NULL || cs->issuer.owns(cs->issuer.arg, text) == 1)) {
			rc = 0;
			goto out;
		}
	} else {
		err_clear(err);
	}
	if (cs->issuer.issue(cs->issuer.arg, host, &pem, err) < 0)
		goto out;
	if (file_write_secret(path, pem, strlen(pem), err) < 0)
		goto out;
	if (issued != NULL)
		*issued = 1;
	rc = 0;
out:
	pthread_mutex_unlock(&cs->lock);
	if (rc < 0)
		err_wrap(err, "certificate of %s (%s)", host, cs->issuer.name);
	if (text != NULL)
		OPENSSL_cleanse(text, len);
	free(text);
	ca_pem_free(pem);
	free(path);
	return rc;
}

void
certs_free(struct certs *cs)
{
	if (cs == NULL)
		return;
	pthread_mutex_destroy(&cs->lock);
	pthread_mutex_destroy(&cs->info_lock);
	strmap_free(cs->infos, free);
	free(cs->dir);
	free(cs);
}
