/* POST /api/v1/orgs: a new org and its first token (admin tokens only). */
#include <sodium.h>
#include <string.h>

#include "api/api-common.h"
#include "api/api-json.h"
#include "api/api-routes.h"
#include "daemon/daemon.h"
#include "secret/secret.h"
#include "store/store.h"

/* What orgs_steps writes: the org, its first token. */
struct org_write {
	const char *name;
	const char *token;
	struct store_org *org;
};

static int
orgs_steps(struct berthd *d, void *arg, struct err *err)
{
	struct org_write *w = arg;
	int rc;

	if ((rc = store_org_create(d->store, w->name, w->org, err)) < 0)
		return rc;
	return store_token_add(d->store, w->org->id, w->token, err);
}

static void
orgs_create(struct api_req *r)
{
	static const char *const fields[] = {"name", NULL};
	struct berthd *d = api_daemon(r);
	struct store_org org = {0};
	struct org_write w;
	struct err err = ERR_INIT;
	char token[TOKEN_LEN + 1];
	const char *name;
	json_t *body;
	int rc;

	if (!r->who.admin) {
		api_reply_error(r, 403, "forbidden", "only an admin token may create orgs");
		return;
	}
	if ((body = api_req_json(r)) == NULL)
		return;
	if (api_json_check_fields(r, body, fields) < 0 ||
	    api_json_get_string(r, body, "name", 0, &name) < 0)
		goto out;
	if (name == NULL || !api_json_dns_label(name)) {
		api_reply_error(r, 422, "invalid_name",
		                "name: an org name is a DNS label (a-z, 0-9 and -, at most 63, not "
		                "starting or ending with -)");
		goto out;
	}
	token_generate(token);
	w = (struct org_write){.name = name, .token = token, .org = &org};
	if ((rc = api_write(d, orgs_steps, &w, &err)) == 0)
		api_reply_json(r, 201, json_pack("{s:s,s:s}", "org", name, "token", token));
	else if (rc == STORE_ECONFLICT)
		api_reply_error(r, 409, "name_taken", "name: an org named %s exists", name);
	else
		api_reply_store_error(r, rc, &err);
out:
	sodium_memzero(token, sizeof token);
	store_org_clear(&org);
	json_decref(body);
}

const struct api_route api_routes_orgs[] = {
    {.method = API_POST, .pattern = "/api/v1/orgs", .handler = orgs_create},
    {0},
};
