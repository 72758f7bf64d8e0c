/* runtime: the host runtime context shared by every enclave operation: the
 * settings, the chosen OCI runtime, the network (bridge, addresses) and the GPU
 * inventory.
 * Open one per berthd; every function taking it is blocking and thread-safe.
 *
 * Layout on disk:
 *   <state_dir>/enclaves/<enclave>/enclave.json   what was asked (written first)
 *   <state_dir>/enclaves/<enclave>/net.json       its veth and addresses
 *   <state_dir>/enclaves/<enclave>/<container>/   upper/ and work/ of the
 *       overlay rootfs (the image rootfs below), log and log.1 (stdout and
 *       stderr, capped, secret values replaced)
 *   <netns_dir>/../bundles/<enclave>/             hosts, resolv.conf (0711:
 *       crossed by the containers' setup in their user namespace)
 *   <netns_dir>/../bundles/<enclave>/<container>/ OCI bundle: config.json
 *       (0600: it holds secret values, on tmpfs, never on disk), rootfs (the
 *       overlay's mount point), pid, oci.log (the runtime's own)
 *   <state_dir>/ipam/<bridge>/                    the addresses handed out
 *       (ipam.h); <state_dir>/cni/<bridge>/: those of enclaves made with
 *       CNI's host-local before, never handed out while they last
 *   <oci_root>                                    runc/crun --root
 *   <netns_dir>/<enclave>, <enclave>.user         pinned network and user
 *       namespaces (runc enclaves: the network one is owned by the user one)
 *   /sys/fs/cgroup/.../berth/<enclave>/<container> cgroups: the enclave's
 *       limits on the parent, the container's on its own
 *   nftables tables inet and bridge berth-<enclave> (runtime/firewall.h;
 *       egress open adds a nat chain, an upstream mark an output chain,
 *       an allowlist the sets allow4 and allow6) */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include <stdint.h>

#include "common/err.h"
#include "runtime/gpu.h"

struct runtime_settings {
	const char *state_dir;   /* required: berth's state directory */
	const char *oci_runtime; /* "runc", "crun", a path, or NULL to detect */
	const char *oci_root;    /* NULL: /run/berth/oci */
	const char *netns_dir;   /* NULL: /run/berth/netns; this runtime's own */
	const char *bridge;      /* NULL: berth0 */
	/* The cgroup below which each enclave's is made, NULL: "berth". Two
	 * runtimes on one kernel (two agents of one machine) need their own:
	 * an enclave's name is its deployment's, the same on every host. */
	const char *cgroup_parent;
	const char *subnet;        /* NULL: 10.213.0.0/16 */
	const char *subnet6;       /* enclaves' IPv6 (egress open or allowlist): a
	                            * CIDR, "none", or NULL: the ULA fd62:AABB:CCDD::/64
	                            * of subnet A.B.C.D when the host has a default
	                            * IPv6 route, else none */
	const char *dev_dir;       /* NULL: /dev (GPU detection) */
	int gpus_simulated;        /* GPUs to declare when none is found; 0 for none */
	int64_t log_max_bytes;     /* per log file, 0: 1 MiB; one rotated file is kept */
	const char *isolation;     /* "runc" (NULL) or "gvisor": for specs that name none */
	const char *runsc;         /* gVisor's runtime, NULL: "runsc" on PATH */
	unsigned userns_base;      /* host id of enclave root (runc), 0: RUNTIME_USERNS_BASE */
	uint32_t upstream_mark;    /* non-zero: a new connection from the host to an
	                            * enclave needs this socket mark (SO_MARK), which
	                            * berth-router and the health checks set
	                            * (BERTH_UPSTREAM_MARK); 0: any host process
	                            * reaches enclaves (tests, bench) */
	const char *egress_dns;    /* the DNS server berth asks for egress allowlists:
	                            * "IP[:PORT]" ("[IPv6]:PORT"), NULL: the first
	                            * nameserver of /etc/resolv.conf (resolve.h) */
	int egress_dns_timeout_ms; /* per batch of lookups, 0: RESOLVE_TIMEOUT_MS */
	int probe_isolation;       /* find out at open which levels work, so that
	                            * runtime_isolation_available() never blocks */
	int copiers_end_with_us;   /* log copiers exit when this process does (berthd:
	                            * the next one starts them again when it adopts
	                            * the enclave); 0: they live as long as the
	                            * container's output (a CLI that exits at once) */
};

/* Enclaves at isolation runc run in a user namespace mapping their ids
 * 0-65535 to this range of the host (docs/security.md): one range per host,
 * far above any uid a distribution gives out. */
#define RUNTIME_USERNS_BASE  1073741824u
#define RUNTIME_USERNS_COUNT 65536u

struct runtime;

/* Opens the runtime: validates settings, creates directories, detects the OCI
 * runtime and the GPUs. *out is freed with runtime_close(). */
int runtime_open(const struct runtime_settings *s, struct runtime **out, struct err *err);

/* Releases the context; enclaves keep running (with copiers_end_with_us,
 * their log copiers end, and their logs wait in the FIFO). */
void runtime_close(struct runtime *rt);

/* The isolation level enclaves get when their spec names none: "runc" (the
 * hardened OCI runtime, runc or crun) or "gvisor" (runsc). */
const char *runtime_isolation(const struct runtime *rt);

/* Whether this host can run enclaves at isolation level iso ("runc",
 * "gvisor"): 1 yes, 0 no with the reason in err. Unless the runtime was
 * opened with probe_isolation, the first question about gvisor probes runsc
 * (it runs a container: about a second). */
int runtime_isolation_available(struct runtime *rt, const char *iso, struct err *err);

/* What the runtime of isolation level iso said of itself ("runc version
 * 1.1.12", the first line of its --version), or NULL when this host does not
 * offer iso. Borrowed from rt. Blocks as runtime_isolation_available(). */
const char *runtime_version(struct runtime *rt, const char *iso);

/* The host id that owns an image rootfs (and is root inside) of an enclave
 * at isolation level iso: the user namespace range's base for runc, 0 for
 * gvisor (whose kernel keeps ids its own) and for enclaves with GPUs (no
 * user namespace yet: device nodes cannot be made in one). Unpack images
 * with image_unpack_shifted() by this much when it is not 0. */
unsigned runtime_rootfs_owner(const struct runtime *rt, const char *iso, int gpus);

/* "runc" or "crun": the OCI runtime in use. */
const char *runtime_oci_name(const struct runtime *rt);

/* The GPU inventory (borrowed). */
const struct gpu_inventory *runtime_gpus(const struct runtime *rt);

#endif
