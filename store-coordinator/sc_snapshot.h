/* sc_snapshot: the coordinator's state at one moment, as the intake engine
 * computed it in one update, and as the announcer publishes it: level,
 * depth, scale_hint and the store's drain signals read together
 * (proto/feedback.md 6: "a heartbeat is built from one consistent
 * snapshot"). The core sends it to the publisher whole (a plain struct over
 * the in-process pipe) after every update that changed it. */
#ifndef SC_SNAPSHOT_H
#define SC_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <mdbp/common.h>
#include <mdbp/feedback.h>
#include <mdbp/ingest.h>

/* Issue 15: the rates /status explains the level with, records/s, smoothed
 * over the drain rate's windows. Not sent on the wire. */
typedef struct {
    double incoming;   /* records admitted (queued) */
    double offered;    /* records in decoded batches, admitted or refused */
    double written;    /* rows newly written */
    double duplicates; /* rows whose key was already stored */
} sc_snapshot_rates_t;

typedef struct {
    mdbp_level_t level;               /* the combined level (feedback.md 6) */
    mdbp_level_t previous;            /* the level before the latest change */
    bool changed;                      /* this update changed the level */
    uint64_t depth;                    /* records not committed */
    double scale_hint;                 /* min(depth formula, 1 - pressure) */
    double pressure;                   /* 0..1: max(depth, sojourn, sink) */
    uint32_t oldest_age_ms;            /* oldest uncommitted record, 0: none */
    double commit_latency_ms;          /* recent mean dispatch -> commit */
    mdbp_sink_state_t sink_state;     /* up / degraded / down */
    double drain_rate;                 /* records/s, smoothed */
    uint32_t credit_initial;           /* what a new producer may send */
    uint32_t credit_initial_critical;  /* the same for a critical one */
    uint32_t producers;                /* active producers (credit shares) */
    /* per class (mdbp_priority_t): active producers and the factor their
     * shares are scaled by now (ingest.md 4.5) */
    uint32_t class_producers[MDBP_PRIORITY_COUNT];
    double class_factor[MDBP_PRIORITY_COUNT];
    char reason[MDBP_REASON_MAX + 1]; /* of the latest change, or "" */
    int64_t changed_ns;               /* monotonic time of that change */
    sc_snapshot_rates_t rates;        /* issue 15: for /status */
} sc_snapshot_t;

#endif
