/* config: parse and validate tinfoil-config.yml, its canonical form and hash. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stddef.h>

#include "common/err.h"
#include "config/config-types.h"

/* The isolation levels an enclave can have (`deploy.isolation`), NULL
 * terminated: "runc" (the hardened OCI runtime) and "gvisor" (runsc). */
extern const char *const config_isolation_levels[];

/* Largest config file accepted. */
#define CONFIG_MAX_BYTES (1024 * 1024)

/* Parses and validates len bytes of YAML. name is the file name used in errors.
 * On success returns 0 and a new config in *out (caller frees with
 * config_free()), errs left empty. On failure returns -1, *out stays NULL and
 * errs holds every error found, in document order (caller frees with
 * config_errors_free()). errs needs no initialisation. */
int config_parse(const char *name, const char *text, size_t len, struct config **out,
                 struct config_errors *errs);

/* Reads path (at most CONFIG_MAX_BYTES) and parses it as config_parse(). */
int config_load(const char *path, struct config **out, struct config_errors *errs);

/* Frees a config; NULL is fine. */
void config_free(struct config *c);
/* Frees the errors' contents and empties errs; safe on an empty errs. */
void config_errors_free(struct config_errors *errs);

/* Formats errs as lines "file:line:col: key.path: sentence\n" (":line:col"
 * absent for errors about the whole file, "key.path: " for errors outside
 * any key); caller frees. */
char *config_errors_format(const struct config_errors *errs);

/* The container named name, or NULL. */
const struct config_container *config_container_find(const struct config *c, const char *name);
/* The top-level volume called name, or NULL. */
const struct config_volume *config_volume_find(const struct config *c, const char *name);

/* The container that receives the shim's traffic. */
const struct config_container *config_upstream_container(const struct config *c);

/* GPUs the deployment takes on a host with host_gpus GPUs: the top-level
 * `gpus` when set (the enclave's GPUs, shared by its `gpus: all` containers);
 * else the sum of the containers' counts, or all of the host's GPUs when a
 * container says `gpus: all`. */
int config_gpus_required(const struct config *c, int host_gpus);

/* Whether container cc, or any container of c, wants GPUs: gpus (a count
 * or all) or runtime: nvidia. */
int config_container_wants_gpus(const struct config_container *cc);
int config_wants_gpus(const struct config *c);

/* Whether the shim.paths entry pattern lets path (len bytes) through: the
 * same path; a prefix, for a pattern ending in a star ("/v1/STAR", "/v1STAR");
 * a star as a whole middle segment matches one non-empty segment
 * ("/plan/STAR/sign"). What berth-router and the health check go by. */
int config_path_allows(const char *pattern, const char *path, size_t len);

/* Lists in errs (which needs no initialisation; caller frees with
 * config_errors_free()) every key of c that berth accepts but cannot honour
 * at deploy yet, with its position, in document order: cvm_admin, ports,
 * inbound-ports, models, overlays, volumes, attested keys, attestation: true,
 * registry, ... Returns 0 when there is none,
 * -1 when errs lists some. */
int config_unsupported(const struct config *c, struct config_errors *errs);

/* The egress of c's enclave: its containers share one network namespace, so
 * it is the widest of the networks any of them is attached to: "open",
 * "allowlist" or "closed" (no network, or only closed ones). Static string. */
const char *config_egress(const struct config *c);

/* The host names an enclave of c may connect to when config_egress() is
 * "allowlist": the allow lists of the networks its containers are attached
 * to, each name once (owned strv; NULL for none). */
char **config_egress_allow(const struct config *c);

/* The parsed, normalised config as pretty JSON (for `config validate --json`);
 * caller frees. */
char *config_to_json(const struct config *c);

#endif
