/* The dead-letter file as `mds-coordinator dlq replay` reads it: lines by
 * mdbp_text_read_line (the same calls as sc_replay.c), each parsed as an
 * NDJSON record. A line handed on never holds a NUL nor exceeds the limit,
 * and the reader always makes progress (issue 12 item 6). */
#include "fuzz_common.h"
#include <mdbp/text.h>

/* sc_replay.c's limit, small here so that long lines are common. */
#define FUZZ_LINE_BYTES_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy);
    if (size)
        memcpy(copy, data, size);
    FILE *file = fmemopen(copy, size ? size : 1, "rb");
    FUZZ_CHECK(file);
    if (size == 0)
        (void)getc(file); /* fmemopen needs one byte: read it, at the end */
    static char line[FUZZ_LINE_BYTES_MAX + 2];
    size_t lines = 0;
    long before = ftell(file);
    while (true) {
        size_t length = 0;
        int result =
            mdbp_text_read_line(file, line, FUZZ_LINE_BYTES_MAX, &length);
        FUZZ_CHECK(result >= 0);
        if (result == 0)
            break;
        long after = ftell(file);
        FUZZ_CHECK(after > before); /* every line consumes input */
        before = after;
        FUZZ_CHECK(++lines <= size);
        FUZZ_CHECK(length <= FUZZ_LINE_BYTES_MAX && line[length] == '\0');
        if (result != 1) {
            FUZZ_CHECK(result == MDBP_TEXT_LINE_TOO_LONG ||
                       result == MDBP_TEXT_LINE_HAS_NUL);
            continue;
        }
        FUZZ_CHECK(strlen(line) == length); /* no NUL inside */
        mdbp_record_t record;
        mdbp_error_t error = {{0}};
        const char *start = line + strspn(line, " \t");
        if (*start && *start != '#' &&
            mdbp_text_parse_json(start, &record, &error) != 0)
            FUZZ_CHECK(error.text[0] != '\0');
    }
    fclose(file);
    free(copy);
    return 0;
}
