/* berth host: the hosts berthd drives through their berth-agent (admin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"
#include "common/buf.h"
#include "common/util.h"

static const struct cli_opt list_opts[] = {{"--json", CLI_OPT_FLAG}, {NULL, 0}};

static int
host_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const heads[] = {"HOST",      "STATUS",   "CPUS",      "MEMORY", "GPUS",
	                                    "ISOLATION", "ENCLAVES", "LAST SEEN", "URL"};
	struct client *c = NULL;
	json_t *ans = NULL, *v;
	struct table t;
	size_t i;
	int rc;

	if ((rc = cli_connect(ctx, a, &c)) != CLI_EXIT_OK)
		goto out;
	if ((rc = cli_call(ctx, c, "GET", "/hosts", NULL, &ans)) != CLI_EXIT_OK)
		goto out;
	if (cli_flag(a, "--json")) {
		cli_print_json(ctx->out, ans);
		goto out;
	}
	table_init(&t, ARRAY_LEN(heads), heads);
	json_array_foreach(ans, i, v)
	{
		const json_t *cap = json_object_get(v, "capacity");
		char enclaves[24] = "";
		struct buf iso = BUF_INIT;
		const json_t *l;
		size_t j;
		char cpus[24] = "", mem[32] = "", gpus[24] = "";

		json_array_foreach(json_object_get(cap, "isolation"), j, l)
		{
			if (json_is_string(l))
				buf_printf(&iso, "%s%s", iso.len > 0 ? "," : "",
				           json_string_value(l));
		}
		if (json_is_integer(json_object_get(cap, "cpus")))
			snprintf(cpus, sizeof cpus, "%lld",
			         (long long)json_integer_value(json_object_get(cap, "cpus")));
		if (json_is_integer(json_object_get(cap, "memory_bytes")))
			snprintf(
			    mem, sizeof mem, "%lldMiB",
			    (long long)(json_integer_value(json_object_get(cap, "memory_bytes")) >>
			                20));
		if (json_is_integer(json_object_get(cap, "gpus")))
			snprintf(gpus, sizeof gpus, "%lld",
			         (long long)json_integer_value(json_object_get(cap, "gpus")));
		snprintf(enclaves, sizeof enclaves, "%lld",
		         (long long)json_integer_value(
		             json_object_get(json_object_get(v, "allocated"), "enclaves")));
		const char *row[] = {cli_json_str(v, "name"),
		                     cli_json_str(v, "status"),
		                     cpus,
		                     mem,
		                     gpus,
		                     iso.data,
		                     enclaves,
		                     cli_json_str(v, "last_seen"),
		                     cli_json_str(v, "url")};
		table_add(&t, row);
		buf_free(&iso);
	}
	table_print(&t, ctx->out);
	table_free(&t);
out:
	json_decref(ans);
	client_free(c);
	return rc;
}

static const struct cli_cmd host_cmds[] = {
    {
        .name = "list",
        .args = "[--json]",
        .summary = "the hosts of berth-agents: capacity, enclaves, status, last seen (admin)",
        .help = "A host is ready while its agent heartbeats, lost once it has been silent\n"
                "for berthd's --host-timeout (or before it ever registered).",
        .opts = list_opts,
        .run = host_list,
    },
};

const struct cli_group cli_group_host = {
    .name = "host",
    .summary = "hosts and their agents (admin)",
    .cmds = host_cmds,
    .n_cmds = ARRAY_LEN(host_cmds),
};
