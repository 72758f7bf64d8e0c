/* client: the HTTP client of berthd's REST API. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "common/buf.h"
#include "common/util.h"

#define CLIENT_MAX_BODY   (64 * 1024 * 1024)
#define CLIENT_CONNECT_MS 5000
#define CLIENT_TIMEOUT_MS 60000
/* How long a request is asked again while berthd fetches its source; past
 * it, berthd's own deadlines have answered. */
#define CLIENT_SOURCE_WAIT_MS (10 * 60 * 1000)

struct client {
	char *url;    /* owned: base URL without trailing '/' */
	char *token;  /* owned, or NULL */
	CURL *curl;   /* owned: one handle, so its connection is reused */
	int loopback; /* the host is this machine: never through a proxy */
	int outside;  /* the next request's path is outside /api/v1 */
};

/* Whether the URL's host is a loopback name or address. */
static int
url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int yes = 0;

	if (u == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		size_t n = strlen(host);

		yes = strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
		      strcmp(host, "localhost") == 0 ||
		      (n > 10 && strcmp(host + n - 10, ".localhost") == 0);
	}
	curl_free(host);
	curl_url_cleanup(u);
	return yes;
}

int
client_new(const char *url, const char *token, struct client **out, struct err *err)
{
	struct client *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_make(err, 0, "cannot initialise libcurl");
	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		free(c);
		curl_global_cleanup();
		return err_make(err, 0, "cannot initialise libcurl");
	}
	c->url = xstrdup(url);
	c->token = token != NULL ? xstrdup(token) : NULL;
	c->loopback = url_is_loopback(url);
	*out = c;
	return 0;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c->url);
	free(c->token);
	free(c);
	curl_global_cleanup();
}

const char *
client_url(const struct client *c)
{
	return c->url;
}

int
client_has_token(const struct client *c)
{
	return c->token != NULL;
}

/* A curl failure as the end of "cannot reach berthd at URL: ...". */
static void
reach_error(struct client *c, CURLcode rc, const char *errbuf, struct err *err)
{
	long oserr = 0;
	char why[256];

	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_COULDNT_CONNECT && oserr != 0)
		snprintf(why, sizeof(why), "%s", strerror((int)oserr));
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(why, sizeof(why), "no answer in time");
	else if (rc == CURLE_COULDNT_RESOLVE_HOST)
		snprintf(why, sizeof(why), "unknown host");
	else if (errbuf[0] != '\0')
		snprintf(why, sizeof(why), "%s", errbuf);
	else
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(rc));
	why[0] = (char)tolower((unsigned char)why[0]);
	err_make(err, 0, "cannot reach berthd at %s: %s", c->url, why);
}

int
client_resp_error(const struct client_resp *resp, struct err *err)
{
	const json_t *e = NULL, *m = NULL;

	if (resp->json != NULL)
		e = json_object_get(resp->json, "error");
	if (e != NULL)
		m = json_object_get(e, "message");
	if (json_is_string(m) && json_string_length(m) > 0)
		err_make(err, 0, "%s", json_string_value(m));
	else if (resp->status == 401)
		err_make(err, 0, "berthd refused the token (HTTP 401)");
	else
		err_make(err, 0, "berthd answered HTTP %ld", resp->status);
	return CLIENT_EHTTP;
}

/* What a request and a stream set alike on c's handle (reset first): the
 * URL (*url, owned by the caller), the error buffer, the connect timeout,
 * the body's writer, the user agent, the proxy and the token with an Accept
 * of accept (*auth and *headers owned by the caller). */
static void
client_setup(struct client *c, const char *url, char *errbuf, curl_write_callback write_fn,
             void *write_data, const char *accept, char **auth, struct curl_slist **headers)
{
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CLIENT_CONNECT_MS);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_fn);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, write_data);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
	if (c->loopback)
		curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*");
	if (c->token != NULL) {
		*auth = xasprintf("Authorization: Bearer %s", c->token);
		*headers = curl_slist_append(*headers, *auth);
	}
	*headers = curl_slist_append(*headers, accept);
}

static int
client_request_once(struct client *c, const char *method, const char *path, const json_t *body,
                    struct client_resp *resp, struct err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *auth = NULL, *text = NULL;
	struct curl_slist *headers = NULL;
	struct buf_capped b = {.max = CLIENT_MAX_BODY};
	const char *ct = NULL;
	CURLcode rc;
	int ret = -1;

	memset(resp, 0, sizeof(*resp));
	url = xasprintf("%s%s%s", c->url, c->outside ? "" : "/api/v1", path);
	client_setup(c, url, errbuf, buf_capped_write, &b, "Accept: application/json", &auth,
	             &headers);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)CLIENT_TIMEOUT_MS);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			ret = err_make(err, 0, "cannot encode the request as JSON");
			goto out;
		}
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		if (rc == CURLE_WRITE_ERROR)
			err_make(err, 0, "the answer of berthd at %s is larger than %d bytes",
			         c->url, CLIENT_MAX_BODY);
		else
			reach_error(c, rc, errbuf, err);
		ret = CLIENT_EREACH;
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
	resp->content_type = ct != NULL ? xstrdup(ct) : NULL;
	resp->len = b.buf.len;
	resp->body = buf_take(&b.buf);
	if (ct != NULL && strncmp(ct, "application/json", 16) == 0 && resp->len > 0)
		resp->json = json_loadb(resp->body, resp->len, JSON_DECODE_ANY, NULL);
	if (resp->status < 200 || resp->status > 299) {
		ret = client_resp_error(resp, err);
		goto out;
	}
	ret = 0;
out:
	/* The handle must not keep pointers to this frame; connections stay. */
	curl_easy_reset(c->curl);
	curl_slist_free_all(headers);
	buf_free(&b.buf);
	free(text);
	free(auth);
	free(url);
	return ret;
}

/* berthd answered that it is still fetching a source (it waits for one at
 * most a second): the request is asked again, joining that fetch. */
static int
client_source_pending(const struct client_resp *resp)
{
	json_t *code = json_object_get(json_object_get(resp->json, "error"), "code");

	return resp->status == 504 && json_is_string(code) &&
	       strcmp(json_string_value(code), "source_timeout") == 0;
}

int
client_request(struct client *c, const char *method, const char *path, const json_t *body,
               struct client_resp *resp, struct err *err)
{
	int64_t until = now_mono_ms() + CLIENT_SOURCE_WAIT_MS;
	int rc;

	while ((rc = client_request_once(c, method, path, body, resp, err)) == CLIENT_EHTTP &&
	       client_source_pending(resp) && now_mono_ms() < until) {
		client_resp_clear(resp);
		err_clear(err);
		usleep(500 * 1000);
	}
	return rc;
}

int
client_get_outside(struct client *c, const char *path, struct client_resp *resp, struct err *err)
{
	int rc;

	c->outside = 1;
	rc = client_request_once(c, "GET", path, NULL, resp, err);
	c->outside = 0;
	return rc;
}

void
client_sse_init(struct client_sse *p,
                int (*on_event)(void *arg, const char *id, const char *event, const char *data),
                void *arg)
{
	memset(p, 0, sizeof(*p));
	p->on_event = on_event;
	p->arg = arg;
}

void
client_sse_clear(struct client_sse *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	free(p->id);
	free(p->event);
	p->id = p->event = NULL;
}

/* One complete line of the stream (without its end). */
static void
sse_line(struct client_sse *p, const char *line, size_t n)
{
	const char *colon, *val;
	size_t flen, vlen;

	if (n == 0) { /* dispatch */
		if (p->has_data && !p->stopped &&
		    p->on_event(p->arg, p->id, p->event, p->data.data != NULL ? p->data.data : "") <
		        0)
			p->stopped = 1;
		buf_reset(&p->data);
		p->has_data = 0;
		free(p->event);
		p->event = NULL;
		return; /* the id stays: it is the stream's last event id */
	}
	if (line[0] == ':')
		return;
	colon = memchr(line, ':', n);
	flen = colon != NULL ? (size_t)(colon - line) : n;
	val = colon != NULL ? colon + 1 : line + n;
	vlen = (size_t)(line + n - val);
	if (vlen > 0 && val[0] == ' ') {
		val++;
		vlen--;
	}
	if (flen == 4 && memcmp(line, "data", 4) == 0) {
		if (p->has_data)
			buf_putc(&p->data, '\n');
		buf_append(&p->data, val, vlen);
		p->has_data = 1;
	} else if (flen == 2 && memcmp(line, "id", 2) == 0) {
		free(p->id);
		p->id = xstrndup(val, vlen);
	} else if (flen == 5 && memcmp(line, "event", 5) == 0) {
		free(p->event);
		p->event = xstrndup(val, vlen);
	}
}

void
client_sse_feed(struct client_sse *p, const char *bytes, size_t n)
{
	size_t i;

	for (i = 0; i < n && !p->stopped; i++) {
		char ch = bytes[i];

		if (ch == '\n' && p->after_cr) {
			p->after_cr = 0;
			continue;
		}
		p->after_cr = ch == '\r';
		if (ch == '\n' || ch == '\r') {
			sse_line(p, p->line.data != NULL ? p->line.data : "", p->line.len);
			buf_reset(&p->line);
		} else {
			buf_putc(&p->line, ch);
		}
	}
}

struct stream_state {
	struct client *c;
	struct client_sse *p;
	int (*on_open)(void *arg);
	void *arg;
	int opened;              /* the answer is a 200 event stream, on_open was called */
	int stopped;             /* on_open asked to stop */
	struct buf_capped other; /* the body of an answer that is not a stream */
};

static size_t
on_stream_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream_state *s = arg;
	size_t n = size * nmemb;
	const char *ct = NULL;
	long status = 0;

	if (!s->opened) {
		curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(s->c->curl, CURLINFO_CONTENT_TYPE, &ct);
		if (status != 200 || ct == NULL || strncmp(ct, "text/event-stream", 17) != 0) {
			return buf_capped_write(data, size, nmemb, &s->other);
		}
		s->opened = 1;
		if (s->on_open != NULL && s->on_open(s->arg) < 0) {
			s->stopped = 1;
			return 0; /* ends the transfer */
		}
	}
	client_sse_feed(s->p, data, n);
	if (s->p->stopped) {
		s->stopped = 1;
		return 0; /* ends the transfer */
	}
	return n;
}

int
client_stream(struct client *c, const char *path, struct client_sse *p, int (*on_open)(void *arg),
              void *arg, long idle_ms, long *status, struct err *err)
{
	struct stream_state s = {
	    .c = c, .p = p, .on_open = on_open, .arg = arg, .other.max = CLIENT_MAX_BODY};
	char errbuf[CURL_ERROR_SIZE] = "", *url, *auth = NULL;
	struct curl_slist *headers = NULL;
	struct client_resp resp = {0};
	CURLcode rc;
	int ret;

	*status = 0;
	url = xasprintf("%s/api/v1%s", c->url, path);
	client_setup(c, url, errbuf, on_stream_body, &s, "Accept: text/event-stream", &auth,
	             &headers);
	/* no overall timeout: a stream lasts; silence past idle_ms means it is dead */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, (idle_ms + 999) / 1000);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (s.stopped ||
	    (s.opened && (rc == CURLE_OK || rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR))) {
		ret = 0; /* berthd ended the stream (a restart, say): the caller goes on */
	} else if (rc != CURLE_OK && !s.opened && *status == 0) {
		reach_error(c, rc, errbuf, err);
		ret = CLIENT_EREACH;
	} else if (s.opened) {
		reach_error(c, rc, errbuf, err); /* went silent */
		ret = CLIENT_EREACH;
	} else {
		const char *ct = NULL;

		resp.status = *status;
		curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
		if (ct != NULL && strncmp(ct, "application/json", 16) == 0 && s.other.buf.len > 0)
			resp.json = json_loadb(s.other.buf.data, s.other.buf.len, 0, NULL);
		if (*status == 200)
			err_make(err, 0,
			         "berthd answered %s with something that is not an event stream",
			         path);
		else
			client_resp_error(&resp, err);
		json_decref(resp.json);
		ret = CLIENT_EHTTP;
	}
	curl_easy_reset(c->curl);
	curl_slist_free_all(headers);
	buf_free(&s.other.buf);
	free(auth);
	free(url);
	return ret;
}

void
client_resp_clear(struct client_resp *resp)
{
	free(resp->body);
	free(resp->content_type);
	json_decref(resp->json);
	memset(resp, 0, sizeof(*resp));
}

char *
client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			buf_putc(&b, (char)ch);
		} else {
			buf_putc(&b, '%');
			buf_putc(&b, hex[ch >> 4]);
			buf_putc(&b, hex[ch & 15]);
		}
	}
	return buf_take(&b);
}
