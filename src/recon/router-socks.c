/* router-socks: see router-socks.h. */
#include "recon/router-socks.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* As berth-router's own: it and an older router may share the port. */
#define BACKLOG 1024

void
router_socks_init(struct router_socks *s, const char *addr, int port, const char *tls_addr,
                  int tls_port)
{
	pthread_mutex_init(&s->lock, NULL);
	for (int i = 0; i < ROUTER_SOCKS; i++)
		s->fd[i] = -1;
	s->addr[ROUTER_SOCK_PLAIN] = addr;
	s->port[ROUTER_SOCK_PLAIN] = port;
	s->addr[ROUTER_SOCK_TLS] = tls_addr;
	s->port[ROUTER_SOCK_TLS] = tls_port;
}

void
router_socks_close(struct router_socks *s)
{
	for (int i = 0; i < ROUTER_SOCKS; i++)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	pthread_mutex_destroy(&s->lock);
}

static int
sock_port(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	if (sa.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	return -1;
}

static int
sock_listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof on;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

static void
close_all(int *fd, int n)
{
	for (int i = 0; i < n; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		fd[i] = -1;
	}
}

void
router_socks_take(struct router_socks *s, const json_t *status)
{
	const json_t *fds = json_object_get(status, "listen_fds");
	int pid = (int)json_integer_value(json_object_get(status, "pid"));
	int got[ROUTER_SOCKS] = {-1, -1}, pidfd = -1, want = 0;

	pthread_mutex_lock(&s->lock);
	if (s->fd[ROUTER_SOCK_PLAIN] >= 0 || pid <= 0 || !json_is_array(fds))
		goto out;
	for (int i = 0; i < ROUTER_SOCKS; i++)
		want += s->addr[i] != NULL;
	/* Spawned by a host: the plain socket, then the TLS one if any. */
	if (json_array_size(fds) != (size_t)want)
		goto out;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		goto fail;
	for (int i = 0, k = 0; i < ROUTER_SOCKS; i++) {
		if (s->addr[i] == NULL)
			continue;
		got[i] = (int)syscall(SYS_pidfd_getfd, pidfd,
		                      (int)json_integer_value(json_array_get(fds, (size_t)k++)), 0);
		/* A pid reused meanwhile, or a router on other ports: not ours. */
		if (got[i] < 0 || !sock_listening(got[i]) || sock_port(got[i]) != s->port[i]) {
			close_all(got, ROUTER_SOCKS);
			goto fail;
		}
	}
	memcpy(s->fd, got, sizeof got);
	log_info("router: holding copies of the listening sockets of router %d", pid);
	goto out;
fail:
	log_debug("router: no copy of router %d's sockets: %s", pid, strerror(errno));
out:
	if (pidfd >= 0)
		close(pidfd);
	pthread_mutex_unlock(&s->lock);
}

/* A listening socket on addr:port, or -1 (errno set). */
static int
bind_listen(const char *addr, int port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char service[16];
	int fd = -1, one = 1, e;

	snprintf(service, sizeof service, "%d", port);
	if ((e = getaddrinfo(addr, service, &hints, &ai)) != 0) {
		errno = e == EAI_SYSTEM ? errno : EINVAL;
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	                setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
	                bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0)) {
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(ai);
	return fd;
}

void
router_socks_for_spawn(struct router_socks *s, int fds[ROUTER_SOCKS], char *arg[ROUTER_SOCKS])
{
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < ROUTER_SOCKS; i++) {
		fds[i] = -1;
		arg[i] = NULL;
		if (s->addr[i] == NULL)
			continue;
		if (s->fd[i] < 0 && (s->fd[i] = bind_listen(s->addr[i], s->port[i])) < 0)
			log_warn("router: cannot hold %s:%d (%s): the router binds it itself",
			         s->addr[i], s->port[i], strerror(errno));
		fds[i] = s->fd[i];
		arg[i] = fds[i] >= 0 ? xasprintf("fd:%d", 3 + i)
		                     : xasprintf("%s:%d", s->addr[i], s->port[i]);
	}
	pthread_mutex_unlock(&s->lock);
}
