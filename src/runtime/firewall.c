/* firewall: per-enclave nftables tables, applied with `nft -f -`. */
#include "runtime/firewall.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "runtime/spawn.h"

#define NFT_TIMEOUT_MS 10000

/* Before the filter priority: a later accept elsewhere cannot undo a drop. */
#define PRIO "-10"

/* The elements line of the allowlist set (nothing for an empty set). */
static void
allow_elements(struct buf *b, char *const *allow, size_t n)
{
	if (n == 0)
		return;
	buf_puts(b, "\t\telements = { ");
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s", i > 0 ? ", " : "", allow[i]);
	buf_puts(b, " }\n");
}

/* Dotted IPv4, nothing else: the only text of a resolver's answer that
 * reaches nft. */
static int
ipv4_ok(const char *s)
{
	struct in_addr a;

	return s != NULL && strlen(s) < 16 && inet_pton(AF_INET, s, &a) == 1;
}

/* The inet table's forward chain: with egress open, the enclave's own
 * connections are routed anywhere but back onto its bridge (its subnet:
 * another enclave of this berthd), and their replies come back; nothing
 * else is forwarded from or to it. Other berthds' enclaves drop what is
 * forwarded to them in their own tables; the host's own addresses (every
 * interface's) are not routed but delivered: the input chain's. */
static void
forward_chain(struct buf *b, const struct firewall_enclave *fe)
{
	const char *br = fe->bridge, *ip = fe->ip;

	if (fe->egress_open && fe->allowlist) {
		buf_puts(b, "\tset allow4 {\n\t\ttype ipv4_addr;\n");
		allow_elements(b, fe->allow, fe->n_allow);
		buf_puts(b, "\t}\n");
	}
	buf_puts(b, "\tchain forward {\n"
	            "\t\ttype filter hook forward priority " PRIO "; policy accept;\n");
	if (fe->egress_open)
		buf_printf(b,
		           "\t\tip daddr %s ct state established,related accept\n"
		           "\t\tip saddr %s oifname \"%s\" drop\n",
		           ip, ip, br);
	/* Allowlist: what was allowed when it began goes on; new connections
	 * only to the set's addresses. */
	if (fe->egress_open && fe->allowlist)
		buf_printf(b,
		           "\t\tip saddr %s ct state established,related accept\n"
		           "\t\tip saddr %s ip daddr @allow4 accept\n"
		           "\t\tip saddr %s reject with icmpx type admin-prohibited\n",
		           ip, ip, ip);
	if (!fe->egress_open)
		buf_printf(b, "\t\tip saddr %s drop\n", ip);
	buf_printf(b, "\t\tip daddr %s drop\n\t}\n", ip);
	/* Its connections leave with the address of the interface they take. */
	if (fe->egress_open)
		buf_printf(b,
		           "\tchain postrouting {\n"
		           "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		           "\t\tip saddr %s oifname != \"%s\" masquerade\n"
		           "\t}\n",
		           ip, br);
}

char *
firewall_ruleset(const struct firewall_enclave *fe)
{
	struct buf b = BUF_INIT;
	const char *n = fe->name, *br = fe->bridge, *v = fe->veth, *ip = fe->ip;

	/* Declaring then deleting makes the definition below a replacement,
	 * all in one transaction. */
	buf_printf(&b, "table inet berth-%s {}\ndelete table inet berth-%s\n", n, n);
	buf_printf(&b, "table bridge berth-%s {}\ndelete table bridge berth-%s\n", n, n);
	buf_printf(&b,
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
	           "\t\tiifname \"%s\" ether type ip ip saddr %s accept\n"
	           "\t\tiifname \"%s\" drop\n"
	           "\t}\n"
	           "}\n",
	           n, v, v, v, v, ip, v);
	/* Input: from the enclave, replies only; whatever interface of the host
	 * the packet is addressed to (it arrives on the bridge). */
	buf_printf(&b,
	           "table inet berth-%s {\n"
	           "\tchain input {\n"
	           "\t\ttype filter hook input priority " PRIO "; policy accept;\n"
	           "\t\tiifname \"%s\" ip saddr %s ct state established,related accept\n"
	           "\t\tiifname \"%s\" ip saddr %s drop\n"
	           "\t}\n",
	           n, br, ip, br, ip);
	forward_chain(&b, fe);
	/* Output: a new connection from the host to the enclave carries the
	 * mark of berth-router's and the health checks' sockets (SO_MARK needs
	 * CAP_NET_ADMIN), or is refused. */
	if (fe->upstream_mark != 0)
		buf_printf(&b,
		           "\tchain output {\n"
		           "\t\ttype filter hook output priority " PRIO "; policy accept;\n"
		           "\t\tip daddr %s ct state new meta mark != 0x%08x meta l4proto tcp "
		           "reject with tcp reset\n"
		           "\t\tip daddr %s ct state new meta mark != 0x%08x meta l4proto != icmp "
		           "drop\n"
		           "\t}\n",
		           ip, fe->upstream_mark, ip, fe->upstream_mark);
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
	    !safe_token(fe->ip) || strspn(fe->ip, "0123456789.") != strlen(fe->ip))
		return err_make(err, 0, "firewall of enclave %s: invalid name or address",
		                fe->name != NULL ? fe->name : "");
	for (size_t i = 0; i < fe->n_allow; i++)
		if (!ipv4_ok(fe->allow[i]))
			return err_make(err, 0,
			                "firewall of enclave %s: \"%s\" is not an IPv4 address",
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
		if (!ipv4_ok(allow[i]))
			return err_make(err, 0,
			                "firewall of enclave %s: \"%s\" is not an IPv4 address",
			                name, allow[i]);
	/* One transaction: the set is never seen empty in between. */
	buf_printf(&b, "flush set inet berth-%s allow4\n", name);
	if (n > 0) {
		buf_printf(&b, "add element inet berth-%s allow4 { ", name);
		for (size_t i = 0; i < n; i++)
			buf_printf(&b, "%s%s", i > 0 ? ", " : "", allow[i]);
		buf_puts(&b, " }\n");
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
