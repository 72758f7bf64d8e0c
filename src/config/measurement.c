/* measurement: a length-prefixed encoding of a deployment, and its sha256. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/config.h"
#include "config/measurement.h"

static void
put_u64(struct buf *b, uint64_t v)
{
	unsigned char be[8];
	int i;

	for (i = 7; i >= 0; i--) {
		be[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	buf_append(b, be, sizeof(be));
}

static void
put_field(struct buf *b, const void *data, size_t n)
{
	put_u64(b, n);
	buf_append(b, data, n);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A list: sorted copy, repeats dropped, count then each item. */
static void
put_list(struct buf *b, const char *const *items, size_t n)
{
	const char **v = xcalloc(n + 1, sizeof(*v));
	size_t i, m = 0;

	for (i = 0; i < n; i++)
		if (items[i] != NULL)
			v[m++] = items[i];
	qsort(v, m, sizeof(*v), cmp_str);
	for (i = 0, n = 0; i < m; i++)
		if (n == 0 || strcmp(v[i], v[n - 1]) != 0)
			v[n++] = v[i];
	put_u64(b, n);
	for (i = 0; i < n; i++)
		put_field(b, v[i], strlen(v[i]));
	free(v);
}

void
measurement_encode(const struct measurement_input *in, char **out, size_t *len)
{
	struct buf b = BUF_INIT;
	const char *cfg = in->canonical_config ? in->canonical_config : "";
	const char *iso = in->isolation ? in->isolation : "";
	unsigned char debug = in->debug ? 1 : 0;

	put_field(&b, MEASUREMENT_VERSION, strlen(MEASUREMENT_VERSION));
	put_field(&b, cfg, strlen(cfg));
	put_list(&b, in->images, in->n_images);
	put_field(&b, &debug, 1);
	put_list(&b, in->secrets, in->n_secrets);
	put_field(&b, iso, strlen(iso));
	*len = b.len;
	*out = buf_take(&b);
}

void
measurement_compute(const struct measurement_input *in, char out[65])
{
	size_t len;
	char *enc;

	measurement_encode(in, &enc, &len);
	sha256_hex(enc, len, out);
	free(enc);
}

char **
measurement_secret_names(const struct config *c, char *const *extra)
{
	char **names = strv_dup(extra);

	for (size_t i = 0; i < c->n_containers; i++) {
		const char *pw = c->containers[i].registry_password_secret;

		for (char **s = c->containers[i].secrets; s != NULL && *s != NULL; s++)
			if (!strv_contains(names, *s))
				names = strv_push(names, *s);
		/* A registry's password is bound like a secret, so it counts. */
		if (pw != NULL && !strv_contains(names, pw))
			names = strv_push(names, pw);
	}
	if (names != NULL)
		qsort(names, strv_len(names), sizeof *names, cmp_str);
	return names;
}

void
measurement_of_config(const struct config *c, int debug, char *const *names, const char *isolation,
                      char out[65])
{
	const char **images = xcalloc(c->n_containers + 1, sizeof *images);
	struct measurement_input in = {0};

	for (size_t i = 0; i < c->n_containers; i++)
		images[i] = c->containers[i].image;
	in.canonical_config = c->canonical;
	in.images = images;
	in.n_images = c->n_containers;
	in.debug = debug ? 1 : 0;
	in.secrets = (const char *const *)names;
	in.n_secrets = strv_len(names);
	in.isolation = isolation;
	measurement_compute(&in, out);
	free(images);
}
