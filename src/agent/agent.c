/* agent: berth-agent's server (agent.h). The loop parses and answers; each
 * operation of the host runs on the workq and is answered when done. */
#include "agent/agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent-hollow.h"
#include "api/api-common.h"
#include "api/api-server.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "health/health.h"
#include "image/image.h"
#include "recon/recon-host.h"
#include "router/router_client.h"
#include "runtime/runtime.h"
#include "secret/redact.h"

/* How long a router start waits for the router's answer. */
#define AGENT_ROUTER_START_MS 3000

/* An enclave the agent booted or adopted, kept for exec (the reconciler's
 * struct enclave stays on berthd's side). Shared by workers: refs under
 * agent.lock. */
struct agent_enclave {
	char *name;        /* owned */
	struct enclave *e; /* owned */
	int refs;          /* the list's one, and each exec's */
	int listed;        /* still in the list */
	struct agent_enclave *next;
};

/* A boot in progress or done, until its caller has read its end. Loop
 * thread, except what the work fills before done() runs. */
struct agent_job {
	struct agent *a;
	int64_t id;
	int done;                             /* set on the loop when the work returned */
	_Atomic int percent;                  /* of the pull */
	_Atomic int booting;                  /* images in, enclave being created */
	json_t *body;                         /* owned: the request (its secrets wiped after) */
	struct config *cfg;                   /* owned */
	struct bundle_kv *settings, *secrets; /* owned arrays; strings in body */
	size_t n_settings, n_secrets;
	int rc;
	struct err err;
	struct enclave *enclave; /* owned: the booted one, until kept for exec */
	json_t *answer;          /* owned: its {name, ip, isolation} once booted */
	struct agent_job *next;
};

struct agent {
	struct agent_settings s;        /* strings borrowed */
	struct event_base *base;        /* owned */
	struct event *sigterm, *sigint; /* owned */
	struct workq *workq;            /* owned */
	struct runtime *rt;             /* owned */
	struct recon_host *host;        /* owned: the local operations (hollow ones with
	                                 * s.hollow) */
	struct recon_host *router_host; /* owned, s.hollow only: the router's operations */
	struct api_server *api;         /* owned */
	char *token;                    /* owned, wiped */
	char *router_socket;            /* owned */
	char *host_id;                  /* owned */
	char *advertise;                /* owned */
	char *router_peer;              /* owned "ip:port", or NULL: none to give */
	pthread_mutex_t lock;           /* enclaves */
	pthread_mutex_t spawn_lock;     /* one router start at a time */
	struct agent_enclave *enclaves;
	struct agent_job *jobs; /* loop thread */
	int64_t next_job;
	struct agent_beat *beats; /* owned array: one thread per berthd */
	size_t n_beats;           /* of them started */
	_Atomic int stopping;
};

/* ---- the enclaves kept for exec ---- */

static void
agent_enclave_put(struct agent *a, struct agent_enclave *ae)
{
	int last;

	pthread_mutex_lock(&a->lock);
	last = --ae->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (!last)
		return;
	enclave_free(ae->e);
	free(ae->name);
	free(ae);
}

/* Drops the list's reference to enclave name, if kept. */
static void
agent_enclave_forget(struct agent *a, const char *name)
{
	struct agent_enclave **p, *gone = NULL;

	pthread_mutex_lock(&a->lock);
	for (p = &a->enclaves; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0) {
			gone = *p;
			*p = gone->next;
			gone->listed = 0;
			break;
		}
	pthread_mutex_unlock(&a->lock);
	if (gone != NULL)
		agent_enclave_put(a, gone);
}

/* Keeps e (owned) as enclave e->name's, in place of an older one. */
static void
agent_enclave_keep(struct agent *a, struct enclave *e)
{
	struct agent_enclave *ae = xcalloc(1, sizeof *ae);

	agent_enclave_forget(a, e->name);
	ae->name = xstrdup(e->name);
	ae->e = e;
	ae->refs = 1;
	ae->listed = 1;
	pthread_mutex_lock(&a->lock);
	ae->next = a->enclaves;
	a->enclaves = ae;
	pthread_mutex_unlock(&a->lock);
}

/* A reference to enclave name (agent_enclave_put() it), adopted when not
 * kept yet (after the agent restarted). NULL with err when there is none. */
static struct agent_enclave *
agent_enclave_get(struct agent *a, const char *name, struct err *err)
{
	struct agent_enclave *ae;
	struct enclave *e = NULL;
	enum enclave_observed seen;

	pthread_mutex_lock(&a->lock);
	for (ae = a->enclaves; ae != NULL; ae = ae->next)
		if (strcmp(ae->name, name) == 0) {
			ae->refs++;
			break;
		}
	pthread_mutex_unlock(&a->lock);
	if (ae != NULL)
		return ae;
	if (a->host->ops->adopt(a->host, name, &e, &seen, err) < 0)
		return NULL;
	agent_enclave_keep(a, e);
	return agent_enclave_get(a, name, err);
}

/* ---- answers ---- */

static json_t *
agent_enclave_json(const struct enclave *e)
{
	return json_pack("{s:s, s:s?, s:s?}", "name", e->name, "ip", e->ip, "isolation",
	                 e->isolation);
}

/* Answers a failure: 404 for what the host does not have (ENOENT), 400 for
 * what the request got wrong (EINVAL), 504 for a timeout, 500 otherwise;
 * errno rides along for the caller's own tests (ETIMEDOUT of an exec). */
static void
agent_reply_err(struct api_req *r, const struct err *err)
{
	int code = err->code, status = 500;

	if (code == ENOENT)
		status = 404;
	else if (code == EINVAL)
		status = 400;
	api_reply_json(r, status,
	               json_pack("{s:{s:s, s:s, s:i}}", "error", "code",
	                         status == 404   ? "not_found"
	                         : status == 400 ? "invalid"
	                                         : "failed",
	                         "message", err->msg, "errno", code));
}

static void
agent_reply_bad(struct api_req *r, const char *msg)
{
	struct err err = ERR_INIT;

	err_make(&err, 0, "%s", msg);
	err.code = EINVAL;
	agent_reply_err(r, &err);
}

/* A name from the path: an enclave, a container id or a route's host
 * (letters, digits, '-', '_', '.'; not starting with '.'). */
static int
agent_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* ---- operations on workers ---- */

struct agent_call;
typedef void (*agent_work_fn)(struct agent_call *c);

/* One request whose work runs on a worker. */
struct agent_call {
	struct agent *a;
	struct api_req *r; /* NULL once its client went away */
	json_t *body;      /* owned or NULL */
	char *arg;         /* owned: the path's segment, or NULL */
	agent_work_fn work;
	int rc;
	struct err err;
	int status;  /* of a success; 200 when 0 */
	json_t *out; /* owned: the answer, or NULL for none */
};

static void
agent_call_on_close(struct evhttp_connection *conn, void *p)
{
	struct agent_call *c = p;
	struct api_req *r = take_ptr(&c->r);

	(void)conn;
	if (r != NULL)
		api_req_gone(r);
}

static void
agent_call_work(void *p)
{
	struct agent_call *c = p;

	c->work(c);
}

static void
agent_call_done(void *p)
{
	struct agent_call *c = p;

	if (c->r != NULL) {
		api_req_set_closecb(c->r, NULL, NULL);
		if (c->rc < 0)
			agent_reply_err(c->r, &c->err);
		else if (c->out != NULL)
			api_reply_json(c->r, c->status ? c->status : 200, take_ptr(&c->out));
		else
			api_reply_text(c->r, 204, NULL, NULL, 0);
	}
	json_decref(c->out);
	json_decref(c->body);
	free(c->arg);
	free(c);
}

/* Runs work for r on a worker, with r's JSON body when want_body (answered
 * 400 here when it has none) and its first path segment (checked). */
static void
agent_submit(struct api_req *r, agent_work_fn work, int want_body)
{
	struct agent *a = r->ctx;
	struct agent_call *c;
	json_t *body = NULL;

	if (r->n_captures > 0 && !agent_name_ok(r->captures[0])) {
		agent_reply_bad(r, "the path names no valid enclave, container or host");
		return;
	}
	if (want_body && (body = api_req_json(r)) == NULL)
		return;
	c = xcalloc(1, sizeof *c);
	c->a = a;
	c->r = r;
	c->body = body;
	c->arg = r->n_captures > 0 ? xstrdup(r->captures[0]) : NULL;
	c->work = work;
	api_req_set_closecb(r, agent_call_on_close, c);
	workq_submit(a->workq, agent_call_work, agent_call_done, c);
}

static void
work_adopt(struct agent_call *c)
{
	struct recon_host *h = c->a->host;
	struct enclave *e = NULL;
	enum enclave_observed seen = ENCLAVE_OBSERVED_ABSENT;

	c->rc = h->ops->adopt(h, c->arg, &e, &seen, &c->err);
	if (c->rc < 0)
		return;
	c->out = json_pack("{s:o, s:s}", "enclave", agent_enclave_json(e), "observed",
	                   enclave_observed_str(seen));
	agent_enclave_keep(c->a, e);
}

static void
work_destroy(struct agent_call *c)
{
	struct recon_host *h = c->a->host;

	agent_enclave_forget(c->a, c->arg);
	c->rc = h->ops->destroy(h, c->arg, &c->err);
}

static void
work_keep_logs(struct agent_call *c)
{
	struct recon_host *h = c->a->host;
	const char *cid = json_string_value(json_object_get(c->body, "container_id"));
	const char *did = json_string_value(json_object_get(c->body, "deployment_id"));

	if (cid == NULL || did == NULL || !agent_name_ok(cid) || !agent_name_ok(did)) {
		c->rc = err_make(&c->err, EINVAL, "keep-logs: container_id and deployment_id");
		return;
	}
	c->rc = h->ops->keep_logs(h, c->arg, cid, did, &c->err);
}

static void
work_drop_logs(struct agent_call *c)
{
	c->rc = c->a->host->ops->drop_logs(c->a->host, c->arg, &c->err);
}

static void
work_drop_volumes(struct agent_call *c)
{
	c->rc = c->a->host->ops->drop_volumes(c->a->host, c->arg, &c->err);
}

static void
work_list(struct agent_call *c)
{
	char **names = NULL;
	json_t *a = json_array();

	c->rc = c->a->host->ops->list(c->a->host, &names, &c->err);
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		json_array_append_new(a, json_string(names[i]));
	strv_free(names);
	c->out = json_pack("{s:o}", "names", a);
}

static void
work_exec(struct agent_call *c)
{
	const char *container = json_string_value(json_object_get(c->body, "container"));
	json_t *args = json_object_get(c->body, "argv"), *v;
	int64_t timeout_ms = json_integer_value(json_object_get(c->body, "timeout_ms"));
	struct agent_enclave *ae;
	char **argv = NULL, *output = NULL;
	int exit_code = -1;
	size_t i;

	if (container == NULL || json_array_size(args) == 0 || timeout_ms <= 0) {
		c->rc = err_make(&c->err, EINVAL, "exec: container, argv and timeout_ms");
		return;
	}
	json_array_foreach(args, i, v) argv =
	    strv_push(argv, json_string_value(v) ? json_string_value(v) : "");
	ae = agent_enclave_get(c->a, c->arg, &c->err);
	if (ae == NULL) {
		c->rc = -1;
		strv_free(argv);
		return;
	}
	c->rc = c->a->host->ops->exec(c->a->host, ae->e, container, argv, timeout_ms, &exit_code,
	                              &output, &c->err);
	agent_enclave_put(c->a, ae);
	if (c->rc == 0)
		c->out = json_pack("{s:i, s:s?}", "exit_code", exit_code, "output", output);
	free(output);
	strv_free(argv);
}

/* HTTP and TCP checks of an enclave of this host (EXEC ones are exec). */
static void
work_check(struct agent_call *c)
{
	const char *kind = json_string_value(json_object_get(c->body, "kind"));
	struct health_check hc = {0};
	struct health_result res = {0};

	if (kind == NULL || (strcmp(kind, "http") != 0 && strcmp(kind, "tcp") != 0)) {
		c->rc = err_make(&c->err, EINVAL, "check: kind is http or tcp");
		return;
	}
	hc.kind = strcmp(kind, "http") == 0 ? HEALTH_CHECK_HTTP : HEALTH_CHECK_TCP;
	hc.addr = (char *)json_string_value(json_object_get(c->body, "addr"));
	hc.path = (char *)json_string_value(json_object_get(c->body, "path"));
	hc.port = (int)json_integer_value(json_object_get(c->body, "port"));
	hc.timeout_ms = json_integer_value(json_object_get(c->body, "timeout_ms"));
	if (hc.addr == NULL || hc.port <= 0 || hc.port > 65535 || hc.timeout_ms <= 0 ||
	    hc.timeout_ms > 600000) {
		c->rc = err_make(&c->err, EINVAL, "check: addr, port and timeout_ms");
		return;
	}
	c->a->host->ops->check(c->a->host, &hc, NULL, NULL, &res);
	c->out =
	    json_pack("{s:b, s:I, s:I, s:s}", "pass", res.pass, "wall_ms", (json_int_t)res.wall_ms,
	              "duration_ms", (json_int_t)res.duration_ms, "text", res.text);
}

static void
work_router_status(struct agent_call *c)
{
	int64_t generation = 0;

	c->rc = c->a->host->ops->router_status(c->a->host, &generation, &c->err);
	if (c->rc == 0)
		c->out = json_pack("{s:I}", "generation", (json_int_t)generation);
}

static void
work_router_table(struct agent_call *c)
{
	c->rc = c->a->host->ops->router_push_table(c->a->host, c->body, &c->err);
}

static void
work_router_set_route(struct agent_call *c)
{
	c->rc = c->a->host->ops->router_set_route(c->a->host, c->arg, c->body, &c->err);
}

static void
work_router_delete_route(struct agent_call *c)
{
	c->rc = c->a->host->ops->router_delete_route(c->a->host, c->arg, &c->err);
	if (c->rc == ROUTER_CLIENT_ENOTFOUND) {
		err_make(&c->err, 0, "the router has no route for %s", c->arg);
		c->err.code = ENOENT;
	}
}

static void
work_router_counters(struct agent_call *c)
{
	c->rc = c->a->host->ops->router_counters(c->a->host, &c->out, &c->err);
}

/* Starts this host's router unless it answers already, one start at a time,
 * and waits (a little) for its answer: a start asked again (berthd retries
 * when its deadline passed, or asks from two jobs) never makes a second
 * router on the same listener. */
static void
work_router_spawn(struct agent_call *c)
{
	struct recon_host *h = c->a->host;
	struct err ignored = ERR_INIT;
	int64_t generation;

	pthread_mutex_lock(&c->a->spawn_lock);
	if (h->ops->router_status(h, &generation, &ignored) == 0) {
		c->rc = 0;
	} else {
		c->rc = h->ops->router_spawn(h, &c->err);
		for (int64_t end = now_mono_ms() + AGENT_ROUTER_START_MS;
		     c->rc == 0 && now_mono_ms() < end &&
		     h->ops->router_status(h, &generation, &ignored) < 0;)
			usleep(20000);
	}
	pthread_mutex_unlock(&c->a->spawn_lock);
}

#define AGENT_HANDLER(fn, work, body)                                                              \
	static void fn(struct api_req *r)                                                          \
	{                                                                                          \
		agent_submit(r, work, body);                                                       \
	}

AGENT_HANDLER(h_adopt, work_adopt, 0)
AGENT_HANDLER(h_destroy, work_destroy, 0)
AGENT_HANDLER(h_keep_logs, work_keep_logs, 1)
AGENT_HANDLER(h_drop_logs, work_drop_logs, 0)
AGENT_HANDLER(h_drop_volumes, work_drop_volumes, 0)
AGENT_HANDLER(h_list, work_list, 0)
AGENT_HANDLER(h_exec, work_exec, 1)
AGENT_HANDLER(h_check, work_check, 1)
AGENT_HANDLER(h_router_status, work_router_status, 0)
AGENT_HANDLER(h_router_table, work_router_table, 1)
AGENT_HANDLER(h_router_set_route, work_router_set_route, 1)
AGENT_HANDLER(h_router_delete_route, work_router_delete_route, 0)
AGENT_HANDLER(h_router_counters, work_router_counters, 0)
AGENT_HANDLER(h_router_spawn, work_router_spawn, 0)

/* ---- boots: a job, polled ---- */

static void
agent_job_free(struct agent_job *j)
{
	config_free(j->cfg);
	free(j->settings);
	free(j->secrets);
	json_decref(j->body);
	enclave_free(j->enclave);
	json_decref(j->answer);
	free(j);
}

/* The values of the boot's secrets go from memory once it is over. */
static void
agent_job_wipe(struct agent_job *j)
{
	const char *key;
	json_t *v;

	json_object_foreach(json_object_get(j->body, "secrets"), key, v)
	{
		if (json_is_string(v))
			sodium_memzero((char *)json_string_value(v), json_string_length(v));
	}
}

static void
boot_work(void *p)
{
	struct agent_job *j = p;
	struct recon_host *h = j->a->host;
	const char *iso = json_string_value(json_object_get(j->body, "isolation"));
	struct recon_boot_spec spec = {
	    .name = json_string_value(json_object_get(j->body, "name")),
	    .container_id = json_string_value(json_object_get(j->body, "container_id")),
	    .config_text = json_string_value(json_object_get(j->body, "config")),
	    .resume = json_is_true(json_object_get(j->body, "resume")),
	    .cfg = j->cfg,
	    .isolation = iso,
	    .settings = j->settings,
	    .n_settings = j->n_settings,
	    .secrets = j->secrets,
	    .n_secrets = j->n_secrets,
	    .percent = &j->percent,
	    .booting = &j->booting,
	};

	struct redact *rd = redact_new();

	for (size_t i = 0; i < j->n_secrets; i++)
		redact_add(rd, j->secrets[i].key, j->secrets[i].value, strlen(j->secrets[i].value));
	j->rc = h->ops->boot(h, &spec, &j->enclave, &j->err);
	/* The runtime's error may quote what the enclave printed: it leaves
	 * (to the log and to berthd) without the values it was given. */
	if (j->rc < 0)
		redact_inplace(rd, j->err.msg, sizeof j->err.msg);
	redact_free(rd);
	agent_job_wipe(j);
	if (j->rc == 0) {
		/* The answer is its JSON; the enclave is kept for exec. */
		j->answer = agent_enclave_json(j->enclave);
		agent_enclave_keep(j->a, take_ptr(&j->enclave));
	}
}

static void
boot_done(void *p)
{
	struct agent_job *j = p;

	j->done = 1;
	if (j->rc < 0)
		log_warn("boot of %s: %s", json_string_value(json_object_get(j->body, "name")),
		         j->err.msg);
	else if (json_string_value(json_object_get(j->answer, "ip")) != NULL)
		log_info("enclave %s booted at %s",
		         json_string_value(json_object_get(j->answer, "name")),
		         json_string_value(json_object_get(j->answer, "ip")));
}

/* Whether the host offers isolation level iso: the runtime's answer; the
 * hollow runtime "offers" runc alone. */
static int
agent_isolation_ok(struct agent *a, const char *iso, struct err *err)
{
	if (a->rt == NULL)
		return strcmp(iso, "runc") == 0;
	return runtime_isolation_available(a->rt, iso, err) > 0;
}

/* A string -> string object of the body as a bundle_kv array (strings
 * borrowed from the body). */
static struct bundle_kv *
kv_of(const json_t *o, size_t *n)
{
	struct bundle_kv *kv = xcalloc(json_object_size(o) + 1, sizeof *kv);
	const char *key;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)o, key, v)
	{
		if (!json_is_string(v))
			continue;
		kv[*n].key = key;
		kv[(*n)++].value = json_string_value(v);
	}
	return kv;
}

static void
h_boot(struct api_req *r)
{
	struct agent *a = r->ctx;
	json_t *body = api_req_json(r);
	const char *name, *cid, *text, *iso;
	struct config_errors errs = {0};
	struct agent_job *j;

	if (body == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	cid = json_string_value(json_object_get(body, "container_id"));
	text = json_string_value(json_object_get(body, "config"));
	iso = json_string_value(json_object_get(body, "isolation"));
	if (name == NULL || cid == NULL || text == NULL || !agent_name_ok(name) ||
	    !agent_name_ok(cid) || strlen(name) > ENCLAVE_NAME_MAX) {
		/* Not echoed: the body holds secrets. */
		json_decref(body);
		agent_reply_bad(r, "boot: name, container_id and config are needed");
		return;
	}
	if (iso != NULL) {
		struct err ierr = ERR_INIT;

		if (!agent_isolation_ok(a, iso, &ierr)) {
			json_decref(body);
			agent_reply_bad(r, "boot: this host does not offer that isolation level");
			return;
		}
	}
	j = xcalloc(1, sizeof *j);
	j->a = a;
	j->body = body;
	if (config_parse("config", text, strlen(text), &j->cfg, &errs) < 0) {
		char *why = config_errors_format(&errs);

		config_errors_free(&errs);
		agent_job_wipe(j);
		agent_job_free(j);
		api_reply_json(r, 400,
		               json_pack("{s:{s:s, s:s, s:i}}", "error", "code", "invalid",
		                         "message", why, "errno", EINVAL));
		free(why);
		return;
	}
	j->settings = kv_of(json_object_get(body, "settings"), &j->n_settings);
	j->secrets = kv_of(json_object_get(body, "secrets"), &j->n_secrets);
	j->id = ++a->next_job;
	j->next = a->jobs;
	a->jobs = j;
	log_info("booting enclave %s (job %lld)", name, (long long)j->id);
	workq_submit(a->workq, boot_work, boot_done, j);
	api_reply_json(r, 202, json_pack("{s:I}", "job", (json_int_t)j->id));
}

/* A job's state; the last answer (done) forgets it. */
static void
h_job(struct api_req *r)
{
	struct agent *a = r->ctx;
	long long id = strtoll(r->captures[0], NULL, 10);
	struct agent_job **p, *j = NULL;
	json_t *out;

	for (p = &a->jobs; *p != NULL; p = &(*p)->next)
		if ((*p)->id == id) {
			j = *p;
			break;
		}
	if (j == NULL) {
		struct err err = ERR_INIT;

		err_make(&err, 0, "no boot job %s (the agent restarted?)", r->captures[0]);
		err.code = ENOENT;
		agent_reply_err(r, &err);
		return;
	}
	out = json_pack("{s:b, s:i, s:b}", "done", j->done, "percent", atomic_load(&j->percent),
	                "booting", atomic_load(&j->booting));
	if (j->done) {
		if (j->rc == 0)
			json_object_set_new(out, "enclave", json_incref(j->answer));
		else
			json_object_set_new(out, "error", json_string(j->err.msg));
		*p = j->next;
		agent_job_free(j);
	}
	api_reply_json(r, 200, out);
}

/* The host's capacity, as registration sends it. */
static json_t *
agent_info_json(struct agent *a)
{
	json_t *levels = json_array();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	for (size_t i = 0; config_isolation_levels[i] != NULL; i++) {
		struct err ignored = ERR_INIT;

		if (agent_isolation_ok(a, config_isolation_levels[i], &ignored))
			json_array_append_new(levels, json_string(config_isolation_levels[i]));
	}
	return json_pack(
	    "{s:s, s:s, s:i, s:I, s:i, s:o, s:s, s:s?}", "host_id", a->host_id, "url", a->advertise,
	    "cpus", (int)cpus, "memory_bytes", (json_int_t)pages * (json_int_t)page, "gpus",
	    a->host->ops->gpus(a->host), "isolation", levels, "default_isolation",
	    a->rt != NULL ? runtime_isolation(a->rt) : "runc", "router_peer", a->router_peer);
}

static void
h_info(struct api_req *r)
{
	api_reply_json(r, 200, agent_info_json(r->ctx));
}

static const struct api_route agent_routes[] = {
    {.method = API_GET, .pattern = "/v1/info", .handler = h_info},
    {.method = API_POST, .pattern = "/v1/boot", .handler = h_boot},
    {.method = API_GET, .pattern = "/v1/jobs/{}", .handler = h_job},
    {.method = API_GET, .pattern = "/v1/enclaves", .handler = h_list},
    {.method = API_POST, .pattern = "/v1/enclaves/{}/adopt", .handler = h_adopt},
    {.method = API_DELETE, .pattern = "/v1/enclaves/{}", .handler = h_destroy},
    {.method = API_POST, .pattern = "/v1/enclaves/{}/keep-logs", .handler = h_keep_logs},
    {.method = API_POST, .pattern = "/v1/enclaves/{}/exec", .handler = h_exec},
    {.method = API_DELETE, .pattern = "/v1/containers/{}/logs", .handler = h_drop_logs},
    {.method = API_DELETE, .pattern = "/v1/containers/{}/volumes", .handler = h_drop_volumes},
    {.method = API_POST, .pattern = "/v1/check", .handler = h_check},
    {.method = API_GET, .pattern = "/v1/router/status", .handler = h_router_status},
    {.method = API_PUT, .pattern = "/v1/router/table", .handler = h_router_table},
    {.method = API_PUT, .pattern = "/v1/router/routes/{}", .handler = h_router_set_route},
    {.method = API_DELETE, .pattern = "/v1/router/routes/{}", .handler = h_router_delete_route},
    {.method = API_GET, .pattern = "/v1/router/counters", .handler = h_router_counters},
    {.method = API_POST, .pattern = "/v1/router/spawn", .handler = h_router_spawn},
    {0},
};

static const struct api_route *const agent_tables[] = {agent_routes, NULL};

/* The host token, in constant time. */
static int
agent_auth(void *ctx, const char *token, struct api_principal *who)
{
	struct agent *a = ctx;
	size_t n = strlen(a->token);

	if (strlen(token) != n || sodium_memcmp(token, a->token, n) != 0)
		return -1;
	snprintf(who->org_id, sizeof who->org_id, "berthd");
	return 0;
}

/* ---- registration and heartbeats, on a thread of their own ---- */

/* One berthd's registration: a thread each, so a berthd that does not answer
 * (a replica that died) delays no other's heartbeats. */
struct agent_beat {
	struct agent *a; /* borrowed */
	const char *url; /* borrowed from the settings */
	pthread_t thread;
};

static size_t
agent_discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* POSTs body to path of the berthd at base: the HTTP status, or 0 when
 * unanswered. */
static long
agent_post(struct agent *a, const char *base, const char *path, const json_t *body)
{
	char *url = xasprintf("%s%s", base, path);
	char *auth = xasprintf("Authorization: Bearer %s", a->token);
	char *text = json_dumps(body, JSON_COMPACT);
	struct curl_slist *headers = NULL;
	CURL *c = curl_easy_init();
	long status = 0;

	if (c != NULL) {
		headers = curl_slist_append(headers, auth);
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROXY, "");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, agent_discard);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
	}
	curl_slist_free_all(headers);
	sodium_memzero(auth, strlen(auth));
	free(auth);
	free(text);
	free(url);
	return status;
}

static void *
agent_beat_main(void *arg)
{
	struct agent_beat *beat = arg;
	struct agent *a = beat->a;
	/* The runtime's answers read here were probed when it opened. */
	json_t *info = json_pack("{s:s}", "host_id", a->host_id);
	int registered = 0;
	long last = -1;

	while (!atomic_load(&a->stopping)) {
		long status;

		if (!registered) {
			json_t *reg = agent_info_json(a);

			status = agent_post(a, beat->url, "/api/v1/agent/register", reg);
			json_decref(reg);
			registered = status == 200;
			if (registered)
				log_info("registered with berthd %s as host %s", beat->url,
				         a->host_id);
		} else {
			status = agent_post(a, beat->url, "/api/v1/agent/heartbeat", info);
			/* berthd restarted and forgot us: register again. */
			if (status == 404)
				registered = 0;
		}
		if (status != last && status != 200)
			log_warn("berthd %s answered %ld%s", beat->url, status,
			         status == 0 ? " (unreachable): enclaves keep serving" : "");
		last = status;
		for (int64_t end = now_mono_ms() + a->s.heartbeat_ms;
		     !atomic_load(&a->stopping) && now_mono_ms() < end;)
			usleep(50000);
	}
	json_decref(info);
	return NULL;
}

/* ---- start and stop ---- */

static void
agent_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;

	(void)what;
	log_info("signal %d: stopping; enclaves and the router keep serving", (int)sig);
	atomic_store(&a->stopping, 1);
	event_base_loopexit(a->base, NULL);
}

static int
agent_open_runtime(struct agent *a, struct err *err)
{
	/* The host's own cgroup parent: another agent on this kernel may run
	 * an enclave of the same name (one moved from a lost host). */
	char *cgroup_parent = xasprintf("berth-%s", a->host_id);
	struct berthd_runtime_opts o = {
	    .state_dir = a->s.state_dir,
	    .oci_runtime = a->s.runtime,
	    .isolation = a->s.isolation,
	    .subnet = a->s.subnet,
	    .bridge = a->s.bridge,
	    .cgroup_parent = cgroup_parent,
	    .gpus = a->s.gpus,
	};
	int rc = berthd_runtime_open(&o, &a->rt, err);

	free(cgroup_parent);
	return rc;
}

int
agent_start(const struct agent_settings *s, struct agent **out, struct err *err)
{
	struct agent *a = xcalloc(1, sizeof *a);
	char name[HOST_NAME_MAX + 1] = "";
	int rc = -1;

	*out = NULL;
	a->s = *s;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->spawn_lock, NULL);
	umask(077);
	if (recon_host_token_read(s->token_file, &a->token, err) < 0)
		goto out;
	if (mkdir_p(s->state_dir, 0700, err) < 0) {
		err_wrap(err, "state directory");
		goto out;
	}
	if (s->host_id != NULL)
		a->host_id = xstrdup(s->host_id);
	else if (gethostname(name, sizeof name - 1) == 0 && name[0] != '\0')
		a->host_id = xstrdup(name);
	else
		a->host_id = xstrdup("host");
	if (!agent_name_ok(a->host_id)) {
		err_make(err, 0, "--host-id: \"%s\" is not a name (letters, digits, - _ .)",
		         a->host_id);
		goto out;
	}
	a->router_socket = s->router_socket != NULL ? xstrdup(s->router_socket)
	                                            : xasprintf("%s/router.sock", s->state_dir);
	evthread_use_pthreads();
	a->base = event_base_new();
	if (a->base == NULL)
		log_fatal("event_base_new failed");
	signal(SIGPIPE, SIG_IGN);
	a->sigterm = evsignal_new(a->base, SIGTERM, agent_on_signal, a);
	a->sigint = evsignal_new(a->base, SIGINT, agent_on_signal, a);
	event_add(a->sigterm, NULL);
	event_add(a->sigint, NULL);
	a->workq = workq_new(a->base, s->workers > 0 ? s->workers : 4, 0);
	if (health_init(err) < 0)
		goto out;
	if (!s->hollow && agent_open_runtime(a, err) < 0) {
		err_wrap(err, "runtime");
		goto out;
	}
	{
		struct recon_host_settings hs = {
		    .state_dir = s->state_dir,
		    .router_socket = a->router_socket,
		    .router_bin = s->router_bin,
		    .router_addr = s->router_addr,
		    .router_port = s->router_port,
		    .insecure_registries = s->insecure_registries,
		    .pull_connect_s = 15,
		    .pull_idle_s = 30,
		    .pull_timeout_ms = 7200 * 1000,
		    .image_max_bytes = IMAGE_MAX_BYTES_DEFAULT,
		    .image_max_entries = IMAGE_MAX_ENTRIES_DEFAULT,
		};

		if (!s->hollow) {
			if (recon_host_local_new(a->rt, &hs, &a->stopping, &a->host, err) < 0)
				goto out;
		} else {
			/* The router is real; the enclaves are sockets of this process. */
			if (recon_host_local_new(NULL, &hs, &a->stopping, &a->router_host, err) <
			        0 ||
			    agent_hollow_new(a->base, s->subnet, s->gpus, a->router_host, &a->host,
			                     err) < 0)
				goto out;
			log_warn("hollow runtime: no enclave runs here; each one is a socket on %s "
			         "answered by this agent (benchmarks and tests only)",
			         s->subnet);
		}
	}
	if (api_server_new(a->base, s->listen_addr, s->listen_port, agent_tables, agent_auth, a,
	                   &a->api, err) < 0) {
		err_wrap(err, "--listen");
		goto out;
	}
	a->advertise = s->advertise_url != NULL
	                   ? xstrdup(s->advertise_url)
	                   : xasprintf("http://%s:%d", s->listen_addr, api_server_port(a->api));
	if (s->router_peer != NULL)
		a->router_peer = xstrdup(s->router_peer);
	else if (s->router_addr != NULL && strcmp(s->router_addr, "0.0.0.0") != 0 &&
	         strcmp(s->router_addr, "::") != 0 && strncmp(s->router_addr, "127.", 4) != 0 &&
	         strcmp(s->router_addr, "::1") != 0 && strcmp(s->router_addr, "localhost") != 0)
		a->router_peer = strchr(s->router_addr, ':') != NULL
		                     ? xasprintf("[%s]:%d", s->router_addr, s->router_port)
		                     : xasprintf("%s:%d", s->router_addr, s->router_port);
	a->beats = xcalloc(strv_len(s->berthd_urls) + 1, sizeof *a->beats);
	for (size_t i = 0; s->berthd_urls != NULL && s->berthd_urls[i] != NULL; i++) {
		struct agent_beat *b = &a->beats[a->n_beats];

		b->a = a;
		b->url = s->berthd_urls[i];
		if (pthread_create(&b->thread, NULL, agent_beat_main, b) != 0) {
			err_make(err, errno, "pthread_create");
			goto out;
		}
		a->n_beats++;
	}
	log_info("berth-agent %s: host %s, API on %s, state in %s", BERTH_VERSION, a->host_id,
	         a->advertise, s->state_dir);
	rc = 0;
out:
	if (rc < 0) {
		agent_free(a);
		a = NULL;
	}
	*out = a;
	return rc;
}

int
agent_run(struct agent *a)
{
	return event_base_dispatch(a->base) < 0 ? -1 : 0;
}

void
agent_free(struct agent *a)
{
	if (a == NULL)
		return;
	atomic_store(&a->stopping, 1);
	for (size_t i = 0; i < a->n_beats; i++)
		pthread_join(a->beats[i].thread, NULL);
	free(a->beats);
	api_server_free(a->api);
	workq_free(a->workq);
	while (a->jobs != NULL) {
		struct agent_job *j = a->jobs;

		a->jobs = j->next;
		agent_job_wipe(j);
		agent_job_free(j);
	}
	while (a->enclaves != NULL)
		agent_enclave_forget(a, a->enclaves->name);
	if (a->s.hollow) {
		agent_hollow_free(a->host);
		recon_host_local_free(a->router_host);
	} else {
		recon_host_local_free(a->host);
	}
	runtime_close(a->rt);
	if (a->sigterm != NULL)
		event_free(a->sigterm);
	if (a->sigint != NULL)
		event_free(a->sigint);
	if (a->base != NULL)
		event_base_free(a->base);
	if (a->token != NULL) {
		sodium_memzero(a->token, strlen(a->token));
		free(a->token);
	}
	free(a->router_socket);
	free(a->host_id);
	free(a->advertise);
	free(a->router_peer);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->spawn_lock);
	free(a);
}
