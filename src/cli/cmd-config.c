/* berth config: work with tinfoil-config.yml files locally. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "config/config.h"

static int
config_validate(struct cli_ctx *ctx, const struct cli_args *a)
{
	int json = cli_flag(a, "--json"), bad = 0;

	for (int i = 0; i < a->npos; i++) {
		struct config_errors errs = {0};
		struct config *c = NULL;
		char *text;

		if (config_load(a->pos[i], &c, &errs) < 0) {
			text = config_errors_format(&errs);
			fputs(text, ctx->err);
			free(text);
			config_errors_free(&errs);
			bad = 1;
			continue;
		}
		if (json) {
			text = config_to_json(c);
			fprintf(ctx->out, "%s\n", text);
			free(text);
		} else {
			fprintf(ctx->out, "%s: ok sha256:%s\n", a->pos[i], c->config_sha256);
		}
		if (c->warnings.n > 0 && (text = config_errors_format(&c->warnings)) != NULL) {
			fputs(text, ctx->err);
			free(text);
		}
		config_free(c);
	}
	fflush(ctx->out);
	return bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static const struct cli_cmd config_cmds[] = {
    {
        .name = "validate",
        .args = "[--json] FILE...",
        .summary = "check tinfoil-config.yml files and print their sha256",
        .help = "Prints \"FILE: ok sha256:<hex>\" for each valid file (the sha256 of its\n"
                "canonical form), or its errors as file:line:col: key: sentence on\n"
                "stderr. --json prints the parsed, normalised config instead.\n"
                "Exits 0 only when every file is valid.",
        .opts = cli_json_opts,
        .pos = "file",
        .many = 1,
        .run = config_validate,
    },
};

const struct cli_group cli_group_config = {
    .name = "config",
    .summary = "work with tinfoil-config.yml files",
    .cmds = config_cmds,
    .n_cmds = ARRAY_LEN(config_cmds),
};
