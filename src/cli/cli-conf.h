/* cli-conf: where berthd is and who we are, from flags, the environment, the
 * config file (~/.config/berth/config) and, on berthd's own machine, the
 * admin token it wrote at first start. */
#ifndef BERTH_CLI_CONF_H
#define BERTH_CLI_CONF_H

#include "common/err.h"

#define CLI_CONF_DEFAULT_URL      "http://127.0.0.1:7070"
#define CLI_CONF_ADMIN_TOKEN_PATH "/var/lib/berth/admin-token"
#define CLI_CONF_MAX_FILE         65536

/* Where each setting may come from; every field may be NULL. An empty string
 * counts as unset. */
struct cli_conf_sources {
	const char *flag_url, *flag_token; /* --url, --token */
	const char *env_url, *env_token;   /* BERTH_URL, BERTH_TOKEN */
	const char *config_path;           /* the config file; missing is fine */
	const char *admin_token_path;      /* read only with no token and the default URL */
};

struct cli_conf {
	char *url;   /* owned, without trailing '/' */
	char *token; /* owned, NULL when none was found */
};

/* Parses a config file's text: `key = value` lines (keys url and token,
 * values optionally quoted), blank lines and `#` comments. Sets *url and
 * *token (owned, freeing what they held) for the keys present. Returns 0, or
 * -1 with "path:line: sentence" in err. */
int cli_conf_parse(const char *text, const char *path, char **url, char **token, struct err *err);

/* Resolves url and token: flags win over the environment, which wins over the
 * config file; the URL defaults to CLI_CONF_DEFAULT_URL. Returns 0 with out
 * filled (clear it with cli_conf_clear), or -1 with err when the config file
 * cannot be read or parsed, or the URL is not http(s)://. */
int cli_conf_resolve(const struct cli_conf_sources *src, struct cli_conf *out, struct err *err);

/* Frees what c holds. */
void cli_conf_clear(struct cli_conf *c);

/* The config file's path: $XDG_CONFIG_HOME/berth/config, else
 * $HOME/.config/berth/config; owned, NULL when neither variable is set. */
char *cli_conf_default_path(void);

#endif
