/* mdbp_reader: a bounded, allocation-free msgpack reader for the decoders.
 *
 * Internal to the codec (not part of the public interface). Why not
 * msgpack_unpack: msgpack-c builds an object tree and allocates
 * count * sizeof(msgpack_object) for an array or map as soon as it reads the
 * header, so five bytes claiming 2^32-1 elements ask for ~96 GiB before a
 * single element is checked. This reader walks the bytes in place, checks
 * every declared count against the bytes that remain, never recurses, never
 * allocates and never reads past `size`. Strings it returns point into the
 * caller's buffer (not NUL-terminated): copy them. */
#ifndef MDBP_READER_H
#define MDBP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>

typedef struct {
    const uint8_t *data; /* the message, not owned */
    size_t size;         /* bytes in data */
    size_t pos;          /* next byte to read */
} mdbp_reader_t;

/* Results of every read. On anything but MDBP_READ_OK nothing is consumed. */
typedef enum {
    MDBP_READ_OK = 0,
    MDBP_READ_TYPE = -1,  /* the next object has another type */
    MDBP_READ_END = -2,   /* the message ends inside the object */
    MDBP_READ_RANGE = -3, /* an integer does not fit the target */
    MDBP_READ_BAD = -4,   /* a byte that is not valid msgpack (0xc1) */
} mdbp_read_t;

/* Starts reading `data` (borrowed: it must outlive the reader, and strings
 * read point into it). A reader belongs to one thread at a time. */
void mdbp_reader_init(mdbp_reader_t *self, const void *data, size_t size);

/* Bytes left to read. */
size_t mdbp_reader_left(const mdbp_reader_t *self);

/* A map header: `count` entries (each entry needs at least two bytes, so a
 * count larger than half the remaining bytes is MDBP_READ_END). */
mdbp_read_t mdbp_reader_map(mdbp_reader_t *self, uint32_t *count);
/* An array header; a count larger than the remaining bytes is
 * MDBP_READ_END. */
mdbp_read_t mdbp_reader_array(mdbp_reader_t *self, uint32_t *count);
/* A str (not bin): `text` points into the message, `length` bytes. */
mdbp_read_t mdbp_reader_str(mdbp_reader_t *self, const char **text,
                              uint32_t *length);
/* Any msgpack integer that is >= 0 and fits uint64. */
mdbp_read_t mdbp_reader_uint(mdbp_reader_t *self, uint64_t *value);
/* Any msgpack integer that fits int64. */
mdbp_read_t mdbp_reader_int(mdbp_reader_t *self, int64_t *value);
/* float32, float64, or any integer (converted). */
mdbp_read_t mdbp_reader_number(mdbp_reader_t *self, double *value);
/* A msgpack bool (true/false; nil and integers are not bools). */
mdbp_read_t mdbp_reader_bool(mdbp_reader_t *self, bool *value);
/* Skips one whole object, containers included (iteratively). */
mdbp_read_t mdbp_reader_skip(mdbp_reader_t *self);

/* A short name of the next object's type ("str", "map", "float"...) or
 * "nothing" at the end, for error texts. */
const char *mdbp_reader_type_name(const mdbp_reader_t *self);

/* Writes "<prefix>: expected <what>, got <type>" (or the truncation text)
 * into `error` for a failed read. Always returns -1. */
int mdbp_reader_fail(const mdbp_reader_t *self, mdbp_read_t result,
                      const char *prefix, const char *what,
                      mdbp_error_t *error);

/* One key a decoder knows: where its value starts once the map is scanned. */
typedef struct {
    const char *name; /* the key, NUL-terminated */
    bool seen;        /* present in the map */
    size_t offset;    /* where its value starts (when seen) */
} mdbp_key_t;

/* Reads a map header and every key, recording where the value of each key
 * in `keys` starts and skipping every value. Keys not in `keys` are ignored;
 * a key that is not a str or a known key given twice is an error. On return
 * the reader is after the map. Returns 0, or -1 with `error`. */
int mdbp_reader_scan_map(mdbp_reader_t *self, const char *what,
                          mdbp_key_t *keys, size_t key_count,
                          mdbp_error_t *error);

/* Starts reading one whole message, which must be a single map: initialises
 * `self` over `data` (borrowed; it must outlive the reader) and scans the
 * map as mdbp_reader_scan_map does under the name "message". Returns 0, or
 * -1 with `error` (also when bytes follow the map). */
int mdbp_reader_scan_message(mdbp_reader_t *self, const void *data,
                              size_t size, mdbp_key_t *keys, size_t key_count,
                              mdbp_error_t *error);

/* Field readers for a scanned key: each reads the key's value, checks its
 * type and range and returns 0, or -1 with an `error` naming the key
 * ("missing key 'seq'", "key 'seq': expected an unsigned integer, got str")
 * and its code (MISSING_KEY or BAD_VALUE, field = the key; VERSION for a
 * `v` that is not MDBP_PROTOCOL_VERSION). The map scanners set NOT_A_MAP or BAD_KEY.
 */
int mdbp_key_uint(const mdbp_reader_t *self, const mdbp_key_t *key,
                   uint64_t max, uint64_t *value, mdbp_error_t *error);
int mdbp_key_int(const mdbp_reader_t *self, const mdbp_key_t *key,
                  int64_t *value, mdbp_error_t *error);
int mdbp_key_number(const mdbp_reader_t *self, const mdbp_key_t *key,
                     double *value, mdbp_error_t *error);
/* A str of `min_length`..`max_length` bytes without NUL, copied into `out`
 * (max_length + 1 bytes) and NUL-terminated. */
int mdbp_key_str(const mdbp_reader_t *self, const mdbp_key_t *key,
                  size_t min_length, size_t max_length, char *out,
                  mdbp_error_t *error);
/* The str value matched against `names` (`count` of them): sets `index`.
 * The error lists the names ("expected one of ok|soft|hard"). */
int mdbp_key_enum(const mdbp_reader_t *self, const mdbp_key_t *key,
                   const char *const *names, size_t count, int *index,
                   mdbp_error_t *error);
/* The str value, not copied: `text` points into the message. */
int mdbp_key_raw_str(const mdbp_reader_t *self, const mdbp_key_t *key,
                      const char **text, uint32_t *length,
                      mdbp_error_t *error);
/* A msgpack bool. */
int mdbp_key_bool(const mdbp_reader_t *self, const mdbp_key_t *key,
                   bool *value, mdbp_error_t *error);
/* Checks `v`: present, an unsigned integer, and MDBP_PROTOCOL_VERSION. */
int mdbp_key_version(const mdbp_reader_t *self, const mdbp_key_t *key,
                      mdbp_error_t *error);

/* True for a code point a provider or symbol may not hold (ingest.md,
 * "Control characters"): the controls U+0000..U+001F, U+007F..U+009F (C1,
 * U+0085 among them), the separators U+2028 and U+2029, and the
 * bidirectional controls U+061C, U+200E, U+200F, U+202A..U+202E and
 * U+2066..U+2069 (which reorder what a log or dashboard shows). */
bool mdbp_code_point_is_control(uint32_t code_point);

/* The code point of the well-formed UTF-8 sequence of `length` bytes (1..4)
 * at `bytes`. */
uint32_t mdbp_utf8_decode(const unsigned char *bytes, size_t length);

/* Copies a str of `length` bytes into `out` after checking `min_length`,
 * `max_length` and NUL bytes; `what` names it in the error. */
int mdbp_copy_str(const char *text, uint32_t length, size_t min_length,
                   size_t max_length, char *out, const char *what,
                   mdbp_error_t *error);

/* Clears the machine-readable part of `error` (code NONE, field "", no
 * record index); `error` may be NULL. Every decoder calls it on entry. */
void mdbp_error_reset(mdbp_error_t *error);
/* Sets `code` and `field` (NULL: ""; cut to MDBP_FIELD_MAX bytes) in
 * `error`, which may be NULL. Always returns -1. */
int mdbp_error_code(mdbp_error_t *error, mdbp_nack_code_t code,
                     const char *field);

/* printf into `error`. Always returns -1. */
int mdbp_error_set(mdbp_error_t *error, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
