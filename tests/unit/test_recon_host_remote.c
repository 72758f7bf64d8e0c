/* Unit tests of src/recon/recon-host-remote.c: a dead or silent agent is an
 * error within the deadline, the agent's refusals come back as the table's
 * codes, the host token file is checked. The agent itself is a canned HTTP
 * answer on a loopback socket here; tests/system/hosts drives the real one. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "health/health.h"
#include "recon/recon-host.h"
#include "router/router_client.h"
#include "unit.h"

static const _Atomic int not_stopping = 0;

/* A loopback listener: its port in *port. */
static int
listener(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static char *
token_file(const char *dir, const char *token)
{
	char *path = xasprintf("%s/token", dir);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "%s\n", token);
	fclose(f);
	return path;
}

static struct recon_host *
remote(const char *dir, int port, int64_t timeout_ms)
{
	char *url = xasprintf("http://127.0.0.1:%d", port);
	char *tf = token_file(dir, "0123456789abcdef0123456789abcdef");
	struct recon_host_remote_settings s = {
	    .url = url, .token_file = tf, .timeout_ms = timeout_ms};
	struct recon_host *h = NULL;
	struct err err = ERR_INIT;

	assert_int_equal(recon_host_remote_new(&s, &not_stopping, &h, &err), 0);
	free(url);
	free(tf);
	return h;
}

static void
test_short_or_missing_token_file_is_refused(void **state)
{
	const char *dir = *state;
	char *tf = token_file(dir, "short");
	char *missing = xasprintf("%s/none", dir);
	struct recon_host_remote_settings s = {.url = "http://127.0.0.1:1", .token_file = tf};
	struct recon_host *h = NULL;
	struct err err = ERR_INIT;

	assert_true(recon_host_remote_new(&s, &not_stopping, &h, &err) < 0);
	assert_null(h);
	assert_non_null(strstr(err.msg, "shorter than 16"));
	/* The token itself is never quoted. */
	assert_null(strstr(err.msg, "short\n"));
	err_clear(&err);
	s.token_file = missing;
	assert_true(recon_host_remote_new(&s, &not_stopping, &h, &err) < 0);
	err_clear(&err);
	s.token_file = tf;
	s.url = "https://127.0.0.1:1";
	assert_true(recon_host_remote_new(&s, &not_stopping, &h, &err) < 0);
	assert_non_null(strstr(err.msg, "http://"));
	free(tf);
	free(missing);
}

static void
test_dead_agent_is_an_error_at_once(void **state)
{
	int port, fd = listener(&port);
	struct recon_host *h;
	struct err err = ERR_INIT;
	char **names = NULL;
	int64_t gen, t0;

	close(fd); /* nobody listens there now */
	h = remote(*state, port, 2000);
	assert_int_equal(h->ops->gpus(h), 0);
	t0 = now_mono_ms();
	/* Unreachable, which the reconciler does not take for enclaves gone. */
	assert_int_equal(h->ops->list(h, &names, &err), RECON_HOST_EUNREACHABLE);
	assert_null(names);
	assert_non_null(strstr(err.msg, "unreachable"));
	err_clear(&err);
	assert_true(h->ops->router_status(h, &gen, &err) < 0);
	assert_true(now_mono_ms() - t0 < 1500);
	recon_host_remote_free(h);
}

/* An agent that takes the connection and never answers. */
static void
test_silent_agent_is_an_error_within_the_deadline(void **state)
{
	int port, fd = listener(&port);
	struct recon_host *h = remote(*state, port, 300);
	struct config cfg = {0};
	_Atomic int percent = 0, booting = 0;
	struct recon_boot_spec spec = {.name = "b-x",
	                               .container_id = "c",
	                               .cfg = &cfg,
	                               .config_text = "x",
	                               .percent = &percent,
	                               .booting = &booting};
	struct enclave *e = NULL;
	struct err err = ERR_INIT;
	enum enclave_observed seen;
	int64_t t0 = now_mono_ms();

	assert_true(h->ops->adopt(h, "b-x", NULL, &seen, &err) < 0);
	assert_int_equal(err.code, ETIMEDOUT);
	err_clear(&err);
	assert_true(h->ops->boot(h, &spec, &e, &err) < 0);
	assert_null(e);
	/* The start (300 ms) and the adopt (300 ms), with some slack: not the
	 * 5 s of a default deadline, and certainly not forever. */
	assert_true(now_mono_ms() - t0 < 2000);
	recon_host_remote_free(h);
	close(fd);
}

struct canned {
	int fd;
	const char *answer;
	int served;
	char request[4096];
};

/* Answers each connection's request with c->answer until the listener
 * closes. */
static void *
canned_main(void *arg)
{
	struct canned *c = arg;
	int conn;

	while ((conn = accept(c->fd, NULL, NULL)) >= 0) {
		ssize_t n = read(conn, c->request, sizeof c->request - 1);

		c->request[n > 0 ? n : 0] = '\0';
		(void)!write(conn, c->answer, strlen(c->answer));
		c->served++;
		close(conn);
	}
	return NULL;
}

static void
test_refusals_come_back_as_codes(void **state)
{
	static const char not_found[] =
	    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n"
	    "Content-Length: 70\r\n\r\n"
	    "{\"error\": {\"code\": \"not_found\", \"message\": \"no such one\", \"errno\": 2}}";
	struct canned c = {0};
	struct recon_host *h;
	struct err err = ERR_INIT;
	enum enclave_observed seen;
	pthread_t t;
	int port;

	c.fd = listener(&port);
	c.answer = not_found;
	assert_int_equal(pthread_create(&t, NULL, canned_main, &c), 0);
	h = remote(*state, port, 2000);
	/* The router's 404 is the table's ENOTFOUND. */
	assert_int_equal(h->ops->router_delete_route(h, "web.example", &err),
	                 ROUTER_CLIENT_ENOTFOUND);
	assert_non_null(strstr(c.request, "DELETE /v1/router/routes/web.example "));
	/* The host token rides in every request. */
	assert_non_null(strstr(c.request, "Authorization: Bearer 0123456789abcdef"));
	err_clear(&err);
	/* Another 404 is the agent's sentence. */
	assert_true(h->ops->adopt(h, "b-x", NULL, &seen, &err) < 0);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "no such one"));
	recon_host_remote_free(h);
	shutdown(c.fd, SHUT_RDWR);
	close(c.fd);
	pthread_join(t, NULL);
}

int
main(void)
{
	struct err err = ERR_INIT;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_short_or_missing_token_file_is_refused,
	                                    unit_setup_dir, unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_dead_agent_is_an_error_at_once, unit_setup_dir,
	                                    unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_silent_agent_is_an_error_within_the_deadline,
	                                    unit_setup_dir, unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_refusals_come_back_as_codes, unit_setup_dir,
	                                    unit_teardown_dir),
	};

	if (health_init(&err) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
