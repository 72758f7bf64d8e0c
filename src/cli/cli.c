/* cli: what the commands of `berth` share: argument parsing, reaching the
 * API, printing its errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-conf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "common/buf.h"
#include "common/util.h"

const struct cli_opt cli_json_opts[] = {{"--json", CLI_OPT_FLAG}, {NULL, 0}};

void
cli_usage(FILE *f, const struct cli_group *group, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: berth %s %s %s\n", group->name, cmd->name, cmd->args);
}

static int
opt_find(const struct cli_opt *opts, const char *name, size_t n)
{
	int i;

	for (i = 0; opts != NULL && opts[i].name != NULL; i++)
		if (strlen(opts[i].name) == n && strncmp(opts[i].name, name, n) == 0)
			return i;
	return -1;
}

int
cli_args_parse(struct cli_args *a, const struct cli_opt *opts, int max_pos, int argc, char **argv,
               struct err *err)
{
	int i, k, options = 1;

	memset(a, 0, sizeof(*a));
	a->opts = opts;
	a->pos = xcalloc((size_t)argc + 1, sizeof *a->pos);
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *val = NULL, **global = NULL;
		int takes_value = 1;
		size_t n;

		if (!options || arg[0] != '-' || arg[1] == '\0') {
			if (max_pos >= 0 && a->npos >= max_pos)
				return err_make(err, 0, "unexpected argument \"%s\"", arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options = 0;
			continue;
		}
		eq = strchr(arg, '=');
		n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		if (eq != NULL)
			val = eq + 1;
		k = -1;
		if (n == 5 && strncmp(arg, "--url", 5) == 0)
			global = &a->url;
		else if (n == 7 && strncmp(arg, "--token", 7) == 0)
			global = &a->token;
		else if ((k = opt_find(opts, arg, n)) < 0 || k >= CLI_MAX_OPTS)
			return err_make(err, 0, "unknown option %.*s", (int)n, arg);
		else
			takes_value = opts[k].kind != CLI_OPT_FLAG;
		if (!takes_value && val != NULL)
			return err_make(err, 0, "%.*s takes no value", (int)n, arg);
		if (takes_value && val == NULL) {
			if (i + 1 >= argc)
				return err_make(err, 0, "%s needs a value", arg);
			val = argv[++i];
		}
		if (global != NULL) {
			*global = val;
			continue;
		}
		a->seen[k]++;
		a->value[k] = val;
		if (opts[k].kind == CLI_OPT_LIST)
			a->list[k] = strv_push(a->list[k], val);
	}
	return 0;
}

/* The index of option name in a's table; a name the table lacks is a bug
 * of the command asking. */
static int
opt_index(const struct cli_args *a, const char *name)
{
	int k = opt_find(a->opts, name, strlen(name));

	if (k < 0 || k >= CLI_MAX_OPTS) {
		fprintf(stderr, "berth: bug: no option %s in the command's table\n", name);
		abort();
	}
	return k;
}

int
cli_flag(const struct cli_args *a, const char *name)
{
	return a->seen[opt_index(a, name)];
}

const char *
cli_value(const struct cli_args *a, const char *name)
{
	return a->value[opt_index(a, name)];
}

int
cli_value_num(const struct cli_args *a, const char *name, long long min, long long *out)
{
	const char *v = cli_value(a, name);
	long long n;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < min)
		return -1;
	*out = n;
	return 0;
}

char *const *
cli_list(const struct cli_args *a, const char *name)
{
	return a->list[opt_index(a, name)];
}

void
cli_args_free(struct cli_args *a)
{
	int i;

	for (i = 0; i < CLI_MAX_OPTS; i++) {
		strv_free(a->list[i]);
		a->list[i] = NULL;
	}
	free(a->pos);
	a->pos = NULL;
}

int
cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(ctx->err, "berth %s %s: ", ctx->group->name, ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(ctx->err, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->err);
	cli_usage(ctx->err, ctx->group, ctx->cmd);
	return CLI_EXIT_USAGE;
}

const struct cli_cmd *
cli_cmd_find(const struct cli_group *group, const char *name)
{
	for (size_t i = 0; i < group->n_cmds; i++)
		if (strcmp(group->cmds[i].name, name) == 0)
			return &group->cmds[i];
	return NULL;
}

/* Runs a command of .get and .print (cli.h). */
static int
cli_show(struct cli_ctx *ctx, const struct cli_cmd *cmd, const struct cli_args *a)
{
	const char *hole = strstr(cmd->get, "{}");
	struct client *c = NULL;
	json_t *v = NULL;
	char *path, *esc;
	int rc;

	if (hole != NULL) {
		esc = client_escape(a->npos > 0 ? a->pos[0] : "");
		path = xasprintf("%.*s%s%s", (int)(hole - cmd->get), cmd->get, esc, hole + 2);
		free(esc);
	} else {
		path = xstrdup(cmd->get);
	}
	if ((rc = cli_request(ctx, a, &c, "GET", path, NULL, &v)) == CLI_EXIT_OK) {
		if (cli_flag(a, "--json"))
			cli_print_json(ctx->out, v);
		else
			cmd->print(ctx->out, v);
	}
	json_decref(v);
	client_free(c);
	free(path);
	return rc;
}

int
cli_run(struct cli_ctx *ctx, const struct cli_group *group, const struct cli_cmd *cmd, int argc,
        char **argv)
{
	struct err err = ERR_INIT;
	struct cli_args a;
	int rc;

	ctx->group = group;
	ctx->cmd = cmd;
	if (cli_args_parse(&a, cmd->opts, cmd->many ? -1 : cmd->pos != NULL || cmd->opt_pos, argc,
	                   argv, &err) < 0)
		rc = cli_usage_error(ctx, "%s", err.msg);
	else if (cmd->pos != NULL && a.npos == 0)
		rc = cli_usage_error(ctx, "no %s given", cmd->pos);
	else if (cmd->run != NULL)
		rc = cmd->run(ctx, &a);
	else
		rc = cli_show(ctx, cmd, &a);
	cli_args_free(&a);
	return rc;
}

int
cli_connect(struct cli_ctx *ctx, const struct cli_args *a, struct client **out)
{
	struct cli_conf_sources src = {
	    .flag_url = a->url != NULL ? a->url : ctx->url,
	    .flag_token = a->token != NULL ? a->token : ctx->token,
	    .env_url = getenv("BERTH_URL"),
	    .env_token = getenv("BERTH_TOKEN"),
	    .admin_token_path = CLI_CONF_ADMIN_TOKEN_PATH,
	};
	struct cli_conf conf;
	struct err err = ERR_INIT;
	char *path = cli_conf_default_path();
	int rc;

	src.config_path = path;
	rc = cli_conf_resolve(&src, &conf, &err);
	free(path);
	if (rc == 0) {
		rc = client_new(conf.url, conf.token, out, &err);
		cli_conf_clear(&conf);
	}
	if (rc < 0) {
		fprintf(ctx->err, "berth: %s\n", err.msg);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int
cli_call(struct cli_ctx *ctx, struct client *c, const char *method, const char *path, json_t *body,
         json_t **out)
{
	struct client_resp resp;
	struct err err = ERR_INIT;
	int rc;

	*out = NULL;
	rc = client_request(c, method, path, body, &resp, &err);
	if (rc == 0 && resp.json == NULL && resp.len > 0) {
		rc = -1;
		err_make(&err, 0, "berthd answered %s %s with something that is not JSON", method,
		         path);
	}
	if (rc < 0) {
		fprintf(ctx->err, "berth: %s\n", err.msg);
		if (resp.status == 401 && !client_has_token(c))
			fprintf(ctx->err,
			        "berth: no token is configured: set BERTH_TOKEN, "
			        "--token, or \"token = ...\" in ~/.config/berth/config\n");
		client_resp_clear(&resp);
		return CLI_EXIT_FAIL;
	}
	*out = take_ptr(&resp.json);
	client_resp_clear(&resp);
	return CLI_EXIT_OK;
}

int
cli_request(struct cli_ctx *ctx, const struct cli_args *a, struct client **c, const char *method,
            const char *path, json_t *body, json_t **out)
{
	int rc;

	*out = NULL;
	if ((rc = cli_connect(ctx, a, c)) != CLI_EXIT_OK)
		return rc;
	return cli_call(ctx, *c, method, path, body, out);
}

void
cli_print_json(FILE *f, const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL)
		fprintf(f, "%s\n", s);
	free(s);
}

const char *
cli_json_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

char *
cli_json_join(const json_t *arr, const char *sep)
{
	struct buf b = BUF_INIT;
	const json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (b.len > 0)
			buf_puts(&b, sep);
		buf_puts(&b, json_string_value(v));
	}
	return buf_take(&b);
}

/* key of k, or "?" when it is missing (berthd and the document give all). */
static const char *
key_field(const json_t *k, const char *key)
{
	const char *s = cli_json_str(k, key);

	return s != NULL ? s : "?";
}

char *
cli_attested_key(const json_t *k)
{
	return xasprintf("%-7s %s %s", key_field(k, "id"), key_field(k, "key"),
	                 key_field(k, "public_key"));
}
