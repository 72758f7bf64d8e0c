/* /api/v1/secrets: list, set, delete. Values go in sealed and never come out:
 * no answer, event, log line or error carries one. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-common.h"
#include "api/api-json.h"
#include "api/api-routes.h"
#include "daemon/daemon.h"
#include "secret/secret.h"
#include "store/store.h"

/* The listed form of the org's secret name into *out, or NULL. */
static int
secrets_find(struct berthd *d, const char *org_id, const char *name, json_t **out, struct err *err)
{
	struct store_secret *list = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((rc = store_secret_list(d->store, org_id, &list, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			*out = api_json_secret(&list[i]);
	store_secret_list_free(list, n);
	return 0;
}

static void
secrets_list(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_secret *list = NULL;
	struct err err = ERR_INIT;
	json_t *out;
	size_t n = 0;
	int rc;

	if ((rc = store_secret_list(d->store, r->who.org_id, &list, &n, &err)) < 0) {
		api_reply_store_error(r, rc, &err);
		return;
	}
	out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, api_json_secret(&list[i]));
	store_secret_list_free(list, n);
	api_reply_json(r, 200, out);
}

static void
secrets_put(struct api_req *r)
{
	static const char *const fields[] = {"value", NULL};
	struct berthd *d = api_daemon(r);
	const char *name = r->captures[0];
	unsigned char nonce[SECRET_NONCE_BYTES], *sealed = NULL;
	struct err err = ERR_INIT;
	size_t sealed_len = 0;
	json_t *body, *v, *out = NULL;
	int rc;

	if (secret_name_check(name, &err) < 0) {
		api_reply_error(r, 422, "invalid_name", "name: %s", err.msg);
		return;
	}
	if ((body = api_req_json(r)) == NULL)
		return;
	if (api_json_check_fields(r, body, fields) < 0)
		goto out;
	v = json_object_get(body, "value");
	if (v == NULL || !json_is_string(v)) {
		api_reply_error(r, 422, "invalid_field", "value: expected a string");
		goto out;
	}
	if (json_string_length(v) > SECRET_VALUE_MAX) {
		api_reply_error(r, 422, "invalid_field", "value: longer than %d bytes",
		                SECRET_VALUE_MAX);
		goto out;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		api_reply_error(r, 422, "invalid_field", "value: must not contain a NUL character");
		goto out;
	}
	if (secret_seal(d->key, r->who.org_id, name, json_string_value(v), json_string_length(v),
	                &sealed, &sealed_len, nonce, &err) < 0) {
		api_reply_error(r, 500, "internal", "sealing the value failed");
		goto out;
	}
	if ((rc = store_secret_put(d->store, r->who.org_id, name, sealed, sealed_len, nonce,
	                           sizeof nonce, &err)) < 0 ||
	    (rc = secrets_find(d, r->who.org_id, name, &out, &err)) < 0) {
		api_reply_store_error(r, rc, &err);
		goto out;
	}
	api_reply_object(r, 200, out);
out:
	free(sealed);
	/* The body holds the value in the clear: wipe it before it is freed. */
	if (body != NULL && (v = json_object_get(body, "value")) != NULL && json_is_string(v))
		sodium_memzero((char *)json_string_value(v), json_string_length(v));
	json_decref(body);
}

static void
secrets_delete(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct err err = ERR_INIT;
	int rc;

	rc = store_secret_delete(d->store, r->who.org_id, r->captures[0], &err);
	if (rc == 0)
		api_reply_text(r, 204, NULL, NULL, 0);
	else if (rc == STORE_ENOTFOUND)
		api_reply_error(r, 404, "not_found", "no secret named %s", r->captures[0]);
	else if (rc == STORE_EINUSE)
		api_reply_error(r, 409, "secret_in_use", "%s", err.msg);
	else
		api_reply_store_error(r, rc, &err);
}

const struct api_route api_routes_secrets[] = {
    {.method = API_GET, .pattern = "/api/v1/secrets", .handler = secrets_list},
    {.method = API_PUT, .pattern = "/api/v1/secrets/{}", .handler = secrets_put},
    {.method = API_DELETE, .pattern = "/api/v1/secrets/{}", .handler = secrets_delete},
    {0},
};
