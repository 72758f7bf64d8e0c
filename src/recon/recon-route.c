/* recon-route: berth-router as berthd sees it. The route of a container is
 * derived from the store alone (recon_route_desired), pushed when it differs
 * from what the router was last given, and the whole table is pushed when
 * the router (re)appears. berthd starts the router when nobody answers on
 * its admin socket, detached, so that it keeps serving across berthd's own
 * restarts. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "model/model.h"
#include "recon/recon-int.h"
#include "router/router_client.h"
#include "store/store.h"
#include "tls/certs.h"

#define ROUTER_CHECK_MS   1000
#define ROUTER_START_WAIT 5000

/* The host of c, or with debug its debug host. Caller frees; NULL when the
 * org cannot be read. */
static char *
recon_host(struct recon *r, const struct store_container *c, int debug)
{
	struct store_org org = {0};
	struct err err = ERR_INIT;
	char *host;

	if (store_org_get(r->env.store, c->org_id, &org, &err) < 0) {
		log_error("org of %s: %s", c->name, err.msg);
		return NULL;
	}
	host = xasprintf("%s.%s.%s%s", c->name, org.name, debug ? "debug." : "",
	                 r->env.settings.domain);
	store_org_clear(&org);
	for (char *p = host; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return host;
}

char *
recon_route_host(struct recon *r, const struct store_container *c)
{
	return recon_host(r, c, 0);
}

/* The live enclave row of deployment id of container cid with an address
 * that passed its gate, or NULL. */
static int
recon_serving_address(struct recon *r, const char *cid, const char *deployment_id, char **address,
                      char **keys)
{
	struct store_enclave *v = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;

	*address = NULL;
	*keys = NULL;
	if (store_enclave_list(r->env.store, cid, &v, &n, &err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].deployment_id, deployment_id) == 0 && v[i].address != NULL &&
		    (v[i].state == ENCLAVE_HEALTHY || v[i].state == ENCLAVE_UNHEALTHY)) {
			free(*address);
			free(*keys);
			*address = xstrdup(v[i].address);
			*keys = v[i].attested_keys != NULL ? xstrdup(v[i].attested_keys) : NULL;
		}
	store_enclave_list_free(v, n);
	return 0;
}

static json_t *recon_deployment_facts(struct recon *r, const struct store_container *c,
                                      const struct store_deployment *d);

/* The public parts of an enclave's attested keys (its row's JSON, or NULL)
 * into facts as "attested_keys", when it has any: each boot of a deployment
 * makes new ones, so they come with the enclave, not the deployment. */
static void
facts_add_keys(json_t *facts, const char *keys)
{
	json_t *k = keys != NULL && json_is_object(facts) ? json_loads(keys, 0, NULL) : NULL;

	if (json_array_size(k) > 0)
		json_object_set(facts, "attested_keys", k);
	json_decref(k);
}

/* The facts of deployment d of c that its attestation document states
 * (docs/verification.md); the router (or the local socket) adds the nonce,
 * the time, the host key and the signature. */
json_t *
recon_attest_facts(struct recon *r, const struct store_container *c,
                   const struct store_deployment *d, const char *keys)
{
	json_t *facts = recon_deployment_facts(r, c, d);

	facts_add_keys(facts, keys);
	return facts;
}

/* The facts of deployment d alone, the same for each of its enclaves. */
static json_t *
recon_deployment_facts(struct recon *r, const struct store_container *c,
                       const struct store_deployment *d)
{
	const char *iso = d->isolation != NULL ? d->isolation : "runc";
	const char *rt = strcmp(iso, "gvisor") == 0 ? r->env.settings.runtime_gvisor
	                                            : r->env.settings.runtime_runc;
	json_t *images = json_loads(d->images_json != NULL ? d->images_json : "[]", 0, NULL);

	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:o, s:b, s:s, s:{s:s?}}",
	                 "measurement", d->measurement, "deployment", d->id, "repo", c->source_repo,
	                 "tag", d->tag, "commit", d->commit[0] ? d->commit : NULL, "config_sha256",
	                 d->config_sha256, "images", images != NULL ? images : json_array(),
	                 "debug", d->debug, "isolation", iso, "runtime", iso, rt);
}

/* The route object of c, without its host; NULL when c has no route. */
static json_t *
recon_route_object(struct recon *r, const struct store_container *c)
{
	struct store_update u = {0};
	struct store_deployment d = {0};
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const char *mode = "down", *serving = c->deployment_id;
	struct recon_ctr *ctr;
	char *address = NULL, *keys = NULL;
	json_t *route = NULL, *ups = json_array(), *paths = json_null(), *attest = NULL;
	int active;

	if (c->deleted_at != 0)
		goto out;
	active = store_update_latest(r->env.store, c->id, &u, &err) == 0 && !u.state.finished;
	if (active && u.state.switched)
		serving = u.to_deployment_id;
	if (active && u.state.strategy == STRATEGY_RECREATE && !u.state.switched) {
		/* The gap of a recreate: requests wait for the new version. */
		mode = "hold";
		serving = u.to_deployment_id;
	} else if (recon_serving_address(r, c->id, serving, &address, &keys) == 0 &&
	           address != NULL) {
		mode = "serve";
		json_array_append_new(ups, json_string(address));
	}
	/* A deployment never changes: what its config says of routing is
	 * parsed once per container and deployment, not at every step. */
	ctr = recon_ctr_get(r, c->id);
	if (strcmp(ctr->route_cfg_id, serving) != 0) {
		json_decref(ctr->route_paths);
		ctr->route_paths = json_null();
		json_decref(ctr->route_attest);
		ctr->route_attest = json_null();
		ctr->route_drain_ms = ctr->route_hold_ms = 30000;
		ctr->route_restarts = 0;
		if (store_deployment_get(r->env.store, serving, &d, &err) == 0)
			cfg = recon_config_of(&d);
		if (cfg != NULL) {
			json_decref(ctr->route_attest);
			ctr->route_attest = recon_deployment_facts(r, c, &d);
		}
		if (cfg != NULL && cfg->shim.paths != NULL) {
			json_decref(ctr->route_paths);
			ctr->route_paths = json_array();
			for (size_t i = 0; cfg->shim.paths[i] != NULL; i++)
				json_array_append_new(ctr->route_paths,
				                      json_string(cfg->shim.paths[i]));
		}
		if (cfg != NULL) {
			ctr->route_drain_ms = cfg->deploy.drain_timeout_ms;
			ctr->route_hold_ms = cfg->deploy.hold_timeout_ms;
			ctr->route_restarts = recon_restart_rule(cfg).policy != RESTART_NO;
			snprintf(ctr->route_cfg_id, sizeof ctr->route_cfg_id, "%s", serving);
		}
	}
	/* Running with nothing serving and a config that restarts: a restart
	 * is decided or under way, requests wait for the enclave brought back. */
	if (!active && strcmp(mode, "down") == 0 && c->status == CONTAINER_RUNNING &&
	    (ctr->route_restarts || recon_restart_holds(c)))
		mode = "hold";
	json_decref(paths);
	paths = json_incref(ctr->route_paths);
	/* The deployment's facts, and the attested keys of the enclave that
	 * serves it now. */
	attest = json_is_object(ctr->route_attest) ? json_copy(ctr->route_attest) : json_null();
	facts_add_keys(attest, keys);
	/* hold_refused: a request the enclave's address refuses (it died, and
	 * berthd has not seen it yet) waits for the table that follows. */
	route =
	    json_pack("{s:s,s:O,s:O,s:I,s:I,s:b,s:O}", "mode", mode, "upstreams", ups, "paths",
	              paths, "drain_timeout_ms", (json_int_t)ctr->route_drain_ms, "hold_timeout_ms",
	              (json_int_t)ctr->route_hold_ms, "hold_refused", 1, "attestation", attest);
out:
	json_decref(attest);
	free(keys);
	json_decref(ups);
	json_decref(paths);
	free(address);
	config_free(cfg);
	store_deployment_clear(&d);
	store_update_clear(&u);
	return route;
}

/* Every host of c with its route, null for a host that must have none: the
 * container's host, and its debug host (<name>.<org>.debug.<domain>), which
 * a debug container has with every path allowed. NULL when the org is gone. */
static json_t *
recon_routes_of(struct recon *r, const struct store_container *c)
{
	char *host = recon_host(r, c, 0), *debug_host = recon_host(r, c, 1);
	json_t *route = recon_route_object(r, c), *debug = NULL, *all = NULL;

	if (host == NULL || debug_host == NULL)
		goto out;
	if (route != NULL && c->debug) {
		debug = json_deep_copy(route);
		json_object_set_new(debug, "paths", json_null());
	}
	all = json_object();
	json_object_set(all, host, route != NULL ? route : json_null());
	json_object_set(all, debug_host, debug != NULL ? debug : json_null());
out:
	json_decref(route);
	json_decref(debug);
	free(host);
	free(debug_host);
	return all;
}

static char *
recon_json_text(const json_t *j)
{
	return j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("null");
}

char *
recon_route_desired(struct recon *r, const struct store_container *c)
{
	json_t *routes = recon_routes_of(r, c);
	char *text = recon_json_text(routes);

	json_decref(routes);
	return text;
}

/* ---- pushing one route ---- */

/* Makes sure host has a certificate for the router (none when TLS is off).
 * Blocking: a worker thread's, or start-up's. */
static int
recon_route_cert(struct recon *r, const char *host, struct err *err)
{
	int issued = 0;

	if (r->env.certs == NULL || r->env.certs_background)
		return 0;
	if (certs_ensure(r->env.certs, host, &issued, err) < 0)
		return -1;
	if (issued)
		log_info("certificate of %s issued", host);
	return 0;
}

struct push_job {
	struct recon_job hdr;
	store_id container_id;
	char *host;  /* owned */
	char *route; /* owned JSON text, "null" to delete */
	int rc;
	struct err err;
};

static void
push_job_free(struct recon_job *hdr)
{
	struct push_job *job = (struct push_job *)hdr;

	free(job->host);
	free(job->route);
	free(job);
}

/* Sets (or, for null, removes) the route of every host in job->route. */
static void
push_work(void *arg)
{
	struct push_job *job = arg;
	struct recon_host *h = recon_host_of(job->hdr.r);
	json_t *routes = json_loads(job->route, 0, NULL), *route;
	const char *host;

	job->rc = 0;
	json_object_foreach(routes, host, route)
	{
		if (json_is_null(route)) {
			job->rc = h->ops->router_delete_route(h, host, &job->err);
			/* A route the router never had is as good as deleted. */
			if (job->rc == ROUTER_CLIENT_ENOTFOUND) {
				err_clear(&job->err);
				job->rc = 0;
			}
		} else {
			/* The certificate before the route: the router loads it
			 * when the route comes. One that fails leaves HTTPS
			 * refusing the name, never plain HTTP without a route. */
			if (recon_route_cert(job->hdr.r, host, &job->err) < 0) {
				log_warn("route of %s: %s", host, job->err.msg);
				err_clear(&job->err);
			}
			job->rc = h->ops->router_set_route(h, host, route, &job->err);
		}
		if (job->rc < 0)
			break;
	}
	json_decref(routes);
}

static void
push_done(void *arg)
{
	struct push_job *job = arg;
	struct recon *r = job->hdr.r;
	struct recon_ctr *ctr;

	if ((ctr = recon_job_done_ctr(&job->hdr, job->container_id)) == NULL)
		goto out;
	if (job->rc < 0) {
		log_warn("route of %s: %s", job->host, job->err.msg);
		ctr->retry_at_ms = now_mono_ms() + 500;
		r->router.next_check_ms = 0; /* look at the router now */
		goto out;
	}
	log_debug("route of %s: %s", job->host, job->route);
	free(ctr->route_pushed);
	ctr->route_pushed = take_ptr(&job->route);
	r->routes_moved++;
	recon_crashpoint(r, "routed");
	recon_kick(r, ctr->id);
out:
	push_job_free(&job->hdr);
}

void
recon_route_push(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
                 char *route)
{
	struct push_job *job = xcalloc(1, sizeof *job);

	job->hdr.free = push_job_free;
	snprintf(job->container_id, sizeof job->container_id, "%s", c->id);
	job->host = recon_route_host(r, c);
	job->route = route;
	if (job->host == NULL) {
		ctr->retry_at_ms = now_mono_ms() + 1000;
		push_job_free(&job->hdr);
		return;
	}
	ctr->busy = 1;
	recon_job_submit(r, &job->hdr, push_work, push_done);
}

/* ---- drains ---- */

struct drain_job {
	struct recon_job hdr;
	store_id container_id;
	char *address; /* owned */
	int drained;
};

static void
drain_job_free(struct recon_job *hdr)
{
	struct drain_job *job = (struct drain_job *)hdr;

	free(job->address);
	free(job);
}

static void
drain_work(void *arg)
{
	struct drain_job *job = arg;
	struct recon_host *host = recon_host_of(job->hdr.r);
	struct err err = ERR_INIT;
	json_t *counters = NULL, *ups, *v;
	size_t i;

	/* Unreachable router: not drained; the deadline decides. */
	if (host->ops->router_counters(host, &counters, &err) < 0)
		return;
	job->drained = 1;
	ups = json_object_get(counters, "upstreams");
	json_array_foreach(ups, i, v)
	{
		const char *addr = json_string_value(json_object_get(v, "address"));
		const char *state = json_string_value(json_object_get(v, "state"));

		if (addr == NULL || strcmp(addr, job->address) != 0)
			continue;
		if ((state != NULL && strcmp(state, "active") == 0) ||
		    json_integer_value(json_object_get(v, "in_flight")) > 0)
			job->drained = 0;
	}
	json_decref(counters);
}

static void
drain_done(void *arg)
{
	struct drain_job *job = arg;
	struct recon *r = job->hdr.r;
	struct recon_ctr *ctr;

	if ((ctr = recon_job_done_ctr(&job->hdr, job->container_id)) != NULL) {
		ctr->drained = job->drained;
		if (job->drained)
			recon_kick(r, ctr->id);
		else
			ctr->retry_at_ms = now_mono_ms() + 100;
	}
	drain_job_free(&job->hdr);
}

void
recon_route_poll_drain(struct recon *r, struct recon_ctr *ctr, const char *address)
{
	struct drain_job *job = xcalloc(1, sizeof *job);

	job->hdr.free = drain_job_free;
	snprintf(job->container_id, sizeof job->container_id, "%s", ctr->id);
	job->address = xstrdup(address);
	ctr->busy = 1;
	recon_job_submit(r, &job->hdr, drain_work, drain_done);
}

/* ---- the router's liveness, start and full table ---- */

/* The full table from the store; ids and texts (strv, same order) let the
 * caller remember what each container was given. */
static json_t *
recon_full_table(struct recon *r, int64_t generation, char ***ids, char ***texts)
{
	struct store_container *v = NULL;
	struct err err = ERR_INIT;
	json_t *routes = json_array();
	size_t n = 0;

	*ids = NULL;
	*texts = NULL;
	if (store_container_list(r->env.store, NULL, &v, &n, &err) < 0)
		log_error("router table: %s", err.msg);
	for (size_t i = 0; i < n; i++) {
		json_t *all = recon_routes_of(r, &v[i]), *route;
		char *text = recon_json_text(all);
		const char *host;

		*ids = strv_push(*ids, v[i].id);
		*texts = strv_push(*texts, text);
		json_object_foreach(all, host, route)
		{
			if (json_is_null(route))
				continue;
			route = json_deep_copy(route);
			json_object_set_new(route, "host", json_string(host));
			json_array_append_new(routes, route);
		}
		json_decref(all);
		free(text);
	}
	store_container_list_free(v, n);
	return json_pack("{s:I,s:o}", "generation", (json_int_t)generation, "routes", routes);
}

/* Makes sure every host of a full table has its certificate before the
 * table goes to the router. Blocking: a worker thread's, or start-up's. A
 * host whose certificate fails is logged; its route goes anyway (plain HTTP
 * serves it, HTTPS refuses its name). */
static void
recon_table_certs(struct recon *r, const json_t *table)
{
	struct err err = ERR_INIT;
	const json_t *route;
	size_t i;

	json_array_foreach(json_object_get(table, "routes"), i, route)
	{
		const char *host = json_string_value(json_object_get(route, "host"));

		if (host != NULL && recon_route_cert(r, host, &err) < 0) {
			log_error("router table: %s", err.msg);
			err_clear(&err);
		}
	}
}

static int
recon_router_alive(struct recon *r)
{
	struct recon_host *host = recon_host_of(r);
	struct err err = ERR_INIT;
	int64_t generation;

	return host->ops->router_status(host, &generation, &err) == 0;
}

/* Remembers what each container's route now is at the router. */
static void
recon_router_remember(struct recon *r, char **ids, char **texts)
{
	for (size_t i = 0; ids != NULL && ids[i] != NULL; i++) {
		struct recon_ctr *ctr = recon_ctr_get(r, ids[i]);

		free(ctr->route_pushed);
		ctr->route_pushed = xstrdup(texts[i]);
		r->routes_moved++;
	}
}

/* At start-up, before the API serves: find or start the router and give it
 * the whole table. Blocking, once. */
static void
recon_router_start_sync(struct recon *r)
{
	struct recon_host *host = recon_host_of(r);
	struct err err = ERR_INIT;
	char **ids, **texts;
	json_t *table;

	if (!recon_router_alive(r)) {
		if (host->ops->router_spawn(host, &err) < 0) {
			log_error("router: %s", err.msg);
			return;
		}
		for (int64_t end = now_mono_ms() + ROUTER_START_WAIT;
		     !recon_router_alive(r) && now_mono_ms() < end;)
			usleep(20000);
	}
	r->router.generation = now_wall_ms();
	table = recon_full_table(r, r->router.generation, &ids, &texts);
	recon_table_certs(r, table);
	if (host->ops->router_push_table(host, table, &err) < 0) {
		log_error("router: the table was refused: %s", err.msg);
	} else {
		r->router.up = 1;
		recon_router_remember(r, ids, texts);
		log_info("router: table of %zu routes pushed",
		         json_array_size(json_object_get(table, "routes")));
	}
	json_decref(table);
	strv_free(ids);
	strv_free(texts);
}

/* A liveness check of the router (table NULL), or a push of the full table
 * when the check found it gone, restarted or new. */
struct router_job {
	struct recon_job hdr;
	json_t *table; /* owned, or NULL for a check */
	char **ids, **texts;
	int alive;
	int64_t generation; /* what the router said it has */
	int spawned;
	int rc;
	struct err err;
};

static void
router_job_free(struct recon_job *hdr)
{
	struct router_job *job = (struct router_job *)hdr;

	json_decref(job->table);
	strv_free(job->ids);
	strv_free(job->texts);
	free(job);
}

static void
router_work(void *arg)
{
	struct router_job *job = arg;
	struct recon *r = job->hdr.r;
	struct recon_host *host = recon_host_of(r);

	if (job->table != NULL) {
		recon_table_certs(r, job->table);
		job->rc = host->ops->router_push_table(host, job->table, &job->err);
		return;
	}
	if (host->ops->router_status(host, &job->generation, &job->err) == 0) {
		job->alive = 1;
		return;
	}
	if (host->ops->router_spawn(host, &job->err) < 0)
		return;
	job->spawned = 1;
	for (int64_t end = now_mono_ms() + ROUTER_START_WAIT;
	     !recon_router_alive(r) && now_mono_ms() < end;)
		usleep(20000);
	job->alive = recon_router_alive(r);
}

static void
router_done(void *arg)
{
	struct router_job *job = arg, *push;
	struct recon *r = job->hdr.r;

	recon_job_done(&job->hdr);
	r->router.checking = 0;
	if (recon_stopping(r))
		goto out;
	if (job->table != NULL) {
		if (job->rc < 0) {
			log_error("router: the table was refused: %s", job->err.msg);
			goto out;
		}
		log_info("router: full table of generation %lld pushed",
		         (long long)r->router.generation);
		recon_router_remember(r, job->ids, job->texts);
		goto out;
	}
	if (!job->alive && r->router.up)
		log_warn("router: no answer%s%s", err_isset(&job->err) ? ": " : "", job->err.msg);
	r->router.up = job->alive;
	/* A router that restarted (or was started) lacks our table. */
	if (!job->alive || (!job->spawned && job->generation >= r->router.generation))
		goto out;
	if (job->spawned)
		log_warn("router: started again");
	else
		log_warn("router: it has an older table (generation %lld); pushing ours",
		         (long long)job->generation);
	push = xcalloc(1, sizeof *push);
	push->hdr.free = router_job_free;
	r->router.generation = now_wall_ms();
	push->table = recon_full_table(r, r->router.generation, &push->ids, &push->texts);
	r->router.checking = 1;
	recon_job_submit(r, &push->hdr, router_work, router_done);
out:
	router_job_free(&job->hdr);
}

void
recon_router_tick(struct recon *r)
{
	struct router_job *job;
	int64_t now = now_mono_ms();

	if (r->router.generation == 0) {
		recon_router_start_sync(r);
		r->router.next_check_ms = now + ROUTER_CHECK_MS;
		return;
	}
	if (r->router.checking || now < r->router.next_check_ms)
		return;
	r->router.next_check_ms = now + ROUTER_CHECK_MS;
	job = xcalloc(1, sizeof *job);
	job->hdr.free = router_job_free;
	r->router.checking = 1;
	recon_job_submit(r, &job->hdr, router_work, router_done);
}
