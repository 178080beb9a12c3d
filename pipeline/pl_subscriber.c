/* pl_subscriber: the feedback subscriber actor.
 *
 * Design: one thread owns the SUB socket, the pl_feedback state and the
 * list of connected addresses. Resolution uses getaddrinfo in this thread: a
 * slow DNS server delays feedback processing by up to its timeout, which the
 * ttl-based staleness then reports honestly. */
#include "pl_subscriber.h"

#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <string.h>

#include "cmn_config.h"
#include "cmn_curve.h"
#include "cmn_json.h"
#include "cmn_log.h"

#define PL_SUB_MODULE "subscriber"
#define PL_SUB_ADDRESS_MAX 256
#define PL_SUB_LIST_SEPARATORS ", "
#define PL_SUB_TCP_PREFIX "tcp://"
/* Status is republished at most this often (it is also a tick). */
#define PL_SUB_RCVHWM 10000

typedef struct {
    char address[PL_SUB_ADDRESS_MAX]; /* what was connected */
    char origin[PL_SUB_ADDRESS_MAX];  /* the endpoint it came from */
    bool seen;                        /* found by the latest resolution */
} s_connection_t;

typedef struct {
    pl_subscriber_config_t config;
    char *endpoints;                  /* owned copy */
    zsock_t *pipe;
    zsock_t *sub;
    pl_feedback_t *feedback;
    s_connection_t connections[PL_SUBSCRIBER_ENDPOINTS_MAX];
    size_t connection_count;
    int64_t next_resolve_ns;
    int64_t next_tick_ns;
    proto_level_t level;              /* last decision sent */
    double scale;
    pl_feedback_counters_t published; /* counters already in the metrics */
    /* Coordinators whose gauges were last published, so that the gauges of
     * a forgotten one can be reset (the registry cannot drop a series). */
    char shown[PL_FEEDBACK_COORDINATORS_MAX][PROTO_ID_MAX + 1];
    size_t shown_count;
} s_subscriber_t;

static const char *const s_level_names[] = {"ok", "soft", "hard"};

/* Splits "tcp://host:port" into host and port. Returns 0 or -1. */
static int s_split_tcp(const char *endpoint, char *host, size_t host_size,
                       char *port, size_t port_size)
{
    if (strncmp(endpoint, PL_SUB_TCP_PREFIX, strlen(PL_SUB_TCP_PREFIX)) != 0)
        return -1;
    const char *rest = endpoint + strlen(PL_SUB_TCP_PREFIX);
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest || colon[1] == '\0')
        return -1;
    size_t host_length = (size_t)(colon - rest);
    if (host_length >= host_size || strlen(colon + 1) >= port_size)
        return -1;
    memcpy(host, rest, host_length);
    host[host_length] = '\0';
    strcpy(port, colon + 1);
    for (const char *c = port; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    return 0;
}

int pl_subscriber_check_endpoints(const char *endpoints, char *bad,
                                  size_t capacity)
{
    const char *cursor = endpoints, *entry;
    size_t length, items = 0;
    while ((entry = cmn_config_list_next(&cursor, PL_SUB_LIST_SEPARATORS,
                                         &length))) {
        char item[PL_SUB_ADDRESS_MAX];
        char host[PL_SUB_ADDRESS_MAX], port[16];
        bool ok = length < sizeof item;
        if (ok) {
            memcpy(item, entry, length);
            item[length] = '\0';
            ok = strncmp(item, "ipc://", 6) == 0 ||
                 strncmp(item, "inproc://", 9) == 0 ||
                 s_split_tcp(item, host, sizeof host, port, sizeof port) == 0;
        }
        if (!ok) {
            snprintf(bad, capacity, "%.*s", (int)length, entry);
            return -1;
        }
        items++;
    }
    if (items == 0) {
        snprintf(bad, capacity, "(empty list)");
        return -1;
    }
    return 0;
}

int pl_subscriber_resolve_dns(const char *host,
                              char addresses[][PL_SUBSCRIBER_ADDRESS_TEXT_MAX],
                              size_t max, void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc != 0) {
        cmn_log_warning(PL_SUB_MODULE, "resolve_failed", "host=%s error=\"%s\"",
                        host, gai_strerror(rc));
        return -1;
    }
    size_t count = 0;
    for (struct addrinfo *info = found; info && count < max;
         info = info->ai_next) {
        const struct sockaddr_in *address =
            (const struct sockaddr_in *)info->ai_addr;
        if (!inet_ntop(AF_INET, &address->sin_addr, addresses[count],
                       PL_SUBSCRIBER_ADDRESS_TEXT_MAX))
            continue;
        bool repeated = false; /* one entry per socket type and protocol */
        for (size_t k = 0; k < count && !repeated; k++)
            repeated = strcmp(addresses[k], addresses[count]) == 0;
        if (!repeated)
            count++;
    }
    freeaddrinfo(found);
    return (int)count;
}

static s_connection_t *s_find_connection(s_subscriber_t *self,
                                         const char *address)
{
    for (size_t k = 0; k < self->connection_count; k++)
        if (strcmp(self->connections[k].address, address) == 0)
            return &self->connections[k];
    return NULL;
}

static void s_want(s_subscriber_t *self, const char *origin,
                   const char *address)
{
    s_connection_t *connection = s_find_connection(self, address);
    if (connection) {
        connection->seen = true;
        return;
    }
    if (self->connection_count == PL_SUBSCRIBER_ENDPOINTS_MAX) {
        cmn_log_warning(PL_SUB_MODULE, "too_many_addresses", "address=%s",
                        address);
        return;
    }
    if (zsock_connect(self->sub, "%s", address) != 0) {
        cmn_log_warning(PL_SUB_MODULE, "connect_failed", "address=%s error=\"%s\"",
                        address, zmq_strerror(zmq_errno()));
        return;
    }
    connection = &self->connections[self->connection_count++];
    snprintf(connection->address, sizeof connection->address, "%s", address);
    snprintf(connection->origin, sizeof connection->origin, "%s", origin);
    connection->seen = true;
    cmn_log_info(PL_SUB_MODULE, "connected", "address=%s", address);
}

/* Resolves every endpoint; connects new addresses, drops vanished ones. An
 * endpoint whose name does not resolve keeps its previous addresses. */
static void s_resolve(s_subscriber_t *self)
{
    for (size_t k = 0; k < self->connection_count; k++)
        self->connections[k].seen = false;
    const char *cursor = self->endpoints, *entry;
    size_t length;
    while ((entry = cmn_config_list_next(&cursor, PL_SUB_LIST_SEPARATORS,
                                         &length))) {
        char item[PL_SUB_ADDRESS_MAX];
        snprintf(item, sizeof item, "%.*s", (int)length, entry);
        char host[PL_SUB_ADDRESS_MAX], port[16];
        struct in_addr literal;
        if (s_split_tcp(item, host, sizeof host, port, sizeof port) != 0 ||
            inet_pton(AF_INET, host, &literal) == 1) {
            s_want(self, item, item); /* ipc, inproc or an address literal */
            continue;
        }
        char addresses[PL_SUBSCRIBER_ENDPOINTS_MAX]
                      [PL_SUBSCRIBER_ADDRESS_TEXT_MAX];
        int found = self->config.resolve(host, addresses,
                                         PL_SUBSCRIBER_ENDPOINTS_MAX,
                                         self->config.resolve_arg);
        if (found < 0) {
            /* Keep what this name resolved to before. */
            for (size_t k = 0; k < self->connection_count; k++)
                if (strcmp(self->connections[k].origin, item) == 0)
                    self->connections[k].seen = true;
            continue;
        }
        for (int k = 0; k < found; k++) {
            char endpoint[PL_SUB_ADDRESS_MAX];
            snprintf(endpoint, sizeof endpoint, "tcp://%.15s:%s", addresses[k],
                     port);
            s_want(self, item, endpoint);
        }
    }
    size_t kept = 0;
    for (size_t k = 0; k < self->connection_count; k++) {
        if (!self->connections[k].seen) {
            zsock_disconnect(self->sub, "%s", self->connections[k].address);
            cmn_log_info(PL_SUB_MODULE, "disconnected", "address=%s",
                         self->connections[k].address);
            continue;
        }
        self->connections[kept++] = self->connections[k];
    }
    self->connection_count = kept;
    pl_status_set_subscribed(self->config.status, kept > 0);
    cmn_series_set(cmn_metric_series(self->config.metrics->feedback_endpoints,
                                     NULL),
                   (double)kept);
}

/* Adds the counters' growth since the last call to the metrics. */
static void s_publish_counters(s_subscriber_t *self)
{
    const pl_feedback_counters_t *now = pl_feedback_counters(self->feedback);
    pl_feedback_counters_t *was = &self->published;
    pl_metrics_t *metrics = self->config.metrics;
    for (int level = 0; level <= PROTO_LEVEL_HARD; level++)
        if (now->by_level[level] != was->by_level[level])
            cmn_series_add(cmn_metric_series(metrics->feedback_events,
                                             s_level_names[level], NULL),
                           now->by_level[level] - was->by_level[level]);
    if (now->gaps != was->gaps)
        cmn_series_add(cmn_metric_series(metrics->feedback_seq_gaps, NULL),
                       now->gaps - was->gaps);
    if (now->missed != was->missed)
        cmn_series_add(cmn_metric_series(metrics->feedback_missed, NULL),
                       now->missed - was->missed);
    if (now->restarts != was->restarts)
        cmn_series_add(cmn_metric_series(metrics->feedback_restarts, NULL),
                       now->restarts - was->restarts);
    if (now->malformed != was->malformed)
        cmn_series_add(cmn_metric_series(metrics->feedback_malformed,
                                         "malformed", NULL),
                       now->malformed - was->malformed);
    if (now->version != was->version)
        cmn_series_add(cmn_metric_series(metrics->feedback_malformed,
                                         "version", NULL),
                       now->version - was->version);
    if (now->table_full != was->table_full)
        cmn_series_add(cmn_metric_series(metrics->feedback_malformed,
                                         "table_full", NULL),
                       now->table_full - was->table_full);
    *was = *now;
}

/* A forgotten coordinator's gauges would keep their last values forever:
 * its queue depth and level drop to 0 and it shows as stale. */
static void s_reset_forgotten(s_subscriber_t *self)
{
    pl_metrics_t *metrics = self->config.metrics;
    for (size_t k = 0; k < self->shown_count; k++) {
        const char *id = self->shown[k];
        if (pl_feedback_find(self->feedback, id))
            continue;
        cmn_series_set(
            cmn_metric_series(metrics->feedback_queue_depth, id, NULL), 0);
        cmn_series_set(cmn_metric_series(metrics->feedback_level, id, NULL),
                       0);
        cmn_series_set(cmn_metric_series(metrics->feedback_stale, id, NULL),
                       1);
        cmn_log_info(PL_SUB_MODULE, "forgotten", "coordinator=%s", id);
    }
    size_t count = pl_feedback_count(self->feedback);
    for (size_t k = 0; k < count; k++)
        memcpy(self->shown[k], pl_feedback_coordinator(self->feedback, k)->id,
               sizeof self->shown[k]);
    self->shown_count = count;
}

/* Per-coordinator gauges and the coordinators part of /status. */
static void s_publish_state(s_subscriber_t *self)
{
    pl_metrics_t *metrics = self->config.metrics;
    int64_t now = cmn_clock_mono_ns(self->config.clock);
    cmn_json_t *json = cmn_json_new();
    cmn_json_array_begin(json, NULL);
    size_t count = pl_feedback_count(self->feedback);
    bool fresh = count > 0;
    for (size_t k = 0; k < count; k++) {
        const pl_coordinator_view_t *view =
            pl_feedback_coordinator(self->feedback, k);
        double age = (double)(now - view->heard_ns) / (double)CMN_NS_PER_SEC;
        if (view->stale)
            fresh = false;
        cmn_series_set(
            cmn_metric_series(metrics->feedback_queue_depth, view->id, NULL),
            (double)view->queue_size);
        cmn_series_set(
            cmn_metric_series(metrics->feedback_stale, view->id, NULL),
            view->stale ? 1 : 0);
        cmn_series_set(cmn_metric_series(metrics->feedback_age, view->id, NULL),
                       age);
        cmn_series_set(
            cmn_metric_series(metrics->feedback_level, view->id, NULL),
            (double)view->effective);
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
    s_reset_forgotten(self);
    pl_status_publish(self->config.status, PL_STATUS_COORDINATORS,
                      cmn_json_text(json));
    cmn_json_destroy(&json);
    cmn_series_set(cmn_metric_series(metrics->feedback_coordinators, NULL),
                   (double)count);
    pl_status_set_fresh(self->config.status, fresh);
}

/* Sends a DECISION when the combined level or scale changed. */
static void s_decide(s_subscriber_t *self, int64_t event_ts_ns)
{
    pl_feedback_summary_t summary;
    pl_feedback_summarize(self->feedback, self->config.policy, &summary);
    if (summary.level == self->level && summary.scale == self->scale)
        return;
    cmn_log_info(PL_SUB_MODULE, "decision",
                 "level=%s scale=%.3f coordinators=%zu stale=%zu",
                 s_level_names[summary.level], summary.scale, summary.known,
                 summary.stale);
    self->level = summary.level;
    self->scale = summary.scale;
    char level[8], scale[32], ts[24];
    snprintf(level, sizeof level, "%d", (int)summary.level);
    snprintf(scale, sizeof scale, "%.17g", summary.scale);
    snprintf(ts, sizeof ts, "%lld",
             (long long)(event_ts_ns > 0 ? event_ts_ns : 0));
    zstr_sendx(self->pipe, "DECISION", level, scale, ts, NULL);
}

static void s_receive(s_subscriber_t *self)
{
    zmsg_t *message = zmsg_recv(self->sub);
    if (!message)
        return;
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
    proto_feedback_t event;
    pl_feedback_result_t result = pl_feedback_handle_message(
        self->feedback, frames, sizes, count, &event);
    zmsg_destroy(&message);
    if (result == PL_FEEDBACK_MALFORMED || result == PL_FEEDBACK_VERSION)
        cmn_log_debug(PL_SUB_MODULE, "dropped", "reason=%s",
                      result == PL_FEEDBACK_VERSION ? "version" : "malformed");
    s_publish_counters(self);
    if (result == PL_FEEDBACK_APPLIED) {
        s_publish_state(self);
        s_decide(self, event.ts_ns);
    }
}

static void s_tick(s_subscriber_t *self)
{
    int64_t now = cmn_clock_mono_ns(self->config.clock);
    if (now >= self->next_resolve_ns) {
        s_resolve(self);
        self->next_resolve_ns = now + self->config.resolve_ns;
    }
    pl_feedback_tick(self->feedback);
    s_publish_counters(self);
    s_publish_state(self);
    s_decide(self, 0);
    self->next_tick_ns = now + self->config.tick_ns;
}

static void s_free(s_subscriber_t *self)
{
    pl_feedback_destroy(&self->feedback);
    zsock_destroy(&self->sub);
    free(self->endpoints);
    free(self);
}

/* Makes the socket and the state; in the caller's thread, so that a failure
 * is reported by pl_subscriber_new() returning NULL. Returns 0 or -1. */
static int s_setup(s_subscriber_t *self)
{
    self->sub = zsock_new(ZMQ_SUB);
    self->feedback = pl_feedback_new(self->config.clock,
                                     &self->config.feedback);
    if (!self->endpoints || !self->sub || !self->feedback)
        return -1;
    zsock_set_rcvhwm(self->sub, PL_SUB_RCVHWM);
    if (self->config.curve_secret_key_file &&
        cmn_curve_client_apply(self->sub, self->config.curve_secret_key_file,
                               self->config.curve_server_key_file) != 0)
        return -1; /* before connect: CURVE or nothing */
    zsock_set_subscribe(self->sub, PROTO_FEEDBACK_TOPIC_PREFIX);
    self->level = PROTO_LEVEL_OK;
    self->scale = 1.0;
    return 0;
}

static void s_actor(zsock_t *pipe, void *args)
{
    s_subscriber_t *self = args;
    self->pipe = pipe;
    s_tick(self); /* first resolution and connections */
    zsock_signal(pipe, 0);

    zpoller_t *poller = zpoller_new(pipe, self->sub, NULL);
    while (true) {
        int64_t now = cmn_clock_mono_ns(self->config.clock);
        int64_t wait_ms = (self->next_tick_ns - now) / CMN_NS_PER_MS;
        if (wait_ms < 0)
            wait_ms = 0;
        void *which = zpoller_wait(poller, (int)wait_ms);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            bool term = !command || streq(command, "$TERM");
            zstr_free(&command);
            if (term)
                break;
        } else if (which == self->sub) {
            s_receive(self);
        } else if (zpoller_terminated(poller)) {
            break;
        }
        if (cmn_clock_mono_ns(self->config.clock) >= self->next_tick_ns)
            s_tick(self);
    }
    zpoller_destroy(&poller);
    s_free(self);
}

zactor_t *pl_subscriber_new(const pl_subscriber_config_t *config)
{
    assert(config && config->clock && config->policy && config->metrics &&
           config->status);
    char bad[PL_SUB_ADDRESS_MAX];
    if (pl_subscriber_check_endpoints(config->endpoints, bad, sizeof bad) !=
        0) {
        cmn_log_error(PL_SUB_MODULE, "bad_endpoint", "endpoint=\"%s\"", bad);
        return NULL;
    }
    s_subscriber_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    if (!self->config.resolve)
        self->config.resolve = pl_subscriber_resolve_dns;
    self->endpoints = strdup(config->endpoints);
    self->config.endpoints = self->endpoints;
    if (s_setup(self) != 0) {
        s_free(self);
        return NULL;
    }
    zactor_t *actor = zactor_new(s_actor, self);
    if (!actor)
        s_free(self);
    return actor;
}
