/* resolve: A and AAAA lookups over UDP with one deadline for the batch. */
#include "runtime/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/util.h"

#define DNS_TYPE_A     1
#define DNS_TYPE_AAAA  28
#define DNS_CLASS_IN   1
#define DNS_HEADER_LEN 12
#define DNS_NAME_MAX   253

int
resolve_server_parse(const char *spec, const char *resolv_conf, struct resolve_server *out,
                     struct err *err)
{
	char host[INET6_ADDRSTRLEN + 1] = "", *text = NULL;
	const char *port_s = NULL;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addr;
	long port = 53;
	size_t len;

	memset(out, 0, sizeof *out);
	if (spec == NULL || spec[0] == '\0') {
		const char *path = resolv_conf != NULL ? resolv_conf : "/etc/resolv.conf";
		char *save = NULL;

		if (file_read_all(path, 1 << 16, &text, &len, err) < 0)
			return err_wrap(err, "DNS server for the egress allowlist");
		for (char *l = strtok_r(text, "\n", &save); l != NULL && host[0] == '\0';
		     l = strtok_r(NULL, "\n", &save)) {
			char word[16], addr[INET6_ADDRSTRLEN];

			if (sscanf(l, "%15s %45s", word, addr) == 2 &&
			    strcmp(word, "nameserver") == 0)
				snprintf(host, sizeof host, "%s", addr);
		}
		free(text);
		if (host[0] == '\0')
			return err_make(err, 0,
			                "DNS server for the egress allowlist: no nameserver in %s "
			                "(set berthd --egress-dns)",
			                path);
	} else if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || (size_t)(end - spec - 1) >= sizeof host)
			return err_make(err, 0, "DNS server \"%s\": expected [IPv6]:PORT", spec);
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		if (end[1] == ':')
			port_s = end + 2;
		else if (end[1] != '\0')
			return err_make(err, 0, "DNS server \"%s\": expected [IPv6]:PORT", spec);
	} else {
		const char *colon = strchr(spec, ':');
		size_t hl = colon != NULL ? (size_t)(colon - spec) : strlen(spec);

		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			hl = strlen(spec); /* a bare IPv6 address */
		else if (colon != NULL)
			port_s = colon + 1;
		if (hl >= sizeof host)
			return err_make(err, 0, "DNS server \"%s\": not an address", spec);
		memcpy(host, spec, hl);
		host[hl] = '\0';
	}
	if (port_s != NULL) {
		char *end;

		errno = 0;
		port = strtol(port_s, &end, 10);
		if (errno != 0 || end == port_s || *end != '\0' || port < 1 || port > 65535)
			return err_make(err, 0, "DNS server \"%s\": port is not 1-65535", spec);
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		out->len = sizeof *v4;
		snprintf(out->shown, sizeof out->shown, "%s:%ld", host, port);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		out->len = sizeof *v6;
		snprintf(out->shown, sizeof out->shown, "[%s]:%ld", host, port);
	} else {
		return err_make(err, 0, "DNS server \"%s\": not an IP address", host);
	}
	return 0;
}

/* The query for name (validated by the config: RFC 1123) into q. */
static size_t
build_query(uint8_t *q, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
	size_t n = DNS_HEADER_LEN;

	memset(q, 0, DNS_HEADER_LEN);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	for (const char *p = name; *p != '\0';) {
		size_t l = strcspn(p, ".");

		if (l == 0 || l > 63 || n + l + 1 + 5 + 1 > cap)
			return 0;
		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	q[n++] = 0;
	q[n++] = (uint8_t)(qtype >> 8);
	q[n++] = (uint8_t)qtype;
	q[n++] = 0;
	q[n++] = DNS_CLASS_IN;
	return n;
}

/* Skips the name at *off (labels or a compression pointer); -1 when it
 * runs past the packet. */
static int
skip_name(const uint8_t *pkt, size_t len, size_t *off)
{
	size_t o = *off;

	for (int labels = 0; labels < 128; labels++) {
		if (o >= len)
			return -1;
		if ((pkt[o] & 0xC0) == 0xC0) {
			if (o + 2 > len)
				return -1;
			*off = o + 2;
			return 0;
		}
		if (pkt[o] & 0xC0)
			return -1;
		if (pkt[o] == 0) {
			*off = o + 1;
			return 0;
		}
		o += 1 + pkt[o];
	}
	return -1;
}

/* Whether the question's name at *off (uncompressed, as we sent it) is
 * name, any case; *off moves past it. */
static int
question_is(const uint8_t *pkt, size_t len, size_t *off, const char *name)
{
	char got[DNS_NAME_MAX + 2];
	size_t o = *off, g = 0;

	while (o < len && pkt[o] != 0) {
		size_t l = pkt[o];

		if (l > 63 || o + 1 + l > len || g + l + 1 > sizeof got - 1)
			return 0;
		if (g > 0)
			got[g++] = '.';
		memcpy(got + g, pkt + o + 1, l);
		g += l;
		o += 1 + l;
	}
	if (o >= len)
		return 0;
	got[g] = '\0';
	*off = o + 1;
	return strcasecmp(got, name) == 0;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
clamp_ttl(uint32_t t)
{
	return t < RESOLVE_TTL_MIN_S   ? RESOLVE_TTL_MIN_S
	       : t > RESOLVE_TTL_MAX_S ? RESOLVE_TTL_MAX_S
	                               : t;
}

TESTABLE int
resolve_parse_reply(const uint8_t *pkt, size_t len, uint16_t id, const char *name, uint16_t qtype,
                    struct resolve_answer *a)
{
	static const char *const rcodes[] = {
	    "", "FORMERR", "SERVFAIL", "NXDOMAIN (no such name)", "NOTIMP", "REFUSED"};
	size_t off = DNS_HEADER_LEN, an;
	int family = qtype == DNS_TYPE_AAAA ? AF_INET6 : AF_INET;
	uint16_t rdlen_want = family == AF_INET6 ? 16 : 4;
	uint32_t ttl = RESOLVE_TTL_MAX_S;
	unsigned rcode;

	if (len < DNS_HEADER_LEN || get16(pkt) != id || !(pkt[2] & 0x80) || get16(pkt + 4) != 1)
		return 0;
	if (!question_is(pkt, len, &off, name) || off + 4 > len || get16(pkt + off) != qtype ||
	    get16(pkt + off + 2) != DNS_CLASS_IN)
		return 0;
	off += 4;
	memset(a, 0, sizeof *a);
	rcode = pkt[3] & 0x0F;
	if (rcode != 0) {
		snprintf(a->why, sizeof a->why, "the DNS server answered %s",
		         rcode < ARRAY_LEN(rcodes) ? rcodes[rcode] : "an error");
		a->ttl_s = 30;
		return 1;
	}
	an = get16(pkt + 6);
	for (size_t i = 0; i < an; i++) {
		uint16_t type, rdlen;
		uint32_t t;

		if (skip_name(pkt, len, &off) < 0 || off + 10 > len)
			break;
		type = get16(pkt + off);
		t = (uint32_t)get16(pkt + off + 4) << 16 | get16(pkt + off + 6);
		rdlen = get16(pkt + off + 8);
		off += 10;
		if (off + rdlen > len)
			break;
		if (t < ttl)
			ttl = t; /* the chain's (CNAMEs too) shortest */
		if (type == qtype && rdlen == rdlen_want && get16(pkt + off - 8) == DNS_CLASS_IN &&
		    a->n < RESOLVE_MAX_ADDRS) {
			char s[RESOLVE_ADDR_MAX];
			int dup = 0;

			inet_ntop(family, pkt + off, s, sizeof s);
			for (size_t k = 0; k < a->n; k++)
				dup |= strcmp(a->addrs[k], s) == 0;
			if (!dup)
				memcpy(a->addrs[a->n++], s, sizeof s);
		}
		off += rdlen;
	}
	a->ok = a->n > 0;
	a->ttl_s = a->ok ? clamp_ttl(ttl) : 30;
	if (!a->ok)
		snprintf(a->why, sizeof a->why, "the DNS server answered no %s address",
		         family == AF_INET6 ? "IPv6" : "IPv4");
	return 1;
}

/* The type of query j of a batch of n names (resolve_names()). */
static uint16_t
qtype_of(size_t j, size_t n)
{
	return j < n ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

/* Sends the m queries of names (see resolve_names()) and reads their
 * answers until every one came or the deadline passed. */
static int
ask_batch(const struct resolve_server *srv, char *const *names, size_t n, size_t m, int timeout_ms,
          struct resolve_answer *answers, struct err *err)
{
	uint16_t *ids = xcalloc(m + 1, sizeof *ids);
	uint8_t *done = xcalloc(m + 1, 1), pkt[4096];
	size_t left = m;
	int64_t start = now_mono_ms(), deadline = start + timeout_ms;
	int fd, rc = 0, resent = 0, refused = 0;

	for (size_t i = 0; i < m; i++) {
		memset(&answers[i], 0, sizeof answers[i]);
		snprintf(answers[i].why, sizeof answers[i].why, "no answer from %s within %d ms",
		         srv->shown, timeout_ms);
		answers[i].ttl_s = 5;
	}
	fd = socket(srv->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = err_make(err, errno, "DNS socket");
		goto out;
	}
	/* Connected: the kernel drops datagrams from anyone but the server. */
	if (connect(fd, (const struct sockaddr *)&srv->addr, srv->len) < 0) {
		rc = err_make(err, errno, "DNS server %s", srv->shown);
		goto out;
	}
	if (getrandom(ids, m * sizeof *ids, 0) != (ssize_t)(m * sizeof *ids))
		for (size_t i = 0; i < m; i++)
			ids[i] = (uint16_t)(rand() ^ (int)i);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < m; i++) {
			uint8_t q[DNS_NAME_MAX + 32];
			size_t ql = done[i] ? 0
			                    : build_query(q, sizeof q, ids[i], names[i % n],
			                                  qtype_of(i, n));

			if (done[i])
				continue;
			if (ql == 0) {
				snprintf(answers[i].why, sizeof answers[i].why, "not a host name");
				done[i] = 1;
				left--;
				continue;
			}
			/* A full socket buffer: the rest go on the resend. An
			 * earlier query's ICMP unreachable comes back here. */
			if (send(fd, q, ql, 0) < 0 && errno == ECONNREFUSED)
				refused = 1;
		}
		/* Resend once at half the time: UDP may lose a query. */
		while (left > 0 && !refused) {
			int64_t now = now_mono_ms();
			int64_t until = !resent && round == 0 ? start + timeout_ms / 2 : deadline;
			struct pollfd p = {.fd = fd, .events = POLLIN};
			ssize_t got;

			if (now >= until)
				break;
			if (poll(&p, 1, (int)(until - now)) <= 0)
				continue;
			got = recv(fd, pkt, sizeof pkt, 0);
			if (got < 0 && errno == ECONNREFUSED) {
				refused = 1; /* nothing listens there: no use waiting */
				break;
			}
			if (got < 0)
				continue; /* EAGAIN, EINTR: wait on */
			for (size_t i = 0; i < m; i++)
				if (!done[i] &&
				    resolve_parse_reply(pkt, (size_t)got, ids[i], names[i % n],
				                        qtype_of(i, n), &answers[i])) {
					done[i] = 1;
					left--;
					break;
				}
		}
		if (left == 0 || refused || now_mono_ms() >= deadline)
			break;
		resent = 1;
	}
	for (size_t i = 0; refused && i < m; i++)
		if (!done[i])
			snprintf(answers[i].why, sizeof answers[i].why,
			         "the DNS server %s refused the query (nothing listens there)",
			         srv->shown);
out:
	if (fd >= 0)
		close(fd);
	free(ids);
	free(done);
	return rc;
}

/* The answers to a name's A and AAAA queries as one: the addresses of
 * both, the shorter TTL of those that came; when neither came, the A
 * query's reason. */
static void
merge_answers(struct resolve_answer *a, const struct resolve_answer *aaaa)
{
	if (!aaaa->ok) {
		if (!a->ok && strstr(a->why, "no IPv4 address") != NULL &&
		    strstr(aaaa->why, "no IPv6 address") != NULL)
			snprintf(a->why, sizeof a->why, "the DNS server answered no address");
		return;
	}
	if (!a->ok || aaaa->ttl_s < a->ttl_s)
		a->ttl_s = aaaa->ttl_s;
	if (!a->ok)
		a->n = 0;
	for (size_t k = 0; k < aaaa->n && a->n < RESOLVE_MAX_ADDRS * 2; k++)
		memcpy(a->addrs[a->n++], aaaa->addrs[k], sizeof a->addrs[0]);
	a->ok = 1;
}

int
resolve_names(const struct resolve_server *srv, char *const *names, size_t n, int with_aaaa,
              int timeout_ms, struct resolve_answer *answers, struct err *err)
{
	/* Query j asks names[j % n]: the A record for j < n, the AAAA one
	 * after. */
	size_t m = with_aaaa ? 2 * n : n;
	struct resolve_answer *got = xcalloc(m + 1, sizeof *got);
	int rc = ask_batch(srv, names, n, m, timeout_ms, got, err);

	for (size_t i = 0; i < n; i++) {
		answers[i] = got[i];
		if (with_aaaa)
			merge_answers(&answers[i], &got[n + i]);
	}
	free(got);
	return rc;
}
