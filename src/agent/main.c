/* berth-agent: one host's runtime, health checks and router, driven by
 * berthd over HTTP (agent.h). Wiring only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "daemon/settings.h"

static const char usage[] =
    "usage: berth-agent --token-file FILE [options]\n"
    "  --listen ADDR:PORT         the agent's API, for berthd (default 127.0.0.1:7071)\n"
    "  --advertise URL            how berthd reaches it (default http://LISTEN)\n"
    "  --router-peer ADDR:PORT    where other hosts' routers reach this host's router\n"
    "                             (default: --router-listen, unless loopback or any)\n"
    "  --token-file FILE          the host token, shared with berthd's --agent-token-file\n"
    "  --berthd URL               register with berthd there and heartbeat (default: none);\n"
    "                             repeat it for each berthd replica\n"
    "  --host-id ID               the host's name at berthd (default: the host name)\n"
    "  --heartbeat S              seconds between heartbeats (default 5)\n"
    "  --state-dir DIR            images, rootfs, logs, volumes (default /var/lib/berth-agent)\n"
    "  --router-listen ADDR:PORT  this host's berth-router (default 127.0.0.1:8080)\n"
    "  --router-socket PATH       its admin socket (default STATE/router.sock)\n"
    "  --router-bin PATH          berth-router to start (default: beside berth-agent)\n"
    "  --runtime runc|crun|runsc  OCI runtime (default: detected)\n"
    "  --subnet CIDR              enclaves' network (default 10.89.0.0/16)\n"
    "  --bridge NAME              enclaves' bridge (default berth0)\n"
    "  --insecure-registry H:P    a registry reached over plain HTTP (repeatable)\n"
    "  --gpus N                   simulated GPU inventory (scheduling only)\n"
    "  --workers N                threads for blocking work (default 8)\n"
    "  --log-level LEVEL          debug, info, warn or error (default info)\n"
    "  --version, --help\n";

struct agent_opts {
	struct agent_settings s;
	char *listen_addr, *router_addr; /* owned */
	char **registries;               /* owned strv */
	char **berthds;                  /* owned strv */
	const char *log_level;
};

static int
int_arg(const char *flag, const char *v, int lo, int hi, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "berth-agent: %s: expected a number from %d to %d, not \"%s\"\n",
		        flag, lo, hi, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* Fills o from argv: 0, 1 for --help/--version answered, -1 on a bad flag
 * (said on stderr). */
static int
parse_args(struct agent_opts *o, int argc, char **argv)
{
	struct agent_settings *s = &o->s;
	struct err err = ERR_INIT;
	int beat_s = 5;

	s->listen_addr = "127.0.0.1";
	s->listen_port = 7071;
	s->state_dir = "/var/lib/berth-agent";
	s->router_addr = "127.0.0.1";
	s->router_port = 8080;
	s->subnet = "10.89.0.0/16";
	s->bridge = "berth0";
	s->gpus = -1;
	s->workers = 8;
	o->log_level = "info";
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(f, "--version") == 0) {
			printf("berth-agent %s\n", BERTH_VERSION);
			return 1;
		}
		if (v == NULL) {
			fprintf(stderr, "berth-agent: %s needs a value (see --help)\n", f);
			return -1;
		}
		i++;
		if (strcmp(f, "--listen") == 0 || strcmp(f, "--router-listen") == 0) {
			char *addr;
			int port;

			if (settings_parse_hostport(v, &addr, &port, &err) < 0) {
				fprintf(stderr, "berth-agent: %s: %s\n", f, err.msg);
				return -1;
			}
			if (strcmp(f, "--listen") == 0) {
				free(o->listen_addr);
				s->listen_addr = o->listen_addr = addr;
				s->listen_port = port;
			} else {
				free(o->router_addr);
				s->router_addr = o->router_addr = addr;
				s->router_port = port;
			}
		} else if (strcmp(f, "--router-peer") == 0) {
			char *addr;
			int port;

			if (settings_parse_hostport(v, &addr, &port, &err) < 0) {
				fprintf(stderr, "berth-agent: %s: %s\n", f, err.msg);
				return -1;
			}
			free(addr);
			s->router_peer = v;
		} else if (strcmp(f, "--advertise") == 0) {
			s->advertise_url = v;
		} else if (strcmp(f, "--token-file") == 0) {
			s->token_file = v;
		} else if (strcmp(f, "--berthd") == 0) {
			if (strncmp(v, "http://", 7) != 0) {
				fprintf(stderr,
				        "berth-agent: --berthd: \"%s\" is not an http:// URL\n", v);
				return -1;
			}
			o->berthds = strv_push(o->berthds, v);
		} else if (strcmp(f, "--host-id") == 0) {
			s->host_id = v;
		} else if (strcmp(f, "--heartbeat") == 0) {
			if (int_arg(f, v, 1, 3600, &beat_s) < 0)
				return -1;
		} else if (strcmp(f, "--state-dir") == 0) {
			s->state_dir = v;
		} else if (strcmp(f, "--router-socket") == 0) {
			s->router_socket = v;
		} else if (strcmp(f, "--router-bin") == 0) {
			s->router_bin = v;
		} else if (strcmp(f, "--runtime") == 0) {
			if (strcmp(v, "runsc") == 0) {
				s->isolation = "gvisor";
			} else if (strcmp(v, "runc") == 0 || strcmp(v, "crun") == 0) {
				s->runtime = v;
				s->isolation = "runc";
			} else {
				fprintf(stderr, "berth-agent: --runtime: runc, crun or runsc\n");
				return -1;
			}
		} else if (strcmp(f, "--subnet") == 0) {
			s->subnet = v;
		} else if (strcmp(f, "--bridge") == 0) {
			s->bridge = v;
		} else if (strcmp(f, "--insecure-registry") == 0) {
			o->registries = strv_push(o->registries, v);
		} else if (strcmp(f, "--gpus") == 0) {
			if (int_arg(f, v, 0, 1024, &s->gpus) < 0)
				return -1;
		} else if (strcmp(f, "--workers") == 0) {
			if (int_arg(f, v, 1, 64, &s->workers) < 0)
				return -1;
		} else if (strcmp(f, "--log-level") == 0) {
			o->log_level = v;
		} else {
			fprintf(stderr, "berth-agent: unknown flag %s (see --help)\n", f);
			return -1;
		}
	}
	if (s->token_file == NULL) {
		fprintf(stderr, "berth-agent: --token-file is needed (see --help)\n");
		return -1;
	}
	s->heartbeat_ms = (int64_t)beat_s * 1000;
	s->insecure_registries = o->registries;
	s->berthd_urls = o->berthds;
	return 0;
}

int
main(int argc, char **argv)
{
	struct agent_opts o = {0};
	struct err err = ERR_INIT;
	struct agent *a = NULL;
	int rc;

	/* As berthd: it holds the enclaves' secrets. */
	if (berthd_harden(&err) < 0) {
		fprintf(stderr, "berth-agent: %s\n", err.msg);
		return 1;
	}
	rc = parse_args(&o, argc, argv);
	if (rc != 0) {
		rc = rc > 0 ? 0 : 2;
		goto out;
	}
	log_init("berth-agent", (enum log_level)log_level_parse(o.log_level));
	if (agent_start(&o.s, &a, &err) < 0) {
		log_error("%s", err.msg);
		rc = 1;
		goto out;
	}
	rc = agent_run(a) < 0 ? 1 : 0;
out:
	agent_free(a);
	free(o.listen_addr);
	free(o.router_addr);
	strv_free(o.registries);
	strv_free(o.berthds);
	return rc;
}
