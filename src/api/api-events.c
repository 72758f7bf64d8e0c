/* GET /api/v1/events/stream: the org's events as server-sent events. */
#include "api/api-common.h"
#include "api/api-routes.h"
#include "api/sse.h"
#include "daemon/daemon.h"

static void
events_stream(struct api_req *r)
{
	struct berthd *d = api_daemon(r);

	/* The hub owns the request from here until the client goes away, or
	 * answers 429 when the org has its limit of streams open. */
	(void)sse_hub_subscribe(d->hub, r, r->who.org_id);
}

const struct api_route api_routes_events[] = {
    {.method = API_GET,
     .pattern = "/api/v1/events/stream",
     .handler = events_stream,
     .flags = API_LEADER_ONLY},
    {0},
};
