/* What the unit tests share (unit.h). */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

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
