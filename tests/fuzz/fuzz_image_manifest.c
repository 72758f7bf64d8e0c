/* libFuzzer target: the registry's JSON documents. image_manifest_parse() on
 * arbitrary bytes (the first byte picks the Content-Type the registry sent)
 * must return cleanly, and what it accepts must hold only sha256 digests;
 * the same bytes go through image_config_parse(), the image configuration a
 * manifest names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
    NULL,
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/json",
    "application/vnd.oci.image.config.v1+json",
    "",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_manifest m;
	struct image_config cfg;
	struct err err = ERR_INIT;
	const char *ct = NULL, *doc = (const char *)data;

	if (size > 0) {
		ct = content_types[data[0] % (sizeof content_types / sizeof content_types[0])];
		doc++;
		size--;
	}
	if (image_manifest_parse(doc, size, ct, "fuzz", &m, &err) == 0) {
		if (m.root == NULL || err.msg[0] != '\0')
			abort();
		if (m.is_index) {
			if (!image_digest_valid(m.pick.digest) || m.layers != NULL)
				abort();
		} else {
			if (!image_digest_valid(m.config.digest) || m.layers == NULL)
				abort();
			for (size_t i = 0; i < m.n_layers; i++)
				if (!image_digest_valid(m.layers[i].digest) ||
				    strlen(m.layers[i].digest) != 71)
					abort();
			if (m.layers[m.n_layers].digest != NULL)
				abort();
		}
		image_manifest_clear(&m);
	} else if (m.root != NULL || m.layers != NULL || m.n_layers != 0 || err.msg[0] == '\0') {
		abort();
	}
	err_clear(&err);
	if (image_config_parse(doc, size, &cfg, &err) == 0) {
		if (cfg.hc_retries < 0)
			abort();
	} else if (err.msg[0] == '\0' || cfg.entrypoint != NULL || cfg.cmd != NULL) {
		abort();
	}
	image_config_clear(&cfg);
	return 0;
}
