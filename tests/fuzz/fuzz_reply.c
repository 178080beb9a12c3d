/* The reply decoder (mdbp_reply_decode): what a pipeline reads from a
 * coordinator (or anything at that address). A decoded reply re-encodes
 * and decodes to the same type and batch_seq. */
#include "fuzz_common.h"
#include <mdbp/ingest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdbp_reply_t reply;
    mdbp_error_t error = {{0}};
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy);
    if (size)
        memcpy(copy, data, size);
    int result = mdbp_reply_decode(copy, size, &reply, &error);
    free(copy);
    if (result != 0) {
        FUZZ_CHECK(error.text[0] != '\0');
        return 0;
    }
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    if (mdbp_reply_encode(&reply, &buffer) == 0) {
        mdbp_reply_t again;
        FUZZ_CHECK(
            mdbp_reply_decode(buffer.data, buffer.size, &again, &error) == 0);
        FUZZ_CHECK(again.type == reply.type &&
                   again.batch_seq == reply.batch_seq);
    }
    mdbp_buffer_release(&buffer);
    return 0;
}
