/* image_config: the runnable part of an OCI image configuration. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "image/image.h"

void
image_config_clear(struct image_config *cfg)
{
	strv_free(cfg->entrypoint);
	strv_free(cfg->cmd);
	strv_free(cfg->env);
	strv_free(cfg->healthcheck);
	free(cfg->user);
	free(cfg->working_dir);
	free(cfg->stop_signal);
	memset(cfg, 0, sizeof *cfg);
}

/* A JSON array of strings (or null/absent: NULL) as a strv. */
static int
get_strv(json_t *obj, const char *key, char ***out, struct err *err)
{
	json_t *a = json_object_get(obj, key), *s;
	size_t i;

	*out = NULL;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return err_make(err, EINVAL, "config.%s: not an array of strings", key);
	for (i = 0; i < json_array_size(a) && (s = json_array_get(a, i)) != NULL; i++) {
		if (!json_is_string(s)) {
			strv_free(take_ptr(out));
			return err_make(err, EINVAL, "config.%s[%zu]: not a string", key, i);
		}
		*out = strv_push(*out, json_string_value(s));
	}
	if (*out == NULL) /* [] stays an empty list, unlike an absent key */
		*out = xcalloc(1, sizeof **out);
	return 0;
}

static int
get_str(json_t *obj, const char *key, char **out, struct err *err)
{
	json_t *s = json_object_get(obj, key);

	*out = NULL;
	if (s == NULL || json_is_null(s))
		return 0;
	if (!json_is_string(s))
		return err_make(err, EINVAL, "config.%s: not a string", key);
	if (json_string_length(s) > 0)
		*out = xstrdup(json_string_value(s));
	return 0;
}

/* A duration in nanoseconds, as milliseconds. */
static int
get_ns_as_ms(json_t *obj, const char *key, int64_t *out, struct err *err)
{
	json_t *v = json_object_get(obj, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_make(err, EINVAL, "config.Healthcheck.%s: not a duration in ns", key);
	*out = json_integer_value(v) / 1000000;
	return 0;
}

int
image_config_parse(const char *json, size_t len, struct image_config *cfg, struct err *err)
{
	struct image_config c = {0};
	json_t *root, *conf, *hc, *retries;
	json_error_t jerr;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	root = json_loadb(json, len, 0, &jerr);
	if (root == NULL || !json_is_object(root)) {
		err_make(err, EINVAL, "image config: bad JSON at line %d: %s", jerr.line,
		         root ? "not an object" : jerr.text);
		goto out;
	}
	conf = json_object_get(root, "config");
	if (conf == NULL || json_is_null(conf)) {
		rc = 0;
		goto out;
	}
	if (!json_is_object(conf)) {
		err_make(err, EINVAL, "image config: config is not an object");
		goto out;
	}
	if (get_strv(conf, "Entrypoint", &c.entrypoint, err) < 0 ||
	    get_strv(conf, "Cmd", &c.cmd, err) < 0 || get_strv(conf, "Env", &c.env, err) < 0 ||
	    get_str(conf, "User", &c.user, err) < 0 ||
	    get_str(conf, "WorkingDir", &c.working_dir, err) < 0 ||
	    get_str(conf, "StopSignal", &c.stop_signal, err) < 0)
		goto out;
	hc = json_object_get(conf, "Healthcheck");
	if (hc != NULL && !json_is_null(hc)) {
		if (!json_is_object(hc)) {
			err_make(err, EINVAL, "config.Healthcheck: not an object");
			goto out;
		}
		if (get_strv(hc, "Test", &c.healthcheck, err) < 0 ||
		    get_ns_as_ms(hc, "Interval", &c.hc_interval_ms, err) < 0 ||
		    get_ns_as_ms(hc, "Timeout", &c.hc_timeout_ms, err) < 0 ||
		    get_ns_as_ms(hc, "StartPeriod", &c.hc_start_period_ms, err) < 0)
			goto out;
		retries = json_object_get(hc, "Retries");
		if (retries != NULL && !json_is_null(retries)) {
			if (!json_is_integer(retries) || json_integer_value(retries) < 0 ||
			    json_integer_value(retries) > 1000000) {
				err_make(err, EINVAL, "config.Healthcheck.Retries: not a count");
				goto out;
			}
			c.hc_retries = (int)json_integer_value(retries);
		}
	}
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		image_config_clear(&c);
	else
		*cfg = c;
	return rc;
}
