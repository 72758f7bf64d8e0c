/* api-routes: the route tables of berthd's HTTP server, one per file. */
#ifndef BERTH_API_ROUTES_H
#define BERTH_API_ROUTES_H

#include "api/api-server.h"

/* GET /, the dashboard's files, GET /healthz (api-web.c). */
extern const struct api_route api_routes_web[];

/* /api/v1/containers: list, create, get, delete, tags, events (api-containers.c). */
extern const struct api_route api_routes_containers[];

/* /api/v1/containers/{name}/updates: request, list, cancel (api-updates.c). */
extern const struct api_route api_routes_updates[];

/* /api/v1/secrets (api-secrets.c). */
extern const struct api_route api_routes_secrets[];

/* POST /api/v1/orgs (api-orgs.c). */
extern const struct api_route api_routes_orgs[];

/* GET /api/v1/events/stream (api-events.c). */
extern const struct api_route api_routes_events[];

/* GET /metrics (api-metrics.c). */
extern const struct api_route api_routes_metrics[];

/* GET /api/v1/containers/{name}/logs (api-logs.c). */
extern const struct api_route api_routes_logs[];

/* GET /api/v1/host: the host's signing key and runtimes (api-host.c). */
extern const struct api_route api_routes_host[];

/* The agents' register and heartbeat, GET /api/v1/hosts (api-agent.c). */
extern const struct api_route api_routes_agent[];

#endif
