/* Unit tests of src/daemon/settings: defaults, flags, files, bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/settings.h"

static void
test_defaults(void **state)
{
	struct settings s;
	struct err err = ERR_INIT;
	char *argv[] = {"berthd", NULL};

	(void)state;
	assert_int_equal(settings_from_args(&s, 1, argv, &err), 0);
	assert_string_equal(s.state_dir, "/var/lib/berth");
	assert_string_equal(s.listen_addr, "127.0.0.1");
	assert_int_equal(s.listen_port, 7070);
	assert_int_equal(s.router_port, 8080);
	assert_string_equal(s.domain, "containers.localhost");
	assert_string_equal(s.router_socket, "/var/lib/berth/router.sock");
	assert_int_equal(s.gpus, -1);
	assert_null(s.runtime);
	assert_null(s.isolation); /* the runtime's default */
	settings_free(&s);
}

static void
test_flags(void **state)
{
	struct settings s;
	struct err err = ERR_INIT;
	char *argv[] = {"berthd",
	                "--state-dir",
	                "/tmp/b",
	                "--listen=0.0.0.0:9000",
	                "--router-listen",
	                "[::1]:8443",
	                "--gpus",
	                "8",
	                "--runtime",
	                "crun",
	                "--insecure-registry",
	                "127.0.0.1:5000",
	                "--insecure-registry",
	                "localhost:5001",
	                NULL};

	(void)state;
	assert_int_equal(settings_from_args(&s, (int)ARRAY_LEN(argv) - 1, argv, &err), 0);
	assert_string_equal(s.state_dir, "/tmp/b");
	assert_string_equal(s.listen_addr, "0.0.0.0");
	assert_int_equal(s.listen_port, 9000);
	assert_string_equal(s.router_addr, "::1");
	assert_int_equal(s.router_port, 8443);
	assert_int_equal(s.gpus, 8);
	assert_string_equal(s.runtime, "crun");
	assert_string_equal(s.isolation, "runc");
	assert_int_equal(strv_len(s.insecure_registries), 2);
	assert_string_equal(s.router_socket, "/tmp/b/router.sock");
	settings_free(&s);
}

static void
test_tls_flags(void **state)
{
	struct settings s;
	struct err err = ERR_INIT;
	char *on[] = {"berthd", "--tls-listen", "127.0.0.2:9443", NULL};
	char *off[] = {"berthd", "--tls-listen", "off", "--tls-certs", "local-ca", NULL};
	char *acme[] = {"berthd", "--tls-certs", "acme", NULL};
	char *acme_ok[] = {"berthd",
	                   "--tls-certs",
	                   "acme",
	                   "--acme-directory",
	                   "https://127.0.0.1:14000/dir",
	                   "--acme-ca",
	                   "/x/ca.pem",
	                   "--acme-email",
	                   "ops@example.org",
	                   NULL};
	char *acme_http[] = {"berthd", "--acme-directory", "http://127.0.0.1:14000/dir", NULL};
	char *acme_mail[] = {"berthd", "--acme-email", "a@b, c@d", NULL};
	char *zero[] = {"berthd", "--tls-listen", "127.0.0.1:0", NULL};
	char *alpn[] = {"berthd", "--acme-challenge", "tls-alpn-01", NULL};
	char *dns[] = {"berthd", "--acme-challenge", "dns-01", NULL};

	(void)state;
	settings_defaults(&s);
	assert_string_equal(s.tls_addr, "127.0.0.1");
	assert_int_equal(s.tls_port, 8443);
	assert_string_equal(s.tls_certs, "local-ca");
	settings_free(&s);
	assert_int_equal(settings_from_args(&s, (int)ARRAY_LEN(on) - 1, on, &err), 0);
	assert_string_equal(s.tls_addr, "127.0.0.2");
	assert_int_equal(s.tls_port, 9443);
	settings_free(&s);
	assert_int_equal(settings_from_args(&s, (int)ARRAY_LEN(off) - 1, off, &err), 0);
	assert_int_equal(s.tls_port, 0);
	settings_free(&s);
	assert_true(settings_from_args(&s, (int)ARRAY_LEN(acme) - 1, acme, &err) < 0);
	assert_string_equal(err.msg, "--tls-certs acme needs --acme-directory URL");
	settings_free(&s);
	err_clear(&err);
	assert_int_equal(settings_from_args(&s, (int)ARRAY_LEN(acme_ok) - 1, acme_ok, &err), 0);
	assert_string_equal(s.tls_certs, "acme");
	assert_string_equal(s.acme_directory, "https://127.0.0.1:14000/dir");
	assert_string_equal(s.acme_ca, "/x/ca.pem");
	assert_string_equal(s.acme_email, "ops@example.org");
	settings_free(&s);
	assert_true(settings_from_args(&s, (int)ARRAY_LEN(acme_http) - 1, acme_http, &err) < 0);
	assert_non_null(strstr(err.msg, "is not an https:// URL"));
	settings_free(&s);
	err_clear(&err);
	assert_true(settings_from_args(&s, (int)ARRAY_LEN(acme_mail) - 1, acme_mail, &err) < 0);
	assert_non_null(strstr(err.msg, "is not an e-mail address"));
	settings_free(&s);
	err_clear(&err);
	settings_defaults(&s);
	assert_string_equal(s.acme_challenge, "http-01");
	settings_free(&s);
	assert_int_equal(settings_from_args(&s, (int)ARRAY_LEN(alpn) - 1, alpn, &err), 0);
	assert_string_equal(s.acme_challenge, "tls-alpn-01");
	settings_free(&s);
	assert_true(settings_from_args(&s, (int)ARRAY_LEN(dns) - 1, dns, &err) < 0);
	assert_string_equal(err.msg, "acme-challenge: \"dns-01\" is not http-01 or tls-alpn-01");
	settings_free(&s);
	err_clear(&err);
	/* berthd must know the port to put it in tls_url. */
	assert_true(settings_from_args(&s, (int)ARRAY_LEN(zero) - 1, zero, &err) < 0);
	assert_non_null(strstr(err.msg, "the port must be given"));
	settings_free(&s);
}

static void
test_bad_flags(void **state)
{
	static const char *const bad[][3] = {
	    {"--gpus", "lots", "gpus: expected a whole number"},
	    {"--runtime", "docker", "runtime: expected runc, crun or runsc, not \"docker\""},
	    {"--runtime", "gvisor", "runtime: expected runc, crun or runsc, not \"gvisor\""},
	    {"--listen", "127.0.0.1", "listen: 127.0.0.1: expected ADDR:PORT"},
	    {"--listen", "1.2.3.4:99999", "the port must be a number"},
	    {"--colour", "blue", "unknown setting \"colour\""},
	    {"--subnet", "10.0.0.0", "subnet: expected a CIDR"},
	    {"--replica-url", "10.0.0.1:7070", "replica-url: \"10.0.0.1:7070\" is not an http://"},
	    {"--replica-url",
	     "http://a-host-name-that-is-much-too-long-for-an-application-name.example:7070",
	     "is longer than 63 bytes"},
	    /* Replicas share a PostgreSQL (not a SQLite file) and drive agents. */
	    {"--replica-url", "http://10.0.0.1:7070", "--replica-url needs --store postgres://"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct settings s;
		struct err err = ERR_INIT;
		char *argv[] = {"berthd", (char *)bad[i][0], (char *)bad[i][1], NULL};

		assert_true(settings_from_args(&s, 3, argv, &err) < 0);
		if (strstr(err.msg, bad[i][2]) == NULL)
			fail_msg("%s %s: got \"%s\"", bad[i][0], bad[i][1], err.msg);
		settings_free(&s);
	}
}

/* A replica drives agents' hosts, on one PostgreSQL. */
static void
test_replica_flags(void **state)
{
	struct settings s;
	struct err err = ERR_INIT;
	char *pg_only[] = {"berthd",  "--replica-url",         "http://10.0.0.1:7070",
	                   "--store", "postgresql://db/berth", NULL};
	char *all[] = {"berthd",
	               "--replica-url",
	               "http://10.0.0.1:7070",
	               "--store",
	               "postgresql://db/berth",
	               "--agent",
	               "http://10.0.0.2:7071",
	               "--agent-token-file",
	               "/etc/berth/host-token",
	               NULL};

	(void)state;
	assert_true(settings_from_args(&s, (int)ARRAY_LEN(pg_only) - 1, pg_only, &err) < 0);
	assert_non_null(strstr(err.msg, "--replica-url needs --agent"));
	settings_free(&s);
	err_clear(&err);
	assert_int_equal(settings_from_args(&s, (int)ARRAY_LEN(all) - 1, all, &err), 0);
	assert_string_equal(s.replica_url, "http://10.0.0.1:7070");
	settings_free(&s);
	/* Without it: not a replica. */
	assert_int_equal(settings_from_args(&s, 1, all, &err), 0);
	assert_null(s.replica_url);
	settings_free(&s);
}

/* --runtime runsc makes gVisor the host's default isolation level; the OCI
 * runtime for isolation runc stays detected. The last --runtime wins. */
static void
test_runtime_runsc(void **state)
{
	struct settings s;
	struct err err = ERR_INIT;

	(void)state;
	{
		char *argv[] = {"berthd", "--runtime", "runsc", NULL};
		assert_int_equal(settings_from_args(&s, 3, argv, &err), 0);
		assert_null(s.runtime);
		assert_string_equal(s.isolation, "gvisor");
		settings_free(&s);
	}
	{
		char *argv[] = {"berthd", "--runtime", "crun", "--runtime=runsc", NULL};
		assert_int_equal(settings_from_args(&s, 4, argv, &err), 0);
		assert_null(s.runtime);
		assert_string_equal(s.isolation, "gvisor");
		settings_free(&s);
	}
	{
		char *argv[] = {"berthd", "--runtime", "runsc", "--runtime", "runc", NULL};
		assert_int_equal(settings_from_args(&s, 5, argv, &err), 0);
		assert_string_equal(s.runtime, "runc");
		assert_string_equal(s.isolation, "runc");
		settings_free(&s);
	}
	assert_non_null(strstr(settings_usage(), "--runtime runc|crun|runsc"));
}

static void
test_file_then_flags(void **state)
{
	char path[] = "/tmp/berth-settings-XXXXXX";
	const char text[] = "# berthd settings\n\nstate-dir = /srv/berth\n"
	                    "domain = example.test\n  gpus = 2  \nruntime = runsc\n";
	struct settings s;
	struct err err = ERR_INIT;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	{
		char *argv[] = {"berthd", "--gpus", "4", "--config", path, NULL};
		assert_int_equal(settings_from_args(&s, 5, argv, &err), 0);
		assert_string_equal(s.state_dir, "/srv/berth");
		assert_string_equal(s.domain, "example.test");
		assert_int_equal(s.gpus, 4); /* the flag wins over the file */
		assert_string_equal(s.isolation, "gvisor");
		settings_free(&s);
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "domain = a.test\nnonsense\n", 25), 25);
	close(fd);
	{
		char *argv[] = {"berthd", "--config", path, NULL};
		assert_true(settings_from_args(&s, 3, argv, &err) < 0);
		assert_non_null(strstr(err.msg, ":2: expected key = value"));
		settings_free(&s);
	}
	unlink(path);
}

/* The image unpack caps: defaults, sizes with binary suffixes, bad values. */
static void
test_image_caps(void **state)
{
	static const struct {
		const char *value;
		uint64_t bytes;
	} sizes[] = {
	    {"1048576", 1048576},   {"1K", 1024},         {"512m", 512ull << 20},
	    {"256G", 256ull << 30}, {"2GiB", 2ull << 30}, {"1TB", 1ull << 40},
	};
	static const char *const bad[] = {"0", "-1", "1X", "G", "1.5G", "", "99999999999T"};
	struct settings s;
	struct err err = ERR_INIT;

	(void)state;
	settings_defaults(&s);
	assert_true(s.image_max_bytes == 256ull << 30);
	assert_true(s.image_max_entries == 2000000);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		assert_int_equal(settings_set(&s, "image-max-bytes", sizes[i].value, &err), 0);
		assert_true(s.image_max_bytes == sizes[i].bytes);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err_clear(&err);
		assert_true(settings_set(&s, "image-max-bytes", bad[i], &err) < 0);
		assert_non_null(strstr(err.msg, "image-max-bytes: expected a whole number"));
	}
	assert_int_equal(settings_set(&s, "image-max-entries", "5000", &err), 0);
	assert_true(s.image_max_entries == 5000);
	assert_true(settings_set(&s, "image-max-entries", "5K", &err) < 0);
	assert_non_null(strstr(settings_usage(), "--image-max-bytes SIZE"));
	settings_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),        cmocka_unit_test(test_image_caps),
	    cmocka_unit_test(test_flags),           cmocka_unit_test(test_bad_flags),
	    cmocka_unit_test(test_tls_flags),       cmocka_unit_test(test_runtime_runsc),
	    cmocka_unit_test(test_file_then_flags), cmocka_unit_test(test_replica_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
