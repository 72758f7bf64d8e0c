/* logcopy: capped log files for container output. A copier process (forked,
 * not exec'd: it only reads, writes and renames) reads a FIFO and appends to
 * path, renaming it to path.1 when the next write would pass max_bytes. Bound
 * secret values are replaced on the way, as src/secret/redact.h does for
 * other texts.
 *
 * The container writes to the FIFO (<dir>/log.fifo), opened read-write: a
 * write never fails for want of a reader. The copier exits when the container
 * has exited (no writer is left), and, given a lifeline (the read end of a
 * pipe whose write end only the daemon holds), once the daemon is gone: it
 * drains what the FIFO holds and exits, instead of staying behind, adopted by
 * init. While no copier runs, the FIFO keeps up to LOGCOPY_FIFO_BYTES of
 * output (then the container's writes wait); logcopy_resume(), from the next
 * daemon, starts a copier again on the same FIFO. A copier holds
 * <dir>/log.lock while it runs, so there is never a second one, and what it
 * redacts is kept in <dir>/log.redact (0600; dir is the bundle's, on tmpfs
 * like the bundle's config.json that holds the same values), for the resume. */
#ifndef BERTH_RUNTIME_LOGCOPY_H
#define BERTH_RUNTIME_LOGCOPY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* A value that never reaches the log file: written as replacement. */
struct logcopy_value {
	const char *value;       /* borrowed */
	size_t len;              /* without trailing line breaks */
	const char *replacement; /* borrowed: "[secret NAME]" */
};

/* Values shorter than this are written as they are (src/secret/redact.h says
 * why). */
#define LOGCOPY_MIN_LEN 4

/* What the FIFO holds while no copier reads it. */
#define LOGCOPY_FIFO_BYTES (1 << 20)

/* Where a copier reads, writes, and for how long it lives. */
struct logcopy_opts {
	const char *dir;  /* borrowed: log.fifo, log.lock, log.redact go here */
	const char *path; /* borrowed: the log file */
	int64_t max_bytes;
	int lifeline; /* >= 0: the copier exits once this pipe's writers are gone */
};

/* Starts a copier of a new container's output that writes each of values as
 * its replacement (the bound secrets: no value reaches the disk); *write_fd
 * (owned, O_CLOEXEC) is the FIFO opened read-write, to hand to the container
 * as stdout and stderr. */
int logcopy_start(const struct logcopy_opts *o, const struct logcopy_value *values, size_t n_values,
                  int *write_fd, struct err *err);

/* Starts a copier again on the FIFO of a container that runs, with the values
 * logcopy_start() was given, unless one runs already. Returns 0 then too;
 * -ENOENT when dir has no FIFO (a container started before copiers had one:
 * its copier, if any, lives on as it was). */
int logcopy_resume(const struct logcopy_opts *o, struct err *err);

#endif
