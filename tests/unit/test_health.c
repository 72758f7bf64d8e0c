/* Unit tests of src/health: the tracker walked with synthetic times, and the
 * runners against a real HTTP server on loopback, real TCP ports and real
 * shell commands. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "health/health.h"

/* ---- helpers ------------------------------------------------------------ */

static struct health_result
result(int pass, const char *text)
{
	struct health_result r;

	memset(&r, 0, sizeof r);
	r.pass = pass;
	r.wall_ms = 1795690546000; /* 2026-11-26T10:55:46Z */
	snprintf(r.text, sizeof r.text, "%s", text);
	return r;
}

static struct health_check
schedule(int64_t interval, int64_t start_period, int64_t start_interval, int retries)
{
	struct health_check c;

	memset(&c, 0, sizeof c);
	c.kind = HEALTH_CHECK_HTTP;
	c.interval_ms = interval;
	c.timeout_ms = 1000;
	c.start_period_ms = start_period;
	c.start_interval_ms = start_interval;
	c.retries = retries;
	return c;
}

/* Takes the due check at now (asserting it is i), and records its result. */
static void
run_at(struct health_tracker *t, int64_t now, int i, int pass, const char *text)
{
	struct health_result r = result(pass, text);

	assert_int_equal(health_tracker_take_due(t, now), i);
	health_tracker_record(t, (size_t)i, now, &r);
}

/* ---- the tracker -------------------------------------------------------- */

static void
test_duration_str(void **state)
{
	char s[32];

	(void)state;
	health_duration_str(300000, s);
	assert_string_equal(s, "5m0s");
	health_duration_str(2000, s);
	assert_string_equal(s, "2s");
	health_duration_str(5400000, s);
	assert_string_equal(s, "1h30m0s");
	health_duration_str(1500, s);
	assert_string_equal(s, "1.5s");
	health_duration_str(61250, s);
	assert_string_equal(s, "1m1.25s");
	health_duration_str(300, s);
	assert_string_equal(s, "300ms");
	health_duration_str(0, s);
	assert_string_equal(s, "0ms");
}

/* docker: failures in start_period do not count; the start interval applies
 * while starting in it; a success ends it; then min-healthy-time gates. */
static void
test_start_period_then_ready(void **state)
{
	struct health_check c = schedule(10000, 60000, 1000, 3);
	struct health_tracker *t = health_tracker_new(&c, 1, 1000, 2000, 300000);

	(void)state;
	assert_int_equal(health_tracker_state(t), HEALTH_STARTING);
	/* First check after the start interval, not before. */
	assert_int_equal(health_tracker_take_due(t, 1999), -1);
	assert_int_equal(health_tracker_next_wakeup(t), 2000);
	/* Five failures inside the start period: still starting, 1 s apart. */
	for (int k = 0; k < 5; k++) {
		run_at(t, 2000 + k * 1000, 0, 0, "GET /health: connection refused");
		assert_int_equal(health_tracker_state(t), HEALTH_STARTING);
		assert_int_equal(health_tracker_next_wakeup(t), 3000 + k * 1000);
	}
	assert_int_equal(health_tracker_gate(t, 6500), HEALTH_GATE_WAITING);
	/* A success: healthy at once, the interval becomes 10 s. */
	run_at(t, 7000, 0, 1, "GET /health 200 (1 ms)");
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY);
	assert_int_equal(health_tracker_gate(t, 7000), HEALTH_GATE_WAITING);
	/* Woken for the min-healthy-time, before the next check at 17 s. */
	assert_int_equal(health_tracker_next_wakeup(t), 9000);
	assert_int_equal(health_tracker_gate(t, 8999), HEALTH_GATE_WAITING);
	assert_int_equal(health_tracker_gate(t, 9000), HEALTH_GATE_READY);
	assert_null(health_tracker_reason(t));
	assert_int_equal(health_tracker_next_wakeup(t), 17000);
	/* Ready is final, even if the enclave later turns unhealthy. */
	run_at(t, 17000, 0, 0, "GET /health 500 (1 ms)");
	run_at(t, 27000, 0, 0, "GET /health 500 (1 ms)");
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY);
	run_at(t, 37000, 0, 0, "GET /health 500 (1 ms)");
	assert_int_equal(health_tracker_state(t), HEALTH_UNHEALTHY);
	assert_int_equal(health_tracker_gate(t, 37000), HEALTH_GATE_READY);
	health_tracker_free(t);
}

/* berth's own upstream check runs at once, then at its start interval: a
 * version that is up at once is not kept waiting an interval. */
static void
test_immediate_first_check(void **state)
{
	struct health_check c = schedule(1000, 60000, 100, 3);
	struct health_tracker *t;

	(void)state;
	c.immediate = 1;
	t = health_tracker_new(&c, 1, 1000, 500, 300000);
	assert_int_equal(health_tracker_next_wakeup(t), 1000);
	run_at(t, 1000, 0, 0, "TCP 10.0.0.2:80: connection refused");
	assert_int_equal(health_tracker_next_wakeup(t), 1100);
	run_at(t, 1100, 0, 1, "TCP 10.0.0.2:80 open (1 ms)");
	assert_int_equal(health_tracker_gate(t, 1599), HEALTH_GATE_WAITING);
	assert_int_equal(health_tracker_gate(t, 1600), HEALTH_GATE_READY);
	health_tracker_free(t);
}

/* docker: after the start period, failures count: unhealthy after retries;
 * one success makes it healthy again and resets the streak. */
static void
test_retries_outside_start_period(void **state)
{
	struct health_check c = schedule(5000, 0, 1000, 2);
	struct health_tracker *t = health_tracker_new(&c, 1, 0, 0, 600000);

	(void)state;
	/* No start period: the first check comes after the interval. */
	assert_int_equal(health_tracker_next_wakeup(t), 5000);
	assert_int_equal(health_tracker_take_due(t, 4999), -1);
	run_at(t, 5000, 0, 0, "x fail");
	assert_int_equal(health_tracker_state(t), HEALTH_STARTING); /* 1 of 2 */
	run_at(t, 10000, 0, 0, "x fail");
	assert_int_equal(health_tracker_state(t), HEALTH_UNHEALTHY);
	run_at(t, 15000, 0, 1, "x ok");
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY);
	run_at(t, 20000, 0, 0, "x fail");
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY); /* streak 1 of 2 */
	run_at(t, 25000, 0, 1, "x ok");
	run_at(t, 30000, 0, 0, "x fail");
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY); /* streak was reset */
	run_at(t, 35000, 0, 0, "x fail");
	assert_int_equal(health_tracker_state(t), HEALTH_UNHEALTHY);
	health_tracker_free(t);
}

/* A start period that runs out without a success: failures count from then. */
static void
test_start_period_expires(void **state)
{
	struct health_check c = schedule(3000, 4000, 1000, 2);
	struct health_tracker *t = health_tracker_new(&c, 1, 0, 1000, 600000);

	(void)state;
	run_at(t, 1000, 0, 0, "f");
	run_at(t, 2000, 0, 0, "f");
	run_at(t, 3000, 0, 0, "f");
	/* At 4 s the start period is over: back to the normal interval. */
	assert_int_equal(health_tracker_next_wakeup(t), 4000);
	run_at(t, 4000, 0, 0, "f");
	assert_int_equal(health_tracker_state(t), HEALTH_STARTING); /* streak 1 */
	assert_int_equal(health_tracker_next_wakeup(t), 7000);
	run_at(t, 7000, 0, 0, "f");
	assert_int_equal(health_tracker_state(t), HEALTH_UNHEALTHY);
	health_tracker_free(t);
}

/* The failure sentence when the enclave never became healthy in time. */
static void
test_never_healthy_reason(void **state)
{
	struct health_check c = schedule(1000, 300000, 250, 3);
	struct health_tracker *t = health_tracker_new(&c, 1, 0, 2000, 300000);
	int64_t now = 0;
	int runs = 0;
	char **log;

	(void)state;
	for (;;) {
		int64_t next = health_tracker_next_wakeup(t);

		assert_true(next > now || runs == 0);
		now = next;
		if (health_tracker_gate(t, now) != HEALTH_GATE_WAITING)
			break;
		int i = health_tracker_take_due(t, now);
		if (i >= 0) {
			struct health_result r = result(0, "GET /health: connection refused");
			health_tracker_record(t, (size_t)i, now, &r);
			runs++;
		}
	}
	assert_int_equal(now, 300000);
	assert_int_equal(runs, 300000 / 250 - 1);
	assert_int_equal(health_tracker_gate(t, now), HEALTH_GATE_FAILED);
	assert_string_equal(health_tracker_reason(t),
	                    "never healthy in 5m0s: last check: GET /health: connection refused");
	/* Failures inside the start period never made it unhealthy. */
	assert_int_equal(health_tracker_state(t), HEALTH_STARTING);
	/* The log keeps the last HEALTH_LOG_MAX results, formatted for the API. */
	log = health_tracker_log(t);
	assert_int_equal(strv_len(log), HEALTH_LOG_MAX);
	assert_string_equal(log[0], "2026-11-26T10:55:46Z GET /health: connection refused");
	strv_free(log);
	health_tracker_free(t);
}

/* Healthy must last min-healthy-time without a failure in between; a result
 * recorded after the deadline does not rescue a failed enclave. */
static void
test_flapping_resets_min_healthy(void **state)
{
	struct health_check c = schedule(1000, 0, 1000, 3);
	struct health_tracker *t = health_tracker_new(&c, 1, 0, 3000, 10000);

	(void)state;
	run_at(t, 1000, 0, 1, "ok");
	run_at(t, 2000, 0, 1, "ok");
	run_at(t, 3000, 0, 0, "GET /health 503 (1 ms)"); /* still healthy for docker */
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY);
	run_at(t, 4000, 0, 1, "ok");
	assert_int_equal(health_tracker_gate(t, 4500), HEALTH_GATE_WAITING);
	assert_int_equal(health_tracker_next_wakeup(t), 5000);
	run_at(t, 5000, 0, 1, "ok");
	run_at(t, 6000, 0, 1, "ok");
	assert_int_equal(health_tracker_gate(t, 6999), HEALTH_GATE_WAITING);
	assert_int_equal(health_tracker_gate(t, 7000), HEALTH_GATE_READY);
	health_tracker_free(t);

	/* Healthy at times but never for 3 s in a row, then the deadline. */
	t = health_tracker_new(&c, 1, 0, 3000, 10000);
	for (int64_t now = 1000; now < 10000; now += 1000)
		run_at(t, now, 0, (now / 1000) % 2 == 0,
		       (now / 1000) % 2 == 0 ? "ok" : "GET /health 503 (1 ms)");
	struct health_result late = result(1, "ok");
	assert_int_equal(health_tracker_take_due(t, 10500), 0);
	health_tracker_record(t, 0, 10500, &late);
	assert_int_equal(health_tracker_gate(t, 10500), HEALTH_GATE_FAILED);
	assert_string_equal(health_tracker_reason(t), "not healthy for 3s in a row within 10s: "
	                                              "last check: GET /health 503 (1 ms)");
	health_tracker_free(t);
}

/* Healthy at the deadline but not yet for min-healthy-time: it may finish. */
static void
test_deadline_while_gaining(void **state)
{
	struct health_check c = schedule(1000, 0, 1000, 3);
	struct health_tracker *t = health_tracker_new(&c, 1, 0, 3000, 5000);

	(void)state;
	run_at(t, 1000, 0, 0, "f");
	run_at(t, 2000, 0, 0, "f");
	run_at(t, 3000, 0, 0, "f");
	run_at(t, 4000, 0, 1, "ok");
	assert_int_equal(health_tracker_gate(t, 5000), HEALTH_GATE_WAITING);
	run_at(t, 5000, 0, 1, "ok");
	run_at(t, 6000, 0, 1, "ok");
	assert_int_equal(health_tracker_gate(t, 7000), HEALTH_GATE_READY);
	health_tracker_free(t);

	/* ... but a failure past the deadline ends it. */
	t = health_tracker_new(&c, 1, 0, 3000, 5000);
	run_at(t, 1000, 0, 0, "f");
	run_at(t, 2000, 0, 0, "f");
	run_at(t, 3000, 0, 0, "f");
	run_at(t, 4000, 0, 1, "ok");
	run_at(t, 5000, 0, 1, "ok");
	run_at(t, 6000, 0, 0, "GET /health: timed out after 1s");
	assert_int_equal(health_tracker_gate(t, 6000), HEALTH_GATE_FAILED);
	assert_non_null(strstr(health_tracker_reason(t), "last check: GET /health: timed out"));
	health_tracker_free(t);
}

/* Several checks: the enclave is healthy when all are, unhealthy when one is;
 * a running check is not handed out twice. */
static void
test_several_checks(void **state)
{
	struct health_check c[2] = {schedule(30000, 0, 5000, 1), schedule(1000, 10000, 250, 3)};
	struct health_tracker *t = health_tracker_new(c, 2, 0, 2000, 300000);

	(void)state;
	assert_int_equal(health_tracker_next_wakeup(t), 250);
	assert_int_equal(health_tracker_take_due(t, 250), 1);
	/* Running: not due again, and the wakeup moves to the other check. */
	assert_int_equal(health_tracker_take_due(t, 250), -1);
	assert_int_equal(health_tracker_next_wakeup(t), 30000);
	struct health_result ok = result(1, "GET /health 200 (1 ms)");
	health_tracker_record(t, 1, 400, &ok);
	assert_int_equal(health_tracker_check_state(t, 1), HEALTH_HEALTHY);
	assert_int_equal(health_tracker_state(t), HEALTH_STARTING);
	assert_int_equal(health_tracker_next_wakeup(t), 1400);
	for (int64_t now = 1400; now < 30000; now += 1000) {
		run_at(t, now, 1, 1, "GET /health 200 (1 ms)");
		assert_int_equal(health_tracker_gate(t, now), HEALTH_GATE_WAITING);
	}
	run_at(t, 30000, 0, 1, "app: CMD-SHELL \"true\" exit 0 (2 ms)");
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY);
	/* Healthy since the last of the two started passing. */
	assert_int_equal(health_tracker_gate(t, 31999), HEALTH_GATE_WAITING);
	assert_int_equal(health_tracker_gate(t, 32000), HEALTH_GATE_READY);
	/* Recorded without take_due(): the check started duration_ms earlier. */
	struct health_result bad = result(0, "app: CMD-SHELL \"false\" exit 1 (2 ms)");
	health_tracker_record(t, 0, 60000, &bad);
	assert_int_equal(health_tracker_state(t), HEALTH_UNHEALTHY);
	health_tracker_free(t);

	/* No checks at all: healthy from the start. */
	t = health_tracker_new(NULL, 0, 100, 2000, 300000);
	assert_int_equal(health_tracker_state(t), HEALTH_HEALTHY);
	assert_int_equal(health_tracker_next_wakeup(t), 2100);
	assert_int_equal(health_tracker_gate(t, 2100), HEALTH_GATE_READY);
	assert_int_equal(health_tracker_next_wakeup(t), INT64_MAX);
	health_tracker_free(t);
}

static void
test_log_is_bounded_and_ordered(void **state)
{
	struct health_check c = schedule(1000, 0, 1000, 3);
	struct health_tracker *t = health_tracker_new(&c, 1, 0, 0, 0);
	char text[32], **log;

	(void)state;
	log = health_tracker_log(t);
	assert_null(log);
	for (int k = 1; k <= HEALTH_LOG_MAX + 5; k++) {
		snprintf(text, sizeof text, "check %d", k);
		struct health_result r = result(1, text);
		r.wall_ms += k * 1000;
		health_tracker_record(t, 0, k * 1000, &r);
	}
	log = health_tracker_log(t);
	assert_int_equal(strv_len(log), HEALTH_LOG_MAX);
	assert_string_equal(log[0], "2026-11-26T10:55:52Z check 6");
	assert_string_equal(log[HEALTH_LOG_MAX - 1], "2026-11-26T10:56:23Z check 37");
	strv_free(log);
	health_tracker_free(t);
}

/* ---- checks from a config ---------------------------------------------- */

static void
test_checks_from_config(void **state)
{
	struct config_container cc[3];
	struct config cfg;
	struct health_check *v;
	struct err err = ERR_INIT;
	char *cmd[] = {"curl", "-sf", "http://localhost:8001/health", NULL};
	char *script[] = {"test -f /tmp/ready", NULL};
	size_t n;

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	memset(cc, 0, sizeof cc);
	cc[0].name = "api";
	cc[0].healthcheck.kind = CONFIG_HEALTHCHECK_CMD;
	cc[0].healthcheck.test = cmd;
	cc[0].healthcheck.interval_ms = 10000;
	cc[0].healthcheck.start_period_ms = 1800000;
	cc[0].healthcheck.retries = 5;
	cc[1].name = "sidecar";
	cc[1].healthcheck.kind = CONFIG_HEALTHCHECK_DISABLED;
	cc[2].name = "worker";
	cc[2].healthcheck.kind = CONFIG_HEALTHCHECK_CMD_SHELL;
	cc[2].healthcheck.test = script;
	cfg.containers = cc;
	cfg.n_containers = 3;
	cfg.shim.upstream_port = 8000;
	cfg.deploy.health_path = "/health";
	cfg.deploy.health_timeout_ms = 300000;

	assert_int_equal(health_checks_from_config(&cfg, "10.88.0.5", &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].kind, HEALTH_CHECK_EXEC);
	assert_string_equal(v[0].container, "api");
	assert_string_equal(v[0].argv[0], "curl");
	assert_int_equal(strv_len(v[0].argv), 3);
	assert_false(v[0].shell);
	assert_int_equal(v[0].interval_ms, 10000);
	assert_int_equal(v[0].timeout_ms, HEALTH_DEFAULT_TIMEOUT_MS);
	assert_int_equal(v[0].start_period_ms, 1800000);
	assert_int_equal(v[0].retries, 5);
	assert_int_equal(v[1].kind, HEALTH_CHECK_EXEC);
	assert_string_equal(v[1].container, "worker");
	assert_true(v[1].shell);
	assert_string_equal(v[1].argv[0], "/bin/sh");
	assert_string_equal(v[1].argv[1], "-c");
	assert_string_equal(v[1].argv[2], "test -f /tmp/ready");
	assert_int_equal(v[1].retries, HEALTH_DEFAULT_RETRIES);
	assert_int_equal(v[2].kind, HEALTH_CHECK_HTTP);
	assert_string_equal(v[2].addr, "10.88.0.5");
	assert_int_equal(v[2].port, 8000);
	assert_string_equal(v[2].path, "/health");
	/* api's healthcheck: 30m start period + 5 retries x 10s > 5m. */
	assert_int_equal(health_timeout_of_config(&cfg), 1800000 + 5 * 10000);
	assert_int_equal(v[2].start_period_ms, 1850000);
	health_checks_free(v, n);

	/* Without long healthchecks, deploy.health-timeout (5m when unset). */
	cc[0].healthcheck.start_period_ms = 0;
	assert_int_equal(health_timeout_of_config(&cfg), 300000);
	cfg.deploy.health_timeout_ms = 0;
	assert_int_equal(health_timeout_of_config(&cfg), HEALTH_DEFAULT_HEALTH_TIMEOUT_MS);
	cfg.deploy.health_timeout_ms = 10000;
	/* worker: default 3 retries x 30s. */
	assert_int_equal(health_timeout_of_config(&cfg), 90000);

	/* No health path: a TCP check of the upstream port. */
	cfg.deploy.health_path = NULL;
	cfg.n_containers = 2;
	assert_int_equal(health_checks_from_config(&cfg, "10.88.0.5", &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].kind, HEALTH_CHECK_TCP);
	assert_null(v[1].path);
	health_checks_free(v, n);

	/* A healthcheck without a command is refused. */
	cc[0].healthcheck.test = NULL;
	assert_true(health_checks_from_config(&cfg, "10.88.0.5", &v, &n, &err) < 0);
	assert_null(v);
	assert_string_equal(err.msg, "container api: healthcheck has no command");
}

/* ---- a real HTTP server on loopback ------------------------------------ */

struct server {
	int fd;
	int port;
	pthread_t thread;
	int requests;
};

static void
serve_one(int c)
{
	char req[2048] = "", path[256] = "";
	size_t got = 0;
	const char *reply;

	while (got < sizeof req - 1 && strstr(req, "\r\n\r\n") == NULL) {
		ssize_t n = read(c, req + got, sizeof req - 1 - got);
		if (n <= 0)
			return;
		got += (size_t)n;
		req[got] = '\0';
	}
	sscanf(req, "GET %255s", path);
	if (strcmp(path, "/health") == 0) {
		reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	} else if (strcmp(path, "/fail") == 0) {
		reply = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
		        "Connection: close\r\n\r\n";
	} else if (strcmp(path, "/created") == 0) {
		reply = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	} else if (strcmp(path, "/moved") == 0) {
		reply = "HTTP/1.1 302 Found\r\nLocation: /health\r\nContent-Length: 0\r\n"
		        "Connection: close\r\n\r\n";
	} else if (strcmp(path, "/slow") == 0) {
		/* Never answer: wait until the client gives up (or 5 s). */
		struct pollfd p = {.fd = c, .events = POLLIN};
		poll(&p, 1, 5000);
		return;
	} else {
		reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	}
	if (write(c, reply, strlen(reply)) < 0)
		return;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break; /* shut down */
		s->requests++;
		serve_one(c);
		close(c);
	}
	return NULL;
}

static int
listen_loopback(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A port nothing listens on: bound (so nobody else takes it) but not listening. */
static int
closed_port(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
server_start(void **state)
{
	struct server *s = xcalloc(1, sizeof *s);

	s->fd = listen_loopback(&s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	*state = s;
	return 0;
}

static int
server_stop(void **state)
{
	struct server *s = *state;

	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	free(s);
	return 0;
}

static void
assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

static void
assert_suffix_ms(const char *text)
{
	const char *p = strrchr(text, '(');

	assert_non_null(p);
	assert_non_null(strstr(p, " ms)"));
}

static void
test_http_checks(void **state)
{
	struct server *s = *state;
	struct health_result r;
	int64_t t0;
	int fd, port;

	health_http_check("127.0.0.1", s->port, "/health", 2000, &r);
	assert_true(r.pass);
	assert_prefix(r.text, "GET /health 200 (");
	assert_suffix_ms(r.text);
	assert_true(r.wall_ms > 0);

	health_http_check("127.0.0.1", s->port, "/created", 2000, &r);
	assert_true(r.pass);
	assert_prefix(r.text, "GET /created 204 (");

	health_http_check("127.0.0.1", s->port, "/fail", 2000, &r);
	assert_false(r.pass);
	assert_prefix(r.text, "GET /fail 500 (");

	health_http_check("127.0.0.1", s->port, "/moved", 2000, &r);
	assert_false(r.pass); /* not followed; 3xx is not 2xx */
	assert_prefix(r.text, "GET /moved 302");

	health_http_check("127.0.0.1", s->port, "/nope", 2000, &r);
	assert_false(r.pass);

	t0 = now_mono_ms();
	health_http_check("127.0.0.1", s->port, "/slow", 300, &r);
	assert_false(r.pass);
	assert_string_equal(r.text, "GET /slow: timed out after 300ms");
	assert_true(now_mono_ms() - t0 >= 290);
	assert_true(now_mono_ms() - t0 < 2000);

	fd = closed_port(&port);
	health_http_check("127.0.0.1", port, "/health", 2000, &r);
	close(fd);
	assert_false(r.pass);
	assert_string_equal(r.text, "GET /health: connection refused");

	/* A proxy in the environment is ignored. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	health_http_check("127.0.0.1", s->port, "/health", 2000, &r);
	unsetenv("http_proxy");
	assert_true(r.pass);
	assert_true(s->requests >= 7);
}

static void
test_tcp_checks(void **state)
{
	struct health_result r;
	char want[64];
	int lfd, cfd, port;

	(void)state;
	lfd = listen_loopback(&port);
	health_tcp_check("127.0.0.1", port, 1000, &r);
	assert_true(r.pass);
	snprintf(want, sizeof want, "TCP 127.0.0.1:%d open (", port);
	assert_int_equal(strncmp(r.text, want, strlen(want)), 0);
	assert_suffix_ms(r.text);
	close(lfd);

	cfd = closed_port(&port);
	health_tcp_check("127.0.0.1", port, 1000, &r);
	close(cfd);
	assert_false(r.pass);
	snprintf(want, sizeof want, "TCP 127.0.0.1:%d: connection refused", port);
	assert_string_equal(r.text, want);

	health_tcp_check("::1", port, 1000, &r);
	assert_false(r.pass);
	assert_non_null(strstr(r.text, "TCP [::1]:"));

	health_tcp_check("localhost", 80, 1000, &r);
	assert_false(r.pass);
	assert_string_equal(r.text, "TCP localhost:80: not an IP address");
}

/* ---- exec checks through a callback running /bin/sh on the host -------- */

static int
host_exec(void *arg, const char *container, char *const argv[], int64_t timeout_ms, int *exit_code,
          char **output, struct err *err)
{
	int64_t deadline = now_mono_ms() + timeout_ms;
	int *calls = arg, status, pfd[2];
	char buf[4096];
	ssize_t got;
	pid_t pid;

	(*calls)++;
	*output = NULL;
	assert_string_equal(container, "app");
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid < 0)
		return err_make(err, errno, "fork");
	if (pid == 0) {
		setpgid(0, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (now_mono_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(pfd[0]);
			return err_make(err, ETIMEDOUT, "exec %s", argv[0]);
		}
		struct timespec ts = {0, 5 * 1000000};
		nanosleep(&ts, NULL);
	}
	got = read(pfd[0], buf, sizeof buf - 1); /* the tests print little */
	close(pfd[0]);
	buf[got > 0 ? got : 0] = '\0';
	*output = xstrdup(buf);
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

static void
test_exec_checks(void **state)
{
	struct health_check c;
	struct health_result r;
	int calls = 0;
	int64_t t0;
	char *pass[] = {"/bin/sh", "-c", "test 2 -gt 1", NULL};
	char *fail[] = {"/bin/sh", "-c", "echo starting; echo '  db: broken  ' >&2; exit 3", NULL};
	char *slow[] = {"/bin/sh", "-c", "sleep 3", NULL};
	char *cmd[] = {"/bin/true", NULL};
	char *missing[] = {"/nonexistent/healthcheck", NULL};

	(void)state;
	health_exec_check(host_exec, &calls, "app", pass, 1, 2000, &r);
	assert_true(r.pass);
	assert_prefix(r.text, "app: CMD-SHELL \"test 2 -gt 1\" exit 0 (");

	health_exec_check(host_exec, &calls, "app", fail, 1, 2000, &r);
	assert_false(r.pass);
	assert_prefix(
	    r.text, "app: CMD-SHELL \"echo starting; echo '  db: broken  ' >&2; exit 3\" exit 3 (");
	/* The last line the command printed, trimmed. */
	assert_non_null(strstr(r.text, " ms): db: broken"));
	assert_string_equal(strstr(r.text, ": db: broken"), ": db: broken");

	t0 = now_mono_ms();
	health_exec_check(host_exec, &calls, "app", slow, 1, 200, &r);
	assert_false(r.pass);
	assert_string_equal(r.text, "app: CMD-SHELL \"sleep 3\" timed out after 200ms");
	assert_true(now_mono_ms() - t0 < 2000);

	health_exec_check(host_exec, &calls, "app", missing, 0, 2000, &r);
	assert_false(r.pass);
	assert_non_null(strstr(r.text, "exit 127"));

	/* Through health_check_run() with a CMD check. */
	memset(&c, 0, sizeof c);
	c.kind = HEALTH_CHECK_EXEC;
	c.container = "app";
	c.argv = cmd;
	c.timeout_ms = 2000;
	health_check_run(&c, host_exec, &calls, &r);
	assert_true(r.pass);
	assert_prefix(r.text, "app: CMD \"/bin/true\" exit 0");
	assert_int_equal(calls, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_str),
	    cmocka_unit_test(test_start_period_then_ready),
	    cmocka_unit_test(test_immediate_first_check),
	    cmocka_unit_test(test_retries_outside_start_period),
	    cmocka_unit_test(test_start_period_expires),
	    cmocka_unit_test(test_never_healthy_reason),
	    cmocka_unit_test(test_flapping_resets_min_healthy),
	    cmocka_unit_test(test_deadline_while_gaining),
	    cmocka_unit_test(test_several_checks),
	    cmocka_unit_test(test_log_is_bounded_and_ordered),
	    cmocka_unit_test(test_checks_from_config),
	    cmocka_unit_test_setup_teardown(test_http_checks, server_start, server_stop),
	    cmocka_unit_test(test_tcp_checks),
	    cmocka_unit_test(test_exec_checks),
	};

	if (health_init(NULL) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
