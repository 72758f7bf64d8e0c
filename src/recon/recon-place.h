/* recon-place: where a new enclave runs. A pure function of the hosts'
 * capacity and what their live enclaves hold, so that its rules can be
 * walked by a unit test: GPUs are exclusive per host, cpus and memory stay
 * within a host's capacity, and otherwise enclaves spread (the host with the
 * fewest, ties by id). */
#ifndef BERTH_RECON_PLACE_H
#define BERTH_RECON_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* One host as placement sees it. */
struct place_host {
	const char *id; /* borrowed; NULL: berthd's own host (shown as "this host") */
	/* Capacity; cpus and memory_bytes 0 when the host did not say (not
	 * bounded). */
	int64_t cpus;
	int64_t memory_bytes;
	int gpus;
	/* What its live enclaves hold (their configs' cpus, memory, GPUs). */
	int64_t used_cpus;
	int64_t used_memory_bytes;
	int used_gpus;
	size_t enclaves;
};

/* What the new enclave asks (its config's cpus, memory and GPUs; 0 for
 * what it does not ask). */
struct place_need {
	int64_t cpus;
	int64_t memory_bytes;
	int gpus;
};

/* Chooses the host of a new enclave among hosts[0..n): prefer (an index, or
 * -1) when it has room (a blue-green update stays on its host when it can),
 * else the host with room that runs the fewest enclaves, ties by id.
 * Returns the chosen index, or -1 with err saying why no host has room
 * ("no host has 2 free GPUs: a has 0, b has 1"). */
int recon_place(const struct place_host *hosts, size_t n, const struct place_need *need, int prefer,
                struct err *err);

#endif
