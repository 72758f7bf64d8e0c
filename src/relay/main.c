/* berth-relay: runs one program for spawn_run() (src/runtime/spawn.c), which
 * starts this small process with posix_spawn() instead of forking the whole
 * daemon. Not for people: berth-relay PROGRAM [ARG...], PROGRAM a path, with
 *   fds 0-2  the program's stdio;
 *   fd 3     the report pipe: EOF once PROGRAM is exec'd, or its exec errno;
 *   fd 4     the status pipe: the program's exit code (128 + signal when a
 *            signal ended it), as an int, when it has ended;
 *   fd 5     when open, the program's file (PROGRAM is /proc/self/fd/5): it
 *            is closed by the exec, the program does not inherit it.
 * The program runs in a child of this process that dies with it
 * (PR_SET_PDEATHSIG), so killing the relay on a deadline kills the program,
 * and whoever waits for the relay still learns the program's status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { REPORT_FD = 3, STATUS_FD = 4, PROGRAM_FD = 5 };

static void
report(int e)
{
	if (write(REPORT_FD, &e, sizeof e) < 0)
		_exit(127);
}

int
main(int argc, char **argv)
{
	pid_t self = getpid(), g;
	int status, code;

	if (argc < 2 || fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0) {
		fputs("usage: berth-relay PROGRAM [ARG...] (fds 3 and 4 open; for spawn_run)\n",
		      stderr);
		return 127;
	}
	if (fcntl(PROGRAM_FD, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
		return 127;
	g = fork();
	if (g == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(127);
		close(STATUS_FD);
		/* Not berthd's 077: the OCI runtime makes cgroups and mount
		 * points that a container's setup, as an unprivileged id of its
		 * user namespace, must look up. What is private sits in 0700
		 * directories. */
		umask(022);
		execv(argv[1], argv + 1);
		report(errno);
		_exit(127);
	}
	if (g < 0) {
		report(errno);
		return 127;
	}
	/* Hold nothing of the program's open (a copy of a pipe's write end
	 * would keep its reader from EOF), only the status pipe. */
	for (int fd = 0; fd <= REPORT_FD; fd++)
		close(fd);
	close(PROGRAM_FD);
	while (waitpid(g, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (write(STATUS_FD, &code, sizeof code) < 0)
		return 127;
	return code;
}
