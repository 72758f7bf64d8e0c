/* registry: a small OCI distribution client on libcurl, private to the image
 * module. One struct registry talks to one repository of one registry for
 * the length of a pull, remembering the credentials it negotiated. */
#ifndef BERTH_IMAGE_REGISTRY_H
#define BERTH_IMAGE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct registry;

/* A blob to download into a file, checked against digest and size. */
struct registry_blob {
	const char *digest;     /* borrowed "sha256:<hex>" */
	uint64_t size;          /* as the manifest declares */
	const char *tmp_path;   /* borrowed: where the bytes are written */
	const char *final_path; /* borrowed: renamed to once verified */
};

/* Called as bytes arrive: delta new bytes since the last call (negative when
 * a transfer starts again and its bytes no longer count). Returns non-zero
 * to cancel every transfer. */
typedef int (*registry_progress_fn)(int64_t delta, void *arg);

/* How long a registry may take; zeros are the defaults (30 s, 60 s, none). */
struct registry_limits {
	long connect_s;            /* to accept a connection */
	long idle_s;               /* of silence, an answer awaited included */
	int64_t timeout_ms;        /* for everything from registry_open() on */
	int64_t deadline_ms;       /* set by registry_open() */
	const _Atomic int *cancel; /* borrowed or NULL: non-zero ends every transfer */
};

/* Opens a client of repository repo on host; http selects plain HTTP;
 * username/password (borrowed, may be NULL) are used when the registry asks;
 * lim (copied, may be NULL) bounds every request. */
struct registry *registry_open(const char *host, const char *repo, int http, const char *username,
                               const char *password, const struct registry_limits *lim);
/* Frees r (NULL is fine), wiping the credentials it negotiated. */
void registry_close(struct registry *r);

/* Whether r answered a registry's 401 (it holds credentials or a token). */
int registry_authenticated(const struct registry *r);

/* Fetches the manifest or index named by reference (a tag or digest) into
 * body (at most 4 MiB) and its media type into *media_type (owned). */
int registry_get_manifest(struct registry *r, const char *reference, struct buf *body,
                          char **media_type, struct err *err);

/* Downloads blobs, up to parallel at once, each streamed through sha256 into
 * its tmp_path and renamed to final_path only when digest and size match.
 * A transfer failing transiently (network, 429, 502-504) is tried twice more.
 * On failure no tmp_path is left and err names the failing blob. */
int registry_fetch_blobs(struct registry *r, const struct registry_blob *blobs, size_t n,
                         int parallel, registry_progress_fn progress, void *arg, struct err *err);

#endif
