#include "health/health.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"

/* ---- results ----------------------------------------------------------- */

static void
result_start(struct health_result *r, int64_t *mono_start)
{
	memset(r, 0, sizeof *r);
	r->wall_ms = now_wall_ms();
	*mono_start = now_mono_ms();
}

static void result_end(struct health_result *r, int64_t mono_start, int pass, const char *fmt, ...)
    BERTH_PRINTF(4, 5);

static void
result_end(struct health_result *r, int64_t mono_start, int pass, const char *fmt, ...)
{
	va_list ap;

	r->duration_ms = now_mono_ms() - mono_start;
	r->pass = pass;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
}

/* Appends how long the check took: "GET /health 200 (3 ms)". */
static void
result_add_ms(struct health_result *r)
{
	size_t n = strlen(r->text);

	snprintf(r->text + n, sizeof r->text - n, " (%lld ms)", (long long)r->duration_ms);
}

/* An error sentence as it reads inside a result: "connection refused". */
static void
lower_first(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
	if (dst[0] != '\0' && !(dst[1] != '\0' && isupper((unsigned char)dst[1])))
		dst[0] = (char)tolower((unsigned char)dst[0]);
}

void
health_duration_str(int64_t ms, char out[32])
{
	int64_t h, m, s, frac;
	int n = 0;

	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		snprintf(out, 32, "%lldms", (long long)ms);
		return;
	}
	h = ms / 3600000;
	m = ms / 60000 % 60;
	s = ms / 1000 % 60;
	frac = ms % 1000;
	if (h > 0)
		n += snprintf(out + n, 32 - n, "%lldh", (long long)h);
	if (h > 0 || m > 0)
		n += snprintf(out + n, 32 - n, "%lldm", (long long)m);
	if (frac == 0) {
		snprintf(out + n, 32 - n, "%llds", (long long)s);
		return;
	}
	n += snprintf(out + n, 32 - n, "%lld.%03lld", (long long)s, (long long)frac);
	while (out[n - 1] == '0')
		n--;
	snprintf(out + n, 32 - n, "s");
}

/* ---- runners ----------------------------------------------------------- */

int
health_init(struct err *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return err_make(err, 0, "libcurl failed to initialise: %s", curl_easy_strerror(rc));
	return 0;
}

static size_t
discard_body(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data, (void)arg;
	return size * nmemb;
}

/* Checks reach enclaves, whose firewall lets in the host's new connections
 * only with berth's mark (runtime/firewall.h). Unprivileged (unit tests),
 * the mark is not set and the check goes as it is. */
static int
mark_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	(void)arg, (void)purpose;
	sock_mark_upstream(fd);
	return CURL_SOCKOPT_OK;
}

void
health_http_check(const char *addr, int port, const char *path, int64_t timeout_ms,
                  struct health_result *r)
{
	char errbuf[CURL_ERROR_SIZE] = "", why[CURL_ERROR_SIZE], limit[32];
	int v6 = strchr(addr, ':') != NULL;
	char *url = xasprintf("http://%s%s%s:%d%s", v6 ? "[" : "", addr, v6 ? "]" : "", port, path);
	long status = 0, os_errno = 0;
	int64_t start;
	CURLcode rc;
	CURL *h;

	result_start(r, &start);
	h = curl_easy_init();
	if (h == NULL) {
		result_end(r, start, 0, "GET %s: cannot start libcurl", path);
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run in worker threads */
	curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, mark_socket);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "berth-health/" BERTH_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		result_end(r, start, status >= 200 && status <= 299, "GET %s %ld", path, status);
		result_add_ms(r);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		health_duration_str(timeout_ms, limit);
		result_end(r, start, 0, "GET %s: timed out after %s", path, limit);
	} else {
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
		if (rc == CURLE_COULDNT_CONNECT && os_errno != 0)
			lower_first(why, sizeof why, strerror((int)os_errno));
		else
			lower_first(why, sizeof why, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		result_end(r, start, 0, "GET %s: %s", path, why);
	}
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	free(url);
}

void
health_tcp_check(const char *addr, int port, int64_t timeout_ms, struct health_result *r)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int v6 = strchr(addr, ':') != NULL;
	char label[96], why[128], limit[32];
	socklen_t sslen, len = sizeof(int);
	int64_t start, deadline;
	int fd = -1, soerr = 0;

	snprintf(label, sizeof label, v6 ? "TCP [%s]:%d" : "TCP %s:%d", addr, port);
	result_start(r, &start);
	memset(&ss, 0, sizeof ss);
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sslen = sizeof *sin6;
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			goto bad_addr;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sslen = sizeof *sin;
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			goto bad_addr;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		soerr = errno;
		goto failed;
	}
	sock_mark_upstream(fd);
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0)
		goto open;
	if (errno != EINPROGRESS) {
		soerr = errno;
		goto failed;
	}
	deadline = start + timeout_ms;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int64_t left = deadline - now_mono_ms();
		int n;

		if (left <= 0) {
			health_duration_str(timeout_ms, limit);
			result_end(r, start, 0, "%s: timed out after %s", label, limit);
			goto out;
		}
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			soerr = errno;
			goto failed;
		}
		if (n > 0)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr != 0)
		goto failed;
open:
	result_end(r, start, 1, "%s open", label);
	result_add_ms(r);
	goto out;
bad_addr:
	result_end(r, start, 0, "%s: not an IP address", label);
	goto out;
failed:
	lower_first(why, sizeof why, strerror(soerr));
	result_end(r, start, 0, "%s: %s", label, why);
out:
	if (fd >= 0)
		close(fd);
}

/* The command as the log shows it: CMD-SHELL's script, or CMD's argv joined,
 * quoted and cut to a readable length. */
static void
exec_label(const char *container, char *const argv[], int shell, char *out, size_t n)
{
	struct buf cmd = BUF_INIT;

	if (shell && strv_len(argv) >= 3) {
		buf_puts(&cmd, argv[2]);
	} else {
		for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
			if (i > 0)
				buf_putc(&cmd, ' ');
			buf_puts(&cmd, argv[i]);
		}
	}
	if (cmd.len > 80)
		snprintf(out, n, "%s: %s \"%.77s...\"", container, shell ? "CMD-SHELL" : "CMD",
		         cmd.data);
	else
		snprintf(out, n, "%s: %s \"%s\"", container, shell ? "CMD-SHELL" : "CMD",
		         cmd.data ? cmd.data : "");
	buf_free(&cmd);
}

/* The last non-empty line of a command's output, trimmed, into out. */
static void
last_line(const char *output, char *out, size_t n)
{
	const char *end = output + strlen(output), *start;

	while (end > output && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	start = end;
	while (start > output && start[-1] != '\n')
		start--;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	snprintf(out, n, "%.*s", (int)(end - start), start);
}

void
health_exec_check(health_exec_fn exec, void *exec_arg, const char *container, char *const argv[],
                  int shell, int64_t timeout_ms, struct health_result *r)
{
	struct err err = ERR_INIT;
	char label[160], limit[32], said[96] = "";
	char *output = NULL;
	int64_t start;
	int code = -1;
	size_t n;

	exec_label(container, argv, shell, label, sizeof label);
	result_start(r, &start);
	if (exec == NULL || argv == NULL || argv[0] == NULL) {
		result_end(r, start, 0, "%s: nothing to run", label);
		return;
	}
	if (exec(exec_arg, container, argv, timeout_ms, &code, &output, &err) < 0) {
		if (err.code == ETIMEDOUT) {
			health_duration_str(timeout_ms, limit);
			result_end(r, start, 0, "%s timed out after %s", label, limit);
		} else {
			result_end(r, start, 0, "%s: %s", label, err.msg);
		}
		free(output);
		return;
	}
	result_end(r, start, code == 0, "%s exit %d", label, code);
	result_add_ms(r);
	if (code != 0 && output != NULL)
		last_line(output, said, sizeof said);
	if (said[0] != '\0') {
		n = strlen(r->text);
		snprintf(r->text + n, sizeof r->text - n, ": %s", said);
	}
	free(output);
}

void
health_check_run(const struct health_check *c, health_exec_fn exec, void *exec_arg,
                 struct health_result *r)
{
	switch (c->kind) {
	case HEALTH_CHECK_HTTP:
		health_http_check(c->addr, c->port, c->path, c->timeout_ms, r);
		break;
	case HEALTH_CHECK_TCP:
		health_tcp_check(c->addr, c->port, c->timeout_ms, r);
		break;
	case HEALTH_CHECK_EXEC:
		health_exec_check(exec, exec_arg, c->container, c->argv, c->shell, c->timeout_ms,
		                  r);
		break;
	}
}

/* ---- checks from a config ---------------------------------------------- */

static int64_t
or_default(int64_t v, int64_t dflt)
{
	return v > 0 ? v : dflt;
}

int64_t
health_timeout_of_config(const struct config *c)
{
	int64_t t = or_default(c->deploy.health_timeout_ms, HEALTH_DEFAULT_HEALTH_TIMEOUT_MS);

	for (size_t i = 0; i < c->n_containers; i++) {
		const struct config_healthcheck *hc = &c->containers[i].healthcheck;
		int64_t docker;

		if (hc->kind != CONFIG_HEALTHCHECK_CMD && hc->kind != CONFIG_HEALTHCHECK_CMD_SHELL)
			continue;
		docker = (hc->start_period_ms > 0 ? hc->start_period_ms : 0) +
		         (hc->retries > 0 ? hc->retries : HEALTH_DEFAULT_RETRIES) *
		             or_default(hc->interval_ms, HEALTH_DEFAULT_INTERVAL_MS);
		if (docker > t)
			t = docker;
	}
	return t;
}

int
health_checks_from_config(const struct config *c, const char *addr, struct health_check **out,
                          size_t *n, struct err *err)
{
	struct health_check *v = xcalloc(c->n_containers + 1, sizeof *v);
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (c->shim.upstream_port < 1 || c->shim.upstream_port > 65535) {
		free(v);
		return err_make(err, 0, "shim.upstream-port %d is not a port",
		                c->shim.upstream_port);
	}
	for (size_t i = 0; i < c->n_containers; i++) {
		const struct config_container *cc = &c->containers[i];
		const struct config_healthcheck *hc = &cc->healthcheck;
		struct health_check *h;

		if (hc->kind != CONFIG_HEALTHCHECK_CMD && hc->kind != CONFIG_HEALTHCHECK_CMD_SHELL)
			continue;
		if (hc->test == NULL || hc->test[0] == NULL) {
			health_checks_free(v, k);
			return err_make(err, 0, "container %s: healthcheck has no command",
			                cc->name);
		}
		h = &v[k++];
		h->kind = HEALTH_CHECK_EXEC;
		h->container = xstrdup(cc->name);
		if (hc->kind == CONFIG_HEALTHCHECK_CMD_SHELL) {
			h->shell = 1;
			h->argv = strv_push(h->argv, "/bin/sh");
			h->argv = strv_push(h->argv, "-c");
			h->argv = strv_push(h->argv, hc->test[0]);
		} else {
			h->argv = strv_dup(hc->test);
		}
		h->interval_ms = or_default(hc->interval_ms, HEALTH_DEFAULT_INTERVAL_MS);
		h->timeout_ms = or_default(hc->timeout_ms, HEALTH_DEFAULT_TIMEOUT_MS);
		h->start_period_ms = hc->start_period_ms > 0 ? hc->start_period_ms : 0;
		h->start_interval_ms =
		    or_default(hc->start_interval_ms, HEALTH_DEFAULT_START_INTERVAL_MS);
		h->retries = hc->retries > 0 ? hc->retries : HEALTH_DEFAULT_RETRIES;
	}
	struct health_check *u = &v[k++];
	u->kind = c->deploy.health_path != NULL ? HEALTH_CHECK_HTTP : HEALTH_CHECK_TCP;
	u->addr = xstrdup(addr);
	u->port = c->shim.upstream_port;
	u->path = c->deploy.health_path != NULL ? xstrdup(c->deploy.health_path) : NULL;
	u->interval_ms = HEALTH_UPSTREAM_INTERVAL_MS;
	u->timeout_ms = HEALTH_UPSTREAM_TIMEOUT_MS;
	u->start_period_ms = health_timeout_of_config(c);
	u->start_interval_ms = HEALTH_UPSTREAM_START_INTERVAL_MS;
	u->retries = HEALTH_UPSTREAM_RETRIES;
	u->immediate = 1;
	*out = v;
	*n = k;
	return 0;
}

void
health_checks_free(struct health_check *checks, size_t n)
{
	if (checks == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(checks[i].addr);
		free(checks[i].path);
		free(checks[i].container);
		strv_free(checks[i].argv);
	}
	free(checks);
}

/* ---- the tracker ------------------------------------------------------- */

struct tracker_check {
	int64_t interval_ms, start_period_ms, start_interval_ms;
	int retries;
	enum health_state state;
	int failing_streak;    /* consecutive failures counted (outside start_period) */
	int64_t ok_since;      /* start of the current run of passes, -1 after a failure */
	int64_t next_due;      /* monotonic ms; INT64_MAX while running */
	int64_t running_since; /* when take_due handed it out, -1 when idle */
	int has_result;
	struct health_result last;
};

struct health_tracker {
	struct tracker_check *checks; /* owned array */
	size_t n;
	int64_t start_ms;
	int64_t min_healthy_ms;
	int64_t health_timeout_ms;
	enum health_gate gate;
	int was_healthy; /* the enclave was healthy at some point */
	char reason[ERR_MSG_MAX];
	/* Ring of the last results, "<time> <text>". */
	char log[HEALTH_LOG_MAX][32 + HEALTH_TEXT_MAX];
	size_t log_head, log_len;
};

const char *
health_state_str(enum health_state s)
{
	switch (s) {
	case HEALTH_STARTING:
		return "starting";
	case HEALTH_HEALTHY:
		return "healthy";
	case HEALTH_UNHEALTHY:
		return "unhealthy";
	}
	return "?";
}

const char *
health_gate_str(enum health_gate g)
{
	switch (g) {
	case HEALTH_GATE_WAITING:
		return "waiting";
	case HEALTH_GATE_READY:
		return "ready";
	case HEALTH_GATE_FAILED:
		return "failed";
	}
	return "?";
}

/* docker's interval after a check (or before the first): start_interval while
 * starting within the start period, interval otherwise. */
static int64_t
tracker_interval(const struct health_tracker *t, const struct tracker_check *c, int64_t now_ms)
{
	if (now_ms - t->start_ms < c->start_period_ms && c->state == HEALTH_STARTING)
		return c->start_interval_ms;
	return c->interval_ms;
}

struct health_tracker *
health_tracker_new(const struct health_check *checks, size_t n, int64_t start_ms,
                   int64_t min_healthy_ms, int64_t health_timeout_ms)
{
	struct health_tracker *t = xcalloc(1, sizeof *t);

	t->checks = xcalloc(n, sizeof *t->checks);
	t->n = n;
	t->start_ms = start_ms;
	t->min_healthy_ms = min_healthy_ms > 0 ? min_healthy_ms : 0;
	t->health_timeout_ms = health_timeout_ms > 0 ? health_timeout_ms : 0;
	for (size_t i = 0; i < n; i++) {
		struct tracker_check *c = &t->checks[i];

		c->interval_ms = or_default(checks[i].interval_ms, HEALTH_DEFAULT_INTERVAL_MS);
		c->start_period_ms = checks[i].start_period_ms > 0 ? checks[i].start_period_ms : 0;
		c->start_interval_ms =
		    or_default(checks[i].start_interval_ms, HEALTH_DEFAULT_START_INTERVAL_MS);
		c->retries = checks[i].retries > 0 ? checks[i].retries : HEALTH_DEFAULT_RETRIES;
		c->state = HEALTH_STARTING;
		c->ok_since = -1;
		c->running_since = -1;
		c->next_due =
		    checks[i].immediate ? start_ms : start_ms + tracker_interval(t, c, start_ms);
	}
	return t;
}

void
health_tracker_free(struct health_tracker *t)
{
	if (t == NULL)
		return;
	free(t->checks);
	free(t);
}

int
health_tracker_take_due(struct health_tracker *t, int64_t now_ms)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tracker_check *c = &t->checks[i];

		if (c->running_since < 0 && c->next_due <= now_ms) {
			c->running_since = now_ms;
			c->next_due = INT64_MAX;
			return (int)i;
		}
	}
	return -1;
}

enum health_state
health_tracker_state(const struct health_tracker *t)
{
	int all_healthy = 1;

	for (size_t i = 0; i < t->n; i++) {
		if (t->checks[i].state == HEALTH_UNHEALTHY)
			return HEALTH_UNHEALTHY;
		if (t->checks[i].state != HEALTH_HEALTHY)
			all_healthy = 0;
	}
	return all_healthy ? HEALTH_HEALTHY : HEALTH_STARTING;
}

enum health_state
health_tracker_check_state(const struct health_tracker *t, size_t i)
{
	return i < t->n ? t->checks[i].state : HEALTH_STARTING;
}

/* Since when every check has passed without a failure in between, or -1. An
 * enclave without checks is healthy from its start. */
static int64_t
tracker_healthy_since(const struct health_tracker *t)
{
	int64_t since = t->start_ms;

	for (size_t i = 0; i < t->n; i++) {
		const struct tracker_check *c = &t->checks[i];

		if (c->state != HEALTH_HEALTHY || c->ok_since < 0)
			return -1;
		if (c->ok_since > since)
			since = c->ok_since;
	}
	return since;
}

int64_t
health_tracker_next_wakeup(const struct health_tracker *t)
{
	int64_t next = INT64_MAX, since;

	for (size_t i = 0; i < t->n; i++)
		if (t->checks[i].running_since < 0 && t->checks[i].next_due < next)
			next = t->checks[i].next_due;
	if (t->gate == HEALTH_GATE_WAITING) {
		if (t->start_ms + t->health_timeout_ms < next)
			next = t->start_ms + t->health_timeout_ms;
		since = tracker_healthy_since(t);
		if (since >= 0 && since + t->min_healthy_ms < next)
			next = since + t->min_healthy_ms;
	}
	return next;
}

/* The result that best explains why the enclave is not healthy: the latest of
 * a check that is not passing, or the latest of all. */
static const struct health_result *
tracker_blame(const struct health_tracker *t, size_t *idx)
{
	const struct health_result *best = NULL;
	int best_failing = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct tracker_check *c = &t->checks[i];
		int failing = c->ok_since < 0;

		if (!c->has_result)
			continue;
		if (best == NULL || failing > best_failing ||
		    (failing == best_failing && c->last.wall_ms >= best->wall_ms)) {
			best = &c->last;
			best_failing = failing;
			*idx = i;
		}
	}
	return best;
}

static void
tracker_fail(struct health_tracker *t)
{
	const struct health_result *last;
	char limit[32], min[32];
	size_t idx = 0;
	int n;

	health_duration_str(t->health_timeout_ms, limit);
	if (!t->was_healthy) {
		n = snprintf(t->reason, sizeof t->reason, "never healthy in %s", limit);
	} else {
		health_duration_str(t->min_healthy_ms, min);
		n = snprintf(t->reason, sizeof t->reason, "not healthy for %s in a row within %s",
		             min, limit);
	}
	last = tracker_blame(t, &idx);
	if (n > 0 && (size_t)n < sizeof t->reason)
		snprintf(t->reason + n, sizeof t->reason - n, ": last check: %s",
		         last != NULL ? last->text : "none finished");
	t->gate = HEALTH_GATE_FAILED;
}

enum health_gate
health_tracker_gate(struct health_tracker *t, int64_t now_ms)
{
	int64_t since;

	if (t->gate != HEALTH_GATE_WAITING)
		return t->gate;
	since = tracker_healthy_since(t);
	if (since >= 0) {
		t->was_healthy = 1;
		if (now_ms >= since + t->min_healthy_ms)
			t->gate = HEALTH_GATE_READY;
	} else if (now_ms >= t->start_ms + t->health_timeout_ms) {
		/* Past the deadline, an enclave still gaining its healthy time may
		 * finish; one that is not healthy fails. */
		tracker_fail(t);
	}
	return t->gate;
}

static void
tracker_log(struct health_tracker *t, const struct health_result *r)
{
	char when[32];
	size_t slot = (t->log_head + t->log_len) % HEALTH_LOG_MAX;

	if (t->log_len == HEALTH_LOG_MAX) {
		slot = t->log_head;
		t->log_head = (t->log_head + 1) % HEALTH_LOG_MAX;
	} else {
		t->log_len++;
	}
	time_rfc3339(r->wall_ms, when);
	snprintf(t->log[slot], sizeof t->log[slot], "%s %s", when, r->text);
}

void
health_tracker_record(struct health_tracker *t, size_t i, int64_t now_ms,
                      const struct health_result *r)
{
	struct tracker_check *c;
	int64_t began;

	if (i >= t->n)
		log_fatal("health_tracker_record: check %zu of %zu", i, t->n);
	c = &t->checks[i];
	/* Decide the gate on what was known before this result arrived (a
	 * result recorded late must not rescue a deadline already passed). */
	health_tracker_gate(t, now_ms);
	began = c->running_since >= 0 ? c->running_since : now_ms - r->duration_ms;
	c->running_since = -1;
	if (r->pass) {
		c->failing_streak = 0;
		c->state = HEALTH_HEALTHY;
		if (c->ok_since < 0)
			c->ok_since = began;
	} else {
		c->ok_since = -1;
		/* docker: while starting, failures within the start period do not
		 * count; a success ends the start period early. */
		if (!(c->state == HEALTH_STARTING && began - t->start_ms < c->start_period_ms)) {
			c->failing_streak++;
			if (c->failing_streak >= c->retries)
				c->state = HEALTH_UNHEALTHY;
		}
	}
	c->has_result = 1;
	c->last = *r;
	c->next_due = now_ms + tracker_interval(t, c, now_ms);
	tracker_log(t, r);
	health_tracker_gate(t, now_ms);
}

const char *
health_tracker_reason(const struct health_tracker *t)
{
	return t->gate == HEALTH_GATE_FAILED ? t->reason : NULL;
}

char **
health_tracker_log(const struct health_tracker *t)
{
	char **v = NULL;

	for (size_t k = 0; k < t->log_len; k++)
		v = strv_push(v, t->log[(t->log_head + k) % HEALTH_LOG_MAX]);
	return v;
}
