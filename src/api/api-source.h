/* api-source: the API's view of its sources' mirrors. A request that needs a
 * source fetched waits for it at most API_SOURCE_WAIT_MS: the API never waits
 * on a git host. The fetch itself runs in berthd's fetch pool (in its host's
 * lane, in a berth-fetch process with deadlines) and goes on when the request
 * stopped waiting; requests for a source being fetched join that fetch, and
 * a fetch that failed answers the requests of the next API_SOURCE_FAIL_MS
 * with its error at once. Loop thread only. */
#ifndef BERTH_API_SOURCE_H
#define BERTH_API_SOURCE_H

#include <stdint.h>

#include "api/api-server.h"
#include "common/err.h"

struct berthd;
struct api_sources;

#define API_SOURCE_WAIT_MS 800
#define API_SOURCE_FAIL_MS 30000

/* How a wait ended. */
enum api_source_result {
	API_SOURCE_FETCHED, /* the mirror is fresh (or fresh enough) */
	API_SOURCE_STALE,   /* still fetching; the mirror exists from an earlier fetch */
	API_SOURCE_WAITING, /* still fetching; no mirror yet */
	API_SOURCE_FAILED,  /* the fetch failed: err says why */
};

/* Called once on the loop; r is NULL when the client went away meanwhile.
 * age_s is the mirror's age (-1 unknown). err is borrowed for the call. */
typedef void (*api_source_fn)(struct api_req *r, void *arg, enum api_source_result res,
                              int64_t age_s, const struct err *err);

/* Makes sure repo's mirror is at most fresh_ms old (0: fetched for this
 * request, or by a fetch that was running when it came), then calls done.
 * r NULL: berthd's own work, waiting for the fetch to end (no timeout;
 * done gets a NULL request). */
void api_source_fetch(struct api_req *r, struct berthd *d, const char *repo, int64_t fresh_ms,
                      api_source_fn done, void *arg);

/* Frees the sources' table (their fetches must have ended: after the fetch
 * pool was freed). NULL is fine. */
void api_sources_free(struct api_sources *s);

#endif
