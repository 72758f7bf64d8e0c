/* berth-enclave: drives src/runtime for the system tests and bench/boot.sh.
 *
 *   berth-enclave [options] detect
 *   berth-enclave [options] create SPEC.json [--wait-http PORT]
 *   berth-enclave [options] create-parallel SPEC.json...   (one thread each)
 *   berth-enclave [options] check NAME                     (the veth and address)
 *   berth-enclave [options] logs NAME CONTAINER LINES      (the last LINES)
 *   berth-enclave [options] list | state NAME | stop NAME | destroy NAME
 *   berth-enclave [options] exec NAME CONTAINER [--timeout MS] -- ARGV...
 *   berth-enclave [options] gpus
 * options: --state DIR --oci-root DIR --netns-dir DIR --bridge NAME
 *   --subnet CIDR --runtime NAME --log-max BYTES --dev-dir DIR --gpus-simulated N
 *   --isolation runc|gvisor (the default of specs that name none)
 *   --egress-dns IP[:PORT] --egress-dns-timeout MS (allowlists)
 *
 * SPEC.json describes what the image puller and config parser would give:
 * {"name": "b-...", "deployment_id": "...", "settings": {"K": "v"},
 *  "secrets": {"S": "v"}, "gpus": [0], "memory": BYTES, "cpus": N,
 *  "isolation": "runc"|"gvisor", "egress": "closed"|"open"|"allowlist", "allow": [names],
 *  "containers": [{"name", "rootfs", "image": {"entrypoint", "cmd", "env",
 *     "user", "working_dir", "stop_signal"}, "entrypoint", "command", "env":
 *     [["K", "v"], ["BARE"]], "user", "working_dir", "read_only", "tmpfs":
 *     [{"path", "options"}], "cap_add", "cap_drop", "secrets", "pids_limit",
 *     "memory", "cpus", "shm_size", "stop_signal", "stop_timeout_ms", "gpus",
 *     "ipc", "pid", "privileged", "security_opt", "devices"}]}
 * Output is JSON on stdout; errors go to stderr with exit status 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/enclave.h"
#include "runtime/runtime.h"

static char **
strv_from(json_t *a)
{
	char **v = NULL;
	size_t i;
	json_t *s;

	if (!json_is_array(a))
		return NULL;
	json_array_foreach(a, i, s) v = strv_push(v, json_string_value(s));
	if (v == NULL) /* an empty list is not "absent" */
		v = xcalloc(1, sizeof *v);
	return v;
}

static char *
str_from(json_t *s)
{
	return json_is_string(s) ? xstrdup(json_string_value(s)) : NULL;
}

static int64_t
int_or(json_t *j, int64_t dflt)
{
	return json_is_number(j) ? (int64_t)json_number_value(j) : dflt;
}

static void
container_from(json_t *j, struct config_container *cc, struct image_config *ic)
{
	json_t *img = json_object_get(j, "image"), *v;
	size_t i;

	memset(cc, 0, sizeof *cc);
	memset(ic, 0, sizeof *ic);
	cc->name = str_from(json_object_get(j, "name"));
	cc->entrypoint = strv_from(json_object_get(j, "entrypoint"));
	cc->command = strv_from(json_object_get(j, "command"));
	cc->user = str_from(json_object_get(j, "user"));
	cc->working_dir = str_from(json_object_get(j, "working_dir"));
	cc->read_only = json_is_true(json_object_get(j, "read_only"));
	cc->cap_add = strv_from(json_object_get(j, "cap_add"));
	cc->cap_drop = strv_from(json_object_get(j, "cap_drop"));
	cc->security_opt = strv_from(json_object_get(j, "security_opt"));
	cc->devices = strv_from(json_object_get(j, "devices"));
	cc->ipc = str_from(json_object_get(j, "ipc"));
	cc->pid = str_from(json_object_get(j, "pid"));
	cc->privileged = json_is_true(json_object_get(j, "privileged"));
	cc->secrets = strv_from(json_object_get(j, "secrets"));
	cc->pids_limit = int_or(json_object_get(j, "pids_limit"), -1);
	cc->memory_bytes = int_or(json_object_get(j, "memory"), -1);
	cc->shm_size_bytes = int_or(json_object_get(j, "shm_size"), -1);
	cc->cpus = json_is_number(json_object_get(j, "cpus"))
	               ? json_number_value(json_object_get(j, "cpus"))
	               : -1;
	cc->gpus = (int)int_or(json_object_get(j, "gpus"), -1);
	cc->stop_signal = str_from(json_object_get(j, "stop_signal"));
	cc->stop_timeout_ms = int_or(json_object_get(j, "stop_timeout_ms"), -1);
	cc->n_env = json_array_size(json_object_get(j, "env"));
	cc->env = xcalloc(cc->n_env + 1, sizeof *cc->env);
	json_array_foreach(json_object_get(j, "env"), i, v)
	{
		cc->env[i].key = str_from(json_array_get(v, 0));
		cc->env[i].value = str_from(json_array_get(v, 1));
	}
	cc->n_tmpfs = json_array_size(json_object_get(j, "tmpfs"));
	cc->tmpfs = xcalloc(cc->n_tmpfs + 1, sizeof *cc->tmpfs);
	json_array_foreach(json_object_get(j, "tmpfs"), i, v)
	{
		cc->tmpfs[i].path = str_from(json_object_get(v, "path"));
		cc->tmpfs[i].options = str_from(json_object_get(v, "options"));
	}
	ic->entrypoint = strv_from(json_object_get(img, "entrypoint"));
	ic->cmd = strv_from(json_object_get(img, "cmd"));
	ic->env = strv_from(json_object_get(img, "env"));
	ic->user = str_from(json_object_get(img, "user"));
	ic->working_dir = str_from(json_object_get(img, "working_dir"));
	ic->stop_signal = str_from(json_object_get(img, "stop_signal"));
}

static void
container_free(struct config_container *cc, struct image_config *ic)
{
	free(cc->name);
	strv_free(cc->entrypoint);
	strv_free(cc->command);
	free(cc->user);
	free(cc->working_dir);
	strv_free(cc->cap_add);
	strv_free(cc->cap_drop);
	strv_free(cc->security_opt);
	strv_free(cc->devices);
	free(cc->ipc);
	free(cc->pid);
	strv_free(cc->secrets);
	free(cc->stop_signal);
	for (size_t i = 0; i < cc->n_env; i++) {
		free(cc->env[i].key);
		free(cc->env[i].value);
	}
	free(cc->env);
	for (size_t i = 0; i < cc->n_tmpfs; i++) {
		free(cc->tmpfs[i].path);
		free(cc->tmpfs[i].options);
	}
	free(cc->tmpfs);
	strv_free(ic->entrypoint);
	strv_free(ic->cmd);
	strv_free(ic->env);
	free(ic->user);
	free(ic->working_dir);
	free(ic->stop_signal);
}

static struct bundle_kv *
kv_from(json_t *o, size_t *n)
{
	struct bundle_kv *kv = xcalloc(json_object_size(o) + 1, sizeof *kv);
	const char *k;
	json_t *v;

	*n = 0;
	json_object_foreach(o, k, v)
	{
		kv[*n].key = k;
		kv[*n].value = json_string_value(v);
		(*n)++;
	}
	return kv;
}

static json_t *
enclave_json(const struct enclave *e)
{
	json_t *cs = json_array();

	for (size_t i = 0; i < e->n_containers; i++) {
		const struct enclave_container *c = &e->containers[i];

		json_array_append_new(
		    cs, json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:I}", "name", c->name, "id",
		                  c->id, "status", oci_status_str(c->status), "pid", (int)c->pid,
		                  "log", c->log_path, "stop_signal", c->stop_signal,
		                  "stop_timeout_ms", (json_int_t)c->stop_timeout_ms));
	}
	return json_pack("{s:s, s:s?, s:s?, s:s, s:b, s:s, s:s, s:o}", "name", e->name, "ip", e->ip,
	                 "ip6", e->ip6, "netns", e->netns, "netns_present", e->netns_present,
	                 "isolation", e->isolation, "observed",
	                 enclave_observed_str(enclave_observed(e)), "containers", cs);
}

static void
print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	printf("%s\n", s);
	free(s);
	json_decref(j);
}

/* Polls GET / on ip:port until an HTTP 200 or the deadline. */
static int
wait_http(const char *ip, int port, int64_t deadline)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	inet_pton(AF_INET, ip, &sa.sin_addr);
	while (now_mono_ms() < deadline) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char reply[64] = {0};
		static const char req[] = "GET / HTTP/1.0\r\n\r\n";
		ssize_t n = -1;

		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		    write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
			struct pollfd p = {fd, POLLIN, 0};

			if (poll(&p, 1, 1000) == 1)
				n = read(fd, reply, sizeof reply - 1);
		}
		if (fd >= 0)
			close(fd);
		if (n > 12 && strncmp(reply + 9, "200", 3) == 0)
			return 0;
		usleep(1000);
	}
	return -1;
}

static int
cmd_create(struct runtime *rt, const char *path, int wait_port)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je), *cj;
	struct config_container *ccs;
	struct image_config *ics;
	struct enclave_container_spec *cs;
	struct enclave_spec spec = {0};
	struct bundle_kv *settings, *secrets;
	struct enclave *e = NULL;
	struct err err = ERR_INIT;
	int *gpus, rc;
	size_t n, i;
	int64_t t0;
	char **allow = NULL;

	if (j == NULL) {
		fprintf(stderr, "berth-enclave: %s: %s\n", path, je.text);
		return 1;
	}
	n = json_array_size(json_object_get(j, "containers"));
	ccs = xcalloc(n + 1, sizeof *ccs);
	ics = xcalloc(n + 1, sizeof *ics);
	cs = xcalloc(n + 1, sizeof *cs);
	json_array_foreach(json_object_get(j, "containers"), i, cj)
	{
		container_from(cj, &ccs[i], &ics[i]);
		cs[i].config = &ccs[i];
		cs[i].image = &ics[i];
		cs[i].rootfs = json_string_value(json_object_get(cj, "rootfs"));
	}
	settings = kv_from(json_object_get(j, "settings"), &spec.n_settings);
	secrets = kv_from(json_object_get(j, "secrets"), &spec.n_secrets);
	spec.n_gpus = json_array_size(json_object_get(j, "gpus"));
	gpus = xcalloc(spec.n_gpus + 1, sizeof *gpus);
	for (i = 0; i < spec.n_gpus; i++)
		gpus[i] = (int)json_integer_value(json_array_get(json_object_get(j, "gpus"), i));
	spec.name = json_string_value(json_object_get(j, "name"));
	spec.deployment_id = json_string_value(json_object_get(j, "deployment_id"));
	spec.containers = cs;
	spec.n_containers = n;
	spec.settings = settings;
	spec.secrets = secrets;
	spec.gpus = gpus;
	spec.isolation = json_string_value(json_object_get(j, "isolation"));
	spec.egress = json_string_value(json_object_get(j, "egress"));
	json_array_foreach(json_object_get(j, "allow"), i, cj)
	{
		if (json_string_value(cj) != NULL)
			allow = strv_push(allow, json_string_value(cj));
	}
	spec.allow = allow;
	spec.memory_bytes = int_or(json_object_get(j, "memory"), 0);
	spec.cpus = json_is_number(json_object_get(j, "cpus"))
	                ? json_number_value(json_object_get(j, "cpus"))
	                : 0;
	t0 = now_mono_ms();
	rc = enclave_create(rt, &spec, &e, &err);
	if (rc == 0 && wait_port > 0) {
		if (wait_http(e->ip, wait_port, t0 + 10000) < 0) {
			rc = err_make(&err, 0, "no HTTP 200 from %s:%d in 10 s", e->ip, wait_port);
		} else {
			fprintf(stderr, "boot_ms=%lld\n", (long long)(now_mono_ms() - t0));
		}
	}
	if (rc < 0)
		fprintf(stderr, "berth-enclave: %s\n", err.msg);
	else
		print_json(enclave_json(e));
	enclave_free(e);
	for (i = 0; i < n; i++)
		container_free(&ccs[i], &ics[i]);
	free(ccs);
	free(ics);
	free(cs);
	free(settings);
	free(secrets);
	free(gpus);
	strv_free(allow);
	json_decref(j);
	return rc < 0 ? 1 : 0;
}

struct parallel_job {
	struct runtime *rt;
	const char *spec;
	int rc;
};

static void *
parallel_create(void *arg)
{
	struct parallel_job *j = arg;

	j->rc = cmd_create(j->rt, j->spec, 0);
	return NULL;
}

/* Creates one enclave per spec, all at once from as many threads. */
static int
cmd_create_parallel(struct runtime *rt, char **specs, int n)
{
	struct parallel_job *jobs = xcalloc((size_t)n + 1, sizeof *jobs);
	pthread_t *threads = xcalloc((size_t)n + 1, sizeof *threads);
	int rc = 0;

	for (int i = 0; i < n; i++) {
		jobs[i] = (struct parallel_job){rt, specs[i], 1};
		if (pthread_create(&threads[i], NULL, parallel_create, &jobs[i]) != 0)
			log_fatal("pthread_create");
	}
	for (int i = 0; i < n; i++) {
		pthread_join(threads[i], NULL);
		rc |= jobs[i].rc;
	}
	free(jobs);
	free(threads);
	return rc;
}

static int
fail(const struct err *err)
{
	fprintf(stderr, "berth-enclave: %s\n", err->msg);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"oci-root", required_argument, NULL, 'o'},
	    {"netns-dir", required_argument, NULL, 'n'},
	    {"bridge", required_argument, NULL, 'b'},
	    {"subnet", required_argument, NULL, 'S'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"log-max", required_argument, NULL, 'l'},
	    {"dev-dir", required_argument, NULL, 'd'},
	    {"gpus-simulated", required_argument, NULL, 'g'},
	    {"wait-http", required_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 't'},
	    {"egress-dns", required_argument, NULL, 'D'},
	    {"egress-dns-timeout", required_argument, NULL, 'T'},
	    {"isolation", required_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0}};
	struct runtime_settings s = {0};
	struct runtime *rt = NULL;
	struct enclave *e = NULL;
	struct err err = ERR_INIT;
	int c, rc = 1, wait_port = 0;
	int64_t timeout = 10000;
	const char *cmd;

	signal(SIGPIPE, SIG_IGN);
	log_init("berth-enclave", LOG_LEVEL_INFO);
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			s.state_dir = optarg;
			break;
		case 'o':
			s.oci_root = optarg;
			break;
		case 'n':
			s.netns_dir = optarg;
			break;
		case 'b':
			s.bridge = optarg;
			break;
		case 'S':
			s.subnet = optarg;
			break;
		case 'r':
			s.oci_runtime = optarg;
			break;
		case 'i':
			s.isolation = optarg;
			break;
		case 'l':
			s.log_max_bytes = strtoll(optarg, NULL, 10);
			break;
		case 'd':
			s.dev_dir = optarg;
			break;
		case 'g':
			s.gpus_simulated = atoi(optarg);
			break;
		case 'w':
			wait_port = atoi(optarg);
			break;
		case 'D':
			s.egress_dns = optarg;
			break;
		case 'T':
			s.egress_dns_timeout_ms = atoi(optarg);
			break;
		case 't':
			timeout = strtoll(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: berth-enclave [options] "
		                "detect|create|list|state|stop|destroy|exec|gpus ...\n");
		return 2;
	}
	cmd = argv[optind++];
	if (s.state_dir == NULL)
		s.state_dir = "/var/lib/berth";
	if (runtime_open(&s, &rt, &err) < 0)
		return fail(&err);
	if (strcmp(cmd, "detect") == 0 || strcmp(cmd, "gpus") == 0) {
		const struct gpu_inventory *g = runtime_gpus(rt);

		print_json(json_pack("{s:s, s:i, s:b, s:o, s:s?}", "runtime", runtime_oci_name(rt),
		                     "gpus", g->count, "simulated", g->simulated, "devices",
		                     json_array(), "cdi", g->cdi_spec));
		rc = 0;
	} else if (strcmp(cmd, "create") == 0 && optind < argc) {
		/* getopt stopped at the command; options may follow the spec. */
		const char *spec = argv[optind++];

		while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1)
			if (c == 'w')
				wait_port = atoi(optarg);
		rc = cmd_create(rt, spec, wait_port);
	} else if (strcmp(cmd, "create-parallel") == 0 && optind < argc) {
		rc = cmd_create_parallel(rt, argv + optind, argc - optind);
	} else if (strcmp(cmd, "list") == 0) {
		char **names = NULL;

		if (enclave_list(rt, &names, &err) < 0) {
			rc = fail(&err);
		} else {
			json_t *a = json_array();

			for (char **n = names; n != NULL && *n != NULL; n++)
				json_array_append_new(a, json_string(*n));
			print_json(a);
			strv_free(names);
			rc = 0;
		}
	} else if ((strcmp(cmd, "state") == 0 || strcmp(cmd, "stop") == 0) && optind < argc) {
		if (enclave_adopt(rt, argv[optind], &e, &err) < 0)
			rc = fail(&err);
		else if (strcmp(cmd, "stop") == 0 && enclave_stop(rt, e, &err) < 0)
			rc = fail(&err);
		else {
			print_json(enclave_json(e));
			rc = 0;
		}
	} else if (strcmp(cmd, "logs") == 0 && optind + 2 < argc) {
		char *text = NULL;

		if (enclave_adopt(rt, argv[optind], &e, &err) < 0 ||
		    enclave_log_tail(rt, e, argv[optind + 1], strtoul(argv[optind + 2], NULL, 10),
		                     &text, &err) < 0) {
			rc = fail(&err);
		} else {
			fputs(text, stdout);
			rc = 0;
		}
		free(text);
	} else if (strcmp(cmd, "check") == 0 && optind < argc) {
		if (enclave_adopt(rt, argv[optind], &e, &err) < 0 ||
		    enclave_check_network(rt, e, &err) < 0)
			rc = fail(&err);
		else
			rc = 0;
	} else if (strcmp(cmd, "destroy") == 0 && optind < argc) {
		rc = enclave_destroy(rt, argv[optind], &err) < 0 ? fail(&err) : 0;
	} else if (strcmp(cmd, "exec") == 0 && optind + 1 < argc) {
		const char *name = argv[optind], *container = argv[optind + 1];
		int code;
		char *output = NULL;

		optind += 2;
		while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1)
			if (c == 't')
				timeout = strtoll(optarg, NULL, 10);
		if (enclave_adopt(rt, name, &e, &err) < 0 ||
		    enclave_exec(rt, e, container, argv + optind, timeout, &code, &output, &err) <
		        0) {
			rc = fail(&err);
		} else {
			fputs(output, stdout);
			rc = code;
		}
		free(output);
	} else {
		fprintf(stderr, "berth-enclave: bad command line\n");
		rc = 2;
	}
	enclave_free(e);
	runtime_close(rt);
	return rc;
}
