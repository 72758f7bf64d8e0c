/* api-json: the API's objects (API.md "Objects") rendered from store records,
 * and the checks every request body goes through.
 *
 * Renderers return a new reference the caller owns. Body checks answer the
 * request themselves (422 naming the field) and return -1, so a handler
 * writes `if (api_json_check_fields(r, body, allowed) < 0) goto out;`.
 */
#ifndef BERTH_API_JSON_H
#define BERTH_API_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "api/api-server.h"
#include "common/err.h"
#include "store/store-types.h"

struct berthd;

/* An RFC 3339 UTC string of epoch milliseconds, or null for 0. */
json_t *api_json_time(int64_t ms);

/* A deployment object. */
json_t *api_json_deployment(const struct store_deployment *dep);

/* An update object. */
json_t *api_json_update(const struct store_update *u);

/* An event object. */
json_t *api_json_event(const struct store_event *ev);

/* A secret as listed: name, times, bound_to; never its value. */
json_t *api_json_secret(const struct store_secret *s);

/* The container object of c (of the org named org_name), with its deployment,
 * latest update and external settings read from d's store. Returns 0 and a
 * new object in *out, or negative with err. Loop thread only. */
int api_json_container(struct berthd *d, const char *org_name, const struct store_container *c,
                       json_t **out, struct err *err);

/* Answers 422 naming the first key of body not in the NULL-terminated
 * allowed list and returns -1; 0 when every key is known. */
int api_json_check_fields(struct api_req *r, json_t *body, const char *const *allowed);

/* The string field key of body into *out (borrowed; NULL when absent or, with
 * nullable, null). Answers 422 and returns -1 when it has another type. */
int api_json_get_string(struct api_req *r, json_t *body, const char *key, int nullable,
                        const char **out);

/* The boolean field key of body into *out (unchanged when absent). Answers
 * 422 and returns -1 when it has another type. */
int api_json_get_bool(struct api_req *r, json_t *body, const char *key, int *out);

/* The field key of body, a list of secret names, into *out (a new strv, NULL
 * for an empty list; *present says whether the key was given). Answers 422
 * and returns -1 when it is not a list of valid names. */
int api_json_get_secret_names(struct api_req *r, json_t *body, const char *key, char ***out,
                              int *present);

/* The field key of body, an object of environment variable name -> string
 * value, into *out (a new reference, NULL when absent). Answers 422 and
 * returns -1 when a name or a value is not acceptable. */
int api_json_get_env(struct api_req *r, json_t *body, const char *key, json_t **out);

/* Whether s is a DNS label: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?. 1 or 0. */
int api_json_dns_label(const char *s);

#endif
