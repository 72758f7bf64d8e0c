/* linux: namespaces, mounts and process waits behind small wrappers. */
#include "runtime/linux.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

pid_t
linux_fork_quiet(int *pidfd, struct err *err)
{
	int fd = -1;
	long pid;

	/* clone(2) rather than clone3(2): valgrind knows only the former. The
	 * low byte of the flags, the exit signal, is 0. With no new stack the
	 * child runs on a copy of ours, as after fork(). */
	pid = syscall(SYS_clone, pidfd != NULL ? (unsigned long)CLONE_PIDFD : 0UL, NULL, &fd, NULL,
	              NULL);
	/* No formatting without an err: the caller may be a child of a
	 * threaded process, where only system calls are safe. */
	if (pid < 0)
		return err != NULL ? err_make(err, errno, "clone") : -1;
	if (pid > 0 && pidfd != NULL)
		*pidfd = fd;
	return (pid_t)pid;
}

int
linux_wait_quiet(pid_t pid, int *status, struct err *err)
{
	while (waitpid(pid, status, __WALL) < 0)
		if (errno != EINTR)
			return err_make(err, errno, "wait for child %d", (int)pid);
	return 0;
}

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

struct netns_job {
	const char *path;
	int error;
};

/* A short-lived thread: unshare() changes only the calling thread's network
 * namespace, which is pinned and then left with the thread. */
static void *
netns_thread(void *arg)
{
	struct netns_job *job = arg;
	char self[64];

	snprintf(self, sizeof self, "/proc/self/task/%d/ns/net", (int)gettid());
	if (unshare(CLONE_NEWNET) < 0 || mount(self, job->path, "none", MS_BIND, NULL) < 0)
		job->error = errno;
	return NULL;
}

int
linux_netns_create(const char *path, struct err *err)
{
	struct netns_job job = {path, 0};
	pthread_t t;
	int fd, rc;

	if (linux_netns_exists(path))
		return 0;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0 && errno != EEXIST)
		return err_make(err, errno, "create %s", path);
	if (fd >= 0)
		close(fd);
	rc = pthread_create(&t, NULL, netns_thread, &job);
	if (rc != 0) {
		unlink(path);
		return err_make(err, rc, "new network namespace at %s: thread", path);
	}
	pthread_join(t, NULL);
	if (job.error != 0) {
		unlink(path);
		return err_make(err, job.error, "new network namespace at %s", path);
	}
	return 0;
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		rc = -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

static int
pin_file(const char *path, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);

	if (fd < 0)
		return err_make(err, errno, "create %s", path);
	close(fd);
	return 0;
}

int
linux_userns_netns_create(const char *user_path, const char *net_path, unsigned base, unsigned size,
                          struct err *err)
{
	int up[2] = {-1, -1}, down[2] = {-1, -1}, status, rc = -1;
	char path[64], map[64], c = 0;
	pid_t pid = -1;

	if (linux_netns_exists(user_path) && linux_netns_exists(net_path))
		return 0;
	if (pin_file(user_path, err) < 0 || pin_file(net_path, err) < 0)
		return -1;
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0) {
		err_make(err, errno, "pipe");
		goto out;
	}
	/* A user namespace cannot be made by one thread of many: a child makes
	 * both, one step at a time, while we map and pin them. It only makes
	 * system calls. */
	pid = linux_fork_quiet(NULL, err);
	if (pid < 0)
		goto out;
	if (pid == 0) {
		char step;
		int u, d;

		/* Our two ends only, at 0 and 1: the parent's closed down[1] is
		 * our EOF, which no copy of it may hold off. Every descriptor goes,
		 * the other threads' too: a sibling child made by another thread
		 * would otherwise hold our down[1], and we its (both waiting for
		 * good). */
		u = fcntl(up[1], F_DUPFD, 10);
		d = fcntl(down[0], F_DUPFD, 10);
		if (u < 0 || d < 0 || dup2(u, 1) < 0 || dup2(d, 0) < 0)
			_exit(1);
		close_range(2, ~0U, 0);
		up[1] = 1;
		down[0] = 0;
		step = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'E';

		if (write(up[1], &step, 1) != 1 || step == 'E' || read(down[0], &step, 1) != 1)
			_exit(1);
		step = unshare(CLONE_NEWNET) == 0 ? 'n' : 'E';
		if (write(up[1], &step, 1) != 1)
			_exit(1);
		(void)read(down[0], &step, 1);
		_exit(0);
	}
	/* The child's ends: its exit is then our EOF. */
	close(take_fd(&up[1]));
	close(take_fd(&down[0]));
	if (read(up[0], &c, 1) != 1 || c != 'u') {
		err_make(err, 0, "new user namespace: the child could not make it");
		goto out;
	}
	snprintf(map, sizeof map, "0 %u %u\n", base, size);
	snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
	if (write_file(path, map) < 0) {
		err_make(err, errno, "write %s", path);
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
	if (write_file(path, map) < 0) {
		err_make(err, errno, "write %s", path);
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	if (mount(path, user_path, "none", MS_BIND, NULL) < 0) {
		err_make(err, errno, "pin user namespace at %s", user_path);
		goto out;
	}
	/* Mapped: the child is root of its namespace, and makes the network
	 * namespace inside it. */
	if (write(down[1], "g", 1) != 1 || read(up[0], &c, 1) != 1 || c != 'n') {
		err_make(err, 0, "new network namespace in the user namespace: the child failed");
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	if (mount(path, net_path, "none", MS_BIND, NULL) < 0) {
		err_make(err, errno, "pin network namespace at %s", net_path);
		goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (up[i] >= 0)
			close(up[i]);
		if (down[i] >= 0)
			close(down[i]); /* the child's read ends: it exits */
	}
	if (pid > 0)
		linux_wait_quiet(pid, &status, NULL);
	if (rc < 0) {
		umount2(net_path, MNT_DETACH);
		umount2(user_path, MNT_DETACH);
		unlink(net_path);
		unlink(user_path);
	}
	return rc;
}

int
linux_ipv6_default_route(void)
{
	FILE *f = fopen("/proc/net/ipv6_route", "re");
	char line[256];
	int found = 0;

	while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) {
		char dst[33], plen[3], dev[IFNAMSIZ + 1];

		/* dst plen src splen nexthop metric refcnt use flags dev */
		found = sscanf(line, "%32s %2s %*s %*s %*s %*s %*s %*s %*s %16s", dst, plen, dev) ==
		            3 &&
		        strspn(dst, "0") == 32 && strcmp(plen, "00") == 0 && strcmp(dev, "lo") != 0;
	}
	if (f != NULL)
		fclose(f);
	return found;
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

/* Whether pid is gone or a zombie, from /proc (no pidfd under valgrind). */
static int
pid_exited(pid_t pid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;
	const char *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && (p[2] == 'Z' || p[2] == 'X');
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
	if (fd < 0 && errno == ENOSYS) {
		while (!pid_exited(pid)) {
			if (now_mono_ms() >= deadline)
				return 1;
			usleep(10000);
		}
		return 0;
	}
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

/* openat2(RESOLVE_IN_ROOT) done by hand, for where openat2 is missing
 * (valgrind, kernels before 5.6): components are looked up one by one from
 * rootfd without following links, ".." stops at the root, and a link's
 * target is resolved again from the root (absolute) or from where it is. */
TESTABLE int
linux_open_in_root_by_hand(int rootfd, const char *path)
{
	char resolved[PATH_MAX] = "", todo[2 * PATH_MAX], target[PATH_MAX], cand[PATH_MAX];
	size_t rlen = 0;
	int hops = 0;
	const char *p, *name;
	enum path_step step;
	size_t n;

	if (strlen(path) >= sizeof todo) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(todo, path);
	p = todo;
	while ((step = path_next(&p, &name, &n)) != PATH_END) {
		struct stat st;
		ssize_t tl;

		if (step == PATH_DOTDOT) {
			while (rlen > 0 && resolved[rlen - 1] != '/')
				rlen--;
			if (rlen > 0)
				rlen--;
			resolved[rlen] = '\0';
			continue;
		}
		if (snprintf(cand, sizeof cand, "%s%s%.*s", resolved, rlen ? "/" : "", (int)n,
		             name) >= (int)sizeof cand) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (fstatat(rootfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
		if (S_ISLNK(st.st_mode)) {
			char rest[2 * PATH_MAX];

			if (++hops > 40) {
				errno = ELOOP;
				return -1;
			}
			tl = readlinkat(rootfd, cand, target, sizeof target - 1);
			if (tl < 0)
				return -1;
			target[tl] = '\0';
			if (target[0] == '/') {
				rlen = 0;
				resolved[0] = '\0';
			}
			if (snprintf(rest, sizeof rest, "%s/%s", target, p) >= (int)sizeof rest) {
				errno = ENAMETOOLONG;
				return -1;
			}
			strcpy(todo, rest);
			p = todo;
			continue;
		}
		strcpy(resolved, cand);
		rlen = strlen(resolved);
	}
	return openat(rootfd, rlen ? resolved : ".",
	              O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
}

int
linux_open_in_root(const char *root, const char *path, struct err *err)
{
	/* O_NONBLOCK: opening a FIFO of an image for reading would wait for a
	 * writer that never comes (and a device's open may act). */
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int dfd, fd;

	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_make(err, errno, "open %s", root);
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof how);
	if (fd < 0 && errno == ENOSYS)
		fd = linux_open_in_root_by_hand(dfd, path);
	if (fd < 0)
		err_make(err, errno, "open %s in %s", path, root);
	close(dfd);
	return fd < 0 ? -1 : fd;
}

static const char *
file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFDIR:
		return "a directory";
	default:
		return "not a file";
	}
}

int
linux_read_in_root(const char *root, const char *path, size_t max, char **out, size_t *len,
                   struct err *err)
{
	struct stat st;
	int fd, rc;

	*out = NULL;
	fd = linux_open_in_root(root, path, err);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		rc = err_make(err, errno, "stat %s", path);
	else if (!S_ISREG(st.st_mode))
		rc = err_make(err, 0, "%s is not a regular file (%s)", path, file_kind(st.st_mode));
	else /* a file larger than max, or grown past it since, fails there */
		rc = fd_read_all(fd, path, max, out, len, err);
	close(fd);
	return rc;
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

#define CGROUP_ROOT "/sys/fs/cgroup"

static int
cgroup_unified(void)
{
	return access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0;
}

static int
cgroup_write(const char *dir, const char *file, const char *value, struct err *err)
{
	char *path = xasprintf("%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;
	size_t len = strlen(value);

	if (fd < 0 || write(fd, value, len) != (ssize_t)len)
		rc = err_make(err, errno, "write %s to %s", value, path);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* A limit as a cgroup file wants it: the number, or unlimited's word. */
static const char *
limit_str(char out[64], long long v, const char *unlimited)
{
	if (v > 0)
		snprintf(out, 64, "%lld", v);
	else
		snprintf(out, 64, "%s", unlimited);
	return out;
}

/* v1: the directory of path in the hierarchy that holds controller. */
static char *
cgroup_v1_dir(const char *controller, const char *path)
{
	return xasprintf(CGROUP_ROOT "/%s/%s", controller, path);
}

/* dir and its parent up to the hierarchy's root: 0755. */
static int
cgroup_chmod(const char *dir, struct err *err)
{
	char *p = xstrdup(dir);
	int rc = 0;

	while (rc == 0 && strlen(p) > strlen(CGROUP_ROOT "/x")) {
		char *slash;

		if (chmod(p, 0755) < 0)
			rc = err_make(err, errno, "chmod %s", p);
		slash = strrchr(p, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
		/* Stop at the hierarchy itself (/sys/fs/cgroup/<controller>). */
		if (strchr(p + strlen(CGROUP_ROOT "/"), '/') == NULL)
			break;
	}
	free(p);
	return rc;
}

static int
cgroup_create_v1(const char *path, const struct linux_cgroup_limits *l, struct err *err)
{
	static const char *const controllers[] = {"memory", "cpu", "pids"};
	char value[64];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ARRAY_LEN(controllers); i++) {
		char *dir = cgroup_v1_dir(controllers[i], path);

		rc = mkdir_p(dir, 0755, err);
		/* Whatever the umask: a container in a user namespace looks its
		 * cgroup up as an unprivileged id. */
		if (rc == 0)
			rc = cgroup_chmod(dir, err);
		if (rc == 0 && i == 0)
			rc = cgroup_write(dir, "memory.limit_in_bytes",
			                  limit_str(value, l->memory_bytes, "-1"), err);
		else if (rc == 0 && i == 1 &&
		         (rc = cgroup_write(dir, "cpu.cfs_period_us", "100000", err)) == 0)
			rc = cgroup_write(dir, "cpu.cfs_quota_us",
			                  limit_str(value, (long long)(l->cpus * 100000), "-1"),
			                  err);
		else if (rc == 0 && i == 2)
			rc = cgroup_write(dir, "pids.max", limit_str(value, l->pids, "max"), err);
		free(dir);
	}
	return rc;
}

static int
cgroup_create_v2(const char *path, const struct linux_cgroup_limits *l, struct err *err)
{
	char *copy = xstrdup(path), *dir = NULL, value[64];
	int rc = 0;

	/* Each level enables the controllers for the one below it. */
	for (char *p = copy; rc == 0 && p != NULL;) {
		char *parent = xasprintf(CGROUP_ROOT "/%.*s", (int)(p - copy), copy);

		if (p > copy)
			rc = mkdir(parent, 0755) < 0 && errno != EEXIST
			         ? err_make(err, errno, "mkdir %s", parent)
			         : 0;
		if (rc == 0)
			rc = cgroup_write(parent, "cgroup.subtree_control", "+memory +cpu +pids",
			                  err);
		free(parent);
		p = strchr(p + (p > copy), '/');
		if (p == NULL)
			break;
	}
	dir = xasprintf(CGROUP_ROOT "/%s", path);
	if (rc == 0 && mkdir(dir, 0755) < 0 && errno != EEXIST)
		rc = err_make(err, errno, "mkdir %s", dir);
	if (rc == 0)
		rc = cgroup_chmod(dir, err);
	if (rc == 0)
		rc = cgroup_write(dir, "memory.max", limit_str(value, l->memory_bytes, "max"), err);
	if (rc == 0) {
		if (l->cpus > 0)
			snprintf(value, sizeof value, "%lld 100000", (long long)(l->cpus * 100000));
		else
			snprintf(value, sizeof value, "max 100000");
		rc = cgroup_write(dir, "cpu.max", value, err);
	}
	if (rc == 0)
		rc = cgroup_write(dir, "pids.max", limit_str(value, l->pids, "max"), err);
	free(dir);
	free(copy);
	return rc;
}

int
linux_cgroup_create(const char *path, const struct linux_cgroup_limits *limits, struct err *err)
{
	int rc;

	if (path == NULL || path[0] == '/' || strstr(path, "..") != NULL)
		return err_make(err, 0, "cgroup path \"%s\" must be relative", path ? path : "");
	rc = cgroup_unified() ? cgroup_create_v2(path, limits, err)
	                      : cgroup_create_v1(path, limits, err);
	return rc < 0 ? err_wrap(err, "cgroup %s", path) : 0;
}

int
linux_cgroup_remove(const char *path, struct err *err)
{
	DIR *d;
	int rc = 0;

	if (path == NULL || path[0] == '/' || strstr(path, "..") != NULL)
		return err_make(err, 0, "cgroup path \"%s\" must be relative", path ? path : "");
	if (cgroup_unified()) {
		char *dir = xasprintf(CGROUP_ROOT "/%s", path);

		if (rmdir(dir) < 0 && errno != ENOENT)
			rc = err_make(err, errno, "remove cgroup %s", dir);
		free(dir);
		return rc;
	}
	d = opendir(CGROUP_ROOT);
	if (d == NULL)
		return err_make(err, errno, "open " CGROUP_ROOT);
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *dir;

		/* Symlinks (cpu -> cpu,cpuacct) name a hierarchy twice: the
		 * second rmdir finds nothing. */
		if (de->d_name[0] == '.')
			continue;
		dir = xasprintf(CGROUP_ROOT "/%s/%s", de->d_name, path);
		if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTDIR && rc == 0)
			rc = err_make(err, errno, "remove cgroup %s", dir);
		free(dir);
	}
	closedir(d);
	return rc;
}

int
linux_cgroup_read(const char *path, const char *file, char **out, struct err *err)
{
	char *dir, *name, *full;
	size_t len;
	int rc;

	*out = NULL;
	if (cgroup_unified()) {
		dir = xasprintf(CGROUP_ROOT "/%s", path);
	} else {
		const char *dot = strchr(file, '.');

		name = xstrndup(file, dot != NULL ? (size_t)(dot - file) : strlen(file));
		dir = cgroup_v1_dir(name, path);
		free(name);
	}
	full = xasprintf("%s/%s", dir, file);
	rc = file_read_all(full, 4096, out, &len, err);
	free(full);
	free(dir);
	return rc;
}

int
linux_tmpfs_ensure(const char *path, int size_mib, struct err *err)
{
	struct statfs sf;
	char opts[64];

	struct stat st, up;
	char *parent;
	int own;

	if (mkdir_p(path, 0711, err) < 0)
		return -1;
	if (statfs(path, &sf) < 0)
		return err_make(err, errno, "statfs %s", path);
	if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC) {
		/* A tmpfs mounted on path itself (by a berthd that was killed)
		 * is ours to unmount as if we had mounted it; path on a memory
		 * file system of the host's (/run) is not. */
		parent = xasprintf("%s/..", path);
		own = stat(path, &st) == 0 && stat(parent, &up) == 0 && st.st_dev != up.st_dev;
		free(parent);
		if (chmod(path, 0711) < 0)
			return err_make(err, errno, "chmod %s", path);
		return own;
	}
	snprintf(opts, sizeof opts, "mode=0711,size=%dm", size_mib);
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return err_make(err, errno, "mount tmpfs on %s", path);
	return 1;
}

/* An ARP packet for Ethernet and IPv4 (RFC 826). */
struct arp_eth {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[6], spa[4], tha[6], tpa[4];
} __attribute__((packed));

int
linux_socket_in(const char *netns, int domain, int type, int protocol, struct err *err)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open(netns, O_RDONLY | O_CLOEXEC), fd = -1;

	if (self < 0 || target < 0) {
		err_make(err, errno, "open network namespace %s", netns);
		goto out;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		err_make(err, errno, "enter network namespace %s", netns);
		goto out;
	}
	fd = socket(domain, type | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		err_make(err, errno, "socket in %s", netns);
	if (setns(self, CLONE_NEWNET) < 0) /* a thread left elsewhere is broken */
		log_fatal("linux: back to our network namespace: %s", strerror(errno));
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return fd;
}

int
linux_netns_lo_up(const char *netns, struct err *err)
{
	struct ifreq ifr = {.ifr_name = "lo"};
	int fd = linux_socket_in(netns, AF_INET, SOCK_DGRAM, 0, err), rc = 0;

	if (fd < 0)
		return -1;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = err_make(err, errno, "lo of %s", netns);
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = err_make(err, errno, "lo of %s: up", netns);
	close(fd);
	return rc;
}

int
linux_arp_probe_start(struct linux_arp_probe *p, const char *netns, const char *ifname,
                      const char *ip, int timeout_ms, struct err *err)
{
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP)};
	struct arp_eth req = {.htype = htons(1),
	                      .ptype = htons(ETH_P_IP),
	                      .hlen = 6,
	                      .plen = 4,
	                      .op = htons(ARPOP_REQUEST)};
	struct ifreq ifr = {0};

	memset(p, 0, sizeof *p);
	p->fd = -1;
	if (inet_pton(AF_INET, ip, p->ip) != 1)
		return err_make(err, 0, "ARP probe: \"%s\" is not an IPv4 address", ip);
	/* Protocol 0 at creation, ARP at bind: a socket made with a protocol
	 * is hooked in at once, and its bind unhooks it first, waiting for an
	 * RCU grace period (synchronize_net(): 12 ms of the boot here). */
	p->fd = linux_socket_in(netns, AF_PACKET, SOCK_DGRAM, 0, err);
	if (p->fd < 0)
		return -1;
	p->deadline_ms = now_mono_ms() + timeout_ms;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(p->fd, SIOCGIFINDEX, &ifr) < 0) {
		err_make(err, errno, "ARP probe: interface %s", ifname);
		goto fail;
	}
	to.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(p->fd, SIOCGIFHWADDR, &ifr) < 0) {
		err_make(err, errno, "ARP probe: address of %s", ifname);
		goto fail;
	}
	memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
	memcpy(req.sha, p->mac, 6);
	memcpy(req.tpa, p->ip, 4); /* spa stays 0.0.0.0: a probe, not a claim */
	to.sll_halen = 6;
	memset(to.sll_addr, 0xff, 6);
	if (bind(p->fd, (struct sockaddr *)&to, sizeof to) < 0 ||
	    sendto(p->fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to) < 0) {
		err_make(err, errno, "ARP probe on %s", ifname);
		goto fail;
	}
	return 0;
fail:
	close(take_fd(&p->fd));
	return -1;
}

int
linux_arp_probe_wait(struct linux_arp_probe *p, char mac_out[18], struct err *err)
{
	int rc = 0;

	(void)err;
	mac_out[0] = '\0';
	if (p->fd < 0)
		return 0;
	for (;;) {
		int64_t left = p->deadline_ms - now_mono_ms();
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		struct arp_eth ans;
		ssize_t n;

		if (left < 0)
			left = 0;
		/* One look even past the deadline: the answer may be queued. */
		if (poll(&pfd, 1, (int)left) <= 0)
			break;
		n = recv(p->fd, &ans, sizeof ans, MSG_DONTWAIT);
		if (n < (ssize_t)sizeof ans || ntohs(ans.op) != ARPOP_REPLY ||
		    memcmp(ans.spa, p->ip, 4) != 0 || memcmp(ans.sha, p->mac, 6) == 0)
			continue;
		snprintf(mac_out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", ans.sha[0], ans.sha[1],
		         ans.sha[2], ans.sha[3], ans.sha[4], ans.sha[5]);
		rc = 1;
		break;
	}
	close(take_fd(&p->fd));
	return rc;
}
