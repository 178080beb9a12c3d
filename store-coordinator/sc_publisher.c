/* sc_publisher: the shell around sc_announcer: the XPUB socket, the pipe to
 * the core and one timer (see sc_publisher.h). The announcer decides what
 * goes out and when; this file encodes and sends it. */
#include "sc_publisher.h"

#include "cmn_log.h"
#include "cmn_random.h"
#include <mdbp/feedback.h>
#include <mdbp/subscription.h>
#include "sc_actor.h"
#include "sc_announcer.h"
#include "sc_broadcaster.h"

#define S_RANDOM_SEED_MIX 0x2545F4914F6CDD1Dull

typedef struct {
    const sc_settings_t *settings;
    sc_state_t *state;
    sc_stats_t *stats;
    cmn_clock_t *clock;
    zsock_t *pipe;             /* to the core */
    zsock_t *xpub;             /* the feedback socket, owned */
    cmn_webhook_t *webhook;    /* transitions as JSON POSTs; NULL: off */
    zloop_t *loop;             /* pipe, xpub and the one timer */
    int timer_id;              /* armed from the announcer, or -1 */
    sc_announcer_t *announcer; /* the decisions */
    char topic[MDBP_FEEDBACK_TOPIC_MAX]; /* "mds.fb/<id>/" */
    size_t topic_length;
    uint64_t seq;           /* last seq published */
    uint64_t random;        /* xorshift state for jitter */
    mdbp_buffer_t buffer;   /* encoded event, reused */
} s_self_t;

static uint64_t s_random(void *arg)
{
    return cmn_random_next((uint64_t *)arg);
}

/* Encodes and sends one announcement; never blocks. */
static void s_publish(s_self_t *self, const sc_announcement_t *announcement)
{
    const sc_settings_t *settings = self->settings;
    sc_announcer_identity_t identity = {
        .coordinator_id = settings->coordinator_id,
        .epoch = settings->epoch,
        .capacity = settings->capacity,
        .low_wm = settings->watermark.low,
        .high_wm = settings->watermark.high,
        .heartbeat_ms = settings->heartbeat_ms,
    };
    mdbp_feedback_t event;
    sc_announcement_message(announcement, &identity, self->seq + 1,
                            cmn_clock_wall_ns(self->clock), &event);
    mdbp_buffer_reset(&self->buffer);
    if (mdbp_feedback_encode(&event, &self->buffer) != 0) {
        cmn_log_error("publisher", "encode_failed", "type=%s",
                      mdbp_feedback_type_name(event.type));
        return;
    }
    self->seq = event.seq;
    atomic_store(&self->state->seq, self->seq);
    /* PUB semantics: a subscriber past its high-water mark misses this
     * message; the send itself never blocks. */
    void *socket = zsock_resolve(self->xpub);
    if (zmq_send(socket, self->topic, self->topic_length,
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(socket, self->buffer.data, self->buffer.size, ZMQ_DONTWAIT) <
            0)
        cmn_log_debug("publisher", "send_failed", "error=\"%s\"",
                      zmq_strerror(zmq_errno()));
    cmn_series_inc(self->stats->feedback_messages[event.type]);
    if (event.type == MDBP_FEEDBACK_TRANSITION) {
        cmn_series_inc(self->stats->feedback_events[event.level]);
        sc_broadcaster_post(self->webhook, &event); /* never blocks */
    }
}

static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg);

/* Publishes whatever is due now and re-arms the timer. */
static void s_self_run(s_self_t *self)
{
    int64_t now = cmn_clock_mono_ns(self->clock);
    sc_announcement_t announcement;
    while (sc_announcer_due(self->announcer, now, &announcement))
        s_publish(self, &announcement);
    sc_actor_arm(self->loop, &self->timer_id,
                 sc_announcer_deadline(self->announcer), now,
                 s_self_handle_timer, self);
}

static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_self_t *self = arg;
    self->timer_id = -1; /* a one-shot timer */
    s_self_run(self);
    return 0;
}

static int s_self_handle_xpub(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    zframe_t *frame = zframe_recv(reader);
    if (!frame)
        return 0;
    /* Issue 12: the XPUB is manual (ZMQ_XPUB_MANUAL): only a prefix of our
     * topic (so at most 73 bytes) goes into libzmq's matching trie; others
     * are counted and refused. Every subscription that receives our topic
     * gets a snapshot (XPUB_VERBOSE: repeated ones too). */
    const void *prefix = NULL;
    size_t prefix_length = 0;
    mdbp_subscription_verdict_t verdict = mdbp_subscription_check(
        self->topic, self->topic_length, zframe_data(frame), zframe_size(frame),
        &prefix, &prefix_length);
    if (verdict == MDBP_SUBSCRIPTION_SUBSCRIBE ||
        verdict == MDBP_SUBSCRIPTION_UNSUBSCRIBE)
        zmq_setsockopt(zsock_resolve(self->xpub),
                       verdict == MDBP_SUBSCRIPTION_SUBSCRIBE
                           ? ZMQ_SUBSCRIBE
                           : ZMQ_UNSUBSCRIBE,
                       prefix, prefix_length);
    else if (verdict == MDBP_SUBSCRIPTION_OVERSIZED ||
             verdict == MDBP_SUBSCRIPTION_OTHER_TOPIC)
        cmn_series_inc(self->stats->feedback_subscriptions_refused
                           [verdict == MDBP_SUBSCRIPTION_OVERSIZED ? 0 : 1]);
    zframe_destroy(&frame);
    if (verdict != MDBP_SUBSCRIPTION_SUBSCRIBE)
        return 0;
    cmn_series_inc(self->stats->feedback_subscriptions);
    sc_announcement_t announcement;
    if (sc_announcer_subscribed(self->announcer, cmn_clock_mono_ns(self->clock),
                                &announcement))
        s_publish(self, &announcement);
    s_self_run(self);
    return 0;
}

static int s_self_handle_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    char *command = NULL;
    byte *data = NULL;
    size_t size = 0;
    if (zsock_recv(reader, "sb", &command, &data, &size) != 0)
        return -1;
    int result = 0;
    int64_t now = cmn_clock_mono_ns(self->clock);
    sc_announcement_t announcement;
    if (!command || streq(command, "$TERM"))
        result = -1;
    else if (streq(command, "STATE") && data && size == sizeof(sc_snapshot_t)) {
        sc_snapshot_t snapshot;
        memcpy(&snapshot, data, sizeof snapshot);
        if (sc_announcer_state(self->announcer, &snapshot, now, &announcement))
            s_publish(self, &announcement);
        s_self_run(self);
    } else if (streq(command, "FINAL")) {
        if (sc_announcer_final(self->announcer, now, &announcement))
            s_publish(self, &announcement);
        s_self_run(self); /* nothing more: disarms the timer */
        zsock_signal(reader, 0);
    } else
        cmn_log_error("publisher", "unknown_command", "command=%s", command);
    zstr_free(&command);
    free(data);
    return result;
}

static void s_self_destroy(s_self_t **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy(&self->loop);
    sc_announcer_destroy(&self->announcer);
    zsock_destroy(&self->xpub);
    mdbp_buffer_release(&self->buffer);
    free(self);
    *self_p = NULL;
}

static s_self_t *s_self_new(zsock_t *pipe, void *args, char *error)
{
    const sc_publisher_args_t *given = args;
    const sc_settings_t *settings = given->settings;
    zsock_t *xpub = given->xpub; /* ours from here on */
    s_self_t *self = calloc(1, sizeof *self);
    if (!self) {
        zsock_destroy(&xpub);
        snprintf(error, SC_ACTOR_ERROR_MAX, "publisher: out of memory");
        return NULL;
    }
    *self = (s_self_t){
        .settings = settings,
        .state = given->state,
        .stats = given->stats,
        .clock = given->clock,
        .pipe = pipe,
        .xpub = xpub,
        .webhook = given->webhook,
        .timer_id = -1,
    };
    mdbp_buffer_init(&self->buffer);
    self->random = settings->epoch * S_RANDOM_SEED_MIX + 1;
    int length = mdbp_feedback_topic(settings->coordinator_id, self->topic,
                                      sizeof self->topic);
    assert(length > 0); /* validated at start-up */
    self->topic_length = (size_t)length;
    sc_announcer_config_t config = {
        .heartbeat_ns = settings->heartbeat_ms * CMN_NS_PER_MS,
        .random = s_random,
        .random_arg = &self->random,
    };
    self->announcer = sc_announcer_new(&config, cmn_clock_mono_ns(self->clock));
    self->loop = zloop_new();
    if (!self->announcer || !self->loop) {
        snprintf(error, SC_ACTOR_ERROR_MAX, "publisher: out of memory");
        s_self_destroy(&self);
        return NULL;
    }
    zloop_reader(self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader(self->loop, self->xpub, s_self_handle_xpub, self);
    return self;
}

void sc_publisher_actor(zsock_t *pipe, void *args)
{
    zsock_signal(pipe, 0);
    char error[SC_ACTOR_ERROR_MAX] = "";
    s_self_t *self = s_self_new(pipe, args, error);
    if (!self) {
        cmn_log_error("publisher", "start_failed", "error=\"%s\"", error);
        sc_actor_report(pipe, error);
        sc_actor_wait_term(pipe);
        return;
    }
    sc_actor_report(pipe, NULL);
    s_self_run(self);
    zloop_start(self->loop);
    s_self_destroy(&self);
}
