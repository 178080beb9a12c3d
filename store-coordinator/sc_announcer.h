/* sc_announcer: what feedback the publisher sends and when, as a pure engine
 * (see sc_engine.h; proto/feedback.md is the contract).
 *
 * Rules:
 *  - a `transition` on every level change the core reports;
 *  - a regular `heartbeat` every heartbeat interval +-10 % (the jitter from
 *    the random source, uniform over the whole spread), whatever else was
 *    sent;
 *  - an early `heartbeat` when scale_hint has moved since the last message
 *    (sc_watermark_hint_moved), checked every SC_HINT_CHECK_MS, so that
 *    proportional producers follow the queue between heartbeats;
 *  - a `snapshot` for each subscription that receives our topic, at most
 *    one per SC_ANNOUNCER_SNAPSHOT_INTERVAL_MS (a later one is deferred to
 *    the end of that interval, and further ones meanwhile share it);
 *  - the final heartbeat at shutdown (reason "shutdown", going_away: the
 *    shell sends it with ttl_ms 0, feedback.md 7.1), after which nothing
 *    more is sent.
 * Every message carries one whole snapshot (sc_snapshot.h): the latest the
 * core reported, so level, depth, scale_hint and the drain signals of a
 * message were read together, and a heartbeat never runs ahead of its
 * transition. The shell calls sc_announcer_due at sc_announcer_deadline
 * (repeatedly, until it returns false). One thread (the publisher). */
#ifndef SC_ANNOUNCER_H
#define SC_ANNOUNCER_H

#include <stdbool.h>
#include <stdint.h>

#include <mdbp/common.h>
#include <mdbp/feedback.h>
#include "sc_engine.h"
#include "sc_snapshot.h"
#include "sc_watermark.h"

/* Heartbeats are spread over +-this percentage of the interval. */
#define SC_ANNOUNCER_JITTER_PERCENT 10
/* A consumer trusts a state for this many heartbeat intervals (ttl_ms of
 * every message). */
#define SC_ANNOUNCER_TTL_HEARTBEATS 3
/* At most one snapshot per this interval: a client flooding subscriptions
 * cannot make the publisher flood every subscriber (late joiners still get
 * theirs within this time). */
#define SC_ANNOUNCER_SNAPSHOT_INTERVAL_MS 10

typedef struct {
    int64_t heartbeat_ns;        /* regular interval, before jitter */
    sc_engine_random_fn *random; /* jitter source */
    void *random_arg;            /* its argument */
} sc_announcer_config_t;

/* One message to publish now. */
typedef struct {
    mdbp_feedback_type_t type;
    sc_snapshot_t state; /* what it says; reason "" = none */
    bool going_away;     /* the last message (ttl_ms 0) */
} sc_announcement_t;

typedef struct _sc_announcer_t sc_announcer_t;

/* An announcer at level OK with an empty queue (scale_hint 1) at `now_ns`;
 * the first regular heartbeat is one jittered interval away. Caller owns
 * it. */
sc_announcer_t *sc_announcer_new(const sc_announcer_config_t *config,
                                 int64_t now_ns);

/* Frees; tolerates NULL and sets *self_p to NULL. */
void sc_announcer_destroy(sc_announcer_t **self_p);

/* The core's latest snapshot. Returns true with the transition to publish
 * when it says the level changed (false otherwise, and after the final
 * message). */
bool sc_announcer_state(sc_announcer_t *self, const sc_snapshot_t *state,
                        int64_t now_ns, sc_announcement_t *out);

/* A subscription that receives our topic arrived. Returns true with the
 * snapshot to publish now, or false when it is deferred (the deadline
 * moves) or already on its way. */
bool sc_announcer_subscribed(sc_announcer_t *self, int64_t now_ns,
                             sc_announcement_t *out);

/* At (or after) the deadline: returns true with one message due (a
 * deferred snapshot, a regular heartbeat, an early heartbeat), false when
 * nothing more is due now. Call until false. */
bool sc_announcer_due(sc_announcer_t *self, int64_t now_ns,
                      sc_announcement_t *out);

/* Shutdown: the last message (a heartbeat, reason "shutdown", going_away).
 * Returns false when it was already sent. */
bool sc_announcer_final(sc_announcer_t *self, int64_t now_ns,
                        sc_announcement_t *out);

/* When sc_announcer_due next has something to check (SC_ENGINE_NEVER after
 * the final message). */
int64_t sc_announcer_deadline(sc_announcer_t *self);

/* What every message of this coordinator carries besides the state. */
typedef struct {
    const char *coordinator_id; /* 1..MDBP_ID_MAX bytes */
    uint64_t epoch;             /* this run's */
    uint64_t capacity;          /* queue capacity, records */
    uint64_t low_wm;            /* low watermark, records */
    uint64_t high_wm;           /* high watermark, records */
    int64_t heartbeat_ms;       /* regular interval (ttl_ms = 3 of them) */
} sc_announcer_identity_t;

/* The wire message of `announcement` (proto/feedback.md) into `out`, with
 * the `seq` and wall-clock `ts_ns` the shell gives it: every v1.1 key, the
 * last message with ttl_ms 0 (7.1). The publisher and the scenario model
 * both build their messages here. */
void sc_announcement_message(const sc_announcement_t *announcement,
                             const sc_announcer_identity_t *identity,
                             uint64_t seq, int64_t ts_ns,
                             mdbp_feedback_t *out);

#endif
