/* mdbp_buffer: a growable byte buffer the encoders append messages to.
 *
 * The library's own type, so a user needs no msgpack-c header: `data` and
 * `size` are the bytes to send (a ZeroMQ frame's body). A buffer belongs to
 * one thread at a time; reuse one with mdbp_buffer_reset to send many
 * messages without allocating again. */
#ifndef MDBP_BUFFER_H
#define MDBP_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t *data;   /* the bytes written; owned by the buffer, NULL when
                        nothing was ever written */
    size_t size;     /* bytes written */
    size_t capacity; /* bytes allocated at `data` */
} mdbp_buffer_t;

/* A static initialiser, the same as mdbp_buffer_init. */
#define MDBP_BUFFER_INIT {NULL, 0, 0}

/* Makes `buffer` empty, allocating nothing. */
MDBP_EXPORT void mdbp_buffer_init(mdbp_buffer_t *buffer);

/* Empties `buffer` (size 0) and keeps its memory for the next message. */
MDBP_EXPORT void mdbp_buffer_reset(mdbp_buffer_t *buffer);

/* Frees the memory of `buffer` and makes it empty again (init'ed): it may
 * be reused or dropped. Tolerates a buffer that never held anything. */
MDBP_EXPORT void mdbp_buffer_release(mdbp_buffer_t *buffer);

/* Appends `size` bytes of `bytes` (copied) to `buffer`, growing it.
 * Returns 0, or -1 when memory ran out (the buffer is then unchanged). The
 * encoders write through this; a caller may too (e.g. a prefix). */
MDBP_EXPORT int mdbp_buffer_append(mdbp_buffer_t *buffer, const void *bytes,
                                   size_t size);

#ifdef __cplusplus
}
#endif

#endif
