/* berth secret: the org's secrets. Values go in, never come out. */
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"
#include "common/buf.h"
#include "common/util.h"

#define SECRET_MAX (1024 * 1024)

/* `secret list`: the table of GET /secrets. */
static void
secrets_print(FILE *f, const json_t *list)
{
	static const char *const heads[] = {"NAME", "BOUND TO", "UPDATED"};
	const json_t *v;
	struct table t;
	size_t i;

	table_init(&t, ARRAY_LEN(heads), heads);
	json_array_foreach(list, i, v)
	{
		char *bound = cli_json_join(json_object_get(v, "bound_to"), ",");
		const char *row[] = {cli_json_str(v, "name"), bound, cli_json_str(v, "updated_at")};

		table_add(&t, row);
		free(bound);
	}
	table_print(&t, f);
	table_free(&t);
}

/* Reads a secret's value: one line typed without echo on a terminal, else
 * all of in but one trailing newline. Returns the value (owned), or NULL with
 * err. */
static char *
value_read(struct cli_ctx *ctx, const char *name, struct err *err)
{
	int fd = fileno(ctx->in), tty = isatty(fd), restore = 0;
	struct termios old, quiet;
	struct buf b = BUF_INIT;
	char chunk[4096], *line = NULL;
	size_t n, cap = 0;
	ssize_t got;

	if (tty) {
		/* echo off before the prompt, so that nothing typed after it shows */
		if (tcgetattr(fd, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			quiet.c_lflag |= ECHONL;
			restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
		}
		fprintf(ctx->err, "value of secret %s (not shown): ", name);
		fflush(ctx->err);
		got = getline(&line, &cap, ctx->in);
		if (restore)
			tcsetattr(fd, TCSAFLUSH, &old);
		if (got > 0)
			buf_append(&b, line, (size_t)got);
		if (line != NULL)
			explicit_bzero(line, cap);
		free(line);
	} else {
		while ((n = fread(chunk, 1, sizeof(chunk), ctx->in)) > 0 && b.len <= SECRET_MAX)
			buf_append(&b, chunk, n);
	}
	if (ferror(ctx->in)) {
		err_make(err, 0, "cannot read the value from stdin");
		goto fail;
	}
	if (b.len > SECRET_MAX) {
		err_make(err, 0, "the value is longer than %d bytes", SECRET_MAX);
		goto fail;
	}
	if (b.len > 0 && b.data[b.len - 1] == '\n')
		b.len--;
	if (b.len > 0 && b.data[b.len - 1] == '\r')
		b.len--;
	if (b.len == 0) {
		err_make(err, 0, "no value given (--value V, or the value on stdin)");
		goto fail;
	}
	if (memchr(b.data, '\0', b.len) != NULL) {
		err_make(err, 0, "the value holds a NUL byte");
		goto fail;
	}
	b.data[b.len] = '\0';
	return buf_take(&b);
fail:
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_free(&b);
	return NULL;
}

static const struct cli_opt set_opts[] = {{"--value", CLI_OPT_VALUE}, {NULL, 0}};

static int
secret_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct err err = ERR_INIT;
	struct client *c = NULL;
	json_t *body = NULL, *ans = NULL;
	char *value = NULL, *path = NULL, *esc = NULL;
	int rc;

	if (cli_value(a, "--value") != NULL && cli_value(a, "--value")[0] == '\0') {
		rc = cli_usage_error(ctx, "--value is empty");
		goto out;
	}
	value = cli_value(a, "--value") != NULL ? xstrdup(cli_value(a, "--value"))
	                                        : value_read(ctx, a->pos[0], &err);
	if (value == NULL) {
		fprintf(ctx->err, "berth: %s\n", err.msg);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	body = json_object();
	json_object_set_new(body, "value", json_string(value));
	if (json_object_get(body, "value") == NULL) {
		fprintf(ctx->err, "berth: the value is not UTF-8 text\n");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	esc = client_escape(a->pos[0]);
	path = xasprintf("/secrets/%s", esc);
	if ((rc = cli_request(ctx, a, &c, "PUT", path, body, &ans)) != CLI_EXIT_OK)
		goto out;
	fprintf(ctx->out, "secret %s set\n", a->pos[0]);
out:
	if (value != NULL) {
		explicit_bzero(value, strlen(value));
		free(value);
	}
	json_decref(ans);
	json_decref(body);
	free(path);
	free(esc);
	client_free(c);
	return rc;
}

static int
secret_delete(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct client *c = NULL;
	json_t *ans = NULL;
	char *path = NULL, *esc = NULL;
	int rc;

	esc = client_escape(a->pos[0]);
	path = xasprintf("/secrets/%s", esc);
	if ((rc = cli_request(ctx, a, &c, "DELETE", path, NULL, &ans)) != CLI_EXIT_OK)
		goto out;
	fprintf(ctx->out, "secret %s deleted\n", a->pos[0]);
out:
	json_decref(ans);
	free(path);
	free(esc);
	client_free(c);
	return rc;
}

static const struct cli_cmd secret_cmds[] = {
    {
        .name = "list",
        .args = "[--json]",
        .summary = "list the org's secrets and the containers bound to them (never values)",
        .opts = cli_json_opts,
        .get = "/secrets",
        .print = secrets_print,
    },
    {
        .name = "set",
        .args = "NAME [--value V]",
        .summary = "create or replace a secret",
        .help = "Without --value the value is read from stdin: typed without echo on a\n"
                "terminal, else all of stdin but one trailing newline. --value leaves the\n"
                "value in the shell's history and the process list; prefer stdin.",
        .opts = set_opts,
        .pos = "secret name",
        .run = secret_set,
    },
    {
        .name = "delete",
        .args = "NAME",
        .summary = "delete a secret (refused while a container binds it)",
        .pos = "secret name",
        .run = secret_delete,
    },
};

const struct cli_group cli_group_secret = {
    .name = "secret",
    .summary = "manage the org's secrets",
    .cmds = secret_cmds,
    .n_cmds = ARRAY_LEN(secret_cmds),
};
