/* cli: the command table of `berth`. Each command group lives in its own
 * cmd-<group>.c and exports one struct cli_group; main.c lists them all.
 * cli.c holds what the commands share: argument parsing, reaching the API,
 * printing its errors. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"

struct client;

/* Exit statuses of a command. */
enum {
	CLI_EXIT_OK = 0,    /* done */
	CLI_EXIT_FAIL = 1,  /* the command ran and failed (invalid config, API error) */
	CLI_EXIT_USAGE = 2, /* bad arguments */
};

/* What every command gets: where to write, and the global flags. */
struct cli_group;
struct cli_cmd;
struct cli_args;

struct cli_ctx {
	FILE *out;         /* borrowed: results */
	FILE *err;         /* borrowed: errors and progress */
	FILE *in;          /* borrowed: input (secret values, confirmations) */
	const char *url;   /* borrowed: `berth --url U GROUP ...`, or NULL */
	const char *token; /* borrowed: `berth --token T GROUP ...`, or NULL */
	/* The command running (cli_run() sets them), for its usage errors. */
	const struct cli_group *group;
	const struct cli_cmd *cmd;
};

enum cli_opt_kind {
	CLI_OPT_FLAG,  /* --yes */
	CLI_OPT_VALUE, /* --tag v2 or --tag=v2; the last one given wins */
	CLI_OPT_LIST,  /* --secret A --secret B: every value kept */
};

/* One option of a command; a table of them ends with {NULL}. */
struct cli_opt {
	const char *name; /* "--tag" */
	enum cli_opt_kind kind;
};

/* A command: its words, its arguments and what runs it (tmux's cmd_entry).
 * cli_run() parses the command line against .opts and .pos once; the
 * command reads the result by option name. */
struct cli_cmd {
	const char *name;           /* "validate" */
	const char *args;           /* "[--json] FILE...", for usage lines */
	const char *summary;        /* one line for `berth help` */
	const char *help;           /* more lines for `berth GROUP CMD --help`, or NULL */
	const struct cli_opt *opts; /* its options, ended by {NULL}; NULL for none */
	/* Its positional argument, for the error when it is missing ("container
	 * name": "no container name given"); NULL when it takes none. With
	 * .many, one or more are taken. */
	const char *pos;
	int many;
	int opt_pos; /* with .pos NULL: one positional argument may be given */
	/* Runs the command on its parsed arguments. Returns a CLI_EXIT_*. */
	int (*run)(struct cli_ctx *ctx, const struct cli_args *a);
	/* Or, with .run NULL, a command that shows one API object: GET .get
	 * (below /api/v1; "{}" stands for the positional argument, escaped),
	 * and the answer printed as it is with --json (which .opts holds),
	 * else by .print. */
	const char *get;
	void (*print)(FILE *f, const json_t *v);
};

struct cli_group {
	const char *name;           /* "config" */
	const char *summary;        /* one line for `berth help` */
	const struct cli_cmd *cmds; /* the group's commands */
	size_t n_cmds;
	const struct cli_cmd *dflt; /* run by `berth GROUP` alone, or NULL: usage */
};

/* Prints the usage line of cmd in group to f. */
void cli_usage(FILE *f, const struct cli_group *group, const struct cli_cmd *cmd);

/* Runs cmd of group on argv (argv[0] is the command's name): parses it,
 * prints a usage mistake, else calls cmd->run. Returns a CLI_EXIT_*. */
int cli_run(struct cli_ctx *ctx, const struct cli_group *group, const struct cli_cmd *cmd, int argc,
            char **argv);

/* The command of group named name, or NULL. */
const struct cli_cmd *cli_cmd_find(const struct cli_group *group, const char *name);

/* Prints "berth GROUP CMD: <msg>" and the usage line of the running command
 * to ctx->err. Returns CLI_EXIT_USAGE. */
int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* The options of a command whose only option is --json. */
extern const struct cli_opt cli_json_opts[];

/* ---- arguments ---- */

#define CLI_MAX_OPTS 16

/* A command line parsed against a table of cli_opt. */
struct cli_args {
	const struct cli_opt *opts;      /* borrowed: the table it was parsed against */
	int seen[CLI_MAX_OPTS];          /* how many times each option was given */
	const char *value[CLI_MAX_OPTS]; /* VALUE options: the last value, borrowed from argv */
	char **list[CLI_MAX_OPTS];       /* LIST options: every value, owned strv */
	const char **pos;                /* owned array of positional arguments (borrowed) */
	int npos;
	const char *url;   /* --url, which every command takes; borrowed */
	const char *token; /* --token, likewise */
};

/* Parses argv[1..argc) against opts (at most CLI_MAX_OPTS, ended by {NULL};
 * NULL for none) into a, accepting at most max_pos positional arguments (-1:
 * any number); `--` ends the options. Returns 0, or -1 with the usage
 * mistake in err. Free a with cli_args_free() either way. */
int cli_args_parse(struct cli_args *a, const struct cli_opt *opts, int max_pos, int argc,
                   char **argv, struct err *err);

/* How many times option name (of a's table: a name it lacks is a bug) was
 * given. */
int cli_flag(const struct cli_args *a, const char *name);

/* The last value of option name, or NULL when it was not given. */
const char *cli_value(const struct cli_args *a, const char *name);

/* The value of option name as a whole number of at least min: 0 with it in
 * *out (left as it is when the option was not given), or -1 when the value
 * is not such a number. */
int cli_value_num(const struct cli_args *a, const char *name, long long min, long long *out);

/* Every value of list option name, a strv, or NULL when none was given. */
char *const *cli_list(const struct cli_args *a, const char *name);

/* Frees what a owns. */
void cli_args_free(struct cli_args *a);

/* ---- the API ---- */

/* Reaches berthd where the flags, the environment and the config file say
 * (cli-conf.h). Returns 0 with a new client in *out, or CLI_EXIT_FAIL after
 * printing why. */
int cli_connect(struct cli_ctx *ctx, const struct cli_args *a, struct client **out);

/* Calls the API (path below /api/v1, body borrowed, may be NULL). Returns
 * CLI_EXIT_OK with the answer's JSON in *out (owned; NULL when it had none),
 * or CLI_EXIT_FAIL after printing the API's error sentence. */
int cli_call(struct cli_ctx *ctx, struct client *c, const char *method, const char *path,
             json_t *body, json_t **out);

/* cli_connect(), then cli_call() on the new client (*c, owned by the
 * caller, NULL when it failed). Returns like cli_call(). */
int cli_request(struct cli_ctx *ctx, const struct cli_args *a, struct client **c,
                const char *method, const char *path, json_t *body, json_t **out);

/* Prints v pretty (two-space indent) and a newline to f. */
void cli_print_json(FILE *f, const json_t *v);

/* The string member key of obj, or NULL when absent, null or not a string. */
const char *cli_json_str(const json_t *obj, const char *key);

/* The strings of array arr joined by sep, owned ("" when it has none;
 * members that are not strings are passed over). */
char *cli_json_join(const json_t *arr, const char *sep);

/* One attested key {id, key, public_key} of a document or a container as
 * "ID TYPE PUBLIC_KEY" (the id padded), as berth verify and container get
 * both print it. Owned by the caller. */
char *cli_attested_key(const json_t *k);

/* ---- request bodies (cmd-container.c), apart so the unit tests reach them ---- */

/* The body of POST /containers from parsed `container create` arguments
 * (the --config file is read). Returns 0 with *out owned; -1 with err for a
 * usage mistake, -2 with err when the config file cannot be read. */
int cli_create_body(const struct cli_args *a, json_t **out, struct err *err);

/* The body of POST /containers/{name}/updates from parsed `container update`
 * arguments; returns like cli_create_body(). */
int cli_update_body(const struct cli_args *a, json_t **out, struct err *err);

/* {"KEY": "VALUE", ...} from a strv of KEY=VALUE; 0, or -1 with err. */
int cli_env_object(char *const *list, json_t **out, struct err *err);

extern const struct cli_group cli_group_config;
extern const struct cli_group cli_group_container;
extern const struct cli_group cli_group_secret;
extern const struct cli_group cli_group_org;
extern const struct cli_group cli_group_host;
extern const struct cli_group cli_group_ca;
extern const struct cli_group cli_group_measure;
extern const struct cli_group cli_group_verify;

#endif
