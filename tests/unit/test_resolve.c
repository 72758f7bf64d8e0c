/* Unit tests of the allowlist's resolver (src/runtime/resolve.c) and its
 * firewall set (firewall.c): server specs, replies good and hostile, the
 * batch deadline against a server that never answers. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "runtime/firewall.h"
#include "runtime/resolve.h"

static void
test_server_parse(void **state)
{
	struct resolve_server s;
	struct err err = ERR_INIT;
	char path[] = "/tmp/berth-unit-resolv-XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(resolve_server_parse("127.0.0.1:5353", NULL, &s, &err), 0);
	assert_string_equal(s.shown, "127.0.0.1:5353");
	assert_int_equal(resolve_server_parse("10.0.0.1", NULL, &s, &err), 0);
	assert_string_equal(s.shown, "10.0.0.1:53");
	assert_int_equal(resolve_server_parse("[::1]:54", NULL, &s, &err), 0);
	assert_string_equal(s.shown, "[::1]:54");
	assert_int_equal(resolve_server_parse("fd00::1", NULL, &s, &err), 0);
	assert_string_equal(s.shown, "[fd00::1]:53");
	assert_true(resolve_server_parse("127.0.0.1:0", NULL, &s, &err) < 0);
	assert_non_null(strstr(err.msg, "port is not 1-65535"));
	err_clear(&err);
	assert_true(resolve_server_parse("dns.example.com", NULL, &s, &err) < 0);
	assert_non_null(strstr(err.msg, "not an IP address"));
	err_clear(&err);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "search x\nnameserver 192.0.2.7\nnameserver 192.0.2.8\n", 52),
	                 52);
	close(fd);
	assert_int_equal(resolve_server_parse(NULL, path, &s, &err), 0);
	assert_string_equal(s.shown, "192.0.2.7:53");
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "search x\n", 9), 9);
	close(fd);
	assert_true(resolve_server_parse("", path, &s, &err) < 0);
	assert_non_null(strstr(err.msg, "no nameserver"));
	err_clear(&err);
	unlink(path);
}

/* A reply to a query (id, name), with the answer records of rr (n bytes). */
static size_t
reply(uint8_t *p, uint16_t id, unsigned rcode, const char *name, const uint8_t *rr, size_t n,
      unsigned ancount)
{
	size_t o = 12;

	memset(p, 0, 12);
	p[0] = (uint8_t)(id >> 8);
	p[1] = (uint8_t)id;
	p[2] = 0x81;
	p[3] = (uint8_t)(0x80 | rcode);
	p[5] = 1;
	p[7] = (uint8_t)ancount;
	for (const char *s = name; *s != '\0';) {
		size_t l = strcspn(s, ".");

		p[o++] = (uint8_t)l;
		memcpy(p + o, s, l);
		o += l;
		s += l + (s[l] == '.');
	}
	p[o++] = 0;
	memcpy(p + o, "\0\1\0\1", 4);
	o += 4;
	if (n > 0)
		memcpy(p + o, rr, n);
	return o + n;
}

/* A record for the question's name (pointer 0xc00c). */
static size_t
rr(uint8_t *p, uint16_t type, uint32_t ttl, const uint8_t *data, uint16_t len)
{
	uint8_t h[12] = {0xc0,
	                 0x0c,
	                 (uint8_t)(type >> 8),
	                 (uint8_t)type,
	                 0,
	                 1,
	                 (uint8_t)(ttl >> 24),
	                 (uint8_t)(ttl >> 16),
	                 (uint8_t)(ttl >> 8),
	                 (uint8_t)ttl,
	                 (uint8_t)(len >> 8),
	                 (uint8_t)len};

	memcpy(p, h, 12);
	memcpy(p + 12, data, len);
	return 12u + len;
}

static void
test_parse_reply(void **state)
{
	uint8_t recs[2048], pkt[4096];
	struct resolve_answer a;
	size_t n = 0, len;
	static const uint8_t cname[] = {3, 'c', 'd', 'n', 0xc0, 0x0c};

	(void)state;
	n += rr(recs + n, 5, 60, cname, sizeof cname);
	n += rr(recs + n, 1, 30, (const uint8_t *)"\xc6\x12\x00\x0a", 4);
	n += rr(recs + n, 1, 300, (const uint8_t *)"\xc6\x12\x00\x0b", 4);
	n += rr(recs + n, 1, 300, (const uint8_t *)"\xc6\x12\x00\x0b", 4); /* again */
	len = reply(pkt, 0x1234, 0, "api.example.com", recs, n, 4);
	assert_int_equal(resolve_parse_reply(pkt, len, 0x1234, "API.example.com", 1, &a), 1);
	assert_true(a.ok);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.addrs[0], "198.18.0.10");
	assert_string_equal(a.addrs[1], "198.18.0.11");
	assert_int_equal(a.ttl_s, 30); /* the chain's shortest */
	/* Not ours: another id, another name, a query (no QR bit). */
	assert_int_equal(resolve_parse_reply(pkt, len, 0x1235, "api.example.com", 1, &a), 0);
	assert_int_equal(resolve_parse_reply(pkt, len, 0x1234, "api.example.org", 1, &a), 0);
	pkt[2] &= 0x7f;
	assert_int_equal(resolve_parse_reply(pkt, len, 0x1234, "api.example.com", 1, &a), 0);
	pkt[2] |= 0x80;
	/* Every truncation is read safely (ASan watches), never more than
	 * what is there. */
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = xmalloc(cut + 1);

		memcpy(copy, pkt, cut);
		if (resolve_parse_reply(copy, cut, 0x1234, "api.example.com", 1, &a) == 1)
			assert_true(a.n <= 2);
		free(copy);
	}
	/* NXDOMAIN, and a TTL of 0 or a year, clamped. */
	len = reply(pkt, 7, 3, "gone.example.com", NULL, 0, 0);
	assert_int_equal(resolve_parse_reply(pkt, len, 7, "gone.example.com", 1, &a), 1);
	assert_false(a.ok);
	assert_non_null(strstr(a.why, "NXDOMAIN"));
	n = rr(recs, 1, 0, (const uint8_t *)"\x01\x02\x03\x04", 4);
	len = reply(pkt, 8, 0, "x.test", recs, n, 1);
	assert_int_equal(resolve_parse_reply(pkt, len, 8, "x.test", 1, &a), 1);
	assert_int_equal(a.ttl_s, RESOLVE_TTL_MIN_S);
	n = rr(recs, 1, 31536000, (const uint8_t *)"\x01\x02\x03\x04", 4);
	len = reply(pkt, 8, 0, "x.test", recs, n, 1);
	assert_int_equal(resolve_parse_reply(pkt, len, 8, "x.test", 1, &a), 1);
	assert_int_equal(a.ttl_s, RESOLVE_TTL_MAX_S);
	/* A flood of 100 addresses: RESOLVE_MAX_ADDRS kept. */
	n = 0;
	for (int i = 0; i < 100; i++) {
		uint8_t ip[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};

		n += rr(recs + n, 1, 60, ip, 4);
	}
	len = reply(pkt, 9, 0, "many.test", recs, n, 100);
	assert_int_equal(resolve_parse_reply(pkt, len, 9, "many.test", 1, &a), 1);
	assert_int_equal(a.n, RESOLVE_MAX_ADDRS);
	/* AAAA: IPv6 addresses, only for an AAAA query; an A record in its
	 * answer is not one. */
	n = rr(recs, 28, 60, (const uint8_t *)"\xfd\x19\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	n += rr(recs + n, 1, 60, (const uint8_t *)"\x01\x02\x03\x04", 4);
	len = reply(pkt, 11, 0, "six.test", recs, n, 2);
	pkt[len - n - 3] = 28; /* the question's type */
	assert_int_equal(resolve_parse_reply(pkt, len, 11, "six.test", 1, &a), 0);
	assert_int_equal(resolve_parse_reply(pkt, len, 11, "six.test", 28, &a), 1);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.addrs[0], "fd19::2");
	/* A name that points at itself (a compression loop) ends. */
	{
		static const uint8_t loop[] = {0xc0, 0x21};

		len = reply(pkt, 10, 0, "loop.test", loop, sizeof loop, 1);
		assert_int_equal(resolve_parse_reply(pkt, len, 10, "loop.test", 1, &a), 1);
		assert_false(a.ok);
	}
}

static void
test_silent_server_ends_at_the_deadline(void **state)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sin;
	struct resolve_server s;
	struct resolve_answer a[2];
	struct err err = ERR_INIT;
	char spec[32], *names[] = {"one.test", "two.test", NULL};
	uint8_t buf[512];
	int64_t t0;
	int got = 0;

	(void)state;
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(spec, sizeof spec, "127.0.0.1:%d", ntohs(sin.sin_port));
	assert_int_equal(resolve_server_parse(spec, NULL, &s, &err), 0);
	t0 = now_mono_ms();
	assert_int_equal(resolve_names(&s, names, 2, 0, 300, a, &err), 0);
	assert_true(now_mono_ms() - t0 >= 290 && now_mono_ms() - t0 < 1000);
	assert_false(a[0].ok);
	assert_non_null(strstr(a[1].why, "no answer from 127.0.0.1:"));
	/* Both asked, and asked again once. */
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		got++;
	assert_int_equal(got, 4);
	close(fd);
	/* Nothing listens there any more: said at once, not at the deadline. */
	t0 = now_mono_ms();
	assert_int_equal(resolve_names(&s, names, 2, 0, 3000, a, &err), 0);
	assert_true(now_mono_ms() - t0 < 1000);
	assert_false(a[0].ok);
	assert_non_null(strstr(a[0].why, "refused the query"));
}

static void
test_allowlist_ruleset(void **state)
{
	static const char *const v6_rules[] = {
	    "elements = { fd19::2 }",
	    "ip6 saddr fd62::5 ip6 daddr @allow6 accept",
	    "ip6 saddr fd62::5 ip6 daddr fe80::/10 drop",
	    "ip saddr 10.213.0.2 ip daddr 169.254.0.0/16 drop",
	    "ip6 saddr fd62::5 oifname != \"berth0\" masquerade",
	    "iifname \"berth0\" ip6 saddr fd62::5 drop",
	    "ether type ip6 ip6 saddr fd62::5 accept",
	};
	char *allow[] = {"198.18.0.10", "fd19::2", "198.18.0.11", NULL};
	char *bad[] = {"198.18.0.10 } ; flush ruleset ; add { 1.2.3.4", NULL};
	struct firewall_enclave fe = {.name = "b-x",
	                              .bridge = "berth0",
	                              .veth = "veth1",
	                              .ip = "10.213.0.2",
	                              .egress_open = 1,
	                              .allowlist = 1,
	                              .allow = allow,
	                              .n_allow = 3};
	struct err err = ERR_INIT;
	char *r = firewall_ruleset(&fe);

	(void)state;
	assert_non_null(strstr(r, "set allow4 {"));
	assert_non_null(strstr(r, "elements = { 198.18.0.10, 198.18.0.11 }"));
	assert_non_null(strstr(r, "ip saddr 10.213.0.2 ip daddr @allow4 accept"));
	assert_non_null(strstr(r, "ip saddr 10.213.0.2 reject"));
	assert_non_null(strstr(r, "masquerade"));
	/* No IPv6 address: no IPv6 rule for it (its set is there, unused). */
	assert_null(strstr(r, "ip6 saddr"));
	assert_non_null(strstr(r, "set allow6 {\n\t\ttype ipv6_addr;\n"));
	free(r);
	/* With one: the IPv6 twins, the IPv6 address in allow6 alone. */
	fe.ip6 = "fd62::5";
	r = firewall_ruleset(&fe);
	for (size_t i = 0; i < ARRAY_LEN(v6_rules); i++)
		if (strstr(r, v6_rules[i]) == NULL)
			fail_msg("no \"%s\" in\n%s", v6_rules[i], r);
	free(r);
	fe.ip6 = "fd62::5; flush ruleset";
	assert_true(firewall_apply(&fe, &err) < 0);
	err_clear(&err);
	fe.ip6 = NULL;
	/* Only dotted addresses reach nft: refused before it runs. */
	fe.allow = bad;
	fe.n_allow = 1;
	assert_true(firewall_apply(&fe, &err) < 0);
	assert_non_null(strstr(err.msg, "is not an IP address"));
	err_clear(&err);
	assert_true(firewall_set_allow("b-x", bad, 1, &err) < 0);
	err_clear(&err);
	/* Open without a list: no set. */
	fe.allowlist = 0;
	fe.n_allow = 0;
	r = firewall_ruleset(&fe);
	assert_null(strstr(r, "allow4"));
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_parse),
	    cmocka_unit_test(test_parse_reply),
	    cmocka_unit_test(test_silent_server_ends_at_the_deadline),
	    cmocka_unit_test(test_allowlist_ruleset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
