/* cmn_log: formats one event per line and writes it to stderr.
 *
 * The level, format and service are set once by cmn_log_setup() before any
 * thread starts, then only read. Each line is built in memory (a stack
 * buffer, the heap for long lines) and written with one write(2) call so
 * lines from different threads never interleave. */
#include "cmn_log.h"
#include "cmn_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CMN_LOG_SERVICE_BYTES 64   /* longest service name kept */
#define CMN_LOG_STACK_BYTES 1024   /* lines shorter than this avoid malloc */
#define CMN_LOG_TIMESTAMP_BYTES 32 /* "2026-11-23T10:00:00.123Z" */
#define CMN_LOG_NS_PER_MS 1000000L

static char s_service[CMN_LOG_SERVICE_BYTES] = "-";
static cmn_log_level_t s_level = CMN_LOG_INFO;
static cmn_log_format_t s_format = CMN_LOG_TEXT;

static const char *const s_level_names[] = {"error", "warning", "info",
                                            "debug"};

void cmn_log_setup(const char *service, cmn_log_level_t level,
                   cmn_log_format_t format)
{
    snprintf(s_service, sizeof s_service, "%s", service ? service : "-");
    s_level = level;
    s_format = format;
}

int cmn_log_level_parse(const char *name, cmn_log_level_t *level)
{
    if (!name)
        return -1;
    for (int index = CMN_LOG_ERROR; index <= CMN_LOG_DEBUG; index++) {
        if (strcasecmp(name, s_level_names[index]) == 0) {
            *level = (cmn_log_level_t)index;
            return 0;
        }
    }
    if (strcasecmp(name, "warn") == 0) {
        *level = CMN_LOG_WARNING;
        return 0;
    }
    return -1;
}

int cmn_log_format_parse(const char *name, cmn_log_format_t *format)
{
    if (name && strcasecmp(name, "text") == 0)
        *format = CMN_LOG_TEXT;
    else if (name && strcasecmp(name, "json") == 0)
        *format = CMN_LOG_JSON;
    else
        return -1;
    return 0;
}

bool cmn_log_enabled(cmn_log_level_t level)
{
    return level <= s_level;
}

/* A line under construction: starts in caller storage, moves to the heap
 * when it grows. If memory runs out the line is truncated, never lost. */
typedef struct {
    char *text;
    size_t length;
    size_t capacity;
    bool on_heap;
} s_line_t;

static bool s_line_reserve(s_line_t *line, size_t more)
{
    if (line->length + more <= line->capacity)
        return true;
    size_t capacity = line->capacity ? line->capacity * 2 : CMN_LOG_STACK_BYTES;
    while (capacity < line->length + more)
        capacity *= 2;
    char *text =
        line->on_heap ? realloc(line->text, capacity) : malloc(capacity);
    if (!text)
        return false;
    if (!line->on_heap)
        memcpy(text, line->text, line->length);
    line->text = text;
    line->capacity = capacity;
    line->on_heap = true;
    return true;
}

static void s_line_add(s_line_t *line, const char *bytes, size_t count)
{
    if (s_line_reserve(line, count)) {
        memcpy(line->text + line->length, bytes, count);
        line->length += count;
    }
}

static void s_line_add_text(s_line_t *line, const char *text)
{
    s_line_add(line, text, strlen(text));
}

/* Adds `text` (count bytes, may hold no NUL) as a quoted JSON string. */
static void s_line_add_json(s_line_t *line, const char *text, size_t count)
{
    /* The escaper wants a C string; `text` may be a slice of a longer one
     * (or an unterminated buffer), so copy exactly `count` bytes. */
    char *copy = malloc(count + 1);
    if (!copy)
        return;
    memcpy(copy, text, count);
    copy[count] = '\0';
    size_t needed = cmn_json_escape(copy, NULL, 0);
    if (s_line_reserve(line, needed + 3)) {
        line->text[line->length++] = '"';
        cmn_json_escape(copy, line->text + line->length, needed + 1);
        line->length += needed;
        line->text[line->length++] = '"';
    }
    free(copy);
}

/* Adds text-mode content, escaping line breaks so an event stays on one line.
 */
static void s_line_add_flat(s_line_t *line, const char *text)
{
    for (const char *at = text; *at; at++) {
        if (*at == '\n')
            s_line_add(line, "\\n", 2);
        else if (*at == '\r')
            s_line_add(line, "\\r", 2);
        else
            s_line_add(line, at, 1);
    }
}

/* Adds the `key=value ...` fields as JSON members. A value in double quotes
 * may contain spaces and the escapes \" and \\; a word without '=' is
 * collected into a "msg" member so nothing is lost. */
static void s_line_add_fields_json(s_line_t *line, const char *fields)
{
    s_line_t words = {NULL, 0, 0, true};
    const char *at = fields;
    while (*at) {
        while (*at == ' ')
            at++;
        if (!*at)
            break;
        const char *start = at;
        while (*at && *at != ' ' && *at != '=')
            at++;
        if (*at != '=' || at == start) {
            while (*at && *at != ' ')
                at++;
            if (words.length)
                s_line_add(&words, " ", 1);
            s_line_add(&words, start, (size_t)(at - start));
            continue;
        }
        s_line_add(line, ",", 1);
        s_line_add_json(line, start, (size_t)(at - start));
        s_line_add(line, ":", 1);
        at++; /* '=' */
        if (*at == '"') {
            /* Unquote into a scratch line, then add it escaped. */
            s_line_t value = {NULL, 0, 0, true};
            at++;
            while (*at && *at != '"') {
                if (*at == '\\' && (at[1] == '"' || at[1] == '\\'))
                    at++;
                s_line_add(&value, at, 1);
                at++;
            }
            if (*at == '"')
                at++;
            s_line_add_json(line, value.text ? value.text : "", value.length);
            free(value.text);
        } else {
            start = at;
            while (*at && *at != ' ')
                at++;
            s_line_add_json(line, start, (size_t)(at - start));
        }
    }
    if (words.length) {
        s_line_add_text(line, ",\"msg\":");
        s_line_add_json(line, words.text, words.length);
    }
    free(words.text);
}

static void s_timestamp(char *out, size_t size)
{
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    size_t length = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out + length, size - length, ".%03ldZ",
             now.tv_nsec / CMN_LOG_NS_PER_MS);
}

static void s_write_all(const char *text, size_t length)
{
    while (length > 0) {
        ssize_t written = write(STDERR_FILENO, text, length);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return; /* stderr is gone: nothing better to do */
        }
        text += written;
        length -= (size_t)written;
    }
}

void cmn_log_event(cmn_log_level_t level, const char *module, const char *event,
                   const char *fields, ...)
{
    if (!cmn_log_enabled(level))
        return;
    int saved_errno = errno; /* callers often log then inspect errno */

    char field_storage[CMN_LOG_STACK_BYTES];
    char *field_text = field_storage;
    field_storage[0] = '\0';
    if (fields && *fields) {
        va_list args;
        va_start(args, fields);
        int length =
            vsnprintf(field_storage, sizeof field_storage, fields, args);
        va_end(args);
        if (length >= (int)sizeof field_storage) {
            char *heap = malloc((size_t)length + 1);
            if (heap) {
                va_start(args, fields);
                vsnprintf(heap, (size_t)length + 1, fields, args);
                va_end(args);
                field_text = heap;
            }
        }
    }
    char timestamp[CMN_LOG_TIMESTAMP_BYTES];
    s_timestamp(timestamp, sizeof timestamp);
    const char *level_name = s_level_names[level];

    char line_storage[CMN_LOG_STACK_BYTES];
    s_line_t line = {line_storage, 0, sizeof line_storage, false};
    if (s_format == CMN_LOG_JSON) {
        s_line_add_text(&line, "{\"ts\":\"");
        s_line_add_text(&line, timestamp);
        s_line_add_text(&line, "\",\"level\":\"");
        s_line_add_text(&line, level_name);
        s_line_add_text(&line, "\",\"service\":");
        s_line_add_json(&line, s_service, strlen(s_service));
        s_line_add_text(&line, ",\"module\":");
        s_line_add_json(&line, module, strlen(module));
        s_line_add_text(&line, ",\"event\":");
        s_line_add_json(&line, event, strlen(event));
        s_line_add_fields_json(&line, field_text);
        s_line_add_text(&line, "}\n");
    } else {
        s_line_add_text(&line, timestamp);
        s_line_add_text(&line, " ");
        s_line_add_text(&line, level_name);
        s_line_add_text(&line, " ");
        s_line_add_text(&line, s_service);
        s_line_add_text(&line, " ");
        s_line_add_flat(&line, module);
        s_line_add_text(&line, ": ");
        s_line_add_flat(&line, event);
        if (*field_text) {
            s_line_add_text(&line, " ");
            s_line_add_flat(&line, field_text);
        }
        s_line_add_text(&line, "\n");
    }
    if (line.length > 0 && line.text[line.length - 1] != '\n')
        line.text[line.length - 1] = '\n'; /* truncated by a failed malloc */
    s_write_all(line.text, line.length);

    if (line.on_heap)
        free(line.text);
    if (field_text != field_storage)
        free(field_text);
    errno = saved_errno;
}
