/* Unit tests of src/source against real repositories made with the git CLI in
 * a temporary directory: tags (lightweight, annotated, moved, deleted), the
 * config at a tag, errors, and concurrent syncs of one URL. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "source/source.h"
#include "unit.h"

struct fixture {
	char *dir;    /* owned: the temporary directory */
	char *origin; /* owned: <dir>/origin, a work tree */
	char *cache;  /* owned: <dir>/cache */
};

/* Runs a shell command in the origin repository; the test fails if it does. */
static void git_sh(const struct fixture *f, const char *fmt, ...) BERTH_PRINTF(2, 3);

static void
git_sh(const struct fixture *f, const char *fmt, ...)
{
	char *cmd, *full;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		fail();
	va_end(ap);
	full = xasprintf("cd '%s' && (%s) >/dev/null", f->origin, cmd);
	rc = system(full);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
	free(full);
	free(cmd);
}

/* A commit of the work tree at a fixed time (seconds since the epoch). */
static void
commit_at(const struct fixture *f, long when, const char *msg)
{
	git_sh(f,
	       "git add -A && GIT_AUTHOR_DATE='@%ld +0000' GIT_COMMITTER_DATE='@%ld +0000' "
	       "git commit -q --allow-empty -m '%s'",
	       when, when, msg);
}

/* The commit id a ref of origin resolves to. */
static void
rev_parse(const struct fixture *f, const char *rev, char out[41])
{
	char *cmd = xasprintf("git -C '%s' rev-parse '%s^{commit}'", f->origin, rev);
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	assert_non_null(fgets(out, 41, p));
	assert_int_equal(strlen(out), 40);
	pclose(p);
	free(cmd);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	f->dir = unit_tmpdir("source");
	f->origin = xasprintf("%s/origin", f->dir);
	f->cache = xasprintf("%s/cache", f->dir);
	/* A git that reads no user or system configuration. */
	setenv("HOME", f->dir, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "berth test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@berth.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "berth test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@berth.invalid", 1);
	assert_int_equal(mkdir(f->origin, 0700), 0);
	git_sh(f, "git init -q -b main .");

	/* v1, v1.9, v1.10: one commit with a valid config (same time: by name). */
	git_sh(f, "printf 'ok: 1\\n' > tinfoil-config.yml");
	commit_at(f, 1000000000, "c1");
	git_sh(f, "git tag v1 && git tag v1.9 && git tag -a v1.10 -m 'annotated'");
	/* v2: annotated, an invalid config. */
	git_sh(f, "printf 'broken: yes\\n' > tinfoil-config.yml");
	commit_at(f, 1000002000, "c2");
	git_sh(f, "git tag -a v2 -m 'release 2'");
	/* v3: no config at all. */
	git_sh(f, "git rm -q tinfoil-config.yml");
	commit_at(f, 1000003000, "c3");
	git_sh(f, "git tag v3");
	/* big: a config over 1 MiB. */
	git_sh(f, "yes | head -c 1100000 > tinfoil-config.yml");
	commit_at(f, 1000004000, "c4");
	git_sh(f, "git tag big");
	/* dir: the config path is a directory. */
	git_sh(f,
	       "rm tinfoil-config.yml && mkdir tinfoil-config.yml && touch tinfoil-config.yml/x");
	commit_at(f, 999999000, "c5 (older)");
	git_sh(f, "git tag dir");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	unit_rmtree(f->dir);
	free(f->dir);
	free(f->origin);
	free(f->cache);
	free(f);
	return 0;
}

/* The test's validator: a config is valid when it starts with "ok". */
static int
validate_ok(const char *text, size_t len, char **error, void *arg)
{
	int *calls = arg;

	(*calls)++;
	assert_int_equal(strlen(text), len);
	if (len >= 2 && strncmp(text, "ok", 2) == 0)
		return 0;
	*error = xstrdup("tinfoil-config.yml:1:1: not ok");
	return -1;
}

static const struct source_tag *
find_tag(const struct source_tag *tags, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tags[i].name, name) == 0)
			return &tags[i];
	return NULL;
}

/* Entries of the cache directory, by suffix. */
static int
count_cache(const struct fixture *f, const char *suffix)
{
	DIR *d = opendir(f->cache);
	int k = 0;

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t l = strlen(e->d_name), s = strlen(suffix);
		if (e->d_name[0] != '.' && l > s && strcmp(e->d_name + l - s, suffix) == 0)
			k++;
	}
	closedir(d);
	return k;
}

static void
test_tags_listed_newest_first(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct source_repo *r;
	struct source_tag *tags;
	const struct source_tag *t;
	char want[41];
	size_t n;
	int calls = 0;

	assert_int_equal(source_sync(f->cache, f->origin, NULL, &r, &err), 0);
	assert_string_equal(source_url(r), f->origin);
	assert_int_equal(source_tags(r, validate_ok, &calls, &tags, &n, &err), 0);
	assert_int_equal(n, 7);
	assert_string_equal(tags[0].name, "big");
	assert_string_equal(tags[1].name, "v3");
	assert_string_equal(tags[2].name, "v2");
	assert_string_equal(tags[3].name, "v1.10");
	assert_string_equal(tags[4].name, "v1.9");
	assert_string_equal(tags[5].name, "v1");
	assert_string_equal(tags[6].name, "dir");
	/* The validator saw the configs that could be read: v2 and the three v1. */
	assert_int_equal(calls, 4);

	t = find_tag(tags, n, "v1");
	assert_true(t->valid);
	assert_null(t->error);
	assert_int_equal(t->time, 1000000000);
	rev_parse(f, "v1", want);
	assert_string_equal(t->commit, want);
	/* An annotated tag gives its commit, not the tag object. */
	t = find_tag(tags, n, "v1.10");
	assert_true(t->valid);
	assert_string_equal(t->commit, want);

	t = find_tag(tags, n, "v2");
	assert_false(t->valid);
	assert_string_equal(t->error, "tinfoil-config.yml:1:1: not ok");
	rev_parse(f, "v2", want);
	assert_string_equal(t->commit, want);

	t = find_tag(tags, n, "v3");
	assert_false(t->valid);
	assert_string_equal(t->error, "tinfoil-config.yml not found at tag v3");
	t = find_tag(tags, n, "big");
	assert_false(t->valid);
	assert_string_equal(t->error,
	                    "tinfoil-config.yml at tag big is 1100000 bytes, over the 1 MiB limit");
	t = find_tag(tags, n, "dir");
	assert_false(t->valid);
	assert_string_equal(t->error, "tinfoil-config.yml at tag dir is not a regular file");
	source_tags_free(tags, n);

	/* Without a validator, a readable config is enough. */
	assert_int_equal(source_tags(r, NULL, NULL, &tags, &n, &err), 0);
	assert_true(find_tag(tags, n, "v2")->valid);
	assert_false(find_tag(tags, n, "v3")->valid);
	source_tags_free(tags, n);
	source_close(r);

	/* One mirror, named from the URL's hash, and nothing left over. */
	assert_int_equal(count_cache(f, ".git"), 1);
	assert_int_equal(count_cache(f, ".tmp"), 0);
	char key[65], *mirror;
	sha256_hex(f->origin, strlen(f->origin), key);
	mirror = xasprintf("%s/%s.git", f->cache, key);
	assert_int_equal(access(mirror, F_OK), 0);
	free(mirror);
}

static void
test_read_file(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct source_repo *r;
	char *text = (char *)"untouched", *msg, commit[41], want[41];
	size_t len = 99;

	assert_int_equal(source_sync(f->cache, f->origin, NULL, &r, &err), 0);
	assert_int_equal(source_read_file(r, "v1", SOURCE_CONFIG_FILE, &text, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_string_equal(text, "ok: 1\n");
	free(text);
	/* Annotated: peeled to its commit. */
	assert_int_equal(source_read_file(r, "v2", SOURCE_CONFIG_FILE, &text, &len, &err), 0);
	assert_string_equal(text, "broken: yes\n");
	free(text);

	assert_true(source_read_file(r, "v9", SOURCE_CONFIG_FILE, &text, &len, &err) < 0);
	assert_null(text);
	assert_int_equal(len, 0);
	msg = xasprintf("tag v9 not found in %s", f->origin);
	assert_string_equal(err.msg, msg);
	free(msg);
	/* Not a tag name at all: the same answer, nothing looked up outside tags. */
	assert_true(source_read_file(r, "../HEAD", SOURCE_CONFIG_FILE, &text, &len, &err) < 0);
	assert_non_null(strstr(err.msg, "tag ../HEAD not found"));
	assert_true(source_read_file(r, "main", SOURCE_CONFIG_FILE, &text, &len, &err) < 0);
	assert_non_null(strstr(err.msg, "tag main not found"));

	assert_true(source_read_file(r, "v3", SOURCE_CONFIG_FILE, &text, &len, &err) < 0);
	msg = xasprintf("tinfoil-config.yml not found at tag v3 in %s", f->origin);
	assert_string_equal(err.msg, msg);
	free(msg);
	assert_true(source_read_file(r, "big", SOURCE_CONFIG_FILE, &text, &len, &err) < 0);
	assert_non_null(strstr(err.msg, "over the 1 MiB limit"));
	assert_null(text);
	assert_true(source_read_file(r, "v1", "nope/deeper.yml", &text, &len, &err) < 0);
	assert_non_null(strstr(err.msg, "nope/deeper.yml not found at tag v1"));

	assert_int_equal(source_tag_commit(r, "v1.10", commit, &err), 0);
	rev_parse(f, "v1", want);
	assert_string_equal(commit, want);
	assert_true(source_tag_commit(r, "v7", commit, &err) < 0);
	source_close(r);
}

/* A second sync fetches: a moved tag follows, a deleted one is pruned, a new
 * one appears. A handle opened before keeps working. */
static void
test_fetch_moves_and_prunes(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct source_repo *r, *old;
	struct source_tag *tags;
	char c2[41], *text;
	size_t n, len;
	int calls = 0;

	assert_int_equal(source_sync(f->cache, f->origin, NULL, &old, &err), 0);
	assert_int_equal(source_tags(old, validate_ok, &calls, &tags, &n, &err), 0);
	assert_int_equal(n, 7);
	source_tags_free(tags, n);

	rev_parse(f, "v2", c2);
	git_sh(f, "git tag -f v1 v2^{commit} && git tag -d v2 && git tag -d big");
	git_sh(f, "git rm -rq tinfoil-config.yml && printf 'ok: 4\\n' > tinfoil-config.yml");
	commit_at(f, 1000005000, "c6");
	git_sh(f, "git tag -a v4 -m 'release 4'");

	/* Not fetched yet: source_open() sees the mirror as it was. */
	assert_int_equal(source_open(f->cache, f->origin, NULL, &r, &err), 0);
	assert_int_equal(source_read_file(r, "v2", SOURCE_CONFIG_FILE, &text, &len, &err), 0);
	free(text);
	source_close(r);

	assert_int_equal(source_sync(f->cache, f->origin, NULL, &r, &err), 0);
	assert_int_equal(source_tags(r, validate_ok, &calls, &tags, &n, &err), 0);
	assert_int_equal(n, 6);
	assert_string_equal(tags[0].name, "v4");
	assert_true(tags[0].valid);
	assert_null(find_tag(tags, n, "v2"));
	assert_null(find_tag(tags, n, "big"));
	assert_string_equal(find_tag(tags, n, "v1")->commit, c2);
	assert_false(find_tag(tags, n, "v1")->valid); /* it now holds the broken config */
	/* Sorted by the commit's time: v1 moved to c2's time, before v1.10/v1.9. */
	assert_string_equal(tags[1].name, "v3");
	assert_string_equal(tags[2].name, "v1");
	source_tags_free(tags, n);

	assert_int_equal(source_read_file(r, "v4", SOURCE_CONFIG_FILE, &text, &len, &err), 0);
	assert_string_equal(text, "ok: 4\n");
	free(text);
	assert_true(source_read_file(r, "v2", SOURCE_CONFIG_FILE, &text, &len, &err) < 0);
	assert_non_null(strstr(err.msg, "tag v2 not found in"));
	source_close(r);

	/* The old handle still reads (v1 now resolves to the new commit). */
	assert_int_equal(source_read_file(old, "v1", SOURCE_CONFIG_FILE, &text, &len, &err), 0);
	assert_string_equal(text, "broken: yes\n");
	free(text);
	source_close(old);
	assert_int_equal(count_cache(f, ".git"), 1);
}

static void
test_urls_and_errors(void **state)
{
	struct fixture *f = *state;
	struct err err = ERR_INIT;
	struct source_repo *r = (struct source_repo *)&err;
	struct source_tag *tags;
	char *url, *empty, *notgit;
	size_t n;

	/* Not synced yet. */
	assert_true(source_open(f->cache, f->origin, NULL, &r, &err) < 0);
	assert_null(r);
	assert_non_null(strstr(err.msg, "has not been fetched yet"));

	/* file:// is refused: it would pass --source-root by. */
	url = xasprintf("file://%s", f->origin);
	assert_true(source_sync(f->cache, url, NULL, &r, &err) < 0);
	assert_null(r);
	assert_non_null(strstr(err.msg, "file:// URLs are not accepted"));
	free(url);
	url = xasprintf("FILE:%s", f->origin);
	assert_true(source_sync(f->cache, url, NULL, &r, &err) < 0);
	free(url);
	assert_int_equal(source_sync(f->cache, f->origin, NULL, &r, &err), 0);
	source_close(r);

	/* A path with extra slashes and dots shares the mirror of its real path. */
	url = xasprintf("%s/./origin//", f->dir);
	assert_int_equal(source_sync(f->cache, url, NULL, &r, &err), 0);
	assert_string_equal(source_url(r), f->origin);
	source_close(r);
	free(url);
	assert_int_equal(count_cache(f, ".git"), 1);

	/* Missing, not a repository, empty. */
	assert_true(source_sync(f->cache, "/nonexistent/berth-repo", NULL, &r, &err) < 0);
	assert_null(r);
	assert_string_equal(err.msg, "source /nonexistent/berth-repo: No such file or directory");
	notgit = xasprintf("%s/notgit", f->dir);
	assert_int_equal(mkdir(notgit, 0700), 0);
	assert_true(source_sync(f->cache, notgit, NULL, &r, &err) < 0);
	assert_non_null(strstr(err.msg, notgit));
	assert_int_equal(count_cache(f, ".git"), 1);
	assert_int_equal(count_cache(f, ".tmp"), 0);
	assert_true(source_sync(f->cache, "", NULL, &r, &err) < 0);

	empty = xasprintf("%s/empty", f->dir);
	url = xasprintf("git init -q '%s'", empty);
	assert_int_equal(system(url), 0);
	assert_int_equal(source_sync(f->cache, empty, NULL, &r, &err), 0);
	assert_int_equal(source_tags(r, NULL, NULL, &tags, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(tags);
	source_close(r);
	free(url);
	free(empty);
	free(notgit);
}

struct sync_job {
	const struct fixture *f;
	int rc;
	size_t n;
	char msg[ERR_MSG_MAX];
};

static void *
sync_thread(void *arg)
{
	struct sync_job *j = arg;
	struct err err = ERR_INIT;
	struct source_repo *r;
	struct source_tag *tags;

	j->rc = source_sync(j->f->cache, j->f->origin, NULL, &r, &err);
	if (j->rc == 0) {
		j->rc = source_tags(r, NULL, NULL, &tags, &j->n, &err);
		if (j->rc == 0)
			source_tags_free(tags, j->n);
		source_close(r);
	}
	memcpy(j->msg, err.msg, sizeof j->msg);
	return NULL;
}

/* Threads syncing one URL at once, from an empty cache: one clone, the others
 * wait for it and fetch. */
static void
test_concurrent_sync(void **state)
{
	struct fixture *f = *state;
	struct sync_job jobs[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		memset(&jobs[i], 0, sizeof jobs[i]);
		jobs[i].f = f;
		assert_int_equal(pthread_create(&th[i], NULL, sync_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].rc != 0)
			fail_msg("thread %d: %s", i, jobs[i].msg);
		assert_int_equal(jobs[i].n, 7);
	}
	assert_int_equal(count_cache(f, ".git"), 1);
	assert_int_equal(count_cache(f, ".tmp"), 0);
}

/* Local paths only under the roots: one sentence whether a path outside
 * exists or not, and a link out of a root is outside. */
static void
test_source_roots(void **state)
{
	struct fixture *f = *state;
	char *roots[] = {f->dir, NULL};
	struct source_opts opts = {.roots = roots};
	struct source_opts none = {0};
	struct err err = ERR_INIT;
	struct source_repo *r = NULL;
	char *link, *dotdot, msg_etc[ERR_MSG_MAX];

	assert_int_equal(source_sync(f->cache, f->origin, &opts, &r, &err), 0);
	source_close(r);
	assert_true(source_sync(f->cache, "/etc", &opts, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "must be under"));
	snprintf(msg_etc, sizeof msg_etc, "%s", err.msg + strlen("/etc"));
	assert_true(source_sync(f->cache, "/nonexistent/berth", &opts, &r, &err) < 0);
	assert_string_equal(err.msg + strlen("/nonexistent/berth"), msg_etc);
	dotdot = xasprintf("%s/../../etc", f->dir);
	assert_true(source_sync(f->cache, dotdot, &opts, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "must be under"));
	link = xasprintf("%s/out", f->dir);
	assert_int_equal(symlink("/etc", link), 0);
	assert_true(source_sync(f->cache, link, &opts, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "must be under"));
	assert_true(source_open(f->cache, link, &opts, &r, &err) < 0);
	/* No roots: no local path at all; URLs still go. */
	assert_true(source_sync(f->cache, f->origin, &none, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "--source-root"));
	assert_null(r);
	free(link);
	free(dotdot);
}

/* A fetch in berth-fetch from a host that accepts connections and never
 * answers ends at the first-answer deadline, with a sentence that names
 * the host and the setting; a cancel ends it too. */
static void
test_fetch_program_deadlines(void **state)
{
	struct fixture *f = *state;
	char *roots[] = {f->dir, NULL};
	char *prog = exe_sibling("../berth-fetch"), *url;
	struct source_opts opts = {.roots = roots,
	                           .fetch_program = prog,
	                           .connect_ms = 1000,
	                           .idle_ms = 1000,
	                           .total_ms = 20000};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	struct err err = ERR_INIT;
	struct source_repo *r = NULL;
	_Atomic int cancel = 1;
	int64_t t0;
	int fd;

	/* Through the program, a real fetch works as in process. */
	assert_int_equal(source_sync(f->cache, f->origin, &opts, &r, &err), 0);
	source_close(r);
	/* The kernel completes the handshakes of a listener that never
	 * accepts: connected, and silent. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	url = xasprintf("http://127.0.0.1:%d/stuck.git", ntohs(sa.sin_port));
	t0 = now_mono_ms();
	assert_true(source_sync(f->cache, url, &opts, &r, &err) < 0);
	assert_true(now_mono_ms() - t0 < 5000);
	assert_non_null(strstr(err.msg, "127.0.0.1:"));
	assert_non_null(strstr(err.msg, "did not answer within 1 s (--fetch-connect-timeout)"));
	assert_int_equal(count_cache(f, ".tmp"), 0);
	opts.connect_ms = 0;
	opts.cancel = &cancel;
	assert_true(source_sync(f->cache, url, &opts, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "cancelled"));
	close(fd);
	free(url);
	free(prog);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tags_listed_newest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_moves_and_prunes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_urls_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source_roots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_program_deadlines, setup, teardown),
	};

	if (source_init(NULL) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
