/* sc_stats: the coordinator's Prometheus series, created once at start-up.
 *
 * Every series carries the coordinator_id label (KEDA and dashboards select
 * on it). Each series has one writer (the actor owning the value); the HTTP
 * threads render them. Names follow the seed where it has one
 * (coordinator_queue_depth, coordinator_backpressure_*,
 * mds_feedback_events_total). */
#ifndef SC_STATS_H
#define SC_STATS_H

#include "cmn_metrics.h"
#include <mdbp/common.h>
#include <mdbp/feedback.h>
#include <mdbp/ingest.h>
#include "sc_settings.h"

#include "cmn_router.h"

#define SC_INGEST_REFUSALS CMN_ROUTER_REFUSALS

typedef struct {
    /* core */
    cmn_series_t *queue_depth;      /* gauge, records */
    cmn_series_t *queue_capacity;   /* gauge, records */
    cmn_series_t *level;            /* gauge 0/1/2 */
    cmn_series_t *backpressure[3];  /* gauges 0/1 by mdbp_level_t */
    cmn_series_t *drain_rate;       /* gauge, records/s */
    cmn_series_t *batches_received; /* counter */
    cmn_series_t *records_received; /* counter: accepted into the queue */
    cmn_series_t
        *records_rejected;        /* counter: in batches nacked full/draining */
    cmn_series_t *malformed;      /* counter: malformed messages */
    cmn_series_t *nacks[3];       /* counters by mdbp_nack_reason_t */
    cmn_series_t *acks;           /* counter: batches acked */
    cmn_series_t *resends_held;   /* counter: resends of held batches */
    cmn_series_t *oldest_age;     /* gauge, seconds */
    cmn_series_t *commit_latency; /* gauge, seconds (recent mean) */
    cmn_series_t *sink_state;     /* gauge 0 up, 1 degraded, 2 down */
    cmn_series_t *pressure;       /* gauge 0..1 */
    cmn_series_t *producers;      /* gauge: active producers */
    /* by mdbp_priority_t (ingest.md 4.5) */
    cmn_series_t *class_producers[MDBP_PRIORITY_COUNT]; /* gauge */
    cmn_series_t *class_factor[MDBP_PRIORITY_COUNT];    /* gauge 0..1 */
    cmn_series_t *class_admitted[MDBP_PRIORITY_COUNT];  /* counter, records */
    cmn_series_t *class_refused[MDBP_PRIORITY_COUNT];   /* counter, records */
    /* counters by cmn_router_verdict_t (index 0 unused): messages refused
     * for their envelope or size, never queued (issue 12) */
    cmn_series_t *ingest_refused[SC_INGEST_REFUSALS];
    cmn_series_t *replies_dropped[2]; /* counters: [0] peer_full, [1] gone */
    /* workers */
    cmn_series_t *records_written;       /* counter */
    cmn_series_t *records_duplicate;     /* counter */
    cmn_series_t *records_dead_lettered; /* counter */
    cmn_series_t *batch_duration;        /* histogram, seconds per sink write */
    cmn_series_t *sink_errors[2]; /* counters: [0] transient, [1] permanent */
    cmn_series_t *sink_retries;   /* counter */
    cmn_series_t *breaker_state[SC_WORKERS_MAX]; /* gauge 0/1/2 per worker */
    cmn_series_t *breaker_opens;                 /* counter */
    /* publisher */
    cmn_series_t *feedback_events[3];   /* counters: transitions by level */
    cmn_series_t *feedback_messages[3]; /* counters by mdbp_feedback_type_t */
    cmn_series_t *feedback_subscriptions; /* counter */
    /* counters: [0] oversized, [1] other_topic: not passed to libzmq */
    cmn_series_t *feedback_subscriptions_refused[2];
} sc_stats_t;

/* Registers every family in `metrics` and creates the series for
 * `settings` (coordinator_id, workers). Returns 0 or -1. Start-up only. */
int sc_stats_init(sc_stats_t *self, cmn_metrics_t *metrics,
                  const sc_settings_t *settings);

#endif
