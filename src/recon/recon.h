/* recon: the reconciler. It compares the desired state in the store (written
 * by the API) with what runs, and takes the next step of every container's
 * state machine: image pulls, enclave boots, health checks, router switches,
 * drains, stops. Every transition is written to the store before its side
 * effect; side effects are idempotent and named from the deployment, so a
 * restart resumes where it stopped (DESIGN.md, "How a change flows").
 * Loop thread only; blocking work runs on the daemon's workq.
 */
#ifndef BERTH_RECON_H
#define BERTH_RECON_H

#include "common/err.h"

struct berthd;
struct recon;
struct runtime;

/* A reconciler for the daemon d (borrowed). */
int recon_new(struct berthd *d, struct recon **out, struct err *err);

/* Adopts running enclaves, removes orphans, resumes every unfinished update
 * and pending delete; then keeps reconciling. */
int recon_start(struct recon *r, struct err *err);

/* The desired state of container_id changed (created, updated, cancelled,
 * deleted): look at it again soon. */
void recon_kick(struct recon *r, const char *container_id);

/* The host runtime r drives (borrowed, r's lifetime), for what the API asks
 * of it: which isolation levels this host offers. */
struct runtime *recon_runtime(const struct recon *r);

/* Frees r; running enclaves are left running. */
void recon_free(struct recon *r);

#endif
