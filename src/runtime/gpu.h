/* gpu: the host's NVIDIA GPU inventory and what a container needs to use some
 * of them.
 *
 * GPUs are found as /dev/nvidia<N> device nodes. A host without GPUs may
 * declare a simulated count: it schedules like a GPU host, but no device is
 * passed to any container (logged loudly). With real GPUs, a CDI spec
 * (kind nvidia.com/gpu in /etc/cdi or /var/run/cdi) is preferred for the
 * container edits; without one, the device nodes themselves are passed. */
#ifndef BERTH_RUNTIME_GPU_H
#define BERTH_RUNTIME_GPU_H

#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

struct gpu_inventory {
	int count;      /* GPUs available for scheduling */
	int simulated;  /* 1 when count is declared, not detected */
	char **devices; /* owned strv: "/dev/nvidia0"... sorted by index */
	char *dev_dir;  /* owned: where the nodes were looked for */
	char *cdi_spec; /* owned: path of the NVIDIA CDI spec, or NULL */
};

/* Scans dev_dir (normally "/dev") for GPUs and cdi_dirs (NULL-terminated, or
 * NULL for the standard ones) for a CDI spec. simulated >= 0 declares that
 * many GPUs when none is found. */
int gpu_inventory_scan(const char *dev_dir, int simulated, const char *const *cdi_dirs,
                       struct gpu_inventory *inv, struct err *err);

void gpu_inventory_free(struct gpu_inventory *inv);

/* The spec edits giving a container the GPUs of the given indices:
 * {"devices": [linux device], "mounts": [mount], "env": ["K=V"]} (new object),
 * or NULL with success when the GPUs are simulated. */
int gpu_edits(const struct gpu_inventory *inv, const int *indices, size_t n, json_t **edits,
              struct err *err);

#endif
