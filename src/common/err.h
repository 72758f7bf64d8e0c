/* err: the one error convention of berth.
 *
 * A fallible function returns int: 0 on success, a negative value on failure.
 * It takes a `struct err *err` last and fills it on failure with a sentence that
 * a user can read. Callers add context on the way up with err_wrap(). A caller
 * that deliberately swallows an error calls err_clear(). An err holds no heap
 * memory, so there is nothing to release.
 */
#ifndef BERTH_ERR_H
#define BERTH_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define ERR_MSG_MAX 1024

struct err {
	int code;              /* errno-like cause, 0 when none */
	char msg[ERR_MSG_MAX]; /* the sentence, "" when no error */
};

#define ERR_INIT                                                                                   \
	{                                                                                          \
		0,                                                                                 \
		{                                                                                  \
			0                                                                          \
		}                                                                                  \
	}

#if defined(__GNUC__)
#define BERTH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BERTH_PRINTF(a, b)
#endif

/* Fills err with errnum and a formatted message; when errnum is not 0 its
 * strerror() is appended. Returns -1 (or -errnum when errnum > 0), so callers
 * can write `return err_make(err, errno, "open %s", path);`. err may be NULL. */
int err_make(struct err *err, int errnum, const char *fmt, ...) BERTH_PRINTF(3, 4);

/* Prefixes err's message with the formatted context and ": ". Returns the
 * same negative value err_make() returned. */
int err_wrap(struct err *err, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* Forgets an error that the caller decided to ignore. */
void err_clear(struct err *err);

/* Whether err holds an error. */
int err_isset(const struct err *err);

#endif
