/* uds-get: the test images' client of a unix socket speaking HTTP/1.1, for
 * what busybox cannot do (its nc has no -U): berth's local attestation
 * socket.
 *
 * Usage: uds-get SOCKET TARGET
 * Sends "GET TARGET HTTP/1.1" and prints the answer's body; exits 0 on a
 * 200, 1 otherwise (the status line goes to stderr). Built static by
 * build.sh into the keys image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static char buf[1 << 20];
	size_t len = 0;
	ssize_t n;
	char *body;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: uds-get SOCKET TARGET\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror(argv[1]);
		return 1;
	}
	n = snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", argv[2]);
	if (write(fd, buf, (size_t)n) != n) {
		perror("write");
		return 1;
	}
	while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (body == NULL) {
		fprintf(stderr, "no HTTP answer\n");
		return 1;
	}
	fputs(body + 4, stdout);
	*strchr(buf, '\r') = '\0';
	if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) {
		fprintf(stderr, "%s\n", buf);
		return 1;
	}
	return 0;
}
