/* berth ca: the local CA's certificate, for clients of the containers' HTTPS
 * hosts (`curl --cacert`). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/util.h"

static int
ca_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct err err = ERR_INIT;
	struct client_resp resp = {0};
	struct client *c = NULL;
	int rc;

	if ((rc = cli_connect(ctx, a, &c)) != CLI_EXIT_OK)
		goto out;
	if (client_get_outside(c, "/ca.pem", &resp, &err) < 0) {
		fprintf(ctx->err, "berth: %s\n", err.msg);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (strstr(resp.body, "-----BEGIN CERTIFICATE-----") == NULL) {
		fprintf(ctx->err, "berth: berthd at %s sent no certificate for /ca.pem\n",
		        client_url(c));
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	fputs(resp.body, ctx->out);
	rc = CLI_EXIT_OK;
out:
	client_resp_clear(&resp);
	client_free(c);
	return rc;
}

static const struct cli_cmd ca_cmds[] = {
    {
        .name = "show",
        .args = "",
        .summary = "print berth's local CA certificate (PEM); `berth ca` alone does too",
        .help = "berthd issues each container host's certificate from its own CA. Save\n"
                "it and trust it: `berth ca > berth-ca.pem; curl --cacert berth-ca.pem\n"
                "https://web.acme.containers.localhost:8443/`. Needs no token.",
        .run = ca_show,
    },
};

const struct cli_group cli_group_ca = {
    .name = "ca",
    .summary = "berth's local certificate authority",
    .cmds = ca_cmds,
    .n_cmds = ARRAY_LEN(ca_cmds),
    .dflt = &ca_cmds[0],
};
