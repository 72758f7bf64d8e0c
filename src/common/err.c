#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
err_rc(const struct err *err)
{
	return err->code > 0 ? -err->code : -1;
}

int
err_make(struct err *err, int errnum, const char *fmt, ...)
{
	struct err scratch;
	va_list ap;
	size_t n;

	if (err == NULL)
		err = &scratch;
	err->code = errnum;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	if (errnum > 0) {
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
	}
	return err_rc(err);
}

int
err_wrap(struct err *err, const char *fmt, ...)
{
	char joined[ERR_MSG_MAX];
	va_list ap;
	int n;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(joined, sizeof joined, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof joined - 1)
		n = sizeof joined - 1;
	/* Truncation is fine: the sentence's start matters most. */
	for (const char *s = ": "; *s != '\0' && (size_t)n < sizeof joined - 1; s++)
		joined[n++] = *s;
	for (const char *s = err->msg; *s != '\0' && (size_t)n < sizeof joined - 1; s++)
		joined[n++] = *s;
	joined[n] = '\0';
	memcpy(err->msg, joined, sizeof err->msg);
	return err_rc(err);
}

void
err_clear(struct err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

int
err_isset(const struct err *err)
{
	return err != NULL && (err->code != 0 || err->msg[0] != '\0');
}
