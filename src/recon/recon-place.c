/* recon-place: the choice of a new enclave's host (recon-place.h). */
#include "recon/recon-place.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* What a host lacks for need, first GPUs, then cpus, then memory. */
enum place_lack {
	PLACE_FITS,
	PLACE_GPUS,
	PLACE_CPUS,
	PLACE_MEMORY,
};

static int64_t
free_of(int64_t capacity, int64_t used)
{
	return capacity > used ? capacity - used : 0;
}

static enum place_lack
place_lack_of(const struct place_host *h, const struct place_need *need)
{
	if (need->gpus > 0 && free_of(h->gpus, h->used_gpus) < need->gpus)
		return PLACE_GPUS;
	if (h->cpus > 0 && need->cpus > 0 && free_of(h->cpus, h->used_cpus) < need->cpus)
		return PLACE_CPUS;
	if (h->memory_bytes > 0 && need->memory_bytes > 0 &&
	    free_of(h->memory_bytes, h->used_memory_bytes) < need->memory_bytes)
		return PLACE_MEMORY;
	return PLACE_FITS;
}

static const char *
place_name(const struct place_host *h)
{
	return h->id != NULL ? h->id : "this host";
}

/* Whether a comes before b in the spread: fewer enclaves, then its id. */
static int
place_before(const struct place_host *a, const struct place_host *b)
{
	if (a->enclaves != b->enclaves)
		return a->enclaves < b->enclaves;
	return strcmp(place_name(a), place_name(b)) < 0;
}

/* The sentence of a placement that found no room: the resource most hosts
 * lack in the head, each host with what it has free of what it lacks. */
static int
place_refuse(const struct place_host *hosts, size_t n, const struct place_need *need,
             struct err *err)
{
	size_t count[4] = {0};
	enum place_lack head = PLACE_GPUS;
	char *text, *more;

	if (n == 0)
		return err_make(err, 0, "no host to place the enclave on");
	for (size_t i = 0; i < n; i++)
		count[place_lack_of(&hosts[i], need)]++;
	for (enum place_lack l = PLACE_CPUS; l <= PLACE_MEMORY; l++)
		if (count[l] > count[head])
			head = l;
	switch (head) {
	case PLACE_GPUS:
		text =
		    xasprintf("no host has %d free GPU%s:", need->gpus, need->gpus == 1 ? "" : "s");
		break;
	case PLACE_CPUS:
		text = xasprintf("no host has %" PRId64 " free cpu%s:", need->cpus,
		                 need->cpus == 1 ? "" : "s");
		break;
	default:
		text = xasprintf("no host has %" PRId64 " MiB of free memory:",
		                 need->memory_bytes >> 20);
		break;
	}
	for (size_t i = 0; i < n; i++) {
		const struct place_host *h = &hosts[i];
		enum place_lack l = place_lack_of(h, need);

		if (l == PLACE_GPUS)
			more = xasprintf("%s%s %s has %" PRId64 " GPU%s", text, i ? "," : "",
			                 place_name(h), free_of(h->gpus, h->used_gpus),
			                 free_of(h->gpus, h->used_gpus) == 1 ? "" : "s");
		else if (l == PLACE_CPUS)
			more = xasprintf("%s%s %s has %" PRId64 " cpu%s", text, i ? "," : "",
			                 place_name(h), free_of(h->cpus, h->used_cpus),
			                 free_of(h->cpus, h->used_cpus) == 1 ? "" : "s");
		else
			more = xasprintf("%s%s %s has %" PRId64 " MiB", text, i ? "," : "",
			                 place_name(h),
			                 free_of(h->memory_bytes, h->used_memory_bytes) >> 20);
		free(text);
		text = more;
	}
	err_make(err, 0, "%s", text);
	free(text);
	return -1;
}

int
recon_place(const struct place_host *hosts, size_t n, const struct place_need *need, int prefer,
            struct err *err)
{
	int best = -1;

	if (prefer >= 0 && (size_t)prefer < n && place_lack_of(&hosts[prefer], need) == PLACE_FITS)
		return prefer;
	for (size_t i = 0; i < n; i++) {
		if (place_lack_of(&hosts[i], need) != PLACE_FITS)
			continue;
		if (best < 0 || place_before(&hosts[i], &hosts[best]))
			best = (int)i;
	}
	if (best < 0)
		return place_refuse(hosts, n, need, err);
	return best;
}
