/* pl_subscriber: the feedback subscriber actor.
 *
 * Design: one thread owns the SUB socket, the pl_feedback state and the
 * list of connected addresses. Resolution uses getaddrinfo in this thread: a
 * slow DNS server delays feedback processing by up to its timeout, which the
 * ttl-based staleness then reports honestly. */
#include "pl_subscriber.h"

#include <math.h>
#include <string.h>

#include "cmn_curve.h"
#include "cmn_json.h"
#include "cmn_log.h"

#define PL_SUB_MODULE "subscriber"
#define PL_SUB_ADDRESS_MAX 256
/* Feedback events queued on the SUB socket at most (bounds its memory). */
#define PL_SUB_RCVHWM 10000

/* One coordinator's labelled series, looked up once when it is first
 * heard (the registry lock stays off the message path). */
typedef struct {
    char id[MDBP_ID_MAX + 1];
    cmn_series_t *depth, *stale, *age, *level;
} s_shown_t;

typedef struct {
    pl_subscriber_config_t config;
    char *endpoints; /* owned copy */
    zsock_t *pipe;
    zloop_t *loop;
    int timer; /* zloop timer id, -1: none */
    zsock_t *sub;
    zsock_t *decisions; /* PUSH to the producer */
    zsock_t *limits[MDBP_PRIORITY_COUNT]; /* PUSH to each sender, or NULL */
    zsock_t *posted;    /* PULL from the HTTP receiver, or NULL */
    pl_feedback_t *feedback;
    pl_endpoints_t *addresses; /* the SUB's connections, kept with DNS */
    int64_t next_resolve_ns;
    int64_t next_status_ns;
    pl_feedback_counters_t published; /* counters already in the metrics */
    /* Coordinators whose gauges were published, so that the gauges of a
     * forgotten one can be reset (the registry cannot drop a series). */
    s_shown_t shown[PL_FEEDBACK_COORDINATORS_MAX];
    size_t shown_count;
    /* series, looked up once */
    cmn_series_t *events_by_level[MDBP_LEVEL_HARD + 1];
    cmn_series_t *gaps, *missed, *restarts, *malformed, *version, *table_full,
        *coordinators, *endpoints_connected;
    cmn_series_t *latency; /* observed at the store, when scale_cell is set */
    double stored_scale;   /* the decision stored last (the cell starts at 1) */
} s_self_t;

static const char *const s_level_names[] = {"ok", "soft", "hard"};

int pl_subscriber_check_endpoints(const char *endpoints, char *bad,
                                  size_t capacity)
{
    return pl_endpoints_check(endpoints, bad, capacity);
}

int pl_subscriber_resolve_dns(const char *host,
                              char addresses[][PL_SUBSCRIBER_ADDRESS_TEXT_MAX],
                              size_t max, void *arg)
{
    return pl_endpoints_resolve_dns(host, addresses, max, arg);
}

/* Resolves every endpoint again: new addresses connected, vanished ones
 * dropped, a name that does not resolve keeps what it had. */
static void s_resolve(s_self_t *self)
{
    size_t kept = pl_endpoints_refresh(self->addresses);
    pl_status_set_subscribed(self->config.status, kept > 0);
    cmn_series_set(self->endpoints_connected, (double)kept);
}

static void s_add(cmn_series_t *series, uint64_t now, uint64_t was)
{
    if (now != was)
        cmn_series_add(series, now - was);
}

/* Adds the counters' growth since the last call to the metrics. */
static void s_publish_counters(s_self_t *self)
{
    const pl_feedback_counters_t *now = pl_feedback_counters(self->feedback);
    pl_feedback_counters_t *was = &self->published;
    for (int level = 0; level <= MDBP_LEVEL_HARD; level++)
        s_add(self->events_by_level[level], now->by_level[level],
              was->by_level[level]);
    s_add(self->gaps, now->gaps, was->gaps);
    s_add(self->missed, now->missed, was->missed);
    s_add(self->restarts, now->restarts, was->restarts);
    s_add(self->malformed, now->malformed, was->malformed);
    s_add(self->version, now->version, was->version);
    s_add(self->table_full, now->table_full, was->table_full);
    *was = *now;
}

/* The series of coordinator `id`, looked up on first sight. */
static s_shown_t *s_shown(s_self_t *self, const char *id)
{
    for (size_t k = 0; k < self->shown_count; k++)
        if (strcmp(self->shown[k].id, id) == 0)
            return &self->shown[k];
    assert(self->shown_count < PL_FEEDBACK_COORDINATORS_MAX);
    s_shown_t *shown = &self->shown[self->shown_count++];
    pl_metrics_t *metrics = self->config.metrics;
    snprintf(shown->id, sizeof shown->id, "%s", id);
    shown->depth = cmn_metric_series(metrics->feedback_queue_depth, id, NULL);
    shown->stale = cmn_metric_series(metrics->feedback_stale, id, NULL);
    shown->age = cmn_metric_series(metrics->feedback_age, id, NULL);
    shown->level = cmn_metric_series(metrics->feedback_level, id, NULL);
    return shown;
}

/* A forgotten coordinator's series would keep their last values forever
 * (a gone pod stale for the pipeline's life, a permanent false alert):
 * they leave /metrics. This actor is their only writer. */
static void s_reset_forgotten(s_self_t *self)
{
    size_t kept = 0;
    for (size_t k = 0; k < self->shown_count; k++) {
        s_shown_t *shown = &self->shown[k];
        bool gone = self->config.source_label
                        ? pl_feedback_count(self->feedback) == 0
                        : !pl_feedback_find(self->feedback, shown->id);
        if (gone) {
            cmn_series_remove(&shown->depth);
            cmn_series_remove(&shown->level);
            cmn_series_remove(&shown->stale);
            cmn_series_remove(&shown->age);
            cmn_log_info(PL_SUB_MODULE, "forgotten", "coordinator=%s",
                         shown->id);
            continue;
        }
        self->shown[kept++] = *shown;
    }
    self->shown_count = kept;
}

/* Per-coordinator gauges and the coordinators part of /status. */
static void s_publish_state(s_self_t *self, int64_t now)
{
    s_reset_forgotten(self);
    cmn_json_t *json = cmn_json_new();
    cmn_json_array_begin(json, NULL);
    size_t count = pl_feedback_count(self->feedback);
    bool fresh = count > 0;
    const char *label = self->config.source_label;
    double worst_depth = 0, worst_age = 0, worst_stale = 0, worst_level = 0;
    for (size_t k = 0; k < count; k++) {
        const pl_coordinator_view_t *view =
            pl_feedback_coordinator(self->feedback, k);
        double age = (double)(now - view->heard_ns) / (double)CMN_NS_PER_SEC;
        if (view->stale)
            fresh = false;
        worst_depth = fmax(worst_depth, (double)view->queue_size);
        worst_age = fmax(worst_age, age);
        worst_stale = fmax(worst_stale, view->stale ? 1 : 0);
        worst_level = fmax(worst_level, (double)view->effective);
        if (!label) {
            s_shown_t *shown = s_shown(self, view->id);
            cmn_series_set(shown->depth, (double)view->queue_size);
            cmn_series_set(shown->stale, view->stale ? 1 : 0);
            cmn_series_set(shown->age, age);
            cmn_series_set(shown->level, (double)view->effective);
        }
        cmn_json_object_begin(json, NULL);
        cmn_json_string(json, "id", view->id);
        cmn_json_uint(json, "epoch", view->epoch);
        cmn_json_uint(json, "seq", view->seq);
        cmn_json_string(json, "level", s_level_names[view->level]);
        cmn_json_string(json, "effective_level",
                        s_level_names[view->effective]);
        cmn_json_uint(json, "queue_depth", view->queue_size);
        cmn_json_uint(json, "capacity", view->capacity);
        cmn_json_double(json, "utilization", view->utilization);
        cmn_json_double(json, "scale_hint", view->scale_hint);
        cmn_json_double(json, "age_seconds", age);
        cmn_json_uint(json, "ttl_ms", view->ttl_ms);
        cmn_json_bool(json, "stale", view->stale);
        cmn_json_uint(json, "seq_gaps", view->gaps);
        cmn_json_uint(json, "restarts", view->restarts);
        cmn_json_object_end(json);
    }
    cmn_json_array_end(json);
    if (label && count > 0) {
        /* One series for all: the worst, so that an alert on it fires when
         * any coordinator would have fired it. */
        s_shown_t *shown = s_shown(self, label);
        cmn_series_set(shown->depth, worst_depth);
        cmn_series_set(shown->stale, worst_stale);
        cmn_series_set(shown->age, worst_age);
        cmn_series_set(shown->level, worst_level);
    }
    pl_status_publish(self->config.status, PL_STATUS_COORDINATORS,
                      cmn_json_text(json));
    cmn_json_destroy(&json);
    cmn_series_set(self->coordinators, (double)count);
    pl_status_set_fresh(self->config.status, fresh);
    self->next_status_ns = now + self->config.tick_ns;
}

/* Publishes a changed decision: its scale into the cell the buckets read
 * on their next take (for a fall, the moment the rate is applied: every
 * later grant obeys it; a rise is observed by the producer), then the
 * whole decision to the producer for its pressure level, gauges and logs
 * (and to wake it if it sleeps paused). */
static void s_decide(s_self_t *self, int64_t event_ts_ns)
{
    pl_feedback_decision_t decision;
    if (!pl_feedback_decide(self->feedback, self->config.policy, event_ts_ns,
                            &decision))
        return;
    if (self->config.scale_cell) {
        pl_scale_cell_store(self->config.scale_cell, decision.scale);
        bool here =
            pl_scale_cell_observed_at_store(self->stored_scale, decision.scale);
        self->stored_scale = decision.scale;
        if (here && event_ts_ns > 0) {
            int64_t late = cmn_clock_wall_ns(self->config.clock) - event_ts_ns;
            double seconds = (double)late / (double)CMN_NS_PER_SEC;
            cmn_series_observe(self->latency, seconds > 0 ? seconds : 0);
        }
    }
    /* Over inproc between our own threads: the struct as it is. A full
     * pipe (the producer is gone) drops it rather than block. */
    zsock_send(self->decisions, "b", &decision, sizeof decision);
    cmn_log_info(PL_SUB_MODULE, "decision", "level=%s scale=%.3f",
                 s_level_names[decision.level], decision.scale);
}

/* Hands changed limits to the senders (capacity, credits, liveness). */
static void s_limits(s_self_t *self)
{
    pl_feedback_limits_t limits;
    if (!pl_feedback_limits(self->feedback, &limits))
        return;
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++)
        if (self->limits[k])
            zsock_send(self->limits[k], "b", &limits, sizeof limits);
}

static void s_self_arm(s_self_t *self);

static int s_self_handle_sub(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    zmsg_t *message = zmsg_recv(reader);
    if (!message)
        return 0;
    const void *frames[3] = {NULL, NULL, NULL};
    size_t sizes[3] = {0, 0, 0};
    size_t count = 0;
    for (zframe_t *frame = zmsg_first(message); frame;
         frame = zmsg_next(message)) {
        if (count < 3) {
            frames[count] = zframe_data(frame);
            sizes[count] = zframe_size(frame);
        }
        count++;
    }
    mdbp_feedback_t event;
    pl_feedback_result_t result = pl_feedback_handle_message(
        self->feedback, frames, sizes, count, &event);
    zmsg_destroy(&message);
    if (result == PL_FEEDBACK_APPLIED) {
        s_decide(self, event.ts_ns); /* first: the latency that counts */
        s_limits(self);
    } else if (result == PL_FEEDBACK_MALFORMED || result == PL_FEEDBACK_VERSION)
        cmn_log_debug(PL_SUB_MODULE, "dropped", "reason=%s",
                      result == PL_FEEDBACK_VERSION ? "version" : "malformed");
    s_publish_counters(self);
    if (result == PL_FEEDBACK_APPLIED)
        s_publish_state(self, cmn_clock_mono_ns(self->config.clock));
    s_self_arm(self);
    return 0;
}

/* An event POSTed to /feedback (pl_http), already parsed: the same
 * engine call as a message from the SUB socket. The seed's shape has no
 * epoch or seq: its events are numbered here, per coordinator, in the
 * order they came. A webhook sends no heartbeats: the event is trusted for
 * posted_ttl_ms, then the coordinator is stale like a silent one. */
static int s_self_handle_posted(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    pl_posted_feedback_t posted;
    if (pl_actor_recv_struct(reader, &posted, sizeof posted, NULL) != 0) {
        cmn_log_error(PL_SUB_MODULE, "bad_posted", "reason=size");
        return 0;
    }
    mdbp_feedback_t *event = &posted.event;
    if (!posted.sequenced) {
        const pl_coordinator_view_t *view =
            pl_feedback_find(self->feedback, event->coordinator_id);
        event->epoch = PL_SUBSCRIBER_POSTED_EPOCH;
        event->seq =
            view && view->epoch == PL_SUBSCRIBER_POSTED_EPOCH ? view->seq + 1
                                                               : 1;
    }
    event->ttl_ms = self->config.posted_ttl_ms;
    pl_feedback_result_t result =
        pl_feedback_handle_event(self->feedback, event);
    if (result == PL_FEEDBACK_APPLIED) {
        s_decide(self, event->ts_ns);
        s_limits(self);
    }
    cmn_log_debug(PL_SUB_MODULE, "posted", "coordinator=%s level=%s result=%d",
                  event->coordinator_id, s_level_names[event->level],
                  (int)result);
    s_publish_counters(self);
    if (result == PL_FEEDBACK_APPLIED)
        s_publish_state(self, cmn_clock_mono_ns(self->config.clock));
    s_self_arm(self);
    return 0;
}

/* Time: re-resolution, staleness and forgetting, gauges. */
static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_self_t *self = arg;
    self->timer = -1; /* one-shot */
    int64_t now = cmn_clock_mono_ns(self->config.clock);
    if (now >= self->next_resolve_ns) {
        s_resolve(self);
        self->next_resolve_ns = now + self->config.resolve_ns;
    }
    pl_feedback_tick(self->feedback);
    s_decide(self, 0);
    s_limits(self);
    s_publish_counters(self);
    s_publish_state(self, now);
    s_self_arm(self);
    return 0;
}

/* One timer at the soonest of: the engine's deadline, the next resolution,
 * the next gauge refresh. */
static void s_self_arm(s_self_t *self)
{
    int64_t now = cmn_clock_mono_ns(self->config.clock);
    int64_t deadline = pl_feedback_deadline(self->feedback);
    if (self->next_resolve_ns < deadline)
        deadline = self->next_resolve_ns;
    if (self->next_status_ns < deadline)
        deadline = self->next_status_ns;
    if (self->timer >= 0)
        zloop_timer_end(self->loop, self->timer);
    self->timer = zloop_timer(self->loop, pl_actor_delay_ms(deadline, now), 1,
                              s_self_handle_timer, self);
}

static int s_self_handle_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)arg;
    char *command = NULL;
    zsock_recv(reader, "s", &command);
    bool term = !command || streq(command, "$TERM");
    if (!term)
        cmn_log_error(PL_SUB_MODULE, "bad_command", "command=%s", command);
    zstr_free(&command);
    return term ? -1 : 0;
}

static void s_self_destroy(s_self_t **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy(&self->loop);
    pl_feedback_destroy(&self->feedback);
    pl_endpoints_destroy(&self->addresses);
    zsock_destroy(&self->sub);
    zsock_destroy(&self->decisions);
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++)
        zsock_destroy(&self->limits[k]);
    zsock_destroy(&self->posted);
    free(self->endpoints);
    free(self);
    *self_p = NULL;
}

static void s_lookup_series(s_self_t *self)
{
    pl_metrics_t *m = self->config.metrics;
    for (int level = 0; level <= MDBP_LEVEL_HARD; level++)
        self->events_by_level[level] =
            cmn_metric_series(m->feedback_events, s_level_names[level], NULL);
    self->gaps = cmn_metric_series(m->feedback_seq_gaps, NULL);
    self->missed = cmn_metric_series(m->feedback_missed, NULL);
    self->restarts = cmn_metric_series(m->feedback_restarts, NULL);
    self->malformed =
        cmn_metric_series(m->feedback_malformed, "malformed", NULL);
    self->version = cmn_metric_series(m->feedback_malformed, "version", NULL);
    self->table_full =
        cmn_metric_series(m->feedback_malformed, "table_full", NULL);
    self->coordinators = cmn_metric_series(m->feedback_coordinators, NULL);
    self->endpoints_connected = cmn_metric_series(m->feedback_endpoints, NULL);
    self->latency = cmn_metric_series(m->rate_change_latency, NULL);
}

/* Makes the sockets and the state in the actor's thread. Returns NULL with
 * the reason in `why` on failure. */
static s_self_t *s_self_new(zsock_t *pipe, const pl_subscriber_config_t *config,
                            char *why, size_t size)
{
    s_self_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    self->config = *config;
    self->pipe = pipe;
    self->timer = -1;
    self->stored_scale = 1.0;
    if (!self->config.resolve)
        self->config.resolve = pl_subscriber_resolve_dns;
    self->endpoints = strdup(config->endpoints);
    self->config.endpoints = self->endpoints;
    self->config.decisions_endpoint = NULL; /* not kept */
    memset(self->config.limits_endpoints, 0,
           sizeof self->config.limits_endpoints);
    self->loop = zloop_new();
    self->sub = zsock_new(ZMQ_SUB);
    self->decisions = zsock_new(ZMQ_PUSH);
    self->feedback = pl_feedback_new(config->clock, &config->feedback);
    if (!self->endpoints || !self->loop || !self->sub || !self->decisions ||
        !self->feedback) {
        snprintf(why, size, "out of memory or sockets");
        s_self_destroy(&self);
        return NULL;
    }
    zsock_set_rcvhwm(self->sub, PL_SUB_RCVHWM);
    zsock_set_sndtimeo(self->decisions, 0);
    zsock_set_linger(self->decisions, 0);
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++) {
        if (!config->limits_endpoints[k])
            continue;
        self->limits[k] = zsock_new(ZMQ_PUSH);
        if (!self->limits[k] || zsock_connect(self->limits[k], "%s",
                                              config->limits_endpoints[k]) !=
                                    0) {
            snprintf(why, size, "cannot connect to the limits endpoint %s",
                     config->limits_endpoints[k]);
            s_self_destroy(&self);
            return NULL;
        }
        zsock_set_sndtimeo(self->limits[k], 0);
        zsock_set_linger(self->limits[k], 0);
    }
    if (config->posted_endpoint) {
        self->posted = zsock_new(ZMQ_PULL);
        if (!self->posted ||
            zsock_bind(self->posted, "%s", config->posted_endpoint) != 0) {
            snprintf(why, size, "cannot bind %s", config->posted_endpoint);
            s_self_destroy(&self);
            return NULL;
        }
    }
    self->config.posted_endpoint = NULL; /* not kept */
    if (config->curve_secret_key_file &&
        cmn_curve_client_apply(self->sub, config->curve_secret_key_file,
                               config->curve_server_key_file) != 0) {
        snprintf(why, size, "cannot apply the CURVE keys");
        s_self_destroy(&self);
        return NULL;
    }
    if (zsock_connect(self->decisions, "%s", config->decisions_endpoint) != 0) {
        snprintf(why, size, "cannot connect to %s: %s",
                 config->decisions_endpoint, zmq_strerror(zmq_errno()));
        s_self_destroy(&self);
        return NULL;
    }
    zsock_set_subscribe(self->sub, MDBP_FEEDBACK_TOPIC_PREFIX);
    self->addresses =
        pl_endpoints_new(self->sub, self->endpoints, self->config.resolve,
                         self->config.resolve_arg, PL_SUB_MODULE);
    if (!self->addresses) {
        snprintf(why, size, "out of memory");
        s_self_destroy(&self);
        return NULL;
    }
    s_lookup_series(self);
    int64_t now = cmn_clock_mono_ns(config->clock);
    s_resolve(self); /* first resolution and connections */
    if (pl_endpoints_failure(self->addresses)[0]) {
        snprintf(why, size, "%s", pl_endpoints_failure(self->addresses));
        s_self_destroy(&self);
        return NULL;
    }
    self->next_resolve_ns = now + config->resolve_ns;
    s_publish_counters(self);
    s_publish_state(self, now);
    zloop_set_nonstop(self->loop, true); /* signals are main's (sigwait) */
    zloop_reader(self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader(self->loop, self->sub, s_self_handle_sub, self);
    if (self->posted)
        zloop_reader(self->loop, self->posted, s_self_handle_posted, self);
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

zactor_t *pl_subscriber_new(const pl_subscriber_config_t *config, char *error)
{
    assert(config && config->clock && config->policy && config->metrics &&
           config->status && config->decisions_endpoint);
    char bad[PL_SUB_ADDRESS_MAX];
    if (pl_subscriber_check_endpoints(config->endpoints, bad, sizeof bad) !=
        0) {
        snprintf(error, PL_ACTOR_ERROR_MAX, "bad feedback endpoint '%.200s'",
                 bad);
        return NULL;
    }
    /* `config` outlives s_self_new(): pl_actor_started() waits for it. */
    zactor_t *actor = zactor_new(s_actor, (void *)config);
    if (pl_actor_started(actor, error) != 0) {
        zactor_destroy(&actor);
        return NULL;
    }
    return actor;
}
