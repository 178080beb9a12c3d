/* sc_broadcaster: mdbp_feedback_t -> JSON -> cmn_webhook. */
#include "sc_broadcaster.h"

#include "cmn_log.h"
#include <mdbp/text.h>

void sc_broadcaster_post(cmn_webhook_t *webhook, const mdbp_feedback_t *event)
{
    if (!webhook)
        return;
    char body[MDBP_TEXT_FEEDBACK_JSON_MAX];
    if (mdbp_text_format_feedback_json(event, body, sizeof body) < 0) {
        cmn_log_error("broadcaster", "render_failed", "seq=%llu",
                      (unsigned long long)event->seq);
        return;
    }
    /* A drop is counted by the webhook (mds_feedback_webhook_dropped_total). */
    cmn_webhook_post(webhook, body);
}
