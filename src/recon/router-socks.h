/* router-socks: the host's copy of berth-router's listening sockets.
 *
 * berth-router runs detached and may die on its own (or be SIGKILLed); the
 * host starts it again within a second. Were the router the only holder of
 * its sockets, every connection of that second would be refused. So the host
 * binds them itself and hands them down (`--listen fd:N`), or, after its own
 * restart, takes copies from the router that still runs (pidfd_getfd, the fd
 * numbers and pid from the router's /v1/status). While no router runs, the
 * kernel keeps queueing connections in the sockets' backlog, and the next
 * router accepts them: a router's death costs only the requests in flight.
 *
 * Threads: every function takes the lock; any thread. */
#ifndef BERTH_ROUTER_SOCKS_H
#define BERTH_ROUTER_SOCKS_H

#include <jansson.h>
#include <pthread.h>

enum { ROUTER_SOCK_PLAIN, ROUTER_SOCK_TLS, ROUTER_SOCKS };

struct router_socks {
	pthread_mutex_t lock;
	int fd[ROUTER_SOCKS];           /* owned, or -1 */
	const char *addr[ROUTER_SOCKS]; /* borrowed: numeric address, NULL when not listened on */
	int port[ROUTER_SOCKS];
};

void router_socks_init(struct router_socks *s, const char *addr, int port, const char *tls_addr,
                       int tls_port);
void router_socks_close(struct router_socks *s);

/* After a router answered its status: when no copies are held, copies of the
 * sockets it lists (checked to listen on our ports). Quietly nothing where
 * that cannot be done (an older router, a kernel without pidfd_getfd). */
void router_socks_take(struct router_socks *s, const json_t *status);

/* Before a router starts: the socket of each address, bound now if none is
 * held, as "fd:N" arguments for the router (N from 3 on, in the order
 * PLAIN, TLS). fds[i] is the socket to place at descriptor 3 + i, or -1: that
 * address could not be bound here and the router is to bind it itself
 * (arg[i] is then the address). The strings are the caller's to free. */
void router_socks_for_spawn(struct router_socks *s, int fds[ROUTER_SOCKS], char *arg[ROUTER_SOCKS]);

#endif
