/* Unit tests of the CLI's pure parts: the config file and where settings come
 * from, argument parsing and request bodies, tables, and the rendering of an
 * update's progress from recorded sequences of container JSON. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli-conf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/progress.h"
#include "cli/table.h"
#include "cli/verify.h"
#include "common/util.h"
#include "secret/hostkey.h"
#include "tls/attest.h"

/* ---- config file ---- */

static void
test_conf_parse(void **state)
{
	struct err err = ERR_INIT;
	char *url = NULL, *token = NULL;

	(void)state;
	assert_int_equal(cli_conf_parse("# berth\n\n  url =  http://h:1/  \ntoken=\"berth_x y\"\n",
	                                "c", &url, &token, &err),
	                 0);
	assert_string_equal(url, "http://h:1/");
	assert_string_equal(token, "berth_x y");
	/* a later line wins, single quotes too, no final newline */
	assert_int_equal(cli_conf_parse("token = 'b'", "c", &url, &token, &err), 0);
	assert_string_equal(token, "b");
	assert_int_equal(cli_conf_parse("\r\ntoken = c\r\n", "c", &url, &token, &err), 0);
	assert_string_equal(token, "c");
	free(url);
	free(token);
	url = token = NULL;

	assert_int_equal(
	    cli_conf_parse("url = x\nuser = me\n", "/h/.config/berth/config", &url, &token, &err),
	    -1);
	assert_string_equal(
	    err.msg, "/h/.config/berth/config:2: unknown key \"user\" (url and token are known)");
	free(url);
	url = NULL;
	assert_int_equal(cli_conf_parse("\n\njust words\n", "f", &url, &token, &err), -1);
	assert_string_equal(err.msg, "f:3: expected \"key = value\"");
	assert_int_equal(cli_conf_parse("token =\n", "f", &url, &token, &err), -1);
	assert_string_equal(err.msg, "f:1: token has no value");
	assert_int_equal(cli_conf_parse("token = \"\"\n", "f", &url, &token, &err), -1);
	assert_null(url);
	assert_null(token);
}

static char tmpdir[64];

static char *
write_tmp(const char *name, const char *text, int mode)
{
	char *p = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
	return p;
}

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/berth-test-cli-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static void
test_conf_resolve(void **state)
{
	char *cfg = write_tmp("config", "url = http://file:1//\ntoken = file-token\n", 0600);
	char *admin = write_tmp("admin-token", "berth_admin\n", 0600);
	char *missing = xasprintf("%s/none", tmpdir);
	struct cli_conf_sources src = {0};
	struct err err = ERR_INIT;
	struct cli_conf c;

	(void)state;
	/* nothing anywhere: the default URL, no token (no admin file given) */
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_string_equal(c.url, CLI_CONF_DEFAULT_URL);
	assert_null(c.token);
	cli_conf_clear(&c);

	/* the admin token is read with no token and the default URL only */
	src.admin_token_path = admin;
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_string_equal(c.token, "berth_admin");
	cli_conf_clear(&c);
	src.env_url = "http://127.0.0.1:9999";
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_null(c.token);
	cli_conf_clear(&c);
	src.env_url = NULL;

	/* the file, then the environment, then the flags win */
	src.config_path = cfg;
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_string_equal(c.url, "http://file:1");
	assert_string_equal(c.token, "file-token");
	cli_conf_clear(&c);
	src.env_url = "https://env:2/";
	src.env_token = "env-token";
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_string_equal(c.url, "https://env:2");
	assert_string_equal(c.token, "env-token");
	cli_conf_clear(&c);
	src.flag_url = "http://flag:3";
	src.flag_token = "flag-token";
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_string_equal(c.url, "http://flag:3");
	assert_string_equal(c.token, "flag-token");
	cli_conf_clear(&c);

	/* empty counts as unset */
	src.flag_url = "";
	src.flag_token = "";
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_string_equal(c.url, "https://env:2");
	cli_conf_clear(&c);

	/* a missing config file is fine; a bad one or a bad URL is an error */
	src = (struct cli_conf_sources){.config_path = missing};
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	cli_conf_clear(&c);
	free(cfg);
	cfg = write_tmp("config", "url: http://x\n", 0600);
	src.config_path = cfg;
	assert_int_equal(cli_conf_resolve(&src, &c, &err), -1);
	assert_non_null(strstr(err.msg, "config:1: expected \"key = value\""));
	assert_null(c.url);
	src = (struct cli_conf_sources){.flag_url = "127.0.0.1:7070"};
	assert_int_equal(cli_conf_resolve(&src, &c, &err), -1);
	assert_string_equal(err.msg, "the URL of berthd must start with http:// or https://, not "
	                             "\"127.0.0.1:7070\"");
	src = (struct cli_conf_sources){.config_path = tmpdir}; /* a directory */
	assert_int_equal(cli_conf_resolve(&src, &c, &err), -1);

	/* an unreadable or empty admin token file is not an error: no token */
	free(admin);
	admin = write_tmp("admin-token", "\n", 0600);
	src = (struct cli_conf_sources){.admin_token_path = admin};
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_null(c.token);
	cli_conf_clear(&c);
	src.admin_token_path = missing;
	assert_int_equal(cli_conf_resolve(&src, &c, &err), 0);
	assert_null(c.token);
	cli_conf_clear(&c);
	free(cfg);
	free(admin);
	free(missing);
}

static void
test_conf_default_path(void **state)
{
	char *old_xdg = getenv("XDG_CONFIG_HOME") ? xstrdup(getenv("XDG_CONFIG_HOME")) : NULL;
	char *old_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	char *p;

	(void)state;
	setenv("HOME", "/home/me", 1);
	unsetenv("XDG_CONFIG_HOME");
	p = cli_conf_default_path();
	assert_string_equal(p, "/home/me/.config/berth/config");
	free(p);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	p = cli_conf_default_path();
	assert_string_equal(p, "/xdg/berth/config");
	free(p);
	setenv("XDG_CONFIG_HOME", "relative", 1); /* the spec says to ignore it */
	p = cli_conf_default_path();
	assert_string_equal(p, "/home/me/.config/berth/config");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	assert_null(cli_conf_default_path());
	if (old_home != NULL)
		setenv("HOME", old_home, 1);
	if (old_xdg != NULL)
		setenv("XDG_CONFIG_HOME", old_xdg, 1);
	free(old_home);
	free(old_xdg);
}

/* ---- arguments ---- */

static int
parse(struct cli_args *a, const struct cli_opt *opts, int max_pos, struct err *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "cmd";
	va_start(ap, err);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return cli_args_parse(a, opts, max_pos, argc, argv, err);
}

/* The option tables of the commands, as their entries have them. */
static const struct cli_opt *
create_opts(void)
{
	return cli_cmd_find(&cli_group_container, "create")->opts;
}

static const struct cli_opt *
update_opts(void)
{
	return cli_cmd_find(&cli_group_container, "update")->opts;
}

static void
test_args_parse(void **state)
{
	struct err err = ERR_INIT;
	struct cli_args a;

	(void)state;
	assert_int_equal(parse(&a, create_opts(), 1, &err, "web", "--tag=v2", "--repo", "/r",
	                       "--secret", "A", "--secret=B", "--env", "K=V", "--debug", "--url",
	                       "http://u", "--token=t", "--wait", NULL),
	                 0);
	assert_int_equal(a.npos, 1);
	assert_string_equal(a.pos[0], "web");
	assert_string_equal(cli_value(&a, "--tag"), "v2");
	assert_string_equal(cli_value(&a, "--repo"), "/r");
	assert_int_equal(cli_flag(&a, "--secret"), 2);
	assert_string_equal(cli_list(&a, "--secret")[0], "A");
	assert_string_equal(cli_list(&a, "--secret")[1], "B");
	assert_null(cli_list(&a, "--secret")[2]);
	assert_string_equal(cli_list(&a, "--env")[0], "K=V");
	assert_int_equal(cli_flag(&a, "--debug"), 1);
	assert_int_equal(cli_flag(&a, "--wait"), 1);
	assert_int_equal(cli_flag(&a, "--json"), 0);
	assert_string_equal(a.url, "http://u");
	assert_string_equal(a.token, "t");
	cli_args_free(&a);

	/* `--` ends the options; "-" alone is an argument */
	assert_int_equal(parse(&a, create_opts(), 2, &err, "--", "--json", NULL), 0);
	assert_int_equal(a.npos, 1);
	assert_string_equal(a.pos[0], "--json");
	assert_int_equal(cli_flag(&a, "--json"), 0);
	cli_args_free(&a);

	assert_int_equal(parse(&a, create_opts(), 1, &err, "web", "--bogus", NULL), -1);
	assert_string_equal(err.msg, "unknown option --bogus");
	cli_args_free(&a);
	assert_int_equal(parse(&a, create_opts(), 1, &err, "web", "--tag", NULL), -1);
	assert_string_equal(err.msg, "--tag needs a value");
	cli_args_free(&a);
	assert_int_equal(parse(&a, create_opts(), 1, &err, "web", "--wait=yes", NULL), -1);
	assert_string_equal(err.msg, "--wait takes no value");
	cli_args_free(&a);
	assert_int_equal(parse(&a, create_opts(), 1, &err, "web", "api", NULL), -1);
	assert_string_equal(err.msg, "unexpected argument \"api\"");
	cli_args_free(&a);
	/* a prefix is not an option */
	assert_int_equal(parse(&a, create_opts(), 1, &err, "--ta", "v", NULL), -1);
	cli_args_free(&a);
}

/* --after and --tail: a whole number of at least a minimum, or a usage
 * mistake; not given, the default stays. */
static void
test_value_num(void **state)
{
	const struct cli_opt *opts = cli_cmd_find(&cli_group_container, "events")->opts;
	static const char *const bad[] = {"-1", "x", "7x", "", "99999999999999999999"};
	struct err err = ERR_INIT;
	struct cli_args a;
	long long n = 42;

	(void)state;
	assert_int_equal(parse(&a, opts, 1, &err, "web", NULL), 0);
	assert_int_equal(cli_value_num(&a, "--after", 0, &n), 0);
	assert_int_equal(n, 42);
	cli_args_free(&a);
	assert_int_equal(parse(&a, opts, 1, &err, "web", "--after", "0", NULL), 0);
	assert_int_equal(cli_value_num(&a, "--after", 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cli_value_num(&a, "--after", 1, &n), -1);
	cli_args_free(&a);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *arg = xasprintf("--after=%s", bad[i]);

		n = 42;
		assert_int_equal(parse(&a, opts, 1, &err, "web", arg, NULL), 0);
		assert_int_equal(cli_value_num(&a, "--after", 0, &n), -1);
		assert_int_equal(n, 42);
		cli_args_free(&a);
		free(arg);
	}
}

/* Every command of every group parses its line once, from its entry: a
 * mistake gets the command's own usage line, a missing argument its name,
 * and that usage line names every option the entry takes. */
static void
test_cli_run_usage(void **state)
{
	static const struct cli_group *const groups[] = {
	    &cli_group_container, &cli_group_secret,  &cli_group_org,    &cli_group_config,
	    &cli_group_ca,        &cli_group_measure, &cli_group_verify, &cli_group_host};

	(void)state;
	for (size_t g = 0; g < ARRAY_LEN(groups); g++) {
		for (size_t k = 0; k < groups[g]->n_cmds; k++) {
			const struct cli_cmd *cmd = &groups[g]->cmds[k];
			char *argv[] = {(char *)cmd->name, "--bogus", NULL}, *text = NULL, *want;
			size_t len;
			struct cli_ctx ctx = {.out = stdout, .in = stdin};

			for (size_t o = 0; cmd->opts != NULL && cmd->opts[o].name != NULL; o++)
				if (strstr(cmd->args, cmd->opts[o].name) == NULL)
					fail_msg("berth %s %s: usage \"%s\" lacks %s",
					         groups[g]->name, cmd->name, cmd->args,
					         cmd->opts[o].name);
			/* runs itself, or shows what it GETs (with --json) */
			if (cmd->run == NULL) {
				assert_non_null(cmd->get);
				assert_non_null(cmd->print);
				assert_ptr_equal(cmd->opts, cli_json_opts);
			}

			ctx.err = open_memstream(&text, &len);
			assert_int_equal(cli_run(&ctx, groups[g], cmd, 2, argv), CLI_EXIT_USAGE);
			fclose(ctx.err);
			want = xasprintf(
			    "berth %s %s: unknown option --bogus\nusage: berth %s %s %s\n",
			    groups[g]->name, cmd->name, groups[g]->name, cmd->name, cmd->args);
			assert_string_equal(text, want);
			free(want);
			free(text);
			if (cmd->pos == NULL)
				continue;
			ctx.err = open_memstream(&text, &len);
			assert_int_equal(cli_run(&ctx, groups[g], cmd, 1, argv), CLI_EXIT_USAGE);
			fclose(ctx.err);
			want = xasprintf("berth %s %s: no %s given\n", groups[g]->name, cmd->name,
			                 cmd->pos);
			assert_true(strncmp(text, want, strlen(want)) == 0);
			free(want);
			free(text);
		}
	}
}

static void
test_create_body(void **state)
{
	char *cfg = write_tmp("app.yml", "cvm-version: 0.7.5\n", 0600);
	struct err err = ERR_INIT;
	struct cli_args a;
	json_t *body;
	char *s;

	(void)state;
	assert_int_equal(parse(&a, create_opts(), 1, &err, "web", "--repo", "/r", "--tag", "v1",
	                       "--secret", "API_KEY", "--env", "A=1", "--env", "B=x=y", "--env",
	                       "C=", NULL),
	                 0);
	assert_int_equal(cli_create_body(&a, &body, &err), 0);
	s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"env\":{\"A\":\"1\",\"B\":\"x=y\",\"C\":\"\"},\"name\":\"web\","
	                       "\"repo\":\"/r\",\"secrets\":[\"API_KEY\"],\"tag\":\"v1\"}");
	free(s);
	json_decref(body);
	cli_args_free(&a);

	assert_int_equal(parse(&a, create_opts(), 1, &err, "web", "--config", cfg, "--debug", NULL),
	                 0);
	assert_int_equal(cli_create_body(&a, &body, &err), 0);
	s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"config\":\"cvm-version: 0.7.5\\n\",\"debug\":true,"
	                       "\"name\":\"web\"}");
	free(s);
	json_decref(body);
	cli_args_free(&a);

#define CREATE_REFUSED(want, rc, ...)                                                              \
	do {                                                                                       \
		assert_int_equal(parse(&a, create_opts(), 1, &err, __VA_ARGS__, NULL), 0);         \
		assert_int_equal(cli_create_body(&a, &body, &err), rc);                            \
		assert_null(body);                                                                 \
		assert_string_equal(err.msg, want);                                                \
		cli_args_free(&a);                                                                 \
	} while (0)
	CREATE_REFUSED("no container name given", -1, "--config", cfg);
	CREATE_REFUSED("give --repo and --tag, or --config", -1, "web");
	CREATE_REFUSED("--repo and --tag go together", -1, "web", "--tag", "v1");
	CREATE_REFUSED("--config cannot go with --repo and --tag", -1, "web", "--config", cfg,
	               "--tag", "v1");
	CREATE_REFUSED("--env wants KEY=VALUE, not \"NOEQUALS\"", -1, "web", "--config", cfg,
	               "--env", "NOEQUALS");
	CREATE_REFUSED("--env wants KEY=VALUE, not \"=v\"", -1, "web", "--config", cfg, "--env",
	               "=v");
	assert_int_equal(
	    parse(&a, create_opts(), 1, &err, "web", "--config", "/nonexistent.yml", NULL), 0);
	assert_int_equal(cli_create_body(&a, &body, &err), -2);
	assert_string_equal(err.msg, "open /nonexistent.yml: No such file or directory");
	cli_args_free(&a);
	free(cfg);
}

static void
test_update_body(void **state)
{
	struct err err = ERR_INIT;
	struct cli_args a;
	json_t *body;
	char *s;

	(void)state;
#define UPDATE_BODY(want, ...)                                                                     \
	do {                                                                                       \
		assert_int_equal(parse(&a, update_opts(), 1, &err, __VA_ARGS__, NULL), 0);         \
		assert_int_equal(cli_update_body(&a, &body, &err), 0);                             \
		s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);                               \
		assert_string_equal(s, want);                                                      \
		free(s);                                                                           \
		json_decref(body);                                                                 \
		cli_args_free(&a);                                                                 \
	} while (0)
	UPDATE_BODY("{\"kind\":\"tag\",\"tag\":\"v2\"}", "web", "--tag", "v2");
	UPDATE_BODY("{\"kind\":\"promote\"}", "web", "--promote", "--no-wait");
	UPDATE_BODY("{\"kind\":\"retry\"}", "--retry", "web");
	UPDATE_BODY("{\"kind\":\"edit-config\"}", "web", "--edit-config");
	UPDATE_BODY("{\"debug\":false,\"env\":{\"K\":\"v\"},\"kind\":\"edit-config\","
	            "\"secrets\":[\"S\"]}",
	            "web", "--edit-config", "--no-debug", "--env", "K=v", "--secret", "S");
	UPDATE_BODY("{\"debug\":true,\"kind\":\"edit-config\"}", "web", "--edit-config", "--debug");

#define UPDATE_REFUSED(want, ...)                                                                  \
	do {                                                                                       \
		assert_int_equal(parse(&a, update_opts(), 1, &err, __VA_ARGS__, NULL), 0);         \
		assert_int_equal(cli_update_body(&a, &body, &err), -1);                            \
		assert_null(body);                                                                 \
		assert_string_equal(err.msg, want);                                                \
		cli_args_free(&a);                                                                 \
	} while (0)
	UPDATE_REFUSED("give one of --tag, --edit-config, --promote, --retry", "web");
	UPDATE_REFUSED("give one of --tag, --edit-config, --promote, --retry", "web", "--tag", "v2",
	               "--retry");
	UPDATE_REFUSED("no container name given", "--promote");
	UPDATE_REFUSED("--config, --secret, --env, --debug and --no-debug go with --edit-config",
	               "web", "--tag", "v2", "--secret", "S");
	UPDATE_REFUSED("--debug and --no-debug contradict each other", "web", "--edit-config",
	               "--debug", "--no-debug");
}

/* ---- tables, escaping ---- */

static void
test_table(void **state)
{
	static const char *const heads[] = {"NAME", "STATUS", "URL"};
	static const char *const r1[] = {"web", "running", "http://web"};
	static const char *const r2[] = {"élan", NULL, ""};
	struct table t;
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	table_init(&t, 3, heads);
	table_add(&t, r1);
	table_add(&t, r2);
	table_print(&t, f);
	table_free(&t);
	fclose(f);
	assert_string_equal(text, "NAME  STATUS   URL\n"
	                          "web   running  http://web\n"
	                          "élan  -        -\n");
	free(text);
}

static void
test_table_fit(void **state)
{
	char *s;

	(void)state;
	s = table_fit("short", 10);
	assert_string_equal(s, "short");
	free(s);
	s = table_fit("exactly 10", 10);
	assert_string_equal(s, "exactly 10");
	free(s);
	s = table_fit("pulling image registry.example/app", 10);
	assert_string_equal(s, "pulling...");
	free(s);
	s = table_fit("ééééééé", 5); /* cut between characters, not inside one */
	assert_string_equal(s, "éé...");
	free(s);
	s = table_fit("abcdef", 2);
	assert_string_equal(s, "..");
	free(s);
}

static void
test_escape(void **state)
{
	char *s;

	(void)state;
	s = client_escape("web-1_a.b~");
	assert_string_equal(s, "web-1_a.b~");
	free(s);
	s = client_escape(""); /* an empty buf_take() is a terminated string */
	assert_string_equal(s, "");
	free(s);
	s = client_escape("a/b c?é");
	assert_string_equal(s, "a%2Fb%20c%3F%C3%A9");
	free(s);
}

/* ---- server-sent events ---- */

struct sse_seen {
	char text[1024]; /* "id|event|data;" per event */
	int n, stop_after;
};

static int
on_sse(void *arg, const char *id, const char *event, const char *data)
{
	struct sse_seen *s = arg;
	size_t len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s|%s|%s;", id ? id : "-",
	         event ? event : "-", data);
	s->n++;
	return s->stop_after > 0 && s->n >= s->stop_after ? -1 : 0;
}

static void
sse_parse(const char *stream, size_t chunk, int stop_after, const char *want)
{
	struct sse_seen seen = {.stop_after = stop_after};
	struct client_sse p;
	size_t i, n = strlen(stream);

	client_sse_init(&p, on_sse, &seen);
	for (i = 0; i < n; i += chunk)
		client_sse_feed(&p, stream + i, n - i < chunk ? n - i : chunk);
	client_sse_clear(&p);
	assert_string_equal(seen.text, want);
}

static void
test_sse_parser(void **state)
{
	static const char stream[] =
	    ": berth events\n\n"
	    "id: 17\nevent: update.started\ndata: {\"id\":17}\n\n"
	    ": keepalive\n\n"
	    "event: x\r\ndata:no space\r\ndata:  two\r\n\r\n" /* id 17 stays */
	    "id: 18\rdata\r\r"                                /* bare CRs; empty data */
	    "retry: 5\nunknown\ndata: last\n\n"
	    "data: never ended";
	static const char want[] = "17|update.started|{\"id\":17};"
	                           "17|x|no space\n two;"
	                           "18|-|;"
	                           "18|-|last;";

	(void)state;
	sse_parse(stream, sizeof(stream), 0, want); /* all at once */
	sse_parse(stream, 1, 0, want);              /* byte by byte: \r|\n split too */
	sse_parse(stream, 7, 0, want);
	/* on_event stops the parser: nothing more is reported */
	sse_parse(stream, 3, 1, "17|update.started|{\"id\":17};");
}

/* ---- progress ---- */

static void
test_percent_and_bar(void **state)
{
	size_t prefix = 0;
	char *bar;

	(void)state;
	assert_int_equal(progress_percent("pulling image 40%", &prefix), 40);
	assert_int_equal(prefix, strlen("pulling image "));
	assert_int_equal(progress_percent("pulling image 100%", NULL), 100);
	assert_int_equal(progress_percent("pulling image 0%", NULL), 0);
	assert_int_equal(progress_percent("pulling 2 images 7%", NULL), 7);
	assert_int_equal(progress_percent("pulling image 1000%", NULL), -1);
	assert_int_equal(progress_percent("pulling image %", NULL), -1);
	assert_int_equal(progress_percent("booting", NULL), -1);
	assert_int_equal(progress_percent("health checks 40%", NULL), -1);
	assert_int_equal(progress_percent(NULL, NULL), -1);
	bar = progress_bar(40, 10);
	assert_string_equal(bar, "[####......]  40%");
	free(bar);
	bar = progress_bar(150, 4);
	assert_string_equal(bar, "[####] 100%");
	free(bar);
	bar = progress_bar(-3, 4);
	assert_string_equal(bar, "[....]   0%");
	free(bar);
}

/* One frame of a recorded sequence: the container JSON and what the CLI
 * shows (NULL line: the same as before; logs joined by '|'). */
struct frame {
	const char *json;
	const char *line;
	const char *logs;
	int done, ok;
};

#define UPD(status, phase, log, finished, error)                                                   \
	"\"update\": {\"id\": \"u1\", \"kind\": \"tag\", \"strategy\": \"blue-green\", "           \
	"\"status\": \"" status "\", \"phase\": " phase ", \"health_log\": [" log "], "            \
	"\"finished_at\": " finished ", \"error\": " error "}"

static void
replay(const char *update_id, int tty, const struct frame *frames, size_t n, const char *result)
{
	struct progress p;
	size_t i;

	progress_init(&p, "web", update_id, tty);
	for (i = 0; i < n; i++) {
		struct progress_frame f = {0};
		json_error_t jerr;
		json_t *c = json_loads(frames[i].json, 0, &jerr);
		char *logs;

		if (c == NULL)
			fail_msg("frame %zu: %s", i, jerr.text);
		assert_int_equal(progress_feed(&p, c, &f), 0);
		assert_string_equal(f.line, frames[i].line);
		logs = xstrdup("");
		for (char **l = f.logs; l != NULL && *l != NULL; l++) {
			char *s = xasprintf("%s%s%s", logs, logs[0] ? "|" : "", *l);

			free(logs);
			logs = s;
		}
		assert_string_equal(logs, frames[i].logs != NULL ? frames[i].logs : "");
		free(logs);
		assert_int_equal(p.done, frames[i].done);
		assert_int_equal(p.ok, frames[i].ok);
		progress_frame_clear(&f);
		json_decref(c);
	}
	if (result != NULL)
		assert_string_equal(p.result, result);
	progress_clear(&p);
}

static void
test_progress_blue_green(void **state)
{
	static const struct frame frames[] = {
	    {"{\"status\": \"running\", \"status_detail\": null, \"deployment\": {\"tag\": "
	     "\"v1\"}, " UPD("pending", "null", "", "null", "null") "}",
	     "web: pending  deploying the new version", NULL, 0, 0},
	    {"{\"status\": \"running\", \"status_detail\": \"pulling image 7%\", " UPD(
	         "pending", "null", "", "null", "null") "}",
	     "web: pending  pulling image [#.......................]   7%", NULL, 0, 0},
	    {"{\"status\": \"running\", \"status_detail\": \"pulling image 100%\", " UPD(
	         "pending", "null", "", "null", "null") "}",
	     "web: pending  pulling image [########################] 100%", NULL, 0, 0},
	    {"{\"status\": \"running\", \"status_detail\": null, " UPD(
	         "started", "null", "\"10:00:01 http /health: 503\"", "null", "null") "}",
	     "web: started  health checks", "10:00:01 http /health: 503", 0, 0},
	    {"{\"status\": \"running\", \"status_detail\": null, " UPD(
	         "started", "null",
	         "\"10:00:01 http /health: 503\", \"10:00:02 http /health: 200\", \"10:00:03 http "
	         "/health: 200\"",
	         "null", "null") "}",
	     "web: started  health checks", "10:00:02 http /health: 200|10:00:03 http /health: 200",
	     0, 0},
	    {"{\"status\": \"running\", \"status_detail\": null, " UPD(
	         "ready", "null", "\"a\", \"b\", \"c\"", "null", "null") "}",
	     "web: ready  switching traffic", NULL, 0, 0},
	    {"{\"status\": \"running\", \"status_detail\": null, \"deployment\": {\"tag\": "
	     "\"v2\"}, " UPD("ready", "null", "\"a\", \"b\", \"c\"", "\"2026-11-26T10:00:09Z\"",
	                     "null") "}",
	     "web: done", NULL, 1, 1},
	};

	(void)state;
	replay("u1", 1, frames, ARRAY_LEN(frames), "web now runs v2");
}

static void
test_progress_not_a_tty(void **state)
{
	/* a log gets pull percentages in steps of ten */
	static const struct frame frames[] = {
	    {"{\"status\": \"running\", \"status_detail\": \"pulling image 47%\", " UPD(
	         "pending", "null", "", "null", "null") "}",
	     "web: pending  pulling image 40%", NULL, 0, 0},
	    {"{\"status\": \"running\", \"status_detail\": \"pulling image 100%\", " UPD(
	         "pending", "null", "", "null", "null") "}",
	     "web: pending  pulling image 100%", NULL, 0, 0},
	};

	(void)state;
	replay("u1", 0, frames, ARRAY_LEN(frames), NULL);
}

#define RUPD(status, phase, finished, error)                                                       \
	"\"update\": {\"id\": \"u1\", \"kind\": \"tag\", \"strategy\": \"recreate\", "             \
	"\"status\": \"" status "\", \"phase\": " phase ", \"health_log\": [], "                   \
	"\"finished_at\": " finished ", \"error\": " error "}"

static void
test_progress_recreate(void **state)
{
	static const struct frame ok[] = {
	    {"{\"status\": \"deploying\", \"status_detail\": null, " RUPD("pending", "\"stopping\"",
	                                                                  "null", "null") "}",
	     "web: 1/2 stopping old  draining", NULL, 0, 0},
	    {"{\"status\": \"deploying\", \"status_detail\": \"stopping the old version\", " RUPD(
	         "pending", "\"stopping\"", "null", "null") "}",
	     "web: 1/2 stopping old  stopping the old version", NULL, 0, 0},
	    /* the first phase's detail, not yet replaced, is not shown in the second */
	    {"{\"status\": \"deploying\", \"status_detail\": \"stopping the old version\", " RUPD(
	         "pending", "\"deploying\"", "null", "null") "}",
	     "web: 2/2 deploying new  booting", NULL, 0, 0},
	    {"{\"status\": \"deploying\", \"status_detail\": \"pulling image 50%\", " RUPD(
	         "pending", "\"deploying\"", "null", "null") "}",
	     "web: 2/2 deploying new  pulling image [############............]  50%", NULL, 0, 0},
	    {"{\"status\": \"deploying\", \"status_detail\": \"health checks\", " RUPD(
	         "started", "\"deploying\"", "null", "null") "}",
	     "web: 2/2 deploying new  health checks", NULL, 0, 0},
	    /* finished but the container not yet running: not done */
	    {"{\"status\": \"deploying\", \"status_detail\": null, " RUPD(
	         "ready", "\"deploying\"", "\"2026-11-26T10:00:09Z\"", "null") "}",
	     "web: ready  switching traffic", NULL, 0, 0},
	    {"{\"status\": \"running\", \"status_detail\": null, \"deployment\": {\"id\": "
	     "\"0123456789abcdef\", \"tag\": null}, " RUPD("ready", "null",
	                                                   "\"2026-11-26T10:00:09Z\"", "null") "}",
	     "web: done", NULL, 1, 1},
	};
	static const struct frame failed[] = {
	    {"{\"status\": \"deploying\", \"status_detail\": \"booting\", " RUPD(
	         "pending", "\"deploying\"", "null", "null") "}",
	     "web: 2/2 deploying new  booting", NULL, 0, 0},
	    {"{\"status\": \"failed\", \"status_detail\": \"app exited with status 1\", " RUPD(
	         "failed", "null", "\"2026-11-26T10:00:09Z\"", "\"app exited with status 1\"") "}",
	     "web: failed", NULL, 1, 0},
	};

	(void)state;
	replay("u1", 1, ok, ARRAY_LEN(ok), "web now runs deployment 0123456789ab");
	replay("u1", 1, failed, ARRAY_LEN(failed),
	       "the update of web failed: app exited with status 1");
}

static void
test_progress_failed_and_cancelled(void **state)
{
	static const struct frame failed[] = {
	    {"{\"status\": \"running\", \"status_detail\": null, " UPD(
	         "failed", "null", "\"10:00:01 tcp 8000: connection refused\"",
	         "\"2026-11-26T10:00:09Z\"", "\"health checks failed for 2m\"") "}",
	     "web: failed", "10:00:01 tcp 8000: connection refused", 1, 0},
	};
	static const struct frame cancelled[] = {
	    {"{\"status\": \"running\", " UPD("cancelled", "null", "", "\"2026-11-26T10:00:09Z\"",
	                                      "null") "}",
	     "web: cancelled", NULL, 1, 0},
	};
	/* finished ready but the container failed: a failure */
	static const struct frame ended_failed[] = {
	    {"{\"status\": \"failed\", \"status_detail\": \"enclave died\", " UPD(
	         "ready", "null", "", "\"2026-11-26T10:00:09Z\"", "null") "}",
	     "web: failed", NULL, 1, 0},
	};

	(void)state;
	replay("u1", 1, failed, ARRAY_LEN(failed),
	       "the update of web failed: health checks failed for 2m");
	replay("u1", 0, cancelled, ARRAY_LEN(cancelled), "the update of web was cancelled");
	replay("u1", 0, ended_failed, ARRAY_LEN(ended_failed),
	       "the update of web failed: enclave died");
}

static void
test_progress_first_deploy(void **state)
{
	static const struct frame ok[] = {
	    {"{\"status\": \"deploying\", \"status_detail\": \"queued\", \"update\": null}",
	     "web: deploying  queued", NULL, 0, 0},
	    {"{\"status\": \"deploying\", \"status_detail\": \"pulling image 30%\"}",
	     "web: deploying  pulling image 30%", NULL, 0, 0},
	    {"{\"status\": \"deploying\", \"status_detail\": null}", "web: deploying  starting",
	     NULL, 0, 0},
	    {"{\"status\": \"running\", \"url\": \"http://web.acme.containers.localhost:8080\"}",
	     "web: running  http://web.acme.containers.localhost:8080", NULL, 1, 1},
	};
	static const struct frame failed[] = {
	    {"{\"status\": \"failed\", \"status_detail\": \"image not found\"}", "web: failed",
	     NULL, 1, 0},
	};

	(void)state;
	replay(NULL, 0, ok, ARRAY_LEN(ok),
	       "web is running at http://web.acme.containers.localhost:8080");
	replay(NULL, 0, failed, ARRAY_LEN(failed), "web failed to deploy: image not found");
}

static void
test_progress_other_update(void **state)
{
	struct progress_frame f = {0};
	struct progress p;
	json_t *c = json_loads("{\"status\": \"running\", \"update\": {\"id\": \"older\", "
	                       "\"status\": \"ready\"}}",
	                       0, NULL);

	(void)state;
	progress_init(&p, "web", "u1", 1);
	assert_int_equal(progress_feed(&p, c, &f), -1);
	assert_false(p.done);
	json_object_set_new(c, "update", json_null());
	assert_int_equal(progress_feed(&p, c, &f), -1);
	progress_frame_clear(&f);
	progress_clear(&p);
	json_decref(c);
}

/* A document signed as berth-router signs one, then each check of
 * verify_document() failing on its own: a replayed nonce, another host key,
 * another certificate, another measurement, a changed field. */
static void
test_verify_document(void **state)
{
	char dir[] = "/tmp/berth-verify-XXXXXX", *path, *canon, pub[65], sig[129], why[512];
	const char *nonce = "00112233445566778899aabbccddeeff";
	const char *tls = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *m = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	struct hostkey *k = NULL;
	struct err err = ERR_INIT;
	struct verify_expect e;
	json_t *doc, *bad;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/host-key", dir);
	assert_int_equal(hostkey_load(path, 1, &k, &err), 0);
	hostkey_public_hex(k, pub);
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b}", "format", ATTEST_FORMAT,
	                "measurement", m, "nonce", nonce, "tls_public_key_sha256", tls, "host_key",
	                pub, "tee", "none", "tag", "v1", "time", 1, "debug", 0);
	canon = attest_canonical(doc);
	hostkey_sign_hex(k, canon, strlen(canon), sig);
	free(canon);
	json_object_set_new(doc, "signature", json_string(sig));

	e = (struct verify_expect){
	    .nonce = nonce, .tls_key = tls, .host_key = pub, .measurement = m};
	assert_int_equal(verify_document(doc, &e, why, sizeof why), VERIFY_OK);
	e.host_key = NULL;
	e.measurement = NULL;
	assert_int_equal(verify_document(doc, &e, why, sizeof why), VERIFY_OK);
	/* Replayed: the document of an earlier nonce. */
	e.nonce = "ffeeddccbbaa99887766554433221100";
	assert_int_equal(verify_document(doc, &e, why, sizeof why), VERIFY_ENONCE);
	assert_non_null(strstr(why, "replayed"));
	e.nonce = nonce;
	e.host_key = "0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(verify_document(doc, &e, why, sizeof why), VERIFY_EHOSTKEY);
	e.host_key = pub;
	e.tls_key = m;
	assert_int_equal(verify_document(doc, &e, why, sizeof why), VERIFY_ETLSKEY);
	e.tls_key = tls;
	e.measurement = tls;
	assert_int_equal(verify_document(doc, &e, why, sizeof why), VERIFY_EMEASUREMENT);
	e.measurement = m;
	/* One field changed after signing, even the nonce to the one sent. */
	bad = json_deep_copy(doc);
	json_object_set_new(bad, "tag", json_string("v2"));
	assert_int_equal(verify_document(bad, &e, why, sizeof why), VERIFY_ESIGNATURE);
	json_decref(bad);
	bad = json_deep_copy(doc);
	json_object_set_new(bad, "nonce", json_string("ffeeddccbbaa99887766554433221100"));
	e.nonce = "ffeeddccbbaa99887766554433221100";
	assert_int_equal(verify_document(bad, &e, why, sizeof why), VERIFY_ESIGNATURE);
	json_decref(bad);
	e.nonce = nonce;
	bad = json_deep_copy(doc);
	json_object_set_new(bad, "format", json_string("other"));
	assert_int_equal(verify_document(bad, &e, why, sizeof why), VERIFY_EDOC);
	json_decref(bad);

	json_decref(doc);
	hostkey_free(k);
	unlink(path);
	rmdir(dir);
	free(path);
}

/* Attested keys: a key pair of each kind, made as at an enclave's boot
 * (its private PEM gives its public part), listed in a document that
 * attest_document() signs; verify_document() takes it, refuses a key of
 * another type than said, and a key changed after signing. */
static void
test_verify_attested_keys(void **state)
{
	static const char *const kinds[] = {"ecdsa-p256", "ed25519", "x25519"};
	char dir[] = "/tmp/berth-verify-XXXXXX", *path, *body, pub[65], why[512];
	const char *nonce = "00112233445566778899aabbccddeeff";
	const char *tls = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct attest_keypair kp[3];
	struct hostkey *k = NULL;
	struct err err = ERR_INIT;
	struct verify_expect e = {.nonce = nonce, .tls_key = tls};
	json_t *facts, *keys = json_array(), *doc, *bad;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/host-key", dir);
	assert_int_equal(hostkey_load(path, 1, &k, &err), 0);
	hostkey_public_hex(k, pub);
	for (size_t i = 0; i < 3; i++) {
		BIO *b;
		EVP_PKEY *pk;
		unsigned char *der = NULL;
		char b64[256];
		int n;

		assert_int_equal(attest_keypair_generate(kinds[i], &kp[i], &err), 0);
		assert_non_null(strstr(kp[i].private_pem, "-----BEGIN PRIVATE KEY-----"));
		assert_non_null(strstr(kp[i].public_pem, "-----BEGIN PUBLIC KEY-----"));
		/* The public part is the private key's. */
		b = BIO_new_mem_buf(kp[i].private_pem, (int)kp[i].private_len);
		pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		assert_non_null(pk);
		n = i2d_PUBKEY(pk, &der);
		assert_true(n > 0);
		EVP_EncodeBlock((unsigned char *)b64, der, n);
		assert_string_equal(b64, kp[i].public_b64);
		OPENSSL_free(der);
		EVP_PKEY_free(pk);
		BIO_free(b);
		json_array_append_new(keys, json_pack("{s:s, s:s, s:s}", "id", kinds[i], "key",
		                                      kinds[i], "public_key", kp[i].public_b64));
	}
	/* Two boots, two keys. */
	{
		struct attest_keypair again;

		assert_int_equal(attest_keypair_generate("ed25519", &again, &err), 0);
		assert_string_not_equal(again.public_b64, kp[1].public_b64);
		attest_keypair_clear(&again);
	}
	{
		struct attest_keypair none;

		assert_int_equal(attest_keypair_generate("rsa", &none, &err), -1);
		assert_null(none.private_pem);
	}
	assert_non_null(strstr(err.msg, "ecdsa-p256, ed25519 or x25519"));
	err_clear(&err);

	facts = json_pack("{s:s, s:o}", "measurement", tls, "attested_keys", keys);
	body = attest_document(facts, nonce, tls, k);
	doc = json_loads(body, 0, NULL);
	free(body);
	assert_int_equal(verify_document(doc, &e, why, sizeof why), VERIFY_OK);
	/* A key of another type than it says is a bad document, signed or
	 * not; a key changed after signing fails the signature. */
	json_object_set_new(json_array_get(json_object_get(facts, "attested_keys"), 0), "key",
	                    json_string("ed25519"));
	body = attest_document(facts, nonce, tls, k);
	bad = json_loads(body, 0, NULL);
	free(body);
	assert_int_equal(verify_document(bad, &e, why, sizeof why), VERIFY_EDOC);
	assert_non_null(strstr(why, "is not a ed25519 SubjectPublicKeyInfo"));
	json_decref(bad);
	bad = json_deep_copy(doc);
	json_object_set_new(json_array_get(json_object_get(bad, "attested_keys"), 1), "public_key",
	                    json_string(kp[2].public_b64));
	json_object_set_new(json_array_get(json_object_get(bad, "attested_keys"), 1), "key",
	                    json_string("x25519"));
	assert_int_equal(verify_document(bad, &e, why, sizeof why), VERIFY_ESIGNATURE);
	json_decref(bad);

	for (size_t i = 0; i < 3; i++)
		attest_keypair_clear(&kp[i]);
	json_decref(facts);
	json_decref(doc);
	hostkey_free(k);
	unlink(path);
	rmdir(dir);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conf_parse),
	    cmocka_unit_test(test_verify_document),
	    cmocka_unit_test(test_verify_attested_keys),
	    cmocka_unit_test(test_conf_resolve),
	    cmocka_unit_test(test_conf_default_path),
	    cmocka_unit_test(test_args_parse),
	    cmocka_unit_test(test_cli_run_usage),
	    cmocka_unit_test(test_value_num),
	    cmocka_unit_test(test_create_body),
	    cmocka_unit_test(test_update_body),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_table_fit),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_sse_parser),
	    cmocka_unit_test(test_percent_and_bar),
	    cmocka_unit_test(test_progress_blue_green),
	    cmocka_unit_test(test_progress_not_a_tty),
	    cmocka_unit_test(test_progress_recreate),
	    cmocka_unit_test(test_progress_failed_and_cancelled),
	    cmocka_unit_test(test_progress_first_deploy),
	    cmocka_unit_test(test_progress_other_update),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
