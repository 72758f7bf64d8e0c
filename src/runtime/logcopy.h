/* logcopy: capped log files for container output. A detached copier process
 * (forked, not exec'd: it only reads, writes and renames) reads a pipe and
 * appends to path, renaming it to path.1 when the next write would pass
 * max_bytes. It outlives the caller and exits when every writer of the pipe
 * has closed it, that is, when the container has exited. */
#ifndef BERTH_RUNTIME_LOGCOPY_H
#define BERTH_RUNTIME_LOGCOPY_H

#include <stdint.h>

#include "common/err.h"

/* Starts a copier into path; *write_fd (owned, O_CLOEXEC) is the pipe's write
 * end to hand to the container as stdout and stderr. */
int logcopy_start(const char *path, int64_t max_bytes, int *write_fd, struct err *err);

#endif
