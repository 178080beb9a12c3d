/* pl_metrics: every metric family of mdp-pipeline, registered in one place.
 *
 * The seed's three gauges keep their names and labels:
 * pipeline_rate_scale_factor{provider}, pipeline_backpressure_state{provider}
 * (0 ok, 1 soft, 2 hard) and pipeline_feedback_queue_depth{source} (source =
 * coordinator id). Each actor creates the series it owns and writes them;
 * the HTTP threads render them. */
#ifndef PL_METRICS_H
#define PL_METRICS_H

#include "cmn_metrics.h"

typedef struct {
    cmn_metrics_t *registry; /* borrowed */
    /* producer, per provider */
    cmn_metric_t *rate_scale_factor;  /* gauge {provider} */
    cmn_metric_t *backpressure_state; /* gauge {provider} */
    cmn_metric_t *paused;             /* gauge {provider} */
    cmn_metric_t *rate_effective;     /* gauge {provider} tokens/s now */
    cmn_metric_t *bucket_tokens;      /* gauge {provider} */
    cmn_metric_t *cooldowns;          /* gauge {provider}: live ones */
    /* gauge {provider}: 0 closed, 1 half-open, 2 open */
    cmn_metric_t *breaker_state;
    cmn_metric_t *records_produced;    /* counter {provider} */
    cmn_metric_t *replay_bad_lines;    /* counter {provider} */
    cmn_metric_t *rate_change_latency; /* histogram: event ts -> applied */
    /* sender */
    cmn_metric_t *records_sent;          /* counter: first sends */
    cmn_metric_t *records_resent;        /* counter */
    cmn_metric_t *records_acked;         /* counter */
    cmn_metric_t *records_written;       /* counter: acked as new */
    cmn_metric_t *records_duplicate;     /* counter: acked as duplicates */
    cmn_metric_t *records_dead_lettered; /* counter */
    cmn_metric_t *records_rejected;      /* counter: nack malformed, dropped */
    cmn_metric_t *batches_sent;          /* counter */
    cmn_metric_t *batches_resent;        /* counter {cause} */
    cmn_metric_t *batches_acked;         /* counter */
    cmn_metric_t *nacks;                 /* counter {reason} */
    cmn_metric_t *late_replies;          /* counter */
    cmn_metric_t *foreign_replies;       /* counter: another session's */
    cmn_metric_t *batches_split;         /* counter: over_capacity */
    cmn_metric_t *timeouts_deferred;     /* counter: coordinator alive */
    cmn_metric_t *credit;                /* gauge: records, -1 none */
    cmn_metric_t *window_batches;        /* gauge: unacked batches */
    cmn_metric_t *window_records;        /* gauge: records in them */
    cmn_metric_t *ack_latency;           /* histogram seconds */
    cmn_metric_t *store_connected;       /* gauge: connections up */
    cmn_metric_t *store_up;              /* gauge {address} 0/1 */
    cmn_metric_t *store_credit;          /* gauge {address} records */
    cmn_metric_t *store_unacked;         /* gauge {address} records */
    cmn_metric_t *records_moved;         /* counter: resent elsewhere */
    /* per priority class (ingest.md 4.5): one sender per class in use */
    cmn_metric_t *class_records_sent;  /* counter {priority} */
    cmn_metric_t *class_records_acked; /* counter {priority} */
    cmn_metric_t *class_ack_latency;   /* histogram {priority} seconds */
    cmn_metric_t *class_window_records; /* gauge {priority} unacked */
    cmn_metric_t *class_credit;        /* gauge {priority} records, -1 */
    /* feedback subscriber */
    cmn_metric_t *feedback_queue_depth;  /* gauge {source} */
    cmn_metric_t *feedback_stale;        /* gauge {source} 0/1 */
    cmn_metric_t *feedback_age;          /* gauge {source} seconds */
    cmn_metric_t *feedback_level;        /* gauge {source} 0/1/2 */
    cmn_metric_t *feedback_events;       /* counter {level} */
    cmn_metric_t *feedback_seq_gaps;     /* counter */
    cmn_metric_t *feedback_missed;       /* counter: messages in gaps */
    cmn_metric_t *feedback_restarts;     /* counter */
    cmn_metric_t *feedback_malformed;    /* counter {reason} */
    cmn_metric_t *feedback_coordinators; /* gauge: known */
    cmn_metric_t *feedback_endpoints;    /* gauge: connected addresses */
    /* HTTP receiver: POST /feedback bodies, by result (accepted,
     * malformed, disabled) */
    cmn_metric_t *feedback_posted;
} pl_metrics_t;

/* Registers every family in `registry` (borrowed). Caller owns the result
 * (free it with pl_metrics_destroy). */
pl_metrics_t *pl_metrics_new(cmn_metrics_t *registry);

/* Frees the handles (the registry keeps the series); tolerates NULL and
 * sets *self_p to NULL. */
void pl_metrics_destroy(pl_metrics_t **self_p);

#endif
