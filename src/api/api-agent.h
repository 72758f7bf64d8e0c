/* api-agent: the hosts berthd knows through their berth-agent: what each
 * registered (its capacity) and when it last heartbeat. Kept in memory in
 * this increment (an agent registers again when berthd forgot it: its
 * heartbeat is answered 404). Loop thread only. */
#ifndef BERTH_API_AGENT_H
#define BERTH_API_AGENT_H

#include <stdint.h>

struct api_hosts;

/* The registry of hosts whose agents present token (copied, wiped on free);
 * a host silent for timeout_ms is unreachable. expected_urls (a strv,
 * copied, or NULL) are the --agent berthd drives: listed before they
 * register. */
struct api_hosts *api_hosts_new(const char *token, int64_t timeout_ms, char *const *expected_urls);

struct event_base;
struct recon;

/* From now on, a registered host silent past the timeout is told to recon
 * as lost (recon_host_set_lost), once, on a timer of base; one that
 * registers or heartbeats again is told back. recon is borrowed and
 * outlives the watch (api_hosts_free ends it). */
void api_hosts_watch(struct api_hosts *hs, struct event_base *base, struct recon *recon);

/* NULL is fine. */
void api_hosts_free(struct api_hosts *hosts);

#endif
