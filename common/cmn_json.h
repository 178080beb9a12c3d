/* cmn_json: a small streaming JSON writer for /status, /health and logs.
 *
 * Members are written in order; the writer inserts commas and escapes
 * strings (RFC 8259), and writes non-finite doubles as null. Keys are NULL
 * for array elements and for the top-level value. Not thread-safe: one writer
 * per response. */
#ifndef CMN_JSON_H
#define CMN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _cmn_json_t cmn_json_t;

/* An empty writer. Caller owns the result. */
cmn_json_t *cmn_json_new(void);

/* Destroys the writer; tolerates NULL and sets *self_p to NULL. */
void cmn_json_destroy(cmn_json_t **self_p);

/* Containers and values, appended in order; `key` as described above.
 * Strings are copied, escaped. */
void cmn_json_object_begin(cmn_json_t *self, const char *key);
void cmn_json_object_end(cmn_json_t *self);
void cmn_json_array_begin(cmn_json_t *self, const char *key);
void cmn_json_array_end(cmn_json_t *self);
void cmn_json_string(cmn_json_t *self, const char *key, const char *value);
void cmn_json_int(cmn_json_t *self, const char *key, int64_t value);
void cmn_json_uint(cmn_json_t *self, const char *key, uint64_t value);
void cmn_json_double(cmn_json_t *self, const char *key, double value);
void cmn_json_bool(cmn_json_t *self, const char *key, bool value);
void cmn_json_null(cmn_json_t *self, const char *key);

/* The text so far (NUL-terminated, belongs to the writer) and its length. */
const char *cmn_json_text(cmn_json_t *self);
size_t cmn_json_length(cmn_json_t *self);

/* Empties the writer for reuse. */
void cmn_json_reset(cmn_json_t *self);

/* Appends `value` escaped as a JSON string body (no quotes) to `out` of
 * `capacity` bytes, NUL-terminated; returns the length it needed. */
size_t cmn_json_escape(const char *value, char *out, size_t capacity);

#endif
