/* The validator the reconciler and the API give source_tags(): config_parse().
 * Apart from source.c so that programs not using it need not link src/config. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "source/source.h"

int
source_validate_config(const char *text, size_t len, char **error, void *arg)
{
	struct config_errors errs;
	struct config *c = NULL;
	size_t n;

	(void)arg;
	memset(&errs, 0, sizeof errs);
	if (config_parse(SOURCE_CONFIG_FILE, text, len, &c, &errs) == 0) {
		config_free(c);
		config_errors_free(&errs);
		return 0;
	}
	*error = config_errors_format(&errs);
	/* One sentence per error, newline-terminated: drop the last newline. */
	n = strlen(*error);
	if (n > 0 && (*error)[n - 1] == '\n')
		(*error)[n - 1] = '\0';
	config_errors_free(&errs);
	return -1;
}
