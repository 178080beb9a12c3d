/* sc_core: the shell around sc_intake: the ingest ROUTER, the workers' and
 * the publisher's pipes, the dead-letter file for the drain deadline and
 * one timer (see sc_core.h). The intake engine decides; this file decodes,
 * answers, sends chunks and publishes what the engine reports.
 *
 * Invariant: a batch's reply envelope lives in the engine's queue (as its
 * tag) from admission until the batch's last record is committed; it is
 * then consumed by the ack. Workers only read the records of the one chunk
 * they hold (the engine's buffer for that worker); the engine is freed
 * after every worker has stopped. */
#include "sc_core.h"

_Static_assert(SC_PRIORITY_CLASSES == MDBP_PRIORITY_COUNT,
               "sc_state holds one entry per priority class");

#include "cmn_log.h"
#include "cmn_router.h"
#include <mdbp/ingest.h>
#include "sc_actor.h"
#include "sc_dlq.h"
#include "sc_hint.h"
#include "sc_intake.h"
#include "sc_publisher.h"
#include "sc_worker.h"

/* Messages read per wake-up before dispatching and re-polling. */
#define SC_INGEST_BURST_MAX 64
#define SC_DLQ_REASON_DRAIN "drain timeout: not written before shutdown"
#define SC_MS_PER_SEC 1000.0
/* Issue 12: what the ingest ROUTER keeps of a message (docs/security.md,
 * "Limits"). The payload cap equals the transport's ZMQ_MAXMSGSIZE, so the
 * decoder still answers for a batch over MDBP_MESSAGE_BYTES_MAX. */
static const cmn_router_limits_t s_ingest_limits = {
    .envelope_frames_max = MDBP_ENVELOPE_FRAMES_MAX,
    .envelope_bytes_max = MDBP_ENVELOPE_BYTES_MAX,
    .payload_bytes_max = 2 * MDBP_MESSAGE_BYTES_MAX,
};

typedef struct _s_self_t s_self_t;

typedef struct {
    s_self_t *core;        /* back pointer for the reader callback */
    size_t index;          /* worker number */
    sc_worker_args_t args; /* what the actor reads; lives here */
    zactor_t *actor;
} s_worker_slot_t;

struct _s_self_t {
    const sc_settings_t *settings;
    sc_state_t *state;
    sc_stats_t *stats;
    cmn_clock_t *clock;
    zsock_t *pipe;       /* to main */
    zsock_t *router;     /* ingest, owned */
    zloop_t *loop;       /* pipe, router, worker pipes and the one timer */
    int timer_id;        /* armed from the engine's deadline, or -1 */
    sc_intake_t *intake; /* the decisions, the queue */
    sc_intake_dispatch_t *dispatch; /* settings->workers entries */
    mdbp_record_t *scratch;        /* one decoded batch */
    mdbp_buffer_t reply;           /* encoded reply, reused */
    s_worker_slot_t *workers;       /* settings->workers slots */
    sc_publisher_args_t publisher_args;
    zactor_t *publisher;
    cmn_webhook_t *webhook; /* borrowed, for the publisher */
    sc_dlq_t *dlq;          /* for the drain deadline */
    bool discarding;        /* tearing down: drop envelopes */
    sc_snapshot_t sent;     /* the last snapshot sent to the publisher */
};

static void s_send_reply(s_self_t *self, zmsg_t **envelope_p,
                         const mdbp_reply_t *reply)
{
    mdbp_buffer_reset(&self->reply);
    if (mdbp_reply_encode(reply, &self->reply) != 0) {
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

/* Answers a batch the engine did not queue. */
static void s_answer(s_self_t *self, zmsg_t **envelope_p, uint64_t batch_seq,
                     size_t count, const sc_intake_admission_t *admission)
{
    mdbp_reply_t reply = {
        .batch_seq = batch_seq,
        .session = admission->session,
        .has_credit = true,
        .credit = admission->credit,
    };
    if (admission->verdict == SC_INTAKE_ACK) {
        reply.type = MDBP_REPLY_ACK;
        cmn_series_inc(self->stats->acks);
    } else {
        reply.type = MDBP_REPLY_NACK;
        reply.reason = admission->reason;
        reply.code = admission->code;
        reply.retry_after_ms = admission->retry_after_ms;
        snprintf(reply.detail, sizeof reply.detail, "%s", admission->detail);
        snprintf(reply.field, sizeof reply.field, "%s", admission->field);
        reply.has_record_index = admission->has_record_index;
        reply.record_index = admission->record_index;
        cmn_series_inc(self->stats->nacks[admission->reason]);
        if (admission->reason == MDBP_NACK_MALFORMED) {
            cmn_series_inc(self->stats->malformed);
            if (admission->log)
                cmn_log_warning("core", "malformed_message",
                                "batch_seq=%llu code=%s detail=\"%s\" "
                                "suppressed=%llu",
                                (unsigned long long)batch_seq,
                                mdbp_nack_code_name(admission->code)
                                    ? mdbp_nack_code_name(admission->code)
                                    : "none",
                                admission->detail,
                                (unsigned long long)admission->suppressed);
        } else
            cmn_series_add(self->stats->records_rejected, count);
    }
    s_send_reply(self, envelope_p, &reply);
}

/* Engine callback: a batch's last record is committed (or dead-lettered). */
static void s_on_ack(const sc_intake_ack_t *ack, void *arg)
{
    s_self_t *self = arg;
    zmsg_t *envelope = ack->tag;
    if (self->discarding) {
        zmsg_destroy(&envelope);
        return;
    }
    mdbp_reply_t reply = {
        .type = MDBP_REPLY_ACK,
        .batch_seq = ack->batch_seq,
        .written = (uint32_t)ack->written,
        .duplicates = (uint32_t)ack->duplicates,
        .dead_lettered = (uint32_t)ack->dead_lettered,
        .session = ack->session,
        .has_credit = true,
        .credit = ack->credit,
    };
    cmn_series_inc(self->stats->acks);
    s_send_reply(self, &envelope, &reply);
}

/* True when `a` and `b` say something different to a subscriber. */
static bool s_snapshot_differs(const sc_snapshot_t *a, const sc_snapshot_t *b)
{
    return a->changed || a->level != b->level || a->depth != b->depth ||
           a->scale_hint != b->scale_hint || a->pressure != b->pressure ||
           a->oldest_age_ms != b->oldest_age_ms ||
           a->commit_latency_ms != b->commit_latency_ms ||
           a->sink_state != b->sink_state || a->drain_rate != b->drain_rate ||
           a->credit_initial != b->credit_initial ||
           a->credit_initial_critical != b->credit_initial_critical ||
           strcmp(a->reason, b->reason) != 0;
}

/* Issue 15: when the level last changed (monotonic, and as wall-clock
 * time for people) and the word of its reason, for /status. */
static void s_publish_since(s_self_t *self, const sc_snapshot_t *snapshot)
{
    int64_t mono = cmn_clock_mono_ns(self->clock);
    int64_t wall =
        cmn_clock_wall_ns(self->clock) - (mono - snapshot->changed_ns);
    atomic_store(&self->state->level_changed_ns, snapshot->changed_ns);
    atomic_store(&self->state->level_changed_ms, wall / CMN_NS_PER_MS);
    atomic_store(&self->state->reason,
                 (int)sc_hint_reason_of(snapshot->reason));
}

/* Publishes one update: the atomics and gauges HTTP reads, the snapshot to
 * the publisher (when it changed), the level change to the log. */
static void s_publish(s_self_t *self, const sc_intake_update_t *update)
{
    const sc_snapshot_t *snapshot = &update->snapshot;
    sc_state_t *state = self->state;
    atomic_store(&state->depth, snapshot->depth);
    atomic_store(&state->oldest_age_ms, snapshot->oldest_age_ms);
    atomic_store(&state->commit_latency_ms, snapshot->commit_latency_ms);
    atomic_store(&state->sink_state, (int)snapshot->sink_state);
    atomic_store(&state->pressure, snapshot->pressure);
    atomic_store(&state->producers, snapshot->producers);
    atomic_store(&state->credit_initial, snapshot->credit_initial);
    cmn_series_set(self->stats->queue_depth, (double)snapshot->depth);
    cmn_series_set(self->stats->oldest_age,
                   (double)snapshot->oldest_age_ms / SC_MS_PER_SEC);
    cmn_series_set(self->stats->commit_latency,
                   snapshot->commit_latency_ms / SC_MS_PER_SEC);
    /* The gauge counts from 0 (up); the wire enum from 1 (0 = absent). */
    cmn_series_set(self->stats->sink_state,
                   (double)(snapshot->sink_state - MDBP_SINK_STATE_UP));
    cmn_series_set(self->stats->pressure, snapshot->pressure);
    cmn_series_set(self->stats->producers, (double)snapshot->producers);
    for (int priority = 0; priority < MDBP_PRIORITY_COUNT; priority++) {
        atomic_store(&state->class_producers[priority],
                     snapshot->class_producers[priority]);
        atomic_store(&state->class_factor[priority],
                     snapshot->class_factor[priority]);
        cmn_series_set(self->stats->class_producers[priority],
                       (double)snapshot->class_producers[priority]);
        cmn_series_set(self->stats->class_factor[priority],
                       snapshot->class_factor[priority]);
    }
    if (update->drain_rate_changed) {
        atomic_store(&state->drain_rate, snapshot->drain_rate);
        cmn_series_set(self->stats->drain_rate, snapshot->drain_rate);
        const sc_snapshot_rates_t *rates = &snapshot->rates;
        atomic_store(&state->incoming_rate, rates->incoming);
        atomic_store(&state->offered_rate, rates->offered);
        atomic_store(&state->written_rate, rates->written);
        atomic_store(&state->duplicates_rate, rates->duplicates);
    }
    if (snapshot->changed || atomic_load(&state->level_changed_ms) == 0)
        s_publish_since(self, snapshot);
    if (snapshot->changed) {
        mdbp_level_t level = snapshot->level;
        atomic_store(&state->level, (int)level);
        cmn_series_set(self->stats->level, level);
        for (int i = 0; i < 3; i++)
            cmn_series_set(self->stats->backpressure[i], i == (int)level);
        cmn_log_info(
            "core", "level_changed", "from=%s to=%s depth=%llu reason=\"%s\"",
            mdbp_level_name(snapshot->previous), mdbp_level_name(level),
            (unsigned long long)snapshot->depth, snapshot->reason);
    }
    if (!s_snapshot_differs(snapshot, &self->sent))
        return;
    /* A plain struct over the in-process pipe: one consistent snapshot. */
    zsock_send(self->publisher, "sb", "STATE", snapshot, sizeof *snapshot);
    self->sent = *snapshot;
}

/* Dead-letters the chunks nobody will write in time, then acks them.
 * A chunk whose lines cannot be written stays unacked: its producers
 * resend. Returns true when every chunk was dead-lettered. */
static bool s_abandon_rest(s_self_t *self)
{
    bool all = true;
    sc_chunk_t chunk;
    while (sc_intake_abandon(self->intake, &chunk) > 0) {
        bool ok = true;
        for (size_t i = 0; ok && i < chunk.count; i++)
            ok = sc_dlq_append(self->dlq, &chunk.records[i],
                               SC_DLQ_REASON_DRAIN) == 0;
        ok = ok && sc_dlq_sync(self->dlq) == 0;
        if (!ok) {
            all = false; /* kept unacked; the sink counts as down */
            sc_intake_dead_letter_failed(self->intake);
            continue;
        }
        cmn_series_add(self->stats->records_dead_lettered, chunk.count);
        sc_intake_dead_lettered(self->intake, &chunk, s_on_ack, self);
    }
    return all;
}

static void s_drain_finish(s_self_t *self, const char *outcome)
{
    zsock_send(self->publisher, "sb", "FINAL", NULL, (size_t)0);
    zsock_wait(self->publisher);
    cmn_log_info("core", "drained", "outcome=%s depth=%zu", outcome,
                 sc_intake_depth(self->intake));
    zstr_send(self->pipe, "DRAINED");
}

/* The engine's update after any queue change (every admitted batch, every
 * commit: a burst must not skip a level) and at its deadline: depth,
 * level, drain rate, and the end of a drain. */
static void s_self_update(s_self_t *self)
{
    sc_intake_update_t update;
    sc_intake_update(self->intake, cmn_clock_mono_ns(self->clock), &update);
    s_publish(self, &update);
    if (update.drain == SC_INTAKE_DRAIN_EXPIRED) {
        cmn_log_warning("core", "drain_timeout",
                        "depth=%llu action=dead_letter path=\"%s\"",
                        (unsigned long long)update.snapshot.depth,
                        sc_dlq_path(self->dlq));
        bool all = s_abandon_rest(self);
        if (!all)
            cmn_log_error("core", "drain_dead_letter_failed", "unacked=%zu",
                          sc_intake_depth(self->intake));
        /* The level and depth of the last message are the final ones. */
        s_self_update(self);
        s_drain_finish(self, all ? "dead_lettered" : "unacked_left");
    } else if (update.drain == SC_INTAKE_DRAIN_FLUSHED)
        s_drain_finish(self, "flushed");
}

static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg);

/* After every input: the update, dispatch, then the timer at the engine's
 * deadline. */
static void s_self_run(s_self_t *self, bool input_idle)
{
    s_self_update(self);
    int64_t now = cmn_clock_mono_ns(self->clock);
    size_t given =
        sc_intake_dispatch(self->intake, now, input_idle, self->dispatch);
    for (size_t i = 0; i < given; i++) {
        const sc_intake_dispatch_t *dispatch = &self->dispatch[i];
        zsock_send(self->workers[dispatch->worker].actor, "s8p8", "CHUNK",
                   dispatch->chunk.id, (void *)dispatch->chunk.records,
                   (uint64_t)dispatch->chunk.count);
    }
    sc_actor_arm(self->loop, &self->timer_id, sc_intake_deadline(self->intake),
                 now, s_self_handle_timer, self);
}

static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_self_t *self = arg;
    self->timer_id = -1; /* a one-shot timer */
    s_self_run(self, false);
    return 0;
}

/* One ingest message: envelope frames, then the batch. Every path answers
 * or enqueues; nothing here blocks. */
static void s_handle_message(s_self_t *self, zmsg_t *message)
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
    mdbp_batch_t batch = {0};
    mdbp_error_t error = {{0}};
    int decoded =
        mdbp_batch_decode(zframe_data(payload), zframe_size(payload), &batch,
                           self->scratch, MDBP_BATCH_RECORDS_MAX, &error);
    zframe_destroy(&payload);
    int64_t now = cmn_clock_mono_ns(self->clock);
    sc_intake_batch_t input = {
        .producer_id = batch.producer_id,
        .session = batch.session,
        .batch_seq = batch.batch_seq,
        .priority = batch.priority,
        .weight = batch.weight,
        .records = self->scratch,
        .count = decoded == 0 ? batch.count : 0,
        .tag = envelope,
    };
    sc_intake_admission_t admission;
    if (decoded != 0)
        sc_intake_malformed(self->intake, &input, &error, now, &admission);
    else
        sc_intake_admit(self->intake, &input, now, &admission);
    if (admission.verdict == SC_INTAKE_QUEUED)
        cmn_series_add(self->stats->class_admitted[batch.priority],
                       batch.count);
    else if (admission.verdict == SC_INTAKE_NACK &&
             admission.reason != MDBP_NACK_MALFORMED)
        cmn_series_add(self->stats->class_refused[batch.priority],
                       batch.count);
    if (admission.verdict == SC_INTAKE_QUEUED) {
        cmn_series_add(self->stats->records_received, batch.count);
        s_self_update(self);
    } else if (admission.verdict == SC_INTAKE_RESENT) {
        /* Kept once; the ack goes to this newest envelope. */
        zmsg_t *older = admission.replaced;
        zmsg_destroy(&older);
        cmn_series_inc(self->stats->resends_held);
    } else
        s_answer(self, &envelope, batch.batch_seq, batch.count, &admission);
}

/* Issue 12: a message over the envelope limits (cmn_router_recv kept only
 * its routing id, a REQ delimiter and the payload) is counted and nacked
 * malformed; it is never queued and its envelope never echoed. */
static void s_refuse(s_self_t *self, zmsg_t *message, int verdict)
{
    cmn_series_inc(self->stats->batches_received);
    cmn_series_inc(self->stats->ingest_refused[verdict]);
    zframe_t *payload = NULL;
    if (verdict != CMN_ROUTER_PAYLOAD_BYTES) {
        payload = zmsg_last(message);
        zmsg_remove(message, payload);
    }
    mdbp_batch_t batch = {0}; /* only for its batch_seq */
    mdbp_error_t error = {{0}};
    if (payload)
        mdbp_batch_decode(zframe_data(payload), zframe_size(payload), &batch,
                           self->scratch, MDBP_BATCH_RECORDS_MAX, &error);
    zframe_destroy(&payload);
    mdbp_error_t refusal = {{0}};
    refusal.code = MDBP_NACK_CODE_TOO_LARGE;
    snprintf(refusal.field, sizeof refusal.field, "%s", "envelope");
    snprintf(refusal.text, sizeof refusal.text,
             "message refused: %s over the limit (%d frames, %d bytes)",
             cmn_router_verdict_name((cmn_router_verdict_t)verdict),
             MDBP_ENVELOPE_FRAMES_MAX, MDBP_ENVELOPE_BYTES_MAX);
    sc_intake_batch_t header = {
        .producer_id = batch.producer_id,
        .session = batch.session,
        .batch_seq = batch.batch_seq,
        .records = self->scratch,
        .count = 0,
        .tag = message,
    };
    sc_intake_admission_t admission;
    sc_intake_malformed(self->intake, &header, &refusal,
                        cmn_clock_mono_ns(self->clock), &admission);
    s_answer(self, &message, batch.batch_seq, 0, &admission);
}

static int s_self_handle_router(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
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
    s_self_run(self, !(zsock_events(reader) & ZMQ_POLLIN));
    return 0;
}

static int s_self_handle_worker(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_worker_slot_t *slot = arg;
    s_self_t *self = slot->core;
    char *command = NULL;
    uint64_t id = 0, written = 0, duplicates = 0, dead_lettered = 0;
    if (zsock_recv(reader, "s8888", &command, &id, &written, &duplicates,
                   &dead_lettered) != 0)
        return 0;
    int64_t now = cmn_clock_mono_ns(self->clock);
    if (command && streq(command, "DONE"))
        /* -1: already dead-lettered at the drain deadline. */
        sc_intake_done(self->intake, slot->index, id, (size_t)written,
                       (size_t)duplicates, (size_t)dead_lettered, now, s_on_ack,
                       self);
    else if (command && streq(command, "HEALTH")) {
        /* "HEALTH" breaker retrying dlq_failing: the same four numbers. */
        sc_intake_worker_t health = {
            .breaker = (sc_breaker_state_t)id,
            .retrying = written != 0,
            .dlq_failing = duplicates != 0,
        };
        sc_intake_worker(self->intake, slot->index, &health);
    }
    zstr_free(&command);
    s_self_run(self, true);
    return 0;
}

static int s_self_handle_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    char *command = zstr_recv(reader);
    if (!command)
        return -1;
    int result = 0;
    int64_t now = cmn_clock_mono_ns(self->clock);
    if (streq(command, "$TERM"))
        result = -1;
    else if (streq(command, "DRAIN") && !sc_intake_draining(self->intake)) {
        sc_intake_drain(self->intake, now);
        atomic_store(&self->state->draining, true);
        cmn_log_info("core", "draining", "depth=%zu timeout_ms=%lld",
                     sc_intake_depth(self->intake),
                     (long long)self->settings->drain_timeout_ms);
        s_self_run(self, true);
    } else if (streq(command, "HURRY") && sc_intake_draining(self->intake)) {
        sc_intake_hurry(self->intake, now);
        s_self_run(self, true);
    }
    zstr_free(&command);
    return result;
}

static void s_self_destroy(s_self_t **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    /* Workers first: they read the engine's buffers until they stop. */
    if (self->workers)
        for (size_t i = 0; i < self->settings->workers; i++)
            zactor_destroy(&self->workers[i].actor);
    zactor_destroy(&self->publisher);
    if (self->intake) {
        self->discarding = true;
        sc_intake_discard(self->intake, s_on_ack, self);
    }
    zloop_destroy(&self->loop);
    zsock_destroy(&self->router);
    sc_dlq_destroy(&self->dlq);
    free(self->workers);
    free(self->dispatch);
    free(self->scratch);
    sc_intake_destroy(&self->intake);
    mdbp_buffer_release(&self->reply);
    free(self);
    *self_p = NULL;
}

static s_self_t *s_self_new(zsock_t *pipe, void *args, char *error)
{
    const sc_core_args_t *given = args;
    const sc_settings_t *settings = given->settings;
    zsock_t *router = given->router, *xpub = given->xpub; /* ours now */
    s_self_t *self = calloc(1, sizeof *self);
    if (!self) {
        zsock_destroy(&router);
        zsock_destroy(&xpub);
        snprintf(error, SC_ACTOR_ERROR_MAX, "core: out of memory");
        return NULL;
    }
    *self = (s_self_t){
        .settings = settings,
        .state = given->state,
        .stats = given->stats,
        .clock = given->clock,
        .pipe = pipe,
        .router = router,
        .timer_id = -1,
        .webhook = given->webhook,
    };
    mdbp_buffer_init(&self->reply);
    sc_intake_config_t config = {
        .capacity = settings->capacity,
        .watermark = settings->watermark,
        .workers = settings->workers,
        .batch_size = settings->batch_size,
        .batch_timeout_ns = settings->batch_timeout_ms * CMN_NS_PER_MS,
        .batch_eager = settings->batch_eager,
        .drain_timeout_ns = settings->drain_timeout_ms * CMN_NS_PER_MS,
        .breaker_timeout_ms = (uint32_t)settings->breaker_timeout_ms,
        .sojourn_target_ns = settings->sojourn_target_ms * CMN_NS_PER_MS,
        .sojourn_interval_ns = settings->sojourn_interval_ms * CMN_NS_PER_MS,
        .stall_ns = settings->sink_stall_ms * CMN_NS_PER_MS,
        .recovery_ns = settings->sink_recovery_ms * CMN_NS_PER_MS,
    };
    self->intake = sc_intake_new(&config, cmn_clock_mono_ns(self->clock));
    self->dispatch = calloc(settings->workers, sizeof *self->dispatch);
    self->scratch = calloc(MDBP_BATCH_RECORDS_MAX, sizeof *self->scratch);
    self->workers = calloc(settings->workers, sizeof *self->workers);
    self->dlq = sc_dlq_new(settings->dlq_path);
    self->loop = zloop_new();
    if (!self->intake || !self->dispatch || !self->scratch || !self->workers ||
        !self->dlq || !self->loop) {
        zsock_destroy(&xpub);
        snprintf(error, SC_ACTOR_ERROR_MAX, "core: out of memory");
        s_self_destroy(&self);
        return NULL;
    }
    self->publisher_args = (sc_publisher_args_t){
        .settings = settings,
        .state = self->state,
        .stats = self->stats,
        .clock = self->clock,
        .xpub = xpub,
        .webhook = self->webhook,
    };
    self->publisher =
        sc_actor_start(sc_publisher_actor, &self->publisher_args, error);
    if (!self->publisher) {
        s_self_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < settings->workers; i++) {
        s_worker_slot_t *slot = &self->workers[i];
        slot->core = self;
        slot->index = i;
        slot->args = (sc_worker_args_t){
            .settings = settings,
            .state = self->state,
            .stats = self->stats,
            .clock = self->clock,
            .index = i,
        };
        slot->actor = sc_actor_start(sc_worker_actor, &slot->args, error);
        if (!slot->actor) {
            s_self_destroy(&self);
            return NULL;
        }
        zloop_reader(self->loop, zactor_sock(slot->actor), s_self_handle_worker,
                     slot);
    }
    zloop_reader(self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader(self->loop, self->router, s_self_handle_router, self);
    return self;
}

void sc_core_actor(zsock_t *pipe, void *args)
{
    zsock_signal(pipe, 0);
    char error[SC_ACTOR_ERROR_MAX] = "";
    s_self_t *self = s_self_new(pipe, args, error);
    if (!self) {
        cmn_log_error("core", "start_failed", "error=\"%s\"", error);
        sc_actor_report(pipe, error);
        sc_actor_wait_term(pipe);
        return;
    }
    sc_actor_report(pipe, NULL);
    const sc_settings_t *settings = self->settings;
    cmn_log_info("core", "started",
                 "capacity=%zu low=%llu high=%llu dead_band=%llu "
                 "dwell_ms=%lld workers=%zu",
                 settings->capacity,
                 (unsigned long long)settings->watermark.low,
                 (unsigned long long)settings->watermark.high,
                 (unsigned long long)settings->watermark.dead_band,
                 (long long)(settings->watermark.dwell_ns / CMN_NS_PER_MS),
                 settings->workers);
    s_self_run(self, true);
    zloop_start(self->loop);
    s_self_destroy(&self);
}
