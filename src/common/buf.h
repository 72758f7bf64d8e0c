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

#endif
