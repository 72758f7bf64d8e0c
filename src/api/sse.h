/* sse: server-sent event streams of the org's events (GET /events/stream).
 *
 * The hub keeps the open streams of every org; publishing an event writes it
 * to each stream of that org at once. A stream ends when its client goes away
 * or the hub is freed. Loop thread only.
 */
#ifndef BERTH_SSE_H
#define BERTH_SSE_H

#include <stdint.h>

struct event_base;
struct evhttp_request;
struct sse_hub;

/* A new hub on base; a comment line keeps idle streams alive every
 * keepalive_ms. */
struct sse_hub *sse_hub_new(struct event_base *base, int64_t keepalive_ms);

/* Answers req with a text/event-stream for org_id and keeps it open. */
void sse_hub_subscribe(struct sse_hub *hub, struct evhttp_request *req, const char *org_id);

/* Sends one event (id, kind as the SSE event name, data a JSON text) to every
 * stream of org_id. */
void sse_hub_publish(struct sse_hub *hub, const char *org_id, int64_t id, const char *kind,
                     const char *json);

/* Open streams, all orgs. */
int sse_hub_count(const struct sse_hub *hub);

/* Ends every stream and frees hub. */
void sse_hub_free(struct sse_hub *hub);

#endif
