/* Unit tests of src/recon: the reconciler driven step by step against a test
 * double of its host (recon-host.h), on a real SQLite store, a real event
 * loop and real work queues, with the lifecycle and event log modules as
 * berthd has them. The double records every call and answers as each test
 * scripts it: boots that fail, health gates that fail, enclaves found
 * stopped, a router that is down, requests still in flight.
 *
 * Each test writes rows as the API does (api-containers.c, api-deploy.c,
 * api-updates.c), kicks the reconciler, runs the loop until the store says
 * the step happened, and checks the store, the events and the calls. The
 * paths are those of docs/lifecycle.md. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "config/config.h"
#include "eventlog/eventlog.h"
#include "lifecycle/lifecycle.h"
#include "model/model.h"
#include "recon/recon-host.h"
#include "recon/recon.h"
#include "router/router_client.h"
#include "secret/secret.h"
#include "store/store.h"

#define DIGEST "sha256:6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52"
#define DOMAIN "test.localhost"
#define HOST   "web.acme." DOMAIN

/* A config that passes its gate at the first good check and fails within a
 * second of bad ones. */
#define CONFIG_OK                                                                                  \
	"containers:\n  - name: app\n    image: \"registry.test/app@" DIGEST "\"\n"                \
	"shim:\n  upstream-port: 8000\n"                                                           \
	"deploy:\n  min-healthy-time: 0s\n  health-timeout: 1s\n  drain-timeout: 3s\n"
/* The same, whose gate waits a minute (an update to cancel meanwhile). */
#define CONFIG_SLOW                                                                                \
	"containers:\n  - name: app\n    image: \"registry.test/app@" DIGEST "\"\n"                \
	"shim:\n  upstream-port: 8000\n"                                                           \
	"deploy:\n  min-healthy-time: 0s\n  health-timeout: 60s\n"
/* One whose gate is an exec check (what it prints lands in the gate's
 * verdict), failing within a second. */
#define CONFIG_EXEC                                                                                \
	"containers:\n  - name: app\n    image: \"registry.test/app@" DIGEST "\"\n"                \
	"    healthcheck:\n      test: [\"CMD\", \"check\"]\n      interval: 1s\n"                 \
	"shim:\n  upstream-port: 8000\n"                                                           \
	"deploy:\n  min-healthy-time: 0s\n  health-timeout: 1s\n"
/* One that takes the host's only GPU (its updates recreate), whose gate
 * waits a minute. */
#define CONFIG_GPU_SLOW                                                                            \
	"gpus: 1\ncontainers:\n  - name: app\n    image: \"registry.test/app@" DIGEST "\"\n"       \
	"    runtime: nvidia\n    gpus: all\n"                                                     \
	"shim:\n  upstream-port: 8000\n"                                                           \
	"deploy:\n  min-healthy-time: 0s\n  health-timeout: 60s\n"
/* One that takes the host's only GPU: its updates recreate. */
#define CONFIG_GPU                                                                                 \
	"gpus: 1\ncontainers:\n  - name: app\n    image: \"registry.test/app@" DIGEST "\"\n"       \
	"    runtime: nvidia\n    gpus: all\n"                                                     \
	"shim:\n  upstream-port: 8000\n"                                                           \
	"deploy:\n  min-healthy-time: 0s\n  health-timeout: 1s\n  drain-timeout: 3s\n"

/* CONFIG_OK with the config's `restart` policy. */
#define CONFIG_RESTART(policy)                                                                     \
	"containers:\n  - name: app\n    image: \"registry.test/app@" DIGEST "\"\n"                \
	"    restart: " policy "\n"                                                                \
	"shim:\n  upstream-port: 8000\n"                                                           \
	"deploy:\n  min-healthy-time: 0s\n  health-timeout: 1s\n  drain-timeout: 3s\n"

/* ---- the double of the host ---- */

struct fake_enclave {
	char *name;
	char *ip;
	enum enclave_observed observed;
	struct fake_enclave *next;
};

struct fake_host {
	struct recon_host base;
	pthread_mutex_t mu;
	/* What happened, in order: "boot NAME", "boot-resume NAME", "adopt NAME",
	 * "destroy NAME", "route HOST MODE [ADDR]", "unroute HOST", "table",
	 * "spawn", "counters". */
	char **calls;
	struct fake_enclave *enclaves; /* what the host runs */
	int next_ip;
	/* Scripts. */
	int gpus;
	char **boot_fails;  /* enclave names whose boot fails */
	char **unhealthy;   /* enclave names whose checks fail */
	int router_up;      /* the router answers */
	int spawn_revives;  /* a spawn brings the router back */
	int64_t generation; /* of the router's table */
	char peer_key[129]; /* of the router's table */
	json_t *in_flight;  /* address -> requests in flight */
	char *exec_output;  /* what an exec check prints, or NULL */
	int exec_exit;      /* and its exit code */
	int refused;        /* router calls refused while it was down */
};

static struct fake_host *
fake_of(struct recon_host *h)
{
	return (struct fake_host *)h;
}

static void fake_log(struct fake_host *fh, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* Called with fh->mu held. */
static void
fake_log(struct fake_host *fh, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fh->calls = strv_push(fh->calls, line);
}

static struct fake_enclave *
fake_find(struct fake_host *fh, const char *name)
{
	for (struct fake_enclave *e = fh->enclaves; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static struct fake_enclave *
fake_add(struct fake_host *fh, const char *name)
{
	struct fake_enclave *e = xcalloc(1, sizeof *e);

	e->name = xstrdup(name);
	e->ip = xasprintf("10.0.0.%d", ++fh->next_ip);
	e->observed = ENCLAVE_OBSERVED_RUNNING;
	e->next = fh->enclaves;
	fh->enclaves = e;
	return e;
}

static struct enclave *
fake_handle(const struct fake_enclave *fe)
{
	struct enclave *e = xcalloc(1, sizeof *e);

	e->name = xstrdup(fe->name);
	e->ip = xstrdup(fe->ip);
	return e;
}

static int
fake_boot(struct recon_host *h, const struct recon_boot_spec *spec, struct enclave **out,
          struct err *err)
{
	struct fake_host *fh = fake_of(h);
	struct fake_enclave *fe;
	int rc = 0;

	atomic_store(spec->percent, 100);
	atomic_store(spec->booting, 1);
	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "%s %s", spec->resume ? "boot-resume" : "boot", spec->name);
	if (strv_contains(fh->boot_fails, spec->name)) {
		rc = err_make(err, 0, "pulling image %s: manifest unknown (scripted)",
		              spec->cfg->containers[0].image);
	} else {
		fe = fake_find(fh, spec->name);
		if (fe == NULL)
			fe = fake_add(fh, spec->name);
		fe->observed = ENCLAVE_OBSERVED_RUNNING;
		*out = fake_handle(fe);
	}
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

static int
fake_adopt(struct recon_host *h, const char *name, struct enclave **out,
           enum enclave_observed *observed, struct err *err)
{
	struct fake_host *fh = fake_of(h);
	struct fake_enclave *fe;
	int rc = 0;

	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "adopt %s", name);
	fe = fake_find(fh, name);
	if (fe == NULL) {
		rc = err_make(err, ENOENT, "enclave %s: unknown", name);
	} else {
		*observed = fe->observed;
		if (out != NULL)
			*out = fake_handle(fe);
	}
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

static int
fake_destroy(struct recon_host *h, const char *name, struct err *err)
{
	struct fake_host *fh = fake_of(h);

	(void)err;
	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "destroy %s", name);
	for (struct fake_enclave **pp = &fh->enclaves; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct fake_enclave *e = *pp;

			*pp = e->next;
			free(e->name);
			free(e->ip);
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&fh->mu);
	return 0;
}

static int
fake_list(struct recon_host *h, char ***names, struct err *err)
{
	struct fake_host *fh = fake_of(h);

	(void)err;
	*names = NULL;
	pthread_mutex_lock(&fh->mu);
	for (struct fake_enclave *e = fh->enclaves; e != NULL; e = e->next)
		*names = strv_push(*names, e->name);
	pthread_mutex_unlock(&fh->mu);
	return 0;
}

static int
fake_exec(struct recon_host *h, const struct enclave *e, const char *container, char *const *argv,
          int64_t timeout_ms, int *exit_code, char **output, struct err *err)
{
	struct fake_host *fh = fake_of(h);

	(void)e, (void)container, (void)argv, (void)timeout_ms, (void)err;
	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "exec %s", argv[0]);
	*exit_code = fh->exec_exit;
	*output = fh->exec_output != NULL ? xstrdup(fh->exec_output) : NULL;
	pthread_mutex_unlock(&fh->mu);
	return 0;
}

/* The enclave at c->addr passes unless the test said otherwise; an exec
 * check runs through exec (the reconciler's, which redacts) and passes on
 * exit 0, its output the result's text. */
static void
fake_check(struct recon_host *h, const struct health_check *c, health_exec_fn exec, void *exec_arg,
           struct health_result *r)
{
	struct fake_host *fh = fake_of(h);
	struct err err = ERR_INIT;
	char *out = NULL;
	int pass = 0, code = -1;

	if (c->kind == HEALTH_CHECK_EXEC) {
		pass =
		    exec(exec_arg, c->container, c->argv, c->timeout_ms, &code, &out, &err) == 0 &&
		    code == 0;
		memset(r, 0, sizeof *r);
		r->pass = pass;
		r->wall_ms = now_wall_ms();
		snprintf(r->text, sizeof r->text, "exit %d: %.200s", code,
		         out != NULL ? out : err.msg);
		free(out);
		return;
	}
	pthread_mutex_lock(&fh->mu);
	for (struct fake_enclave *e = fh->enclaves; e != NULL; e = e->next)
		if (c->addr != NULL && strcmp(e->ip, c->addr) == 0)
			pass = !strv_contains(fh->unhealthy, e->name);
	pthread_mutex_unlock(&fh->mu);
	memset(r, 0, sizeof *r);
	r->pass = pass;
	r->wall_ms = now_wall_ms();
	snprintf(r->text, sizeof r->text, "%s", pass ? "scripted: healthy" : "scripted: unhealthy");
}

static void
fake_release(struct recon_host *h, struct enclave *e)
{
	(void)h;
	enclave_free(e);
}

static int
fake_gpus(struct recon_host *h)
{
	return fake_of(h)->gpus;
}

/* 0 when the router is up, else a refusal (counted). With fh->mu held. */
static int
fake_router_reach(struct fake_host *fh, struct err *err)
{
	if (fh->router_up)
		return 0;
	fh->refused++;
	return err_make(err, ECONNREFUSED, "connect: refused (scripted)");
}

static int
fake_router_status(struct recon_host *h, int64_t *generation, struct err *err)
{
	struct fake_host *fh = fake_of(h);
	int rc;

	pthread_mutex_lock(&fh->mu);
	if ((rc = fake_router_reach(fh, err)) == 0)
		*generation = fh->generation;
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

static int
fake_router_push_table(struct recon_host *h, const json_t *table, struct err *err)
{
	struct fake_host *fh = fake_of(h);
	int rc;

	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "table");
	if ((rc = fake_router_reach(fh, err)) == 0) {
		const char *key = json_string_value(json_object_get(table, "peer_key"));

		fh->generation = json_integer_value(json_object_get(table, "generation"));
		snprintf(fh->peer_key, sizeof fh->peer_key, "%s", key != NULL ? key : "");
	}
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

static int
fake_router_set_route(struct recon_host *h, const char *host, const json_t *route, struct err *err)
{
	struct fake_host *fh = fake_of(h);
	const char *mode = json_string_value(json_object_get(route, "mode"));
	const char *addr =
	    json_string_value(json_array_get(json_object_get(route, "upstreams"), 0));
	int rc;

	pthread_mutex_lock(&fh->mu);
	if ((rc = fake_router_reach(fh, err)) == 0)
		fake_log(fh, "route %s %s%s%s", host, mode, addr != NULL ? " " : "",
		         addr != NULL ? addr : "");
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

static int
fake_router_delete_route(struct recon_host *h, const char *host, struct err *err)
{
	struct fake_host *fh = fake_of(h);
	int rc;

	pthread_mutex_lock(&fh->mu);
	if ((rc = fake_router_reach(fh, err)) == 0)
		fake_log(fh, "unroute %s", host);
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

/* Every address the test gave requests in flight to, as draining. */
static int
fake_router_counters(struct recon_host *h, json_t **out, struct err *err)
{
	struct fake_host *fh = fake_of(h);
	json_t *ups = json_array(), *v;
	const char *addr;
	int rc;

	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "counters");
	if ((rc = fake_router_reach(fh, err)) < 0) {
		json_decref(ups);
	} else {
		json_object_foreach(fh->in_flight, addr, v)
		{
			json_array_append_new(ups, json_pack("{s:s,s:s,s:O}", "address", addr,
			                                     "state", "draining", "in_flight", v));
		}
		*out = json_pack("{s:I,s:o}", "generation", (json_int_t)fh->generation, "upstreams",
		                 ups);
	}
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

static int
fake_router_spawn(struct recon_host *h, struct err *err)
{
	struct fake_host *fh = fake_of(h);

	(void)err;
	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "spawn");
	if (fh->spawn_revives) {
		fh->router_up = 1;
		fh->generation = 0; /* a new router has no table */
	}
	pthread_mutex_unlock(&fh->mu);
	return 0;
}

static int
fake_keep_logs(struct recon_host *h, const char *name, const char *container_id,
               const char *deployment_id, struct err *err)
{
	struct fake_host *fh = fake_of(h);

	(void)err;
	(void)container_id;
	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "keep-logs %s %s", name, deployment_id);
	pthread_mutex_unlock(&fh->mu);
	return 0;
}

static int
fake_drop_logs(struct recon_host *h, const char *container_id, struct err *err)
{
	struct fake_host *fh = fake_of(h);

	(void)err;
	pthread_mutex_lock(&fh->mu);
	fake_log(fh, "drop-logs %s", container_id);
	pthread_mutex_unlock(&fh->mu);
	return 0;
}

static const struct recon_host_ops fake_ops = {
    .boot = fake_boot,
    .adopt = fake_adopt,
    .destroy = fake_destroy,
    .keep_logs = fake_keep_logs,
    .drop_logs = fake_drop_logs,
    .list = fake_list,
    .exec = fake_exec,
    .check = fake_check,
    .release = fake_release,
    .gpus = fake_gpus,
    .router_status = fake_router_status,
    .router_push_table = fake_router_push_table,
    .router_set_route = fake_router_set_route,
    .router_delete_route = fake_router_delete_route,
    .router_counters = fake_router_counters,
    .router_spawn = fake_router_spawn,
};

/* Index of the first call at or after from that starts with prefix, -1 when none. */
static int
fake_call_index(struct fake_host *fh, int from, const char *prefix)
{
	int found = -1;

	pthread_mutex_lock(&fh->mu);
	for (int i = from; found < 0 && fh->calls != NULL && fh->calls[i] != NULL; i++)
		if (strncmp(fh->calls[i], prefix, strlen(prefix)) == 0)
			found = i;
	pthread_mutex_unlock(&fh->mu);
	return found;
}

static int
fake_call_count(struct fake_host *fh, const char *prefix)
{
	int n = 0;

	pthread_mutex_lock(&fh->mu);
	for (size_t i = 0; fh->calls != NULL && fh->calls[i] != NULL; i++)
		n += strncmp(fh->calls[i], prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&fh->mu);
	return n;
}

static int
fake_refused(struct fake_host *fh)
{
	int n;

	pthread_mutex_lock(&fh->mu);
	n = fh->refused;
	pthread_mutex_unlock(&fh->mu);
	return n;
}

static int
fake_runs(struct fake_host *fh, const char *name)
{
	int yes;

	pthread_mutex_lock(&fh->mu);
	yes = fake_find(fh, name) != NULL;
	pthread_mutex_unlock(&fh->mu);
	return yes;
}

static void
fake_set_observed(struct fake_host *fh, const char *name, enum enclave_observed o)
{
	pthread_mutex_lock(&fh->mu);
	fake_find(fh, name)->observed = o;
	pthread_mutex_unlock(&fh->mu);
}

static void
fake_script(struct fake_host *fh, char ***list, const char *name)
{
	pthread_mutex_lock(&fh->mu);
	*list = strv_push(*list, name);
	pthread_mutex_unlock(&fh->mu);
}

static void
fake_set_in_flight(struct fake_host *fh, const char *address, int n)
{
	pthread_mutex_lock(&fh->mu);
	json_object_set_new(fh->in_flight, address, json_integer(n));
	pthread_mutex_unlock(&fh->mu);
}

static void
fake_set_router(struct fake_host *fh, int up)
{
	pthread_mutex_lock(&fh->mu);
	fh->router_up = up;
	pthread_mutex_unlock(&fh->mu);
}

static void
fake_init(struct fake_host *fh)
{
	memset(fh, 0, sizeof *fh);
	fh->base.ops = &fake_ops;
	pthread_mutex_init(&fh->mu, NULL);
	fh->router_up = 1;
	fh->spawn_revives = 1;
	fh->in_flight = json_object();
}

static void
fake_clear(struct fake_host *fh)
{
	while (fh->enclaves != NULL) {
		struct fake_enclave *e = fh->enclaves;

		fh->enclaves = e->next;
		free(e->name);
		free(e->ip);
		free(e);
	}
	strv_free(fh->calls);
	strv_free(fh->boot_fails);
	strv_free(fh->unhealthy);
	free(fh->exec_output);
	json_decref(fh->in_flight);
	pthread_mutex_destroy(&fh->mu);
}

/* ---- the fixture: a store, a loop, queues, a reconciler ---- */

struct fx {
	char dir[64];
	struct event_base *base;
	struct store *store;
	struct eventlog *events;
	struct lifecycle lc;
	struct workq *workq, *fetchq, *healthq;
	_Atomic int stopping;
	struct fake_host host;
	struct recon *recon;
	store_id org_id;
	int debug;                /* the deployments written are debug ones */
	struct secret_key *key;   /* or NULL: no deployment binds a secret */
	const char *secrets_json; /* the deployments' secrets, NULL: none */
};

static void
fx_queues(struct fx *fx)
{
	fx->workq = workq_new(fx->base, 2, 0);
	fx->fetchq = workq_new(fx->base, 2, 1);
	fx->healthq = workq_new(fx->base, 2, 0);
}

/* A reconciler on the fixture's store and host, not yet started. */
static void
fx_recon_new(struct fx *fx)
{
	struct err err = ERR_INIT;
	struct recon_env env = {
	    .base = fx->base,
	    .store = fx->store,
	    .workq = fx->workq,
	    .fetchq = fx->fetchq,
	    .healthq = fx->healthq,
	    .host = &fx->host.base,
	    .events = fx->events,
	    .lc = &fx->lc,
	    .key = fx->key,
	    .stopping = &fx->stopping,
	    .settings = {.domain = DOMAIN},
	};

	assert_int_equal(recon_new(&env, &fx->recon, &err), 0);
}

static void
fx_recon_start(struct fx *fx)
{
	struct err err = ERR_INIT;

	fx_recon_new(fx);
	assert_int_equal(recon_start(fx->recon, &err), 0);
}

/* Stops the reconciler as berthd does (the queues first, then the
 * reconciler); what it was doing stays in the store and on the host. */
static void
fx_recon_stop(struct fx *fx)
{
	atomic_store(&fx->stopping, 1);
	workq_free(take_ptr(&fx->fetchq));
	workq_free(take_ptr(&fx->healthq));
	workq_free(take_ptr(&fx->workq));
	recon_free(take_ptr(&fx->recon));
	atomic_store(&fx->stopping, 0);
	fx_queues(fx);
}

static int
fx_setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof *fx);
	struct store_org org = {0};
	struct err err = ERR_INIT;
	char *db;

	snprintf(fx->dir, sizeof fx->dir, "/tmp/berth-test-recon-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	db = xasprintf("%s/berth.db", fx->dir);
	assert_int_equal(store_open_sqlite(db, &fx->store, &err), 0);
	free(db);
	assert_int_equal(store_org_create(fx->store, "acme", &org, &err), 0);
	snprintf(fx->org_id, sizeof fx->org_id, "%s", org.id);
	store_org_clear(&org);
	fx->base = event_base_new();
	fx->events = eventlog_new(fx->base, fx->store, NULL, NULL);
	lifecycle_init(&fx->lc, fx->store, fx->events);
	fx_queues(fx);
	fake_init(&fx->host);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;
	char *cmd = xasprintf("rm -rf '%s'", fx->dir);

	atomic_store(&fx->stopping, 1);
	workq_free(fx->fetchq);
	workq_free(fx->healthq);
	workq_free(fx->workq);
	recon_free(fx->recon);
	secret_key_free(fx->key);
	eventlog_free(fx->events);
	store_close(fx->store);
	event_base_free(fx->base);
	fake_clear(&fx->host);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx);
	return 0;
}

/* Runs the loop until cond holds; fails the test past ms. */
#define RUN_UNTIL(fx, cond, ms)                                                                    \
	do {                                                                                       \
		int64_t end_ = now_mono_ms() + (ms);                                               \
		while (!(cond)) {                                                                  \
			if (now_mono_ms() > end_)                                                  \
				fail_msg("%s: not within %d ms", #cond, (int)(ms));                \
			event_base_loop((fx)->base, EVLOOP_ONCE);                                  \
		}                                                                                  \
	} while (0)

/* Runs the loop for ms. */
static void
run_for(struct fx *fx, int64_t ms)
{
	int64_t end = now_mono_ms() + ms;

	while (now_mono_ms() < end)
		event_base_loop(fx->base, EVLOOP_ONCE);
}

/* ---- rows as the API writes them ---- */

/* A deployment of container cid with config yaml, written (inside the
 * caller's transaction). */
static void
write_deployment(struct fx *fx, const char *cid, const char *yaml, struct store_deployment *dep)
{
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	struct err err = ERR_INIT;

	assert_int_equal(config_parse("config", yaml, strlen(yaml), &cfg, &errs), 0);
	memset(dep, 0, sizeof *dep);
	snprintf(dep->container_id, sizeof dep->container_id, "%s", cid);
	dep->config = xstrdup(yaml);
	memcpy(dep->config_sha256, cfg->config_sha256, sizeof dep->config_sha256);
	dep->measurement = xstrdup(DIGEST + 7);
	dep->images_json = xasprintf("[\"registry.test/app@%s\"]", DIGEST);
	dep->secrets_json = xstrdup(fx->secrets_json != NULL ? fx->secrets_json : "[]");
	dep->debug = fx->debug;
	dep->env_json = xstrdup("{}");
	dep->isolation = xstrdup("runc");
	assert_int_equal(store_deployment_create(fx->store, dep, &err), 0);
	config_free(cfg);
}

/* Creates container web with its first deployment (yaml), as POST
 * /containers does, and kicks the reconciler. Its id goes to cid, its
 * deployment's enclave name to name (may be NULL). */
static void
create_container(struct fx *fx, const char *yaml, store_id cid,
                 char name[MODEL_ENCLAVE_NAME_LEN + 1])
{
	struct store_container c = {0};
	struct store_deployment dep = {0};
	struct err err = ERR_INIT;

	snprintf(c.org_id, sizeof c.org_id, "%s", fx->org_id);
	c.name = xstrdup("web");
	c.status = CONTAINER_DEPLOYING;
	c.status_detail = xstrdup("queued");
	assert_int_equal(store_begin(fx->store, &err), 0);
	assert_int_equal(store_container_create(fx->store, &c, &err), 0);
	write_deployment(fx, c.id, yaml, &dep);
	snprintf(c.deployment_id, sizeof c.deployment_id, "%s", dep.id);
	assert_int_equal(store_container_save(fx->store, &c, &err), 0);
	assert_int_equal(eventlog_add(fx->events, &c, "container.created", &err, "created"), 0);
	assert_int_equal(store_commit(fx->store, &err), 0);
	snprintf(cid, sizeof(store_id), "%s", c.id);
	if (name != NULL)
		model_enclave_name(dep.id, name);
	if (fx->recon != NULL)
		recon_kick(fx->recon, c.id);
	store_deployment_clear(&dep);
	store_container_clear(&c);
}

static int
gpus_of(const char *yaml, int host)
{
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	int n;

	assert_int_equal(config_parse("config", yaml, strlen(yaml), &cfg, &errs), 0);
	n = config_gpus_required(cfg, host);
	config_free(cfg);
	return n;
}

/* Updates container cid to a new deployment of yaml (kind), as POST
 * /containers/{name}/updates does: the strategy from the GPUs, the
 * container's status during it. The new enclave's name goes to name. */
static void
create_update(struct fx *fx, const char *cid, enum update_kind kind, const char *yaml,
              char name[MODEL_ENCLAVE_NAME_LEN + 1])
{
	struct store_container c = {0};
	struct store_deployment cur = {0}, dep = {0};
	struct store_update u = {0};
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	enum container_status status;
	int host = fx->host.gpus;

	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	assert_int_equal(store_deployment_get(fx->store, c.deployment_id, &cur, &err), 0);
	assert_int_equal(config_parse("config", yaml, strlen(yaml), &cfg, &errs), 0);
	snprintf(u.container_id, sizeof u.container_id, "%s", cid);
	u.kind = kind;
	u.state.strategy = model_choose_strategy(cfg->deploy.strategy, host, 0,
	                                         gpus_of(cur.config, host), gpus_of(yaml, host));
	snprintf(u.from_deployment_id, sizeof u.from_deployment_id, "%s", c.deployment_id);
	assert_int_equal(store_begin(fx->store, &err), 0);
	write_deployment(fx, cid, yaml, &dep);
	snprintf(u.to_deployment_id, sizeof u.to_deployment_id, "%s", dep.id);
	assert_int_equal(store_update_create(fx->store, &u, &err), 0);
	status = model_container_status_during(c.status, &u.state);
	assert_int_equal(lifecycle_container_set(&fx->lc, &c, status,
	                                         status != c.status ? "queued" : c.status_detail,
	                                         "update.pending", &err, "update pending"),
	                 0);
	assert_int_equal(store_commit(fx->store, &err), 0);
	model_enclave_name(dep.id, name);
	recon_kick(fx->recon, cid);
	config_free(cfg);
	store_update_clear(&u);
	store_deployment_clear(&dep);
	store_deployment_clear(&cur);
	store_container_clear(&c);
}

/* ---- what the store says ---- */

static enum container_status
ctr_status(struct fx *fx, const char *cid)
{
	struct store_container c = {0};
	struct err err = ERR_INIT;
	enum container_status s;

	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	s = c.status;
	store_container_clear(&c);
	return s;
}

/* The container's status_detail (caller frees), or NULL. */
static char *
ctr_detail(struct fx *fx, const char *cid)
{
	struct store_container c = {0};
	struct err err = ERR_INIT;
	char *d;

	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	d = take_ptr(&c.status_detail);
	store_container_clear(&c);
	return d;
}

static int
ctr_gone(struct fx *fx, const char *cid)
{
	struct store_container c = {0};
	struct err err = ERR_INIT;
	int rc = store_container_get(fx->store, cid, &c, &err);

	store_container_clear(&c);
	return rc == STORE_ENOTFOUND;
}

/* The latest update of cid into u (cleared by the caller). */
static void
latest_update(struct fx *fx, const char *cid, struct store_update *u)
{
	struct err err = ERR_INIT;

	store_update_clear(u);
	assert_int_equal(store_update_latest(fx->store, cid, u, &err), 0);
}

static int
update_finished(struct fx *fx, const char *cid)
{
	struct store_update u = {0};
	int done;

	latest_update(fx, cid, &u);
	done = u.state.finished;
	store_update_clear(&u);
	return done;
}

/* The state of the enclave named name of cid, -1 when it has no row. */
static int
enclave_state_of(struct fx *fx, const char *cid, const char *name)
{
	struct store_enclave *v = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;
	int s = -1;

	assert_int_equal(store_enclave_list(fx->store, cid, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			s = (int)v[i].state;
	store_enclave_list_free(v, n);
	return s;
}

/* How many events of kind cid has whose message is message (exact), or
 * holds part (part: 1), or anything (message NULL). */
static int
events_saying(struct fx *fx, const char *cid, const char *kind, const char *message, int part)
{
	struct store_event *v = NULL;
	struct err err = ERR_INIT;
	size_t n = 0;
	int found = 0;

	assert_int_equal(store_event_list(fx->store, fx->org_id, cid, 0, 0, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		found += strcmp(v[i].kind, kind) == 0 &&
		         (message == NULL || (part ? strstr(v[i].message, message) != NULL
		                                   : strcmp(v[i].message, message) == 0));
	store_event_list_free(v, n);
	return found;
}

/* Whether cid has an event of kind that says message (NULL: anything). */
static int
has_event_saying(struct fx *fx, const char *cid, const char *kind, const char *message)
{
	return events_saying(fx, cid, kind, message, 0) > 0;
}

/* How many events of kind cid has whose message holds part. */
static int
events_containing(struct fx *fx, const char *cid, const char *kind, const char *part)
{
	return events_saying(fx, cid, kind, part, 1);
}

/* Whether cid has an event of kind. */
static int
has_event(struct fx *fx, const char *cid, const char *kind)
{
	return has_event_saying(fx, cid, kind, NULL);
}

/* A running container web of yaml: created and deployed. */
static void
running_container(struct fx *fx, const char *yaml, store_id cid,
                  char name[MODEL_ENCLAVE_NAME_LEN + 1])
{
	create_container(fx, yaml, cid, name);
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_RUNNING, 5000);
	/* The route to it follows the status. */
	RUN_UNTIL(fx, fake_call_index(&fx->host, 0, "route " HOST " serve") >= 0, 5000);
}

/* ---- first deploy ---- */

static void
test_first_deploy(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	store_id cid;
	int down, boot, serve;

	fx_recon_start(fx);
	/* At start: the router's table, nothing to remove; with the peer key
	 * (32 random bytes in hex) that routers forward with. */
	assert_int_equal(fake_call_count(&fx->host, "table"), 1);
	assert_int_equal(strlen(fx->host.peer_key), 64);
	assert_int_equal(strspn(fx->host.peer_key, "0123456789abcdef"), 64);
	running_container(fx, CONFIG_OK, cid, name);
	assert_int_equal(enclave_state_of(fx, cid, name), ENCLAVE_HEALTHY);
	assert_true(fake_runs(&fx->host, name));
	/* The route first: down while nothing serves, before the boot; then
	 * the healthy enclave. */
	down = fake_call_index(&fx->host, 0, "route " HOST " down");
	boot = fake_call_index(&fx->host, 0, "boot ");
	serve = fake_call_index(&fx->host, 0, "route " HOST " serve 10.0.0.1:8000");
	assert_true(down >= 0 && down < boot && boot < serve);
	assert_int_equal(fake_call_count(&fx->host, "boot "), 1);
	assert_true(has_event(fx, cid, "container.running"));
	detail = ctr_detail(fx, cid);
	assert_null(detail);
}

static void
test_first_deploy_gate_fails(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	store_id cid;

	fx_recon_start(fx);
	create_container(fx, CONFIG_OK, cid, name);
	fake_script(&fx->host, &fx->host.unhealthy, name);
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_FAILED, 5000);
	detail = ctr_detail(fx, cid);
	assert_non_null(detail);
	assert_non_null(strstr(detail, "scripted: unhealthy"));
	free(detail);
	assert_true(has_event(fx, cid, "container.failed"));
	/* The failed enclave is removed; its row says why. */
	RUN_UNTIL(fx, enclave_state_of(fx, cid, name) == ENCLAVE_STOPPED, 5000);
	assert_false(fake_runs(&fx->host, name));
	assert_int_equal(fake_call_index(&fx->host, 0, "route " HOST " serve"), -1);
	/* A production container keeps no logs. */
	assert_int_equal(fake_call_index(&fx->host, 0, "keep-logs "), -1);
}

/* A debug container's failed version keeps its logs, before its enclave
 * goes; a production one's does not. */
static void
test_failed_debug_version_keeps_its_logs(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], keep[128], destroy[128];
	store_id cid;

	fx->debug = 1;
	fx_recon_start(fx);
	create_container(fx, CONFIG_OK, cid, name);
	fake_script(&fx->host, &fx->host.unhealthy, name);
	RUN_UNTIL(fx, enclave_state_of(fx, cid, name) == ENCLAVE_STOPPED, 5000);
	snprintf(keep, sizeof keep, "keep-logs %s ", name);
	snprintf(destroy, sizeof destroy, "destroy %s", name);
	assert_true(fake_call_index(&fx->host, 0, keep) >= 0);
	assert_true(fake_call_index(&fx->host, 0, keep) < fake_call_index(&fx->host, 0, destroy));
}

static void
test_first_deploy_boot_fails(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	store_id cid;

	fx_recon_start(fx);
	create_container(fx, CONFIG_OK, cid, name);
	fake_script(&fx->host, &fx->host.boot_fails, name);
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_FAILED, 5000);
	detail = ctr_detail(fx, cid);
	assert_non_null(strstr(detail, "manifest unknown (scripted)"));
	free(detail);
}

/* An exec check prints a secret's value: the gate's verdict, the
 * container's status_detail and its events show "[secret NAME]" instead. */
static void
test_exec_check_output_redacted(void **state)
{
	static const char value[] = "hunter2-but-longer";
	struct fx *fx = *state;
	unsigned char bytes[SECRET_KEY_BYTES], nonce[SECRET_NONCE_BYTES], *sealed = NULL;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	struct store_event *v = NULL;
	struct err err = ERR_INIT;
	size_t sealed_len = 0, n = 0;
	store_id cid;
	int named = 0;

	memset(bytes, 7, sizeof bytes);
	fx->key = secret_key_from_bytes(bytes);
	assert_int_equal(secret_seal(fx->key, fx->org_id, "API_KEY", value, strlen(value), &sealed,
	                             &sealed_len, nonce, &err),
	                 0);
	assert_int_equal(store_secret_put(fx->store, fx->org_id, "API_KEY", sealed, sealed_len,
	                                  nonce, sizeof nonce, &err),
	                 0);
	free(sealed);
	fx->secrets_json = "[\"API_KEY\"]";
	fx->host.exec_output = xasprintf("refused: token %s is not the one\n", value);
	fx->host.exec_exit = 1;
	fx_recon_start(fx);
	create_container(fx, CONFIG_EXEC, cid, name);
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_FAILED, 8000);
	assert_true(fake_call_count(&fx->host, "exec check") >= 1);
	detail = ctr_detail(fx, cid);
	assert_non_null(strstr(detail, "[secret API_KEY]"));
	assert_null(strstr(detail, value));
	free(detail);
	assert_int_equal(store_event_list(fx->store, fx->org_id, cid, 0, 0, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		assert_null(strstr(v[i].message, value));
		named |= strstr(v[i].message, "[secret API_KEY]") != NULL;
	}
	store_event_list_free(v, n);
	assert_true(named);
}

/* ---- blue-green ---- */

static void
test_blue_green(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1];
	struct store_update u = {0};
	store_id cid;
	int from, serve_new, destroy_old;

	fx_recon_start(fx);
	running_container(fx, CONFIG_OK, cid, old);
	/* The old one still has a request in flight when traffic moves. */
	fake_set_in_flight(&fx->host, "10.0.0.1:8000", 1);
	from = fake_call_index(&fx->host, 0, "route " HOST " serve") + 1;
	create_update(fx, cid, UPDATE_KIND_EDIT_CONFIG, CONFIG_OK, new);
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.strategy, STRATEGY_BLUE_GREEN);
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " serve 10.0.0.2:8000") >= 0,
	          5000);
	/* Switched; the old one drains: it is not removed while busy. */
	latest_update(fx, cid, &u);
	assert_true(u.state.switched);
	assert_int_equal(u.state.status, UPDATE_READY);
	RUN_UNTIL(fx, fake_call_count(&fx->host, "counters") >= 2, 3000);
	assert_true(fake_runs(&fx->host, old));
	assert_int_equal(enclave_state_of(fx, cid, old), ENCLAVE_STOPPING);
	fake_set_in_flight(&fx->host, "10.0.0.1:8000", 0);
	RUN_UNTIL(fx, update_finished(fx, cid), 5000);
	serve_new = fake_call_index(&fx->host, from, "route " HOST " serve 10.0.0.2:8000");
	destroy_old = fake_call_index(&fx->host, from, "destroy ");
	assert_true(serve_new < destroy_old);
	assert_false(fake_runs(&fx->host, old));
	assert_int_equal(enclave_state_of(fx, cid, old), ENCLAVE_STOPPED);
	assert_int_equal(enclave_state_of(fx, cid, new), ENCLAVE_HEALTHY);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.status, UPDATE_READY);
	assert_true(u.state.finished);
	assert_non_null(u.health_log_json);
	assert_non_null(strstr(u.health_log_json, "scripted: healthy"));
	assert_true(has_event(fx, cid, "update.started"));
	assert_true(has_event(fx, cid, "update.ready"));
	assert_true(has_event(fx, cid, "update.switched"));
	assert_true(has_event(fx, cid, "update.finished"));
	store_update_clear(&u);
}

/* The old version still has a request in flight when its drain-timeout
 * (3s) ends: it is removed then, not before, and the update finishes. */
static void
test_drain_timeout_with_requests_in_flight(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1];
	int64_t switched;
	store_id cid;
	int from;

	fx_recon_start(fx);
	running_container(fx, CONFIG_OK, cid, old);
	fake_set_in_flight(&fx->host, "10.0.0.1:8000", 1); /* and it stays */
	from = fake_call_index(&fx->host, 0, "route " HOST " serve") + 1;
	create_update(fx, cid, UPDATE_KIND_EDIT_CONFIG, CONFIG_OK, new);
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " serve 10.0.0.2:8000") >= 0,
	          5000);
	switched = now_mono_ms();
	/* Draining, still busy: kept while the timeout runs. */
	RUN_UNTIL(fx, fake_call_count(&fx->host, "counters") >= 2, 3000);
	run_for(fx, 1500 - (now_mono_ms() - switched));
	assert_true(fake_runs(&fx->host, old));
	assert_int_equal(enclave_state_of(fx, cid, old), ENCLAVE_STOPPING);
	assert_false(update_finished(fx, cid));
	/* Removed once the timeout passed, its request still in flight. */
	RUN_UNTIL(fx, !fake_runs(&fx->host, old), 8000);
	assert_true(now_mono_ms() - switched >= 3000);
	RUN_UNTIL(fx, update_finished(fx, cid), 5000);
	assert_int_equal(enclave_state_of(fx, cid, old), ENCLAVE_STOPPED);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
}

static void
test_blue_green_fails(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1];
	char destroy_old[64];
	struct store_update u = {0};
	store_id cid;
	int from;

	fx_recon_start(fx);
	running_container(fx, CONFIG_OK, cid, old);
	from = fake_call_index(&fx->host, 0, "route " HOST " serve") + 1;
	create_update(fx, cid, UPDATE_KIND_EDIT_CONFIG, CONFIG_OK, new);
	fake_script(&fx->host, &fx->host.unhealthy, new);
	RUN_UNTIL(fx, update_finished(fx, cid), 5000);
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.status, UPDATE_FAILED);
	assert_false(u.state.switched);
	assert_non_null(u.error);
	assert_non_null(strstr(u.error, "scripted: unhealthy"));
	assert_true(has_event(fx, cid, "update.failed"));
	/* The new one goes; the old one never noticed. */
	RUN_UNTIL(fx, enclave_state_of(fx, cid, new) == ENCLAVE_STOPPED, 5000);
	run_for(fx, 300);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_int_equal(enclave_state_of(fx, cid, old), ENCLAVE_HEALTHY);
	assert_true(fake_runs(&fx->host, old));
	snprintf(destroy_old, sizeof destroy_old, "destroy %s", old);
	assert_int_equal(fake_call_index(&fx->host, 0, destroy_old), -1);
	/* No route ever left it. */
	assert_int_equal(fake_call_index(&fx->host, from, "route " HOST " serve 10.0.0.2"), -1);
	store_update_clear(&u);
}

/* A running container whose update's new enclave (named new) is in its
 * health gate, which it does not pass. */
static void
update_in_gate(struct fx *fx, store_id cid, char old[MODEL_ENCLAVE_NAME_LEN + 1],
               char new[MODEL_ENCLAVE_NAME_LEN + 1])
{
	struct store_update u = {0};

	fx_recon_start(fx);
	running_container(fx, CONFIG_OK, cid, old);
	create_update(fx, cid, UPDATE_KIND_EDIT_CONFIG, CONFIG_SLOW, new);
	fake_script(&fx->host, &fx->host.unhealthy, new);
	RUN_UNTIL(fx, enclave_state_of(fx, cid, new) == ENCLAVE_BOOTING, 5000);
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.status, UPDATE_STARTED);
	store_update_clear(&u);
}

/* Cancels the update of cid as POST .../cancel does, or with delete as
 * DELETE /containers/{name} does (cancel, then mark deleted). */
static void
cancel_update(struct fx *fx, const char *cid, int delete)
{
	struct store_container c = {0};
	struct store_update u = {0};
	struct err err = ERR_INIT;

	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	assert_int_equal(store_begin(fx->store, &err), 0);
	assert_int_equal(lifecycle_update_cancel(&fx->lc, &c, &u, NULL, &err), 0);
	if (delete)
		assert_int_equal(store_container_mark_deleted(fx->store, cid, &err), 0);
	assert_int_equal(store_commit(fx->store, &err), 0);
	recon_kick(fx->recon, cid);
	store_update_clear(&u);
	store_container_clear(&c);
}

/* Cancels the update of cid in its gate: its new enclave goes, the update
 * says cancelled. */
static void
cancel_and_see_it_go(struct fx *fx, const char *cid, const char *new)
{
	struct store_update u = {0};

	cancel_update(fx, cid, 0);
	RUN_UNTIL(fx, enclave_state_of(fx, cid, new) == ENCLAVE_STOPPED, 5000);
	assert_false(fake_runs(&fx->host, new));
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.status, UPDATE_CANCELLED);
	/* the event names the kind of the update cancelled (an edit-config) */
	assert_true(
	    has_event_saying(fx, cid, "update.cancelled", "edit-config update of web cancelled"));
	store_update_clear(&u);
}

static void
test_cancel(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1];
	store_id cid;

	update_in_gate(fx, cid, old, new);
	cancel_and_see_it_go(fx, cid, new);
	run_for(fx, 300);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_int_equal(enclave_state_of(fx, cid, old), ENCLAVE_HEALTHY);
	assert_true(fake_runs(&fx->host, old));
}

/* ---- recreate (GPUs) ---- */

/* A running container web of CONFIG_GPU on a host with one GPU, and an
 * update of it to yaml written: a recreate. */
static void
recreate_update(struct fx *fx, const char *yaml, store_id cid, char old[MODEL_ENCLAVE_NAME_LEN + 1],
                char new[MODEL_ENCLAVE_NAME_LEN + 1])
{
	fx->host.gpus = 1;
	fx_recon_start(fx);
	running_container(fx, CONFIG_GPU, cid, old);
	create_update(fx, cid, UPDATE_KIND_EDIT_CONFIG, yaml, new);
}

static void
test_recreate(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1], line[64];
	struct store_update u = {0};
	store_id cid;
	int from, hold, destroy_old, boot_new, serve_new;

	recreate_update(fx, CONFIG_GPU, cid, old, new);
	from = fake_call_index(&fx->host, 0, "route " HOST " serve") + 1;
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.strategy, STRATEGY_RECREATE);
	assert_int_equal(u.state.phase, PHASE_STOPPING);
	RUN_UNTIL(fx, update_finished(fx, cid), 8000);
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.status, UPDATE_READY);
	assert_true(has_event(fx, cid, "update.deploying"));
	/* Hold, the old one stops, only then the new one boots; then it serves. */
	hold = fake_call_index(&fx->host, from, "route " HOST " hold");
	snprintf(line, sizeof line, "destroy %s", old);
	destroy_old = fake_call_index(&fx->host, from, line);
	snprintf(line, sizeof line, "boot %s", new);
	boot_new = fake_call_index(&fx->host, from, line);
	serve_new = fake_call_index(&fx->host, from, "route " HOST " serve 10.0.0.2:8000");
	assert_true(hold >= 0 && hold < destroy_old && destroy_old < boot_new &&
	            boot_new < serve_new);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_int_equal(enclave_state_of(fx, cid, new), ENCLAVE_HEALTHY);
	store_update_clear(&u);
}

/* Adds the container's status_detail to *seen when it differs from the
 * last one there (NULL as ""): each change once, in order. */
static void
record_detail(struct fx *fx, const char *cid, char ***seen)
{
	char *d = ctr_detail(fx, cid);
	size_t n = strv_len(*seen);

	if (n == 0 || strcmp((*seen)[n - 1], d != NULL ? d : "") != 0)
		*seen = strv_push(*seen, d != NULL ? d : "");
	free(d);
}

/* RUN_UNTIL, recording the status_detail of cid into seen at each turn. */
#define DETAILS_UNTIL(fx, cid, seen, cond, ms)                                                     \
	RUN_UNTIL(fx, (record_detail(fx, cid, &(seen)), (cond)), ms)

/* Index of the first entry of v at or after from equal to s, -1 when none. */
static int
strv_index(char **v, int from, const char *s)
{
	for (int i = from; v != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return i;
	return -1;
}

/* A recreate's progress as GET /containers shows it: the old version
 * stopping, the new one deploying, then nothing (running). */
static void
test_recreate_status_detail_progress(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1];
	char **seen = NULL;
	store_id cid;
	int stopping, deploying;

	recreate_update(fx, CONFIG_GPU, cid, old, new);
	/* A request in flight keeps the old one stopping for a while. */
	fake_set_in_flight(&fx->host, "10.0.0.1:8000", 1);
	DETAILS_UNTIL(fx, cid, seen, fake_call_count(&fx->host, "counters") >= 2, 5000);
	fake_set_in_flight(&fx->host, "10.0.0.1:8000", 0);
	DETAILS_UNTIL(fx, cid, seen,
	              update_finished(fx, cid) && ctr_status(fx, cid) == CONTAINER_RUNNING, 8000);
	DETAILS_UNTIL(fx, cid, seen, strcmp(seen[strv_len(seen) - 1], "") == 0, 3000);
	stopping = strv_index(seen, 0, "stopping the old version");
	deploying = strv_index(seen, 0, "deploying the new version");
	assert_true(stopping >= 0);
	assert_true(deploying > stopping);
	assert_true(strv_index(seen, deploying, "") > deploying);
	strv_free(seen);
}

/* A recreate cancelled after the old version stopped, while the new one is
 * in its gate: the new one goes, nothing serves, and the container says
 * so (failed, to be retried); the route does not serve again. */
static void
test_recreate_cancelled(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	store_id cid;
	int from;

	recreate_update(fx, CONFIG_GPU_SLOW, cid, old, new);
	fake_script(&fx->host, &fx->host.unhealthy, new);
	RUN_UNTIL(fx, enclave_state_of(fx, cid, new) == ENCLAVE_BOOTING, 8000);
	assert_false(fake_runs(&fx->host, old));
	from = fake_call_index(&fx->host, 0, "route " HOST " hold");
	assert_true(from >= 0);
	cancel_and_see_it_go(fx, cid, new);
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_FAILED, 5000);
	detail = ctr_detail(fx, cid);
	assert_non_null(detail);
	assert_non_null(strstr(detail, "cancelled after the old version stopped"));
	free(detail);
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " down") >= 0, 5000);
	run_for(fx, 300);
	assert_int_equal(fake_call_index(&fx->host, from, "route " HOST " serve"), -1);
	assert_int_equal(fake_call_count(&fx->host, "boot "), 2);
}

static void
test_recreate_fails_then_retry(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1];
	char again[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	struct store_update u = {0};
	store_id cid;
	int from;

	recreate_update(fx, CONFIG_GPU, cid, old, new);
	fake_script(&fx->host, &fx->host.unhealthy, new);
	RUN_UNTIL(fx, update_finished(fx, cid), 8000);
	latest_update(fx, cid, &u);
	assert_int_equal(u.state.status, UPDATE_FAILED);
	/* Nothing serves: the container failed, the route is down (503). */
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_FAILED, 3000);
	detail = ctr_detail(fx, cid);
	assert_non_null(strstr(detail, "update failed"));
	free(detail);
	from = fake_call_index(&fx->host, 0, "route " HOST " hold");
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " down") >= 0, 3000);
	assert_false(fake_runs(&fx->host, old));
	RUN_UNTIL(fx, enclave_state_of(fx, cid, new) == ENCLAVE_STOPPED, 3000);

	/* retry: a new deployment of the failed one's config, healthy now. */
	from = fake_call_index(&fx->host, from, "route " HOST " down") + 1;
	create_update(fx, cid, UPDATE_KIND_RETRY, CONFIG_GPU, again);
	RUN_UNTIL(fx, update_finished(fx, cid), 8000);
	latest_update(fx, cid, &u);
	assert_int_equal(u.kind, UPDATE_KIND_RETRY);
	assert_int_equal(u.state.status, UPDATE_READY);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_int_equal(enclave_state_of(fx, cid, again), ENCLAVE_HEALTHY);
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " serve") >= 0, 3000);
	store_update_clear(&u);
}

/* ---- delete ---- */

static void
test_delete(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1];
	store_id cid;

	/* An update in progress goes with it. */
	update_in_gate(fx, cid, old, new);
	cancel_update(fx, cid, 1);
	RUN_UNTIL(fx, ctr_gone(fx, cid), 5000);
	assert_false(fake_runs(&fx->host, old));
	assert_false(fake_runs(&fx->host, new));
	/* The route went first, both hosts of it. */
	assert_true(fake_call_index(&fx->host, 0, "unroute " HOST) >= 0);
	assert_true(fake_call_index(&fx->host, 0, "unroute web.acme.debug." DOMAIN) >= 0);
	assert_true(fake_call_index(&fx->host, 0, "unroute " HOST) <
	            fake_call_index(&fx->host, 0, "destroy "));
	assert_true(has_event(fx, cid, "container.deleted"));
	/* What was kept of its failed versions goes with it. */
	assert_true(fake_call_index(&fx->host, 0, "drop-logs ") >= 0);
}

/* ---- the monitor ---- */

static void
test_monitor_finds_stopped(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	store_id cid;
	int from;

	fx_recon_start(fx);
	running_container(fx, CONFIG_OK, cid, name);
	from = fake_call_index(&fx->host, 0, "route " HOST " serve") + 1;
	fake_set_observed(&fx->host, name, ENCLAVE_OBSERVED_STOPPED);
	/* The monitor looks every 5 s. */
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_FAILED, 8000);
	detail = ctr_detail(fx, cid);
	assert_non_null(strstr(detail, "the running enclave stopped: its containers are stopped"));
	free(detail);
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " down") >= 0, 3000);
	RUN_UNTIL(fx, !fake_runs(&fx->host, name), 3000);
}

/* ---- the router ---- */

static void
test_router_down_retried(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	store_id cid;

	fx_recon_start(fx);
	fake_set_router(&fx->host, 0);
	create_container(fx, CONFIG_OK, cid, name);
	/* The route is refused, so nothing moves on; the router is looked at
	 * and started again, and gets the whole table. */
	RUN_UNTIL(fx, fake_refused(&fx->host) >= 1, 3000);
	assert_int_equal(fake_call_count(&fx->host, "boot "), 0);
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_RUNNING, 8000);
	assert_true(fake_call_count(&fx->host, "spawn") >= 1);
	assert_true(fake_call_count(&fx->host, "table") >= 2);
	assert_true(fake_call_index(&fx->host, 0, "spawn") <
	            fake_call_index(&fx->host, 0, "boot "));
}

/* The router answers with a table older than the one berthd pushed (its
 * table lost without a restart berthd saw): berthd pushes the whole table
 * again at its next look, without starting a router. */
static void
test_router_with_an_older_generation_gets_the_table_again(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	store_id cid;
	int tables;
	int64_t ours;

	fx_recon_start(fx);
	running_container(fx, CONFIG_OK, cid, name);
	tables = fake_call_count(&fx->host, "table");
	pthread_mutex_lock(&fx->host.mu);
	ours = fx->host.generation;
	fx->host.generation = 1;
	pthread_mutex_unlock(&fx->host.mu);
	RUN_UNTIL(fx, fake_call_count(&fx->host, "table") > tables, 5000);
	pthread_mutex_lock(&fx->host.mu);
	assert_true(fx->host.generation > ours);
	pthread_mutex_unlock(&fx->host.mu);
	assert_int_equal(fake_call_count(&fx->host, "spawn"), 0);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	/* Once the router has it, it is not pushed again. */
	tables = fake_call_count(&fx->host, "table");
	run_for(fx, 2500);
	assert_int_equal(fake_call_count(&fx->host, "table"), tables);
}

/* ---- crash resume: a fresh reconciler on rows a crash left ---- */

/* An enclave row of deployment did of cid, as a crashed berthd left it. */
static void
write_enclave(struct fx *fx, const char *cid, const char *did, enum enclave_state s,
              const char *address)
{
	struct store_enclave e = {0};
	struct err err = ERR_INIT;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];

	model_enclave_name(did, name);
	snprintf(e.container_id, sizeof e.container_id, "%s", cid);
	snprintf(e.deployment_id, sizeof e.deployment_id, "%s", did);
	e.name = name;
	e.state = s;
	e.address = (char *)address;
	assert_int_equal(store_enclave_create(fx->store, &e, &err), 0);
}

/* The update of cid in state status (switched), as a crash left it. */
static void
set_update(struct fx *fx, const char *cid, enum update_status status, int switched)
{
	struct store_update u = {0};
	struct err err = ERR_INIT;

	latest_update(fx, cid, &u);
	u.state.status = status;
	u.state.switched = switched;
	assert_int_equal(store_update_save(fx->store, &u, &err), 0);
	store_update_clear(&u);
}

/* A running container and an update to a second deployment, written
 * without a reconciler; the host runs the old one (and new when asked). */
static void
crashed_update(struct fx *fx, store_id cid, char old[MODEL_ENCLAVE_NAME_LEN + 1],
               char new[MODEL_ENCLAVE_NAME_LEN + 1], store_id new_did)
{
	struct store_container c = {0};
	struct store_update u = {0};
	struct err err = ERR_INIT;
	struct fake_enclave *fe;
	char *addr;

	fx_recon_new(fx); /* create_update kicks it; it is not started */
	create_container(fx, CONFIG_OK, cid, old);
	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	fe = fake_add(&fx->host, old);
	addr = xasprintf("%s:8000", fe->ip);
	write_enclave(fx, cid, c.deployment_id, ENCLAVE_HEALTHY, addr);
	free(addr);
	assert_int_equal(
	    lifecycle_container_set(&fx->lc, &c, CONTAINER_RUNNING, NULL, NULL, &err, NULL), 0);
	create_update(fx, cid, UPDATE_KIND_EDIT_CONFIG, CONFIG_OK, new);
	latest_update(fx, cid, &u);
	snprintf(new_did, sizeof(store_id), "%s", u.to_deployment_id);
	recon_free(take_ptr(&fx->recon));
	store_update_clear(&u);
	store_container_clear(&c);
}

static void
test_resume_creating(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1], line[64];
	store_id cid, did;

	crashed_update(fx, cid, old, new, did);
	/* Killed after the row, before the boot finished. */
	write_enclave(fx, cid, did, ENCLAVE_CREATING, NULL);
	fake_add(&fx->host, "e-orphan0000");
	fx_recon_start(fx);
	/* The orphan went at once; the serving one was adopted. */
	assert_true(fake_call_index(&fx->host, 0, "destroy e-orphan0000") >= 0);
	assert_int_equal(fake_call_index(&fx->host, 0, "destroy e-orphan0000"),
	                 fake_call_index(&fx->host, 0, "destroy "));
	assert_false(fake_runs(&fx->host, "e-orphan0000"));
	snprintf(line, sizeof line, "adopt %s", old);
	assert_true(fake_call_index(&fx->host, 0, line) >= 0);
	RUN_UNTIL(fx, update_finished(fx, cid), 8000);
	/* The interrupted attempt was booted again, its leftovers removed. */
	snprintf(line, sizeof line, "boot-resume %s", new);
	assert_true(fake_call_index(&fx->host, 0, line) >= 0);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_int_equal(enclave_state_of(fx, cid, new), ENCLAVE_HEALTHY);
	assert_int_equal(enclave_state_of(fx, cid, old), ENCLAVE_STOPPED);
	assert_false(fake_runs(&fx->host, old));
}

static void
test_resume_booting(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1], line[64];
	struct fake_enclave *fe;
	store_id cid, did;
	char *addr;

	crashed_update(fx, cid, old, new, did);
	/* Killed while its gate ran: the host runs it, the row is booting. */
	fe = fake_add(&fx->host, new);
	addr = xasprintf("%s:8000", fe->ip);
	write_enclave(fx, cid, did, ENCLAVE_BOOTING, addr);
	set_update(fx, cid, UPDATE_STARTED, 0);
	fx_recon_start(fx);
	RUN_UNTIL(fx, update_finished(fx, cid), 8000);
	/* Taken back, not booted again. */
	snprintf(line, sizeof line, "adopt %s", new);
	assert_true(fake_call_index(&fx->host, 0, line) >= 0);
	assert_int_equal(fake_call_count(&fx->host, "boot"), 0);
	snprintf(line, sizeof line, "route " HOST " serve %s", addr);
	assert_true(fake_call_index(&fx->host, 0, line) >= 0);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_false(fake_runs(&fx->host, old));
	free(addr);
}

static void
test_resume_switched(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1], line[64];
	struct fake_enclave *fe;
	store_id cid, did;
	char *addr;
	int serve;

	crashed_update(fx, cid, old, new, did);
	/* Killed right after the switch was written: the route may not have
	 * followed yet. */
	fe = fake_add(&fx->host, new);
	addr = xasprintf("%s:8000", fe->ip);
	write_enclave(fx, cid, did, ENCLAVE_HEALTHY, addr);
	set_update(fx, cid, UPDATE_STARTED, 0);
	set_update(fx, cid, UPDATE_READY, 0);
	set_update(fx, cid, UPDATE_READY, 1);
	fx_recon_start(fx);
	RUN_UNTIL(fx, update_finished(fx, cid), 8000);
	/* The whole table at start has the new one; the old one goes after. */
	serve = fake_call_index(&fx->host, 0, "table");
	snprintf(line, sizeof line, "destroy %s", old);
	assert_true(serve >= 0 && serve < fake_call_index(&fx->host, 0, line));
	assert_int_equal(fake_call_count(&fx->host, "boot"), 0);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_int_equal(enclave_state_of(fx, cid, new), ENCLAVE_HEALTHY);
	assert_true(fake_runs(&fx->host, new));
	assert_false(fake_runs(&fx->host, old));
	free(addr);
}

/* A berthd stopped mid-gate and started again: the same reconciler code,
 * a new instance, the same store and host. */
static void
test_restart_mid_update(void **state)
{
	struct fx *fx = *state;
	char old[MODEL_ENCLAVE_NAME_LEN + 1], new[MODEL_ENCLAVE_NAME_LEN + 1], line[64];
	store_id cid;

	update_in_gate(fx, cid, old, new);
	fx_recon_stop(fx);
	/* Healthy now: the new reconciler adopts it and finishes. */
	pthread_mutex_lock(&fx->host.mu);
	strv_free(take_ptr(&fx->host.unhealthy));
	pthread_mutex_unlock(&fx->host.mu);
	fx_recon_start(fx);
	RUN_UNTIL(fx, update_finished(fx, cid), 8000);
	snprintf(line, sizeof line, "adopt %s", new);
	assert_true(fake_call_index(&fx->host, 0, line) >= 0);
	assert_int_equal(fake_call_count(&fx->host, "boot "), 2);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_false(fake_runs(&fx->host, old));
}

/* ---- the config's restart ---- */

/* `restart: always`: the stopped enclave is replaced by a new one of the
 * same deployment; the route holds meanwhile; the container never fails. */
static void
test_restart_always_brings_it_back(void **state)
{
	struct fx *fx = *state;
	struct err err = ERR_INIT;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], destroy[64];
	struct store_container c = {0};
	store_id cid;
	int from, hold, serve;
	int64_t end;

	fx_recon_start(fx);
	running_container(fx, CONFIG_RESTART("always"), cid, name);
	from = fake_call_index(&fx->host, 0, "route " HOST " serve") + 1;
	fake_set_observed(&fx->host, name, ENCLAVE_OBSERVED_STOPPED);
	/* The monitor looks every 5 s; the container stays running. */
	end = now_mono_ms() + 10000;
	while (!has_event(fx, cid, "container.restarted")) {
		assert_true(now_mono_ms() < end);
		assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " serve 10.0.0.2:8000") >= 0,
	          3000);
	/* In order: the route holds, the stopped enclave goes, the same
	 * deployment boots again, the route serves the new one. */
	hold = fake_call_index(&fx->host, from, "route " HOST " hold");
	snprintf(destroy, sizeof destroy, "destroy %s", name);
	serve = fake_call_index(&fx->host, from, "route " HOST " serve 10.0.0.2:8000");
	assert_true(hold >= 0 && hold < fake_call_index(&fx->host, from, destroy));
	assert_true(fake_call_index(&fx->host, from, destroy) <
	            fake_call_index(&fx->host, from, "boot "));
	assert_true(fake_call_index(&fx->host, from, "boot ") < serve);
	assert_int_equal(fake_call_count(&fx->host, "boot "), 2);
	assert_int_equal(fake_call_index(&fx->host, from, "route " HOST " down"), -1);
	assert_int_equal(
	    events_containing(fx, cid, "container.restarting",
	                      "restarting (restart 1) in 0.1 s: the running enclave stopped"),
	    1);
	assert_int_equal(events_containing(fx, cid, "container.restarted",
	                                   "restarted (restart 1): the new enclave is healthy"),
	                 1);
	assert_false(has_event(fx, cid, "container.failed"));
	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	assert_int_equal(c.status, CONTAINER_RUNNING);
	assert_null(c.status_detail);
	assert_int_equal(c.restarts, 1);
	assert_int_equal(c.restart_attempts, 1);
	assert_int_equal(c.restart_at, 0);
	store_container_clear(&c);
}

/* `on-failure:3` whose restarts fail to boot: three attempts, each after a
 * doubled wait, then failed with the reason. */
static void
test_restart_on_failure_gives_up(void **state)
{
	struct fx *fx = *state;
	struct err err = ERR_INIT;
	char name[MODEL_ENCLAVE_NAME_LEN + 1], *detail;
	struct store_container c = {0};
	store_id cid;
	int from;

	fx_recon_start(fx);
	running_container(fx, CONFIG_RESTART("on-failure:3"), cid, name);
	from = fake_call_index(&fx->host, 0, "route " HOST " serve") + 1;
	fake_script(&fx->host, &fx->host.boot_fails, name);
	fake_set_observed(&fx->host, name, ENCLAVE_OBSERVED_STOPPED);
	RUN_UNTIL(fx, ctr_status(fx, cid) == CONTAINER_FAILED, 15000);
	detail = ctr_detail(fx, cid);
	assert_non_null(strstr(detail, "gave up after 3 restarts (on-failure:3): "));
	assert_non_null(strstr(detail, "manifest unknown (scripted)"));
	free(detail);
	assert_int_equal(fake_call_count(&fx->host, "boot "), 4);
	assert_int_equal(events_containing(fx, cid, "container.restarting", "(restart 1) in 0.1 s"),
	                 1);
	assert_int_equal(events_containing(fx, cid, "container.restarting", "(restart 2) in 0.2 s"),
	                 1);
	assert_int_equal(events_containing(fx, cid, "container.restarting", "(restart 3) in 0.4 s"),
	                 1);
	assert_int_equal(events_containing(fx, cid, "container.failed", "gave up after 3"), 1);
	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	assert_int_equal(c.restarts, 3);
	assert_int_equal(c.restart_at, 0);
	store_container_clear(&c);
	/* Nothing serves: the route says so. */
	RUN_UNTIL(fx, fake_call_index(&fx->host, from, "route " HOST " down") >= 0, 3000);
}

/* A reconciler stopped once the restart is decided: the next one goes on
 * with it, counted once. */
static void
test_restart_resumes_after_a_crash(void **state)
{
	struct fx *fx = *state;
	struct err err = ERR_INIT;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	struct store_container c = {0};
	store_id cid;

	fx_recon_start(fx);
	running_container(fx, CONFIG_RESTART("unless-stopped"), cid, name);
	fake_set_observed(&fx->host, name, ENCLAVE_OBSERVED_STOPPED);
	RUN_UNTIL(fx, has_event(fx, cid, "container.restarting"), 8000);
	fx_recon_stop(fx);
	fx_recon_start(fx);
	RUN_UNTIL(fx, has_event(fx, cid, "container.restarted"), 8000);
	RUN_UNTIL(fx, fake_call_index(&fx->host, 0, "route " HOST " serve 10.0.0.2:8000") >= 0,
	          3000);
	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	assert_int_equal(c.status, CONTAINER_RUNNING);
	assert_int_equal(c.restarts, 1);
	assert_int_equal(c.restart_at, 0);
	store_container_clear(&c);
	assert_true(fake_runs(&fx->host, name));
}

/* Moves the enclave rows of cid ms into the past, as if their last state
 * change were that old (SQL on the store's file: the store API writes
 * now). */
static void
age_enclaves(struct fx *fx, const char *cid, int64_t ms)
{
	char *db = xasprintf("%s/berth.db", fx->dir), *sql;
	sqlite3 *h = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	sql = sqlite3_mprintf("UPDATE enclave SET updated_at = updated_at - %lld"
	                      " WHERE container_id = %Q",
	                      (long long)ms, cid);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
	sqlite3_close(h);
	free(db);
}

static int64_t
ctr_restart_attempts(struct fx *fx, const char *cid)
{
	struct store_container c = {0};
	struct err err = ERR_INIT;
	int64_t n;

	assert_int_equal(store_container_get(fx->store, cid, &c, &err), 0);
	n = c.restart_attempts;
	store_container_clear(&c);
	return n;
}

/* on-failure:1 after a minute of health: the attempts count from 0 again,
 * so the next stop restarts instead of giving up. */
static void
test_restart_attempts_reset_after_a_minute_of_health(void **state)
{
	struct fx *fx = *state;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	store_id cid;

	fx_recon_start(fx);
	running_container(fx, CONFIG_RESTART("on-failure:1"), cid, name);
	fake_set_observed(&fx->host, name, ENCLAVE_OBSERVED_STOPPED);
	RUN_UNTIL(fx, has_event(fx, cid, "container.restarted"), 8000);
	assert_int_equal(ctr_restart_attempts(fx, cid), 1);
	/* Healthy, but not yet for a minute: nothing changes. */
	recon_kick(fx->recon, cid);
	run_for(fx, 300);
	assert_int_equal(ctr_restart_attempts(fx, cid), 1);
	age_enclaves(fx, cid, MODEL_RESTART_RESET_MS + 1000);
	recon_kick(fx->recon, cid);
	RUN_UNTIL(fx, ctr_restart_attempts(fx, cid) == 0, 3000);
	fake_set_observed(&fx->host, name, ENCLAVE_OBSERVED_STOPPED);
	RUN_UNTIL(fx, events_containing(fx, cid, "container.restarted", "(restart 2)") == 1, 8000);
	assert_int_equal(ctr_status(fx, cid), CONTAINER_RUNNING);
	assert_false(has_event(fx, cid, "container.failed"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_deploy, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_first_deploy_gate_fails, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_debug_version_keeps_its_logs, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_first_deploy_boot_fails, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_exec_check_output_redacted, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_blue_green, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_drain_timeout_with_requests_in_flight, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_blue_green_fails, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_recreate, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_recreate_status_detail_progress, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_recreate_cancelled, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_recreate_fails_then_retry, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_delete, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_monitor_finds_stopped, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_restart_always_brings_it_back, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_restart_on_failure_gives_up, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_restart_resumes_after_a_crash, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_restart_attempts_reset_after_a_minute_of_health,
	                                    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_router_down_retried, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_router_with_an_older_generation_gets_the_table_again, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_resume_creating, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_resume_booting, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_resume_switched, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_restart_mid_update, fx_setup, fx_teardown),
	};

	log_init("test_recon", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
