/* recon-attest: the local attestation sockets. A container of a config with
 * `attestation: true` finds /run/tinfoil/attestation.sock (runtime/tinfoil.h)
 * and asks it, over HTTP/1.x,
 *   GET /.well-known/berth-attestation?nonce=HEX
 * for its own enclave's attestation document: the facts of the enclave's
 * deployment and the public parts of its attested keys, signed by the host
 * key as berth-router signs them (tls/attest.h), with
 * "tls_public_key_sha256": null (no TLS on a local socket).
 *
 * berthd answers, on its loop: it has the store (the deployment, the
 * enclave's keys) and the host key, and it made the socket before the
 * container started. berth-router only knows the live version of a host
 * name, not which enclave asks; a new enclave of a blue-green update must
 * get its own document before it is live.
 *
 * The tenant is a hostile peer: a request is at most ATTEST_REQ_MAX bytes
 * and must be whole within ATTEST_DEADLINE_MS of the connect, answered at
 * once and the connection closed; at most ATTEST_CONNS_PER_SOCKET
 * connections of a socket and ATTEST_CONNS_TOTAL of all are open at once
 * (past that the socket stops accepting: the rest wait in its backlog,
 * nothing of berth's waits). Nothing here blocks. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "recon/recon-int.h"
#include "store/store.h"
#include "tls/attest.h"

#define ATTEST_REQ_MAX          4096
#define ATTEST_DEADLINE_MS      5000
#define ATTEST_CONNS_PER_SOCKET 8
#define ATTEST_CONNS_TOTAL      64
#define ATTEST_RETRY_ACCEPT_MS  1000

struct attest_conn;
LIST_HEAD(attest_conns, attest_conn);

/* One container's socket. */
struct recon_attest {
	struct recon *r;                 /* borrowed */
	store_id enclave_id;             /* whose document it answers */
	char *enclave;                   /* owned: the enclave's name */
	char *container;                 /* owned: the container's name */
	struct evconnlistener *listener; /* owned (closes the socket) */
	struct event *retry;             /* owned: accepts again after EMFILE or the caps */
	struct attest_conns conns;       /* owned: open connections */
	struct attest_conns closed;      /* owned: closed, freed on the next pass */
	int n_conns;                     /* of conns */
	struct recon_attest *next;
};

struct attest_conn {
	struct recon_attest *a;       /* borrowed: its socket */
	struct bufferevent *bev;      /* owned */
	struct event *deadline;       /* owned */
	int answered;                 /* the answer is queued: close once written */
	LIST_ENTRY(attest_conn) link; /* in a->conns or a->closed */
};

static int total_conns(struct recon *r);

/* Accepts again when both caps allow it. */
static void
attest_resume(struct recon_attest *a)
{
	if (a->n_conns < ATTEST_CONNS_PER_SOCKET && total_conns(a->r) < ATTEST_CONNS_TOTAL)
		evconnlistener_enable(a->listener);
}

static int
total_conns(struct recon *r)
{
	int n = 0;

	for (struct recon_attest *a = r->attest; a != NULL; a = a->next)
		n += a->n_conns;
	return n;
}

static void
conn_destroy(struct attest_conn *c)
{
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
}

static void
conns_destroy(struct attest_conn *first)
{
	while (first != NULL) {
		struct attest_conn *c = first;

		first = LIST_NEXT(c, link);
		LIST_REMOVE(c, link);
		conn_destroy(c);
	}
}

/* The pass after conn_close(): c goes. */
static void
conn_on_closed(evutil_socket_t fd, short what, void *arg)
{
	struct attest_conn *c = arg;

	(void)fd;
	(void)what;
	LIST_REMOVE(c, link);
	conn_destroy(c);
}

/* Ends conn: out of its socket's count at once (which may accept again, and
 * so may the others, held by the total cap), freed on the next loop pass,
 * not inside its own callback. */
static void
conn_close(struct attest_conn *c)
{
	struct recon_attest *a = c->a;

	LIST_REMOVE(c, link);
	LIST_INSERT_HEAD(&a->closed, c, link);
	a->n_conns--;
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->deadline);
	event_assign(c->deadline, a->r->env.base, -1, 0, conn_on_closed, c);
	event_active(c->deadline, EV_TIMEOUT, 0);
	for (struct recon_attest *o = a->r->attest; o != NULL; o = o->next)
		attest_resume(o);
}

static void
conn_reply(struct attest_conn *c, int status, const char *reason, const char *type,
           const char *body)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                    "Connection: close\r\nCache-Control: no-store\r\n\r\n%s",
	                    status, reason, type, strlen(body), body);
	c->answered = 1;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
conn_reply_why(struct attest_conn *c, int status, const char *reason, const char *why)
{
	char *body = xasprintf("{\"error\":\"%s\"}\n", why);

	conn_reply(c, status, reason, "application/json", body);
	free(body);
}

/* The document of a's enclave for nonce, or NULL with a sentence in why. */
static char *
attest_build(struct recon_attest *a, const char *nonce, int *status, const char **why)
{
	struct recon *r = a->r;
	struct store_enclave e = {0};
	struct store_deployment d = {0};
	struct store_container c = {0};
	struct err err = ERR_INIT;
	json_t *facts = NULL;
	char *doc = NULL;

	*status = 500;
	*why = "the enclave's facts could not be read";
	if (r->env.hostkey == NULL) {
		*status = 503;
		*why = "berthd has no host key: it signs no attestation";
		return NULL;
	}
	if (store_enclave_get(r->env.store, a->enclave_id, &e, &err) < 0 ||
	    store_deployment_get(r->env.store, e.deployment_id, &d, &err) < 0 ||
	    store_container_get(r->env.store, e.container_id, &c, &err) < 0) {
		log_warn("enclave %s: attestation socket: %s", a->enclave, err.msg);
		goto out;
	}
	facts = recon_attest_facts(r, &c, &d, e.attested_keys);
	doc = attest_document(facts, nonce, NULL, r->env.hostkey);
out:
	json_decref(facts);
	store_enclave_clear(&e);
	store_deployment_clear(&d);
	store_container_clear(&c);
	return doc;
}

/* The request in in: "GET <target> HTTP/1.x" and headers, whole. */
static void
conn_answer(struct attest_conn *c, const char *req)
{
	static const char path[] = ATTEST_PATH;
	char nonce[ATTEST_NONCE_MAX_HEX + 1];
	const char *target, *sp, *q, *why;
	size_t tlen;
	char *doc;
	int status;

	if (strncmp(req, "GET ", 4) != 0) {
		conn_reply_why(c, 405, "Method Not Allowed",
		               "the attestation document is fetched with GET");
		return;
	}
	target = req + 4;
	sp = strchr(target, ' ');
	if (sp == NULL || strncmp(sp + 1, "HTTP/1.", 7) != 0) {
		conn_reply_why(c, 400, "Bad Request", "not an HTTP/1 request line");
		return;
	}
	tlen = (size_t)(sp - target);
	q = memchr(target, '?', tlen);
	if ((size_t)((q != NULL ? q : sp) - target) != sizeof path - 1 ||
	    memcmp(target, path, sizeof path - 1) != 0) {
		conn_reply_why(c, 404, "Not Found", "this socket answers " ATTEST_PATH " only");
		return;
	}
	if (q == NULL || attest_nonce_from_query(q + 1, (size_t)(sp - q - 1), nonce) < 0) {
		conn_reply_why(c, 400, "Bad Request",
		               "nonce: give ?nonce= with 16 to 64 random bytes in hex (32 to 128 "
		               "hex digits)");
		return;
	}
	doc = attest_build(c->a, nonce, &status, &why);
	if (doc == NULL) {
		conn_reply_why(c, status, status == 503 ? "Service Unavailable" : "Server Error",
		               why);
		return;
	}
	conn_reply(c, 200, "OK", "application/json", doc);
	free(doc);
}

static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	struct attest_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	size_t n = evbuffer_get_length(in);
	char *req;

	if (c->answered)
		return;
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos < 0) {
		if (n >= ATTEST_REQ_MAX)
			conn_reply_why(c, 431, "Request Header Fields Too Large",
			               "a request is at most 4096 bytes");
		return;
	}
	if ((size_t)end.pos >= ATTEST_REQ_MAX) {
		conn_reply_why(c, 431, "Request Header Fields Too Large",
		               "a request is at most 4096 bytes");
		return;
	}
	req = xmalloc((size_t)end.pos + 1);
	evbuffer_copyout(in, req, (size_t)end.pos);
	req[end.pos] = '\0';
	conn_answer(c, req);
	free(req);
}

static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct attest_conn *c = arg;

	if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c);
}

static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn_close(arg); /* EOF, an error or a timeout: nothing more to say */
}

static void
conn_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_close(arg); /* slow: whatever it sent, it is dropped */
}

static void
attest_on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	attest_resume(arg);
}

static void
attest_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                 void *arg)
{
	struct recon_attest *a = arg;
	struct timeval tv = {ATTEST_DEADLINE_MS / 1000, (ATTEST_DEADLINE_MS % 1000) * 1000};
	struct attest_conn *c = xcalloc(1, sizeof *c);

	(void)l;
	(void)sa;
	(void)len;
	c->a = a;
	c->bev = bufferevent_socket_new(a->r->env.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		log_fatal("attestation socket: out of memory");
	c->deadline = evtimer_new(a->r->env.base, conn_on_deadline, c);
	evtimer_add(c->deadline, &tv);
	/* Past the request's bound, nothing more is read into memory. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, ATTEST_REQ_MAX);
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	bufferevent_enable(c->bev, EV_READ);
	LIST_INSERT_HEAD(&a->conns, c, link);
	a->n_conns++;
	if (a->n_conns >= ATTEST_CONNS_PER_SOCKET || total_conns(a->r) >= ATTEST_CONNS_TOTAL)
		for (struct recon_attest *o = a->r->attest; o != NULL; o = o->next)
			evconnlistener_disable(o->listener);
}

static void
attest_on_error(struct evconnlistener *l, void *arg)
{
	struct recon_attest *a = arg;
	struct timeval tv = {ATTEST_RETRY_ACCEPT_MS / 1000, 0};
	int e = EVUTIL_SOCKET_ERROR();

	/* EMFILE and its kind: accept again later instead of spinning. */
	log_warn("enclave %s: attestation socket of %s: accept: %s", a->enclave, a->container,
	         strerror(e));
	evconnlistener_disable(l);
	evtimer_add(a->retry, &tv);
}

void
recon_attest_add(struct recon *r, const char *enclave_id, const char *enclave,
                 const char *container, int fd)
{
	struct recon_attest *a = xcalloc(1, sizeof *a);

	a->r = r;
	LIST_INIT(&a->conns);
	LIST_INIT(&a->closed);
	snprintf(a->enclave_id, sizeof a->enclave_id, "%s", enclave_id);
	a->enclave = xstrdup(enclave);
	a->container = xstrdup(container);
	/* Backlog 0: listening already, with tinfoil.c's small backlog (-1
	 * would listen again with libevent's 128). */
	a->listener = evconnlistener_new(r->env.base, attest_on_accept, a,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (a->listener == NULL)
		log_fatal("attestation socket: out of memory");
	evconnlistener_set_error_cb(a->listener, attest_on_error);
	a->retry = evtimer_new(r->env.base, attest_on_retry, a);
	a->next = r->attest;
	r->attest = a;
	if (total_conns(r) >= ATTEST_CONNS_TOTAL)
		evconnlistener_disable(a->listener);
}

void
recon_attest_open(struct recon *r, const struct store_enclave *e, const struct config *cfg)
{
	struct recon_host *host = recon_host_for(r, e);

	if (host == NULL || host->ops->attest_listen == NULL)
		return;
	for (size_t i = 0; i < cfg->n_containers; i++) {
		struct err err = ERR_INIT;
		int fd = -1;

		if (!cfg->containers[i].attestation)
			continue;
		recon_attest_drop_container(r, e->name, cfg->containers[i].name);
		if (host->ops->attest_listen(host, e->name, cfg->containers[i].name, &fd, &err) <
		    0) {
			log_warn("enclave %s: container %s: %s", e->name, cfg->containers[i].name,
			         err.msg);
			continue;
		}
		recon_attest_add(r, e->id, e->name, cfg->containers[i].name, fd);
	}
}

void
recon_attest_reopen(struct recon *r, const struct store_enclave *e)
{
	struct store_deployment d = {0};
	struct err err = ERR_INIT;
	struct config *cfg = NULL;

	if (store_deployment_get(r->env.store, e->deployment_id, &d, &err) < 0) {
		log_warn("enclave %s: attestation sockets: %s", e->name, err.msg);
		return;
	}
	cfg = recon_config_of(&d);
	if (cfg != NULL)
		recon_attest_open(r, e, cfg);
	config_free(cfg);
	store_deployment_clear(&d);
}

static void
attest_free(struct recon_attest *a)
{
	conns_destroy(LIST_FIRST(&a->conns));
	conns_destroy(LIST_FIRST(&a->closed));
	evconnlistener_free(a->listener);
	event_free(a->retry);
	free(a->enclave);
	free(a->container);
	free(a);
}

/* Drops the sockets of enclave (and, when container is not NULL, of that
 * container only). */
static void
attest_drop(struct recon *r, const char *enclave, const char *container)
{
	struct recon_attest **p = &r->attest;

	while (*p != NULL) {
		struct recon_attest *a = *p;

		if (strcmp(a->enclave, enclave) == 0 &&
		    (container == NULL || strcmp(a->container, container) == 0)) {
			*p = a->next;
			attest_free(a);
		} else {
			p = &a->next;
		}
	}
	for (struct recon_attest *a = r->attest; a != NULL; a = a->next)
		attest_resume(a);
}

void
recon_attest_drop_container(struct recon *r, const char *enclave, const char *container)
{
	attest_drop(r, enclave, container);
}

void
recon_attest_drop(struct recon *r, const char *enclave)
{
	attest_drop(r, enclave, NULL);
}

void
recon_attest_free_all(struct recon *r)
{
	while (r->attest != NULL) {
		struct recon_attest *a = r->attest;

		r->attest = a->next;
		attest_free(a);
	}
}
