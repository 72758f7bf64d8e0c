/* store-bench: one store workload on the store of SPEC (a SQLite file or a
 * postgres:// URL), for bench/store.sh:
 *   store-bench SPEC [CONTAINERS [WRITES [READS [LISTS]]]]
 * makes an org with CONTAINERS containers (one transaction), then times
 * WRITES single writes (a container save, each its own commit), READS reads
 * by name, and LISTS lists of every container. Prints one line:
 *   writes_per_s=.. reads_per_s=.. list_p50_ms=.. list_p99_ms=.. heads_p50_ms=..
 *   heads_p99_ms=.. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/store.h"

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
die(const char *what, const struct err *err)
{
	fprintf(stderr, "store-bench: %s: %s\n", what, err->msg);
	exit(1);
}

int
main(int argc, char **argv)
{
	struct err err = ERR_INIT;
	struct store *st;
	struct store_org org = {0};
	int n = argc > 2 ? atoi(argv[2]) : 200;
	int writes = argc > 3 ? atoi(argv[3]) : 500;
	int reads = argc > 4 ? atoi(argv[4]) : 2000;
	int lists = argc > 5 ? atoi(argv[5]) : 100;
	int64_t t0, t1, *lat, *hlat;
	double w_s, r_s;
	char name[32];

	if (argc < 2 || n < 1 || writes < 1 || reads < 1 || lists < 1) {
		fprintf(stderr, "usage: store-bench SPEC [CONTAINERS [WRITES [READS [LISTS]]]]\n");
		return 2;
	}
	if (store_open(argv[1], &st, &err) < 0)
		die("open", &err);
	if (store_org_create(st, "bench", &org, &err) < 0)
		die("org", &err);
	if (store_begin(st, &err) < 0)
		die("begin", &err);
	for (int i = 0; i < n; i++) {
		struct store_container c = {0};

		snprintf(name, sizeof name, "svc-%05d", i);
		memcpy(c.org_id, org.id, sizeof c.org_id);
		c.name = name;
		c.status = CONTAINER_DEPLOYING;
		if (store_container_create(st, &c, &err) < 0)
			die("create", &err);
	}
	if (store_commit(st, &err) < 0)
		die("commit", &err);

	/* Writes: a status detail each, one commit each (what the reconciler does). */
	t0 = now_us();
	for (int i = 0; i < writes; i++) {
		struct store_container c = {0};

		snprintf(name, sizeof name, "svc-%05d", i % n);
		if (store_container_get_by_name(st, org.id, name, &c, &err) < 0)
			die("get", &err);
		free(c.status_detail);
		c.status_detail = xasprintf("pulling image %d%%", i % 100);
		if (store_container_save(st, &c, &err) < 0)
			die("save", &err);
		store_container_clear(&c);
	}
	t1 = now_us();
	w_s = writes * 1e6 / (double)(t1 - t0 > 0 ? t1 - t0 : 1);

	t0 = now_us();
	for (int i = 0; i < reads; i++) {
		struct store_container c = {0};

		snprintf(name, sizeof name, "svc-%05d", i % n);
		if (store_container_get_by_name(st, org.id, name, &c, &err) < 0)
			die("read", &err);
		store_container_clear(&c);
	}
	t1 = now_us();
	r_s = reads * 1e6 / (double)(t1 - t0 > 0 ? t1 - t0 : 1);

	/* Lists, timed one by one in microseconds. */
	lat = xcalloc((size_t)lists, sizeof *lat);
	for (int i = 0; i < lists; i++) {
		struct store_container *v = NULL;
		size_t got = 0;
		int64_t a = now_us();

		if (store_container_list(st, org.id, &v, &got, &err) < 0)
			die("list", &err);
		lat[i] = now_us() - a;
		if (got != (size_t)n) {
			fprintf(stderr, "store-bench: listed %zu of %d\n", got, n);
			return 1;
		}
		store_container_list_free(v, got);
	}
	qsort(lat, (size_t)lists, sizeof *lat, cmp_i64);
	/* The heads of the same list (id, deployment, version): what a list
	 * answer reads of the rows it has rendered before. */
	hlat = xcalloc((size_t)lists, sizeof *hlat);
	for (int i = 0; i < lists; i++) {
		struct store_container_head *h = NULL;
		size_t got = 0;
		int64_t a = now_us();

		if (store_container_heads(st, org.id, &h, &got, &err) < 0)
			die("heads", &err);
		hlat[i] = now_us() - a;
		free(h);
		if (got != (size_t)n) {
			fprintf(stderr, "store-bench: %zu heads of %d\n", got, n);
			return 1;
		}
	}
	qsort(hlat, (size_t)lists, sizeof *hlat, cmp_i64);
	printf("writes_per_s=%.0f reads_per_s=%.0f list_p50_ms=%.2f list_p99_ms=%.2f "
	       "heads_p50_ms=%.2f heads_p99_ms=%.2f\n",
	       w_s, r_s, (double)lat[lists / 2] / 1000.0, (double)lat[(lists * 99) / 100] / 1000.0,
	       (double)hlat[lists / 2] / 1000.0, (double)hlat[(lists * 99) / 100] / 1000.0);
	free(lat);
	free(hlat);
	store_org_clear(&org);
	store_close(st);
	return 0;
}
