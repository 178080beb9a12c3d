/* sc_http: the coordinator's HTTP routes (see sc_http.h). Handlers run on
 * civetweb's threads and read only atomics (sc_state_t) and settings. */
#include "sc_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cmn_clock.h"
#include "cmn_json.h"
#include "cmn_page.h"
#include <mdbp/common.h>
#include <mdbp/feedback.h>
#include <mdbp/ingest.h>
#include "sc_breaker.h"
#include "sc_hint.h"
#include "sc_sink.h"

#define SC_HTTP_OK 200
#define SC_HTTP_UNAVAILABLE 503
#define SC_HTTP_MS_PER_SEC 1000
#define SC_HTTP_TM_YEAR_BASE 1900
#define SC_HTTP_TIME_MAX 64 /* "2026-12-02T05:44:03.123Z" (room for any int)   \
                             */

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

/* Why /ready says not ready, in words (the first that applies), or NULL. */
static const char *s_not_ready_reason(sc_http_t *context)
{
    sc_state_t *state = context->state;
    size_t workers = context->settings->workers;
    int problem = atomic_load(&state->sink_problem);
    if (atomic_load(&state->draining))
        return "draining: the coordinator is shutting down";
    if (problem != SC_SINK_PROBLEM_NONE)
        return sc_sink_problem_text((sc_sink_problem_t)problem);
    if (sc_state_breaker(state, workers) == SC_BREAKER_OPEN)
        return "a writer's circuit breaker is open (the database failed "
               "repeatedly)";
    if (atomic_load(&state->sink_state) == MDBP_SINK_STATE_DOWN)
        return "the sink is down (nothing was written within the stall "
               "timeout, or the dead-letter file cannot be written)";
    for (size_t i = 0; i < workers; i++) {
        int reachable = atomic_load(&state->reachable[i]);
        if (reachable == SC_REACHABLE_NO)
            return "the database cannot be reached";
        if (reachable == SC_REACHABLE_UNKNOWN)
            return "starting: a writer has not reached the database yet";
    }
    return NULL;
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
    /* Issue 15: why not, in words (absent when ready). */
    const char *reason = ready ? NULL : s_not_ready_reason(context);
    if (reason)
        cmn_json_string(json, "reason", reason);
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

/* Issue 15: the level explained: reason word, since when, the dwell left,
 * the rates and the one-line hint. */
static void s_status_explain(sc_http_t *context, cmn_json_t *json)
{
    const sc_settings_t *settings = context->settings;
    sc_state_t *state = context->state;
    mdbp_level_t level = (mdbp_level_t)atomic_load(&state->level);
    sc_hint_reason_t reason = (sc_hint_reason_t)atomic_load(&state->reason);
    int64_t now = cmn_clock_now_mono_ns();
    int64_t in_level = now - atomic_load(&state->level_changed_ns);
    if (in_level < 0)
        in_level = 0;
    int64_t dwell_left = 0;
    if (level != MDBP_LEVEL_OK && in_level < settings->watermark.dwell_ns)
        dwell_left = (settings->watermark.dwell_ns - in_level) / CMN_NS_PER_MS;
    int64_t since_ms = atomic_load(&state->level_changed_ms);
    time_t since_s = (time_t)(since_ms / SC_HTTP_MS_PER_SEC);
    struct tm since_tm;
    char since[SC_HTTP_TIME_MAX] = "";
    if (since_ms > 0 && gmtime_r(&since_s, &since_tm))
        snprintf(since, sizeof since, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 since_tm.tm_year + SC_HTTP_TM_YEAR_BASE, since_tm.tm_mon + 1,
                 since_tm.tm_mday, since_tm.tm_hour, since_tm.tm_min,
                 since_tm.tm_sec, (int)(since_ms % SC_HTTP_MS_PER_SEC));
    cmn_json_string(json, "reason", sc_hint_reason_name(reason));
    cmn_json_string(json, "since", since);
    cmn_json_int(json, "since_ms", since_ms);
    cmn_json_double(json, "seconds_in_level",
                    (double)in_level / (double)CMN_NS_PER_SEC);
    cmn_json_int(json, "dwell_remaining_ms", dwell_left);
    cmn_json_double(json, "incoming_rate", atomic_load(&state->incoming_rate));
    cmn_json_double(json, "offered_rate", atomic_load(&state->offered_rate));
    cmn_json_double(json, "written_rate", atomic_load(&state->written_rate));
    cmn_json_double(json, "duplicates_rate",
                    atomic_load(&state->duplicates_rate));
    sc_hint_input_t input = {
        .level = level,
        .reason = reason,
        .sink_state = (mdbp_sink_state_t)atomic_load(&state->sink_state),
        .depth = atomic_load(&state->depth),
        .low = settings->watermark.low,
        .high = settings->watermark.high,
        .dead_band = settings->watermark.dead_band,
        .draining = atomic_load(&state->draining),
        .dwell_remaining_ms = dwell_left,
    };
    char hint[SC_HINT_MAX];
    cmn_json_string(json, "hint", sc_hint_text(&input, hint, sizeof hint));
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
    cmn_json_string(json, "state",
                    mdbp_sink_state_name(
                        (mdbp_sink_state_t)atomic_load(&state->sink_state)));
    int problem = atomic_load(&state->sink_problem);
    if (problem != SC_SINK_PROBLEM_NONE)
        cmn_json_string(json, "problem",
                        sc_sink_problem_name((sc_sink_problem_t)problem));
    cmn_json_object_end(json);
    s_status_explain(context, json);
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
