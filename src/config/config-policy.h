/* config-policy: what an enclave's containers may not ask for, refused when
 * the file is read (the reference validator's container policy).
 *
 * Private to src/config/: config.c calls it for each container mapping.
 */
#ifndef BERTH_CONFIG_POLICY_H
#define BERTH_CONFIG_POLICY_H

#include "config/config-types.h"
#include "config/config-yaml.h"

/* Normalises the capability name c in place as configs store it: upper case,
 * "CAP_" removed. Returns 0, or -1 (c then undefined) when c is not a
 * capability name ([A-Z0-9_]+ once normalised). */
int config_policy_cap_normalise(char *c);

/* Adds to errs one error for each key or entry of the container mapping m
 * that the policy refuses, at the position of that key or entry. Values of
 * the wrong type are left to the parser, which reports them. */
void config_policy_check_container(const struct config_yaml_node *m, struct config_errors *errs);

#endif
