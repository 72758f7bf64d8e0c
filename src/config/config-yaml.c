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

/* The byte offset of 1-based pos in text, or len when text has no such place. */
static size_t
text_offset(const char *text, size_t len, struct config_pos pos)
{
	struct config_pos p = {1, 1};
	size_t i;

	for (i = 0; i < len; i++) {
		if (p.line == pos.line && p.column == pos.column)
			return i;
		if (text[i] == '\n') {
			p.line++;
			p.column = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			p.column++;
		}
	}
	return len;
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

/* The offset just past the quoted scalar whose opening quote is at open, or
 * (size_t)-1 when it never closes. */
static size_t
quoted_end(const char *text, size_t len, size_t open)
{
	char q = text[open];
	size_t i;

	for (i = open + 1; i < len; i++) {
		if (q == '"' && text[i] == '\\') {
			i++;
			continue;
		}
		if (text[i] != q)
			continue;
		if (q == '\'' && i + 1 < len && text[i + 1] == '\'') {
			i++; /* '' */
			continue;
		}
		return i + 1;
	}
	return (size_t)-1;
}

/* Whether a quote at off opens a quoted scalar inside a flow collection: only
 * at the start of a token, after an indicator ([ { , : ?) and blanks. */
static int
quote_opens_scalar(const char *text, size_t off)
{
	while (off > 0 && (text[off - 1] == ' ' || text[off - 1] == '\t' || text[off - 1] == '\n' ||
	                   text[off - 1] == '\r'))
		off--;
	return off == 0 || strchr("[{,:?", text[off - 1]) != NULL;
}

/* Looks for a construct opened at open (a flow "[" or "{", or a quote) that the
 * text never closes. Returns 1 with the offset of the innermost one (a quote
 * left open inside a sequence swallows the rest) in *at, else 0. */
static int
find_unclosed(const char *text, size_t len, size_t open, size_t *at)
{
	size_t i, stack_n = 0, stack[CONFIG_YAML_MAX_DEPTH + 1];

	if (text[open] == '"' || text[open] == '\'') {
		*at = open;
		return quoted_end(text, len, open) == (size_t)-1;
	}
	for (i = open; i < len; i++) {
		char c = text[i];

		if (c == '[' || c == '{') {
			if (stack_n == CONFIG_YAML_MAX_DEPTH + 1)
				return 0;
			stack[stack_n++] = i;
		} else if (c == ']' || c == '}') {
			/* A wrong closer is another mistake: libfyaml's message. */
			if (text[stack[stack_n - 1]] != (c == ']' ? '[' : '{'))
				return 0;
			if (--stack_n == 0)
				return 0;
		} else if ((c == '"' || c == '\'') && quote_opens_scalar(text, i)) {
			size_t end = quoted_end(text, len, i);

			if (end == (size_t)-1) {
				*at = i;
				return 1;
			}
			i = end - 1;
		} else if (c == '#' && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
			while (i < len && text[i] != '\n')
				i++;
		}
	}
	*at = stack[stack_n - 1];
	return 1;
}

/* Replaces libfyaml's diagnostics about a construct that is never closed
 * (which point at where the parser gave up, often the end of the file) with
 * one error at the place it opened that names the end of the file too. The
 * candidates are the flow collections still open when parsing stopped and the
 * quote of an unterminated scalar libfyaml reports at first_error. Returns 1
 * when it added the error. */
static int
unclosed_error(const struct builder *bd, struct config_pos first_error, struct config_errors *errs)
{
	const struct config_yaml_node *n;
	struct config_pos opened, end;
	size_t off, at = 0, stop = bd->len;
	int found = 0;

	/* The quote first: it is where libfyaml stopped, inside any open flow.
	 * libfyaml places that error just after the quote. */
	off = text_offset(bd->text, bd->len, first_error);
	if (first_error.line > 0 && off > 0 && off <= bd->len &&
	    (bd->text[off - 1] == '"' || bd->text[off - 1] == '\''))
		found = find_unclosed(bd->text, bd->len, off - 1, &at);
	for (n = bd->cur; !found && n != NULL; n = n->parent) {
		size_t o;

		if (n->kind != CONFIG_YAML_SEQ && n->kind != CONFIG_YAML_MAP)
			continue;
		/* The node's start mark is its bracket for a flow collection. */
		o = text_offset(bd->text, bd->len, n->pos);
		if (o < bd->len && (bd->text[o] == '[' || bd->text[o] == '{'))
			found = find_unclosed(bd->text, bd->len, o, &at);
	}
	if (!found)
		return 0;
	/* The end of the last line with anything on it. */
	while (stop > 0 && strchr(" \t\r\n", bd->text[stop - 1]) != NULL)
		stop--;
	opened = text_pos(bd->text, at);
	end = text_pos(bd->text, stop);
	config_error_add(errs, opened, "",
	                 "invalid YAML: unclosed %s opened here (the file ends at %d:%d)",
	                 bd->text[at] == '['   ? "flow sequence \"[\""
	                 : bd->text[at] == '{' ? "flow mapping \"{\""
	                 : bd->text[at] == '"' ? "double-quoted string"
	                                       : "single-quoted string",
	                 end.line, end.column);
	return 1;
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
	int rc = -1, syntax = 0, unclosed = 0;

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
	if (!syntax && (fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag))) {
		struct config_pos first = {0, 0};

		while ((de = fy_diag_errors_iterate(diag, &it)) != NULL)
			if (de->type >= FYET_ERROR && first.line == 0 && de->line > 0)
				first =
				    (struct config_pos){de->line, de->column > 0 ? de->column : 0};
		/* Something left open: one error where it opened, not libfyaml's
		 * where it gave up. */
		syntax = unclosed_error(&bd, first, errs);
		unclosed = syntax;
	}
	if (!unclosed && (fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag))) {
		size_t before = errs->n;

		it = NULL;
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
