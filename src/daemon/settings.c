#include "daemon/settings.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "image/image.h"
#include "runtime/resolve.h"

static const char usage[] =
    "usage: berthd [options]\n"
    "  --config FILE              read settings from FILE (key = value lines)\n"
    "  --state-dir DIR            store, keys, caches, logs (default /var/lib/berth)\n"
    "  --store PATH|URL           the store: a SQLite file, or a PostgreSQL database\n"
    "                             postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?...]\n"
    "                             (default STATE/berth.db)\n"
    "  --listen ADDR:PORT         API and dashboard (default 127.0.0.1:7070)\n"
    "  --router-listen ADDR:PORT  the router's listener (default 127.0.0.1:8080)\n"
    "  --router-socket PATH       the router's admin socket (default STATE/router.sock)\n"
    "  --router-bin PATH          berth-router to start (default: beside berthd)\n"
    "  --router-flag NAME=VALUE   starts the router with --NAME VALUE (repeatable), e.g.\n"
    "                             max-client-connections=64 (berth-router --help)\n"
    "  --domain D                 containers answer at NAME.ORG.D (default containers.localhost)\n"
    "  --tls-listen ADDR:PORT|off the router's HTTPS listener (default 127.0.0.1:8443)\n"
    "  --tls-certs local-ca|acme  who issues the hosts' certificates (default local-ca: berth's\n"
    "                             own CA in STATE/ca, GET /ca.pem; acme: an ACME server)\n"
    "  --acme-directory URL       the ACME server's directory (https://; --tls-certs acme)\n"
    "  --acme-ca FILE             trust the ACME server by the CAs in FILE (default: the\n"
    "                             system's)\n"
    "  --acme-email E             the ACME account's contact (default none)\n"
    "  --acme-challenge http-01|tls-alpn-01  the challenge berth-router answers (default\n"
    "                             http-01; the other when the server offers only it)\n"
    "  --insecure-registry H:P    a registry reached over plain HTTP (repeatable)\n"
    "  --gpus N                   simulated GPU inventory (scheduling only)\n"
    "  --runtime runc|crun|runsc  OCI runtime; runsc: enclaves run under gVisor unless\n"
    "                             their config says deploy.isolation: runc (default: detected)\n"
    "  --subnet CIDR              enclaves' network (default 10.89.0.0/16)\n"
    "  --egress-dns IP[:PORT]     the DNS server berth asks for egress allowlists' names\n"
    "                             (default: the first nameserver of /etc/resolv.conf)\n"
    "  --egress-dns-timeout MS    a batch of allowlist lookups ends within MS (default 2000)\n"
    "  --workers N                threads for blocking work (default 4)\n"
    "  --log-level LEVEL          debug, info, warn or error (default info)\n"
    "  --source-root DIR          local repository paths may be under DIR (repeatable;\n"
    "                             default none: only URLs)\n"
    "  --fetch-workers N          threads for git fetches and image pulls (default 8)\n"
    "  --fetch-per-host N         of which one host holds at most N (default 2)\n"
    "  --fetch-connect-timeout S  a git host or registry answers within S (default 15)\n"
    "  --fetch-idle-timeout S     and is never silent for longer (default 30)\n"
    "  --source-timeout S         a git fetch ends within S (default 300)\n"
    "  --pull-timeout S           an image pull ends within S (default 7200)\n"
    "  --image-max-bytes SIZE     cap on the bytes one image unpacks to, all layers\n"
    "                             (K, M, G, T suffixes; default 256G)\n"
    "  --image-max-entries N      cap on the files one image unpacks to (default 2000000)\n"
    "  --api-max-connections N    open API connections at most; more are answered 503\n"
    "                             (default 1024)\n"
    "  --api-header-timeout D     time a client has to send a whole request (default 15s)\n"
    "  --event-streams-per-org N  open event streams of one org; more get 429 (default 64)\n"
    "  --event-stream-buffer B    bytes an event stream's reader may fall behind before\n"
    "                             it is dropped (default 1048576)\n"
    "  --agent URL                drive the host of the berth-agent at URL (http://) instead\n"
    "                             of this one (needs --agent-token-file); repeat it for\n"
    "                             several hosts, each new enclave is placed on one\n"
    "  --agent-token-file FILE    the host token that agents present (and berthd to them)\n"
    "  --host-timeout S           a host silent for S is unreachable (default 30)\n"
    "  --replica-url URL          one of several berthd on the --store PostgreSQL (with\n"
    "                             --agent): the one holding its lock reconciles, the others\n"
    "                             serve the API; URL is this berthd's API (http://)\n"
    "  --version, --help\n";

const char *
settings_usage(void)
{
	return usage;
}

void
settings_defaults(struct settings *s)
{
	memset(s, 0, sizeof *s);
	s->state_dir = xstrdup("/var/lib/berth");
	s->listen_addr = xstrdup("127.0.0.1");
	s->listen_port = 7070;
	s->router_addr = xstrdup("127.0.0.1");
	s->router_port = 8080;
	s->domain = xstrdup("containers.localhost");
	s->tls_addr = xstrdup("127.0.0.1");
	s->tls_port = 8443;
	s->tls_certs = xstrdup("local-ca");
	s->acme_challenge = xstrdup("http-01");
	s->gpus = -1;
	s->subnet = xstrdup("10.89.0.0/16");
	s->bridge = xstrdup("berth0");
	s->workers = 4;
	s->log_level = xstrdup("info");
	s->fetch_workers = 8;
	s->fetch_per_host = 2;
	s->fetch_connect_s = 15;
	s->fetch_idle_s = 30;
	s->source_timeout_s = 300;
	s->pull_timeout_s = 7200;
	s->image_max_bytes = IMAGE_MAX_BYTES_DEFAULT;
	s->image_max_entries = IMAGE_MAX_ENTRIES_DEFAULT;
	s->api_max_connections = 1024;
	s->api_header_timeout_ms = 15000;
	s->event_streams_per_org = 64;
	s->event_stream_buffer = 1024 * 1024;
	s->host_timeout_s = 30;
}

void
settings_free(struct settings *s)
{
	free(s->state_dir);
	free(s->store);
	free(s->listen_addr);
	free(s->router_addr);
	free(s->router_socket);
	free(s->router_bin);
	strv_free(s->router_flags);
	free(s->domain);
	free(s->tls_addr);
	free(s->tls_certs);
	free(s->acme_directory);
	free(s->acme_ca);
	free(s->acme_email);
	free(s->acme_challenge);
	strv_free(s->insecure_registries);
	free(s->runtime);
	free(s->isolation);
	free(s->subnet);
	free(s->egress_dns);
	free(s->bridge);
	free(s->log_level);
	strv_free(s->source_roots);
	strv_free(s->agent_urls);
	free(s->replica_url);
	free(s->agent_token_file);
	memset(s, 0, sizeof *s);
}

int
settings_parse_hostport(const char *s, char **addr, int *port, struct err *err)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (colon == NULL)
		return err_make(err, 0, "%s: expected ADDR:PORT", s);
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
		return err_make(err, 0, "%s: the port must be a number from 0 to 65535", s);
	if (colon == s)
		*addr = xstrdup("0.0.0.0");
	else if (s[0] == '[' && colon[-1] == ']')
		*addr = xstrndup(s + 1, (size_t)(colon - s - 2));
	else
		*addr = xstrndup(s, (size_t)(colon - s));
	*port = (int)p;
	return 0;
}

static int
settings_int(const char *key, const char *value, int min, int max, int *out, struct err *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (*value == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return err_make(err, 0, "%s: expected a whole number from %d to %d, not \"%s\"",
		                key, min, max, value);
	*out = (int)v;
	return 0;
}

static void
settings_replace(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/* A count, or with size a byte count with an optional K, M, G or T (binary)
 * suffix ("256G", "1MiB"); at least 1. */
static int
settings_u64(const char *key, const char *value, int size, uint64_t *out, struct err *err)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *unit;
	char *end;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (size && *end != '\0' && (unit = strchr(units, toupper((unsigned char)*end))) != NULL) {
		shift = 10 * (unsigned)(unit - units + 1);
		end++;
		if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
			end += strlen(end);
	}
	if (!isdigit((unsigned char)*value) || *end != '\0' || errno != 0 || v == 0 ||
	    v > (UINT64_MAX >> shift))
		return err_make(err, 0, "%s: expected a whole number above 0%s, not \"%s\"", key,
		                size ? " (K, M, G or T may follow)" : "", value);
	*out = (uint64_t)v << shift;
	return 0;
}

int
settings_set(struct settings *s, const char *key, const char *value, struct err *err)
{
	if (strcmp(key, "state-dir") == 0) {
		settings_replace(&s->state_dir, value);
	} else if (strcmp(key, "store") == 0) {
		if (value[0] == '\0')
			return err_make(err, 0, "store: empty (a file path or a postgres:// URL)");
		settings_replace(&s->store, value);
	} else if (strcmp(key, "listen") == 0) {
		char *addr;
		if (settings_parse_hostport(value, &addr, &s->listen_port, err) < 0)
			return err_wrap(err, "listen");
		free(s->listen_addr);
		s->listen_addr = addr;
	} else if (strcmp(key, "router-listen") == 0) {
		char *addr;
		if (settings_parse_hostport(value, &addr, &s->router_port, err) < 0)
			return err_wrap(err, "router-listen");
		free(s->router_addr);
		s->router_addr = addr;
	} else if (strcmp(key, "tls-listen") == 0) {
		char *addr;
		if (strcmp(value, "off") == 0) {
			s->tls_port = 0;
			return 0;
		}
		if (settings_parse_hostport(value, &addr, &s->tls_port, err) < 0)
			return err_wrap(err, "tls-listen");
		if (s->tls_port == 0) {
			free(addr);
			return err_make(err, 0,
			                "tls-listen: the port must be given (0 is not one); "
			                "\"off\" disables TLS");
		}
		free(s->tls_addr);
		s->tls_addr = addr;
	} else if (strcmp(key, "tls-certs") == 0) {
		if (strcmp(value, "local-ca") != 0 && strcmp(value, "acme") != 0)
			return err_make(err, 0, "tls-certs: \"%s\" is not local-ca or acme", value);
		settings_replace(&s->tls_certs, value);
	} else if (strcmp(key, "acme-directory") == 0) {
		if (strncmp(value, "https://", 8) != 0 || value[8] == '\0')
			return err_make(err, 0, "acme-directory: \"%s\" is not an https:// URL",
			                value);
		settings_replace(&s->acme_directory, value);
	} else if (strcmp(key, "acme-ca") == 0) {
		settings_replace(&s->acme_ca, value);
	} else if (strcmp(key, "acme-email") == 0) {
		if (*value == '\0' || strchr(value, '@') == NULL ||
		    strpbrk(value, " \t\r\n,") != NULL)
			return err_make(err, 0, "acme-email: \"%s\" is not an e-mail address",
			                value);
		settings_replace(&s->acme_email, value);
	} else if (strcmp(key, "agent") == 0) {
		if (strncmp(value, "http://", 7) != 0 || value[7] == '\0')
			return err_make(err, 0, "agent: \"%s\" is not an http:// URL", value);
		for (size_t i = 0; s->agent_urls != NULL && s->agent_urls[i] != NULL; i++)
			if (strcmp(s->agent_urls[i], value) == 0)
				return err_make(err, 0, "agent: %s is given twice", value);
		s->agent_urls = strv_push(s->agent_urls, value);
	} else if (strcmp(key, "agent-token-file") == 0) {
		settings_replace(&s->agent_token_file, value);
	} else if (strcmp(key, "replica-url") == 0) {
		if (strncmp(value, "http://", 7) != 0 || value[7] == '\0')
			return err_make(err, 0, "replica-url: \"%s\" is not an http:// URL", value);
		if (strlen(value) > 63)
			return err_make(err, 0, "replica-url: %s is longer than 63 bytes", value);
		settings_replace(&s->replica_url, value);
	} else if (strcmp(key, "host-timeout") == 0) {
		return settings_int(key, value, 1, 3600, &s->host_timeout_s, err);
	} else if (strcmp(key, "acme-challenge") == 0) {
		if (strcmp(value, "http-01") != 0 && strcmp(value, "tls-alpn-01") != 0)
			return err_make(
			    err, 0, "acme-challenge: \"%s\" is not http-01 or tls-alpn-01", value);
		settings_replace(&s->acme_challenge, value);
	} else if (strcmp(key, "router-socket") == 0) {
		settings_replace(&s->router_socket, value);
	} else if (strcmp(key, "router-bin") == 0) {
		settings_replace(&s->router_bin, value);
	} else if (strcmp(key, "domain") == 0) {
		if (*value == '\0' || strchr(value, '/') != NULL || strchr(value, ' ') != NULL)
			return err_make(err, 0, "domain: \"%s\" is not a domain name", value);
		settings_replace(&s->domain, value);
	} else if (strcmp(key, "insecure-registry") == 0) {
		char *addr;
		int port;
		if (settings_parse_hostport(value, &addr, &port, err) < 0)
			return err_wrap(err, "insecure-registry");
		free(addr);
		s->insecure_registries = strv_push(s->insecure_registries, value);
	} else if (strcmp(key, "gpus") == 0) {
		return settings_int(key, value, 0, 1024, &s->gpus, err);
	} else if (strcmp(key, "runtime") == 0) {
		if (strcmp(value, "runsc") == 0) {
			/* gVisor is an isolation level, not the runtime of every
			 * enclave: deploy.isolation: runc still needs runc or crun,
			 * detected as without the flag. */
			free(s->runtime);
			s->runtime = NULL;
			settings_replace(&s->isolation, "gvisor");
			return 0;
		}
		if (strcmp(value, "runc") != 0 && strcmp(value, "crun") != 0)
			return err_make(err, 0, "runtime: expected runc, crun or runsc, not \"%s\"",
			                value);
		settings_replace(&s->runtime, value);
		settings_replace(&s->isolation, "runc");
	} else if (strcmp(key, "egress-dns") == 0) {
		struct resolve_server srv;

		if (resolve_server_parse(value, NULL, &srv, err) < 0)
			return err_wrap(err, "egress-dns");
		settings_replace(&s->egress_dns, value);
	} else if (strcmp(key, "egress-dns-timeout") == 0) {
		return settings_int(key, value, 100, 30000, &s->egress_dns_timeout_ms, err);
	} else if (strcmp(key, "subnet") == 0) {
		if (strchr(value, '/') == NULL)
			return err_make(err, 0, "subnet: expected a CIDR such as 10.89.0.0/16");
		settings_replace(&s->subnet, value);
	} else if (strcmp(key, "bridge") == 0) {
		if (*value == '\0' || strlen(value) > 15 || strchr(value, '/') != NULL)
			return err_make(err, 0, "bridge: \"%s\" is not an interface name", value);
		settings_replace(&s->bridge, value);
	} else if (strcmp(key, "workers") == 0) {
		return settings_int(key, value, 1, 64, &s->workers, err);
	} else if (strcmp(key, "log-level") == 0) {
		if (strcmp(value, "debug") && strcmp(value, "info") && strcmp(value, "warn") &&
		    strcmp(value, "error"))
			return err_make(err, 0, "log-level: expected debug, info, warn or error");
		settings_replace(&s->log_level, value);
	} else if (strcmp(key, "router-flag") == 0) {
		size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyz-");

		if (n == 0 || value[n] != '=' || strcmp(value, "listen") == 0 ||
		    strncmp(value, "listen=", 7) == 0 || strncmp(value, "admin-socket=", 13) == 0)
			return err_make(err, 0,
			                "router-flag: expected NAME=VALUE of a berth-router flag "
			                "(not listen or admin-socket), not \"%s\"",
			                value);
		s->router_flags = strv_push(s->router_flags, value);
	} else if (strcmp(key, "source-root") == 0) {
		char abs[PATH_MAX];

		errno = 0;
		if (value[0] != '/' || realpath(value, abs) == NULL)
			return err_make(err, errno ? errno : EINVAL,
			                "source-root: \"%s\" is not an existing absolute directory",
			                value);
		s->source_roots = strv_push(s->source_roots, abs);
	} else if (strcmp(key, "fetch-workers") == 0) {
		return settings_int(key, value, 1, 256, &s->fetch_workers, err);
	} else if (strcmp(key, "fetch-per-host") == 0) {
		return settings_int(key, value, 1, 256, &s->fetch_per_host, err);
	} else if (strcmp(key, "fetch-connect-timeout") == 0) {
		return settings_int(key, value, 1, 3600, &s->fetch_connect_s, err);
	} else if (strcmp(key, "fetch-idle-timeout") == 0) {
		return settings_int(key, value, 1, 3600, &s->fetch_idle_s, err);
	} else if (strcmp(key, "source-timeout") == 0) {
		return settings_int(key, value, 1, 86400, &s->source_timeout_s, err);
	} else if (strcmp(key, "pull-timeout") == 0) {
		return settings_int(key, value, 1, 7 * 86400, &s->pull_timeout_s, err);
	} else if (strcmp(key, "image-max-bytes") == 0) {
		return settings_u64(key, value, 1, &s->image_max_bytes, err);
	} else if (strcmp(key, "image-max-entries") == 0) {
		return settings_u64(key, value, 0, &s->image_max_entries, err);
	} else if (strcmp(key, "api-max-connections") == 0) {
		return settings_int(key, value, 1, 1000000, &s->api_max_connections, err);
	} else if (strcmp(key, "api-header-timeout") == 0) {
		int64_t ms;
		if (duration_parse(value, &ms) < 0 || ms < 100 || ms > 3600 * 1000)
			return err_make(err, 0,
			                "api-header-timeout: expected a duration from 100ms to 1h, "
			                "not \"%s\"",
			                value);
		s->api_header_timeout_ms = (int)ms;
	} else if (strcmp(key, "event-streams-per-org") == 0) {
		return settings_int(key, value, 1, 100000, &s->event_streams_per_org, err);
	} else if (strcmp(key, "event-stream-buffer") == 0) {
		return settings_int(key, value, 4096, 1 << 30, &s->event_stream_buffer, err);
	} else {
		return err_make(err, 0, "unknown setting \"%s\"", key);
	}
	return 0;
}

static char *
settings_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int
settings_load_file(struct settings *s, const char *path, struct err *err)
{
	char *text = NULL, *line, *save = NULL;
	int rc = 0, lineno = 0;

	if (file_read_all(path, 1024 * 1024, &text, NULL, err) < 0)
		return -1;
	/* strtok_r would skip empty lines and so miscount them: split by hand. */
	for (line = text; line != NULL; line = save) {
		char *nl = strchr(line, '\n'), *eq, *key, *value;

		save = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		line = settings_trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL) {
			rc = err_make(err, 0, "%s:%d: expected key = value", path, lineno);
			break;
		}
		*eq = '\0';
		key = settings_trim(line);
		value = settings_trim(eq + 1);
		if (settings_set(s, key, value, err) < 0) {
			rc = err_wrap(err, "%s:%d", path, lineno);
			break;
		}
	}
	free(text);
	return rc;
}

int
settings_from_args(struct settings *s, int argc, char **argv, struct err *err)
{
	settings_defaults(s);
	/* The config file first, so that flags override it wherever they stand. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			if (settings_load_file(s, argv[i + 1], err) < 0)
				return -1;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			if (settings_load_file(s, argv[i] + 9, err) < 0)
				return -1;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *value;
		char key[64];

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("berthd %s\n", BERTH_VERSION);
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0)
			return err_make(err, 0, "unexpected argument \"%s\" (see --help)", arg);
		arg += 2;
		eq = strchr(arg, '=');
		if (eq != NULL) {
			snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
			value = eq + 1;
		} else {
			snprintf(key, sizeof key, "%s", arg);
			if (i + 1 >= argc)
				return err_make(err, 0, "--%s needs a value", key);
			value = argv[++i];
		}
		if (strcmp(key, "config") == 0)
			continue;
		if (settings_set(s, key, value, err) < 0)
			return -1;
	}
	if (s->router_socket == NULL)
		s->router_socket = xasprintf("%s/router.sock", s->state_dir);
	if (strcmp(s->tls_certs, "acme") == 0 && s->tls_port != 0 && s->acme_directory == NULL)
		return err_make(err, 0, "--tls-certs acme needs --acme-directory URL");
	if (s->agent_urls != NULL && s->agent_token_file == NULL)
		return err_make(err, 0, "--agent needs --agent-token-file FILE");
	if (s->replica_url != NULL &&
	    (s->store == NULL || (strncmp(s->store, "postgres://", 11) != 0 &&
	                          strncmp(s->store, "postgresql://", 13) != 0)))
		return err_make(err, 0,
		                "--replica-url needs --store postgres://...: replicas share "
		                "one PostgreSQL");
	if (s->replica_url != NULL && s->agent_urls == NULL)
		return err_make(err, 0,
		                "--replica-url needs --agent: replicas drive the hosts of "
		                "agents, not their own");
	return 0;
}
