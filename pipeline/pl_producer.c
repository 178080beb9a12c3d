/* pl_producer: the actor that makes records as fast as the buckets allow. */
#include "pl_producer.h"

#include <string.h>

#include "cmn_json.h"
#include "cmn_log.h"

#define PL_PROD_MODULE "producer"
/* The loop wakes at least this often while producing (ramps). */
#define PL_PROD_WAIT_MAX_NS (100 * CMN_NS_PER_MS)
#define PL_PROD_STATUS_NS (250 * CMN_NS_PER_MS)
#define PL_PROD_DATA_HWM 2
/* Inputs queued on the decision and admin sockets at most. */
#define PL_PROD_INPUT_HWM 1000
/* Push records read per event at most, so that one busy feed cannot keep
 * the loop from its other work (issue 16). */
#define PL_PROD_PUSH_BURST 4096

/* The way to the sender of one class (issue 16): a provider's records go
 * to the lane of its class, so a class whose window is full stops only
 * its own providers. */
typedef struct {
    zsock_t *data;        /* PUSH to that sender; NULL: class not in use */
    mdbp_record_t *chunk; /* records not handed over yet */
    size_t chunk_count;
    bool blocked;        /* the chunk waits for room on the data socket */
    cmn_series_t *acked; /* the sender's, read to release spool segments */
} s_lane_t;

typedef struct {
    pl_producer_source_t source;
    uint64_t produced;
    uint64_t bad_lines;    /* replay bad lines already counted */
    bool done;             /* limit reached or replay ended */
    bool scaled;           /* feedback applies to it (the policy) */
    double feedback_scale; /* last scale from feedback, 1.0 at start */
    double scale_cap;      /* manual override (admin), 1.0: none */
    bool polling;          /* a push feed's descriptor is in the loop */
    cmn_series_t *produced_series, *scale, *state, *paused, *effective, *tokens,
        *breaker, *bad_series, *cooldowns;
} s_provider_t;

/* What pl_producer_new() hands the actor: the config and what it took. */
typedef struct {
    pl_producer_config_t config;
} s_args_t;

typedef struct {
    pl_producer_config_t config;
    zsock_t *pipe;
    zloop_t *loop;
    int timer;          /* zloop timer id, -1: none */
    bool announced;     /* PL_PRODUCER_DONE was sent */
    s_lane_t lanes[MDBP_PRIORITY_COUNT]; /* by class */
    zsock_t *decisions; /* PULL from the subscriber */
    zsock_t *admin;     /* PULL from the HTTP admin routes */
    pl_rate_coordinator_t *rate; /* owned */
    s_provider_t providers[PL_RATE_PROVIDERS_MAX];
    size_t count;
    size_t next; /* round-robin start */
    bool made;   /* the last pass made records: another may follow now */
    bool stopped;
    bool stop_pending; /* STOP not answered yet */
    int64_t stop_deadline_ns;
    int64_t next_status_ns;
    cmn_series_t *latency;
    uint64_t scale_seen;  /* the scale_cell value last applied */
    double decided_scale; /* the last decision message's scale */
} s_self_t;

static const char *const s_level_names[] = {"ok", "soft", "hard"};

static void s_self_arm(s_self_t *self);
static void s_pause_symbol(s_self_t *self, size_t idx, const char *scope);

/* The lane of provider idx's class. */
static s_lane_t *s_lane(s_self_t *self, size_t idx)
{
    return &self->lanes[self->providers[idx].source.priority];
}

/* Records a lane's chunk can take now (0 while it waits for its sender). */
static size_t s_room(const s_self_t *self, const s_lane_t *lane)
{
    return lane->blocked ? 0 : self->config.chunk_records - lane->chunk_count;
}

/* Pushes a lane's chunk without blocking. Returns true when it left (or
 * was empty). */
static bool s_push(s_lane_t *lane)
{
    if (lane->chunk_count == 0)
        return true;
    if (zmq_send(zsock_resolve(lane->data), lane->chunk,
                 lane->chunk_count * sizeof(mdbp_record_t), ZMQ_DONTWAIT) < 0)
        return false;
    lane->chunk_count = 0;
    return true;
}

/* Records not handed over, in every lane. */
static size_t s_held(const s_self_t *self)
{
    size_t held = 0;
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++)
        held += self->lanes[k].chunk_count;
    return held;
}

/* The bucket's scale: the feedback's, capped by a manual override. */
static void s_apply_scale(s_self_t *self, size_t idx)
{
    s_provider_t *provider = &self->providers[idx];
    double scale = provider->feedback_scale < provider->scale_cap
                       ? provider->feedback_scale
                       : provider->scale_cap;
    pl_rate_coordinator_set_scale(self->rate, idx, scale);
}

static void s_set_gauges(s_self_t *self, size_t idx)
{
    s_provider_t *provider = &self->providers[idx];
    pl_bucket_t *bucket = pl_rate_coordinator_bucket(self->rate, idx);
    cmn_series_set(provider->scale, pl_bucket_scale(bucket));
    cmn_series_set(provider->state,
                   (double)pl_rate_coordinator_pressure(self->rate, idx));
    cmn_series_set(provider->paused, pl_bucket_paused(bucket) ? 1 : 0);
    cmn_series_set(provider->effective, pl_bucket_effective_rate(bucket));
    cmn_series_set(provider->tokens, pl_bucket_tokens(bucket));
    cmn_series_set(provider->breaker,
                   (double)pl_rate_coordinator_breaker(self->rate, idx));
    cmn_series_set(provider->cooldowns,
                   (double)pl_rate_coordinator_cooldown_count(self->rate, idx));
}

/* Push feeds: age bound, fsync, gauges; spool segments the store has
 * acknowledged are released: counted within the feed's class (one sender,
 * one order of acks), not across classes whose acks overtake each other. */
static void s_feeds_tick(s_self_t *self)
{
    uint64_t made[MDBP_PRIORITY_COUNT] = {0};
    for (size_t idx = 0; idx < self->count; idx++)
        made[self->providers[idx].source.priority] +=
            self->providers[idx].produced;
    for (size_t idx = 0; idx < self->count; idx++) {
        pl_feed_t *feed = self->providers[idx].source.feed;
        if (!feed)
            continue;
        mdbp_priority_t priority = self->providers[idx].source.priority;
        pl_feed_tick(feed, cmn_clock_wall_ns(self->config.clock));
        pl_feed_release(
            feed, made[priority],
            (uint64_t)cmn_series_value(self->lanes[priority].acked));
    }
}

static void s_publish_status(s_self_t *self, int64_t now)
{
    cmn_json_t *json = cmn_json_new();
    cmn_json_array_begin(json, NULL);
    for (size_t idx = 0; idx < self->count; idx++) {
        s_provider_t *provider = &self->providers[idx];
        pl_bucket_t *bucket = pl_rate_coordinator_bucket(self->rate, idx);
        s_set_gauges(self, idx);
        cmn_json_object_begin(json, NULL);
        cmn_json_string(json, "name",
                        pl_rate_coordinator_name(self->rate, idx));
        cmn_json_string(json, "source", provider->source.source);
        cmn_json_double(json, "rate", pl_bucket_rate(bucket));
        cmn_json_double(json, "capacity", pl_bucket_capacity(bucket));
        cmn_json_double(json, "scale", pl_bucket_scale(bucket));
        cmn_json_double(json, "feedback_scale", provider->feedback_scale);
        cmn_json_double(json, "scale_override", provider->scale_cap);
        cmn_json_double(json, "effective_rate",
                        pl_bucket_effective_rate(bucket));
        cmn_json_double(json, "tokens", pl_bucket_tokens(bucket));
        cmn_json_string(
            json, "pressure",
            s_level_names[pl_rate_coordinator_pressure(self->rate, idx)]);
        cmn_json_bool(json, "paused", pl_bucket_paused(bucket));
        cmn_json_bool(json, "ramping", pl_bucket_ramping(bucket));
        cmn_json_string(json, "breaker",
                        pl_breaker_state_name(
                            pl_rate_coordinator_breaker(self->rate, idx)));
        cmn_json_array_begin(json, "cooldowns");
        size_t cooldowns = pl_rate_coordinator_cooldown_count(self->rate, idx);
        for (size_t k = 0; k < cooldowns; k++) {
            cmn_json_object_begin(json, NULL);
            cmn_json_string(
                json, "scope",
                pl_rate_coordinator_cooldown_scope(self->rate, idx, k));
            cmn_json_double(json, "seconds_left",
                            (double)pl_rate_coordinator_cooldown_left_ns(
                                self->rate, idx, k) /
                                (double)CMN_NS_PER_SEC);
            cmn_json_object_end(json);
        }
        cmn_json_array_end(json);
        cmn_json_uint(json, "produced", provider->produced);
        cmn_json_uint(json, "limit", provider->source.limit);
        cmn_json_bool(json, "done", provider->done);
        if (provider->source.feed) { /* issue 16: docs/spool.md */
            cmn_json_uint(json, "spool_records",
                          pl_feed_spool_records(provider->source.feed));
            cmn_json_uint(json, "conflated",
                          pl_feed_conflated(provider->source.feed));
        }
        cmn_json_object_end(json);
    }
    cmn_json_array_end(json);
    pl_status_publish(self->config.status, PL_STATUS_PROVIDERS,
                      cmn_json_text(json));
    cmn_json_destroy(&json);
    self->next_status_ns = now + PL_PROD_STATUS_NS;
    s_feeds_tick(self);
}

/* Logs a breaker transition (the source failed, or a probe succeeded). */
static void s_breaker_changed(s_self_t *self, size_t idx,
                              pl_breaker_state_t before)
{
    pl_breaker_state_t after = pl_rate_coordinator_breaker(self->rate, idx);
    if (after == before)
        return;
    const char *name = pl_rate_coordinator_name(self->rate, idx);
    if (after == PL_BREAKER_OPEN)
        cmn_log_warning(PL_PROD_MODULE, "breaker_open", "provider=%s was=%s",
                        name, pl_breaker_state_name(before));
    else
        cmn_log_info(PL_PROD_MODULE, "breaker_closed", "provider=%s", name);
    s_set_gauges(self, idx);
}

/* Makes up to `n` records of provider idx into the chunk. Returns how many
 * were made. */
static size_t s_make(s_self_t *self, size_t idx, size_t n)
{
    s_provider_t *provider = &self->providers[idx];
    s_lane_t *lane = s_lane(self, idx);
    mdbp_record_t *out = lane->chunk + lane->chunk_count;
    size_t made = 0;
    if (provider->source.synthetic) {
        made = pl_synthetic_generate(provider->source.synthetic,
                                     cmn_clock_wall_ns(self->config.clock), out,
                                     n);
    } else {
        pl_replay_t *replay = provider->source.replay;
        pl_breaker_state_t before =
            pl_rate_coordinator_breaker(self->rate, idx);
        while (made < n) {
            int rc = pl_replay_next(replay, &out[made]);
            if (rc == 1) {
                made++;
                continue;
            }
            if (rc == 0)
                provider->done = true;
            else
                pl_rate_coordinator_record_failure(self->rate, idx);
            break;
        }
        if (made > 0)
            pl_rate_coordinator_record_success(self->rate, idx);
        s_breaker_changed(self, idx, before);
        uint64_t bad = pl_replay_bad_lines(replay);
        if (bad != provider->bad_lines) {
            cmn_series_add(provider->bad_series, bad - provider->bad_lines);
            provider->bad_lines = bad;
        }
    }
    lane->chunk_count += made;
    provider->produced += made;
    cmn_series_add(provider->produced_series, made);
    if (provider->source.limit && provider->produced >= provider->source.limit)
        provider->done = true;
    if (provider->done)
        cmn_log_info(PL_PROD_MODULE, "provider_done",
                     "provider=%s produced=%llu",
                     pl_rate_coordinator_name(self->rate, idx),
                     (unsigned long long)provider->produced);
    return made;
}

static void s_take_scale(s_self_t *self);

/* A push feed's records into the chunk: its waiting ones first, then, when
 * `may_send`, new ones straight from the source; the rest wait (pl_feed).
 * Returns how many went into the chunk. */
static size_t s_make_feed(s_self_t *self, size_t idx, bool may_send)
{
    s_provider_t *provider = &self->providers[idx];
    pl_feed_t *feed = provider->source.feed;
    int64_t wall = cmn_clock_wall_ns(self->config.clock);
    s_lane_t *lane = s_lane(self, idx);
    mdbp_record_t *out = lane->chunk + lane->chunk_count;
    size_t room = may_send ? s_room(self, lane) : 0;
    size_t made = may_send ? pl_feed_drain(feed, out, room, self->rate, idx,
                                           wall)
                           : 0;
    made += pl_feed_intake(feed, out + made, room - made, may_send,
                           self->rate, idx, PL_PROD_PUSH_BURST, wall);
    lane->chunk_count += made;
    provider->produced += made;
    cmn_series_add(provider->produced_series, made);
    return made;
}

/* A push feed's descriptor is readable: read it now, whatever the state
 * (the source cannot wait: what cannot be sent is spooled). */
static int s_self_handle_feed(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    s_take_scale(self); /* the feed's tokens at the newest scale */
    for (size_t idx = 0; idx < self->count; idx++) {
        pl_feed_t *feed = self->providers[idx].source.feed;
        if (!feed || pl_feed_fd(feed) != item->fd)
            continue;
        bool may_send = !s_lane(self, idx)->blocked && !self->stopped;
        if (s_make_feed(self, idx, may_send) > 0)
            self->made = true;
    }
    s_self_arm(self);
    return 0;
}

/* Polls each push feed's descriptor while it reads (not while the block
 * policy holds a record). */
static void s_feeds_poll(s_self_t *self)
{
    for (size_t idx = 0; idx < self->count; idx++) {
        s_provider_t *provider = &self->providers[idx];
        pl_feed_t *feed = provider->source.feed;
        if (!feed || pl_feed_reading(feed) == provider->polling)
            continue;
        zmq_pollitem_t item = {NULL, pl_feed_fd(feed), ZMQ_POLLIN, 0};
        if (!provider->polling)
            zloop_poller(self->loop, &item, s_self_handle_feed, self);
        else
            zloop_poller_end(self->loop, &item);
        provider->polling = !provider->polling;
    }
}

/* Applies the subscriber's newest scale, if it changed, to every provider
 * the policy scales (one atomic load when it did not). */
static void s_take_scale(s_self_t *self)
{
    double scale;
    if (!self->config.scale_cell ||
        !pl_scale_cell_poll(self->config.scale_cell, &self->scale_seen, &scale))
        return;
    for (size_t idx = 0; idx < self->count; idx++)
        if (self->providers[idx].scaled) {
            self->providers[idx].feedback_scale = scale;
            s_apply_scale(self, idx);
        }
}

/* One pass over the providers. Returns true if anything was made. */
static bool s_produce(s_self_t *self)
{
    bool made_any = false;
    s_take_scale(self); /* before the takes: they obey the newest decision */
    for (size_t turn = 0; turn < self->count; turn++) {
        size_t idx = (self->next + turn) % self->count;
        s_provider_t *provider = &self->providers[idx];
        size_t room = s_room(self, s_lane(self, idx));
        if (room == 0 || provider->done)
            continue; /* its class's sender is full: others go on */
        if (provider->source.feed) {
            made_any = s_make_feed(self, idx, true) > 0 || made_any;
            continue;
        }
        if (provider->source.synthetic &&
            pl_synthetic_active(provider->source.synthetic,
                                cmn_clock_wall_ns(self->config.clock)) == 0)
            continue; /* every symbol in a symbol:S cooldown: no token */
        uint64_t want = room;
        if (provider->source.limit &&
            provider->source.limit - provider->produced < want)
            want = provider->source.limit - provider->produced;
        uint64_t granted = pl_rate_coordinator_take(self->rate, idx, want);
        if (granted > 0 && s_make(self, idx, (size_t)granted) > 0)
            made_any = true;
    }
    self->next = (self->next + 1) % self->count;
    return made_any;
}

/* Time until some provider may make a record. */
static int64_t s_next_wait(s_self_t *self)
{
    int64_t wait = PL_PROD_WAIT_MAX_NS;
    for (size_t idx = 0; idx < self->count; idx++) {
        if (self->providers[idx].done || s_lane(self, idx)->blocked)
            continue; /* its sender's room wakes the loop */
        pl_feed_t *feed = self->providers[idx].source.feed;
        if (feed && pl_feed_buffered(feed))
            return 0;
        if (feed && !pl_feed_waiting(feed))
            continue; /* its descriptor wakes the loop */
        int64_t due = pl_rate_coordinator_wait_ns(self->rate, idx, 1);
        if (due < wait)
            wait = due;
    }
    return wait;
}

/* Applies a decision of the subscriber to every provider it scales. */
static int s_self_handle_decision(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    size_t size = 0;
    pl_feedback_decision_t decision;
    bool valid =
        pl_actor_recv_struct(reader, &decision, sizeof decision, &size) == 0;
    if (!valid || decision.level > MDBP_LEVEL_HARD) {
        cmn_log_error(PL_PROD_MODULE, "bad_decision", "bytes=%zu", size);
        return 0;
    }
    s_take_scale(self); /* the cell, when there is one, is newer */
    for (size_t idx = 0; idx < self->count; idx++) {
        if (!self->providers[idx].scaled)
            continue;
        if (!self->config.scale_cell) {
            self->providers[idx].feedback_scale = decision.scale;
            s_apply_scale(self, idx);
        }
        pl_rate_coordinator_set_pressure(self->rate, idx, decision.level);
    }
    /* With the cell, a rise is ours to observe (pl_scale_cell.h): in force
     * now that this thread applied it. */
    bool observe =
        !self->config.scale_cell ||
        !pl_scale_cell_observed_at_store(self->decided_scale, decision.scale);
    self->decided_scale = decision.scale;
    if (decision.event_ts_ns > 0 && observe) {
        double latency = (double)(cmn_clock_wall_ns(self->config.clock) -
                                  decision.event_ts_ns) /
                         (double)CMN_NS_PER_SEC;
        cmn_series_observe(self->latency, latency > 0 ? latency : 0);
    }
    for (size_t idx = 0; idx < self->count; idx++)
        if (self->providers[idx].scaled) {
            s_set_gauges(self, idx);
            cmn_log_info(PL_PROD_MODULE, "scale",
                         "provider=%s scale=%.3f level=%s",
                         pl_rate_coordinator_name(self->rate, idx),
                         pl_rate_coordinator_scale(self->rate, idx),
                         s_level_names[decision.level]);
        }
    s_self_arm(self); /* a rise may make tokens due sooner */
    return 0;
}

static int s_self_handle_admin(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    size_t size = 0;
    pl_producer_admin_t command;
    bool valid =
        pl_actor_recv_struct(reader, &command, sizeof command, &size) == 0;
    valid = valid && command.provider < self->count &&
            command.scope[PL_RATE_SCOPE_MAX] == '\0';
    if (valid && command.kind == PL_PRODUCER_COOLDOWN && command.scope[0]) {
        pl_rate_coordinator_trigger_cooldown(self->rate, command.provider,
                                             command.scope, command.seconds);
        s_pause_symbol(self, command.provider, command.scope);
        s_set_gauges(self, command.provider);
        cmn_log_info(PL_PROD_MODULE, "cooldown",
                     "provider=%s scope=%s seconds=%.17g",
                     pl_rate_coordinator_name(self->rate, command.provider),
                     command.scope, command.seconds);
    } else if (valid && command.kind == PL_PRODUCER_OVERRIDE &&
               command.scale >= 0 && command.scale <= 1) {
        self->providers[command.provider].scale_cap = command.scale;
        s_apply_scale(self, command.provider);
        s_set_gauges(self, command.provider);
        cmn_log_info(PL_PROD_MODULE, "scale_override",
                     "provider=%s cap=%.3f scale=%.3f",
                     pl_rate_coordinator_name(self->rate, command.provider),
                     command.scale,
                     pl_rate_coordinator_scale(self->rate, command.provider));
    } else {
        cmn_log_error(PL_PROD_MODULE, "bad_admin_command", "bytes=%zu", size);
    }
    s_self_arm(self);
    return 0;
}

/* A symbol:S cooldown: the provider makes no record of S until it ends
 * (its end from the rate coordinator, which keeps the /status list). */
static void s_pause_symbol(s_self_t *self, size_t idx, const char *scope)
{
    size_t prefix = strlen(PL_RATE_SCOPE_SYMBOL_PREFIX);
    pl_synthetic_t *synthetic = self->providers[idx].source.synthetic;
    if (strncmp(scope, PL_RATE_SCOPE_SYMBOL_PREFIX, prefix) != 0 || !synthetic)
        return;
    int64_t left = pl_rate_coordinator_cooldown_ns(self->rate, idx, scope);
    if (pl_synthetic_pause(synthetic, scope + prefix,
                           cmn_clock_wall_ns(self->config.clock) + left) != 0)
        cmn_log_warning(PL_PROD_MODULE, "cooldown_unknown_symbol",
                        "provider=%s scope=%s",
                        pl_rate_coordinator_name(self->rate, idx), scope);
}

static uint64_t s_produced(const s_self_t *self)
{
    uint64_t produced = 0;
    for (size_t idx = 0; idx < self->count; idx++)
        produced += self->providers[idx].produced;
    return produced;
}

/* Answers STOP: what could not be handed over (main reports it: one
 * shutdown report, not a warning per actor). */
static void s_stop_reply(s_self_t *self)
{
    size_t held = s_held(self);
    cmn_log_info(PL_PROD_MODULE, "stopped", "produced=%llu not_handed_over=%zu",
                 (unsigned long long)s_produced(self), held);
    zsock_send(self->pipe, "s88", PL_PRODUCER_STOPPED, (uint64_t)held,
               s_produced(self));
    self->stop_pending = false;
    /* Reported as never sent: they must not leave later (the sender
     * counts what reaches it after the flush as never sent too). */
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++)
        self->lanes[k].chunk_count = 0;
}

/* Tells main once that every provider has ended and everything made was
 * handed over (MDP_EXIT_WHEN_DONE). */
static void s_announce_done(s_self_t *self)
{
    if (self->announced || s_held(self) > 0)
        return;
    for (size_t idx = 0; idx < self->count; idx++)
        if (!self->providers[idx].done)
            return;
    self->announced = true;
    cmn_log_info(PL_PROD_MODULE, "all_done", "produced=%llu",
                 (unsigned long long)s_produced(self));
    zsock_send(self->pipe, "s8", PL_PRODUCER_DONE, s_produced(self));
}

static int s_self_handle_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    char *command = NULL;
    uint64_t deadline_ms = 0;
    if (zsock_recv(reader, "s8", &command, &deadline_ms) != 0 || !command ||
        streq(command, "$TERM")) {
        zstr_free(&command);
        return -1; /* ends the loop */
    }
    if (streq(command, PL_PRODUCER_STOP)) {
        self->stopped = true;
        self->stop_pending = true;
        self->stop_deadline_ns = cmn_clock_mono_ns(self->config.clock) +
                                 (int64_t)deadline_ms * CMN_NS_PER_MS;
    } else if (streq(command, PL_PRODUCER_NOW)) {
        if (self->stop_pending)
            s_stop_reply(self);
    } else {
        cmn_log_error(PL_PROD_MODULE, "bad_command", "command=%s", command);
    }
    zstr_free(&command);
    s_self_arm(self);
    return 0;
}

/* The data socket has room again (registered only while blocked). */
static int s_self_handle_room(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_self_arm(arg);
    return 0;
}

/* One pass of production, when the timer says tokens may be due. */
static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_self_t *self = arg;
    self->timer = -1; /* one-shot */
    int64_t now = cmn_clock_mono_ns(self->config.clock);
    if (now >= self->next_status_ns)
        s_publish_status(self, now);
    if (!self->stopped)
        self->made = s_produce(self);
    s_self_arm(self);
    return 0;
}

/* Hands over a lane's chunk when it is full, when nothing more can be made
 * now or when stopping; watches its data socket only while a chunk is
 * stuck. Returns whether it is stuck. */
static bool s_lane_arm(s_self_t *self, s_lane_t *lane)
{
    if (!lane->data)
        return false;
    bool hand_over = lane->chunk_count == self->config.chunk_records ||
                     !self->made || self->stopped;
    bool blocked = hand_over && !s_push(lane);
    if (blocked != lane->blocked) {
        zmq_pollitem_t item = {zsock_resolve(lane->data), 0, ZMQ_POLLOUT, 0};
        if (blocked)
            zloop_poller(self->loop, &item, s_self_handle_room, self);
        else
            zloop_poller_end(self->loop, &item);
        lane->blocked = blocked;
    }
    return blocked;
}

/* After every event: the lanes' hand-overs (s_lane_arm), then the one
 * timer. */
static void s_self_arm(s_self_t *self)
{
    int64_t now = cmn_clock_mono_ns(self->config.clock);
    bool blocked = false; /* some lane waits for its sender */
    bool open = false;    /* some lane takes records */
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++) {
        bool stuck = s_lane_arm(self, &self->lanes[k]);
        blocked = blocked || stuck;
        open = open || (self->lanes[k].data && !stuck);
    }
    if (self->stop_pending && (!blocked || now >= self->stop_deadline_ns))
        s_stop_reply(self);
    s_feeds_poll(self);
    if (!blocked)
        s_announce_done(self);
    int64_t deadline = self->next_status_ns;
    if (self->stop_pending && self->stop_deadline_ns < deadline)
        deadline = self->stop_deadline_ns;
    if (!self->stopped && open) {
        int64_t wait = self->made ? 0 : s_next_wait(self);
        if (now + wait < deadline)
            deadline = now + wait;
    }
    if (self->timer >= 0)
        zloop_timer_end(self->loop, self->timer);
    self->timer = zloop_timer(self->loop, pl_actor_delay_ms(deadline, now), 1,
                              s_self_handle_timer, self);
}

static void s_self_destroy(s_self_t **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy(&self->loop);
    for (size_t idx = 0; idx < self->count; idx++) {
        pl_synthetic_destroy(&self->providers[idx].source.synthetic);
        pl_replay_destroy(&self->providers[idx].source.replay);
        pl_feed_destroy(&self->providers[idx].source.feed,
                        cmn_clock_wall_ns(self->config.clock));
    }
    pl_rate_coordinator_destroy(&self->rate);
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++) {
        zsock_destroy(&self->lanes[k].data);
        free(self->lanes[k].chunk);
    }
    zsock_destroy(&self->decisions);
    zsock_destroy(&self->admin);
    free(self);
    *self_p = NULL;
}

static void s_lookup_series(s_self_t *self)
{
    pl_metrics_t *m = self->config.metrics;
    self->latency = cmn_metric_series(m->rate_change_latency, NULL);
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++)
        if (self->lanes[k].data)
            self->lanes[k].acked = cmn_metric_series(
                m->class_records_acked,
                mdbp_priority_name((mdbp_priority_t)k), NULL);
    for (size_t idx = 0; idx < self->count; idx++) {
        s_provider_t *p = &self->providers[idx];
        const char *name = pl_rate_coordinator_name(self->rate, idx);
        p->produced_series = cmn_metric_series(m->records_produced, name, NULL);
        p->scale = cmn_metric_series(m->rate_scale_factor, name, NULL);
        p->state = cmn_metric_series(m->backpressure_state, name, NULL);
        p->paused = cmn_metric_series(m->paused, name, NULL);
        p->effective = cmn_metric_series(m->rate_effective, name, NULL);
        p->tokens = cmn_metric_series(m->bucket_tokens, name, NULL);
        p->breaker = cmn_metric_series(m->breaker_state, name, NULL);
        p->bad_series = cmn_metric_series(m->replay_bad_lines, name, NULL);
        p->cooldowns = cmn_metric_series(m->cooldowns, name, NULL);
        if (p->source.feed)
            pl_feed_metrics(p->source.feed, m, name);
    }
}

/* A lane (socket and chunk) for each class that has a sender. Returns 0,
 * or -1 when out of memory or sockets. */
static int s_lanes_new(s_self_t *self)
{
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++) {
        s_lane_t *lane = &self->lanes[k];
        if (!self->config.data_endpoints[k])
            continue;
        lane->data = zsock_new(ZMQ_PUSH);
        lane->chunk = calloc(self->config.chunk_records, sizeof *lane->chunk);
        if (!lane->data || !lane->chunk)
            return -1;
        zsock_set_sndhwm(lane->data, PL_PROD_DATA_HWM);
        zsock_set_linger(lane->data, 0);
    }
    return 0;
}

/* Takes what `args` holds and makes the sockets, in the actor's thread.
 * Returns NULL with the reason in `why` (what was taken is destroyed). */
static s_self_t *s_self_new(zsock_t *pipe, s_args_t *args, char *why,
                            size_t size)
{
    s_self_t *self = calloc(1, sizeof *self);
    pl_producer_config_t *config = &args->config;
    if (!self) {
        snprintf(why, size, "out of memory");
        pl_rate_coordinator_destroy(&config->rate);
        for (size_t idx = 0; idx < PL_RATE_PROVIDERS_MAX; idx++) {
            pl_synthetic_destroy(&config->sources[idx].synthetic);
            pl_replay_destroy(&config->sources[idx].replay);
            pl_feed_destroy(&config->sources[idx].feed, 0);
        }
        return NULL;
    }
    self->config = *config;
    self->pipe = pipe;
    self->timer = -1;
    self->made = true; /* try at once */
    self->scale_seen = PL_SCALE_CELL_UNSEEN;
    self->decided_scale = 1.0; /* as the subscriber's first stored_scale */
    self->rate = config->rate;
    config->rate = NULL;
    self->count = pl_rate_coordinator_count(self->rate);
    for (size_t idx = 0; idx < self->count; idx++) {
        s_provider_t *provider = &self->providers[idx];
        provider->source = config->sources[idx];
        provider->feedback_scale = 1.0;
        provider->scale_cap = 1.0;
        /* A critical feed is paced by its credits alone (ingest.md 4.5). */
        provider->scaled =
            pl_policy_applies(config->policy,
                              pl_rate_coordinator_name(self->rate, idx)) &&
            provider->source.priority != MDBP_PRIORITY_CRITICAL;
        memset(&config->sources[idx], 0, sizeof config->sources[idx]);
    }
    self->loop = zloop_new();
    self->decisions = zsock_new(ZMQ_PULL);
    self->admin = zsock_new(ZMQ_PULL);
    if (!self->loop || !self->decisions || !self->admin ||
        s_lanes_new(self) != 0) {
        snprintf(why, size, "out of memory or sockets");
        s_self_destroy(&self);
        return NULL;
    }
    zsock_set_rcvhwm(self->decisions, PL_PROD_INPUT_HWM);
    zsock_set_rcvhwm(self->admin, PL_PROD_INPUT_HWM);
    const char *failed = NULL, *endpoint = NULL;
    for (int k = 0; k < MDBP_PRIORITY_COUNT && !failed; k++)
        if (self->lanes[k].data &&
            zsock_connect(self->lanes[k].data, "%s",
                          endpoint = config->data_endpoints[k]) != 0)
            failed = "cannot connect to";
    if (!failed && (zsock_bind(self->decisions, "%s",
                               endpoint = config->decisions_endpoint) != 0 ||
                    zsock_bind(self->admin, "%s",
                               endpoint = config->admin_endpoint) != 0))
        failed = "cannot bind";
    if (failed) {
        snprintf(why, size, "%s %s: %s", failed, endpoint,
                 zmq_strerror(zmq_errno()));
        s_self_destroy(&self);
        return NULL;
    }
    s_lookup_series(self);
    s_publish_status(self, cmn_clock_mono_ns(config->clock));
    zloop_set_nonstop(self->loop, true); /* signals are main's (sigwait) */
    zloop_reader(self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader(self->loop, self->decisions, s_self_handle_decision, self);
    zloop_reader(self->loop, self->admin, s_self_handle_admin, self);
    return self;
}

static void s_actor(zsock_t *pipe, void *args)
{
    zsock_signal(pipe, 0); /* zactor_new() waits for it; the report follows */
    char why[PL_ACTOR_ERROR_MAX];
    s_self_t *self = s_self_new(pipe, args, why, sizeof why);
    pl_actor_report(pipe, self ? NULL : why);
    if (!self)
        return;
    s_self_arm(self);
    zloop_start(self->loop);
    s_self_destroy(&self);
}

zactor_t *pl_producer_new(pl_producer_config_t *config, char *error)
{
    assert(config && config->clock && config->rate &&
           config->decisions_endpoint && config->admin_endpoint &&
           config->policy && config->metrics && config->status);
    assert(config->chunk_records > 0);
    /* What the actor takes moves out of `config` now, whatever happens. */
    s_args_t args = {.config = *config};
    config->rate = NULL;
    memset(config->sources, 0, sizeof config->sources);
    zactor_t *actor = zactor_new(s_actor, &args);
    int rc = pl_actor_started(actor, error);
    if (!actor) {
        pl_rate_coordinator_destroy(&args.config.rate);
        for (size_t idx = 0; idx < PL_RATE_PROVIDERS_MAX; idx++) {
            pl_synthetic_destroy(&args.config.sources[idx].synthetic);
            pl_replay_destroy(&args.config.sources[idx].replay);
            pl_feed_destroy(&args.config.sources[idx].feed, 0);
        }
    }
    if (rc != 0) {
        zactor_destroy(&actor);
        return NULL;
    }
    return actor;
}
