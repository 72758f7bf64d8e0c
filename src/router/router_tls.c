/* router_tls: the TLS context and SNI certificates of berth-router (see
 * router_tls.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/util.h"
#include "router/route.h"
#include "router/router_tls.h"
#include "tls/acme.h"
#include "tls/ca.h"

struct tls_cert {
	char *host;   /* owned, lower case */
	SSL_CTX *ctx; /* a reference: the host's certificate, key and chain */
	ino_t ino;    /* the file it came from, to see a change */
	off_t size;
	struct timespec mtime;
};

struct router_tls {
	SSL_CTX *ctx;           /* owned */
	char *dir;              /* owned */
	pthread_rwlock_t lock;  /* guards certs, n, alpn, nalpn: workers read, main writes */
	struct tls_cert *certs; /* owned array, sorted by host */
	size_t n;
	struct tls_cert *alpn; /* owned array: the TLS-ALPN-01 challenges, unsorted */
	size_t nalpn;
};

#define TLS_ALPN_MAX 1024 /* challenges set at once */

static const unsigned char acme_tls1[] = "\x0a"
                                         "acme-tls/1";

static void
cert_clear(struct tls_cert *c)
{
	free(c->host);
	SSL_CTX_free(c->ctx);
	memset(c, 0, sizeof *c);
}

static int
cert_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tls_cert *)a)->host, ((const struct tls_cert *)b)->host);
}

static struct tls_cert *
cert_find(struct tls_cert *v, size_t n, const char *host)
{
	struct tls_cert key = {.host = (char *)host};

	return n > 0 ? bsearch(&key, v, n, sizeof *v, cert_cmp) : NULL;
}

/* Picks the certificate of the SNI name, or fails the handshake. */
static int
servername_cb(SSL *ssl, int *alert, void *arg)
{
	struct router_tls *t = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	struct tls_cert *c;
	char name[ROUTE_HOST_MAX + 1];
	size_t len;
	int ok = 0;

	if (sni == NULL || (len = strlen(sni)) == 0 || len > ROUTE_HOST_MAX)
		goto out;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)sni[i]);
	if (name[len - 1] == '.')
		len--;
	name[len] = '\0';
	pthread_rwlock_rdlock(&t->lock);
	c = cert_find(t->certs, t->n, name);
	if (c != NULL)
		/* The host's context lends its certificate to the connection
		 * (a reference: a reload may drop the entry meanwhile). Cheaper
		 * than SSL_use_cert_and_key(), which checks the key each time. */
		ok = SSL_set_SSL_CTX(ssl, c->ctx) != NULL;
	pthread_rwlock_unlock(&t->lock);
out:
	if (ok)
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ---- TLS-ALPN-01 ---- */

/* Whether the ClientHello's ALPN list is exactly acme-tls/1 (RFC 8737 3:
 * the ACME server offers that protocol alone). */
static int
hello_wants_acme(SSL *ssl)
{
	const unsigned char *p;
	size_t len;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
	                              &len) != 1)
		return 0;
	return len == 2 + sizeof acme_tls1 - 1 && p[0] == 0 && p[1] == sizeof acme_tls1 - 1 &&
	       memcmp(p + 2, acme_tls1, sizeof acme_tls1 - 1) == 0;
}

/* The host_name of the ClientHello's server_name extension, lower case and
 * without a final dot, into name; -1 when there is none. */
static int
hello_sni(SSL *ssl, char name[ROUTE_HOST_MAX + 1])
{
	const unsigned char *p;
	size_t len, n;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5 ||
	    (size_t)(p[0] << 8 | p[1]) != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name)
		return -1;
	n = (size_t)(p[3] << 8 | p[4]);
	if (n == 0 || n > len - 5 || n > ROUTE_HOST_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower(p[5 + i]);
	if (name[n - 1] == '.')
		n--;
	name[n] = '\0';
	return n > 0 ? 0 : -1;
}

static struct tls_cert *
alpn_find(struct router_tls *t, const char *host)
{
	for (size_t i = 0; i < t->nalpn; i++)
		if (strcmp(t->alpn[i].host, host) == 0)
			return &t->alpn[i];
	return NULL;
}

/* Before SNI and ALPN are handled: an acme-tls/1-only hello takes the
 * challenge context of its name (whose callbacks then answer), or fails. */
static int
client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct router_tls *t = arg;
	char name[ROUTE_HOST_MAX + 1];
	struct tls_cert *c;
	int ok = 0;

	if (!hello_wants_acme(ssl))
		return SSL_CLIENT_HELLO_SUCCESS;
	if (hello_sni(ssl, name) == 0) {
		pthread_rwlock_rdlock(&t->lock);
		c = alpn_find(t, name);
		/* The connection takes a reference: a clear may drop it meanwhile. */
		if (c != NULL)
			ok = SSL_set_SSL_CTX(ssl, c->ctx) != NULL;
		pthread_rwlock_unlock(&t->lock);
	}
	if (ok)
		return SSL_CLIENT_HELLO_SUCCESS;
	*alert = SSL_AD_NO_APPLICATION_PROTOCOL;
	return SSL_CLIENT_HELLO_ERROR;
}

/* The challenge context's: its name was checked by client_hello_cb. */
static int
alpn_servername_cb(SSL *ssl, int *alert, void *arg)
{
	(void)ssl, (void)alert, (void)arg;
	return SSL_TLSEXT_ERR_OK;
}

static int
alpn_acme_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
             unsigned int inlen, void *arg)
{
	unsigned char *sel = NULL;

	(void)ssl, (void)arg;
	if (SSL_select_next_proto(&sel, outlen, acme_tls1, sizeof acme_tls1 - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* HTTP/1.1 is all the router speaks: picked when offered, else no ALPN. */
static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
        unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, h11, sizeof h11 - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Loads a PEM text (len bytes): a key, then the certificate, then its
 * chain, into a context of its own; what names it in errors. */
static int
cert_load_pem(const char *what, const char *text, size_t len, struct tls_cert *c, struct err *err)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *x;
	BIO *b = NULL;
	int rc = -1;

	b = BIO_new_mem_buf(text, (int)len);
	key = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	cert = key != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	if (cert == NULL) {
		err_make(err, 0, "%s: not a private key followed by a certificate", what);
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, x);
	c->ctx = SSL_CTX_new(TLS_server_method());
	if (c->ctx == NULL || SSL_CTX_use_cert_and_key(c->ctx, cert, key, chain, 1) != 1) {
		err_make(err, 0, "%s: the key is not the certificate's", what);
		goto out;
	}
	/* The connection takes this context in the SNI callback, and ALPN is
	 * chosen by the context it has then: without this, no http/1.1. */
	SSL_CTX_set_alpn_select_cb(c->ctx, alpn_cb, NULL);
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/* Loads one file (cert_load_pem). */
static int
cert_load(const char *path, struct tls_cert *c, struct err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (file_read_all(path, 256 * 1024, &text, &len, err) == 0)
		rc = cert_load_pem(path, text, len, c, err);
	if (text != NULL)
		OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

int
router_tls_set_alpn(struct router_tls *t, const char *host, const char *key_auth, struct err *err)
{
	struct tls_cert c = {0}, *had;
	char *pem = NULL;
	int rc = -1;

	/* Only the main thread writes the array: it reads it without the lock. */
	had = alpn_find(t, host);
	if (had == NULL && t->nalpn >= TLS_ALPN_MAX)
		return err_make(err, 0, "%d TLS-ALPN-01 challenges are set already", TLS_ALPN_MAX);
	if (acme_alpn_cert(host, key_auth, &pem, err) < 0 ||
	    cert_load_pem(host, pem, strlen(pem), &c, err) < 0)
		goto out;
	SSL_CTX_set_tlsext_servername_callback(c.ctx, alpn_servername_cb);
	SSL_CTX_set_alpn_select_cb(c.ctx, alpn_acme_cb, NULL);
	c.host = xstrdup(host);
	pthread_rwlock_wrlock(&t->lock);
	if (had != NULL) {
		SSL_CTX_free(had->ctx);
		had->ctx = take_ptr(&c.ctx);
	} else {
		t->alpn = xreallocarray(t->alpn, t->nalpn + 1, sizeof *t->alpn);
		t->alpn[t->nalpn++] = c;
		memset(&c, 0, sizeof c);
	}
	pthread_rwlock_unlock(&t->lock);
	log_info("tls: the TLS-ALPN-01 challenge of %s is set", host);
	rc = 0;
out:
	cert_clear(&c);
	ca_pem_free(pem);
	return rc;
}

int
router_tls_clear_alpn(struct router_tls *t, const char *host)
{
	struct tls_cert gone = {0}, *c;

	pthread_rwlock_wrlock(&t->lock);
	c = alpn_find(t, host);
	if (c != NULL) {
		gone = *c;
		*c = t->alpn[--t->nalpn];
	}
	pthread_rwlock_unlock(&t->lock);
	if (gone.host == NULL)
		return -1;
	log_info("tls: the TLS-ALPN-01 challenge of %s is cleared", host);
	cert_clear(&gone);
	return 0;
}

/* c becomes a second reference to what had holds: the old array, which
 * workers may be reading, is left as it is until it is swapped out. */
static void
cert_share(struct tls_cert *c, const struct tls_cert *had)
{
	*c = *had;
	c->host = xstrdup(had->host);
	SSL_CTX_up_ref(c->ctx);
}

/* The host a file name is for ("web.acme.example.pem"), lower case, or
 * NULL when the name is not HOST.pem. */
static char *
file_host(const char *name)
{
	size_t len = strlen(name);
	char *host;

	if (len <= 4 || len - 4 > ROUTE_HOST_MAX || strcmp(name + len - 4, ".pem") != 0 ||
	    name[0] == '.')
		return NULL;
	host = xstrndup(name, len - 4);
	for (char *p = host; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return host;
}

void
router_tls_reload(struct router_tls *t)
{
	struct tls_cert *next = NULL, *old;
	size_t n = 0, nold;
	struct dirent *e;
	DIR *d = opendir(t->dir);

	if (d == NULL) {
		log_warn("tls: %s: %s; the certificates stay as they were", t->dir,
		         strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char *host = file_host(e->d_name), *path;
		struct tls_cert c = {0}, *had;
		struct err err = ERR_INIT;
		struct stat st;

		if (host == NULL)
			continue;
		path = xasprintf("%s/%s", t->dir, e->d_name);
		had = cert_find(t->certs, t->n, host);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(host);
			free(path);
			continue;
		}
		if (had != NULL && had->ino == st.st_ino && had->size == st.st_size &&
		    had->mtime.tv_sec == st.st_mtim.tv_sec &&
		    had->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			cert_share(&c, had);
			free(host);
		} else if (cert_load(path, &c, &err) < 0) {
			log_warn("tls: %s%s", err.msg,
			         had != NULL ? "; the host keeps its certificate" : "");
			cert_clear(&c);
			if (had == NULL) {
				free(host);
				free(path);
				continue;
			}
			cert_share(&c, had);
			free(host);
		} else {
			c.host = host;
			c.ino = st.st_ino;
			c.size = st.st_size;
			c.mtime = st.st_mtim;
			log_info("tls: certificate of %s %s", c.host,
			         had != NULL ? "reloaded" : "loaded");
		}
		free(path);
		next = xreallocarray(next, n + 1, sizeof *next);
		next[n++] = c;
	}
	closedir(d);
	if (n > 0)
		qsort(next, n, sizeof *next, cert_cmp);
	pthread_rwlock_wrlock(&t->lock);
	old = t->certs;
	nold = t->n;
	t->certs = next;
	t->n = n;
	pthread_rwlock_unlock(&t->lock);
	for (size_t i = 0; i < nold; i++)
		cert_clear(&old[i]);
	free(old);
}

size_t
router_tls_hosts(struct router_tls *t)
{
	size_t n;

	pthread_rwlock_rdlock(&t->lock);
	n = t->n;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

int
router_tls_new(const char *dir, struct router_tls **out, struct err *err)
{
	struct router_tls *t = xcalloc(1, sizeof *t);

	*out = NULL;
	pthread_rwlock_init(&t->lock, NULL);
	t->dir = xstrdup(dir);
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (t->ctx == NULL) {
		router_tls_free(t);
		return err_make(err, 0, "SSL_CTX_new failed");
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	/* No renegotiation (a client could make the server work at will); an
	 * EOF without close_notify is an EOF: HTTP's framing says whether a
	 * message was cut, as for plain HTTP. */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
	                                SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* Writes go out of an evbuffer that may move; an idle connection holds
	 * no read or write buffer. */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                             SSL_MODE_RELEASE_BUFFERS);
	/* Stateless tickets resume sessions; no server-side cache, whose lock
	 * every worker would share. */
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(t->ctx, 1);
	SSL_CTX_set_tlsext_servername_callback(t->ctx, servername_cb);
	SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	SSL_CTX_set_alpn_select_cb(t->ctx, alpn_cb, t);
	SSL_CTX_set_client_hello_cb(t->ctx, client_hello_cb, t);
	router_tls_reload(t);
	log_info("tls: %zu certificates from %s", t->n, dir);
	*out = t;
	return 0;
}

SSL *
router_tls_ssl_new(struct router_tls *t, int fd)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

void
router_tls_free(struct router_tls *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		cert_clear(&t->certs[i]);
	free(t->certs);
	for (size_t i = 0; i < t->nalpn; i++)
		cert_clear(&t->alpn[i]);
	free(t->alpn);
	SSL_CTX_free(t->ctx);
	pthread_rwlock_destroy(&t->lock);
	free(t->dir);
	free(t);
}
