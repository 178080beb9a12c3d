/* sc_broadcaster: feedback transitions POSTed as JSON to a webhook (seed 003's
 * HttpFeedbackBroadcaster, MDS_FB_ENABLE_HTTP_BROADCAST).
 *
 * The publisher hands every transition it publishes to the webhook actor
 * (cmn_webhook), which delivers it from its own threads: a slow or dead
 * receiver never slows the coordinator. The body is one JSON object with
 * proto/feedback.md's keys, levels and type as names
 * (mdbp_text_format_feedback_json). */
#ifndef SC_BROADCASTER_H
#define SC_BROADCASTER_H

#include "cmn_webhook.h"
#include <mdbp/feedback.h>

/* Renders `event` and queues it on `webhook` (NULL: broadcasting is off,
 * nothing happens). Never blocks. Call from one thread (the publisher). */
void sc_broadcaster_post(cmn_webhook_t *webhook, const mdbp_feedback_t *event);

#endif
