/* Unit tests of src/config: parsing, every rejection with its position, the
 * accepted forms, defaults, the canonical form and the measurement. */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/config.h"
#include "config/measurement.h"

#define DIGEST "sha256:6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52"
#define IMG    "\"app@" DIGEST "\""
/* A valid config's tail, for tests about containers. */
#define SHIM "shim:\n  upstream-port: 80\n"

/* Parses yaml as "t.yml"; returns the config or NULL and *errors (owned). */
static struct config *
parse(const char *yaml, char **errors)
{
	struct config_errors errs = {0};
	struct config *c = NULL;

	*errors = NULL;
	if (config_parse("t.yml", yaml, strlen(yaml), &c, &errs) < 0) {
		assert_null(c);
		assert_true(errs.n > 0);
		*errors = config_errors_format(&errs);
		config_errors_free(&errs);
		return NULL;
	}
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	config_errors_free(&errs);
	return c;
}

static struct config *
parse_ok(const char *yaml)
{
	char *errors;
	struct config *c = parse(yaml, &errors);

	if (c == NULL) {
		print_error("unexpected errors:\n%s", errors);
		free(errors);
		fail();
	}
	return c;
}

/* Asserts that yaml is rejected with exactly the error lines want. */
static void
expect_errors(const char *yaml, const char *want)
{
	char *errors;
	struct config *c = parse(yaml, &errors);

	if (c != NULL) {
		config_free(c);
		fail_msg("accepted, wanted:\n%s", want);
	}
	assert_string_equal(errors, want);
	free(errors);
}

static void
test_cpu_file(void **state)
{
	struct config_errors errs = {0};
	struct config *c = NULL;
	const struct config_container *ct;

	(void)state;
	assert_int_equal(config_load("tests/config/cpu-app.yml", &c, &errs), 0);
	assert_string_equal(c->cvm_version, "0.7.5");
	assert_int_equal(c->cpus, 2);
	assert_int_equal(c->memory_mib, 8192);
	assert_int_equal(c->gpus, -1);
	assert_int_equal(c->n_containers, 1);
	ct = &c->containers[0];
	assert_string_equal(ct->name, "app");
	assert_string_equal(
	    ct->image_digest,
	    "sha256:6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52");
	assert_int_equal(ct->n_env, 1);
	assert_string_equal(ct->env[0].key, "LOG_LEVEL");
	assert_string_equal(ct->env[0].value, "info");
	assert_int_equal(strv_len(ct->secrets), 1);
	assert_string_equal(ct->secrets[0], "API_KEY");
	assert_int_equal(strv_len(ct->command), 2);
	assert_string_equal(ct->command[0], "--port");
	assert_string_equal(ct->command[1], "8000");
	assert_false(ct->command_is_string);
	assert_null(ct->entrypoint);
	assert_int_equal(ct->healthcheck.kind, CONFIG_HEALTHCHECK_NONE_SET);
	assert_int_equal(ct->memory_bytes, -1);
	assert_true(ct->cpus < 0);
	assert_int_equal(ct->pos.line, 5);
	assert_int_equal(ct->pos.column, 5);
	assert_int_equal(c->shim.upstream_port, 8000);
	assert_string_equal(c->shim.upstream_container, "app");
	assert_int_equal(c->shim.listen_port, -1);
	assert_int_equal(c->shim.authenticated, -1);
	assert_int_equal(strv_len(c->shim.paths), 1);
	/* Defaults of deploy; /health is in paths, so it is the health path. */
	assert_int_equal(c->deploy.strategy, CONFIG_STRATEGY_AUTO);
	assert_int_equal(c->deploy.health_timeout_ms, 300000);
	assert_int_equal(c->deploy.min_healthy_time_ms, 2000);
	assert_int_equal(c->deploy.drain_timeout_ms, 30000);
	assert_int_equal(c->deploy.hold_timeout_ms, 30000);
	assert_string_equal(c->deploy.health_path, "/health");
	assert_ptr_equal(config_upstream_container(c), ct);
	assert_ptr_equal(config_container_find(c, "app"), ct);
	assert_null(config_container_find(c, "nope"));
	assert_int_equal(config_gpus_required(c, 8), 0);
	assert_int_equal(strlen(c->config_sha256), 64);
	assert_string_equal(c->path, "tests/config/cpu-app.yml");
	/* The canonical form is pinned: changing it changes every deployment's
	 * hash. Expected hash: printf '%s' '<the text>' | sha256sum */
	assert_string_equal(
	    c->canonical,
	    "{\"containers\":[{\"command\":[\"--port\",\"8000\"],\"env\":[{\"key\":\"LOG_LEVEL\","
	    "\"value\":\"info\"}],\"image\":\"registry.example/app:1.2@sha256:"
	    "6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52\",\"name\":\"app\","
	    "\"privileged\":false,\"read_only\":false,\"secrets\":[\"API_KEY\"]}],\"cpus\":2,"
	    "\"cvm-version\":\"0.7.5\",\"deploy\":{\"drain-timeout\":30000,\"health-path\":\"/"
	    "health\",\"health-timeout\":300000,\"hold-timeout\":30000,\"min-healthy-time\":2000,"
	    "\"strategy\":\"auto\"},\"memory\":8192,\"shim\":{\"paths\":[\"/health\"],"
	    "\"upstream-container\":\"app\",\"upstream-port\":8000}}");
	assert_string_equal(c->config_sha256,
	                    "7131c532c3c03aea8899f2ea725601be51f743ac0cab1815ad7249807a0843b0");
	config_free(c);
}

static void
test_gpu_file(void **state)
{
	struct config_errors errs = {0};
	struct config *c = NULL;
	const struct config_container *ct;
	json_t *j;
	char *text;

	(void)state;
	assert_int_equal(config_load("tests/config/gpu-inference.yml", &c, &errs), 0);
	assert_int_equal(c->gpus, 1);
	ct = &c->containers[0];
	assert_string_equal(ct->runtime, "nvidia");
	assert_true(ct->gpus_all);
	assert_string_equal(ct->restart, "always");
	assert_string_equal(ct->ipc, "host");
	assert_int_equal(ct->shm_size_bytes, 16LL << 30);
	assert_int_equal(ct->n_tmpfs, 2); /* sorted by path */
	assert_string_equal(ct->tmpfs[0].path, "/root/.cache");
	assert_string_equal(ct->tmpfs[0].options, "size=8g");
	assert_string_equal(ct->tmpfs[1].path, "/tmp");
	assert_string_equal(ct->tmpfs[1].options, "size=512m,mode=1777,exec");
	assert_int_equal(strv_len(ct->command), 10);
	assert_string_equal(ct->command[9], "0.92");
	assert_int_equal(ct->n_env, 3); /* sorted by name */
	assert_string_equal(ct->env[1].key, "VLLM_API_KEY");
	assert_null(ct->env[1].value);
	assert_string_equal(ct->env[2].value, "WARNING");
	assert_int_equal(ct->healthcheck.kind, CONFIG_HEALTHCHECK_CMD);
	assert_int_equal(strv_len(ct->healthcheck.test), 3);
	assert_string_equal(ct->healthcheck.test[0], "curl");
	assert_int_equal(ct->healthcheck.start_period_ms, 30 * 60 * 1000);
	assert_int_equal(ct->healthcheck.interval_ms, 30000);
	assert_int_equal(ct->healthcheck.timeout_ms, 30000);
	assert_int_equal(ct->healthcheck.start_interval_ms, 5000);
	assert_int_equal(ct->healthcheck.retries, 3);
	assert_int_equal(c->shim.authenticated, 1);
	assert_int_equal(strv_len(c->shim.paths), 3);
	assert_string_equal(c->deploy.health_path, "/health");
	/* The enclave declares one GPU: that is what it takes on any host. */
	assert_int_equal(config_gpus_required(c, 8), 1);
	/* Recorded keys are kept in the canonical form. */
	j = json_loads(c->canonical, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(j, "models"), 0), "name")),
	                    "llama3-8b");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "shim"), "rate-limit")), 10);
	json_decref(j);
	text = config_to_json(c);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_non_null(strchr(text, '\n')); /* pretty */
	json_decref(j);
	free(text);
	config_free(c);
}

static void
test_compose_forms(void **state)
{
	struct config_errors errs = {0};
	struct config *c = NULL;
	const struct config_container *web, *worker;

	(void)state;
	assert_int_equal(config_load("tests/config/compose-forms.yml", &c, &errs), 0);
	web = config_container_find(c, "web");
	worker = config_container_find(c, "worker");
	assert_non_null(web);
	assert_non_null(worker);
	/* A string command is shell-split. */
	assert_true(web->entrypoint_is_string);
	assert_int_equal(strv_len(web->entrypoint), 5);
	assert_string_equal(web->entrypoint[2], ":8080");
	assert_string_equal(web->entrypoint[4], "web app");
	assert_true(web->command_is_string);
	assert_string_equal(web->command[0], "serve");
	assert_string_equal(web->working_dir, "/srv");
	assert_string_equal(web->user, "1000:1000");
	/* The compose map form of env, with an empty value taken from settings. */
	assert_int_equal(web->n_env, 3);
	assert_string_equal(web->env[0].key, "FROM_SETTINGS");
	assert_null(web->env[0].value);
	assert_string_equal(web->env[1].key, "MODE");
	assert_string_equal(web->env[2].value, "3");
	assert_int_equal(strv_len(web->ports), 3);
	assert_string_equal(web->ports[2], "8443");
	assert_int_equal(web->memory_bytes, 512LL << 20);
	assert_true(web->cpus > 0.49 && web->cpus < 0.51);
	assert_true(web->read_only);
	assert_int_equal(web->pids_limit, 256);
	assert_int_equal(web->n_tmpfs, 2);
	assert_string_equal(web->tmpfs[0].path, "/run");
	assert_null(web->tmpfs[0].options);
	assert_string_equal(web->tmpfs[1].options, "size=64m");
	assert_string_equal(web->stop_signal, "SIGTERM");
	assert_int_equal(web->stop_timeout_ms, 20000);
	/* Upper case, CAP_ removed, sorted. */
	assert_int_equal(strv_len(web->cap_add), 2);
	assert_string_equal(web->cap_add[0], "NET_BIND_SERVICE");
	assert_string_equal(web->cap_add[1], "SYS_NICE");
	assert_null(web->cap_drop);
	assert_int_equal(web->healthcheck.kind, CONFIG_HEALTHCHECK_CMD_SHELL);
	assert_string_equal(web->healthcheck.test[0],
	                    "curl -sf http://localhost:8080/healthz || exit 1");
	assert_null(web->healthcheck.test[1]);
	assert_int_equal(web->healthcheck.interval_ms, 10000);
	assert_int_equal(web->healthcheck.timeout_ms, 2000);
	assert_int_equal(web->healthcheck.retries, 5);
	assert_int_equal(web->healthcheck.start_period_ms, 90000);
	assert_int_equal(web->healthcheck.start_interval_ms, 1000);
	assert_string_equal(worker->restart, "on-failure:3");
	assert_int_equal(worker->healthcheck.kind, CONFIG_HEALTHCHECK_DISABLED);
	assert_string_equal(c->shim.upstream_container, "web");
	assert_int_equal(c->shim.listen_port, 443);
	assert_int_equal(c->deploy.strategy, CONFIG_STRATEGY_BLUE_GREEN);
	assert_int_equal(c->deploy.health_timeout_ms, 120000);
	assert_int_equal(c->deploy.min_healthy_time_ms, 5000);
	assert_int_equal(c->deploy.drain_timeout_ms, 45000);
	assert_int_equal(c->deploy.hold_timeout_ms, 60000);
	assert_string_equal(c->deploy.health_path, "/healthz");
	config_free(c);
}

/* Every tests/config/invalid/NAME.yml is rejected with NAME.err exactly. */
static void
test_invalid_files(void **state)
{
	const char *dir = "tests/config/invalid";
	struct dirent *de;
	DIR *d = opendir(dir);
	int seen = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct config_errors errs = {0};
		struct err err = ERR_INIT;
		struct config *c = NULL;
		size_t n = strlen(de->d_name), len;
		char *path, *want_path, *want, *got;

		if (n < 5 || strcmp(de->d_name + n - 4, ".yml") != 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		want_path = xasprintf("%s/%.*s.err", dir, (int)(n - 4), de->d_name);
		assert_int_equal(file_read_all(want_path, 1 << 20, &want, &len, &err), 0);
		if (config_load(path, &c, &errs) == 0)
			fail_msg("%s was accepted", path);
		got = config_errors_format(&errs);
		if (strcmp(got, want) != 0)
			fail_msg("%s:\ngot:\n%swant:\n%s", path, got, want);
		free(got);
		free(want);
		free(want_path);
		free(path);
		config_errors_free(&errs);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 15);
}

/* Every tests/config/conformance/NAME.yml (a case of the reference's
 * config_test.go) is accepted when NAME.ok exists, else rejected with NAME.err
 * exactly. */
static void
test_conformance_files(void **state)
{
	const char *dir = "tests/config/conformance";
	struct dirent *de;
	DIR *d = opendir(dir);
	int seen = 0, accepted = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct config_errors errs = {0};
		struct err err = ERR_INIT;
		struct config *c = NULL;
		size_t n = strlen(de->d_name), len;
		char *path, *ok_path, *want_path, *want = NULL, *got;
		int rc;

		if (n < 5 || strcmp(de->d_name + n - 4, ".yml") != 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		ok_path = xasprintf("%s/%.*s.ok", dir, (int)(n - 4), de->d_name);
		want_path = xasprintf("%s/%.*s.err", dir, (int)(n - 4), de->d_name);
		rc = config_load(path, &c, &errs);
		if (access(ok_path, F_OK) == 0) {
			if (rc != 0) {
				got = config_errors_format(&errs);
				fail_msg("%s was refused:\n%s", path, got);
			}
			accepted++;
		} else {
			assert_int_equal(file_read_all(want_path, 1 << 20, &want, &len, &err), 0);
			if (rc == 0)
				fail_msg("%s was accepted", path);
			got = config_errors_format(&errs);
			if (strcmp(got, want) != 0)
				fail_msg("%s:\ngot:\n%swant:\n%s", path, got, want);
			free(got);
		}
		free(want);
		free(want_path);
		free(ok_path);
		free(path);
		config_free(c);
		config_errors_free(&errs);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 100);
	assert_true(accepted >= 30);
}

/* The older forms real files use, and the reference's current format, are
 * accepted; unknown shim keys are warnings. */
static void
test_older_and_current_forms(void **state)
{
	struct config_errors errs = {0};
	const struct config_container *ct;
	struct config *c = NULL;
	char *text;

	(void)state;
	assert_int_equal(config_load("tests/config/older-forms.yml", &c, &errs), 0);
	ct = config_container_find(c, "api");
	assert_non_null(ct);
	assert_int_equal(ct->n_env, 4);
	assert_string_equal(ct->env[0].key, "DATABASE_URL");
	assert_string_equal(ct->env[0].value, "postgres://db:5432/app?sslmode=disable");
	assert_string_equal(ct->env[1].key, "EMPTY");
	assert_string_equal(ct->env[1].value, "");
	assert_null(ct->env[2].value);
	assert_string_equal(ct->registry_username, "deploy-bot");
	assert_string_equal(ct->registry_password_secret, "GHCR_TOKEN");
	assert_int_equal(ct->memory_bytes, 1073741824);
	assert_int_equal(ct->shm_size_bytes, 256 * 1048576);
	assert_string_equal(ct->stop_signal, "SIGRTMIN+3");
	assert_string_equal(config_container_find(c, "sandbox")->network_mode, "none");
	assert_string_equal(c->shim_version, "v0.0.9");
	assert_int_equal(c->warnings.n, 0);
	/* Registry credentials are honoured (the pull uses them). */
	assert_int_equal(config_unsupported(c, &errs), 0);
	config_errors_free(&errs);
	config_free(c);

	assert_int_equal(config_load("tests/config/json-form.yml", &c, &errs), 0);
	assert_int_equal(config_unsupported(c, &errs), 0);
	config_errors_free(&errs);
	config_free(c);

	assert_int_equal(config_load("tests/config/reference-current.yml", &c, &errs), 0);
	text = config_errors_format(&c->warnings);
	assert_string_equal(text, "tests/config/reference-current.yml:76:3: shim.future-key: "
	                          "warning: unknown shim key, ignored (as the reference ignores "
	                          "it)\n");
	free(text);
	assert_string_equal(c->keyserver_url, "https://keys.example.com");
	ct = config_container_find(c, "app");
	assert_int_equal(ct->attestation, 1);
	assert_int_equal(ct->gpus, 2);
	assert_string_equal(ct->keys[0], "host-ssh");
	assert_int_equal(config_container_find(c, "admin")->cvm_admin, 1);
	assert_non_null(strstr(c->canonical, "\"attested-keys\":"));
	assert_non_null(strstr(c->canonical, "\"atc\":\"https://atc.example.com\""));
	assert_null(strstr(c->canonical, "future-key"));
	config_free(c);
}

/* config_unsupported() names each key berth accepts but cannot honour yet. */
/* No tmpfs, volume or persistent volume over what berth mounts itself; a
 * target above those (/run, /run/tinfoil, /etc) or beside them
 * (/run/tinfoil/volumedata, the reference's) is fine. */
static void
test_reserved_targets(void **state)
{
	struct config *c;

	(void)state;
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n"
	              "    tmpfs:\n      /proc/x: size=1m\n      /dev: size=1m\n"
	              "      /etc/hosts: size=1m\n      /run/tinfoil/attestation: size=1m\n"
	              "    volumes: [\"v:/sys/fs\", \"w:/:ro\"]\n"
	              "    persistent_volumes: [\"d:/run/tinfoil/keys/k\", \"d:/dev/shm\"]\n"
	              "volumes:\n  - name: d\n" SHIM,
	              "t.yml:5:7: containers[0].tmpfs./proc/x: tmpfs target /proc/x is reserved: "
	              "berth mounts /proc itself\n"
	              "t.yml:6:7: containers[0].tmpfs./dev: tmpfs target /dev is reserved: berth "
	              "mounts /dev itself\n"
	              "t.yml:7:7: containers[0].tmpfs./etc/hosts: tmpfs target /etc/hosts is "
	              "reserved: berth mounts /etc/hosts itself\n"
	              "t.yml:8:7: containers[0].tmpfs./run/tinfoil/attestation: tmpfs target "
	              "/run/tinfoil/attestation is reserved: berth mounts /run/tinfoil/attestation "
	              "itself\n"
	              "t.yml:9:15: containers[0].volumes[0]: volume target /sys/fs is reserved: "
	              "berth mounts /sys itself\n"
	              "t.yml:9:28: containers[0].volumes[1]: volume target / is reserved: berth "
	              "mounts / (the image) itself\n"
	              "t.yml:10:26: containers[0].persistent_volumes[0]: persistent volume target "
	              "/run/tinfoil/keys/k is reserved: berth mounts /run/tinfoil/keys itself\n"

	              "t.yml:10:51: containers[0].persistent_volumes[1]: persistent volume target "
	              "/dev/shm is reserved: berth mounts /dev itself\n");
	/* With keys, the overlap with /run/tinfoil/keys is said once, in the
	 * reference's words. */
	expect_errors("attested-keys:\n  - id: k\n    key: ed25519\n"
	              "containers:\n  - name: a\n    image: " IMG "\n    keys: [k]\n"
	              "    tmpfs:\n      /run/tinfoil/keys: size=1m\n" SHIM,
	              "t.yml:9:7: containers[0].tmpfs: tmpfs /run/tinfoil/keys conflicts with "
	              "attested keys at /run/tinfoil/keys\n");
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n"
	             "    tmpfs:\n      /run: size=1m\n      /etc: size=1m\n"
	             "      /devices: size=1m\n      /run/tinfoil: size=1m\n"
	             "    persistent_volumes: [\"d:/run/tinfoil/volumedata/d\", \"d:/procs\"]\n"
	             "    attestation: true\n"
	             "volumes:\n  - name: d\n" SHIM);
	assert_true(c->containers[0].attestation);
	config_free(c);
}

static void
test_unsupported(void **state)
{
	struct config_errors errs = {0};
	struct config *c = NULL;
	char *text;

	(void)state;
	assert_int_equal(config_load("tests/config/reference-current.yml", &c, &errs), 0);
	{
		/* The allowlist network's names are the enclave's. */
		char **allow = config_egress_allow(c);

		assert_string_equal(config_egress(c), "allowlist");
		assert_int_equal(strv_len(allow), 2);
		assert_string_equal(allow[0], "huggingface.co");
		assert_string_equal(allow[1], "api.example.com");
		strv_free(allow);
	}
	assert_int_equal(config_unsupported(c, &errs), -1);
	text = config_errors_format(&errs);
	assert_string_equal(
	    text,
	    "tests/config/reference-current.yml:9:18: cvm-network.inbound-ports: inbound ports are "
	    "not supported yet\n"
	    "tests/config/reference-current.yml:26:17: volumes[0].key-secret: key-secret (an "
	    "encrypted disk) is not supported yet\n"
	    "tests/config/reference-current.yml:28:7: volumes[0].overlays: overlays are not "
	    "supported yet\n"
	    "tests/config/reference-current.yml:31:3: models: models are not supported yet\n"
	    "tests/config/reference-current.yml:39:12: containers[0].ports: publishing ports is "
	    "not "
	    "supported yet\n"
	    "tests/config/reference-current.yml:40:13: containers[0].models: model grants are not "
	    "supported yet\n"
	    "tests/config/reference-current.yml:43:14: containers[0].volumes: named volumes are "
	    "not "
	    "supported yet\n"
	    "tests/config/reference-current.yml:46:11: containers[0].gpus: a list of GPU ids is "
	    "not "
	    "supported yet (berth gives the count)\n"
	    "tests/config/reference-current.yml:49:16: containers[1].cvm_admin: cvm_admin is not "
	    "supported yet: berth's runc and gVisor enclaves cannot give a container admin rights "
	    "over the enclave without giving them over the host\n"
	    "tests/config/reference-current.yml:52:12: containers[1].ports: publishing ports is "
	    "not "
	    "supported yet\n"
	    "tests/config/reference-current.yml:55:20: containers[2].seal_register: seal_register "
	    "is "
	    "not supported yet\n");
	free(text);
	config_errors_free(&errs);
	/* Volumes are honoured: recorded for the deploy. */
	assert_int_equal(c->n_volumes, 1);
	assert_string_equal(c->volumes[0].name, "state");
	assert_int_equal(c->volumes[0].size_bytes, 20ll << 30);
	assert_int_equal(c->volumes[0].uid, 1000);
	assert_int_equal(c->volumes[0].gid, 1000);
	assert_int_equal(c->volumes[0].exec, 1);
	assert_ptr_equal(config_volume_find(c, "state"), &c->volumes[0]);
	assert_null(config_volume_find(c, "other"));
	/* Attested keys and the attestation socket are honoured too. */
	assert_int_equal(c->n_attested_keys, 1);
	assert_string_equal(c->attested_keys[0].id, "host-ssh");
	assert_string_equal(c->attested_keys[0].kind, "ed25519");
	assert_int_equal(c->attested_keys[0].uid, 1000);
	assert_int_equal(c->attested_keys[0].gid, 1000);
	assert_true(c->containers[0].attestation);
	assert_string_equal(c->containers[0].keys[0], "host-ssh");
	config_free(c);

	/* A file without those keys has nothing to list. */
	assert_int_equal(config_load("tests/config/cpu-app.yml", &c, &errs), 0);
	assert_int_equal(config_unsupported(c, &errs), 0);
	assert_int_equal(errs.n, 0);
	config_errors_free(&errs);
	config_free(c);
}

/* The enclave's egress is the widest of its containers' networks. */
static void
test_egress(void **state)
{
	static const char *const cases[][2] = {
	    {"containers:\n  - name: a\n    image: " IMG "\n" SHIM, "closed"},
	    {"networks:\n  out:\n    egress: open\n  in:\ncontainers:\n  - name: a\n    image: " IMG
	     "\n    networks: [in]\n" SHIM,
	     "closed"},
	    {"networks:\n  out:\n    egress: open\n  in:\n    egress: closed\ncontainers:\n  - "
	     "name: a\n    image: " IMG "\n    networks: [in]\n  - name: b\n    image: " IMG
	     "\n    "
	     "networks: [in, out]\n" SHIM,
	     "open"},
	    {"networks:\n  f:\n    egress: allowlist\n    allow: [example.com]\ncontainers:\n  - "
	     "name: a\n    image: " IMG "\n    networks: [f]\n" SHIM,
	     "allowlist"},
	};
	struct config_errors errs = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct config *c = parse_ok(cases[i][0]);

		assert_string_equal(config_egress(c), cases[i][1]);
		/* open and allowlist are honoured. */
		assert_int_equal(config_unsupported(c, &errs), 0);
		config_errors_free(&errs);
		config_free(c);
	}
}

static void
test_required(void **state)
{
	(void)state;
	expect_errors("cvm-version: 0.1\n", "t.yml:1:1: containers: required key is missing\n"
	                                    "t.yml:1:1: shim: required key is missing\n");
	expect_errors("containers: []\n" SHIM,
	              "t.yml:1:13: containers: at least one container is required\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\nshim:\n  paths: [/x]\n",
	              "t.yml:5:3: shim.upstream-port: required key is missing\n");
	expect_errors("containers:\n  - name:\n    image: " IMG "\n" SHIM,
	              "t.yml:2:5: containers[0].name: required key is missing\n");
	expect_errors("", "t.yml:1:1: the file is empty; a config needs containers and shim\n");
	expect_errors("42\n", "t.yml:1:1: expected a mapping at the top level (containers, shim, "
	                      "...)\n");
	expect_errors("containers:\n  - a\n" SHIM,
	              "t.yml:2:5: containers[0]: expected a container (a mapping with name, "
	              "image, ...), got \"a\"\n");
}

static void
test_unknown_keys(void **state)
{
	(void)state;
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n    imag: x\n" SHIM
	              "  path: [/]\nfoo: 1\n",
	              "t.yml:4:5: containers[0].imag: unknown key (did you mean \"image\"?)\n"
	              "t.yml:8:1: foo: unknown key\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n    environment: {A: b}\n" SHIM
	              "deploy: {strategy: auto, wait: 1s}\n",
	              "t.yml:4:5: containers[0].environment: unknown key (did you mean \"env\"?)\n"
	              "t.yml:7:26: deploy.wait: unknown key\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    healthcheck: {test: [CMD, x], every: 1s}\n" SHIM,
	              "t.yml:4:35: containers[0].healthcheck.every: unknown key\n");
}

static void
test_yaml_features_rejected(void **state)
{
	(void)state;
	expect_errors("base: &b {x: 1}\n", "t.yml:1:1: base: unknown key\n"
	                                   "t.yml:1:1: containers: required key is missing\n"
	                                   "t.yml:1:1: shim: required key is missing\n"
	                                   "t.yml:1:7: base: anchors (&name) are not supported\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n    <<: {user: x}\n" SHIM,
	              "t.yml:4:5: containers[0].<<: merge keys (<<) are not supported\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n    user: *u\n" SHIM,
	              "t.yml:4:11: containers[0].user: aliases (*name) are not supported\n");
	expect_errors("containers:\n  - name: !!str a\n    image: " IMG "\n" SHIM,
	              "t.yml:2:11: containers[0].name: tags (!tag) are not supported\n");
	expect_errors("a: 1\n---\nb: 2\n",
	              "t.yml:2:1: only one YAML document is allowed (found a second one)\n");
	expect_errors("containers: [\n" SHIM, "t.yml:1:13: invalid YAML: unclosed flow sequence "
	                                      "\"[\" opened here (the file ends at 3:20)\n");
	expect_errors("a: b: c\n",
	              "t.yml:1:5: invalid YAML: invalid nested block mapping on the same line\n");
	expect_errors("a:\n\t- x\n",
	              "t.yml:2:1: invalid YAML: tab character may not be used as indentation\n");
	expect_errors("a: \"\xc3\x28\"\n", "t.yml:1:5: the file is not valid UTF-8\n");
}

/* A construct left open is reported where it opened, with the end of the file
 * libfyaml reached looking for its end (issue 11, defect 6). */
static void
test_unclosed_named_where_opened(void **state)
{
	(void)state;
	/* The issue's file: libfyaml gave up at the end, 6:16. */
	expect_errors(
	    "shim:\n  upstream-port: 80\ncontainers:\n  - image: [unclosed\n"
	    "    name: web\n    x: 01234567\n",
	    "t.yml:4:12: invalid YAML: unclosed flow sequence \"[\" opened here (the file "
	    "ends at 6:16)\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n    env: {A: 1,\n" SHIM,
	              "t.yml:4:10: invalid YAML: unclosed flow mapping \"{\" opened here (the file "
	              "ends at 6:20)\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\nshim:\n  upstream-port: \"80\n",
	              "t.yml:5:18: invalid YAML: unclosed double-quoted string opened here (the "
	              "file ends at 5:21)\n");
	expect_errors("containers:\n  - name: 'it''s\n    image: " IMG "\n" SHIM,
	              "t.yml:2:11: invalid YAML: unclosed single-quoted string opened here (the "
	              "file ends at 5:20)\n");
	/* The innermost open one; trailing blank lines are not the end. */
	expect_errors("a: [x, [y, \"z]\nb: 1 # ]\n\n\n",
	              "t.yml:1:12: invalid YAML: unclosed double-quoted string opened here (the "
	              "file ends at 2:9)\n");
	expect_errors("a: [x, [y, z]\nb: 1 # ]\n",
	              "t.yml:1:4: invalid YAML: unclosed flow sequence \"[\" opened here (the file "
	              "ends at 2:9)\n");
	/* Closed, or closed by the wrong bracket: libfyaml's own message. */
	expect_errors("a: [x, y: z: w]\n", "t.yml:1:12: invalid YAML: missing comma in flow "
	                                   "sequence\n");
	expect_errors("a: {b: [it's, c}\n",
	              "t.yml:1:16: invalid YAML: mismatched flow mapping end\n");
}

static void
test_too_deep(void **state)
{
	struct buf b = BUF_INIT;
	char *errors;
	int i;

	(void)state;
	buf_puts(&b, "models: ");
	for (i = 0; i < 100; i++)
		buf_putc(&b, '[');
	for (i = 0; i < 100; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '\n');
	assert_null(parse(b.data, &errors));
	assert_string_equal(errors, "t.yml:1:72: nesting deeper than 64 levels\n");
	free(errors);
	buf_free(&b);
}

static void
test_too_big(void **state)
{
	struct config_errors errs = {0};
	struct config *c = NULL;
	size_t n = CONFIG_MAX_BYTES + 1;
	char *text = xmalloc(n), *out;

	(void)state;
	memset(text, '#', n);
	text[n - 1] = '\n';
	assert_int_equal(config_parse("big.yml", text, n, &c, &errs), -1);
	out = config_errors_format(&errs);
	assert_string_equal(out, "big.yml: the file is 1048577 bytes, more than the limit of "
	                         "1048576 (1 MiB)\n");
	free(out);
	config_errors_free(&errs);
	/* The same bytes as a file. */
	assert_int_equal(file_write_atomic("/tmp/berth-test-config-big.yml", text, n, 0600, NULL),
	                 0);
	assert_int_equal(config_load("/tmp/berth-test-config-big.yml", &c, &errs), -1);
	out = config_errors_format(&errs);
	assert_string_equal(out, "/tmp/berth-test-config-big.yml: the file is larger than the "
	                         "limit of 1 MiB\n");
	free(out);
	config_errors_free(&errs);
	unlink("/tmp/berth-test-config-big.yml");
	assert_int_equal(config_load("/nonexistent/t.yml", &c, &errs), -1);
	out = config_errors_format(&errs);
	assert_string_equal(out, "/nonexistent/t.yml: open /nonexistent/t.yml: No such file or "
	                         "directory\n");
	free(out);
	config_errors_free(&errs);
	free(text);
}

static void
test_images(void **state)
{
	struct config *c;

	(void)state;
	expect_errors("containers:\n  - name: a\n    image: nginx:1.25\n" SHIM,
	              "t.yml:3:12: containers[0].image: \"nginx:1.25\" is not pinned by digest; "
	              "write name[:tag]@sha256:<64 hex>\n");
	expect_errors("containers:\n  - name: a\n    image: a@sha512:00\n" SHIM,
	              "t.yml:3:12: containers[0].image: the digest must be sha256:<64 hex>, got "
	              "\"sha512:00\"\n");
	expect_errors(
	    "containers:\n  - name: a\n    image: "
	    "a@sha256:6288F5265D130BE6426BA98CC0EA5B5CB7C0D2EC44A9C57829004DC8EE7F0E52\n" SHIM,
	    "t.yml:3:12: containers[0].image: the digest must be sha256: and 64 "
	    "lower-case hex digits, got "
	    "\"sha256:6288F5265D130BE6426BA98CC0EA5B5CB7C0D2EC44A9C57829004DC8EE7F0E52\"\n");
	expect_errors(
	    "containers:\n  - name: a\n    image: \"" DIGEST "\"\n" SHIM,
	    "t.yml:3:12: containers[0].image: \"sha256:6288f5265d130be6426ba98cc0ea5b5cb7c0d2e"
	    "c44a9c57829004dc8ee7f0e52\" is not pinned by digest; write "
	    "name[:tag]@sha256:<64 hex>\n");
	expect_errors("containers:\n  - name: a\n    image: \"@" DIGEST "\"\n" SHIM,
	              "t.yml:3:12: containers[0].image: \"\" is not a valid image name\n");
	expect_errors("containers:\n  - name: a\n    image: [x]\n" SHIM,
	              "t.yml:3:12: containers[0].image: expected an image reference, got a list\n");
	c = parse_ok("containers:\n  - name: a\n    image: \"my.reg:5000/org/app:v1.2-rc_3@" DIGEST
	             "\"\n" SHIM);
	assert_string_equal(c->containers[0].image_digest, DIGEST);
	config_free(c);
}

static void
test_types_and_ranges(void **state)
{
	(void)state;
	expect_errors("cpus: 2.5\nmemory: 8g\ngpus: -1\ncontainers:\n  - name: a\n    image: " IMG
	              "\n    read_only: 1\n    pids_limit: 0\n    gpus: some\n" SHIM,
	              "t.yml:1:7: cpus: expected an integer, got \"2.5\"\n"
	              "t.yml:2:9: memory: expected an integer, got \"8g\"\n"
	              "t.yml:3:7: gpus: -1 is out of range (0 to 8)\n"
	              "t.yml:7:16: containers[0].read_only: expected true or false, got \"1\"\n"
	              "t.yml:8:17: containers[0].pids_limit: 0 is out of range (1 to 4194304)\n"
	              "t.yml:9:11: containers[0].gpus: expected all or a number of GPUs (0 to 64), "
	              "got \"some\"\n");
	expect_errors(
	    "containers:\n  - name: a\n    image: " IMG "\nshim:\n  upstream-port: 0\n"
	    "  listen-port: 65536\n  tls-mode: magic\n  rate-limit: -1\n",
	    "t.yml:5:18: shim.upstream-port: 0 is out of range (1 to 65535)\n"
	    "t.yml:6:16: shim.listen-port: 65536 is out of range (1 to 65535)\n"
	    "t.yml:7:13: shim.tls-mode: expected one of self-signed, acme, cert-proxy, got "
	    "\"magic\"\n"
	    "t.yml:8:15: shim.rate-limit: must be at least 0\n");
	expect_errors(
	    "containers:\n  - name: a\n    image: " IMG
	    "\n    ports: [\"8080:80\", \"0:80\", \"80:70000\", \"1.2.3.4:99999:80\"]\n" SHIM,
	    "t.yml:4:24: containers[0].ports[1]: \"0:80\" is not a port mapping, or a port "
	    "is out of range (1 to 65535)\n"
	    "t.yml:4:32: containers[0].ports[2]: \"80:70000\" is not a port mapping, or a "
	    "port is out of range (1 to 65535)\n"
	    "t.yml:4:44: containers[0].ports[3]: \"1.2.3.4:99999:80\" is not a port "
	    "mapping, or a port is out of range (1 to 65535)\n");
	expect_errors(
	    "containers:\n  - name: \"bad name\"\n    image: " IMG
	    "\n    runtime: kata\n    working_dir: srv\n    cap_add: [\"NET ADMIN\"]\n" SHIM,
	    "t.yml:2:11: containers[0].name: \"bad name\" is not a valid name (letters, "
	    "digits, _ . -, starting with a letter or digit, at most 63)\n"
	    "t.yml:4:14: containers[0].runtime: expected one of nvidia, runc, crun, got "
	    "\"kata\"\n"
	    "t.yml:5:18: containers[0].working_dir: expected an absolute path, got \"srv\"\n"
	    "t.yml:6:15: containers[0].cap_add[0]: \"NET ADMIN\" is not a capability name "
	    "such as NET_ADMIN\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n    command: \"a 'b\"\n" SHIM,
	              "t.yml:4:14: containers[0].command: unterminated quote or trailing \\ in \"a "
	              "'b\"\n");
}

static void
test_duplicates(void **state)
{
	(void)state;
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n  - name: a\n    image: " IMG
	              "\n" SHIM,
	              "t.yml:4:11: containers[1].name: duplicate container name \"a\" (first at "
	              "line 2)\n");
	expect_errors("containers:\n  - name: a\n    name: b\n    image: " IMG "\n" SHIM,
	              "t.yml:3:5: containers[0].name: duplicate key; first defined at line 2\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    env: [A, {B: x}, {A: y}]\n    secrets: [B]\n" SHIM,
	              "t.yml:4:23: containers[0].env[2].A: duplicate variable \"A\" (first at line "
	              "4)\n"
	              "t.yml:5:14: containers[0].secrets: B is both a secret and in env\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    tmpfs: {/tmp: a, /run: , /tmp: b}\n" SHIM,
	              "t.yml:4:30: containers[0].tmpfs./tmp: duplicate key; first defined at line "
	              "4\n");
}

static void
test_shim_rules(void **state)
{
	struct config *c;

	(void)state;
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\nshim:\n  upstream-port: 80\n  upstream-container: b\n",
	              "t.yml:6:23: shim.upstream-container: no container is named \"b\"\n");
	expect_errors(
	    "containers:\n  - name: a\n    image: " IMG
	    "\nshim:\n  upstream-port: 80\n  paths: [v1, /v1*x, /ok*, /*, \"/a?b\"]\n",
	    "t.yml:6:11: shim.paths[0]: a path must start with /, got \"v1\"\n"
	    "t.yml:6:15: shim.paths[1]: * is only allowed at the end of a path "
	    "(\"/v1/*\") or as a whole segment (\"/plan/*/sign\"), got \"/v1*x\"\n"
	    "t.yml:6:32: shim.paths[4]: a path may not hold spaces, control characters, ? "
	    "or #\n");
	/* /health is checked whenever shim.paths lets it through, by a
	 * prefix too; else the health check is a TCP connect (NULL). */
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n  - name: b\n    image: " IMG
	             "\nshim:\n  upstream-port: 80\n  upstream-container: b\n  paths: [/*]\n");
	assert_string_equal(c->deploy.health_path, "/health");
	assert_string_equal(config_upstream_container(c)->name, "b");
	config_free(c);
	c = parse_ok("containers:\n  - name: a\n    image: " IMG
	             "\nshim:\n  upstream-port: 80\n  paths: [/v1/*, /he*]\n");
	assert_string_equal(c->deploy.health_path, "/health");
	config_free(c);
	c = parse_ok("containers:\n  - name: a\n    image: " IMG
	             "\nshim:\n  upstream-port: 80\n  paths: [/v1/*, /healthz, /health/*]\n");
	assert_null(c->deploy.health_path);
	config_free(c);
}

static void
test_healthcheck(void **state)
{
	struct config *c;

	(void)state;
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    healthcheck: {test: [CMD-SHELL, a, b]}\n" SHIM,
	              "t.yml:4:25: containers[0].healthcheck.test: expected [\"CMD\", program, "
	              "args...], [\"CMD-SHELL\", \"script\"] or [\"NONE\"]\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    healthcheck: {interval: 5s}\n" SHIM,
	              "t.yml:4:18: containers[0].healthcheck.test: required key is missing\n");
	expect_errors(
	    "containers:\n  - name: a\n    image: " IMG
	    "\n    healthcheck: {test: [CMD, x], disable: true}\n" SHIM,
	    "t.yml:4:18: containers[0].healthcheck.disable: disable: true contradicts the "
	    "test given\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    healthcheck: {test: x, interval: 0s, retries: -1}\n" SHIM,
	              "t.yml:4:38: containers[0].healthcheck.interval: must be at least 1ms\n"
	              "t.yml:4:51: containers[0].healthcheck.retries: -1 is out of range (0 to "
	              "1000000)\n");
	c = parse_ok(
	    "containers:\n  - name: a\n    image: " IMG
	    "\n    healthcheck: {test: [NONE]}\n  - name: b\n    image: " IMG
	    "\n    healthcheck:\n      test: [CMD-SHELL, \"curl -f localhost || exit 1\"]\n"
	    "      interval: 1h30m\n      timeout: 500ms\n" SHIM);
	assert_int_equal(c->containers[0].healthcheck.kind, CONFIG_HEALTHCHECK_DISABLED);
	assert_int_equal(c->containers[1].healthcheck.kind, CONFIG_HEALTHCHECK_CMD_SHELL);
	assert_string_equal(c->containers[1].healthcheck.test[0], "curl -f localhost || exit 1");
	assert_int_equal(c->containers[1].healthcheck.interval_ms, 5400000);
	assert_int_equal(c->containers[1].healthcheck.timeout_ms, 500);
	config_free(c);
}

static void
test_durations_and_sizes(void **state)
{
	struct config *c;

	(void)state;
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	              "deploy:\n  health-timeout: 300\n  drain-timeout: 5 s\n  hold-timeout: "
	              "[1s]\n  strategy: rolling\n",
	              "t.yml:7:19: deploy.health-timeout: expected a duration such as 30s, 5m or "
	              "1h30m, got \"300\"\n"
	              "t.yml:8:18: deploy.drain-timeout: expected a duration such as 30s, 5m or "
	              "1h30m, got \"5 s\"\n"
	              "t.yml:9:17: deploy.hold-timeout: expected a duration such as 30s, 5m or "
	              "1h30m, got a list\n"
	              "t.yml:10:13: deploy.strategy: expected auto, blue-green or recreate, got "
	              "\"rolling\"\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    memory: 2q\n    shm_size: -1m\n" SHIM,
	              "t.yml:4:13: containers[0].memory: expected a size such as 512m or 2g, got "
	              "\"2q\"\n"
	              "t.yml:5:15: containers[0].shm_size: expected a size such as 512m or 2g, got "
	              "\"-1m\"\n");
	c = parse_ok("containers:\n  - name: a\n    image: " IMG
	             "\n    memory: 1.5g\n    shm_size: 64MB\n    stop_timeout: 1m\n  - name: b\n"
	             "    image: " IMG "\n    memory: 1048576\n    cpus: 2\n" SHIM
	             "deploy: {strategy: recreate, min-healthy-time: 0s}\n");
	assert_int_equal(c->containers[0].memory_bytes, 1610612736);
	assert_int_equal(c->containers[0].shm_size_bytes, 64 << 20);
	assert_int_equal(c->containers[0].stop_timeout_ms, 60000);
	assert_int_equal(c->containers[1].memory_bytes, 1048576);
	assert_true(c->containers[1].cpus == 2.0);
	assert_int_equal(c->deploy.strategy, CONFIG_STRATEGY_RECREATE);
	assert_int_equal(c->deploy.min_healthy_time_ms, 0);
	config_free(c);
}

static void
test_env_forms(void **state)
{
	struct config *c;

	(void)state;
	c = parse_ok("containers:\n  - name: a\n    image: " IMG
	             "\n    env:\n      - B: 2\n      # a comment\n      - A\n      - C: \"x: y\"\n"
	             "      - D: ''\n" SHIM);
	assert_int_equal(c->containers[0].n_env, 4);
	assert_string_equal(c->containers[0].env[0].key, "A");
	assert_null(c->containers[0].env[0].value);
	assert_string_equal(c->containers[0].env[1].value, "2");
	assert_string_equal(c->containers[0].env[2].value, "x: y");
	assert_string_equal(c->containers[0].env[3].value, "");
	config_free(c);
	/* Quoted forms: '' escapes (runs of them too), folding, double-quoted escapes. */
	c = parse_ok("containers:\n  - name: a\n    image: " IMG
	             "\n    env:\n      - A: 'it''s'\n      - B: 'x''''''y'\n      - C: 'one\n"
	             "          two\n\n          three  '\n      - D: \"t\\tu\\u00e9\"\n" SHIM);
	assert_string_equal(c->containers[0].env[0].value, "it's");
	assert_string_equal(c->containers[0].env[1].value, "x'''y");
	assert_string_equal(c->containers[0].env[2].value, "one two\nthree  ");
	assert_string_equal(c->containers[0].env[3].value, "t\tu\xc3\xa9");
	config_free(c);
	expect_errors("containers:\n  - name: a\n    image: " IMG
	              "\n    env: [\"1A=1\", {B: 1, C: 2}]\n    secrets: [\"my-secret\"]\n" SHIM,
	              "t.yml:4:11: containers[0].env[0]: \"1A\" is not a variable name (letters, "
	              "digits and _, not starting with a digit, at most 256 bytes)\n"
	              "t.yml:4:19: containers[0].env[1]: one KEY: \"value\" per list entry\n"
	              "t.yml:5:15: containers[0].secrets[0]: \"my-secret\" is not a valid secret "
	              "name (letters, digits and _, not starting with a digit)\n");
}

static void
test_gpus(void **state)
{
	struct config *c;

	(void)state;
	/* No enclave count: gpus: all takes the host's GPUs. */
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n    gpus: all\n" SHIM);
	assert_int_equal(config_gpus_required(c, 4), 4);
	config_free(c);
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n    gpus: 2\n  - name: b\n"
	             "    image: " IMG "\n    gpus: 1\n" SHIM);
	assert_int_equal(config_gpus_required(c, 8), 3);
	config_free(c);
	expect_errors("gpus: 0\ncontainers:\n  - name: a\n    image: " IMG "\n    gpus: all\n" SHIM,
	              "t.yml:1:7: gpus: container a asks for gpus: all, but gpus is 0\n");
}

/* The errors of a file come in document order, whatever found them first. */
static void
test_error_order(void **state)
{
	(void)state;
	expect_errors("shim:\n  upstream-container: zz\n  upstream-port: x\ncontainers:\n"
	              "  - name: a\n    image: b\n",
	              "t.yml:2:23: shim.upstream-container: no container is named \"zz\"\n"
	              "t.yml:3:18: shim.upstream-port: expected an integer, got \"x\"\n"
	              "t.yml:6:12: containers[0].image: \"b\" is not pinned by digest; write "
	              "name[:tag]@sha256:<64 hex>\n");
}

/* ---- the container policy (config-policy.c) ---- */

/* A one-container config with line as the container's last key, on line 4
 * (its key at column 5). */
#define WITH(line) "containers:\n  - name: a\n    image: " IMG "\n    " line "\n" SHIM

#define WHY_PRIVILEGED                                                                             \
	"privileged containers are refused: an enclave's containers never get host privileges\n"
#define WHY_SECURITY_OPT                                                                           \
	"security_opt is refused: berth applies the same security options (seccomp, AppArmor, "    \
	"no-new-privileges) to every container, and a config may not loosen them\n"
#define WHY_CAP_DROP                                                                               \
	"cap_drop is refused: every container starts from the same capability set, which only "    \
	"cap_add changes\n"
#define WHY_PID                                                                                    \
	" is refused: each container has its own PID namespace, never the host's or another "      \
	"container's\n"
#define WHY_DEVICE                                                                                 \
	" is refused: containers get no host devices; GPUs come only from gpus with runtime: "     \
	"nvidia\n"
#define WHY_CAP " is refused: cap_add may only add IPC_LOCK, NET_BIND_SERVICE or SYS_NICE\n"
#define WHY_IPC                                                                                    \
	" is refused: expected private, none, shareable or host (host is the IPC namespace the "   \
	"enclave's containers share, never the host's)\n"

/* privileged, security_opt and cap_drop are refused whenever the key is
 * written, whatever the value, with one error at the key. */
static void
test_policy_refused_keys(void **state)
{
	static const char *const privileged[] = {"false", "true", "off", "", "~", "null"};
	static const char *const opts[] = {"[no-new-privileges]", "[]", "",
	                                   "\n      - seccomp=unconfined"};
	static const char *const caps[] = {"[ALL]", "[]", "", "\n      - CHOWN"};
	char yaml[512];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(privileged); i++) {
		snprintf(yaml, sizeof yaml, WITH("privileged: %s"), privileged[i]);
		expect_errors(yaml, "t.yml:4:5: containers[0].privileged: " WHY_PRIVILEGED);
	}
	for (i = 0; i < ARRAY_LEN(opts); i++) {
		snprintf(yaml, sizeof yaml, WITH("security_opt: %s"), opts[i]);
		expect_errors(yaml, "t.yml:4:5: containers[0].security_opt: " WHY_SECURITY_OPT);
	}
	for (i = 0; i < ARRAY_LEN(caps); i++) {
		snprintf(yaml, sizeof yaml, WITH("cap_drop: %s"), caps[i]);
		expect_errors(yaml, "t.yml:4:5: containers[0].cap_drop: " WHY_CAP_DROP);
	}
	/* A value of the wrong type is reported as well, where it is. */
	expect_errors(WITH("privileged: 1"),
	              "t.yml:4:5: containers[0].privileged: " WHY_PRIVILEGED
	              "t.yml:4:17: containers[0].privileged: expected true or false, got \"1\"\n");
	/* The flow form: the error is at the key, in the second container. */
	expect_errors("containers:\n  - {name: a, image: " IMG "}\n  - {name: b, image: " IMG
	              ", privileged: false}\n" SHIM,
	              "t.yml:3:101: containers[1].privileged: " WHY_PRIVILEGED);
	/* A repeated key is one duplicate error and one refusal. */
	expect_errors(
	    WITH("cap_drop: [ALL]\n    cap_drop: [ALL]"),
	    "t.yml:4:5: containers[0].cap_drop: " WHY_CAP_DROP
	    "t.yml:5:5: containers[0].cap_drop: duplicate key; first defined at line 4\n");
}

static void
test_policy_pid_and_devices(void **state)
{
	struct config *c;

	(void)state;
	expect_errors(WITH("pid: host"), "t.yml:4:10: containers[0].pid: pid \"host\"" WHY_PID);
	expect_errors(WITH("pid: private"),
	              "t.yml:4:10: containers[0].pid: pid \"private\"" WHY_PID);
	expect_errors(WITH("pid: \"container:db\""),
	              "t.yml:4:10: containers[0].pid: pid \"container:db\"" WHY_PID);
	expect_errors(WITH("pid: [host]"),
	              "t.yml:4:10: containers[0].pid: expected a string, got a list\n");
	/* Empty is no pid at all. */
	c = parse_ok(WITH("pid: \"\""));
	assert_string_equal(c->containers[0].pid, "");
	config_free(c);
	c = parse_ok(WITH("pid:"));
	assert_null(c->containers[0].pid);
	config_free(c);

	expect_errors(
	    WITH("devices:\n      - /dev/kvm\n      - \"/dev/nvidia0:/dev/nvidia0\""),
	    "t.yml:5:9: containers[0].devices[0]: device \"/dev/kvm\"" WHY_DEVICE
	    "t.yml:6:9: containers[0].devices[1]: device \"/dev/nvidia0:/dev/nvidia0\"" WHY_DEVICE);
	expect_errors(WITH("devices: [/dev/fuse]"),
	              "t.yml:4:15: containers[0].devices[0]: device \"/dev/fuse\"" WHY_DEVICE);
	expect_errors(WITH("devices: /dev/kvm"),
	              "t.yml:4:14: containers[0].devices: expected a list of strings, got "
	              "\"/dev/kvm\"\n");
	c = parse_ok(WITH("devices: []"));
	assert_int_equal(strv_len(c->containers[0].devices), 0);
	config_free(c);
	c = parse_ok(WITH("devices:"));
	assert_null(c->containers[0].devices);
	config_free(c);
	/* GPUs come from gpus and runtime: nvidia. */
	c = parse_ok(WITH("runtime: nvidia\n    gpus: all"));
	assert_true(c->containers[0].gpus_all);
	config_free(c);
}

/* cap_add: IPC_LOCK, NET_BIND_SERVICE, SYS_NICE in any case, with or
 * without CAP_; everything else refused at its entry. */
static void
test_policy_cap_add(void **state)
{
	static const char *const allowed[] = {"IPC_LOCK", "NET_BIND_SERVICE", "SYS_NICE"};
	static const char *const prefixes[] = {"", "CAP_", "cap_", "Cap_"};
	static const char *const refused[] = {"ALL",
	                                      "all",
	                                      "CAP_ALL",
	                                      "cap_all",
	                                      "SYS_ADMIN",
	                                      "CAP_SYS_ADMIN",
	                                      "NET_ADMIN",
	                                      "CHOWN",
	                                      "SYS_PTRACE",
	                                      "NET_RAW",
	                                      "DAC_READ_SEARCH",
	                                      "SYS_MODULE",
	                                      "IPC_LOCKS",
	                                      "CAP_CAP_IPC_LOCK",
	                                      "NET_BIND"};
	char lower[64], yaml[512], want[512];
	struct config *c;
	size_t i, j, k;

	(void)state;
	for (i = 0; i < ARRAY_LEN(allowed); i++) {
		for (k = 0; allowed[i][k] != '\0'; k++)
			lower[k] = (char)tolower((unsigned char)allowed[i][k]);
		lower[k] = '\0';
		for (j = 0; j < 2 * ARRAY_LEN(prefixes); j++) {
			snprintf(yaml, sizeof yaml, WITH("cap_add: [\"%s%s\"]"), prefixes[j / 2],
			         j % 2 ? lower : allowed[i]);
			c = parse_ok(yaml);
			assert_int_equal(strv_len(c->containers[0].cap_add), 1);
			assert_string_equal(c->containers[0].cap_add[0], allowed[i]);
			config_free(c);
		}
	}
	/* All three, repeated: normalised, sorted, once each. */
	c = parse_ok(WITH("cap_add: [sys_nice, CAP_NET_BIND_SERVICE, IPC_LOCK, cap_ipc_lock]"));
	assert_int_equal(strv_len(c->containers[0].cap_add), 3);
	assert_string_equal(c->containers[0].cap_add[0], "IPC_LOCK");
	assert_string_equal(c->containers[0].cap_add[1], "NET_BIND_SERVICE");
	assert_string_equal(c->containers[0].cap_add[2], "SYS_NICE");
	config_free(c);
	c = parse_ok(WITH("cap_add: []"));
	assert_int_equal(strv_len(c->containers[0].cap_add), 0);
	config_free(c);

	for (i = 0; i < ARRAY_LEN(refused); i++) {
		snprintf(yaml, sizeof yaml, WITH("cap_add: [%s]"), refused[i]);
		snprintf(want, sizeof want,
		         "t.yml:4:15: containers[0].cap_add[0]: capability \"%s\"" WHY_CAP,
		         refused[i]);
		expect_errors(yaml, want);
	}
	/* One error per refused entry, at the entry; allowed ones pass. */
	expect_errors(WITH("cap_add:\n      - IPC_LOCK\n      - ALL\n      - SYS_NICE\n"
	                   "      - cap_sys_admin"),
	              "t.yml:6:9: containers[0].cap_add[1]: capability \"ALL\"" WHY_CAP
	              "t.yml:8:9: containers[0].cap_add[3]: capability \"cap_sys_admin\"" WHY_CAP);
	/* What is no capability name at all, or not a list, is the parser's
	 * error alone. */
	expect_errors(WITH("cap_add: [\"NET ADMIN\"]"),
	              "t.yml:4:15: containers[0].cap_add[0]: \"NET ADMIN\" is not a capability "
	              "name such as NET_ADMIN\n");
	expect_errors(WITH("cap_add: SYS_ADMIN"),
	              "t.yml:4:14: containers[0].cap_add: expected a list of capabilities, got "
	              "\"SYS_ADMIN\"\n");
}

/* ipc: private, none, shareable or host (the enclave's), or nothing. */
static void
test_policy_ipc(void **state)
{
	static const char *const allowed[] = {"private", "none", "shareable", "host"};
	static const char *const refused[] = {"container:db", "service:db", "HOST",
	                                      "Private",      "host ",      "shareable:x"};
	char yaml[512], want[512];
	struct config *c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(allowed); i++) {
		snprintf(yaml, sizeof yaml, WITH("ipc: %s"), allowed[i]);
		c = parse_ok(yaml);
		assert_string_equal(c->containers[0].ipc, allowed[i]);
		config_free(c);
	}
	c = parse_ok(WITH("ipc: ''"));
	assert_string_equal(c->containers[0].ipc, "");
	config_free(c);
	c = parse_ok(WITH("ipc:"));
	assert_null(c->containers[0].ipc);
	config_free(c);
	for (i = 0; i < ARRAY_LEN(refused); i++) {
		snprintf(yaml, sizeof yaml, WITH("ipc: \"%s\""), refused[i]);
		snprintf(want, sizeof want, "t.yml:4:10: containers[0].ipc: ipc \"%s\"" WHY_IPC,
		         refused[i]);
		expect_errors(yaml, want);
	}
	expect_errors(WITH("ipc: {mode: host}"),
	              "t.yml:4:10: containers[0].ipc: expected a string, got a mapping\n");
}

/* Refusals of several containers come in document order with the others. */
static void
test_policy_error_order(void **state)
{
	(void)state;
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n    pid: host\n    imag: x\n"
	              "    cap_add: [SYS_ADMIN]\n  - name: b\n    image: " IMG
	              "\n    devices: [/dev/kvm]\n    privileged: true\n    memory: lots\n" SHIM,
	              "t.yml:4:10: containers[0].pid: pid \"host\"" WHY_PID
	              "t.yml:5:5: containers[0].imag: unknown key (did you mean \"image\"?)\n"
	              "t.yml:6:15: containers[0].cap_add[0]: capability \"SYS_ADMIN\"" WHY_CAP
	              "t.yml:9:15: containers[1].devices[0]: device \"/dev/kvm\"" WHY_DEVICE
	              "t.yml:10:5: containers[1].privileged: " WHY_PRIVILEGED
	              "t.yml:11:13: containers[1].memory: expected a size such as 512m or 2g, got "
	              "\"lots\"\n");
}

static char *
sha_of(const char *yaml)
{
	struct config *c = parse_ok(yaml);
	char *s = xstrdup(c->config_sha256);

	config_free(c);
	return s;
}

static void
test_canonical_stable(void **state)
{
	const char *a =
	    "cvm-version: 0.7.5\ncpus: 2\nmemory: 8192\ncontainers:\n"
	    "  - name: \"app\"\n    image: " IMG "\n    env:\n      - LOG_LEVEL: \"info\"\n"
	    "      - B: x\n    secrets:\n      - API_KEY\n    command: [\"--port\", "
	    "\"8000\"]\n    healthcheck:\n      test: [CMD, true]\n      interval: 90s\n"
	    "shim:\n  upstream-port: 8000\n  rate-limit: 5\n  paths:\n    - /health\n";
	/* Same meaning: keys reordered, flow style, other quoting, map env,
	 * string command, another spelling of the duration, defaults written. */
	const char *b =
	    "shim: {paths: ['/health'], rate-limit: 5, upstream-port: 8000}\n"
	    "containers:\n  - command: --port 8000\n    secrets: [API_KEY]\n"
	    "    healthcheck: {interval: 1m30s, test: [\"CMD\", \"true\"], retries: 3}\n"
	    "    env: {B: \"x\", LOG_LEVEL: info}\n    image: " IMG "\n    name: app\n"
	    "memory: 8192\ncpus: 2\ncvm-version: \"0.7.5\"\ndeploy: {strategy: auto, "
	    "drain-timeout: 30s}\n";
	const char *changed =
	    "cvm-version: 0.7.5\ncpus: 2\nmemory: 8192\ncontainers:\n"
	    "  - name: \"app\"\n    image: " IMG "\n    env:\n      - LOG_LEVEL: \"debug\"\n"
	    "      - B: x\n    secrets:\n      - API_KEY\n    command: [\"--port\", "
	    "\"8000\"]\n    healthcheck:\n      test: [CMD, true]\n      interval: "
	    "90s\nshim:\n  upstream-port: 8000\n  rate-limit: 5\n  paths:\n    - "
	    "/health\n";
	char *sa = sha_of(a), *sb = sha_of(b), *sc = sha_of(changed), *sd;
	struct config *c;

	(void)state;
	assert_string_equal(sa, sb);
	assert_string_not_equal(sa, sc);
	/* A recorded key changes it too. */
	sd = sha_of("cvm-version: 0.7.5\ncpus: 2\nmemory: 8192\ncontainers:\n"
	            "  - name: \"app\"\n    image: " IMG "\n    env:\n      - LOG_LEVEL: \"info\"\n"
	            "      - B: x\n    secrets:\n      - API_KEY\n    command: [\"--port\", "
	            "\"8000\"]\n    healthcheck:\n      test: [CMD, true]\n      interval: 90s\n"
	            "shim:\n  upstream-port: 8000\n  rate-limit: 6\n  paths:\n    - /health\n");
	assert_string_not_equal(sa, sd);
	/* The hash is the sha256 of the canonical text, which is sorted and compact. */
	c = parse_ok(a);
	{
		char want[65];

		sha256_hex(c->canonical, strlen(c->canonical), want);
		assert_string_equal(want, c->config_sha256);
		assert_non_null(strstr(c->canonical,
		                       "\"deploy\":{\"drain-timeout\":30000,\"health-path\":\"/"
		                       "health\",\"health-timeout\":300000,\"hold-timeout\":30000,"
		                       "\"min-healthy-time\":2000,\"strategy\":\"auto\"}"));
		assert_non_null(strstr(c->canonical, "\"env\":[{\"key\":\"B\",\"value\":\"x\"},{"
		                                     "\"key\":\"LOG_LEVEL\",\"value\":\"info\"}]"));
		assert_null(strchr(c->canonical, '\n'));
	}
	config_free(c);
	free(sa);
	free(sb);
	free(sc);
	free(sd);
}

/* go-yaml v3, the reference's parser, reads yes/no/on/off into bool fields. */
static void
test_yaml11_bools(void **state)
{
	char *a =
	    sha_of("containers:\n  - name: a\n    image: " IMG
	           "\n    read_only: yes\n    healthcheck: {test: [CMD, x], disable: off}\n" SHIM
	           "  authenticated: Y\n");
	char *b =
	    sha_of("containers:\n  - name: a\n    image: " IMG
	           "\n    read_only: true\n    healthcheck: {test: [CMD, x], disable: false}\n" SHIM
	           "  authenticated: true\n");
	struct config *c;

	(void)state;
	assert_string_equal(a, b);
	/* In recorded sections, untyped, they stay strings, as there. */
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n" SHIM "security: {x: yes}\n");
	assert_non_null(strstr(c->canonical, "\"security\":{\"x\":\"yes\"}"));
	config_free(c);
	free(a);
	free(b);
}

/* deploy.isolation: runc or gvisor, as written; absent is the host's default,
 * which the deployment records (so the canonical form leaves it out). */
static void
test_deploy_isolation(void **state)
{
	struct config *c;
	char *absent, *gvisor, *runc;

	(void)state;
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n" SHIM "deploy: {}\n");
	assert_null(c->deploy.isolation);
	assert_null(strstr(c->canonical, "isolation"));
	config_free(c);
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	             "deploy:\n  isolation: gvisor\n");
	assert_string_equal(c->deploy.isolation, "gvisor");
	assert_non_null(strstr(c->canonical, ",\"isolation\":\"gvisor\",\"min-healthy-time\""));
	config_free(c);
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	             "deploy: {isolation: \"runc\", strategy: recreate}\n");
	assert_string_equal(c->deploy.isolation, "runc");
	config_free(c);
	/* An empty value is absent, like the other keys. */
	c = parse_ok("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	             "deploy:\n  isolation:\n");
	assert_null(c->deploy.isolation);
	config_free(c);
	/* Writing it changes the config's hash, even when it names what the
	 * host would have chosen. */
	absent = sha_of("containers:\n  - name: a\n    image: " IMG "\n" SHIM);
	gvisor = sha_of("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	                "deploy: {isolation: gvisor}\n");
	runc = sha_of("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	              "deploy: {isolation: runc}\n");
	assert_string_not_equal(absent, gvisor);
	assert_string_not_equal(absent, runc);
	assert_string_not_equal(gvisor, runc);
	free(absent);
	free(gvisor);
	free(runc);
	/* Anything else is an error at the value: other levels, other spellings,
	 * the OCI runtime's name, a list. */
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	              "deploy:\n  isolation: vm\n  strategy: auto\n",
	              "t.yml:7:14: deploy.isolation: expected one of runc, gvisor, got \"vm\"\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	              "deploy: {isolation: gVisor}\n",
	              "t.yml:6:21: deploy.isolation: expected one of runc, gvisor, got "
	              "\"gVisor\"\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	              "deploy: {isolation: runsc}\n",
	              "t.yml:6:21: deploy.isolation: expected one of runc, gvisor, got "
	              "\"runsc\"\n");
	expect_errors("containers:\n  - name: a\n    image: " IMG "\n" SHIM
	              "deploy:\n  isolation: [gvisor]\n",
	              "t.yml:7:14: deploy.isolation: expected a string, got a list\n");
}

/* Known answers computed independently with Python:
 *   import hashlib, struct
 *   f = lambda b: struct.pack('>Q', len(b)) + b
 *   l = lambda xs: struct.pack('>Q', len(set(xs))) + b''.join(f(x) for x in sorted(set(xs)))
 *   enc = f(b'berth-measurement-v3') + f(cfg) + l(images) + f(bytes([debug]))
 *         + l(secrets) + f(isolation)
 *   hashlib.sha256(enc).hexdigest()
 */
static void
test_measurement(void **state)
{
	const char *a = "registry.example/app@sha256:"
	                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *b = "registry.example/db@sha256:"
	                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	const char *images[] = {b, a, b};
	const char *images2[] = {a, b};
	const char *secrets[] = {"Z_KEY", "API_KEY"};
	struct measurement_input in = {
	    .canonical_config = "{\"a\":1}",
	    .images = images,
	    .n_images = 3,
	    .debug = 1,
	    .secrets = secrets,
	    .n_secrets = 2,
	    .isolation = "runc",
	};
	struct measurement_input empty = {0};
	char out[65], *enc;
	size_t len;

	(void)state;
	measurement_compute(&in, out);
	assert_string_equal(out,
	                    "782f8e26ca38b401dd68eb02161ed43f5002bffda31c2221c2ccd560b712a5f5");
	/* Order and repeats of the lists do not matter; the debug flag does. */
	in.images = images2;
	in.n_images = 2;
	in.debug = 0;
	measurement_compute(&in, out);
	assert_string_equal(out,
	                    "7969b790d71542f2e1852bff71ccefda3402941bed42a8de8abc2c660194b720");
	/* So does the isolation level: the same deployment under gVisor is
	 * another one. */
	in.isolation = "gvisor";
	measurement_compute(&in, out);
	assert_string_equal(out,
	                    "973d42ea1c5eaf100c540fdc2fd4d2dd6bcdac3c879f272435963a2305c8cdc5");
	measurement_compute(&empty, out);
	assert_string_equal(out,
	                    "7439669130a2c96ed46b10e26deedbf1acb6690af9ec1ac9dbf95dd46c3987fd");
	/* Moving a byte between fields changes the encoding: lengths prefix them. */
	measurement_encode(&empty, &enc, &len);
	assert_int_equal(len, 8 + 20 + 8 + 8 + 8 + 1 + 8 + 8);
	assert_memory_equal(enc, "\0\0\0\0\0\0\0\x14" MEASUREMENT_VERSION, 28);
	free(enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpu_file),
	    cmocka_unit_test(test_gpu_file),
	    cmocka_unit_test(test_compose_forms),
	    cmocka_unit_test(test_invalid_files),
	    cmocka_unit_test(test_conformance_files),
	    cmocka_unit_test(test_older_and_current_forms),
	    cmocka_unit_test(test_unsupported),
	    cmocka_unit_test(test_reserved_targets),
	    cmocka_unit_test(test_egress),
	    cmocka_unit_test(test_required),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_yaml_features_rejected),
	    cmocka_unit_test(test_unclosed_named_where_opened),
	    cmocka_unit_test(test_too_deep),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_images),
	    cmocka_unit_test(test_types_and_ranges),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_shim_rules),
	    cmocka_unit_test(test_healthcheck),
	    cmocka_unit_test(test_durations_and_sizes),
	    cmocka_unit_test(test_env_forms),
	    cmocka_unit_test(test_gpus),
	    cmocka_unit_test(test_error_order),
	    cmocka_unit_test(test_policy_refused_keys),
	    cmocka_unit_test(test_policy_pid_and_devices),
	    cmocka_unit_test(test_policy_cap_add),
	    cmocka_unit_test(test_policy_ipc),
	    cmocka_unit_test(test_policy_error_order),
	    cmocka_unit_test(test_canonical_stable),
	    cmocka_unit_test(test_yaml11_bools),
	    cmocka_unit_test(test_deploy_isolation),
	    cmocka_unit_test(test_measurement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
