/* The feedback decoder (mdbp_feedback_decode): what a pipeline, the tail
 * or any subscriber reads from a coordinator's XPUB. A decoded event
 * formats as JSON (the tail's and the webhook's output) within the bound
 * the header promises. */
#include "fuzz_common.h"
#include <mdbp/feedback.h>
#include <mdbp/text.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdbp_feedback_t event;
    mdbp_error_t error = {{0}};
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy);
    if (size)
        memcpy(copy, data, size);
    int result = mdbp_feedback_decode(copy, size, &event, &error);
    free(copy);
    if (result != 0) {
        FUZZ_CHECK(error.text[0] != '\0');
        return 0;
    }
    static char json[MDBP_TEXT_FEEDBACK_JSON_MAX];
    int length = mdbp_text_format_feedback_json(&event, json, sizeof json);
    FUZZ_CHECK(length > 0 && (size_t)length < sizeof json);
    FUZZ_CHECK(strlen(json) == (size_t)length);
    return 0;
}
