/* measurement: the sha256 that identifies what a deployment runs.
 *
 * It covers what a verifier can know from the Git tag and the deploy request
 * alone: the canonical config, the image digests it pins, the debug flag, the
 * names of the bound secrets (never their values) and the isolation level the
 * enclave runs at. Facts of the host (the runtime's version, the host name)
 * are not in it: the attestation document carries them beside it.
 * The encoding is unambiguous: a version tag, then every field as an 8-byte
 * big-endian length and its bytes, lists as an 8-byte count and their items.
 * Lists are sorted and their repeats removed first, so the order callers
 * gather them in does not matter.
 */
#ifndef BERTH_MEASUREMENT_H
#define BERTH_MEASUREMENT_H

#include <stddef.h>

struct config;

/* Version tag at the start of the encoding; a new encoding gets a new tag. */
#define MEASUREMENT_VERSION "berth-measurement-v3"

struct measurement_input {
	const char *canonical_config; /* borrowed: struct config's canonical */
	const char *const *images;    /* borrowed: "name@sha256:<hex>" resolved digests */
	size_t n_images;
	int debug;                  /* 0 or 1 */
	const char *const *secrets; /* borrowed: secret names */
	size_t n_secrets;
	const char *isolation; /* borrowed: "runc" or "gvisor"; NULL means "" */
};

/* Computes the measurement of in as 64 lower-case hex chars and a NUL. */
void measurement_compute(const struct measurement_input *in, char out[65]);

/* Appends the encoding that measurement_compute() hashes to *buf (xrealloc'd,
 * *len updated); for tests and for anyone who wants to verify by hand. */
void measurement_encode(const struct measurement_input *in, char **buf, size_t *len);

/* The names of the secrets a deployment of c binds: c's containers' own and
 * extra (a borrowed strv, or NULL), sorted, each once. An owned strv, NULL
 * when there are none. */
char **measurement_secret_names(const struct config *c, char *const *extra);

/* The measurement of a deployment of c with debug, the secrets named by
 * names (measurement_secret_names()) and isolation: what berthd records and
 * `berth measure` prints. */
void measurement_of_config(const struct config *c, int debug, char *const *names,
                           const char *isolation, char out[65]);

#endif
