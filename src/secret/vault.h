/* vault: an org's secrets as the store keeps them, sealed, opened with the
 * host's key for what needs their values: an enclave's environment, and the
 * sets that redact them from what an enclave prints. Loop thread only (the
 * store handle is the loop's). */
#ifndef BERTH_VAULT_H
#define BERTH_VAULT_H

#include <stddef.h>

#include "common/err.h"

struct redact;
struct secret_key;
struct store;

/* Opens the value of org_id's secret name: on success *value, NUL-terminated
 * and *len bytes long, which the caller releases with secret_value_free().
 * Fails with a sentence when the org has no such secret or it does not open. */
int vault_open(struct store *st, const struct secret_key *key, const char *org_id, const char *name,
               char **value, size_t *len, struct err *err);

/* What redacts the secrets named in secrets_json (a deployment's JSON array of
 * names; NULL is none) from an enclave's text, with their values as org_id
 * holds them now: *out is a new set the caller frees with redact_free().
 * Fails as vault_open() does: a set that missed a value would let it through. */
int vault_redact_of(struct store *st, const struct secret_key *key, const char *org_id,
                    const char *secrets_json, struct redact **out, struct err *err);

#endif
