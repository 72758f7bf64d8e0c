/* netlink: bridge, veth pairs, addresses and routes over rtnetlink. */
#include "runtime/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/linux.h"

/* One request: small, fixed, aligned for the headers it holds. */
struct nl_req {
	union {
		struct nlmsghdr h;
		char raw[1024];
	} u;
};

void
netlink_veth_name(const char *netns, char out[16])
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)netns; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	snprintf(out, 16, "bv%012llx", (unsigned long long)(h & 0xffffffffffffULL));
}

/* Starts a request of type with flags and a family header of len bytes
 * (zeroed); returns that header. */
static void *
nl_start(struct nl_req *r, uint16_t type, uint16_t flags, size_t len)
{
	memset(r, 0, sizeof *r);
	r->u.h.nlmsg_type = type;
	r->u.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->u.h.nlmsg_len = NLMSG_LENGTH(len);
	return NLMSG_DATA(&r->u.h);
}

/* Appends an attribute; the requests are fixed and far below the buffer's
 * size, so running out of room is a broken invariant. */
static struct rtattr *
nl_attr(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	size_t at = NLMSG_ALIGN(r->u.h.nlmsg_len);
	struct rtattr *a = (struct rtattr *)(r->u.raw + at);

	if (at + RTA_SPACE(len) > sizeof r->u.raw)
		abort();
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	r->u.h.nlmsg_len = (uint32_t)(at + RTA_ALIGN(a->rta_len));
	return a;
}

static void
nl_attr_str(struct nl_req *r, uint16_t type, const char *s)
{
	nl_attr(r, type, s, strlen(s) + 1);
}

static void
nl_attr_u32(struct nl_req *r, uint16_t type, uint32_t v)
{
	nl_attr(r, type, &v, sizeof v);
}

/* A nested attribute: opened empty, closed by nl_nest_end(). */
static struct rtattr *
nl_nest(struct nl_req *r, uint16_t type)
{
	return nl_attr(r, type, NULL, 0);
}

static void
nl_nest_end(struct nl_req *r, struct rtattr *a)
{
	a->rta_len = (unsigned short)(r->u.raw + r->u.h.nlmsg_len - (char *)a);
}

/* Room for a raw header inside a nest (veth's peer ifinfomsg). */
static void *
nl_reserve(struct nl_req *r, size_t len)
{
	void *p = r->u.raw + NLMSG_ALIGN(r->u.h.nlmsg_len);

	r->u.h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(r->u.h.nlmsg_len) + NLMSG_ALIGN(len));
	return p;
}

/* A route netlink socket in netns, or the calling thread's own with NULL. */
static int
nl_open(const char *netns, struct err *err)
{
	int fd = netns != NULL ? linux_socket_in(netns, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, err)
	                       : socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0 && netns == NULL)
		return err_make(err, errno, "netlink socket");
	return fd;
}

/* Sends the request and waits for its acknowledgement: 0, or the kernel's
 * answer as -errno. Each message before it (a get's answer) goes to
 * on_msg (may be NULL) with arg. */
static int
nl_exchange(int fd, struct nl_req *r, void (*on_msg)(const struct nlmsghdr *h, void *arg),
            void *arg)
{
	static const struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	char buf[8192] __attribute__((aligned(4)));

	r->u.h.nlmsg_seq = 1;
	if (sendto(fd, r->u.raw, r->u.h.nlmsg_len, 0, (const struct sockaddr *)&kernel,
	           sizeof kernel) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (on_msg != NULL)
				on_msg(h, arg);
		}
	}
}

static int
nl_talk(int fd, struct nl_req *r)
{
	return nl_exchange(fd, r, NULL, NULL);
}

/* Sets ifindex up, through fd's namespace. */
static int
link_up(int fd, int ifindex)
{
	struct nl_req r;
	struct ifinfomsg *ifi = nl_start(&r, RTM_NEWLINK, 0, sizeof *ifi);

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(fd, &r);
}

/* Sets the MAC address of ifindex, through fd's namespace. */
static int
link_set_address(int fd, int ifindex, const unsigned char mac[6])
{
	struct nl_req r;
	struct ifinfomsg *ifi = nl_start(&r, RTM_NEWLINK, 0, sizeof *ifi);

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	nl_attr(&r, IFLA_ADDRESS, mac, 6);
	return nl_talk(fd, &r);
}

/* A bridge's MAC address must be set, not left to follow the lowest of its
 * ports': when that port goes (an enclave destroyed) the gateway's address
 * changes under every other enclave, whose ARP entry of it is then stale
 * while their traffic keeps confirming it, so their answers to the host go
 * nowhere (a request in flight waited out its client's timeout). A new
 * bridge is made with a random local address (netlink_bridge_ensure()); one
 * found there, made before this rule, seen in sysfs as this namespace's (same ifindex)
 * with an address never set (addr_assign_type NET_ADDR_SET, 3, of
 * linux/netdevice.h), gets the address it has set. */
static int
bridge_pin_address(int fd, int ifindex, const char *bridge)
{
	char path[128];
	int type = -1, index = -1, sock, rc;
	struct ifreq ifr = {0};
	FILE *f;

	snprintf(path, sizeof path, "/sys/class/net/%s/ifindex", bridge);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%d", &index) != 1)
			index = -1;
		fclose(f);
	}
	snprintf(path, sizeof path, "/sys/class/net/%s/addr_assign_type", bridge);
	if (index == ifindex && (f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	if (index != ifindex || type == 3 || type < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", bridge);
	if ((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	rc = ioctl(sock, SIOCGIFHWADDR, &ifr) < 0 ? -errno : 0;
	close(sock);
	if (rc < 0)
		return rc;
	return link_set_address(fd, ifindex, (const unsigned char *)ifr.ifr_hwaddr.sa_data);
}

/* Adds addr/prefix to ifindex; an address already there is success. */
static int
addr_add(int fd, int ifindex, const char *addr, int prefix)
{
	struct nl_req r;
	struct ifaddrmsg *ifa = nl_start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
	unsigned char a[16];
	int family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET, rc;

	if (inet_pton(family, addr, a) != 1)
		return -EINVAL;
	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_index = (unsigned)ifindex;
	if (family == AF_INET) {
		uint32_t bcast, host = prefix < 32 ? 0xffffffffu >> prefix : 0;

		memcpy(&bcast, a, 4);
		bcast |= htonl(host);
		nl_attr(&r, IFA_LOCAL, a, 4);
		nl_attr(&r, IFA_ADDRESS, a, 4);
		if (prefix < 31)
			nl_attr(&r, IFA_BROADCAST, &bcast, 4);
	} else {
		/* No duplicate address detection: berth's IPAM and its ARP
		 * probe stand for it, and the bridge's hairpin mode echoes
		 * neighbour solicitations (DAD would fail on its own probe). */
		ifa->ifa_flags = IFA_F_NODAD;
		nl_attr(&r, IFA_ADDRESS, a, 16);
		nl_attr_u32(&r, IFA_FLAGS, IFA_F_NODAD);
	}
	rc = nl_talk(fd, &r);
	return rc == -EEXIST ? 0 : rc;
}

/* A default route through gw on ifindex. */
static int
default_route(int fd, int ifindex, const char *gw)
{
	struct nl_req r;
	struct rtmsg *rtm = nl_start(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rtm);
	unsigned char a[16];
	int family = strchr(gw, ':') != NULL ? AF_INET6 : AF_INET, rc;

	if (inet_pton(family, gw, a) != 1)
		return -EINVAL;
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	nl_attr(&r, RTA_GATEWAY, a, family == AF_INET ? 4 : 16);
	nl_attr_u32(&r, RTA_OIF, (uint32_t)ifindex);
	rc = nl_talk(fd, &r);
	return rc == -EEXIST ? 0 : rc;
}

/* Writes "1" to a sysctl file unless it holds it already. */
static int
sysctl_on(const char *path, struct err *err)
{
	char v[4] = "";
	int fd = open(path, O_RDWR | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return err_make(err, errno, "open %s", path);
	if (read(fd, v, sizeof v - 1) < 1 || v[0] != '1') {
		if (pwrite(fd, "1\n", 2, 0) != 2)
			rc = err_make(err, errno, "write %s", path);
	}
	close(fd);
	return rc;
}

int
netlink_bridge_ensure(const char *bridge, const char *gw4, int prefix4, const char *gw6,
                      int prefix6, struct err *err)
{
	unsigned idx = if_nametoindex(bridge);
	int fd = nl_open(NULL, err), rc = 0, created = idx == 0;

	if (fd < 0)
		return -1;
	if (idx == 0) {
		struct nl_req r;
		struct ifinfomsg *ifi =
		    nl_start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
		struct rtattr *info;

		unsigned char mac[6];

		ifi->ifi_family = AF_UNSPEC;
		nl_attr_str(&r, IFLA_IFNAME, bridge);
		/* Random, locally administered, unicast: set, so it stays. */
		if (getrandom(mac, sizeof mac, 0) != (ssize_t)sizeof mac) {
			rc = err_make(err, errno, "create bridge %s: random address", bridge);
			goto out;
		}
		mac[0] = (unsigned char)((mac[0] & 0xfe) | 0x02);
		nl_attr(&r, IFLA_ADDRESS, mac, sizeof mac);
		info = nl_nest(&r, IFLA_LINKINFO);
		nl_attr_str(&r, IFLA_INFO_KIND, "bridge");
		nl_nest_end(&r, info);
		rc = nl_talk(fd, &r);
		/* Another runtime on the same bridge made it meanwhile. */
		if (rc < 0 && rc != -EEXIST) {
			rc = err_make(err, -rc, "create bridge %s", bridge);
			goto out;
		}
		idx = if_nametoindex(bridge);
		if (idx == 0) {
			rc = err_make(err, errno, "bridge %s", bridge);
			goto out;
		}
	}
	if (!created && (rc = bridge_pin_address(fd, (int)idx, bridge)) < 0) {
		rc = err_make(err, -rc, "bridge %s: pin its MAC address", bridge);
		goto out;
	}
	if ((rc = addr_add(fd, (int)idx, gw4, prefix4)) < 0) {
		rc = err_make(err, -rc, "bridge %s: address %s/%d", bridge, gw4, prefix4);
		goto out;
	}
	if (gw6 != NULL && (rc = addr_add(fd, (int)idx, gw6, prefix6)) < 0) {
		rc = err_make(err, -rc, "bridge %s: address %s/%d", bridge, gw6, prefix6);
		goto out;
	}
	if ((rc = link_up(fd, (int)idx)) < 0) {
		rc = err_make(err, -rc, "bridge %s: up", bridge);
		goto out;
	}
	/* An enclave whose egress is open is forwarded by the host (its
	 * firewall table decides what); the CNI bridge plugin turned these on
	 * for every gateway too. */
	rc = sysctl_on("/proc/sys/net/ipv4/ip_forward", err);
	if (rc == 0 && gw6 != NULL)
		rc = sysctl_on("/proc/sys/net/ipv6/conf/all/forwarding", err);
out:
	close(fd);
	return rc;
}

/* The index of ifname in the namespace of socket fd, or 0. */
static int
index_in(int fd, const char *ifname)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	return ioctl(fd, SIOCGIFINDEX, &ifr) < 0 ? 0 : ifr.ifr_ifindex;
}

/* Drops the host's neighbour entry for ip4 on ifindex: a former holder's
 * MAC would take the new enclave's first packets. */
static void
neigh_forget(int fd, int ifindex, const char *ip4)
{
	struct nl_req r;
	struct ndmsg *nd = nl_start(&r, RTM_DELNEIGH, 0, sizeof *nd);
	unsigned char a[4];

	if (inet_pton(AF_INET, ip4, a) != 1)
		return;
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = ifindex;
	nl_attr(&r, NDA_DST, a, 4);
	(void)nl_talk(fd, &r); /* none is the usual answer */
}

/* How long the bridge may take to make a new port forwarding. */
#define PORT_FORWARDING_MS 2000

/* The IFLA_BRPORT_STATE in a link's answer, into *(int *)arg. */
static void
port_state_of(const struct nlmsghdr *h, void *arg)
{
	struct rtattr *at = IFLA_RTA(NLMSG_DATA(h));
	int len = (int)IFLA_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWLINK)
		return;
	for (; RTA_OK(at, len); at = RTA_NEXT(at, len)) {
		if (at->rta_type != IFLA_LINKINFO)
			continue;
		struct rtattr *li = RTA_DATA(at);
		int llen = (int)RTA_PAYLOAD(at);

		for (; RTA_OK(li, llen); li = RTA_NEXT(li, llen)) {
			if (li->rta_type != IFLA_INFO_SLAVE_DATA)
				continue;
			struct rtattr *sd = RTA_DATA(li);
			int slen = (int)RTA_PAYLOAD(li);

			for (; RTA_OK(sd, slen); sd = RTA_NEXT(sd, slen))
				if (sd->rta_type == IFLA_BRPORT_STATE && RTA_PAYLOAD(sd) >= 1)
					*(int *)arg = *(uint8_t *)RTA_DATA(sd);
		}
	}
}

/* The bridge port state of ifindex (BR_STATE_*), through fd's namespace
 * (sysfs may be another namespace's: berth-agent runs in its own), from
 * the slave data of its link; -1 when the answer has none yet. */
static int
port_state(int fd, int ifindex)
{
	struct nl_req r;
	struct ifinfomsg *ifi = nl_start(&r, RTM_GETLINK, 0, sizeof *ifi);
	int state = -1;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (nl_exchange(fd, &r, port_state_of, &state) < 0)
		return -1;
	return state;
}

/* Waits until the bridge forwards on port ifindex (veth). The port is
 * enabled when the veth's carrier comes up, from a kernel work queue after
 * eth0 is up: a frame sent before (the ARP probe) is dropped, and a holder
 * of the address would go unseen. */
static int
port_forwarding_wait(int fd, int ifindex, const char *veth, struct err *err)
{
	int64_t deadline = now_mono_ms() + PORT_FORWARDING_MS;

	while (port_state(fd, ifindex) != BR_STATE_FORWARDING) {
		if (now_mono_ms() > deadline)
			return err_make(err, ETIMEDOUT,
			                "veth %s: the bridge does not forward on it", veth);
		usleep(200);
	}
	return 0;
}

int
netlink_attach(const struct netlink_attach *a, struct err *err)
{
	int host = -1, inner = -1, nsfd = -1, rc = -1, br, vidx, eth0;
	struct nl_req r;
	struct ifinfomsg *ifi;
	struct rtattr *info, *data, *peer, *prot;
	uint8_t hairpin = 1;

	br = (int)if_nametoindex(a->bridge);
	if (br == 0)
		return err_make(err, errno, "bridge %s", a->bridge);
	if ((host = nl_open(NULL, err)) < 0)
		goto out;
	nsfd = open(a->netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		err_make(err, errno, "open network namespace %s", a->netns);
		goto out;
	}
	/* The pair in one request: the host end on the bridge and up, the
	 * other made in the enclave's namespace as eth0. */
	ifi = nl_start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	nl_attr_str(&r, IFLA_IFNAME, a->veth);
	nl_attr_u32(&r, IFLA_MASTER, (uint32_t)br);
	info = nl_nest(&r, IFLA_LINKINFO);
	nl_attr_str(&r, IFLA_INFO_KIND, "veth");
	data = nl_nest(&r, IFLA_INFO_DATA);
	peer = nl_nest(&r, VETH_INFO_PEER);
	((struct ifinfomsg *)nl_reserve(&r, sizeof(struct ifinfomsg)))->ifi_family = AF_UNSPEC;
	nl_attr_str(&r, IFLA_IFNAME, "eth0");
	nl_attr_u32(&r, IFLA_NET_NS_FD, (uint32_t)nsfd);
	nl_nest_end(&r, peer);
	nl_nest_end(&r, data);
	nl_nest_end(&r, info);
	if ((rc = nl_talk(host, &r)) < 0) {
		rc = err_make(err, -rc, "veth %s on %s", a->veth, a->bridge);
		goto out;
	}
	vidx = index_in(host, a->veth);
	if (vidx == 0) {
		rc = err_make(err, errno, "veth %s", a->veth);
		goto out;
	}
	/* Hairpin mode on the port, as the CNI bridge plugin set it. */
	ifi = nl_start(&r, RTM_SETLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = vidx;
	prot = nl_nest(&r, IFLA_PROTINFO | NLA_F_NESTED);
	nl_attr(&r, IFLA_BRPORT_MODE, &hairpin, 1);
	nl_nest_end(&r, prot);
	if ((rc = nl_talk(host, &r)) < 0) {
		rc = err_make(err, -rc, "veth %s: hairpin mode", a->veth);
		goto out;
	}
	neigh_forget(host, br, a->ip4);
	if ((inner = nl_open(a->netns, err)) < 0) {
		rc = -1;
		goto out;
	}
	eth0 = index_in(inner, "eth0");
	if (eth0 == 0) {
		rc = err_make(err, errno, "eth0 in %s", a->netns);
		goto out;
	}
	if ((rc = addr_add(inner, eth0, a->ip4, a->prefix4)) < 0) {
		rc = err_make(err, -rc, "eth0: address %s/%d", a->ip4, a->prefix4);
		goto out;
	}
	if (a->ip6 != NULL && (rc = addr_add(inner, eth0, a->ip6, a->prefix6)) < 0) {
		rc = err_make(err, -rc, "eth0: address %s/%d", a->ip6, a->prefix6);
		goto out;
	}
	if ((rc = link_up(inner, eth0)) < 0) {
		rc = err_make(err, -rc, "eth0: up");
		goto out;
	}
	if ((rc = port_forwarding_wait(host, vidx, a->veth, err)) < 0)
		goto out;
	if (a->default_route && (rc = default_route(inner, eth0, a->gw4)) < 0) {
		rc = err_make(err, -rc, "eth0: default route via %s", a->gw4);
		goto out;
	}
	if (a->default_route && a->ip6 != NULL && a->gw6 != NULL &&
	    (rc = default_route(inner, eth0, a->gw6)) < 0) {
		rc = err_make(err, -rc, "eth0: default route via %s", a->gw6);
		goto out;
	}
	rc = 0;
out:
	if (host >= 0)
		close(host);
	if (inner >= 0)
		close(inner);
	if (nsfd >= 0)
		close(nsfd);
	return rc;
}

int
netlink_detach(const char *veth, struct err *err)
{
	struct nl_req r;
	struct ifinfomsg *ifi = nl_start(&r, RTM_DELLINK, 0, sizeof *ifi);
	int fd = nl_open(NULL, err), rc;

	if (fd < 0)
		return -1;
	ifi->ifi_family = AF_UNSPEC;
	nl_attr_str(&r, IFLA_IFNAME, veth);
	rc = nl_talk(fd, &r);
	close(fd);
	if (rc == -ENODEV || rc == 0)
		return 0;
	return err_make(err, -rc, "delete veth %s", veth);
}

int
netlink_check(const char *bridge, const char *veth, const char *netns, const char *ip4,
              struct err *err)
{
	char *path = xasprintf("/sys/class/net/%s/master", veth), master[64];
	ssize_t n = readlink(path, master, sizeof master - 1);
	struct ifreq ifr = {.ifr_name = "eth0"};
	char have[INET_ADDRSTRLEN] = "";
	int fd = -1, rc = 0;

	free(path);
	if (n < 0) {
		rc = err_make(err, errno, "veth %s: not a port of a bridge", veth);
		goto out;
	}
	master[n] = '\0';
	if (strcmp(strrchr(master, '/') != NULL ? strrchr(master, '/') + 1 : master, bridge) != 0) {
		rc = err_make(err, 0, "veth %s: a port of %s, not of %s", veth, master, bridge);
		goto out;
	}
	fd = linux_socket_in(netns, AF_INET, SOCK_DGRAM, 0, err);
	if (fd < 0) {
		rc = -1;
		goto out;
	}
	if (ioctl(fd, SIOCGIFADDR, &ifr) == 0)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr, have,
		          sizeof have);
	if (strcmp(have, ip4) != 0)
		rc = err_make(err, 0, "eth0 of %s holds %s, not %s", netns, have[0] ? have : "none",
		              ip4);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}
