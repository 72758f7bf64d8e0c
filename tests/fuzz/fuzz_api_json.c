/* libFuzzer target: the API's JSON request bodies, parsed and validated as
 * the handlers of POST /containers, POST /containers/{name}/updates,
 * PUT /secrets/{name} and POST /orgs do before they reach the store.
 *
 * No daemon: each input goes into the body of an evhttp request that has no
 * connection (evhttp frees such a request when it is answered, sending
 * nothing), through api_req_json() and the api_json_get_*() checks with the
 * handlers' own field lists (copied from api-containers.c, api-updates.c,
 * api-secrets.c and api-orgs.c: keep them in step), then config_parse() on a
 * config that passed. Besides crashes and sanitizer reports, it aborts when
 * a check breaks the convention of api-json.h: -1 exactly when it answered,
 * and one answer at most. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-json.h"
#include "api/api-server.h"
#include "common/util.h"
#include "config/config.h"
#include "model/model.h"
#include "secret/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A request of no connection with data as its body. */
static void
fuzz_req(struct api_req *r, const uint8_t *data, size_t size)
{
	memset(r, 0, sizeof *r);
	r->req = evhttp_request_new(NULL, NULL);
	if (r->req == NULL)
		abort();
	evbuffer_add(evhttp_request_get_input_buffer(r->req), data, size);
	r->path = "/fuzz";
	r->in_handler = 1;
}

/* Frees what a request that was not answered still holds. */
static void
fuzz_req_done(struct api_req *r)
{
	if (!r->replied)
		evhttp_request_free(r->req);
}

/* A check's result against the convention: -1 if and only if it answered. */
static int
fuzz_rc(struct api_req *r, int rc)
{
	if ((rc < 0) != (r->replied != 0))
		abort();
	return rc;
}

/* api_req_json(): an object, or NULL and answered. */
static json_t *
fuzz_body(struct api_req *r)
{
	json_t *body = api_req_json(r);

	if ((body == NULL) != (r->replied != 0) || (body != NULL && !json_is_object(body)))
		abort();
	return body;
}

static void
fuzz_config(const char *config)
{
	struct config_errors errs = {0};
	struct config *c = NULL;

	if (config_parse("config", config, strlen(config), &c, &errs) == 0)
		config_free(c);
	else
		config_errors_free(&errs);
}

/* POST /api/v1/containers (containers_create). */
static void
fuzz_containers_create(const uint8_t *data, size_t size)
{
	static const char *const fields[] = {"name",  "repo",    "tag", "config",
	                                     "debug", "secrets", "env", NULL};
	const char *name = NULL, *repo = NULL, *tag = NULL, *config = NULL;
	char **secrets = NULL;
	json_t *body, *env = NULL;
	struct api_req r;
	int debug = 0, present = 0;

	fuzz_req(&r, data, size);
	if ((body = fuzz_body(&r)) == NULL)
		goto out;
	if (fuzz_rc(&r, api_json_check_fields(&r, body, fields)) < 0 ||
	    fuzz_rc(&r, api_json_get_string(&r, body, "name", 0, &name)) < 0 ||
	    fuzz_rc(&r, api_json_get_string(&r, body, "repo", 1, &repo)) < 0 ||
	    fuzz_rc(&r, api_json_get_string(&r, body, "tag", 1, &tag)) < 0 ||
	    fuzz_rc(&r, api_json_get_string(&r, body, "config", 1, &config)) < 0 ||
	    fuzz_rc(&r, api_json_get_bool(&r, body, "debug", &debug)) < 0 ||
	    fuzz_rc(&r, api_json_get_secret_names(&r, body, "secrets", &secrets, &present)) < 0 ||
	    fuzz_rc(&r, api_json_get_env(&r, body, "env", &env)) < 0)
		goto out;
	if (name == NULL || !api_json_dns_label(name))
		goto out;
	if ((config != NULL) == (repo != NULL || tag != NULL))
		goto out;
	if (config != NULL)
		fuzz_config(config);
out:
	strv_free(secrets);
	json_decref(env);
	json_decref(body);
	fuzz_req_done(&r);
}

/* POST /api/v1/containers/{name}/updates (updates_create). */
static void
fuzz_updates_create(const uint8_t *data, size_t size)
{
	static const char *const tag_fields[] = {"kind", "tag", NULL};
	static const char *const edit_fields[] = {"kind", "config", "secrets",
	                                          "env",  "debug",  NULL};
	static const char *const bare_fields[] = {"kind", NULL};
	const char *kind = NULL, *tag = NULL, *config = NULL;
	enum update_kind k;
	char **secrets = NULL;
	json_t *body, *env = NULL;
	struct api_req r;
	int debug = 0, given = 0;

	fuzz_req(&r, data, size);
	if ((body = fuzz_body(&r)) == NULL)
		goto out;
	if (fuzz_rc(&r, api_json_get_string(&r, body, "kind", 0, &kind)) < 0)
		goto out;
	if (kind == NULL || model_update_kind_parse(kind, &k) < 0)
		goto out;
	switch (k) {
	case UPDATE_KIND_TAG:
		if (fuzz_rc(&r, api_json_check_fields(&r, body, tag_fields)) < 0 ||
		    fuzz_rc(&r, api_json_get_string(&r, body, "tag", 0, &tag)) < 0)
			goto out;
		break;
	case UPDATE_KIND_EDIT_CONFIG:
		if (fuzz_rc(&r, api_json_check_fields(&r, body, edit_fields)) < 0 ||
		    fuzz_rc(&r, api_json_get_string(&r, body, "config", 1, &config)) < 0 ||
		    fuzz_rc(&r, api_json_get_secret_names(&r, body, "secrets", &secrets, &given)) <
		        0 ||
		    fuzz_rc(&r, api_json_get_env(&r, body, "env", &env)) < 0 ||
		    fuzz_rc(&r, api_json_get_bool(&r, body, "debug", &debug)) < 0)
			goto out;
		if (config != NULL)
			fuzz_config(config);
		break;
	case UPDATE_KIND_PROMOTE:
	case UPDATE_KIND_RETRY:
		(void)fuzz_rc(&r, api_json_check_fields(&r, body, bare_fields));
		break;
	}
out:
	strv_free(secrets);
	json_decref(env);
	json_decref(body);
	fuzz_req_done(&r);
}

/* PUT /api/v1/secrets/{name} (secrets_put; its body parser is the same
 * json_loadb() with JSON_REJECT_DUPLICATES). */
static void
fuzz_secrets_put(const uint8_t *data, size_t size)
{
	static const char *const fields[] = {"value", NULL};
	struct api_req r;
	json_t *body, *v;
	int accepted = 0;

	fuzz_req(&r, data, size);
	if ((body = fuzz_body(&r)) == NULL)
		goto out;
	if (fuzz_rc(&r, api_json_check_fields(&r, body, fields)) < 0)
		goto out;
	/* The handler's checks of the value: a string, not too long, no NUL. */
	v = json_object_get(body, "value");
	if (v != NULL && json_is_string(v) && json_string_length(v) <= SECRET_VALUE_MAX &&
	    strlen(json_string_value(v)) == json_string_length(v))
		accepted = 1;
	(void)accepted;
out:
	json_decref(body);
	fuzz_req_done(&r);
}

/* POST /api/v1/orgs (orgs_create). */
static void
fuzz_orgs_create(const uint8_t *data, size_t size)
{
	static const char *const fields[] = {"name", NULL};
	const char *name = NULL;
	struct api_req r;
	json_t *body;

	fuzz_req(&r, data, size);
	if ((body = fuzz_body(&r)) == NULL)
		goto out;
	if (fuzz_rc(&r, api_json_check_fields(&r, body, fields)) < 0 ||
	    fuzz_rc(&r, api_json_get_string(&r, body, "name", 0, &name)) < 0)
		goto out;
	if (name != NULL)
		(void)api_json_dns_label(name);
out:
	json_decref(body);
	fuzz_req_done(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_containers_create(data, size);
	fuzz_updates_create(data, size);
	fuzz_secrets_put(data, size);
	fuzz_orgs_create(data, size);
	return 0;
}
