/* cmn_log: formats one event per line and writes it to stderr.
 *
 * The level, format and service are set once by cmn_log_setup() before any
 * thread starts, then only read. Each line is built in memory (a stack
 * buffer, the heap for long lines) and written with one write(2) call so
 * lines from different threads never interleave. */
#include "cmn_log.h"
#include "cmn_json.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
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

/* The fields of one event as formatted, with one mark per byte: nonzero
 * where the byte came from an argument (a value, possibly from a peer;
 * S_MARK_NUMBER for a decimal conversion such as %d, %zu, %.1f, so that
 * JSON can write it as a number), zero where it came from the format
 * string (the code). Only the format's
 * bytes are structure (spaces, '=', quotes); an argument's bytes are always
 * content, so a value can never close its quotes or start a new field. */
typedef struct {
    s_line_t text;
    s_line_t marks;
} s_fields_t;

#define S_MARK_TEXT 1   /* a byte of an argument: %s, %c, %p, %x ... */
#define S_MARK_NUMBER 2 /* a byte of a decimal number: %d %i %u %f %e %g */

#define CMN_LOG_SPEC_BYTES 32 /* longest conversion spec, "%-+ #0*.*lld" */

static void s_fields_add(s_fields_t *fields, const char *bytes, size_t count,
                         char mark)
{
    if (!s_line_reserve(&fields->text, count) ||
        !s_line_reserve(&fields->marks, count))
        return;
    memcpy(fields->text.text + fields->text.length, bytes, count);
    memset(fields->marks.text + fields->marks.length, mark, count);
    fields->text.length += count;
    fields->marks.length += count;
}

/* Formats one conversion `spec` (a printf spec with up to two '*' values in
 * `stars`) of `value` and adds it as argument bytes marked `mark`. */
#define S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars, value, mark)    \
    do {                                                                       \
        char s_small[CMN_LOG_STACK_BYTES];                                     \
        char *s_out = s_small;                                                 \
        int s_length = -1;                                                     \
        for (int s_pass = 0; s_pass < 2; s_pass++) {                           \
            size_t s_size = s_pass ? (size_t)s_length + 1 : sizeof s_small;    \
            if (s_pass && !(s_out = malloc(s_size)))                           \
                break;                                                         \
            if ((star_count) == 0)                                             \
                s_length = snprintf(s_out, s_size, spec, value);               \
            else if ((star_count) == 1)                                        \
                s_length = snprintf(s_out, s_size, spec, (stars)[0], value);   \
            else                                                               \
                s_length = snprintf(s_out, s_size, spec, (stars)[0],           \
                                    (stars)[1], value);                        \
            if (s_length < 0 || (size_t)s_length < sizeof s_small)             \
                break;                                                         \
        }                                                                      \
        if (s_out && s_length > 0)                                             \
            s_fields_add(fields, s_out, (size_t)s_length, (mark));             \
        if (s_out != s_small)                                                  \
            free(s_out);                                                       \
    } while (0)
#define S_FIELDS_PRINT(fields, spec, star_count, stars, value)                 \
    S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars, value, S_MARK_TEXT)
#define S_FIELDS_NUMBER(fields, spec, star_count, stars, value)                \
    S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars, value, S_MARK_NUMBER)

/* printf(3) for the conversions the format attribute allows, keeping track
 * of which bytes are the format's and which the arguments'. */
static void s_fields_format(s_fields_t *fields, const char *format,
                            va_list *args)
{
    const char *at = format;
    while (*at) {
        if (*at != '%') {
            size_t count = strcspn(at, "%");
            s_fields_add(fields, at, count, 0);
            at += count;
            continue;
        }
        const char *spec_start = at++;
        if (*at == '%') {
            s_fields_add(fields, "%", 1, 0);
            at++;
            continue;
        }
        int stars[2] = {0, 0};
        int star_count = 0;
        at += strspn(at, "-+ #0'");
        if (*at == '*') {
            stars[star_count++] = va_arg(*args, int);
            at++;
        } else {
            at += strspn(at, "0123456789");
        }
        if (*at == '.') {
            at++;
            if (*at == '*') {
                stars[star_count++] = va_arg(*args, int);
                at++;
            } else {
                at += strspn(at, "0123456789");
            }
        }
        const char *size_start = at;
        at += strspn(at, "hlLzjt");
        size_t size_length = (size_t)(at - size_start);
        char conversion = *at;
        assert(conversion != '\0'); /* the format attribute checked it */
        at++;
        char spec[CMN_LOG_SPEC_BYTES];
        size_t spec_length = (size_t)(at - spec_start);
        assert(spec_length < sizeof spec);
        memcpy(spec, spec_start, spec_length);
        spec[spec_length] = '\0';
        char size_first = size_length ? size_start[0] : '\0';
        bool size_long_long = size_length == 2 && size_start[1] == 'l';
        switch (conversion) {
        case 'd':
        case 'i':
            if (size_long_long)
                S_FIELDS_NUMBER(fields, spec, star_count, stars,
                                va_arg(*args, long long));
            else if (size_first == 'l')
                S_FIELDS_NUMBER(fields, spec, star_count, stars,
                                va_arg(*args, long));
            else if (size_first == 'z')
                S_FIELDS_NUMBER(fields, spec, star_count, stars,
                                va_arg(*args, size_t));
            else if (size_first == 'j')
                S_FIELDS_NUMBER(fields, spec, star_count, stars,
                                va_arg(*args, intmax_t));
            else if (size_first == 't')
                S_FIELDS_NUMBER(fields, spec, star_count, stars,
                                va_arg(*args, ptrdiff_t));
            else
                S_FIELDS_NUMBER(fields, spec, star_count, stars,
                                va_arg(*args, int));
            break;
        case 'u':
        case 'o':
        case 'x':
        case 'X': {
            /* Only decimal is a JSON number; hex and octal stay text. */
            char mark = conversion == 'u' ? S_MARK_NUMBER : S_MARK_TEXT;
            if (size_long_long)
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, unsigned long long), mark);
            else if (size_first == 'l')
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, unsigned long), mark);
            else if (size_first == 'z')
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, size_t), mark);
            else if (size_first == 'j')
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, uintmax_t), mark);
            else if (size_first == 't')
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, ptrdiff_t), mark);
            else
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, unsigned int), mark);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
        case 'a':
        case 'A': {
            /* %a is hexadecimal: text; inf and nan are not JSON numbers
             * (the writer checks the grammar). */
            char mark = conversion == 'a' || conversion == 'A' ? S_MARK_TEXT
                                                               : S_MARK_NUMBER;
            if (size_first == 'L')
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, long double), mark);
            else
                S_FIELDS_PRINT_MARKED(fields, spec, star_count, stars,
                                      va_arg(*args, double), mark);
            break;
        }
        case 'c':
            S_FIELDS_PRINT(fields, spec, star_count, stars, va_arg(*args, int));
            break;
        case 's': {
            const char *value = va_arg(*args, const char *);
            S_FIELDS_PRINT(fields, spec, star_count, stars,
                           value ? value : "(null)");
            break;
        }
        case 'p':
            S_FIELDS_PRINT(fields, spec, star_count, stars,
                           va_arg(*args, void *));
            break;
        default:
            assert(!"cmn_log: conversion not supported");
            return;
        }
    }
}

/* True for a byte an argument may not write raw into a text-mode line: a
 * control byte (ESC, the line breaks, DEL...), a quote or a backslash. */
static bool s_is_unsafe(unsigned char byte)
{
    return byte < 0x20 || byte == 0x7f || byte == '"' || byte == '\\';
}

/* Adds argument bytes escaped for a double-quoted text-mode value:
 * \" \\ \n \r \t, other control bytes as \xHH. */
static void s_line_add_escaped(s_line_t *line, const char *bytes, size_t count)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t index = 0; index < count; index++) {
        unsigned char byte = (unsigned char)bytes[index];
        char escape[4] = {'\\', 0, 0, 0};
        size_t escape_length = 2;
        if (byte == '"' || byte == '\\')
            escape[1] = (char)byte;
        else if (byte == '\n')
            escape[1] = 'n';
        else if (byte == '\r')
            escape[1] = 'r';
        else if (byte == '\t')
            escape[1] = 't';
        else if (s_is_unsafe(byte)) {
            escape[1] = 'x';
            escape[2] = hex[byte >> 4];
            escape[3] = hex[byte & 0xf];
            escape_length = 4;
        } else {
            s_line_add(line, bytes + index, 1);
            continue;
        }
        s_line_add(line, escape, escape_length);
    }
}

/* Adds the fields in text mode. The format's bytes go as they are (line
 * breaks escaped); an argument inside the format's quotes is escaped; an
 * argument outside quotes that holds a quote, backslash, control byte or
 * '=' (or a space, as a value after '=') is written quoted and escaped, so
 * that it stays one value. */
static void s_line_add_fields_text(s_line_t *line, const s_fields_t *fields)
{
    const char *text = fields->text.text;
    const char *marks = fields->marks.text;
    size_t length = fields->text.length;
    bool in_quotes = false;
    char previous = ' '; /* the last format byte */
    size_t index = 0;
    while (index < length) {
        if (!marks[index]) {
            char byte = text[index];
            if (byte == '"' &&
                !(index > 0 && !marks[index - 1] && text[index - 1] == '\\'))
                in_quotes = !in_quotes;
            if (byte == '\n')
                s_line_add(line, "\\n", 2);
            else if (byte == '\r')
                s_line_add(line, "\\r", 2);
            else
                s_line_add(line, &text[index], 1);
            previous = byte;
            index++;
            continue;
        }
        size_t end = index;
        bool wrap = false;
        while (end < length && marks[end]) {
            unsigned char byte = (unsigned char)text[end];
            if (s_is_unsafe(byte) || byte == '=' ||
                (byte == ' ' && previous == '='))
                wrap = true;
            end++;
        }
        if (in_quotes) {
            s_line_add_escaped(line, text + index, end - index);
        } else if (wrap) {
            s_line_add(line, "\"", 1);
            s_line_add_escaped(line, text + index, end - index);
            s_line_add(line, "\"", 1);
        } else {
            s_line_add(line, text + index, end - index);
        }
        index = end;
    }
}

/* True when an unquoted value is a number for JSON: every byte from a
 * decimal conversion (%d, %zu, %.1f ...) or the format itself, and the
 * whole a JSON number (RFC 8259: no "+", no leading zero, no inf or nan).
 * A %s value is text whatever it holds, so a field's type does not depend
 * on what a peer sent. */
static bool s_is_json_number(const char *text, const char *marks, size_t length)
{
    for (size_t index = 0; index < length; index++)
        if (marks[index] != 0 && marks[index] != S_MARK_NUMBER)
            return false;
    size_t at = 0;
    if (at < length && text[at] == '-')
        at++;
    if (at == length || !isdigit((unsigned char)text[at]))
        return false;
    if (text[at] == '0')
        at++;
    else
        while (at < length && isdigit((unsigned char)text[at]))
            at++;
    if (at < length && text[at] == '.') {
        at++;
        if (at == length || !isdigit((unsigned char)text[at]))
            return false;
        while (at < length && isdigit((unsigned char)text[at]))
            at++;
    }
    if (at < length && (text[at] == 'e' || text[at] == 'E')) {
        at++;
        if (at < length && (text[at] == '+' || text[at] == '-'))
            at++;
        if (at == length || !isdigit((unsigned char)text[at]))
            return false;
        while (at < length && isdigit((unsigned char)text[at]))
            at++;
    }
    return at == length;
}

/* Adds the `key=value ...` fields as JSON members. An unquoted number
 * (s_is_json_number) is written as a JSON number, anything else as a
 * string. A value in double quotes
 * may contain spaces and the escapes \" and \\ (of the format); a word
 * without '=' is collected into a "msg" member so nothing is lost. Only the
 * format's bytes delimit: an argument's bytes are content wherever they
 * are. */
static void s_line_add_fields_json(s_line_t *line, const s_fields_t *fields)
{
    const char *text = fields->text.text;
    const char *marks = fields->marks.text;
    size_t length = fields->text.length;
#define S_IS(index, byte) (!marks[index] && text[index] == (byte))
    s_line_t words = {NULL, 0, 0, true};
    size_t at = 0;
    while (at < length) {
        while (at < length && S_IS(at, ' '))
            at++;
        if (at == length)
            break;
        size_t start = at;
        while (at < length && !S_IS(at, ' ') && !S_IS(at, '='))
            at++;
        if (at == length || !S_IS(at, '=') || at == start) {
            while (at < length && !S_IS(at, ' '))
                at++;
            if (words.length)
                s_line_add(&words, " ", 1);
            s_line_add(&words, text + start, at - start);
            continue;
        }
        s_line_add(line, ",", 1);
        s_line_add_json(line, text + start, at - start);
        s_line_add(line, ":", 1);
        at++; /* '=' */
        if (at < length && S_IS(at, '"')) {
            /* Unquote into a scratch line, then add it escaped. */
            s_line_t value = {NULL, 0, 0, true};
            at++;
            while (at < length && !S_IS(at, '"')) {
                if (S_IS(at, '\\') && at + 1 < length &&
                    (S_IS(at + 1, '"') || S_IS(at + 1, '\\')))
                    at++;
                s_line_add(&value, text + at, 1);
                at++;
            }
            if (at < length)
                at++; /* the closing quote */
            s_line_add_json(line, value.text ? value.text : "", value.length);
            free(value.text);
        } else {
            start = at;
            while (at < length && !S_IS(at, ' '))
                at++;
            if (s_is_json_number(text + start, marks + start, at - start))
                s_line_add(line, text + start, at - start);
            else
                s_line_add_json(line, text + start, at - start);
        }
    }
#undef S_IS
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

    char text_storage[CMN_LOG_STACK_BYTES];
    char mark_storage[CMN_LOG_STACK_BYTES];
    s_fields_t fields_line = {{text_storage, 0, sizeof text_storage, false},
                              {mark_storage, 0, sizeof mark_storage, false}};
    if (fields && *fields) {
        va_list args;
        va_start(args, fields);
        s_fields_format(&fields_line, fields, &args);
        va_end(args);
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
        s_line_add_fields_json(&line, &fields_line);
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
        if (fields_line.text.length > 0) {
            s_line_add_text(&line, " ");
            s_line_add_fields_text(&line, &fields_line);
        }
        s_line_add_text(&line, "\n");
    }
    if (line.length > 0 && line.text[line.length - 1] != '\n')
        line.text[line.length - 1] = '\n'; /* truncated by a failed malloc */
    s_write_all(line.text, line.length);

    if (line.on_heap)
        free(line.text);
    if (fields_line.text.on_heap)
        free(fields_line.text.text);
    if (fields_line.marks.on_heap)
        free(fields_line.marks.text);
    errno = saved_errno;
}
