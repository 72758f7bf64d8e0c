/* registry: GETs of manifests and blobs from an OCI distribution registry,
 * with anonymous, basic and bearer-token authentication. */
#include "image/registry.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define MANIFEST_MAX   (4u << 20)
#define TOKEN_MAX      (1u << 20)
#define ERROR_BODY_MAX (16u << 10)
#define USER_AGENT     "berth/" BERTH_VERSION
#define RETRIES        2 /* more tries of a request that failed transiently */

struct registry {
	char *host;           /* owned, "127.0.0.1:5000" */
	char *repo;           /* owned, "team/app" */
	char *base;           /* owned, "http://127.0.0.1:5000/v2/team/app" */
	int http;             /* plain HTTP allowed */
	const char *username; /* borrowed or NULL */
	const char *password; /* borrowed or NULL */
	char *authorization;  /* owned "Authorization: ..." header, or NULL */
	struct registry_limits lim;
	enum { REG_GOING, REG_CANCELLED, REG_DEADLINE } stop; /* why a transfer was aborted */
};

/* What one request answered. */
struct response {
	struct buf_capped body; /* the body of a non-blob answer (or an error's body) */
	long status;
	char *content_type; /* owned or NULL */
	char *challenge;    /* owned WWW-Authenticate or NULL */
};

static void
response_clear(struct response *resp)
{
	buf_free(&resp->body.buf);
	free(resp->content_type);
	free(resp->challenge);
	memset(resp, 0, sizeof *resp);
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct response *resp = arg;
	size_t len = size * n;
	char *value = NULL;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new answer (after a redirect): forget the last one's. */
		free(take_ptr(&resp->content_type));
		free(take_ptr(&resp->challenge));
	} else if ((value = http_header_value(data, len, "content-type")) != NULL) {
		free(resp->content_type);
		resp->content_type = take_ptr(&value);
	} else if ((value = http_header_value(data, len, "www-authenticate")) != NULL) {
		/* Several challenges: a bearer one wins, it is the strongest. */
		if (resp->challenge == NULL || strncasecmp(value, "bearer", 6) == 0) {
			free(resp->challenge);
			resp->challenge = take_ptr(&value);
		}
		free(value);
	}
	return len;
}

/* curl's progress callback, about once a second even while nothing comes:
 * ends the transfer when the pull is cancelled or past its deadline. */
static int
on_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct registry *r = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (r->lim.cancel != NULL && atomic_load(r->lim.cancel))
		r->stop = REG_CANCELLED;
	else if (r->lim.deadline_ms > 0 && now_mono_ms() > r->lim.deadline_ms)
		r->stop = REG_DEADLINE;
	return r->stop != REG_GOING;
}

/* Why a request of r failed with cc, as a sentence naming the registry and,
 * for a deadline, the setting. Into buf; returns buf. */
static const char *
registry_strerror(struct registry *r, CURL *c, CURLcode cc, char *buf, size_t size)
{
	curl_off_t connected = 0;

	if (cc == CURLE_ABORTED_BY_CALLBACK && r->stop == REG_CANCELLED)
		snprintf(buf, size, "cancelled (berthd is stopping)");
	else if (cc == CURLE_ABORTED_BY_CALLBACK && r->stop == REG_DEADLINE)
		snprintf(buf, size, "%s: the pull took longer than %lld s (--pull-timeout)",
		         r->host, (long long)(r->lim.timeout_ms / 1000));
	else if (cc == CURLE_OPERATION_TIMEDOUT &&
	         (curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected) != CURLE_OK ||
	          connected == 0))
		snprintf(buf, size,
		         "%s did not accept a connection within %ld s "
		         "(--fetch-connect-timeout)",
		         r->host, r->lim.connect_s);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(buf, size, "%s went silent for %ld s (--fetch-idle-timeout)", r->host,
		         r->lim.idle_s);
	else
		snprintf(buf, size, "%s", curl_easy_strerror(cc));
	return buf;
}

/* A curl handle with the settings every request of r shares. */
static CURL *
registry_easy(struct registry *r, const char *url)
{
	const char *protocols = r->http ? "http,https" : "https";
	CURL *c = curl_easy_init();

	if (c == NULL)
		log_fatal("curl_easy_init failed");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, r->lim.connect_s);
	/* A stalled transfer (under 1 byte/s for idle_s), the answer awaited
	 * included, fails. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, r->lim.idle_s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	return c;
}

/* Whether a failed request may succeed when tried again: the network or an
 * overloaded registry failed, rather than the registry answering no. */
static int
transient(CURLcode cc, long status)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	case CURLE_OK:
		return status == 429 || status == 502 || status == 503 || status == 504;
	default:
		return 0;
	}
}

/* Waits before try number attempt + 2: 200 ms, then 400 ms. */
static void
backoff(int attempt)
{
	usleep(200000u << attempt);
}

/* The headers of a request: accept (may be NULL) and r's credentials. */
static struct curl_slist *
registry_headers(struct registry *r, const char *accept)
{
	struct curl_slist *h = NULL;
	char *line;

	if (accept != NULL) {
		line = xasprintf("Accept: %s", accept);
		h = curl_slist_append(h, line);
		free(line);
	}
	if (r->authorization != NULL)
		h = curl_slist_append(h, r->authorization);
	return h;
}

/* An error for an answer that was not a success, with the registry's own
 * message ({"errors":[{"code","message"}]}) when it gave one. */
static int
response_error(const struct response *resp, const char *what, struct err *err)
{
	json_t *root = NULL, *e;
	const char *code = NULL, *message = NULL;
	int rc;

	if (resp->body.buf.len > 0)
		root = json_loadb(resp->body.buf.data, resp->body.buf.len, 0, NULL);
	e = json_array_get(json_object_get(root, "errors"), 0);
	code = json_string_value(json_object_get(e, "code"));
	message = json_string_value(json_object_get(e, "message"));
	if (code != NULL)
		rc = err_make(err, resp->status == 404 ? ENOENT : EIO, "%s: HTTP %ld %s%s%s", what,
		              resp->status, code, message ? ": " : "", message ? message : "");
	else
		rc = err_make(err, resp->status == 404 ? ENOENT : EIO, "%s: HTTP %ld", what,
		              resp->status);
	json_decref(root);
	return rc;
}

/* The value of parameter key of a challenge's "k=v, k2="v2"" list (owned),
 * or NULL. */
static char *
challenge_param(const char *s, const char *key)
{
	size_t kl = strlen(key);
	struct buf v = BUF_INIT;

	while (*s != '\0') {
		const char *k;
		size_t klen;
		int match;

		while (*s == ' ' || *s == ',')
			s++;
		k = s;
		while (*s != '\0' && *s != '=' && *s != ',')
			s++;
		if (*s != '=')
			continue;
		klen = (size_t)(s - k);
		while (klen > 0 && k[klen - 1] == ' ')
			klen--;
		match = klen == kl && strncasecmp(k, key, kl) == 0;
		s++;
		buf_reset(&v);
		if (*s == '"') {
			for (s++; *s != '\0' && *s != '"'; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				buf_putc(&v, *s);
			}
			if (*s == '"')
				s++;
		} else {
			while (*s != '\0' && *s != ',' && *s != ' ')
				buf_putc(&v, *s++);
		}
		if (match)
			return buf_take(&v);
	}
	buf_free(&v);
	return NULL;
}

static void
registry_set_basic(struct registry *r)
{
	char *plain = xasprintf("%s:%s", r->username, r->password ? r->password : "");
	size_t n = sodium_base64_ENCODED_LEN(strlen(plain), sodium_base64_VARIANT_ORIGINAL);
	char *b64 = xmalloc(n);

	sodium_bin2base64(b64, n, (const unsigned char *)plain, strlen(plain),
	                  sodium_base64_VARIANT_ORIGINAL);
	free(r->authorization);
	r->authorization = xasprintf("Authorization: Basic %s", b64);
	sodium_memzero(plain, strlen(plain));
	free(plain);
	free(b64);
}

/* The bearer flow: asks the token service of the challenge for a token of
 * scope (the challenge's, or pull of r's repository), with r's credentials
 * when it has some. */
static int
registry_fetch_token(struct registry *r, const char *challenge, struct err *err)
{
	char *realm = challenge_param(challenge, "realm");
	char *service = challenge_param(challenge, "service");
	char *scope = challenge_param(challenge, "scope");
	struct response resp = {.body.max = TOKEN_MAX};
	char *url = NULL, *esc_service = NULL, *esc_scope = NULL;
	json_t *root = NULL;
	const char *token;
	CURL *c = NULL;
	CURLcode cc;
	int rc = -1;

	if (realm == NULL) {
		rc = err_make(err, 0, "registry %s: bearer challenge without realm", r->host);
		goto out;
	}
	if (strncmp(realm, "https://", 8) != 0 && !(r->http && strncmp(realm, "http://", 7) == 0)) {
		rc = err_make(err, 0, "registry %s: token realm %s is not https", r->host, realm);
		goto out;
	}
	if (scope == NULL)
		scope = xasprintf("repository:%s:pull", r->repo);
	c = registry_easy(r, realm);
	esc_scope = curl_easy_escape(c, scope, 0);
	esc_service = service ? curl_easy_escape(c, service, 0) : NULL;
	if (esc_scope == NULL || (service != NULL && esc_service == NULL))
		log_fatal("out of memory (curl_easy_escape)");
	url = xasprintf("%s%c%s%s%sscope=%s", realm, strchr(realm, '?') ? '&' : '?',
	                esc_service ? "service=" : "", esc_service ? esc_service : "",
	                esc_service ? "&" : "", esc_scope);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (r->username != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, r->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, r->password ? r->password : "");
	}
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_capped_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		char why[256];

		rc = err_make(err, cc == CURLE_ABORTED_BY_CALLBACK ? ECANCELED : 0,
		              "token from %s: %s", realm,
		              registry_strerror(r, c, cc, why, sizeof why));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
	if (resp.status != 200) {
		if (r->username != NULL && (resp.status == 401 || resp.status == 403))
			rc = err_make(err, EACCES,
			              "the token service %s refused the credentials of %s (%ld)",
			              realm, r->username, resp.status);
		else
			rc = err_make(err, EACCES, "token from %s: HTTP %ld%s", realm, resp.status,
			              r->username ? "" : " (credentials needed?)");
		goto out;
	}
	root = json_loadb(resp.body.buf.data ? resp.body.buf.data : "", resp.body.buf.len, 0, NULL);
	token = json_string_value(json_object_get(root, "token"));
	if (token == NULL || *token == '\0')
		token = json_string_value(json_object_get(root, "access_token"));
	if (token == NULL || *token == '\0' || strpbrk(token, "\r\n") != NULL) {
		rc = err_make(err, 0, "token from %s: no token in the answer", realm);
		goto out;
	}
	free(r->authorization);
	r->authorization = xasprintf("Authorization: Bearer %s", token);
	rc = 0;
out:
	json_decref(root);
	curl_free(esc_scope);
	curl_free(esc_service);
	if (c != NULL)
		curl_easy_cleanup(c);
	response_clear(&resp);
	free(url);
	free(realm);
	free(service);
	free(scope);
	return rc;
}

/* Answers a 401's challenge; fails when there is nothing more to try. */
static int
registry_authenticate(struct registry *r, const char *challenge, struct err *err)
{
	if (challenge == NULL)
		return err_make(err, EACCES, "registry %s: unauthorized, and no challenge",
		                r->host);
	if (strncasecmp(challenge, "basic", 5) == 0 &&
	    (challenge[5] == '\0' || challenge[5] == ' ')) {
		if (r->username == NULL)
			return err_make(err, EACCES,
			                "the registry %s asks for credentials (401), and none are "
			                "set (the container's registry: username, password_secret)",
			                r->host);
		registry_set_basic(r);
		return 0;
	}
	if (strncasecmp(challenge, "bearer ", 7) == 0)
		return registry_fetch_token(r, challenge + 7, err);
	return err_make(err, EACCES, "registry %s: unsupported authentication \"%.32s\"", r->host,
	                challenge);
}

/* GETs url into resp (body at most max), answering one 401 challenge. */
static int
registry_get(struct registry *r, const char *url, const char *accept, size_t max,
             struct response *resp, struct err *err)
{
	int authenticated = 0, tries = 0;

	for (;;) {
		struct curl_slist *headers = registry_headers(r, accept);
		CURL *c = registry_easy(r, url);
		CURLcode cc;

		response_clear(resp);
		resp->body.max = max;
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_capped_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
		char why[256];

		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		if (cc != CURLE_OK)
			registry_strerror(r, c, cc, why, sizeof why);
		curl_easy_cleanup(c);
		curl_slist_free_all(headers);
		if (cc == CURLE_WRITE_ERROR && resp->body.overflow)
			return err_make(err, EFBIG, "GET %s: answer larger than %zu bytes", url,
			                max);
		if (transient(cc, resp->status) && tries < RETRIES) {
			backoff(tries++);
			continue;
		}
		if (cc != CURLE_OK)
			return err_make(err, cc == CURLE_ABORTED_BY_CALLBACK ? ECANCELED : 0,
			                "GET %s: %s", url, why);
		if (resp->status != 401 || authenticated)
			break;
		authenticated = 1;
		if (registry_authenticate(r, resp->challenge, err) < 0)
			return err_wrap(err, "GET %s", url);
	}
	if (resp->status == 401 && r->username != NULL)
		return err_make(err, EACCES, "the registry %s refused the credentials of %s (401)",
		                r->host, r->username);
	if (resp->status == 401)
		return err_make(err, EACCES, "GET %s: unauthorized (401)", url);
	if (resp->status != 200)
		return response_error(resp, url, err);
	return 0;
}

struct registry *
registry_open(const char *host, const char *repo, int http, const char *username,
              const char *password, const struct registry_limits *lim)
{
	struct registry *r = xcalloc(1, sizeof *r);

	if (lim != NULL)
		r->lim = *lim;
	if (r->lim.connect_s <= 0)
		r->lim.connect_s = 30;
	if (r->lim.idle_s <= 0)
		r->lim.idle_s = 60;
	if (r->lim.timeout_ms > 0)
		r->lim.deadline_ms = now_mono_ms() + r->lim.timeout_ms;

	r->host = xstrdup(host);
	r->repo = xstrdup(repo);
	r->http = http;
	r->base = xasprintf("%s://%s/v2/%s", http ? "http" : "https", host, repo);
	r->username = username;
	r->password = password;
	return r;
}

void
registry_close(struct registry *r)
{
	if (r == NULL)
		return;
	if (r->authorization != NULL)
		sodium_memzero(r->authorization, strlen(r->authorization));
	free(r->authorization);
	free(r->host);
	free(r->repo);
	free(r->base);
	free(r);
}

int
registry_authenticated(const struct registry *r)
{
	return r->authorization != NULL;
}

int
registry_get_manifest(struct registry *r, const char *reference, struct buf *body,
                      char **media_type, struct err *err)
{
	static const char accept[] = "application/vnd.oci.image.manifest.v1+json, "
	                             "application/vnd.oci.image.index.v1+json, "
	                             "application/vnd.docker.distribution.manifest.v2+json, "
	                             "application/vnd.docker.distribution.manifest.list.v2+json";
	struct response resp = {0};
	char *url = xasprintf("%s/manifests/%s", r->base, reference);
	int rc;

	rc = registry_get(r, url, accept, MANIFEST_MAX, &resp, err);
	if (rc == 0) {
		char *semi;

		buf_free(body);
		*body = resp.body.buf;
		memset(&resp.body.buf, 0, sizeof resp.body.buf);
		*media_type = take_ptr(&resp.content_type);
		if (*media_type != NULL && (semi = strchr(*media_type, ';')) != NULL)
			*semi = '\0';
	}
	response_clear(&resp);
	free(url);
	return rc;
}

/* One blob on its way from the registry to the cache. */
struct transfer {
	const struct registry_blob *blob; /* borrowed */
	struct registry *r;               /* borrowed */
	CURL *easy;                       /* owned while running */
	struct curl_slist *headers;       /* owned while running */
	int fd;                           /* owned tmp file, -1 when closed */
	int retried;                      /* answered a 401 once already */
	int tries;                        /* retries after transient failures */
	int done;
	crypto_hash_sha256_state sha;
	uint64_t got;
	int cancelled;   /* the progress callback said stop */
	int write_errno; /* the tmp file's write failed */
	int too_big;     /* more bytes than declared */
	struct response resp;
	registry_progress_fn progress;
	void *arg;
};

static size_t
on_blob(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n, off = 0;
	long status = 0;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) /* an error's body: keep it for the message */
		return buf_capped_write(data, size, n, &t->resp.body);
	if (t->got + len > t->blob->size) {
		t->too_big = 1;
		return 0;
	}
	while (off < len) {
		ssize_t w = write(t->fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			t->write_errno = errno;
			return 0;
		}
		off += (size_t)w;
	}
	crypto_hash_sha256_update(&t->sha, (const unsigned char *)data, len);
	t->got += len;
	if (t->progress != NULL && t->progress((int64_t)len, t->arg) != 0) {
		t->cancelled = 1;
		return 0;
	}
	return len;
}

/* (Re)starts t from its first byte with r's current credentials. */
static int
transfer_start(struct transfer *t, CURLM *multi, struct err *err)
{
	char *url;

	if (t->fd < 0) {
		t->fd = open(t->blob->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (t->fd < 0)
			return err_make(err, errno, "create %s", t->blob->tmp_path);
	} else if (ftruncate(t->fd, 0) < 0 || lseek(t->fd, 0, SEEK_SET) < 0) {
		return err_make(err, errno, "truncate %s", t->blob->tmp_path);
	}
	crypto_hash_sha256_init(&t->sha);
	t->got = 0;
	response_clear(&t->resp);
	t->resp.body.max = ERROR_BODY_MAX;
	url = xasprintf("%s/blobs/%s", t->r->base, t->blob->digest);
	t->headers = registry_headers(t->r, NULL);
	t->easy = registry_easy(t->r, url);
	free(url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, &t->resp);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_blob);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_multi_add_handle(multi, t->easy);
	return 0;
}

static void
transfer_stop(struct transfer *t, CURLM *multi)
{
	if (t->easy != NULL) {
		curl_multi_remove_handle(multi, t->easy);
		curl_easy_cleanup(take_ptr(&t->easy));
	}
	curl_slist_free_all(take_ptr(&t->headers));
}

/* Checks a finished transfer: answered, complete, and the right bytes. Then
 * the blob enters the cache. Returns 1 when t must start again (after a 401
 * challenge was answered, or a transient failure), 0 when done, -1 on failure. */
static int
transfer_finish(struct transfer *t, CURLcode cc, struct err *err)
{
	const struct registry_blob *b = t->blob;
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[65];
	long status = 0;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	t->resp.status = status;
	if (t->cancelled)
		return err_make(err, ECANCELED, "pull cancelled");
	if (t->write_errno != 0)
		return err_make(err, t->write_errno, "blob %s: write %s", b->digest, b->tmp_path);
	if (t->too_big)
		return err_make(err, 0, "blob %s: more than the %llu bytes the manifest declares",
		                b->digest, (unsigned long long)b->size);
	if (transient(cc, status) && t->tries < RETRIES) {
		if (t->progress != NULL) /* those bytes come again */
			t->progress(-(int64_t)t->got, t->arg);
		backoff(t->tries++);
		return 1;
	}
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && t->resp.body.overflow)) {
		char why[256];

		return err_make(err, cc == CURLE_ABORTED_BY_CALLBACK ? ECANCELED : 0, "blob %s: %s",
		                b->digest, registry_strerror(t->r, t->easy, cc, why, sizeof why));
	}
	if (status == 401 && !t->retried) {
		t->retried = 1;
		if (registry_authenticate(t->r, t->resp.challenge, err) < 0)
			return err_wrap(err, "blob %s", b->digest);
		return 1;
	}
	if (status != 200) {
		char *what = xasprintf("blob %s", b->digest);
		int rc = response_error(&t->resp, what, err);

		free(what);
		return rc;
	}
	if (t->got != b->size)
		return err_make(err, 0, "blob %s: %llu bytes, the manifest declares %llu",
		                b->digest, (unsigned long long)t->got, (unsigned long long)b->size);
	crypto_hash_sha256_final(&t->sha, h);
	hex_encode(h, sizeof h, hex);
	if (strcmp(hex, b->digest + strlen("sha256:")) != 0)
		return err_make(err, 0, "blob %s: digest mismatch (got sha256:%s), refused",
		                b->digest, hex);
	/* On disk before its name says it is verified, even across a crash. */
	if (fsync(t->fd) < 0)
		return err_make(err, errno, "blob %s: fsync %s", b->digest, b->tmp_path);
	if (close(take_fd(&t->fd)) < 0)
		return err_make(err, errno, "blob %s: close %s", b->digest, b->tmp_path);
	if (rename(b->tmp_path, b->final_path) < 0)
		return err_make(err, errno, "blob %s: rename to %s", b->digest, b->final_path);
	t->done = 1;
	return 0;
}

int
registry_fetch_blobs(struct registry *r, const struct registry_blob *blobs, size_t n, int parallel,
                     registry_progress_fn progress, void *arg, struct err *err)
{
	struct transfer *t = xcalloc(n ? n : 1, sizeof *t);
	CURLM *multi = curl_multi_init();
	size_t next = 0, running = 0, i;
	int rc = 0;

	if (multi == NULL)
		log_fatal("curl_multi_init failed");
	if (parallel <= 0)
		parallel = 4;
	for (i = 0; i < n; i++) {
		t[i].blob = &blobs[i];
		t[i].r = r;
		t[i].fd = -1;
		t[i].progress = progress;
		t[i].arg = arg;
	}
	while (rc == 0 && (next < n || running > 0)) {
		struct CURLMsg *msg;
		int still, left, handled;
		CURLMcode mc;

		while (rc == 0 && next < n && running < (size_t)parallel) {
			rc = transfer_start(&t[next], multi, err);
			next++;
			running++;
		}
		if (rc < 0)
			break;
		mc = curl_multi_perform(multi, &still);
		if (mc != CURLM_OK) {
			rc = err_make(err, 0, "downloading blobs: %s", curl_multi_strerror(mc));
			break;
		}
		handled = 0;
		while (rc == 0 && (msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct transfer *done = NULL;
			int fin;

			if (msg->msg != CURLMSG_DONE)
				continue;
			handled++;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&done);
			fin = transfer_finish(done, msg->data.result, err);
			transfer_stop(done, multi);
			if (fin == 1)
				rc = transfer_start(done, multi, err);
			else if (fin < 0)
				rc = -1;
			else
				running--;
		}
		if (rc == 0 && handled == 0 && running > 0) {
			mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
			if (mc != CURLM_OK)
				rc = err_make(err, 0, "downloading blobs: %s",
				              curl_multi_strerror(mc));
		}
	}
	for (i = 0; i < n; i++) {
		transfer_stop(&t[i], multi);
		if (t[i].fd >= 0)
			close(take_fd(&t[i].fd));
		if (!t[i].done && i < next)
			unlink(t[i].blob->tmp_path);
		response_clear(&t[i].resp);
	}
	curl_multi_cleanup(multi);
	free(t);
	return rc;
}
