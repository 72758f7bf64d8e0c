/* recon-certs: certificates from a slow peer, obtained in the background.
 *
 * With ACME (env.certs_background) a route never waits for its certificate:
 * the router serves the host over plain HTTP at once, and HTTPS refuses the
 * name until its file is there. This file keeps the hosts the router has
 * routes of, with when each certificate is due, and runs one certificate at a
 * time on the fetch pool (the ACME server is a peer like a registry): kept
 * when its file is still good, ordered when it is missing or due. A new
 * certificate makes the container's route go again, so that the router
 * reads it (connections in flight keep the old one); a failure is an event
 * of the container with the server's problem, and is tried again with
 * backoff.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "eventlog/eventlog.h"
#include "recon/recon-int.h"
#include "store/store.h"
#include "tls/certs.h"

#define CERTS_SCAN_MS     1000            /* between looks at the hosts */
#define CERTS_BACKOFF_MS  5000            /* after the first failure */
#define CERTS_BACKOFF_MAX (3600 * 1000LL) /* and never longer */

struct recon_cert {
	char *host;            /* owned */
	store_id container_id; /* whose route names host */
	long long due;         /* Unix seconds when due; 0: look now */
	int64_t retry_at_ms;   /* monotonic: not before, after a failure */
	int64_t backoff_ms;    /* the next wait after a failure */
	int seen;              /* in the last scan */
	struct recon_cert *next;
};

struct cert_job {
	struct recon_job hdr;
	store_id container_id;
	char *host; /* owned */
	int issued;
	long long due;
	int rc;
	struct err err;
};

static void
cert_job_free(struct recon_job *hdr)
{
	struct cert_job *job = (struct cert_job *)hdr;

	free(job->host);
	free(job);
}

static struct recon_cert *
cert_find(struct recon *r, const char *host)
{
	for (struct recon_cert *c = r->certs_bg; c != NULL; c = c->next)
		if (strcmp(c->host, host) == 0)
			return c;
	return NULL;
}

static void
cert_work(void *arg)
{
	struct cert_job *job = arg;
	struct certs *cs = job->hdr.r->env.certs;

	job->rc = certs_ensure(cs, job->host, &job->issued, &job->err);
	if (job->rc == 0)
		job->due = certs_renew_at(cs, job->host);
}

/* An event of the container whose route names host; none when it is gone. */
static void
cert_event(struct recon *r, const char *container_id, const char *kind, char *msg)
{
	struct store_container c = {0};
	struct err err = ERR_INIT;

	if (store_container_get(r->env.store, container_id, &c, &err) == 0 &&
	    eventlog_add(r->env.events, &c, kind, &err, "%s", msg) < 0)
		log_error("event %s of %s: %s", kind, c.name, err.msg);
	store_container_clear(&c);
	free(msg);
}

static void
cert_done(void *arg)
{
	struct cert_job *job = arg;
	struct recon *r = job->hdr.r;
	struct recon_cert *c;

	recon_job_done(&job->hdr);
	r->certs_ordering = 0;
	if (recon_stopping(r))
		goto out;
	c = cert_find(r, job->host);
	if (job->rc < 0) {
		char wait[32];

		if (c != NULL) {
			c->retry_at_ms = now_mono_ms() + c->backoff_ms;
			snprintf(wait, sizeof wait, "%lld", (long long)(c->backoff_ms / 1000));
			c->backoff_ms = c->backoff_ms * 2 > CERTS_BACKOFF_MAX ? CERTS_BACKOFF_MAX
			                                                      : c->backoff_ms * 2;
		} else {
			snprintf(wait, sizeof wait, "%d", CERTS_BACKOFF_MS / 1000);
		}
		log_warn("certificate of %s: %s (again in %s s)", job->host, job->err.msg, wait);
		cert_event(r, job->container_id, "certificate.failed",
		           xasprintf("%s; plain HTTP serves it, HTTPS refuses the name until it "
		                     "has one; trying again in %s s",
		                     job->err.msg, wait));
		goto out;
	}
	if (c != NULL) {
		c->due = job->due;
		c->backoff_ms = CERTS_BACKOFF_MS;
		c->retry_at_ms = 0;
	}
	if (job->issued) {
		char until[32];
		struct recon_ctr *ctr = recon_ctr_get(r, job->container_id);

		time_rfc3339(job->due * 1000, until);
		log_info("certificate of %s issued, renewal due %s", job->host, until);
		cert_event(
		    r, job->container_id, "certificate.issued",
		    xasprintf("%s has a new certificate; it renews from %s", job->host, until));
		/* The route goes again: the router reads the new file when it
		 * installs it. */
		free(take_ptr(&ctr->route_pushed));
		r->routes_moved++;
		recon_kick(r, ctr->id);
	}
out:
	cert_job_free(&job->hdr);
}

/* The hosts with a route at the router, from what each container pushed. */
static void
certs_scan(struct recon *r)
{
	for (struct recon_cert *c = r->certs_bg; c != NULL; c = c->next)
		c->seen = 0;
	for (struct recon_ctr *ctr = r->ctrs; ctr != NULL; ctr = ctr->next) {
		json_t *routes, *route;
		const char *host;

		if (ctr->route_pushed == NULL)
			continue;
		routes = json_loads(ctr->route_pushed, 0, NULL);
		json_object_foreach(routes, host, route)
		{
			struct recon_cert *c;

			if (json_is_null(route))
				continue;
			c = cert_find(r, host);
			if (c == NULL) {
				c = xcalloc(1, sizeof *c);
				c->host = xstrdup(host);
				c->backoff_ms = CERTS_BACKOFF_MS;
				c->next = r->certs_bg;
				r->certs_bg = c;
			}
			snprintf(c->container_id, sizeof c->container_id, "%s", ctr->id);
			c->seen = 1;
		}
		json_decref(routes);
	}
	/* A host whose route went is forgotten; its file stays (a route that
	 * comes back finds it). */
	for (struct recon_cert **pp = &r->certs_bg; *pp != NULL;) {
		struct recon_cert *c = *pp;
		if (c->seen) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		free(c->host);
		free(c);
	}
}

void
recon_certs_tick(struct recon *r)
{
	int64_t now = now_mono_ms();
	long long wall = (long long)time(NULL);

	if (r->env.certs == NULL || !r->env.certs_background || now < r->certs_next_scan_ms)
		return;
	r->certs_next_scan_ms = now + CERTS_SCAN_MS;
	/* The hosts are read again only when a route moved: not 1,000 JSON
	 * texts parsed on the loop every second for nothing. */
	if (r->certs_scanned != r->routes_moved) {
		certs_scan(r);
		r->certs_scanned = r->routes_moved;
	}
	if (r->certs_ordering)
		return;
	for (struct recon_cert *c = r->certs_bg; c != NULL; c = c->next) {
		struct cert_job *job;

		if (wall < c->due || now < c->retry_at_ms)
			continue;
		job = xcalloc(1, sizeof *job);
		job->hdr.free = cert_job_free;
		job->host = xstrdup(c->host);
		snprintf(job->container_id, sizeof job->container_id, "%s", c->container_id);
		r->certs_ordering = 1;
		recon_job_submit_in(r, RECON_POOL_FETCH, "certificates", &job->hdr, cert_work,
		                    cert_done);
		return;
	}
}

void
recon_certs_free(struct recon *r)
{
	while (r->certs_bg != NULL) {
		struct recon_cert *c = r->certs_bg;
		r->certs_bg = c->next;
		free(c->host);
		free(c);
	}
}
