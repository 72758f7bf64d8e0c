/* logcopy: capped log files for container output. A detached copier process
 * (forked, not exec'd: it only reads, writes and renames) reads a pipe and
 * appends to path, renaming it to path.1 when the next write would pass
 * max_bytes. It outlives the caller and exits when every writer of the pipe
 * has closed it, that is, when the container has exited. Bound secret values
 * are replaced on the way, as src/secret/redact.h does for other texts. */
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

/* Starts a copier into path that writes each of values as its replacement
 * (the bound secrets: no value reaches the disk); *write_fd (owned,
 * O_CLOEXEC) is the pipe's write end to hand to the container as stdout and
 * stderr. */
int logcopy_start(const char *path, int64_t max_bytes, const struct logcopy_value *values,
                  size_t n_values, int *write_fd, struct err *err);

#endif
