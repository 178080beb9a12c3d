/* sc_announcer: when to publish which feedback message (see sc_announcer.h). */
#include "sc_announcer.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmn_clock.h"

#define S_PERCENT 100
#define S_SHUTDOWN_REASON "shutdown"

struct _sc_announcer_t {
    sc_announcer_config_t config;
    sc_snapshot_t state;     /* the core's latest */
    double hint;             /* scale_hint of the last message */
    int64_t heartbeat_ns;    /* next regular heartbeat */
    int64_t hint_check_ns;   /* next early-heartbeat check */
    bool snapshot_sent;      /* snapshot_ns is meaningful */
    int64_t snapshot_ns;     /* when the last snapshot went out */
    int64_t snapshot_due_ns; /* a deferred snapshot, or SC_ENGINE_NEVER */
    bool finished;           /* the final message went out */
};

/* One regular interval with its jitter: uniform over interval +-10 %. */
static int64_t s_jittered_interval(sc_announcer_t *self)
{
    int64_t interval = self->config.heartbeat_ns;
    int64_t spread = interval * SC_ANNOUNCER_JITTER_PERCENT / S_PERCENT;
    uint64_t bits = self->config.random(self->config.random_arg);
    int64_t delay =
        interval - spread + (int64_t)(bits % (uint64_t)(2 * spread + 1));
    return delay < CMN_NS_PER_MS ? CMN_NS_PER_MS : delay;
}

sc_announcer_t *sc_announcer_new(const sc_announcer_config_t *config,
                                 int64_t now_ns)
{
    assert(config && config->random && config->heartbeat_ns > 0);
    sc_announcer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->state = (sc_snapshot_t){.level = MDBP_LEVEL_OK,
                                  .previous = MDBP_LEVEL_OK,
                                  .scale_hint = 1.0,
                                  .sink_state = MDBP_SINK_STATE_UP};
    self->hint = 1.0; /* an empty queue's: nothing to send early at start */
    self->heartbeat_ns = now_ns + s_jittered_interval(self);
    self->hint_check_ns = now_ns + SC_HINT_CHECK_MS * CMN_NS_PER_MS;
    self->snapshot_due_ns = SC_ENGINE_NEVER;
    return self;
}

void sc_announcer_destroy(sc_announcer_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

/* Fills `out` with the latest state; its hint becomes the last published
 * one. */
static bool s_announce(sc_announcer_t *self, mdbp_feedback_type_t type,
                       sc_announcement_t *out)
{
    *out = (sc_announcement_t){.type = type, .state = self->state};
    out->state.changed = type == MDBP_FEEDBACK_TRANSITION;
    self->hint = self->state.scale_hint;
    return true;
}

bool sc_announcer_state(sc_announcer_t *self, const sc_snapshot_t *state,
                        int64_t now_ns, sc_announcement_t *out)
{
    assert(self && state && out);
    (void)now_ns;
    if (self->finished)
        return false;
    self->state = *state;
    if (!state->changed)
        return false;
    return s_announce(self, MDBP_FEEDBACK_TRANSITION, out);
}

bool sc_announcer_subscribed(sc_announcer_t *self, int64_t now_ns,
                             sc_announcement_t *out)
{
    assert(self && out);
    if (self->finished || self->snapshot_due_ns != SC_ENGINE_NEVER)
        return false; /* one is already on its way */
    int64_t next =
        self->snapshot_ns + SC_ANNOUNCER_SNAPSHOT_INTERVAL_MS * CMN_NS_PER_MS;
    if (self->snapshot_sent && now_ns < next) {
        self->snapshot_due_ns = next;
        return false;
    }
    self->snapshot_sent = true;
    self->snapshot_ns = now_ns;
    return s_announce(self, MDBP_FEEDBACK_SNAPSHOT, out);
}

bool sc_announcer_due(sc_announcer_t *self, int64_t now_ns,
                      sc_announcement_t *out)
{
    assert(self && out);
    if (self->finished)
        return false;
    if (now_ns >= self->snapshot_due_ns) {
        self->snapshot_due_ns = SC_ENGINE_NEVER;
        self->snapshot_sent = true;
        self->snapshot_ns = now_ns;
        return s_announce(self, MDBP_FEEDBACK_SNAPSHOT, out);
    }
    if (now_ns >= self->heartbeat_ns) {
        self->heartbeat_ns = now_ns + s_jittered_interval(self);
        return s_announce(self, MDBP_FEEDBACK_HEARTBEAT, out);
    }
    if (now_ns >= self->hint_check_ns) {
        self->hint_check_ns = now_ns + SC_HINT_CHECK_MS * CMN_NS_PER_MS;
        if (sc_watermark_hint_moved(self->hint, self->state.scale_hint))
            return s_announce(self, MDBP_FEEDBACK_HEARTBEAT, out);
    }
    return false;
}

bool sc_announcer_final(sc_announcer_t *self, int64_t now_ns,
                        sc_announcement_t *out)
{
    assert(self && out);
    (void)now_ns;
    if (self->finished)
        return false;
    s_announce(self, MDBP_FEEDBACK_HEARTBEAT, out);
    snprintf(out->state.reason, sizeof out->state.reason, "%s",
             S_SHUTDOWN_REASON);
    out->going_away = true;
    self->finished = true;
    return true;
}

int64_t sc_announcer_deadline(sc_announcer_t *self)
{
    assert(self);
    if (self->finished)
        return SC_ENGINE_NEVER;
    int64_t deadline = self->heartbeat_ns;
    if (self->hint_check_ns < deadline)
        deadline = self->hint_check_ns;
    if (self->snapshot_due_ns < deadline)
        deadline = self->snapshot_due_ns;
    return deadline;
}

void sc_announcement_message(const sc_announcement_t *announcement,
                             const sc_announcer_identity_t *identity,
                             uint64_t seq, int64_t ts_ns,
                             mdbp_feedback_t *out)
{
    const sc_snapshot_t *state = &announcement->state;
    *out = (mdbp_feedback_t){
        .type = announcement->type,
        .epoch = identity->epoch,
        .seq = seq,
        .ts_ns = ts_ns,
        .level = state->level,
        .prev_level = state->previous,
        .queue_size = state->depth,
        .capacity = identity->capacity,
        .low_wm = identity->low_wm,
        .high_wm = identity->high_wm,
        .utilization = (double)state->depth / (double)identity->capacity,
        .scale_hint = state->scale_hint,
        /* The last message may not be trusted past its receipt (7.1). */
        .ttl_ms = announcement->going_away
                      ? 0
                      : (uint32_t)(SC_ANNOUNCER_TTL_HEARTBEATS *
                                   identity->heartbeat_ms),
        .has_drain_rate = true,
        .drain_rate = state->drain_rate,
        .has_oldest_age_ms = true,
        .oldest_age_ms = state->oldest_age_ms,
        .has_commit_latency_ms = true,
        .commit_latency_ms = state->commit_latency_ms,
        .sink_state = state->sink_state,
        .has_pressure = true,
        .pressure = state->pressure,
        .has_scale_hint_critical = true,
        .scale_hint_critical = state->class_factor[MDBP_PRIORITY_CRITICAL],
        .has_scale_hint_bulk = true,
        .scale_hint_bulk = state->class_factor[MDBP_PRIORITY_BULK],
        .has_credit_initial = true,
        .credit_initial = state->credit_initial,
        .has_credit_initial_critical = true,
        .credit_initial_critical = state->credit_initial_critical,
        .has_going_away = true,
        .going_away = announcement->going_away,
    };
    if (out->utilization > 1.0)
        out->utilization = 1.0;
    snprintf(out->coordinator_id, sizeof out->coordinator_id, "%s",
             identity->coordinator_id);
    if (state->reason[0] != '\0') {
        out->has_reason = true;
        snprintf(out->reason, sizeof out->reason, "%s", state->reason);
    }
}
