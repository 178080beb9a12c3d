/* sc_intake: admit, dispatch, level, drain (see sc_intake.h). */
#include "sc_intake.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmn_clock.h"

#define S_MS_PER_SEC 1000.0
#define S_DRAIN_RATE_SMOOTHING 0.5
/* Below this drain rate (records/s) nothing is draining. */
#define S_DRAIN_RATE_IDLE 1.0

typedef struct {
    bool busy;                  /* holds a chunk */
    bool abandoned;             /* its chunk was taken back at the deadline */
    uint64_t chunk_id;          /* the chunk it holds */
    sc_breaker_state_t breaker; /* as last reported */
    proto_record_t *buffer;     /* batch_size records: its chunk's copy */
} s_worker_t;

struct _sc_intake_t {
    sc_intake_config_t config;
    sc_queue_t *queue;
    sc_watermark_t *watermark;
    s_worker_t *workers;           /* config.workers */
    int64_t now_ns;                /* latest time seen */
    int64_t pending_since_ns;      /* oldest waiting record's arrival, or 0 */
    uint64_t committed_window;     /* records committed in this window */
    int64_t window_start_ns;       /* drain-rate window start */
    double drain_rate;             /* records/s, smoothed */
    bool draining;                 /* sc_intake_drain called */
    bool drained;                  /* FLUSHED or EXPIRED reported */
    int64_t drain_deadline_ns;     /* while draining */
    size_t abandon_cursor;         /* next worker sc_intake_abandon looks at */
    int64_t malformed_logged_ns;   /* last malformed log line, or 0 */
    uint64_t malformed_suppressed; /* not logged since */
};

sc_intake_t *sc_intake_new(const sc_intake_config_t *config, int64_t now_ns)
{
    assert(config);
    assert(config->workers >= 1);
    assert(config->batch_size >= 1);
    sc_intake_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->queue = sc_queue_new(config->capacity);
    self->watermark = sc_watermark_new(&config->watermark, now_ns);
    self->workers = calloc(config->workers, sizeof *self->workers);
    bool ok = self->queue && self->watermark && self->workers;
    for (size_t i = 0; ok && i < config->workers; i++) {
        self->workers[i].buffer =
            calloc(config->batch_size, sizeof *self->workers[i].buffer);
        ok = self->workers[i].buffer != NULL;
    }
    self->now_ns = now_ns;
    self->window_start_ns = now_ns;
    if (!ok)
        sc_intake_destroy(&self);
    return self;
}

void sc_intake_destroy(sc_intake_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sc_intake_t *self = *self_p;
    if (self->workers)
        for (size_t i = 0; i < self->config.workers; i++)
            free(self->workers[i].buffer);
    free(self->workers);
    sc_watermark_destroy(&self->watermark);
    sc_queue_destroy(&self->queue);
    free(self);
    *self_p = NULL;
}

static void s_nack(sc_intake_admission_t *out, proto_nack_reason_t reason,
                   uint32_t retry_after_ms, const char *detail)
{
    out->verdict = SC_INTAKE_NACK;
    out->reason = reason;
    out->retry_after_ms = retry_after_ms;
    snprintf(out->detail, sizeof out->detail, "%s", detail);
}

static bool s_breaker_open(sc_intake_t *self)
{
    for (size_t i = 0; i < self->config.workers; i++)
        if (self->workers[i].breaker == SC_BREAKER_OPEN)
            return true;
    return false;
}

/* When resending a batch of `count` records may succeed: the time the sink
 * needs, at the drain rate, to free the room that is missing. */
static uint32_t s_retry_after_full(sc_intake_t *self, size_t count)
{
    if (s_breaker_open(self))
        return self->config.breaker_timeout_ms;
    if (self->drain_rate < S_DRAIN_RATE_IDLE)
        return SC_INTAKE_RETRY_AFTER_IDLE_MS;
    size_t free_slots = sc_queue_free(self->queue);
    size_t needed = count > free_slots ? count - free_slots : 1;
    double ms = (double)needed * S_MS_PER_SEC / self->drain_rate;
    if (ms < SC_INTAKE_RETRY_AFTER_MIN_MS)
        return SC_INTAKE_RETRY_AFTER_MIN_MS;
    if (ms > SC_INTAKE_RETRY_AFTER_MAX_MS)
        return SC_INTAKE_RETRY_AFTER_MAX_MS;
    return (uint32_t)ms;
}

void sc_intake_malformed(sc_intake_t *self, const char *detail, int64_t now_ns,
                         sc_intake_admission_t *out)
{
    assert(self && out);
    *out = (sc_intake_admission_t){0};
    self->now_ns = now_ns;
    s_nack(out, PROTO_NACK_MALFORMED, 0, detail ? detail : "");
    if (self->malformed_logged_ns == 0 ||
        now_ns - self->malformed_logged_ns >=
            SC_INTAKE_MALFORMED_LOG_INTERVAL_MS * CMN_NS_PER_MS) {
        out->log = true;
        out->suppressed = self->malformed_suppressed;
        self->malformed_logged_ns = now_ns;
        self->malformed_suppressed = 0;
    } else
        self->malformed_suppressed++;
}

void sc_intake_admit(sc_intake_t *self, const proto_record_t *records,
                     size_t count, void *tag, uint64_t batch_seq,
                     int64_t now_ns, sc_intake_admission_t *out)
{
    assert(self && out);
    *out = (sc_intake_admission_t){0};
    self->now_ns = now_ns;
    if (self->draining) {
        s_nack(out, PROTO_NACK_DRAINING, SC_INTAKE_RETRY_AFTER_DRAINING_MS,
               "coordinator is shutting down");
        return;
    }
    if (count == 0) {
        out->verdict = SC_INTAKE_ACK;
        return;
    }
    size_t capacity = sc_queue_capacity(self->queue);
    if (count > capacity) {
        char detail[PROTO_REASON_MAX + 1];
        snprintf(detail, sizeof detail,
                 "batch of %zu records exceeds the queue capacity %zu", count,
                 capacity);
        sc_intake_malformed(self, detail, now_ns, out);
        return;
    }
    bool was_idle = sc_queue_pending(self->queue) == 0;
    if (sc_queue_push(self->queue, records, count, tag, batch_seq) ==
        SC_QUEUE_FULL) {
        s_nack(out, PROTO_NACK_FULL, s_retry_after_full(self, count),
               "queue full");
        return;
    }
    if (was_idle)
        self->pending_since_ns = now_ns;
    out->verdict = SC_INTAKE_QUEUED;
}

void sc_intake_breaker(sc_intake_t *self, size_t worker,
                       sc_breaker_state_t state)
{
    assert(self && worker < self->config.workers);
    self->workers[worker].breaker = state;
}

size_t sc_intake_dispatch(sc_intake_t *self, int64_t now_ns, bool input_idle,
                          sc_intake_dispatch_t *out)
{
    assert(self && out);
    const sc_intake_config_t *config = &self->config;
    self->now_ns = now_ns;
    size_t given = 0;
    for (size_t i = 0; i < config->workers; i++) {
        s_worker_t *worker = &self->workers[i];
        if (worker->busy)
            continue;
        size_t pending = sc_queue_pending(self->queue);
        if (pending == 0)
            break;
        bool timed_out =
            now_ns - self->pending_since_ns >= config->batch_timeout_ns;
        bool eager = config->batch_eager && input_idle;
        if (pending < config->batch_size && !eager && !self->draining &&
            !timed_out)
            break;
        sc_intake_dispatch_t *dispatch = &out[given++];
        dispatch->worker = i;
        sc_queue_take(self->queue, config->batch_size, worker->buffer,
                      &dispatch->chunk);
        worker->busy = true;
        worker->abandoned = false;
        worker->chunk_id = dispatch->chunk.id;
    }
    if (sc_queue_pending(self->queue) == 0)
        self->pending_since_ns = 0;
    return given;
}

int sc_intake_done(sc_intake_t *self, size_t worker, uint64_t chunk_id,
                   size_t written, size_t duplicates, size_t dead_lettered,
                   int64_t now_ns, sc_queue_batch_fn *fn, void *arg)
{
    assert(self && worker < self->config.workers);
    self->now_ns = now_ns;
    s_worker_t *slot = &self->workers[worker];
    if (!slot->busy || slot->chunk_id != chunk_id)
        return -1;
    slot->busy = false;
    slot->abandoned = false;
    if (sc_queue_commit(self->queue, chunk_id, written, duplicates,
                        dead_lettered, fn, arg) != 0)
        return -1;
    self->committed_window += written + duplicates + dead_lettered;
    return 0;
}

void sc_intake_drain(sc_intake_t *self, int64_t now_ns)
{
    assert(self);
    self->now_ns = now_ns;
    if (self->draining)
        return;
    self->draining = true;
    self->drain_deadline_ns = now_ns + self->config.drain_timeout_ns;
}

void sc_intake_hurry(sc_intake_t *self, int64_t now_ns)
{
    assert(self);
    self->now_ns = now_ns;
    if (self->draining && self->drain_deadline_ns > now_ns)
        self->drain_deadline_ns = now_ns;
}

size_t sc_intake_abandon(sc_intake_t *self, sc_chunk_t *chunk)
{
    assert(self && chunk);
    size_t count =
        sc_queue_take(self->queue, sc_queue_capacity(self->queue), NULL, chunk);
    if (count > 0)
        return count;
    self->pending_since_ns = 0;
    while (self->abandon_cursor < self->config.workers) {
        s_worker_t *worker = &self->workers[self->abandon_cursor++];
        if (worker->busy && !worker->abandoned &&
            sc_queue_chunk(self->queue, worker->chunk_id, chunk) == 0) {
            worker->abandoned = true;
            return chunk->count;
        }
    }
    self->abandon_cursor = 0;
    return 0;
}

void sc_intake_dead_lettered(sc_intake_t *self, const sc_chunk_t *chunk,
                             sc_queue_batch_fn *fn, void *arg)
{
    assert(self && chunk);
    if (sc_queue_commit(self->queue, chunk->id, 0, 0, chunk->count, fn, arg) ==
        0)
        self->committed_window += chunk->count;
}

void sc_intake_discard(sc_intake_t *self, sc_queue_batch_fn *fn, void *arg)
{
    assert(self);
    sc_chunk_t chunk;
    while (sc_intake_abandon(self, &chunk) > 0)
        sc_queue_commit(self->queue, chunk.id, 0, 0, chunk.count, fn, arg);
}

static void s_update_drain_rate(sc_intake_t *self, int64_t now_ns,
                                sc_intake_update_t *out)
{
    int64_t elapsed = now_ns - self->window_start_ns;
    if (elapsed < SC_INTAKE_DRAIN_RATE_WINDOW_MS * CMN_NS_PER_MS)
        return;
    double window_rate = (double)self->committed_window *
                         (double)CMN_NS_PER_SEC / (double)elapsed;
    self->drain_rate = S_DRAIN_RATE_SMOOTHING * self->drain_rate +
                       (1.0 - S_DRAIN_RATE_SMOOTHING) * window_rate;
    self->committed_window = 0;
    self->window_start_ns = now_ns;
    out->drain_rate_changed = true;
}

void sc_intake_update(sc_intake_t *self, int64_t now_ns,
                      sc_intake_update_t *out)
{
    assert(self && out);
    *out = (sc_intake_update_t){0};
    self->now_ns = now_ns;
    uint64_t depth = sc_queue_depth(self->queue);
    out->level_changed =
        sc_watermark_update(self->watermark, depth, now_ns, &out->previous);
    out->level = sc_watermark_level(self->watermark);
    out->depth = depth;
    s_update_drain_rate(self, now_ns, out);
    out->drain_rate = self->drain_rate;
    if (self->draining && !self->drained) {
        if (depth == 0)
            out->drain = SC_INTAKE_DRAIN_FLUSHED;
        else if (now_ns >= self->drain_deadline_ns)
            out->drain = SC_INTAKE_DRAIN_EXPIRED;
        self->drained = out->drain != SC_INTAKE_DRAIN_NONE;
    }
}

static int64_t s_earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t sc_intake_deadline(sc_intake_t *self)
{
    assert(self);
    int64_t deadline =
        self->window_start_ns + SC_INTAKE_DRAIN_RATE_WINDOW_MS * CMN_NS_PER_MS;
    bool idle_worker = false;
    for (size_t i = 0; i < self->config.workers; i++)
        idle_worker |= !self->workers[i].busy;
    if (idle_worker && sc_queue_pending(self->queue) > 0)
        deadline = s_earliest(deadline, self->pending_since_ns +
                                            self->config.batch_timeout_ns);
    if (sc_watermark_level(self->watermark) != PROTO_LEVEL_OK) {
        int64_t dwell_end = sc_watermark_changed_ns(self->watermark) +
                            self->config.watermark.dwell_ns;
        if (dwell_end > self->now_ns)
            deadline = s_earliest(deadline, dwell_end);
    }
    if (self->draining && !self->drained)
        deadline = s_earliest(deadline, self->drain_deadline_ns);
    return deadline;
}

size_t sc_intake_depth(sc_intake_t *self)
{
    assert(self);
    return sc_queue_depth(self->queue);
}

size_t sc_intake_capacity(sc_intake_t *self)
{
    assert(self);
    return sc_queue_capacity(self->queue);
}

proto_level_t sc_intake_level(sc_intake_t *self)
{
    assert(self);
    return sc_watermark_level(self->watermark);
}

double sc_intake_drain_rate(sc_intake_t *self)
{
    assert(self);
    return self->drain_rate;
}

bool sc_intake_draining(sc_intake_t *self)
{
    assert(self);
    return self->draining;
}
