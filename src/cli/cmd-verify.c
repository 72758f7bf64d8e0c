/* berth verify: fetches a container's attestation document over the TLS
 * connection it checks (OpenSSL, so that the certificate of that very
 * connection is known) and checks it (verify.c). */
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/measure.h"
#include "cli/verify.h"
#include "common/buf.h"
#include "common/util.h"
#include "tls/attest.h"

#define VERIFY_TIMEOUT_S 10
#define VERIFY_MAX_BODY  (1024 * 1024)

/* The parts of an https:// URL. */
struct verify_url {
	char host[256];
	char port[8];
};

static int
url_parse(const char *url, struct verify_url *u)
{
	const char *p = url, *end, *colon;
	size_t n;

	if (strncmp(p, "https://", 8) != 0)
		return -1;
	p += 8;
	end = p + strcspn(p, "/?#");
	colon = memchr(p, ':', (size_t)(end - p));
	n = (size_t)((colon != NULL ? colon : end) - p);
	if (n == 0 || n >= sizeof u->host || memchr(p, '@', (size_t)(end - p)) != NULL)
		return -1;
	memcpy(u->host, p, n);
	u->host[n] = '\0';
	snprintf(u->port, sizeof u->port, "%.*s", colon != NULL ? (int)(end - colon - 1) : 3,
	         colon != NULL ? colon + 1 : "443");
	return u->port[0] != '\0' && strspn(u->port, "0123456789") == strlen(u->port) ? 0 : -1;
}

/* A TCP connection to host:port (names under .localhost are the loopback,
 * RFC 6761), with send and receive timeouts; -1 with err. */
static int
tcp_connect(const char *host, const char *port, struct err *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	struct timeval tv = {.tv_sec = VERIFY_TIMEOUT_S};
	size_t n = strlen(host);
	int fd = -1, rc;

	if (strcmp(host, "localhost") == 0 || (n > 10 && strcmp(host + n - 10, ".localhost") == 0))
		host = "127.0.0.1";
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		err_make(err, 0, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err_make(err, errno, "connect to %s port %s", host, port);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* What one fetch gave. */
struct verify_fetch {
	int status;       /* HTTP status */
	char *body;       /* owned */
	char tls_key[65]; /* sha256 hex of the peer certificate's key */
};

static const char *
ssl_reason(void)
{
	unsigned long e = ERR_get_error();

	return e != 0 ? ERR_reason_error_string(e) : "the connection ended";
}

/* GET path over TLS to u, the certificate checked against ca (or the
 * system's roots) and u->host. */
static int
fetch(const struct verify_url *u, const char *ca, const char *path, struct verify_fetch *f,
      struct err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	X509 *peer = NULL;
	struct buf b = BUF_INIT;
	char chunk[16384], *req = NULL, *head_end;
	int fd = -1, rc = -1, n;

	memset(f, 0, sizeof *f);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((ca != NULL ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
	                : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		err_make(err, 0, "%s: no CA certificates could be read from it",
		         ca != NULL ? ca : "the system's CA store");
		goto out;
	}
	if ((fd = tcp_connect(u->host, u->port, err)) < 0)
		goto out;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, u->host);
	SSL_set1_host(ssl, u->host);
	if (SSL_connect(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);

		err_make(err, 0, "TLS handshake with %s:%s failed: %s", u->host, u->port,
		         v != X509_V_OK ? X509_verify_cert_error_string(v) : ssl_reason());
		goto out;
	}
	if ((peer = SSL_get1_peer_certificate(ssl)) == NULL ||
	    attest_spki_sha256(peer, f->tls_key) < 0) {
		err_make(err, 0, "%s:%s sent no usable certificate", u->host, u->port);
		goto out;
	}
	req = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
	                "User-Agent: berth-verify\r\n\r\n",
	                path, u->host);
	if (SSL_write(ssl, req, (int)strlen(req)) <= 0) {
		err_make(err, 0, "sending the request: %s", ssl_reason());
		goto out;
	}
	while ((n = SSL_read(ssl, chunk, sizeof chunk)) > 0) {
		buf_append(&b, chunk, (size_t)n);
		if (b.len > VERIFY_MAX_BODY) {
			err_make(err, 0, "the answer is over %d bytes", VERIFY_MAX_BODY);
			goto out;
		}
	}
	buf_append(&b, "", 1);
	if (b.len < 13 || sscanf(b.data, "HTTP/1.%*d %d", &f->status) != 1 ||
	    (head_end = strstr(b.data, "\r\n\r\n")) == NULL) {
		err_make(err, 0, "%s:%s did not answer HTTP", u->host, u->port);
		goto out;
	}
	f->body = xstrdup(head_end + 4);
	rc = 0;
out:
	buf_free(&b);
	free(req);
	X509_free(peer);
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

static const struct cli_opt verify_opts[] = {
    {"--repo", CLI_OPT_VALUE},  {"--tag", CLI_OPT_VALUE},
    {"--debug", CLI_OPT_FLAG},  {"--isolation", CLI_OPT_VALUE},
    {"--secret", CLI_OPT_LIST}, {"--measurement", CLI_OPT_VALUE},
    {"--ca", CLI_OPT_VALUE},    {"--host-key", CLI_OPT_VALUE},
    {"--json", CLI_OPT_FLAG},   {NULL, 0}};

static void
report(struct cli_ctx *ctx, int json, const char *url, int code, const char *why, const json_t *doc,
       const char *expected)
{
	if (json) {
		json_t *o = json_pack("{s:s, s:b, s:i, s:s, s:s?, s:O?}", "url", url, "ok",
		                      code == VERIFY_OK, "code", code, "reason", why,
		                      "expected_measurement", expected, "document", doc);

		cli_print_json(ctx->out, o);
		json_decref(o);
	} else if (code == VERIFY_OK) {
		const char *tag = json_string_value(json_object_get(doc, "tag"));

		fprintf(ctx->out,
		        "%s: verified\n  measurement %s%s\n  deployment  %s (tag %s)\n"
		        "  host key    %s, tee %s\n  tls key     sha256 %s\n",
		        url, json_string_value(json_object_get(doc, "measurement")),
		        expected != NULL ? " (as expected)"
		                         : " (not compared: no --repo/--tag or "
		                           "--measurement)",
		        json_string_value(json_object_get(doc, "deployment")), tag ? tag : "none",
		        json_string_value(json_object_get(doc, "host_key")),
		        json_string_value(json_object_get(doc, "tee")),
		        json_string_value(json_object_get(doc, "tls_public_key_sha256")));
		/* The enclave's attested keys, covered by the signature. */
		{
			const json_t *k;
			size_t i;

			json_array_foreach(json_object_get(doc, "attested_keys"), i, k)
			{
				char *line = cli_attested_key(k);

				fprintf(ctx->out, "  key %s\n", line);
				free(line);
			}
		}
	}
	if (code != VERIFY_OK)
		fprintf(ctx->err, "berth verify: %s: %s\n", url, why);
	fflush(ctx->out);
}

static int
verify_cmd(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *url = a->pos[0], *m = cli_value(a, "--measurement");
	struct err err = ERR_INIT;
	struct measure_req q;
	struct measure_res res;
	struct verify_url u;
	struct verify_fetch f = {0};
	struct verify_expect e = {0};
	unsigned char raw[32];
	char nonce[65], why[1280], *path = NULL;
	json_t *doc = NULL;
	int rc, json = cli_flag(a, "--json") > 0;

	if ((rc = measure_req_from_args(ctx, a, NULL, &q)) != 0)
		return rc;
	if (m != NULL && q.repo != NULL)
		return cli_usage_error(ctx, "give --repo and --tag or --measurement, not both");
	if (url_parse(url, &u) < 0)
		return cli_usage_error(ctx, "\"%s\" is not an https://HOST[:PORT] URL", url);
	if (q.repo != NULL) {
		if (measure_run(&q, &res, &err) < 0) {
			fprintf(ctx->err, "berth verify: the expected measurement: %s\n", err.msg);
			return CLI_EXIT_FAIL;
		}
		m = res.measurement;
	}
	/* A fresh nonce: a document made for another request cannot pass. */
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(nonce, sizeof nonce, raw, sizeof raw);
	path = xasprintf("%s?nonce=%s", ATTEST_PATH, nonce);
	if (fetch(&u, cli_value(a, "--ca"), path, &f, &err) < 0) {
		rc = VERIFY_EFETCH;
		snprintf(why, sizeof why, "%s", err.msg);
	} else if (f.status != 200) {
		rc = VERIFY_EFETCH;
		snprintf(why, sizeof why, "%s answered %d: %.200s", ATTEST_PATH, f.status, f.body);
		why[strcspn(why, "\n")] = '\0';
	} else if ((doc = json_loads(f.body, 0, NULL)) == NULL) {
		rc = VERIFY_EDOC;
		snprintf(why, sizeof why, "the answer is not JSON");
	} else {
		e.nonce = nonce;
		e.tls_key = f.tls_key;
		e.host_key = cli_value(a, "--host-key");
		e.measurement = m;
		rc = verify_document(doc, &e, why, sizeof why);
	}
	report(ctx, json, url, rc, why, doc, m);
	json_decref(doc);
	free(f.body);
	free(path);
	return rc;
}

static const struct cli_cmd verify_cmds[] = {
    {
        .name = "verify",
        .args = "URL [--repo R --tag T [--debug] [--isolation L] [--secret NAME]... | "
                "--measurement M] [--ca FILE] [--host-key KEY] [--json]",
        .summary = "check what serves a container's https:// URL",
        .help = "Fetches URL's attestation document with a fresh nonce over the TLS\n"
                "connection it checks, then checks its signature, the host key (--host-key,\n"
                "from GET /api/v1/host), the nonce, that the attested TLS key is this\n"
                "connection's and that the measurement is the one `berth measure --repo R\n"
                "--tag T` computes (or M). Exits 0 only when every check holds; each way it\n"
                "fails has its own code (docs/cli.md#verify). Needs no berthd.",
        .opts = verify_opts,
        .pos = "URL",
        .run = verify_cmd,
    },
};

const struct cli_group cli_group_verify = {
    .name = "verify",
    .summary = "check a container's attestation against a tag's measurement",
    .cmds = verify_cmds,
    .n_cmds = ARRAY_LEN(verify_cmds),
    .dflt = &verify_cmds[0],
};
