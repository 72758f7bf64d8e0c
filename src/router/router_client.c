/* router_client: blocking HTTP/1.1 over the admin unix socket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <http_parser.h>

#include "common/buf.h"
#include "common/util.h"
#include "router/router_client.h"

#define CLIENT_TIMEOUT_S 5
#define CLIENT_RESP_MAX  (64 * 1024 * 1024)

struct reply {
	struct buf body;
	int done;
};

static int
on_body(http_parser *p, const char *at, size_t len)
{
	buf_append(&((struct reply *)p->data)->body, at, len);
	return 0;
}

static int
on_complete(http_parser *p)
{
	((struct reply *)p->data)->done = 1;
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
router_client_request(const char *socket_path, const char *method, const char *path,
                      const char *body, int *status, char **resp, struct err *err)
{
	static const http_parser_settings settings = {.on_body = on_body,
	                                              .on_message_complete = on_complete};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {CLIENT_TIMEOUT_S, 0};
	struct reply reply = {BUF_INIT, 0};
	struct buf req = BUF_INIT;
	http_parser parser;
	size_t total = 0;
	char chunk[16384];
	int fd = -1, rc = -1;

	*resp = NULL;
	*status = 0;
	if (strlen(socket_path) >= sizeof(sun.sun_path))
		return err_make(err, 0, "router admin socket path %s is too long", socket_path);
	strcpy(sun.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_make(err, errno, "socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err_make(err, errno, "connect to the router at %s", socket_path);
		goto out;
	}
	buf_printf(&req,
	           "%s %s HTTP/1.1\r\nHost: berth-router\r\nConnection: close\r\n"
	           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	           method, path, body ? strlen(body) : 0);
	if (body != NULL)
		buf_puts(&req, body);
	if (write_all(fd, req.data, req.len) < 0) {
		err_make(err, errno, "send to the router at %s", socket_path);
		goto out;
	}
	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = &reply;
	while (!reply.done) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_make(err, errno, "read from the router at %s", socket_path);
			goto out;
		}
		total += (size_t)n;
		if (http_parser_execute(&parser, &settings, chunk, (size_t)n) != (size_t)n ||
		    HTTP_PARSER_ERRNO(&parser) != HPE_OK || total > CLIENT_RESP_MAX) {
			err_make(err, 0, "the router at %s sent a bad response", socket_path);
			goto out;
		}
		if (n == 0)
			break;
	}
	if (!reply.done) {
		err_make(err, 0, "the router at %s closed before answering", socket_path);
		goto out;
	}
	*status = parser.status_code;
	*resp = buf_take(&reply.body);
	rc = 0;
out:
	buf_free(&req);
	buf_free(&reply.body);
	close(fd);
	return rc;
}

/* Makes a request that must succeed; the router's {"error"} becomes err. */
static int
request_ok(const char *socket_path, const char *method, const char *path, const json_t *body,
           json_t **out, struct err *err)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *resp = NULL;
	json_t *j = NULL;
	int status, rc;

	rc = router_client_request(socket_path, method, path, text, &status, &resp, err);
	free(text);
	if (rc < 0)
		return -1;
	j = json_loads(resp, 0, NULL);
	if (status != 200) {
		const char *msg = json_string_value(json_object_get(j, "error"));
		err_make(err, 0, "router: %s %s: %d %s", method, path, status, msg ? msg : resp);
		rc = status == 404 ? ROUTER_CLIENT_ENOTFOUND : -1;
	} else if (j == NULL) {
		rc = err_make(err, 0, "router: %s %s: the answer is not JSON", method, path);
	} else if (out != NULL) {
		*out = take_ptr(&j);
	}
	json_decref(j);
	free(resp);
	return rc;
}

int
router_client_push_table(const char *socket_path, const json_t *table, struct err *err)
{
	return request_ok(socket_path, "PUT", "/v1/table", table, NULL, err);
}

/* prefix and name, percent-encoding what a path cannot hold. */
static char *
admin_path(const char *prefix, const char *host)
{
	struct buf b = BUF_INIT;
	const char *p;

	buf_puts(&b, prefix);
	for (p = host; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_')
			buf_putc(&b, (char)ch);
		else
			buf_printf(&b, "%%%02X", ch);
	}
	return buf_take(&b);
}

int
router_client_set_route(const char *socket_path, const char *host, const json_t *route,
                        struct err *err)
{
	char *path = admin_path("/v1/routes/", host);
	int rc = request_ok(socket_path, "PUT", path, route, NULL, err);

	free(path);
	return rc;
}

int
router_client_delete_route(const char *socket_path, const char *host, struct err *err)
{
	char *path = admin_path("/v1/routes/", host);
	int rc = request_ok(socket_path, "DELETE", path, NULL, NULL, err);

	free(path);
	return rc;
}

int
router_client_set_challenge(const char *socket_path, const char *host, const char *token,
                            const char *key_auth, struct err *err)
{
	char *path = admin_path("/v1/challenges/", token);
	json_t *body = json_pack("{s:s,s:s}", "host", host, "key_authorization", key_auth);
	int rc = request_ok(socket_path, "PUT", path, body, NULL, err);

	json_decref(body);
	free(path);
	return rc;
}

int
router_client_delete_challenge(const char *socket_path, const char *token, struct err *err)
{
	char *path = admin_path("/v1/challenges/", token);
	int rc = request_ok(socket_path, "DELETE", path, NULL, NULL, err);

	free(path);
	return rc;
}

int
router_client_set_tls_challenge(const char *socket_path, const char *host, const char *key_auth,
                                struct err *err)
{
	char *path = admin_path("/v1/tls-challenges/", host);
	json_t *body = json_pack("{s:s}", "key_authorization", key_auth);
	int rc = request_ok(socket_path, "PUT", path, body, NULL, err);

	json_decref(body);
	free(path);
	return rc;
}

int
router_client_delete_tls_challenge(const char *socket_path, const char *host, struct err *err)
{
	char *path = admin_path("/v1/tls-challenges/", host);
	int rc = request_ok(socket_path, "DELETE", path, NULL, NULL, err);

	free(path);
	return rc;
}

int
router_client_get_counters(const char *socket_path, json_t **out, struct err *err)
{
	*out = NULL;
	return request_ok(socket_path, "GET", "/v1/upstreams", NULL, out, err);
}
