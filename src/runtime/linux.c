/* linux: namespaces, mounts and process waits behind small wrappers. */
#include "runtime/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static int
fs_type_is(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (long)st.f_type == magic;
}

int
linux_netns_exists(const char *path)
{
	return fs_type_is(path, NSFS_MAGIC);
}

int
linux_netns_create(const char *path, struct err *err)
{
	int fd, status;
	pid_t pid;

	if (linux_netns_exists(path))
		return 0;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0 && errno != EEXIST)
		return err_make(err, errno, "create %s", path);
	if (fd >= 0)
		close(fd);
	/* unshare() in a child, so no thread of ours ever changes namespace; the
	 * child only makes two system calls before _exit(). */
	pid = fork();
	if (pid < 0)
		return err_make(err, errno, "fork");
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(errno);
		if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
			_exit(errno);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			unlink(path);
			return err_make(err, errno, "wait for netns helper");
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(path);
		return err_make(err, WIFEXITED(status) ? WEXITSTATUS(status) : 0,
		                "new network namespace at %s", path);
	}
	return 0;
}

int
linux_netns_remove(const char *path, struct err *err)
{
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return err_make(err, errno, "unmount %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_make(err, errno, "remove %s", path);
	return 0;
}

int
linux_overlay_mount(const char *lower, const char *upper, const char *work, const char *target,
                    struct err *err)
{
	char *opts;
	int rc;

	if (fs_type_is(target, OVERLAYFS_SUPER_MAGIC))
		return 0;
	if (mkdir_p(upper, 0755, err) < 0 || mkdir_p(work, 0700, err) < 0 ||
	    mkdir_p(target, 0755, err) < 0)
		return -1;
	/* Option values cannot be quoted: refuse what would split them. */
	if (strpbrk(lower, ",:") != NULL || strpbrk(upper, ",:") != NULL ||
	    strpbrk(work, ",:") != NULL)
		return err_make(err, EINVAL, "overlay paths may not contain ',' or ':'");
	opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	rc = mount("overlay", target, "overlay", 0, opts);
	free(opts);
	if (rc < 0)
		return err_make(err, errno, "mount overlay of %s on %s", lower, target);
	return 0;
}

int
linux_umount(const char *target, struct err *err)
{
	if (umount2(target, 0) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOENT)
		return 0;
	if (errno == EBUSY && umount2(target, MNT_DETACH) == 0)
		return 0;
	return err_make(err, errno, "unmount %s", target);
}

int
linux_pid_wait_exit(pid_t pid, int timeout_ms, struct err *err)
{
	struct pollfd p;
	int64_t deadline = now_mono_ms() + timeout_ms;
	int fd, rc;

	if (pid <= 0)
		return 0;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		if (errno == ESRCH)
			return 0;
		return err_make(err, errno, "pidfd_open %d", (int)pid);
	}
	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		int64_t left = deadline - now_mono_ms();

		rc = poll(&p, 1, left > 0 ? (int)left : 0);
		if (rc < 0 && errno == EINTR)
			continue;
		break;
	}
	close(fd);
	if (rc < 0)
		return err_make(err, errno, "poll pidfd");
	return rc > 0 ? 0 : 1;
}

int
linux_open_in_root(const char *root, const char *path, struct err *err)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int dfd, fd;

	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_make(err, errno, "open %s", root);
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof how);
	if (fd < 0)
		err_make(err, errno, "open %s in %s", path, root);
	close(dfd);
	return fd < 0 ? -1 : fd;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
linux_remove_tree(const char *path, struct err *err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_make(err, errno, "stat %s", path);
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return err_make(err, errno, "remove %s", path);
	return 0;
}
