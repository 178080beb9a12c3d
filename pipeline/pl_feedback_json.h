/* pl_feedback_json: the body of a POST /feedback as a feedback event.
 *
 * Two shapes are accepted (pipeline/README.md, "HTTP feedback"):
 * - the coordinator's webhook body (mdbp_text_format_feedback_json: `v`,
 *   `type`, `coordinator_id`, `epoch`, `seq`, `level`, ... as in
 *   proto/feedback.md), and
 * - the seed's FeedbackEvent (`coordinator_id`, `queue_size`, `capacity`,
 *   `level`, optional `reason`), which has no epoch or seq: the subscriber
 *   numbers those events itself.
 * A level is "ok"/"soft"/"hard" in any case (the seed's enum values) or
 * 0/1/2. Unknown keys are ignored; a known key with the wrong type, a
 * missing required key, or anything that is not one flat JSON object is
 * refused with a reason. Pure: no clock, no sockets; any thread. */
#ifndef PL_FEEDBACK_JSON_H
#define PL_FEEDBACK_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <mdbp/feedback.h>

/* Room for a refusal's reason, NUL included. */
#define PL_FEEDBACK_JSON_REASON_MAX 128

/* What the HTTP receiver hands the subscriber actor (one inproc frame). */
typedef struct {
    mdbp_feedback_t event;
    bool sequenced; /* epoch and seq were in the body */
} pl_posted_feedback_t;

/* Parses `length` bytes of `body` (need not be NUL-terminated) into `out`.
 * Returns 0, or -1 with why in `reason` (PL_FEEDBACK_JSON_REASON_MAX
 * bytes). Defaults: type transition, prev_level = level, utilization =
 * queue_size / capacity, scale_hint = 1 - utilization, ttl_ms 0, ts_ns 0. */
int pl_feedback_json_parse(const char *body, size_t length,
                           pl_posted_feedback_t *out, char *reason);

#endif
