/* mdbp_reader: a bounded, allocation-free msgpack reader (see the header). */
#include "mdbp_reader.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* msgpack format bytes (msgpack spec, "Formats"). */
#define MP_POSITIVE_FIXINT_MAX 0x7f
#define MP_FIXMAP 0x80
#define MP_FIXARRAY 0x90
#define MP_FIXSTR 0xa0
#define MP_FIXSTR_LAST 0xbf
#define MP_NIL 0xc0
#define MP_NEVER_USED 0xc1
#define MP_FALSE 0xc2
#define MP_TRUE 0xc3
#define MP_BIN8 0xc4
#define MP_BIN16 0xc5
#define MP_BIN32 0xc6
#define MP_EXT8 0xc7
#define MP_EXT16 0xc8
#define MP_EXT32 0xc9
#define MP_FLOAT32 0xca
#define MP_FLOAT64 0xcb
#define MP_UINT8 0xcc
#define MP_UINT16 0xcd
#define MP_UINT32 0xce
#define MP_UINT64 0xcf
#define MP_INT8 0xd0
#define MP_INT16 0xd1
#define MP_INT32 0xd2
#define MP_INT64 0xd3
#define MP_FIXEXT1 0xd4
#define MP_FIXEXT2 0xd5
#define MP_FIXEXT4 0xd6
#define MP_FIXEXT8 0xd7
#define MP_FIXEXT16 0xd8
#define MP_STR8 0xd9
#define MP_STR16 0xda
#define MP_STR32 0xdb
#define MP_ARRAY16 0xdc
#define MP_ARRAY32 0xdd
#define MP_MAP16 0xde
#define MP_MAP32 0xdf
#define MP_NEGATIVE_FIXINT 0xe0

#define MP_FIX_COUNT_MASK 0x0f /* fixmap, fixarray: low 4 bits */
#define MP_FIXSTR_LENGTH_MASK 0x1f

/* Message buffers, in bytes: the "key 'NAME'" prefix of an error, and the
 * longer texts (a list of expected names, an unknown key quoted). */
#define MDBP_KEY_PREFIX_SIZE 48
#define MDBP_EXPECTED_SIZE 96
/* Characters of an unknown key quoted in an error. */
#define MDBP_KEY_QUOTED_MAX 32

void mdbp_reader_init(mdbp_reader_t *self, const void *data, size_t size)
{
    self->data = data;
    self->size = size;
    self->pos = 0;
}

size_t mdbp_reader_left(const mdbp_reader_t *self)
{
    return self->size - self->pos;
}

/* Reads a big-endian unsigned integer of `width` bytes at `at`; the caller
 * has checked that the bytes exist. */
static uint64_t s_big_endian(const uint8_t *at, size_t width)
{
    uint64_t value = 0;
    for (size_t index = 0; index < width; index++)
        value = (value << 8) | at[index];
    return value;
}

/* Reads a length of `width` bytes that follows the format byte. Returns
 * MDBP_READ_OK and sets `value`, or MDBP_READ_END. */
static mdbp_read_t s_length(const mdbp_reader_t *self, size_t width,
                             uint64_t *value)
{
    if (mdbp_reader_left(self) < 1 + width)
        return MDBP_READ_END;
    *value = s_big_endian(self->data + self->pos + 1, width);
    return MDBP_READ_OK;
}

/* Reads the header of a map or an array: a fix format (`fix_format` in the
 * high nibble, the count in the low one) or a 16/32-bit count. Each counted
 * element is at least `element_bytes` bytes, so a count the data cannot
 * hold is MDBP_READ_END before anything is allocated for it. */
static mdbp_read_t s_container(mdbp_reader_t *self, uint8_t fix_format,
                                uint8_t format16, uint8_t format32,
                                uint64_t element_bytes, uint32_t *count)
{
    if (mdbp_reader_left(self) < 1)
        return MDBP_READ_END;
    uint8_t format = self->data[self->pos];
    uint64_t elements;
    size_t header;
    if ((format & ~MP_FIX_COUNT_MASK) == fix_format) {
        elements = format & MP_FIX_COUNT_MASK;
        header = 1;
    } else if (format == format16 || format == format32) {
        size_t width = format == format16 ? 2 : 4;
        if (s_length(self, width, &elements) != MDBP_READ_OK)
            return MDBP_READ_END;
        header = 1 + width;
    } else
        return MDBP_READ_TYPE;
    if (elements > (mdbp_reader_left(self) - header) / element_bytes)
        return MDBP_READ_END;
    self->pos += header;
    *count = (uint32_t)elements;
    return MDBP_READ_OK;
}

mdbp_read_t mdbp_reader_map(mdbp_reader_t *self, uint32_t *count)
{
    /* Each entry needs a key and a value, one byte at least each. */
    return s_container(self, MP_FIXMAP, MP_MAP16, MP_MAP32, 2, count);
}

mdbp_read_t mdbp_reader_array(mdbp_reader_t *self, uint32_t *count)
{
    return s_container(self, MP_FIXARRAY, MP_ARRAY16, MP_ARRAY32, 1, count);
}

mdbp_read_t mdbp_reader_str(mdbp_reader_t *self, const char **text,
                              uint32_t *length)
{
    if (mdbp_reader_left(self) < 1)
        return MDBP_READ_END;
    uint8_t format = self->data[self->pos];
    uint64_t bytes;
    size_t header;
    if (format >= MP_FIXSTR && format <= MP_FIXSTR_LAST) {
        bytes = format & MP_FIXSTR_LENGTH_MASK;
        header = 1;
    } else if (format == MP_STR8 || format == MP_STR16 || format == MP_STR32) {
        size_t width = format == MP_STR8 ? 1 : format == MP_STR16 ? 2 : 4;
        if (s_length(self, width, &bytes) != MDBP_READ_OK)
            return MDBP_READ_END;
        header = 1 + width;
    } else
        return MDBP_READ_TYPE;
    if (bytes > mdbp_reader_left(self) - header)
        return MDBP_READ_END;
    *text = (const char *)self->data + self->pos + header;
    *length = (uint32_t)bytes;
    self->pos += header + (size_t)bytes;
    return MDBP_READ_OK;
}

/* An integer read by s_integer, not yet consumed. */
typedef struct {
    bool negative;        /* which of the two values below holds it */
    uint64_t magnitude;   /* the value when not negative */
    int64_t signed_value; /* the value when negative */
    size_t used;          /* bytes it takes */
} s_integer_t;

/* Reads any integer into `integer` without consuming it. */
static mdbp_read_t s_integer(const mdbp_reader_t *self, s_integer_t *integer)
{
    if (mdbp_reader_left(self) < 1)
        return MDBP_READ_END;
    uint8_t format = self->data[self->pos];
    if (format <= MP_POSITIVE_FIXINT_MAX) {
        integer->negative = false;
        integer->magnitude = format;
        integer->used = 1;
        return MDBP_READ_OK;
    }
    if (format >= MP_NEGATIVE_FIXINT) {
        integer->negative = true;
        integer->signed_value = (int8_t)format;
        integer->used = 1;
        return MDBP_READ_OK;
    }
    size_t width;
    bool is_signed;
    switch (format) {
    case MP_UINT8:
        width = 1;
        is_signed = false;
        break;
    case MP_UINT16:
        width = 2;
        is_signed = false;
        break;
    case MP_UINT32:
        width = 4;
        is_signed = false;
        break;
    case MP_UINT64:
        width = 8;
        is_signed = false;
        break;
    case MP_INT8:
        width = 1;
        is_signed = true;
        break;
    case MP_INT16:
        width = 2;
        is_signed = true;
        break;
    case MP_INT32:
        width = 4;
        is_signed = true;
        break;
    case MP_INT64:
        width = 8;
        is_signed = true;
        break;
    default:
        return MDBP_READ_TYPE;
    }
    uint64_t raw;
    if (s_length(self, width, &raw) != MDBP_READ_OK)
        return MDBP_READ_END;
    integer->used = 1 + width;
    if (!is_signed) {
        integer->negative = false;
        integer->magnitude = raw;
        return MDBP_READ_OK;
    }
    /* Sign-extend a two's complement value of `width` bytes. */
    int64_t value;
    switch (width) {
    case 1:
        value = (int8_t)(uint8_t)raw;
        break;
    case 2:
        value = (int16_t)(uint16_t)raw;
        break;
    case 4:
        value = (int32_t)(uint32_t)raw;
        break;
    default: {
        int64_t wide;
        memcpy(&wide, &raw, sizeof wide);
        value = wide;
        break;
    }
    }
    if (value < 0) {
        integer->negative = true;
        integer->signed_value = value;
    } else {
        integer->negative = false;
        integer->magnitude = (uint64_t)value;
    }
    return MDBP_READ_OK;
}

mdbp_read_t mdbp_reader_uint(mdbp_reader_t *self, uint64_t *value)
{
    s_integer_t integer = {0};
    mdbp_read_t result = s_integer(self, &integer);
    if (result != MDBP_READ_OK)
        return result;
    if (integer.negative)
        return MDBP_READ_RANGE;
    *value = integer.magnitude;
    self->pos += integer.used;
    return MDBP_READ_OK;
}

mdbp_read_t mdbp_reader_int(mdbp_reader_t *self, int64_t *value)
{
    s_integer_t integer = {0};
    mdbp_read_t result = s_integer(self, &integer);
    if (result != MDBP_READ_OK)
        return result;
    if (integer.negative)
        *value = integer.signed_value;
    else if (integer.magnitude > INT64_MAX)
        return MDBP_READ_RANGE;
    else
        *value = (int64_t)integer.magnitude;
    self->pos += integer.used;
    return MDBP_READ_OK;
}

mdbp_read_t mdbp_reader_number(mdbp_reader_t *self, double *value)
{
    if (mdbp_reader_left(self) < 1)
        return MDBP_READ_END;
    uint8_t format = self->data[self->pos];
    if (format == MP_FLOAT32 || format == MP_FLOAT64) {
        size_t width = format == MP_FLOAT32 ? 4 : 8;
        uint64_t raw;
        if (s_length(self, width, &raw) != MDBP_READ_OK)
            return MDBP_READ_END;
        if (width == 4) {
            uint32_t bits = (uint32_t)raw;
            float single;
            memcpy(&single, &bits, sizeof single);
            *value = single;
        } else
            memcpy(value, &raw, sizeof *value);
        self->pos += 1 + width;
        return MDBP_READ_OK;
    }
    s_integer_t integer = {0};
    mdbp_read_t result = s_integer(self, &integer);
    if (result != MDBP_READ_OK)
        return result;
    *value = integer.negative ? (double)integer.signed_value
                              : (double)integer.magnitude;
    self->pos += integer.used;
    return MDBP_READ_OK;
}

mdbp_read_t mdbp_reader_bool(mdbp_reader_t *self, bool *value)
{
    if (mdbp_reader_left(self) < 1)
        return MDBP_READ_END;
    uint8_t format = self->data[self->pos];
    if (format != MP_TRUE && format != MP_FALSE)
        return MDBP_READ_TYPE;
    *value = format == MP_TRUE;
    self->pos += 1;
    return MDBP_READ_OK;
}

/* For one object starting at `at`: the bytes of its header and payload
 * (`bytes`) and the number of child objects that follow (`children`). */
static mdbp_read_t s_object_extent(const mdbp_reader_t *self, size_t at,
                                    uint64_t *bytes, uint64_t *children)
{
    const uint8_t *data = self->data;
    size_t left = self->size - at;
    uint8_t format = data[at];
    *children = 0;
    if (format <= MP_POSITIVE_FIXINT_MAX || format >= MP_NEGATIVE_FIXINT ||
        format == MP_NIL || format == MP_FALSE || format == MP_TRUE) {
        *bytes = 1;
        return MDBP_READ_OK;
    }
    if ((format & ~MP_FIX_COUNT_MASK) == MP_FIXMAP) {
        *bytes = 1;
        *children = 2u * (format & MP_FIX_COUNT_MASK);
        return MDBP_READ_OK;
    }
    if ((format & ~MP_FIX_COUNT_MASK) == MP_FIXARRAY) {
        *bytes = 1;
        *children = format & MP_FIX_COUNT_MASK;
        return MDBP_READ_OK;
    }
    if (format >= MP_FIXSTR && format <= MP_FIXSTR_LAST) {
        *bytes = 1u + (format & MP_FIXSTR_LENGTH_MASK);
        return MDBP_READ_OK;
    }
    /* Formats with a length field: (width of the length, what it counts). */
    size_t width = 0;
    uint64_t fixed = 0; /* payload bytes beyond the header, when fixed */
    enum {
        LENGTH_NONE,
        LENGTH_BYTES,
        LENGTH_EXT,
        LENGTH_ARRAY,
        LENGTH_MAP
    } meaning = LENGTH_NONE;
    switch (format) {
    case MP_NEVER_USED:
        return MDBP_READ_BAD;
    case MP_BIN8:
    case MP_STR8:
        width = 1;
        meaning = LENGTH_BYTES;
        break;
    case MP_BIN16:
    case MP_STR16:
        width = 2;
        meaning = LENGTH_BYTES;
        break;
    case MP_BIN32:
    case MP_STR32:
        width = 4;
        meaning = LENGTH_BYTES;
        break;
    case MP_EXT8:
        width = 1;
        meaning = LENGTH_EXT;
        break;
    case MP_EXT16:
        width = 2;
        meaning = LENGTH_EXT;
        break;
    case MP_EXT32:
        width = 4;
        meaning = LENGTH_EXT;
        break;
    case MP_FLOAT32:
    case MP_UINT32:
    case MP_INT32:
        fixed = 4;
        break;
    case MP_FLOAT64:
    case MP_UINT64:
    case MP_INT64:
        fixed = 8;
        break;
    case MP_UINT8:
    case MP_INT8:
        fixed = 1;
        break;
    case MP_UINT16:
    case MP_INT16:
        fixed = 2;
        break;
    case MP_FIXEXT1:
        fixed = 2;
        break; /* type byte + 1 */
    case MP_FIXEXT2:
        fixed = 3;
        break;
    case MP_FIXEXT4:
        fixed = 5;
        break;
    case MP_FIXEXT8:
        fixed = 9;
        break;
    case MP_FIXEXT16:
        fixed = 17;
        break;
    case MP_ARRAY16:
        width = 2;
        meaning = LENGTH_ARRAY;
        break;
    case MP_ARRAY32:
        width = 4;
        meaning = LENGTH_ARRAY;
        break;
    case MP_MAP16:
        width = 2;
        meaning = LENGTH_MAP;
        break;
    case MP_MAP32:
        width = 4;
        meaning = LENGTH_MAP;
        break;
    default:
        return MDBP_READ_BAD;
    }
    if (meaning == LENGTH_NONE) {
        *bytes = 1 + fixed;
        return MDBP_READ_OK;
    }
    if (left < 1 + width)
        return MDBP_READ_END;
    uint64_t length = s_big_endian(data + at + 1, width);
    switch (meaning) {
    case LENGTH_BYTES:
        *bytes = 1 + width + length;
        break;
    case LENGTH_EXT:
        *bytes = 1 + width + 1 + length;
        break; /* + type */
    case LENGTH_ARRAY:
        *bytes = 1 + width;
        *children = length;
        break;
    default:
        *bytes = 1 + width;
        *children = 2 * length;
        break;
    }
    return MDBP_READ_OK;
}

mdbp_read_t mdbp_reader_skip(mdbp_reader_t *self)
{
    size_t at = self->pos;
    /* Objects still to skip. Each needs at least one byte, so `pending`
     * never exceeds the bytes left: the loop runs at most `size` times. */
    uint64_t pending = 1;
    while (pending > 0) {
        if (at >= self->size)
            return MDBP_READ_END;
        uint64_t bytes, children;
        mdbp_read_t result = s_object_extent(self, at, &bytes, &children);
        if (result != MDBP_READ_OK)
            return result;
        if (bytes > self->size - at)
            return MDBP_READ_END;
        at += (size_t)bytes;
        pending = pending - 1 + children;
        if (pending > self->size - at)
            return MDBP_READ_END;
    }
    self->pos = at;
    return MDBP_READ_OK;
}

const char *mdbp_reader_type_name(const mdbp_reader_t *self)
{
    if (mdbp_reader_left(self) < 1)
        return "nothing";
    uint8_t format = self->data[self->pos];
    if (format <= MP_POSITIVE_FIXINT_MAX || format >= MP_NEGATIVE_FIXINT)
        return "integer";
    if ((format & ~MP_FIX_COUNT_MASK) == MP_FIXMAP)
        return "map";
    if ((format & ~MP_FIX_COUNT_MASK) == MP_FIXARRAY)
        return "array";
    if (format >= MP_FIXSTR && format <= MP_FIXSTR_LAST)
        return "str";
    switch (format) {
    case MP_NIL:
        return "nil";
    case MP_FALSE:
    case MP_TRUE:
        return "bool";
    case MP_BIN8:
    case MP_BIN16:
    case MP_BIN32:
        return "bin";
    case MP_EXT8:
    case MP_EXT16:
    case MP_EXT32:
    case MP_FIXEXT1:
    case MP_FIXEXT2:
    case MP_FIXEXT4:
    case MP_FIXEXT8:
    case MP_FIXEXT16:
        return "ext";
    case MP_FLOAT32:
    case MP_FLOAT64:
        return "float";
    case MP_UINT8:
    case MP_UINT16:
    case MP_UINT32:
    case MP_UINT64:
    case MP_INT8:
    case MP_INT16:
    case MP_INT32:
    case MP_INT64:
        return "integer";
    case MP_STR8:
    case MP_STR16:
    case MP_STR32:
        return "str";
    case MP_ARRAY16:
    case MP_ARRAY32:
        return "array";
    case MP_MAP16:
    case MP_MAP32:
        return "map";
    default:
        return "invalid byte 0xc1";
    }
}

int mdbp_error_set(mdbp_error_t *error, const char *format, ...)
{
    if (error) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(error->text, sizeof error->text, format, arguments);
        va_end(arguments);
    }
    return -1;
}

int mdbp_reader_fail(const mdbp_reader_t *self, mdbp_read_t result,
                      const char *prefix, const char *what,
                      mdbp_error_t *error)
{
    switch (result) {
    case MDBP_READ_TYPE:
        return mdbp_error_set(error, "%s: expected %s, got %s", prefix, what,
                               mdbp_reader_type_name(self));
    case MDBP_READ_RANGE:
        return mdbp_error_set(error, "%s: expected %s, out of range", prefix,
                               what);
    case MDBP_READ_BAD:
        return mdbp_error_set(error, "%s: invalid msgpack byte", prefix);
    default:
        return mdbp_error_set(error, "%s: message truncated", prefix);
    }
}

int mdbp_reader_scan_map(mdbp_reader_t *self, const char *what,
                          mdbp_key_t *keys, size_t key_count,
                          mdbp_error_t *error)
{
    for (size_t index = 0; index < key_count; index++)
        keys[index].seen = false;
    uint32_t entries;
    mdbp_read_t result = mdbp_reader_map(self, &entries);
    if (result != MDBP_READ_OK) {
        mdbp_reader_fail(self, result, what, "a map", error);
        return mdbp_error_code(error, MDBP_NACK_CODE_NOT_A_MAP, NULL);
    }
    for (uint32_t entry = 0; entry < entries; entry++) {
        const char *name;
        uint32_t length;
        result = mdbp_reader_str(self, &name, &length);
        if (result != MDBP_READ_OK) {
            char prefix[MDBP_KEY_PREFIX_SIZE];
            snprintf(prefix, sizeof prefix, "%s: map key %u", what,
                     (unsigned)entry);
            mdbp_reader_fail(self, result, prefix, "a str", error);
            /* A truncated key is a broken map, a non-str one a bad key. */
            return mdbp_error_code(error,
                                    result == MDBP_READ_TYPE
                                        ? MDBP_NACK_CODE_BAD_KEY
                                        : MDBP_NACK_CODE_NOT_A_MAP,
                                    NULL);
        }
        mdbp_key_t *known = NULL;
        for (size_t index = 0; index < key_count; index++) {
            if (strlen(keys[index].name) == length &&
                memcmp(keys[index].name, name, length) == 0) {
                known = &keys[index];
                break;
            }
        }
        if (known) {
            if (known->seen) {
                mdbp_error_set(error, "duplicate key '%s'", known->name);
                return mdbp_error_code(error, MDBP_NACK_CODE_BAD_KEY,
                                        known->name);
            }
            known->seen = true;
            known->offset = self->pos;
        }
        size_t value_at = self->pos;
        result = mdbp_reader_skip(self);
        if (result != MDBP_READ_OK) {
            mdbp_reader_t at_value = *self;
            at_value.pos = value_at;
            char prefix[MDBP_EXPECTED_SIZE];
            snprintf(prefix, sizeof prefix, "key '%.*s'",
                     (int)(length > MDBP_KEY_QUOTED_MAX ? MDBP_KEY_QUOTED_MAX
                                                         : length),
                     name);
            mdbp_reader_fail(&at_value, result, prefix, "a value", error);
            return mdbp_error_code(error, MDBP_NACK_CODE_NOT_A_MAP,
                                    known ? known->name : NULL);
        }
    }
    return 0;
}

int mdbp_reader_scan_message(mdbp_reader_t *self, const void *data,
                              size_t size, mdbp_key_t *keys, size_t key_count,
                              mdbp_error_t *error)
{
    mdbp_reader_init(self, data, size);
    if (mdbp_reader_scan_map(self, "message", keys, key_count, error) != 0)
        return -1;
    if (mdbp_reader_left(self) != 0) {
        mdbp_error_set(error, "message: %zu bytes after the map",
                        mdbp_reader_left(self));
        return mdbp_error_code(error, MDBP_NACK_CODE_NOT_A_MAP, NULL);
    }
    return 0;
}

/* A reader positioned at the key's value. */
static mdbp_reader_t s_at(const mdbp_reader_t *self, const mdbp_key_t *key)
{
    mdbp_reader_t reader = *self;
    reader.pos = key->offset;
    return reader;
}

/* Starts reading a key's value: positions `reader` at it and writes the
 * "key 'NAME'" prefix of its messages. -1 (error set) when the key was not
 * in the map. */
static int s_key_start(const mdbp_reader_t *self, const mdbp_key_t *key,
                       mdbp_reader_t *reader, char *prefix,
                       mdbp_error_t *error)
{
    if (!key->seen)
        return mdbp_error_set(error, "missing key '%s'", key->name);
    *reader = s_at(self, key);
    snprintf(prefix, MDBP_KEY_PREFIX_SIZE, "key '%s'", key->name);
    return 0;
}

static int s_key_uint(const mdbp_reader_t *self, const mdbp_key_t *key,
                      uint64_t max, uint64_t *value, mdbp_error_t *error)
{
    mdbp_reader_t reader = {0}; /* s_key_start sets it; -fPIC gcc warns */
    char prefix[MDBP_KEY_PREFIX_SIZE];
    if (s_key_start(self, key, &reader, prefix, error) != 0)
        return -1;
    mdbp_read_t result = mdbp_reader_uint(&reader, value);
    if (result != MDBP_READ_OK)
        return mdbp_reader_fail(&reader, result, prefix, "an unsigned integer",
                                 error);
    if (*value > max)
        return mdbp_error_set(error, "key '%s': %llu is more than %llu",
                               key->name, (unsigned long long)*value,
                               (unsigned long long)max);
    return 0;
}

static int s_key_int(const mdbp_reader_t *self, const mdbp_key_t *key,
                     int64_t *value, mdbp_error_t *error)
{
    mdbp_reader_t reader = {0}; /* s_key_start sets it; -fPIC gcc warns */
    char prefix[MDBP_KEY_PREFIX_SIZE];
    if (s_key_start(self, key, &reader, prefix, error) != 0)
        return -1;
    mdbp_read_t result = mdbp_reader_int(&reader, value);
    if (result != MDBP_READ_OK)
        return mdbp_reader_fail(&reader, result, prefix, "an integer", error);
    return 0;
}

static int s_key_number(const mdbp_reader_t *self, const mdbp_key_t *key,
                        double *value, mdbp_error_t *error)
{
    mdbp_reader_t reader = {0}; /* s_key_start sets it; -fPIC gcc warns */
    char prefix[MDBP_KEY_PREFIX_SIZE];
    if (s_key_start(self, key, &reader, prefix, error) != 0)
        return -1;
    mdbp_read_t result = mdbp_reader_number(&reader, value);
    if (result != MDBP_READ_OK)
        return mdbp_reader_fail(&reader, result, prefix, "a number", error);
    return 0;
}

bool mdbp_code_point_is_control(uint32_t code_point)
{
    return code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f) ||
           code_point == 0x2028 || code_point == 0x2029 ||
           code_point == 0x061c || code_point == 0x200e ||
           code_point == 0x200f ||
           (code_point >= 0x202a && code_point <= 0x202e) ||
           (code_point >= 0x2066 && code_point <= 0x2069);
}

uint32_t mdbp_utf8_decode(const unsigned char *bytes, size_t length)
{
    static const unsigned char lead_bits[] = {0x7f, 0x1f, 0x0f, 0x07};
    assert(length >= 1 && length <= 4);
    uint32_t code_point = bytes[0] & lead_bits[length - 1];
    for (size_t index = 1; index < length; index++)
        code_point = (code_point << 6) | (bytes[index] & 0x3f);
    return code_point;
}

int mdbp_copy_str(const char *text, uint32_t length, size_t min_length,
                   size_t max_length, char *out, const char *what,
                   mdbp_error_t *error)
{
    if (length < min_length)
        return mdbp_error_set(error, "%s: empty", what);
    if (length > max_length)
        return mdbp_error_set(error, "%s: longer than %zu bytes", what,
                               max_length);
    if (memchr(text, '\0', length))
        return mdbp_error_set(error, "%s: contains a NUL byte", what);
    memcpy(out, text, length);
    out[length] = '\0';
    return 0;
}

static int s_key_str(const mdbp_reader_t *self, const mdbp_key_t *key,
                     size_t min_length, size_t max_length, char *out,
                     mdbp_error_t *error)
{
    mdbp_reader_t reader = {0}; /* s_key_start sets it; -fPIC gcc warns */
    char prefix[MDBP_KEY_PREFIX_SIZE];
    if (s_key_start(self, key, &reader, prefix, error) != 0)
        return -1;
    const char *text;
    uint32_t length;
    mdbp_read_t result = mdbp_reader_str(&reader, &text, &length);
    if (result != MDBP_READ_OK)
        return mdbp_reader_fail(&reader, result, prefix, "a str", error);
    return mdbp_copy_str(text, length, min_length, max_length, out, prefix,
                          error);
}

static int s_key_enum(const mdbp_reader_t *self, const mdbp_key_t *key,
                      const char *const *names, size_t count, int *index,
                      mdbp_error_t *error)
{
    mdbp_reader_t reader = {0}; /* s_key_start sets it; -fPIC gcc warns */
    char prefix[MDBP_KEY_PREFIX_SIZE];
    if (s_key_start(self, key, &reader, prefix, error) != 0)
        return -1;
    char expected[MDBP_EXPECTED_SIZE] = "one of ";
    for (size_t name = 0; name < count; name++) {
        if (name > 0)
            strncat(expected, "|", sizeof expected - strlen(expected) - 1);
        strncat(expected, names[name], sizeof expected - strlen(expected) - 1);
    }
    const char *text;
    uint32_t length;
    mdbp_read_t result = mdbp_reader_str(&reader, &text, &length);
    if (result != MDBP_READ_OK)
        return mdbp_reader_fail(&reader, result, prefix, expected, error);
    for (size_t name = 0; name < count; name++) {
        if (strlen(names[name]) == length &&
            memcmp(names[name], text, length) == 0) {
            *index = (int)name;
            return 0;
        }
    }
    return mdbp_error_set(error, "key '%s': expected %s", key->name, expected);
}

int mdbp_key_version(const mdbp_reader_t *self, const mdbp_key_t *key,
                      mdbp_error_t *error)
{
    uint64_t version = 0; /* gcc -O3 cannot see mdbp_key_uint set it */
    if (mdbp_key_uint(self, key, UINT64_MAX, &version, error) != 0)
        return -1;
    if (version != MDBP_PROTOCOL_VERSION) {
        mdbp_error_set(error,
                        "key 'v': unsupported version %llu "
                        "(this decoder reads %d)",
                        (unsigned long long)version, MDBP_PROTOCOL_VERSION);
        return mdbp_error_code(error, MDBP_NACK_CODE_VERSION, key->name);
    }
    return 0;
}

/* A failed read of `key`: MISSING_KEY when it is absent, else BAD_VALUE,
 * naming it as the field. Always returns -1. */
static int s_key_code(mdbp_error_t *error, const mdbp_key_t *key)
{
    return mdbp_error_code(error,
                            key->seen ? MDBP_NACK_CODE_BAD_VALUE
                                      : MDBP_NACK_CODE_MISSING_KEY,
                            key->name);
}

int mdbp_key_uint(const mdbp_reader_t *self, const mdbp_key_t *key,
                   uint64_t max, uint64_t *value, mdbp_error_t *error)
{
    if (s_key_uint(self, key, max, value, error) != 0)
        return s_key_code(error, key);
    return 0;
}

int mdbp_key_int(const mdbp_reader_t *self, const mdbp_key_t *key,
                  int64_t *value, mdbp_error_t *error)
{
    if (s_key_int(self, key, value, error) != 0)
        return s_key_code(error, key);
    return 0;
}

int mdbp_key_number(const mdbp_reader_t *self, const mdbp_key_t *key,
                     double *value, mdbp_error_t *error)
{
    if (s_key_number(self, key, value, error) != 0)
        return s_key_code(error, key);
    return 0;
}

int mdbp_key_str(const mdbp_reader_t *self, const mdbp_key_t *key,
                  size_t min_length, size_t max_length, char *out,
                  mdbp_error_t *error)
{
    if (s_key_str(self, key, min_length, max_length, out, error) != 0)
        return s_key_code(error, key);
    return 0;
}

int mdbp_key_enum(const mdbp_reader_t *self, const mdbp_key_t *key,
                   const char *const *names, size_t count, int *index,
                   mdbp_error_t *error)
{
    if (s_key_enum(self, key, names, count, index, error) != 0)
        return s_key_code(error, key);
    return 0;
}

int mdbp_key_raw_str(const mdbp_reader_t *self, const mdbp_key_t *key,
                      const char **text, uint32_t *length, mdbp_error_t *error)
{
    mdbp_reader_t reader = {0}; /* s_key_start sets it; -fPIC gcc warns */
    char prefix[MDBP_KEY_PREFIX_SIZE];
    if (s_key_start(self, key, &reader, prefix, error) != 0)
        return s_key_code(error, key);
    mdbp_read_t result = mdbp_reader_str(&reader, text, length);
    if (result != MDBP_READ_OK) {
        mdbp_reader_fail(&reader, result, prefix, "a str", error);
        return s_key_code(error, key);
    }
    return 0;
}

int mdbp_key_bool(const mdbp_reader_t *self, const mdbp_key_t *key,
                   bool *value, mdbp_error_t *error)
{
    mdbp_reader_t reader = {0}; /* s_key_start sets it; -fPIC gcc warns */
    char prefix[MDBP_KEY_PREFIX_SIZE];
    if (s_key_start(self, key, &reader, prefix, error) != 0)
        return s_key_code(error, key);
    mdbp_read_t result = mdbp_reader_bool(&reader, value);
    if (result != MDBP_READ_OK) {
        mdbp_reader_fail(&reader, result, prefix, "a bool", error);
        return s_key_code(error, key);
    }
    return 0;
}

void mdbp_error_reset(mdbp_error_t *error)
{
    if (error) {
        error->code = MDBP_NACK_CODE_NONE;
        error->field[0] = '\0';
        error->has_record_index = false;
        error->record_index = 0;
    }
}

int mdbp_error_code(mdbp_error_t *error, mdbp_nack_code_t code,
                     const char *field)
{
    if (error) {
        error->code = code;
        snprintf(error->field, sizeof error->field, "%s", field ? field : "");
    }
    return -1;
}
