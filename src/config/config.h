/* config: parse and validate tinfoil-config.yml, its canonical form and hash. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stddef.h>

#include "common/err.h"
#include "config/config-types.h"

/* Largest config file accepted. */
#define CONFIG_MAX_BYTES (1024 * 1024)

/* Parses and validates len bytes of YAML. name is the file name used in errors.
 * On success returns 0 and a new config in *out (caller frees with
 * config_free()). On failure returns -1, *out stays NULL and errs holds every
 * error found (caller frees with config_errors_free()). */
int config_parse(const char *name, const char *text, size_t len, struct config **out,
		 struct config_errors *errs);

/* Reads path (at most CONFIG_MAX_BYTES) and parses it as config_parse(). */
int config_load(const char *path, struct config **out, struct config_errors *errs);

void config_free(struct config *c);
void config_errors_free(struct config_errors *errs);

/* Formats errs as lines "file:line:col: key.path: sentence\n"; caller frees. */
char *config_errors_format(const struct config_errors *errs);

/* The container named name, or NULL. */
const struct config_container *config_container_find(const struct config *c, const char *name);

/* The container that receives the shim's traffic. */
const struct config_container *config_upstream_container(const struct config *c);

/* GPUs the deployment takes on a host with host_gpus GPUs (`gpus: all` takes
 * them all). */
int config_gpus_required(const struct config *c, int host_gpus);

/* The parsed, normalised config as pretty JSON (for `config validate --json`);
 * caller frees. */
char *config_to_json(const struct config *c);

#endif
