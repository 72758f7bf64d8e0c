/* config-yaml: a small YAML tree with the source position of every node, built
 * from libfyaml's event stream, and the error list of the config module.
 *
 * Private to src/config/. The tree already enforces the rules that hold at
 * every level of a config: one document, no anchors, aliases, tags or merge
 * keys, string keys without duplicates, valid UTF-8, bounded nesting.
 */
#ifndef BERTH_CONFIG_YAML_H
#define BERTH_CONFIG_YAML_H

#include <stddef.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/config-types.h"

/* Deepest nesting of sequences and mappings accepted. */
#define CONFIG_YAML_MAX_DEPTH 64

enum config_yaml_kind {
	CONFIG_YAML_NULL,   /* an empty value, `~` or `null` */
	CONFIG_YAML_SCALAR, /* any other scalar */
	CONFIG_YAML_SEQ,
	CONFIG_YAML_MAP,
};

struct config_yaml_node {
	enum config_yaml_kind kind;
	int plain;                       /* scalar was unquoted: it may be a number or a bool */
	int bad;                         /* already reported (merge key, alias, ...): skip it */
	char *text;                      /* owned, NUL-terminated scalar text ("" otherwise) */
	size_t len;                      /* bytes of text */
	struct config_pos pos;           /* where the node starts, 1-based */
	struct config_yaml_node *parent; /* borrowed; NULL for the root */
	size_t idx;                      /* index in parent->items */
	struct config_yaml_node **items; /* owned: sequence items, or map key, value, key, ... */
	size_t n;                        /* entries of items (twice the pairs of a map) */
	size_t cap;
};

/* Parses len bytes of YAML into a tree in *root (NULL for an empty document).
 * Returns 0 with the tree; errs may have gained errors about parts the tree
 * marks `bad` (anchors, aliases, tags, merge keys, duplicate keys), so the
 * caller can go on and report more. Returns -1 with *root NULL when the text is
 * not YAML at all (syntax errors, NUL bytes, bad UTF-8, too deep). The caller
 * frees the tree with config_yaml_free(). */
int config_yaml_parse(const char *text, size_t len, struct config_yaml_node **root,
                      struct config_errors *errs);

/* Frees a tree; NULL is fine. */
void config_yaml_free(struct config_yaml_node *n);

/* The value of key in map n, or NULL (also when n is not a map). */
const struct config_yaml_node *config_yaml_get(const struct config_yaml_node *n, const char *key);

/* Appends n's key path ("containers[0].env[1]") to b; the root adds nothing. */
void config_yaml_path(const struct config_yaml_node *n, struct buf *b);

/* Appends one error with a formatted sentence. */
void config_error_add(struct config_errors *errs, struct config_pos pos, const char *key_path,
                      const char *fmt, ...) BERTH_PRINTF(4, 5);

/* Appends one error about node n, named by n's key path (plus ".suffix" when
 * suffix is not NULL), at n's position. */
void config_error_at(struct config_errors *errs, const struct config_yaml_node *n,
                     const char *suffix, const char *fmt, ...) BERTH_PRINTF(4, 5);

/* v as the user wrote it (a scalar quoted and shortened, else its kind),
 * for messages: into out, which is returned. */
const char *config_yaml_shown(const struct config_yaml_node *v, char out[72]);

#endif
