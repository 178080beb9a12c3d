/* pl_feedback: what the pipeline knows about each coordinator's pressure.
 *
 * The subscriber's state machine, kept apart from the socket so that tests
 * can drive it with decoded events and a virtual clock. Per coordinator id it
 * tracks the epoch, the last seq, the reported level, queue depth and hint,
 * the `ttl_ms` of the last message and when it was heard (monotonic):
 *
 * - same epoch, seq = last + 1: in order; seq > last + 1: a gap (counted,
 *   the event is still applied: the newest state wins); seq <= last: an old
 *   or repeated message, counted and ignored. A snapshot re-synchronises
 *   without counting a gap (it may be sent to one subscriber only).
 * - another epoch: the coordinator restarted; its seq starts again, no gap.
 * - silent for longer than its ttl: stale, and its effective level becomes
 *   exactly the fail-safe level (MDP_FB_STALE_LEVEL, default soft), also
 *   when the last reported level was more severe (see pipeline/README.md);
 * - silent for longer than `forget_ns`: forgotten (a pod that went away);
 * - `going_away` (v1.1, the coordinator's last message before it exits):
 *   forgotten at once, no stale alert and no fail-safe for it.
 *
 * Several coordinators combine to the least severe effective level and the
 * largest scale: the sender sends where the credit is, so a provider pauses
 * only when every coordinator is HARD (issue 11). Messages that do not decode, carry another protocol version
 * or a topic that does not match are counted and dropped. Not thread-safe:
 * owned by the subscriber actor. */
#ifndef PL_FEEDBACK_H
#define PL_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmn_clock.h"
#include "pl_policy.h"
#include <mdbp/feedback.h>

#define PL_FEEDBACK_COORDINATORS_MAX 64
/* Used when a message says ttl_ms = 0. */
#define PL_FEEDBACK_TTL_MS_DEFAULT 3000

/* pl_feedback_handle_*() results. */
typedef enum {
    PL_FEEDBACK_APPLIED = 0,    /* the coordinator's state was updated */
    PL_FEEDBACK_OLD = 1,        /* seq not newer than the last: ignored */
    PL_FEEDBACK_MALFORMED = 2,  /* frames, topic or msgpack: dropped */
    PL_FEEDBACK_VERSION = 3,    /* another protocol version: dropped */
    PL_FEEDBACK_TABLE_FULL = 4, /* too many coordinators: dropped */
} pl_feedback_result_t;

typedef struct {
    mdbp_level_t stale_level; /* fail-safe level of a stale coordinator */
    int64_t forget_ns;         /* silence after which one is forgotten */
} pl_feedback_config_t;

/* One coordinator as known now. */
typedef struct {
    char id[MDBP_ID_MAX + 1];
    uint64_t epoch;
    uint64_t seq;
    mdbp_level_t level;     /* as reported */
    mdbp_level_t effective; /* after the fail-safe when stale */
    uint64_t queue_size;
    uint64_t capacity;
    double utilization;
    double scale_hint;
    uint32_t ttl_ms;     /* of the last message */
    int64_t heard_ns;    /* monotonic time of the last message */
    int64_t event_ts_ns; /* ts_ns of the last message (wall) */
    bool stale;
    uint64_t gaps;           /* sequence gaps seen */
    uint64_t restarts;       /* epoch changes seen */
    bool has_credit_initial; /* v1.1 */
    uint32_t credit_initial;
    /* A critical producer's first credit (ingest.md 4.5): the feedback's
     * credit_initial_critical, else credit_initial. */
    bool has_credit_initial_critical;
    uint32_t credit_initial_critical;
} pl_coordinator_view_t;

typedef struct {
    uint64_t applied;
    uint64_t old;
    uint64_t malformed;
    uint64_t version; /* unknown protocol version */
    uint64_t table_full;
    uint64_t gaps;   /* gap occurrences */
    uint64_t missed; /* messages missing in those gaps */
    uint64_t restarts;
    uint64_t forgotten;
    uint64_t going_away; /* of which at once, on going_away */
    uint64_t by_level[MDBP_LEVEL_HARD + 1]; /* applied events */
    uint64_t by_type[MDBP_FEEDBACK_SNAPSHOT + 1];
} pl_feedback_counters_t;

typedef struct {
    mdbp_level_t level; /* least severe effective level; OK when none */
    double scale;        /* smallest policy scale; 1.0 when none */
    size_t known;        /* coordinators known */
    size_t stale;        /* of which stale */
} pl_feedback_summary_t;

/* What the subscriber hands the producer: the combined level and scale,
 * and the wall-clock ts_ns of the event that caused it (0 when time did: a
 * coordinator went stale or was forgotten). */
typedef struct {
    mdbp_level_t level;
    double scale;
    int64_t event_ts_ns;
} pl_feedback_decision_t;

/* What the senders need from the feedback (pl_window_limits): the smallest
 * queue capacity and credit_initial of the fresh coordinators (0 / false
 * when none says), the same for a critical sender, and whether every known
 * coordinator is fresh (alive: its batches are slow, not lost). One frame
 * goes to every sender; each takes its class's credit. */
typedef struct {
    uint64_t capacity;
    bool has_credit_initial;
    uint32_t credit_initial;
    bool has_credit_initial_critical;
    uint32_t credit_initial_critical;
    bool alive;
} pl_feedback_limits_t;

typedef struct _pl_feedback_t pl_feedback_t;

/* An empty state on `clock` (borrowed). Caller owns the result. */
pl_feedback_t *pl_feedback_new(cmn_clock_t *clock,
                               const pl_feedback_config_t *config);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_feedback_destroy(pl_feedback_t **self_p);

/* Handles one received message: `frames[k]` of `sizes[k]` bytes. Expects two
 * frames (topic, msgpack map). Returns a pl_feedback_result_t. When `event`
 * is not NULL and the message decoded, it receives the event. */
pl_feedback_result_t pl_feedback_handle_message(pl_feedback_t *self,
                                                const void *const *frames,
                                                const size_t *sizes,
                                                size_t frame_count,
                                                mdbp_feedback_t *event);

/* Handles an already decoded event (the topic was checked). */
pl_feedback_result_t pl_feedback_handle_event(pl_feedback_t *self,
                                              const mdbp_feedback_t *event);

/* Applies time: marks coordinators stale after their ttl and forgets those
 * silent for longer than forget_ns. Returns how many changed (stale or
 * forgotten). Call periodically and before reading. */
size_t pl_feedback_tick(pl_feedback_t *self);

/* The combined state under `policy` (borrowed), as of the last tick. */
void pl_feedback_summarize(pl_feedback_t *self, const pl_policy_t *policy,
                           pl_feedback_summary_t *summary);

/* Summarizes under `policy` (borrowed) into `decision` and returns true
 * when its level or scale differs from the last decision returned with
 * true (at first: ok, 1.0), the one the producer applies. */
bool pl_feedback_decide(pl_feedback_t *self, const pl_policy_t *policy,
                        int64_t event_ts_ns, pl_feedback_decision_t *decision);

/* The limits now into `limits`; returns true when they differ from the
 * last ones returned with true (at first: all zero / false). */
bool pl_feedback_limits(pl_feedback_t *self, pl_feedback_limits_t *limits);

/* The monotonic time at which time alone next changes something (a
 * coordinator goes stale or is forgotten): call pl_feedback_tick() then.
 * INT64_MAX when no coordinator is known. */
int64_t pl_feedback_deadline(pl_feedback_t *self);

/* Known coordinators, in the order first heard; views are valid until the
 * next handle or tick. */
size_t pl_feedback_count(pl_feedback_t *self);
const pl_coordinator_view_t *pl_feedback_coordinator(pl_feedback_t *self,
                                                     size_t index);
/* The view of one id, or NULL. */
const pl_coordinator_view_t *pl_feedback_find(pl_feedback_t *self,
                                              const char *id);

/* Totals since creation. */
const pl_feedback_counters_t *pl_feedback_counters(pl_feedback_t *self);

#endif
