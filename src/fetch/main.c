/* berth-fetch: one git fetch, in a process of its own so that berthd can
 * kill it on a deadline (libgit2 1.5 has no timeout for a peer that stops
 * answering). Usage: berth-fetch GIT_DIR URL: fetches URL's tags into the
 * bare repository GIT_DIR. While bytes come it writes a '.' to stdout, at
 * most every 250 ms: berthd's measure of silence. Exit 0, or 1 with one line
 * on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "source/source.h"

/* The parent's own deadlines bound the fetch; this one only keeps an
 * orphaned fetch from running for ever. */
#define FETCH_TOTAL_MS (24LL * 3600 * 1000)

static void
on_progress(void *arg)
{
	int64_t *last = arg, now = now_mono_ms();

	if (now - *last < 250)
		return;
	*last = now;
	(void)!write(STDOUT_FILENO, ".", 1);
}

int
main(int argc, char **argv)
{
	struct err err = ERR_INIT;
	int64_t last = 0;

	if (argc != 3) {
		fputs("usage: berth-fetch GIT_DIR URL\n", stderr);
		return 2;
	}
	if (source_fetch_into(argv[1], argv[2], FETCH_TOTAL_MS, on_progress, &last, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return 0;
}
