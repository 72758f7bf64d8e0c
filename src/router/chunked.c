/* chunked: the strict chunked-body parser (see chunked.h). */
#include "router/chunked.h"

#include <string.h>

static int
hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* RFC 9110 tchar. */
static int
is_tchar(unsigned char ch)
{
	if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* What a field value or an extension may hold: visible characters, blanks,
 * obs-text; no control characters (CR and LF above all). */
static int
is_text(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Trailer fields that frame or route a message: an upstream that merges
 * trailers into the head would read them as such. */
static int
trailer_forbidden(const struct chunked *ck)
{
	static const char *const names[] = {"content-length", "transfer-encoding", "host",
	                                    "trailer"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ck->name_len == strlen(names[i]) &&
		    memcmp(ck->name, names[i], ck->name_len) == 0)
			return 1;
	return 0;
}

void
chunked_init(struct chunked *ck)
{
	memset(ck, 0, sizeof(*ck));
	ck->state = CHUNKED_SIZE;
}

int
chunked_done(const struct chunked *ck)
{
	return ck->state == CHUNKED_DONE;
}

int
chunked_parse(struct chunked *ck, const char *p, size_t len, size_t *used, struct err *err)
{
	const char *why = NULL;
	size_t i = 0;

	if (ck->state == CHUNKED_ERROR) {
		why = "the chunked body is malformed";
		goto fail;
	}
	while (i < len && ck->state != CHUNKED_DONE) {
		unsigned char ch = (unsigned char)p[i];
		int h;

		switch (ck->state) {
		case CHUNKED_SIZE:
			h = hexval(ch);
			if (h < 0) {
				why = "a chunk size is not a hex number";
				goto fail;
			}
			ck->size = (uint64_t)h;
			ck->digits = 1;
			ck->ext_len = 0;
			ck->state = CHUNKED_SIZE_MORE;
			break;
		case CHUNKED_SIZE_MORE:
			h = hexval(ch);
			if (h >= 0) {
				if (++ck->digits > CHUNKED_DIGITS_MAX) {
					why = "a chunk size has too many digits";
					goto fail;
				}
				ck->size = ck->size * 16 + (uint64_t)h;
				if (ck->size > CHUNKED_SIZE_MAX) {
					why = "a chunk is too large";
					goto fail;
				}
				break;
			}
			if (ch == '\r')
				ck->state = CHUNKED_SIZE_LF;
			else if (ch == ';')
				ck->state = CHUNKED_EXT;
			else if (ch == ' ' || ch == '\t')
				ck->state = CHUNKED_SIZE_BWS;
			else {
				why = "a chunk size is not a hex number";
				goto fail;
			}
			break;
		case CHUNKED_SIZE_BWS:
			if (ch == ';') {
				ck->state = CHUNKED_EXT;
			} else if (ch != ' ' && ch != '\t') {
				why =
				    "a chunk size is followed by something other than an extension";
				goto fail;
			}
			if (++ck->ext_len > CHUNKED_EXT_MAX) {
				why = "chunk extensions are too long";
				goto fail;
			}
			break;
		case CHUNKED_EXT:
			if (ch == '\r') {
				ck->state = CHUNKED_SIZE_LF;
				break;
			}
			if (!is_text(ch)) {
				why = "a chunk extension holds a control character";
				goto fail;
			}
			if (++ck->ext_len > CHUNKED_EXT_MAX) {
				why = "chunk extensions are too long";
				goto fail;
			}
			break;
		case CHUNKED_SIZE_LF:
			if (ch != '\n') {
				why = "a chunk size line does not end with CRLF";
				goto fail;
			}
			if (ck->size == 0) {
				ck->trailer_len = 0;
				ck->state = CHUNKED_TRAILER;
			} else {
				ck->state = CHUNKED_DATA;
			}
			break;
		case CHUNKED_DATA: {
			size_t n = len - i;

			if ((uint64_t)n > ck->size)
				n = (size_t)ck->size;
			ck->size -= n;
			i += n;
			if (ck->size == 0)
				ck->state = CHUNKED_DATA_CR;
			continue;
		}
		case CHUNKED_DATA_CR:
			if (ch != '\r') {
				why = "chunk data is not followed by CRLF";
				goto fail;
			}
			ck->state = CHUNKED_DATA_LF;
			break;
		case CHUNKED_DATA_LF:
			if (ch != '\n') {
				why = "chunk data is not followed by CRLF";
				goto fail;
			}
			ck->state = CHUNKED_SIZE;
			break;
		case CHUNKED_TRAILER:
			if (ch == '\r') {
				ck->state = CHUNKED_END_LF;
				break;
			}
			if (ch == ' ' || ch == '\t') {
				why = "a trailer line is folded";
				goto fail;
			}
			if (!is_tchar(ch)) {
				why = "a trailer field name is not a token";
				goto fail;
			}
			ck->name_len = 0;
			ck->state = CHUNKED_TR_NAME;
			continue; /* the same byte starts the name */
		case CHUNKED_TR_NAME:
			if (ch == ':') {
				/* not empty: CHUNKED_TRAILER saw a tchar */
				if (trailer_forbidden(ck)) {
					why = "a trailer field frames or routes the message";
					goto fail;
				}
				ck->state = CHUNKED_TR_VALUE;
			} else if (is_tchar(ch)) {
				if (ck->name_len < sizeof(ck->name))
					ck->name[ck->name_len] =
					    (char)(ch | (ch >= 'A' && ch <= 'Z' ? 0x20 : 0));
				ck->name_len++;
			} else {
				why = "a trailer field name is not a token";
				goto fail;
			}
			break;
		case CHUNKED_TR_VALUE:
			if (ch == '\r') {
				ck->state = CHUNKED_TR_LF;
			} else if (!is_text(ch)) {
				why = "a trailer field value holds a control character";
				goto fail;
			}
			break;
		case CHUNKED_TR_LF:
			if (ch != '\n') {
				why = "a trailer line does not end with CRLF";
				goto fail;
			}
			ck->state = CHUNKED_TRAILER;
			break;
		case CHUNKED_END_LF:
			if (ch != '\n') {
				why = "the chunked body does not end with CRLF";
				goto fail;
			}
			ck->state = CHUNKED_DONE;
			break;
		case CHUNKED_DONE:
		case CHUNKED_ERROR:
			break; /* not reached: the loop and the check above */
		}
		if (ck->state >= CHUNKED_TRAILER && ck->state <= CHUNKED_END_LF &&
		    ++ck->trailer_len > CHUNKED_TRAILER_MAX) {
			why = "the trailer section is too long";
			goto fail;
		}
		i++;
	}
	*used = i;
	return 0;
fail:
	*used = i;
	ck->state = CHUNKED_ERROR;
	return err_make(err, 0, "%s", why);
}
