/* GET /metrics: Prometheus text, public. */
#include <stdio.h>
#include <stdlib.h>

#include "api/api-common.h"
#include "api/api-routes.h"
#include "api/sse.h"
#include "common/buf.h"
#include "common/prom.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

static void
metrics_get(struct api_req *r)
{
	static const enum container_status statuses[] = {CONTAINER_DEPLOYING, CONTAINER_RUNNING,
	                                                 CONTAINER_FAILED};
	struct berthd *d = api_daemon(r);
	struct store_container *cs = NULL;
	struct err err = ERR_INIT;
	struct buf b = BUF_INIT;
	size_t n = 0;
	char labels[64];
	int rc;

	if ((rc = store_container_list(d->store, NULL, &cs, &n, &err)) < 0) {
		api_reply_store_error(r, rc, &err);
		return;
	}
	prom_header(&b, "berth_containers", "gauge", "Containers by status, every org.");
	for (size_t s = 0; s < ARRAY_LEN(statuses); s++) {
		size_t count = 0;

		for (size_t i = 0; i < n; i++)
			count += cs[i].status == statuses[s];
		snprintf(labels, sizeof labels, "status=\"%s\"",
		         model_container_status_str(statuses[s]));
		prom_sample(&b, "berth_containers", labels, (double)count);
	}
	store_container_list_free(cs, n);

	prom_header(&b, "berth_updates_total", "counter", "Updates ended, by outcome.");
	prom_sample(&b, "berth_updates_total", "outcome=\"ready\"",
	            (double)d->lc.metrics.updates_ready);
	prom_sample(&b, "berth_updates_total", "outcome=\"failed\"",
	            (double)d->lc.metrics.updates_failed);
	prom_sample(&b, "berth_updates_total", "outcome=\"cancelled\"",
	            (double)d->lc.metrics.updates_cancelled);
	prom_header(&b, "berth_update_duration_seconds", "histogram",
	            "Time from an update's request to its end.");
	prom_hist_write(&b, "berth_update_duration_seconds", "", &d->lc.metrics.update_seconds);
	prom_header(&b, "berth_event_streams", "gauge", "Open event streams.");
	prom_sample(&b, "berth_event_streams", "", (double)sse_hub_count(d->hub));
	prom_header(&b, "berth_api_requests_total", "counter", "API requests answered.");
	prom_sample(&b, "berth_api_requests_total", "", (double)d->metrics.api_requests);
	api_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	buf_free(&b);
}

const struct api_route api_routes_metrics[] = {
    {.method = API_GET, .pattern = "/metrics", .handler = metrics_get, .flags = API_PUBLIC},
    {0},
};
