/* recon-boot: a deployment becomes an enclave (pull, unpack, create on a
 * worker), then passes its health gate, or fails with a reason.
 *
 * What an enclave prints reaches the reconciler here: the output of its exec
 * health checks (watch_exec), and the runtime's errors while it boots or is
 * adopted, which quote the first line the OCI runtime printed. Each is
 * redacted with the values of the enclave's secrets where it arrives, before
 * a reason, a health log, an event or a log line is made of it, so neither
 * the store nor berthd's log ever holds a value. (The other errors of the
 * runtime, from state, kill and delete, quote nothing from inside. Its logs
 * are redacted as they are shown: api-logs.c.) */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "image/image.h"
#include "lifecycle/lifecycle.h"
#include "model/model.h"
#include "recon/recon-int.h"
#include "runtime/enclave.h"
#include "secret/redact.h"
#include "secret/secret.h"
#include "secret/vault.h"
#include "store/store.h"
#include "tls/attest.h"

#define BOOT_PROGRESS_MS 250

struct boot_job {
	struct recon_job hdr;
	struct recon_host *host; /* borrowed: the host of the enclave's row */
	store_id container_id;
	store_id enclave_id;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	int resume; /* remove an interrupted attempt's leftovers first */
	int upstream_port;
	char isolation[16];         /* the deployment's level: "runc", "gvisor" */
	struct config *cfg;         /* owned; read-only while the work runs */
	char *config_text;          /* owned: cfg's source, for a remote host */
	struct bundle_kv *settings; /* owned array; strings in settings_json */
	size_t n_settings;
	json_t *settings_json;     /* owned */
	struct bundle_kv *secrets; /* owned array, values owned and wiped */
	size_t n_secrets;
	struct redact *redact;  /* owned: those values, out of the enclave's texts */
	struct event *progress; /* owned: shows the pull's progress */
	_Atomic int percent;    /* of the pull, 0..100 */
	_Atomic int booting;    /* the pull is done, the enclave is being created */
	int shown;              /* what the container's detail says: percent, 101 booting */
	/* Results of the work. */
	int rc;
	struct err err;
	struct enclave *enclave; /* owned */
	char *keys_json;         /* owned: the public parts of the attested keys made */
};

static void
boot_job_free(struct recon_job *hdr)
{
	struct boot_job *job = (struct boot_job *)hdr;

	free(job->keys_json);
	config_free(job->cfg);
	free(job->config_text);
	free(job->settings);
	json_decref(job->settings_json);
	for (size_t i = 0; i < job->n_secrets; i++) {
		secret_value_free((char *)job->secrets[i].value, strlen(job->secrets[i].value));
		free((char *)job->secrets[i].key);
	}
	free(job->secrets);
	redact_free(job->redact);
	if (job->progress != NULL)
		event_free(job->progress);
	if (job->host != NULL)
		job->host->ops->release(job->host, job->enclave);
	free(job);
}

/* Brings the enclave up on the host. Runs on a worker: touches only the job
 * (the host's operations are thread-safe). */
static void
boot_work(void *arg)
{
	struct boot_job *job = arg;
	struct recon_host *host = job->host;
	struct recon_boot_spec spec = {
	    .name = job->name,
	    .container_id = job->container_id,
	    .config_text = job->config_text,
	    .resume = job->resume,
	    .cfg = job->cfg,
	    .isolation = job->isolation[0] != '\0' ? job->isolation : NULL,
	    .settings = job->settings,
	    .n_settings = job->n_settings,
	    .secrets = job->secrets,
	    .n_secrets = job->n_secrets,
	    .percent = &job->percent,
	    .booting = &job->booting,
	};

	size_t n = job->cfg->n_attested_keys;
	struct attest_keypair *pairs = xcalloc(n + 1, sizeof *pairs);
	struct bundle_key *keys = xcalloc(n + 1, sizeof *keys);
	json_t *pub = json_array();

	/* A new key pair per key and per enclave, made here at its boot: the
	 * private parts go only into the bundles of the containers granted
	 * them (tmpfs) and are wiped from memory right after; the public
	 * parts go to the enclave's row. */
	job->rc = 0;
	for (size_t i = 0; i < n && job->rc == 0; i++) {
		const struct config_attested_key *k = &job->cfg->attested_keys[i];

		job->rc = attest_keypair_generate(k->kind, &pairs[i], &job->err);
		if (job->rc < 0) {
			err_wrap(&job->err, "attested key %s", k->id);
			break;
		}
		keys[i] = (struct bundle_key){.id = k->id,
		                              .private_pem = pairs[i].private_pem,
		                              .private_len = pairs[i].private_len,
		                              .public_pem = pairs[i].public_pem,
		                              .uid = k->uid,
		                              .gid = k->gid};
		json_array_append_new(pub, json_pack("{s:s, s:s, s:s}", "id", k->id, "key", k->kind,
		                                     "public_key", pairs[i].public_b64));
	}
	spec.keys = keys;
	spec.n_keys = n;
	if (job->rc == 0)
		job->rc = host->ops->boot(host, &spec, &job->enclave, &job->err);
	if (job->rc == 0 && n > 0)
		job->keys_json = json_dumps(pub, JSON_COMPACT);
	for (size_t i = 0; i < n; i++)
		attest_keypair_clear(&pairs[i]);
	free(pairs);
	free(keys);
	json_decref(pub);
}

/* Shows the pull's progress in the container's status_detail. */
static void
boot_on_progress_timer(evutil_socket_t fd, short what, void *arg)
{
	struct boot_job *job = arg;
	struct recon *r = job->hdr.r;
	int now = atomic_load(&job->booting) ? 101 : atomic_load(&job->percent);
	struct store_container c = {0};
	struct err err = ERR_INIT;
	char *detail;

	(void)fd;
	(void)what;
	if (now == job->shown || recon_stopping(r))
		return;
	job->shown = now;
	if (store_container_get(r->env.store, job->container_id, &c, &err) < 0)
		return;
	detail = now > 100 ? xstrdup("booting") : xasprintf("pulling image %d%%", now);
	if (lifecycle_container_set(r->env.lc, &c, c.status, detail, NULL, &err, NULL) < 0)
		log_error("container %s: progress: %s", c.name, err.msg);
	free(detail);
	store_container_clear(&c);
}

/* Marks enclave row id failed, remembering why for the step that follows. */
static void
boot_fail(struct recon *r, struct recon_ctr *ctr, const char *enclave_id, const char *reason)
{
	struct store_enclave e = {0};
	struct err err = ERR_INIT;

	if (store_enclave_get(r->env.store, enclave_id, &e, &err) < 0 ||
	    lifecycle_enclave_set(r->env.lc, &e, ENCLAVE_FAILED, reason, &err) < 0)
		log_error("enclave %s: %s", e.name != NULL ? e.name : enclave_id, err.msg);
	else
		recon_crashpoint(r, "enclave-failed");
	store_enclave_clear(&e);
	recon_kick(r, ctr->id);
}

static void
boot_done(void *arg)
{
	struct boot_job *job = arg;
	struct recon *r = job->hdr.r;
	struct recon_ctr *ctr;
	struct store_enclave e = {0};
	struct store_deployment d = {0};
	struct err err = ERR_INIT;

	if ((ctr = recon_job_done_ctr(&job->hdr, job->container_id)) == NULL)
		goto out; /* the next start resumes the row's attempt */
	if (job->rc < 0) {
		/* The runtime's error may quote what the enclave printed. */
		redact_inplace(job->redact, job->err.msg, sizeof job->err.msg);
		log_warn("enclave %s: %s", job->name, job->err.msg);
		boot_fail(r, ctr, job->enclave_id, job->err.msg);
		goto out;
	}
	if (store_enclave_get(r->env.store, job->enclave_id, &e, &err) < 0 ||
	    store_deployment_get(r->env.store, e.deployment_id, &d, &err) < 0) {
		log_error("enclave %s: %s", job->name, err.msg);
		goto out;
	}
	free(e.address);
	e.address = xasprintf("%s:%d", job->enclave->ip, job->upstream_port);
	/* Its keys' public parts, with the row that says it booted. */
	free(e.attested_keys);
	e.attested_keys = take_ptr(&job->keys_json);
	if (lifecycle_enclave_set(r->env.lc, &e, ENCLAVE_BOOTING, NULL, &err) < 0) {
		log_error("enclave %s: %s", job->name, err.msg);
		ctr->retry_at_ms = now_mono_ms() + 1000;
		goto out;
	}
	recon_crashpoint(r, "booted");
	log_info("enclave %s booted at %s", e.name, e.address);
	for (size_t i = 0; i < job->enclave->n_containers; i++)
		if (job->enclave->containers[i].attest_fd >= 0)
			recon_attest_add(r, e.id, e.name, job->enclave->containers[i].name,
			                 take_fd(&job->enclave->containers[i].attest_fd));
	/* The values the enclave was given, not the store's: a secret set again
	 * meanwhile has a new value there, the enclave the old one. */
	recon_watch_start(r, ctr, &d, &e, job->host, take_ptr(&job->enclave),
	                  take_ptr(&job->redact));
	recon_kick(r, ctr->id);
out:
	store_enclave_clear(&e);
	store_deployment_clear(&d);
	boot_job_free(&job->hdr);
}

/* Opens the deployment's secrets for the enclave's environment, and the set
 * that redacts them. A secret the org no longer has fails the deployment
 * before boot. */
static int
boot_open_secrets(struct recon *r, const struct store_container *c,
                  const struct store_deployment *d, struct boot_job *job, struct err *err)
{
	json_t *names = json_loads(d->secrets_json != NULL ? d->secrets_json : "[]", 0, NULL);
	size_t n = json_array_size(names);
	int rc = 0;

	job->secrets = xcalloc(n + 1, sizeof *job->secrets);
	job->redact = redact_new();
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *name = json_string_value(json_array_get(names, i));
		char *value = NULL;
		size_t len = 0;

		if (name == NULL)
			continue;
		rc = vault_open(r->env.store, r->env.key, c->org_id, name, &value, &len, err);
		if (rc == 0) {
			size_t had = redact_count(job->redact);

			redact_add(job->redact, name, value, len);
			if (redact_count(job->redact) == had)
				log_warn("%s: secret %s is shorter than %d bytes: what the enclave "
				         "prints shows it as it is",
				         c->name, name, REDACT_MIN_LEN);
			job->secrets[job->n_secrets].key = xstrdup(name);
			job->secrets[job->n_secrets].value = value;
			job->n_secrets++;
		}
	}
	json_decref(names);
	return rc;
}

/* The registry the first image comes from ("" when unnamed), for the
 * pull's lane. Borrowed from a static buffer: loop thread only. */
static const char *
boot_registry_host(const struct config *cfg)
{
	static char host[256];
	struct image_ref ref;
	struct err err = ERR_INIT;

	host[0] = '\0';
	if (cfg->n_containers > 0 && image_ref_parse(cfg->containers[0].image, &ref, &err) == 0) {
		snprintf(host, sizeof host, "%s", ref.host != NULL ? ref.host : "");
		image_ref_clear(&ref);
	}
	err_clear(&err);
	return host;
}

void
recon_boot_start(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
                 const struct store_deployment *d, const struct store_enclave *e, int resume)
{
	struct boot_job *job = xcalloc(1, sizeof *job);
	struct timeval tv = {0, BOOT_PROGRESS_MS * 1000};
	const char *key;
	json_t *value;
	struct err err = ERR_INIT;
	size_t i = 0;

	job->hdr.free = boot_job_free;
	job->hdr.r = r;
	snprintf(job->container_id, sizeof job->container_id, "%s", c->id);
	snprintf(job->enclave_id, sizeof job->enclave_id, "%s", e->id);
	snprintf(job->name, sizeof job->name, "%s", e->name);
	job->resume = resume;
	job->shown = -1;
	if ((job->host = recon_host_for(r, e)) == NULL) {
		char *why = recon_host_unknown(r, e);

		boot_fail(r, ctr, e->id, why);
		free(why);
		boot_job_free(&job->hdr);
		return;
	}
	snprintf(job->isolation, sizeof job->isolation, "%s", d->isolation ? d->isolation : "");
	job->cfg = recon_config_of(d);
	if (job->cfg == NULL) {
		boot_fail(r, ctr, e->id, "the deployment's config does not parse");
		boot_job_free(&job->hdr);
		return;
	}
	job->config_text = xstrdup(d->config);
	job->upstream_port = job->cfg->shim.upstream_port;
	if (boot_open_secrets(r, c, d, job, &err) < 0) {
		boot_fail(r, ctr, e->id, err.msg);
		boot_job_free(&job->hdr);
		return;
	}
	/* External settings as they were when the deployment was made. */
	job->settings_json = json_loads(d->env_json != NULL ? d->env_json : "{}", 0, NULL);
	if (!json_is_object(job->settings_json)) {
		json_decref(job->settings_json);
		job->settings_json = json_object();
	}
	job->settings = xcalloc(json_object_size(job->settings_json) + 1, sizeof *job->settings);
	json_object_foreach(job->settings_json, key, value)
	{
		if (!json_is_string(value))
			continue;
		job->settings[i].key = key;
		job->settings[i].value = json_string_value(value);
		i++;
	}
	job->n_settings = i;
	job->progress = event_new(r->env.base, -1, EV_PERSIST, boot_on_progress_timer, job);
	event_add(job->progress, &tv);
	ctr->busy = 1;
	log_info("%s: deploying %s as enclave %s%s", c->name, d->id, e->name,
	         resume ? " (resuming an interrupted attempt)" : "");
	/* The pull waits on a registry: in the fetch pool, in its lane. */
	recon_job_submit_in(r, RECON_POOL_FETCH, boot_registry_host(job->cfg), &job->hdr, boot_work,
	                    boot_done);
}

/* ---- adopting a booting enclave after a restart ---- */

struct adopt_job {
	struct recon_job hdr;
	struct recon_host *host; /* borrowed: the host of the enclave's row */
	store_id container_id;
	store_id enclave_id;
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	struct redact *redact; /* owned: the deployment's secrets as the store has them */
	int rc;
	struct err err;
	struct enclave *enclave; /* owned */
};

static void
adopt_job_free(struct recon_job *hdr)
{
	struct adopt_job *job = (struct adopt_job *)hdr;

	redact_free(job->redact);
	if (job->host != NULL)
		job->host->ops->release(job->host, job->enclave);
	free(job);
}

static void
adopt_work(void *arg)
{
	struct adopt_job *job = arg;
	struct recon_host *host = job->host;
	enum enclave_observed seen = ENCLAVE_OBSERVED_ABSENT;

	job->rc = host->ops->adopt(host, job->name, &job->enclave, &seen, &job->err);
	if (job->rc == 0 && seen != ENCLAVE_OBSERVED_RUNNING)
		job->rc =
		    err_make(&job->err, 0, "its containers are %s", enclave_observed_str(seen));
}

static void
adopt_done(void *arg)
{
	struct adopt_job *job = arg;
	struct recon *r = job->hdr.r;
	struct store_enclave e = {0};
	struct store_deployment d = {0};
	struct recon_ctr *ctr;
	struct err err = ERR_INIT;

	if ((ctr = recon_job_done_ctr(&job->hdr, job->container_id)) == NULL)
		goto out;
	if (job->rc < 0) {
		char *why;

		redact_inplace(job->redact, job->err.msg, sizeof job->err.msg);
		why = xasprintf("the enclave did not survive the restart: %s", job->err.msg);
		boot_fail(r, ctr, job->enclave_id, why);
		free(why);
		goto out;
	}
	if (store_enclave_get(r->env.store, job->enclave_id, &e, &err) < 0 ||
	    store_deployment_get(r->env.store, e.deployment_id, &d, &err) < 0) {
		log_error("enclave %s: %s", job->name, err.msg);
		goto out;
	}
	log_info("enclave %s adopted; its health gate starts again", job->name);
	recon_attest_reopen(r, &e);
	recon_watch_start(r, ctr, &d, &e, job->host, take_ptr(&job->enclave),
	                  take_ptr(&job->redact));
	recon_kick(r, ctr->id);
out:
	store_enclave_clear(&e);
	store_deployment_clear(&d);
	adopt_job_free(&job->hdr);
}

void
recon_boot_adopt(struct recon *r, struct recon_ctr *ctr, const struct store_container *c,
                 const struct store_deployment *d, const struct store_enclave *e)
{
	struct adopt_job *job = xcalloc(1, sizeof *job);
	struct err err = ERR_INIT;

	job->hdr.free = adopt_job_free;
	job->hdr.r = r;
	snprintf(job->container_id, sizeof job->container_id, "%s", e->container_id);
	snprintf(job->enclave_id, sizeof job->enclave_id, "%s", e->id);
	snprintf(job->name, sizeof job->name, "%s", e->name);
	if ((job->host = recon_host_for(r, e)) == NULL) {
		char *why = recon_host_unknown(r, e);

		boot_fail(r, ctr, e->id, why);
		free(why);
		adopt_job_free(&job->hdr);
		return;
	}
	/* What the enclave was given is in its bundle, not here: the store's
	 * values are the best berthd has (the same unless set again since). A
	 * check whose output could not be redacted must not run. */
	if (vault_redact_of(r->env.store, r->env.key, c->org_id, d->secrets_json, &job->redact,
	                    &err) < 0) {
		log_warn("enclave %s: %s", job->name, err.msg);
		boot_fail(r, ctr, e->id, err.msg);
		adopt_job_free(&job->hdr);
		return;
	}
	ctr->busy = 1;
	recon_job_submit(r, &job->hdr, adopt_work, adopt_done);
}

/* ---- removing an enclave ---- */

struct destroy_job {
	struct recon_job hdr;
	struct recon_host *host; /* borrowed, or NULL: a host this berthd does not drive */
	store_id container_id;
	store_id enclave_id;
	store_id keep_logs_of; /* the deployment whose logs are kept first, or "" */
	char name[MODEL_ENCLAVE_NAME_LEN + 1];
	int rc;
	struct err err;
};

static void
destroy_job_free(struct recon_job *hdr)
{
	free(hdr);
}

static void
destroy_work(void *arg)
{
	struct destroy_job *job = arg;
	struct recon_host *host = job->host;

	if (host == NULL)
		return; /* nothing to remove that this berthd can reach */

	if (job->keep_logs_of[0] != '\0' && host->ops->keep_logs != NULL &&
	    host->ops->keep_logs(host, job->name, job->container_id, job->keep_logs_of, &job->err) <
	        0) {
		log_warn("enclave %s: %s", job->name, job->err.msg);
		err_clear(&job->err);
	}
	job->rc = host->ops->destroy(host, job->name, &job->err);
}

static void
destroy_done(void *arg)
{
	struct destroy_job *job = arg;
	struct recon *r = job->hdr.r;
	struct store_enclave e = {0};
	struct store_container c = {0};
	struct recon_ctr *ctr;
	struct err err = ERR_INIT;

	if ((ctr = recon_job_done_ctr(&job->hdr, job->container_id)) == NULL)
		goto out;
	if (job->rc < 0) {
		log_error("enclave %s: stop: %s", job->name, job->err.msg);
		ctr->retry_at_ms = now_mono_ms() + 1000;
		goto out;
	}
	if (store_enclave_get(r->env.store, job->enclave_id, &e, &err) < 0)
		goto fail;
	if (lifecycle_enclave_set(r->env.lc, &e, ENCLAVE_STOPPED, NULL, &err) < 0)
		goto fail;
	log_info("enclave %s stopped and removed", e.name);
	/* A deployment that does not serve keeps no secret bound once its
	 * enclave stopped (the serving one's go when its update finishes). */
	if (store_container_get(r->env.store, e.container_id, &c, &err) == 0 &&
	    strcmp(c.deployment_id, e.deployment_id) != 0 &&
	    store_binding_delete_deployment(r->env.store, e.deployment_id, &err) < 0)
		goto fail;
	recon_crashpoint(r, "enclave-stopped");
	recon_kick(r, ctr->id);
	goto out;
fail:
	log_error("enclave %s: %s", job->name, err.msg);
	ctr->retry_at_ms = now_mono_ms() + 1000;
out:
	store_container_clear(&c);
	store_enclave_clear(&e);
	destroy_job_free(&job->hdr);
}

void
recon_enclave_destroy(struct recon *r, struct recon_ctr *ctr, const struct store_enclave *e)
{
	struct destroy_job *job = xcalloc(1, sizeof *job);

	job->hdr.free = destroy_job_free;
	/* Its attestation sockets go first: nothing answers for it any more. */
	recon_attest_drop(r, e->name);
	snprintf(job->container_id, sizeof job->container_id, "%s", e->container_id);
	snprintf(job->enclave_id, sizeof job->enclave_id, "%s", e->id);
	snprintf(job->name, sizeof job->name, "%s", e->name);
	/* A row on a host this berthd does not drive is closed, and said so:
	 * its enclave (if it ever ran) is left to that host. A row that was
	 * never placed (placement refused) has nothing anywhere. */
	if ((job->host = recon_host_for(r, e)) == NULL && e->host_id != NULL) {
		char *why = recon_host_unknown(r, e);

		log_warn("enclave %s: %s; its row is closed, the enclave is left there", e->name,
		         why);
		free(why);
	} else if (job->host != NULL && recon_host_lost_why(recon_host_entry(r, e->host_id))) {
		/* Its host is lost: the row is closed now, and the enclave goes
		 * when the host comes back (no live row names it then). */
		log_warn("enclave %s: %s; its row is closed, the enclave goes when the host "
		         "comes back",
		         e->name, recon_host_entry(r, e->host_id)->lost);
		job->host = NULL;
	}
	/* A failed version of a debug container: its user may read why. */
	if (e->reason != NULL) {
		struct store_deployment d = {0};
		struct err err = ERR_INIT;

		if (store_deployment_get(r->env.store, e->deployment_id, &d, &err) == 0 && d.debug)
			snprintf(job->keep_logs_of, sizeof job->keep_logs_of, "%s", d.id);
		store_deployment_clear(&d);
	}
	ctr->busy = 1;
	recon_job_submit(r, &job->hdr, destroy_work, destroy_done);
}

/* ---- the health gate ---- */

struct check_job {
	struct recon_job hdr;
	struct recon_watch *w; /* borrowed: lives until its running checks are back */
	size_t index;
	struct health_result result;
};

static void
check_job_free(struct recon_job *hdr)
{
	struct check_job *job = (struct check_job *)hdr;

	/* Dropped at shutdown: the watch goes with the last of its checks. */
	if (job->w != NULL && --job->w->running == 0 && job->w->cancelled)
		recon_watch_cancel(job->w);
	free(job);
}

static void watch_free(struct recon_watch *w);
static void watch_schedule(struct recon_watch *w);

/* Runs an exec check in the enclave. Its output leaves redacted, whole,
 * before the health module cuts a line of it into a result (a cut value
 * would no longer be recognised). Worker thread: w->redact is only read. */
static int
watch_exec(void *arg, const char *container, char *const argv[], int64_t timeout_ms, int *exit_code,
           char **output, struct err *err)
{
	struct recon_watch *w = arg;
	struct recon_host *host = w->host;
	char *raw = NULL;
	int rc;

	rc = host->ops->exec(host, w->enclave, container, argv, timeout_ms, exit_code, &raw, err);
	if (rc < 0)
		redact_inplace(w->redact, err->msg, sizeof err->msg);
	*output = raw != NULL ? redact_text(w->redact, raw) : NULL;
	if (raw != NULL)
		sodium_memzero(raw, strlen(raw));
	free(raw);
	return rc;
}

static void
check_work(void *arg)
{
	struct check_job *job = arg;
	struct recon_host *host = job->w->host;

	host->ops->check(host, &job->w->checks[job->index], watch_exec, job->w, &job->result);
}

/* Writes the gate's log into the update that waits for it. */
static void
watch_log(struct recon_watch *w)
{
	struct recon *r = w->r;
	struct store_update u = {0};
	struct err err = ERR_INIT;
	char **log;
	json_t *a;

	if (w->update_id[0] == '\0' || store_update_get(r->env.store, w->update_id, &u, &err) < 0 ||
	    u.state.finished) {
		store_update_clear(&u);
		return;
	}
	log = health_tracker_log(w->tracker);
	a = json_array();
	for (size_t i = 0; log != NULL && log[i] != NULL; i++)
		json_array_append_new(a, json_string(log[i]));
	free(u.health_log_json);
	u.health_log_json = json_dumps(a, JSON_COMPACT);
	if (store_update_save(r->env.store, &u, &err) < 0)
		log_warn("update %s: health log: %s", u.id, err.msg);
	json_decref(a);
	strv_free(log);
	store_update_clear(&u);
}

/* The gate decided: the enclave row says so, the container's step acts. */
static void
watch_verdict(struct recon_watch *w, enum health_gate gate)
{
	struct recon *r = w->r;
	struct recon_ctr *ctr = recon_ctr_get(r, w->container_id);
	struct store_enclave e = {0};
	struct err err = ERR_INIT;

	if (ctr->watch == w)
		ctr->watch = NULL;
	if (gate == HEALTH_GATE_FAILED) {
		boot_fail(r, ctr, w->enclave_id, health_tracker_reason(w->tracker));
	} else if (store_enclave_get(r->env.store, w->enclave_id, &e, &err) == 0) {
		if (lifecycle_enclave_set(r->env.lc, &e, ENCLAVE_HEALTHY, NULL, &err) < 0)
			log_error("enclave %s: %s", e.name, err.msg);
		else
			log_info("enclave %s passed its health gate", e.name);
		recon_kick(r, ctr->id);
	}
	store_enclave_clear(&e);
	recon_watch_cancel(w);
}

static void
check_done(void *arg)
{
	struct check_job *job = arg;
	struct recon_watch *w = job->w;
	enum health_gate gate;

	recon_job_done(&job->hdr);
	job->w = NULL;
	w->running--;
	if (w->cancelled || recon_stopping(w->r)) {
		if (w->running == 0 && w->cancelled)
			watch_free(w);
		free(job);
		return;
	}
	health_tracker_record(w->tracker, job->index, now_mono_ms(), &job->result);
	free(job);
	watch_log(w);
	gate = health_tracker_gate(w->tracker, now_mono_ms());
	if (gate != HEALTH_GATE_WAITING)
		watch_verdict(w, gate);
	else
		watch_schedule(w);
}

static void
watch_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct recon_watch *w = arg;
	int64_t now = now_mono_ms();
	enum health_gate gate;
	int i;

	(void)fd;
	(void)what;
	if (w->cancelled || recon_stopping(w->r))
		return;
	while ((i = health_tracker_take_due(w->tracker, now)) >= 0) {
		struct check_job *job = xcalloc(1, sizeof *job);

		job->hdr.free = check_job_free;
		job->w = w;
		job->index = (size_t)i;
		w->running++;
		recon_job_submit_in(w->r, RECON_POOL_HEALTH, NULL, &job->hdr, check_work,
		                    check_done);
	}
	gate = health_tracker_gate(w->tracker, now);
	if (gate != HEALTH_GATE_WAITING)
		watch_verdict(w, gate);
	else
		watch_schedule(w);
}

static void
watch_schedule(struct recon_watch *w)
{
	int64_t at = health_tracker_next_wakeup(w->tracker), now = now_mono_ms();
	int64_t wait = at == INT64_MAX ? 1000 : at - now;
	struct timeval tv;

	if (wait < 5)
		wait = 5;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(w->timer, &tv);
}

void
recon_watch_start(struct recon *r, struct recon_ctr *ctr, const struct store_deployment *d,
                  const struct store_enclave *e, struct recon_host *host, struct enclave *enclave,
                  struct redact *redact)
{
	struct recon_watch *w = xcalloc(1, sizeof *w);
	struct config *cfg = recon_config_of(d);
	struct store_update u = {0};
	struct err err = ERR_INIT;
	const char *colon = e->address != NULL ? strrchr(e->address, ':') : NULL;
	char *ip = colon != NULL ? xstrndup(e->address, (size_t)(colon - e->address))
	                         : xstrdup(enclave->ip != NULL ? enclave->ip : "");

	w->r = r;
	w->host = host;
	snprintf(w->container_id, sizeof w->container_id, "%s", e->container_id);
	snprintf(w->deployment_id, sizeof w->deployment_id, "%s", d->id);
	snprintf(w->enclave_id, sizeof w->enclave_id, "%s", e->id);
	w->enclave = enclave;
	w->redact = redact;
	w->timer = evtimer_new(r->env.base, watch_on_timer, w);
	if (store_update_latest(r->env.store, e->container_id, &u, &err) == 0 &&
	    !u.state.finished && strcmp(u.to_deployment_id, d->id) == 0)
		snprintf(w->update_id, sizeof w->update_id, "%s", u.id);
	store_update_clear(&u);
	if (cfg == NULL || health_checks_from_config(cfg, ip, &w->checks, &w->n_checks, &err) < 0) {
		free(ip);
		config_free(cfg);
		boot_fail(r, ctr, e->id, cfg == NULL ? "the config does not parse" : err.msg);
		watch_free(w);
		return;
	}
	w->tracker =
	    health_tracker_new(w->checks, w->n_checks, now_mono_ms(),
	                       cfg->deploy.min_healthy_time_ms, health_timeout_of_config(cfg));
	free(ip);
	config_free(cfg);
	if (ctr->watch != NULL)
		recon_watch_cancel(ctr->watch);
	ctr->watch = w;
	{
		struct store_container c = {0};

		if (store_container_get(r->env.store, e->container_id, &c, &err) == 0) {
			if (lifecycle_container_set(r->env.lc, &c, c.status, "health checks", NULL,
			                            &err, NULL) < 0)
				log_error("container %s: %s", c.name, err.msg);
		}
		store_container_clear(&c);
	}
	watch_on_timer(-1, 0, w);
}

static void
watch_free(struct recon_watch *w)
{
	if (w->timer != NULL)
		event_free(w->timer);
	health_tracker_free(w->tracker);
	health_checks_free(w->checks, w->n_checks);
	w->host->ops->release(w->host, w->enclave);
	redact_free(w->redact);
	free(w);
}

void
recon_watch_cancel(struct recon_watch *w)
{
	w->cancelled = 1;
	if (w->timer != NULL)
		evtimer_del(w->timer);
	if (w->running == 0)
		watch_free(w);
}
