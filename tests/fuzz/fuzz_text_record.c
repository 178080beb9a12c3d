/* The text record readers (mdbp_text_parse_json / _csv): replay files and
 * dead-letter lines, one line each. A parsed record is valid, and its
 * NDJSON form (what the dead-letter file stores) parses back to the same
 * record. */
#include "fuzz_common.h"
#include <mdbp/ingest.h>
#include <mdbp/text.h>

#define FUZZ_JSON_BYTES 4096

static void s_check_round_trip(const mdbp_record_t *record)
{
    FUZZ_CHECK(mdbp_record_validate(record, NULL) == 0);
    static char json[FUZZ_JSON_BYTES];
    int length = mdbp_text_format_json(record, "fuzz", json, sizeof json);
    FUZZ_CHECK(length > 0);
    mdbp_record_t again;
    mdbp_error_t error = {{0}};
    FUZZ_CHECK(mdbp_text_parse_json(json, &again, &error) == 0);
    FUZZ_CHECK(again.kind == record->kind && again.ts_ns == record->ts_ns &&
               strcmp(again.provider, record->provider) == 0 &&
               strcmp(again.symbol, record->symbol) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fuzz_text(data, size);
    mdbp_record_t record;
    mdbp_error_t error = {{0}};
    if (mdbp_text_parse_json(line, &record, &error) == 0)
        s_check_round_trip(&record);
    else
        FUZZ_CHECK(error.text[0] != '\0');
    memset(&error, 0, sizeof error);
    int csv = mdbp_text_parse_csv(line, &record, &error);
    if (csv == 0)
        s_check_round_trip(&record);
    else if (csv < 0)
        FUZZ_CHECK(error.text[0] != '\0');
    free(line);
    return 0;
}
