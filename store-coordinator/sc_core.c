/* sc_core: ingest, queue, watermark, dispatch to workers, acks (see sc_core.h).
 *
 * Invariant: a batch's reply envelope lives in the queue (as its tag) from
 * push until the batch's last record is committed; it is then consumed by
 * the ack. Workers only read the records of the one chunk they hold; the
 * queue memory is freed after every worker has stopped. */
#include "sc_core.h"

#include "sc_breaker.h"
#include "cmn_log.h"
#include "cmn_router.h"
#include "sc_dlq.h"
#include "proto_ingest.h"
#include "sc_publisher.h"
#include "sc_queue.h"
#include "sc_watermark.h"
#include "sc_worker.h"

#define SC_CORE_TICK_MS 10
/* Messages read per wake-up before dispatching and re-polling. */
#define SC_INGEST_BURST_MAX 64
#define SC_DRAIN_RATE_WINDOW_MS 1000
#define SC_DRAIN_RATE_SMOOTHING 0.5
#define SC_RETRY_AFTER_MIN_MS 5
#define SC_RETRY_AFTER_MAX_MS 5000
#define SC_RETRY_AFTER_IDLE_MS 100
#define SC_RETRY_AFTER_DRAINING_MS 1000
#define SC_MALFORMED_LOG_INTERVAL_MS 10000
#define SC_MS_PER_SEC 1000.0
#define SC_DLQ_REASON_DRAIN "drain timeout: not written before shutdown"
/* Issue 12: what the ingest ROUTER keeps of a message (docs/security.md,
 * "Limits"). The payload cap equals the transport's ZMQ_MAXMSGSIZE, so the
 * decoder still answers for a batch over PROTO_MESSAGE_BYTES_MAX. */
static const cmn_router_limits_t s_ingest_limits = {
    .envelope_frames_max = PROTO_ENVELOPE_FRAMES_MAX,
    .envelope_bytes_max = PROTO_ENVELOPE_BYTES_MAX,
    .payload_bytes_max = 2 * PROTO_MESSAGE_BYTES_MAX,
};

typedef struct _s_core_t s_core_t;

typedef struct {
    s_core_t *core;        /* back pointer for the reader callback */
    sc_worker_args_t args; /* what the actor reads; lives here */
    zactor_t *actor;
    bool busy;         /* holds a chunk */
    uint64_t chunk_id; /* the chunk it holds */
    /* The worker's copy of its chunk (batch_size records): the core writes
     * it only while the worker is idle, the worker reads it while busy. */
    proto_record_t *buffer;
} s_worker_slot_t;

struct _s_core_t {
    const sc_settings_t *settings;
    sc_state_t *state;
    sc_stats_t *stats;
    cmn_clock_t *clock;
    zsock_t *pipe;   /* to main */
    zsock_t *router; /* ingest */
    zloop_t *loop;
    sc_queue_t *queue;
    sc_watermark_t *watermark;
    proto_record_t *scratch;  /* one decoded batch */
    msgpack_sbuffer reply;    /* encoded reply, reused */
    s_worker_slot_t *workers; /* settings->workers slots */
    sc_publisher_args_t publisher_args;
    zactor_t *publisher;
    cmn_webhook_t *webhook;    /* borrowed, for the publisher */
    sc_dlq_t *dlq;             /* for the drain timeout */
    int64_t pending_since_ns;  /* oldest waiting record's arrival, or 0 */
    uint64_t committed_window; /* records committed in this window */
    int64_t window_start_ns;   /* drain-rate window start */
    double drain_rate;         /* records/s, smoothed */
    bool draining;             /* DRAIN received */
    bool drained;              /* DRAINED sent */
    int64_t drain_deadline_ns;
    bool discarding;               /* tearing down: drop envelopes */
    int64_t malformed_logged_ns;   /* last malformed log line */
    uint64_t malformed_suppressed; /* not logged since */
};

static void s_send_reply(s_core_t *self, zmsg_t **envelope_p,
                         const proto_reply_t *reply)
{
    msgpack_sbuffer_clear(&self->reply);
    if (proto_reply_encode(reply, &self->reply) != 0) {
        cmn_log_error("core", "reply_encode_failed", "batch_seq=%llu",
                      (unsigned long long)reply->batch_seq);
        zmsg_destroy(envelope_p);
        return;
    }
    zmsg_addmem(*envelope_p, self->reply.data, self->reply.size);
    /* ROUTER (mandatory): a slow or gone peer's reply is dropped and
     * counted, never blocks (issue 12). */
    if (cmn_router_send(self->router, envelope_p) != 0)
        cmn_series_inc(self->stats->replies_dropped[errno == EAGAIN ? 0 : 1]);
}

static void s_nack(s_core_t *self, zmsg_t **envelope_p, uint64_t batch_seq,
                   proto_nack_reason_t reason, uint32_t retry_after_ms,
                   const char *detail)
{
    proto_reply_t reply = {
        .type = PROTO_REPLY_NACK,
        .batch_seq = batch_seq,
        .reason = reason,
        .retry_after_ms = retry_after_ms,
    };
    snprintf(reply.detail, sizeof reply.detail, "%s", detail ? detail : "");
    cmn_series_inc(self->stats->nacks[reason]);
    s_send_reply(self, envelope_p, &reply);
}

/* Queue callback: a batch's last record is committed. */
static void s_on_batch_done(const sc_batch_result_t *result, void *arg)
{
    s_core_t *self = arg;
    zmsg_t *envelope = result->tag;
    if (self->discarding) {
        zmsg_destroy(&envelope);
        return;
    }
    proto_reply_t reply = {
        .type = PROTO_REPLY_ACK,
        .batch_seq = result->batch_seq,
        .written = (uint32_t)result->written,
        .duplicates = (uint32_t)result->duplicates,
        .dead_lettered = (uint32_t)result->dead_lettered,
    };
    cmn_series_inc(self->stats->acks);
    s_send_reply(self, &envelope, &reply);
}

/* Publishes depth and re-evaluates the level after any queue change or
 * tick; a change goes to the publisher. */
static void s_level_update(s_core_t *self)
{
    uint64_t depth = sc_queue_depth(self->queue);
    atomic_store(&self->state->depth, depth);
    cmn_series_set(self->stats->queue_depth, (double)depth);
    proto_level_t previous;
    if (!sc_watermark_update(self->watermark, depth,
                             cmn_clock_mono_ns(self->clock), &previous))
        return;
    proto_level_t level = sc_watermark_level(self->watermark);
    atomic_store(&self->state->level, (int)level);
    cmn_series_set(self->stats->level, level);
    for (int i = 0; i < 3; i++)
        cmn_series_set(self->stats->backpressure[i], i == (int)level);
    char level_text[4], previous_text[4], depth_text[24];
    snprintf(level_text, sizeof level_text, "%d", (int)level);
    snprintf(previous_text, sizeof previous_text, "%d", (int)previous);
    snprintf(depth_text, sizeof depth_text, "%llu", (unsigned long long)depth);
    zstr_sendx(self->publisher, "LEVEL", level_text, previous_text, depth_text,
               NULL);
    cmn_log_info("core", "level_changed", "from=%s to=%s depth=%llu",
                 proto_level_name(previous), proto_level_name(level),
                 (unsigned long long)depth);
}

/* Hands chunks to idle workers. `eager`: a partial chunk goes at once. */
static void s_dispatch(s_core_t *self, bool eager)
{
    const sc_settings_t *settings = self->settings;
    int64_t now = cmn_clock_mono_ns(self->clock);
    for (size_t i = 0; i < settings->workers; i++) {
        s_worker_slot_t *slot = &self->workers[i];
        if (slot->busy)
            continue;
        size_t pending = sc_queue_pending(self->queue);
        if (pending == 0)
            break;
        bool timed_out = now - self->pending_since_ns >=
                         settings->batch_timeout_ms * CMN_NS_PER_MS;
        if (pending < settings->batch_size && !eager && !self->draining &&
            !timed_out)
            break;
        sc_chunk_t chunk;
        sc_queue_take(self->queue, settings->batch_size, slot->buffer, &chunk);
        zsock_send(slot->actor, "s8p8", "CHUNK", chunk.id,
                   (void *)chunk.records, (uint64_t)chunk.count);
        slot->busy = true;
        slot->chunk_id = chunk.id;
    }
    if (sc_queue_pending(self->queue) == 0)
        self->pending_since_ns = 0;
}

static void s_malformed(s_core_t *self, zmsg_t **envelope_p, uint64_t batch_seq,
                        const char *detail)
{
    cmn_series_inc(self->stats->malformed);
    int64_t now = cmn_clock_mono_ns(self->clock);
    if (self->malformed_logged_ns == 0 ||
        now - self->malformed_logged_ns >=
            SC_MALFORMED_LOG_INTERVAL_MS * CMN_NS_PER_MS) {
        cmn_log_warning("core", "malformed_message",
                        "batch_seq=%llu detail=\"%s\" suppressed=%llu",
                        (unsigned long long)batch_seq, detail,
                        (unsigned long long)self->malformed_suppressed);
        self->malformed_logged_ns = now;
        self->malformed_suppressed = 0;
    } else
        self->malformed_suppressed++;
    s_nack(self, envelope_p, batch_seq, PROTO_NACK_MALFORMED, 0, detail);
}

/* When resending a batch of `count` records may succeed. */
static uint32_t s_retry_after_full(s_core_t *self, size_t count)
{
    if (sc_state_breaker(self->state, self->settings->workers) ==
        SC_BREAKER_OPEN)
        return (uint32_t)self->settings->breaker_timeout_ms;
    if (self->drain_rate < 1.0)
        return SC_RETRY_AFTER_IDLE_MS;
    size_t free_slots = sc_queue_free(self->queue);
    size_t needed = count > free_slots ? count - free_slots : 1;
    double ms = (double)needed * SC_MS_PER_SEC / self->drain_rate;
    if (ms < SC_RETRY_AFTER_MIN_MS)
        return SC_RETRY_AFTER_MIN_MS;
    if (ms > SC_RETRY_AFTER_MAX_MS)
        return SC_RETRY_AFTER_MAX_MS;
    return (uint32_t)ms;
}

/* One ingest message: envelope frames, then the batch. Every path answers
 * or enqueues; nothing here blocks. */
static void s_handle_message(s_core_t *self, zmsg_t *message)
{
    cmn_series_inc(self->stats->batches_received);
    zframe_t *payload = zmsg_last(message);
    zmsg_remove(message, payload);
    zmsg_t *envelope = message;
    if (zmsg_size(envelope) == 0 || !payload) {
        /* No routing id: cannot happen on a ROUTER; nothing to answer. */
        zframe_destroy(&payload);
        zmsg_destroy(&envelope);
        return;
    }
    proto_batch_t batch = {0};
    proto_error_t error = {{0}};
    int decoded =
        proto_batch_decode(zframe_data(payload), zframe_size(payload), &batch,
                           self->scratch, PROTO_BATCH_RECORDS_MAX, &error);
    zframe_destroy(&payload);
    if (decoded != 0) {
        s_malformed(self, &envelope, batch.batch_seq, error.text);
        return;
    }
    if (self->draining) {
        cmn_series_add(self->stats->records_rejected, batch.count);
        s_nack(self, &envelope, batch.batch_seq, PROTO_NACK_DRAINING,
               SC_RETRY_AFTER_DRAINING_MS, "coordinator is shutting down");
        return;
    }
    if (batch.count == 0) {
        proto_reply_t reply = {.type = PROTO_REPLY_ACK,
                               .batch_seq = batch.batch_seq};
        cmn_series_inc(self->stats->acks);
        s_send_reply(self, &envelope, &reply);
        return;
    }
    if (batch.count > sc_queue_capacity(self->queue)) {
        char detail[PROTO_REASON_MAX + 1];
        snprintf(detail, sizeof detail,
                 "batch of %zu records exceeds the queue capacity %zu",
                 batch.count, sc_queue_capacity(self->queue));
        s_malformed(self, &envelope, batch.batch_seq, detail);
        return;
    }
    bool was_idle = sc_queue_pending(self->queue) == 0;
    if (sc_queue_push(self->queue, self->scratch, batch.count, envelope,
                      batch.batch_seq) == SC_QUEUE_FULL) {
        cmn_series_add(self->stats->records_rejected, batch.count);
        s_nack(self, &envelope, batch.batch_seq, PROTO_NACK_FULL,
               s_retry_after_full(self, batch.count), "queue full");
        return;
    }
    cmn_series_add(self->stats->records_received, batch.count);
    if (was_idle)
        self->pending_since_ns = cmn_clock_mono_ns(self->clock);
    s_level_update(self);
}

/* Issue 12: a message over the envelope limits (cmn_router_recv kept only
 * its routing id, a REQ delimiter and the payload) is counted and nacked
 * malformed; it is never queued and its envelope never echoed. */
static void s_refuse(s_core_t *self, zmsg_t *message, int verdict)
{
    cmn_series_inc(self->stats->batches_received);
    cmn_series_inc(self->stats->ingest_refused[verdict]);
    zframe_t *payload = NULL;
    if (verdict != CMN_ROUTER_PAYLOAD_BYTES) {
        payload = zmsg_last(message);
        zmsg_remove(message, payload);
    }
    proto_batch_t batch = {0}; /* only for its batch_seq */
    proto_error_t error = {{0}};
    if (payload)
        proto_batch_decode(zframe_data(payload), zframe_size(payload), &batch,
                           self->scratch, PROTO_BATCH_RECORDS_MAX, &error);
    zframe_destroy(&payload);
    char detail[PROTO_REASON_MAX + 1];
    snprintf(detail, sizeof detail,
             "message refused: %s over the limit (%d frames, %d bytes)",
             cmn_router_verdict_name((cmn_router_verdict_t)verdict),
             PROTO_ENVELOPE_FRAMES_MAX, PROTO_ENVELOPE_BYTES_MAX);
    s_malformed(self, &message, batch.batch_seq, detail);
}

static int s_on_ingest(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_core_t *self = arg;
    for (int i = 0; i < SC_INGEST_BURST_MAX; i++) {
        if (!(zsock_events(reader) & ZMQ_POLLIN))
            break;
        zmsg_t *message = NULL;
        /* Issue 12: bounded envelope, read frame by frame. */
        int verdict = cmn_router_recv(reader, &s_ingest_limits, &message);
        if (verdict < 0)
            break;
        if (verdict != CMN_ROUTER_OK) {
            s_refuse(self, message, verdict);
            continue;
        }
        s_handle_message(self, message);
    }
    s_dispatch(self, self->settings->batch_eager);
    return 0;
}

static int s_on_worker(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_worker_slot_t *slot = arg;
    s_core_t *self = slot->core;
    char *command = NULL;
    uint64_t id = 0, written = 0, duplicates = 0, dead_lettered = 0;
    if (zsock_recv(reader, "s8888", &command, &id, &written, &duplicates,
                   &dead_lettered) != 0)
        return 0;
    if (command && streq(command, "DONE") && slot->busy &&
        slot->chunk_id == id) {
        slot->busy = false;
        /* -1: already dead-lettered at the drain timeout; nothing to do. */
        if (sc_queue_commit(self->queue, id, (size_t)written,
                            (size_t)duplicates, (size_t)dead_lettered,
                            s_on_batch_done, self) == 0)
            self->committed_window += written + duplicates + dead_lettered;
        s_level_update(self);
        s_dispatch(self, self->settings->batch_eager);
    }
    zstr_free(&command);
    return 0;
}

static void s_update_drain_rate(s_core_t *self, int64_t now)
{
    int64_t elapsed = now - self->window_start_ns;
    if (elapsed < SC_DRAIN_RATE_WINDOW_MS * CMN_NS_PER_MS)
        return;
    double window_rate = (double)self->committed_window *
                         (double)CMN_NS_PER_SEC / (double)elapsed;
    self->drain_rate = SC_DRAIN_RATE_SMOOTHING * self->drain_rate +
                       (1.0 - SC_DRAIN_RATE_SMOOTHING) * window_rate;
    atomic_store(&self->state->drain_rate, self->drain_rate);
    cmn_series_set(self->stats->drain_rate, self->drain_rate);
    self->committed_window = 0;
    self->window_start_ns = now;
}

/* Dead-letters a chunk nobody will write in time, then acks it. Returns 0,
 * or -1 when the dead-letter file failed (the batches then stay unacked:
 * their producers resend elsewhere). */
static int s_dead_letter_chunk(s_core_t *self, const sc_chunk_t *chunk)
{
    for (size_t i = 0; i < chunk->count; i++)
        if (sc_dlq_append(self->dlq, &chunk->records[i], SC_DLQ_REASON_DRAIN) !=
            0)
            return -1;
    if (sc_dlq_sync(self->dlq) != 0)
        return -1;
    cmn_series_add(self->stats->records_dead_lettered, chunk->count);
    sc_queue_commit(self->queue, chunk->id, 0, 0, chunk->count, s_on_batch_done,
                    self);
    return 0;
}

static void s_drain_finish(s_core_t *self, const char *outcome)
{
    s_level_update(self);
    zstr_sendx(self->publisher, "FINAL", "shutdown", NULL);
    zsock_wait(self->publisher);
    cmn_log_info("core", "drained", "outcome=%s depth=%zu", outcome,
                 sc_queue_depth(self->queue));
    zstr_send(self->pipe, "DRAINED");
    self->drained = true;
}

static void s_drain_check(s_core_t *self, int64_t now)
{
    if (!self->draining || self->drained)
        return;
    if (sc_queue_depth(self->queue) == 0) {
        s_drain_finish(self, "flushed");
        return;
    }
    if (now < self->drain_deadline_ns)
        return;
    size_t before = sc_queue_depth(self->queue);
    cmn_log_warning("core", "drain_timeout",
                    "depth=%zu action=dead_letter path=\"%s\"", before,
                    sc_dlq_path(self->dlq));
    int failed = 0;
    sc_chunk_t chunk;
    while (sc_queue_take(self->queue, sc_queue_capacity(self->queue), NULL,
                         &chunk) > 0)
        failed |= s_dead_letter_chunk(self, &chunk);
    for (size_t i = 0; i < self->settings->workers; i++) {
        s_worker_slot_t *slot = &self->workers[i];
        if (slot->busy &&
            sc_queue_chunk(self->queue, slot->chunk_id, &chunk) == 0)
            failed |= s_dead_letter_chunk(self, &chunk);
    }
    if (failed)
        cmn_log_error("core", "drain_dead_letter_failed", "unacked=%zu",
                      sc_queue_depth(self->queue));
    s_drain_finish(self, failed ? "unacked_left" : "dead_lettered");
}

static int s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_core_t *self = arg;
    int64_t now = cmn_clock_mono_ns(self->clock);
    s_level_update(self);
    s_dispatch(self, false);
    s_update_drain_rate(self, now);
    s_drain_check(self, now);
    return 0;
}

static int s_on_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_core_t *self = arg;
    char *command = zstr_recv(reader);
    if (!command)
        return -1;
    int result = 0;
    if (streq(command, "$TERM"))
        result = -1;
    else if (streq(command, "DRAIN") && !self->draining) {
        self->draining = true;
        atomic_store(&self->state->draining, true);
        self->drain_deadline_ns =
            cmn_clock_mono_ns(self->clock) +
            self->settings->drain_timeout_ms * CMN_NS_PER_MS;
        cmn_log_info("core", "draining", "depth=%zu timeout_ms=%lld",
                     sc_queue_depth(self->queue),
                     (long long)self->settings->drain_timeout_ms);
        s_dispatch(self, true);
        s_drain_check(self, cmn_clock_mono_ns(self->clock));
    } else if (streq(command, "HURRY") && self->draining) {
        /* Drain now: the deadline is here. */
        int64_t now = cmn_clock_mono_ns(self->clock);
        if (self->drain_deadline_ns > now)
            self->drain_deadline_ns = now;
        s_drain_check(self, now);
    }
    zstr_free(&command);
    return result;
}

/* Releases every envelope still in the queue (teardown without a drain). */
static void s_discard_all(s_core_t *self)
{
    self->discarding = true;
    sc_chunk_t chunk;
    while (sc_queue_take(self->queue, sc_queue_capacity(self->queue), NULL,
                         &chunk) > 0)
        sc_queue_commit(self->queue, chunk.id, 0, 0, chunk.count,
                        s_on_batch_done, self);
    for (size_t i = 0; i < self->settings->workers; i++) {
        s_worker_slot_t *slot = &self->workers[i];
        if (slot->busy &&
            sc_queue_chunk(self->queue, slot->chunk_id, &chunk) == 0)
            sc_queue_commit(self->queue, chunk.id, 0, 0, chunk.count,
                            s_on_batch_done, self);
    }
}

static int s_core_start(s_core_t *self, zsock_t *xpub)
{
    const sc_settings_t *settings = self->settings;
    int64_t now = cmn_clock_mono_ns(self->clock);
    self->queue = sc_queue_new(settings->capacity);
    self->watermark = sc_watermark_new(&settings->watermark, now);
    self->scratch = calloc(PROTO_BATCH_RECORDS_MAX, sizeof *self->scratch);
    self->workers = calloc(settings->workers, sizeof *self->workers);
    self->dlq = sc_dlq_new(settings->dlq_path);
    self->loop = zloop_new();
    self->window_start_ns = now;
    if (!self->queue || !self->watermark || !self->scratch || !self->workers ||
        !self->dlq || !self->loop) {
        zsock_destroy(&xpub);
        return -1;
    }
    self->publisher_args = (sc_publisher_args_t){
        .settings = settings,
        .state = self->state,
        .stats = self->stats,
        .clock = self->clock,
        .xpub = xpub,
        .webhook = self->webhook,
    };
    self->publisher = zactor_new(sc_publisher_actor, &self->publisher_args);
    if (!self->publisher)
        return -1;
    for (size_t i = 0; i < settings->workers; i++) {
        s_worker_slot_t *slot = &self->workers[i];
        slot->core = self;
        slot->buffer = calloc(settings->batch_size, sizeof *slot->buffer);
        if (!slot->buffer)
            return -1;
        slot->args = (sc_worker_args_t){
            .settings = settings,
            .state = self->state,
            .stats = self->stats,
            .clock = self->clock,
            .index = i,
        };
        slot->actor = zactor_new(sc_worker_actor, &slot->args);
        if (!slot->actor)
            return -1;
        zloop_reader(self->loop, zactor_sock(slot->actor), s_on_worker, slot);
    }
    zloop_reader(self->loop, self->pipe, s_on_pipe, self);
    zloop_reader(self->loop, self->router, s_on_ingest, self);
    zloop_timer(self->loop, SC_CORE_TICK_MS, 0, s_on_tick, self);
    return 0;
}

void sc_core_actor(zsock_t *pipe, void *args)
{
    const sc_core_args_t *given = args;
    s_core_t self = {
        .settings = given->settings,
        .state = given->state,
        .stats = given->stats,
        .clock = given->clock,
        .pipe = pipe,
        .router = given->router,
        .webhook = given->webhook,
    };
    msgpack_sbuffer_init(&self.reply);
    zsock_signal(pipe, 0);
    if (s_core_start(&self, given->xpub) == 0) {
        zstr_send(pipe, "READY");
        cmn_log_info(
            "core", "started",
            "capacity=%zu low=%llu high=%llu dead_band=%llu "
            "dwell_ms=%lld workers=%zu",
            self.settings->capacity,
            (unsigned long long)self.settings->watermark.low,
            (unsigned long long)self.settings->watermark.high,
            (unsigned long long)self.settings->watermark.dead_band,
            (long long)(self.settings->watermark.dwell_ns / CMN_NS_PER_MS),
            self.settings->workers);
        zloop_start(self.loop);
    } else {
        cmn_log_error("core", "start_failed", "%s", "out of memory");
        zstr_send(pipe, "FAILED");
        /* Wait for $TERM like every actor. */
        char *command = NULL;
        while ((command = zstr_recv(pipe)) && !streq(command, "$TERM"))
            zstr_free(&command);
        zstr_free(&command);
    }
    /* Workers first: they read queue memory until they stop. */
    if (self.workers)
        for (size_t i = 0; i < self.settings->workers; i++)
            zactor_destroy(&self.workers[i].actor);
    zactor_destroy(&self.publisher);
    if (self.queue && self.workers)
        s_discard_all(&self);
    if (self.workers)
        for (size_t i = 0; i < self.settings->workers; i++)
            free(self.workers[i].buffer);
    zloop_destroy(&self.loop);
    zsock_destroy(&self.router);
    sc_dlq_destroy(&self.dlq);
    free(self.workers);
    free(self.scratch);
    sc_watermark_destroy(&self.watermark);
    sc_queue_destroy(&self.queue);
    msgpack_sbuffer_destroy(&self.reply);
}
