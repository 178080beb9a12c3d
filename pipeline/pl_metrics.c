/* pl_metrics: every metric family of mdp-pipeline, registered in one place. */
#include "pl_metrics.h"

#include <assert.h>
#include <stdlib.h>

/* Event-to-applied latency buckets, seconds (clocks of two hosts: wide).
 * Feedback propagation on one host takes tens to hundreds of microseconds
 * (bench/: the bare libzmq floor is ~60-150 us): the finer buckets tell 2x
 * the floor apart from the 1 ms target. */
static const double s_latency_bounds[] = {
    0.000025, 0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005,
    0.00075,  0.001,   0.0025,   0.005,  0.01,    0.025,  0.05,   0.1,
    0.25,     0.5,     1,        2.5,    5,       10};

pl_metrics_t *pl_metrics_new(cmn_metrics_t *registry)
{
    assert(registry);
    pl_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    cmn_metrics_t *r = registry;
    self->registry = r;
    self->rate_scale_factor = cmn_metrics_gauge(
        r, "pipeline_rate_scale_factor",
        "Current rate scale factor applied to provider (0.0..1.0).",
        "provider");
    self->backpressure_state = cmn_metrics_gauge(
        r, "pipeline_backpressure_state",
        "Backpressure state: 0=ok, 1=soft, 2=hard.", "provider");
    self->feedback_queue_depth = cmn_metrics_gauge(
        r, "pipeline_feedback_queue_depth",
        "Queue depth reported by feedback source (echo of store).", "source");
    self->paused = cmn_metrics_gauge(
        r, "pipeline_paused", "1 while the provider is paused (scale 0).",
        "provider");
    self->rate_effective = cmn_metrics_gauge(
        r, "pipeline_rate_effective_per_second",
        "Refill rate now: base rate x the scale in force (on a ramp up, the "
        "point reached).",
        "provider");
    self->bucket_tokens = cmn_metrics_gauge(
        r, "pipeline_bucket_tokens", "Tokens banked in the provider's bucket.",
        "provider");
    self->cooldowns = cmn_metrics_gauge(
        r, "pipeline_cooldowns_active",
        "Live cooldowns of the provider, any scope (global, provider:P, "
        "symbol:S; /status lists them).",
        "provider");
    self->breaker_state =
        cmn_metrics_gauge(r, "pipeline_breaker_state",
                          "Circuit breaker: 0=closed, 1=half-open, 2=open (as "
                          "the coordinator's).",
                          "provider");
    self->records_produced =
        cmn_metrics_counter(r, "pipeline_records_produced_total",
                            "Records produced by the provider.", "provider");
    self->replay_bad_lines = cmn_metrics_counter(
        r, "pipeline_replay_bad_lines_total",
        "Replay lines that did not parse, skipped.", "provider");
    self->rate_change_latency = cmn_metrics_histogram(
        r, "pipeline_rate_change_latency_seconds",
        "Time from a feedback event's ts_ns to its rate change being applied.",
        "", s_latency_bounds,
        sizeof s_latency_bounds / sizeof s_latency_bounds[0]);

    self->records_sent = cmn_metrics_counter(
        r, "pipeline_records_sent_total",
        "Records sent to the store for the first time.", "");
    self->records_resent = cmn_metrics_counter(
        r, "pipeline_records_resent_total",
        "Records sent again (timeout, reconnect, nack).", "");
    self->records_acked = cmn_metrics_counter(
        r, "pipeline_records_acked_total",
        "Records acknowledged by the store (committed).", "");
    self->records_written =
        cmn_metrics_counter(r, "pipeline_records_written_total",
                            "Acknowledged records the store wrote as new.", "");
    self->records_duplicate = cmn_metrics_counter(
        r, "pipeline_records_duplicate_total",
        "Acknowledged records the store already had (redelivery).", "");
    self->records_dead_lettered = cmn_metrics_counter(
        r, "pipeline_records_dead_lettered_total",
        "Acknowledged records the store put in its dead-letter file.", "");
    self->records_rejected = cmn_metrics_counter(
        r, "pipeline_records_rejected_total",
        "Records in batches refused as malformed (dropped).", "");
    self->batches_sent =
        cmn_metrics_counter(r, "pipeline_batches_sent_total",
                            "Batches sent for the first time.", "");
    self->batches_resent =
        cmn_metrics_counter(r, "pipeline_batches_resent_total",
                            "Batches sent again, by cause.", "cause");
    self->batches_acked = cmn_metrics_counter(r, "pipeline_batches_acked_total",
                                              "Batches acknowledged.", "");
    self->nacks =
        cmn_metrics_counter(r, "pipeline_nacks_total",
                            "Negative acknowledgements by reason.", "reason");
    self->late_replies = cmn_metrics_counter(
        r, "pipeline_late_replies_total",
        "Replies for batches no longer in the window (already acked).", "");
    self->foreign_replies = cmn_metrics_counter(
        r, "pipeline_foreign_replies_total",
        "Replies carrying another session (a previous run's), ignored.", "");
    self->batches_split = cmn_metrics_counter(
        r, "pipeline_batches_split_total",
        "Batches over the queue capacity (nack over_capacity) split and "
        "sent again in parts.",
        "");
    self->timeouts_deferred = cmn_metrics_counter(
        r, "pipeline_ack_timeouts_deferred_total",
        "Ack timeouts not acted on: the coordinators' heartbeats arrive "
        "(slow, not lost).",
        "");
    self->credit = cmn_metrics_gauge(
        r, "pipeline_send_credit_records",
        "Records the coordinator's last credit allows unacknowledged (-1: "
        "no credit in force, the window alone limits).",
        "");
    self->window_batches =
        cmn_metrics_gauge(r, "pipeline_unacked_batches",
                          "Batches sent and not yet acknowledged.", "");
    self->window_records =
        cmn_metrics_gauge(r, "pipeline_unacked_records",
                          "Records in unacknowledged batches.", "");
    self->ack_latency = cmn_metrics_histogram(
        r, "pipeline_ack_latency_seconds", "From a batch's send to its ack.",
        "", CMN_METRICS_LATENCY_BOUNDS, CMN_METRICS_LATENCY_BOUND_COUNT);
    self->class_records_sent = cmn_metrics_counter(
        r, "pipeline_class_records_sent_total",
        "Records sent for the first time, by the class of their provider.",
        "priority");
    self->class_records_acked = cmn_metrics_counter(
        r, "pipeline_class_records_acked_total",
        "Records acknowledged, by the class of their provider.", "priority");
    self->class_ack_latency = cmn_metrics_histogram(
        r, "pipeline_class_ack_latency_seconds",
        "From a batch's send to its ack, by the class of its providers.",
        "priority", CMN_METRICS_LATENCY_BOUNDS,
        CMN_METRICS_LATENCY_BOUND_COUNT);
    self->class_window_records = cmn_metrics_gauge(
        r, "pipeline_class_unacked_records",
        "Records in unacknowledged batches, by class.", "priority");
    self->class_credit = cmn_metrics_gauge(
        r, "pipeline_class_send_credit_records",
        "Records the coordinators' credits allow this class unacknowledged "
        "(-1: no credit in force).",
        "priority");
    self->store_connected = cmn_metrics_gauge(
        r, "pipeline_store_connections", "Connections to coordinators up.", "");
    self->store_up = cmn_metrics_gauge(
        r, "pipeline_store_up",
        "1 while the coordinator at this ingest address answers (handshake "
        "and heartbeats); the series goes when the address does.",
        "address");
    self->store_credit = cmn_metrics_gauge(
        r, "pipeline_store_credit",
        "Records this coordinator lets us have unacked (-1: no credit, v1).",
        "address");
    self->store_unacked =
        cmn_metrics_gauge(r, "pipeline_store_unacked_records",
                          "Records in flight at this coordinator.", "address");
    self->records_moved = cmn_metrics_counter(
        r, "pipeline_records_moved_total",
        "Records resent to another coordinator than the one that may hold "
        "them (after an ack timeout): possible duplicates across stores.",
        "");

    self->feedback_stale = cmn_metrics_gauge(
        r, "pipeline_feedback_stale",
        "1 when the coordinator has been silent for longer than its ttl.",
        "source");
    self->feedback_age = cmn_metrics_gauge(
        r, "pipeline_feedback_age_seconds",
        "Time since the coordinator was last heard.", "source");
    self->feedback_level = cmn_metrics_gauge(
        r, "pipeline_feedback_level",
        "Effective level of the coordinator: 0=ok, 1=soft, 2=hard.", "source");
    self->feedback_events =
        cmn_metrics_counter(r, "pipeline_feedback_events_total",
                            "Feedback messages applied, by level.", "level");
    self->feedback_seq_gaps = cmn_metrics_counter(
        r, "pipeline_feedback_seq_gaps_total",
        "Sequence gaps seen in feedback (lost messages).", "");
    self->feedback_missed =
        cmn_metrics_counter(r, "pipeline_feedback_missed_total",
                            "Feedback messages missing in sequence gaps.", "");
    self->feedback_restarts =
        cmn_metrics_counter(r, "pipeline_feedback_restarts_total",
                            "Coordinator restarts seen (epoch changes).", "");
    self->feedback_malformed =
        cmn_metrics_counter(r, "pipeline_feedback_malformed_total",
                            "Feedback messages dropped, by reason.", "reason");
    self->feedback_coordinators = cmn_metrics_gauge(
        r, "pipeline_feedback_coordinators", "Coordinators known.", "");
    self->feedback_endpoints = cmn_metrics_gauge(
        r, "pipeline_feedback_endpoints",
        "Feedback addresses connected (after DNS resolution).", "");
    self->feedback_posted = cmn_metrics_counter(
        r, "pipeline_feedback_http_requests_total",
        "POST /feedback requests, by result: accepted (handed to the "
        "subscriber), malformed (400), disabled (409: feedback off).",
        "result");
    return self;
}

void pl_metrics_destroy(pl_metrics_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}
