#include "secret/vault.h"

#include <jansson.h>

#include "secret/redact.h"
#include "secret/secret.h"
#include "store/store.h"

int
vault_open(struct store *st, const struct secret_key *key, const char *org_id, const char *name,
           char **value, size_t *len, struct err *err)
{
	struct store_secret s = {0};
	int rc;

	*value = NULL;
	*len = 0;
	rc = store_secret_get(st, org_id, name, &s, err);
	if (rc == STORE_ENOTFOUND) {
		rc = err_make(err, 0, "secret %s does not exist in the org", name);
	} else if (rc == 0 && s.nonce_len != SECRET_NONCE_BYTES) {
		rc = err_make(err, 0, "secret %s is damaged", name);
	} else if (rc == 0) {
		rc = secret_open(key, org_id, name, s.sealed, s.sealed_len, s.nonce, value, len,
		                 err);
		if (rc < 0)
			err_wrap(err, "secret %s", name);
	}
	store_secret_clear(&s);
	return rc;
}

int
vault_redact_of(struct store *st, const struct secret_key *key, const char *org_id,
                const char *secrets_json, struct redact **out, struct err *err)
{
	json_t *names = json_loads(secrets_json != NULL ? secrets_json : "[]", 0, NULL);
	struct redact *rd = redact_new();
	int rc = 0;

	*out = NULL;
	for (size_t i = 0; i < json_array_size(names) && rc == 0; i++) {
		const char *name = json_string_value(json_array_get(names, i));
		char *value;
		size_t len;

		if (name == NULL)
			continue;
		rc = vault_open(st, key, org_id, name, &value, &len, err);
		if (rc == 0)
			redact_add(rd, name, value, len);
		secret_value_free(value, len);
	}
	json_decref(names);
	if (rc < 0) {
		redact_free(rd);
		return rc;
	}
	*out = rd;
	return 0;
}
