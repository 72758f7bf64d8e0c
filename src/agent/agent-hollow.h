/* agent-hollow: the hollow runtime of berth-agent (`--runtime hollow`), a
 * benchmark and test tool, never chosen unless asked for. As Kubernetes'
 * kubemark, it runs no enclave at all: a boot "starts" one by opening a
 * listening socket on a loopback address of its own (taken from the agent's
 * --subnet, which must lie in 127.0.0.0/8) at the config's
 * shim.upstream-port, answered from the agent's own event loop (HTTP/1.1,
 * keep-alive: 200 with the enclave's name for `/` and `/health`, 404
 * otherwise), so health checks and routed traffic are real HTTP; destroy
 * closes it; list and adopt answer from memory; exec succeeds at once with
 * no output. No image is pulled, no runc, namespace, bridge or firewall is
 * touched. Its enclaves live as long as the agent process: an agent
 * restarted has none (berthd then replaces them). The router operations
 * are those of the host given (a real berth-router), or none. */
#ifndef BERTH_AGENT_HOLLOW_H
#define BERTH_AGENT_HOLLOW_H

#include <event2/event.h>

#include "common/err.h"
#include "recon/recon-host.h"

/* A hollow host on base (borrowed; its listeners and connections run
 * there), its enclaves' addresses from subnet (an IPv4 CIDR inside
 * 127.0.0.0/8), gpus simulated GPUs, the router operations forwarded to
 * router (borrowed, a host of recon_host_local_new() without a runtime).
 * Returns 0 with *out (free with agent_hollow_free()), or negative with err
 * (the subnet is not loopback). */
int agent_hollow_new(struct event_base *base, const char *subnet, int gpus,
                     struct recon_host *router, struct recon_host **out, struct err *err);

/* Closes every listener and connection of h and frees it; on the loop's
 * thread, once no worker runs. NULL is fine. */
void agent_hollow_free(struct recon_host *h);

#endif
