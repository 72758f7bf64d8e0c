/* recon-host-remote: a host of the reconciler reached through its
 * berth-agent (src/agent/) over HTTP with JSON bodies, authenticated by the
 * host token (docs/architecture.md, "Hosts and agents"). Each operation is
 * one blocking request with a deadline, on the worker that called it; a boot
 * is started, then polled until its job is done (its progress comes back in
 * each answer). A slow or dead agent is an error within the deadline. */
#include "recon/recon-host.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "router/router_client.h"

/* Polling a boot: every REMOTE_POLL_MS; the agent unanswered for longer than
 * REMOTE_LOST_POLLS deadlines in a row ends it. */
#define REMOTE_POLL_MS    200
#define REMOTE_LOST_POLLS 3
/* What an exec or a check may take beyond its own timeout on the way. */
#define REMOTE_SLACK_MS 5000
/* The longest answer read (a router's table, an exec's output). */
#define REMOTE_MAX_ANSWER (16 * 1024 * 1024)

struct recon_host_remote {
	struct recon_host base;
	char *url;                      /* owned: http://ADDR:PORT, no trailing slash */
	char *auth_header;              /* owned, wiped: "Authorization: Bearer TOKEN" */
	int64_t timeout_ms;             /* a short call's deadline */
	const _Atomic int *stopping;    /* borrowed */
	int gpus;                       /* as the agent said at start */
	char *host_id;                  /* owned, or NULL: the agent did not answer at start */
	struct recon_host_capacity cap; /* as the agent said at start */
};

static struct recon_host_remote *
remote_of(struct recon_host *h)
{
	return (struct recon_host_remote *)h;
}

struct remote_answer {
	struct buf body;
	int too_big;
};

static size_t
remote_on_data(char *data, size_t size, size_t n, void *arg)
{
	struct remote_answer *a = arg;

	if (a->body.len + size * n > REMOTE_MAX_ANSWER) {
		a->too_big = 1;
		return 0;
	}
	buf_append(&a->body, data, size * n);
	return size * n;
}

/* One request: method path (under the agent's URL) with body (borrowed, or
 * NULL), within timeout_ms. Returns 0 with *status and *out (owned, the JSON
 * answer, NULL when it had none) for any 2xx; negative with err otherwise:
 * the agent's own sentence and errno for its refusals (ROUTER_CLIENT_ENOTFOUND
 * for a 404 of the router's), "unreachable" when it did not answer. */
static int
remote_call(struct recon_host_remote *h, const char *method, const char *path, const json_t *body,
            int64_t timeout_ms, json_t **out, struct err *err)
{
	struct remote_answer a = {BUF_INIT, 0};
	struct curl_slist *headers = NULL;
	char *url = xasprintf("%s%s", h->url, path), *text = NULL;
	long status = 0;
	CURLcode cc;
	CURL *c = curl_easy_init();
	int rc = -1;

	if (out != NULL)
		*out = NULL;
	if (c == NULL) {
		rc = err_make(err, ENOMEM, "curl_easy_init");
		goto out;
	}
	headers = curl_slist_append(headers, h->auth_header);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(timeout_ms < 3000 ? timeout_ms : 3000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, remote_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		err_make(err, cc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : ECONNREFUSED,
		         "host agent %s unreachable: %s %s: %s", h->url, method, path,
		         a.too_big ? "answer too long" : curl_easy_strerror(cc));
		rc = RECON_HOST_EUNREACHABLE;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	{
		json_t *v = a.body.len > 0 ? json_loadb(a.body.data, a.body.len, 0, NULL) : NULL;

		if (status >= 200 && status < 300) {
			if (out != NULL)
				*out = v;
			else
				json_decref(v);
			rc = 0;
			goto out;
		}
		{
			json_t *e = json_object_get(v, "error");
			const char *msg = json_string_value(json_object_get(e, "message"));
			int code = (int)json_integer_value(json_object_get(e, "errno"));

			if (status == 404 && code == ENOENT &&
			    strncmp(path, "/v1/router/", 11) == 0)
				rc = ROUTER_CLIENT_ENOTFOUND;
			else if (status == 401)
				code = EACCES;
			err_make(err, 0, "host agent %s: %s", h->url,
			         msg != NULL ? msg : "refused the request");
			err->code = code;
			if (rc != ROUTER_CLIENT_ENOTFOUND)
				rc = code > 0 ? -code : -1;
		}
		json_decref(v);
	}
out:
	if (text != NULL) {
		/* A boot's body holds the enclave's secrets. */
		sodium_memzero(text, strlen(text));
		free(text);
	}
	curl_slist_free_all(headers);
	if (c != NULL)
		curl_easy_cleanup(c);
	free(url);
	buf_free(&a.body);
	return rc;
}

/* An enclave of the agent's JSON ({name, ip, isolation}): what berthd keeps
 * of a remote one (its containers stay the agent's). */
static struct enclave *
remote_enclave_of(const json_t *v)
{
	struct enclave *e = xcalloc(1, sizeof *e);
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *ip = json_string_value(json_object_get(v, "ip"));
	const char *iso = json_string_value(json_object_get(v, "isolation"));

	e->name = xstrdup(name != NULL ? name : "");
	e->ip = ip != NULL ? xstrdup(ip) : NULL;
	e->isolation = xstrdup(iso != NULL ? iso : "runc");
	return e;
}

static json_t *
remote_kv_object(const struct bundle_kv *kv, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, kv[i].key, json_string(kv[i].value));
	return o;
}

/* Wipes the secrets' values held by a boot's body before it goes. */
static void
remote_wipe_secrets(json_t *body)
{
	const char *key;
	json_t *v;

	json_object_foreach(json_object_get(body, "secrets"), key, v)
	{
		if (json_is_string(v))
			sodium_memzero((char *)json_string_value(v), json_string_length(v));
	}
}

static int
remote_boot(struct recon_host *hh, const struct recon_boot_spec *bs, struct enclave **out,
            struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	json_t *body, *ans = NULL, *st = NULL;
	char *path = NULL;
	int lost = 0, rc;

	*out = NULL;
	if (bs->config_text == NULL)
		return err_make(err, EINVAL, "booting on host agent %s: no config text", h->url);
	body = json_pack("{s:s, s:s, s:b, s:s, s:o, s:o}", "name", bs->name, "container_id",
	                 bs->container_id, "resume", bs->resume, "config", bs->config_text,
	                 "settings", remote_kv_object(bs->settings, bs->n_settings), "secrets",
	                 remote_kv_object(bs->secrets, bs->n_secrets));
	if (bs->isolation != NULL)
		json_object_set_new(body, "isolation", json_string(bs->isolation));
	rc = remote_call(h, "POST", "/v1/boot", body, h->timeout_ms, &ans, err);
	remote_wipe_secrets(body);
	json_decref(body);
	if (rc < 0)
		return err_wrap(err, "booting");
	path =
	    xasprintf("/v1/jobs/%lld", (long long)json_integer_value(json_object_get(ans, "job")));
	json_decref(ans);
	for (;;) {
		struct err perr = ERR_INIT;

		if (atomic_load(h->stopping)) {
			rc = err_make(err, ECANCELED, "booting: berthd is stopping");
			break;
		}
		usleep(REMOTE_POLL_MS * 1000);
		json_decref(st);
		st = NULL;
		if (remote_call(h, "GET", path, NULL, h->timeout_ms, &st, &perr) < 0) {
			/* A lost job (the agent restarted) is not coming back. */
			if (++lost >= REMOTE_LOST_POLLS || perr.code == ENOENT) {
				*err = perr;
				rc = err_wrap(err, "booting");
				break;
			}
			continue;
		}
		lost = 0;
		atomic_store(bs->percent, (int)json_integer_value(json_object_get(st, "percent")));
		if (json_is_true(json_object_get(st, "booting")))
			atomic_store(bs->booting, 1);
		if (!json_is_true(json_object_get(st, "done")))
			continue;
		if (json_object_get(st, "enclave") != NULL) {
			*out = remote_enclave_of(json_object_get(st, "enclave"));
			rc = 0;
		} else {
			const char *msg = json_string_value(json_object_get(st, "error"));

			rc = err_make(err, 0, "%s", msg != NULL ? msg : "the boot failed");
		}
		break;
	}
	json_decref(st);
	free(path);
	return rc;
}

static int
remote_adopt(struct recon_host *hh, const char *name, struct enclave **out,
             enum enclave_observed *observed, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	char *path = xasprintf("/v1/enclaves/%s/adopt", name);
	json_t *ans = NULL;
	int rc = remote_call(h, "POST", path, NULL, h->timeout_ms, &ans, err);

	if (rc == 0) {
		const char *seen = json_string_value(json_object_get(ans, "observed"));

		*observed = ENCLAVE_OBSERVED_ABSENT;
		for (int o = ENCLAVE_OBSERVED_ABSENT; seen != NULL && o <= ENCLAVE_OBSERVED_STOPPED;
		     o++)
			if (strcmp(seen, enclave_observed_str((enum enclave_observed)o)) == 0)
				*observed = (enum enclave_observed)o;
		if (out != NULL)
			*out = remote_enclave_of(json_object_get(ans, "enclave"));
	}
	json_decref(ans);
	free(path);
	return rc;
}

static int
remote_destroy(struct recon_host *hh, const char *name, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	char *path = xasprintf("/v1/enclaves/%s", name);
	/* A stop waits for its containers' stop timeouts on the agent. */
	int rc = remote_call(h, "DELETE", path, NULL, h->timeout_ms + 120000, NULL, err);

	free(path);
	return rc;
}

static int
remote_keep_logs(struct recon_host *hh, const char *name, const char *container_id,
                 const char *deployment_id, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	char *path = xasprintf("/v1/enclaves/%s/keep-logs", name);
	json_t *body =
	    json_pack("{s:s, s:s}", "container_id", container_id, "deployment_id", deployment_id);
	int rc = remote_call(h, "POST", path, body, h->timeout_ms, NULL, err);

	json_decref(body);
	free(path);
	return rc;
}

static int
remote_drop(struct recon_host *hh, const char *container_id, const char *what, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	char *path = xasprintf("/v1/containers/%s/%s", container_id, what);
	int rc = remote_call(h, "DELETE", path, NULL, h->timeout_ms, NULL, err);

	free(path);
	return rc;
}

static int
remote_drop_logs(struct recon_host *hh, const char *container_id, struct err *err)
{
	return remote_drop(hh, container_id, "logs", err);
}

static int
remote_drop_volumes(struct recon_host *hh, const char *container_id, struct err *err)
{
	return remote_drop(hh, container_id, "volumes", err);
}

static int
remote_list(struct recon_host *hh, char ***names, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	json_t *ans = NULL, *v;
	size_t i;
	int rc = remote_call(h, "GET", "/v1/enclaves", NULL, h->timeout_ms, &ans, err);

	*names = NULL;
	json_array_foreach(json_object_get(ans, "names"), i, v)
	{
		if (json_is_string(v))
			*names = strv_push(*names, json_string_value(v));
	}
	json_decref(ans);
	return rc;
}

static int
remote_exec(struct recon_host *hh, const struct enclave *e, const char *container,
            char *const *argv, int64_t timeout_ms, int *exit_code, char **output, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	char *path = xasprintf("/v1/enclaves/%s/exec", e->name);
	json_t *args = json_array(), *ans = NULL, *body;
	const char *text;
	int rc;

	*output = NULL;
	for (char *const *a = argv; a != NULL && *a != NULL; a++)
		json_array_append_new(args, json_string(*a));
	body = json_pack("{s:s, s:o, s:I}", "container", container, "argv", args, "timeout_ms",
	                 (json_int_t)timeout_ms);
	rc = remote_call(h, "POST", path, body, timeout_ms + REMOTE_SLACK_MS, &ans, err);
	if (rc == 0) {
		*exit_code = (int)json_integer_value(json_object_get(ans, "exit_code"));
		text = json_string_value(json_object_get(ans, "output"));
		*output = text != NULL ? xstrdup(text) : NULL;
	}
	json_decref(ans);
	json_decref(body);
	free(path);
	return rc;
}

/* HTTP and TCP checks connect to the enclave's address, which only the
 * agent's host reaches: the agent runs them. EXEC ones run here, through
 * exec (remote_exec above, by the reconciler's redacting wrapper). */
static void
remote_check(struct recon_host *hh, const struct health_check *c, health_exec_fn exec,
             void *exec_arg, struct health_result *r)
{
	struct recon_host_remote *h = remote_of(hh);
	struct err err = ERR_INIT;
	json_t *body, *ans = NULL;
	int64_t start = now_mono_ms();

	if (c->kind == HEALTH_CHECK_EXEC) {
		health_check_run(c, exec, exec_arg, r);
		return;
	}
	body = json_pack("{s:s, s:s, s:i, s:s, s:I}", "kind",
	                 c->kind == HEALTH_CHECK_HTTP ? "http" : "tcp", "addr",
	                 c->addr != NULL ? c->addr : "", "port", c->port, "path",
	                 c->path != NULL ? c->path : "/", "timeout_ms", (json_int_t)c->timeout_ms);
	memset(r, 0, sizeof *r);
	r->wall_ms = now_wall_ms();
	if (remote_call(h, "POST", "/v1/check", body, c->timeout_ms + REMOTE_SLACK_MS, &ans, &err) <
	    0) {
		r->pass = 0;
		r->duration_ms = now_mono_ms() - start;
		snprintf(r->text, sizeof r->text, "%.*s", (int)sizeof r->text - 1, err.msg);
	} else {
		const char *text = json_string_value(json_object_get(ans, "text"));

		r->pass = json_is_true(json_object_get(ans, "pass"));
		r->duration_ms = json_integer_value(json_object_get(ans, "duration_ms"));
		snprintf(r->text, sizeof r->text, "%s", text != NULL ? text : "");
	}
	json_decref(ans);
	json_decref(body);
}

static void
remote_release(struct recon_host *hh, struct enclave *e)
{
	(void)hh;
	enclave_free(e);
}

static int
remote_gpus(struct recon_host *hh)
{
	return remote_of(hh)->gpus;
}

static int
remote_router_status(struct recon_host *hh, int64_t *generation, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	json_t *ans = NULL;
	int rc = remote_call(h, "GET", "/v1/router/status", NULL, h->timeout_ms, &ans, err);

	if (rc == 0)
		*generation = json_integer_value(json_object_get(ans, "generation"));
	json_decref(ans);
	return rc;
}

static int
remote_router_push_table(struct recon_host *hh, const json_t *table, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);

	return remote_call(h, "PUT", "/v1/router/table", table, h->timeout_ms, NULL, err);
}

static int
remote_router_set_route(struct recon_host *hh, const char *host, const json_t *route,
                        struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	char *path = xasprintf("/v1/router/routes/%s", host);
	int rc = remote_call(h, "PUT", path, route, h->timeout_ms, NULL, err);

	free(path);
	return rc;
}

static int
remote_router_delete_route(struct recon_host *hh, const char *host, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	char *path = xasprintf("/v1/router/routes/%s", host);
	int rc = remote_call(h, "DELETE", path, NULL, h->timeout_ms, NULL, err);

	free(path);
	return rc;
}

static int
remote_router_counters(struct recon_host *hh, json_t **out, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);

	return remote_call(h, "GET", "/v1/router/counters", NULL, h->timeout_ms, out, err);
}

static int
remote_router_spawn(struct recon_host *hh, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);

	return remote_call(h, "POST", "/v1/router/spawn", NULL, h->timeout_ms, NULL, err);
}

/* The router_peer of an agent's info into cap (empty when it says none or
 * one that does not fit). */
static void
remote_router_peer(const json_t *info, struct recon_host_capacity *cap)
{
	const char *peer = json_string_value(json_object_get(info, "router_peer"));

	cap->router_peer[0] = '\0';
	if (peer != NULL && strlen(peer) < sizeof cap->router_peer)
		snprintf(cap->router_peer, sizeof cap->router_peer, "%s", peer);
}

static int
remote_info(struct recon_host *hh, char **host_id, struct recon_host_capacity *cap, struct err *err)
{
	struct recon_host_remote *h = remote_of(hh);
	json_t *info = NULL;
	const char *id;
	int rc;

	*host_id = NULL;
	if ((rc = remote_call(h, "GET", "/v1/info", NULL, h->timeout_ms, &info, err)) < 0)
		return rc;
	id = json_string_value(json_object_get(info, "host_id"));
	if (id == NULL || *id == '\0') {
		json_decref(info);
		return err_make(err, 0, "agent %s: its info has no host_id", h->url);
	}
	*host_id = xstrdup(id);
	cap->cpus = json_integer_value(json_object_get(info, "cpus"));
	cap->memory_bytes = json_integer_value(json_object_get(info, "memory_bytes"));
	cap->gpus = (int)json_integer_value(json_object_get(info, "gpus"));
	remote_router_peer(info, cap);
	json_decref(info);
	return 0;
}

static const struct recon_host_ops remote_ops = {
    .boot = remote_boot,
    .adopt = remote_adopt,
    .destroy = remote_destroy,
    .keep_logs = remote_keep_logs,
    .drop_logs = remote_drop_logs,
    .drop_volumes = remote_drop_volumes,
    .list = remote_list,
    .exec = remote_exec,
    .check = remote_check,
    .release = remote_release,
    .gpus = remote_gpus,
    .info = remote_info,
    .router_status = remote_router_status,
    .router_push_table = remote_router_push_table,
    .router_set_route = remote_router_set_route,
    .router_delete_route = remote_router_delete_route,
    .router_counters = remote_router_counters,
    .router_spawn = remote_router_spawn,
};

int
recon_host_token_read(const char *path, char **out, struct err *err)
{
	char *text = NULL;
	size_t len = 0, start = 0;

	*out = NULL;
	if (file_read_all(path, 4096, &text, &len, err) < 0)
		return err_wrap(err, "host token file");
	while (start < len && strchr(" \t\r\n", text[start]) != NULL)
		start++;
	while (len > start && strchr(" \t\r\n", text[len - 1]) != NULL)
		len--;
	if (len - start < 16) {
		sodium_memzero(text, len);
		free(text);
		return err_make(
		    err, 0, "host token file %s: the token is shorter than 16 characters", path);
	}
	*out = xstrndup(text + start, len - start);
	sodium_memzero(text, len);
	free(text);
	return 0;
}

int
recon_host_remote_new(const struct recon_host_remote_settings *s, const _Atomic int *stopping,
                      struct recon_host **out, struct err *err)
{
	struct recon_host_remote *h;
	struct err ierr = ERR_INIT;
	json_t *info = NULL;
	char *token = NULL;
	size_t len;

	*out = NULL;
	if (strncmp(s->url, "http://", 7) != 0)
		return err_make(err, 0, "--agent: \"%s\" is not an http:// URL", s->url);
	if (recon_host_token_read(s->token_file, &token, err) < 0)
		return -1;
	h = xcalloc(1, sizeof *h);
	h->base.ops = &remote_ops;
	h->url = xstrdup(s->url);
	len = strlen(h->url);
	while (len > 0 && h->url[len - 1] == '/')
		h->url[--len] = '\0';
	h->auth_header = xasprintf("Authorization: Bearer %s", token);
	sodium_memzero(token, strlen(token));
	free(token);
	h->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 5000;
	h->stopping = stopping;
	if (remote_call(h, "GET", "/v1/info", NULL, h->timeout_ms, &info, &ierr) < 0) {
		log_warn("%s (counted as 0 GPUs)", ierr.msg);
	} else {
		const char *id = json_string_value(json_object_get(info, "host_id"));

		h->gpus = (int)json_integer_value(json_object_get(info, "gpus"));
		h->host_id = id != NULL && *id != '\0' ? xstrdup(id) : NULL;
		h->cap.cpus = json_integer_value(json_object_get(info, "cpus"));
		h->cap.memory_bytes = json_integer_value(json_object_get(info, "memory_bytes"));
		h->cap.gpus = h->gpus;
		remote_router_peer(info, &h->cap);
		log_info("host agent %s: host %s, %d GPU%s", h->url,
		         json_string_value(json_object_get(info, "host_id")), h->gpus,
		         h->gpus == 1 ? "" : "s");
	}
	json_decref(info);
	*out = &h->base;
	return 0;
}

int
recon_host_remote_info(struct recon_host *hh, const char **host_id, struct recon_host_capacity *cap)
{
	struct recon_host_remote *h = remote_of(hh);

	*host_id = h->host_id;
	*cap = h->cap;
	return h->host_id != NULL ? 0 : -1;
}

const char *
recon_host_remote_router_peer(struct recon_host *hh)
{
	struct recon_host_remote *h = remote_of(hh);

	return h->cap.router_peer[0] != '\0' ? h->cap.router_peer : NULL;
}

void
recon_host_remote_free(struct recon_host *hh)
{
	struct recon_host_remote *h;

	if (hh == NULL)
		return;
	h = remote_of(hh);
	free(h->url);
	free(h->host_id);
	sodium_memzero(h->auth_header, strlen(h->auth_header));
	free(h->auth_header);
	free(h);
}
