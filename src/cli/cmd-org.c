/* berth org: create orgs (with an admin token) and their first API token. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/util.h"

static int
org_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct client *c = NULL;
	json_t *body = NULL, *ans = NULL, *out;
	const char *token;
	int rc;

	body = json_pack("{s:s}", "name", a->pos[0]);
	if ((rc = cli_request(ctx, a, &c, "POST", "/orgs", body, &ans)) != CLI_EXIT_OK)
		goto out;
	token = cli_json_str(ans, "token");
	if (token == NULL) {
		fprintf(ctx->err, "berth: berthd created org %s but sent no token\n", a->pos[0]);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (cli_flag(a, "--json")) {
		out = json_pack("{s:s,s:s}", "org", a->pos[0], "token", token);
		cli_print_json(ctx->out, out);
		json_decref(out);
	} else {
		fprintf(ctx->out, "%s\n", token);
	}
out:
	json_decref(ans);
	json_decref(body);
	client_free(c);
	return rc;
}

static const struct cli_cmd org_cmds[] = {
    {
        .name = "create",
        .args = "NAME [--json]",
        .summary = "create an org and print its first API token (needs an admin token)",
        .help = "Prints the token alone, so that `export BERTH_TOKEN=$(berth org create\n"
                "acme)` works; --json prints {\"org\": NAME, \"token\": TOKEN}. The token\n"
                "is shown once: berthd keeps only its hash.",
        .opts = cli_json_opts,
        .pos = "org name",
        .run = org_create,
    },
};

const struct cli_group cli_group_org = {
    .name = "org",
    .summary = "manage orgs (admin)",
    .cmds = org_cmds,
    .n_cmds = ARRAY_LEN(org_cmds),
};
