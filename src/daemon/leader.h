/* leader: which of several berthd on one PostgreSQL runs the reconciler.
 *
 * A thread with a libpq connection of its own tries the session advisory
 * lock LEADER_LOCK_KEY every interval; the berthd whose thread holds it is
 * the leader, the others are followers (they serve the API from the store).
 * The thread tells the loop once, through an event: `elected`. A leader's
 * connection LISTENs on LEADER_CHANNEL; a follower NOTIFYs it
 * (leader_kick()) after it committed a write the reconciler acts on, and
 * each NOTIFY reaches the leader's loop as `kicked`. A leader whose
 * connection breaks can no longer know that it holds the lock (the server
 * frees it with the session): it exits at once with LEADER_EXIT_LOST, so
 * that two leaders never act; its supervisor starts it again, as a
 * follower. The leader's URL is the application_name of the lock's session
 * (pg_stat_activity), so followers can say where it is.
 */
#ifndef BERTH_LEADER_H
#define BERTH_LEADER_H

#include "common/err.h"

struct event_base;
struct leader;

/* docs/operations.md, "Advisory lock keys". */
#define LEADER_LOCK_KEY 2
#define LEADER_CHANNEL  "berth_kick"
/* EX_TEMPFAIL: start me again. */
#define LEADER_EXIT_LOST 75
/* PostgreSQL keeps NAMEDATALEN - 1 bytes of an application_name. */
#define LEADER_URL_MAX 63

/* On the loop thread: this berthd now holds the lock (called once). */
typedef void (*leader_elected_fn)(void *arg);
/* On the loop thread, while leader: a follower asked that the container be
 * looked at (the NOTIFY's payload, "" when it had none). */
typedef void (*leader_kicked_fn)(void *arg, const char *container_id);

struct leader_settings {
	const char *store_url; /* the store's postgres:// URL, copied */
	const char *self_url;  /* this berthd's API, as clients reach it; copied */
	int interval_ms;       /* between a follower's tries; <= 0: 500 */
	leader_elected_fn elected;
	leader_kicked_fn kicked;
	void *arg;
};

/* A leader election on base's loop, not started yet. 0 with *out, or
 * negative with err (a URL longer than LEADER_URL_MAX). */
int leader_new(struct event_base *base, const struct leader_settings *s, struct leader **out,
               struct err *err);

/* Starts the election's thread. 0, or negative with err. */
int leader_start(struct leader *l, struct err *err);

/* Whether this berthd holds the lock (any thread). */
int leader_is_leader(const struct leader *l);

/* The leader's URL as last seen (this berthd's own when it leads), or NULL
 * when none is known; the caller frees it. */
char *leader_url(struct leader *l);

/* A follower's: asks the leader to look at container_id (NOTIFY, from the
 * election's thread, in order). Does nothing on the leader. Loop thread. */
void leader_kick(struct leader *l, const char *container_id);

/* Stops the thread (a leader's lock goes with its connection) and frees l;
 * NULL is fine. */
void leader_free(struct leader *l);

#endif
