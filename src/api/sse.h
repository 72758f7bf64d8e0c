/* sse: server-sent event streams of the org's events (GET /events/stream).
 *
 * The hub keeps the open streams of every org; publishing an event writes it
 * to each stream of that org at once. A stream ends when its client goes away
 * or the hub is freed, or when its client reads so slowly that what waits for
 * it passes the hub's bound: that stream alone is dropped (its connection
 * closed), the others go on. Loop thread only.
 */
#ifndef BERTH_SSE_H
#define BERTH_SSE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct api_req;
struct sse_hub;

/* Defaults of struct sse_limits. */
#define SSE_MAX_PER_ORG_DEFAULT  64
#define SSE_MAX_BUFFERED_DEFAULT (1024 * 1024)

/* What the hub allows. */
struct sse_limits {
	int max_per_org;     /* open streams of one org at most (0: no limit) */
	size_t max_buffered; /* bytes waiting for one reader at most (0: no limit) */
};

/* A new hub on base with limits (NULL: the defaults); a comment line keeps
 * idle streams alive every keepalive_ms. */
struct sse_hub *sse_hub_new(struct event_base *base, int64_t keepalive_ms,
                            const struct sse_limits *limits);

/* Answers r with a text/event-stream for org_id and keeps it open; the hub
 * owns r from here (it is released). When the org has max_per_org streams
 * open, answers 429 instead. Returns 0 for a stream, -1 for a 429. */
int sse_hub_subscribe(struct sse_hub *hub, struct api_req *r, const char *org_id);

/* Sends one event (id, kind as the SSE event name, data a JSON text) to every
 * stream of org_id. */
void sse_hub_publish(struct sse_hub *hub, const char *org_id, int64_t id, const char *kind,
                     const char *json);

/* Open streams, all orgs. */
int sse_hub_count(const struct sse_hub *hub);

/* Streams dropped so far because their reader fell behind. */
uint64_t sse_hub_dropped(const struct sse_hub *hub);

/* Ends every stream and frees hub. */
void sse_hub_free(struct sse_hub *hub);

#endif
