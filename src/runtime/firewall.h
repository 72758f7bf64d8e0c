/* firewall: the network boundary of each enclave, as nftables rules.
 *
 * Every enclave gets two tables of its own, `inet berth-<enclave>` and
 * `bridge berth-<enclave>`, written in one `nft -f` transaction and removed
 * with the enclave:
 *   - bridge forward: nothing the enclave's veth sends reaches another port
 *     of the bridge, nothing from another port reaches it (no enclave talks
 *     to another, of any org), but ARP, which the kernel alone speaks (no
 *     container holds NET_RAW) and which finds an address held twice;
 *   - bridge input: only IPv4 and ARP from the enclave's own address
 *     reach the host (no spoofed source); IPv6 only from its own IPv6
 *     address, and neighbour discovery from its link-local one (no IPv6
 *     at all when it has no IPv6 address);
 *   - inet input: from the enclave's address the host accepts replies only
 *     (the router's and health checks' connections into the enclave); a new
 *     connection to any address or port of the host is dropped;
 *   - inet forward: no egress (closed): nothing from the enclave is routed
 *     anywhere, nothing is routed to it. Egress open: its own connections
 *     are routed and masqueraded (inet postrouting) out of any interface
 *     but its bridge, never to a link-local address (169.254/16: cloud
 *     metadata; fe80::/10), and their replies come back; nothing else is
 *     routed to it. Egress allowlist: as open, but only to the addresses of
 *     the sets `allow4` and `allow6` (what berth resolved for the allowed
 *     names, A and AAAA, resolve.h);
 *     any other new connection is rejected (an ICMP admin-prohibited, a
 *     quick failure); connections opened while allowed keep going when
 *     their address leaves the set;
 *   - IPv6: an enclave whose egress is open or an allowlist has an IPv6
 *     address (a ULA of the bridge's subnet, runtime.h) when the host has
 *     IPv6, and every rule above has its IPv6 twin (ip6 saddr/daddr), NAT
 *     (masquerade) included; a closed enclave has none (the bridge input
 *     drops every IPv6 frame of its veth);
 *   - inet output (with an upstream mark): a new connection from the host
 *     to the enclave without the mark (berth-router's and the health
 *     checks' sockets carry it, SO_MARK) is refused: only they reach its
 *     ports.
 * The rules are kernel state: they outlive berthd and are re-applied when an
 * enclave is adopted. Blocking (runs nft); thread-safe. */
#ifndef BERTH_RUNTIME_FIREWALL_H
#define BERTH_RUNTIME_FIREWALL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct firewall_enclave {
	const char *name;   /* borrowed: the enclave's name */
	const char *bridge; /* borrowed: the bridge it is attached to */
	const char *veth;   /* borrowed: the host side of its veth */
	const char *ip;     /* borrowed: its IPv4 address */
	const char *ip6;    /* borrowed: its IPv6 address, or NULL (none) */
	int egress_open;    /* its containers open connections out of the host */
	int allowlist;      /* with egress_open: only to the addresses of allow */
	char *const *allow; /* borrowed: IPv4 (dotted) and IPv6 addresses, n_allow */
	size_t n_allow;
	uint32_t upstream_mark; /* non-zero: the host's new connections to it need it */
};

/* The ruleset of fe as nft input (owned), for firewall_apply() and tests. */
char *firewall_ruleset(const struct firewall_enclave *fe);

/* Installs (or replaces, atomically) the tables of fe. */
int firewall_apply(const struct firewall_enclave *fe, struct err *err);

/* Replaces the addresses of the allowlist sets of enclave name by
 * allow[0..n) (IPv4 into allow4, IPv6 into allow6) in one transaction (no
 * moment without either set). */
int firewall_set_allow(const char *name, char *const *allow, size_t n, struct err *err);

/* Removes the tables of enclave name; absent tables are success. */
int firewall_remove(const char *name, struct err *err);

/* Whether both tables of enclave name are installed: 1 yes, 0 no (or only
 * one), -1 error. */
int firewall_present(const char *name, struct err *err);

#endif
