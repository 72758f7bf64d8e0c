/* The agents' endpoints (authenticated by the host token, not a tenant's):
 * POST /api/v1/agent/register and POST /api/v1/agent/heartbeat; and the
 * admin's GET /api/v1/hosts. */
#include "api/api-agent.h"

#include <event2/event.h>
#include <event2/http.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-common.h"
#include "api/api-routes.h"
#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "recon/recon-host.h"
#include "recon/recon.h"
#include "store/store.h"
#include "daemon/daemon.h"

#define API_HOSTS_MAX 1024

struct api_host {
	char *id;        /* owned */
	char *url;       /* owned */
	json_t *info;    /* owned: what it registered (cpus, memory_bytes, gpus, isolation) */
	int64_t seen_ms; /* monotonic: its last registration or heartbeat */
	int64_t seen_wall_ms;
	int lost; /* the reconciler was told it is lost (api_hosts_watch) */
};

struct api_hosts {
	char *token; /* owned, wiped */
	int64_t timeout_ms;
	char **expected_urls; /* owned strv or NULL */
	struct api_host *v;   /* owned array */
	size_t n;
	struct recon *recon; /* borrowed, or NULL before api_hosts_watch */
	struct event *watch; /* owned, or NULL: the lost hosts' timer */
};

/* How often the watch looks for hosts silent past the timeout. */
#define API_HOSTS_WATCH_MS 500

struct api_hosts *
api_hosts_new(const char *token, int64_t timeout_ms, char *const *expected_urls)
{
	struct api_hosts *hs = xcalloc(1, sizeof *hs);

	hs->token = xstrdup(token);
	hs->timeout_ms = timeout_ms;
	for (size_t i = 0; expected_urls != NULL && expected_urls[i] != NULL; i++)
		hs->expected_urls = strv_push(hs->expected_urls, expected_urls[i]);
	return hs;
}

void
api_hosts_free(struct api_hosts *hs)
{
	if (hs == NULL)
		return;
	if (hs->watch != NULL)
		event_free(hs->watch);
	for (size_t i = 0; i < hs->n; i++) {
		free(hs->v[i].id);
		free(hs->v[i].url);
		json_decref(hs->v[i].info);
	}
	free(hs->v);
	sodium_memzero(hs->token, strlen(hs->token));
	free(hs->token);
	strv_free(hs->expected_urls);
	free(hs);
}

/* The registry when r carries the host token (compared in constant time);
 * otherwise answers 401 (404 when berthd takes no agents) and NULL. */
static struct api_hosts *
agent_authorized(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	const char *h =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	size_t n;

	if (d->hosts == NULL) {
		api_reply_error(r, 404, "not_found",
		                "this berthd takes no agents (it has no --agent-token-file)");
		return NULL;
	}
	n = strlen(d->hosts->token);
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		if (strlen(h) == n && sodium_memcmp(h, d->hosts->token, n) == 0)
			return d->hosts;
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate", "Bearer");
	api_reply_error(r, 401, "unauthorized", "the host token is missing or not valid");
	return NULL;
}

/* Host h heartbeat or registered: back, when the reconciler had it lost. */
static void
host_seen(struct api_hosts *hs, struct api_host *h)
{
	h->seen_ms = now_mono_ms();
	h->seen_wall_ms = now_wall_ms();
	if (h->lost && hs->recon != NULL) {
		log_info("host %s: heard from again", h->id);
		recon_host_set_lost(hs->recon, h->id, NULL);
	}
	h->lost = 0;
}

/* The watch's pass: each registered host silent past the timeout is lost
 * for the reconciler, once, with the sentence its events quote. */
static void
hosts_on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct api_hosts *hs = arg;
	int64_t now = now_mono_ms();

	(void)fd;
	(void)what;
	for (size_t i = 0; i < hs->n; i++) {
		struct api_host *h = &hs->v[i];
		char *why;

		if (h->lost || now - h->seen_ms <= hs->timeout_ms)
			continue;
		h->lost = 1;
		why = xasprintf("host %s lost (no heartbeat for %lld s)", h->id,
		                (long long)((now - h->seen_ms) / 1000));
		recon_host_set_lost(hs->recon, h->id, why);
		free(why);
	}
}

void
api_hosts_watch(struct api_hosts *hs, struct event_base *base, struct recon *recon)
{
	struct timeval tv = {0, API_HOSTS_WATCH_MS * 1000};

	if (hs->watch != NULL)
		return; /* watching already */
	hs->recon = recon;
	hs->watch = event_new(base, -1, EV_PERSIST, hosts_on_watch, hs);
	event_add(hs->watch, &tv);
}

static struct api_host *
host_find(struct api_hosts *hs, const char *id)
{
	for (size_t i = 0; i < hs->n; i++)
		if (strcmp(hs->v[i].id, id) == 0)
			return &hs->v[i];
	return NULL;
}

static int
host_id_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n <= 63 && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static void
agent_register(struct api_req *r)
{
	struct api_hosts *hs = agent_authorized(r);
	json_t *body, *iso, *v;
	const char *id, *url;
	struct api_host *h;
	size_t i;

	if (hs == NULL || (body = api_req_json(r)) == NULL)
		return;
	id = json_string_value(json_object_get(body, "host_id"));
	url = json_string_value(json_object_get(body, "url"));
	iso = json_object_get(body, "isolation");
	if (!host_id_ok(id)) {
		api_reply_error(r, 400, "invalid",
		                "host_id must be 1 to 63 letters, digits, '-', '_' or '.'");
		goto out;
	}
	if (url == NULL || strncmp(url, "http://", 7) != 0 || strlen(url) > 512) {
		api_reply_error(r, 400, "invalid", "url must be the agent's http:// URL");
		goto out;
	}
	if (!json_is_integer(json_object_get(body, "cpus")) ||
	    !json_is_integer(json_object_get(body, "memory_bytes")) ||
	    !json_is_integer(json_object_get(body, "gpus")) || !json_is_array(iso)) {
		api_reply_error(r, 400, "invalid",
		                "cpus, memory_bytes and gpus must be integers, isolation an array");
		goto out;
	}
	json_array_foreach(iso, i, v)
	{
		if (!json_is_string(v)) {
			api_reply_error(r, 400, "invalid", "isolation must list level names");
			goto out;
		}
	}
	h = host_find(hs, id);
	if (h == NULL) {
		if (hs->n >= API_HOSTS_MAX) {
			api_reply_error(r, 409, "conflict", "%d hosts are registered already",
			                API_HOSTS_MAX);
			goto out;
		}
		hs->v = xreallocarray(hs->v, hs->n + 1, sizeof *hs->v);
		h = &hs->v[hs->n++];
		memset(h, 0, sizeof *h);
		h->id = xstrdup(id);
	}
	free(h->url);
	h->url = xstrdup(url);
	json_decref(h->info);
	h->info = json_pack("{s:O, s:O, s:O, s:O}", "cpus", json_object_get(body, "cpus"),
	                    "memory_bytes", json_object_get(body, "memory_bytes"), "gpus",
	                    json_object_get(body, "gpus"), "isolation", iso);
	host_seen(hs, h);
	api_reply_json(
	    r, 200,
	    json_pack("{s:s, s:I}", "host_id", id, "host_timeout_ms", (json_int_t)hs->timeout_ms));
out:
	json_decref(body);
}

static void
agent_heartbeat(struct api_req *r)
{
	struct api_hosts *hs = agent_authorized(r);
	struct api_host *h;
	json_t *body;
	const char *id;

	if (hs == NULL || (body = api_req_json(r)) == NULL)
		return;
	id = json_string_value(json_object_get(body, "host_id"));
	h = id != NULL ? host_find(hs, id) : NULL;
	if (h == NULL) {
		api_reply_error(r, 404, "not_found", "host %s is not registered: register first",
		                id != NULL ? id : "(none)");
	} else {
		host_seen(hs, h);
		api_reply_json(r, 200, json_pack("{s:s}", "host_id", h->id));
	}
	json_decref(body);
}

/* What the live enclaves of host host_id take (those whose row names it;
 * host_gpus its GPUs, for a config's "all"): {enclaves, cpus, memory_bytes,
 * gpus} from their deployments' configs. */
static json_t *
hosts_allocated(struct berthd *d, const char *host_id, int host_gpus)
{
	size_t count = 0;
	struct store_enclave *live = NULL;
	struct err err = ERR_INIT;
	int64_t cpus = 0, memory = 0, gpus = 0;
	size_t n = 0;

	if (store_enclave_list_live(d->store, &live, &n, &err) < 0)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_deployment dep = {0};
		struct config_errors errs = {0};
		struct config *cfg = NULL;

		/* A placement refused is no enclave anywhere. */
		if (live[i].host_id == NULL || strcmp(live[i].host_id, host_id) != 0 ||
		    (live[i].state == ENCLAVE_FAILED && live[i].address == NULL))
			continue;
		count++;
		if (store_deployment_get(d->store, live[i].deployment_id, &dep, &err) == 0 &&
		    config_parse("config", dep.config, strlen(dep.config), &cfg, &errs) == 0) {
			cpus += cfg->cpus > 0 ? cfg->cpus : 0;
			memory += cfg->memory_mib > 0 ? cfg->memory_mib << 20 : 0;
			gpus += config_gpus_required(cfg, host_gpus);
		}
		config_errors_free(&errs);
		config_free(cfg);
		store_deployment_clear(&dep);
		err_clear(&err);
	}
	store_enclave_list_free(live, n);
	return json_pack("{s:i, s:I, s:I, s:I}", "enclaves", (int)count, "cpus", (json_int_t)cpus,
	                 "memory_bytes", (json_int_t)memory, "gpus", (json_int_t)gpus);
}

/* GET /api/v1/hosts (API.md): [{name, status, capacity, allocated,
 * last_seen, url}]: "ready" while it heartbeats, "lost" once silent past the
 * host timeout, or before it ever registered (last_seen null). */
static void
hosts_list(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	struct api_hosts *hs = d->hosts;
	json_t *a = json_array();
	int64_t now = now_mono_ms();

	if (!r->who.admin) {
		api_reply_error(r, 403, "forbidden", "only an admin token may list hosts");
		json_decref(a);
		return;
	}
	for (size_t i = 0; hs != NULL && i < hs->n; i++) {
		struct api_host *h = &hs->v[i];
		int gpus = (int)json_integer_value(json_object_get(h->info, "gpus"));
		char when[32];

		time_rfc3339(h->seen_wall_ms, when);
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:O, s:o, s:s, s:s}", "name", h->id, "status",
		                 now - h->seen_ms > hs->timeout_ms ? "lost" : "ready", "capacity",
		                 h->info, "allocated", hosts_allocated(d, h->id, gpus), "last_seen",
		                 when, "url", h->url));
	}
	/* The --agent hosts that never registered (with this berthd). */
	for (size_t j = 0; hs != NULL && hs->expected_urls != NULL && hs->expected_urls[j]; j++) {
		int seen = 0;

		for (size_t i = 0; i < hs->n; i++)
			seen |= strcmp(hs->expected_urls[j], hs->v[i].url) == 0;
		if (!seen)
			json_array_append_new(a, json_pack("{s:n, s:s, s:n, s:{s:i}, s:n, s:s}",
			                                   "name", "status", "lost", "capacity",
			                                   "allocated", "enclaves", 0, "last_seen",
			                                   "url", hs->expected_urls[j]));
	}
	api_reply_json(r, 200, a);
}

const struct api_route api_routes_agent[] = {
    {.method = API_POST,
     .pattern = "/api/v1/agent/register",
     .handler = agent_register,
     .flags = API_PUBLIC},
    {.method = API_POST,
     .pattern = "/api/v1/agent/heartbeat",
     .handler = agent_heartbeat,
     .flags = API_PUBLIC},
    {.method = API_GET, .pattern = "/api/v1/hosts", .handler = hosts_list},
    {0},
};
