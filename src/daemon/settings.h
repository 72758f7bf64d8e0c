/* settings: berthd's settings, from defaults, a config file, then flags. */
#ifndef BERTH_SETTINGS_H
#define BERTH_SETTINGS_H

#include <stdint.h>

#include "common/err.h"

struct settings {
	char *state_dir;            /* owned; default /var/lib/berth */
	char *store;                /* owned or NULL: a SQLite file or a postgres:// URL
	                             * (store_open()), NULL = <state>/berth.db */
	char *listen_addr;          /* owned; API and dashboard, default 127.0.0.1 */
	int listen_port;            /* default 7070 */
	char *router_addr;          /* owned; berth-router's listener, default 127.0.0.1 */
	int router_port;            /* default 8080 */
	char *router_socket;        /* owned; admin socket, default <state>/router.sock */
	char *router_bin;           /* owned or NULL: berth-router beside berthd */
	char **router_flags;        /* owned strv of "NAME=VALUE": --NAME VALUE for the router */
	char *domain;               /* owned; default containers.localhost */
	char *tls_addr;             /* owned; the router's HTTPS listener, default 127.0.0.1 */
	int tls_port;               /* default 8443; 0 = TLS off (--tls-listen off) */
	char *tls_certs;            /* owned; who issues certificates: "local-ca" (default)
	                             * or "acme" */
	char *acme_directory;       /* owned or NULL: the ACME server's directory URL */
	char *acme_ca;              /* owned or NULL: CA file to trust it by (default the
	                             * system's) */
	char *acme_email;           /* owned or NULL: the ACME account's contact */
	char *acme_challenge;       /* owned: "http-01" (default) or "tls-alpn-01" */
	char **insecure_registries; /* owned strv of HOST:PORT allowed over plain HTTP */
	int gpus;                   /* simulated GPU count, -1 = detect */
	char *runtime;              /* owned or NULL: "runc", "crun", NULL = detect */
	char *isolation;            /* owned or NULL: the host's default isolation level,
	                             * "gvisor" for --runtime runsc, "runc" for runc or
	                             * crun, NULL = the runtime's default */
	char *subnet;               /* owned; enclaves' CIDR, default 10.89.0.0/16 */
	char *egress_dns;           /* owned or NULL: "IP[:PORT]" berth asks for egress
	                             * allowlists' names, NULL = resolv.conf's first */
	int egress_dns_timeout_ms;  /* a batch of those lookups, 0 = 2000 */
	char *bridge;               /* owned; the enclaves' bridge, default berth0 */
	int workers;                /* worker threads for blocking work, default 4 */
	char *log_level;            /* owned; default info */

	/* Peers berth waits on: git sources and registries. */
	char **source_roots;  /* owned strv: where local repository paths may be */
	int fetch_workers;    /* threads for fetches and pulls, default 8 */
	int fetch_per_host;   /* of which one host holds at most, default 2 */
	int fetch_connect_s;  /* a peer answers at all within, default 15 */
	int fetch_idle_s;     /* and never goes silent longer, default 30 */
	int source_timeout_s; /* a git fetch ends within, default 300 */
	int pull_timeout_s;   /* an image pull ends within, default 7200 */
	/* Caps of unpacking one image (hostile layers): bytes the entries
	 * declare and entries, over all its layers. */
	uint64_t image_max_bytes;   /* default IMAGE_MAX_BYTES_DEFAULT, 256 GiB */
	uint64_t image_max_entries; /* default IMAGE_MAX_ENTRIES_DEFAULT, 2 million */
	/* Hostile peers: limits of the API server and its event streams. */
	int api_max_connections;   /* open API connections at most, default 1024 */
	int api_header_timeout_ms; /* to send a whole request, default 15 s */
	int event_streams_per_org; /* open event streams of one org, default 64 */
	int event_stream_buffer;   /* bytes waiting for a reader at most, default 1 MiB */
	/* Hosts and agents (docs/architecture.md). */
	char **agent_urls; /* owned strv or NULL: drive these berth-agents' hosts, not this one */
	char *agent_token_file; /* owned or NULL: the host token agents present */
	int host_timeout_s;     /* a host without heartbeat this long is unreachable, 30 */
	/* Replicas (docs/operations.md): one of several berthd on one PostgreSQL. */
	char *replica_url; /* owned or NULL: this berthd's API URL; elect a leader */
};

/* Fills s with the defaults. */
void settings_defaults(struct settings *s);

/* Reads a settings file of `key = value` lines (# comments; keys as the long
 * flags without dashes; repeatable keys may appear several times). Errors
 * name the file and line. */
int settings_load_file(struct settings *s, const char *path, struct err *err);

/* Sets one setting by its flag name ("state-dir"); errors name the key. */
int settings_set(struct settings *s, const char *key, const char *value, struct err *err);

/* Fills s from argv: defaults, then --config FILE, then the other flags.
 * Returns 0, 1 when --help or --version was answered (exit 0), or negative
 * with err on a bad flag. */
int settings_from_args(struct settings *s, int argc, char **argv, struct err *err);

/* Usage text for berthd --help. */
const char *settings_usage(void);

void settings_free(struct settings *s);

/* Splits "ADDR:PORT" (or ":PORT", "[v6]:PORT") into an owned address and a port. */
int settings_parse_hostport(const char *s, char **addr, int *port, struct err *err);

#endif
