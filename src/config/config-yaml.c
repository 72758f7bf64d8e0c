/* config-yaml: libfyaml's events into a positioned tree, and config errors.
 *
 * libfyaml 0.7 has no public way to get the position of a document node, but
 * every event carries its start mark, so the tree is built from events. Its
 * diagnostics are collected (never printed) and become config errors.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "config/config-yaml.h"

void
config_error_add(struct config_errors *errs, struct config_pos pos, const char *key_path,
                 const char *fmt, ...)
{
	struct config_error *e;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		log_fatal("out of memory");
	va_end(ap);
	errs->items = xreallocarray(errs->items, errs->n + 1, sizeof(*errs->items));
	e = &errs->items[errs->n++];
	e->pos = pos;
	e->key_path = xstrdup(key_path != NULL ? key_path : "");
	e->message = msg;
}

void
config_error_at(struct config_errors *errs, const struct config_yaml_node *n, const char *suffix,
                const char *fmt, ...)
{
	struct buf path = BUF_INIT;
	va_list ap;
	char *msg;

	config_yaml_path(n, &path);
	if (suffix != NULL) {
		if (path.len > 0)
			buf_putc(&path, '.');
		buf_puts(&path, suffix);
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		log_fatal("out of memory");
	va_end(ap);
	config_error_add(errs, n->pos, path.data != NULL ? path.data : "", "%s", msg);
	free(msg);
	buf_free(&path);
}

void
config_yaml_path(const struct config_yaml_node *n, struct buf *b)
{
	const struct config_yaml_node *p;

	if (n == NULL || n->parent == NULL)
		return;
	p = n->parent;
	config_yaml_path(p, b);
	if (p->kind == CONFIG_YAML_SEQ) {
		buf_printf(b, "[%zu]", n->idx);
		return;
	}
	/* A key and its value share the path "parent.key". */
	if (b->len > 0)
		buf_putc(b, '.');
	buf_puts(b, p->items[n->idx & ~(size_t)1]->text);
}

const struct config_yaml_node *
config_yaml_get(const struct config_yaml_node *n, const char *key)
{
	size_t i;

	if (n == NULL || n->kind != CONFIG_YAML_MAP)
		return NULL;
	for (i = 0; i + 1 < n->n; i += 2)
		if (n->items[i]->kind == CONFIG_YAML_SCALAR && strcmp(n->items[i]->text, key) == 0)
			return n->items[i + 1];
	return NULL;
}

void
config_yaml_free(struct config_yaml_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		config_yaml_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. Rejects
 * overlong forms, surrogates and code points past U+10FFFF. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Offset of the first NUL or invalid UTF-8 byte of s, or n when there is none. */
static size_t
text_check(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		if (u[i] == '\0')
			return i;
		l = utf8_seq_len(u + i, n - i);
		if (l == 0)
			return i;
		i += l;
	}
	return n;
}

/* The 1-based line and column of byte off of text (columns count characters). */
static struct config_pos
text_pos(const char *text, size_t off)
{
	struct config_pos pos = {1, 1};
	size_t i;

	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			pos.line++;
			pos.column = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			pos.column++;
		}
	}
	return pos;
}

static struct config_pos
mark_pos(const struct fy_mark *m, struct config_pos fallback)
{
	struct config_pos pos;

	if (m == NULL || m->line < 0 || m->column < 0)
		return fallback;
	pos.line = m->line + 1;
	pos.column = m->column + 1;
	return pos;
}

static void
diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag, (void)user, (void)buf, (void)len;
}

struct builder {
	const char *text; /* borrowed: the input, to place anchors and aliases */
	size_t len;
	struct config_errors *errs;
	struct config_yaml_node *root;
	struct config_yaml_node *cur; /* the open sequence or mapping */
	int depth;
	int docs;
	struct config_pos last; /* for nodes without a mark (empty values) */
};

static int
key_cmp(const void *a, const void *b)
{
	const struct config_yaml_node *x = *(struct config_yaml_node *const *)a;
	const struct config_yaml_node *y = *(struct config_yaml_node *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->text, y->text, n);

	if (r != 0)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Reports keys that appear twice in map (sorted, so large maps stay fast). */
static void
check_duplicate_keys(struct builder *bd, struct config_yaml_node *map)
{
	struct config_yaml_node **keys;
	size_t i, nk = 0;

	if (map->n < 4)
		return;
	keys = xreallocarray(NULL, map->n / 2, sizeof(*keys));
	for (i = 0; i + 1 < map->n; i += 2)
		if (map->items[i]->kind == CONFIG_YAML_SCALAR && !map->items[i]->bad)
			keys[nk++] = map->items[i];
	qsort(keys, nk, sizeof(*keys), key_cmp);
	for (i = 1; i < nk; i++) {
		size_t first = i - 1;

		while (first > 0 && keys[first - 1]->len == keys[i]->len &&
		       memcmp(keys[first - 1]->text, keys[i]->text, keys[i]->len) == 0)
			first--;
		if (keys[i]->len != keys[i - 1]->len ||
		    memcmp(keys[i]->text, keys[i - 1]->text, keys[i]->len) != 0)
			continue;
		config_error_at(bd->errs, keys[i], NULL, "duplicate key; first defined at line %d",
		                keys[first]->pos.line);
		keys[i]->bad = 1;
	}
	free(keys);
}

/* Reports what token (an anchor or a tag) of node n is not allowed, at the
 * token. n stays in the tree: its content is still read and checked. */
/* The position of a mark that libfyaml puts after the & of an anchor, the *
 * of an alias or the opening quote of a scalar, moved back onto it. */
static struct config_pos
sigil_pos(struct builder *bd, const struct fy_mark *m, struct config_pos fallback, char sigil)
{
	struct config_pos pos = mark_pos(m, fallback);

	if (m != NULL && m->input_pos > 0 && m->input_pos <= bd->len &&
	    bd->text[m->input_pos - 1] == sigil && pos.column > 1)
		pos.column--;
	return pos;
}

static void
token_error(struct builder *bd, struct config_yaml_node *n, struct fy_token *t, const char *msg)
{
	struct buf path = BUF_INIT;

	config_yaml_path(n, &path);
	config_error_add(bd->errs, sigil_pos(bd, fy_token_start_mark(t), n->pos, '&'),
	                 path.data != NULL ? path.data : "", "%s", msg);
	buf_free(&path);
}

/* Links a new node into the tree and checks what it may not be or carry. */
static struct config_yaml_node *
node_add(struct builder *bd, enum config_yaml_kind kind, struct config_pos pos,
         struct fy_token *anchor, struct fy_token *tag)
{
	struct config_yaml_node *n = xcalloc(1, sizeof(*n)), *p = bd->cur;

	n->kind = kind;
	n->pos = pos;
	n->text = xstrdup("");
	bd->last = pos;
	if (p == NULL) {
		bd->root = n;
	} else {
		if (p->n == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 4;
			p->items = xreallocarray(p->items, p->cap, sizeof(*p->items));
		}
		n->parent = p;
		n->idx = p->n;
		p->items[p->n++] = n;
	}
	if (anchor != NULL)
		token_error(bd, n, anchor, "anchors (&name) are not supported");
	if (tag != NULL)
		token_error(bd, n, tag, "tags (!tag) are not supported");
	return n;
}

/* Checks the key that node n would be in a mapping, once its text is known. */
static void
key_check(struct builder *bd, struct config_yaml_node *n)
{
	struct config_yaml_node *p = n->parent;

	if (p == NULL || p->kind != CONFIG_YAML_MAP || (n->idx & 1) != 0)
		return;
	if (n->kind != CONFIG_YAML_SCALAR) {
		/* The path of a key names the key itself, so use the map's. */
		config_error_at(bd->errs, p, NULL, "line %d: mapping keys must be strings",
		                n->pos.line);
		n->bad = 1;
	} else if (n->plain && strcmp(n->text, "<<") == 0) {
		config_error_at(bd->errs, n, NULL, "merge keys (<<) are not supported");
		n->bad = 1;
	}
}

/* Decodes the content of a single-quoted scalar starting at s (just after the
 * opening quote): '' is a quote, a line break folds into a space, n empty
 * lines into n newlines, and spaces around breaks go. Returns owned text. */
static char *
single_quoted_text(const char *s, const char *end, size_t *len)
{
	struct buf b = BUF_INIT;
	size_t ws_from = (size_t)-1;
	int breaks = 0, line_start = 0;

	buf_puts(&b, "");
	for (; s < end; s++) {
		char c = *s;

		if (c == '\'' && (s + 1 >= end || s[1] != '\''))
			break; /* the closing quote */
		if (c == '\r' || c == '\n') {
			if (ws_from != (size_t)-1)
				b.len = ws_from;
			ws_from = (size_t)-1;
			if (c == '\r' && s + 1 < end && s[1] == '\n')
				s++;
			breaks++;
			line_start = 1;
			continue;
		}
		if (line_start && (c == ' ' || c == '\t'))
			continue;
		if (line_start) {
			if (breaks == 1)
				buf_putc(&b, ' ');
			for (; breaks > 1; breaks--)
				buf_putc(&b, '\n');
			breaks = 0;
			line_start = 0;
		}
		if (c == ' ' || c == '\t') {
			if (ws_from == (size_t)-1)
				ws_from = b.len;
		} else {
			ws_from = (size_t)-1;
		}
		if (c == '\'')
			s++; /* '' */
		buf_putc(&b, c);
	}
	if (line_start) {
		if (breaks == 1)
			buf_putc(&b, ' ');
		for (; breaks > 1; breaks--)
			buf_putc(&b, '\n');
	}
	b.data[b.len] = '\0';
	*len = b.len;
	return buf_take(&b);
}

/* The text of a scalar token, escapes resolved, as an owned NUL-terminated
 * string. libfyaml 0.7 leaks the buffer it formats some single-quoted scalars
 * into (runs of ''), and its token iterator misreads them, so those are
 * decoded here from the input. */
static char *
token_text(struct builder *bd, struct fy_token *fyt, size_t *len)
{
	const struct fy_mark *m = fy_token_start_mark(fyt);
	const char *t;

	if (fy_token_scalar_style(fyt) == FYSS_SINGLE_QUOTED && m != NULL && m->input_pos > 0 &&
	    m->input_pos <= bd->len && bd->text[m->input_pos - 1] == '\'')
		return single_quoted_text(bd->text + m->input_pos, bd->text + bd->len, len);
	t = fy_token_get_text(fyt, len);
	if (t == NULL)
		t = "", *len = 0;
	return xstrndup(t, *len);
}

static int
on_event(struct builder *bd, struct fy_event *e)
{
	struct config_pos pos = mark_pos(fy_event_start_mark(e), bd->last);
	struct config_yaml_node *n;
	const char *t;
	size_t len, bad;

	switch (e->type) {
	case FYET_DOCUMENT_START:
		if (++bd->docs > 1) {
			config_error_add(bd->errs, pos, "",
			                 "only one YAML document is allowed (found a second one)");
			return -1;
		}
		return 0;
	case FYET_SCALAR:
		n = node_add(bd, CONFIG_YAML_SCALAR, pos, e->scalar.anchor, e->scalar.tag);
		if (e->scalar.value == NULL) {
			n->kind = CONFIG_YAML_NULL;
			n->plain = 1;
			break;
		}
		n->plain = fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
		if (fy_token_scalar_style(e->scalar.value) == FYSS_DOUBLE_QUOTED)
			n->pos = sigil_pos(bd, fy_event_start_mark(e), pos, '"');
		else if (fy_token_scalar_style(e->scalar.value) == FYSS_SINGLE_QUOTED)
			n->pos = sigil_pos(bd, fy_event_start_mark(e), pos, '\'');
		free(n->text);
		n->text = token_text(bd, e->scalar.value, &len);
		n->len = len;
		t = n->text;
		bad = text_check(t, len);
		if (bad < len) {
			config_error_at(bd->errs, n, NULL, "%s",
			                t[bad] == '\0' ? "a NUL character is not allowed"
			                               : "the value is not valid UTF-8");
			n->bad = 1;
			n->kind = CONFIG_YAML_NULL; /* reported: read as absent */
			free(n->text);
			n->text = xstrdup("");
			n->len = 0;
			break;
		}
		if (n->plain &&
		    (len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
		     strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0))
			n->kind = CONFIG_YAML_NULL;
		break;
	case FYET_ALIAS:
		pos = sigil_pos(bd, fy_event_start_mark(e), pos, '*');
		n = node_add(bd, CONFIG_YAML_NULL, pos, NULL, NULL);
		config_error_at(bd->errs, n, NULL, "aliases (*name) are not supported");
		n->bad = 1;
		break;
	case FYET_SEQUENCE_START:
	case FYET_MAPPING_START:
		if (bd->depth >= CONFIG_YAML_MAX_DEPTH) {
			config_error_add(bd->errs, pos, "", "nesting deeper than %d levels",
			                 CONFIG_YAML_MAX_DEPTH);
			return -1;
		}
		if (e->type == FYET_SEQUENCE_START)
			n = node_add(bd, CONFIG_YAML_SEQ, pos, e->sequence_start.anchor,
			             e->sequence_start.tag);
		else
			n = node_add(bd, CONFIG_YAML_MAP, pos, e->mapping_start.anchor,
			             e->mapping_start.tag);
		key_check(bd, n);
		bd->cur = n;
		bd->depth++;
		return 0;
	case FYET_SEQUENCE_END:
	case FYET_MAPPING_END:
		if (bd->cur == NULL)
			return -1;
		if (bd->cur->kind == CONFIG_YAML_MAP)
			check_duplicate_keys(bd, bd->cur);
		bd->cur = bd->cur->parent;
		bd->depth--;
		return 0;
	default:
		return 0;
	}
	key_check(bd, n);
	return 0;
}

int
config_yaml_parse(const char *text, size_t len, struct config_yaml_node **root,
                  struct config_errors *errs)
{
	struct builder bd = {.text = text, .len = len, .errs = errs, .last = {1, 1}};
	struct fy_parse_cfg cfg = {0};
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag = NULL;
	struct fy_parser *fyp = NULL;
	struct fy_diag_error *de;
	struct fy_event *e;
	void *it = NULL;
	size_t bad;
	int rc = -1, syntax = 0;

	*root = NULL;
	bad = text_check(text, len);
	if (bad < len) {
		config_error_add(errs, text_pos(text, bad), "", "%s",
		                 text[bad] == '\0' ? "the file contains a NUL byte"
		                                   : "the file is not valid UTF-8");
		return -1;
	}
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_discard;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (diag == NULL)
		log_fatal("out of memory");
	fy_diag_set_collect_errors(diag, true);
	cfg.flags = FYPCF_QUIET | FYPCF_DISABLE_MMAP_OPT | FYPCF_SLOPPY_FLOW_INDENTATION;
	cfg.diag = diag;
	fyp = fy_parser_create(&cfg);
	if (fyp == NULL)
		log_fatal("out of memory");
	if (fy_parser_set_string(fyp, text, len) != 0)
		log_fatal("out of memory");
	while ((e = fy_parser_parse(fyp)) != NULL) {
		int r = on_event(&bd, e);

		fy_parser_event_free(fyp, e);
		if (r != 0) {
			syntax = 1;
			break;
		}
	}
	if (fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag)) {
		size_t before = errs->n;

		while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
			struct config_pos pos = {de->line > 0 ? de->line : 0,
			                         de->column > 0 ? de->column : 0};

			if (de->type < FYET_ERROR)
				continue;
			config_error_add(errs, pos, "", "invalid YAML: %s", de->msg);
		}
		if (errs->n == before)
			config_error_add(errs, bd.last, "", "invalid YAML");
		syntax = 1;
	}
	if (syntax) {
		config_yaml_free(bd.root);
		goto out;
	}
	*root = bd.root;
	rc = 0;
out:
	fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	return rc;
}

const char *
config_yaml_shown(const struct config_yaml_node *v, char out[72])
{
	switch (v->kind) {
	case CONFIG_YAML_NULL:
		return "nothing";
	case CONFIG_YAML_SEQ:
		return "a list";
	case CONFIG_YAML_MAP:
		return "a mapping";
	case CONFIG_YAML_SCALAR:
		break;
	}
	if (v->len > 48)
		snprintf(out, 72, "\"%.40s...\"", v->text);
	else
		snprintf(out, 72, "\"%s\"", v->text);
	return out;
}
