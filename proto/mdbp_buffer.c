/* mdbp_buffer: the growable byte buffer of the encoders. */
#include "mdbp_packer.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation: a feedback message or a reply fits. */
#define MDBP_BUFFER_CAPACITY_INITIAL_BYTES 256

void mdbp_buffer_init(mdbp_buffer_t *buffer)
{
    assert(buffer);
    buffer->data = NULL;
    buffer->size = 0;
    buffer->capacity = 0;
}

void mdbp_buffer_reset(mdbp_buffer_t *buffer)
{
    assert(buffer);
    buffer->size = 0;
}

void mdbp_buffer_release(mdbp_buffer_t *buffer)
{
    assert(buffer);
    free(buffer->data);
    mdbp_buffer_init(buffer);
}

int mdbp_buffer_append(mdbp_buffer_t *buffer, const void *bytes, size_t size)
{
    assert(buffer);
    assert(bytes || size == 0);
    if (size > SIZE_MAX - buffer->size)
        return -1;
    size_t needed = buffer->size + size;
    if (needed > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity
                                           : MDBP_BUFFER_CAPACITY_INITIAL_BYTES;
        while (capacity < needed)
            capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
        uint8_t *data = realloc(buffer->data, capacity);
        if (!data)
            return -1;
        buffer->data = data;
        buffer->capacity = capacity;
    }
    if (size)
        memcpy(buffer->data + buffer->size, bytes, size);
    buffer->size = needed;
    return 0;
}

int mdbp_buffer_packer_write(void *buffer, const char *bytes, size_t size)
{
    return mdbp_buffer_append(buffer, bytes, size);
}
