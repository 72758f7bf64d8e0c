/* image-types: what an image pull yields, shared by the image cache, the
 * runtime (OCI bundles) and the reconciler. Every field is owned. */
#ifndef BERTH_IMAGE_TYPES_H
#define BERTH_IMAGE_TYPES_H

#include <stdint.h>

/* The runnable part of an OCI image config ("config" object of the image
 * configuration JSON). */
struct image_config {
	char **entrypoint;      /* owned strv or NULL */
	char **cmd;             /* owned strv or NULL */
	char **env;             /* owned strv of "KEY=value" or NULL */
	char *user;             /* owned or NULL */
	char *working_dir;      /* owned or NULL */
	char *stop_signal;      /* owned or NULL */
	char **healthcheck;     /* owned strv (docker's Healthcheck.Test) or NULL */
	int64_t hc_interval_ms; /* 0 when absent */
	int64_t hc_timeout_ms;
	int64_t hc_start_period_ms;
	int hc_retries;
};

/* A pulled, verified image: its digests and where its unpacked rootfs lives. */
struct image {
	char *ref;             /* owned "name[:tag]@sha256:..." as asked */
	char *manifest_digest; /* owned "sha256:..." of the manifest actually used */
	char *config_digest;   /* owned "sha256:..." of the image config blob */
	char **layers;         /* owned strv of layer digests, bottom first */
	struct image_config config;
};

#endif
