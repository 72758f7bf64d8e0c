/* cli-conf: where berthd is and who we are. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-conf.h"
#include "common/util.h"

static int
is_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Trims blanks at both ends of s[0..*n), in place; returns the new start. */
static const char *
trim(const char *s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)s[0])) {
		s++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)s[*n - 1]))
		(*n)--;
	return s;
}

int
cli_conf_parse(const char *text, const char *path, char **url, char **token, struct err *err)
{
	const char *line = text, *eol, *eq, *key, *val;
	size_t klen, vlen;
	int lineno = 0;

	for (; *line != '\0'; line = *eol != '\0' ? eol + 1 : eol) {
		char **dst;

		lineno++;
		eol = strchr(line, '\n');
		if (eol == NULL)
			eol = line + strlen(line);
		klen = (size_t)(eol - line);
		key = trim(line, &klen);
		if (klen == 0 || key[0] == '#')
			continue;
		eq = memchr(key, '=', klen);
		if (eq == NULL)
			return err_make(err, 0, "%s:%d: expected \"key = value\"", path, lineno);
		vlen = (size_t)(key + klen - (eq + 1));
		val = trim(eq + 1, &vlen);
		klen = (size_t)(eq - key);
		key = trim(key, &klen);
		if (klen == 3 && memcmp(key, "url", 3) == 0)
			dst = url;
		else if (klen == 5 && memcmp(key, "token", 5) == 0)
			dst = token;
		else
			return err_make(err, 0,
			                "%s:%d: unknown key \"%.*s\" (url and token are known)",
			                path, lineno, (int)klen, key);
		if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') && val[vlen - 1] == val[0]) {
			val++;
			vlen -= 2;
		}
		if (vlen == 0)
			return err_make(err, 0, "%s:%d: %.*s has no value", path, lineno, (int)klen,
			                key);
		free(*dst);
		*dst = xstrndup(val, vlen);
	}
	return 0;
}

/* Reads the first line of the admin token file, or NULL when it cannot be
 * read (not berthd's machine, or not its user): that is not an error. */
static char *
admin_token_read(const char *path)
{
	struct err ignored = ERR_INIT;
	char *text = NULL, *tok;
	size_t len, n;

	if (file_read_all(path, 4096, &text, &len, &ignored) < 0)
		return NULL;
	n = strcspn(text, "\r\n");
	tok = xstrndup(text, n);
	free(text);
	n = strlen(tok);
	if (n == 0 || strchr(tok, ' ') != NULL) {
		free(tok);
		return NULL;
	}
	return tok;
}

int
cli_conf_resolve(const struct cli_conf_sources *src, struct cli_conf *out, struct err *err)
{
	char *file_url = NULL, *file_token = NULL, *text = NULL;
	const char *url;
	size_t len, n;
	int rc = -1;

	out->url = NULL;
	out->token = NULL;
	if (is_set(src->config_path)) {
		if (file_read_all(src->config_path, CLI_CONF_MAX_FILE, &text, &len, err) < 0) {
			if (err->code != ENOENT)
				goto out;
			err_clear(err);
		} else if (cli_conf_parse(text, src->config_path, &file_url, &file_token, err) <
		           0) {
			goto out;
		}
	}
	url = is_set(src->flag_url)  ? src->flag_url
	      : is_set(src->env_url) ? src->env_url
	      : is_set(file_url)     ? file_url
	                             : CLI_CONF_DEFAULT_URL;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		err_make(err, 0,
		         "the URL of berthd must start with http:// or https://, not \"%s\"", url);
		goto out;
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	out->url = xstrndup(url, n);
	if (is_set(src->flag_token))
		out->token = xstrdup(src->flag_token);
	else if (is_set(src->env_token))
		out->token = xstrdup(src->env_token);
	else if (is_set(file_token))
		out->token = xstrdup(file_token);
	else if (is_set(src->admin_token_path) && strcmp(out->url, CLI_CONF_DEFAULT_URL) == 0)
		out->token = admin_token_read(src->admin_token_path);
	rc = 0;
out:
	free(text);
	free(file_url);
	free(file_token);
	if (rc < 0)
		cli_conf_clear(out);
	return rc;
}

void
cli_conf_clear(struct cli_conf *c)
{
	free(c->url);
	free(c->token);
	c->url = NULL;
	c->token = NULL;
}

char *
cli_conf_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (is_set(xdg) && xdg[0] == '/')
		return xasprintf("%s/berth/config", xdg);
	if (is_set(home))
		return xasprintf("%s/.config/berth/config", home);
	return NULL;
}
