/* pl_feedback: what the pipeline knows about each coordinator's pressure. */
#include "pl_feedback.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* A feedback message: topic frame and msgpack body. */
#define PL_FEEDBACK_FRAMES 2
/* The codec's text for a version it does not read (mdbp_reader.c). */
#define PL_FEEDBACK_VERSION_ERROR "unsupported version"

struct _pl_feedback_t {
    cmn_clock_t *clock; /* borrowed */
    pl_feedback_config_t config;
    pl_coordinator_view_t coordinators[PL_FEEDBACK_COORDINATORS_MAX];
    size_t count;
    pl_feedback_counters_t counters;
    pl_feedback_decision_t decided; /* the last decision that changed */
    pl_feedback_limits_t limits;    /* the last limits that changed */
};

pl_feedback_t *pl_feedback_new(cmn_clock_t *clock,
                               const pl_feedback_config_t *config)
{
    assert(clock && config);
    pl_feedback_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->clock = clock;
    self->config = *config;
    self->decided.level = MDBP_LEVEL_OK;
    self->decided.scale = 1.0;
    return self;
}

void pl_feedback_destroy(pl_feedback_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

static int64_t s_ttl_ns(const pl_coordinator_view_t *view)
{
    uint32_t ttl_ms = view->ttl_ms ? view->ttl_ms : PL_FEEDBACK_TTL_MS_DEFAULT;
    return (int64_t)ttl_ms * CMN_NS_PER_MS;
}

static mdbp_level_t s_min_level(mdbp_level_t a, mdbp_level_t b)
{
    return a < b ? a : b;
}

static void s_update_stale(pl_feedback_t *self, pl_coordinator_view_t *view,
                           int64_t now)
{
    view->stale = now - view->heard_ns > s_ttl_ns(view);
    /* Exactly the fail-safe level, even below the last one reported: a
     * coordinator that died at HARD must not pause us until it is
     * forgotten. A restarted one sends a snapshot at once, and a dead one
     * accepts no data anyway (the sender's window bounds what waits). */
    view->effective = view->stale ? self->config.stale_level : view->level;
}

static pl_coordinator_view_t *s_find(pl_feedback_t *self, const char *id)
{
    for (size_t k = 0; k < self->count; k++)
        if (strcmp(self->coordinators[k].id, id) == 0)
            return &self->coordinators[k];
    return NULL;
}

static void s_copy_state(pl_coordinator_view_t *view,
                         const mdbp_feedback_t *event, int64_t now)
{
    view->seq = event->seq;
    view->level = event->level;
    view->queue_size = event->queue_size;
    view->capacity = event->capacity;
    view->utilization = event->utilization;
    view->scale_hint = event->scale_hint;
    view->ttl_ms = event->ttl_ms;
    view->heard_ns = now;
    view->event_ts_ns = event->ts_ns;
    view->stale = false;
    view->effective = event->level;
    view->has_credit_initial = event->has_credit_initial;
    view->credit_initial = event->credit_initial;
    view->has_credit_initial_critical = event->has_credit_initial_critical ||
                                        event->has_credit_initial;
    view->credit_initial_critical = event->has_credit_initial_critical
                                        ? event->credit_initial_critical
                                        : event->credit_initial;
}

/* Removes coordinators[index], keeping the order of the others. */
static void s_forget(pl_feedback_t *self, size_t index)
{
    memmove(&self->coordinators[index], &self->coordinators[index + 1],
            (self->count - index - 1) * sizeof self->coordinators[0]);
    self->count--;
    self->counters.forgotten++;
}

pl_feedback_result_t pl_feedback_handle_event(pl_feedback_t *self,
                                              const mdbp_feedback_t *event)
{
    assert(self && event);
    int64_t now = cmn_clock_mono_ns(self->clock);
    pl_coordinator_view_t *view = s_find(self, event->coordinator_id);
    if (!view) {
        if (self->count == PL_FEEDBACK_COORDINATORS_MAX) {
            self->counters.table_full++;
            return PL_FEEDBACK_TABLE_FULL;
        }
        view = &self->coordinators[self->count++];
        memset(view, 0, sizeof *view);
        memcpy(view->id, event->coordinator_id, sizeof view->id);
        view->epoch = event->epoch;
    } else if (view->epoch != event->epoch) {
        /* A restart: a new seq space, not a gap. */
        view->epoch = event->epoch;
        view->restarts++;
        self->counters.restarts++;
    } else if (event->seq <= view->seq &&
               !(event->type == MDBP_FEEDBACK_SNAPSHOT &&
                 event->seq == view->seq)) {
        self->counters.old++;
        return PL_FEEDBACK_OLD;
    } else if (event->seq > view->seq + 1 &&
               event->type != MDBP_FEEDBACK_SNAPSHOT) {
        view->gaps++;
        self->counters.gaps++;
        self->counters.missed += event->seq - view->seq - 1;
    }
    s_copy_state(view, event, now);
    self->counters.applied++;
    self->counters.by_level[event->level]++;
    self->counters.by_type[event->type]++;
    if (event->has_going_away && event->going_away) {
        /* Its last message (ttl 0): drop its state now rather than trust
         * it, then fail safe for it, then forget it. */
        s_forget(self, (size_t)(view - self->coordinators));
        self->counters.going_away++;
    }
    return PL_FEEDBACK_APPLIED;
}

pl_feedback_result_t pl_feedback_handle_message(pl_feedback_t *self,
                                                const void *const *frames,
                                                const size_t *sizes,
                                                size_t frame_count,
                                                mdbp_feedback_t *event)
{
    assert(self && (frames || frame_count == 0));
    mdbp_feedback_t decoded;
    mdbp_error_t error;
    if (frame_count != PL_FEEDBACK_FRAMES) {
        self->counters.malformed++;
        return PL_FEEDBACK_MALFORMED;
    }
    if (mdbp_feedback_decode(frames[1], sizes[1], &decoded, &error) != 0) {
        if (strstr(error.text, PL_FEEDBACK_VERSION_ERROR)) {
            self->counters.version++;
            return PL_FEEDBACK_VERSION;
        }
        self->counters.malformed++;
        return PL_FEEDBACK_MALFORMED;
    }
    /* The topic must be the one of the id inside. */
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    int length =
        mdbp_feedback_topic(decoded.coordinator_id, topic, sizeof topic);
    if (length < 0 || (size_t)length != sizes[0] ||
        memcmp(topic, frames[0], sizes[0]) != 0) {
        self->counters.malformed++;
        return PL_FEEDBACK_MALFORMED;
    }
    if (event)
        *event = decoded;
    return pl_feedback_handle_event(self, &decoded);
}

size_t pl_feedback_tick(pl_feedback_t *self)
{
    assert(self);
    int64_t now = cmn_clock_mono_ns(self->clock);
    size_t changed = 0;
    size_t kept = 0;
    for (size_t k = 0; k < self->count; k++) {
        pl_coordinator_view_t *view = &self->coordinators[k];
        if (now - view->heard_ns > self->config.forget_ns) {
            self->counters.forgotten++;
            changed++;
            continue;
        }
        bool was_stale = view->stale;
        s_update_stale(self, view, now);
        if (view->stale != was_stale)
            changed++;
        if (kept != k)
            self->coordinators[kept] = *view;
        kept++;
    }
    self->count = kept;
    return changed;
}

void pl_feedback_summarize(pl_feedback_t *self, const pl_policy_t *policy,
                           pl_feedback_summary_t *summary)
{
    assert(self && policy && summary);
    summary->level = MDBP_LEVEL_OK;
    summary->scale = 1.0;
    summary->known = self->count;
    summary->stale = 0;
    /* The freest coordinator wins: the sender sends where the credit is
     * (pl_window), so one at HARD or stale (hung) is routed around and
     * must not slow or pause the provider for all of them; a provider
     * pauses only when every coordinator is HARD (issue 11). */
    for (size_t k = 0; k < self->count; k++) {
        const pl_coordinator_view_t *view = &self->coordinators[k];
        summary->level = k == 0 ? view->effective
                                : s_min_level(summary->level, view->effective);
        double scale = pl_policy_scale(policy, view->effective,
                                       view->scale_hint, view->stale);
        if (k == 0 || scale > summary->scale)
            summary->scale = scale;
        if (view->stale)
            summary->stale++;
    }
}

bool pl_feedback_decide(pl_feedback_t *self, const pl_policy_t *policy,
                        int64_t event_ts_ns, pl_feedback_decision_t *decision)
{
    assert(self && policy && decision);
    pl_feedback_summary_t summary;
    pl_feedback_summarize(self, policy, &summary);
    decision->level = summary.level;
    decision->scale = summary.scale;
    decision->event_ts_ns = event_ts_ns > 0 ? event_ts_ns : 0;
    if (summary.level == self->decided.level &&
        summary.scale == self->decided.scale)
        return false;
    self->decided = *decision;
    return true;
}

/* Keeps the smallest of the values that are known. */
static void s_smallest(bool known, uint32_t value, bool *has, uint32_t *least)
{
    if (known && (!*has || value < *least)) {
        *has = true;
        *least = value;
    }
}

bool pl_feedback_limits(pl_feedback_t *self, pl_feedback_limits_t *limits)
{
    assert(self && limits);
    memset(limits, 0, sizeof *limits);
    limits->alive = self->count > 0;
    for (size_t k = 0; k < self->count; k++) {
        const pl_coordinator_view_t *view = &self->coordinators[k];
        if (view->stale) {
            limits->alive = false;
            continue;
        }
        if (view->capacity > 0 &&
            (limits->capacity == 0 || view->capacity < limits->capacity))
            limits->capacity = view->capacity;
        s_smallest(view->has_credit_initial, view->credit_initial,
                   &limits->has_credit_initial, &limits->credit_initial);
        s_smallest(view->has_credit_initial_critical,
                   view->credit_initial_critical,
                   &limits->has_credit_initial_critical,
                   &limits->credit_initial_critical);
    }
    if (memcmp(limits, &self->limits, sizeof *limits) == 0)
        return false;
    self->limits = *limits;
    return true;
}

int64_t pl_feedback_deadline(pl_feedback_t *self)
{
    assert(self);
    int64_t next = INT64_MAX;
    for (size_t k = 0; k < self->count; k++) {
        const pl_coordinator_view_t *view = &self->coordinators[k];
        /* Strictly after: stale once silent for more than its ttl. */
        int64_t due = view->stale ? view->heard_ns + self->config.forget_ns
                                  : view->heard_ns + s_ttl_ns(view);
        if (due + 1 < next)
            next = due + 1;
    }
    return next;
}

size_t pl_feedback_count(pl_feedback_t *self)
{
    assert(self);
    return self->count;
}

const pl_coordinator_view_t *pl_feedback_coordinator(pl_feedback_t *self,
                                                     size_t index)
{
    assert(self && index < self->count);
    return &self->coordinators[index];
}

const pl_coordinator_view_t *pl_feedback_find(pl_feedback_t *self,
                                              const char *id)
{
    assert(self && id);
    return s_find(self, id);
}

const pl_feedback_counters_t *pl_feedback_counters(pl_feedback_t *self)
{
    assert(self);
    return &self->counters;
}
