/* libFuzzer target: the chunked-body parser of berth-router (chunked.c).
 * The input is a request body. It is parsed whole, then again in pieces cut
 * where the input's first byte says; both ways must agree on where the body
 * ends or fails, the parser must never claim more bytes than it was given,
 * and what it accepted must end the way the framing says. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "router/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses p[0..len) in pieces of 1..step bytes. Returns 0 or -1 like
 * chunked_parse(), with *total the body bytes taken. */
static int
parse_in_pieces(const char *p, size_t len, unsigned step, size_t *total)
{
	struct chunked ck;
	struct err err = ERR_INIT;
	size_t off = 0, used, n;
	unsigned k = 0;

	chunked_init(&ck);
	*total = 0;
	while (off < len && !chunked_done(&ck)) {
		n = 1 + (k++ * 7 + step) % step;
		if (n > len - off)
			n = len - off;
		if (chunked_parse(&ck, p + off, n, &used, &err) < 0) {
			*total = off + used;
			return -1;
		}
		if (used > n)
			abort();
		off += used;
		if (used < n && !chunked_done(&ck))
			abort(); /* it stops early only at the end of the body */
	}
	*total = off;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunked ck;
	struct err err = ERR_INIT;
	const char *p;
	size_t len, used = 0, total;
	unsigned step;
	int rc, rc2;

	if (size < 1)
		return 0;
	step = data[0] % 16 + 1;
	p = (const char *)data + 1;
	len = size - 1;
	chunked_init(&ck);
	rc = chunked_parse(&ck, p, len, &used, &err);
	if (used > len)
		abort();
	if (rc < 0 && (err.msg[0] == '\0' || ck.state != CHUNKED_ERROR))
		abort();
	if (rc == 0 && chunked_done(&ck)) {
		/* A whole body ends with CRLF CRLF or, after trailers, CRLF. */
		if (used < 5 || memcmp(p + used - 2, "\r\n", 2) != 0)
			abort();
	}
	if (rc == 0 && !chunked_done(&ck) && used != len)
		abort();
	rc2 = parse_in_pieces(p, len, step, &total);
	if (rc2 != rc || total != used)
		abort();
	/* After an error, the parser refuses more input. */
	if (rc < 0 && chunked_parse(&ck, "0\r\n\r\n", 5, &used, &err) == 0)
		abort();
	return 0;
}
