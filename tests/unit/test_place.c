/* Unit tests of src/recon/recon-place: the host of a new enclave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "recon/recon-place.h"

#define GIB (1024LL * 1024 * 1024)

static int
place(const struct place_host *h, size_t n, int64_t cpus, int64_t memory, int gpus, int prefer,
      struct err *err)
{
	struct place_need need = {.cpus = cpus, .memory_bytes = memory, .gpus = gpus};

	return recon_place(h, n, &need, prefer, err);
}

/* Spread: the host with the fewest enclaves, ties by id. */
static void
test_spread(void **state)
{
	struct place_host h[3] = {
	    {.id = "c", .cpus = 8, .memory_bytes = 8 * GIB, .enclaves = 1},
	    {.id = "b", .cpus = 8, .memory_bytes = 8 * GIB, .enclaves = 0},
	    {.id = "a", .cpus = 8, .memory_bytes = 8 * GIB, .enclaves = 0},
	};
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(place(h, 3, 1, GIB, 0, -1, &err), 2); /* a: tie with b, by id */
	h[2].enclaves = 2;
	assert_int_equal(place(h, 3, 1, GIB, 0, -1, &err), 1); /* b: fewest */
	h[1].enclaves = 1;
	assert_int_equal(place(h, 3, 1, GIB, 0, -1, &err), 1); /* b before c */
	assert_false(err_isset(&err));
}

/* GPUs are exclusive: a host whose GPUs are held takes no GPU enclave, and
 * the refusal says what each host has. */
static void
test_gpus_exclusive(void **state)
{
	struct place_host h[2] = {
	    {.id = "a", .gpus = 2, .used_gpus = 2, .enclaves = 1},
	    {.id = "b", .gpus = 2, .used_gpus = 1, .enclaves = 5},
	};
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(place(h, 2, 0, 0, 1, -1, &err), 1);
	assert_int_equal(place(h, 2, 0, 0, 2, -1, &err), -1);
	assert_string_equal(err.msg, "no host has 2 free GPUs: a has 0 GPUs, b has 1 GPU");
	err_clear(&err);
	/* No GPU asked: GPUs held elsewhere do not matter, spread does. */
	assert_int_equal(place(h, 2, 0, 0, 0, -1, &err), 0);
}

/* cpus and memory within capacity (what live enclaves hold subtracted); a
 * host that did not say its capacity is not bounded. */
static void
test_capacity(void **state)
{
	struct place_host h[2] = {
	    {.id = "a", .cpus = 4, .used_cpus = 3, .memory_bytes = 8 * GIB},
	    {.id = "b",
	     .cpus = 8,
	     .memory_bytes = 4 * GIB,
	     .used_memory_bytes = 3 * GIB,
	     .enclaves = 3},
	};
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(place(h, 2, 2, GIB, 0, -1, &err), 1);     /* a lacks cpus */
	assert_int_equal(place(h, 2, 1, 2 * GIB, 0, -1, &err), 0); /* b lacks memory */
	assert_int_equal(place(h, 2, 2, 2 * GIB, 0, -1, &err), -1);
	assert_string_equal(err.msg, "no host has 2 free cpus: a has 1 cpu, b has 1024 MiB");
	err_clear(&err);
	assert_int_equal(place(h, 2, 1, 9 * GIB, 0, -1, &err), -1);
	assert_string_equal(err.msg,
	                    "no host has 9216 MiB of free memory: a has 8192 MiB, b has 1024 MiB");
	err_clear(&err);
	h[0].cpus = 0; /* not said: not bounded */
	assert_int_equal(place(h, 2, 64, GIB, 0, -1, &err), 0);
}

/* A blue-green update stays on its host when that has room, moves when not. */
static void
test_prefer(void **state)
{
	struct place_host h[2] = {
	    {.id = "a", .enclaves = 0},
	    {.id = "b", .gpus = 1, .used_gpus = 1, .enclaves = 4},
	};
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(place(h, 2, 0, 0, 0, 1, &err), 1);
	assert_int_equal(place(h, 2, 0, 0, 1, 1, &err), -1);
	err_clear(&err);
	h[0].gpus = 1;
	assert_int_equal(place(h, 2, 0, 0, 1, 1, &err), 0);
}

/* berthd's own host has no id; no host at all is refused. */
static void
test_own_host_and_none(void **state)
{
	struct place_host h[1] = {{.id = NULL, .gpus = 0}};
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(place(h, 1, 0, 0, 0, -1, &err), 0);
	assert_int_equal(place(h, 1, 0, 0, 1, -1, &err), -1);
	assert_string_equal(err.msg, "no host has 1 free GPU: this host has 0 GPUs");
	err_clear(&err);
	assert_int_equal(place(h, 0, 0, 0, 0, -1, &err), -1);
	assert_string_equal(err.msg, "no host to place the enclave on");
	err_clear(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spread),
	    cmocka_unit_test(test_gpus_exclusive),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_prefer),
	    cmocka_unit_test(test_own_host_and_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
