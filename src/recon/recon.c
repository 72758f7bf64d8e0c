#include "recon/recon.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "store/store.h"

struct recon {
	struct berthd *d;   /* borrowed */
	struct event *tick; /* owned: runs the kicked containers on the next pass */
	char **kicked;      /* owned strv of container ids to look at */
};

static void recon_on_tick(evutil_socket_t fd, short what, void *arg);

int
recon_new(struct berthd *d, struct recon **out, struct err *err)
{
	struct recon *r = xcalloc(1, sizeof *r);

	(void)err;
	r->d = d;
	r->tick = event_new(d->base, -1, 0, recon_on_tick, r);
	*out = r;
	return 0;
}

int
recon_start(struct recon *r, struct err *err)
{
	(void)r;
	(void)err;
	return 0;
}

void
recon_kick(struct recon *r, const char *container_id)
{
	if (!strv_contains(r->kicked, container_id))
		r->kicked = strv_push(r->kicked, container_id);
	event_active(r->tick, 0, 0);
}

static void
recon_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct recon *r = arg;
	char **ids = take_ptr(&r->kicked);

	(void)fd;
	(void)what;
	for (size_t i = 0; ids != NULL && ids[i] != NULL; i++)
		log_debug("recon: container %s kicked", ids[i]);
	strv_free(ids);
}

void
recon_free(struct recon *r)
{
	if (r == NULL)
		return;
	event_free(r->tick);
	strv_free(r->kicked);
	free(r);
}
