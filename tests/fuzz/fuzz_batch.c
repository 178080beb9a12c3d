/* The ingest decoder (mdbp_batch_decode): what any producer sends to the
 * coordinator's ROUTER. A decoded batch must hold only valid records, and
 * re-encoding it must give a batch that decodes to the same records. */
#include "fuzz_common.h"
#include <mdbp/ingest.h>

#define FUZZ_BATCH_RECORDS 64 /* the decoder's array: larger batches fail */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mdbp_record_t records[FUZZ_BATCH_RECORDS];
    static mdbp_record_t again[FUZZ_BATCH_RECORDS];
    mdbp_batch_t batch;
    mdbp_error_t error = {{0}};
    uint8_t *copy = malloc(size ? size : 1); /* exactly sized for ASan */
    FUZZ_CHECK(copy);
    if (size)
        memcpy(copy, data, size);
    int result = mdbp_batch_decode(copy, size, &batch, records,
                                    FUZZ_BATCH_RECORDS, &error);
    free(copy);
    if (result != 0) {
        FUZZ_CHECK(error.text[0] != '\0'); /* a nack always has a detail */
        return 0;
    }
    FUZZ_CHECK(batch.count >= 1 && batch.count <= FUZZ_BATCH_RECORDS);
    for (size_t index = 0; index < batch.count; index++)
        FUZZ_CHECK(mdbp_record_validate(&records[index], NULL) == 0);
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    FUZZ_CHECK(mdbp_batch_encode_session(batch.producer_id, batch.session,
                                          batch.batch_seq, records, batch.count,
                                          &buffer) == 0);
    mdbp_batch_t decoded;
    FUZZ_CHECK(mdbp_batch_decode(buffer.data, buffer.size, &decoded, again,
                                  FUZZ_BATCH_RECORDS, &error) == 0);
    FUZZ_CHECK(decoded.count == batch.count &&
               decoded.batch_seq == batch.batch_seq &&
               decoded.session == batch.session &&
               strcmp(decoded.producer_id, batch.producer_id) == 0);
    for (size_t index = 0; index < batch.count; index++) {
        FUZZ_CHECK(again[index].kind == records[index].kind &&
                   again[index].ts_ns == records[index].ts_ns &&
                   strcmp(again[index].symbol, records[index].symbol) == 0 &&
                   strcmp(again[index].provider, records[index].provider) == 0);
    }
    mdbp_buffer_release(&buffer);
    return 0;
}
