/* What the unit tests share (unit.h). */
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/util.h"
#include "unit.h"

char *
unit_tmpdir(const char *what)
{
	char *dir = xasprintf("/tmp/berth-unit-%s-XXXXXX", what);

	assert_non_null(mkdtemp(dir));
	return dir;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void
unit_rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
unit_setup_dir(void **state)
{
	*state = unit_tmpdir("dir");
	return 0;
}

int
unit_teardown_dir(void **state)
{
	unit_rmtree(*state);
	free(*state);
	return 0;
}

char *
unit_read_to_eof(int fd, int timeout_ms)
{
	struct buf b = BUF_INIT;
	int64_t end = now_mono_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = end - now_mono_ms();
		char chunk[8192];
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			buf_free(&b);
			return NULL;
		}
		n = read(fd, chunk, sizeof chunk);
		if (n <= 0)
			break;
		buf_append(&b, chunk, (size_t)n);
	}
	buf_append(&b, "", 1);
	return buf_take(&b);
}
