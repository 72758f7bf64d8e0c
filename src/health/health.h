/* health: the checks of an enclave and what their results mean.
 *
 * Two halves. The runners (health_http_check(), health_tcp_check(),
 * health_exec_check()) block for at most a check's timeout and are safe to call
 * from any thread. The tracker is pure logic without I/O or clocks: it is fed
 * results with their times, says when the next check is due, and applies
 * docker's healthcheck rules (interval, timeout, retries, start_period,
 * start_interval) and berth's gates (healthy for min-healthy-time → ready;
 * not healthy within health-timeout → failed). A tracker belongs to one thread.
 */
#ifndef BERTH_HEALTH_H
#define BERTH_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config-types.h"

#define HEALTH_TEXT_MAX 256 /* a result's text, "GET /health 200 (3 ms)" */
#define HEALTH_LOG_MAX  32  /* results kept by a tracker */

/* docker's defaults, used when a field is 0 or negative. */
#define HEALTH_DEFAULT_INTERVAL_MS       30000
#define HEALTH_DEFAULT_TIMEOUT_MS        30000
#define HEALTH_DEFAULT_START_INTERVAL_MS 5000
#define HEALTH_DEFAULT_RETRIES           3
#define HEALTH_DEFAULT_HEALTH_TIMEOUT_MS (5 * 60 * 1000) /* deploy.health-timeout */

/* The schedule of berth's own check of the upstream port (HTTP health-path or
 * TCP): at once, then every 100 ms while the enclave boots (its start period lasts the whole
 * health-timeout, so boot-time failures do not count), every second after. */
#define HEALTH_UPSTREAM_INTERVAL_MS       1000
#define HEALTH_UPSTREAM_START_INTERVAL_MS 100
#define HEALTH_UPSTREAM_TIMEOUT_MS        2000
#define HEALTH_UPSTREAM_RETRIES           3

/* Runs argv inside the enclave's container named container, waits for it at
 * most timeout_ms, and sets *exit_code and *output (owned, its combined output,
 * or NULL). Returns 0 when the command ran to its end (whatever its exit code);
 * a negative value with err set when it could not run, with err->code ==
 * ETIMEDOUT when it was killed for the timeout. Supplied by the runtime
 * (enclave_exec() has this shape after its first two arguments); called from
 * worker threads. */
typedef int (*health_exec_fn)(void *arg, const char *container, char *const argv[],
                              int64_t timeout_ms, int *exit_code, char **output, struct err *err);

enum health_check_kind {
	HEALTH_CHECK_HTTP, /* GET http://addr:port/path, any 2xx passes */
	HEALTH_CHECK_TCP,  /* a TCP connect to addr:port */
	HEALTH_CHECK_EXEC, /* a docker-compose healthcheck run in a container; exit 0 passes */
};

/* One check of an enclave and its schedule. */
struct health_check {
	enum health_check_kind kind;
	char *addr;                /* owned, numeric IPv4/IPv6 address (HTTP, TCP) */
	int port;                  /* HTTP, TCP */
	char *path;                /* owned, "/health" (HTTP) */
	char *container;           /* owned, the container to exec in (EXEC) */
	char **argv;               /* owned strv (EXEC): CMD's argv, or /bin/sh -c script */
	int shell;                 /* EXEC: 1 when from CMD-SHELL (shown in the log) */
	int64_t interval_ms;       /* between the end of a check and the next */
	int64_t timeout_ms;        /* a check taking longer fails */
	int64_t start_period_ms;   /* failures in it do not count, until a success */
	int64_t start_interval_ms; /* the interval during start_period */
	int retries;               /* consecutive failures that make it unhealthy */
	int immediate;             /* first run at once, not one interval after start */
};

/* The outcome of one check. */
struct health_result {
	int pass;                   /* 1 passed, 0 failed */
	int64_t wall_ms;            /* when it started, ms since the epoch */
	int64_t duration_ms;        /* how long it took */
	char text[HEALTH_TEXT_MAX]; /* "GET /health 200 (3 ms)", "TCP 10.0.0.2:80: connection
	                               refused" */
};

/* Initialises libcurl once; call at start-up before any thread runs a check. */
int health_init(struct err *err);

/* Builds the checks of an enclave whose upstream listens at addr: one EXEC
 * check per container with a CMD or CMD-SHELL healthcheck, then berth's check
 * of shim.upstream-port (HTTP GET deploy.health-path, or TCP when there is no
 * health path). On success *out is an owned array of *n checks (free with
 * health_checks_free()). */
int health_checks_from_config(const struct config *c, const char *addr, struct health_check **out,
                              size_t *n, struct err *err);

/* How long a new enclave of c may take to become healthy: deploy.health-timeout
 * (5m when unset), extended to the time docker would need to call a
 * container's healthcheck unhealthy (start_period + retries x interval), so a
 * model that loads for 30m under `start_period: 30m` is not failed at 5m. */
int64_t health_timeout_of_config(const struct config *c);

/* Frees an array of n checks and what they own; NULL is fine. */
void health_checks_free(struct health_check *checks, size_t n);

/* GETs http://addr:port<path> (no proxy, no redirects) within timeout_ms; any
 * 2xx passes. Fills r; never fails otherwise. Thread-safe. */
void health_http_check(const char *addr, int port, const char *path, int64_t timeout_ms,
                       struct health_result *r);

/* Connects to addr:port within timeout_ms; an accepted connection passes. */
void health_tcp_check(const char *addr, int port, int64_t timeout_ms, struct health_result *r);

/* Runs argv in container through exec within timeout_ms; exit 0 passes. shell
 * says whether argv is CMD-SHELL's /bin/sh -c (for the result's text). A
 * failure's text ends with the last line the command printed. */
void health_exec_check(health_exec_fn exec, void *exec_arg, const char *container,
                       char *const argv[], int shell, int64_t timeout_ms, struct health_result *r);

/* Runs check c with the runner of its kind (exec is used by EXEC checks only). */
void health_check_run(const struct health_check *c, health_exec_fn exec, void *exec_arg,
                      struct health_result *r);

/* docker's health status, of one check or of the whole enclave. */
enum health_state {
	HEALTH_STARTING,  /* no success yet and within start_period, or fewer failures than retries
	                   */
	HEALTH_HEALTHY,   /* the last check passed, or fewer than retries have failed since */
	HEALTH_UNHEALTHY, /* retries consecutive failures counted */
};

/* berth's verdict on a new enclave; READY and FAILED are final. */
enum health_gate {
	HEALTH_GATE_WAITING, /* transient: not yet healthy for min-healthy-time */
	HEALTH_GATE_READY,   /* every check healthy, uninterrupted, for min-healthy-time */
	HEALTH_GATE_FAILED,  /* not healthy within health-timeout; see health_tracker_reason() */
};

const char *health_state_str(enum health_state s);
const char *health_gate_str(enum health_gate g);

struct health_tracker;

/* A tracker for an enclave started at start_ms (monotonic) with n checks
 * (their schedules are copied). min_healthy_ms and health_timeout_ms are the
 * config's deploy.min-healthy-time and deploy.health-timeout. Free with
 * health_tracker_free(). */
struct health_tracker *health_tracker_new(const struct health_check *checks, size_t n,
                                          int64_t start_ms, int64_t min_healthy_ms,
                                          int64_t health_timeout_ms);

void health_tracker_free(struct health_tracker *t);

/* The index of a check due at now_ms and not running, marked as running (so it
 * is not handed out twice until its result is recorded); -1 when none is due. */
int health_tracker_take_due(struct health_tracker *t, int64_t now_ms);

/* The earliest time (monotonic ms) something may change: a check falls due, or
 * a gate's deadline passes. INT64_MAX when nothing is pending (every check
 * running and the gate decided). */
int64_t health_tracker_next_wakeup(const struct health_tracker *t);

/* Records the result of check i, finished at now_ms, and applies it. */
void health_tracker_record(struct health_tracker *t, size_t i, int64_t now_ms,
                           const struct health_result *r);

/* The enclave's status: unhealthy if a check is, healthy if all are, else
 * starting. */
enum health_state health_tracker_state(const struct health_tracker *t);

/* The status of check i. */
enum health_state health_tracker_check_state(const struct health_tracker *t, size_t i);

/* Advances the gates to now_ms and returns the verdict. */
enum health_gate health_tracker_gate(struct health_tracker *t, int64_t now_ms);

/* Why the gate failed ("never healthy in 5m0s: last check: GET /health:
 * connection refused"), or NULL. Borrowed from t. */
const char *health_tracker_reason(const struct health_tracker *t);

/* The last results, oldest first, as API health_log entries
 * ("2026-11-26T10:55:46Z GET /health 200 (3 ms)"): a new strv, caller frees. */
char **health_tracker_log(const struct health_tracker *t);

/* Formats ms as Go does ("5m0s", "1h30m0s", "2s", "1.5s", "300ms") into out. */
void health_duration_str(int64_t ms, char out[32]);

#endif
