/* router_h1: HTTP/1 as berth-router reads and writes it, on buffers. Finding
 * the end of a head and parsing it with http_parser into the worker's scratch;
 * the checks a request head must pass before it is routed
 * (router_h1_read_request_head); the request body's framing, checked as it
 * comes; and the heads rewritten: the request's for the upstream (Host,
 * X-Forwarded-*, Forwarded, hop-by-hop headers, the cleaned path), the
 * response's for the client.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "common/util.h"
#include "router/router-conn-int.h"

/* Finds the end of an HTTP head in p[0..len): returns the head's length, or 0
 * when it is not there yet. *scanned remembers how far it looked. */
size_t
router_h1_head_end(const char *p, size_t len, size_t *scanned)
{
	size_t i = *scanned > 2 ? *scanned - 2 : 0;

	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		if (nl == NULL)
			break;
		i = (size_t)(nl - p);
		if (i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
		i++;
	}
	*scanned = len;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct worker *w = ((struct conn *)p->data)->w;

	if (w->url == NULL) {
		w->url = at;
		w->url_len = len;
	} else {
		w->url_len = (size_t)(at + len - w->url);
	}
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct worker *w = ((struct conn *)p->data)->w;
	struct hdr *h;

	if (!w->hdr_last_was_value && w->nhdrs > 0) {
		h = &w->hdrs[w->nhdrs - 1];
		h->nlen = (size_t)(at + len - h->name);
		return 0;
	}
	if (w->nhdrs == w->r->set.max_headers) {
		w->hdr_overflow = 1;
		return 1;
	}
	h = &w->hdrs[w->nhdrs++];
	h->name = at;
	h->nlen = len;
	h->val = NULL;
	h->vlen = 0;
	w->hdr_last_was_value = 0;
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct worker *w = ((struct conn *)p->data)->w;
	struct hdr *h = &w->hdrs[w->nhdrs - 1];

	if (h->val == NULL) {
		h->val = at;
		h->vlen = len;
	} else {
		h->vlen = (size_t)(at + len - h->val);
	}
	w->hdr_last_was_value = 1;
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct conn *c = p->data;

	c->w->head_complete = 1;
	/* A response to HEAD has no body whatever its headers say. */
	return p->type == HTTP_RESPONSE && c->is_head ? 1 : 0;
}

static int
on_message_complete(http_parser *p)
{
	http_parser_pause(p, 1);
	return 0;
}

const http_parser_settings router_h1_head_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

const http_parser_settings router_h1_body_settings = {
    .on_message_complete = on_message_complete,
};

static int
on_body_copy(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	evbuffer_add(c->cs->out, at, len);
	return 0;
}

/* For an HTTP/1.0 client, which cannot read chunked framing: the body
 * decoded, its end marked by closing the connection. */
const http_parser_settings router_h1_dechunk_settings = {
    .on_body = on_body_copy,
    .on_message_complete = on_message_complete,
};

void
router_h1_scratch_reset(struct worker *w)
{
	w->nhdrs = 0;
	w->hdr_overflow = 0;
	w->hdr_last_was_value = 1;
	w->head_complete = 0;
	w->url = NULL;
	w->url_len = 0;
}

static int
hdr_is(const struct hdr *h, const char *name, size_t n)
{
	return h->nlen == n && strncasecmp(h->name, name, n) == 0;
}

#define HDR_IS(h, lit) hdr_is((h), lit, sizeof(lit) - 1)

/* RFC 9110 tchar: the bytes of a token such as a header name. */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* A header name is a non-empty token; a value holds visible characters,
 * spaces, tabs and obs-text, nothing else. */
int
router_h1_header_valid(const struct hdr *h)
{
	size_t i;

	if (h->nlen == 0)
		return 0;
	for (i = 0; i < h->nlen; i++)
		if (!tchar[(unsigned char)h->name[i]])
			return 0;
	for (i = 0; i < h->vlen; i++) {
		unsigned char ch = (unsigned char)h->val[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return 1;
}

/* A request-target: visible ASCII only, and no fragment, which a client
 * never sends and a server may or may not cut off before it reads the path. */
static int
target_valid(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f || p[i] == '#')
			return 0;
	return len > 0;
}

/* Whether a Content-Length value is plain digits that fit. */
static int
content_length_valid(const struct hdr *h)
{
	size_t i;

	if (h->vlen == 0 || h->vlen > 18)
		return 0;
	for (i = 0; i < h->vlen; i++)
		if (h->val[i] < '0' || h->val[i] > '9')
			return 0;
	return 1;
}

/* Checks the request body in the client's input past what was checked
 * before, and counts it into c->body_ready. Returns 0, or -1 with err (a
 * sentence for the client) on a framing error. */
int
router_h1_body_scan(struct conn *c, struct err *err)
{
	struct evbuffer *in = c->cs->in;
	size_t len = evbuffer_get_length(in);

	while (!c->body_complete && c->body_ready < len) {
		struct evbuffer_ptr pos;
		struct evbuffer_iovec v;
		size_t used;

		if (!c->body_chunked) {
			uint64_t n = len - c->body_ready;
			if (n > c->body_left)
				n = c->body_left;
			c->body_ready += (size_t)n;
			c->body_left -= n;
			c->body_complete = c->body_left == 0;
			continue;
		}
		if (evbuffer_ptr_set(in, &pos, c->body_ready, EVBUFFER_PTR_SET) < 0 ||
		    evbuffer_peek(in, -1, &pos, &v, 1) < 1)
			break;
		if (chunked_parse(&c->ck, v.iov_base, v.iov_len, &used, err) < 0)
			return -1;
		c->body_ready += used;
		c->body_complete = chunked_done(&c->ck);
	}
	return 0;
}

/* Appends to the worker's scratch head; it has room for any head we accept
 * plus our own headers. */
static void
scratch_add(struct worker *w, const void *p, size_t n)
{
	if (w->scratch_len + n > w->scratch_cap) {
		w->scratch_cap = (w->scratch_len + n) * 2;
		w->scratch = xrealloc(w->scratch, w->scratch_cap);
	}
	memcpy(w->scratch + w->scratch_len, p, n);
	w->scratch_len += n;
}

#define SCRATCH_LIT(w, lit) scratch_add((w), lit, sizeof(lit) - 1)
#define SCRATCH_STR(w, s)   scratch_add((w), (s), strlen(s))

static void
scratch_hdr(struct worker *w, const struct hdr *h)
{
	scratch_add(w, h->name, h->nlen);
	SCRATCH_LIT(w, ": ");
	if (h->vlen > 0)
		scratch_add(w, h->val, h->vlen);
	SCRATCH_LIT(w, "\r\n");
}

/* The client address of a request that a peer router forwarded: the one
 * that router wrote in X-Forwarded-For (xff, the only one of nxff), believed
 * only when its hop marker (hop) carries the table's peer key (a client can
 * send the marker, not the key). Into out, or the connection's own address. */
static void
client_address(const struct conn *c, const struct hdr *hop, const struct hdr *xff, size_t nxff,
               char out[INET6_ADDRSTRLEN])
{
	const char *key = c->table->peer_key;
	unsigned char bin[sizeof(struct in6_addr)];
	size_t klen = strlen(key);
	char ip[INET6_ADDRSTRLEN];

	snprintf(out, INET6_ADDRSTRLEN, "%s", c->client_ip);
	/* A peer writes one X-Forwarded-For of one address: anything else is
	 * not a peer's. */
	if (klen == 0 || hop == NULL || nxff != 1 || hop->vlen != klen ||
	    CRYPTO_memcmp(hop->val, key, klen) != 0 || xff->vlen >= INET6_ADDRSTRLEN)
		return;
	memcpy(ip, xff->val, xff->vlen);
	ip[xff->vlen] = '\0';
	if (inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1)
		memcpy(out, ip, xff->vlen + 1);
}

/* Writes the request head as the upstream gets it into c->head. */
static void
build_request_head(struct conn *c, const struct hdr *host)
{
	struct worker *w = c->w;
	const struct hdr *upgrade = NULL, *hop = NULL, *xff = NULL;
	char client[INET6_ADDRSTRLEN];
	size_t i, nxff = 0;
	int v6;

	c->hop = 0;
	c->head_hop = 0;
	w->scratch_len = 0;
	SCRATCH_STR(w, http_method_str(c->rp.method));
	SCRATCH_LIT(w, " ");
	scratch_add(w, w->path, w->path_len);
	scratch_add(w, w->url + w->query_off, w->url_len - w->query_off);
	SCRATCH_LIT(w, " HTTP/1.1\r\n");
	for (i = 0; i < w->nhdrs; i++) {
		const struct hdr *h = &w->hdrs[i];
		switch (h->nlen) {
		case 2:
			if (HDR_IS(h, "te"))
				continue;
			break;
		case 7:
			if (HDR_IS(h, "upgrade")) {
				upgrade = h;
				continue;
			}
			break;
		case 9:
			if (HDR_IS(h, "forwarded"))
				continue;
			break;
		case 10:
			if (HDR_IS(h, "connection") || HDR_IS(h, "keep-alive"))
				continue;
			break;
		case 11:
			/* Never passed on as it came: set again by
			 * router_h1_head_hop() when forwarded. */
			if (HDR_IS(h, "x-berth-hop")) {
				c->hop = 1;
				hop = h;
				continue;
			}
			break;
		case 15:
			if (HDR_IS(h, "x-forwarded-for")) {
				if (nxff++ == 0)
					xff = h;
				continue;
			}
			break;
		case 16:
			if (HDR_IS(h, "x-forwarded-host") || HDR_IS(h, "proxy-connection"))
				continue;
			break;
		case 17:
			if (HDR_IS(h, "transfer-encoding")) {
				/* Checked to be "chunked" in any case: sent as
				 * one, for an upstream that compares it as is. */
				SCRATCH_LIT(w, "Transfer-Encoding: chunked\r\n");
				continue;
			}
			if (HDR_IS(h, "x-forwarded-proto"))
				continue;
			break;
		}
		scratch_hdr(w, h);
	}
	client_address(c, hop, xff, nxff, client);
	v6 = strchr(client, ':') != NULL;
	SCRATCH_LIT(w, "X-Forwarded-For: ");
	SCRATCH_STR(w, client);
	if (c->tls)
		SCRATCH_LIT(w, "\r\nX-Forwarded-Proto: https\r\n");
	else
		SCRATCH_LIT(w, "\r\nX-Forwarded-Proto: http\r\n");
	if (host != NULL) {
		SCRATCH_LIT(w, "X-Forwarded-Host: ");
		scratch_add(w, host->val, host->vlen);
		SCRATCH_LIT(w, "\r\n");
	}
	SCRATCH_LIT(w, "Forwarded: for=");
	if (v6)
		SCRATCH_LIT(w, "\"[");
	SCRATCH_STR(w, client);
	if (v6)
		SCRATCH_LIT(w, "]\"");
	if (host != NULL) {
		SCRATCH_LIT(w, ";host=\"");
		scratch_add(w, host->val, host->vlen);
		SCRATCH_LIT(w, "\"");
	}
	if (c->tls)
		SCRATCH_LIT(w, ";proto=https\r\n");
	else
		SCRATCH_LIT(w, ";proto=http\r\n");
	if (c->upgrade && upgrade != NULL) {
		SCRATCH_LIT(w, "Connection: upgrade\r\n");
		scratch_hdr(w, upgrade);
	}
	SCRATCH_LIT(w, "\r\n");
	evbuffer_drain(c->head, evbuffer_get_length(c->head));
	evbuffer_add(c->head, w->scratch, w->scratch_len);
}

/* Reads, checks and acts on one request head. Returns 1 when it did (the
 * caller may look for the next one), 0 when the head is not complete or c
 * left CS_HEAD. */
int
router_h1_read_request_head(struct conn *c)
{
	struct worker *w = c->w;
	struct router *r = w->r;
	struct evbuffer *in = c->cs->in;
	size_t len = evbuffer_get_length(in), want, n, np, i;
	const struct hdr *host = NULL;
	int nhost = 0, nte = 0, ncl = 0;
	struct err err = ERR_INIT;
	enum http_errno e;
	const char *p, *q;
	size_t plen;

	if (len == 0)
		return 0;
	if (!c->head_started) {
		c->head_started = 1;
		router_conn_timer_set(c, w->tv_header);
	}
	want = len < r->set.max_header_size + 2 ? len : r->set.max_header_size + 2;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
	n = router_h1_head_end(p, want, &c->scanned);
	if (n == 0 || n > r->set.max_header_size) {
		if (len > r->set.max_header_size) {
			router_conn_request_begin(c);
			router_conn_reply_why(c, 431, "the request head is too large", 1);
		}
		return 0;
	}
	router_conn_request_begin(c);
	router_h1_scratch_reset(w);
	http_parser_init(&c->rp, HTTP_REQUEST);
	c->rp.data = c;
	np = http_parser_execute(&c->rp, &router_h1_head_settings, p, n);
	e = HTTP_PARSER_ERRNO(&c->rp);
	if (w->hdr_overflow) {
		router_conn_reply_why(c, 431, "the request head has too many header fields", 1);
		return 0;
	}
	if ((e != HPE_OK && e != HPE_PAUSED) || !w->head_complete || np != n || w->url == NULL) {
		log_debug("bad request from %s: %s", c->client_ip, http_errno_name(e));
		router_conn_reply_why(c, 400, "the request is malformed", 1);
		return 0;
	}
	if (e == HPE_PAUSED) {
		http_parser_pause(&c->rp, 0);
		c->req_done = 1;
	}
	c->keepalive = http_should_keep_alive(&c->rp) != 0;
	c->upgrade = c->rp.upgrade;
	c->is_head = c->rp.method == HTTP_HEAD;
	c->idempotent = c->is_head || c->rp.method == HTTP_GET || c->rp.method == HTTP_OPTIONS;
	if (c->rp.method == HTTP_CONNECT) {
		router_conn_reply(c, 405, 1);
		return 0;
	}
	/* CRLF ends every line of the head: a bare LF or a lone CR is a line
	 * end to some servers and not to others. No obsolete line folding
	 * either (a line that starts with a blank). */
	for (q = p; q < p + n; q++) {
		if (*q == '\n' && (q == p || q[-1] != '\r')) {
			router_conn_reply_why(c, 400,
			                      "a line of the request head ends with a bare LF", 1);
			return 0;
		}
		if (*q == '\r' && (q + 1 == p + n || q[1] != '\n')) {
			router_conn_reply_why(c, 400, "the request head holds a CR without LF", 1);
			return 0;
		}
		if (*q == '\n' && q + 1 < p + n && (q[1] == ' ' || q[1] == '\t')) {
			router_conn_reply_why(c, 400, "a header line is folded", 1);
			return 0;
		}
	}
	/* http-parser as Debian builds it is lenient (spaces in names, for
	 * one): check names, values and the target ourselves, so that what an
	 * upstream reads is what we framed. */
	if (c->rp.http_major != 1 || c->rp.http_minor > 1) {
		router_conn_reply(c, 505, 1);
		return 0;
	}
	if (!target_valid(w->url, w->url_len)) {
		router_conn_reply_why(c, 400, "the request target is not valid", 1);
		return 0;
	}
	for (i = 0; i < w->nhdrs; i++) {
		const struct hdr *h = &w->hdrs[i];
		if (!router_h1_header_valid(h)) {
			router_conn_reply_why(c, 400, "a header field is not valid", 1);
			return 0;
		}
		if (HDR_IS(h, "host")) {
			host = h;
			nhost++;
		} else if (HDR_IS(h, "transfer-encoding")) {
			nte++;
			if (h->vlen != 7 || strncasecmp(h->val, "chunked", 7) != 0)
				nte = 99;
		} else if (HDR_IS(h, "content-length")) {
			ncl++;
			if (!content_length_valid(h))
				ncl = 99;
		}
	}
	/* One Host (RFC 9112 3.2); Transfer-Encoding only as one plain
	 * "chunked" and only from HTTP/1.1 clients, never with a
	 * Content-Length, which must be one plain number: so that the
	 * upstream cannot frame the body differently from us. */
	if (nhost > 1 || (nhost == 0 && c->rp.http_minor >= 1)) {
		router_conn_reply_why(c, 400, "a request needs one Host", 1);
		return 0;
	}
	if (nte > 1 || (nte == 1 && (c->rp.http_major != 1 || c->rp.http_minor == 0))) {
		router_conn_reply_why(
		    c, 400, "Transfer-Encoding must be one \"chunked\", and not from HTTP/1.0", 1);
		return 0;
	}
	if (ncl > 1) {
		router_conn_reply_why(c, 400, "Content-Length must be one number", 1);
		return 0;
	}
	if (ncl == 1 && nte == 1) {
		router_conn_reply_why(c, 400, "Content-Length and Transfer-Encoding together", 1);
		return 0;
	}
	c->host[0] = '\0';
	if (host != NULL && route_host_normalize(host->val, host->vlen, c->host) < 0) {
		router_conn_reply_why(c, 400, "the Host is not a host name", 1);
		return 0;
	}
	if (w->url[0] != '/') {
		router_conn_reply_why(c, 400, "the request target must be a path", 1);
		return 0;
	}
	/* The body's framing, checked as it comes, before it goes upstream. */
	c->body_ready = 0;
	c->body_left = 0;
	c->body_chunked = 0;
	c->body_complete = c->req_done;
	if (!c->req_done) {
		if (c->rp.flags & F_CHUNKED) {
			c->body_chunked = 1;
			chunked_init(&c->ck);
		} else if (c->rp.content_length > 0 && c->rp.content_length != ULLONG_MAX) {
			c->body_left = c->rp.content_length;
		} else {
			router_conn_reply_why(c, 400, "the request body has no length", 1);
			return 0;
		}
	}
	/* An ACME challenge of the host, before any route (router_acme.h). */
	if (!c->tls && c->req_done && (c->rp.method == HTTP_GET || c->rp.method == HTTP_HEAD)) {
		char key_auth[ROUTER_ACME_KEYAUTH_MAX + 1];

		for (plen = 0; plen < w->url_len && w->url[plen] != '?'; plen++)
			;
		if (router_acme_answer(&w->r->acme, c->host, w->url, plen, key_auth)) {
			evbuffer_drain(in, n);
			c->scanned = 0;
			router_conn_reply_why(c, 200, key_auth, 0);
			return c->state == CS_HEAD;
		}
	}
	c->table = route_table_ref(w->table);
	c->route = c->host[0] ? route_table_lookup(c->table, c->host) : c->table->any;
	for (plen = 0; plen < w->url_len && w->url[plen] != '?'; plen++)
		;
	w->path = w->url;
	w->path_len = plen;
	w->query_off = plen;
	/* The attestation document is the router's own answer, before
	 * shim.paths, on every host whose route has attestation facts. */
	if (c->route != NULL && c->route->attestation != NULL &&
	    router_attest_wanted(w->url, plen)) {
		/* Down: no version serves, so none is attested (a held route's
		 * facts are the version its held requests will reach). */
		if (c->route->mode == ROUTE_DOWN)
			router_conn_reply_why(c, 503,
			                      "no version of this container serves now: there is "
			                      "nothing to attest; try again later",
			                      0);
		else
			router_attest_answer(c); /* reads the target, in the input */
		evbuffer_drain(in, n);
		c->scanned = 0;
		return c->state == CS_HEAD;
	}
	if (c->route != NULL && c->route->paths != NULL) {
		/* The allow-list is checked on the path as the upstream gets it. */
		if (w->path_cap < plen) {
			w->path_cap = plen * 2;
			w->path_buf = xrealloc(w->path_buf, w->path_cap);
		}
		if (route_path_clean(w->url, plen, w->path_buf, &w->path_len, &err) < 0) {
			router_conn_reply_why(c, 400, err.msg, 1);
			return 0;
		}
		w->path = w->path_buf;
	}
	if (c->route == NULL || !route_path_allowed(c->route, w->path, w->path_len)) {
		evbuffer_drain(in, n);
		c->scanned = 0;
		router_conn_reply(c, 404, 0);
		return c->state == CS_HEAD;
	}
	build_request_head(c, host);
	evbuffer_drain(in, n);
	c->scanned = 0;
	/* What came with the head is checked before any of it goes upstream:
	 * the common way to smuggle is one packet. */
	if (router_h1_body_scan(c, &err) < 0) {
		router_conn_reply_why(c, 400, err.msg, 1);
		return 0;
	}
	router_conn_route(c);
	return c->state == CS_HEAD;
}

void
router_h1_head_hop(struct conn *c)
{
	size_t len = evbuffer_get_length(c->head);
	const char *p;
	struct evbuffer *nb;
	int want = c->route != NULL && c->route->forward;

	if (want == (int)c->head_hop || len < 2)
		return;
	/* The head ends with "\r\n\r\n"; the marker is its last line, its
	 * value the table's peer key (or "1" without one). */
	p = (const char *)evbuffer_pullup(c->head, -1);
	nb = evbuffer_new();
	if (nb == NULL)
		log_fatal("out of memory");
	if (want) {
		const char *key = c->table->peer_key[0] ? c->table->peer_key : "1";
		size_t before = len - 2;

		evbuffer_add(nb, p, before);
		evbuffer_add_printf(nb, ROUTE_HOP_HEADER ": %s\r\n\r\n", key);
		c->head_hop_len = (uint16_t)(evbuffer_get_length(nb) - before - 2);
	} else {
		evbuffer_add(nb, p, len - 2 - c->head_hop_len);
		evbuffer_add(nb, "\r\n", 2);
	}
	evbuffer_drain(c->head, len);
	evbuffer_add_buffer(c->head, nb);
	evbuffer_free(nb);
	c->head_hop = (unsigned)want;
}

/* Whether the response body ends only when the upstream closes: no length,
 * not chunked, and a status and method that allow a body. */
int
router_h1_response_needs_eof(const struct conn *c)
{
	unsigned st = c->sp.status_code;

	if (c->is_head || st / 100 == 1 || st == 204 || st == 304)
		return 0;
	return !(c->sp.flags & F_CHUNKED) && c->sp.content_length == ULLONG_MAX;
}

/* Writes the response head as the client gets it. */
void
router_h1_write_response_head(struct conn *c, const char *p, size_t n)
{
	struct worker *w = c->w;
	const char *sp = memchr(p, ' ', n < 16 ? n : 16);
	const char *eol = memchr(p, '\n', n);
	char line[32];
	size_t i;

	w->scratch_len = 0;
	/* The status line, as HTTP/1.1 whatever the upstream spoke. */
	SCRATCH_LIT(w, "HTTP/1.1");
	if (sp != NULL && eol != NULL && sp < eol) {
		scratch_add(w, sp, (size_t)(eol - sp + 1));
	} else {
		snprintf(line, sizeof(line), " %u \r\n", c->sp.status_code);
		SCRATCH_STR(w, line);
	}
	for (i = 0; i < w->nhdrs; i++) {
		const struct hdr *h = &w->hdrs[i];
		if (HDR_IS(h, "connection") || HDR_IS(h, "keep-alive") ||
		    HDR_IS(h, "proxy-connection") || (c->dechunk && HDR_IS(h, "transfer-encoding")))
			continue;
		scratch_hdr(w, h);
	}
	if (c->close_after || !c->keepalive || w->stopping)
		SCRATCH_LIT(w, "Connection: close\r\n\r\n");
	else if (c->rp.http_minor == 0)
		SCRATCH_LIT(w, "Connection: keep-alive\r\n\r\n");
	else
		SCRATCH_LIT(w, "\r\n");
	evbuffer_add(c->cs->out, w->scratch, w->scratch_len);
}
