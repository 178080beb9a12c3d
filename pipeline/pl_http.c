/* pl_http: mdp-pipeline's HTTP routes. */
#include "pl_http.h"

#include <errno.h>
#include <string.h>

#include "cmn_json.h"
#include "cmn_log.h"
#include "cmn_page.h"
#include "pl_feedback_json.h"

#define PL_SERVICE "market-data-pipeline"

static void s_on_health(const cmn_http_request_t *request,
                        cmn_http_response_t *response, void *arg)
{
    (void)request;
    (void)arg;
    static const char body[] =
        "{\"status\":\"healthy\",\"service\":\"" PL_SERVICE "\"}";
    cmn_http_respond(response, 200, "application/json", body, sizeof body - 1);
}

static void s_on_ready(const cmn_http_request_t *request,
                       cmn_http_response_t *response, void *arg)
{
    (void)request;
    bool ready = pl_status_ready(arg);
    const char *body = ready ? "{\"ready\":true}" : "{\"ready\":false}";
    cmn_http_respond(response, ready ? 200 : 503, "application/json", body,
                     strlen(body));
}

static void s_on_status(const cmn_http_request_t *request,
                        cmn_http_response_t *response, void *arg)
{
    (void)request;
    char *text = pl_status_render(arg);
    if (!text) {
        static const char body[] = "out of memory";
        cmn_http_respond(response, 500, "text/plain", body, sizeof body - 1);
        return;
    }
    cmn_http_respond(response, 200, "application/json", text, strlen(text));
    free(text);
}

#define PL_QUERY_VALUE_MAX 64
/* Long enough for main to take the message off the inproc pipe. */
#define PL_ADMIN_LINGER_MS 1000
#define PL_ADMIN_COOLDOWN_SEC_MAX 1e7

static void s_admin_error(cmn_http_response_t *response, int status,
                          const char *message)
{
    char body[PL_QUERY_VALUE_MAX * 4];
    int length = snprintf(body, sizeof body, "{\"error\":\"%s\"}", message);
    cmn_http_respond(response, status, "application/json", body,
                     (size_t)length);
}

/* The provider= parameter, checked against the names. Answers and returns
 * false when it is missing or unknown. */
static bool s_admin_provider(const cmn_http_request_t *request,
                             cmn_http_response_t *response,
                             const pl_names_t *names, char *provider)
{
    if (cmn_http_query_value(request->query, "provider", provider,
                             PL_QUERY_VALUE_MAX) != 1) {
        s_admin_error(response, 400, "provider= is required");
        return false;
    }
    for (size_t idx = 0; idx < names->count; idx++)
        if (strcmp(names->names[idx], provider) == 0)
            return true;
    s_admin_error(response, 404, "unknown provider");
    return false;
}

/* Parses a number in [min, max]. */
static bool s_admin_number(const char *text, double min, double max,
                           double *value)
{
    char *end = NULL;
    errno = 0;
    *value = strtod(text, &end);
    return errno == 0 && end != text && *end == '\0' && *value >= min &&
           *value <= max; /* false for NaN */
}

/* What the admin handlers need: the names and the producer's socket. */
typedef struct {
    const pl_settings_t *settings;
    const pl_names_t *names;
    const char *admin_endpoint;
} s_admin_t;

static s_admin_t s_admin; /* set once by pl_http_new, read by handlers */

/* Sends `command` to the producer; answers 202 or 500. */
static void s_admin_forward(cmn_http_response_t *response,
                            const pl_producer_admin_t *command)
{
    zsock_t *push = zsock_new(ZMQ_PUSH);
    if (!push || zsock_connect(push, "%s", s_admin.admin_endpoint) != 0) {
        zsock_destroy(&push);
        s_admin_error(response, 500, "no socket");
        return;
    }
    zsock_set_linger(push, PL_ADMIN_LINGER_MS);
    zsock_send(push, "b", command, sizeof *command);
    zsock_destroy(&push);
    static const char body[] = "{\"accepted\":true}";
    cmn_http_respond(response, 202, "application/json", body, sizeof body - 1);
}

/* The index of a known provider name (checked before). */
static size_t s_admin_index(const char *provider)
{
    for (size_t idx = 0; idx < s_admin.names->count; idx++)
        if (strcmp(s_admin.names->names[idx], provider) == 0)
            return idx;
    return 0;
}

static void s_on_admin_cooldown(const cmn_http_request_t *request,
                                cmn_http_response_t *response, void *arg)
{
    (void)arg;
    char provider[PL_QUERY_VALUE_MAX], scope[PL_QUERY_VALUE_MAX],
        seconds[PL_QUERY_VALUE_MAX];
    if (!s_admin_provider(request, response, s_admin.names, provider))
        return;
    int found =
        cmn_http_query_value(request->query, "scope", scope, sizeof scope);
    if (found == 0)
        snprintf(scope, sizeof scope, "%s", PL_RATE_SCOPE_GLOBAL);
    double value = 0;
    if (found < 0 || strlen(scope) > PL_RATE_SCOPE_MAX) {
        s_admin_error(response, 400, "scope= is too long or badly encoded");
        return;
    }
    const char *why = NULL;
    if (!pl_settings_scope_valid(s_admin.settings, s_admin_index(provider),
                                 scope, &why)) {
        s_admin_error(response, 400, why);
        return;
    }
    found = cmn_http_query_value(request->query, "seconds", seconds,
                                 sizeof seconds);
    if (found < 0 ||
        (found > 0 &&
         !s_admin_number(seconds, 0, PL_ADMIN_COOLDOWN_SEC_MAX, &value))) {
        s_admin_error(response, 400, "seconds= must be in [0, 1e7]");
        return;
    }
    pl_producer_admin_t command = {.kind = PL_PRODUCER_COOLDOWN,
                                   .provider = s_admin_index(provider),
                                   .seconds = value}; /* 0: the default */
    /* Length checked above; memcpy, not snprintf: at -O0 gcc cannot see
     * the check and raises -Wformat-truncation (issue 12, item 10). */
    memcpy(command.scope, scope, strlen(scope) + 1);
    s_admin_forward(response, &command);
}

static void s_on_admin_scale(const cmn_http_request_t *request,
                             cmn_http_response_t *response, void *arg)
{
    (void)arg;
    char provider[PL_QUERY_VALUE_MAX], scale[PL_QUERY_VALUE_MAX];
    if (!s_admin_provider(request, response, s_admin.names, provider))
        return;
    double value;
    if (cmn_http_query_value(request->query, "scale", scale, sizeof scale) !=
            1 ||
        !s_admin_number(scale, 0, 1, &value)) {
        s_admin_error(response, 400, "scale= must be in [0, 1]");
        return;
    }
    pl_producer_admin_t command = {.kind = PL_PRODUCER_OVERRIDE,
                                   .provider = s_admin_index(provider),
                                   .scale = value};
    s_admin_forward(response, &command);
}
/* POST /feedback (issue 15): the coordinator's webhook body or the seed's
 * FeedbackEvent, parsed here and handed to the subscriber actor as one
 * pl_posted_feedback_t, which decides as for a ZeroMQ message. */
typedef struct {
    const char *posted_endpoint; /* the subscriber's PULL, NULL: off */
    cmn_series_t *accepted, *malformed, *disabled;
} s_receiver_t;

static s_receiver_t s_receiver; /* set once by pl_http_new */

static void s_on_feedback(const cmn_http_request_t *request,
                          cmn_http_response_t *response, void *arg)
{
    (void)arg;
    if (!s_receiver.posted_endpoint) {
        cmn_series_inc(s_receiver.disabled);
        s_admin_error(response, 409,
                      "feedback is off (MDP_FB_ENABLE_FEEDBACK=false)");
        return;
    }
    pl_posted_feedback_t posted;
    char reason[PL_FEEDBACK_JSON_REASON_MAX];
    if (pl_feedback_json_parse(request->body ? request->body : "",
                               request->body ? request->body_length : 0,
                               &posted, reason) != 0) {
        cmn_series_inc(s_receiver.malformed);
        cmn_json_t *json = cmn_json_new();
        cmn_json_object_begin(json, NULL);
        cmn_json_string(json, "error", reason);
        cmn_json_object_end(json);
        cmn_http_respond(response, 400, "application/json",
                         cmn_json_text(json), cmn_json_length(json));
        cmn_json_destroy(&json);
        return;
    }
    zsock_t *push = zsock_new(ZMQ_PUSH);
    if (!push ||
        zsock_connect(push, "%s", s_receiver.posted_endpoint) != 0) {
        zsock_destroy(&push);
        s_admin_error(response, 500, "no socket");
        return;
    }
    zsock_set_linger(push, PL_ADMIN_LINGER_MS);
    zsock_send(push, "b", &posted, sizeof posted);
    zsock_destroy(&push);
    cmn_series_inc(s_receiver.accepted);
    static const char body[] = "{\"accepted\":true}";
    cmn_http_respond(response, 202, "application/json", body, sizeof body - 1);
}

cmn_http_t *pl_http_new(const pl_settings_t *settings, cmn_metrics_t *registry,
                        pl_status_t *status, const char *admin_endpoint,
                        const char *posted_endpoint, pl_metrics_t *metrics)
{
    s_admin.settings = settings;
    s_admin.names = &settings->names;
    s_admin.admin_endpoint = admin_endpoint;
    s_receiver.posted_endpoint = posted_endpoint;
    s_receiver.accepted =
        cmn_metric_series(metrics->feedback_posted, "accepted", NULL);
    s_receiver.malformed =
        cmn_metric_series(metrics->feedback_posted, "malformed", NULL);
    s_receiver.disabled =
        cmn_metric_series(metrics->feedback_posted, "disabled", NULL);
    cmn_http_config_t config = {
        .bind_address = settings->http_bind,
        .port = settings->http_port,
        .threads = settings->http_threads,
        .max_request_bytes = settings->http_max_request_bytes,
        .request_timeout_ms = settings->http_request_timeout_ms,
        .admin_token = settings->admin_token};
    cmn_http_t *http = cmn_http_new(&config, registry);
    if (!http)
        return NULL;
    cmn_http_route(http, "GET", "/health", false, s_on_health, NULL);
    cmn_http_route(http, "GET", "/ready", false, s_on_ready, status);
    cmn_http_route(http, "GET", "/status", false, s_on_status, status);
    cmn_page_routes(http); /* issue 15: the live status page at / */
    cmn_http_route(http, "POST", "/admin/cooldown", true, s_on_admin_cooldown,
                   NULL);
    cmn_http_route(http, "POST", "/admin/scale", true, s_on_admin_scale, NULL);
    cmn_http_route(http, "POST", "/feedback", true, s_on_feedback, NULL);
    if (cmn_http_start(http) != 0) {
        cmn_http_destroy(&http);
        return NULL;
    }
    return http;
}
