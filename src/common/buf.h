/* buf: a growable byte buffer, always NUL-terminated for convenience. */
#ifndef BERTH_BUF_H
#define BERTH_BUF_H

#include <stddef.h>

#include "common/err.h"

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) BERTH_PRINTF(2, 3);
/* Empties b, keeping its memory. */
void buf_reset(struct buf *b);
/* Hands the NUL-terminated data to the caller (never NULL); b is emptied. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

/* A body that comes in pieces (an HTTP answer curl writes), kept up to a
 * limit: an answer larger than the reader can hold ends the transfer
 * instead of growing without bound. */
struct buf_capped {
	struct buf buf; /* what came, at most max bytes */
	size_t max;     /* the limit: set it before the transfer (0 takes nothing) */
	int overflow;   /* more than max came; buf holds what came before */
};

/* Appends size * n bytes of data to capped (a struct buf_capped). Returns
 * size * n, or 0 (curl then fails the transfer with CURLE_WRITE_ERROR) with
 * overflow set when they would pass max. The signature is curl's
 * CURLOPT_WRITEFUNCTION, with capped as its CURLOPT_WRITEDATA. */
size_t buf_capped_write(char *data, size_t size, size_t n, void *capped);

#endif
