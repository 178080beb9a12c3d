/* scn_model: a deterministic closed-loop model of coordinator + pipelines.
 *
 * It drives the REAL loop code on one virtual clock (cmn_clock_new_virtual):
 * the coordinator's engines, the ones its shells call: sc_intake (admission,
 * the retry hint of `nack full`, dispatch to the workers, the level from
 * depth, sojourn and sink health, credits) and sc_announcer (transitions,
 * jittered heartbeats, early heartbeats when the hint moved, snapshots); the
 * pipeline's token buckets (pl_rate_coordinator / pl_bucket), its feedback
 * state machine (pl_feedback) and policy (pl_policy). The model itself holds
 * only the world: the sink's speed, the network, the clock. Every feedback event is encoded with proto_feedback_encode and
 * handed to pl_feedback_handle_message as the two frames a SUB socket would
 * receive, with the fields the publisher sends (level, prev_level,
 * scale_hint, seq, epoch, ttl_ms ...).
 *
 * What is modelled (and only this): the sink writes at a rate the scenario
 * sets (0 while stalled), split over the coordinator's workers, each writing
 * the chunks sc_intake hands it; the network between coordinator and
 * each pipeline (fixed delay, random loss from a seeded generator); the
 * pipeline's sender with mdp-pipeline's defaults (batches bounded by size
 * and age, a window of unacked batches that stops the producer when full,
 * `nack full` answered by a resend after the coordinator's retry hint); a
 * coordinator
 * crash and restart (new epoch, its queue lost, every unacked batch resent).
 * Time advances in fixed ticks, so a run is a pure function of its inputs. */
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
    double sink_rate; /* records/s the sink writes when not stalled */
    double overload;  /* sum of the pipelines' base rates / sink_rate */
    size_t pipelines; /* 1..SCN_PIPELINES_MAX sharing the load; 0: 1 */
    double loss;      /* fraction of feedback events lost, 0..1 */
    int64_t delay_ns;     /* feedback delay to every pipeline */
    int64_t delay_odd_ns; /* added for odd-numbered pipelines (mixed) */
    int64_t stall_at_ns;                 /* sink stall start (0 = none) */
    int64_t stall_ns;                    /* and duration */
    int64_t restart_at_ns;               /* coordinator crash (0 = none) */
    int64_t restart_down_ns;             /* time until the new run is up */
    int64_t duration_ns;                 /* simulated time */
    uint64_t seed;                       /* loss and heartbeat jitter */
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
    double changes_per_min; /* coordinator level changes */
    uint64_t rejected;      /* records in batches answered nack full */
    uint64_t produced;      /* tokens granted = records made */
    uint64_t written;       /* records committed by the sink */
    uint64_t outstanding;   /* produced, not yet written (at the end) */
    uint64_t events_sent;   /* feedback messages published */
    uint64_t events_lost;   /* dropped by the modelled network */
    uint64_t gaps;          /* seq gaps the pipelines counted */
    uint64_t restarts_seen; /* epoch changes the pipelines counted */
    uint64_t malformed;     /* messages the pipelines refused (must be 0) */
    double share[SCN_PIPELINES_MAX]; /* fraction of records per pipeline */
    double resume_s;    /* after a stall: time until scale > 0 again */
    double final_scale; /* pipeline 0's scale at the end */
} scn_figures_t;

/* Default coordinator and pipeline parameters used by the model: those of
 * mds-coordinator and mdp-pipeline where they have one. check_defaults.py
 * (a test) compares them with both programs' --help, so they cannot drift. */
#define SCN_CAPACITY 10000         /* MDS_QUEUE_CAPACITY */
#define SCN_LOW_FRACTION 0.5       /* MDS_LOW_WATERMARK */
#define SCN_HIGH_FRACTION 0.8      /* MDS_HIGH_WATERMARK */
#define SCN_DEAD_BAND_FRACTION 0.1 /* MDS_DEAD_BAND */
#define SCN_DWELL_MS 250           /* MDS_DWELL_MS */
#define SCN_WORKERS 2              /* MDS_WORKERS */
#define SCN_BATCH_SIZE 500         /* MDS_BATCH_SIZE */
#define SCN_HEARTBEAT_MS 1000      /* MDS_HEARTBEAT_MS */
#define SCN_TTL_HEARTBEATS 3       /* ttl_ms = 3 x heartbeat */
#define SCN_BATCH_TIMEOUT_MS 250   /* MDS_BATCH_TIMEOUT_MS */
#define SCN_BREAKER_TIMEOUT_MS 2000 /* MDS_BREAKER_TIMEOUT_MS */
#define SCN_SOJOURN_TARGET_MS 1000 /* MDS_SOJOURN_TARGET_MS */
#define SCN_SOJOURN_INTERVAL_MS 500 /* MDS_SOJOURN_INTERVAL_MS */
#define SCN_SINK_STALL_MS 2000     /* MDS_SINK_STALL_MS */
#define SCN_SINK_RECOVERY_MS 2000  /* MDS_SINK_RECOVERY_MS */
#define SCN_RAMP_MS 2000           /* MDP_FB_RAMP_MS */
#define SCN_SEND_BATCH_RECORDS 500 /* MDP_SEND_BATCH_RECORDS */
#define SCN_SEND_BATCH_MS 20       /* MDP_SEND_BATCH_MS */
#define SCN_SEND_WINDOW 4          /* MDP_SEND_WINDOW, batches */

/* Prints the defaults above as `VARIABLE value` lines (for the check). */
void scn_print_defaults(void);

/* Runs one scenario under one policy. Returns 0, or -1 when a runtime
 * resource failed (memory). */
int scn_run(const scn_scenario_t *scenario, const scn_policy_t *policy,
            scn_figures_t *figures);

#endif
