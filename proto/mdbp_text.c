/* mdbp_text: records as NDJSON objects and CSV lines (ingest.md, "Records
 * as text"): strict readers with errors naming the key or column, and the
 * NDJSON writer of the dead-letter file. */
#include <mdbp/text.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mdbp/ingest.h>
#include "mdbp_reader.h"

/* Longest number text we read (digits, sign, point, exponent). */
#define S_NUMBER_TEXT_MAX 64
/* Longest string value we keep; longer ones only matter for unknown keys
 * (skipped) or known ones (refused as too long). */
#define S_STRING_MAX 256
/* Significant digits that always round-trip a double. */
#define S_DOUBLE_DIGITS_EXACT 17
#define S_DOUBLE_DIGITS_SHORT 15
/* CSV: kind, provider, symbol, ts_ns and up to five numbers. */
#define S_CSV_FIELDS_MAX 9

static const char *const s_kind_names[] = {"trade", "quote", "bar"};
/* The number fields of each kind, in CSV / msgpack order. */
static const char *const s_field_names[MDBP_RECORD_KIND_COUNT][5] = {
    {"price", "size"},
    {"bid", "bid_size", "ask", "ask_size"},
    {"open", "high", "low", "close", "volume"},
};
static const size_t s_field_counts[MDBP_RECORD_KIND_COUNT] = {2, 4, 5};

/* Every number key of any kind (the union of s_field_names). */
static const char *const s_number_keys[] = {
    "price", "size", "bid", "bid_size", "ask",   "ask_size",
    "open",  "high", "low", "close",    "volume"};
#define S_NUMBER_KEY_COUNT (sizeof s_number_keys / sizeof s_number_keys[0])

static double *s_field_slot(mdbp_record_t *record, size_t index)
{
    switch (record->kind) {
    case MDBP_RECORD_TRADE:
        return index == 0 ? &record->u.trade.price : &record->u.trade.size;
    case MDBP_RECORD_QUOTE: {
        double *slots[] = {&record->u.quote.bid, &record->u.quote.bid_size,
                           &record->u.quote.ask, &record->u.quote.ask_size};
        return slots[index];
    }
    default: {
        double *slots[] = {&record->u.bar.open, &record->u.bar.high,
                           &record->u.bar.low, &record->u.bar.close,
                           &record->u.bar.volume};
        return slots[index];
    }
    }
}

static int s_kind_parse(const char *text, size_t length,
                        mdbp_record_kind_t *kind)
{
    for (int index = 0; index < MDBP_RECORD_KIND_COUNT; index++) {
        if (strlen(s_kind_names[index]) == length &&
            memcmp(s_kind_names[index], text, length) == 0) {
            *kind = (mdbp_record_kind_t)index;
            return 0;
        }
    }
    return -1;
}

/* Checks that `text` (`length` bytes) is a JSON number: -?(0|[1-9]d*)
 * (.d+)?([eE][+-]?d+)?. Sets `integral` when it has no fraction or
 * exponent. */
static bool s_number_syntax(const char *text, size_t length, bool *integral)
{
    size_t at = 0;
    *integral = true;
    if (at < length && text[at] == '-')
        at++;
    if (at >= length)
        return false;
    if (text[at] == '0')
        at++;
    else if (text[at] >= '1' && text[at] <= '9')
        while (at < length && text[at] >= '0' && text[at] <= '9')
            at++;
    else
        return false;
    if (at < length && text[at] == '.') {
        *integral = false;
        at++;
        size_t digits = at;
        while (at < length && text[at] >= '0' && text[at] <= '9')
            at++;
        if (at == digits)
            return false;
    }
    if (at < length && (text[at] == 'e' || text[at] == 'E')) {
        *integral = false;
        at++;
        if (at < length && (text[at] == '+' || text[at] == '-'))
            at++;
        size_t digits = at;
        while (at < length && text[at] >= '0' && text[at] <= '9')
            at++;
        if (at == digits)
            return false;
    }
    return at == length;
}

/* Converts a number text that passed s_number_syntax. */
static int s_number_value(const char *text, size_t length, double *value)
{
    char copy[S_NUMBER_TEXT_MAX + 1];
    if (length > S_NUMBER_TEXT_MAX)
        return -1;
    memcpy(copy, text, length);
    copy[length] = '\0';
    *value = strtod(copy, NULL);
    return isfinite(*value) ? 0 : -1;
}

/* Converts an integral number text to int64; -1 when it does not fit. */
static int s_integer_value(const char *text, size_t length, int64_t *value)
{
    char copy[S_NUMBER_TEXT_MAX + 1];
    if (length > S_NUMBER_TEXT_MAX)
        return -1;
    memcpy(copy, text, length);
    copy[length] = '\0';
    errno = 0;
    long long parsed = strtoll(copy, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *value = parsed;
    return 0;
}

/* Copies a provider or symbol (`what`) into `out` with the wire's rules. */
static int s_name_copy(const char *text, size_t length, size_t max, char *out,
                       const char *prefix, const char *what,
                       mdbp_error_t *error)
{
    if (length == 0)
        return mdbp_error_set(error, "%s: field '%s': empty", prefix, what);
    if (length > max)
        return mdbp_error_set(error, "%s: field '%s': longer than %zu bytes",
                               prefix, what, max);
    if (memchr(text, '\0', length))
        return mdbp_error_set(error, "%s: field '%s': contains a NUL byte",
                               prefix, what);
    memcpy(out, text, length);
    out[length] = '\0';
    return 0;
}

/* Runs mdbp_record_validate and prefixes its error. */
static int s_validate(const mdbp_record_t *record, const char *prefix,
                      mdbp_error_t *error)
{
    mdbp_error_t invalid;
    if (mdbp_record_validate(record, &invalid) != 0)
        return mdbp_error_set(error, "%s: %s", prefix, invalid.text);
    return 0;
}

/* ---- NDJSON reader ---------------------------------------------------- */

typedef struct {
    const char *line; /* the whole line, for columns */
    const char *at;   /* next character */
    mdbp_error_t *error;
} s_json_t;

static int s_json_fail(s_json_t *json, const char *what)
{
    return mdbp_error_set(json->error, "json: %s at column %td", what,
                           json->at - json->line + 1);
}

static void s_json_space(s_json_t *json)
{
    while (*json->at == ' ' || *json->at == '\t' || *json->at == '\r' ||
           *json->at == '\n')
        json->at++;
}

static int s_hex4(const char *text, unsigned *value)
{
    *value = 0;
    for (int index = 0; index < 4; index++) {
        char digit = text[index];
        unsigned nibble;
        if (digit >= '0' && digit <= '9')
            nibble = (unsigned)(digit - '0');
        else if (digit >= 'a' && digit <= 'f')
            nibble = (unsigned)(digit - 'a' + 10);
        else if (digit >= 'A' && digit <= 'F')
            nibble = (unsigned)(digit - 'A' + 10);
        else
            return -1;
        *value = (*value << 4) | nibble;
    }
    return 0;
}

/* Appends `byte` to a string being decoded; beyond the capacity only the
 * length grows (so a too-long value is still recognised as too long). */
static void s_put(char *out, size_t capacity, size_t *length, char byte)
{
    if (*length < capacity)
        out[*length] = byte;
    (*length)++;
}

static void s_put_utf8(char *out, size_t capacity, size_t *length,
                       unsigned code)
{
    if (code < 0x80)
        s_put(out, capacity, length, (char)code);
    else if (code < 0x800) {
        s_put(out, capacity, length, (char)(0xc0 | (code >> 6)));
        s_put(out, capacity, length, (char)(0x80 | (code & 0x3f)));
    } else if (code < 0x10000) {
        s_put(out, capacity, length, (char)(0xe0 | (code >> 12)));
        s_put(out, capacity, length, (char)(0x80 | ((code >> 6) & 0x3f)));
        s_put(out, capacity, length, (char)(0x80 | (code & 0x3f)));
    } else {
        s_put(out, capacity, length, (char)(0xf0 | (code >> 18)));
        s_put(out, capacity, length, (char)(0x80 | ((code >> 12) & 0x3f)));
        s_put(out, capacity, length, (char)(0x80 | ((code >> 6) & 0x3f)));
        s_put(out, capacity, length, (char)(0x80 | (code & 0x3f)));
    }
}

/* Reads a string at json->at (which is '"') into `out` (`capacity` bytes,
 * not NUL-terminated); `length` is its full decoded length. */
static int s_json_string(s_json_t *json, char *out, size_t capacity,
                         size_t *length)
{
    const char *start = json->at;
    json->at++;
    *length = 0;
    for (;;) {
        unsigned char byte = (unsigned char)*json->at;
        if (byte == '\0') {
            json->at = start;
            return s_json_fail(json, "unterminated string");
        }
        if (byte == '"') {
            json->at++;
            return 0;
        }
        if (byte < 0x20)
            return s_json_fail(json, "control character in string");
        if (byte != '\\') {
            s_put(out, capacity, length, (char)byte);
            json->at++;
            continue;
        }
        char escape = json->at[1];
        const char *simple = strchr("\"\\/bfnrt", escape);
        if (escape != '\0' && simple) {
            static const char replacement[] = "\"\\/\b\f\n\r\t";
            s_put(out, capacity, length, replacement[simple - "\"\\/bfnrt"]);
            json->at += 2;
            continue;
        }
        unsigned code;
        if (escape != 'u' || s_hex4(json->at + 2, &code) != 0)
            return s_json_fail(json, "invalid escape");
        const char *escape_start = json->at;
        json->at += 6;
        if (code >= 0xd800 && code <= 0xdbff) {
            /* A high surrogate must be followed by a low one. */
            unsigned low;
            if (json->at[0] != '\\' || json->at[1] != 'u' ||
                s_hex4(json->at + 2, &low) != 0 || low < 0xdc00 ||
                low > 0xdfff) {
                json->at = escape_start;
                return s_json_fail(json, "invalid escape");
            }
            json->at += 6;
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        } else if (code >= 0xdc00 && code <= 0xdfff) {
            json->at = escape_start;
            return s_json_fail(json, "invalid escape");
        }
        if (code == 0) {
            json->at = escape_start;
            return s_json_fail(json, "NUL character in string");
        }
        s_put_utf8(out, capacity, length, code);
    }
}

/* A value's kind as read. */
typedef enum { S_VALUE_STRING, S_VALUE_NUMBER, S_VALUE_LITERAL } s_value_t;

/* Reads a number at json->at; `text`/`length` span it. */
static int s_json_number(s_json_t *json, const char **text, size_t *length,
                         bool *integral)
{
    const char *start = json->at;
    while (*json->at && strchr("+-0123456789.eE", *json->at))
        json->at++;
    *text = start;
    *length = (size_t)(json->at - start);
    if (!s_number_syntax(start, *length, integral)) {
        json->at = start;
        return s_json_fail(json, "invalid number");
    }
    return 0;
}

/* The known keys of a record object and what was read for them. */
typedef struct {
    bool seen_kind, seen_provider, seen_symbol, seen_ts_ns;
    mdbp_record_kind_t kind;
    bool seen_number[S_NUMBER_KEY_COUNT];
    double number[S_NUMBER_KEY_COUNT];
} s_fields_t;

static int s_json_duplicate(s_json_t *json, bool *seen, const char *key)
{
    if (*seen)
        return mdbp_error_set(json->error, "json: duplicate key '%s'", key);
    *seen = true;
    return 0;
}

/* Reads the value of `key` (already read) into `fields` / `record`. */
static int s_json_member(s_json_t *json, const char *key, bool key_truncated,
                         s_fields_t *fields, mdbp_record_t *record)
{
    char text[S_STRING_MAX];
    size_t length = 0;
    const char *number_text = NULL;
    size_t number_length = 0;
    bool integral = false;
    s_value_t value;
    if (*json->at == '"') {
        if (s_json_string(json, text, sizeof text, &length) != 0)
            return -1;
        value = S_VALUE_STRING;
    } else if (*json->at == '-' || (*json->at >= '0' && *json->at <= '9')) {
        if (s_json_number(json, &number_text, &number_length, &integral) != 0)
            return -1;
        value = S_VALUE_NUMBER;
    } else if (strncmp(json->at, "true", 4) == 0 ||
               strncmp(json->at, "null", 4) == 0) {
        json->at += 4;
        value = S_VALUE_LITERAL;
    } else if (strncmp(json->at, "false", 5) == 0) {
        json->at += 5;
        value = S_VALUE_LITERAL;
    } else
        return s_json_fail(json, "expected a string or a number");

    if (key_truncated)
        return 0; /* longer than any known key: unknown */
    const char *prefix = "json";
    if (strcmp(key, "kind") == 0) {
        if (s_json_duplicate(json, &fields->seen_kind, key) != 0)
            return -1;
        if (value != S_VALUE_STRING ||
            s_kind_parse(text, length, &fields->kind) != 0)
            return mdbp_error_set(json->error,
                                   "json: key 'kind': expected "
                                   "\"trade\", \"quote\" or \"bar\"");
        return 0;
    }
    if (strcmp(key, "provider") == 0 || strcmp(key, "symbol") == 0) {
        bool provider = key[0] == 'p';
        if (s_json_duplicate(
                json, provider ? &fields->seen_provider : &fields->seen_symbol,
                key) != 0)
            return -1;
        if (value != S_VALUE_STRING)
            return mdbp_error_set(json->error,
                                   "json: key '%s': expected a string", key);
        return s_name_copy(text, length,
                           provider ? MDBP_NAME_MAX : MDBP_SYMBOL_MAX,
                           provider ? record->provider : record->symbol, prefix,
                           key, json->error);
    }
    if (strcmp(key, "ts_ns") == 0) {
        if (s_json_duplicate(json, &fields->seen_ts_ns, key) != 0)
            return -1;
        if (value != S_VALUE_NUMBER || !integral)
            return mdbp_error_set(json->error,
                                   "json: key 'ts_ns': expected an integer");
        if (s_integer_value(number_text, number_length, &record->ts_ns) != 0)
            return mdbp_error_set(json->error,
                                   "json: key 'ts_ns': out of range");
        return 0;
    }
    for (size_t index = 0; index < S_NUMBER_KEY_COUNT; index++) {
        if (strcmp(key, s_number_keys[index]) != 0)
            continue;
        if (s_json_duplicate(json, &fields->seen_number[index], key) != 0)
            return -1;
        if (value != S_VALUE_NUMBER)
            return mdbp_error_set(json->error,
                                   "json: key '%s': expected a number", key);
        if (s_number_value(number_text, number_length,
                           &fields->number[index]) != 0)
            return mdbp_error_set(json->error, "json: key '%s': out of range",
                                   key);
        return 0;
    }
    return 0; /* an unknown key (e.g. "reason"): ignored */
}

int mdbp_text_parse_json(const char *line, mdbp_record_t *record,
                          mdbp_error_t *error)
{
    s_json_t json = {.line = line, .at = line, .error = error};
    s_fields_t fields;
    memset(&fields, 0, sizeof fields);
    memset(record, 0, sizeof *record);

    s_json_space(&json);
    if (*json.at != '{')
        return s_json_fail(&json, "expected '{'");
    json.at++;
    s_json_space(&json);
    if (*json.at != '}') {
        for (;;) {
            if (*json.at != '"')
                return s_json_fail(&json, "expected a key");
            /* Known keys are short: a longer one is unknown. */
            char key[16];
            size_t key_length;
            if (s_json_string(&json, key, sizeof key - 1, &key_length) != 0)
                return -1;
            bool key_truncated = key_length >= sizeof key - 1;
            key[key_truncated ? 0 : key_length] = '\0';
            s_json_space(&json);
            if (*json.at != ':')
                return s_json_fail(&json, "expected ':'");
            json.at++;
            s_json_space(&json);
            if (s_json_member(&json, key, key_truncated, &fields, record) != 0)
                return -1;
            s_json_space(&json);
            if (*json.at == ',') {
                json.at++;
                s_json_space(&json);
                continue;
            }
            if (*json.at == '}')
                break;
            return s_json_fail(&json, "expected ',' or '}'");
        }
    }
    json.at++;
    s_json_space(&json);
    if (*json.at != '\0')
        return s_json_fail(&json, "unexpected text after the object");

    if (!fields.seen_kind)
        return mdbp_error_set(error, "json: missing key 'kind'");
    if (!fields.seen_provider)
        return mdbp_error_set(error, "json: missing key 'provider'");
    if (!fields.seen_symbol)
        return mdbp_error_set(error, "json: missing key 'symbol'");
    if (!fields.seen_ts_ns)
        return mdbp_error_set(error, "json: missing key 'ts_ns'");
    record->kind = fields.kind;
    for (size_t field = 0; field < s_field_counts[fields.kind]; field++) {
        const char *name = s_field_names[fields.kind][field];
        size_t index = 0;
        while (strcmp(s_number_keys[index], name) != 0)
            index++;
        if (!fields.seen_number[index])
            return mdbp_error_set(error, "json: missing key '%s'", name);
        *s_field_slot(record, field) = fields.number[index];
    }
    return s_validate(record, "json", error);
}

/* ---- CSV reader ------------------------------------------------------- */

int mdbp_text_parse_csv(const char *line, mdbp_record_t *record,
                         mdbp_error_t *error)
{
    memset(record, 0, sizeof *record);
    size_t line_length = strlen(line);
    /* The line ending is not part of the last field. */
    if (line_length > 0 && line[line_length - 1] == '\n')
        line_length--;
    if (line_length > 0 && line[line_length - 1] == '\r')
        line_length--;

    const char *starts[S_CSV_FIELDS_MAX];
    size_t lengths[S_CSV_FIELDS_MAX];
    size_t fields = 0;
    size_t start = 0;
    for (size_t at = 0; at <= line_length; at++) {
        if (at < line_length && line[at] != ',')
            continue;
        if (fields < S_CSV_FIELDS_MAX) {
            starts[fields] = line + start;
            lengths[fields] = at - start;
        }
        fields++;
        start = at + 1;
    }
    if (lengths[0] == 4 && memcmp(starts[0], "kind", 4) == 0)
        return 1; /* the header line */
    mdbp_record_kind_t kind;
    if (s_kind_parse(starts[0], lengths[0], &kind) != 0)
        return mdbp_error_set(error, "csv: field 1 (kind): expected "
                                      "trade|quote|bar");
    record->kind = kind;
    size_t expected = 4 + s_field_counts[kind];
    if (fields != expected)
        return mdbp_error_set(error, "csv: a %s has %zu fields, got %zu",
                               s_kind_names[kind], expected, fields);
    if (s_name_copy(starts[1], lengths[1], MDBP_NAME_MAX, record->provider,
                    "csv", "provider", error) != 0 ||
        s_name_copy(starts[2], lengths[2], MDBP_SYMBOL_MAX, record->symbol,
                    "csv", "symbol", error) != 0)
        return -1;
    bool integral;
    if (!s_number_syntax(starts[3], lengths[3], &integral) || !integral ||
        s_integer_value(starts[3], lengths[3], &record->ts_ns) != 0)
        return mdbp_error_set(error,
                               "csv: field 4 (ts_ns): expected an integer");
    for (size_t field = 0; field < s_field_counts[kind]; field++) {
        size_t column = 4 + field;
        if (!s_number_syntax(starts[column], lengths[column], &integral) ||
            s_number_value(starts[column], lengths[column],
                           s_field_slot(record, field)) != 0)
            return mdbp_error_set(error,
                                   "csv: field %zu (%s): expected a number",
                                   column + 1, s_field_names[kind][field]);
    }
    return s_validate(record, "csv", error);
}

/* ---- NDJSON writer ---------------------------------------------------- */

typedef struct {
    char *out;
    size_t capacity;
    size_t length;
    bool overflow;
} s_writer_t;

static void s_write(s_writer_t *writer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void s_write(s_writer_t *writer, const char *format, ...)
{
    if (writer->overflow)
        return;
    va_list arguments;
    va_start(arguments, format);
    int written =
        vsnprintf(writer->out + writer->length,
                  writer->capacity - writer->length, format, arguments);
    va_end(arguments);
    if (written < 0 || (size_t)written >= writer->capacity - writer->length)
        writer->overflow = true;
    else
        writer->length += (size_t)written;
}

/* A JSON string with the escapes JSON requires (quote, backslash, control
 * characters). */
static void s_write_string(s_writer_t *writer, const char *text)
{
    s_write(writer, "\"");
    for (const char *at = text; *at && !writer->overflow; at++) {
        unsigned char byte = (unsigned char)*at;
        switch (byte) {
        case '"':
            s_write(writer, "\\\"");
            break;
        case '\\':
            s_write(writer, "\\\\");
            break;
        case '\n':
            s_write(writer, "\\n");
            break;
        case '\r':
            s_write(writer, "\\r");
            break;
        case '\t':
            s_write(writer, "\\t");
            break;
        default:
            if (byte < 0x20 || byte == 0x7f)
                s_write(writer, "\\u%04x", byte);
            else
                s_write(writer, "%c", byte);
        }
    }
    s_write(writer, "\"");
}

/* The shortest of %.15g / %.17g that reads back exactly; null for a value
 * JSON cannot hold (a dead letter may carry one). */
static void s_write_number(s_writer_t *writer, double value)
{
    if (!isfinite(value)) {
        s_write(writer, "null");
        return;
    }
    char text[S_NUMBER_TEXT_MAX];
    snprintf(text, sizeof text, "%.*g", S_DOUBLE_DIGITS_SHORT, value);
    if (strtod(text, NULL) != value)
        snprintf(text, sizeof text, "%.*g", S_DOUBLE_DIGITS_EXACT, value);
    s_write(writer, "%s", text);
}

int mdbp_text_read_line(FILE *file, char *line, size_t max_length,
                         size_t *length)
{
    /* One byte more than the limit is kept, for a '\r' before '\n'. */
    size_t kept = 0, seen = 0;
    bool has_nul = false;
    int byte;
    while ((byte = getc(file)) != EOF) {
        seen++;
        if (byte == '\n')
            break;
        if (byte == '\0')
            has_nul = true;
        if (kept < max_length + 1)
            line[kept] = (char)byte;
        if (kept <= max_length + 1)
            kept++;
    }
    if (byte == EOF && ferror(file))
        return -1;
    if (seen == 0)
        return 0;
    bool too_long = kept > max_length + 1;
    if (!too_long && kept > 0 && line[kept - 1] == '\r')
        kept--;
    too_long = too_long || kept > max_length;
    if (too_long)
        kept = 0;
    line[kept] = '\0';
    *length = kept;
    if (has_nul)
        return MDBP_TEXT_LINE_HAS_NUL;
    return too_long ? MDBP_TEXT_LINE_TOO_LONG : 1;
}

int mdbp_text_format_json(const mdbp_record_t *record, const char *reason,
                           char *out, size_t capacity)
{
    if (record->kind < MDBP_RECORD_TRADE || record->kind > MDBP_RECORD_BAR ||
        capacity == 0)
        return -1;
    s_writer_t writer = {.out = out, .capacity = capacity};
    s_write(&writer,
            "{\"kind\":\"%s\",\"provider\":", s_kind_names[record->kind]);
    s_write_string(&writer, record->provider);
    s_write(&writer, ",\"symbol\":");
    s_write_string(&writer, record->symbol);
    s_write(&writer, ",\"ts_ns\":%" PRId64, record->ts_ns);
    mdbp_record_t copy = *record;
    for (size_t field = 0; field < s_field_counts[record->kind]; field++) {
        s_write(&writer, ",\"%s\":", s_field_names[record->kind][field]);
        s_write_number(&writer, *s_field_slot(&copy, field));
    }
    if (reason) {
        s_write(&writer, ",\"reason\":");
        s_write_string(&writer, reason);
    }
    s_write(&writer, "}");
    if (writer.overflow)
        return -1;
    return (int)writer.length;
}

int mdbp_text_format_feedback_json(const mdbp_feedback_t *event, char *out,
                                    size_t capacity)
{
    if (capacity == 0)
        return -1;
    s_writer_t writer = {.out = out, .capacity = capacity};
    s_write(&writer,
            "{\"v\":%d,\"type\":\"%s\",\"coordinator_id\":", MDBP_PROTOCOL_VERSION,
            mdbp_feedback_type_name(event->type));
    s_write_string(&writer, event->coordinator_id);
    s_write(&writer,
            ",\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"ts_ns\":%" PRId64
            ",\"level\":\"%s\",\"prev_level\":\"%s\",\"queue_size\":%" PRIu64
            ",\"capacity\":%" PRIu64 ",\"low_wm\":%" PRIu64
            ",\"high_wm\":%" PRIu64 ",\"utilization\":",
            event->epoch, event->seq, event->ts_ns,
            mdbp_level_name(event->level), mdbp_level_name(event->prev_level),
            event->queue_size, event->capacity, event->low_wm, event->high_wm);
    s_write_number(&writer, event->utilization);
    s_write(&writer, ",\"scale_hint\":");
    s_write_number(&writer, event->scale_hint);
    s_write(&writer, ",\"ttl_ms\":%" PRIu32, event->ttl_ms);
    if (event->has_reason) {
        s_write(&writer, ",\"reason\":");
        s_write_string(&writer, event->reason);
    }
    if (event->has_drain_rate) {
        s_write(&writer, ",\"drain_rate\":");
        s_write_number(&writer, event->drain_rate);
    }
    /* v1.1 keys, in the encoder's order, when present. */
    if (event->has_oldest_age_ms)
        s_write(&writer, ",\"oldest_age_ms\":%" PRIu32, event->oldest_age_ms);
    if (event->has_commit_latency_ms) {
        s_write(&writer, ",\"commit_latency_ms\":");
        s_write_number(&writer, event->commit_latency_ms);
    }
    if (event->sink_state != MDBP_SINK_STATE_NONE)
        s_write(&writer, ",\"sink_state\":\"%s\"",
                mdbp_sink_state_name(event->sink_state));
    if (event->has_pressure) {
        s_write(&writer, ",\"pressure\":");
        s_write_number(&writer, event->pressure);
    }
    if (event->has_credit_initial)
        s_write(&writer, ",\"credit_initial\":%" PRIu32, event->credit_initial);
    if (event->has_going_away)
        s_write(&writer, ",\"going_away\":%s",
                event->going_away ? "true" : "false");
    s_write(&writer, "}");
    if (writer.overflow)
        return -1;
    return (int)writer.length;
}
