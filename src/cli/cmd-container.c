/* berth container: list, create, update, follow and delete containers
 * through the REST API. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/progress.h"
#include "cli/table.h"
#include "common/buf.h"
#include "common/util.h"

#define POLL_MS            200
#define EVENTS_POLL_MS     500
#define EVENTS_IDLE_MS     45000 /* berthd sends a keep-alive every 15 s */
#define UNREACHABLE_MAX_MS 30000
#define CONFIG_MAX         (1024 * 1024)

/* ---- shared ---- */

/* "/containers/NAME" plus suffix, NAME escaped; owned. */
static char *
path_of(const char *name, const char *suffix)
{
	char *esc = client_escape(name), *p;

	p = xasprintf("/containers/%s%s", esc, suffix);
	free(esc);
	return p;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *
str_or(const char *s, const char *dflt)
{
	return s != NULL && s[0] != '\0' ? s : dflt;
}

/* The update column of `container list` and the update line of `get`:
 * "tag started", "edit-config done", or NULL for none. */
static char *
update_summary(const json_t *u)
{
	const char *kind = cli_json_str(u, "kind"), *status = cli_json_str(u, "status");

	if (!json_is_object(u) || status == NULL)
		return NULL;
	if (strcmp(status, "ready") == 0 && cli_json_str(u, "finished_at") != NULL)
		status = "done";
	return xasprintf("%s %s", str_or(kind, "update"), status);
}

static char *
version_summary(const json_t *c)
{
	const json_t *d = json_object_get(c, "deployment");
	const char *tag = cli_json_str(d, "tag"), *id = cli_json_str(d, "id");

	if (tag != NULL)
		return xstrdup(tag);
	if (id != NULL)
		return xasprintf("%.12s", id);
	return NULL;
}

/* ---- list, get ---- */

/* `container list`: the table of GET /containers. */
static void
containers_print(FILE *f, const json_t *list)
{
	static const char *const heads[] = {"NAME",      "STATUS", "DETAIL", "VERSION",
	                                    "ISOLATION", "UPDATE", "URL"};
	const json_t *v;
	struct table t;
	size_t i;

	table_init(&t, ARRAY_LEN(heads), heads);
	json_array_foreach(list, i, v)
	{
		char *version = version_summary(v),
		     *update = update_summary(json_object_get(v, "update")),
		     *detail = table_fit(str_or(cli_json_str(v, "status_detail"), ""), 40);
		const char *row[] = {cli_json_str(v, "name"),
		                     cli_json_str(v, "status"),
		                     detail,
		                     version,
		                     cli_json_str(v, "isolation"),
		                     update,
		                     cli_json_str(v, "url")};

		table_add(&t, row);
		free(detail);
		free(version);
		free(update);
	}
	table_print(&t, f);
	table_free(&t);
}

static void
print_field(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%-12s %s\n", key, str_or(value, "-"));
}

/* The human form of a container, one "key  value" line each. */
static void
container_print(FILE *f, const json_t *c)
{
	const json_t *src = json_object_get(c, "source"), *d = json_object_get(c, "deployment");
	const json_t *u = json_object_get(c, "update"), *k;
	size_t i;
	char *s;

	print_field(f, "name:", cli_json_str(c, "name"));
	print_field(f, "org:", cli_json_str(c, "org"));
	print_field(f, "status:", cli_json_str(c, "status"));
	print_field(f, "detail:", cli_json_str(c, "status_detail"));
	print_field(f, "url:", cli_json_str(c, "url"));
	print_field(f, "debug:", json_is_true(json_object_get(c, "debug")) ? "yes" : "no");
	print_field(f, "isolation:", cli_json_str(c, "isolation"));
	if (cli_json_str(src, "repo") != NULL) {
		s = xasprintf("%s at %s", cli_json_str(src, "repo"),
		              str_or(cli_json_str(src, "tag"), "-"));
		print_field(f, "source:", s);
		free(s);
	} else {
		print_field(f, "source:", "uploaded config");
	}
	if (json_is_object(d)) {
		print_field(f, "version:", str_or(cli_json_str(d, "tag"), "(no tag)"));
		print_field(f, "deployment:", cli_json_str(d, "id"));
		print_field(f, "measurement:", cli_json_str(d, "measurement"));
		s = cli_json_join(json_object_get(d, "images"), ", ");
		print_field(f, "images:", s);
		free(s);
		s = cli_json_join(json_object_get(d, "secrets"), ", ");
		print_field(f, "secrets:", s);
		free(s);
	} else {
		print_field(f, "deployment:", "none yet");
	}
	/* The serving enclave's attested keys, as its document lists them. */
	json_array_foreach(json_object_get(c, "attested_keys"), i, k)
	{
		s = cli_attested_key(k);
		print_field(f, "key:", s);
		free(s);
	}
	if (json_is_object(u)) {
		char *sum = update_summary(u);

		s = xasprintf("%s (%s, %s)", str_or(sum, "-"),
		              str_or(cli_json_str(u, "strategy"), "?"),
		              str_or(cli_json_str(u, "finished_at"), "in progress"));
		print_field(f, "update:", s);
		free(s);
		free(sum);
		if (cli_json_str(u, "error") != NULL)
			print_field(f, "  error:", cli_json_str(u, "error"));
	}
	print_field(f, "created:", cli_json_str(c, "created_at"));
	print_field(f, "updated:", cli_json_str(c, "updated_at"));
}

/* ---- following an update or a first deploy ---- */

static void
on_interrupt(int sig)
{
	static const char msg[] = "\nberth: stopped following; the work goes on in berthd "
	                          "(`berth container cancel NAME` stops an update)\n";
	ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)ignored;
	(void)sig;
	_exit(130);
}

/* The columns of the terminal f is on; 80 when unknown. */
static size_t
terminal_width(FILE *f)
{
	struct winsize ws;

	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* Finds update_id in GET /containers/{name}/updates and puts it in the
 * container object. Returns 0, or -1 when it is not there. */
static int
fetch_update(struct client *c, const char *name, const char *update_id, json_t *container)
{
	struct client_resp resp;
	struct err err = ERR_INIT;
	char *path = path_of(name, "/updates");
	json_t *u;
	size_t i;
	int rc = -1;

	if (client_request(c, "GET", path, NULL, &resp, &err) == 0) {
		json_array_foreach(resp.json, i, u)
		{
			const char *id = cli_json_str(u, "id");

			if (id != NULL && strcmp(id, update_id) == 0) {
				json_object_set(container, "update", u);
				rc = 0;
				break;
			}
		}
	}
	client_resp_clear(&resp);
	free(path);
	return rc;
}

/* Follows the container name until its update update_id (or, when NULL, its
 * first deploy) ends. Returns CLI_EXIT_OK when it succeeded. */
static int
follow(struct cli_ctx *ctx, struct client *c, const char *name, const char *update_id,
       json_t **last)
{
	struct sigaction sa = {.sa_handler = on_interrupt}, old;
	int tty = isatty(fileno(ctx->err)), rc = CLI_EXIT_FAIL, shown = 0;
	int64_t unreachable_since = 0;
	char *path = path_of(name, ""), *line = NULL;
	struct progress p;

	*last = NULL;
	progress_init(&p, name, update_id, tty);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	for (;;) {
		struct progress_frame f = {0};
		struct client_resp resp;
		struct err err = ERR_INIT;
		int r = client_request(c, "GET", path, NULL, &resp, &err);
		char **l;

		if (r == CLIENT_EREACH) {
			/* berthd restarting mid-update is fine: the update goes on */
			client_resp_clear(&resp);
			if (unreachable_since == 0)
				unreachable_since = now_mono_ms();
			if (now_mono_ms() - unreachable_since > UNREACHABLE_MAX_MS) {
				fprintf(ctx->err, "%sberth: %s\n", shown && tty ? "\n" : "",
				        err.msg);
				break;
			}
			sleep_ms(POLL_MS);
			continue;
		}
		unreachable_since = 0;
		if (r < 0 || !json_is_object(resp.json)) {
			fprintf(ctx->err, "%sberth: %s\n", shown && tty ? "\n" : "",
			        r < 0 ? err.msg
			              : "berthd answered something that is not a container");
			client_resp_clear(&resp);
			break;
		}
		if (progress_feed(&p, resp.json, &f) < 0) {
			if (fetch_update(c, name, update_id, resp.json) < 0 ||
			    progress_feed(&p, resp.json, &f) < 0) {
				fprintf(ctx->err, "%sberth: the update %s of %s is gone\n",
				        shown && tty ? "\n" : "", update_id, name);
				client_resp_clear(&resp);
				break;
			}
		}
		for (l = f.logs; l != NULL && *l != NULL; l++)
			fprintf(ctx->err, "%s  health  %s\n", tty ? "\r\033[K" : "", *l);
		if (tty && (f.logs != NULL || line == NULL || strcmp(line, f.line) != 0)) {
			/* one terminal row, or \r cannot take the cursor back to its start */
			char *fit = table_fit(f.line, terminal_width(ctx->err) - 1);

			fprintf(ctx->err, "\r\033[K%s", fit);
			free(fit);
		} else if (!tty && (line == NULL || strcmp(line, f.line) != 0))
			fprintf(ctx->err, "%s\n", f.line);
		fflush(ctx->err);
		shown = 1;
		free(line);
		line = take_ptr(&f.line);
		progress_frame_clear(&f);
		if (p.done) {
			if (tty)
				fputc('\n', ctx->err);
			if (p.ok)
				fprintf(ctx->err, "%s\n", p.result);
			else
				fprintf(ctx->err, "berth: %s\n", p.result);
			*last = take_ptr(&resp.json);
			rc = p.ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
			client_resp_clear(&resp);
			break;
		}
		client_resp_clear(&resp);
		sleep_ms(POLL_MS);
	}
	sigaction(SIGINT, &old, NULL);
	progress_clear(&p);
	free(line);
	free(path);
	return rc;
}

/* ---- create, update ---- */

static const struct cli_opt create_opts[] = {
    {"--repo", CLI_OPT_VALUE}, {"--tag", CLI_OPT_VALUE},   {"--config", CLI_OPT_VALUE},
    {"--debug", CLI_OPT_FLAG}, {"--secret", CLI_OPT_LIST}, {"--env", CLI_OPT_LIST},
    {"--wait", CLI_OPT_FLAG},  {"--json", CLI_OPT_FLAG},   {NULL, 0},
};

static const struct cli_opt update_opts[] = {
    {"--tag", CLI_OPT_VALUE},    {"--edit-config", CLI_OPT_FLAG}, {"--promote", CLI_OPT_FLAG},
    {"--retry", CLI_OPT_FLAG},   {"--config", CLI_OPT_VALUE},     {"--secret", CLI_OPT_LIST},
    {"--env", CLI_OPT_LIST},     {"--debug", CLI_OPT_FLAG},       {"--no-debug", CLI_OPT_FLAG},
    {"--no-wait", CLI_OPT_FLAG}, {"--json", CLI_OPT_FLAG},        {NULL, 0},
};

int
cli_env_object(char *const *list, json_t **out, struct err *err)
{
	json_t *env = json_object();

	for (; list != NULL && *list != NULL; list++) {
		const char *eq = strchr(*list, '=');
		char *key;

		if (eq == NULL || eq == *list) {
			json_decref(env);
			return err_make(err, 0, "--env wants KEY=VALUE, not \"%s\"", *list);
		}
		key = xstrndup(*list, (size_t)(eq - *list));
		json_object_set_new(env, key, json_string(eq + 1));
		free(key);
	}
	*out = env;
	return 0;
}

static json_t *
strv_to_json(char *const *v)
{
	json_t *arr = json_array();

	for (; v != NULL && *v != NULL; v++)
		json_array_append_new(arr, json_string(*v));
	return arr;
}

/* Adds "config" (the file's text), "secrets" and "env" to body. */
static int
body_add_settings(json_t *body, const char *config_path, char *const *secrets, char *const *env,
                  struct err *err)
{
	json_t *obj;
	char *text;
	size_t len;

	if (env != NULL) {
		if (cli_env_object(env, &obj, err) < 0)
			return -1;
		json_object_set_new(body, "env", obj);
	}
	if (secrets != NULL)
		json_object_set_new(body, "secrets", strv_to_json(secrets));
	if (config_path != NULL) {
		if (file_read_all(config_path, CONFIG_MAX, &text, &len, err) < 0)
			return -2;
		obj = json_stringn(text, len);
		free(text);
		if (obj == NULL) {
			err_make(err, 0, "%s is not UTF-8 text", config_path);
			return -2;
		}
		json_object_set_new(body, "config", obj);
	}
	return 0;
}

int
cli_create_body(const struct cli_args *a, json_t **out, struct err *err)
{
	int from_repo = cli_flag(a, "--repo") || cli_flag(a, "--tag"), rc;
	json_t *body;

	*out = NULL;
	if (a->npos != 1)
		return err_make(err, 0, "no container name given");
	if (from_repo && cli_flag(a, "--config"))
		return err_make(err, 0, "--config cannot go with --repo and --tag");
	if (!from_repo && !cli_flag(a, "--config"))
		return err_make(err, 0, "give --repo and --tag, or --config");
	if (from_repo && (!cli_flag(a, "--repo") || !cli_flag(a, "--tag")))
		return err_make(err, 0, "--repo and --tag go together");
	body = json_object();
	json_object_set_new(body, "name", json_string(a->pos[0]));
	if (from_repo) {
		json_object_set_new(body, "repo", json_string(cli_value(a, "--repo")));
		json_object_set_new(body, "tag", json_string(cli_value(a, "--tag")));
	}
	if (cli_flag(a, "--debug"))
		json_object_set_new(body, "debug", json_true());
	rc = body_add_settings(body, cli_flag(a, "--config") ? cli_value(a, "--config") : NULL,
	                       cli_list(a, "--secret"), cli_list(a, "--env"), err);
	if (rc < 0) {
		json_decref(body);
		return rc;
	}
	*out = body;
	return 0;
}

int
cli_update_body(const struct cli_args *a, json_t **out, struct err *err)
{
	int kinds = !!cli_flag(a, "--tag") + !!cli_flag(a, "--edit-config") +
	            !!cli_flag(a, "--promote") + !!cli_flag(a, "--retry");
	int settings = cli_flag(a, "--config") || cli_flag(a, "--secret") || cli_flag(a, "--env") ||
	               cli_flag(a, "--debug") || cli_flag(a, "--no-debug");
	json_t *body;
	int rc;

	*out = NULL;
	if (a->npos != 1)
		return err_make(err, 0, "no container name given");
	if (kinds != 1)
		return err_make(err, 0, "give one of --tag, --edit-config, --promote, --retry");
	if (settings && !cli_flag(a, "--edit-config"))
		return err_make(err, 0,
		                "--config, --secret, --env, --debug and --no-debug go with "
		                "--edit-config");
	if (cli_flag(a, "--debug") && cli_flag(a, "--no-debug"))
		return err_make(err, 0, "--debug and --no-debug contradict each other");
	body = json_object();
	if (cli_flag(a, "--tag")) {
		json_object_set_new(body, "kind", json_string("tag"));
		json_object_set_new(body, "tag", json_string(cli_value(a, "--tag")));
	} else if (cli_flag(a, "--promote")) {
		json_object_set_new(body, "kind", json_string("promote"));
	} else if (cli_flag(a, "--retry")) {
		json_object_set_new(body, "kind", json_string("retry"));
	} else {
		json_object_set_new(body, "kind", json_string("edit-config"));
		if (cli_flag(a, "--debug") || cli_flag(a, "--no-debug"))
			json_object_set_new(body, "debug", json_boolean(cli_flag(a, "--debug")));
		rc = body_add_settings(body,
		                       cli_flag(a, "--config") ? cli_value(a, "--config") : NULL,
		                       cli_list(a, "--secret"), cli_list(a, "--env"), err);
		if (rc < 0) {
			json_decref(body);
			return rc;
		}
	}
	*out = body;
	return 0;
}

/* The exit of a failed cli_create_body() or cli_update_body() (rc), its
 * message printed. */
static int
body_error(struct cli_ctx *ctx, int rc, const struct err *err)
{
	if (rc == -2) {
		fprintf(ctx->err, "berth: %s\n", err->msg);
		return CLI_EXIT_FAIL;
	}
	return cli_usage_error(ctx, "%s", err->msg);
}

#define CREATE_USAGE                                                                               \
	"NAME (--repo R --tag T | --config FILE) [--debug] [--secret NAME]... "                    \
	"[--env KEY=VALUE]... [--wait] [--json]"

static int
container_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct err err = ERR_INIT;
	struct client *c = NULL;
	json_t *body = NULL, *obj = NULL, *last = NULL;
	int rc;

	if ((rc = cli_create_body(a, &body, &err)) < 0) {
		rc = body_error(ctx, rc, &err);
		goto out;
	}
	if ((rc = cli_request(ctx, a, &c, "POST", "/containers", body, &obj)) != CLI_EXIT_OK)
		goto out;
	if (cli_flag(a, "--wait")) {
		rc = follow(ctx, c, a->pos[0], NULL, &last);
		if (cli_flag(a, "--json") && last != NULL)
			cli_print_json(ctx->out, last);
	} else if (cli_flag(a, "--json")) {
		cli_print_json(ctx->out, obj);
	} else {
		fprintf(ctx->out, "%s: %s%s%s\n", a->pos[0],
		        str_or(cli_json_str(obj, "status"), "?"),
		        cli_json_str(obj, "url") != NULL ? " at " : "",
		        str_or(cli_json_str(obj, "url"), ""));
	}
out:
	json_decref(last);
	json_decref(obj);
	json_decref(body);
	client_free(c);
	return rc;
}

#define UPDATE_USAGE                                                                               \
	"NAME (--tag T | --edit-config [--config FILE] [--secret NAME]... [--env KEY=VALUE]... "   \
	"[--debug|--no-debug] | --promote | --retry) [--no-wait] [--json]"

static int
container_update(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct err err = ERR_INIT;
	struct client *c = NULL;
	json_t *body = NULL, *u = NULL, *last = NULL;
	char *path = NULL;
	const char *id;
	int rc;

	if ((rc = cli_update_body(a, &body, &err)) < 0) {
		rc = body_error(ctx, rc, &err);
		goto out;
	}
	path = path_of(a->pos[0], "/updates");
	if ((rc = cli_request(ctx, a, &c, "POST", path, body, &u)) != CLI_EXIT_OK)
		goto out;
	id = cli_json_str(u, "id");
	if (cli_flag(a, "--no-wait") || id == NULL) {
		if (cli_flag(a, "--json"))
			cli_print_json(ctx->out, u);
		else
			fprintf(ctx->out, "%s: update %s %s (%s)\n", a->pos[0], str_or(id, "?"),
			        str_or(cli_json_str(u, "status"), "?"),
			        str_or(cli_json_str(u, "strategy"), "?"));
		goto out;
	}
	rc = follow(ctx, c, a->pos[0], id, &last);
	if (cli_flag(a, "--json") && last != NULL)
		cli_print_json(ctx->out, last);
out:
	free(path);
	json_decref(last);
	json_decref(u);
	json_decref(body);
	client_free(c);
	return rc;
}

/* ---- cancel, delete ---- */

static int
container_cancel(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct client *c = NULL;
	json_t *u = NULL;
	char *path = NULL;
	int rc;

	path = path_of(a->pos[0], "/updates/current/cancel");
	if ((rc = cli_request(ctx, a, &c, "POST", path, NULL, &u)) != CLI_EXIT_OK)
		goto out;
	if (cli_flag(a, "--json"))
		cli_print_json(ctx->out, u);
	else
		fprintf(ctx->out, "%s: update %s %s\n", a->pos[0],
		        str_or(cli_json_str(u, "id"), "?"),
		        str_or(cli_json_str(u, "status"), "cancelled"));
out:
	free(path);
	json_decref(u);
	client_free(c);
	return rc;
}

/* Asks for the container's name on a terminal; 0 when it was typed. */
static int
confirm_delete(struct cli_ctx *ctx, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ok;

	fprintf(ctx->err,
	        "Deleting %s stops its enclaves, cancels its update, removes its secret\n"
	        "bindings and settings. It cannot be undone.\n"
	        "Type the container's name to delete it: ",
	        name);
	fflush(ctx->err);
	n = getline(&line, &cap, ctx->in);
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	ok = n > 0 && strcmp(line, name) == 0;
	free(line);
	return ok ? 0 : -1;
}

static const struct cli_opt delete_opts[] = {{"--yes", CLI_OPT_FLAG}, {NULL, 0}};

static int
container_delete(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct client *c = NULL;
	json_t *obj = NULL;
	char *path = NULL;
	int rc;

	if (!cli_flag(a, "--yes") && isatty(fileno(ctx->in)) &&
	    confirm_delete(ctx, a->pos[0]) < 0) {
		fprintf(ctx->err, "berth: %s not deleted: the name typed did not match\n",
		        a->pos[0]);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	path = path_of(a->pos[0], "");
	if ((rc = cli_request(ctx, a, &c, "DELETE", path, NULL, &obj)) != CLI_EXIT_OK)
		goto out;
	fprintf(ctx->out, "%s: deleted\n", a->pos[0]);
out:
	free(path);
	json_decref(obj);
	client_free(c);
	return rc;
}

/* ---- events, logs, tags ---- */

static const struct cli_opt events_opts[] = {
    {"--after", CLI_OPT_VALUE},
    {"--follow", CLI_OPT_FLAG},
    {"--json", CLI_OPT_FLAG},
    {NULL, 0},
};

/* Prints one event: a line, or (json) its compact JSON on one line. */
static void
event_print(struct cli_ctx *ctx, const json_t *e, int json)
{
	if (json) {
		char *s = json_dumps(e, JSON_COMPACT);

		fprintf(ctx->out, "%s\n", s != NULL ? s : "null");
		free(s);
		return;
	}
	fprintf(ctx->out, "%-6lld %s  %-20s %s\n",
	        (long long)json_integer_value(json_object_get(e, "id")),
	        str_or(cli_json_str(e, "time"), "-"), str_or(cli_json_str(e, "kind"), "-"),
	        str_or(cli_json_str(e, "message"), ""));
}

/* Following a container's events: the org's event stream, filtered. */
struct events_follow {
	struct cli_ctx *ctx;
	struct client *lister; /* owned: a second connection for catching up */
	const char *name;      /* borrowed */
	char *esc;             /* owned: name escaped for paths */
	int json;
	long long after; /* the last event printed */
	int opened;      /* a stream opened since the last check */
	int failed;      /* catching up failed (message printed) */
	int ended;       /* the container was deleted */
};

/* Prints the container's events after f->after. Returns 0, or -1 after
 * printing the API's error (an unknown container, say). */
static int
events_catch_up(struct events_follow *f)
{
	char *path = xasprintf("/containers/%s/events?after=%lld", f->esc, f->after);
	json_t *list = NULL, *e;
	size_t i;
	int rc;

	rc = cli_call(f->ctx, f->lister, "GET", path, NULL, &list);
	free(path);
	if (rc != CLI_EXIT_OK) {
		f->failed = 1;
		return -1;
	}
	json_array_foreach(list, i, e)
	{
		long long id = json_integer_value(json_object_get(e, "id"));

		if (id <= f->after)
			continue;
		f->after = id;
		event_print(f->ctx, e, f->json);
		/* a container.deleted here is an earlier container's of that name:
		 * the events of a name outlive it */
	}
	fflush(f->ctx->out);
	json_decref(list);
	return 0;
}

/* The stream is open: from here on no event is missed, so catch up with
 * what happened before it (and while it was down). */
static int
on_events_open(void *arg)
{
	struct events_follow *f = arg;

	f->opened = 1;
	return events_catch_up(f);
}

static int
on_events_event(void *arg, const char *id, const char *kind, const char *data)
{
	struct events_follow *f = arg;
	json_t *e = json_loads(data, 0, NULL);
	const char *container = cli_json_str(e, "container");
	long long n = json_integer_value(json_object_get(e, "id"));

	(void)id;
	(void)kind;
	if (container != NULL && strcmp(container, f->name) == 0 && n > f->after && !f->ended) {
		f->after = n;
		event_print(f->ctx, e, f->json);
		fflush(f->ctx->out);
		if (strcmp(str_or(cli_json_str(e, "kind"), ""), "container.deleted") == 0)
			f->ended = 1;
	}
	json_decref(e);
	return f->ended ? -1 : 0;
}

/* Without an event stream (an older berthd): asks every half second. */
static int
events_poll(struct events_follow *f)
{
	for (;;) {
		if (events_catch_up(f) < 0)
			return CLI_EXIT_FAIL;
		sleep_ms(EVENTS_POLL_MS);
	}
}

static int
events_follow(struct cli_ctx *ctx, struct client *c, struct events_follow *f)
{
	int64_t unreachable_since = 0;

	for (;;) {
		struct err err = ERR_INIT;
		struct client_sse p;
		long status = 0;
		int r;

		f->opened = 0;
		client_sse_init(&p, on_events_event, f);
		r = client_stream(c, "/events/stream", &p, on_events_open, f, EVENTS_IDLE_MS,
		                  &status, &err);
		client_sse_clear(&p);
		if (f->failed)
			return CLI_EXIT_FAIL;
		if (f->ended)
			return CLI_EXIT_OK;
		if (r == CLIENT_EHTTP && (status == 404 || status == 405 || status == 501))
			return events_poll(f);
		if (r == CLIENT_EHTTP) {
			fprintf(ctx->err, "berth: %s\n", err.msg);
			return CLI_EXIT_FAIL;
		}
		if (f->opened)
			unreachable_since = 0;
		else if (unreachable_since == 0)
			unreachable_since = now_mono_ms();
		if (unreachable_since != 0 &&
		    now_mono_ms() - unreachable_since > UNREACHABLE_MAX_MS) {
			fprintf(ctx->err, "berth: %s\n",
			        r < 0 ? err.msg : "berthd keeps ending the event stream");
			return CLI_EXIT_FAIL;
		}
		/* the stream ended (berthd restarting?): open it again */
		sleep_ms(r < 0 ? 1000 : POLL_MS);
	}
}

#define EVENTS_USAGE "NAME [--after ID] [--follow] [--json]"

static int
container_events(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct events_follow f = {.ctx = ctx};
	struct client *c = NULL;
	json_t *list = NULL;
	char *path = NULL;
	int rc;

	if (cli_value_num(a, "--after", 0, &f.after) < 0) {
		rc = cli_usage_error(ctx, "--after wants an event id");
		goto out;
	}
	if ((rc = cli_connect(ctx, a, &c)) != CLI_EXIT_OK)
		goto out;
	f.name = a->pos[0];
	f.esc = client_escape(a->pos[0]);
	f.json = cli_flag(a, "--json");
	if (cli_flag(a, "--follow")) {
		if ((rc = cli_connect(ctx, a, &f.lister)) == CLI_EXIT_OK)
			rc = events_follow(ctx, c, &f);
		goto out;
	}
	path = xasprintf("/containers/%s/events?after=%lld", f.esc, f.after);
	if ((rc = cli_call(ctx, c, "GET", path, NULL, &list)) != CLI_EXIT_OK)
		goto out;
	if (f.json) {
		cli_print_json(ctx->out, list);
	} else {
		json_t *e;
		size_t i;

		json_array_foreach(list, i, e)
		{
			event_print(ctx, e, 0);
		}
	}
out:
	json_decref(list);
	free(path);
	free(f.esc);
	client_free(f.lister);
	client_free(c);
	return rc;
}

static const struct cli_opt logs_opts[] = {
    {"--tail", CLI_OPT_VALUE}, {"--deployment", CLI_OPT_VALUE}, {NULL, 0}};

static int
container_logs(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct client_resp resp = {0};
	struct err err = ERR_INIT;
	struct client *c = NULL;
	char *path = NULL;
	long long tail = -1;
	int rc;

	if (cli_value_num(a, "--tail", 1, &tail) < 0) {
		rc = cli_usage_error(ctx, "--tail wants a line count");
		goto out;
	}
	if ((rc = cli_connect(ctx, a, &c)) != CLI_EXIT_OK)
		goto out;
	path = path_of(a->pos[0], "/logs");
	if (tail >= 0 || cli_value(a, "--deployment") != NULL) {
		char *dep = client_escape(str_or(cli_value(a, "--deployment"), ""));
		char *p = tail >= 0 ? xasprintf("%s?tail=%lld&deployment=%s", path, tail, dep)
		                    : xasprintf("%s?deployment=%s", path, dep);

		free(dep);
		free(path);
		path = p;
	}
	if (client_request(c, "GET", path, NULL, &resp, &err) < 0) {
		if (resp.status == 403)
			fprintf(ctx->err, "berth: logs are only available for debug containers\n");
		else
			fprintf(ctx->err, "berth: %s\n", err.msg);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	fwrite(resp.body, 1, resp.len, ctx->out);
	fflush(ctx->out);
out:
	client_resp_clear(&resp);
	free(path);
	client_free(c);
	return rc;
}

/* `container tags`: the table of GET /containers/{name}/tags. */
static void
tags_print(FILE *f, const json_t *list)
{
	static const char *const heads[] = {"TAG", "COMMIT", "VALID"};
	const json_t *v;
	struct table t;
	size_t i;

	table_init(&t, ARRAY_LEN(heads), heads);
	json_array_foreach(list, i, v)
	{
		int valid = json_is_true(json_object_get(v, "valid"));
		char *why = valid
		                ? xstrdup("yes")
		                : xasprintf("no: %s", str_or(cli_json_str(v, "error"), "invalid"));
		char commit[13];
		const char *row[] = {cli_json_str(v, "tag"), commit, why};

		snprintf(commit, sizeof(commit), "%s", str_or(cli_json_str(v, "commit"), ""));
		table_add(&t, row);
		free(why);
	}
	table_print(&t, f);
	table_free(&t);
}

static const struct cli_cmd container_cmds[] = {
    {
        .name = "list",
        .args = "[--json]",
        .summary = "list the org's containers",
        .help = "Columns: NAME STATUS DETAIL VERSION UPDATE URL. VERSION is the tag the\n"
                "container serves; UPDATE the kind and status of its last update.",
        .opts = cli_json_opts,
        .get = "/containers",
        .print = containers_print,
    },
    {
        .name = "get",
        .args = "NAME [--json]",
        .summary = "show a container, its deployment and its last update",
        .opts = cli_json_opts,
        .pos = "container name",
        .get = "/containers/{}",
        .print = container_print,
    },
    {
        .name = "create",
        .args = CREATE_USAGE,
        .summary = "deploy a new container from a repository's tag or a config file",
        .help = "--wait follows the deploy until the container runs (exit 0) or fails\n"
                "(exit 1). --secret binds an org secret by name; --env sets a variable.",
        .opts = create_opts,
        .pos = "container name",
        .run = container_create,
    },
    {
        .name = "update",
        .args = UPDATE_USAGE,
        .summary = "update a container and follow the update until it ends",
        .help = "Shows the pull progress, the update's status (pending, started, ready,\n"
                "done; or 1/2 stopping old, 2/2 deploying new for a recreate update) and\n"
                "the new version's health checks. Exits 0 when the new version serves,\n"
                "1 when the update failed or was cancelled. --no-wait returns at once.",
        .opts = update_opts,
        .pos = "container name",
        .run = container_update,
    },
    {
        .name = "cancel",
        .args = "NAME [--json]",
        .summary = "cancel the update in progress (the current version keeps serving)",
        .opts = cli_json_opts,
        .pos = "container name",
        .run = container_cancel,
    },
    {
        .name = "delete",
        .args = "NAME [--yes]",
        .summary = "delete a container for good",
        .help = "On a terminal, asks to type the container's name unless --yes is given.",
        .opts = delete_opts,
        .pos = "container name",
        .run = container_delete,
    },
    {
        .name = "events",
        .args = EVENTS_USAGE,
        .summary = "show what happened to a container",
        .help = "--after ID shows only newer events; --follow keeps printing new ones\n"
                "(with --json, one JSON object per line).",
        .opts = events_opts,
        .pos = "container name",
        .run = container_events,
    },
    {
        .name = "logs",
        .args = "NAME [--tail N] [--deployment ID]",
        .summary = "print a debug container's logs",
        .help = "--deployment ID shows that deployment's instead of the serving one's:\n"
                "a failed update's new version keeps its logs (the newest 5), so that\n"
                "`berth container logs web --deployment $(berth container get web --json |\n"
                "jq -r .update.to)` shows why it failed.",
        .opts = logs_opts,
        .pos = "container name",
        .run = container_logs,
    },
    {
        .name = "tags",
        .args = "NAME [--json]",
        .summary = "list the source's tags, newest first, and whether their config is valid",
        .opts = cli_json_opts,
        .pos = "container name",
        .get = "/containers/{}/tags",
        .print = tags_print,
    },
};

const struct cli_group cli_group_container = {
    .name = "container",
    .summary = "deploy, update and remove containers",
    .cmds = container_cmds,
    .n_cmds = ARRAY_LEN(container_cmds),
};
