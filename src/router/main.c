/* berth-router: the data plane. Wiring only. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "router/router.h"

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: berth-router [options]\n"
	    "  --listen ADDR:PORT        listen address, or fd:N an inherited listening socket;\n"
	    "                            repeatable (default 127.0.0.1:8080)\n"
	    "  --admin-socket PATH       admin API unix socket\n"
	    "  --tls-listen ADDR:PORT    HTTPS listen address, repeatable (default none)\n"
	    "  --tls-dir DIR             HOST.pem files (key, then certificate chain) picked by "
	    "SNI\n"
	    "  --route HOST=ADDR:PORT[,ADDR:PORT...]  a static route, repeatable;\n"
	    "                            HOST '*' matches any host\n"
	    "  --threads N               worker threads (default: one per core)\n"
	    "  --max-header-size BYTES   request head limit (default 16384)\n"
	    "  --max-headers N           header fields of a request (default 100)\n"
	    "  --max-connections N       client connections in all, 0 = no limit (default 16384)\n"
	    "  --max-client-connections N  per client address, 0 = no limit (default 1024)\n"
	    "  --header-timeout MS, --idle-timeout MS, --body-timeout MS, --connect-timeout MS,\n"
	    "  --response-timeout MS, --shutdown-timeout MS\n"
	    "  --hold-queue N            held requests per thread (default 1024)\n"
	    "  --wait-for-table          accept no connection before the admin API's first table\n"
	    "  --log-level LEVEL         debug, info, warn, error (default info)\n");
}

/* Adds "HOST=ADDR:PORT[,ADDR:PORT]" to the routes array of a table. */
static int
add_static_route(json_t *routes, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *host, *list, *tok, *save = NULL;
	json_t *route = NULL, *ups;
	size_t i;

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return -1;
	host = xstrndup(arg, (size_t)(eq - arg));
	json_array_foreach(routes, i, route)
	{
		if (strcmp(json_string_value(json_object_get(route, "host")), host) == 0)
			break;
		route = NULL;
	}
	if (route == NULL) {
		route = json_pack("{s:s,s:[]}", "host", host, "upstreams");
		json_array_append_new(routes, route);
	}
	ups = json_object_get(route, "upstreams");
	list = xstrdup(eq + 1);
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(ups, json_string(tok));
	free(list);
	free(host);
	return 0;
}

static int
parse_ms(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*end != '\0' || end == s || v < 0) {
		if (duration_parse(s, out) == 0)
			return 0;
		return -1;
	}
	*out = v;
	return 0;
}

/* A whole number in [lo, hi]. Returns 0 or -1. */
static int
parse_count(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_LISTEN = 256,
		OPT_ADMIN,
		OPT_ROUTE,
		OPT_THREADS,
		OPT_MAXHDR,
		OPT_MAXHDRS,
		OPT_MAXCONN,
		OPT_MAXCLIENT,
		OPT_BODY_TO,
		OPT_HDR_TO,
		OPT_IDLE_TO,
		OPT_CONN_TO,
		OPT_RESP_TO,
		OPT_SHUT_TO,
		OPT_HOLDQ,
		OPT_LOG,
		OPT_TLS_LISTEN,
		OPT_TLS_DIR,
		OPT_WAIT_TABLE,
		OPT_HOST_KEY,
	};
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"admin-socket", required_argument, NULL, OPT_ADMIN},
	    {"route", required_argument, NULL, OPT_ROUTE},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"max-header-size", required_argument, NULL, OPT_MAXHDR},
	    {"max-headers", required_argument, NULL, OPT_MAXHDRS},
	    {"max-connections", required_argument, NULL, OPT_MAXCONN},
	    {"max-client-connections", required_argument, NULL, OPT_MAXCLIENT},
	    {"body-timeout", required_argument, NULL, OPT_BODY_TO},
	    {"header-timeout", required_argument, NULL, OPT_HDR_TO},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE_TO},
	    {"connect-timeout", required_argument, NULL, OPT_CONN_TO},
	    {"response-timeout", required_argument, NULL, OPT_RESP_TO},
	    {"shutdown-timeout", required_argument, NULL, OPT_SHUT_TO},
	    {"hold-queue", required_argument, NULL, OPT_HOLDQ},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
	    {"tls-dir", required_argument, NULL, OPT_TLS_DIR},
	    {"wait-for-table", no_argument, NULL, OPT_WAIT_TABLE},
	    {"host-key", required_argument, NULL, OPT_HOST_KEY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct router_settings set;
	struct err err = ERR_INIT;
	struct router *r = NULL;
	json_t *table = json_pack("{s:i,s:[]}", "generation", 0, "routes");
	int opt, rc = 1, level = LOG_LEVEL_INFO;
	int64_t *ms;

	/* Buffers come and go with every request: keep freed memory instead
	 * of handing it back to the kernel and faulting it in again. */
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	router_settings_init(&set);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		ms = NULL;
		switch (opt) {
		case OPT_LISTEN:
			set.listen = strv_push(set.listen, optarg);
			break;
		case OPT_WAIT_TABLE:
			set.wait_for_table = 1;
			break;
		case OPT_ADMIN:
			free(set.admin_socket);
			set.admin_socket = xstrdup(optarg);
			break;
		case OPT_TLS_LISTEN:
			set.tls_listen = strv_push(set.tls_listen, optarg);
			break;
		case OPT_TLS_DIR:
			free(set.tls_dir);
			set.tls_dir = xstrdup(optarg);
			break;
		case OPT_HOST_KEY:
			free(set.host_key);
			set.host_key = xstrdup(optarg);
			break;
		case OPT_ROUTE:
			if (add_static_route(json_object_get(table, "routes"), optarg) < 0) {
				fprintf(stderr, "berth-router: --route %s: not HOST=ADDR:PORT\n",
				        optarg);
				goto out;
			}
			break;
		case OPT_THREADS:
			set.threads = atoi(optarg);
			if (set.threads < 1 || set.threads > 256) {
				fprintf(stderr, "berth-router: --threads must be 1..256\n");
				goto out;
			}
			break;
		case OPT_MAXHDR:
			set.max_header_size = (size_t)atol(optarg);
			if (set.max_header_size < 256 || set.max_header_size > 1024 * 1024) {
				fprintf(stderr, "berth-router: --max-header-size: 256..1048576\n");
				goto out;
			}
			break;
		case OPT_MAXHDRS:
			if (parse_count(optarg, 1, 10000, &set.max_headers) < 0) {
				fprintf(stderr, "berth-router: --max-headers: 1..10000\n");
				goto out;
			}
			break;
		case OPT_MAXCONN:
			if (parse_count(optarg, 0, 10000000, &set.max_connections) < 0) {
				fprintf(stderr, "berth-router: --max-connections: 0..10000000\n");
				goto out;
			}
			break;
		case OPT_MAXCLIENT:
			if (parse_count(optarg, 0, 10000000, &set.max_client_connections) < 0) {
				fprintf(stderr,
				        "berth-router: --max-client-connections: 0..10000000\n");
				goto out;
			}
			break;
		case OPT_HDR_TO:
			ms = &set.header_timeout_ms;
			break;
		case OPT_BODY_TO:
			ms = &set.body_timeout_ms;
			break;
		case OPT_IDLE_TO:
			ms = &set.idle_timeout_ms;
			break;
		case OPT_CONN_TO:
			ms = &set.connect_timeout_ms;
			break;
		case OPT_RESP_TO:
			ms = &set.response_timeout_ms;
			break;
		case OPT_SHUT_TO:
			ms = &set.shutdown_timeout_ms;
			break;
		case OPT_HOLDQ:
			set.hold_queue_max = (unsigned)atoi(optarg);
			break;
		case OPT_LOG:
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "berth-router: bad --log-level %s\n", optarg);
				goto out;
			}
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = 2;
			goto out;
		}
		if (ms != NULL && parse_ms(optarg, ms) < 0) {
			fprintf(stderr, "berth-router: %s is not a duration\n", optarg);
			goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	log_init("berth-router", (enum log_level)level);
	if (router_new(&set, &r, &err) < 0 || router_set_table_json(r, table, &err) < 0 ||
	    router_run(r, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	rc = 0;
out:
	router_free(r);
	router_settings_free(&set);
	json_decref(table);
	return rc;
}
