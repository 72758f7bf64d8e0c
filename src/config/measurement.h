/* measurement: the sha256 that identifies what a deployment runs.
 *
 * It covers the canonical config, the resolved image digests, the debug flag,
 * the names of the bound secrets (never their values), the runtime version and
 * the isolation level the enclave runs at.
 * The encoding is unambiguous: a version tag, then every field as an 8-byte
 * big-endian length and its bytes, lists as an 8-byte count and their items.
 * Lists are sorted and their repeats removed first, so the order callers
 * gather them in does not matter.
 */
#ifndef BERTH_MEASUREMENT_H
#define BERTH_MEASUREMENT_H

#include <stddef.h>

/* Version tag at the start of the encoding; a new encoding gets a new tag. */
#define MEASUREMENT_VERSION "berth-measurement-v2"

struct measurement_input {
	const char *canonical_config; /* borrowed: struct config's canonical */
	const char *const *images;    /* borrowed: "name@sha256:<hex>" resolved digests */
	size_t n_images;
	int debug;                  /* 0 or 1 */
	const char *const *secrets; /* borrowed: secret names */
	size_t n_secrets;
	const char *runtime_version; /* borrowed: e.g. "runc 1.1.5"; NULL means "" */
	const char *isolation;       /* borrowed: "runc" or "gvisor"; NULL means "" */
};

/* Computes the measurement of in as 64 lower-case hex chars and a NUL. */
void measurement_compute(const struct measurement_input *in, char out[65]);

/* Appends the encoding that measurement_compute() hashes to *buf (xrealloc'd,
 * *len updated); for tests and for anyone who wants to verify by hand. */
void measurement_encode(const struct measurement_input *in, char **buf, size_t *len);

#endif
