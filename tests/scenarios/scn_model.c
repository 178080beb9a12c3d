/* scn_model: the closed-loop model on a virtual clock (see scn_model.h).
 *
 * One tick (SCN_TICK_NS) does, in this order: deliver the feedback messages
 * that are due to each pipeline and apply the result to its bucket; let each
 * pipeline take tokens and send batches; let the sink's workers write; run
 * the coordinator's engines at their deadlines (sc_intake_deadline,
 * sc_announcer_deadline), as the shells' timers do; sample the figures;
 * advance the clock. Every queue change runs sc_intake_update at once and
 * hands its snapshot to the announcer, as the core does. */
#include "scn_model.h"

#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h"
#include "pl_feedback.h"
#include "pl_rate_coordinator.h"
#include "proto_feedback.h"
#include "sc_announcer.h"
#include "sc_intake.h"

#define SCN_TICK_NS CMN_NS_PER_MS
#define SCN_WALL_START_NS INT64_C(1700000000000000000)
#define SCN_COORDINATOR_ID "coord-1"
/* The pipeline's sender with mdp-pipeline's defaults: batches of at most
 * MDP_SEND_BATCH_RECORDS records held at most MDP_SEND_BATCH_MS, a window of
 * MDP_SEND_WINDOW unacked batches (the producer stops while it is full).
 * After `nack full` it waits for the coordinator's retry hint (sc_intake's
 * own). */
#define SCN_SEND_BATCH_MAX SCN_SEND_BATCH_RECORDS
#define SCN_SEND_LINGER_NS (SCN_SEND_BATCH_MS * CMN_NS_PER_MS)
#define SCN_WINDOW_BATCHES SCN_SEND_WINDOW
#define SCN_PRODUCER_ID_BYTES 16
/* Bucket burst: this much time at the base rate. */
#define SCN_BURST_SEC 0.05
#define SCN_EVENT_BYTES_MAX 512
#define SCN_LINK_INITIAL 256
#define SCN_FORGET_SEC 300
#define SCN_SECONDS_PER_MINUTE 60.0
#define SCN_PERCENTILE_99 0.99

/* A batch the sender holds: waiting to be (re)sent, or unacked. */
typedef struct {
    uint64_t seq;
    size_t count;
} s_batch_t;

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
    pl_rate_coordinator_t *rates;
    size_t provider; /* index in rates */
    pl_feedback_t *feedback;
    s_link_t link;
    int64_t delay_ns;
    double scale; /* last scale applied */
    /* sender */
    size_t pending; /* records taken, not yet in a batch */
    int64_t pending_since_ns;
    s_batch_t outbox[SCN_WINDOW_BATCHES]; /* FIFO to (re)send */
    size_t outbox_head;
    size_t outbox_count;
    int64_t send_after_ns;                 /* back-off after nack full */
    s_batch_t unacked[SCN_WINDOW_BATCHES]; /* accepted by the queue */
    size_t unacked_count;
    uint64_t next_seq;
    /* figures */
    uint64_t produced;
    uint64_t acked;
    uint64_t scale0_ticks;
} s_pipeline_t;

typedef struct {
    bool busy;
    uint64_t chunk_id; /* the chunk sc_intake handed it */
    size_t count;      /* its records */
    double done;       /* records of the chunk written so far */
} s_worker_t;

typedef struct {
    sc_intake_config_t config;
    sc_intake_t *intake;       /* the core's engine */
    sc_announcer_t *announcer; /* the publisher's engine */
    bool up;
    uint64_t epoch;
    uint64_t seq; /* of the last message */
    s_worker_t workers[SCN_WORKERS];
    uint64_t changes;
} s_coordinator_t;

typedef struct {
    const scn_scenario_t *scenario;
    cmn_clock_t *clock;
    pl_policy_t *policy;
    s_coordinator_t coordinator;
    s_pipeline_t pipelines[SCN_PIPELINES_MAX];
    char producer_ids[SCN_PIPELINES_MAX][SCN_PRODUCER_ID_BYTES];
    int64_t heartbeat_ms; /* publisher interval */
    uint64_t rng_loss;
    uint64_t rng_other;
    proto_record_t *records; /* SCN_SEND_BATCH_MAX blank records */
    uint64_t written;
    uint64_t rejected;
    uint64_t events_sent;
    uint64_t events_lost;
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

/* Uniform in [0, 1). */
static double s_uniform(uint64_t *state)
{
    return (double)(s_random(state) >> 11) * 0x1.0p-53;
}

static int64_t s_now(s_model_t *self)
{
    return cmn_clock_mono_ns(self->clock);
}

/* ---- the network ---- */

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

/* ---- the coordinator's publisher (sc_announcer decides) ---- */

/* Encodes one announcement as the publisher's shell does and puts it on
 * every pipeline's link (minus the losses). */
static void s_publish(s_model_t *self, const sc_announcement_t *announcement)
{
    s_coordinator_t *coordinator = &self->coordinator;
    const sc_snapshot_t *state = &announcement->state;
    const sc_watermark_config_t *watermark = &coordinator->config.watermark;
    proto_feedback_t event = {
        .type = announcement->type,
        .epoch = coordinator->epoch,
        .seq = ++coordinator->seq,
        .ts_ns = cmn_clock_wall_ns(self->clock),
        .level = state->level,
        .prev_level = state->previous,
        .queue_size = state->depth,
        .capacity = watermark->capacity,
        .low_wm = watermark->low,
        .high_wm = watermark->high,
        .utilization = (double)state->depth / (double)watermark->capacity,
        .scale_hint = state->scale_hint,
        .ttl_ms = announcement->going_away
                      ? 0
                      : (uint32_t)(SCN_TTL_HEARTBEATS * self->heartbeat_ms),
        .has_drain_rate = true,
        .drain_rate = state->drain_rate,
        .has_oldest_age_ms = true,
        .oldest_age_ms = state->oldest_age_ms,
        .has_commit_latency_ms = true,
        .commit_latency_ms = state->commit_latency_ms,
        .sink_state = state->sink_state,
        .has_pressure = true,
        .pressure = state->pressure,
        .has_credit_initial = true,
        .credit_initial = state->credit_initial,
        .has_going_away = true,
        .going_away = announcement->going_away,
    };
    if (event.utilization > 1.0)
        event.utilization = 1.0;
    strcpy(event.coordinator_id, SCN_COORDINATOR_ID);
    if (state->reason[0] != '\0') {
        event.has_reason = true;
        snprintf(event.reason, sizeof event.reason, "%s", state->reason);
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    if (proto_feedback_encode(&event, &buffer) != 0) {
        self->failed = true;
        msgpack_sbuffer_destroy(&buffer);
        return;
    }
    self->events_sent++;
    for (size_t k = 0; k < self->scenario->pipelines; k++) {
        if (s_uniform(&self->rng_loss) < self->scenario->loss) {
            self->events_lost++;
            continue;
        }
        s_pipeline_t *pipeline = &self->pipelines[k];
        if (s_link_push(&pipeline->link, s_now(self) + pipeline->delay_ns,
                        buffer.data, buffer.size) != 0)
            self->failed = true;
    }
    msgpack_sbuffer_destroy(&buffer);
}

/* The publisher's jitter source, from the model's seeded generator. */
static uint64_t s_engine_random(void *arg)
{
    return s_random((uint64_t *)arg);
}

/* After any queue change and at the engine's deadline, as the core: the
 * intake's update, its snapshot handed to the announcer (a transition when
 * the level changed). */
static void s_coordinator_update(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_intake_update_t update;
    sc_intake_update(coordinator->intake, s_now(self), &update);
    if (update.snapshot.changed)
        coordinator->changes++;
    sc_announcement_t announcement;
    if (sc_announcer_state(coordinator->announcer, &update.snapshot,
                           s_now(self), &announcement))
        s_publish(self, &announcement);
}

/* Chunks for idle workers, as the core hands them out after every input
 * (the socket read empty: eager dispatch). */
static void s_coordinator_dispatch(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_intake_dispatch_t dispatch[SCN_WORKERS];
    size_t given =
        sc_intake_dispatch(coordinator->intake, s_now(self), true, dispatch);
    for (size_t i = 0; i < given; i++) {
        s_worker_t *worker = &coordinator->workers[dispatch[i].worker];
        *worker = (s_worker_t){.busy = true,
                               .chunk_id = dispatch[i].chunk.id,
                               .count = dispatch[i].chunk.count};
    }
}

/* The coordinator's engines' timers, as the shells arm them. */
static void s_coordinator_timers(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    int64_t now = s_now(self);
    if (now >= sc_intake_deadline(coordinator->intake)) {
        s_coordinator_update(self);
        s_coordinator_dispatch(self);
    }
    sc_announcement_t announcement;
    if (now >= sc_announcer_deadline(coordinator->announcer))
        while (sc_announcer_due(coordinator->announcer, now, &announcement))
            s_publish(self, &announcement);
}

/* A batch's last record is committed: the ack reaches its pipeline. */
static void s_on_ack(const sc_intake_ack_t *ack, void *arg)
{
    (void)arg;
    s_pipeline_t *pipeline = ack->tag;
    for (size_t k = 0; k < pipeline->unacked_count; k++) {
        if (pipeline->unacked[k].seq == ack->batch_seq) {
            pipeline->acked += pipeline->unacked[k].count;
            pipeline->unacked[k] = pipeline->unacked[--pipeline->unacked_count];
            return;
        }
    }
    assert(!"ack for a batch that is not unacked");
}

static int s_coordinator_start(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    coordinator->intake = sc_intake_new(&coordinator->config, s_now(self));
    sc_announcer_config_t announcer = {
        .heartbeat_ns = self->heartbeat_ms * CMN_NS_PER_MS,
        .random = s_engine_random,
        .random_arg = &self->rng_other,
    };
    coordinator->announcer = sc_announcer_new(&announcer, s_now(self));
    if (!coordinator->intake || !coordinator->announcer)
        return -1;
    memset(coordinator->workers, 0, sizeof coordinator->workers);
    coordinator->up = true;
    coordinator->epoch = s_random(&self->rng_other);
    /* The first message of an epoch may have any seq. */
    coordinator->seq = s_random(&self->rng_other) >> 40;
    s_coordinator_update(self);
    /* Every pipeline (re)subscribes: the XPUB answers with a snapshot. */
    sc_announcement_t announcement;
    if (sc_announcer_subscribed(coordinator->announcer, s_now(self),
                                &announcement))
        s_publish(self, &announcement);
    return 0;
}

static void s_coordinator_stop(s_coordinator_t *coordinator)
{
    /* The tags point into the model: nothing to free, nothing to answer. */
    if (coordinator->intake)
        sc_intake_discard(coordinator->intake, NULL, NULL);
    sc_intake_destroy(&coordinator->intake);
    sc_announcer_destroy(&coordinator->announcer);
}

/* kill -9: the queue is gone; the pipelines will resend what is unacked. */
static void s_coordinator_crash(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    s_coordinator_stop(coordinator);
    coordinator->up = false;
    for (size_t k = 0; k < self->scenario->pipelines; k++) {
        s_pipeline_t *pipeline = &self->pipelines[k];
        /* Unacked batches are older than the outbox's: they go first. */
        s_batch_t outbox[SCN_WINDOW_BATCHES];
        size_t count = 0;
        for (size_t u = 0; u < pipeline->unacked_count; u++)
            outbox[count++] = pipeline->unacked[u];
        for (size_t o = 0; o < pipeline->outbox_count; o++)
            outbox[count++] =
                pipeline
                    ->outbox[(pipeline->outbox_head + o) % SCN_WINDOW_BATCHES];
        assert(count <= SCN_WINDOW_BATCHES);
        memcpy(pipeline->outbox, outbox, count * sizeof outbox[0]);
        pipeline->outbox_head = 0;
        pipeline->outbox_count = count;
        pipeline->unacked_count = 0;
    }
}

/* ---- the sink ---- */

static bool s_sink_stalled(s_model_t *self)
{
    const scn_scenario_t *scenario = self->scenario;
    int64_t now = s_now(self);
    return scenario->stall_ns > 0 && now >= scenario->stall_at_ns &&
           now < scenario->stall_at_ns + scenario->stall_ns;
}

/* Each worker writes the chunk sc_intake handed it at its share of the sink
 * rate for one tick; a finished chunk is reported (DONE) and the next one
 * taken at once, as the core does. */
static void s_sink_step(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    double rate = s_sink_stalled(self) ? 0.0 : self->scenario->sink_rate;
    double per_worker =
        rate / SCN_WORKERS * (double)SCN_TICK_NS / (double)CMN_NS_PER_SEC;
    for (size_t w = 0; w < SCN_WORKERS; w++) {
        s_worker_t *worker = &coordinator->workers[w];
        double budget = per_worker;
        while (budget > 0) {
            if (!worker->busy)
                s_coordinator_dispatch(self);
            if (!worker->busy)
                break;
            double need = (double)worker->count - worker->done;
            if (budget < need) {
                worker->done += budget;
                break;
            }
            budget -= need;
            worker->busy = false;
            self->written += worker->count;
            sc_intake_done(coordinator->intake, w, worker->chunk_id,
                           worker->count, 0, 0, s_now(self), s_on_ack, NULL);
            s_coordinator_update(self);
        }
    }
}

/* ---- the pipeline ---- */

/* Delivers the messages that are due, applies time, and sets the bucket's
 * scale and pressure as the subscriber does. */
static void s_pipeline_feedback(s_model_t *self, s_pipeline_t *pipeline)
{
    char topic[PROTO_FEEDBACK_TOPIC_MAX];
    int topic_size =
        proto_feedback_topic(SCN_COORDINATOR_ID, topic, sizeof topic);
    assert(topic_size > 0);
    int64_t now = s_now(self);
    s_link_t *link = &pipeline->link;
    while (link->count > 0 && link->items[link->head].deliver_ns <= now) {
        s_message_t *message = &link->items[link->head];
        const void *frames[2] = {topic, message->data};
        size_t sizes[2] = {(size_t)topic_size, message->size};
        pl_feedback_handle_message(pipeline->feedback, frames, sizes, 2, NULL);
        link->head = (link->head + 1) % link->capacity;
        link->count--;
    }
    pl_feedback_tick(pipeline->feedback);
    pl_feedback_summary_t summary;
    pl_feedback_summarize(pipeline->feedback, self->policy, &summary);
    if (summary.scale != pipeline->scale) {
        pl_rate_coordinator_set_scale(pipeline->rates, pipeline->provider,
                                      summary.scale);
        pipeline->scale = summary.scale;
    }
    pl_rate_coordinator_set_pressure(pipeline->rates, pipeline->provider,
                                     summary.level);
}

/* Sends what the outbox holds, oldest first, until a nack full (then waits
 * for its retry hint). */
static void s_pipeline_send(s_model_t *self, s_pipeline_t *pipeline)
{
    s_coordinator_t *coordinator = &self->coordinator;
    int64_t now = s_now(self);
    size_t index = (size_t)(pipeline - self->pipelines);
    while (coordinator->up && pipeline->outbox_count > 0 &&
           now >= pipeline->send_after_ns) {
        s_batch_t *batch = &pipeline->outbox[pipeline->outbox_head];
        sc_intake_batch_t input = {
            .producer_id = self->producer_ids[index],
            .session = index + 1,
            .batch_seq = batch->seq,
            .records = self->records,
            .count = batch->count,
            .tag = pipeline,
        };
        sc_intake_admission_t admission;
        sc_intake_admit(coordinator->intake, &input, now, &admission);
        if (admission.verdict == SC_INTAKE_NACK) {
            assert(admission.reason == PROTO_NACK_FULL);
            self->rejected += batch->count;
            pipeline->send_after_ns =
                now + (int64_t)admission.retry_after_ms * CMN_NS_PER_MS;
            return;
        }
        assert(admission.verdict == SC_INTAKE_QUEUED);
        pipeline->unacked[pipeline->unacked_count++] = *batch;
        pipeline->outbox_head =
            (pipeline->outbox_head + 1) % SCN_WINDOW_BATCHES;
        pipeline->outbox_count--;
        s_coordinator_update(self);
    }
}

/* The producer takes what its bucket grants while the sender has room (as
 * pl_sender: while the window is full the batch being filled still fills up
 * to the batch size), and a batch is sealed when it is full or old enough
 * and the window has a free slot. */
static void s_pipeline_produce(s_model_t *self, s_pipeline_t *pipeline)
{
    int64_t now = s_now(self);
    size_t window = pipeline->outbox_count + pipeline->unacked_count;
    if (pipeline->pending < SCN_SEND_BATCH_MAX) {
        uint64_t granted =
            pl_rate_coordinator_take(pipeline->rates, pipeline->provider,
                                     SCN_SEND_BATCH_MAX - pipeline->pending);
        if (granted > 0 && pipeline->pending == 0)
            pipeline->pending_since_ns = now;
        pipeline->pending += granted;
        pipeline->produced += granted;
    }
    if (window < SCN_WINDOW_BATCHES && pipeline->pending > 0 &&
        (pipeline->pending >= SCN_SEND_BATCH_MAX ||
         now - pipeline->pending_since_ns >= SCN_SEND_LINGER_NS)) {
        size_t tail = (pipeline->outbox_head + pipeline->outbox_count) %
                      SCN_WINDOW_BATCHES;
        pipeline->outbox[tail] = (s_batch_t){.seq = pipeline->next_seq++,
                                             .count = pipeline->pending};
        pipeline->outbox_count++;
        pipeline->pending = 0;
    }
    s_pipeline_send(self, pipeline);
}

static int s_pipeline_init(s_model_t *self, s_pipeline_t *pipeline, double rate,
                           int64_t delay_ns, int64_t ramp_ms)
{
    pipeline->rates = pl_rate_coordinator_new(
        self->clock, ramp_ms > 0 ? ramp_ms * CMN_NS_PER_MS : 0);
    pl_feedback_config_t config = {
        .stale_level = PROTO_LEVEL_SOFT,
        .forget_ns = SCN_FORGET_SEC * CMN_NS_PER_SEC,
    };
    pipeline->feedback = pl_feedback_new(self->clock, &config);
    if (!pipeline->rates || !pipeline->feedback)
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
    pipeline->scale = 1.0;
    pipeline->next_seq = 1;
    return 0;
}

static void s_model_destroy(s_model_t *self)
{
    s_coordinator_stop(&self->coordinator);
    for (size_t k = 0; k < SCN_PIPELINES_MAX; k++) {
        pl_rate_coordinator_destroy(&self->pipelines[k].rates);
        pl_feedback_destroy(&self->pipelines[k].feedback);
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
    printf("MDS_HEARTBEAT_MS %d\n", SCN_HEARTBEAT_MS);
    printf("MDS_BATCH_EAGER true\n");
    printf("MDS_BATCH_TIMEOUT_MS %d\n", SCN_BATCH_TIMEOUT_MS);
    printf("MDS_BREAKER_TIMEOUT_MS %d\n", SCN_BREAKER_TIMEOUT_MS);
    printf("MDS_SOJOURN_TARGET_MS %d\n", SCN_SOJOURN_TARGET_MS);
    printf("MDS_SOJOURN_INTERVAL_MS %d\n", SCN_SOJOURN_INTERVAL_MS);
    printf("MDS_SINK_STALL_MS %d\n", SCN_SINK_STALL_MS);
    printf("MDS_SINK_RECOVERY_MS %d\n", SCN_SINK_RECOVERY_MS);
    printf("MDP_FB_RAMP_MS %d\n", SCN_RAMP_MS);
    printf("MDP_FB_POLICY step\n");
    printf("MDP_FB_SCALE_OK %g\n", PL_POLICY_SCALE_OK_DEFAULT);
    printf("MDP_FB_SCALE_SOFT %g\n", PL_POLICY_SCALE_SOFT_DEFAULT);
    printf("MDP_FB_SCALE_HARD %g\n", PL_POLICY_SCALE_HARD_DEFAULT);
    printf("MDP_FB_STALE_LEVEL soft\n");
    printf("MDP_SEND_BATCH_RECORDS %d\n", SCN_SEND_BATCH_RECORDS);
    printf("MDP_SEND_BATCH_MS %d\n", SCN_SEND_BATCH_MS);
    printf("MDP_SEND_WINDOW %d\n", SCN_SEND_WINDOW);
}

static int s_compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
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
    s_model_t model = {.scenario = scenario};
    s_model_t *self = &model;
    self->heartbeat_ms =
        policy->heartbeat_ms ? policy->heartbeat_ms : SCN_HEARTBEAT_MS;
    self->rng_loss = scenario->seed;
    self->rng_other = scenario->seed ^ UINT64_C(0x5DEECE66D);
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
    self->records = calloc(SCN_SEND_BATCH_MAX, sizeof *self->records);
    uint64_t samples_max = (uint64_t)(scenario->duration_ns / SCN_TICK_NS);
    uint64_t *samples = malloc(samples_max * sizeof *samples);
    int rc = -1;
    if (!self->clock || !self->policy || !self->records || !samples)
        goto done;

    const double capacity = SCN_CAPACITY;
    s_coordinator_t *coordinator = &self->coordinator;
    sc_watermark_config_t watermark = {
        .capacity = SCN_CAPACITY,
        .low = (uint64_t)(capacity * SCN_LOW_FRACTION),
        .high = (uint64_t)(capacity * SCN_HIGH_FRACTION),
        .dead_band = policy->hysteresis
                         ? (uint64_t)(capacity * (policy->dead_band > 0
                                                      ? policy->dead_band
                                                      : SCN_DEAD_BAND_FRACTION))
                         : 0,
        .dwell_ns = policy->hysteresis
                        ? (policy->dwell_ms ? policy->dwell_ms : SCN_DWELL_MS) *
                              CMN_NS_PER_MS
                        : 0,
    };
    /* mds-coordinator's defaults (check_defaults.py compares them). */
    coordinator->config = (sc_intake_config_t){
        .capacity = SCN_CAPACITY,
        .watermark = watermark,
        .workers = SCN_WORKERS,
        .batch_size = SCN_BATCH_SIZE,
        .batch_timeout_ns = SCN_BATCH_TIMEOUT_MS * CMN_NS_PER_MS,
        .batch_eager = true,
        .drain_timeout_ns = 0,
        .breaker_timeout_ms = SCN_BREAKER_TIMEOUT_MS,
        .sojourn_target_ns = SCN_SOJOURN_TARGET_MS * CMN_NS_PER_MS,
        .sojourn_interval_ns = SCN_SOJOURN_INTERVAL_MS * CMN_NS_PER_MS,
        .stall_ns = SCN_SINK_STALL_MS * CMN_NS_PER_MS,
        .recovery_ns = SCN_SINK_RECOVERY_MS * CMN_NS_PER_MS,
    };
    for (size_t k = 0; k < SCN_PIPELINES_MAX; k++)
        snprintf(self->producer_ids[k], sizeof self->producer_ids[k],
                 "pipeline-%zu", k);
    double rate =
        scenario->overload * scenario->sink_rate / (double)scenario->pipelines;
    for (size_t k = 0; k < scenario->pipelines; k++)
        if (s_pipeline_init(
                self, &self->pipelines[k], rate,
                scenario->delay_ns + (k % 2 ? scenario->delay_odd_ns : 0),
                policy->ramp_ms ? policy->ramp_ms : SCN_RAMP_MS) != 0)
            goto done;
    if (s_coordinator_start(self) != 0)
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
            s_coordinator_crash(self);
        if (scenario->restart_at_ns > 0 && !coordinator->up &&
            now >= restart_up && s_coordinator_start(self) != 0)
            goto done;
        for (size_t k = 0; k < scenario->pipelines; k++)
            s_pipeline_feedback(self, &self->pipelines[k]);
        uint64_t produced_before = self->pipelines[0].produced;
        for (size_t k = 0; k < scenario->pipelines; k++)
            s_pipeline_produce(self, &self->pipelines[k]);
        if (coordinator->up) {
            if (!s_sink_stalled(self))
                available_records += scenario->sink_rate * (double)SCN_TICK_NS /
                                     (double)CMN_NS_PER_SEC;
            s_sink_step(self);
            s_coordinator_timers(self);
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
                    ? proto_level_name(sc_intake_level(coordinator->intake))
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
    uint64_t scale0_ticks = 0, acked = 0;
    for (size_t k = 0; k < scenario->pipelines; k++) {
        s_pipeline_t *pipeline = &self->pipelines[k];
        figures->produced += pipeline->produced;
        acked += pipeline->acked;
        scale0_ticks += pipeline->scale0_ticks;
        const pl_feedback_counters_t *counters =
            pl_feedback_counters(pipeline->feedback);
        figures->gaps += counters->gaps;
        figures->restarts_seen += counters->restarts;
        figures->malformed += counters->malformed + counters->version;
        /* Conservation: every record made is acked or still held. */
        uint64_t held = pipeline->pending;
        for (size_t o = 0; o < pipeline->outbox_count; o++)
            held +=
                pipeline
                    ->outbox[(pipeline->outbox_head + o) % SCN_WINDOW_BATCHES]
                    .count;
        for (size_t u = 0; u < pipeline->unacked_count; u++)
            held += pipeline->unacked[u].count;
        if (pipeline->acked + held != pipeline->produced)
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
    figures->final_scale = self->pipelines[0].scale;
    rc = 0;
done:
    free(samples);
    /* Drain nothing: the queue's tags point into the model, which dies. */
    s_model_destroy(self);
    return rc;
}
