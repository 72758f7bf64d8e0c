/* sqldb: what the drivers share: telling a URL from a path, redacting a
 * URL's password, the error path. */
#include "store/sqldb.h"

#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/util.h"

int
sqldb_is_pg_url(const char *spec)
{
	return strncasecmp(spec, "postgres://", 11) == 0 ||
	       strncasecmp(spec, "postgresql://", 13) == 0;
}

char *
sqldb_redact(const char *spec)
{
	struct buf b = BUF_INIT;
	const char *p, *q, *at = NULL, *colon;

	if (!sqldb_is_pg_url(spec))
		return xstrdup(spec);
	p = strstr(spec, "://") + 3;
	/* user:password@host: the last '@' before the path ends the user info. */
	for (q = p; *q != '\0' && *q != '/' && *q != '?'; q++)
		if (*q == '@')
			at = q;
	colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;
	if (colon != NULL) {
		buf_append(&b, spec, (size_t)(colon + 1 - spec));
		buf_puts(&b, "xxxxx");
		p = at;
	} else {
		p = spec;
	}
	/* Up to the query string, then its parameters one by one. */
	q = strchr(p, '?');
	if (q == NULL) {
		buf_puts(&b, p);
		return buf_take(&b);
	}
	buf_append(&b, p, (size_t)(q + 1 - p));
	for (p = q + 1; *p != '\0';) {
		size_t n = strcspn(p, "&");

		if (strncasecmp(p, "password=", 9) == 0)
			buf_puts(&b, "password=xxxxx");
		else
			buf_append(&b, p, n);
		p += n;
		if (*p == '&')
			buf_putc(&b, *p++);
	}
	return buf_take(&b);
}

int
sqldb_fail(struct sqldb *db, enum sqldb_failure kind, struct err *err, const char *what,
           const char *msg)
{
	db->last_fail = kind;
	return err_make(err, 0, "%s: %s: %s", db->name, what, msg != NULL ? msg : "?");
}
