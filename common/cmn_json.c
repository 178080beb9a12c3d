/* cmn_json: a streaming JSON writer with RFC 8259 string escaping.
 *
 * The writer keeps one "a value was already written at this depth" bit per
 * nesting level to place commas. Strings are escaped; bytes that are not
 * valid UTF-8 become U+FFFD so the output is always valid JSON. If memory
 * runs out the writer stops appending (the text stays NUL-terminated). */
#include "cmn_json.h"
#include "cmn_utf8.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMN_JSON_MAX_DEPTH 64      /* nesting levels (bits of `has_member`) */
#define CMN_JSON_INITIAL_BYTES 256 /* first allocation */
#define CMN_JSON_NUMBER_BYTES 32   /* longest %.17g plus sign and exponent */
#define CMN_JSON_DOUBLE_SHORT_DIGITS                                           \
    15                                  /* tried first for a short round-trip  \
                                         */
#define CMN_JSON_DOUBLE_EXACT_DIGITS 17 /* always round-trips */

struct _cmn_json_t {
    char *text;          /* the output, NUL-terminated */
    size_t length;       /* bytes used, without the NUL */
    size_t capacity;     /* bytes allocated */
    int depth;           /* open objects and arrays */
    uint64_t has_member; /* bit d: a value was written at depth d */
    bool failed;         /* allocation failed: appends are dropped */
};

cmn_json_t *cmn_json_new(void)
{
    cmn_json_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->text = malloc(CMN_JSON_INITIAL_BYTES);
    if (!self->text) {
        free(self);
        return NULL;
    }
    self->capacity = CMN_JSON_INITIAL_BYTES;
    self->text[0] = '\0';
    return self;
}

void cmn_json_destroy(cmn_json_t **self_p)
{
    assert(self_p);
    cmn_json_t *self = *self_p;
    if (self) {
        free(self->text);
        free(self);
        *self_p = NULL;
    }
}

/* Makes room for `more` bytes plus the NUL; false if memory ran out. */
static bool s_reserve(cmn_json_t *self, size_t more)
{
    if (self->failed)
        return false;
    size_t needed = self->length + more + 1;
    if (needed <= self->capacity)
        return true;
    size_t capacity = self->capacity;
    while (capacity < needed)
        capacity *= 2;
    char *text = realloc(self->text, capacity);
    if (!text) {
        self->failed = true;
        return false;
    }
    self->text = text;
    self->capacity = capacity;
    return true;
}

static void s_append(cmn_json_t *self, const char *bytes, size_t count)
{
    if (!s_reserve(self, count))
        return;
    memcpy(self->text + self->length, bytes, count);
    self->length += count;
    self->text[self->length] = '\0';
}

static void s_append_string(cmn_json_t *self, const char *value)
{
    size_t needed = cmn_json_escape(value, NULL, 0);
    if (!s_reserve(self, needed + 2))
        return;
    self->text[self->length++] = '"';
    cmn_json_escape(value, self->text + self->length, needed + 1);
    self->length += needed;
    self->text[self->length++] = '"';
    self->text[self->length] = '\0';
}

/* Writes the comma and key that precede any value. */
static void s_begin_value(cmn_json_t *self, const char *key)
{
    uint64_t bit = UINT64_C(1) << self->depth;
    if (self->has_member & bit)
        s_append(self, ",", 1);
    self->has_member |= bit;
    if (key) {
        assert(self->depth > 0);
        s_append_string(self, key);
        s_append(self, ":", 1);
    }
}

static void s_open(cmn_json_t *self, const char *key, char bracket)
{
    assert(self);
    assert(self->depth + 1 < CMN_JSON_MAX_DEPTH);
    s_begin_value(self, key);
    s_append(self, &bracket, 1);
    self->depth++;
    self->has_member &= ~(UINT64_C(1) << self->depth);
}

static void s_close(cmn_json_t *self, char bracket)
{
    assert(self && self->depth > 0);
    self->depth--;
    s_append(self, &bracket, 1);
}

void cmn_json_object_begin(cmn_json_t *self, const char *key)
{
    s_open(self, key, '{');
}

void cmn_json_object_end(cmn_json_t *self)
{
    s_close(self, '}');
}

void cmn_json_array_begin(cmn_json_t *self, const char *key)
{
    s_open(self, key, '[');
}

void cmn_json_array_end(cmn_json_t *self)
{
    s_close(self, ']');
}

void cmn_json_string(cmn_json_t *self, const char *key, const char *value)
{
    assert(self);
    if (!value) {
        cmn_json_null(self, key);
        return;
    }
    s_begin_value(self, key);
    s_append_string(self, value);
}

static void s_append_number(cmn_json_t *self, const char *key, const char *text,
                            int length)
{
    s_begin_value(self, key);
    if (length > 0)
        s_append(self, text, (size_t)length);
}

void cmn_json_int(cmn_json_t *self, const char *key, int64_t value)
{
    assert(self);
    char text[CMN_JSON_NUMBER_BYTES];
    int length = snprintf(text, sizeof text, "%lld", (long long)value);
    s_append_number(self, key, text, length);
}

void cmn_json_uint(cmn_json_t *self, const char *key, uint64_t value)
{
    assert(self);
    char text[CMN_JSON_NUMBER_BYTES];
    int length = snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    s_append_number(self, key, text, length);
}

void cmn_json_double(cmn_json_t *self, const char *key, double value)
{
    assert(self);
    if (!isfinite(value)) {
        cmn_json_null(self, key);
        return;
    }
    /* The shortest of 15 or 17 significant digits that reads back exactly. */
    char text[CMN_JSON_NUMBER_BYTES];
    int length = snprintf(text, sizeof text, "%.*g",
                          CMN_JSON_DOUBLE_SHORT_DIGITS, value);
    if (strtod(text, NULL) != value)
        length = snprintf(text, sizeof text, "%.*g",
                          CMN_JSON_DOUBLE_EXACT_DIGITS, value);
    s_append_number(self, key, text, length);
}

void cmn_json_bool(cmn_json_t *self, const char *key, bool value)
{
    assert(self);
    s_begin_value(self, key);
    if (value)
        s_append(self, "true", 4);
    else
        s_append(self, "false", 5);
}

void cmn_json_null(cmn_json_t *self, const char *key)
{
    assert(self);
    s_begin_value(self, key);
    s_append(self, "null", 4);
}

const char *cmn_json_text(cmn_json_t *self)
{
    assert(self);
    return self->text;
}

size_t cmn_json_length(cmn_json_t *self)
{
    assert(self);
    return self->length;
}

void cmn_json_reset(cmn_json_t *self)
{
    assert(self);
    self->length = 0;
    self->text[0] = '\0';
    self->depth = 0;
    self->has_member = 0;
    self->failed = false;
}

size_t cmn_utf8_length(const unsigned char *bytes)
{
    unsigned char lead = bytes[0];
    size_t length;
    uint32_t min, code;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, min = 0x80, code = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3, min = 0x800, code = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, min = 0x10000, code = lead & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < length; i++) {
        if ((bytes[i] & 0xC0) != 0x80)
            return 0; /* also stops at the NUL */
        code = (code << 6) | (bytes[i] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

size_t cmn_json_escape(const char *value, char *out, size_t capacity)
{
    static const char hex[] = "0123456789abcdef";
    size_t needed = 0;  /* length of the whole escaped text */
    size_t written = 0; /* bytes stored in out */
    bool full = false;
    const unsigned char *at = (const unsigned char *)value;
    while (*at) {
        char piece[8];
        size_t piece_length = 0;
        size_t consumed = 1;
        unsigned char byte = *at;
        if (byte == '"' || byte == '\\') {
            piece[0] = '\\', piece[1] = (char)byte, piece_length = 2;
        } else if (byte == '\n') {
            memcpy(piece, "\\n", 2), piece_length = 2;
        } else if (byte == '\r') {
            memcpy(piece, "\\r", 2), piece_length = 2;
        } else if (byte == '\t') {
            memcpy(piece, "\\t", 2), piece_length = 2;
        } else if (byte < 0x20) {
            memcpy(piece, "\\u00", 4);
            piece[4] = hex[byte >> 4], piece[5] = hex[byte & 0xF];
            piece_length = 6;
        } else if (byte < 0x80) {
            piece[0] = (char)byte, piece_length = 1;
        } else if ((consumed = cmn_utf8_length(at)) > 0) {
            memcpy(piece, at, consumed), piece_length = consumed;
        } else {
            consumed = 1;
            memcpy(piece, "\\ufffd", 6), piece_length = 6;
        }
        /* Once a piece does not fit, stop writing: never split a piece. */
        if (out && !full && written + piece_length < capacity) {
            memcpy(out + written, piece, piece_length);
            written += piece_length;
        } else {
            full = true;
        }
        needed += piece_length;
        at += consumed;
    }
    if (out && capacity > 0)
        out[written] = '\0';
    return needed;
}
