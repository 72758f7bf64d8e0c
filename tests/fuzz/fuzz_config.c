/* libFuzzer target: config_parse() on arbitrary bytes must return cleanly,
 * valid or not, and the results must be consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = {0};
	struct config *c = NULL;
	char *text;

	if (config_parse("fuzz.yml", (const char *)data, size, &c, &errs) == 0) {
		if (c == NULL || errs.n != 0 || c->canonical == NULL ||
		    strlen(c->config_sha256) != 64)
			abort();
		text = config_to_json(c);
		free(text);
		(void)config_upstream_container(c);
		(void)config_gpus_required(c, 8);
		config_free(c);
	} else {
		if (c != NULL || errs.n == 0)
			abort();
		text = config_errors_format(&errs);
		free(text);
		config_errors_free(&errs);
	}
	return 0;
}
