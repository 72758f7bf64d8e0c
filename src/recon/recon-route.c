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
 * that passed its gate, or NULL. *on becomes the index in r->hosts of the
 * host of deployment_id's newest row not stopped (the one that serves, or
 * the one coming up), and stays as it was when it has none or that host is
 * lost. */
static int
recon_serving_address(struct recon *r, const char *cid, const char *deployment_id, char **address,
                      char **keys, size_t *on)
{
	struct store_enclave *v = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;

	*address = NULL;
	*keys = NULL;
	if (store_enclave_list(r->env.store, cid, &v, &n, &err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct recon_hostent *h;

		if (strcmp(v[i].deployment_id, deployment_id) != 0 || v[i].state == ENCLAVE_STOPPED)
			continue;
		/* Not a lost host's router: it would refuse the push that the
		 * container's steps wait for (the others get a copy). */
		if ((h = recon_host_entry(r, v[i].host_id)) != NULL && h->lost == NULL)
			*on = (size_t)(h - r->hosts);
		if (v[i].address != NULL &&
		    (v[i].state == ENCLAVE_HEALTHY || v[i].state == ENCLAVE_UNHEALTHY)) {
			free(*address);
			free(*keys);
			*address = xstrdup(v[i].address);
			*keys = v[i].attested_keys != NULL ? xstrdup(v[i].attested_keys) : NULL;
		}
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

/* The route object of c, without its host; NULL when c has no route. *on
 * becomes the host whose router is to have it (recon_serving_address()). */
static json_t *
recon_route_object(struct recon *r, const struct store_container *c, size_t *on)
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

	ctr = recon_ctr_get(r, c->id);
	*on = ctr->route_on < r->n_hosts ? ctr->route_on : 0;
	/* Until a row names a host, not a lost one: its router would refuse
	 * the push that every step waits for. */
	for (size_t i = 0; r->hosts[*on].lost != NULL && i < r->n_hosts; i++)
		if (r->hosts[i].lost == NULL && !r->hosts[i].pending)
			*on = i;
	if (c->deleted_at != 0)
		goto out;
	active = store_update_latest(r->env.store, c->id, &u, &err) == 0 && !u.state.finished;
	if (active && u.state.switched)
		serving = u.to_deployment_id;
	if (active && u.state.strategy == STRATEGY_RECREATE && !u.state.switched) {
		/* The gap of a recreate: requests wait for the new version. */
		mode = "hold";
		serving = u.to_deployment_id;
		recon_serving_address(r, c->id, serving, &address, &keys, on);
		free(take_ptr(&address));
		free(take_ptr(&keys));
	} else if (recon_serving_address(r, c->id, serving, &address, &keys, on) == 0 &&
	           address != NULL) {
		mode = "serve";
		json_array_append_new(ups, json_string(address));
	}
	/* A deployment never changes: what its config says of routing is
	 * parsed once per container and deployment, not at every step. */
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
recon_routes_of(struct recon *r, const struct store_container *c, size_t *on)
{
	char *host = recon_host(r, c, 0), *debug_host = recon_host(r, c, 1);
	json_t *route = recon_route_object(r, c, on), *debug = NULL, *all = NULL;

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
recon_route_desired(struct recon *r, const struct store_container *c, size_t *on)
{
	json_t *routes = recon_routes_of(r, c, on);
	char *text = recon_json_text(routes);

	json_decref(routes);
	return text;
}

/* The "ip:port" other routers forward to for host hi, or NULL: none said,
 * or single-machine mode (one router, no forwarding). */
static const char *
recon_router_peer(struct recon *r, size_t hi)
{
	if (r->env.n_hosts == 0 || hi >= r->n_hosts || r->hosts[hi].pending ||
	    r->hosts[hi].cap.router_peer[0] == '\0')
		return NULL;
	return r->hosts[hi].cap.router_peer;
}

/* What router hi is to have of routes (recon_routes_of()) whose live
 * enclave runs on host on: the routes themselves there; elsewhere each
 * serving route forwards to on's router instead of the enclave (the same
 * paths, timeouts and attestation facts, "forward": true), a held or down
 * one is the same; every route null when on's router has no peer address.
 * A new reference. */
static json_t *
recon_routes_at(struct recon *r, json_t *routes, size_t on, size_t hi)
{
	const char *peer = recon_router_peer(r, on), *host;
	json_t *out, *route;

	if (hi == on)
		return json_incref(routes);
	out = json_object();
	json_object_foreach(routes, host, route)
	{
		json_t *fwd;
		const char *mode = json_string_value(json_object_get(route, "mode"));

		if (json_is_null(route) || peer == NULL) {
			json_object_set_new(out, host, json_null());
			continue;
		}
		fwd = json_deep_copy(route);
		if (mode != NULL && strcmp(mode, "serve") == 0) {
			json_object_set_new(fwd, "upstreams", json_pack("[s]", peer));
			json_object_set_new(fwd, "forward", json_true());
		}
		json_object_set_new(out, host, fwd);
	}
	return out;
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
	size_t on;   /* the host (in r->hosts) whose router gets it */
	size_t from; /* the host whose router had it: its routes go when not on */
	/* With agents, what every other router gets (recon_routes_at()): owned
	 * JSON texts, one per host, NULL for on and for a host not known yet. */
	char **others;
	unsigned char *failed; /* owned, one per host: an other router refused it */
	size_t n_hosts;
	int rc;
	struct err err;
};

static void
push_job_free(struct recon_job *hdr)
{
	struct push_job *job = (struct push_job *)hdr;

	free(job->host);
	free(job->route);
	for (size_t i = 0; job->others != NULL && i < job->n_hosts; i++)
		free(job->others[i]);
	free(job->others);
	free(job->failed);
	free(job);
}

/* Sets or removes each route of text at router h, as job->route's are at
 * the live host's router. 0, or negative with err. */
static int
push_routes_to(struct recon_host *h, const char *text, struct err *err)
{
	json_t *routes = json_loads(text, 0, NULL), *route;
	const char *host;
	int rc = 0;

	json_object_foreach(routes, host, route)
	{
		if (json_is_null(route)) {
			rc = h->ops->router_delete_route(h, host, err);
			if (rc == ROUTER_CLIENT_ENOTFOUND) {
				err_clear(err);
				rc = 0;
			}
		} else {
			rc = h->ops->router_set_route(h, host, route, err);
		}
		if (rc < 0)
			break;
	}
	json_decref(routes);
	return rc;
}

/* Every other router's copy (job->others), the former host's last: while
 * the others switch, it still serves from the old enclave what they
 * forwarded to it before. One that fails is marked, for its full table. */
static void
push_others(struct push_job *job)
{
	struct recon *r = job->hdr.r;

	for (size_t k = 0; k <= job->n_hosts; k++) {
		size_t i = k < job->n_hosts ? k : job->from;
		struct err err = ERR_INIT;

		if (i == job->on || job->others[i] == NULL || (k < job->n_hosts && i == job->from))
			continue;
		if (push_routes_to(r->hosts[i].host, job->others[i], &err) < 0) {
			log_warn("route of %s at host %s: %s", job->host,
			         r->hosts[i].id != NULL ? r->hosts[i].id : "?", err.msg);
			err_clear(&err);
			job->failed[i] = 1;
		}
	}
}

/* Sets (or, for null, removes) the route of every host name in job->route
 * at the router of host job->on; then, with agents, every other router's
 * copy (push_others()); without, when the route moved from another host's
 * router, removes it there afterwards (the new one serves first). */
static void
push_work(void *arg)
{
	struct push_job *job = arg;
	struct recon_host *h = job->hdr.r->hosts[job->on].host;
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
	if (job->rc == 0 && job->others != NULL)
		push_others(job);
	else if (job->rc == 0 && job->from != job->on) {
		struct recon_host *old = job->hdr.r->hosts[job->from].host;

		json_object_foreach(routes, host, route)
		{
			struct err err = ERR_INIT;
			int rc = old->ops->router_delete_route(old, host, &err);

			/* The old router unreachable: its table is replaced in
			 * full when it answers again. */
			if (rc < 0 && rc != ROUTER_CLIENT_ENOTFOUND)
				log_warn("route of %s at its former host: %s", host, err.msg);
		}
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
		r->hosts[job->on].router.next_check_ms = 0; /* look at the router now */
		goto out;
	}
	/* A router that missed its copy gets its full table at the next
	 * check: ours is newer than what it has. */
	for (size_t i = 0; job->failed != NULL && i < job->n_hosts; i++)
		if (job->failed[i])
			r->hosts[i].router.generation = now_wall_ms();
	log_debug("route of %s: %s", job->host, job->route);
	ctr->route_on = job->on;
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
                 char *route, size_t on)
{
	struct push_job *job = xcalloc(1, sizeof *job);

	job->hdr.free = push_job_free;
	job->on = on < r->n_hosts ? on : 0;
	job->from =
	    ctr->route_pushed != NULL && ctr->route_on < r->n_hosts ? ctr->route_on : job->on;
	snprintf(job->container_id, sizeof job->container_id, "%s", c->id);
	job->host = recon_route_host(r, c);
	job->route = route;
	if (r->env.n_hosts > 0) {
		json_t *routes = json_loads(route, 0, NULL);

		job->n_hosts = r->n_hosts;
		job->others = xcalloc(r->n_hosts, sizeof *job->others);
		job->failed = xcalloc(r->n_hosts, 1);
		for (size_t i = 0; routes != NULL && i < r->n_hosts; i++) {
			json_t *at;

			if (i == job->on || r->hosts[i].pending)
				continue;
			at = recon_routes_at(r, routes, job->on, i);
			job->others[i] = recon_json_text(at);
			json_decref(at);
		}
		json_decref(routes);
	}
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
	struct recon_host *host; /* borrowed: the router of the draining enclave's host */
	store_id container_id;
	char *address; /* owned */
	/* A move: the other routers (borrowed, NULL-terminated, owned array)
	 * that forwarded the container to the draining host's router at peer
	 * (owned), for the route names names (owned strv). */
	struct recon_host **others;
	char *peer;
	char **names;
	int drained;
};

static void
drain_job_free(struct recon_job *hdr)
{
	struct drain_job *job = (struct drain_job *)hdr;

	free(job->address);
	free(job->others);
	free(job->peer);
	strv_free(job->names);
	free(job);
}

/* Whether router host has nothing active or in flight to address, for one
 * of names (any route when NULL). 1 or 0; 0 too when it does not answer:
 * the deadline decides. */
static int
drain_router_idle(struct recon_host *host, const char *address, char **names)
{
	struct err err = ERR_INIT;
	json_t *counters = NULL, *ups, *v;
	int idle = 1;
	size_t i;

	if (host->ops->router_counters(host, &counters, &err) < 0)
		return 0;
	ups = json_object_get(counters, "upstreams");
	json_array_foreach(ups, i, v)
	{
		const char *addr = json_string_value(json_object_get(v, "address"));
		const char *state = json_string_value(json_object_get(v, "state"));
		const char *name = json_string_value(json_object_get(v, "host"));

		if (addr == NULL || strcmp(addr, address) != 0)
			continue;
		if (names != NULL && (name == NULL || !strv_contains(names, name)))
			continue;
		if ((state != NULL && strcmp(state, "active") == 0) ||
		    json_integer_value(json_object_get(v, "in_flight")) > 0)
			idle = 0;
	}
	json_decref(counters);
	return idle;
}

/* Drained: the draining host's router has nothing left for the enclave,
 * and after a move no other router still has a request in flight to that
 * host for the container (nor routes new ones there). */
static void
drain_work(void *arg)
{
	struct drain_job *job = arg;

	job->drained = drain_router_idle(job->host, job->address, NULL);
	for (size_t i = 0; job->drained && job->others != NULL && job->others[i] != NULL; i++)
		job->drained = drain_router_idle(job->others[i], job->peer, job->names);
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

/* With agents, when the draining enclave e is on another host than the
 * one the route now serves from: the other routers that forwarded to e's
 * host, its peer address and the container's route names, into job. */
static void
drain_job_others(struct recon *r, struct recon_ctr *ctr, const struct store_enclave *e,
                 struct drain_job *job)
{
	struct recon_hostent *eh = recon_host_entry(r, e->host_id);
	struct store_container c = {0};
	struct err err = ERR_INIT;
	size_t ei, n = 0;
	const char *peer;

	if (r->env.n_hosts == 0 || eh == NULL)
		return;
	ei = (size_t)(eh - r->hosts);
	if (ctr->route_pushed == NULL || ctr->route_on == ei ||
	    (peer = recon_router_peer(r, ei)) == NULL)
		return;
	if (store_container_get(r->env.store, ctr->id, &c, &err) < 0) {
		log_warn("drain of %s: %s", e->name, err.msg);
		return;
	}
	for (int debug = 0; debug <= 1; debug++) {
		char *name = recon_host(r, &c, debug);

		if (name != NULL)
			job->names = strv_push(job->names, name);
		free(name);
	}
	store_container_clear(&c);
	if (job->names == NULL)
		return;
	job->others = xcalloc(r->n_hosts + 1, sizeof *job->others);
	for (size_t i = 0; i < r->n_hosts; i++)
		if (i != ei && !r->hosts[i].pending)
			job->others[n++] = r->hosts[i].host;
	job->peer = xstrdup(peer);
}

void
recon_route_poll_drain(struct recon *r, struct recon_ctr *ctr, const struct store_enclave *e)
{
	struct drain_job *job;
	struct recon_host *host = recon_host_for(r, e);
	const char *address = e->address;

	/* A host this berthd does not drive: nothing to ask, the deadline decides. */
	if (host == NULL) {
		ctr->retry_at_ms = now_mono_ms() + 100;
		return;
	}
	job = xcalloc(1, sizeof *job);
	job->hdr.free = drain_job_free;
	job->host = host;
	snprintf(job->container_id, sizeof job->container_id, "%s", ctr->id);
	job->address = xstrdup(address);
	drain_job_others(r, ctr, e, job);
	ctr->busy = 1;
	recon_job_submit(r, &job->hdr, drain_work, drain_done);
}

/* ---- the router's liveness, start and full table ---- */

/* The full table of host hi's router from the store (the routes that are
 * on it; with agents, every other route as recon_routes_at() forwards it);
 * ids and texts (strv, same order) let the caller remember what each
 * container whose live host is hi was given. */
static json_t *
recon_full_table(struct recon *r, size_t hi, int64_t generation, char ***ids, char ***texts)
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
		size_t on = 0;
		json_t *all = recon_routes_of(r, &v[i], &on), *route;
		char *text = recon_json_text(all);
		const char *host;

		if (on != hi && r->env.n_hosts == 0) {
			json_decref(all);
			free(text);
			continue;
		}
		if (on == hi) {
			*ids = strv_push(*ids, v[i].id);
			*texts = strv_push(*texts, text);
		} else {
			json_t *at = recon_routes_at(r, all, on, hi);

			json_decref(all);
			all = at;
		}
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
	return json_pack("{s:I,s:o,s:s}", "generation", (json_int_t)generation, "routes", routes,
	                 "peer_key", r->peer_key);
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
recon_router_alive(struct recon_host *host)
{
	struct err err = ERR_INIT;
	int64_t generation;

	return host->ops->router_status(host, &generation, &err) == 0;
}

/* Remembers what each container's route now is at host hi's router. With
 * agents, only for a container never pushed yet (start-up, when every
 * router gets its full table): the others' routers may lack a later one,
 * which the container's own push (recon_route_push()) gives them all. */
static void
recon_router_remember(struct recon *r, size_t hi, char **ids, char **texts)
{
	for (size_t i = 0; ids != NULL && ids[i] != NULL; i++) {
		struct recon_ctr *ctr = recon_ctr_get(r, ids[i]);

		if (r->env.n_hosts > 0 && ctr->route_pushed != NULL)
			continue;
		ctr->route_on = hi;
		free(ctr->route_pushed);
		ctr->route_pushed = xstrdup(texts[i]);
		r->routes_moved++;
	}
}

/* At start-up, before the API serves: find or start the router and give it
 * the whole table. Blocking, once. */
static void
recon_router_start_sync(struct recon *r, size_t hi)
{
	struct recon_host *host = r->hosts[hi].host;
	struct recon_router *rt = &r->hosts[hi].router;
	struct err err = ERR_INIT;
	char **ids, **texts;
	json_t *table;

	if (!recon_router_alive(host)) {
		if (host->ops->router_spawn(host, &err) < 0) {
			log_error("router: %s", err.msg);
			return;
		}
		for (int64_t end = now_mono_ms() + ROUTER_START_WAIT;
		     !recon_router_alive(host) && now_mono_ms() < end;)
			usleep(20000);
	}
	rt->generation = now_wall_ms();
	table = recon_full_table(r, hi, rt->generation, &ids, &texts);
	recon_table_certs(r, table);
	if (host->ops->router_push_table(host, table, &err) < 0) {
		log_error("router: the table was refused: %s", err.msg);
	} else {
		rt->up = 1;
		recon_router_remember(r, hi, ids, texts);
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
	size_t hi;     /* the host (in r->hosts) of the router */
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
	struct recon_host *host = r->hosts[job->hi].host;

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
	     !recon_router_alive(host) && now_mono_ms() < end;)
		usleep(20000);
	job->alive = recon_router_alive(host);
}

static void
router_done(void *arg)
{
	struct router_job *job = arg, *push;
	struct recon *r = job->hdr.r;
	struct recon_router *rt = &r->hosts[job->hi].router;

	recon_job_done(&job->hdr);
	rt->checking = 0;
	if (recon_stopping(r))
		goto out;
	if (job->table != NULL) {
		if (job->rc < 0) {
			log_error("router: the table was refused: %s", job->err.msg);
			goto out;
		}
		log_info("router: full table of generation %lld pushed", (long long)rt->generation);
		recon_router_remember(r, job->hi, job->ids, job->texts);
		goto out;
	}
	if (!job->alive && rt->up)
		log_warn("router: no answer%s%s", err_isset(&job->err) ? ": " : "", job->err.msg);
	rt->up = job->alive;
	/* A router that restarted (or was started) lacks our table. */
	if (!job->alive || (!job->spawned && job->generation >= rt->generation))
		goto out;
	if (job->spawned)
		log_warn("router: started again");
	else
		log_warn("router: it has an older table (generation %lld); pushing ours",
		         (long long)job->generation);
	push = xcalloc(1, sizeof *push);
	push->hdr.free = router_job_free;
	push->hi = job->hi;
	rt->generation = now_wall_ms();
	push->table = recon_full_table(r, job->hi, rt->generation, &push->ids, &push->texts);
	rt->checking = 1;
	recon_job_submit(r, &push->hdr, router_work, router_done);
out:
	router_job_free(&job->hdr);
}

/* An agent's host whose id is not known yet: its /v1/info asked again. */
struct info_job {
	struct recon_job hdr;
	size_t hi;
	char *host_id; /* owned: what it said */
	struct recon_host_capacity cap;
	int rc;
	struct err err;
};

static void
info_job_free(struct recon_job *hdr)
{
	struct info_job *job = (struct info_job *)hdr;

	free(job->host_id);
	free(job);
}

static void
info_work(void *arg)
{
	struct info_job *job = arg;
	struct recon_host *host = job->hdr.r->hosts[job->hi].host;

	job->rc = host->ops->info(host, &job->host_id, &job->cap, &job->err);
}

static void
info_done(void *arg)
{
	struct info_job *job = arg;
	struct recon *r = job->hdr.r;
	struct recon_hostent *h = &r->hosts[job->hi];

	recon_job_done(&job->hdr);
	h->router.checking = 0;
	if (recon_stopping(r) || job->rc < 0)
		goto out;
	for (size_t i = 0; i < r->n_hosts; i++)
		if (!r->hosts[i].pending && r->hosts[i].id != NULL &&
		    strcmp(r->hosts[i].id, job->host_id) == 0) {
			log_error("an agent says it is host %s, which another agent is: not driven",
			          job->host_id);
			h->router.next_check_ms = now_mono_ms() + 30000;
			goto out;
		}
	h->id = take_ptr(&job->host_id);
	h->cap = job->cap;
	h->pending = 0;
	log_info("host %s answers: %lld cpus, %lld MiB, %d GPUs", h->id, (long long)h->cap.cpus,
	         (long long)(h->cap.memory_bytes >> 20), h->cap.gpus);
	/* Not started (a follower): recon_start() adopts on every known host. */
	if (r->started)
		recon_host_known(r, h);
out:
	info_job_free(&job->hdr);
}

/* Whether host hi's next check is due (none running, ROUTER_CHECK_MS
 * since the last): then it counts as started. */
static int
check_due(struct recon_router *rt, int64_t now)
{
	if (rt->checking || now < rt->next_check_ms)
		return 0;
	rt->next_check_ms = now + ROUTER_CHECK_MS;
	rt->checking = 1;
	return 1;
}

/* A pending host hi asked who it is, at most every ROUTER_CHECK_MS. */
static void
recon_host_ask(struct recon *r, size_t hi, int64_t now)
{
	struct recon_router *rt = &r->hosts[hi].router;
	struct info_job *ij;

	if (r->hosts[hi].host->ops->info == NULL || !check_due(rt, now))
		return;
	ij = xcalloc(1, sizeof *ij);
	ij->hdr.free = info_job_free;
	ij->hi = hi;
	recon_job_submit(r, &ij->hdr, info_work, info_done);
}

void
recon_hosts_refresh(struct recon *r)
{
	int64_t now = now_mono_ms();

	for (size_t hi = 0; hi < r->n_hosts && !r->started; hi++)
		if (r->hosts[hi].pending)
			recon_host_ask(r, hi, now);
}

/* recon_router_tick() for the router of host hi. */
static void
recon_router_tick_host(struct recon *r, size_t hi)
{
	struct recon_router *rt = &r->hosts[hi].router;
	struct router_job *job;
	int64_t now = now_mono_ms();

	if (r->hosts[hi].pending) {
		recon_host_ask(r, hi, now);
		return;
	}
	if (rt->generation == 0) {
		recon_router_start_sync(r, hi);
		rt->next_check_ms = now + ROUTER_CHECK_MS;
		return;
	}
	if (!check_due(rt, now))
		return;
	job = xcalloc(1, sizeof *job);
	job->hdr.free = router_job_free;
	job->hi = hi;
	recon_job_submit(r, &job->hdr, router_work, router_done);
}

void
recon_router_tick(struct recon *r)
{
	for (size_t i = 0; i < r->n_hosts; i++)
		recon_router_tick_host(r, i);
}
