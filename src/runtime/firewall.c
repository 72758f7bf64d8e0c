/* firewall: per-enclave nftables tables, applied with `nft -f -`. */
#include "runtime/firewall.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "runtime/spawn.h"

#define NFT_TIMEOUT_MS 10000

/* Before the filter priority: a later accept elsewhere cannot undo a drop. */
#define PRIO "-10"

/* The elements line of the allowlist set of family (AF_INET: dotted
 * addresses, AF_INET6: with colons), nothing for an empty set. */
static void
allow_elements(struct buf *b, char *const *allow, size_t n, int family)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if ((strchr(allow[i], ':') != NULL) == (family == AF_INET6))
			buf_printf(b, "%s%s", k++ > 0 ? ", " : "\t\telements = { ", allow[i]);
	if (k > 0)
		buf_puts(b, " }\n");
}

/* An IPv4 or IPv6 address in its usual text, nothing else: the only text of
 * a resolver's answer that reaches nft. */
static int
addr_ok(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return s != NULL && strlen(s) < INET6_ADDRSTRLEN &&
	       (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1);
}

/* The rules of the forward chain for one family (f: "ip" or "ip6") of the
 * enclave's address ip: with egress open, its own connections are routed
 * anywhere but back onto its bridge (another enclave of this berthd) or to
 * a link-local address (cloud metadata, the neighbours of another link),
 * and their replies come back; nothing else is forwarded from or to it.
 * Allowlist: what was allowed when it began goes on; new connections only
 * to the set's addresses. */
static void
forward_rules(struct buf *b, const struct firewall_enclave *fe, const char *f, const char *ip)
{
	const char *ll = strcmp(f, "ip6") == 0 ? "fe80::/10" : "169.254.0.0/16";
	const char *set = strcmp(f, "ip6") == 0 ? "allow6" : "allow4";

	if (fe->egress_open)
		buf_printf(b,
		           "\t\t%s daddr %s ct state established,related accept\n"
		           "\t\t%s saddr %s oifname \"%s\" drop\n"
		           "\t\t%s saddr %s %s daddr %s drop\n",
		           f, ip, f, ip, fe->bridge, f, ip, f, ll);
	if (fe->egress_open && fe->allowlist)
		buf_printf(b,
		           "\t\t%s saddr %s ct state established,related accept\n"
		           "\t\t%s saddr %s %s daddr @%s accept\n"
		           "\t\t%s saddr %s reject with icmpx type admin-prohibited\n",
		           f, ip, f, ip, f, set, f, ip);
	if (!fe->egress_open)
		buf_printf(b, "\t\t%s saddr %s drop\n", f, ip);
	buf_printf(b, "\t\t%s daddr %s drop\n", f, ip);
}

/* The inet table's forward chain, per family. Other berthds' enclaves drop
 * what is forwarded to them in their own tables; the host's own addresses
 * (every interface's) are not routed but delivered: the input chain's. Its
 * connections leave with the address of the interface they take. */
static void
forward_chain(struct buf *b, const struct firewall_enclave *fe)
{
	if (fe->egress_open && fe->allowlist) {
		buf_puts(b, "\tset allow4 {\n\t\ttype ipv4_addr;\n");
		allow_elements(b, fe->allow, fe->n_allow, AF_INET);
		buf_puts(b, "\t}\n");
		buf_puts(b, "\tset allow6 {\n\t\ttype ipv6_addr;\n");
		allow_elements(b, fe->allow, fe->n_allow, AF_INET6);
		buf_puts(b, "\t}\n");
	}
	buf_puts(b, "\tchain forward {\n"
	            "\t\ttype filter hook forward priority " PRIO "; policy accept;\n");
	forward_rules(b, fe, "ip", fe->ip);
	if (fe->ip6 != NULL)
		forward_rules(b, fe, "ip6", fe->ip6);
	buf_puts(b, "\t}\n");
	if (!fe->egress_open)
		return;
	buf_printf(b,
	           "\tchain postrouting {\n"
	           "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	           "\t\tip saddr %s oifname != \"%s\" masquerade\n",
	           fe->ip, fe->bridge);
	if (fe->ip6 != NULL)
		buf_printf(b, "\t\tip6 saddr %s oifname != \"%s\" masquerade\n", fe->ip6,
		           fe->bridge);
	buf_puts(b, "\t}\n");
}

/* The bridge table: nothing the enclave's veth sends reaches another port
 * of the bridge but ARP; to the host, only its own addresses, and with
 * IPv6 the neighbour discovery of its link-local one. */
static void
bridge_table(struct buf *b, const struct firewall_enclave *fe)
{
	const char *v = fe->veth;

	buf_printf(b,
	           "table bridge berth-%s {\n"
	           "\tchain forward {\n"
	           "\t\ttype filter hook forward priority " PRIO "; policy accept;\n"
	           "\t\tether type arp accept\n"
	           "\t\tiifname \"%s\" drop\n"
	           "\t\toifname \"%s\" drop\n"
	           "\t}\n"
	           "\tchain input {\n"
	           "\t\ttype filter hook input priority " PRIO "; policy accept;\n"
	           "\t\tiifname \"%s\" ether type arp accept\n"
	           "\t\tiifname \"%s\" ether type ip ip saddr %s accept\n",
	           fe->name, v, v, v, v, fe->ip);
	if (fe->ip6 != NULL)
		buf_printf(
		    b,
		    "\t\tiifname \"%s\" ether type ip6 ip6 saddr %s accept\n"
		    "\t\tiifname \"%s\" ether type ip6 ip6 saddr { ::, fe80::/10 } icmpv6 type "
		    "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n",
		    v, fe->ip6, v);
	buf_printf(b, "\t\tiifname \"%s\" drop\n\t}\n}\n", v);
}

/* Input of the inet table for one family: from the enclave, replies only
 * (and IPv6's neighbour discovery), whatever interface of the host the
 * packet is addressed to (it arrives on the bridge). */
static void
input_rules(struct buf *b, const struct firewall_enclave *fe, const char *f, const char *ip)
{
	const char *br = fe->bridge;

	buf_printf(b, "\t\tiifname \"%s\" %s saddr %s ct state established,related accept\n", br, f,
	           ip);
	if (strcmp(f, "ip6") == 0)
		buf_printf(b,
		           "\t\tiifname \"%s\" ip6 saddr %s icmpv6 type { nd-neighbor-solicit, "
		           "nd-neighbor-advert } accept\n",
		           br, ip);
	buf_printf(b, "\t\tiifname \"%s\" %s saddr %s drop\n", br, f, ip);
}

/* Output: a new connection from the host to the enclave carries the mark of
 * berth-router's and the health checks' sockets (SO_MARK needs
 * CAP_NET_ADMIN), or is refused. */
static void
output_rules(struct buf *b, const struct firewall_enclave *fe, const char *f, const char *ip)
{
	buf_printf(b,
	           "\t\t%s daddr %s ct state new meta mark != 0x%08x meta l4proto tcp "
	           "reject with tcp reset\n"
	           "\t\t%s daddr %s ct state new meta mark != 0x%08x meta l4proto != "
	           "{ icmp, ipv6-icmp } drop\n",
	           f, ip, fe->upstream_mark, f, ip, fe->upstream_mark);
}

char *
firewall_ruleset(const struct firewall_enclave *fe)
{
	struct buf b = BUF_INIT;
	const char *n = fe->name;

	/* Declaring then deleting makes the definition below a replacement,
	 * all in one transaction. */
	buf_printf(&b, "table inet berth-%s {}\ndelete table inet berth-%s\n", n, n);
	buf_printf(&b, "table bridge berth-%s {}\ndelete table bridge berth-%s\n", n, n);
	bridge_table(&b, fe);
	buf_printf(&b,
	           "table inet berth-%s {\n"
	           "\tchain input {\n"
	           "\t\ttype filter hook input priority " PRIO "; policy accept;\n",
	           n);
	input_rules(&b, fe, "ip", fe->ip);
	if (fe->ip6 != NULL)
		input_rules(&b, fe, "ip6", fe->ip6);
	buf_puts(&b, "\t}\n");
	forward_chain(&b, fe);
	if (fe->upstream_mark != 0) {
		buf_puts(&b, "\tchain output {\n"
		             "\t\ttype filter hook output priority " PRIO "; policy accept;\n");
		output_rules(&b, fe, "ip", fe->ip);
		if (fe->ip6 != NULL)
			output_rules(&b, fe, "ip6", fe->ip6);
		buf_puts(&b, "\t}\n");
	}
	buf_puts(&b, "}\n");
	return buf_take(&b);
}

static int
nft_run(char *const *argv, const char *input, struct err *err)
{
	struct spawn_opts so = {.argv = argv,
	                        .stdin_data = input,
	                        .stdin_len = input != NULL ? strlen(input) : 0,
	                        .stdout_fd = -1,
	                        .timeout_ms = NFT_TIMEOUT_MS};
	struct spawn_result res;
	int rc = spawn_run(&so, &res, err);

	if (rc == 0 && res.status != 0) {
		char line[301];

		spawn_first_line(res.errout.data, line);
		rc = err_make(err, 0, "nft: %s", line[0] ? line : "failed");
	} else if (rc == 0) {
		rc = res.status;
	}
	spawn_result_free(&res);
	return rc;
}

/* An IPv6 address and nothing else (no prefix, no zone). */
static int
ipv6_only(const char *s)
{
	struct in6_addr a;

	return strlen(s) < INET6_ADDRSTRLEN && inet_pton(AF_INET6, s, &a) == 1;
}

static int
safe_token(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n < 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

int
firewall_apply(const struct firewall_enclave *fe, struct err *err)
{
	char *argv[] = {"nft", "-f", "-", NULL}, *rules;
	int rc;

	/* Everything interpolated is berth's own, but a name that could break
	 * out of the ruleset must not reach nft. */
	if (!safe_token(fe->name) || !safe_token(fe->bridge) || !safe_token(fe->veth) ||
	    !safe_token(fe->ip) || strspn(fe->ip, "0123456789.") != strlen(fe->ip) ||
	    (fe->ip6 != NULL && !ipv6_only(fe->ip6)))
		return err_make(err, 0, "firewall of enclave %s: invalid name or address",
		                fe->name != NULL ? fe->name : "");
	for (size_t i = 0; i < fe->n_allow; i++)
		if (!addr_ok(fe->allow[i]))
			return err_make(err, 0,
			                "firewall of enclave %s: \"%s\" is not an IP address",
			                fe->name, fe->allow[i]);
	rules = firewall_ruleset(fe);
	rc = nft_run(argv, rules, err);
	free(rules);
	if (rc < 0)
		return err_wrap(err, "firewall of enclave %s", fe->name);
	return 0;
}

int
firewall_set_allow(const char *name, char *const *allow, size_t n, struct err *err)
{
	char *argv[] = {"nft", "-f", "-", NULL};
	struct buf b = BUF_INIT;
	int rc;

	if (!safe_token(name))
		return err_make(err, 0, "firewall: invalid enclave name");
	for (size_t i = 0; i < n; i++)
		if (!addr_ok(allow[i]))
			return err_make(err, 0,
			                "firewall of enclave %s: \"%s\" is not an IP address", name,
			                allow[i]);
	/* One transaction: the sets are never seen empty in between. */
	for (int family = AF_INET; family != 0; family = family == AF_INET ? AF_INET6 : 0) {
		const char *set = family == AF_INET6 ? "allow6" : "allow4";
		struct buf el = BUF_INIT;

		/* Added first: the tables of an older berth had allow4 alone. */
		buf_printf(&b,
		           "add set inet berth-%s %s { type %s; }\nflush set inet berth-%s %s\n",
		           name, set, family == AF_INET6 ? "ipv6_addr" : "ipv4_addr", name, set);
		allow_elements(&el, allow, n, family);
		if (el.len > 0)
			buf_printf(&b, "add element inet berth-%s %s { %s", name, set,
			           el.data + strlen("\t\telements = { "));
		buf_free(&el);
	}
	rc = nft_run(argv, b.data, err);
	buf_free(&b);
	if (rc < 0)
		return err_wrap(err, "allowlist of enclave %s", name);
	return 0;
}

int
firewall_remove(const char *name, struct err *err)
{
	char *argv[] = {"nft", "-f", "-", NULL}, *rules;
	int rc;

	if (!safe_token(name))
		return err_make(err, 0, "firewall: invalid enclave name");
	rules = xasprintf("table inet berth-%s {}\ndelete table inet berth-%s\n"
	                  "table bridge berth-%s {}\ndelete table bridge berth-%s\n",
	                  name, name, name, name);
	rc = nft_run(argv, rules, err);
	free(rules);
	if (rc < 0)
		return err_wrap(err, "remove firewall of enclave %s", name);
	return 0;
}

/* Both tables: either one alone is half the boundary (the bridge table
 * alone stops IPv6 and spoofed sources). */
int
firewall_present(const char *name, struct err *err)
{
	static const char *const families[] = {"inet", "bridge"};
	char *table = xasprintf("berth-%s", name);
	int rc = 1;

	if (!safe_token(name)) {
		free(table);
		return err_make(err, 0, "firewall: invalid enclave name");
	}
	for (size_t i = 0; rc == 1 && i < ARRAY_LEN(families); i++) {
		char *argv[] = {"nft", "list", "table", (char *)families[i], table, NULL};
		struct spawn_opts so = {
		    .argv = argv, .stdout_fd = -1, .timeout_ms = NFT_TIMEOUT_MS};
		struct spawn_result res;

		rc = spawn_run(&so, &res, err);
		if (rc == 0)
			rc = res.status == 0;
		spawn_result_free(&res);
	}
	free(table);
	return rc;
}
