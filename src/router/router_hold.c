/* router_hold: requests whose route is held. They wait on the worker's queue,
 * oldest first, up to the route's hold_timeout_ms (then 503, from
 * router_conn.c's timer); a full queue or a stopping worker answers 503 at
 * once. A new table routes them again in the order they came: those whose
 * route serves go on, those still held keep their deadline. A serving route
 * with hold_refused holds a request every upstream refused the same way.
 */
#include "common/util.h"
#include "router/router-conn-int.h"

/* The request goes on with the worker's current table. */
static void
conn_retable(struct conn *c)
{
	route_table_unref(c->table);
	c->table = route_table_ref(c->w->table);
	c->route = c->host[0] ? route_table_lookup(c->table, c->host) : c->table->any;
}

static int
hold_enqueue(struct conn *c, int64_t ms)
{
	struct worker *w = c->w;

	if (w->nheld >= w->r->set.hold_queue_max || w->stopping)
		return -1;
	router_conn_set_state(c, CS_HELD);
	TAILQ_INSERT_TAIL(&w->held, c, hold_link);
	w->nheld++;
	STAT_INC(w->held_now);
	router_conn_timer_set_ms(c, ms);
	return 0;
}

void
router_hold_start(struct conn *c)
{
	if (hold_enqueue(c, c->route->hold_timeout_ms) < 0)
		router_conn_reply(c, 503, 0);
}

int
router_hold_refused(struct conn *c)
{
	int64_t now = now_mono_ms();

	if (c->refused_until_ms == 0)
		c->refused_until_ms = now + c->route->hold_timeout_ms;
	if (now >= c->refused_until_ms) {
		router_conn_reply(c, 503, 0); /* as a held request's timeout */
		return 0;
	}
	/* The next table's upstreams are all untried. */
	c->tried = 0;
	c->ntries = 0;
	if (c->table != c->w->table) {
		/* Refused by a table already replaced: the next one is here. */
		conn_retable(c);
		if (c->route == NULL)
			router_conn_reply(c, 404, 0);
		else
			router_conn_route(c);
		return 0;
	}
	return hold_enqueue(c, c->refused_until_ms - now);
}

void
router_hold_end(struct conn *c)
{
	struct worker *w = c->w;

	TAILQ_REMOVE(&w->held, c, hold_link);
	w->nheld--;
	STAT_ADD(w->held_now, (uint64_t)-1);
	router_conn_set_state(c, CS_CONNECT); /* transient: no longer held, not yet anywhere */
	event_del(&c->timer);
}

void
router_hold_table_changed(struct worker *w)
{
	struct conn_list held;
	struct conn *c;

	/* Held requests go on, in the order they came, if their route serves. */
	TAILQ_INIT(&held);
	while ((c = TAILQ_FIRST(&w->held)) != NULL) {
		TAILQ_REMOVE(&w->held, c, hold_link);
		TAILQ_INSERT_TAIL(&held, c, hold_link);
	}
	while ((c = TAILQ_FIRST(&held)) != NULL) {
		TAILQ_REMOVE(&held, c, hold_link);
		TAILQ_INSERT_TAIL(&w->held, c, hold_link); /* so that unhold finds it */
		conn_retable(c);
		if (c->route != NULL && c->route->mode == ROUTE_HOLD)
			continue; /* still held, its deadline unchanged */
		router_hold_end(c);
		if (c->route == NULL)
			router_conn_reply(c, 404, 0);
		else
			router_conn_route(c);
		if (c->state == CS_HEAD)
			router_conn_process(c);
	}
}
