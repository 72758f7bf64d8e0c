/* api-routes: the route tables of berthd's HTTP server, one per file. */
#ifndef BERTH_API_ROUTES_H
#define BERTH_API_ROUTES_H

#include "api/api-server.h"

/* GET /, the dashboard's files, GET /healthz (api-web.c). */
extern const struct api_route api_routes_web[];

#endif
