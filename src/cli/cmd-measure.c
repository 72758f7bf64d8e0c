/* berth measure: the measurement a deployment of a tag will have, the step a
 * release workflow runs to publish it next to the tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/measure.h"
#include "common/util.h"
#include "config/config.h"
#include "config/measurement.h"
#include "source/source.h"

/* ${XDG_CACHE_HOME:-$HOME/.cache}/berth/sources, owned. */
static char *
measure_cache_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (x != NULL && x[0] == '/')
		return xasprintf("%s/berth/sources", x);
	return xasprintf("%s/.cache/berth/sources", home != NULL ? home : "/tmp");
}

/* The config's text from repo at tag, and the tag's commit. */
static int
measure_read_tag(const struct measure_req *q, char **text, size_t *len, char commit[41],
                 struct err *err)
{
	struct source_repo *repo = NULL;
	char *cache = measure_cache_dir();
	int rc;

	if ((rc = source_init(err)) < 0 ||
	    (rc = source_sync(cache, q->repo, NULL, &repo, err)) < 0 ||
	    (rc = source_tag_commit(repo, q->tag, commit, err)) < 0)
		goto out;
	rc = source_read_file(repo, q->tag, SOURCE_CONFIG_FILE, text, len, err);
out:
	source_close(repo);
	free(cache);
	return rc;
}

int
measure_run(const struct measure_req *q, struct measure_res *res, struct err *err)
{
	struct config_errors errs = {0};
	struct config *c = NULL;
	char *text = NULL, *path = NULL, **names = NULL;
	const char *iso;
	size_t len = 0;
	struct stat st;
	int rc;

	memset(res, 0, sizeof *res);
	if (q->dir != NULL) {
		path = stat(q->dir, &st) == 0 && S_ISDIR(st.st_mode)
		           ? xasprintf("%s/%s", q->dir, SOURCE_CONFIG_FILE)
		           : xstrdup(q->dir);
		rc = config_load(path, &c, &errs);
	} else {
		if ((rc = measure_read_tag(q, &text, &len, res->commit, err)) < 0)
			goto out;
		path = xasprintf("%s@%s:%s", q->repo, q->tag, SOURCE_CONFIG_FILE);
		rc = config_parse(path, text, len, &c, &errs);
	}
	if (rc < 0) {
		char *why = config_errors_format(&errs);
		size_t n = strlen(why);

		while (n > 0 && why[n - 1] == '\n')
			why[--n] = '\0';
		rc = err_make(err, 0, "%s", why);
		free(why);
		goto out;
	}
	iso = q->isolation != NULL          ? q->isolation
	      : c->deploy.isolation != NULL ? c->deploy.isolation
	                                    : "runc";
	names = measurement_secret_names(c, q->secrets);
	measurement_of_config(c, q->debug, names, iso, res->measurement);
	memcpy(res->config_sha256, c->config_sha256, sizeof res->config_sha256);
	snprintf(res->isolation, sizeof res->isolation, "%s", iso);
	rc = 0;
out:
	strv_free(names);
	config_free(c);
	config_errors_free(&errs);
	free(text);
	free(path);
	return rc;
}

static const struct cli_opt measure_opts[] = {{"--repo", CLI_OPT_VALUE},
                                              {"--tag", CLI_OPT_VALUE},
                                              {"--debug", CLI_OPT_FLAG},
                                              {"--isolation", CLI_OPT_VALUE},
                                              {"--secret", CLI_OPT_LIST},
                                              {"--json", CLI_OPT_FLAG},
                                              {NULL, 0}};

int
measure_req_from_args(struct cli_ctx *ctx, const struct cli_args *a, const char *dir,
                      struct measure_req *q)
{
	memset(q, 0, sizeof *q);
	q->repo = cli_value(a, "--repo");
	q->tag = cli_value(a, "--tag");
	q->dir = dir;
	q->debug = cli_flag(a, "--debug") > 0;
	q->isolation = cli_value(a, "--isolation");
	q->secrets = cli_list(a, "--secret");
	if (q->isolation != NULL && strcmp(q->isolation, "runc") != 0 &&
	    strcmp(q->isolation, "gvisor") != 0)
		return cli_usage_error(ctx, "--isolation must be runc or gvisor, not \"%s\"",
		                       q->isolation);
	if ((q->repo == NULL) != (q->tag == NULL))
		return cli_usage_error(ctx, "--repo and --tag go together");
	if (dir != NULL && q->repo != NULL)
		return cli_usage_error(ctx, "give a directory or --repo and --tag, not both");
	return CLI_EXIT_OK;
}

static int
measure_cmd(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct err err = ERR_INIT;
	struct measure_req q;
	struct measure_res res;
	int rc;

	if ((rc = measure_req_from_args(ctx, a, a->npos > 0 ? a->pos[0] : NULL, &q)) != 0)
		return rc;
	if (q.repo == NULL && q.dir == NULL)
		return cli_usage_error(ctx, "give a directory, or --repo and --tag");
	if (measure_run(&q, &res, &err) < 0) {
		fprintf(ctx->err, "berth measure: %s\n", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (cli_flag(a, "--json")) {
		json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:s}", "measurement",
		                      res.measurement, "config_sha256", res.config_sha256, "tag",
		                      q.tag, "commit", res.commit[0] ? res.commit : NULL, "debug",
		                      q.debug, "isolation", res.isolation);

		cli_print_json(ctx->out, o);
		json_decref(o);
	} else {
		fprintf(ctx->out, "%s\n", res.measurement);
	}
	fflush(ctx->out);
	return CLI_EXIT_OK;
}

static const struct cli_cmd measure_cmds[] = {
    {
        .name = "measure",
        .args = "[--repo R --tag T | DIR] [--debug] [--isolation runc|gvisor] [--secret NAME]... "
                "[--json]",
        .summary = "print the measurement a deployment of a tag (or a checkout) has",
        .help = "Prints the measurement berthd records for a deployment of tinfoil-config.yml\n"
                "at tag T of repository R (read with libgit2 into ~/.cache/berth/sources),\n"
                "or of DIR/tinfoil-config.yml: what `berth verify` compares with what a\n"
                "container attests. Pass what the deployment used: --debug, --isolation\n"
                "(default: the config's deploy.isolation, else runc) and the secrets bound\n"
                "besides the config's own (--secret). Needs no berthd.",
        .opts = measure_opts,
        .opt_pos = 1,
        .run = measure_cmd,
    },
};

const struct cli_group cli_group_measure = {
    .name = "measure",
    .summary = "the measurement of a tag, to publish and verify against",
    .cmds = measure_cmds,
    .n_cmds = ARRAY_LEN(measure_cmds),
    .dflt = &measure_cmds[0],
};
