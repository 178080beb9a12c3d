/* mdp-pipeline: the producer service.
 *
 * main reads the options, builds the rate coordinator and the providers,
 * starts the actors (producer, sender, feedback subscriber) and the HTTP
 * server, then forwards the subscriber's decisions to the producer for each
 * provider the policy scales. SIGTERM/SIGINT: stop producing, flush the
 * sender's window until MDP_SHUTDOWN_TIMEOUT_MS, exit 0. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <czmq.h>
#include <string.h>
#include <unistd.h>

#include "cmn_clock.h"
#include "cmn_config.h"
#include "cmn_curve.h"
#include "cmn_http.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "pl_metrics.h"
#include "pl_policy.h"
#include "pl_producer.h"
#include "pl_sender.h"
#include "pl_status.h"
#include "pl_subscriber.h"

#define PL_PROGRAM "mdp-pipeline"
#define PL_SERVICE "market-data-pipeline"
#define PL_DATA_ENDPOINT "inproc://pl-records"
#define PL_NAME_SEPARATORS ", "
#define PL_OPTION_NAME_MAX 128
#define PL_MAIN_POLL_MS 500
#define PL_SOURCE_SYNTHETIC "synthetic"
/* A number sent to an actor as text (an index, a deadline), with its NUL. */
#define PL_NUMBER_TEXT_MAX 24
/* The bad item of a list option quoted in a usage error. */
#define PL_BAD_ITEM_MAX 256

static const char *const s_policies[] = {"step", "proportional", NULL};
static const char *const s_levels[] = {"ok", "soft", "hard", NULL};
static const char *const s_log_levels[] = {"error", "warning", "info", "debug",
                                           NULL};
static const char *const s_log_formats[] = {"text", "json", NULL};

static const cmn_option_t s_options[] = {
    {"providers", "MDP_PROVIDERS", CMN_OPT_STRING, "synthetic",
     "comma-separated provider names (each has MDP_PROVIDER_<NAME>_* and "
     "MDP_RATE_<NAME>_* options)",
     0, 0, NULL},
    {"store-endpoints", "MDP_STORE_ENDPOINTS", CMN_OPT_STRING,
     "tcp://127.0.0.1:5555", "coordinators' ingest ROUTERs, comma-separated", 0,
     0, NULL},
    {"feedback-endpoints", "MDP_FEEDBACK_ENDPOINTS", CMN_OPT_STRING,
     "tcp://127.0.0.1:5556",
     "coordinators' feedback XPUBs, comma-separated; names are re-resolved", 0,
     0, NULL},
    {"producer-id", "MDP_PRODUCER_ID", CMN_OPT_STRING, NULL,
     "producer id in batches (default: the host name)", 0, 0, NULL},
    {"fb-enable-feedback", "MDP_FB_ENABLE_FEEDBACK", CMN_OPT_BOOL, "true",
     "obey the coordinators' backpressure feedback", 0, 0, NULL},
    {"fb-provider-name", "MDP_FB_PROVIDER_NAME", CMN_OPT_STRING, NULL,
     "providers feedback scales, comma-separated (default: all)", 0, 0, NULL},
    {"fb-policy", "MDP_FB_POLICY", CMN_OPT_CHOICE, "step",
     "step (level -> MDP_FB_SCALE_*) or proportional (the store's scale_hint)",
     0, 0, s_policies},
    {"fb-scale-ok", "MDP_FB_SCALE_OK", CMN_OPT_DOUBLE, "1.0",
     "rate scale at level ok", 0, 1, NULL},
    {"fb-scale-soft", "MDP_FB_SCALE_SOFT", CMN_OPT_DOUBLE, "0.5",
     "rate scale at level soft", 0, 1, NULL},
    {"fb-scale-hard", "MDP_FB_SCALE_HARD", CMN_OPT_DOUBLE, "0.0",
     "rate scale at level hard (0 pauses)", 0, 1, NULL},
    /* 2 s as issue 4 specifies. tests/scenarios measures `step` at 1.5x
     * overload at 64 level changes a minute with it and 46 with 3000: the
     * target (<= 60) is one setting away, documented rather than imposed. */
    {"fb-ramp-ms", "MDP_FB_RAMP_MS", CMN_OPT_INT, "2000",
     "every rise of the rate scale (from a pause too) ramps over this time; "
     "falls are immediate",
     0, 3600000, NULL},
    {"fb-stale-level", "MDP_FB_STALE_LEVEL", CMN_OPT_CHOICE, "soft",
     "fail-safe level of a coordinator silent for longer than its ttl", 0, 0,
     s_levels},
    {"fb-forget-sec", "MDP_FB_FORGET_SEC", CMN_OPT_INT, "300",
     "forget a coordinator silent for this long", 1, 86400, NULL},
    {"fb-resolve-sec", "MDP_FB_RESOLVE_SEC", CMN_OPT_INT, "30",
     "resolve feedback host names again this often", 1, 86400, NULL},
    {"send-batch-records", "MDP_SEND_BATCH_RECORDS", CMN_OPT_INT, "500",
     "records per batch at most", 1, 10000, NULL},
    {"send-batch-ms", "MDP_SEND_BATCH_MS", CMN_OPT_INT, "20",
     "a batch waits at most this long to fill", 1, 60000, NULL},
    /* Acks come after the commit, so the window is each pipeline's own
     * brake: 4 x 500 records in flight stay below a default coordinator's
     * low watermark (5000), and even several pipelines together fill the
     * queue between its high watermark (8000) and capacity (10000) before
     * they meet `nack full`. The feedback levels pace the fleet. */
    {"send-window", "MDP_SEND_WINDOW", CMN_OPT_INT, "4",
     "unacknowledged batches at most (bounds memory)", 1, 1024, NULL},
    {"send-ack-timeout-ms", "MDP_SEND_ACK_TIMEOUT_MS", CMN_OPT_INT, "5000",
     "resend a batch not acknowledged within this time (doubling "
     "after each timeout of that batch, at most 8x)",
     10, 600000, NULL},
    {"shutdown-timeout-ms", "MDP_SHUTDOWN_TIMEOUT_MS", CMN_OPT_INT, "10000",
     "on SIGTERM, wait this long for unacknowledged batches", 0, 600000, NULL},
    {"metrics-enable", "MDP_METRICS_ENABLE", CMN_OPT_BOOL, "true",
     "serve /metrics, /health, /ready, /status over HTTP", 0, 0, NULL},
    {"metrics-standalone-port", "MDP_METRICS_STANDALONE_PORT", CMN_OPT_INT,
     "8000", "HTTP port (0: any free port, logged)", 0, 65535, NULL},
    {"metrics-bind", "MDP_METRICS_BIND", CMN_OPT_STRING, "0.0.0.0",
     "HTTP bind address", 0, 0, NULL},
    {"admin-token", "MDP_ADMIN_TOKEN", CMN_OPT_STRING, NULL,
     "bearer token of POST /admin/cooldown and /admin/scale (unset: "
     "those routes answer 404)",
     0, 0, NULL},
    {"http-max-request-bytes", "MDP_HTTP_MAX_REQUEST_BYTES", CMN_OPT_INT,
     "16384", "largest HTTP request body; larger answer 413", 256, 16777216,
     NULL},
    /* Issue 12: slow clients (docs/security.md, "Limits"). */
    {"http-request-timeout-ms", "MDP_HTTP_REQUEST_TIMEOUT_MS", CMN_OPT_INT,
     "2000", "an HTTP request (headers and body) must arrive within this time",
     100, 600000, NULL},
    {"http-threads", "MDP_HTTP_THREADS", CMN_OPT_INT, "128",
     "HTTP worker threads: slow clients each hold one until their request "
     "timeout",
     1, CMN_HTTP_THREADS_MAX, NULL},
    {"curve-secret-key-file", "MDP_CURVE_SECRET_KEY_FILE", CMN_OPT_STRING, NULL,
     "CURVE on both channels: this pipeline's czmq certificate "
     "(NAME_secret; mds-coordinator keygen)",
     0, 0, NULL},
    {"curve-server-key-file", "MDP_CURVE_SERVER_KEY_FILE", CMN_OPT_STRING, NULL,
     "CURVE: the coordinators' public certificate", 0, 0, NULL},
    {"log-level", "MDP_LOG_LEVEL", CMN_OPT_CHOICE, "info",
     "least severe level logged", 0, 0, s_log_levels},
    {"log-format", "MDP_LOG_FORMAT", CMN_OPT_CHOICE, "text",
     "text or json lines", 0, 0, s_log_formats},
};

/* Per-provider option templates: flag prefix, variable prefix, suffix. */
typedef struct {
    const char *flag_prefix, *env_prefix, *suffix;
    cmn_opt_type_t type;
    const char *default_value, *help;
    double min, max;
} s_template_t;

/* The per-provider options, an index in s_templates each. */
enum {
    S_PROVIDER_SOURCE,
    S_PROVIDER_SYMBOLS,
    S_PROVIDER_SEED,
    S_PROVIDER_LIMIT,
    S_PROVIDER_LOOP,
    S_RATE_CAPACITY,
    S_RATE_REFILL_RATE,
    S_RATE_COOLDOWN_SEC,
    S_RATE_BREAKER_THRESHOLD,
    S_RATE_BREAKER_TIMEOUT,
};

static const s_template_t s_templates[] = {
    [S_PROVIDER_SOURCE] =
        {"provider", "MDP_PROVIDER", "source", CMN_OPT_STRING, "synthetic",
         "synthetic, or replay:PATH (a CSV or NDJSON file; pipeline/README.md)",
         0, 0},
    [S_PROVIDER_SYMBOLS] = {"provider", "MDP_PROVIDER", "symbols",
                            CMN_OPT_STRING, PL_SYNTHETIC_SYMBOLS_DEFAULT,
                            "synthetic: comma-separated symbols", 0, 0},
    [S_PROVIDER_SEED] = {"provider", "MDP_PROVIDER", "seed", CMN_OPT_INT, "1",
                         "synthetic: random seed", 0, 9007199254740992.0},
    [S_PROVIDER_LIMIT] = {"provider", "MDP_PROVIDER", "limit", CMN_OPT_INT, "0",
                          "stop after this many records (0: never)", 0, 1e15},
    [S_PROVIDER_LOOP] =
        {"provider", "MDP_PROVIDER", "loop", CMN_OPT_BOOL, "false",
         "replay: start again at the end of the file, shifted in time", 0, 0},
    [S_RATE_CAPACITY] = {"rate", "MDP_RATE", "capacity", CMN_OPT_DOUBLE, "60",
                         "token bucket capacity: the burst, in records", 1,
                         1e9},
    [S_RATE_REFILL_RATE] = {"rate", "MDP_RATE", "refill-rate", CMN_OPT_DOUBLE,
                            "60", "records per second at scale 1.0", 0, 1e9},
    [S_RATE_COOLDOWN_SEC] =
        {"rate", "MDP_RATE", "cooldown-sec", CMN_OPT_DOUBLE, "600",
         "seconds a cooldown lasts when triggered without a duration", 0, 1e7},
    [S_RATE_BREAKER_THRESHOLD] =
        {"rate", "MDP_RATE", "breaker-threshold", CMN_OPT_INT, "5",
         "consecutive source failures (replay read errors) that open the "
         "breaker (0: never)",
         0, 1e6},
    [S_RATE_BREAKER_TIMEOUT] =
        {"rate", "MDP_RATE", "breaker-timeout", CMN_OPT_DOUBLE, "60",
         "seconds before an open breaker lets a probe through", 0, 1e7},
};

#define S_TEMPLATE_COUNT (sizeof s_templates / sizeof s_templates[0])

typedef struct {
    char names[PL_RATE_PROVIDERS_MAX][PROTO_NAME_MAX + 1];
    size_t count;
} s_names_t;

/* Parses MDP_PROVIDERS. Returns NULL or why it is bad. */
static const char *s_parse_names(const char *text, s_names_t *names)
{
    names->count = 0;
    const char *cursor = text, *name;
    size_t length;
    while (
        (name = cmn_config_list_next(&cursor, PL_NAME_SEPARATORS, &length))) {
        if (length > PROTO_NAME_MAX)
            return "a name is longer than 32 characters";
        for (size_t k = 0; k < length; k++)
            if (!isalnum((unsigned char)name[k]) && name[k] != '_' &&
                name[k] != '-')
                return "names use letters, digits, '_' and '-'";
        if (names->count == PL_RATE_PROVIDERS_MAX)
            return "too many providers";
        memcpy(names->names[names->count], name, length);
        names->names[names->count][length] = '\0';
        for (size_t k = 0; k < names->count; k++)
            if (strcasecmp(names->names[k], names->names[names->count]) == 0)
                return "a name appears twice";
        names->count++;
    }
    return names->count ? NULL : "no provider";
}

/* "--rate-<name>-capacity" and "MDP_RATE_<NAME>_CAPACITY". */
static void s_option_names(const s_template_t *template, const char *name,
                           char *flag, char *env)
{
    snprintf(flag, PL_OPTION_NAME_MAX, "%s-%s-%s", template->flag_prefix, name,
             template->suffix);
    snprintf(env, PL_OPTION_NAME_MAX, "%s_%s_%s", template->env_prefix, name,
             template->suffix);
    for (char *c = flag; *c; c++)
        *c = *c == '_' ? '-' : (char)tolower((unsigned char)*c);
    for (char *c = env; *c; c++)
        *c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
}

static void s_provider_flag(const char *name, size_t template, char *flag)
{
    char env[PL_OPTION_NAME_MAX];
    s_option_names(&s_templates[template], name, flag, env);
}

/* ---- HTTP handlers (civetweb threads: atomics and status texts only) ---- */

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

/* Admin routes (bearer MDP_ADMIN_TOKEN; 404 while it is unset):
 *
 *   POST /admin/cooldown?provider=NAME[&scope=SCOPE][&seconds=S]
 *   POST /admin/scale?provider=NAME&scale=S   (a cap in [0, 1]; 1 clears)
 *
 * Parameters are checked here, against the provider names (immutable after
 * start), then forwarded to main over inproc, which hands them to the
 * producer: handlers never touch actors' state. */
#define PL_ADMIN_ENDPOINT "inproc://pl-admin"
#define PL_QUERY_VALUE_MAX 64
/* Long enough for main to take the message off the inproc pipe. */
#define PL_ADMIN_LINGER_MS 1000
#define PL_ADMIN_COOLDOWN_SEC_MAX 1e7

static int s_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Finds `key` in a query string and URL-decodes its value into `out`.
 * Returns 1 when found, 0 when absent or empty, -1 when badly encoded or
 * too long. */
static int s_query_value(const char *query, const char *key, char *out,
                         size_t capacity)
{
    size_t key_length = strlen(key);
    const char *cursor = query;
    while (cursor && *cursor) {
        if (strncmp(cursor, key, key_length) == 0 &&
            cursor[key_length] == '=') {
            const char *value = cursor + key_length + 1;
            size_t length = strcspn(value, "&"), used = 0;
            for (size_t k = 0; k < length; k++) {
                char c = value[k];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int high = k + 2 < length ? s_hex_digit(value[k + 1]) : -1;
                    int low = high >= 0 ? s_hex_digit(value[k + 2]) : -1;
                    if (low < 0)
                        return -1;
                    c = (char)(high * 16 + low);
                    k += 2;
                }
                if (used + 1 >= capacity || c == '\0')
                    return -1;
                out[used++] = c;
            }
            out[used] = '\0';
            return used > 0 ? 1 : 0;
        }
        cursor = strchr(cursor, '&');
        if (cursor)
            cursor++;
    }
    return 0;
}

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
                             const s_names_t *names, char *provider)
{
    if (s_query_value(request->query, "provider", provider,
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

static void s_admin_forward(cmn_http_response_t *response, const char *command,
                            const char *provider, const char *first,
                            const char *second)
{
    zsock_t *push = zsock_new_push(">" PL_ADMIN_ENDPOINT);
    if (!push) {
        s_admin_error(response, 500, "no socket");
        return;
    }
    zsock_set_linger(push, PL_ADMIN_LINGER_MS);
    zstr_sendx(push, command, provider, first, second, NULL);
    zsock_destroy(&push);
    static const char body[] = "{\"accepted\":true}";
    cmn_http_respond(response, 202, "application/json", body, sizeof body - 1);
}

static void s_on_admin_cooldown(const cmn_http_request_t *request,
                                cmn_http_response_t *response, void *arg)
{
    char provider[PL_QUERY_VALUE_MAX], scope[PL_QUERY_VALUE_MAX],
        seconds[PL_QUERY_VALUE_MAX];
    if (!s_admin_provider(request, response, arg, provider))
        return;
    int found = s_query_value(request->query, "scope", scope, sizeof scope);
    if (found == 0)
        snprintf(scope, sizeof scope, "%s", PL_RATE_SCOPE_GLOBAL);
    double value = 0;
    if (found < 0 || strlen(scope) > PL_RATE_SCOPE_MAX) {
        s_admin_error(response, 400, "scope= is too long or badly encoded");
        return;
    }
    found = s_query_value(request->query, "seconds", seconds, sizeof seconds);
    if (found < 0 ||
        (found > 0 &&
         !s_admin_number(seconds, 0, PL_ADMIN_COOLDOWN_SEC_MAX, &value))) {
        s_admin_error(response, 400, "seconds= must be in [0, 1e7]");
        return;
    }
    snprintf(seconds, sizeof seconds, "%.17g", value); /* 0: the default */
    s_admin_forward(response, "COOLDOWN", provider, scope, seconds);
}

static void s_on_admin_scale(const cmn_http_request_t *request,
                             cmn_http_response_t *response, void *arg)
{
    char provider[PL_QUERY_VALUE_MAX], scale[PL_QUERY_VALUE_MAX];
    if (!s_admin_provider(request, response, arg, provider))
        return;
    double value;
    if (s_query_value(request->query, "scale", scale, sizeof scale) != 1 ||
        !s_admin_number(scale, 0, 1, &value)) {
        s_admin_error(response, 400, "scale= must be in [0, 1]");
        return;
    }
    snprintf(scale, sizeof scale, "%.17g", value);
    s_admin_forward(response, "OVERRIDE", provider, scale, "");
}

/* ---- main ---- */

typedef struct {
    cmn_config_t *config;
    s_names_t names;
    pl_policy_t *policy;
    zactor_t *producer;
    zactor_t *sender;
    zactor_t *subscriber;
    zsock_t *admin;
} s_main_t;

static void s_forward_decision(s_main_t *self)
{
    zmsg_t *message = zmsg_recv(self->subscriber);
    if (!message)
        return;
    char *command = zmsg_popstr(message);
    char *level = zmsg_popstr(message);
    char *scale = zmsg_popstr(message);
    char *ts = zmsg_popstr(message);
    if (command && streq(command, "DECISION") && level && scale && ts) {
        for (size_t idx = 0; idx < self->names.count; idx++) {
            if (!pl_policy_applies(self->policy, self->names.names[idx]))
                continue;
            char index[PL_NUMBER_TEXT_MAX];
            snprintf(index, sizeof index, "%zu", idx);
            zstr_sendx(self->producer, "SCALE", index, scale, level, ts, NULL);
        }
    }
    zstr_free(&command);
    zstr_free(&level);
    zstr_free(&scale);
    zstr_free(&ts);
    zmsg_destroy(&message);
}

static void s_forward_admin(s_main_t *self)
{
    zmsg_t *message = zmsg_recv(self->admin);
    if (!message)
        return;
    char *command = zmsg_popstr(message);
    char *provider = zmsg_popstr(message);
    char *first = zmsg_popstr(message);
    char *second = zmsg_popstr(message);
    if (command && provider && first && second)
        for (size_t idx = 0; idx < self->names.count; idx++)
            if (strcmp(self->names.names[idx], provider) == 0) {
                char index[PL_NUMBER_TEXT_MAX];
                snprintf(index, sizeof index, "%zu", idx);
                if (streq(command, "COOLDOWN"))
                    zstr_sendx(self->producer, "COOLDOWN", index, first, second,
                               NULL);
                else if (streq(command, "OVERRIDE"))
                    zstr_sendx(self->producer, "OVERRIDE", index, first, NULL);
            }
    zstr_free(&command);
    zstr_free(&provider);
    zstr_free(&first);
    zstr_free(&second);
    zmsg_destroy(&message);
}

/* Waits for one string reply from an actor until the deadline. */
static char *s_reply(zactor_t *actor, int64_t deadline_ns)
{
    zpoller_t *poller = zpoller_new(actor, NULL);
    zpoller_set_nonstop(poller, true);
    char *reply = NULL;
    while (!reply) {
        int64_t left = (deadline_ns - cmn_clock_now_mono_ns()) / CMN_NS_PER_MS;
        if (left < 0)
            break;
        if (zpoller_wait(poller, (int)(left + 1)) == actor)
            reply = zstr_recv(actor);
    }
    zpoller_destroy(&poller);
    return reply;
}

/* Builds providers into `producer`. Returns 0 or -1 after rejecting. */
static int s_build_providers(s_main_t *self, cmn_clock_t *clock,
                             pl_producer_config_t *producer)
{
    cmn_config_t *config = self->config;
    char flag[PL_OPTION_NAME_MAX];
    producer->rate = pl_rate_coordinator_new(
        clock, cmn_config_int(config, "fb-ramp-ms") * CMN_NS_PER_MS);
    for (size_t idx = 0; idx < self->names.count; idx++) {
        const char *name = self->names.names[idx];
        pl_rate_config_t rate;
        s_provider_flag(name, S_RATE_CAPACITY, flag);
        rate.capacity = cmn_config_double(config, flag);
        s_provider_flag(name, S_RATE_REFILL_RATE, flag);
        rate.refill_rate = cmn_config_double(config, flag);
        s_provider_flag(name, S_RATE_COOLDOWN_SEC, flag);
        rate.cooldown_sec = cmn_config_double(config, flag);
        s_provider_flag(name, S_RATE_BREAKER_THRESHOLD, flag);
        rate.breaker_threshold = (int)cmn_config_int(config, flag);
        s_provider_flag(name, S_RATE_BREAKER_TIMEOUT, flag);
        rate.breaker_timeout_sec = cmn_config_double(config, flag);
        if (pl_rate_coordinator_add(producer->rate, name, &rate) != (int)idx)
            return -1;
        pl_producer_source_t *source = &producer->sources[idx];
        s_provider_flag(name, S_PROVIDER_LIMIT, flag);
        source->limit = (uint64_t)cmn_config_int(config, flag);
        s_provider_flag(name, S_PROVIDER_SOURCE, flag);
        const char *kind = cmn_config_string(config, flag);
        snprintf(source->source, sizeof source->source, "%s", kind);
        if (strcmp(kind, PL_SOURCE_SYNTHETIC) == 0) {
            char symbols_flag[PL_OPTION_NAME_MAX],
                seed_flag[PL_OPTION_NAME_MAX];
            s_provider_flag(name, S_PROVIDER_SYMBOLS, symbols_flag);
            s_provider_flag(name, S_PROVIDER_SEED, seed_flag);
            pl_synthetic_config_t synthetic = {
                .provider = name,
                .symbols = cmn_config_string(config, symbols_flag),
                .seed = (uint64_t)cmn_config_int(config, seed_flag)};
            source->synthetic = pl_synthetic_new(&synthetic);
            if (!source->synthetic) {
                cmn_config_reject(config, symbols_flag,
                                  "symbols are 1 to 32 characters, at most "
                                  "256 of them");
                return -1;
            }
        } else if (strncmp(kind, PL_REPLAY_SOURCE_PREFIX,
                           strlen(PL_REPLAY_SOURCE_PREFIX)) == 0 &&
                   kind[strlen(PL_REPLAY_SOURCE_PREFIX)]) {
            char loop_flag[PL_OPTION_NAME_MAX];
            s_provider_flag(name, S_PROVIDER_LOOP, loop_flag);
            pl_replay_config_t replay = {
                .provider = name,
                .path = kind + strlen(PL_REPLAY_SOURCE_PREFIX),
                .loop = cmn_config_bool(config, loop_flag)};
            errno = 0;
            source->replay = pl_replay_new(&replay);
            if (!source->replay) {
                char reason[PL_OPTION_NAME_MAX * 2];
                snprintf(reason, sizeof reason,
                         "cannot read the replay file: %s",
                         errno ? strerror(errno) : "invalid");
                cmn_config_reject(config, flag, reason);
                return -1;
            }
        } else {
            cmn_config_reject(config, flag,
                              "expected synthetic or replay:PATH");
            return -1;
        }
    }
    return 0;
}

/* MDP_CURVE_*: both or neither, and readable certificates. Returns 0 or
 * -1 after rejecting. */
static int s_check_curve(cmn_config_t *config)
{
    const char *secret = cmn_config_string(config, "curve-secret-key-file");
    const char *server = cmn_config_string(config, "curve-server-key-file");
    const char *reason = NULL;
    if (secret && !server) {
        cmn_config_reject(config, "curve-server-key-file",
                          "required with MDP_CURVE_SECRET_KEY_FILE");
        return -1;
    }
    if (server && !secret) {
        cmn_config_reject(config, "curve-secret-key-file",
                          "required with MDP_CURVE_SERVER_KEY_FILE");
        return -1;
    }
    if (secret && cmn_curve_check_secret(secret, &reason) != 0) {
        cmn_config_reject(config, "curve-secret-key-file", reason);
        return -1;
    }
    if (server && cmn_curve_check_public(server, &reason) != 0) {
        cmn_config_reject(config, "curve-server-key-file", reason);
        return -1;
    }
    return 0;
}

/* Cross-option rules the option table cannot express: store endpoints,
 * MDP_FB_PROVIDER_NAME against MDP_PROVIDERS, an IPv4 HTTP bind address.
 * Returns 0 or -1 after rejecting. */
static int s_check_options(cmn_config_t *config, const s_names_t *names)
{
    char bad[PL_OPTION_NAME_MAX * 2], reason[PL_OPTION_NAME_MAX * 4];
    const char *store = cmn_config_string(config, "store-endpoints");
    if (pl_subscriber_check_endpoints(store, bad, sizeof bad) != 0) {
        if (!store || !store[strspn(store, PL_NAME_SEPARATORS)])
            snprintf(reason, sizeof reason, "no endpoint");
        else
            snprintf(reason, sizeof reason,
                     "'%s' is not tcp://HOST:PORT, ipc://... or inproc://...",
                     bad);
        cmn_config_reject(config, "store-endpoints", reason);
        return -1;
    }
    s_names_t scaled;
    const char *listed = cmn_config_string(config, "fb-provider-name");
    const char *why = listed ? s_parse_names(listed, &scaled) : NULL;
    bool blank = !listed || !listed[strspn(listed, PL_NAME_SEPARATORS)];
    if (why && !blank) {
        cmn_config_reject(config, "fb-provider-name", why);
        return -1;
    }
    if (listed && !why) {
        for (size_t k = 0; k < scaled.count; k++) {
            bool known = false;
            for (size_t idx = 0; idx < names->count; idx++)
                known =
                    known || strcmp(scaled.names[k], names->names[idx]) == 0;
            if (!known) {
                snprintf(reason, sizeof reason, "'%s' is not in MDP_PROVIDERS",
                         scaled.names[k]);
                cmn_config_reject(config, "fb-provider-name", reason);
                return -1;
            }
        }
    }
    const char *bind_reason = NULL; /* issue 12: shared with the coordinator */
    if (cmn_http_check_bind_address(cmn_config_string(config, "metrics-bind"),
                                    &bind_reason) != 0) {
        cmn_config_reject(config, "metrics-bind", bind_reason);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    s_main_t self_storage, *self = &self_storage;
    memset(self, 0, sizeof *self);
    int exit_code = CMN_EXIT_OK;
    self->config = cmn_config_new(
        PL_PROGRAM, MDBP_VERSION,
        "The producer service: providers paced by token buckets that obey "
        "the coordinators' backpressure feedback. The per-provider options "
        "(MDP_PROVIDER_<NAME>_*, MDP_RATE_<NAME>_*) are listed for the "
        "names in MDP_PROVIDERS: set it before --help to see yours.",
        s_options, sizeof s_options / sizeof s_options[0]);
    /* The provider list decides which per-provider options exist. */
    const char *peeked =
        cmn_config_peek(argc, argv, "providers", "MDP_PROVIDERS", "synthetic");
    bool names_ok = s_parse_names(peeked, &self->names) == NULL;
    if (names_ok)
        for (size_t idx = 0; idx < self->names.count; idx++)
            for (size_t t = 0; t < S_TEMPLATE_COUNT; t++) {
                char flag[PL_OPTION_NAME_MAX], env[PL_OPTION_NAME_MAX];
                s_option_names(&s_templates[t], self->names.names[idx], flag,
                               env);
                cmn_option_t option = {flag,
                                       env,
                                       s_templates[t].type,
                                       s_templates[t].default_value,
                                       s_templates[t].help,
                                       s_templates[t].min,
                                       s_templates[t].max,
                                       NULL};
                cmn_config_add(self->config, &option);
            }
    int rc = cmn_config_load(self->config, argc, argv);
    if (rc == CMN_CONFIG_EXIT) {
        cmn_config_destroy(&self->config);
        return CMN_EXIT_OK;
    }
    const char *why = s_parse_names(
        cmn_config_string(self->config, "providers"), &self->names);
    if (rc == 0 && why) {
        cmn_config_reject(self->config, "providers", why);
        rc = -1;
    }
    char bad[PL_BAD_ITEM_MAX];
    if (rc == 0 && pl_subscriber_check_endpoints(
                       cmn_config_string(self->config, "feedback-endpoints"),
                       bad, sizeof bad) != 0) {
        cmn_config_reject(
            self->config, "feedback-endpoints",
            "expected tcp://HOST:PORT, ipc://... or inproc://...");
        rc = -1;
    }
    if (rc == 0 && s_check_curve(self->config) != 0)
        rc = -1;
    if (rc == 0 && s_check_options(self->config, &self->names) != 0)
        rc = -1;
    if (rc != 0) {
        cmn_config_destroy(&self->config);
        return CMN_EXIT_USAGE;
    }
    cmn_config_t *config = self->config;
    cmn_log_level_t log_level;
    cmn_log_format_t log_format;
    cmn_log_level_parse(s_log_levels[cmn_config_choice(config, "log-level")],
                        &log_level);
    cmn_log_format_parse(s_log_formats[cmn_config_choice(config, "log-format")],
                         &log_format);
    cmn_log_setup(PL_PROGRAM, log_level, log_format);

    cmn_clock_t *clock = cmn_clock_new_system();
    cmn_metrics_t *registry = cmn_metrics_new();
    pl_metrics_t *metrics = pl_metrics_new(registry);
    bool feedback = cmn_config_bool(config, "fb-enable-feedback");
    pl_status_t *status = pl_status_new(feedback);
    pl_policy_config_t policy_config = {
        .enabled = feedback,
        .kind = (pl_policy_kind_t)cmn_config_choice(config, "fb-policy"),
        .scale_ok = cmn_config_double(config, "fb-scale-ok"),
        .scale_soft = cmn_config_double(config, "fb-scale-soft"),
        .scale_hard = cmn_config_double(config, "fb-scale-hard"),
        .providers = cmn_config_string(config, "fb-provider-name")};
    self->policy = pl_policy_new(&policy_config);

    pl_producer_config_t producer_config = {
        .clock = clock,
        .data_endpoint = PL_DATA_ENDPOINT,
        .chunk_records = PL_PRODUCER_CHUNK_RECORDS_DEFAULT,
        .metrics = metrics,
        .status = status};
    cmn_http_t *http = NULL;
    if (s_build_providers(self, clock, &producer_config) != 0) {
        exit_code = CMN_EXIT_USAGE;
        goto cleanup;
    }

    char host[PROTO_ID_MAX + 1] = "mdp-pipeline";
    if (gethostname(host, sizeof host) != 0 || !host[0])
        snprintf(host, sizeof host, "mdp-pipeline");
    host[PROTO_ID_MAX] = '\0';
    const char *producer_id = cmn_config_string(config, "producer-id");
    pl_sender_config_t sender_config = {
        .clock = clock,
        .endpoints = cmn_config_string(config, "store-endpoints"),
        .producer_id = producer_id ? producer_id : host,
        .data_endpoint = PL_DATA_ENDPOINT,
        .batch_records = (size_t)cmn_config_int(config, "send-batch-records"),
        .batch_ns = cmn_config_int(config, "send-batch-ms") * CMN_NS_PER_MS,
        .window = (size_t)cmn_config_int(config, "send-window"),
        .ack_timeout_ns =
            cmn_config_int(config, "send-ack-timeout-ms") * CMN_NS_PER_MS,
        .metrics = metrics,
        .status = status,
        .curve_secret_key_file =
            cmn_config_string(config, "curve-secret-key-file"),
        .curve_server_key_file =
            cmn_config_string(config, "curve-server-key-file")};
    self->sender = pl_sender_new(&sender_config);
    self->producer = pl_producer_new(&producer_config);
    if (!self->sender || !self->producer) {
        exit_code = CMN_EXIT_FAILURE;
        goto cleanup;
    }
    /* Visible before the first event: every provider at scale 1, level ok. */
    if (feedback) {
        pl_subscriber_config_t subscriber_config = {
            .clock = clock,
            .endpoints = cmn_config_string(config, "feedback-endpoints"),
            .resolve_ns =
                cmn_config_int(config, "fb-resolve-sec") * CMN_NS_PER_SEC,
            .tick_ns = PL_SUBSCRIBER_TICK_MS_DEFAULT * CMN_NS_PER_MS,
            .feedback = {.stale_level = (proto_level_t)cmn_config_choice(
                             config, "fb-stale-level"),
                         .forget_ns = cmn_config_int(config, "fb-forget-sec") *
                                      CMN_NS_PER_SEC},
            .policy = self->policy,
            .metrics = metrics,
            .status = status,
            .curve_secret_key_file =
                cmn_config_string(config, "curve-secret-key-file"),
            .curve_server_key_file =
                cmn_config_string(config, "curve-server-key-file")};
        self->subscriber = pl_subscriber_new(&subscriber_config);
        if (!self->subscriber) {
            exit_code = CMN_EXIT_FAILURE;
            goto cleanup;
        }
    }
    self->admin = zsock_new_pull("@" PL_ADMIN_ENDPOINT);

    if (cmn_config_bool(config, "metrics-enable")) {
        cmn_http_config_t http_config = {
            .bind_address = cmn_config_string(config, "metrics-bind"),
            .port = (int)cmn_config_int(config, "metrics-standalone-port"),
            .threads = (int)cmn_config_int(config, "http-threads"),
            .max_request_bytes =
                (size_t)cmn_config_int(config, "http-max-request-bytes"),
            .request_timeout_ms =
                (int)cmn_config_int(config, "http-request-timeout-ms"),
            .admin_token = cmn_config_string(config, "admin-token")};
        http = cmn_http_new(&http_config, registry);
        cmn_http_route(http, "GET", "/health", false, s_on_health, NULL);
        cmn_http_route(http, "GET", "/ready", false, s_on_ready, status);
        cmn_http_route(http, "GET", "/status", false, s_on_status, status);
        cmn_http_route(http, "POST", "/admin/cooldown", true,
                       s_on_admin_cooldown, &self->names);
        cmn_http_route(http, "POST", "/admin/scale", true, s_on_admin_scale,
                       &self->names);
        if (!http || cmn_http_start(http) != 0) {
            exit_code = CMN_EXIT_FAILURE;
            goto cleanup;
        }
        cmn_log_info("main", "http_listening", "port=%d", cmn_http_port(http));
    }
    cmn_log_info("main", "started", "providers=%s feedback=%s policy=%s",
                 cmn_config_string(config, "providers"),
                 feedback ? "on" : "off",
                 pl_policy_kind_name(pl_policy_kind(self->policy)));

    zpoller_t *poller = zpoller_new(self->admin, NULL);
    if (self->subscriber)
        zpoller_add(poller, self->subscriber);
    while (!zsys_interrupted) {
        void *which = zpoller_wait(poller, PL_MAIN_POLL_MS);
        if (which && which == self->subscriber)
            s_forward_decision(self);
        else if (which == self->admin)
            s_forward_admin(self);
        else if (zpoller_terminated(poller))
            break;
    }
    zpoller_destroy(&poller);

    /* Shutdown: stop making records, then get the window acknowledged. */
    int64_t timeout_ns =
        cmn_config_int(config, "shutdown-timeout-ms") * CMN_NS_PER_MS;
    int64_t deadline = cmn_clock_now_mono_ns() + timeout_ns;
    cmn_log_info("main", "shutdown", "timeout_ms=%lld",
                 (long long)(timeout_ns / CMN_NS_PER_MS));
    char deadline_ms[PL_NUMBER_TEXT_MAX];
    snprintf(deadline_ms, sizeof deadline_ms, "%lld",
             (long long)(timeout_ns / CMN_NS_PER_MS));
    zstr_sendx(self->producer, "STOP", deadline_ms, NULL);
    /* The producer answers at its deadline at the latest: allow a margin. */
    char *reply = s_reply(self->producer, deadline + CMN_NS_PER_SEC);
    long long dropped = reply ? atoll(reply) : -1; /* -1: no answer */
    zstr_free(&reply);
    int64_t left = (deadline - cmn_clock_now_mono_ns()) / CMN_NS_PER_MS;
    snprintf(deadline_ms, sizeof deadline_ms, "%lld",
             (long long)(left > 0 ? left : 0));
    zstr_sendx(self->sender, "FLUSH", deadline_ms, NULL);
    reply = s_reply(self->sender, deadline + CMN_NS_PER_SEC);
    long long unacked = reply ? atoll(reply) : -1;
    zstr_free(&reply);
    /* Unacknowledged records may or may not have been stored (an ack can
     * be lost); records the producer could not hand over were never sent. */
    if (unacked == 0 && dropped == 0)
        cmn_log_info("main", "flushed", "unacked_records=0");
    else
        cmn_log_warning("main", "shutdown_incomplete",
                        "unacked_records=%lld unsent_records=%lld", unacked,
                        dropped);

cleanup:
    zactor_destroy(&self->subscriber);
    zactor_destroy(&self->producer);
    zactor_destroy(&self->sender);
    zsock_destroy(&self->admin);
    cmn_http_destroy(&http);
    for (size_t idx = 0; idx < PL_RATE_PROVIDERS_MAX; idx++) {
        pl_synthetic_destroy(&producer_config.sources[idx].synthetic);
        pl_replay_destroy(&producer_config.sources[idx].replay);
    }
    pl_rate_coordinator_destroy(&producer_config.rate);
    pl_policy_destroy(&self->policy);
    pl_status_destroy(&status);
    pl_metrics_destroy(&metrics);
    cmn_metrics_destroy(&registry);
    cmn_clock_destroy(&clock);
    cmn_config_destroy(&self->config);
    return exit_code;
}
