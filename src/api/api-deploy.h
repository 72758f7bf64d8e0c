/* api-deploy: what creating a container and updating one share: reading
 * tinfoil-config.yml of a source at a tag (on a worker), checking a config
 * and the secrets it needs, writing a deployment with its bindings, and the
 * GPU counts the update strategy is chosen from. */
#ifndef BERTH_API_DEPLOY_H
#define BERTH_API_DEPLOY_H

#include <jansson.h>
#include <stddef.h>

#include "api/api-common.h"
#include "api/api-server.h"
#include "api/api-source.h"
#include "common/err.h"
#include "config/config-types.h"
#include "source/source.h"
#include "store/store-types.h"

struct berthd;

/* The config file of repo at tag, read off the loop by api_fetch_run(). */
struct api_fetch {
	char *cache_dir;                /* owned, in: <state>/sources */
	const struct source_opts *opts; /* borrowed, in: the daemon's */
	char *repo;                     /* owned, in: as the request gave it */
	char *tag;                      /* owned, in; NULL: no file to read */
	int list_tags;                  /* in: list the tags, each validated */
	int synced;                     /* in: the mirror is fresh: open it, do not fetch */
	int64_t age_s; /* out of api_fetch_job_start(): the mirror's age, -1 unknown */
	enum api_source_result source; /* out of api_fetch_job_start(): how its wait ended */
	struct err source_err;         /* out: with source API_SOURCE_FAILED, why */
	char *url;                     /* owned, out: the mirror's URL (a path made absolute) */
	char *text;                    /* owned, out: the file at the tag */
	char commit[41];               /* out: the tag's commit, with text */
	size_t len;
	struct source_tag *tags; /* owned, out: with list_tags, newest first */
	size_t n_tags;
	enum {
		API_FETCH_SYNC,
		API_FETCH_TAG,
		API_FETCH_READ,
		API_FETCH_TAGS
	} stage;        /* out: where it failed */
	int rc;         /* out: 0 or negative with err */
	struct err err; /* out */
};

/* Fills f's inputs for d (tag may be NULL to only sync). */
void api_fetch_init(struct api_fetch *f, struct berthd *d, const char *repo, const char *tag);

/* Syncs the source (or opens it, f->synced) and reads its config at the
 * tag. Blocks: worker only. */
void api_fetch_run(struct api_fetch *f);

/* A request's job that needs its source first (a create, a tag update, a
 * tag list), the first member of the job's struct. */
struct api_fetch_job {
	struct api_fetch fetch;
	/* On the loop once fetched and checked (api_fetch_check(), or with
	 * use_stale api_fetch_check_copy()); takes the job. */
	void (*fetched)(struct api_req *r, struct api_fetch_job *job);
	/* Or NULL (504): on the loop when the source is still being fetched
	 * after the API's wait (the fetch goes on); takes the job. */
	void (*waiting)(struct api_req *r, struct api_fetch_job *job);
	/* Frees the job: its fetch refused (answered), its client gone. */
	void (*free)(struct api_fetch_job *job);
	int use_stale; /* set by api_fetch_job_start() */
};

/* Once job's source was fetched (a fetch at most fresh_ms old will do),
 * api_fetch_run() on the API's pool, then job->fetched: the API never
 * waits on a source longer than API_SOURCE_WAIT_MS. A source still being
 * fetched then: with use_stale, the mirror is read as it is (fetch.source
 * says so); else job->waiting, or 504. A failed fetch is refused at once. */
void api_fetch_job_start(struct api_req *r, struct berthd *d, struct api_fetch_job *job,
                         int64_t fresh_ms, int use_stale);

/* Why a request is refused: what the API answers, or what a container
 * created before its source was fetched is failed with. */
struct api_refusal {
	int status;       /* 422, 500 */
	const char *code; /* static: "invalid_config" */
	char *message;    /* owned: the sentence */
};

/* Answers why (its JSON error) and clears it. */
void api_refusal_reply(struct api_req *r, struct api_refusal *why);
void api_refusal_clear(struct api_refusal *why);

/* 0 when f succeeded, else -1 with why filled. */
int api_fetch_refusal(const struct api_fetch *f, struct api_refusal *why);

/* Answers 422 for a failed fetch and returns -1; 0 when it succeeded. */
int api_fetch_check(struct api_req *r, const struct api_fetch *f);

/* api_fetch_check() for a fetch started with use_stale: when berth's copy
 * was read because the source had not answered (or failed), a missing copy
 * or tag answers 504 (or the fetch's failure, 422), not "unknown". */
int api_fetch_check_copy(struct api_req *r, const struct api_fetch *f);

/* Frees f's strings. */
void api_fetch_clear(struct api_fetch *f);

/* What a new deployment is made of. */
struct api_deploy_spec {
	const char *file;   /* the config's name in errors: "config", "tinfoil-config.yml@v2" */
	const char *config; /* borrowed: the exact YAML text */
	size_t config_len;
	const char *tag;    /* borrowed or NULL */
	const char *commit; /* borrowed or NULL: the tag's commit */
	int debug;
	char *const *secrets;  /* borrowed strv: names bound besides the config's own */
	json_t *env;           /* borrowed object or NULL: the external settings snapshot */
	const char *isolation; /* borrowed or NULL: the level of the deployment copied; NULL
	                        * resolves it: the config's deploy.isolation, else the
	                        * host's default */
};

/* Parses and checks spec for r's org: a valid config, an isolation level
 * this host offers, every secret bound (spec's and the config's) an existing
 * secret of the org. Fills dep (not yet stored; its isolation and measurement
 * resolved) and, when cfg is not NULL, the parsed config (caller frees).
 * Answers 422 (or 500) and returns -1 otherwise. Loop thread. */
int api_deploy_prepare(struct api_req *r, struct berthd *d, const struct api_deploy_spec *spec,
                       struct store_deployment *dep, struct config **cfg);

/* api_deploy_prepare() for the org of who, answering nothing: -1 with why
 * filled instead. Loop thread. */
int api_deploy_check(struct berthd *d, const struct api_principal *who,
                     const struct api_deploy_spec *spec, struct store_deployment *dep,
                     struct config **cfg, struct api_refusal *why);

/* Stores dep (filling its id) as a deployment of container_id, with a binding
 * per secret name. Meant for the caller's transaction. */
int api_deploy_write(struct berthd *d, const char *container_id, struct store_deployment *dep,
                     struct err *err);

/* The names of a JSON array of strings (a deployment's secrets_json, a
 * pending create's "secrets") as an owned strv; NULL when none. */
char **api_deploy_names_of(const char *json_names);

/* The container's external settings as an owned object. */
int api_deploy_settings_of(struct berthd *d, const char *container_id, json_t **out,
                           struct err *err);

/* 0 when every name (a strv; NULL is fine) is a secret of who's org, else
 * -1 with why. */
int api_deploy_check_names(struct berthd *d, const struct api_principal *who, char *const *names,
                           struct api_refusal *why);

/* GPUs of the host for the strategy (settings.gpus; 0 when undetected). */
int api_deploy_host_gpus(struct berthd *d);

/* GPUs a stored config takes on the host (0 when it does not parse). */
int api_deploy_config_gpus(const char *config, int host_gpus);

/* GPUs taken on the host by the current deployments of every container but
 * container_id, of every org. */
int api_deploy_gpus_in_use(struct berthd *d, const char *container_id, int host_gpus, int *out,
                           struct err *err);

#endif
