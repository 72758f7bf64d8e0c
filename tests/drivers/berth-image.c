/* berth-image: the image module's API for system tests and benchmarks.
 *
 *   berth-image pull --cache DIR [--auth HOST=USER:PASS]... [--insecure HOST]...
 *                    [--parallel N] [--unpack ROOTFS] [--cancel-at PCT]
 *                    [--max-bytes N] [--max-entries N] REF
 *       pulls REF (and unpacks it into ROOTFS), prints "progress DONE TOTAL PCT"
 *       lines on stderr and the image as JSON on stdout
 *   berth-image pull-many --cache DIR [options as pull] REF...
 *       pulls every REF at once, one thread each; prints one JSON line per REF
 *   berth-image unpack --cache DIR REF ROOTFS
 *       unpacks REF (with a digest) from the cache alone
 *   berth-image gc --cache DIR [KEEP_REF...]
 *       removes the blobs no KEEP_REF references; prints "removed N"
 * --max-bytes and --max-entries set the unpack caps (berthd's
 * --image-max-bytes and --image-max-entries). Exits 0 on success, 1 with the
 * error on stderr. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "image/image.h"

_Noreturn static void
usage(void)
{
	fprintf(stderr, "usage: berth-image pull|unpack|gc --cache DIR ... (see the source)\n");
	exit(2);
}

/* Prints progress; cancels once past the --cancel-at percent, if given. */
static int
on_progress(uint64_t done, uint64_t total, void *arg)
{
	const int *cancel_at = arg;
	int pct = total ? (int)(done * 100 / total) : 100;

	fprintf(stderr, "progress %llu %llu %d\n", (unsigned long long)done,
	        (unsigned long long)total, pct);
	return *cancel_at >= 0 && pct >= *cancel_at;
}

static json_t *
strv_json(char **v)
{
	json_t *a;

	if (v == NULL)
		return json_null();
	a = json_array();
	for (; *v != NULL; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static void
print_image(const struct image *img)
{
	const struct image_config *c = &img->config;
	json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "ref", img->ref, "manifest_digest",
	                      img->manifest_digest, "config_digest", img->config_digest, "layers",
	                      strv_json(img->layers));
	json_t *conf = json_pack(
	    "{s:o, s:o, s:o, s:s?, s:s?, s:s?, s:o, s:I, s:I, s:I, s:i}", "entrypoint",
	    strv_json(c->entrypoint), "cmd", strv_json(c->cmd), "env", strv_json(c->env), "user",
	    c->user, "working_dir", c->working_dir, "stop_signal", c->stop_signal, "healthcheck",
	    strv_json(c->healthcheck), "hc_interval_ms", (json_int_t)c->hc_interval_ms,
	    "hc_timeout_ms", (json_int_t)c->hc_timeout_ms, "hc_start_period_ms",
	    (json_int_t)c->hc_start_period_ms, "hc_retries", c->hc_retries);
	char *s;

	json_object_set_new(o, "config", conf);
	s = json_dumps(o, JSON_COMPACT);
	printf("%s\n", s);
	free(s);
	json_decref(o);
}

/* One pull of pull-many. */
struct job {
	struct image_cache *cache;
	const struct image_settings *settings;
	const char *ref;
	struct image *img;
	struct err err;
	int rc;
};

static void *
pull_thread(void *arg)
{
	struct job *j = arg;

	j->rc = image_pull(j->cache, j->settings, j->ref, NULL, NULL, &j->img, &j->err);
	return NULL;
}

static int
pull_many(struct image_cache *cache, const struct image_settings *settings, char **refs,
          struct err *err)
{
	size_t n = strv_len(refs), i;
	struct job *jobs = xcalloc(n, sizeof *jobs);
	pthread_t *threads = xcalloc(n, sizeof *threads);
	int rc = 0;

	for (i = 0; i < n; i++) {
		jobs[i] = (struct job){cache, settings, refs[i], NULL, ERR_INIT, 0};
		if (pthread_create(&threads[i], NULL, pull_thread, &jobs[i]) != 0)
			log_fatal("pthread_create failed");
	}
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < n; i++) {
		if (jobs[i].rc < 0 && rc == 0) {
			*err = jobs[i].err;
			rc = -1;
		}
		if (jobs[i].img != NULL)
			print_image(jobs[i].img);
		image_free(jobs[i].img);
	}
	free(jobs);
	free(threads);
	return rc;
}

int
main(int argc, char **argv)
{
	struct image_registry_auth auths[8];
	struct image_settings settings = {.auths = auths};
	struct image_cache *cache = NULL;
	struct image *img = NULL;
	struct err err = ERR_INIT;
	const char *cmd, *cache_dir = NULL, *rootfs = NULL;
	char **insecure = NULL, **args = NULL;
	int i, rc = 1, cancel_at = -1;
	uint64_t max_bytes = 0, max_entries = 0;

	log_init("berth-image", LOG_LEVEL_WARN);
	if (argc < 2)
		usage();
	cmd = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc) {
			cache_dir = argv[++i];
		} else if (strcmp(argv[i], "--auth") == 0 && i + 1 < argc &&
		           settings.n_auths < ARRAY_LEN(auths)) {
			char *host = argv[++i], *eq = strchr(host, '='), *colon = NULL;

			if (eq == NULL || (colon = strchr(eq, ':')) == NULL)
				usage();
			*eq = *colon = '\0';
			auths[settings.n_auths++] =
			    (struct image_registry_auth){host, eq + 1, colon + 1};
		} else if (strcmp(argv[i], "--insecure") == 0 && i + 1 < argc) {
			insecure = strv_push(insecure, argv[++i]);
		} else if (strcmp(argv[i], "--parallel") == 0 && i + 1 < argc) {
			settings.max_parallel = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--cancel-at") == 0 && i + 1 < argc) {
			cancel_at = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--max-bytes") == 0 && i + 1 < argc) {
			max_bytes = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--max-entries") == 0 && i + 1 < argc) {
			max_entries = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--unpack") == 0 && i + 1 < argc) {
			rootfs = argv[++i];
		} else {
			args = strv_push(args, argv[i]);
		}
	}
	settings.insecure_hosts = insecure;
	if (cache_dir == NULL)
		usage();
	if (image_cache_open(cache_dir, &cache, &err) < 0)
		goto out;
	image_cache_set_unpack_caps(cache, max_bytes, max_entries);
	if (strcmp(cmd, "pull") == 0 && strv_len(args) == 1) {
		if (image_pull(cache, &settings, args[0], on_progress, &cancel_at, &img, &err) < 0)
			goto out;
		if (rootfs != NULL && image_unpack(cache, img, rootfs, &err) < 0)
			goto out;
		print_image(img);
	} else if (strcmp(cmd, "pull-many") == 0 && strv_len(args) >= 1) {
		if (pull_many(cache, &settings, args, &err) < 0)
			goto out;
	} else if (strcmp(cmd, "unpack") == 0 && strv_len(args) == 2) {
		if (image_load(cache, args[0], &img, &err) < 0 ||
		    image_unpack(cache, img, args[1], &err) < 0)
			goto out;
		print_image(img);
	} else if (strcmp(cmd, "gc") == 0) {
		size_t removed;

		if (image_cache_gc(cache, args, &removed, &err) < 0)
			goto out;
		printf("removed %zu\n", removed);
	} else {
		usage();
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "berth-image: %s\n", err.msg);
	image_free(img);
	image_cache_close(cache);
	strv_free(insecure);
	strv_free(args);
	return rc;
}
