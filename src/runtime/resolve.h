/* resolve: host-name lookups for the egress allowlist, asked by berth on the
 * host, never by the tenant (docs/security.md "Egress allowlist").
 *
 * A small DNS stub client (RFC 1035 over UDP): every name's A query is sent
 * at once on one socket connected to one server, answers are matched by id
 * and question, and the whole batch ends at one deadline whatever the
 * server does (silent, slow, flooding, malformed). Bounded: at most
 * RESOLVE_MAX_ADDRS addresses per name, TTLs clamped to
 * [RESOLVE_TTL_MIN_S, RESOLVE_TTL_MAX_S]. AAAA queries too for enclaves
 * with IPv6 (firewall.h). Blocking for at most the timeout; thread-safe. */
#ifndef BERTH_RUNTIME_RESOLVE_H
#define BERTH_RUNTIME_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

#define RESOLVE_MAX_ADDRS  16
#define RESOLVE_TTL_MIN_S  1
#define RESOLVE_TTL_MAX_S  3600
#define RESOLVE_TIMEOUT_MS 2000
#define RESOLVE_ADDR_MAX   46 /* INET6_ADDRSTRLEN */

struct resolve_server {
	struct sockaddr_storage addr;
	socklen_t len;
	char shown[64]; /* "127.0.0.1:53", for messages */
};

/* The answer for one name. */
struct resolve_answer {
	int ok;   /* at least one address came */
	size_t n; /* addresses in addrs */
	/* IPv4 (dotted) then IPv6 addresses: RESOLVE_MAX_ADDRS of each */
	char addrs[RESOLVE_MAX_ADDRS * 2][RESOLVE_ADDR_MAX];
	uint32_t ttl_s; /* clamped; for a failure, when to ask again */
	char why[160];  /* when !ok: "no answer within 2000 ms", ... */
};

/* The server of spec: "IP", "IP:PORT" or "[IPv6]:PORT" (port 53 when none);
 * NULL or "": the first nameserver of resolv_conf (NULL: /etc/resolv.conf). */
int resolve_server_parse(const char *spec, const char *resolv_conf, struct resolve_server *out,
                         struct err *err);

/* Looks up the A records (with_aaaa: and the AAAA ones) of names[0..n) at
 * srv, all within timeout_ms; answers[i] is names[i]'s (caller's array of
 * n): a name is ok when either type has an address. Fails (negative) only
 * when nothing could be asked (socket); each name's own failure is in its
 * answer. */
int resolve_names(const struct resolve_server *srv, char *const *names, size_t n, int with_aaaa,
                  int timeout_ms, struct resolve_answer *answers, struct err *err);

#ifdef BERTH_TESTING
/* Parses reply pkt (len bytes) to a query of name (type qtype: 1 A, 28
 * AAAA) with id: 1 it is that answer (filled in), 0 it is not (ignored),
 * for the unit tests. */
int resolve_parse_reply(const uint8_t *pkt, size_t len, uint16_t id, const char *name,
                        uint16_t qtype, struct resolve_answer *a);
#endif

#endif
