/* redact: secret values taken out of text that comes from an enclave.
 *
 * What an enclave prints (a health check's output, its logs, the runtime's
 * errors about it) may hold the value of a secret bound to it. Before such a
 * text is stored, logged or shown, every occurrence of each bound value is
 * replaced by "[secret NAME]". A set holds the values of one enclave's secrets.
 *
 * What is matched, and why:
 * - The value without its trailing line breaks (\r, \n). A value read from a
 *   file usually ends in one and a shell's $(...) drops it; the line break is
 *   not the secret, and keeping it keeps the output's lines as they were.
 * - Values shorter than REDACT_MIN_LEN bytes (after that trim) are not
 *   redacted: they show as printed. A one-byte secret "1" would turn every 1
 *   of a log into "[secret NAME]" and leave nothing readable, and a value of
 *   three printable bytes is one of fewer than a million: hiding it protects
 *   little and garbles every word that contains it. A secret worth hiding is
 *   longer (docs/api.md says so to users).
 * - The longest value first: where matches of several values overlap or nest,
 *   the whole span they cover becomes one "[secret NAME]", named after the
 *   value that starts first (the longest of those starting there), so no byte
 *   of either value is left. Matches that only touch stay separate.
 * - Bytes, compared exactly. A value printed in another form (quoted, base64,
 *   split over lines) is not recognised, nor is the part of one that a text cut
 *   to a buffer's size still holds: redact the whole text, then cut it.
 *   Redaction keeps accidents out of logs, the store and the screen; it is no
 *   boundary against an enclave that means to show its own secrets.
 *
 * A set copies the values it is given and wipes them when freed. Building it
 * belongs to one thread; once built, the redact_* functions that take a const
 * set only read it and may run on any thread.
 */
#ifndef BERTH_REDACT_H
#define BERTH_REDACT_H

#include <stddef.h>

#define REDACT_MIN_LEN 4 /* shorter values are not redacted (see above) */

struct redact;

/* A set without values: it changes nothing until values are added. */
struct redact *redact_new(void);

/* Adds secret name's value (len bytes, any content; copied). A value shorter
 * than REDACT_MIN_LEN once its trailing line breaks are dropped is ignored. */
void redact_add(struct redact *rd, const char *name, const char *value, size_t len);

/* How many values the set redacts (those redact_add() did not ignore). */
size_t redact_count(const struct redact *rd);

/* text (len bytes, NUL bytes allowed) with every value of rd replaced by
 * "[secret NAME]": a new NUL-terminated string the caller frees, its length in
 * *out_len when out_len is not NULL. rd may be NULL (a plain copy). */
char *redact_mem(const struct redact *rd, const char *text, size_t len, size_t *out_len);

/* redact_mem() of a NUL-terminated text; NULL for NULL. Caller frees. */
char *redact_text(const struct redact *rd, const char *text);

/* Redacts the NUL-terminated text in buf (size bytes) in place, cutting the
 * result to fit; what followed the old text in buf is wiped. For fixed
 * buffers such as struct err's message. */
void redact_inplace(const struct redact *rd, char *buf, size_t size);

/* Wipes the values and frees rd; NULL is fine. */
void redact_free(struct redact *rd);

#endif
