/* linux: the kernel in one place (STYLE 14). Network namespaces pinned by bind
 * mounts, overlay mounts for container root filesystems, waiting on processes
 * that are not our children (pidfd), opening files inside a root directory
 * without escaping it, and removing a tree without crossing mounts. */
#ifndef BERTH_RUNTIME_LINUX_H
#define BERTH_RUNTIME_LINUX_H

#include <sys/types.h>

#include "common/err.h"

/* Creates a new network namespace and pins it by bind-mounting it on path (a
 * file, created, as `ip netns add` does). Succeeds without change when path
 * already holds a namespace. */
int linux_netns_create(const char *path, struct err *err);

/* Unmounts and unlinks a pinned namespace; "already gone" is success. */
int linux_netns_remove(const char *path, struct err *err);

/* Whether path is a pinned namespace (an nsfs mount). */
int linux_netns_exists(const char *path);

/* Mounts an overlay of the read-only lower directory with upper and work
 * (created) on target (created). Succeeds without change when target is
 * already an overlay mount. */
int linux_overlay_mount(const char *lower, const char *upper, const char *work, const char *target,
                        struct err *err);

/* Unmounts target (lazily when busy); "not mounted" or "absent" is success. */
int linux_umount(const char *target, struct err *err);

/* Waits up to timeout_ms for process pid (any process, not only a child) to
 * exit. Returns 0 when it has exited or does not exist, 1 when it still runs
 * at the deadline, negative on error. */
int linux_pid_wait_exit(pid_t pid, int timeout_ms, struct err *err);

/* Opens path (read-only) resolved inside root as if root were "/": symlinks
 * and ".." cannot leave it (openat2 RESOLVE_IN_ROOT). Returns an fd or
 * negative. */
int linux_open_in_root(const char *root, const char *path, struct err *err);

/* Removes path and everything below it, never crossing into another mount
 * (a still-mounted overlay stays untouched and makes this fail). "Absent" is
 * success. */
int linux_remove_tree(const char *path, struct err *err);

#endif
