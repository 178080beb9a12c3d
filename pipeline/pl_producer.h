/* pl_producer: the actor that makes records as fast as the buckets allow.
 *
 * It owns the rate coordinator and the providers (synthetic or replay). In
 * a loop it takes tokens for each provider in turn, makes that many records
 * into a chunk and pushes full chunks (or, before it waits, partial ones) to
 * the sender's PULL socket. When the sender stops reading (its window is
 * full) the push blocks the loop, not memory. When no provider has a token
 * it waits on its pipe until the soonest one is due, so commands are
 * handled at once. It is a shell: the buckets, cooldowns and breakers are
 * the pure pl_rate_coordinator's; this actor owns the sockets, one zloop
 * and one timer armed at the soonest bucket's due time (or the next status
 * refresh). Its inputs:
 *
 *   scale_cell (pl_scale_cell.h): the decided feedback scale, read before
 *     every take and applied to every provider `policy` scales (the hot
 *     path: no message, no wake-up; the subscriber observes a fall's
 *     latency at its store, this actor a rise's when the message came);
 *   decisions_endpoint (inproc PULL it binds): one frame holding a
 *     pl_feedback_decision_t, straight from the subscriber, after the
 *     cell: its level, gauges and logs, and the wake-up of a paused
 *     producer; without a cell its scale is applied here and its ts_ns
 *     observed as the propagation latency
 *     (pipeline_rate_change_latency_seconds);
 *   admin_endpoint (inproc PULL it binds): one frame holding a
 *     pl_producer_admin_t from the HTTP admin routes (cooldown, scale cap:
 *     the bucket runs at min(feedback scale, cap));
 *   its pipe (zsock pictures; start-up: pl_actor.h):
 *     PL_PRODUCER_STOP "s8" deadline_ms: stop producing, hand over the
 *       chunk; replies PL_PRODUCER_STOPPED "s88" with the number of records
 *       it could not hand over by the deadline (0: none) and the records
 *       produced in all;
 *     PL_PRODUCER_NOW "s": a running stop replies now;
 *     and once, unasked, PL_PRODUCER_DONE "s8" (produced) when every
 *       provider has ended (its limit, the end of a replay) and every record
 *       was handed over: main's MDP_EXIT_WHEN_DONE waits for it.
 *
 * It writes the per-provider metrics and the providers part of /status. */
#ifndef PL_PRODUCER_H
#define PL_PRODUCER_H

#include <czmq.h>

#include "pl_actor.h"
#include "pl_feed.h"
#include "pl_feedback.h"
#include "pl_metrics.h"
#include "pl_policy.h"
#include "pl_provider_replay.h"
#include "pl_provider_synthetic.h"
#include "pl_rate_coordinator.h"
#include "pl_scale_cell.h"
#include "pl_status.h"

#define PL_PRODUCER_CHUNK_RECORDS_DEFAULT 512

typedef struct {
    pl_synthetic_t *synthetic; /* one of the three, owned */
    pl_replay_t *replay;
    pl_feed_t *feed; /* a push source with its spool (issue 16) */
    uint64_t limit;                    /* records to make, 0: no limit */
    mdbp_priority_t priority; /* its class: which sender takes its records */
    char source[MDBP_REASON_MAX + 1]; /* as configured, for /status */
} pl_producer_source_t;

typedef struct {
    cmn_clock_t *clock;          /* borrowed; must outlive the actor */
    pl_rate_coordinator_t *rate; /* taken (nulled) by pl_producer_new */
    pl_producer_source_t sources[PL_RATE_PROVIDERS_MAX]; /* by rate index;
                                       taken (nulled) by pl_producer_new */
    /* The PULL of the sender of each class (mdbp_priority_t index), NULL
     * for a class without one; every provider's class has one. Copied. */
    const char *data_endpoints[MDBP_PRIORITY_COUNT];
    const char *decisions_endpoint; /* to bind, copied */
    pl_scale_cell_t *scale_cell;    /* the subscriber's decided scale,
                                     * polled before every take (borrowed,
                                     * outlives the actor); NULL: the
                                     * decision message's scale */
    const char *admin_endpoint;     /* to bind, copied */
    const pl_policy_t *policy;      /* borrowed, immutable */
    size_t chunk_records;           /* <= PL_SENDER_CHUNK_RECORDS_MAX */
    pl_metrics_t *metrics;          /* borrowed */
    pl_status_t *status;            /* borrowed */
} pl_producer_config_t;

#define PL_PRODUCER_STOP "STOP"
#define PL_PRODUCER_NOW "NOW"
#define PL_PRODUCER_STOPPED "STOPPED"
#define PL_PRODUCER_DONE "DONE"

/* An admin command (inproc, one frame holding this struct). */
typedef enum {
    PL_PRODUCER_COOLDOWN = 1, /* trigger_cooldown(scope, seconds) */
    PL_PRODUCER_OVERRIDE = 2, /* cap the scale (1.0 removes the cap) */
} pl_producer_admin_kind_t;

typedef struct {
    pl_producer_admin_kind_t kind;
    size_t provider; /* rate coordinator index */
    char scope[PL_RATE_SCOPE_MAX + 1];
    double seconds; /* cooldown; 0: the provider's default */
    double scale;   /* override cap in [0, 1] */
} pl_producer_admin_t;

/* Starts the actor, taking the rate coordinator and the providers out of
 * `config`. Returns NULL with the reason in `error` (PL_ACTOR_ERROR_MAX
 * bytes) on failure (what was taken is destroyed). */
zactor_t *pl_producer_new(pl_producer_config_t *config, char *error);

#endif
