/* GET /api/v1/containers/{name}/logs?tail=N[&deployment=ID]: the output of
 * a debug container's serving enclave, every container of its config, the
 * last N lines of each (default 200); with deployment, that deployment's
 * (the serving one's, or a failed version's, kept when its enclave went:
 * the newest MODEL_KEPT_LOGS of the container). Production containers
 * answer 403: their output stays inside the enclave. The values of the
 * deployment's secrets are redacted from what is shown, the CLI's and the
 * dashboard's logs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api-common.h"
#include "api/api-routes.h"
#include "common/buf.h"
#include "common/util.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "model/model.h"
#include "secret/redact.h"
#include "secret/vault.h"
#include "store/store.h"

#define LOGS_TAIL_DEFAULT 200
#define LOGS_TAIL_MAX     10000
#define LOGS_FILE_MAX     (4 * 1024 * 1024)

/* Appends the last n lines of what path and its rotated path.1 hold, with
 * rd's values redacted. */
static void
logs_tail(struct buf *out, const struct redact *rd, const char *path, long n)
{
	char *older = xasprintf("%s.1", path), *a = NULL, *b = NULL, *text = NULL;
	struct err err = ERR_INIT;
	struct buf both = BUF_INIT;
	size_t la = 0, lb = 0, len = 0;
	const char *start;
	long lines = 0;

	if (file_read_all(older, LOGS_FILE_MAX, &a, &la, &err) == 0)
		buf_append(&both, a, la);
	err_clear(&err);
	if (file_read_all(path, LOGS_FILE_MAX, &b, &lb, &err) == 0)
		buf_append(&both, b, lb);
	if (both.len == 0)
		goto out;
	/* All of it, then the tail: a value across the rotation, or over
	 * several lines of which the tail keeps only the last, is whole here. */
	text = redact_mem(rd, both.data, both.len, &len);
	start = text + len;
	if (len > 0 && start[-1] == '\n')
		start--;
	while (start > text && lines < n) {
		start--;
		if (*start == '\n' && ++lines == n) {
			start++;
			break;
		}
	}
	buf_append(out, start, (size_t)(text + len - start));
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
out:
	buf_free(&both);
	free(text);
	free(a);
	free(b);
	free(older);
}

static void
containers_logs(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct store_container c = {0};
	struct store_deployment dep = {0};
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	struct redact *rd = NULL;
	struct err err = ERR_INIT;
	struct buf out = BUF_INIT;
	char *q = api_req_query(r, "tail"), *want = api_req_query(r, "deployment"), *end = NULL;
	char *dir = NULL;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	long tail = LOGS_TAIL_DEFAULT;
	int rc;

	if (q != NULL) {
		errno = 0;
		tail = strtol(q, &end, 10);
		if (*q == '\0' || *end != '\0' || errno != 0 || tail < 1 || tail > LOGS_TAIL_MAX) {
			api_reply_error(r, 400, "bad_tail",
			                "tail must be a whole number from 1 to %d", LOGS_TAIL_MAX);
			goto out;
		}
	}
	if (api_container_lookup(r, r->captures[0], &c) < 0)
		goto out;
	if (!c.debug) {
		api_reply_error(r, 403, "not_debug",
		                "logs are only available for debug containers; %s is a "
		                "production container",
		                c.name);
		goto out;
	}
	if (want != NULL && want[0] != '\0' && strcmp(want, c.deployment_id) != 0) {
		/* Another deployment of this container: what was kept of it. */
		rc = store_deployment_get(d->store, want, &dep, &err);
		if (rc == STORE_ENOTFOUND || (rc == 0 && strcmp(dep.container_id, c.id) != 0)) {
			api_reply_error(r, 404, "not_found", "container %s has no deployment %s",
			                c.name, want);
			goto out;
		}
		if (rc < 0) {
			api_reply_store_error(r, rc, &err);
			goto out;
		}
		dir = model_kept_logs_dir(d->settings.state_dir, c.id, dep.id);
		if (access(dir, F_OK) != 0) {
			api_reply_error(
			    r, 404, "no_logs",
			    "no logs of deployment %s are kept: only a failed version of "
			    "a debug container keeps them (the newest %d)",
			    dep.id, MODEL_KEPT_LOGS);
			goto out;
		}
	} else if ((rc = store_deployment_get(d->store, c.deployment_id, &dep, &err)) < 0) {
		api_reply_store_error(r, rc, &err);
		goto out;
	}
	if (config_parse("config", dep.config, strlen(dep.config), &cfg, &errs) < 0) {
		api_reply_error(r, 500, "internal", "the deployment's config does not parse");
		goto out;
	}
	/* Logs whose secrets cannot all be redacted are not shown. */
	if (vault_redact_of(d->store, d->key, c.org_id, dep.secrets_json, &rd, &err) < 0) {
		api_reply_error(r, 500, "internal", "the logs cannot be redacted: %s", err.msg);
		goto out;
	}
	model_enclave_name(dep.id, name);
	for (size_t i = 0; i < cfg->n_containers; i++) {
		const char *cname = cfg->containers[i].name;
		char *path = dir != NULL ? xasprintf("%s/%s/log", dir, cname)
		                         : xasprintf("%s/enclaves/%s/%s/log", d->settings.state_dir,
		                                     name, cname);

		if (cfg->n_containers > 1)
			buf_printf(&out, "==> %s <==\n", cname);
		logs_tail(&out, rd, path, tail);
		free(path);
	}
	api_reply_text(r, 200, "text/plain; charset=utf-8", out.data != NULL ? out.data : "",
	               out.len);
out:
	buf_free(&out);
	redact_free(rd);
	config_free(cfg);
	config_errors_free(&errs);
	store_deployment_clear(&dep);
	store_container_clear(&c);
	free(dir);
	free(want);
	free(q);
}

const struct api_route api_routes_logs[] = {
    {.method = API_GET,
     .pattern = "/api/v1/containers/{}/logs",
     .handler = containers_logs,
     .flags = API_LEADER_ONLY},
    {0},
};
