/* The body of the pipeline's POST /feedback (pl_feedback_json_parse): an
 * HTTP client's bytes, read exactly to their length (a heap copy of that
 * size, so ASan sees a read past it). An accepted body is one event the
 * engine may take as it is; a refused one always says why. */
#include "fuzz_common.h"
#include "pl_feedback_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    FUZZ_CHECK(body);
    memcpy(body, data, size);
    pl_posted_feedback_t posted;
    char reason[PL_FEEDBACK_JSON_REASON_MAX];
    if (pl_feedback_json_parse(body, size, &posted, reason) == 0) {
        const mdbp_feedback_t *event = &posted.event;
        size_t id = strnlen(event->coordinator_id,
                            sizeof event->coordinator_id);
        FUZZ_CHECK(id >= 1 && id <= MDBP_ID_MAX);
        FUZZ_CHECK(!strchr(event->coordinator_id, '/'));
        FUZZ_CHECK(event->level <= MDBP_LEVEL_HARD &&
                   event->prev_level <= MDBP_LEVEL_HARD);
        FUZZ_CHECK(event->type <= MDBP_FEEDBACK_SNAPSHOT);
        FUZZ_CHECK(event->utilization >= 0 && event->utilization <= 1);
        FUZZ_CHECK(event->scale_hint >= 0 && event->scale_hint <= 1);
        FUZZ_CHECK(!event->has_reason ||
                   strnlen(event->reason, sizeof event->reason) <=
                       MDBP_REASON_MAX);
    } else {
        FUZZ_CHECK(reason[0] != '\0' &&
                   strnlen(reason, sizeof reason) < sizeof reason);
    }
    free(body);
    return 0;
}
