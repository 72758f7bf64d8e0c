/* image_manifest: the manifest and index documents of a registry, parsed and
 * checked before anything they name is fetched. Registry input: every field
 * is checked for its type, digests are sha256 only, layers of media types
 * berth cannot unpack are refused here rather than after their download. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "image/image-internal.h"

#define MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#else
#define HOST_ARCH "amd64"
#endif

/* Tells a manifest from an index by media type (the answer's, else the
 * document's own mediaType field, else its shape). */
static int
doc_kind(json_t *root, const char *content_type, const char *what, int *is_index, struct err *err)
{
	const char *mt = json_string_value(json_object_get(root, "mediaType"));

	if (content_type != NULL && strncmp(content_type, "application/vnd.", 16) == 0)
		mt = content_type;
	if (json_integer_value(json_object_get(root, "schemaVersion")) != 2)
		return err_make(err, 0, "%s: not a schema 2 manifest (schema 1 is not supported)",
		                what);
	if (mt == NULL)
		mt = json_is_array(json_object_get(root, "manifests")) ? MT_OCI_INDEX
		                                                       : MT_OCI_MANIFEST;
	if (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0)
		*is_index = 0;
	else if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0)
		*is_index = 1;
	else
		return err_make(err, 0, "%s: unsupported media type %s", what, mt);
	return 0;
}

static int
desc_parse(json_t *j, struct image_desc *d, const char *what, struct err *err)
{
	json_t *size = json_object_get(j, "size");

	d->digest = json_string_value(json_object_get(j, "digest"));
	if (!image_digest_valid(d->digest))
		return err_make(err, 0, "%s: digest missing or not sha256:<64 hex>", what);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return err_make(err, 0, "%s %s: bad size", what, d->digest);
	if (json_array_size(json_object_get(j, "urls")) > 0)
		return err_make(err, 0, "%s %s: foreign layers (urls) are not fetched", what,
		                d->digest);
	d->size = (uint64_t)json_integer_value(size);
	return 0;
}

/* The layer media types of OCI and docker (tar, gzip, zstd): what
 * image_unpack() reads. */
static int
layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+gzip",
	    "application/vnd.oci.image.layer.v1.tar+zstd",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	    "application/vnd.docker.image.rootfs.diff.tar.gzip",
	    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	size_t i;

	if (mt == NULL) /* optional in some old manifests */
		return 1;
	for (i = 0; i < ARRAY_LEN(ok); i++)
		if (strcmp(mt, ok[i]) == 0)
			return 1;
	return 0;
}

/* The manifest of an index for linux on this host's architecture. */
static int
index_pick(json_t *root, const char *what, struct image_desc *d, struct err *err)
{
	json_t *list = json_object_get(root, "manifests"), *m;
	size_t i;

	for (i = 0; i < json_array_size(list) && (m = json_array_get(list, i)) != NULL; i++) {
		json_t *p = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));

		if (os != NULL && arch != NULL && strcmp(os, "linux") == 0 &&
		    strcmp(arch, HOST_ARCH) == 0)
			return desc_parse(m, d, what, err);
	}
	return err_make(err, ENOENT, "%s: no image for linux/%s in the index", what, HOST_ARCH);
}

/* A manifest's config and layers. */
static int
manifest_parse(struct image_manifest *m, const char *what, struct err *err)
{
	json_t *jl = json_object_get(m->root, "layers"), *l;
	size_t i;

	if (desc_parse(json_object_get(m->root, "config"), &m->config, "config", err) < 0)
		return err_wrap(err, "manifest %s", what);
	if (!json_is_array(jl))
		return err_make(err, 0, "manifest %s: no layers", what);
	m->layers = xcalloc(json_array_size(jl) + 1, sizeof *m->layers);
	for (i = 0; i < json_array_size(jl) && (l = json_array_get(jl, i)) != NULL; i++) {
		const char *mt = json_string_value(json_object_get(l, "mediaType"));

		if (desc_parse(l, &m->layers[i], "layer", err) < 0)
			return err_wrap(err, "manifest %s", what);
		if (!layer_type_ok(mt))
			return err_make(err, 0, "manifest %s: layer %s: unsupported media type %s",
			                what, m->layers[i].digest, mt);
		m->n_layers++;
	}
	return 0;
}

int
image_manifest_parse(const char *data, size_t len, const char *content_type, const char *what,
                     struct image_manifest *out, struct err *err)
{
	json_error_t jerr;
	int rc;

	memset(out, 0, sizeof *out);
	out->root = json_loadb(data != NULL ? data : "", len, 0, &jerr);
	if (out->root == NULL || !json_is_object(out->root)) {
		rc = err_make(err, 0, "manifest %s: bad JSON: %s", what,
		              out->root ? "not an object" : jerr.text);
		goto out;
	}
	rc = doc_kind(out->root, content_type, what, &out->is_index, err);
	if (rc == 0)
		rc = out->is_index ? index_pick(out->root, what, &out->pick, err)
		                   : manifest_parse(out, what, err);
out:
	if (rc < 0)
		image_manifest_clear(out);
	return rc;
}

void
image_manifest_clear(struct image_manifest *m)
{
	json_decref(m->root);
	free(m->layers);
	memset(m, 0, sizeof *m);
}
