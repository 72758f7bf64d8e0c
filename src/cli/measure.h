/* measure: the measurement a deployment of a Git tag (or of a checkout) has,
 * computed here as berthd computes it (measurement_of_config()); shared by
 * `berth measure` and `berth verify`. */
#ifndef BERTH_CLI_MEASURE_H
#define BERTH_CLI_MEASURE_H

#include "cli/cli.h"
#include "common/err.h"

/* What to measure: repo and tag (read with the source module into the
 * user's cache, ~/.cache/berth/sources), or dir (a checkout holding
 * tinfoil-config.yml, or the file itself). */
struct measure_req {
	const char *repo;      /* borrowed, or NULL */
	const char *tag;       /* borrowed, with repo */
	const char *dir;       /* borrowed, or NULL */
	int debug;             /* 0 or 1 */
	const char *isolation; /* borrowed "runc"/"gvisor", or NULL: the config's, else runc */
	char *const *secrets;  /* borrowed strv of names bound besides the config's, or NULL */
};

/* What came out. */
struct measure_res {
	char measurement[65];
	char config_sha256[65];
	char commit[41]; /* "" for a directory */
	char isolation[16];
};

/* Computes it. Fails (negative, err set) on a source that cannot be read, a
 * tag not found, or an invalid config (err names file:line:col). */
int measure_run(const struct measure_req *q, struct measure_res *res, struct err *err);

/* Reads --repo/--tag, --debug, --isolation and --secret of a, and dir, into
 * q; a usage mistake is printed and CLI_EXIT_USAGE returned. */
int measure_req_from_args(struct cli_ctx *ctx, const struct cli_args *a, const char *dir,
                          struct measure_req *q);

#endif
