/* mdbp_packer: msgpack-c's packer writing into an mdbp_buffer_t.
 *
 * Internal to the codec (not installed): the encoders pack with msgpack-c,
 * the public interface shows only mdbp_buffer_t. */
#ifndef MDBP_PACKER_H
#define MDBP_PACKER_H

#include <msgpack.h>

#include <mdbp/buffer.h>

/* msgpack_packer's write callback: appends to the mdbp_buffer_t `buffer`.
 * Returns 0 or -1 (out of memory). */
int mdbp_buffer_packer_write(void *buffer, const char *bytes, size_t size);

/* An encoder's result: 0, or -1 with `buffer` cut back to the `start` size
 * it had before the encoder ran (no half message is left behind). */
static inline int mdbp_buffer_packer_finish(mdbp_buffer_t *buffer, size_t start,
                                            int failed)
{
    if (!failed)
        return 0;
    buffer->size = start;
    return -1;
}

#endif
