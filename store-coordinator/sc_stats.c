/* sc_stats: registration of the coordinator's metric families and series. */
#include "sc_stats.h"

#include <stdio.h>
#include <string.h>

#include "sc_breaker.h"

/* The per-class series (ingest.md 4.5), one per class from the start. */
static void s_class_series(sc_stats_t *self, cmn_metrics_t *metrics,
                           const char *id)
{
    cmn_metric_t *producers = cmn_metrics_gauge(
        metrics, "coordinator_class_producers",
        "Active producers by priority class", "coordinator_id,priority");
    cmn_metric_t *factor = cmn_metrics_gauge(
        metrics, "coordinator_class_share_factor",
        "How much of its credit share a class keeps at the current pressure "
        "(critical 1, normal 1 - p, bulk 1 - 2p)",
        "coordinator_id,priority");
    cmn_metric_t *records = cmn_metrics_counter(
        metrics, "coordinator_class_records_total",
        "Records by priority class: admitted into the queue, or refused "
        "(nack full or draining)",
        "coordinator_id,priority,outcome");
    for (int priority = 0; priority < MDBP_PRIORITY_COUNT; priority++) {
        const char *name = mdbp_priority_name((mdbp_priority_t)priority);
        self->class_producers[priority] =
            cmn_metric_series(producers, id, name, NULL);
        self->class_factor[priority] =
            cmn_metric_series(factor, id, name, NULL);
        self->class_admitted[priority] =
            cmn_metric_series(records, id, name, "admitted", NULL);
        self->class_refused[priority] =
            cmn_metric_series(records, id, name, "refused", NULL);
    }
}

int sc_stats_init(sc_stats_t *self, cmn_metrics_t *metrics,
                  const sc_settings_t *settings)
{
    memset(self, 0, sizeof *self);
    const char *id = settings->coordinator_id;
    cmn_metric_t *family;

    family = cmn_metrics_gauge(metrics, "coordinator_queue_depth",
                               "Records in the queue not yet committed",
                               "coordinator_id");
    self->queue_depth = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_gauge(metrics, "coordinator_queue_capacity",
                               "Queue capacity in records", "coordinator_id");
    self->queue_capacity = cmn_metric_series(family, id, NULL);
    cmn_series_set(self->queue_capacity, (double)settings->capacity);
    family = cmn_metrics_gauge(metrics, "coordinator_backpressure_level",
                               "Backpressure level: 0 ok, 1 soft, 2 hard",
                               "coordinator_id");
    self->level = cmn_metric_series(family, id, NULL);
    const char *level_gauges[3] = {"coordinator_backpressure_ok",
                                   "coordinator_backpressure_soft",
                                   "coordinator_backpressure_hard"};
    const char *level_help[3] = {"1 when the backpressure level is OK",
                                 "1 when the backpressure level is SOFT",
                                 "1 when the backpressure level is HARD"};
    for (int level = 0; level < 3; level++) {
        family = cmn_metrics_gauge(metrics, level_gauges[level],
                                   level_help[level], "coordinator_id");
        self->backpressure[level] = cmn_metric_series(family, id, NULL);
    }
    cmn_series_set(self->backpressure[MDBP_LEVEL_OK], 1);
    family = cmn_metrics_gauge(
        metrics, "coordinator_drain_rate_records_per_second",
        "Records committed per second, smoothed", "coordinator_id");
    self->drain_rate = cmn_metric_series(family, id, NULL);

    family = cmn_metrics_counter(metrics, "coordinator_batches_received_total",
                                 "Ingest messages received", "coordinator_id");
    self->batches_received = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(metrics, "coordinator_records_received_total",
                                 "Records accepted into the queue",
                                 "coordinator_id");
    self->records_received = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_records_rejected_total",
        "Records in batches nacked full or draining (to be resent)",
        "coordinator_id");
    self->records_rejected = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_malformed_messages_total",
        "Ingest messages that could not be decoded", "coordinator_id");
    self->malformed = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(metrics, "coordinator_nacks_total",
                                 "Batches refused, by reason",
                                 "coordinator_id,reason");
    for (int reason = 0; reason < MDBP_NACK_REASON_COUNT; reason++)
        self->nacks[reason] = cmn_metric_series(
            family, id, mdbp_nack_reason_name((mdbp_nack_reason_t)reason),
            NULL);
    family = cmn_metrics_counter(metrics, "coordinator_acks_total",
                                 "Batches acknowledged", "coordinator_id");
    self->acks = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_resends_held_total",
        "Resends of a batch still queued or being written: kept once, not "
        "queued again",
        "coordinator_id");
    self->resends_held = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_gauge(
        metrics, "coordinator_oldest_record_age_seconds",
        "Age of the oldest record not yet committed (0: none)",
        "coordinator_id");
    self->oldest_age = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_gauge(
        metrics, "coordinator_commit_latency_seconds",
        "Recent mean time from handing a chunk to a writer to its commit",
        "coordinator_id");
    self->commit_latency = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_gauge(metrics, "coordinator_sink_state",
                               "Sink health: 0 up, 1 degraded, 2 down",
                               "coordinator_id");
    self->sink_state = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_gauge(
        metrics, "coordinator_pressure",
        "Combined pressure 0..1: max of depth, sojourn and sink pressure",
        "coordinator_id");
    self->pressure = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_gauge(
        metrics, "coordinator_active_producers",
        "Producers (producer_id + session) sharing the credits",
        "coordinator_id");
    self->producers = cmn_metric_series(family, id, NULL);
    s_class_series(self, metrics, id);
    family = cmn_metrics_counter(
        metrics, "coordinator_ingest_refused_total",
        "Ingest messages refused for their envelope (frames, bytes) or size: "
        "nacked malformed, never queued",
        "coordinator_id,reason");
    for (int verdict = 1; verdict < SC_INGEST_REFUSALS; verdict++)
        self->ingest_refused[verdict] = cmn_metric_series(
            family, id, cmn_router_verdict_name((cmn_router_verdict_t)verdict),
            NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_replies_dropped_total",
        "Replies not sent: the producer is at its send high-water mark "
        "(peer_full: it does not read them) or gone",
        "coordinator_id,reason");
    self->replies_dropped[0] = cmn_metric_series(family, id, "peer_full", NULL);
    self->replies_dropped[1] = cmn_metric_series(family, id, "peer_gone", NULL);

    family = cmn_metrics_counter(metrics, "coordinator_records_written_total",
                                 "Records newly stored in the database",
                                 "coordinator_id");
    self->records_written = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_records_duplicate_total",
        "Records already stored (redelivered), ignored", "coordinator_id");
    self->records_duplicate = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_records_dead_lettered_total",
        "Records written to the dead-letter file", "coordinator_id");
    self->records_dead_lettered = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_histogram(
        metrics, "coordinator_batch_write_duration_seconds",
        "Time of one sink transaction", "coordinator_id",
        CMN_METRICS_LATENCY_BOUNDS, CMN_METRICS_LATENCY_BOUND_COUNT);
    self->batch_duration = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(metrics, "coordinator_sink_errors_total",
                                 "Sink write errors, by kind",
                                 "coordinator_id,kind");
    self->sink_errors[0] = cmn_metric_series(family, id, "transient", NULL);
    self->sink_errors[1] = cmn_metric_series(family, id, "permanent", NULL);
    family = cmn_metrics_counter(metrics, "coordinator_sink_retries_total",
                                 "Sink writes retried after a transient error",
                                 "coordinator_id");
    self->sink_retries = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_gauge(
        metrics, "coordinator_breaker_state",
        "Circuit breaker per worker: 0 closed, 1 half-open, 2 open",
        "coordinator_id,worker");
    for (size_t i = 0; i < settings->workers && i < SC_WORKERS_MAX; i++) {
        char worker[16];
        snprintf(worker, sizeof worker, "%zu", i);
        self->breaker_state[i] = cmn_metric_series(family, id, worker, NULL);
    }
    family = cmn_metrics_counter(metrics, "coordinator_breaker_opens_total",
                                 "Times a worker's circuit breaker opened",
                                 "coordinator_id");
    self->breaker_opens = cmn_metric_series(family, id, NULL);

    family = cmn_metrics_counter(metrics, "mds_feedback_events_total",
                                 "Backpressure transitions published, by level",
                                 "coordinator_id,level");
    for (int level = 0; level < 3; level++)
        self->feedback_events[level] = cmn_metric_series(
            family, id, mdbp_level_name((mdbp_level_t)level), NULL);
    family = cmn_metrics_counter(metrics, "coordinator_feedback_messages_total",
                                 "Feedback messages published, by type",
                                 "coordinator_id,type");
    for (int type = 0; type < 3; type++)
        self->feedback_messages[type] = cmn_metric_series(
            family, id, mdbp_feedback_type_name((mdbp_feedback_type_t)type),
            NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_feedback_subscriptions_total",
        "Subscriptions seen on the feedback socket (each gets a snapshot)",
        "coordinator_id");
    self->feedback_subscriptions = cmn_metric_series(family, id, NULL);
    family = cmn_metrics_counter(
        metrics, "coordinator_feedback_subscriptions_refused_total",
        "Subscriptions not passed to libzmq: oversized (longer than the "
        "longest topic) or other_topic (cannot receive this coordinator's)",
        "coordinator_id,reason");
    self->feedback_subscriptions_refused[0] =
        cmn_metric_series(family, id, "oversized", NULL);
    self->feedback_subscriptions_refused[1] =
        cmn_metric_series(family, id, "other_topic", NULL);

    /* The registry returns NULL only when memory ran out. */
    return self->feedback_subscriptions ? 0 : -1;
}
