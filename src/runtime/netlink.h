/* netlink: an enclave's network made by berth itself over rtnetlink, without
 * helper processes: the bridge (with the gateway addresses, forwarding on),
 * one veth pair per enclave whose inner end is eth0 of the enclave's network
 * namespace, its addresses and routes. What the CNI bridge plugin did, in a
 * few system calls. Blocking; callers serialise operations on one bridge. */
#ifndef BERTH_RUNTIME_NETLINK_H
#define BERTH_RUNTIME_NETLINK_H

#include "common/err.h"

/* The name of enclave netns's host veth: "bv" and 12 hex digits of a hash of
 * its namespace's path (unique per runtime and enclave, and known without a
 * record). out holds 16 bytes. */
void netlink_veth_name(const char *netns, char out[16]);

/* An enclave's attachment. Every string borrowed. */
struct netlink_attach {
	const char *bridge; /* the bridge, made when missing */
	const char *gw4;    /* the bridge's IPv4 address (the enclaves' gateway) */
	int prefix4;        /* the IPv4 subnet's length */
	const char *gw6;    /* the bridge's IPv6 address, or NULL (no IPv6 on it) */
	int prefix6;        /* the IPv6 subnet's length */
	const char *netns;  /* the enclave's network namespace (a pinned path) */
	const char *veth;   /* host end's name (netlink_veth_name()) */
	const char *ip4;    /* eth0's IPv4 address */
	const char *ip6;    /* eth0's IPv6 address, or NULL */
	int default_route;  /* default routes through gw4 (and gw6 with ip6) */
};

/* Makes sure the bridge exists and is up with its gateway addresses, and that
 * the host forwards IPv4 (and IPv6 with gw6): the enclaves' egress, when open,
 * is forwarded. Idempotent. */
int netlink_bridge_ensure(const char *bridge, const char *gw4, int prefix4, const char *gw6,
                          int prefix6, struct err *err);

/* Attaches a->netns to the bridge: the veth pair (host end a->veth on the
 * bridge, up, hairpin mode on as the CNI bridge plugin set it; the other end
 * eth0 in the namespace) with eth0's addresses (IPv6 without duplicate address
 * detection: hairpin mode echoes its probes), eth0 up, default routes when
 * asked. The bridge must exist (netlink_bridge_ensure()). A stale neighbour
 * entry of the host for ip4 (an enclave gone that held it) is dropped. */
int netlink_attach(const struct netlink_attach *a, struct err *err);

/* Removes the veth pair whose host end is veth; absent is success. */
int netlink_detach(const char *veth, struct err *err);

/* Checks an attachment: veth exists and is a port of bridge, eth0 of netns
 * holds ip4. Returns 0, or negative with what differs in err. */
int netlink_check(const char *bridge, const char *veth, const char *netns, const char *ip4,
                  struct err *err);

#endif
