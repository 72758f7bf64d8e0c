/* ipam: addresses as O_EXCL files under a directory lock. */
#include "runtime/ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

/* How many IPv6 candidates one assignment tries at most: the range is vast,
 * a run of that many taken addresses means something is wrong. */
#define IPAM_V6_TRIES 65536

int
ipam_open(struct ipam *ip, const char *dir, const char *legacy_dir, const char *subnet4,
          const char *subnet6, struct err *err)
{
	char addr[INET6_ADDRSTRLEN];
	struct in_addr a4;
	unsigned len;

	memset(ip, 0, sizeof *ip);
	if (sscanf(subnet4, "%15[0-9.]/%u", addr, &len) != 2 ||
	    inet_pton(AF_INET, addr, &a4) != 1 || len < 8 || len > 30)
		return err_make(err, 0, "ipam: \"%s\" is not an IPv4 subnet", subnet4);
	ip->prefix4 = (int)len;
	ip->net4 = ntohl(a4.s_addr) & (0xffffffffu << (32 - len));
	if (subnet6 != NULL) {
		if (sscanf(subnet6, "%45[0-9a-fA-F:]/%u", addr, &len) != 2 ||
		    inet_pton(AF_INET6, addr, &ip->net6) != 1 || len < 48 || len > 120)
			return err_make(err, 0, "ipam: \"%s\" is not an IPv6 subnet", subnet6);
		ip->prefix6 = (int)len;
		for (unsigned b = len; b < 128; b++)
			ip->net6.s6_addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
		ip->has6 = 1;
	}
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	ip->dir = xstrdup(dir);
	ip->legacy_dir = legacy_dir != NULL ? xstrdup(legacy_dir) : NULL;
	return 0;
}

void
ipam_close(struct ipam *ip)
{
	free(ip->dir);
	free(ip->legacy_dir);
	memset(ip, 0, sizeof *ip);
}

/* The address at offset off of the IPv6 subnet (off < 2^64: the low bits). */
static struct in6_addr
v6_at(const struct ipam *ip, uint64_t off)
{
	struct in6_addr a = ip->net6;

	for (int i = 15; i >= 8 && off != 0; i--, off >>= 8)
		a.s6_addr[i] |= (uint8_t)(off & 0xff);
	return a;
}

/* How many addresses the IPv6 subnet's host part holds, capped at 2^63. */
static uint64_t
v6_size(const struct ipam *ip)
{
	int bits = 128 - ip->prefix6;

	return bits >= 63 ? (uint64_t)1 << 63 : (uint64_t)1 << bits;
}

void
ipam_gateways(const struct ipam *ip, char gw4[INET_ADDRSTRLEN], char gw6[INET6_ADDRSTRLEN])
{
	struct in_addr a = {htonl(ip->net4 + 1)};

	inet_ntop(AF_INET, &a, gw4, INET_ADDRSTRLEN);
	gw6[0] = '\0';
	if (ip->has6) {
		struct in6_addr g = v6_at(ip, 1);

		inet_ntop(AF_INET6, &g, gw6, INET6_ADDRSTRLEN);
	}
}

/* Reads the offset last handed out from file name (0: none yet). */
static uint64_t
last_read(const struct ipam *ip, const char *name)
{
	char *path = xasprintf("%s/%s", ip->dir, name), *text = NULL;
	size_t len;
	struct err ignored = ERR_INIT;
	uint64_t v = 0;

	if (file_read_all(path, 64, &text, &len, &ignored) == 0)
		v = strtoull(text, NULL, 10);
	free(text);
	free(path);
	return v;
}

/* Where the next search starts; a lost or stale file only moves the start.
 * No fsync here or in the address files: what they guard (addresses live in
 * network namespaces) does not outlive the host's power either. */
static void
last_write(const struct ipam *ip, const char *name, uint64_t v)
{
	char *path = xasprintf("%s/%s", ip->dir, name), *tmp = xasprintf("%s.tmp", path);
	char text[32];
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)v);

	if (fd >= 0) {
		if (write(fd, text, (size_t)n) == n && close(fd) == 0)
			(void)rename(tmp, path);
		else
			(void)unlink(tmp);
	}
	free(tmp);
	free(path);
}

/* Whether host-local's files (enclaves made before berth's IPAM) hold addr. */
static int
legacy_holds(const struct ipam *ip, const char *addr)
{
	char *path;
	int held;

	if (ip->legacy_dir == NULL)
		return 0;
	path = xasprintf("%s/%s", ip->legacy_dir, addr);
	held = access(path, F_OK) == 0;
	free(path);
	return held;
}

/* Claims addr for owner: 1 done, 0 taken, negative on error. */
static int
claim(const struct ipam *ip, const char *addr, const char *owner, struct err *err)
{
	char *path, *text;
	int fd, rc = 1;
	size_t n;

	if (legacy_holds(ip, addr))
		return 0;
	path = xasprintf("%s/%s", ip->dir, addr);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = errno == EEXIST ? 0 : err_make(err, errno, "ipam: %s", path);
		free(path);
		return rc;
	}
	text = xasprintf("%s\n", owner);
	n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n) {
		rc = err_make(err, errno, "ipam: write %s", path);
		(void)unlink(path);
	}
	close(fd);
	free(text);
	free(path);
	return rc;
}

static int
assign4(struct ipam *ip, const char *owner, char out[INET_ADDRSTRLEN], struct err *err)
{
	/* Offsets 2 .. size-2: not the network, the gateway or broadcast. */
	uint64_t size = (uint64_t)1 << (32 - ip->prefix4), n = size - 3;
	uint64_t last = last_read(ip, "last4");

	if (last < 2 || last > size - 2)
		last = 1;
	for (uint64_t k = 1; k <= n; k++) {
		uint64_t off = 2 + (last - 2 + k) % n;
		struct in_addr a = {htonl(ip->net4 + (uint32_t)off)};
		int rc;

		inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
		rc = claim(ip, out, owner, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			last_write(ip, "last4", off);
			return 0;
		}
	}
	out[0] = '\0';
	return err_make(err, ENOSPC, "ipam: no free address left in %s",
	                inet_ntoa((struct in_addr){htonl(ip->net4)}));
}

static int
assign6(struct ipam *ip, const char *owner, char out[INET6_ADDRSTRLEN], struct err *err)
{
	uint64_t size = v6_size(ip), n = size - 3, last = last_read(ip, "last6");

	if (last < 2 || last > size - 2)
		last = 1;
	for (uint64_t k = 1; k <= n && k <= IPAM_V6_TRIES; k++) {
		uint64_t off = 2 + (last - 2 + k) % n;
		struct in6_addr a = v6_at(ip, off);
		int rc;

		inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN);
		rc = claim(ip, out, owner, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			last_write(ip, "last6", off);
			return 0;
		}
	}
	out[0] = '\0';
	return err_make(err, ENOSPC, "ipam: no free IPv6 address found");
}

/* The directory's lock, held across processes (flock), or -1 with err. */
static int
lock_dir(const char *dir, struct err *err)
{
	char *path = xasprintf("%s/lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		err_make(err, errno, "ipam: %s", path);
	else if (flock(fd, LOCK_EX) < 0) {
		err_make(err, errno, "ipam: lock %s", path);
		close(take_fd(&fd));
	}
	free(path);
	return fd;
}

int
ipam_assign(struct ipam *ip, const char *owner, int want6, char ip4[INET_ADDRSTRLEN],
            char ip6[INET6_ADDRSTRLEN], struct err *err)
{
	int lock = lock_dir(ip->dir, err), rc;

	ip4[0] = ip6[0] = '\0';
	if (lock < 0)
		return -1;
	rc = assign4(ip, owner, ip4, err);
	if (rc == 0 && want6 && ip->has6 && assign6(ip, owner, ip6, err) < 0) {
		char *path = xasprintf("%s/%s", ip->dir, ip4);

		(void)unlink(path);
		free(path);
		rc = -1;
	}
	close(lock);
	return rc;
}

/* Whether file dir/name holds owner (berth's "owner\n", host-local's
 * "owner\r\nifname"). */
static int
held_by(const char *dir, const char *name, const char *owner)
{
	char *path = xasprintf("%s/%s", dir, name), *text = NULL;
	size_t len, n = strlen(owner);
	struct err ignored = ERR_INIT;
	int yes = 0;

	if (file_read_all(path, 512, &text, &len, &ignored) == 0)
		yes = len >= n && strncmp(text, owner, n) == 0 &&
		      (text[n] == '\0' || text[n] == '\n' || text[n] == '\r');
	free(text);
	free(path);
	return yes;
}

/* Removes the files of dir that owner holds. */
static int
release_in(const char *dir, const char *owner, struct err *err)
{
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : err_make(err, errno, "ipam: open %s", dir);
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *path;

		/* Address files only: hex digits, dots and colons, at least
		 * one of the latter. */
		if (strspn(de->d_name, "0123456789abcdef.:") != strlen(de->d_name) ||
		    strpbrk(de->d_name, ".:") == NULL)
			continue;
		if (!held_by(dir, de->d_name, owner))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) < 0 && errno != ENOENT && rc == 0)
			rc = err_make(err, errno, "ipam: remove %s", path);
		free(path);
	}
	closedir(d);
	return rc;
}

int
ipam_release(struct ipam *ip, const char *owner, struct err *err)
{
	int lock = lock_dir(ip->dir, err), rc;

	if (lock < 0)
		return -1;
	rc = release_in(ip->dir, owner, err);
	if (rc == 0 && ip->legacy_dir != NULL)
		rc = release_in(ip->legacy_dir, owner, err);
	close(lock);
	return rc;
}
