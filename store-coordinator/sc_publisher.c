/* sc_publisher: transitions, heartbeats and snapshots on an XPUB socket. */
#include "sc_publisher.h"

#include "sc_broadcaster.h"
#include "cmn_log.h"
#include "cmn_random.h"
#include "proto_feedback.h"
#include "proto_subscription.h"
#include "sc_watermark.h"

/* Heartbeats are spread over +-10% of the interval. */
#define SC_HEARTBEAT_JITTER_PERCENT 10
/* A consumer trusts a state for three heartbeats. */
#define SC_FEEDBACK_TTL_HEARTBEATS 3
#define SC_FEEDBACK_BUFFER_BYTES 512
/* At most one snapshot per this interval: a client flooding subscriptions
 * cannot make the publisher flood every subscriber (late joiners still get
 * theirs within this time). */
#define SC_SNAPSHOT_INTERVAL_MS 10
#define SC_PERCENT 100

typedef struct {
    const sc_settings_t *settings;
    sc_state_t *state;
    sc_stats_t *stats;
    cmn_clock_t *clock;
    zsock_t *pipe;          /* to the core */
    zsock_t *xpub;          /* the feedback socket */
    cmn_webhook_t *webhook; /* transitions as JSON POSTs; NULL: off */
    zloop_t *loop;          /* pipe, xpub, heartbeat timer */
    int heartbeat_timer;    /* zloop timer id */
    char topic[PROTO_FEEDBACK_TOPIC_MAX]; /* "mds.fb/<id>/" */
    size_t topic_length;
    proto_level_t level;    /* as last reported by the core */
    proto_level_t previous; /* the level before that */
    const char *reason;     /* cause of the latest change, or NULL */
    uint64_t seq;           /* last seq published */
    uint64_t random;        /* xorshift state for jitter */
    msgpack_sbuffer buffer; /* encoded event, reused */
    double hint;            /* scale_hint of the last message */
    int64_t snapshot_ns;    /* when the last snapshot went out, or 0 */
    int snapshot_timer;     /* a deferred snapshot's timer, or -1 */
    bool finished;          /* FINAL sent: the shutdown heartbeat is last */
} s_publisher_t;

static void s_publish(s_publisher_t *self, proto_feedback_type_t type,
                      uint64_t depth, const char *reason)
{
    /* The core keeps answering `nack draining` after the drain until the
     * process exits; subscribers must still see the shutdown heartbeat as
     * the last message (no late heartbeat, snapshot or transition). */
    if (self->finished)
        return;
    const sc_settings_t *settings = self->settings;
    proto_feedback_t event = {
        .type = type,
        .epoch = settings->epoch,
        .seq = self->seq + 1,
        .ts_ns = cmn_clock_wall_ns(self->clock),
        .level = self->level,
        .prev_level = self->previous,
        .queue_size = depth,
        .capacity = settings->capacity,
        .low_wm = settings->watermark.low,
        .high_wm = settings->watermark.high,
        .utilization = (double)depth / (double)settings->capacity,
        .scale_hint = self->hint =
            sc_watermark_scale_hint(&settings->watermark, depth),
        .ttl_ms =
            (uint32_t)(SC_FEEDBACK_TTL_HEARTBEATS * settings->heartbeat_ms),
        .has_drain_rate = true,
        .drain_rate = atomic_load(&self->state->drain_rate),
    };
    if (event.utilization > 1.0)
        event.utilization = 1.0;
    snprintf(event.coordinator_id, sizeof event.coordinator_id, "%s",
             settings->coordinator_id);
    if (reason) {
        event.has_reason = true;
        snprintf(event.reason, sizeof event.reason, "%s", reason);
    }
    msgpack_sbuffer_clear(&self->buffer);
    if (proto_feedback_encode(&event, &self->buffer) != 0) {
        cmn_log_error("publisher", "encode_failed", "type=%s",
                      proto_feedback_type_name(type));
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
    cmn_series_inc(self->stats->feedback_messages[type]);
    if (type == PROTO_FEEDBACK_TRANSITION) {
        cmn_series_inc(self->stats->feedback_events[self->level]);
        sc_broadcaster_post(self->webhook, &event); /* never blocks */
    }
}

/* Why the level changed (feedback.md: for logs only). */
static const char *s_reason(proto_level_t level, proto_level_t previous)
{
    if (level == PROTO_LEVEL_HARD)
        return "queue at or above high watermark";
    if (level == PROTO_LEVEL_SOFT)
        return previous == PROTO_LEVEL_OK
                   ? "queue above low watermark"
                   : "queue below high watermark minus dead-band";
    return "queue at or below low watermark minus dead-band";
}

static uint64_t s_depth(s_publisher_t *self)
{
    return atomic_load(&self->state->depth);
}

static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg);

/* The next heartbeat in interval +-10%. */
static void s_arm_heartbeat(s_publisher_t *self)
{
    int64_t interval = self->settings->heartbeat_ms;
    int64_t spread = interval * SC_HEARTBEAT_JITTER_PERCENT / SC_PERCENT;
    int64_t delay =
        interval - spread +
        (int64_t)(cmn_random_next(&self->random) % (uint64_t)(2 * spread + 1));
    if (delay < 1)
        delay = 1;
    self->heartbeat_timer =
        zloop_timer(self->loop, (size_t)delay, 1, s_on_heartbeat, self);
}

static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_publisher_t *self = arg;
    s_publish(self, PROTO_FEEDBACK_HEARTBEAT, s_depth(self), self->reason);
    s_arm_heartbeat(self);
    return 0;
}

/* An early heartbeat when the hint moved since the last message (every
 * message carries it): at most one per SC_HINT_CHECK_MS. */
static int s_on_hint_check(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_publisher_t *self = arg;
    uint64_t depth = s_depth(self);
    if (sc_watermark_hint_moved(
            self->hint,
            sc_watermark_scale_hint(&self->settings->watermark, depth)))
        s_publish(self, PROTO_FEEDBACK_HEARTBEAT, depth, self->reason);
    return 0;
}

static int s_on_snapshot_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_publisher_t *self = arg;
    self->snapshot_timer = -1;
    self->snapshot_ns = cmn_clock_mono_ns(self->clock);
    s_publish(self, PROTO_FEEDBACK_SNAPSHOT, s_depth(self), self->reason);
    return 0;
}

static int s_on_subscription(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_publisher_t *self = arg;
    zframe_t *frame = zframe_recv(reader);
    if (!frame)
        return 0;
    /* Issue 12: the XPUB is manual (ZMQ_XPUB_MANUAL): only a prefix of our
     * topic (so at most 73 bytes) goes into libzmq's matching trie; others
     * are counted and refused. Every subscription that receives our topic
     * gets a snapshot (XPUB_VERBOSE: repeated ones too). */
    const void *prefix = NULL;
    size_t prefix_length = 0;
    proto_subscription_verdict_t verdict = proto_subscription_check(
        self->topic, self->topic_length, zframe_data(frame), zframe_size(frame),
        &prefix, &prefix_length);
    if (verdict == PROTO_SUBSCRIPTION_SUBSCRIBE ||
        verdict == PROTO_SUBSCRIPTION_UNSUBSCRIBE)
        zmq_setsockopt(zsock_resolve(self->xpub),
                       verdict == PROTO_SUBSCRIPTION_SUBSCRIBE
                           ? ZMQ_SUBSCRIBE
                           : ZMQ_UNSUBSCRIBE,
                       prefix, prefix_length);
    else if (verdict == PROTO_SUBSCRIPTION_OVERSIZED ||
             verdict == PROTO_SUBSCRIPTION_OTHER_TOPIC)
        cmn_series_inc(self->stats->feedback_subscriptions_refused
                           [verdict == PROTO_SUBSCRIPTION_OVERSIZED ? 0 : 1]);
    zframe_destroy(&frame);
    if (verdict != PROTO_SUBSCRIPTION_SUBSCRIBE)
        return 0;
    cmn_series_inc(self->stats->feedback_subscriptions);
    if (self->snapshot_timer != -1)
        return 0; /* one is already on its way */
    int64_t now = cmn_clock_mono_ns(self->clock);
    int64_t next = self->snapshot_ns + SC_SNAPSHOT_INTERVAL_MS * CMN_NS_PER_MS;
    if (self->snapshot_ns == 0 || now >= next) {
        self->snapshot_ns = now;
        s_publish(self, PROTO_FEEDBACK_SNAPSHOT, s_depth(self), self->reason);
    } else
        self->snapshot_timer = zloop_timer(
            self->loop,
            (size_t)((next - now + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS), 1,
            s_on_snapshot_timer, self);
    return 0;
}

static int s_on_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_publisher_t *self = arg;
    char *command = NULL;
    int level = 0, previous = 0;
    uint64_t depth = 0;
    zmsg_t *message = zmsg_recv(reader);
    if (!message)
        return -1;
    command = zmsg_popstr(message);
    int result = 0;
    if (!command || streq(command, "$TERM"))
        result = -1;
    else if (streq(command, "LEVEL")) {
        char *text = zmsg_popstr(message);
        level = text ? atoi(text) : 0;
        zstr_free(&text);
        text = zmsg_popstr(message);
        previous = text ? atoi(text) : 0;
        zstr_free(&text);
        text = zmsg_popstr(message);
        depth = text ? strtoull(text, NULL, 10) : 0;
        zstr_free(&text);
        self->previous = (proto_level_t)previous;
        self->level = (proto_level_t)level;
        self->reason = s_reason(self->level, self->previous);
        s_publish(self, PROTO_FEEDBACK_TRANSITION, depth, self->reason);
    } else if (streq(command, "FINAL")) {
        char *reason = zmsg_popstr(message);
        s_publish(self, PROTO_FEEDBACK_HEARTBEAT, s_depth(self), reason);
        self->finished = true;
        zstr_free(&reason);
        zsock_signal(reader, 0);
    }
    zstr_free(&command);
    zmsg_destroy(&message);
    return result;
}

void sc_publisher_actor(zsock_t *pipe, void *args)
{
    const sc_publisher_args_t *given = args;
    s_publisher_t self = {
        .settings = given->settings,
        .state = given->state,
        .stats = given->stats,
        .clock = given->clock,
        .pipe = pipe,
        .xpub = given->xpub,
        .webhook = given->webhook,
        .level = PROTO_LEVEL_OK,
        .previous = PROTO_LEVEL_OK,
        .snapshot_timer = -1,
        .hint = 1.0, /* an empty queue's: nothing to send early at start */
    };
    self.random = given->settings->epoch * 0x2545F4914F6CDD1Dull + 1;
    msgpack_sbuffer_init(&self.buffer);
    int length = proto_feedback_topic(self.settings->coordinator_id, self.topic,
                                      sizeof self.topic);
    assert(length > 0); /* validated at start-up */
    self.topic_length = (size_t)length;
    self.loop = zloop_new();
    zsock_signal(pipe, 0);
    if (self.loop) {
        zloop_reader(self.loop, pipe, s_on_pipe, &self);
        zloop_reader(self.loop, self.xpub, s_on_subscription, &self);
        s_arm_heartbeat(&self);
        zloop_timer(self.loop, SC_HINT_CHECK_MS, 0, s_on_hint_check, &self);
        zloop_start(self.loop);
    } else
        cmn_log_error("publisher", "start_failed", "%s", "");
    zloop_destroy(&self.loop);
    zsock_destroy(&self.xpub);
    msgpack_sbuffer_destroy(&self.buffer);
}
