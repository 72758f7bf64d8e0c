/* egress: an enclave's egress allowlist, kept true to DNS.
 *
 * berth resolves the allowed names itself, on the host, with the server of
 * the runtime's settings (resolve.h); the tenant's DNS never leaves the
 * enclave. Their addresses are two things of the enclave's: the firewall
 * set allow4 (firewall.h), the only destinations its connections may have,
 * and a section of its hosts file (bound into every container as
 * /etc/hosts), which is how the containers find the names without any DNS
 * server. The section is also the record of the current addresses: it is
 * on tmpfs beside the bundles, as long-lived as the enclave.
 *
 * At boot every name must resolve (else the boot fails, saying which name
 * and why). Afterwards egress_refresh() asks again once the shortest TTL has
 * passed (clamped, resolve.h); a name that fails then keeps its last
 * addresses and is asked again sooner. The set is replaced in one nft
 * transaction, then the hosts file: the containers read its copy in the
 * directory EGRESS_HOSTS_DIR beside it (bound as a directory, their
 * /etc/hosts a link into it), which is replaced by a rename, so a reader
 * sees the old file or the new one, whole; the file itself (the record,
 * and what a container whose /etc is hidden by a mount of its own binds)
 * is rewritten in place. Blocking for at most the runtime's lookup
 * timeout; thread-safe. */
#ifndef BERTH_RUNTIME_EGRESS_H
#define BERTH_RUNTIME_EGRESS_H

#include <stddef.h>

#include "common/err.h"
#include "runtime/resolve.h"

struct runtime;

/* The directory of the containers' copy of the hosts file, beside it. */
#define EGRESS_HOSTS_DIR "hosts.d"

struct egress_resolved {
	size_t n;
	char **names;                   /* owned strv */
	struct resolve_answer *answers; /* owned, n of them */
};

/* Resolves every name of names (a strv) at the runtime's server. Fails when
 * one has no address, naming it and why. */
int egress_resolve(struct runtime *rt, char *const *names, struct egress_resolved *out,
                   struct err *err);

/* The distinct addresses of r (owned strv, *n of them; NULL for none). */
char **egress_addresses(const struct egress_resolved *r, size_t *n);

/* The hosts file section of r: its marker line, then "ADDR\tNAME" lines
 * (owned). */
char *egress_hosts_section(const struct egress_resolved *r);

/* The addresses in the section of the hosts file at path (owned strv, *n),
 * for the firewall put back after a restart. */
char **egress_hosts_addresses(const char *path, size_t *n);

/* Notes when the names of r are to be asked again for enclave name. */
void egress_schedule(struct runtime *rt, const char *name, const struct egress_resolved *r);

/* Forgets enclave name's schedule. */
void egress_forget(struct runtime *rt, const char *name);

/* When due (never asked by this process, or its TTL passed), asks names of
 * enclave name again and, if an address changed, replaces its firewall set
 * and its hosts section at hosts_path. Returns 1 when something changed, 0
 * when not (or not due), negative with err when the update failed. */
int egress_refresh(struct runtime *rt, const char *name, char *const *names, const char *hosts_path,
                   struct err *err);

void egress_resolved_free(struct egress_resolved *r);

#endif
