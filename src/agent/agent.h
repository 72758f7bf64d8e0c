/* agent: berth-agent, the daemon of one host that berthd drives from
 * elsewhere. It serves the reconciler's host operations (recon-host.h) of
 * its own host, the real ones (recon_host_local_new(): runtime, image cache,
 * health checks, its own berth-router), over HTTP with JSON bodies, each
 * request authenticated by the host token (a bearer token shared with
 * berthd, compared in constant time; 401 otherwise). Blocking operations run
 * on workers, never on the loop; a boot is a job the caller polls for its
 * progress and result. It registers with berthd (its capacity) and
 * heartbeats from a thread of its own. Protocol: docs/architecture.md. */
#ifndef BERTH_AGENT_H
#define BERTH_AGENT_H

#include <stdint.h>

#include "common/err.h"

struct agent;

/* berth-agent's settings. Strings borrowed; they outlive the agent. */
struct agent_settings {
	const char *listen_addr; /* the agent's API */
	int listen_port;
	const char *advertise_url; /* how berthd reaches it; NULL: http://LISTEN */
	const char *token_file;    /* the host token */
	char *const *berthd_urls;  /* strv: where to register (each berthd of a replicated
	                            * control plane); NULL: it does not */
	const char *host_id;       /* NULL: the host name */
	int64_t heartbeat_ms;      /* between heartbeats */
	const char *state_dir;
	const char *router_addr; /* its berth-router's listener */
	int router_port;
	const char *router_peer;   /* ADDR:PORT other hosts' routers forward to; NULL: the
	                            * router's listener unless it is loopback or any */
	const char *router_socket; /* NULL: STATE/router.sock */
	const char *router_bin;    /* NULL: beside berth-agent */
	const char *runtime;       /* NULL: detected */
	const char *isolation;     /* the host's default level, or NULL */
	const char *subnet;
	const char *bridge;
	char *const *insecure_registries; /* strv or NULL */
	int gpus;                         /* simulated GPUs, -1: detect */
	int workers;
};

/* Starts the agent: the runtime, its host operations, the API on the
 * listener, the registration thread. 0 with *out, or negative with err
 * (*out then NULL, everything undone). */
int agent_start(const struct agent_settings *s, struct agent **out, struct err *err);

/* Serves until SIGTERM or SIGINT. 0, or negative when the loop failed. */
int agent_run(struct agent *a);

/* Stops serving and frees a; enclaves and the router keep running. NULL is
 * fine. */
void agent_free(struct agent *a);

#endif
