/* pl_producer: the actor that makes records as fast as the buckets allow. */
#include "pl_producer.h"

#include <string.h>

#include "cmn_json.h"
#include "cmn_log.h"

#define PL_PROD_MODULE "producer"
/* The loop wakes at least this often (status, commands). */
#define PL_PROD_WAIT_MAX_NS (100 * CMN_NS_PER_MS)
#define PL_PROD_STATUS_NS (250 * CMN_NS_PER_MS)
#define PL_PROD_DATA_HWM 2

typedef struct {
    pl_producer_source_t source;
    uint64_t produced;
    uint64_t bad_lines;    /* replay bad lines already counted */
    bool done;             /* limit reached or replay ended */
    double feedback_scale; /* last scale from feedback, 1.0 at start */
    double scale_cap;      /* manual override (admin), 1.0: none */
    cmn_series_t *produced_series, *scale, *state, *paused, *effective, *tokens,
        *breaker, *bad_series;
} s_provider_t;

typedef struct {
    pl_producer_config_t config;
    char *data_endpoint; /* owned copy */
    zsock_t *pipe;
    zsock_t *data;               /* PUSH to the sender */
    pl_rate_coordinator_t *rate; /* owned */
    s_provider_t providers[PL_RATE_PROVIDERS_MAX];
    size_t count;
    proto_record_t *chunk;
    size_t chunk_count;
    size_t next; /* round-robin start */
    bool stopped;
    bool terminated;
    int64_t next_status_ns;
    cmn_series_t *latency;
} s_producer_t;

static const char *const s_level_names[] = {"ok", "soft", "hard"};

/* Pushes the chunk without blocking. Returns true when it left (or was
 * empty). */
static bool s_push(s_producer_t *self)
{
    if (self->chunk_count == 0)
        return true;
    if (zmq_send(zsock_resolve(self->data), self->chunk,
                 self->chunk_count * sizeof(proto_record_t), ZMQ_DONTWAIT) < 0)
        return false;
    self->chunk_count = 0;
    return true;
}

/* Waits for the pipe (always) and for room to push (when `push`). */
static void s_wait(s_producer_t *self, int64_t wait_ns, bool push)
{
    zmq_pollitem_t items[] = {
        {zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve(self->data), 0, push ? ZMQ_POLLOUT : 0, 0},
    };
    if (wait_ns > PL_PROD_WAIT_MAX_NS)
        wait_ns = PL_PROD_WAIT_MAX_NS;
    long wait_ms = wait_ns <= 0
                       ? 0
                       : (long)((wait_ns + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS);
    if (zmq_poll(items, 2, wait_ms) < 0 && zmq_errno() != EINTR)
        self->terminated = true; /* context terminated */
}

/* The bucket's scale: the feedback's, capped by a manual override. */
static void s_apply_scale(s_producer_t *self, size_t idx)
{
    s_provider_t *provider = &self->providers[idx];
    double scale = provider->feedback_scale < provider->scale_cap
                       ? provider->feedback_scale
                       : provider->scale_cap;
    pl_rate_coordinator_set_scale(self->rate, idx, scale);
}

static void s_set_gauges(s_producer_t *self, size_t idx)
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
}

static void s_publish_status(s_producer_t *self, int64_t now)
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
        cmn_json_object_end(json);
    }
    cmn_json_array_end(json);
    pl_status_publish(self->config.status, PL_STATUS_PROVIDERS,
                      cmn_json_text(json));
    cmn_json_destroy(&json);
    self->next_status_ns = now + PL_PROD_STATUS_NS;
}

static char *s_pop(zmsg_t *message)
{
    char *text = zmsg_popstr(message);
    return text ? text : strdup("");
}

static void s_on_scale(s_producer_t *self, zmsg_t *message)
{
    char *idx_text = s_pop(message), *scale_text = s_pop(message),
         *level_text = s_pop(message), *ts_text = s_pop(message);
    long idx = atol(idx_text);
    double scale = atof(scale_text);
    long level = atol(level_text);
    long long ts = atoll(ts_text);
    if (idx >= 0 && (size_t)idx < self->count && level >= PROTO_LEVEL_OK &&
        level <= PROTO_LEVEL_HARD) {
        self->providers[idx].feedback_scale = scale;
        s_apply_scale(self, (size_t)idx);
        pl_rate_coordinator_set_pressure(self->rate, (size_t)idx,
                                         (proto_level_t)level);
        s_set_gauges(self, (size_t)idx);
        if (ts > 0) {
            double latency =
                (double)(cmn_clock_wall_ns(self->config.clock) - ts) /
                (double)CMN_NS_PER_SEC;
            cmn_series_observe(self->latency, latency > 0 ? latency : 0);
        }
        cmn_log_info(PL_PROD_MODULE, "scale", "provider=%s scale=%.3f level=%s",
                     pl_rate_coordinator_name(self->rate, (size_t)idx),
                     pl_rate_coordinator_scale(self->rate, (size_t)idx),
                     s_level_names[level]);
    }
    zstr_free(&idx_text);
    zstr_free(&scale_text);
    zstr_free(&level_text);
    zstr_free(&ts_text);
}

static void s_on_override(s_producer_t *self, zmsg_t *message)
{
    char *idx_text = s_pop(message), *scale_text = s_pop(message);
    long idx = atol(idx_text);
    double cap = atof(scale_text);
    if (idx >= 0 && (size_t)idx < self->count && cap >= 0 && cap <= 1) {
        self->providers[idx].scale_cap = cap;
        s_apply_scale(self, (size_t)idx);
        s_set_gauges(self, (size_t)idx);
        cmn_log_info(PL_PROD_MODULE, "scale_override",
                     "provider=%s cap=%.3f scale=%.3f",
                     pl_rate_coordinator_name(self->rate, (size_t)idx), cap,
                     pl_rate_coordinator_scale(self->rate, (size_t)idx));
    }
    zstr_free(&idx_text);
    zstr_free(&scale_text);
}

static void s_on_cooldown(s_producer_t *self, zmsg_t *message)
{
    char *idx_text = s_pop(message), *scope = s_pop(message),
         *seconds = s_pop(message);
    long idx = atol(idx_text);
    if (idx >= 0 && (size_t)idx < self->count && scope[0]) {
        pl_rate_coordinator_trigger_cooldown(self->rate, (size_t)idx, scope,
                                             atof(seconds));
        cmn_log_info(PL_PROD_MODULE, "cooldown",
                     "provider=%s scope=%s "
                     "seconds=%s",
                     pl_rate_coordinator_name(self->rate, (size_t)idx), scope,
                     seconds);
    }
    zstr_free(&idx_text);
    zstr_free(&scope);
    zstr_free(&seconds);
}

static void s_on_stop(s_producer_t *self, zmsg_t *message)
{
    char *deadline_text = s_pop(message);
    int64_t deadline = cmn_clock_mono_ns(self->config.clock) +
                       atoll(deadline_text) * CMN_NS_PER_MS;
    zstr_free(&deadline_text);
    self->stopped = true;
    while (!s_push(self) && !self->terminated &&
           cmn_clock_mono_ns(self->config.clock) < deadline)
        s_wait(self, deadline - cmn_clock_mono_ns(self->config.clock), true);
    if (self->chunk_count > 0)
        cmn_log_warning(PL_PROD_MODULE, "stop_deadline", "dropped=%zu",
                        self->chunk_count);
    uint64_t produced = 0;
    for (size_t idx = 0; idx < self->count; idx++)
        produced += self->providers[idx].produced;
    cmn_log_info(PL_PROD_MODULE, "stopped", "produced=%llu",
                 (unsigned long long)produced);
    zstr_sendf(self->pipe, "%zu", self->chunk_count); /* not handed over */
}

static void s_on_pipe(s_producer_t *self)
{
    zmsg_t *message = zmsg_recv(self->pipe);
    char *command = message ? zmsg_popstr(message) : NULL;
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "SCALE"))
        s_on_scale(self, message);
    else if (streq(command, "COOLDOWN"))
        s_on_cooldown(self, message);
    else if (streq(command, "OVERRIDE"))
        s_on_override(self, message);
    else if (streq(command, "STOP"))
        s_on_stop(self, message);
    zstr_free(&command);
    zmsg_destroy(&message);
}

/* Logs a breaker transition (the source failed, or a probe succeeded). */
static void s_breaker_changed(s_producer_t *self, size_t idx,
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
static size_t s_make(s_producer_t *self, size_t idx, size_t n)
{
    s_provider_t *provider = &self->providers[idx];
    proto_record_t *out = self->chunk + self->chunk_count;
    size_t made = 0;
    if (provider->source.synthetic) {
        pl_synthetic_generate(provider->source.synthetic,
                              cmn_clock_wall_ns(self->config.clock), out, n);
        made = n;
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
    self->chunk_count += made;
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

/* One pass over the providers. Returns true if anything was made. */
static bool s_produce(s_producer_t *self)
{
    bool made_any = false;
    for (size_t turn = 0; turn < self->count; turn++) {
        size_t idx = (self->next + turn) % self->count;
        s_provider_t *provider = &self->providers[idx];
        size_t room = self->config.chunk_records - self->chunk_count;
        if (room == 0)
            break;
        if (provider->done)
            continue;
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
static int64_t s_next_wait(s_producer_t *self)
{
    int64_t wait = PL_PROD_WAIT_MAX_NS;
    for (size_t idx = 0; idx < self->count; idx++) {
        if (self->providers[idx].done)
            continue;
        int64_t due = pl_rate_coordinator_wait_ns(self->rate, idx, 1);
        if (due < wait)
            wait = due;
    }
    return wait;
}

static void s_loop(s_producer_t *self)
{
    while (!self->terminated) {
        while (!self->terminated && (zsock_events(self->pipe) & ZMQ_POLLIN))
            s_on_pipe(self);
        if (self->terminated)
            break;
        int64_t now = cmn_clock_mono_ns(self->config.clock);
        if (now >= self->next_status_ns)
            s_publish_status(self, now);
        if (self->stopped) {
            s_wait(self, PL_PROD_WAIT_MAX_NS, false);
            continue;
        }
        if (self->chunk_count == self->config.chunk_records && !s_push(self)) {
            s_wait(self, PL_PROD_WAIT_MAX_NS, true);
            continue;
        }
        if (s_produce(self))
            continue;
        /* Nothing to make now: hand over what we have, then wait. */
        if (!s_push(self)) {
            s_wait(self, PL_PROD_WAIT_MAX_NS, true);
            continue;
        }
        s_wait(self, s_next_wait(self), false);
    }
}

static void s_actor(zsock_t *pipe, void *args)
{
    s_producer_t *self = args;
    self->pipe = pipe;
    self->data = zsock_new(ZMQ_PUSH);
    self->chunk = calloc(self->config.chunk_records, sizeof *self->chunk);
    if (!self->data || !self->chunk) {
        zsock_signal(pipe, 1);
    } else {
        zsock_set_sndhwm(self->data, PL_PROD_DATA_HWM);
        zsock_set_linger(self->data, 0);
        zsock_connect(self->data, "%s", self->data_endpoint);
        pl_metrics_t *m = self->config.metrics;
        self->latency = cmn_metric_series(m->rate_change_latency, NULL);
        for (size_t idx = 0; idx < self->count; idx++) {
            s_provider_t *p = &self->providers[idx];
            const char *name = pl_rate_coordinator_name(self->rate, idx);
            p->produced_series =
                cmn_metric_series(m->records_produced, name, NULL);
            p->scale = cmn_metric_series(m->rate_scale_factor, name, NULL);
            p->state = cmn_metric_series(m->backpressure_state, name, NULL);
            p->paused = cmn_metric_series(m->paused, name, NULL);
            p->effective = cmn_metric_series(m->rate_effective, name, NULL);
            p->tokens = cmn_metric_series(m->bucket_tokens, name, NULL);
            p->breaker = cmn_metric_series(m->breaker_state, name, NULL);
            p->bad_series = cmn_metric_series(m->replay_bad_lines, name, NULL);
        }
        s_publish_status(self, cmn_clock_mono_ns(self->config.clock));
        zsock_signal(pipe, 0);
        s_loop(self);
    }
    for (size_t idx = 0; idx < self->count; idx++) {
        pl_synthetic_destroy(&self->providers[idx].source.synthetic);
        pl_replay_destroy(&self->providers[idx].source.replay);
    }
    pl_rate_coordinator_destroy(&self->rate);
    zsock_destroy(&self->data);
    free(self->chunk);
    free(self->data_endpoint);
    free(self);
}

zactor_t *pl_producer_new(pl_producer_config_t *config)
{
    assert(config && config->clock && config->rate && config->data_endpoint &&
           config->metrics && config->status);
    assert(config->chunk_records > 0);
    s_producer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->rate = config->rate;
    config->rate = NULL;
    self->count = pl_rate_coordinator_count(self->rate);
    for (size_t idx = 0; idx < self->count; idx++) {
        self->providers[idx].source = config->sources[idx];
        self->providers[idx].feedback_scale = 1.0;
        self->providers[idx].scale_cap = 1.0;
        memset(&config->sources[idx], 0, sizeof config->sources[idx]);
    }
    self->data_endpoint = strdup(config->data_endpoint);
    return zactor_new(s_actor, self);
}
