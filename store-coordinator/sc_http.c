/* sc_http: the coordinator's HTTP routes (see sc_http.h). Handlers run on
 * civetweb's threads and read only atomics (sc_state_t) and settings. */
#include "sc_http.h"

#include <stdlib.h>

#include "cmn_clock.h"
#include "cmn_json.h"
#include "cmn_page.h"
#include <mdbp/common.h>
#include <mdbp/feedback.h>
#include <mdbp/ingest.h>
#include "sc_breaker.h"
#include "sc_sink.h"

#define SC_HTTP_OK 200
#define SC_HTTP_UNAVAILABLE 503

#define SC_HTTP_SERVICE "market-data-store" /* /health "service" */

struct _sc_http_t {
    const sc_settings_t *settings; /* borrowed */
    sc_state_t *state;             /* borrowed; read only */
    const char *sink_kind;         /* "sqlite", "postgres", "null" */
    cmn_http_t *server;
};

static void s_on_health(const cmn_http_request_t *request,
                        cmn_http_response_t *response, void *arg)
{
    (void)request;
    (void)arg;
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    /* The same shape as the pipeline's (the seed's body): a probe or a
     * dashboard reads both services alike. */
    cmn_json_string(json, "status", "healthy");
    cmn_json_string(json, "service", SC_HTTP_SERVICE);
    cmn_json_object_end(json);
    cmn_http_respond_json(response, SC_HTTP_OK, json);
    cmn_json_destroy(&json);
}

static void s_on_ready(const cmn_http_request_t *request,
                       cmn_http_response_t *response, void *arg)
{
    (void)request;
    sc_http_t *context = arg;
    size_t workers = context->settings->workers;
    bool ready = sc_state_ready(context->state, workers);
    size_t reachable = 0;
    for (size_t i = 0; i < workers; i++)
        reachable +=
            atomic_load(&context->state->reachable[i]) == SC_REACHABLE_YES;
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "status", ready ? "ready" : "not_ready");
    cmn_json_bool(json, "sink_reachable", reachable == workers);
    cmn_json_string(
        json, "breaker",
        sc_breaker_state_name(sc_state_breaker(context->state, workers)));
    cmn_json_bool(json, "draining", atomic_load(&context->state->draining));
    cmn_json_object_end(json);
    cmn_http_respond_json(response, ready ? SC_HTTP_OK : SC_HTTP_UNAVAILABLE,
                          json);
    cmn_json_destroy(&json);
}


/* ingest.md 4.5: per priority class, the active producers and the share
 * factor they get at the current pressure. */
static void s_status_classes(cmn_json_t *json, sc_state_t *state)
{
    cmn_json_object_begin(json, "classes");
    for (int priority = 0; priority < SC_PRIORITY_CLASSES; priority++) {
        cmn_json_object_begin(json,
                              mdbp_priority_name((mdbp_priority_t)priority));
        cmn_json_uint(json, "producers",
                      atomic_load(&state->class_producers[priority]));
        cmn_json_double(json, "share_factor",
                        atomic_load(&state->class_factor[priority]));
        cmn_json_object_end(json);
    }
    cmn_json_object_end(json);
}

static void s_on_status(const cmn_http_request_t *request,
                        cmn_http_response_t *response, void *arg)
{
    (void)request;
    sc_http_t *context = arg;
    const sc_settings_t *settings = context->settings;
    sc_state_t *state = context->state;
    uint64_t depth = atomic_load(&state->depth);
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "coordinator_id", settings->coordinator_id);
    cmn_json_uint(json, "epoch", settings->epoch);
    cmn_json_uint(json, "seq", atomic_load(&state->seq));
    cmn_json_string(
        json, "level",
        mdbp_level_name((mdbp_level_t)atomic_load(&state->level)));
    cmn_json_uint(json, "depth", depth);
    cmn_json_uint(json, "capacity", settings->capacity);
    cmn_json_double(json, "utilization",
                    (double)depth / (double)settings->capacity);
    /* As in feedback (v1.1): min(depth formula, 1 - pressure). */
    cmn_json_double(json, "scale_hint", 1.0 - atomic_load(&state->pressure));
    cmn_json_uint(json, "low_watermark", settings->watermark.low);
    cmn_json_uint(json, "high_watermark", settings->watermark.high);
    cmn_json_uint(json, "dead_band", settings->watermark.dead_band);
    cmn_json_int(json, "dwell_ms",
                 settings->watermark.dwell_ns / CMN_NS_PER_MS);
    cmn_json_double(json, "drain_rate", atomic_load(&state->drain_rate));
    /* v1.1: why the level is what it is (feedback.md 3.2). */
    cmn_json_uint(json, "oldest_age_ms", atomic_load(&state->oldest_age_ms));
    cmn_json_double(json, "commit_latency_ms",
                    atomic_load(&state->commit_latency_ms));
    cmn_json_string(json, "sink_state",
                    mdbp_sink_state_name(
                        (mdbp_sink_state_t)atomic_load(&state->sink_state)));
    cmn_json_double(json, "pressure", atomic_load(&state->pressure));
    cmn_json_uint(json, "producers", atomic_load(&state->producers));
    cmn_json_uint(json, "credit_initial", atomic_load(&state->credit_initial));
    s_status_classes(json, state);
    cmn_json_bool(json, "draining", atomic_load(&state->draining));
    cmn_json_bool(json, "ready", sc_state_ready(state, settings->workers));
    cmn_json_object_begin(json, "sink");
    cmn_json_string(json, "kind", context->sink_kind);
    cmn_json_object_end(json);
    cmn_json_string(
        json, "breaker",
        sc_breaker_state_name(sc_state_breaker(state, settings->workers)));
    cmn_json_array_begin(json, "workers");
    for (size_t i = 0; i < settings->workers; i++) {
        int reachable = atomic_load(&state->reachable[i]);
        cmn_json_object_begin(json, NULL);
        cmn_json_uint(json, "index", i);
        cmn_json_string(json, "breaker",
                        sc_breaker_state_name(atomic_load(&state->breaker[i])));
        if (reachable == SC_REACHABLE_UNKNOWN)
            cmn_json_null(json, "sink_reachable");
        else
            cmn_json_bool(json, "sink_reachable",
                          reachable == SC_REACHABLE_YES);
        cmn_json_object_end(json);
    }
    cmn_json_array_end(json);
    cmn_json_object_end(json);
    cmn_http_respond_json(response, SC_HTTP_OK, json);
    cmn_json_destroy(&json);
}

sc_http_t *sc_http_new(const sc_settings_t *settings, sc_state_t *state,
                       cmn_metrics_t *metrics)
{
    sc_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->settings = settings;
    self->state = state;
    self->sink_kind = sc_sink_kind_of(settings->sink_uri);
    cmn_http_config_t config = {
        .bind_address = settings->http_bind,
        .port = settings->http_port,
        .threads = settings->http_threads,
        .max_request_bytes = settings->http_max_request_bytes,
        .request_timeout_ms = settings->http_request_timeout_ms,
        .admin_token = NULL, /* no mutating endpoint */
    };
    self->server = cmn_http_new(&config, metrics);
    if (!self->server) {
        free(self);
        return NULL;
    }
    cmn_http_route(self->server, "GET", "/health", false, s_on_health, self);
    cmn_http_route(self->server, "GET", "/ready", false, s_on_ready, self);
    cmn_http_route(self->server, "GET", "/status", false, s_on_status, self);
    cmn_page_routes(self->server); /* issue 15: the live status page at / */
    if (cmn_http_start(self->server) != 0)
        sc_http_destroy(&self);
    return self;
}

void sc_http_destroy(sc_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cmn_http_destroy(&(*self_p)->server);
    free(*self_p);
    *self_p = NULL;
}

int sc_http_port(sc_http_t *self)
{
    return cmn_http_port(self->server);
}
