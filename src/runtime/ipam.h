/* ipam: berth's address management for enclaves on one bridge. Each address
 * handed out is a file of the directory, named by the address and holding
 * its owner (the enclave's name), made with O_EXCL under a lock of the
 * directory, so two processes sharing it never hand out one address twice.
 * Addresses are handed out in turn from after the last one given (its file
 * "last4" / "last6"), so an address given back is the last to be reused: an
 * address refused by the enclave's ARP probe (held by someone this directory
 * does not know) is not tried again at once. The first address of each subnet
 * is the bridge's (the gateway). */
#ifndef BERTH_RUNTIME_IPAM_H
#define BERTH_RUNTIME_IPAM_H

#include <netinet/in.h>
#include <stdint.h>

#include "common/err.h"

struct ipam {
	char *dir;        /* owned: where the address files are */
	char *legacy_dir; /* owned or NULL: host-local's files of enclaves made before */
	uint32_t net4;    /* host order */
	int prefix4;
	int has6;
	struct in6_addr net6;
	int prefix6;
};

/* Opens the directory (made 0700) for subnet4 ("A.B.C.D/N") and subnet6 (a
 * CIDR or NULL). legacy_dir (NULL for none): a directory of host-local's
 * files whose addresses are never handed out. */
int ipam_open(struct ipam *ip, const char *dir, const char *legacy_dir, const char *subnet4,
              const char *subnet6, struct err *err);

void ipam_close(struct ipam *ip);

/* The bridge's addresses: the subnets' first. gw6 empty without IPv6. */
void ipam_gateways(const struct ipam *ip, char gw4[INET_ADDRSTRLEN], char gw6[INET6_ADDRSTRLEN]);

/* Hands owner an IPv4 address (in ip4) and, with want6 and an IPv6 subnet,
 * an IPv6 one (in ip6, else empty). A full subnet is an error. */
int ipam_assign(struct ipam *ip, const char *owner, int want6, char ip4[INET_ADDRSTRLEN],
                char ip6[INET6_ADDRSTRLEN], struct err *err);

/* Gives back every address owner holds (host-local's legacy files too);
 * none is success. */
int ipam_release(struct ipam *ip, const char *owner, struct err *err);

#endif
