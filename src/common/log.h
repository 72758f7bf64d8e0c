/* log: one line per message on stderr (or a file), with time and level. */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

#include "common/err.h"

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Sets the lowest level written and the program name shown on each line. */
void log_init(const char *progname, enum log_level min);

/* Writes one line at level; thread-safe (one write(2) per line). */
void log_msg(enum log_level level, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int log_level_parse(const char *s);

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* Logs a fatal invariant violation and aborts. Only for broken invariants
 * and out-of-memory, never for anything input can cause. */
_Noreturn void log_fatal(const char *fmt, ...) BERTH_PRINTF(1, 2);

#endif
