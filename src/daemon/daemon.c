#include "daemon/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api-agent.h"
#include "api/api-routes.h"
#include "api/api-server.h"
#include "api/api-pending.h"
#include "api/api-render.h"
#include "api/api-source.h"
#include "api/sse.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "common/workq.h"
#include "config/config.h"
#include "daemon/leader.h"
#include "eventlog/eventlog.h"
#include "health/health.h"
#include "recon/recon-host.h"
#include "recon/recon.h"
#include "secret/redact.h"
#include "router/router_client.h"
#include "tls/acme.h"
#include "tls/ca.h"
#include "tls/certs.h"

#include "runtime/runtime.h"
#include "secret/secret.h"
#include "secret/hostkey.h"
#include "source/source.h"
#include "store/store.h"

static const struct api_route *const berthd_routes[] = {
    api_routes_containers,
    api_routes_updates,
    api_routes_secrets,
    api_routes_orgs,
    api_routes_events,
    api_routes_metrics,
    api_routes_logs,
    api_routes_host,
    api_routes_agent,
    api_routes_web,
    NULL,
};

static void
berthd_on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct berthd *d = arg;

	(void)what;
	log_info("signal %d: stopping; enclaves and the router keep serving", (int)sig);
	d->stopping = 1;
	event_base_loopexit(d->base, NULL);
}

static int
berthd_auth(void *ctx, const char *token, struct api_principal *who)
{
	struct berthd *d = ctx;
	struct store_org org = {0};
	struct err err = ERR_INIT;
	int rc;

	rc = store_token_lookup(d->store, token, &org, &err);
	if (rc < 0) {
		if (rc != STORE_ENOTFOUND)
			log_error("token lookup: %s", err.msg);
		return -1;
	}
	snprintf(who->org_id, sizeof who->org_id, "%s", org.id);
	snprintf(who->org_name, sizeof who->org_name, "%s", org.name);
	who->admin = strcmp(org.id, d->default_org_id) == 0;
	store_org_clear(&org);
	return 0;
}

/* At first start: org `default` and its admin token, written once to
 * <state>/admin-token (0600), and printed when stdout is a terminal (not into
 * a log file or a pipe that others may read). Later starts find the org. */
static int
berthd_bootstrap(struct berthd *d, struct err *err)
{
	struct store_org org = {0};
	char token[TOKEN_LEN + 1], *path = NULL, *line = NULL;
	int rc;

	rc = store_org_get_by_name(d->store, "default", &org, err);
	if (rc == 0) {
		snprintf(d->default_org_id, sizeof d->default_org_id, "%s", org.id);
		store_org_clear(&org);
		return 0;
	}
	if (rc != STORE_ENOTFOUND)
		return rc;
	err_clear(err);
	token_generate(token);
	path = xasprintf("%s/admin-token", d->settings.state_dir);
	line = xasprintf("%s\n", token);
	if (store_begin(d->store, err) < 0)
		goto out;
	if ((rc = store_org_create(d->store, "default", &org, err)) < 0 ||
	    (rc = store_token_add(d->store, org.id, token, err)) < 0) {
		store_rollback(d->store);
		goto out;
	}
	/* The file, durable, before the commit: a crash in between leaves no
	 * org whose token nobody knows, and the next start tries again. */
	if ((rc = file_write_secret(path, line, strlen(line), err)) < 0) {
		store_rollback(d->store);
		goto out;
	}
	if ((rc = store_commit(d->store, err)) < 0)
		goto out;
	snprintf(d->default_org_id, sizeof d->default_org_id, "%s", org.id);
	log_info("first start: org default created; its admin token is in %s", path);
	if (isatty(STDOUT_FILENO)) {
		printf("berthd: admin token (also in %s): %s\n", path, token);
		fflush(stdout);
	}
	rc = 0;
out:
	sodium_memzero(token, sizeof token);
	if (line != NULL)
		sodium_memzero(line, strlen(line));
	free(line);
	free(path);
	store_org_clear(&org);
	return rc;
}

/* Committed events reach the org's streams. */
static void
berthd_publish(void *ctx, const char *org_id, int64_t id, const char *kind, const char *json)
{
	struct berthd *d = ctx;

	if (d->hub != NULL)
		sse_hub_publish(d->hub, org_id, id, kind, json);
}

int
berthd_http_status(int store_rc)
{
	switch (store_rc) {
	case STORE_ENOTFOUND:
		return 404;
	case STORE_ECONFLICT:
	case STORE_EINUSE:
	case STORE_ESTATE:
		return 409;
	default:
		return 500;
	}
}

const char *
berthd_isolation_default(const struct berthd *d)
{
	if (d->settings.isolation != NULL)
		return d->settings.isolation;
	return runtime_isolation(d->rt);
}

int
berthd_isolation_available(const struct berthd *d, const char *iso)
{
	struct err ignored = ERR_INIT;

	/* Probed when the runtime opened: this does not block. */
	return runtime_isolation_available(d->rt, iso, &ignored) > 0;
}

char *
berthd_isolation_offered(const struct berthd *d)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; config_isolation_levels[i] != NULL; i++)
		if (berthd_isolation_available(d, config_isolation_levels[i]))
			buf_printf(&b, "%s%s", b.len > 0 ? ", " : "", config_isolation_levels[i]);
	if (b.len == 0) {
		buf_free(&b);
		return xstrdup("none");
	}
	return buf_take(&b);
}

/* Says which isolation levels this host offers; refuses a default it does
 * not (--runtime runsc without a working runsc): every deployment that does
 * not name its level would be refused. */
static int
berthd_check_isolation(struct berthd *d, struct err *err)
{
	const char *def = berthd_isolation_default(d);
	char *offered = berthd_isolation_offered(d);
	int rc = 0;

	if (!berthd_isolation_available(d, def))
		rc = err_make(err, 0,
		              "--runtime: isolation %s is not available on this host: it offers %s",
		              def, offered);
	else
		log_info("isolation levels: %s (default %s)", offered, def);
	free(offered);
	return rc;
}

int
berthd_harden(struct err *err)
{
	/* Hard too: no library of ours raises it again, and what berthd starts
	 * (the OCI runtime, and through it the enclaves, whose environment
	 * holds their secrets) writes no core file either. */
	struct rlimit none = {0, 0};

	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return err_make(err, errno, "setrlimit RLIMIT_CORE");
	/* Inherited by fork(), reset by execve(): the forked helpers (the log
	 * copiers) are covered, the programs berthd runs are their own. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return err_make(err, errno, "prctl PR_SET_DUMPABLE");
	return 0;
}

int
berthd_runtime_open(const struct berthd_runtime_opts *o, struct runtime **out, struct err *err)
{
	struct runtime_settings rs = {0};
	char hex[65], *run, *oci_root, *netns_dir;
	int rc;

	/* The runtime's state lives in a run directory of this state directory
	 * alone, so that two daemons never take each other's enclaves. */
	sha256_hex(o->state_dir, strlen(o->state_dir), hex);
	run = xasprintf("/run/berth/%.12s", hex);
	oci_root = xasprintf("%s/oci", run);
	netns_dir = xasprintf("%s/netns", run);
	rs.state_dir = o->state_dir;
	rs.oci_runtime = o->oci_runtime;
	rs.subnet = o->subnet;
	rs.bridge = o->bridge;
	rs.cgroup_parent = o->cgroup_parent;
	rs.oci_root = oci_root;
	rs.netns_dir = netns_dir;
	rs.gpus_simulated = o->gpus > 0 ? o->gpus : 0;
	rs.isolation = o->isolation;
	/* The API asks which levels work from the loop: find out now. */
	rs.probe_isolation = 1;
	/* Only berth-router and the health checks reach enclaves' ports. */
	rs.upstream_mark = BERTH_UPSTREAM_MARK;
	rs.egress_dns = o->egress_dns;
	rs.egress_dns_timeout_ms = o->egress_dns_timeout_ms;
	/* Nothing of ours outlives us but the enclaves and the router: log
	 * copiers end with the daemon, and are started again as it adopts. */
	rs.copiers_end_with_us = 1;
	rc = runtime_open(&rs, out, err);
	free(run);
	free(oci_root);
	free(netns_dir);
	return rc;
}

static int
berthd_open_runtime(struct berthd *d, struct err *err)
{
	struct berthd_runtime_opts o = {
	    .state_dir = d->settings.state_dir,
	    .oci_runtime = d->settings.runtime,
	    .isolation = d->settings.isolation,
	    .subnet = d->settings.subnet,
	    .bridge = d->settings.bridge,
	    .gpus = d->settings.gpus,
	    .egress_dns = d->settings.egress_dns,
	    .egress_dns_timeout_ms = d->settings.egress_dns_timeout_ms,
	};

	return berthd_runtime_open(&o, &d->rt, err);
}

/* The hosts of --agent: one remote host per URL, keyed by the host id its
 * agent reports in /v1/info (the same token file for every agent). An
 * agent that does not answer now is pending: the reconciler asks it again
 * and adopts its enclaves once it says its id. Two agents that report one
 * id are refused. */
static int
berthd_agent_hosts(struct berthd *d, struct err *err)
{
	const struct settings *s = &d->settings;
	size_t n = strv_len(s->agent_urls);

	d->agent_hosts = xcalloc(n + 1, sizeof *d->agent_hosts);
	for (size_t i = 0; i < n; i++) {
		struct recon_host_remote_settings rs = {
		    .url = s->agent_urls[i],
		    .token_file = s->agent_token_file,
		    .timeout_ms = 5000,
		};
		struct recon_host_capacity cap = {0};
		struct recon_env_host *eh = &d->agent_hosts[d->n_agent_hosts];
		struct recon_host *h = NULL;
		const char *id = NULL;

		if (recon_host_remote_new(&rs, &d->stopping, &h, err) < 0)
			return -1;
		if (recon_host_remote_info(h, &id, &cap) < 0) {
			/* Pending: the reconciler asks again until it answers. */
			log_warn("agent %s did not say its host id yet", s->agent_urls[i]);
			eh->host = h;
			d->n_agent_hosts++;
			continue;
		}
		for (size_t j = 0; j < d->n_agent_hosts; j++)
			if (d->agent_hosts[j].id != NULL && strcmp(d->agent_hosts[j].id, id) == 0) {
				recon_host_remote_free(h);
				return err_make(err, 0, "agents %s and %s both are host %s",
				                s->agent_urls[j], s->agent_urls[i], id);
			}
		eh->id = xstrdup(id);
		eh->host = h;
		eh->cpus = cap.cpus;
		eh->memory_bytes = cap.memory_bytes;
		eh->gpus = cap.gpus;
		eh->router_peer = h != NULL ? recon_host_remote_router_peer(h) : NULL;
		d->n_agent_hosts++;
	}
	return 0;
}

static void
berthd_agent_hosts_free(struct berthd *d)
{
	for (size_t i = 0; i < d->n_agent_hosts; i++) {
		free((char *)d->agent_hosts[i].id);
		recon_host_remote_free(d->agent_hosts[i].host);
	}
	free(d->agent_hosts);
	d->agent_hosts = NULL;
	d->n_agent_hosts = 0;
}

static int
berthd_new_recon(struct berthd *d, struct err *err)
{
	const struct settings *s = &d->settings;
	struct recon_host_settings hs = {
	    .state_dir = s->state_dir,
	    .router_socket = s->router_socket,
	    .router_bin = s->router_bin,
	    .router_addr = s->router_addr,
	    .router_port = s->router_port,
	    .router_flags = s->router_flags,
	    .tls_addr = d->certs != NULL ? s->tls_addr : NULL,
	    .tls_port = s->tls_port,
	    .insecure_registries = s->insecure_registries,
	    .pull_connect_s = s->fetch_connect_s,
	    .pull_idle_s = s->fetch_idle_s,
	    .pull_timeout_ms = (int64_t)s->pull_timeout_s * 1000,
	    .image_max_bytes = s->image_max_bytes,
	    .image_max_entries = s->image_max_entries,
	};
	struct recon_env env = {
	    .base = d->base,
	    .store = d->store,
	    .workq = d->workq,
	    .fetchq = d->fetchq,
	    .healthq = d->healthq,
	    .events = d->events,
	    .lc = &d->lc,
	    .key = d->key,
	    .certs = d->certs,
	    .hostkey = d->hostkey,
	    .certs_background = d->acme != NULL,
	    .stopping = &d->stopping,
	    .settings = {.domain = s->domain,
	                 .runtime_runc = runtime_version(d->rt, "runc"),
	                 .runtime_gvisor = runtime_version(d->rt, "gvisor")},
	};

	if (s->agent_urls != NULL) {
		/* The hosts of those agents, not this one. */
		if (berthd_agent_hosts(d, err) < 0)
			return -1;
		env.hosts = d->agent_hosts;
		env.n_hosts = d->n_agent_hosts;
	} else if (recon_host_local_new(d->rt, &hs, &d->stopping, &d->recon_host, err) < 0) {
		return -1;
	}
	env.host = d->recon_host;
	return recon_new(&env, &d->recon, err);
}

/* The ACME challenges, served by berth-router (over its admin socket). */
static int
berthd_challenge_set(void *arg, const char *host, const char *token, const char *key_auth,
                     struct err *err)
{
	struct berthd *d = arg;

	return router_client_set_challenge(d->settings.router_socket, host, token, key_auth, err);
}

static void
berthd_challenge_clear(void *arg, const char *host, const char *token)
{
	struct berthd *d = arg;
	struct err err = ERR_INIT;

	if (router_client_delete_challenge(d->settings.router_socket, token, &err) < 0)
		log_warn("the ACME challenge of %s stays at the router: %s", host, err.msg);
}

static int
berthd_alpn_set(void *arg, const char *host, const char *key_auth, struct err *err)
{
	struct berthd *d = arg;

	return router_client_set_tls_challenge(d->settings.router_socket, host, key_auth, err);
}

static void
berthd_alpn_clear(void *arg, const char *host)
{
	struct berthd *d = arg;
	struct err err = ERR_INIT;

	if (router_client_delete_tls_challenge(d->settings.router_socket, host, &err) < 0)
		log_warn("the TLS-ALPN-01 challenge of %s stays at the router: %s", host, err.msg);
}

/* Who issues the hosts' certificates: the local CA (STATE/ca) or an ACME
 * server (its account in STATE/acme). */
static int
berthd_issuer_open(struct berthd *d, struct certs_issuer *issuer, struct err *err)
{
	const struct settings *s = &d->settings;
	char *dir;
	int rc;

	if (strcmp(s->tls_certs, "acme") == 0) {
		struct acme_settings as = {
		    .directory = s->acme_directory,
		    .ca_file = s->acme_ca,
		    .email = s->acme_email,
		    .cancel = &d->stopping,
		    .challenge = s->acme_challenge,
		};
		struct acme_challenges ch = {
		    .set = berthd_challenge_set,
		    .clear = berthd_challenge_clear,
		    .set_alpn = berthd_alpn_set,
		    .clear_alpn = berthd_alpn_clear,
		    .arg = d,
		};

		dir = xasprintf("%s/acme", s->state_dir);
		rc = acme_open(dir, &as, &ch, &d->acme, err);
		free(dir);
		if (rc == 0)
			acme_as_issuer(d->acme, issuer);
		return rc;
	}
	dir = xasprintf("%s/ca", s->state_dir);
	rc = ca_open(dir, &d->ca, err);
	free(dir);
	if (rc == 0)
		ca_as_issuer(d->ca, issuer);
	return rc;
}

/* The issuer and the hosts' certificates (STATE/tls, which the router
 * reads), unless TLS is off. */
static int
berthd_tls_open(struct berthd *d, struct err *err)
{
	struct certs_issuer issuer;
	char *dir;
	int rc;

	if (d->settings.tls_port == 0)
		return 0;
	if (berthd_issuer_open(d, &issuer, err) < 0)
		return -1;
	dir = xasprintf("%s/tls", d->settings.state_dir);
	rc = certs_open(dir, &issuer, &d->certs, err);
	free(dir);
	return rc;
}

/* SQLite's flush, BERTH_FLUSH_DELAY_MS later when the tests ask (a slow
 * disk: what waits on a flush shows that it does). */
static int
berthd_flush(void *arg, struct err *err)
{
	struct berthd *d = arg;

	if (d->flush_delay_ms > 0)
		usleep((useconds_t)d->flush_delay_ms * 1000);
	return store_sync_wal_flush(&d->wal, err);
}

/* The API's hold: the answer to a write goes once what was written is
 * durable. */
static int
berthd_hold(void *ctx, api_release_fn release, void *held)
{
	struct berthd *d = ctx;
	uint64_t gen = store_sync_note(
	    d->sync, store_in_transaction(d->store) ? 0 : store_generation(d->store));

	if (store_sync_durable(d->sync) >= gen)
		return 0;
	store_sync_after(d->sync, gen, release, held);
	return 1;
}

/* From here on a commit returns before it is on the disk; each answer to a
 * write and each side effect of the reconciler waits for the flush that
 * covers it (store-sync.h, docs/reliability.md). Start-up ran with every
 * commit durable as it returned. */
static int
berthd_open_gate(struct berthd *d, struct err *err)
{
	const char *db_path, *delay = getenv("BERTH_FLUSH_DELAY_MS");

	if (store_defer_durability(d->store, &db_path, err) < 0)
		return err_wrap(err, "store");
	d->flush_delay_ms = delay != NULL ? atoi(delay) : 0;
	d->wal.db_path = db_path;
	d->sync = db_path != NULL ? store_sync_new(d->base, berthd_flush, d)
	                          : store_sync_new(d->base, NULL, NULL);
	recon_set_sync(d->recon, d->sync);
	api_server_set_hold(d->api, berthd_hold);
	return 0;
}

void
berthd_kick(struct berthd *d, const char *container_id)
{
	if (d->leading)
		recon_kick(d->recon, container_id);
	else if (d->leader != NULL)
		leader_kick(d->leader, container_id);
}

const char *
berthd_role(const struct berthd *d)
{
	if (d->leader == NULL)
		return NULL;
	return d->leading ? "leader" : "follower";
}

char *
berthd_leader_url(const struct berthd *d)
{
	return d->leader != NULL ? leader_url(d->leader) : NULL;
}

static const char *
berthd_role_hook(void *ctx)
{
	return berthd_role(ctx);
}

/* What a start does once the store says this berthd may act: the enclaves
 * adopted, every container looked at (updates in flight resume), the
 * containers waiting for their source fetched again. */
static int
berthd_lead(struct berthd *d, struct err *err)
{
	d->leading = 1;
	if (d->follow_timer != NULL)
		event_del(d->follow_timer);
	if (recon_start(d->recon, err) < 0)
		return err_wrap(err, "reconciler");
	/* The leader's reconciler alone hears of lost hosts. */
	if (d->hosts != NULL)
		api_hosts_watch(d->hosts, d->base, d->recon);
	if (api_pending_resume(d, err) < 0)
		return err_wrap(err, "containers waiting for their source");
	return 0;
}

/* The election's thread got the lock. */
static void
berthd_on_elected(void *arg)
{
	struct berthd *d = arg;
	struct err err = ERR_INIT;

	if (berthd_lead(d, &err) < 0) {
		/* Leading half-way is not leading: another replica takes over. */
		log_error("leader: %s", err.msg);
		_exit(LEADER_EXIT_LOST);
	}
}

/* A follower committed a write about container_id. */
static void
berthd_on_kicked(void *arg, const char *container_id)
{
	struct berthd *d = arg;

	/* "" is no container: the reconciler's resync covers the rest. */
	if (d->leading && *container_id != '\0')
		recon_kick(d->recon, container_id);
}

/* A follower learns the hosts of agents that were away when it started, so
 * that its API places and chooses strategies as the leader would, and a
 * takeover adopts on every host at once. */
static void
berthd_on_follow_timer(evutil_socket_t fd, short what, void *arg)
{
	struct berthd *d = arg;

	(void)fd;
	(void)what;
	if (!d->leading)
		recon_hosts_refresh(d->recon);
}

/* A replica: the election starts; the reconciler waits for it. */
static int
berthd_elect(struct berthd *d, struct err *err)
{
	struct leader_settings ls = {
	    .store_url = d->settings.store,
	    .self_url = d->settings.replica_url,
	    .elected = berthd_on_elected,
	    .kicked = berthd_on_kicked,
	    .arg = d,
	};
	struct timeval every = {1, 0};

	if (leader_new(d->base, &ls, &d->leader, err) < 0)
		return -1;
	d->follow_timer = event_new(d->base, -1, EV_PERSIST, berthd_on_follow_timer, d);
	event_add(d->follow_timer, &every);
	recon_hosts_refresh(d->recon);
	api_server_set_role(d->api, berthd_role_hook);
	log_info("replica %s: a follower until it holds the store's leader lock",
	         d->settings.replica_url);
	return leader_start(d->leader, err);
}

/* A replica shares the first one's secret.key (docs/operations.md,
 * Replicas). One that made a key of its own just now on a store another
 * replica started, or whose key does not open the store's secrets, would
 * seal what the others cannot open: refused (and a key just made is
 * removed, so that the next start checks again). */
static int
berthd_replica_key_check(struct berthd *d, int made_key, struct err *err)
{
	char *path = xasprintf("%s/%s", d->settings.state_dir, SECRET_KEY_FILE);
	struct store_org org = {0};
	struct store_secret sec = {0};
	struct err ignored = ERR_INIT;
	char *value = NULL;
	size_t len = 0;
	int rc;

	rc = store_org_get_by_name(d->store, "default", &org, err);
	if (rc == 0 && made_key) {
		rc = err_make(err, 0,
		              "%s was made now, but another replica started on this store first: "
		              "copy its secret.key here (docs/operations.md, Replicas)",
		              path);
		goto out;
	}
	if (rc < 0 && rc != STORE_ENOTFOUND)
		goto out;
	err_clear(err);
	rc = store_secret_any(d->store, &sec, err);
	if (rc == STORE_ENOTFOUND) {
		err_clear(err);
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (sec.nonce_len != SECRET_NONCE_BYTES ||
	    secret_open(d->key, sec.org_id, sec.name, sec.sealed, sec.sealed_len, sec.nonce, &value,
	                &len, &ignored) < 0)
		rc = err_make(err, 0,
		              "%s does not open the secrets in the store: it is not the other "
		              "replicas' key; copy the first replica's secret.key here "
		              "(docs/operations.md, Replicas)",
		              path);
out:
	if (rc < 0 && made_key)
		unlink(path);
	secret_value_free(value, len);
	store_secret_clear(&sec);
	store_org_clear(&org);
	free(path);
	return rc;
}

int
berthd_start(struct berthd *d, struct settings *settings, struct err *err)
{
	char *db;
	int rc, made_key;

	memset(d, 0, sizeof *d);
	d->settings = *settings;
	memset(settings, 0, sizeof *settings);

	umask(077);
	if (mkdir_p(d->settings.state_dir, 0700, err) < 0)
		return err_wrap(err, "state directory");
	evthread_use_pthreads();
	d->base = event_base_new();
	if (d->base == NULL)
		log_fatal("event_base_new failed");
	signal(SIGPIPE, SIG_IGN);
	d->sigterm = evsignal_new(d->base, SIGTERM, berthd_on_stop_signal, d);
	d->sigint = evsignal_new(d->base, SIGINT, berthd_on_stop_signal, d);
	event_add(d->sigterm, NULL);
	event_add(d->sigint, NULL);
	d->fetch_program = exe_sibling("berth-fetch");
	d->sources.roots = d->settings.source_roots;
	d->sources.fetch_program = d->fetch_program;
	d->sources.connect_ms = (int64_t)d->settings.fetch_connect_s * 1000;
	d->sources.idle_ms = (int64_t)d->settings.fetch_idle_s * 1000;
	d->sources.total_ms = (int64_t)d->settings.source_timeout_s * 1000;
	d->sources.cancel = &d->stopping;
	d->workq = workq_new(d->base, d->settings.workers, 0);
	d->fetchq = workq_new(d->base, d->settings.fetch_workers, d->settings.fetch_per_host);
	d->healthq = workq_new(d->base, d->settings.workers, 0);
	if (secret_init(err) < 0 || health_init(err) < 0 || source_init(err) < 0)
		return -1;
	{
		char *path = xasprintf("%s/%s", d->settings.state_dir, SECRET_KEY_FILE);

		made_key = access(path, F_OK) < 0;
		free(path);
	}
	if (secret_key_load(d->settings.state_dir, &d->key, err) < 0)
		return err_wrap(err, "secret key");
	{
		char *path = xasprintf("%s/%s", d->settings.state_dir, HOSTKEY_FILE);

		rc = hostkey_load(path, 1, &d->hostkey, err);
		free(path);
		if (rc < 0)
			return -1;
	}
	if (berthd_tls_open(d, err) < 0)
		return -1;
	db = d->settings.store != NULL ? xstrdup(d->settings.store)
	                               : xasprintf("%s/berth.db", d->settings.state_dir);
	rc = store_open(db, &d->store, err);
	free(db);
	if (rc < 0)
		return err_wrap(err, "store");
	if (d->settings.replica_url != NULL && berthd_replica_key_check(d, made_key, err) < 0)
		return err_wrap(err, "secret key");
	if (berthd_bootstrap(d, err) < 0)
		return err_wrap(err, "first start");
	{
		struct sse_limits lim = {
		    .max_per_org = d->settings.event_streams_per_org,
		    .max_buffered = (size_t)d->settings.event_stream_buffer,
		};
		d->hub = sse_hub_new(d->base, 15000, &lim);
	}
	d->events = eventlog_new(d->base, d->store, berthd_publish, d);
	lifecycle_init(&d->lc, d->store, d->events);
	if (berthd_open_runtime(d, err) < 0)
		return err_wrap(err, "runtime");
	if (d->settings.agent_token_file != NULL) {
		char *token = NULL;

		if (recon_host_token_read(d->settings.agent_token_file, &token, err) < 0)
			return -1;
		d->hosts = api_hosts_new(token, (int64_t)d->settings.host_timeout_s * 1000,
		                         d->settings.agent_urls);
		sodium_memzero(token, strlen(token));
		free(token);
	}
	if (berthd_new_recon(d, err) < 0)
		return err_wrap(err, "reconciler");
	if (berthd_check_isolation(d, err) < 0)
		return -1;
	if (d->settings.replica_url == NULL && berthd_lead(d, err) < 0)
		return -1;
	if (api_server_new(d->base, d->settings.listen_addr, d->settings.listen_port, berthd_routes,
	                   berthd_auth, d, &d->api, err) < 0)
		return err_wrap(err, "API");
	{
		struct api_server_limits lim = {
		    .max_connections = d->settings.api_max_connections,
		    .header_timeout_ms = d->settings.api_header_timeout_ms,
		};
		api_server_set_limits(d->api, &lim);
	}
	if (berthd_open_gate(d, err) < 0)
		return -1;
	if (d->settings.replica_url != NULL && berthd_elect(d, err) < 0)
		return -1;
	log_info("berthd %s: API and dashboard on http://%s:%d/, state in %s", BERTH_VERSION,
	         d->settings.listen_addr, api_server_port(d->api), d->settings.state_dir);
	return 0;
}

void
berthd_list_body_unref(struct berthd_list_body *b)
{
	if (b != NULL && --b->refs == 0) {
		free(b->text);
		free(b);
	}
}

int
berthd_run(struct berthd *d)
{
	return event_base_dispatch(d->base) < 0 ? -1 : 0;
}

void
berthd_stop(struct berthd *d)
{
	d->stopping = 1;
	api_server_free(d->api);
	leader_free(d->leader); /* a leader's lock goes with its connection */
	if (d->follow_timer != NULL)
		event_free(d->follow_timer);
	/* The workqs first: their last done() callbacks still use the
	 * reconciler. Work waiting on peers sees `stopping` and ends. */
	workq_free(d->fetchq);
	workq_free(d->healthq);
	workq_free(d->workq);
	api_sources_free(take_ptr(&d->api_sources));
	api_pendings_free(take_ptr(&d->api_pendings));
	recon_free(d->recon);
	recon_host_local_free(d->recon_host);
	berthd_agent_hosts_free(d);
	api_hosts_free(d->hosts);
	runtime_close(d->rt);
	eventlog_free(d->events); /* publishes what committed */
	sse_hub_free(d->hub);
	store_sync_free(d->sync); /* a last flush */
	store_close(d->store);
	secret_key_free(d->key);
	hostkey_free(d->hostkey);
	certs_free(d->certs);
	ca_free(d->ca);
	acme_free(d->acme);
	if (d->sigterm != NULL)
		event_free(d->sigterm);
	if (d->sigint != NULL)
		event_free(d->sigint);
	if (d->base != NULL)
		event_base_free(d->base);
	for (int i = 0; i < BERTHD_LIST_CACHE; i++)
		berthd_list_body_unref(d->list_cache[i].body);
	api_render_cache_free(d->render_cache);
	strmap_free(d->deployment_gpus, NULL);
	settings_free(&d->settings);
	free(d->fetch_program);
	memset(d, 0, sizeof *d);
}
