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
	pthread_rwlock_t lock;  /* guards certs and n: workers read, reload writes */
	struct tls_cert *certs; /* owned array, sorted by host */
	size_t n;
};

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

/* Loads one file: a key, then the certificate, then its chain, into a
 * context of its own. */
static int
cert_load(const char *path, struct tls_cert *c, struct err *err)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *x;
	char *text = NULL;
	size_t len = 0;
	BIO *b = NULL;
	int rc = -1;

	if (file_read_all(path, 256 * 1024, &text, &len, err) < 0)
		goto out;
	b = BIO_new_mem_buf(text, (int)len);
	key = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	cert = key != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	if (cert == NULL) {
		err_make(err, 0, "%s: not a private key followed by a certificate", path);
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, x);
	c->ctx = SSL_CTX_new(TLS_server_method());
	if (c->ctx == NULL || SSL_CTX_use_cert_and_key(c->ctx, cert, key, chain, 1) != 1) {
		err_make(err, 0, "%s: the key is not the certificate's", path);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	if (text != NULL)
		OPENSSL_cleanse(text, len);
	free(text);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
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
	SSL_CTX_free(t->ctx);
	pthread_rwlock_destroy(&t->lock);
	free(t->dir);
	free(t);
}
