/* cmn_log: one line per event, `module: event key=value ...`, to stderr.
 *
 * Plain text (default) or JSON lines for log collectors. The level and format
 * are set once at start-up by cmn_log_setup(); logging is thread-safe (one
 * write(2) per line). In JSON mode the key=value pairs of the message become
 * JSON members; a value may be double-quoted to contain spaces.
 *
 * Only the format string's bytes are structure: what an argument prints (a
 * value that may come from a peer) is always content. In JSON mode it stays
 * inside its member's string; in text mode its quotes, backslashes and
 * control bytes are escaped (\" \\ \n \r \t \xHH) inside the format's
 * quotes, and an unquoted value that would read as several fields (a space
 * after '=', a quote, '=' or a control byte) is written quoted. So
 * `detail="%s"` with any value can never forge `level=error event=x`. */
#ifndef CMN_LOG_H
#define CMN_LOG_H

#include <stdbool.h>

typedef enum {
    CMN_LOG_ERROR = 0,
    CMN_LOG_WARNING = 1,
    CMN_LOG_INFO = 2,
    CMN_LOG_DEBUG = 3,
} cmn_log_level_t;

typedef enum {
    CMN_LOG_TEXT = 0,
    CMN_LOG_JSON = 1,
} cmn_log_format_t;

/* Sets the service name (first field of every line), the level and format.
 * Call once from main before any thread starts. */
void cmn_log_setup(const char *service, cmn_log_level_t level,
                   cmn_log_format_t format);

/* Parses "error", "warning" (or "warn"), "info", "debug". Returns 0 or -1. */
int cmn_log_level_parse(const char *name, cmn_log_level_t *level);

/* Parses "text" or "json". Returns 0 or -1. */
int cmn_log_format_parse(const char *name, cmn_log_format_t *format);

/* True when events at this level are written (to skip costly formatting). */
bool cmn_log_enabled(cmn_log_level_t level);

/* Writes one event. `fields` is a printf format producing `key=value ...`,
 * or NULL for none (a literal "" trips -Wformat-zero-length under -Wall).
 * Line breaks in text mode are written as \n so an event stays one line;
 * in JSON mode a word without '=' goes into a "msg" member. Preserves errno.
 * Any thread. */
void cmn_log_event(cmn_log_level_t level, const char *module, const char *event,
                   const char *fields, ...)
    __attribute__((format(printf, 4, 5)));

#define cmn_log_error(module, event, ...)                                      \
    cmn_log_event(CMN_LOG_ERROR, module, event, __VA_ARGS__)
#define cmn_log_warning(module, event, ...)                                    \
    cmn_log_event(CMN_LOG_WARNING, module, event, __VA_ARGS__)
#define cmn_log_info(module, event, ...)                                       \
    cmn_log_event(CMN_LOG_INFO, module, event, __VA_ARGS__)
#define cmn_log_debug(module, event, ...)                                      \
    cmn_log_event(CMN_LOG_DEBUG, module, event, __VA_ARGS__)

#endif
