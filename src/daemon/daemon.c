#include "daemon/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "api/api-routes.h"
#include "api/api-server.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"

static const struct api_route *const berthd_routes[] = {
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

/* Reaps every exited child (STYLE.md rule 13); owners of children learn of
 * their exit through their own pipes or by polling the runtime. */
static void
berthd_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		log_debug("child %d exited with status %d", (int)pid, status);
}

static int
berthd_auth(void *ctx, const char *token, struct api_principal *who)
{
	(void)ctx;
	(void)token;
	(void)who;
	return -1; /* no tokens until the store holds them */
}

int
berthd_start(struct berthd *d, struct settings *settings, struct err *err)
{
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
	d->sigchld = evsignal_new(d->base, SIGCHLD, berthd_on_sigchld, d);
	event_add(d->sigterm, NULL);
	event_add(d->sigint, NULL);
	event_add(d->sigchld, NULL);
	d->workq = workq_new(d->base, d->settings.workers);
	if (api_server_new(d->base, d->settings.listen_addr, d->settings.listen_port, berthd_routes,
	                   berthd_auth, d, &d->api, err) < 0)
		return err_wrap(err, "API");
	log_info("berthd %s: API and dashboard on http://%s:%d/, state in %s", BERTH_VERSION,
	         d->settings.listen_addr, api_server_port(d->api), d->settings.state_dir);
	return 0;
}

int
berthd_run(struct berthd *d)
{
	return event_base_dispatch(d->base) < 0 ? -1 : 0;
}

void
berthd_stop(struct berthd *d)
{
	api_server_free(d->api);
	workq_free(d->workq);
	if (d->sigterm != NULL)
		event_free(d->sigterm);
	if (d->sigint != NULL)
		event_free(d->sigint);
	if (d->sigchld != NULL)
		event_free(d->sigchld);
	if (d->base != NULL)
		event_base_free(d->base);
	settings_free(&d->settings);
	memset(d, 0, sizeof *d);
}
