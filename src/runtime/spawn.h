/* spawn: runs a helper program (the OCI runtime, a CNI plugin) to completion
 * with a deadline: feeds it stdin, captures stdout and stderr, or hands it
 * given descriptors instead. Blocking; safe from any thread.
 *
 * The program runs under berth-relay (src/relay/main.c), started with
 * posix_spawn(): no copy of the caller's page tables, which for a large,
 * threaded daemon cost more than the helper itself. The relay reports the
 * program's exec and exit over pipes and takes the program with it when it
 * is killed. */
#ifndef BERTH_RUNTIME_SPAWN_H
#define BERTH_RUNTIME_SPAWN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct spawn_opts {
	char *const *argv; /* borrowed; argv[0] is run as is (a path) or looked up in PATH */
	char *const
	    *env_extra; /* borrowed "K=V" strv added to (overriding) our environment, or NULL */
	const char *stdin_data; /* borrowed bytes for stdin, or NULL for /dev/null */
	size_t stdin_len;
	int stdout_fd;      /* >= 0: the child's stdout and stderr, nothing captured */
	int64_t timeout_ms; /* killed (SIGKILL) past this; <= 0 means 30 s */
	size_t max_output;  /* captured bytes kept per stream; 0 means 1 MiB */
	/* For a program that talks to a peer and reports progress as output:
	 * killed when its first byte of output has not come after first_ms, or
	 * once it was silent for idle_ms (each 0: no such deadline); and when
	 * *cancel (may be NULL) turns non-zero, looked at every 200 ms. */
	int64_t first_ms;
	int64_t idle_ms;
	const _Atomic int *cancel;
	/* When > 2: a sealed copy of argv[0]'s file (spawn_sealed_copy()),
	 * run instead of looking argv[0] up; argv[0] stays its name. */
	int program_fd;
};

/* Where the relay finds program_fd (src/relay/main.c). */
#define SPAWN_PROGRAM_FD 5

/* Why spawn_run() killed a program. */
enum spawn_killed {
	SPAWN_RAN,       /* not killed */
	SPAWN_TIMEOUT,   /* timeout_ms passed */
	SPAWN_SILENT,    /* first_ms passed without output */
	SPAWN_IDLE,      /* idle_ms of silence */
	SPAWN_CANCELLED, /* *cancel was set */
};

struct spawn_result {
	int status;               /* exit code, or 128 + signal */
	enum spawn_killed killed; /* with a negative return: why */
	struct buf out;           /* owned: captured stdout */
	struct buf errout;        /* owned: captured stderr */
};

/* Runs opts->argv and waits for it. Returns 0 when it ran (whatever its exit
 * status, in res->status), negative when it could not be started or passed its
 * deadline (it is then killed). res is filled in both cases; free it with
 * spawn_result_free(). */
int spawn_run(const struct spawn_opts *opts, struct spawn_result *res, struct err *err);

/* A copy of program name (a path, or looked up in PATH) in a memfd sealed
 * against any change (F_SEAL_SEAL, SHRINK, GROW, WRITE), for
 * spawn_opts.program_fd: close-on-exec, the caller's to close. runc takes
 * such a file for the copy of itself it otherwise makes for every container
 * (its defence against CVE-2019-5736, as its memfd-bind tool offers).
 * Returns the fd, or -1 with err. */
int spawn_sealed_copy(const char *name, struct err *err);

/* Releases captured output. */
void spawn_result_free(struct spawn_result *res);

/* The first line of s trimmed of spaces, at most 300 bytes, into out. */
void spawn_first_line(const char *s, char out[301]);

#endif
