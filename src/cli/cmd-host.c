/* berth host: the hosts berthd drives through their berth-agent (admin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"
#include "common/util.h"

/* The integer member key of obj, shifted right by shift, then suffix, into
 * out; "" when obj has no such integer. */
static void
int_cell(const json_t *obj, const char *key, int shift, const char *suffix, char out[32])
{
	const json_t *v = json_object_get(obj, key);

	out[0] = '\0';
	if (json_is_integer(v))
		snprintf(out, 32, "%lld%s", (long long)(json_integer_value(v) >> shift), suffix);
}

/* `host list`: the table of GET /hosts. */
static void
hosts_print(FILE *f, const json_t *list)
{
	static const char *const heads[] = {"HOST",      "STATUS",   "CPUS",      "MEMORY", "GPUS",
	                                    "ISOLATION", "ENCLAVES", "LAST SEEN", "URL"};
	const json_t *v;
	struct table t;
	size_t i;

	table_init(&t, ARRAY_LEN(heads), heads);
	json_array_foreach(list, i, v)
	{
		const json_t *cap = json_object_get(v, "capacity");
		char *iso = cli_json_join(json_object_get(cap, "isolation"), ",");
		char cpus[32], mem[32], gpus[32], enclaves[24];

		int_cell(cap, "cpus", 0, "", cpus);
		int_cell(cap, "memory_bytes", 20, "MiB", mem);
		int_cell(cap, "gpus", 0, "", gpus);
		snprintf(enclaves, sizeof enclaves, "%lld",
		         (long long)json_integer_value(
		             json_object_get(json_object_get(v, "allocated"), "enclaves")));
		const char *row[] = {cli_json_str(v, "name"),
		                     cli_json_str(v, "status"),
		                     cpus,
		                     mem,
		                     gpus,
		                     iso,
		                     enclaves,
		                     cli_json_str(v, "last_seen"),
		                     cli_json_str(v, "url")};
		table_add(&t, row);
		free(iso);
	}
	table_print(&t, f);
	table_free(&t);
}

static const struct cli_cmd host_cmds[] = {
    {
        .name = "list",
        .args = "[--json]",
        .summary = "the hosts of berth-agents: capacity, enclaves, status, last seen (admin)",
        .help = "A host is ready while its agent heartbeats, lost once it has been silent\n"
                "for berthd's --host-timeout (or before it ever registered).",
        .opts = cli_json_opts,
        .get = "/hosts",
        .print = hosts_print,
    },
};

const struct cli_group cli_group_host = {
    .name = "host",
    .summary = "hosts and their agents (admin)",
    .cmds = host_cmds,
    .n_cmds = ARRAY_LEN(host_cmds),
};
