/* scn_model: the closed-loop model on a virtual clock (see scn_model.h).
 *
 * One tick (SCN_TICK_NS) does, in this order: deliver the feedback messages
 * that are due to each pipeline and apply the result to its bucket; let each
 * pipeline take tokens and send batches; let the sink's workers write; run
 * the coordinator's timers (level re-evaluation, heartbeat); sample the
 * figures; advance the clock. Every queue change re-evaluates the level at
 * once, as the coordinator's core does. */
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
#include "pl_window.h"
#include "proto_feedback.h"
#include "sc_queue.h"
#include "sc_watermark.h"

#define SCN_TICK_NS CMN_NS_PER_MS
#define SCN_WALL_START_NS INT64_C(1700000000000000000)
#define SCN_COORDINATOR_ID "coord-1"
/* The pipeline's sender with mdp-pipeline's defaults: batches of at most
 * MDP_SEND_BATCH_RECORDS records held at most MDP_SEND_BATCH_MS, a window of
 * MDP_SEND_WINDOW unacked batches (the producer stops while it is full).
 * After `nack full` it waits for the coordinator's retry hint: the time the
 * sink needs to free the missing slots, clamped as mds-coordinator does. */
#define SCN_SEND_BATCH_MAX SCN_SEND_BATCH_RECORDS
#define SCN_SEND_LINGER_NS (SCN_SEND_BATCH_MS * CMN_NS_PER_MS)
#define SCN_WINDOW_BATCHES SCN_SEND_WINDOW
/* MDP_SEND_ACK_TIMEOUT_MS, and pl_sender's pause after a failed send. */
#define SCN_ACK_TIMEOUT_MS 5000
#define SCN_SEND_RETRY_MS 100
#define SCN_RETRY_AFTER_MIN_NS (5 * CMN_NS_PER_MS)
#define SCN_RETRY_AFTER_MAX_NS (5000 * CMN_NS_PER_MS)
#define SCN_RETRY_AFTER_IDLE_NS (100 * CMN_NS_PER_MS)
/* Bucket burst: this much time at the base rate. */
#define SCN_BURST_SEC 0.05
#define SCN_EVENT_BYTES_MAX 512
#define SCN_LINK_INITIAL 256
#define SCN_FORGET_SEC 300
#define SCN_SECONDS_PER_MINUTE 60.0
#define SCN_PERCENTILE_99 0.99

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
    /* sender: mdp-pipeline's own send window engine (pl_window) */
    pl_window_t *window;
    /* figures */
    uint64_t produced;
    uint64_t acked;
    uint64_t scale0_ticks;
} s_pipeline_t;

typedef struct {
    bool busy;
    sc_chunk_t chunk;
    double done; /* records of the chunk written so far */
} s_worker_t;

typedef struct {
    sc_watermark_config_t config;
    sc_queue_t *queue;
    sc_watermark_t *watermark;
    bool up;
    uint64_t epoch;
    uint64_t seq;             /* of the last message */
    proto_level_t prev_level; /* before the latest change */
    double hint;              /* scale_hint of the last message */
    int64_t next_hint_check_ns;
    int64_t next_heartbeat_ns;
    int64_t next_level_tick_ns;
    s_worker_t workers[SCN_WORKERS];
    uint64_t changes;
} s_coordinator_t;

typedef struct {
    const scn_scenario_t *scenario;
    cmn_clock_t *clock;
    pl_policy_t *policy;
    s_coordinator_t coordinator;
    s_pipeline_t pipelines[SCN_PIPELINES_MAX];
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

/* ---- the coordinator's publisher ---- */

static void s_publish(s_model_t *self, proto_feedback_type_t type)
{
    s_coordinator_t *coordinator = &self->coordinator;
    uint64_t depth = sc_queue_depth(coordinator->queue);
    proto_feedback_t event = {
        .type = type,
        .epoch = coordinator->epoch,
        .seq = ++coordinator->seq,
        .ts_ns = cmn_clock_wall_ns(self->clock),
        .level = sc_watermark_level(coordinator->watermark),
        .prev_level = coordinator->prev_level,
        .queue_size = depth,
        .capacity = coordinator->config.capacity,
        .low_wm = coordinator->config.low,
        .high_wm = coordinator->config.high,
        .utilization = (double)depth / (double)coordinator->config.capacity,
        .scale_hint = sc_watermark_scale_hint(&coordinator->config, depth),
        .ttl_ms = (uint32_t)(SCN_TTL_HEARTBEATS * self->heartbeat_ms),
    };
    coordinator->hint = event.scale_hint;
    strcpy(event.coordinator_id, SCN_COORDINATOR_ID);
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

static int64_t s_heartbeat_interval(s_model_t *self)
{
    double jitter =
        SCN_HEARTBEAT_JITTER * (2.0 * s_uniform(&self->rng_other) - 1.0);
    return (int64_t)((double)self->heartbeat_ms * (1.0 + jitter) *
                     (double)CMN_NS_PER_MS);
}

/* Re-evaluates the level after a queue change or on the timer. */
static void s_level_update(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    proto_level_t previous;
    if (!sc_watermark_update(coordinator->watermark,
                             sc_queue_depth(coordinator->queue), s_now(self),
                             &previous))
        return;
    coordinator->changes++;
    coordinator->prev_level = previous;
    s_publish(self, PROTO_FEEDBACK_TRANSITION);
}

/* A batch's last record is committed: the ack reaches its pipeline. */
static void s_on_batch_done(const sc_batch_result_t *result, void *arg)
{
    (void)arg;
    s_pipeline_t *pipeline = result->tag;
    pl_window_outcome_t outcome;
    /* A resend of a batch still queued (reconnect) is acked twice: the
     * second ack is late, as in pl_sender. */
    if (pl_window_ack(pipeline->window, result->batch_seq, 0, &outcome) ==
        PL_WINDOW_ACKED)
        pipeline->acked += outcome.records;
}

static int s_coordinator_start(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    coordinator->queue = sc_queue_new(coordinator->config.capacity);
    coordinator->watermark =
        sc_watermark_new(&coordinator->config, s_now(self));
    if (!coordinator->queue || !coordinator->watermark)
        return -1;
    memset(coordinator->workers, 0, sizeof coordinator->workers);
    coordinator->up = true;
    coordinator->epoch = s_random(&self->rng_other);
    /* The first message of an epoch may have any seq. */
    coordinator->seq = s_random(&self->rng_other) >> 40;
    coordinator->prev_level = PROTO_LEVEL_OK;
    coordinator->next_level_tick_ns =
        s_now(self) + SCN_LEVEL_TICK_MS * CMN_NS_PER_MS;
    coordinator->next_heartbeat_ns = s_now(self) + s_heartbeat_interval(self);
    coordinator->hint = 1.0;
    coordinator->next_hint_check_ns =
        s_now(self) + SC_HINT_CHECK_MS * CMN_NS_PER_MS;
    /* Every pipeline (re)connects (a restarted coordinator lost what was
     * in flight: pl_window resends it) and (re)subscribes: the XPUB
     * answers with a snapshot. */
    for (size_t k = 0; k < self->scenario->pipelines; k++)
        pl_window_connected(self->pipelines[k].window, s_now(self));
    s_publish(self, PROTO_FEEDBACK_SNAPSHOT);
    return 0;
}

/* kill -9: the queue is gone; the pipelines will resend what is unacked. */
static void s_coordinator_crash(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_queue_destroy(&coordinator->queue);
    sc_watermark_destroy(&coordinator->watermark);
    coordinator->up = false;
    for (size_t k = 0; k < self->scenario->pipelines; k++)
        pl_window_disconnected(self->pipelines[k].window, s_now(self));
}

/* ---- the sink ---- */

static bool s_sink_stalled(s_model_t *self)
{
    const scn_scenario_t *scenario = self->scenario;
    int64_t now = s_now(self);
    return scenario->stall_ns > 0 && now >= scenario->stall_at_ns &&
           now < scenario->stall_at_ns + scenario->stall_ns;
}

/* Each worker writes at its share of the sink rate for one tick, taking
 * chunks eagerly (MDS_BATCH_EAGER) of at most the batch size. */
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
            if (!worker->busy) {
                if (sc_queue_take(coordinator->queue, SCN_BATCH_SIZE, NULL,
                                  &worker->chunk) == 0)
                    break;
                worker->busy = true;
                worker->done = 0;
            }
            double need = (double)worker->chunk.count - worker->done;
            if (budget < need) {
                worker->done += budget;
                break;
            }
            budget -= need;
            worker->busy = false;
            self->written += worker->chunk.count;
            sc_queue_commit(coordinator->queue, worker->chunk.id,
                            worker->chunk.count, 0, 0, s_on_batch_done, NULL);
            s_level_update(self);
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
    /* As the subscriber hands the sender: capacity, liveness. */
    pl_feedback_limits_t limits;
    if (pl_feedback_limits(pipeline->feedback, &limits)) {
        pl_window_limits_t window = {.capacity = limits.capacity,
                                     .has_credit_initial =
                                         limits.has_credit_initial,
                                     .credit_initial = limits.credit_initial,
                                     .alive = limits.alive};
        pl_window_set_limits(pipeline->window, &window, now);
    }
}

/* The retry hint of a `nack full` for a batch of `count` records. */
static int64_t s_retry_after(s_model_t *self, size_t count)
{
    if (s_sink_stalled(self))
        return SCN_RETRY_AFTER_IDLE_NS;
    size_t free_slots = sc_queue_free(self->coordinator.queue);
    size_t needed = count > free_slots ? count - free_slots : 1;
    int64_t wait = (int64_t)((double)needed * (double)CMN_NS_PER_SEC /
                             self->scenario->sink_rate);
    if (wait < SCN_RETRY_AFTER_MIN_NS)
        return SCN_RETRY_AFTER_MIN_NS;
    return wait > SCN_RETRY_AFTER_MAX_NS ? SCN_RETRY_AFTER_MAX_NS : wait;
}

/* Does what the pipeline's send window says, as pl_sender does: a send
 * is a push into the coordinator's queue (nothing leaves while it is
 * down); `full` is a nack with the coordinator's retry hint. */
static void s_pipeline_send(s_model_t *self, s_pipeline_t *pipeline)
{
    s_coordinator_t *coordinator = &self->coordinator;
    int64_t now = s_now(self);
    pl_window_action_t action;
    while (pl_window_next(pipeline->window, now, false, &action)) {
        if (action.kind != PL_WINDOW_SEND)
            continue; /* SEAL, TIMED_OUT: no bytes in the model */
        if (!coordinator->up) {
            pl_window_sent(pipeline->window, action.slot, false, now);
            continue;
        }
        int rc = sc_queue_push(coordinator->queue, self->records,
                               action.records, pipeline, action.batch_seq);
        pl_window_sent(pipeline->window, action.slot, true, now);
        if (rc == SC_QUEUE_FULL) {
            self->rejected += action.records;
            int64_t retry = s_retry_after(self, action.records);
            pl_window_outcome_t outcome;
            pl_window_nack(
                pipeline->window, action.batch_seq, PROTO_NACK_FULL,
                (uint32_t)((retry + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS), now,
                &outcome);
            continue;
        }
        s_level_update(self);
    }
}

/* The producer takes what its bucket grants while the open batch has room
 * (as pl_sender: while the window is full the open batch still fills up
 * to the batch size); the window closes and sends batches. */
static void s_pipeline_produce(s_model_t *self, s_pipeline_t *pipeline)
{
    int64_t now = s_now(self);
    size_t room = pl_window_room(pipeline->window);
    if (room > 0) {
        uint64_t granted =
            pl_rate_coordinator_take(pipeline->rates, pipeline->provider, room);
        pl_window_fill(pipeline->window, (size_t)granted, now);
        pipeline->produced += granted;
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
    pl_window_config_t window = {
        .slots = SCN_WINDOW_BATCHES,
        .batch_records = SCN_SEND_BATCH_MAX,
        .batch_ns = SCN_SEND_LINGER_NS,
        .ack_timeout_ns = SCN_ACK_TIMEOUT_MS * CMN_NS_PER_MS,
        .retry_ns = SCN_SEND_RETRY_MS * CMN_NS_PER_MS,
        .nack_retry_ns = SCN_SEND_RETRY_MS * CMN_NS_PER_MS,
        .session = 1};
    pipeline->window = pl_window_new(&window);
    if (!pipeline->rates || !pipeline->feedback || !pipeline->window)
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
    return 0;
}

static void s_model_destroy(s_model_t *self)
{
    s_coordinator_t *coordinator = &self->coordinator;
    sc_queue_destroy(&coordinator->queue);
    sc_watermark_destroy(&coordinator->watermark);
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
    printf("MDS_HEARTBEAT_MS %d\n", SCN_HEARTBEAT_MS);
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
    coordinator->config = (sc_watermark_config_t){
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
            if (now >= coordinator->next_level_tick_ns) {
                s_level_update(self);
                coordinator->next_level_tick_ns +=
                    SCN_LEVEL_TICK_MS * CMN_NS_PER_MS;
            }
            /* The publisher's early heartbeat when the hint moved. */
            if (now >= coordinator->next_hint_check_ns) {
                if (sc_watermark_hint_moved(
                        coordinator->hint,
                        sc_watermark_scale_hint(
                            &coordinator->config,
                            sc_queue_depth(coordinator->queue))))
                    s_publish(self, PROTO_FEEDBACK_HEARTBEAT);
                coordinator->next_hint_check_ns +=
                    SC_HINT_CHECK_MS * CMN_NS_PER_MS;
            }
            if (now >= coordinator->next_heartbeat_ns) {
                s_publish(self, PROTO_FEEDBACK_HEARTBEAT);
                coordinator->next_heartbeat_ns =
                    now + s_heartbeat_interval(self);
            }
            uint64_t depth = sc_queue_depth(coordinator->queue);
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
                    ? (unsigned long long)sc_queue_depth(coordinator->queue)
                    : 0ULL,
                coordinator->up ? proto_level_name(sc_watermark_level(
                                      coordinator->watermark))
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
        uint64_t held = pl_window_open_records(pipeline->window) +
                        pl_window_unacked_records(pipeline->window);
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
