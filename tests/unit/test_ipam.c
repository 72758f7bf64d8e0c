/* Unit tests of berth's IPAM (src/runtime/ipam.c): addresses in turn, never
 * one that is held (by this directory, by host-local's files of enclaves made
 * before), given back by owner, a full subnet refused, IPv6 beside IPv4. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "runtime/ipam.h"
#include "unit.h"

static void
touch(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static int
exists(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	int yes = access(path, F_OK) == 0;

	free(path);
	return yes;
}

static void
test_in_turn_and_never_held(void **state)
{
	const char *tmp = *state;
	char *dir = xasprintf("%s/ipam", tmp), *legacy = xasprintf("%s/cni", tmp);
	char gw4[INET_ADDRSTRLEN], gw6[INET6_ADDRSTRLEN], a[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	struct ipam ip;
	struct err err = ERR_INIT;

	assert_int_equal(mkdir(legacy, 0700), 0);
	assert_int_equal(ipam_open(&ip, dir, legacy, "10.9.0.0/24", NULL, &err), 0);
	ipam_gateways(&ip, gw4, gw6);
	assert_string_equal(gw4, "10.9.0.1");
	assert_string_equal(gw6, "");
	assert_int_equal(ipam_assign(&ip, "b-one", 1, a, a6, &err), 0);
	assert_string_equal(a, "10.9.0.2");
	assert_string_equal(a6, ""); /* no IPv6 subnet */
	/* Held by another process of the same directory, and by host-local's
	 * files of an enclave made before: skipped. */
	touch(dir, "10.9.0.3", "b-other\n");
	touch(legacy, "10.9.0.4", "b-old\r\neth0");
	assert_int_equal(ipam_assign(&ip, "b-two", 0, a, a6, &err), 0);
	assert_string_equal(a, "10.9.0.5");
	/* Given back: not the next one handed out (in turn). */
	assert_int_equal(ipam_release(&ip, "b-one", &err), 0);
	assert_false(exists(dir, "10.9.0.2"));
	assert_true(exists(dir, "10.9.0.3"));
	assert_int_equal(ipam_assign(&ip, "b-three", 0, a, a6, &err), 0);
	assert_string_equal(a, "10.9.0.6");
	/* A release of an owner of host-local's files removes them; another
	 * owner's stay; an owner holding nothing is fine. */
	assert_int_equal(ipam_release(&ip, "b-old", &err), 0);
	assert_false(exists(legacy, "10.9.0.4"));
	assert_int_equal(ipam_release(&ip, "b-none", &err), 0);
	assert_true(exists(dir, "10.9.0.5") && exists(dir, "10.9.0.6"));
	/* "b-t" is a prefix of "b-two" and "b-three": it owns neither. */
	assert_int_equal(ipam_release(&ip, "b-t", &err), 0);
	assert_true(exists(dir, "10.9.0.5") && exists(dir, "10.9.0.6"));
	ipam_close(&ip);
	free(dir);
	free(legacy);
}

static void
test_full_subnet_and_wrap(void **state)
{
	const char *tmp = *state;
	char *dir = xasprintf("%s/ipam", tmp);
	char a[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	struct ipam ip;
	struct err err = ERR_INIT;

	/* A /29: .2 to .6 (not the network, the gateway .1, broadcast .7). */
	assert_int_equal(ipam_open(&ip, dir, NULL, "10.9.1.0/29", NULL, &err), 0);
	for (int i = 2; i <= 6; i++) {
		char want[INET_ADDRSTRLEN], owner[16];

		snprintf(owner, sizeof owner, "b-%d", i);
		snprintf(want, sizeof want, "10.9.1.%d", i);
		assert_int_equal(ipam_assign(&ip, owner, 0, a, a6, &err), 0);
		assert_string_equal(a, want);
	}
	assert_true(ipam_assign(&ip, "b-7", 0, a, a6, &err) < 0);
	assert_int_equal(err.code, ENOSPC);
	err_clear(&err);
	/* One given back: found again past the end. */
	assert_int_equal(ipam_release(&ip, "b-3", &err), 0);
	assert_int_equal(ipam_assign(&ip, "b-8", 0, a, a6, &err), 0);
	assert_string_equal(a, "10.9.1.3");
	ipam_close(&ip);
	/* Bad subnets are refused. */
	assert_true(ipam_open(&ip, dir, NULL, "10.9.1.0", NULL, &err) < 0);
	err_clear(&err);
	assert_true(ipam_open(&ip, dir, NULL, "10.9.1.0/24", "fd00::/130", &err) < 0);
	err_clear(&err);
	free(dir);
}

static void
test_ipv6_beside_ipv4(void **state)
{
	const char *tmp = *state;
	char *dir = xasprintf("%s/ipam", tmp);
	char gw4[INET_ADDRSTRLEN], gw6[INET6_ADDRSTRLEN], a[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	struct ipam ip;
	struct err err = ERR_INIT;

	assert_int_equal(ipam_open(&ip, dir, NULL, "10.9.2.0/24", "fd62:a09:200::/64", &err), 0);
	ipam_gateways(&ip, gw4, gw6);
	assert_string_equal(gw6, "fd62:a09:200::1");
	assert_int_equal(ipam_assign(&ip, "b-open", 1, a, a6, &err), 0);
	assert_string_equal(a, "10.9.2.2");
	assert_string_equal(a6, "fd62:a09:200::2");
	assert_int_equal(ipam_assign(&ip, "b-closed", 0, a, a6, &err), 0);
	assert_string_equal(a6, "");
	assert_int_equal(ipam_assign(&ip, "b-open2", 1, a, a6, &err), 0);
	assert_string_equal(a6, "fd62:a09:200::3");
	assert_int_equal(ipam_release(&ip, "b-open", &err), 0);
	assert_false(exists(dir, "fd62:a09:200::2"));
	assert_false(exists(dir, "10.9.2.2"));
	ipam_close(&ip);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_in_turn_and_never_held, unit_setup_dir,
	                                    unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_full_subnet_and_wrap, unit_setup_dir,
	                                    unit_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_ipv6_beside_ipv4, unit_setup_dir,
	                                    unit_teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
