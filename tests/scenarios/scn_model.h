/* scn_model: a deterministic closed-loop model of coordinator + pipelines.
 *
 * It runs the REAL engines on one virtual clock (cmn_clock_new_virtual),
 * called the way their shells call them:
 *  - coordinator: sc_intake (admission, `nack full` and its retry hint,
 *    dispatch of chunks to the workers, the level after every change, the
 *    drain rate) as sc_core.c calls it; sc_announcer (transitions, jittered
 *    heartbeats, early heartbeats, snapshots) as sc_publisher.c calls it,
 *    every message encoded by mdbp_feedback_encode;
 *  - pipeline: pl_feedback (decoding, seq/epoch, staleness, the decision
 *    under pl_policy) as pl_subscriber.c calls it; pl_rate_coordinator /
 *    pl_bucket (scale, pause, ramp) as pl_producer.c calls it; pl_window
 *    (batches, the window, resends after nack/timeout/reconnect) as
 *    pl_sender.c calls it.
 * No rule of the loop is written here: the model only adds the world. The
 * sink writes at the rate the scenario sets (0 while stalled), split over
 * the coordinator's workers; the network between coordinator and each
 * pipeline has a fixed delay and a seeded random loss for feedback (batches
 * and replies arrive at once); the coordinator may crash (kill -9: its
 * queue and replies lost, the pipelines' connections drop) and come back
 * with a new epoch; each pipeline's provider wants a fixed base rate. Time
 * advances in fixed ticks, so a run is a pure function of its inputs. */
#ifndef SCN_MODEL_H
#define SCN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_policy.h"

#define SCN_PIPELINES_MAX 8

/* One scenario: the load and the faults. Times in nanoseconds. */
typedef struct {
    const char *name;
    double sink_rate;        /* records/s the sink writes when not stalled */
    double overload;         /* sum of the pipelines' base rates / sink_rate */
    size_t pipelines;        /* 1..SCN_PIPELINES_MAX sharing the load; 0: 1 */
    double loss;             /* fraction of feedback events lost, 0..1 */
    int64_t delay_ns;        /* feedback delay to every pipeline */
    int64_t delay_odd_ns;    /* added for odd-numbered pipelines (mixed) */
    int64_t stall_at_ns;     /* sink stall start (0 = none) */
    int64_t stall_ns;        /* and duration */
    int64_t restart_at_ns;   /* coordinator crash (0 = none) */
    int64_t restart_down_ns; /* time until the new run is up */
    int64_t duration_ns;     /* simulated time */
    uint64_t seed;           /* loss and heartbeat jitter */
} scn_scenario_t;

/* The loop's configuration under test. */
typedef struct {
    const char *name;      /* for the table */
    pl_policy_kind_t kind; /* step or proportional */
    bool hysteresis;       /* default dead-band and dwell, else 0 and 0 */
    int64_t heartbeat_ms;  /* MDS_HEARTBEAT_MS; 0: SCN_HEARTBEAT_MS */
    int64_t dwell_ms;      /* MDS_DWELL_MS with hysteresis; 0: default */
    double dead_band;      /* MDS_DEAD_BAND with hysteresis; 0: default */
    int64_t ramp_ms;       /* MDP_FB_RAMP_MS; 0: default, < 0: none */
} scn_policy_t;

/* When set, scn_run prints one line per SCN_TRACE_MS of simulated time
 * (time, queue depth, level, pipeline 0's scale and effective rate) to
 * this stream: `test_scenarios --trace N P` shows a run's dynamics. */
#define SCN_TRACE_MS 10
extern void *scn_trace; /* a FILE *, NULL: off */

/* What one run measured. */
typedef struct {
    double utilisation; /* written / (sink_rate x time available) */
    double depth_mean;  /* queue depth sampled every tick, records */
    uint64_t depth_p99;
    uint64_t depth_max;
    uint64_t capacity;
    double scale0_fraction; /* time a pipeline's bucket had scale 0 */
    double stale_fraction;  /* time a pipeline held its coordinator stale */
    double changes_per_min; /* coordinator level changes */
    uint64_t rejected;      /* records in batches answered nack full */
    uint64_t resent;        /* records sent again (pl_window counters) */
    uint64_t timeouts;      /* ack timeouts of the windows */
    uint64_t produced;      /* tokens granted = records made */
    uint64_t written;       /* records committed by the sink */
    uint64_t outstanding;   /* produced, not yet written (at the end) */
    uint64_t events_sent;   /* feedback messages published */
    uint64_t events_lost;   /* dropped by the modelled network */
    uint64_t gaps;          /* seq gaps the pipelines counted */
    uint64_t restarts_seen; /* epoch changes the pipelines counted */
    uint64_t malformed;     /* messages the pipelines refused (must be 0) */
    double share[SCN_PIPELINES_MAX]; /* fraction of records per pipeline */
    double resume_s;         /* after a stall: time until pipeline 0 makes
                                records again */
    double restart_resume_s; /* after a restart: time until the sink
                                writes again (INFINITY: never) */
    double final_scale;      /* pipeline 0's scale at the end */
} scn_figures_t;

/* Default coordinator and pipeline parameters used by the model: those of
 * mds-coordinator and mdp-pipeline where they have one. check_defaults.py
 * (a test) compares them with both programs' --help, so they cannot drift. */
#define SCN_CAPACITY 10000           /* MDS_QUEUE_CAPACITY */
#define SCN_LOW_FRACTION 0.5         /* MDS_LOW_WATERMARK */
#define SCN_HIGH_FRACTION 0.8        /* MDS_HIGH_WATERMARK */
#define SCN_DEAD_BAND_FRACTION 0.1   /* MDS_DEAD_BAND */
#define SCN_DWELL_MS 250             /* MDS_DWELL_MS */
#define SCN_WORKERS 2                /* MDS_WORKERS */
#define SCN_BATCH_SIZE 500           /* MDS_BATCH_SIZE */
#define SCN_BATCH_TIMEOUT_MS 250     /* MDS_BATCH_TIMEOUT_MS */
#define SCN_BATCH_EAGER true         /* MDS_BATCH_EAGER */
#define SCN_DRAIN_TIMEOUT_MS 10000   /* MDS_DRAIN_TIMEOUT_MS */
#define SCN_BREAKER_TIMEOUT_MS 2000  /* MDS_BREAKER_TIMEOUT_MS */
#define SCN_SOJOURN_TARGET_MS 1000   /* MDS_SOJOURN_TARGET_MS */
#define SCN_SOJOURN_INTERVAL_MS 500  /* MDS_SOJOURN_INTERVAL_MS */
#define SCN_SINK_STALL_MS 2000       /* MDS_SINK_STALL_MS */
#define SCN_SINK_RECOVERY_MS 2000    /* MDS_SINK_RECOVERY_MS */
#define SCN_HEARTBEAT_MS 1000        /* MDS_HEARTBEAT_MS */
#define SCN_RAMP_MS 2000             /* MDP_FB_RAMP_MS */
#define SCN_FORGET_SEC 300           /* MDP_FB_FORGET_SEC */
#define SCN_SEND_BATCH_RECORDS 500   /* MDP_SEND_BATCH_RECORDS */
#define SCN_SEND_BATCH_MS 20         /* MDP_SEND_BATCH_MS */
#define SCN_SEND_WINDOW 4            /* MDP_SEND_WINDOW, batches */
#define SCN_SEND_ACK_TIMEOUT_MS 5000 /* MDP_SEND_ACK_TIMEOUT_MS */

/* Prints the defaults above as `VARIABLE value` lines (for the check). */
void scn_print_defaults(void);

/* Runs one scenario under one policy. Returns 0, or -1 when a runtime
 * resource failed (memory). */
int scn_run(const scn_scenario_t *scenario, const scn_policy_t *policy,
            scn_figures_t *figures);

#endif
