/* web: the dashboard's files, embedded at build time. */
#ifndef BERTH_WEB_H
#define BERTH_WEB_H

#include <stddef.h>

struct web_asset {
	const char *name; /* file name, "index.html" */
	const char *content_type;
	const unsigned char *data; /* NUL-terminated for convenience */
	size_t len;
};

/* Every embedded file; the last entry's name is NULL. */
extern const struct web_asset web_assets[];

/* The asset named name, or NULL. */
const struct web_asset *web_asset_find(const char *name);

#endif
