/* cni: attaches network namespaces to berth's bridge by running the CNI
 * plugins (containernetworking-plugins) as the CNI spec 1.0 says: the plugin
 * binary with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH in
 * its environment and the network config JSON on stdin.
 *
 * One network per namespace: `bridge` with `host-local` IPAM (eth0); lo is
 * set up by berth itself (linux_netns_lo_up(): one process less per boot). The bridge holds the
 * gateway address so the host reaches every enclave; ipMasq is off: an enclave whose egress is open
 * is masqueraded by its own firewall table (firewall.h). */
#ifndef BERTH_RUNTIME_CNI_H
#define BERTH_RUNTIME_CNI_H

#include "common/err.h"

struct cni_net {
	const char *plugin_dir; /* borrowed: where the plugin binaries are (CNI_PATH) */
	const char *bridge;     /* borrowed: bridge name, also the CNI network name */
	const char *subnet;     /* borrowed: IPv4 CIDR handed out by host-local */
	const char *subnet6;    /* borrowed: IPv6 CIDR (a ULA) for enclaves with a
	                         * default route, or NULL (no IPv6) */
	const char *ipam_dir;   /* borrowed: host-local's data directory */
};

/* Attaches netns (a path) for container id: eth0 on the bridge. On
 * success *result is the bridge plugin's result JSON (owned; keep it for
 * cni_detach), *ip the namespace's IPv4 address without prefix (owned), *ip6
 * its IPv6 one or NULL. default_route: the namespace's default routes go
 * through the bridge's addresses (isDefaultGateway), and with a subnet6 it
 * has an IPv6 address; without it, only the IPv4 subnet is routed. */
int cni_attach(const struct cni_net *net, const char *id, const char *netns, int default_route,
               char **result, char **ip, char **ip6, struct err *err);

/* The first address of family (AF_INET, AF_INET6) in a CNI result, without
 * its prefix (owned), or NULL. */
char *cni_result_address(const char *result, int family);

/* Detaches id: releases its address and removes its veth. prev_result (the
 * ADD result, or NULL) is passed as prevResult. Absent pieces are success. */
int cni_detach(const struct cni_net *net, const char *id, const char *netns,
               const char *prev_result, struct err *err);

/* Asks the bridge plugin to CHECK the attachment against prev_result. */
int cni_check(const struct cni_net *net, const char *id, const char *netns, const char *prev_result,
              struct err *err);

#endif
