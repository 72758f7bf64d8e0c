/* chunked: a strict parser of the chunked transfer coding (RFC 9112 7.1), for
 * request bodies that berth-router passes through as they are.
 *
 * It checks the framing only, byte for byte, so that what the router lets
 * through can be read one way only: CRLF and nothing else ends a line (no bare
 * LF, no lone CR), CRLF must follow chunk data, a chunk size is at most
 * CHUNKED_DIGITS_MAX hex digits and at most CHUNKED_SIZE_MAX, extensions hold
 * no control characters and are bounded, and trailer fields are well-formed
 * and bounded. It keeps no pointers into the input, so it can be fed any way
 * the bytes arrive and copied freely.
 */
#ifndef BERTH_CHUNKED_H
#define BERTH_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CHUNKED_DIGITS_MAX  16            /* hex digits of a chunk size, leading zeros too */
#define CHUNKED_SIZE_MAX    0x7fffffffULL /* fits the int32 of a naive upstream */
#define CHUNKED_EXT_MAX     1024          /* bytes of one chunk's extensions */
#define CHUNKED_TRAILER_MAX (16 * 1024)   /* bytes of the trailer section */

enum chunked_state {
	CHUNKED_SIZE,      /* the first hex digit of a chunk size */
	CHUNKED_SIZE_MORE, /* more hex digits, or what ends the size */
	CHUNKED_SIZE_BWS,  /* blanks after the size: a ';' must come */
	CHUNKED_EXT,       /* in the extensions, up to CR */
	CHUNKED_SIZE_LF,   /* CR of the size line seen */
	CHUNKED_DATA,      /* chunk data, remaining bytes to go */
	CHUNKED_DATA_CR,   /* CR after the data */
	CHUNKED_DATA_LF,   /* LF after the data */
	CHUNKED_TRAILER,   /* the start of a trailer line, or the final CRLF */
	CHUNKED_TR_NAME,   /* a trailer field name, up to ':' */
	CHUNKED_TR_VALUE,  /* a trailer field value, up to CR */
	CHUNKED_TR_LF,     /* CR of a trailer line seen */
	CHUNKED_END_LF,    /* CR of the final empty line seen */
	CHUNKED_DONE,      /* the body is complete */
	CHUNKED_ERROR,     /* framing error: no more input accepted */
};

struct chunked {
	enum chunked_state state;
	uint64_t size;      /* the chunk size being read, then the data left */
	unsigned digits;    /* hex digits of the size so far */
	size_t ext_len;     /* bytes of the current chunk's extensions */
	size_t trailer_len; /* bytes of the trailer section so far */
	char name[24];      /* the start of the current trailer name, lower case */
	size_t name_len;    /* its whole length */
};

/* Starts a body. */
void chunked_init(struct chunked *ck);
/* Parses p[0..len), the next bytes of the body. Sets *used to how many belong
 * to the body: len, or fewer when the body ended inside p (the rest is the
 * next request). Returns 0, or -1 with err set to a sentence for the client
 * (the parser then stays in CHUNKED_ERROR); *used is then the bytes before
 * the faulty one. */
int chunked_parse(struct chunked *ck, const char *p, size_t len, size_t *used, struct err *err);
/* Whether the whole body was parsed. */
int chunked_done(const struct chunked *ck);

#endif
