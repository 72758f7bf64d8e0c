/* image: verified pulls of OCI images into a content-addressed cache, and
 * their unpacking into a root filesystem.
 *
 * A pull is blocking and may run on any thread, alongside other pulls of the
 * same cache. Every blob is checked against its sha256 while it streams and
 * enters the cache (<dir>/blobs/sha256/<hex>) only after it matched, so a blob
 * in the cache is trusted by its name afterwards. */
#ifndef BERTH_IMAGE_H
#define BERTH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "image/image-types.h"

/* Credentials for one registry host ("registry.example.com", "10.0.0.2:5000"). */
struct image_registry_auth {
	const char *host;     /* borrowed */
	const char *username; /* borrowed */
	const char *password; /* borrowed */
};

/* How to reach registries. A NULL settings pointer means anonymous access and
 * plain HTTP to loopback registries only. */
struct image_settings {
	const struct image_registry_auth *auths; /* borrowed array of n_auths */
	size_t n_auths;
	/* Hosts (with or without ":port") spoken to over plain HTTP; loopback
	 * hosts (127.0.0.1, localhost, ::1) always are. Borrowed strv or NULL. */
	char *const *insecure_hosts;
	int max_parallel; /* concurrent blob downloads; 0 means 4 */
	/* Deadlines of a pull (0: the defaults, 30 s, 60 s, none), and a flag
	 * (borrowed or NULL) that cancels it: each reaches a stuck registry. */
	long connect_s;            /* to accept a connection */
	long idle_s;               /* of silence, an answer awaited included */
	int64_t timeout_ms;        /* for the whole pull */
	const _Atomic int *cancel; /* non-zero ends the pull (ECANCELED) */
};

/* A parsed "[host/]name[:tag][@sha256:<hex>]". */
struct image_ref {
	char *host;   /* owned, "127.0.0.1:5000" */
	char *name;   /* owned repository path, "team/app" */
	char *tag;    /* owned or NULL */
	char *digest; /* owned "sha256:<64 hex>" or NULL */
};

struct image_cache;

/* Progress of a pull: bytes of the image's blobs present so far out of total,
 * called at each new percent. Returns 0 to go on, non-zero to cancel the pull
 * (it then fails with ECANCELED, leaving no partial blob). */
typedef int (*image_progress_fn)(uint64_t done, uint64_t total, void *arg);

/* Parses ref; the registry host is the part before the first '/' when it has
 * a '.' or ':' or is "localhost". Returns 0, or -1 with err naming the fault. */
int image_ref_parse(const char *ref, struct image_ref *out, struct err *err);
/* Frees what r owns and zeroes it. */
void image_ref_clear(struct image_ref *r);

/* Opens (creating it if needed) the cache under dir; *out is owned by the
 * caller, released with image_cache_close(). Leftover temporary files of an
 * earlier run are removed, so open a cache once per process. */
int image_cache_open(const char *dir, struct image_cache **out, struct err *err);
/* Frees cache (NULL is fine); no pull or unpack may still use it. */
void image_cache_close(struct image_cache *cache);

/* Path of the cached blob of digest ("sha256:<hex>"), owned by the caller;
 * NULL when digest is malformed. The blob may not exist. */
char *image_cache_blob_path(struct image_cache *cache, const char *digest);

/* Pulls ref (the image for linux/amd64 when ref names an index), verifying
 * every manifest and blob; progress (may be NULL) is called on this thread.
 * On success *out is a new image owned by the caller (image_free). */
int image_pull(struct image_cache *cache, const struct image_settings *settings, const char *ref,
               image_progress_fn progress, void *arg, struct image **out, struct err *err);

/* The caps of unpacking one image (all its layers together), against layer
 * bombs. Bytes are what the entries' headers declare (a sparse file counts
 * its full size): 256 GiB holds the largest model images (a 70B-parameter
 * model in fp16 is ~140 GB). Entries bound the inodes and the memory of one
 * unpack: 2 million is ~10 times the file count of the largest common images
 * (CUDA, PyTorch distributions), and fewer than the inodes of a 64 GiB ext4
 * filesystem. */
#define IMAGE_MAX_BYTES_DEFAULT   (256ull << 30)
#define IMAGE_MAX_ENTRIES_DEFAULT 2000000ull

/* Sets the caps of every later image_unpack*() of cache; 0 keeps a cap at
 * its default. */
void image_cache_set_unpack_caps(struct image_cache *cache, uint64_t max_bytes,
                                 uint64_t max_entries);

/* Unpacks img's layers, bottom first, into rootfs_dir, which must not exist:
 * the layers go to a temporary sibling renamed into place at the end, so a
 * failure leaves nothing behind. Refuses entries escaping the rootfs, layers
 * compressed other than as OCI allows (gzip, zstd, none: no decompressor
 * program is ever run) and images past the cache's caps (checked at each
 * entry, before its data is written). Device nodes are not created; FIFOs,
 * like other files, are. */
int image_unpack(struct image_cache *cache, const struct image *img, const char *rootfs_dir,
                 struct err *err);

/* image_unpack() with every owner shifted by id_base: uid u of a layer is
 * written as id_base + u (gids alike), for an enclave whose user namespace
 * maps 0..id_count-1 there; an id at or past id_count is refused. */
int image_unpack_shifted(struct image_cache *cache, const struct image *img, const char *rootfs_dir,
                         unsigned id_base, unsigned id_count, struct err *err);

/* Loads an image from the cache alone: ref must carry a digest whose
 * manifest (and blobs) are cached. *out is owned by the caller. */
int image_load(struct image_cache *cache, const char *ref, struct image **out, struct err *err);

/* Removes every cached blob that no image of keep_refs (a strv of refs with
 * a digest, or bare "sha256:..." digests; NULL keeps nothing) references.
 * Waits for running pulls; *removed (may be NULL) gets the count. */
int image_cache_gc(struct image_cache *cache, char *const *keep_refs, size_t *removed,
                   struct err *err);

/* Parses an image configuration JSON (the blob a manifest's config names)
 * into cfg, which the caller clears with image_config_clear(). */
int image_config_parse(const char *json, size_t len, struct image_config *cfg, struct err *err);
/* Frees what cfg owns and zeroes it. */
void image_config_clear(struct image_config *cfg);

/* Frees img and everything it owns; NULL is fine. */
void image_free(struct image *img);

#endif
