/* runtime-internal: the runtime context's fields, for the runtime module's own
 * files (enclave.c). */
#ifndef BERTH_RUNTIME_INTERNAL_H
#define BERTH_RUNTIME_INTERNAL_H

#include <pthread.h>

#include "runtime/gpu.h"
#include "runtime/ipam.h"
#include "runtime/oci.h"
#include "runtime/resolve.h"
#include "runtime/runtime.h"

struct runtime {
	char *state_dir;     /* owned */
	char *enclaves_dir;  /* owned: <state_dir>/enclaves */
	char *netns_dir;     /* owned */
	char *bundles_dir;   /* owned: <netns_dir>/../bundles, on tmpfs */
	int bundles_mounted; /* 1: runtime_open() mounted that tmpfs */
	char *bridge;        /* owned */
	char *cgroup_parent; /* owned: "berth", or the settings' */
	char *subnet;        /* owned */
	char *subnet6;       /* owned, NULL: enclaves have no IPv6 */
	char *ipam_dir;      /* owned: <state_dir>/ipam/<bridge> */
	int64_t log_max_bytes;
	/* With copiers_end_with_us: a pipe whose write end only this process
	 * holds (O_CLOEXEC; forked helpers close it), read end given to log
	 * copiers, which see its hang-up when we are gone. -1 otherwise. */
	int lifeline[2];
	struct oci oci;         /* owned: runc or crun, isolation "runc" */
	char *isolation;        /* owned: the default level, "runc" or "gvisor" */
	unsigned userns_base;   /* host id of root in runc enclaves */
	uint32_t upstream_mark; /* the mark the host's connections to enclaves need, or 0 */
	char *runsc;            /* owned: runsc binary */
	char *gvisor_root;      /* owned: runsc's --root, apart from runc's */
	/* gVisor's runtime, opened on first use: gvisor_state 0 untried, 1
	 * usable (gvisor is owned), -1 not (gvisor_error says why). */
	pthread_mutex_t gvisor_lock;
	int gvisor_state;
	struct oci gvisor;
	struct err gvisor_error;
	/* Egress allowlists (egress.h): the DNS server, or why there is none
	 * (dns_error, owned), and when each enclave's names are asked again. */
	struct resolve_server dns;
	char *dns_error;
	int dns_timeout_ms;
	pthread_mutex_t egress_lock;
	struct egress_due *egress_due; /* owned list */
	struct gpu_inventory gpus;     /* owned */
	struct ipam ipam;              /* owned: the enclaves' addresses (ipam.h) */
	char gw4[16], gw6[46];         /* the bridge's addresses (gw6 "" without IPv6) */
	int prefix4, prefix6;          /* the subnets' lengths */
	/* Serialises the network's set-up (the bridge made once) and
	 * operations on one enclave name. */
	pthread_mutex_t lock;
};

/* When the allowlist of enclave name is next asked (egress.c). */
struct egress_due {
	struct egress_due *next;
	char *name;     /* owned */
	int64_t due_ms; /* now_mono_ms() time */
};

/* The OCI runtime of isolation level iso, opening runsc on first use; NULL
 * with err when the level is unknown or unavailable. */
const struct oci *runtime_oci_for(struct runtime *rt, const char *iso, struct err *err);

#endif
