/* cli: the command table of `berth`. Each command group lives in its own
 * cmd-<group>.c and exports one struct cli_group; main.c lists them all. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <stddef.h>
#include <stdio.h>

/* Exit statuses of a command. */
enum {
	CLI_EXIT_OK = 0,    /* done */
	CLI_EXIT_FAIL = 1,  /* the command ran and failed (invalid config, API error) */
	CLI_EXIT_USAGE = 2, /* bad arguments */
};

/* What every command gets: where to write, and (later) where the API is. */
struct cli_ctx {
	FILE *out; /* borrowed: results */
	FILE *err; /* borrowed: errors and progress */
};

struct cli_cmd {
	const char *name;    /* "validate" */
	const char *args;    /* "[--json] FILE...", for usage lines */
	const char *summary; /* one line for `berth help` */
	const char *help;    /* more lines for `berth GROUP CMD --help`, or NULL */
	/* Runs the command; argv[0] is the command name. Returns a CLI_EXIT_*. */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
};

struct cli_group {
	const char *name;           /* "config" */
	const char *summary;        /* one line for `berth help` */
	const struct cli_cmd *cmds; /* the group's commands */
	size_t n_cmds;
};

/* Prints the usage line of cmd in group to f. */
void cli_usage(FILE *f, const struct cli_group *group, const struct cli_cmd *cmd);

extern const struct cli_group cli_group_config;

#endif
