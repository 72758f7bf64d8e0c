/* berth: the command-line client. `berth GROUP COMMAND [ARGS]`, dispatched
 * through one table of command groups. */
#include <stdio.h>
#include <string.h>

#include "cli/cli-conf.h"
#include "cli/cli.h"
#include "common/util.h"

static const struct cli_group *const groups[] = {
    &cli_group_container, &cli_group_secret,  &cli_group_org,    &cli_group_config,
    &cli_group_ca,        &cli_group_measure, &cli_group_verify, &cli_group_host,
};

static void
usage_group(FILE *f, const struct cli_group *g)
{
	size_t i;

	fprintf(f, "berth %s: %s\n\ncommands:\n", g->name, g->summary);
	for (i = 0; i < g->n_cmds; i++)
		fprintf(f, "  berth %s %s %s\n      %s\n", g->name, g->cmds[i].name,
		        g->cmds[i].args, g->cmds[i].summary);
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: berth [--url URL] [--token TOKEN] GROUP COMMAND [ARGS...]\n"
	           "       berth help [GROUP]\n"
	           "       berth --version\n\ngroups:\n");
	for (i = 0; i < ARRAY_LEN(groups); i++)
		fprintf(f, "  %-10s %s\n", groups[i]->name, groups[i]->summary);
	fprintf(f, "\n`berth help GROUP` lists a group's commands.\n"
	           "berthd is at $BERTH_URL (default " CLI_CONF_DEFAULT_URL "), the token in\n"
	           "$BERTH_TOKEN, or both in ~/.config/berth/config (url = ..., token = ...).\n");
}

static const struct cli_group *
group_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(groups); i++)
		if (strcmp(groups[i]->name, name) == 0)
			return groups[i];
	return NULL;
}

static int
is_help(const char *s)
{
	return strcmp(s, "help") == 0 || strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

int
main(int argc, char **argv)
{
	struct cli_ctx ctx = {.out = stdout, .err = stderr, .in = stdin};
	const struct cli_group *g;
	const struct cli_cmd *cmd;

	/* Global flags before the group: --url U, --token T (or --url=U). */
	while (argc > 1 && argv[1][0] == '-') {
		const char **dst;
		size_t n;

		if (strncmp(argv[1], "--url", 5) == 0 &&
		    (argv[1][5] == '\0' || argv[1][5] == '=')) {
			dst = &ctx.url;
			n = 5;
		} else if (strncmp(argv[1], "--token", 7) == 0 &&
		           (argv[1][7] == '\0' || argv[1][7] == '=')) {
			dst = &ctx.token;
			n = 7;
		} else {
			break;
		}
		if (argv[1][n] == '=') {
			*dst = argv[1] + n + 1;
		} else if (argc > 2) {
			*dst = argv[2];
			argv++;
			argc--;
		} else {
			fprintf(stderr, "berth: %s needs a value\n", argv[1]);
			return CLI_EXIT_USAGE;
		}
		argv++;
		argc--;
	}
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("berth %s\n", BERTH_VERSION);
		return CLI_EXIT_OK;
	}
	if (is_help(argv[1])) {
		if (argc < 3) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		g = group_find(argv[2]);
		if (g == NULL) {
			fprintf(stderr, "berth: no command group \"%s\"\n", argv[2]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
		usage_group(stdout, g);
		return CLI_EXIT_OK;
	}
	g = group_find(argv[1]);
	if (g == NULL) {
		fprintf(stderr, "berth: no command group \"%s\"\n", argv[1]);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	/* A group that is one command (`berth measure --repo R`) runs it on
	 * whatever follows that is not one of its commands' names. */
	if (g->dflt != NULL &&
	    (argc < 3 || (!is_help(argv[2]) && cli_cmd_find(g, argv[2]) == NULL)))
		return cli_run(&ctx, g, g->dflt, argc - 1, argv + 1);
	if (argc < 3 || is_help(argv[2])) {
		usage_group(argc < 3 ? stderr : stdout, g);
		return argc < 3 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	cmd = cli_cmd_find(g, argv[2]);
	if (cmd != NULL) {
		if (argc > 3 && is_help(argv[3]) && strcmp(argv[3], "help") != 0) {
			cli_usage(stdout, g, cmd);
			printf("\n%s\n", cmd->help != NULL ? cmd->help : cmd->summary);
			return CLI_EXIT_OK;
		}
		return cli_run(&ctx, g, cmd, argc - 2, argv + 2);
	}
	fprintf(stderr, "berth %s: no command \"%s\"\n", g->name, argv[2]);
	usage_group(stderr, g);
	return CLI_EXIT_USAGE;
}
