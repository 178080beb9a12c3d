/* scn_model: the closed-loop model on a virtual clock (see scn_model.h).
 *
 * The file has two halves. "The engines" calls the same engine functions
 * the shells call, the way they call them (sc_core.c and sc_publisher.c for
 * the coordinator, pl_sender.c, pl_subscriber.c and pl_producer.c for a
 * pipeline): those functions are the only place where the model meets a
 * rule of the loop, so that an engine whose API changes is followed here
 * and nowhere else. "The world" is what the model adds: the sink and its
 * workers' write rate, the network, the crash and restart, the providers'
 * demand, the clock and the figures.
 *
 * One tick (SCN_TICK_NS) does, in this order: the coordinator's crash or
 * restart when due; for each pipeline, deliver the feedback messages that
 * are due (subscriber), its timer (staleness), the producer's take and the
 * sender's window actions (a send is admitted or refused by the coordinator
 * at once); the coordinator's dispatch; the sink's workers write (a commit
 * acks its batches to their pipelines at once); the coordinator's and the
 * publisher's timers when their engines' deadlines are due; sample the
 * figures; advance the clock. */
#include "scn_model.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h"
#include "pl_feedback.h"
#include "pl_rate_coordinator.h"
#include "pl_window.h"
#include <mdbp/feedback.h>
#include "sc_announcer.h"
#include "sc_intake.h"

#define SCN_TICK_NS CMN_NS_PER_MS
#define SCN_WALL_START_NS INT64_C(1700000000000000000)
#define SCN_COORDINATOR_ID "coord-1"
/* pl_sender.c's PL_SEND_RETRY_NS and PL_SEND_NACK_RETRY_NS (not options):
 * a send that found no connection, and a nack without a hint, wait this. */
#define SCN_SEND_RETRY_NS (100 * CMN_NS_PER_MS)
#define SCN_SEND_NACK_RETRY_NS (100 * CMN_NS_PER_MS)
/* Bucket burst: this much time at the base rate. */
#define SCN_BURST_SEC 0.05
#define SCN_EVENT_BYTES_MAX 512
#define SCN_LINK_INITIAL 256

#define SCN_SECONDS_PER_MINUTE 60.0
#define SCN_PERCENTILE_99 0.99
#define SCN_JITTER_SEED_MIX UINT64_C(0x2545F4914F6CDD1D)

/* A feedback message on its way to one pipeline. */
typedef struct {
    int64_t deliver_ns;
    size_t size;
    unsigned char data[SCN_EVENT_BYTES_MAX];
} s_message_t;

/* The network from the coordinator to one pipeline: a FIFO with a fixed
 * delay (so order is kept, as on one TCP connection). */
typedef struct {
    s_message_t *items;
    size_t head;
    size_t count;
    size_t capacity;
} s_link_t;

typedef struct {
    /* the engines */
    pl_rate_coordinator_t *rates; /* the producer's buckets */
    size_t provider;              /* index in rates */
    pl_feedback_t *feedback;      /* the subscriber's state */
    pl_window_t *window;          /* the sender's send window */
    char producer_id[MDBP_ID_MAX + 1]; /* its batches' producer_id */
    uint64_t session;                   /* and session (one run) */
    /* the world */
    s_link_t link;
    int64_t delay_ns;
    /* figures */
    uint64_t produced;
    uint64_t acked;
    uint64_t scale0_ticks;
    uint64_t stale_ticks;
} s_pipeline_t;

/* One sink worker of the world: writes the chunk the intake gave it. */
typedef struct {
    bool busy;
    uint64_t chunk_id;
    size_t count;
    double done; /* records of the chunk written so far */
} s_worker_t;

typedef struct {
    /* the engines (NULL while down) */
    sc_intake_t *intake;
    sc_announcer_t *announcer;
    sc_intake_dispatch_t dispatch[SCN_WORKERS];
    /* what the shells keep beside them */
    uint64_t epoch;    /* settings->epoch */
    uint64_t seq;      /* the publisher's last seq */
    uint64_t depth;    /* state->depth, as the core last set it */
    double drain_rate; /* state->drain_rate */
    uint64_t jitter;   /* the publisher's random state */
    /* the world */
    bool up;
    s_worker_t workers[SCN_WORKERS];
    int64_t up_ns; /* when the current run started */
    bool written_since_up;
    /* figures */
    uint64_t changes;
} s_coordinator_t;

typedef struct {
    const scn_scenario_t *scenario;
    const scn_policy_t *loop;
    cmn_clock_t *clock;
    pl_policy_t *policy;
    s_coordinator_t coordinator;
    s_pipeline_t pipelines[SCN_PIPELINES_MAX];
    int64_t heartbeat_ms; /* publisher interval */
    uint64_t rng_loss;
    uint64_t rng_other;
    mdbp_record_t *records; /* SCN_SEND_BATCH_RECORDS blank records */
    uint64_t written;
    uint64_t rejected;
    uint64_t events_sent;
    uint64_t events_lost;
    double restart_resume_s;
    bool failed; /* a resource failed mid-run */
} s_model_t;

void *scn_trace;

/* splitmix64: small, seedable, good enough for loss and jitter. */
static uint64_t s_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The announcer's jitter source (sc_engine_random_fn). */
static uint64_t s_jitter_random(void *arg)
{
    return s_random(arg);
}

/* Uniform in [0, 1). */
static double s_uniform(uint64_t *state)
{
    return (double)(s_random(state) >> 11) * 0x1.0p-53;
}

static int64_t s_now(s_model_t *self)
{
    return cmn_clock_mono_ns(self->clock);
}

static void s_network_publish(s_model_t *self, const void *data, size_t size);

/* ======================================================================
 * The engines, called as the shells call them. When an engine's API
 * changes, only this half follows it (tests/scenarios/README.md lists
 * which function calls what).
 * ====================================================================== */

/* ---- coordinator: the publisher (sc_publisher.c around sc_announcer) ---- */

/* sc_publisher.c s_publish: one announcement encoded as the publisher
 * encodes it, onto the network. */
static void s_publisher_send(s_model_t *self, const sc_announcement_t *a)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_announcer_identity_t identity = {
        .coordinator_id = SCN_COORDINATOR_ID,
        .epoch = coordinator->epoch,
        .capacity = SCN_CAPACITY,
        .low_wm = (uint64_t)llround(SCN_LOW_FRACTION * SCN_CAPACITY),
        .high_wm = (uint64_t)llround(SCN_HIGH_FRACTION * SCN_CAPACITY),
        .heartbeat_ms = self->heartbeat_ms,
    };
    mdbp_feedback_t event;
    sc_announcement_message(a, &identity, coordinator->seq + 1,
                            cmn_clock_wall_ns(self->clock), &event);
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    if (mdbp_feedback_encode(&event, &buffer) != 0)
        self->failed = true;
    else {
        coordinator->seq = event.seq;
        s_network_publish(self, buffer.data, buffer.size);
    }
    mdbp_buffer_release(&buffer);
}

/* sc_publisher.c s_self_run: whatever the announcer says is due now. */
static void s_publisher_run(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_announcement_t announcement;
    while (sc_announcer_due(coordinator->announcer, s_now(self),
                            &announcement))
        s_publisher_send(self, &announcement);
}

/* The publisher's one timer, at the announcer's deadline. */
static void s_publisher_timer(s_model_t *self)
{
    if (s_now(self) >= sc_announcer_deadline(self->coordinator.announcer))
        s_publisher_run(self);
}

/* The core's STATE message: its latest snapshot (a transition when the
 * level changed). */
static void s_publisher_state(s_model_t *self, const sc_snapshot_t *state)
{
    sc_announcement_t announcement;
    if (sc_announcer_state(self->coordinator.announcer, state, s_now(self),
                           &announcement))
        s_publisher_send(self, &announcement);
    s_publisher_run(self);
}

/* A pipeline's subscription reached the XPUB. */
static void s_publisher_subscribed(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_announcement_t announcement;
    if (sc_announcer_subscribed(coordinator->announcer, s_now(self),
                                &announcement))
        s_publisher_send(self, &announcement);
    s_publisher_run(self);
}

/* ---- coordinator: the core (sc_core.c around sc_intake) ---- */

/* sc_core.c s_self_update: after every queue change and at the deadline. */
static void s_core_update(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_intake_update_t update;
    sc_intake_update(coordinator->intake, s_now(self), &update);
    coordinator->depth = update.snapshot.depth;
    if (update.drain_rate_changed)
        coordinator->drain_rate = update.snapshot.drain_rate;
    if (update.snapshot.changed)
        coordinator->changes++;
    s_publisher_state(self, &update.snapshot);
}

/* sc_core.c s_self_run: the update, then chunks for idle workers (the
 * model's input is idle whenever the core runs: every send of the tick has
 * been read). */
static void s_core_run(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    s_core_update(self);
    size_t given = sc_intake_dispatch(coordinator->intake, s_now(self), true,
                                      coordinator->dispatch);
    for (size_t k = 0; k < given; k++) {
        const sc_intake_dispatch_t *dispatch = &coordinator->dispatch[k];
        s_worker_t *worker = &coordinator->workers[dispatch->worker];
        assert(!worker->busy);
        *worker = (s_worker_t){.busy = true,
                               .chunk_id = dispatch->chunk.id,
                               .count = dispatch->chunk.count};
    }
}

/* The core's one timer, at the intake's deadline. */
static void s_core_timer(s_model_t *self)
{
    if (s_now(self) >= sc_intake_deadline(self->coordinator.intake))
        s_core_run(self);
}

static void s_sender_acked(s_model_t *self, s_pipeline_t *pipeline,
                           uint64_t batch_seq, uint64_t session,
                           uint32_t credit, size_t written);

/* The intake's batch callback: a batch's last record is committed, its
 * ack reaches its pipeline at once. */
static void s_core_batch_done(const sc_intake_ack_t *ack, void *arg)
{
    s_sender_acked(arg, ack->tag, ack->batch_seq, ack->session, ack->credit,
                   ack->written + ack->duplicates + ack->dead_lettered);
}

/* Teardown without answers (the process died). */
static void s_core_batch_dropped(const sc_intake_ack_t *ack, void *arg)
{
    (void)ack;
    (void)arg;
}

/* One ingest batch of `pipeline` (the tag: its reply envelope). */
static void s_core_admit(s_model_t *self, s_pipeline_t *pipeline,
                         uint64_t batch_seq, size_t count,
                         sc_intake_admission_t *admission)
{
    sc_intake_batch_t batch = {
        .producer_id = pipeline->producer_id,
        .session = pipeline->session,
        .batch_seq = batch_seq,
        .records = self->records,
        .count = count,
        .tag = pipeline,
    };
    sc_intake_admit(self->coordinator.intake, &batch, s_now(self), admission);
    if (admission->verdict == SC_INTAKE_QUEUED)
        s_core_update(self);
}

/* Worker `index` reports DONE for its chunk. */
static void s_core_done(s_model_t *self, size_t index)
{
    s_coordinator_t *coordinator = &self->coordinator;
    s_worker_t *worker = &coordinator->workers[index];
    int rc = sc_intake_done(coordinator->intake, index, worker->chunk_id,
                            worker->count, 0, 0, s_now(self), s_core_batch_done,
                            self);
    assert(rc == 0);
    (void)rc;
    worker->busy = false;
    s_core_run(self);
}

static void s_sender_connected(s_model_t *self, s_pipeline_t *pipeline);

/* main.c + sc_core.c + sc_publisher.c start-up: a new epoch, an empty
 * queue. The pipelines' senders connect and their subscribers subscribe. */
static int s_core_start(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    const scn_policy_t *loop = self->loop;
    const double capacity = SCN_CAPACITY;
    sc_watermark_config_t watermark = {
        .capacity = SCN_CAPACITY,
        .low = (uint64_t)llround(capacity * SCN_LOW_FRACTION),
        .high = (uint64_t)llround(capacity * SCN_HIGH_FRACTION),
        .dead_band =
            loop->hysteresis
                ? (uint64_t)llround(capacity * (loop->dead_band > 0
                                                    ? loop->dead_band
                                                    : SCN_DEAD_BAND_FRACTION))
                : 0,
        .dwell_ns = loop->hysteresis
                        ? (loop->dwell_ms ? loop->dwell_ms : SCN_DWELL_MS) *
                              CMN_NS_PER_MS
                        : 0,
    };
    sc_intake_config_t intake = {
        .capacity = SCN_CAPACITY,
        .watermark = watermark,
        .workers = SCN_WORKERS,
        .batch_size = SCN_BATCH_SIZE,
        .batch_timeout_ns = SCN_BATCH_TIMEOUT_MS * CMN_NS_PER_MS,
        .batch_eager = SCN_BATCH_EAGER,
        .drain_timeout_ns = SCN_DRAIN_TIMEOUT_MS * CMN_NS_PER_MS,
        .breaker_timeout_ms = SCN_BREAKER_TIMEOUT_MS,
        .sojourn_target_ns = SCN_SOJOURN_TARGET_MS * CMN_NS_PER_MS,
        .sojourn_interval_ns = SCN_SOJOURN_INTERVAL_MS * CMN_NS_PER_MS,
        .stall_ns = SCN_SINK_STALL_MS * CMN_NS_PER_MS,
        .recovery_ns = SCN_SINK_RECOVERY_MS * CMN_NS_PER_MS,
    };
    coordinator->epoch = s_random(&self->rng_other);
    coordinator->jitter = coordinator->epoch * SCN_JITTER_SEED_MIX + 1;
    sc_announcer_config_t announcer = {
        .heartbeat_ns = self->heartbeat_ms * CMN_NS_PER_MS,
        .random = s_jitter_random,
        .random_arg = &coordinator->jitter,
    };
    coordinator->intake = sc_intake_new(&intake, s_now(self));
    coordinator->announcer = sc_announcer_new(&announcer, s_now(self));
    if (!coordinator->intake || !coordinator->announcer)
        return -1;
    coordinator->seq = 0;
    coordinator->depth = 0;
    coordinator->drain_rate = 0;
    memset(coordinator->workers, 0, sizeof coordinator->workers);
    coordinator->up = true;
    coordinator->up_ns = s_now(self);
    coordinator->written_since_up = false;
    s_core_run(self);
    for (size_t k = 0; k < self->scenario->pipelines; k++) {
        s_sender_connected(self, &self->pipelines[k]);
        s_publisher_subscribed(self);
    }
    return 0;
}

static void s_sender_disconnected(s_model_t *self, s_pipeline_t *pipeline);

/* kill -9: the queue is gone, nothing is answered; the pipelines see their
 * connection drop. */
static void s_core_crash(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_intake_discard(coordinator->intake, s_core_batch_dropped, NULL);
    sc_intake_destroy(&coordinator->intake);
    sc_announcer_destroy(&coordinator->announcer);
    coordinator->up = false;
    for (size_t k = 0; k < self->scenario->pipelines; k++)
        s_sender_disconnected(self, &self->pipelines[k]);
}

/* ---- pipeline: the subscriber and producer (pl_subscriber.c,
 *      pl_producer.c around pl_feedback and pl_rate_coordinator) ---- */

/* pl_producer.c s_self_handle_decision: the decision applied to the
 * provider's bucket (no manual scale cap in the model). */
static void s_producer_apply(s_pipeline_t *pipeline,
                             const pl_feedback_decision_t *decision)
{
    pl_rate_coordinator_set_scale(pipeline->rates, pipeline->provider,
                                  decision->scale);
    pl_rate_coordinator_set_pressure(pipeline->rates, pipeline->provider,
                                     decision->level);
}

/* pl_subscriber.c s_decide: a changed decision goes to the producer. */
static void s_subscriber_decide(s_model_t *self, s_pipeline_t *pipeline,
                                int64_t event_ts_ns)
{
    pl_feedback_decision_t decision;
    if (pl_feedback_decide(pipeline->feedback, self->policy, event_ts_ns,
                           &decision))
        s_producer_apply(pipeline, &decision);
    /* s_limits: capacity, credit_initial and liveness go to the sender. */
    pl_feedback_limits_t limits;
    if (pl_feedback_limits(pipeline->feedback, &limits)) {
        pl_window_limits_t window = {
            .capacity = limits.capacity,
            .has_credit_initial = limits.has_credit_initial,
            .credit_initial = limits.credit_initial,
            .alive = limits.alive,
        };
        pl_window_set_limits(pipeline->window, &window, s_now(self));
    }
}

/* pl_subscriber.c s_self_handle_sub: one message as the SUB socket hands
 * it over (topic, body). */
static void s_subscriber_receive(s_model_t *self, s_pipeline_t *pipeline,
                                 const void *data, size_t size)
{
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    int topic_size =
        mdbp_feedback_topic(SCN_COORDINATOR_ID, topic, sizeof topic);
    assert(topic_size > 0);
    const void *frames[2] = {topic, data};
    size_t sizes[2] = {(size_t)topic_size, size};
    mdbp_feedback_t event;
    if (pl_feedback_handle_message(pipeline->feedback, frames, sizes, 2,
                                   &event) == PL_FEEDBACK_APPLIED)
        s_subscriber_decide(self, pipeline, event.ts_ns);
}

/* The subscriber's timer, at the feedback state's deadline (staleness). */
static void s_subscriber_timer(s_model_t *self, s_pipeline_t *pipeline)
{
    if (s_now(self) >= pl_feedback_deadline(pipeline->feedback)) {
        pl_feedback_tick(pipeline->feedback);
        s_subscriber_decide(self, pipeline, 0);
    }
}

/* ---- pipeline: the sender (pl_sender.c around pl_window) ---- */

/* s_on_reply: a reply as the coordinator encodes it (session, credit),
 * through pl_window_reply as the shell hands it over. */
static void s_sender_reply(s_model_t *self, s_pipeline_t *pipeline,
                           const mdbp_reply_t *reply)
{
    pl_window_outcome_t outcome;
    /* LATE: the ack of a copy whose twin was acked first (a resend). */
    if (pl_window_reply(pipeline->window, 0, reply, s_now(self), &outcome) ==
            PL_WINDOW_ACKED)
        pipeline->acked += outcome.records;
}

/* An ack of `batch_seq` with the coordinator's credit. */
static void s_sender_acked(s_model_t *self, s_pipeline_t *pipeline,
                           uint64_t batch_seq, uint64_t session,
                           uint32_t credit, size_t written)
{
    mdbp_reply_t reply = {
        .type = MDBP_REPLY_ACK,
        .batch_seq = batch_seq,
        .session = session,
        .has_credit = true,
        .credit = credit,
        .written = (uint32_t)written,
    };
    s_sender_reply(self, pipeline, &reply);
}

/* s_send: the slot leaves if a coordinator is connected (ZMQ_IMMEDIATE);
 * the coordinator reads it at once and a refusal comes straight back. */
static void s_sender_send(s_model_t *self, s_pipeline_t *pipeline,
                          const pl_window_action_t *action)
{
    int64_t now = s_now(self);
    if (!self->coordinator.up) {
        pl_window_sent(pipeline->window, action, false, now);
        return;
    }
    pl_window_sent(pipeline->window, action, true, now);
    sc_intake_admission_t admission;
    s_core_admit(self, pipeline, action->batch_seq, action->records,
                 &admission);
    /* QUEUED, or RESENT (the copy still held is answered once, when it
     * commits): the ack comes later. */
    if (admission.verdict != SC_INTAKE_ACK &&
        admission.verdict != SC_INTAKE_NACK)
        return;
    if (admission.verdict == SC_INTAKE_ACK) {
        s_sender_acked(self, pipeline, action->batch_seq, admission.session,
                       admission.credit, 0);
        return;
    }
    if (admission.reason == MDBP_NACK_FULL)
        self->rejected += action->records;
    mdbp_reply_t reply = {
        .type = MDBP_REPLY_NACK,
        .batch_seq = action->batch_seq,
        .session = admission.session,
        .has_credit = true,
        .credit = admission.credit,
        .reason = admission.reason,
        .code = admission.code,
        .retry_after_ms = admission.retry_after_ms,
    };
    s_sender_reply(self, pipeline, &reply);
}

/* s_act: every action the window has now. The model's records are blank,
 * so a SEAL needs no encoding. */
static void s_sender_run(s_model_t *self, s_pipeline_t *pipeline)
{
    pl_window_action_t action;
    while (pl_window_next(pipeline->window, s_now(self), false, &action))
        if (action.kind == PL_WINDOW_SEND)
            s_sender_send(self, pipeline, &action);
}

/* The producer's records reach the open batch (the producer -> sender
 * pipe is not modelled: what the bucket grants goes straight in). */
static void s_sender_fill(s_model_t *self, s_pipeline_t *pipeline)
{
    size_t room = pl_window_room(pipeline->window);
    if (room == 0)
        return;
    uint64_t granted =
        pl_rate_coordinator_take(pipeline->rates, pipeline->provider, room);
    pl_window_fill(pipeline->window, (size_t)granted, s_now(self));
    pipeline->produced += granted;
}

/* The monitor's CONNECTED / DISCONNECTED events. */
static void s_sender_connected(s_model_t *self, s_pipeline_t *pipeline)
{
    pl_window_connected(pipeline->window, 0, s_now(self));
}

static void s_sender_disconnected(s_model_t *self, s_pipeline_t *pipeline)
{
    pl_window_disconnected(pipeline->window, 0, s_now(self));
}

static int s_pipeline_new(s_model_t *self, s_pipeline_t *pipeline, double rate,
                          int64_t delay_ns, int64_t ramp_ms)
{
    pipeline->rates = pl_rate_coordinator_new(
        self->clock, ramp_ms > 0 ? ramp_ms * CMN_NS_PER_MS : 0);
    pl_feedback_config_t feedback = {
        .stale_level = MDBP_LEVEL_SOFT,
        .forget_ns = SCN_FORGET_SEC * CMN_NS_PER_SEC,
    };
    pipeline->feedback = pl_feedback_new(self->clock, &feedback);
    pl_window_config_t window = {
        .slots = SCN_SEND_WINDOW,
        .batch_records = SCN_SEND_BATCH_RECORDS,
        .batch_ns = SCN_SEND_BATCH_MS * CMN_NS_PER_MS,
        .ack_timeout_ns = SCN_SEND_ACK_TIMEOUT_MS * CMN_NS_PER_MS,
        .retry_ns = SCN_SEND_RETRY_NS,
        .nack_retry_ns = SCN_SEND_NACK_RETRY_NS,
        .session = (size_t)(pipeline - self->pipelines) + 1,
    };
    pipeline->window = pl_window_new(&window);
    if (!pipeline->rates || !pipeline->feedback || !pipeline->window)
        return -1;
    /* The one coordinator is id 0 (the sender adds one per address). */
    if (pl_window_coordinator_add(pipeline->window) != 0)
        return -1;
    double burst = rate * SCN_BURST_SEC;
    pl_rate_config_t rate_config = {
        .capacity = burst < 1 ? 1 : burst,
        .refill_rate = rate,
        .cooldown_sec = PL_RATE_COOLDOWN_SEC_DEFAULT,
        .breaker_threshold = PL_RATE_BREAKER_THRESHOLD_DEFAULT,
        .breaker_timeout_sec = PL_RATE_BREAKER_TIMEOUT_SEC_DEFAULT,
    };
    int provider =
        pl_rate_coordinator_add(pipeline->rates, "synthetic", &rate_config);
    if (provider < 0)
        return -1;
    pipeline->provider = (size_t)provider;
    pipeline->delay_ns = delay_ns;
    size_t index = (size_t)(pipeline - self->pipelines);
    snprintf(pipeline->producer_id, sizeof pipeline->producer_id,
             "scn-pipeline-%zu", index);
    pipeline->session = index + 1;
    return 0;
}

/* ======================================================================
 * The world: the network, the sink, the figures.
 * ====================================================================== */

static int s_link_push(s_link_t *link, int64_t deliver_ns, const void *data,
                       size_t size)
{
    assert(size <= SCN_EVENT_BYTES_MAX);
    if (link->count == link->capacity) {
        size_t capacity =
            link->capacity ? link->capacity * 2 : SCN_LINK_INITIAL;
        s_message_t *items = malloc(capacity * sizeof *items);
        if (!items)
            return -1;
        for (size_t k = 0; k < link->count; k++)
            items[k] = link->items[(link->head + k) % link->capacity];
        free(link->items);
        link->items = items;
        link->head = 0;
        link->capacity = capacity;
    }
    s_message_t *message =
        &link->items[(link->head + link->count) % link->capacity];
    message->deliver_ns = deliver_ns;
    message->size = size;
    memcpy(message->data, data, size);
    link->count++;
    return 0;
}

/* PUB: one copy per pipeline, each lost with the scenario's probability,
 * each delayed by that pipeline's delay. */
static void s_network_publish(s_model_t *self, const void *data, size_t size)
{
    self->events_sent++;
    for (size_t k = 0; k < self->scenario->pipelines; k++) {
        if (s_uniform(&self->rng_loss) < self->scenario->loss) {
            self->events_lost++;
            continue;
        }
        s_pipeline_t *pipeline = &self->pipelines[k];
        if (s_link_push(&pipeline->link, s_now(self) + pipeline->delay_ns, data,
                        size) != 0)
            self->failed = true;
    }
}

/* Hands the pipeline the messages that are due. */
static void s_network_deliver(s_model_t *self, s_pipeline_t *pipeline)
{
    int64_t now = s_now(self);
    s_link_t *link = &pipeline->link;
    while (link->count > 0 && link->items[link->head].deliver_ns <= now) {
        s_message_t *message = &link->items[link->head];
        s_subscriber_receive(self, pipeline, message->data, message->size);
        link->head = (link->head + 1) % link->capacity;
        link->count--;
    }
}

static bool s_sink_stalled(s_model_t *self)
{
    const scn_scenario_t *scenario = self->scenario;
    int64_t now = s_now(self);
    return scenario->stall_ns > 0 && now >= scenario->stall_at_ns &&
           now < scenario->stall_at_ns + scenario->stall_ns;
}

/* Each worker writes at its share of the sink rate for one tick; a worker
 * that finishes its chunk reports DONE and may get the next one at once. */
static void s_sink_step(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    double rate = s_sink_stalled(self) ? 0.0 : self->scenario->sink_rate;
    double per_worker =
        rate / SCN_WORKERS * (double)SCN_TICK_NS / (double)CMN_NS_PER_SEC;
    for (size_t w = 0; w < SCN_WORKERS; w++) {
        s_worker_t *worker = &coordinator->workers[w];
        double budget = per_worker;
        while (budget > 0 && worker->busy) {
            double need = (double)worker->count - worker->done;
            if (budget < need) {
                worker->done += budget;
                break;
            }
            budget -= need;
            self->written += worker->count;
            if (!coordinator->written_since_up) {
                coordinator->written_since_up = true;
                if (coordinator->up_ns > 0)
                    self->restart_resume_s =
                        (double)(s_now(self) - coordinator->up_ns) /
                        (double)CMN_NS_PER_SEC;
            }
            s_core_done(self, w);
        }
    }
}

static void s_model_destroy(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    if (coordinator->intake)
        sc_intake_discard(coordinator->intake, s_core_batch_dropped, NULL);
    sc_intake_destroy(&coordinator->intake);
    sc_announcer_destroy(&coordinator->announcer);
    for (size_t k = 0; k < SCN_PIPELINES_MAX; k++) {
        pl_rate_coordinator_destroy(&self->pipelines[k].rates);
        pl_feedback_destroy(&self->pipelines[k].feedback);
        pl_window_destroy(&self->pipelines[k].window);
        free(self->pipelines[k].link.items);
    }
    pl_policy_destroy(&self->policy);
    cmn_clock_destroy(&self->clock);
    free(self->records);
}

void scn_print_defaults(void)
{
    printf("MDS_QUEUE_CAPACITY %d\n", SCN_CAPACITY);
    printf("MDS_LOW_WATERMARK %g\n", SCN_LOW_FRACTION);
    printf("MDS_HIGH_WATERMARK %g\n", SCN_HIGH_FRACTION);
    printf("MDS_DEAD_BAND %g\n", SCN_DEAD_BAND_FRACTION);
    printf("MDS_DWELL_MS %d\n", SCN_DWELL_MS);
    printf("MDS_WORKERS %d\n", SCN_WORKERS);
    printf("MDS_BATCH_SIZE %d\n", SCN_BATCH_SIZE);
    printf("MDS_BATCH_TIMEOUT_MS %d\n", SCN_BATCH_TIMEOUT_MS);
    printf("MDS_BATCH_EAGER %s\n", SCN_BATCH_EAGER ? "true" : "false");
    printf("MDS_DRAIN_TIMEOUT_MS %d\n", SCN_DRAIN_TIMEOUT_MS);
    printf("MDS_BREAKER_TIMEOUT_MS %d\n", SCN_BREAKER_TIMEOUT_MS);
    printf("MDS_SOJOURN_TARGET_MS %d\n", SCN_SOJOURN_TARGET_MS);
    printf("MDS_SOJOURN_INTERVAL_MS %d\n", SCN_SOJOURN_INTERVAL_MS);
    printf("MDS_SINK_STALL_MS %d\n", SCN_SINK_STALL_MS);
    printf("MDS_SINK_RECOVERY_MS %d\n", SCN_SINK_RECOVERY_MS);
    printf("MDS_HEARTBEAT_MS %d\n", SCN_HEARTBEAT_MS);
    printf("MDP_FB_RAMP_MS %d\n", SCN_RAMP_MS);
    printf("MDP_FB_POLICY step\n");
    printf("MDP_FB_SCALE_OK %g\n", PL_POLICY_SCALE_OK_DEFAULT);
    printf("MDP_FB_SCALE_SOFT %g\n", PL_POLICY_SCALE_SOFT_DEFAULT);
    printf("MDP_FB_SCALE_HARD %g\n", PL_POLICY_SCALE_HARD_DEFAULT);
    printf("MDP_FB_STALE_LEVEL soft\n");
    printf("MDP_FB_FORGET_SEC %d\n", SCN_FORGET_SEC);
    printf("MDP_SEND_BATCH_RECORDS %d\n", SCN_SEND_BATCH_RECORDS);
    printf("MDP_SEND_BATCH_MS %d\n", SCN_SEND_BATCH_MS);
    printf("MDP_SEND_WINDOW %d\n", SCN_SEND_WINDOW);
    printf("MDP_SEND_ACK_TIMEOUT_MS %d\n", SCN_SEND_ACK_TIMEOUT_MS);
}

static int s_compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* True when the pipeline counts a coordinator as stale now. */
static bool s_pipeline_stale(s_pipeline_t *pipeline)
{
    size_t count = pl_feedback_count(pipeline->feedback);
    for (size_t k = 0; k < count; k++)
        if (pl_feedback_coordinator(pipeline->feedback, k)->stale)
            return true;
    return false;
}

int scn_run(const scn_scenario_t *scenario, const scn_policy_t *policy,
            scn_figures_t *figures)
{
    assert(scenario->pipelines <= SCN_PIPELINES_MAX);
    memset(figures, 0, sizeof *figures);
    scn_scenario_t normalised = *scenario;
    if (normalised.pipelines == 0)
        normalised.pipelines = 1;
    scenario = &normalised;
    s_model_t model = {.scenario = scenario, .loop = policy};
    s_model_t *self = &model;
    self->heartbeat_ms =
        policy->heartbeat_ms ? policy->heartbeat_ms : SCN_HEARTBEAT_MS;
    self->rng_loss = scenario->seed;
    self->rng_other = scenario->seed ^ UINT64_C(0x5DEECE66D);
    self->restart_resume_s = scenario->restart_at_ns > 0 ? INFINITY : 0;
    self->clock = cmn_clock_new_virtual(0, SCN_WALL_START_NS);
    pl_policy_config_t policy_config = {
        .enabled = true,
        .kind = policy->kind,
        .scale_ok = PL_POLICY_SCALE_OK_DEFAULT,
        .scale_soft = PL_POLICY_SCALE_SOFT_DEFAULT,
        .scale_hard = PL_POLICY_SCALE_HARD_DEFAULT,
        .providers = NULL,
    };
    self->policy = pl_policy_new(&policy_config);
    self->records = calloc(SCN_SEND_BATCH_RECORDS, sizeof *self->records);
    uint64_t samples_max = (uint64_t)(scenario->duration_ns / SCN_TICK_NS);
    uint64_t *samples = malloc(samples_max * sizeof *samples);
    int rc = -1;
    if (!self->clock || !self->policy || !self->records || !samples)
        goto done;

    s_coordinator_t *coordinator = &self->coordinator;
    double rate =
        scenario->overload * scenario->sink_rate / (double)scenario->pipelines;
    for (size_t k = 0; k < scenario->pipelines; k++)
        if (s_pipeline_new(
                self, &self->pipelines[k], rate,
                scenario->delay_ns + (k % 2 ? scenario->delay_odd_ns : 0),
                policy->ramp_ms ? policy->ramp_ms : SCN_RAMP_MS) != 0)
            goto done;
    if (s_core_start(self) != 0)
        goto done;

    uint64_t samples_taken = 0;
    double depth_sum = 0;
    double available_records = 0; /* what the sink could have written */
    uint64_t pipeline_ticks = 0;
    int64_t stall_end = scenario->stall_at_ns + scenario->stall_ns;
    int64_t restart_up = scenario->restart_at_ns + scenario->restart_down_ns;
    bool resumed = scenario->stall_ns == 0;
    while (s_now(self) < scenario->duration_ns && !self->failed) {
        int64_t now = s_now(self);
        if (scenario->restart_at_ns > 0 && now == scenario->restart_at_ns)
            s_core_crash(self);
        if (scenario->restart_at_ns > 0 && !coordinator->up &&
            now >= restart_up && s_core_start(self) != 0)
            goto done;
        uint64_t produced_before = self->pipelines[0].produced;
        for (size_t k = 0; k < scenario->pipelines; k++) {
            s_pipeline_t *pipeline = &self->pipelines[k];
            s_network_deliver(self, pipeline);
            s_subscriber_timer(self, pipeline);
            s_sender_fill(self, pipeline);
            s_sender_run(self, pipeline);
        }
        if (coordinator->up) {
            if (!s_sink_stalled(self))
                available_records += scenario->sink_rate * (double)SCN_TICK_NS /
                                     (double)CMN_NS_PER_SEC;
            s_core_run(self);
            s_sink_step(self);
            s_core_timer(self);
            s_publisher_timer(self);
            uint64_t depth = sc_intake_depth(coordinator->intake);
            samples[samples_taken++] = depth;
            depth_sum += (double)depth;
            if (depth > figures->depth_max)
                figures->depth_max = depth;
        }
        if (scn_trace && now % (SCN_TRACE_MS * CMN_NS_PER_MS) == 0)
            fprintf(
                scn_trace, "%8.3f %6llu %-4s %5.3f %8.1f\n",
                (double)now / (double)CMN_NS_PER_SEC,
                coordinator->up
                    ? (unsigned long long)sc_intake_depth(coordinator->intake)
                    : 0ULL,
                coordinator->up
                    ? mdbp_level_name(sc_intake_level(coordinator->intake))
                    : "down",
                pl_rate_coordinator_scale(self->pipelines[0].rates,
                                          self->pipelines[0].provider),
                pl_bucket_effective_rate(pl_rate_coordinator_bucket(
                    self->pipelines[0].rates, self->pipelines[0].provider)));
        for (size_t k = 0; k < scenario->pipelines; k++) {
            s_pipeline_t *pipeline = &self->pipelines[k];
            if (pl_rate_coordinator_scale(pipeline->rates,
                                          pipeline->provider) == 0.0)
                pipeline->scale0_ticks++;
            if (s_pipeline_stale(pipeline))
                pipeline->stale_ticks++;
            pipeline_ticks++;
        }
        if (!resumed && now >= stall_end &&
            self->pipelines[0].produced > produced_before) {
            figures->resume_s =
                (double)(now - stall_end) / (double)CMN_NS_PER_SEC;
            resumed = true;
        }
        cmn_clock_advance(self->clock, SCN_TICK_NS);
    }
    if (self->failed)
        goto done;
    if (!resumed)
        figures->resume_s = INFINITY;

    double minutes = (double)scenario->duration_ns / (double)CMN_NS_PER_SEC /
                     SCN_SECONDS_PER_MINUTE;
    figures->capacity = SCN_CAPACITY;
    figures->utilisation =
        available_records > 0 ? (double)self->written / available_records : 0;
    figures->depth_mean = samples_taken ? depth_sum / (double)samples_taken : 0;
    if (samples_taken > 0) {
        qsort(samples, samples_taken, sizeof *samples, s_compare_u64);
        size_t index =
            (size_t)ceil(SCN_PERCENTILE_99 * (double)samples_taken) - 1;
        figures->depth_p99 = samples[index];
    }
    figures->changes_per_min = (double)coordinator->changes / minutes;
    figures->rejected = self->rejected;
    figures->written = self->written;
    figures->events_sent = self->events_sent;
    figures->events_lost = self->events_lost;
    figures->restart_resume_s = self->restart_resume_s;
    uint64_t scale0_ticks = 0, stale_ticks = 0, acked = 0;
    for (size_t k = 0; k < scenario->pipelines; k++) {
        s_pipeline_t *pipeline = &self->pipelines[k];
        figures->produced += pipeline->produced;
        acked += pipeline->acked;
        scale0_ticks += pipeline->scale0_ticks;
        stale_ticks += pipeline->stale_ticks;
        const pl_feedback_counters_t *counters =
            pl_feedback_counters(pipeline->feedback);
        figures->gaps += counters->gaps;
        figures->restarts_seen += counters->restarts;
        figures->malformed += counters->malformed + counters->version;
        const pl_window_counters_t *window =
            pl_window_counters(pipeline->window);
        figures->resent += window->records_resent;
        figures->timeouts += window->timeouts;
        /* Conservation: every record made is acked or still held. */
        uint64_t held = pl_window_unacked_records(pipeline->window) +
                        pl_window_open_records(pipeline->window);
        if (pipeline->acked + held != pipeline->produced ||
            window->records_rejected > 0)
            figures->outstanding = UINT64_MAX; /* a record vanished */
    }
    if (figures->outstanding != UINT64_MAX)
        figures->outstanding = figures->produced - acked;
    for (size_t k = 0; k < scenario->pipelines; k++)
        figures->share[k] = figures->produced
                                ? (double)self->pipelines[k].produced /
                                      (double)figures->produced
                                : 0;
    figures->scale0_fraction =
        pipeline_ticks ? (double)scale0_ticks / (double)pipeline_ticks : 0;
    figures->stale_fraction =
        pipeline_ticks ? (double)stale_ticks / (double)pipeline_ticks : 0;
    figures->final_scale = pl_rate_coordinator_scale(
        self->pipelines[0].rates, self->pipelines[0].provider);
    rc = 0;
done:
    free(samples);
    s_model_destroy(self);
    return rc;
}
