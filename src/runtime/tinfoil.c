/* tinfoil: a container's /run/tinfoil, on the bundles' tmpfs. */
#include "runtime/tinfoil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"

/* Connections the kernel queues before berthd accepts them; past that a
 * client's connect() fails or waits, nothing of berth's does. */
#define TINFOIL_BACKLOG 16

/* Writes len bytes of data as name in directory dfd, new (O_EXCL), mode,
 * owned by uid:gid. */
static int
write_owned(int dfd, const char *name, const char *data, size_t len, int mode, unsigned uid,
            unsigned gid, struct err *err)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	size_t off = 0;
	int rc = 0;

	if (fd < 0)
		return err_make(err, errno, "create %s", name);
	while (off < len && rc == 0) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = err_make(err, errno, "write %s", name);
		else
			off += (size_t)n;
	}
	if (rc == 0 && (fchown(fd, uid, gid) < 0 || fchmod(fd, (mode_t)mode) < 0))
		rc = err_make(err, errno, "own %s", name);
	close(fd);
	return rc;
}

/* keys/<id>/ in dfd with the key's two files; the directory is handed to
 * its owner last, 0500. */
static int
write_key(int keys_fd, const struct bundle_key *k, unsigned id_base, struct err *err)
{
	unsigned uid = id_base + k->uid, gid = id_base + k->gid;
	int dfd = -1, rc;

	if (mkdirat(keys_fd, k->id, 0700) < 0)
		return err_make(err, errno, "key %s", k->id);
	dfd = openat(keys_fd, k->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return err_make(err, errno, "key %s", k->id);
	rc = write_owned(dfd, "private_key.pem", k->private_pem, k->private_len, 0400, uid, gid,
	                 err);
	if (rc == 0)
		rc = write_owned(dfd, "public_key.pem", k->public_pem, strlen(k->public_pem), 0444,
		                 uid, gid, err);
	if (rc == 0 && (fchown(dfd, uid, gid) < 0 || fchmod(dfd, 0500) < 0))
		rc = err_make(err, errno, "own key %s", k->id);
	close(dfd);
	if (rc < 0)
		err_wrap(err, "key %s", k->id);
	return rc;
}

int
tinfoil_listen(const char *tdir, int *fd, struct err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *dir = xasprintf("%s/attestation", tdir), *path = NULL;
	int dfd, s = -1, rc = -1;

	*fd = -1;
	/* 0755 whatever the umask: the container's users cross it. */
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || chmod(dir, 0755) < 0) {
		err_make(err, errno, "mkdir %s", dir);
		free(dir);
		return -1;
	}
	/* Through the directory's descriptor: the bundle's path may be longer
	 * than sun_path holds. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err_make(err, errno, "open %s", dir);
		free(dir);
		return -1;
	}
	path = xasprintf("/proc/self/fd/%d/%s", dfd, BUNDLE_ATTEST_SOCK);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (unlinkat(dfd, BUNDLE_ATTEST_SOCK, 0) < 0 && errno != ENOENT) {
		err_make(err, errno, "remove the old attestation socket");
		goto out;
	}
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    fchmodat(dfd, BUNDLE_ATTEST_SOCK, 0666, 0) < 0 || listen(s, TINFOIL_BACKLOG) < 0) {
		err_make(err, errno, "attestation socket in %s", dir);
		goto out;
	}
	*fd = take_fd(&s);
	rc = 0;
out:
	if (s >= 0)
		close(s);
	close(dfd);
	free(path);
	free(dir);
	return rc;
}

int
tinfoil_prepare(const char *dir, const struct bundle_key *keys, size_t n_keys, unsigned id_base,
                int attestation, int *fd, struct err *err)
{
	char *kdir = xasprintf("%s/keys", dir);
	int kfd = -1, rc = -1;

	*fd = -1;
	if (mkdir_p(dir, 0755, err) < 0)
		goto out;
	if (chmod(dir, 0755) < 0) {
		err_make(err, errno, "chmod %s", dir);
		goto out;
	}
	if (n_keys > 0) {
		if ((mkdir(kdir, 0755) < 0 && errno != EEXIST) || chmod(kdir, 0755) < 0) {
			err_make(err, errno, "mkdir %s", kdir);
			goto out;
		}
		kfd = open(kdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (kfd < 0) {
			err_make(err, errno, "open %s", kdir);
			goto out;
		}
		for (size_t i = 0; i < n_keys; i++)
			if (write_key(kfd, &keys[i], id_base, err) < 0)
				goto out;
	}
	if (attestation && tinfoil_listen(dir, fd, err) < 0)
		goto out;
	rc = 0;
out:
	if (kfd >= 0)
		close(kfd);
	free(kdir);
	return rc;
}
