/* mdbp_feedback: the feedback channel's event (feedback.md).
 *
 * A feedback message is two ZeroMQ frames: the topic (see
 * mdbp_feedback_topic) and a msgpack map. The decoder is strict about the
 * required keys and their types and ignores unknown keys. */
#ifndef MDBP_FEEDBACK_H
#define MDBP_FEEDBACK_H

#include <mdbp/buffer.h>
#include <mdbp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The topic prefix every coordinator publishes under. */
#define MDBP_FEEDBACK_TOPIC_PREFIX "mds.fb/"
/* Bytes needed for any topic, NUL included. */
#define MDBP_FEEDBACK_TOPIC_MAX                                               \
    (sizeof(MDBP_FEEDBACK_TOPIC_PREFIX) + MDBP_ID_MAX + 1)

typedef enum {
    MDBP_FEEDBACK_TRANSITION = 0,
    MDBP_FEEDBACK_HEARTBEAT = 1,
    MDBP_FEEDBACK_SNAPSHOT = 2,
} mdbp_feedback_type_t;

/* "transition", "heartbeat", "snapshot". */
MDBP_EXPORT const char *mdbp_feedback_type_name(mdbp_feedback_type_t type);

/* The store's sink health (feedback.md 3.2, v1.1). NONE = absent. */
typedef enum {
    MDBP_SINK_STATE_NONE = 0,
    MDBP_SINK_STATE_UP = 1,
    MDBP_SINK_STATE_DEGRADED = 2,
    MDBP_SINK_STATE_DOWN = 3,
} mdbp_sink_state_t;

/* "up", "degraded", "down" (not NONE). */
MDBP_EXPORT const char *mdbp_sink_state_name(mdbp_sink_state_t state);

/* One feedback message. Optional keys have a `has_` flag (sink_state: NONE)
 * and are encoded only when set, so an event without the v1.1 keys has the
 * v1 bytes; a decoded v1 message leaves them all absent. */
typedef struct {
    mdbp_feedback_type_t type;
    char coordinator_id[MDBP_ID_MAX + 1];
    uint64_t epoch; /* this run of the coordinator */
    uint64_t seq;   /* per epoch, +1 per message */
    int64_t ts_ns;  /* wall clock at publication */
    mdbp_level_t level;
    mdbp_level_t prev_level;
    uint64_t queue_size;
    uint64_t capacity;
    uint64_t low_wm;
    uint64_t high_wm;
    double utilization; /* queue_size / capacity, 0..1 */
    double scale_hint;  /* 0..1 */
    uint32_t ttl_ms;    /* how long this state may be trusted */
    bool has_reason;
    char reason[MDBP_REASON_MAX + 1];
    bool has_drain_rate;
    double drain_rate; /* records/s */
    /* v1.1 */
    bool has_oldest_age_ms;
    uint32_t oldest_age_ms; /* age of the oldest uncommitted record */
    bool has_commit_latency_ms;
    double commit_latency_ms;      /* finite, >= 0 */
    mdbp_sink_state_t sink_state; /* NONE = absent */
    bool has_pressure;
    double pressure; /* 0..1 */
    bool has_credit_initial;
    uint32_t credit_initial; /* records before a first reply */
    bool has_going_away;
    bool going_away; /* the coordinator's last message: forget it */
    /* the share factors of the critical and bulk classes (ingest.md 4.5;
     * normal's is scale_hint) */
    bool has_scale_hint_critical;
    double scale_hint_critical; /* 0..1 */
    bool has_scale_hint_bulk;
    double scale_hint_bulk; /* 0..1 */
    bool has_credit_initial_critical;
    uint32_t credit_initial_critical; /* credit_initial for critical */
} mdbp_feedback_t;

/* Writes the topic of `coordinator_id` ("mds.fb/<id>/", NUL-terminated) into
 * `out` (MDBP_FEEDBACK_TOPIC_MAX bytes). Returns its length, or -1 when the
 * id is empty, too long or contains '/'. */
MDBP_EXPORT int mdbp_feedback_topic(const char *coordinator_id, char *out,
                                    size_t capacity);

/* Appends the msgpack map of `event` to `out`. Returns 0, or -1 when a field
 * is out of range (asserted in debug builds: encoding our own data). */
MDBP_EXPORT int mdbp_feedback_encode(const mdbp_feedback_t *event,
                                     mdbp_buffer_t *out);

/* Decodes one msgpack map. Returns 0, or -1 with `error` naming the bad or
 * missing key. Never reads past `size`. */
MDBP_EXPORT int mdbp_feedback_decode(const void *data, size_t size,
                                     mdbp_feedback_t *event,
                                     mdbp_error_t *error);

#ifdef __cplusplus
}
#endif

#endif
