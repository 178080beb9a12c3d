/* broadcaster: proto_feedback_t -> JSON -> cmn_webhook. */
#include "broadcaster.h"

#include "cmn_log.h"

void sc_broadcaster_render(const proto_feedback_t *event, cmn_json_t *json)
{
    cmn_json_reset(json);
    cmn_json_object_begin(json, NULL);
    cmn_json_uint(json, "v", PROTO_VERSION);
    cmn_json_string(json, "type", proto_feedback_type_name(event->type));
    cmn_json_string(json, "coordinator_id", event->coordinator_id);
    cmn_json_uint(json, "epoch", event->epoch);
    cmn_json_uint(json, "seq", event->seq);
    cmn_json_int(json, "ts_ns", event->ts_ns);
    cmn_json_string(json, "level", proto_level_name(event->level));
    cmn_json_string(json, "prev_level", proto_level_name(event->prev_level));
    cmn_json_uint(json, "queue_size", event->queue_size);
    cmn_json_uint(json, "capacity", event->capacity);
    cmn_json_uint(json, "low_wm", event->low_wm);
    cmn_json_uint(json, "high_wm", event->high_wm);
    cmn_json_double(json, "utilization", event->utilization);
    cmn_json_double(json, "scale_hint", event->scale_hint);
    cmn_json_uint(json, "ttl_ms", event->ttl_ms);
    if (event->has_reason)
        cmn_json_string(json, "reason", event->reason);
    if (event->has_drain_rate)
        cmn_json_double(json, "drain_rate", event->drain_rate);
    cmn_json_object_end(json);
}

void sc_broadcaster_post(cmn_webhook_t *webhook, const proto_feedback_t *event)
{
    if (!webhook)
        return;
    cmn_json_t *json = cmn_json_new();
    if (!json) {
        cmn_log_error("broadcaster", "render_failed", "reason=out_of_memory");
        return;
    }
    sc_broadcaster_render(event, json);
    /* A drop is counted by the webhook (mds_feedback_webhook_dropped_total). */
    cmn_webhook_post(webhook, cmn_json_text(json));
    cmn_json_destroy(&json);
}
