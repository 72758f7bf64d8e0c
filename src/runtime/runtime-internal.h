/* runtime-internal: the runtime context's fields, for the runtime module's own
 * files (enclave.c). */
#ifndef BERTH_RUNTIME_INTERNAL_H
#define BERTH_RUNTIME_INTERNAL_H

#include <pthread.h>

#include "runtime/cni.h"
#include "runtime/gpu.h"
#include "runtime/oci.h"
#include "runtime/runtime.h"

struct runtime {
	char *state_dir;      /* owned */
	char *enclaves_dir;   /* owned: <state_dir>/enclaves */
	char *netns_dir;      /* owned */
	char *bundles_dir;    /* owned: <netns_dir>/../bundles, on tmpfs */
	char *cni_plugin_dir; /* owned */
	char *bridge;         /* owned */
	char *subnet;         /* owned */
	char *ipam_dir;       /* owned */
	int64_t log_max_bytes;
	struct oci oci;            /* owned */
	struct gpu_inventory gpus; /* owned */
	struct cni_net net;        /* borrows the strings above */
	/* Serialises CNI calls (bridge creation races between plugins) and
	 * operations on one enclave name. */
	pthread_mutex_t lock;
};

#endif
