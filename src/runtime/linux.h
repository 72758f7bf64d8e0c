/* linux: the kernel in one place (STYLE 14). Network namespaces pinned by bind
 * mounts, overlay mounts for container root filesystems, waiting on processes
 * that are not our children (pidfd), opening files inside a root directory
 * without escaping it, and removing a tree without crossing mounts. */
#ifndef BERTH_RUNTIME_LINUX_H
#define BERTH_RUNTIME_LINUX_H

#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

/* Forks a child that a SIGCHLD reaper elsewhere in the process cannot take:
 * its exit signal is 0, so no SIGCHLD is sent and waitpid(-1, ...) without
 * __WALL skips it (the daemon reaps with waitpid(-1) from its loop). Returns
 * the pid in the parent, with a pidfd in *pidfd when pidfd is not NULL; 0 in
 * the child; negative on error. The child of a threaded parent may only make
 * system calls (no malloc, no stdio) until execve() or _exit(). */
pid_t linux_fork_quiet(int *pidfd, struct err *err);

/* Waits for a child of linux_fork_quiet(); its wait status goes in *status. */
int linux_wait_quiet(pid_t pid, int *status, struct err *err);

/* Creates a new network namespace and pins it by bind-mounting it on path (a
 * file, created, as `ip netns add` does). Succeeds without change when path
 * already holds a namespace. */
int linux_netns_create(const char *path, struct err *err);

/* Creates a user namespace that maps ids 0..size-1 to base..base+size-1 of
 * the host, pinned at user_path, and a network namespace owned by it, pinned
 * at net_path (files, created). A container that joins both is root of that
 * range only, and may still mount sysfs for its network namespace. Succeeds
 * without change when both paths hold namespaces already. */
int linux_userns_netns_create(const char *user_path, const char *net_path, unsigned base,
                              unsigned size, struct err *err);

/* A socket (socket(2)'s arguments; close-on-exec) created inside the network
 * namespace at netns, where it stays bound; the calling thread is back in its
 * own namespace on return. An fd, or negative with err. */
int linux_socket_in(const char *netns, int domain, int type, int protocol, struct err *err);

/* Sets the loopback interface of the network namespace at netns up (what
 * CNI's loopback plugin does, without a process). */
int linux_netns_lo_up(const char *netns, struct err *err);

/* Whether the host routes IPv6 somewhere: a default route (::/0) on an
 * interface other than lo. */
int linux_ipv6_default_route(void);

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
 * and ".." cannot leave it (openat2 RESOLVE_IN_ROOT). The open never blocks
 * (O_NONBLOCK: a FIFO opens at once); fstat the fd before reading. Returns an
 * fd or negative, err's code the errno (ENOENT when path is absent). */
int linux_open_in_root(const char *root, const char *path, struct err *err);

/* Reads path of the tree at root (resolved as linux_open_in_root() does)
 * into *out (owned, NUL-terminated; *len bytes). Never blocks and reads no
 * more than max bytes: a FIFO, device, socket or directory is refused without
 * being read ("... is not a regular file (a FIFO)"), as is a file larger than
 * max. Errors name path; ENOENT (in err's code) when it is absent. */
int linux_read_in_root(const char *root, const char *path, size_t max, char **out, size_t *len,
                       struct err *err);

#ifdef BERTH_TESTING
/* linux_open_in_root() where openat2 is missing (valgrind, Linux < 5.6):
 * returns an fd or -1 with errno. */
int linux_open_in_root_by_hand(int rootfd, const char *path);
#endif

/* Removes path and everything below it, never crossing into another mount
 * (a still-mounted overlay stays untouched and makes this fail). "Absent" is
 * success. */
int linux_remove_tree(const char *path, struct err *err);

/* Makes sure path (a directory, 0711: crossed, never listed) is on a memory
 * file system:
 * mounts a tmpfs of size_mib there when it is not on one already. Returns 1
 * when path has a tmpfs of its own (mounted now, or by an earlier process),
 * 0 when it lies on a memory file system mounted above it. */
int linux_tmpfs_ensure(const char *path, int size_mib, struct err *err);

/* Whether any other host on ifname's link holds ip, asked from inside the
 * network namespace at netns with an ARP probe (no sender address, as
 * duplicate address detection sends). Start it, do other work, then wait:
 * the answer has until timeout_ms after the start. */
struct linux_arp_probe {
	int fd;               /* owned: packet socket in the namespace */
	unsigned char mac[6]; /* the interface's own address */
	unsigned char ip[4];
	int64_t deadline_ms;
};

/* Sends the probe; the calling thread's namespace is restored. */
int linux_arp_probe_start(struct linux_arp_probe *p, const char *netns, const char *ifname,
                          const char *ip, int timeout_ms, struct err *err);

/* Waits for an answer until the deadline and closes the probe: 1 when a
 * holder answered (its MAC in mac_out, "aa:bb:..", 18 bytes), 0 when none
 * did, negative on error. */
int linux_arp_probe_wait(struct linux_arp_probe *p, char mac_out[18], struct err *err);

/* The limits of an enclave's parent cgroup; 0 leaves one unlimited. */
struct linux_cgroup_limits {
	int64_t memory_bytes;
	double cpus;
	int64_t pids;
};

/* Creates (or updates) the cgroup path (relative, "berth/<enclave>") in the
 * memory, cpu and pids hierarchies of cgroup v1, or in the unified one of v2,
 * with limits: the OCI runtime puts the enclave's containers below it, so
 * they share its limits on top of their own. */
int linux_cgroup_create(const char *path, const struct linux_cgroup_limits *limits,
                        struct err *err);

/* Removes the cgroup path from every hierarchy (runtimes create it in all
 * of them); "absent" is success, a cgroup still holding processes fails. */
int linux_cgroup_remove(const char *path, struct err *err);

/* Reads a cgroup file of path, "memory.limit_in_bytes" (v1, found in the
 * hierarchy of its controller) or "memory.max" (v2), into out (owned). */
int linux_cgroup_read(const char *path, const char *file, char **out, struct err *err);

#endif
