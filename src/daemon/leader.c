#include "daemon/leader.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "store/sqldb.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* The session that holds the lock, by its bigint key: high half in classid,
 * low half in objid, objsubid 1 (PostgreSQL's pg_locks). */
#define LEADER_URL_SQL                                                                             \
	"SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "      \
	"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = " STR(        \
	    LEADER_LOCK_KEY) " AND l.objsubid = 1 AND l.database = "                               \
	                     "(SELECT oid FROM pg_database WHERE datname = current_database())"

struct leader {
	struct event_base *base;  /* borrowed */
	struct leader_settings s; /* store_url and self_url owned */
	char *store_name;         /* owned: the URL without its password */
	struct event *elected_ev; /* owned */
	struct event *kicked_ev;  /* owned */
	pthread_t thread;
	int started;
	_Atomic int stop;
	_Atomic int leading;
	PGconn *conn;         /* owned by the thread */
	int warned;           /* the thread said the store is unreachable */
	pthread_mutex_t lock; /* the fields below */
	pthread_cond_t wake;
	char *url;       /* owned or NULL: the leader's, as last seen */
	char **to_send;  /* owned strv: a follower's kicks, not sent yet */
	char **received; /* owned strv: a leader's, not handed to the loop yet */
};

static void
ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The connection broke while we led: another berthd may hold the lock by
 * now. Acting on would make two leaders; the supervisor starts us again. */
static void
leader_lost(struct leader *l, const char *why)
{
	log_error("leader: %s (%s): exiting (%d) so that another berthd leads", why, l->store_name,
	          LEADER_EXIT_LOST);
	_exit(LEADER_EXIT_LOST);
}

static void
leader_disconnect(struct leader *l)
{
	if (l->conn != NULL)
		PQfinish(l->conn);
	l->conn = NULL;
}

/* Runs sql; 0 when its status is want, else -1 (the result cleared). With
 * out, the first row's first value, copied. */
static int
leader_exec(struct leader *l, const char *sql, ExecStatusType want, char **out)
{
	PGresult *res = PQexec(l->conn, sql);
	int rc = -1;

	if (res != NULL && PQresultStatus(res) == want) {
		rc = 0;
		if (out != NULL)
			*out = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
			           ? xstrdup(PQgetvalue(res, 0, 0))
			           : NULL;
	} else if (!atomic_load(&l->leading)) {
		log_debug("leader: %s: %s", sql, PQerrorMessage(l->conn));
	}
	PQclear(res);
	return rc;
}

/* A connection of its own, LISTENing: a follower drops what it hears, a
 * leader hands it to the loop. Its application_name is our URL. */
static int
leader_connect(struct leader *l)
{
	l->conn = sqldb_pg_connect(l->s.store_url, l->s.self_url);
	if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK) {
		if (!l->warned)
			log_warn("leader: %s: %s", l->store_name,
			         l->conn != NULL ? PQerrorMessage(l->conn) : "out of memory");
		l->warned = 1;
		leader_disconnect(l);
		return -1;
	}
	PQsetNoticeProcessor(l->conn, ignore_notice, NULL);
	if (leader_exec(l, "LISTEN " LEADER_CHANNEL, PGRES_COMMAND_OK, NULL) < 0) {
		leader_disconnect(l);
		return -1;
	}
	l->warned = 0;
	return 0;
}

/* Waits up to ms, or until leader_kick() or leader_free() wakes us. */
static void
leader_sleep(struct leader *l, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	if (l->to_send == NULL && !atomic_load(&l->stop))
		pthread_cond_timedwait(&l->wake, &l->lock, &ts);
	pthread_mutex_unlock(&l->lock);
}

static void
leader_set_url(struct leader *l, char *url)
{
	pthread_mutex_lock(&l->lock);
	free(l->url);
	l->url = url;
	pthread_mutex_unlock(&l->lock);
}

/* What a follower heard: not its business. A leader's: for the loop. */
static void
leader_drain_notifies(struct leader *l)
{
	PGnotify *n;
	int got = 0;

	while ((n = PQnotifies(l->conn)) != NULL) {
		if (atomic_load(&l->leading)) {
			pthread_mutex_lock(&l->lock);
			l->received = strv_push(l->received, n->extra != NULL ? n->extra : "");
			pthread_mutex_unlock(&l->lock);
			got = 1;
		}
		PQfreemem(n);
	}
	if (got)
		event_active(l->kicked_ev, 0, 0);
}

/* A follower's pass: its kicks sent, the lock tried, the leader looked up.
 * -1 when the connection broke. */
static int
leader_follower_pass(struct leader *l)
{
	char **kicks, *got = NULL;

	pthread_mutex_lock(&l->lock);
	kicks = take_ptr(&l->to_send);
	pthread_mutex_unlock(&l->lock);
	for (size_t i = 0; kicks != NULL && kicks[i] != NULL; i++) {
		const char *params[] = {LEADER_CHANNEL, kicks[i]};
		PGresult *res = PQexecParams(l->conn, "SELECT pg_notify($1, $2)", 2, NULL, params,
		                             NULL, NULL, 0);

		/* Lost: the leader's own resync (every few seconds) finds the
		 * write anyway. */
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			log_warn("leader: the kick of container %s did not reach the leader: %s",
			         kicks[i], PQerrorMessage(l->conn));
		PQclear(res);
	}
	strv_free(kicks);
	if (leader_exec(l, "SELECT pg_try_advisory_lock(" STR(LEADER_LOCK_KEY) ")", PGRES_TUPLES_OK,
	                &got) < 0)
		return -1;
	leader_drain_notifies(l);
	if (got != NULL && strcmp(got, "t") == 0) {
		free(got);
		atomic_store(&l->leading, 1);
		leader_set_url(l, xstrdup(l->s.self_url));
		log_info("leader: this berthd (%s) leads: the reconciler starts", l->s.self_url);
		event_active(l->elected_ev, 0, 0);
		return 0;
	}
	free(got);
	got = NULL;
	if (leader_exec(l, LEADER_URL_SQL, PGRES_TUPLES_OK, &got) < 0)
		return -1;
	leader_set_url(l, got);
	return 0;
}

/* A leader's pass: waits for notifications up to the interval, then checks
 * that the session (and with it the lock) is still there. Exits when not. */
static void
leader_leader_pass(struct leader *l)
{
	struct pollfd p = {.fd = PQsocket(l->conn), .events = POLLIN};

	if (p.fd < 0)
		leader_lost(l, "the connection to the store is gone");
	if (poll(&p, 1, l->s.interval_ms) < 0)
		return; /* EINTR */
	if (PQconsumeInput(l->conn) == 0)
		leader_lost(l, "the connection to the store broke");
	leader_drain_notifies(l);
	if (atomic_load(&l->stop))
		return;
	if (leader_exec(l, "SELECT 1", PGRES_TUPLES_OK, NULL) < 0 ||
	    PQstatus(l->conn) != CONNECTION_OK)
		leader_lost(l, "the store stopped answering");
	leader_drain_notifies(l);
}

static void *
leader_main(void *arg)
{
	struct leader *l = arg;

	while (!atomic_load(&l->stop)) {
		if (atomic_load(&l->leading)) {
			leader_leader_pass(l);
			continue;
		}
		if (l->conn == NULL && leader_connect(l) < 0) {
			leader_sleep(l, l->s.interval_ms);
			continue;
		}
		if (leader_follower_pass(l) < 0 && PQstatus(l->conn) != CONNECTION_OK)
			leader_disconnect(l);
		if (!atomic_load(&l->leading))
			leader_sleep(l, l->s.interval_ms);
	}
	leader_disconnect(l);
	return NULL;
}

static void
leader_on_elected(evutil_socket_t fd, short what, void *arg)
{
	struct leader *l = arg;

	(void)fd;
	(void)what;
	l->s.elected(l->s.arg);
}

static void
leader_on_kicked(evutil_socket_t fd, short what, void *arg)
{
	struct leader *l = arg;
	char **ids;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&l->lock);
	ids = take_ptr(&l->received);
	pthread_mutex_unlock(&l->lock);
	for (size_t i = 0; ids != NULL && ids[i] != NULL; i++)
		l->s.kicked(l->s.arg, ids[i]);
	strv_free(ids);
}

int
leader_new(struct event_base *base, const struct leader_settings *s, struct leader **out,
           struct err *err)
{
	struct leader *l;

	*out = NULL;
	if (strlen(s->self_url) > LEADER_URL_MAX)
		return err_make(err, 0, "the replica URL %s is longer than %d bytes", s->self_url,
		                LEADER_URL_MAX);
	l = xcalloc(1, sizeof *l);
	l->base = base;
	l->s = *s;
	l->s.store_url = xstrdup(s->store_url);
	l->s.self_url = xstrdup(s->self_url);
	if (l->s.interval_ms <= 0)
		l->s.interval_ms = 500;
	l->store_name = sqldb_redact(s->store_url);
	l->elected_ev = event_new(base, -1, 0, leader_on_elected, l);
	l->kicked_ev = event_new(base, -1, 0, leader_on_kicked, l);
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	*out = l;
	return 0;
}

int
leader_start(struct leader *l, struct err *err)
{
	int rc = pthread_create(&l->thread, NULL, leader_main, l);

	if (rc != 0)
		return err_make(err, rc, "leader: pthread_create");
	l->started = 1;
	return 0;
}

int
leader_is_leader(const struct leader *l)
{
	return atomic_load(&l->leading);
}

char *
leader_url(struct leader *l)
{
	char *url;

	pthread_mutex_lock(&l->lock);
	url = l->url != NULL ? xstrdup(l->url) : NULL;
	pthread_mutex_unlock(&l->lock);
	return url;
}

void
leader_kick(struct leader *l, const char *container_id)
{
	if (atomic_load(&l->leading))
		return;
	pthread_mutex_lock(&l->lock);
	l->to_send = strv_push(l->to_send, container_id);
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
}

void
leader_free(struct leader *l)
{
	if (l == NULL)
		return;
	atomic_store(&l->stop, 1);
	pthread_mutex_lock(&l->lock);
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	if (l->started)
		pthread_join(l->thread, NULL);
	event_free(l->elected_ev);
	event_free(l->kicked_ev);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->wake);
	free(l->url);
	strv_free(l->to_send);
	strv_free(l->received);
	free(l->store_name);
	free((char *)l->s.store_url);
	free((char *)l->s.self_url);
	free(l);
}
