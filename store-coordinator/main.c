/* mds-coordinator: the store's write coordinator.
 *
 * Takes batches of market data on a ROUTER socket, queues them (bounded),
 * writes them to a database with N workers, acks each batch once all its
 * records are committed, and publishes its backpressure level on an XPUB
 * socket. Threads: main (configuration, signals, shutdown), the core actor
 * (ingest, queue, watermark), N workers (sinks), the publisher, and the
 * HTTP server's threads (which only read atomics). */
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_breaker.h"
#include "cmn_clock.h"
#include "cmn_config.h"
#include "cmn_curve.h"
#include "cmn_http.h"
#include "cmn_json.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_webhook.h"
#include "sc_core.h"
#include "proto_feedback.h"
#include "sc_replay.h"
#include "sc_settings.h"
#include "sc_sink.h"
#include "sc_state.h"
#include "sc_stats.h"

#define SC_PROGRAM "mds-coordinator"
#define SC_INGEST_RCVHWM 256   /* messages per producer, then TCP pushback */
/* Replies per producer before dropping (and counting) them: with the
 * envelope limit (PROTO_ENVELOPE_BYTES_MAX) a producer that never reads its
 * replies holds at most about 1024 x 2.3 KiB (issue 12). */
#define SC_INGEST_SNDHWM 1024
/* Larger messages are cut off by ZeroMQ (the peer is disconnected); between
 * the protocol limit and this they are read and nacked malformed. */
#define SC_INGEST_MAXMSGSIZE (2 * PROTO_MESSAGE_BYTES_MAX)
/* Largest frame the feedback XPUB reads: the longest valid subscription
 * is 73 bytes (82 as a ZMTP 3.1 SUBSCRIBE command, 33 more under CURVE),
 * but the CURVE handshake needs HELLO (200 bytes) and INITIATE (about 300
 * plus the client's metadata). libzmq disconnects a peer that sends more,
 * before storing anything (docs/security.md, "Limits"). */
#define SC_FEEDBACK_MAXMSGSIZE 1024
#define SC_SOCKET_LINGER_MS 2000 /* let the last acks and event go out */
#define SC_DATA_DIR_MODE 0755
#define SC_DATA_FILE_MODE 0644
#define SC_PORT_MAX 65535
#define SC_REPLAY_REPLY_TIMEOUT_MS 5000
#define SC_REPLAY_DEADLINE_MS 30000
#define SC_ERROR_BYTES 256
#define SC_SIGNAL_POLL_MS 100 /* a second signal is noticed this fast */
#define SC_MS_PER_SEC 1000.0
#define SC_EPOCH_MASK ((UINT64_C(1) << 53) - 1) /* exact in a double */
#define SC_WEBHOOK_METRIC_PREFIX "mds_feedback_webhook"
#define SC_CURVE_METRIC_PREFIX "mds"

static const char *const s_log_levels[] = {"error", "warning", "info", "debug",
                                           NULL};
static const char *const s_log_formats[] = {"text", "json", NULL};

static const cmn_option_t s_options[] = {
    {.flag = "coordinator-id",
     .env = "MDS_COORDINATOR_ID",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "name in events and metrics (default: the host name)"},
    {.flag = "ingest-endpoint",
     .env = "MDS_INGEST_ENDPOINT",
     .type = CMN_OPT_STRING,
     .default_value = "tcp://*:5555",
     .help = "ROUTER bind endpoint for batches"},
    {.flag = "feedback-endpoint",
     .env = "MDS_FEEDBACK_ENDPOINT",
     .type = CMN_OPT_STRING,
     .default_value = "tcp://*:5556",
     .help = "XPUB bind endpoint for backpressure events"},
    {.flag = "http-port",
     .env = "MDS_HTTP_PORT",
     .type = CMN_OPT_INT,
     .default_value = "9102",
     .help = "HTTP port (/metrics /health /ready "
             "/status); 0 picks a free one",
     .min = 0,
     .max = 65535},
    {.flag = "http-bind",
     .env = "MDS_HTTP_BIND",
     .type = CMN_OPT_STRING,
     .default_value = "0.0.0.0",
     .help = "HTTP bind address"},
    {.flag = "sink",
     .env = "MDS_SINK",
     .type = CMN_OPT_STRING,
     .default_value = "sqlite:./data/market.db",
     .help = "sqlite:PATH, postgres://... or null: (benchmarks only)"},
    {.flag = "dlq-path",
     .env = "MDS_DLQ_PATH",
     .type = CMN_OPT_STRING,
     .default_value = "./data/dead-letter.ndjson",
     .help = "dead-letter file (NDJSON, one record per line)"},
    {.flag = "queue-capacity",
     .env = "MDS_QUEUE_CAPACITY",
     .type = CMN_OPT_INT,
     .default_value = "10000",
     .help = "records the queue holds",
     .min = 1,
     .max = 10000000},
    {.flag = "low-watermark",
     .env = "MDS_LOW_WATERMARK",
     .type = CMN_OPT_DOUBLE,
     .default_value = "0.5",
     .help = "fraction of capacity: OK at or below, SOFT above",
     .min = 0,
     .max = 1},
    {.flag = "high-watermark",
     .env = "MDS_HIGH_WATERMARK",
     .type = CMN_OPT_DOUBLE,
     .default_value = "0.8",
     .help = "fraction of capacity: HARD at or above",
     .min = 0,
     .max = 1},
    {.flag = "dead-band",
     .env = "MDS_DEAD_BAND",
     .type = CMN_OPT_DOUBLE,
     .default_value = "0.1",
     .help = "fraction of capacity between entering and leaving a level "
             "(0 = the seed's rules)",
     .min = 0,
     .max = 1},
    {.flag = "dwell-ms",
     .env = "MDS_DWELL_MS",
     .type = CMN_OPT_INT,
     .default_value = "250",
     .help = "minimum time in a level before "
             "stepping down",
     .min = 0,
     .max = 3600000},
    {.flag = "workers",
     .env = "MDS_WORKERS",
     .type = CMN_OPT_INT,
     .default_value = "2",
     .help = "writer threads (one connection each)",
     .min = 1,
     .max = SC_WORKERS_MAX},
    {.flag = "batch-size",
     .env = "MDS_BATCH_SIZE",
     .type = CMN_OPT_INT,
     .default_value = "500",
     .help = "records per transaction, at most",
     .min = 1,
     .max = PROTO_BATCH_RECORDS_MAX},
    {.flag = "batch-timeout-ms",
     .env = "MDS_BATCH_TIMEOUT_MS",
     .type = CMN_OPT_INT,
     .default_value = "250",
     .help = "longest wait for a full batch",
     .min = 0,
     .max = 60000},
    {.flag = "batch-eager",
     .env = "MDS_BATCH_EAGER",
     .type = CMN_OPT_BOOL,
     .default_value = "true",
     .help = "an idle worker takes a partial batch "
             "when no more input is waiting (false: wait for size or timeout)"},
    {.flag = "heartbeat-ms",
     .env = "MDS_HEARTBEAT_MS",
     .type = CMN_OPT_INT,
     .default_value = "1000",
     .help = "feedback heartbeat interval (+-10%)",
     .min = 10,
     .max = 3600000},
    {.flag = "feedback-hwm",
     .env = "MDS_FEEDBACK_HWM",
     .type = CMN_OPT_INT,
     .default_value = "1000",
     .help = "events queued per subscriber before "
             "it misses some",
     .min = 1,
     .max = 1000000},
    {.flag = "drain-timeout-ms",
     .env = "MDS_DRAIN_TIMEOUT_MS",
     .type = CMN_OPT_INT,
     .default_value = "10000",
     .help = "shutdown flush budget; the rest is dead-lettered",
     .min = 0,
     .max = 3600000},
    {.flag = "retry-limit",
     .env = "MDS_RETRY_LIMIT",
     .type = CMN_OPT_INT,
     .default_value = "5",
     .help = "quick retries of a transient error "
             "before the breaker paces them",
     .min = 0,
     .max = 1000},
    {.flag = "retry-base-ms",
     .env = "MDS_RETRY_BASE_MS",
     .type = CMN_OPT_INT,
     .default_value = "50",
     .help = "first retry backoff (doubles, with jitter)",
     .min = 1,
     .max = 600000},
    {.flag = "retry-max-ms",
     .env = "MDS_RETRY_MAX_MS",
     .type = CMN_OPT_INT,
     .default_value = "2000",
     .help = "longest retry backoff",
     .min = 1,
     .max = 600000},
    {.flag = "breaker-threshold",
     .env = "MDS_BREAKER_THRESHOLD",
     .type = CMN_OPT_INT,
     .default_value = "5",
     .help = "consecutive failures that open the breaker",
     .min = 1,
     .max = 1000},
    {.flag = "breaker-timeout-ms",
     .env = "MDS_BREAKER_TIMEOUT_MS",
     .type = CMN_OPT_INT,
     .default_value = "2000",
     .help = "how long an open breaker waits before a trial",
     .min = 1,
     .max = 3600000},
    {.flag = "http-max-request-bytes",
     .env = "MDS_HTTP_MAX_REQUEST_BYTES",
     .type = CMN_OPT_INT,
     .default_value = "16384",
     .help = "largest HTTP request body; larger answer 413",
     .min = 256,
     .max = 16777216},
    /* Issue 12: slow clients (docs/security.md, "Limits"); defaults are
     * CMN_HTTP_REQUEST_TIMEOUT_MS_DEFAULT and CMN_HTTP_THREADS_DEFAULT. */
    {.flag = "http-request-timeout-ms",
     .env = "MDS_HTTP_REQUEST_TIMEOUT_MS",
     .type = CMN_OPT_INT,
     .default_value = "2000",
     .help = "an HTTP request (headers and body) must arrive within this time",
     .min = 100,
     .max = 600000},
    {.flag = "http-threads",
     .env = "MDS_HTTP_THREADS",
     .type = CMN_OPT_INT,
     .default_value = "128",
     .help = "HTTP worker threads: slow clients each hold one until their "
             "request timeout",
     .min = 1,
     .max = CMN_HTTP_THREADS_MAX},
    {.flag = "fb-enable-http-broadcast",
     .env = "MDS_FB_ENABLE_HTTP_BROADCAST",
     .type = CMN_OPT_BOOL,
     .default_value = "false",
     .help = "POST every transition as JSON to MDS_FB_HTTP_ENDPOINT"},
    {.flag = "fb-http-endpoint",
     .env = "MDS_FB_HTTP_ENDPOINT",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "webhook URL, http://host[:port]/path (no https: use a proxy)"},
    {.flag = "fb-http-timeout",
     .env = "MDS_FB_HTTP_TIMEOUT",
     .type = CMN_OPT_DOUBLE,
     .default_value = "2.5",
     .help = "seconds per webhook attempt",
     .min = 0.001,
     .max = 600},
    {.flag = "fb-http-max-retries",
     .env = "MDS_FB_HTTP_MAX_RETRIES",
     .type = CMN_OPT_INT,
     .default_value = "3",
     .help = "webhook retries after the first attempt",
     .min = 0,
     .max = 1000},
    {.flag = "fb-http-backoff",
     .env = "MDS_FB_HTTP_BACKOFF",
     .type = CMN_OPT_DOUBLE,
     .default_value = "0.5",
     .help = "seconds before the first webhook retry (doubles, jitter)",
     .min = 0,
     .max = 600},
    {.flag = "fb-http-backoff-max",
     .env = "MDS_FB_HTTP_BACKOFF_MAX",
     .type = CMN_OPT_DOUBLE,
     .default_value = "30",
     .help = "seconds: the webhook backoff stops doubling here",
     .min = 0.001,
     .max = 3600},
    {.flag = "fb-http-queue-capacity",
     .env = "MDS_FB_HTTP_QUEUE_CAPACITY",
     .type = CMN_OPT_INT,
     .default_value = "1024",
     .help = "transitions waiting for the webhook; the oldest is dropped",
     .min = 1,
     .max = 1000000},
    {.flag = "curve-secret-key-file",
     .env = "MDS_CURVE_SECRET_KEY_FILE",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "CURVE on both sockets: the server's czmq certificate "
             "(NAME_secret; see keygen)"},
    {.flag = "curve-clients-dir",
     .env = "MDS_CURVE_CLIENTS_DIR",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "CURVE allow-list: directory of client public certificates"},
    {.flag = "log-level",
     .env = "MDS_LOG_LEVEL",
     .type = CMN_OPT_CHOICE,
     .default_value = "info",
     .help = "error, warning, info or debug",
     .choices = s_log_levels},
    {.flag = "log-format",
     .env = "MDS_LOG_FORMAT",
     .type = CMN_OPT_CHOICE,
     .default_value = "text",
     .help = "text or json",
     .choices = s_log_formats},
};

/* What the HTTP handlers read. */
typedef struct {
    const sc_settings_t *settings;
    sc_state_t *state;
    const char *sink_kind;
} s_http_context_t;

static void s_on_health(const cmn_http_request_t *request,
                        cmn_http_response_t *response, void *arg)
{
    (void)request;
    (void)arg;
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "status", "ok");
    cmn_json_object_end(json);
    cmn_http_respond_json(response, 200, json);
    cmn_json_destroy(&json);
}

static void s_on_ready(const cmn_http_request_t *request,
                       cmn_http_response_t *response, void *arg)
{
    (void)request;
    s_http_context_t *context = arg;
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
    cmn_http_respond_json(response, ready ? 200 : 503, json);
    cmn_json_destroy(&json);
}

static void s_on_status(const cmn_http_request_t *request,
                        cmn_http_response_t *response, void *arg)
{
    (void)request;
    s_http_context_t *context = arg;
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
        proto_level_name((proto_level_t)atomic_load(&state->level)));
    cmn_json_uint(json, "depth", depth);
    cmn_json_uint(json, "capacity", settings->capacity);
    cmn_json_double(json, "utilization",
                    (double)depth / (double)settings->capacity);
    cmn_json_double(json, "scale_hint",
                    sc_watermark_scale_hint(&settings->watermark, depth));
    cmn_json_uint(json, "low_watermark", settings->watermark.low);
    cmn_json_uint(json, "high_watermark", settings->watermark.high);
    cmn_json_uint(json, "dead_band", settings->watermark.dead_band);
    cmn_json_int(json, "dwell_ms",
                 settings->watermark.dwell_ns / CMN_NS_PER_MS);
    cmn_json_double(json, "drain_rate", atomic_load(&state->drain_rate));
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
    cmn_http_respond_json(response, 200, json);
    cmn_json_destroy(&json);
}

/* Makes sure the coordinator can write `path` (creating the missing
 * directories above it and the file itself, empty) before anything starts:
 * a path it can never write is a configuration error (exit 2), not a
 * database that is "down" forever. Returns 0, or -1 with the option named. */
static int s_check_writable(cmn_config_t *config, const char *flag,
                            const char *path)
{
    char error[SC_ERROR_BYTES];
    char directory[PATH_MAX];
    snprintf(directory, sizeof directory, "%s", path);
    for (char *slash = strchr(directory + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(directory, SC_DATA_DIR_MODE) != 0 && errno != EEXIST) {
            snprintf(error, sizeof error,
                     "cannot create directory '%.200s': %s", directory,
                     strerror(errno));
            cmn_config_reject(config, flag, error);
            return -1;
        }
        *slash = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  SC_DATA_FILE_MODE);
    if (fd < 0) {
        snprintf(error, sizeof error, "cannot open '%.200s' for writing: %s",
                 path, strerror(errno));
        cmn_config_reject(config, flag, error);
        return -1;
    }
    close(fd);
    return 0;
}

/* A SQLite file that exists but is something else (a text file, a
 * truncated copy) is a configuration error, not a database that is "down".
 * Returns 0 (empty or a SQLite file) or -1 with the option named. */
static int s_check_sqlite_file(cmn_config_t *config, const char *path)
{
    static const char header[] = "SQLite format 3"; /* and a NUL: 16 bytes */
    char start[sizeof header];
    FILE *file = fopen(path, "rb");
    if (!file)
        return 0; /* s_check_writable reports it */
    size_t got = fread(start, 1, sizeof start, file);
    fclose(file);
    if (got == 0 ||
        (got == sizeof start && memcmp(start, header, sizeof header) == 0))
        return 0;
    char error[SC_ERROR_BYTES];
    snprintf(error, sizeof error,
             "'%.200s' exists and is not a SQLite database", path);
    cmn_config_reject(config, "sink", error);
    return -1;
}

/* Checks a bind endpoint's form (tcp://HOST:PORT with PORT a number or `*`,
 * ipc://PATH, inproc://NAME), so that a typo exits 2 naming the option
 * rather than failing the bind as a runtime error. Returns 0 or -1. */
static int s_check_endpoint(cmn_config_t *config, const char *flag,
                            const char *endpoint)
{
    const char *expected = "expected tcp://HOST:PORT (PORT a number or *), "
                           "ipc://PATH or inproc://NAME";
    if (!endpoint || (strncmp(endpoint, "ipc://", strlen("ipc://")) == 0 &&
                      endpoint[strlen("ipc://")] != '\0'))
        return 0;
    if (strncmp(endpoint, "inproc://", strlen("inproc://")) == 0 &&
        endpoint[strlen("inproc://")] != '\0')
        return 0;
    const char *colon = strrchr(endpoint, ':');
    bool valid = strncmp(endpoint, "tcp://", strlen("tcp://")) == 0 &&
                 colon > endpoint + strlen("tcp://");
    if (valid && !streq(colon + 1, "*")) {
        char *end = NULL;
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        valid = colon[1] != '\0' && *end == '\0' && errno == 0 && port >= 0 &&
                port <= SC_PORT_MAX;
    }
    if (!valid) {
        cmn_config_reject(config, flag, expected);
        return -1;
    }
    return 0;
}

/* A random epoch of 53 bits, never 0: JSON readers that hold numbers as
 * doubles (JavaScript, jq) keep it exact in /status, the tail's lines and
 * webhook bodies; 2^53 values are plenty to tell restarts apart. */
static uint64_t s_random_epoch(void)
{
    uint64_t epoch = 0;
    if (getrandom(&epoch, sizeof epoch, 0) != (ssize_t)sizeof epoch)
        epoch = (uint64_t)cmn_clock_now_mono_ns() ^ ((uint64_t)getpid() << 32);
    epoch &= SC_EPOCH_MASK;
    return epoch ? epoch : 1;
}

/* The webhook and CURVE options (docs/security.md). Returns 0 or -1
 * (message printed). */
static int s_security_load(cmn_config_t *config, sc_settings_t *settings)
{
    settings->fb_http_enabled =
        cmn_config_bool(config, "fb-enable-http-broadcast");
    settings->fb_http_endpoint = cmn_config_string(config, "fb-http-endpoint");
    settings->fb_http_timeout_ms =
        llround(cmn_config_double(config, "fb-http-timeout") * SC_MS_PER_SEC);
    settings->fb_http_max_retries =
        (int)cmn_config_int(config, "fb-http-max-retries");
    settings->fb_http_backoff_ms =
        llround(cmn_config_double(config, "fb-http-backoff") * SC_MS_PER_SEC);
    settings->fb_http_backoff_max_ms = llround(
        cmn_config_double(config, "fb-http-backoff-max") * SC_MS_PER_SEC);
    settings->fb_http_queue_capacity =
        (size_t)cmn_config_int(config, "fb-http-queue-capacity");
    if (settings->fb_http_timeout_ms < 1)
        settings->fb_http_timeout_ms = 1;
    const char *reason = NULL;
    cmn_webhook_url_t url;
    if (settings->fb_http_enabled && !settings->fb_http_endpoint) {
        cmn_config_reject(config, "fb-http-endpoint",
                          "required when MDS_FB_ENABLE_HTTP_BROADCAST is "
                          "true");
        return -1;
    }
    if (settings->fb_http_endpoint &&
        cmn_webhook_url_parse(settings->fb_http_endpoint, &url, &reason) != 0) {
        cmn_config_reject(config, "fb-http-endpoint", reason);
        return -1;
    }
    settings->curve_secret_key_file =
        cmn_config_string(config, "curve-secret-key-file");
    settings->curve_clients_dir =
        cmn_config_string(config, "curve-clients-dir");
    if (settings->curve_secret_key_file && !settings->curve_clients_dir) {
        cmn_config_reject(config, "curve-clients-dir",
                          "required with MDS_CURVE_SECRET_KEY_FILE (the "
                          "allow-list of client certificates)");
        return -1;
    }
    if (settings->curve_clients_dir && !settings->curve_secret_key_file) {
        cmn_config_reject(config, "curve-secret-key-file",
                          "required with MDS_CURVE_CLIENTS_DIR");
        return -1;
    }
    if (settings->curve_secret_key_file &&
        cmn_curve_check_secret(settings->curve_secret_key_file, &reason) != 0) {
        cmn_config_reject(config, "curve-secret-key-file", reason);
        return -1;
    }
    if (settings->curve_clients_dir &&
        cmn_curve_check_directory(settings->curve_clients_dir, &reason) != 0) {
        cmn_config_reject(config, "curve-clients-dir", reason);
        return -1;
    }
    return 0;
}

/* Fills `settings` from the loaded configuration and checks the rules that
 * involve several options. Returns 0 or -1 (message printed). */
static int s_settings_load(cmn_config_t *config, sc_settings_t *settings)
{
    const char *id = cmn_config_string(config, "coordinator-id");
    char host[256] = "";
    if (!id || !*id) {
        if (gethostname(host, sizeof host) != 0 || !*host)
            snprintf(host, sizeof host, "coordinator");
        host[PROTO_ID_MAX] = '\0';
        id = host;
    }
    char topic[PROTO_FEEDBACK_TOPIC_MAX];
    if (strlen(id) > PROTO_ID_MAX ||
        proto_feedback_topic(id, topic, sizeof topic) < 0) {
        cmn_config_reject(config, "coordinator-id",
                          "must be 1 to 64 bytes without '/'");
        return -1;
    }
    /* Length checked above; memcpy, not snprintf: at -O0 gcc cannot see
     * the check and raises -Wformat-truncation for host[256]. */
    memcpy(settings->coordinator_id, id, strlen(id) + 1);
    settings->ingest_endpoint = cmn_config_string(config, "ingest-endpoint");
    settings->feedback_endpoint =
        cmn_config_string(config, "feedback-endpoint");
    if (s_check_endpoint(config, "ingest-endpoint",
                         settings->ingest_endpoint) != 0 ||
        s_check_endpoint(config, "feedback-endpoint",
                         settings->feedback_endpoint) != 0)
        return -1;
    settings->sink_uri = cmn_config_string(config, "sink");
    settings->dlq_path = cmn_config_string(config, "dlq-path");
    char error[SC_ERROR_BYTES];
    if (sc_sink_check_uri(settings->sink_uri, error, sizeof error) != 0) {
        cmn_config_reject(config, "sink", error);
        return -1;
    }
    if (!settings->dlq_path || !*settings->dlq_path) {
        cmn_config_reject(config, "dlq-path", "must not be empty");
        return -1;
    }
    size_t capacity = (size_t)cmn_config_int(config, "queue-capacity");
    settings->capacity = capacity;
    double low = cmn_config_double(config, "low-watermark");
    double high = cmn_config_double(config, "high-watermark");
    double band = cmn_config_double(config, "dead-band");
    settings->watermark = (sc_watermark_config_t){
        .capacity = capacity,
        .low = (uint64_t)llround(low * (double)capacity),
        .high = (uint64_t)llround(high * (double)capacity),
        .dead_band = (uint64_t)llround(band * (double)capacity),
        .dwell_ns = cmn_config_int(config, "dwell-ms") * CMN_NS_PER_MS,
    };
    if (low >= high) {
        cmn_config_reject(config, "low-watermark",
                          "must be below the high watermark");
        return -1;
    }
    if (settings->watermark.dead_band > settings->watermark.low) {
        cmn_config_reject(config, "dead-band",
                          "must not exceed the low watermark");
        return -1;
    }
    const char *reason = NULL;
    if (sc_watermark_config_check(&settings->watermark, &reason) != 0) {
        cmn_config_reject(config, "high-watermark", reason);
        return -1;
    }
    settings->workers = (size_t)cmn_config_int(config, "workers");
    settings->batch_size = (size_t)cmn_config_int(config, "batch-size");
    settings->batch_timeout_ms = cmn_config_int(config, "batch-timeout-ms");
    settings->batch_eager = cmn_config_bool(config, "batch-eager");
    settings->heartbeat_ms = cmn_config_int(config, "heartbeat-ms");
    settings->feedback_hwm = (int)cmn_config_int(config, "feedback-hwm");
    settings->drain_timeout_ms = cmn_config_int(config, "drain-timeout-ms");
    settings->retry_limit = (uint32_t)cmn_config_int(config, "retry-limit");
    settings->retry_base_ms = cmn_config_int(config, "retry-base-ms");
    settings->retry_max_ms = cmn_config_int(config, "retry-max-ms");
    if (settings->retry_base_ms > settings->retry_max_ms) {
        cmn_config_reject(config, "retry-base-ms",
                          "must not exceed the longest backoff "
                          "(MDS_RETRY_MAX_MS)");
        return -1;
    }
    settings->breaker_threshold =
        (uint32_t)cmn_config_int(config, "breaker-threshold");
    settings->breaker_timeout_ms = cmn_config_int(config, "breaker-timeout-ms");
    settings->epoch = s_random_epoch();
    /* Issue 12: one IPv4 address, or civetweb binds something else. */
    if (cmn_http_check_bind_address(cmn_config_string(config, "http-bind"),
                                    &reason) != 0) {
        cmn_config_reject(config, "http-bind", reason);
        return -1;
    }
    return s_security_load(config, settings);
}

static zsock_t *s_bind(int type, const char *endpoint, const char *what,
                       cmn_curve_t *curve)
{
    zsock_t *socket = zsock_new(type);
    if (!socket)
        return NULL;
    /* CURVE must be set before bind; NULL curve: plaintext (local stack). */
    if (curve && cmn_curve_server_apply(curve, socket, what) != 0) {
        zsock_destroy(&socket);
        return NULL;
    }
    zsock_set_linger(socket, SC_SOCKET_LINGER_MS);
    if (type == ZMQ_ROUTER) {
        zsock_set_rcvhwm(socket, SC_INGEST_RCVHWM);
        zsock_set_sndhwm(socket, SC_INGEST_SNDHWM);
        zsock_set_maxmsgsize(socket, SC_INGEST_MAXMSGSIZE);
        /* Issue 12: a full or gone peer fails the (non-blocking) send, so
         * sc_core counts the dropped reply instead of libzmq hiding it. */
        zsock_set_router_mandatory(socket, 1);
    }
    /* Issue 12: before bind, or accepted connections do not get it. */
    if (type == ZMQ_XPUB)
        zsock_set_maxmsgsize(socket, SC_FEEDBACK_MAXMSGSIZE);
    if (zsock_bind(socket, "%s", endpoint) < 0) {
        cmn_log_error("main", "bind_failed",
                      "socket=%s endpoint=\"%s\" error=\"%s\"", what, endpoint,
                      zmq_strerror(zmq_errno()));
        zsock_destroy(&socket);
    } else {
        /* The port a wildcard (`*`, `0`) got: what clients must use. */
        char *bound = zsock_last_endpoint(socket);
        cmn_log_info("main", "bound", "socket=%s endpoint=\"%s\"", what,
                     bound ? bound : endpoint);
        zstr_free(&bound);
    }
    return socket;
}

static int s_run_replay(cmn_config_t *config)
{
    if (cmn_config_positional_count(config) != 3 ||
        !streq(cmn_config_positional(config, 1), "replay")) {
        fprintf(stderr, "%s: usage: %s dlq replay FILE\n", SC_PROGRAM,
                SC_PROGRAM);
        return CMN_EXIT_USAGE;
    }
    char endpoint[PATH_MAX];
    sc_replay_connect_address(cmn_config_string(config, "ingest-endpoint"),
                              endpoint, sizeof endpoint);
    sc_replay_config_t replay = {
        .path = cmn_config_positional(config, 2),
        .endpoint = endpoint,
        .batch_size = (size_t)cmn_config_int(config, "batch-size"),
        .reply_timeout_ms = SC_REPLAY_REPLY_TIMEOUT_MS,
        .deadline_ms = SC_REPLAY_DEADLINE_MS,
    };
    return sc_replay_run(&replay);
}

/* `keygen PATH`: a CURVE key pair as czmq certificates, PATH (public, to
 * hand out) and PATH_secret (keep private). */
static int s_run_keygen(cmn_config_t *config)
{
    if (cmn_config_positional_count(config) != 2) {
        fprintf(stderr, "%s: usage: %s keygen PATH\n", SC_PROGRAM, SC_PROGRAM);
        return CMN_EXIT_USAGE;
    }
    const char *path = cmn_config_positional(config, 1);
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    if (cmn_curve_keygen(path, basename(copy)) != 0)
        return CMN_EXIT_FAILURE;
    printf("%s\n%s_secret\n", path, path);
    return CMN_EXIT_OK;
}

/* The signals main takes with sigwait (blocked in every thread). */
static void s_signal_set(sigset_t *signals)
{
    sigemptyset(signals);
    sigaddset(signals, SIGTERM);
    sigaddset(signals, SIGINT);
    sigaddset(signals, SIGHUP);
}

static const char *s_signal_name(int number)
{
    return number == SIGTERM  ? "SIGTERM"
           : number == SIGINT ? "SIGINT"
                              : "SIGHUP";
}

/* Waits for SIGTERM/SIGINT, then has the core drain. SIGHUP (a closed
 * terminal, a log rotation habit) is logged and ignored rather than killing
 * the process undrained. A second SIGTERM/SIGINT during the drain cuts it
 * short: what is not written yet is dead-lettered and acked at once, as at
 * the drain timeout (an impatient operator loses nothing either). */
static void s_wait_and_drain(zactor_t *core)
{
    sigset_t signals;
    s_signal_set(&signals);
    int number = 0;
    while (sigwait(&signals, &number) == 0 && number == SIGHUP)
        cmn_log_info("main", "signal", "name=SIGHUP action=ignored");
    cmn_log_info("main", "signal", "name=%s action=drain",
                 s_signal_name(number));
    zstr_send(core, "DRAIN");
    zpoller_t *poller = zpoller_new(core, NULL);
    const struct timespec no_wait = {0, 0};
    bool hurried = false;
    while (poller && !zpoller_wait(poller, SC_SIGNAL_POLL_MS) &&
           !zpoller_terminated(poller)) {
        number = sigtimedwait(&signals, NULL, &no_wait);
        if (number == SIGHUP)
            cmn_log_info("main", "signal", "name=SIGHUP action=ignored");
        else if (number > 0 && !hurried) {
            cmn_log_warning("main", "signal",
                            "name=%s action=drain_now (second signal)",
                            s_signal_name(number));
            zstr_send(core, "HURRY");
            hurried = true;
        }
    }
    zpoller_destroy(&poller);
    char *drained = zstr_recv(core);
    zstr_free(&drained);
}

/* Runs the service until SIGTERM/SIGINT, then drains. */
static int s_run_service(const sc_settings_t *settings, cmn_config_t *config)
{
    const char *sqlite_path =
        strncmp(settings->sink_uri, "sqlite:", strlen("sqlite:")) == 0
            ? settings->sink_uri + strlen("sqlite:")
            : NULL;
    if ((sqlite_path && !streq(sqlite_path, ":memory:") &&
         (s_check_writable(config, "sink", sqlite_path) != 0 ||
          s_check_sqlite_file(config, sqlite_path) != 0)) ||
        s_check_writable(config, "dlq-path", settings->dlq_path) != 0)
        return CMN_EXIT_USAGE;

    sc_state_t state;
    sc_state_init(&state);
    cmn_metrics_t *metrics = cmn_metrics_new();
    sc_stats_t stats;
    cmn_clock_t *clock = cmn_clock_new_system();
    if (!metrics || !clock || sc_stats_init(&stats, metrics, settings) != 0) {
        cmn_log_error("main", "start_failed", "%s", "out of memory");
        return CMN_EXIT_FAILURE;
    }
    int exit_code = CMN_EXIT_FAILURE;
    zactor_t *core = NULL;
    cmn_http_t *http = NULL;
    cmn_curve_t *curve = NULL;
    cmn_webhook_t *webhook = NULL;
    zsock_t *router = NULL;
    zsock_t *xpub = NULL;
    if (settings->curve_secret_key_file) {
        curve = cmn_curve_server_new(settings->curve_secret_key_file,
                                     settings->curve_clients_dir, metrics,
                                     SC_CURVE_METRIC_PREFIX);
        if (!curve)
            goto done;
    }
    if (settings->fb_http_enabled) {
        cmn_webhook_config_t webhook_config = {
            .endpoint = settings->fb_http_endpoint,
            .timeout_ms = settings->fb_http_timeout_ms,
            .max_retries = settings->fb_http_max_retries,
            .backoff_ms = settings->fb_http_backoff_ms,
            .backoff_max_ms = settings->fb_http_backoff_max_ms,
            .queue_capacity = settings->fb_http_queue_capacity,
            .clock = clock,
            .metrics = metrics,
            .metric_prefix = SC_WEBHOOK_METRIC_PREFIX,
        };
        webhook = cmn_webhook_new(&webhook_config);
        if (!webhook)
            goto done;
    }
    router = s_bind(ZMQ_ROUTER, settings->ingest_endpoint, "ingest", curve);
    xpub = s_bind(ZMQ_XPUB, settings->feedback_endpoint, "feedback", curve);
    if (!router || !xpub)
        goto done;
    zsock_set_xpub_verbose(xpub, 1);
    /* Issue 12: libzmq keeps ~48 bytes per byte of a subscription prefix:
     * the publisher applies only prefixes of its topic itself (manual), and
     * the transport drops a peer whose subscription is over the cap. */
    zsock_set_xpub_manual(xpub, 1); /* SC_FEEDBACK_MAXMSGSIZE: s_bind */
    zsock_set_sndhwm(xpub, settings->feedback_hwm);

    sc_core_args_t core_args = {
        .settings = settings,
        .state = &state,
        .stats = &stats,
        .clock = clock,
        .router = router,
        .xpub = xpub,
        .webhook = webhook,
    };
    router = NULL; /* the core owns them now */
    xpub = NULL;
    core = zactor_new(sc_core_actor, &core_args);
    char *answer = core ? zstr_recv(core) : NULL;
    bool started = answer && streq(answer, "READY");
    zstr_free(&answer);
    if (!started)
        goto done;

    s_http_context_t context = {
        .settings = settings,
        .state = &state,
        .sink_kind = strncmp(settings->sink_uri, "sqlite:", 7) == 0 ? "sqlite"
                     : strncmp(settings->sink_uri, "null:", 5) == 0
                         ? "null"
                         : "postgres",
    };
    cmn_http_config_t http_config = {
        .bind_address = cmn_config_string(config, "http-bind"),
        .port = (int)cmn_config_int(config, "http-port"),
        .threads = (int)cmn_config_int(config, "http-threads"),
        .max_request_bytes =
            (size_t)cmn_config_int(config, "http-max-request-bytes"),
        .request_timeout_ms =
            (int)cmn_config_int(config, "http-request-timeout-ms"),
        .admin_token = NULL, /* no mutating endpoint */
    };
    http = cmn_http_new(&http_config, metrics);
    if (!http)
        goto done;
    cmn_http_route(http, "GET", "/health", false, s_on_health, &context);
    cmn_http_route(http, "GET", "/ready", false, s_on_ready, &context);
    cmn_http_route(http, "GET", "/status", false, s_on_status, &context);
    if (cmn_http_start(http) != 0)
        goto done;
    cmn_log_info("main", "listening",
                 "coordinator_id=%s ingest=\"%s\" feedback=\"%s\" "
                 "http_port=%d sink=%s epoch=%llu",
                 settings->coordinator_id, settings->ingest_endpoint,
                 settings->feedback_endpoint, cmn_http_port(http),
                 context.sink_kind, (unsigned long long)settings->epoch);

    s_wait_and_drain(core);
    exit_code = CMN_EXIT_OK;
    /* HTTP first (mg_stop takes about 2 s once it has served a request):
     * the core goes on answering `nack draining` meanwhile, so a batch sent
     * after the drain gets a reply, never silence; the ROUTER closes only
     * when the core stops, just before the process exits, and peers then
     * see the disconnect at once (proto/ingest.md section 4.2). */
    cmn_http_destroy(&http);

done:
    zactor_destroy(&core); /* the publisher stops posting */
    zsock_destroy(&router);
    zsock_destroy(&xpub);
    cmn_webhook_destroy(&webhook);
    cmn_curve_destroy(&curve);
    cmn_http_destroy(&http);
    cmn_metrics_destroy(&metrics);
    cmn_clock_destroy(&clock);
    cmn_log_info("main", "stopped", "exit_code=%d", exit_code);
    return exit_code;
}

int main(int argc, char **argv)
{
    /* Signals go to sigwait() in main only: block them before any thread
     * starts (threads inherit the mask) and keep czmq's handler out. */
    sigset_t signals;
    s_signal_set(&signals);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL);

    cmn_config_t *config = cmn_config_new(
        SC_PROGRAM, MDBP_VERSION,
        "The store's write coordinator: bounded queue, database sinks, "
        "backpressure feedback.\nSubcommands: dlq replay FILE; keygen PATH "
        "(CURVE key pair: PATH and PATH_secret)",
        s_options, sizeof s_options / sizeof s_options[0]);
    int loaded = cmn_config_load(config, argc, argv);
    if (loaded != 0) {
        cmn_config_destroy(&config);
        return loaded == CMN_CONFIG_EXIT ? CMN_EXIT_OK : CMN_EXIT_USAGE;
    }
    cmn_log_level_t level = CMN_LOG_INFO;
    cmn_log_format_t format = CMN_LOG_TEXT;
    cmn_log_level_parse(s_log_levels[cmn_config_choice(config, "log-level")],
                        &level);
    cmn_log_format_parse(s_log_formats[cmn_config_choice(config, "log-format")],
                         &format);
    cmn_log_setup(SC_PROGRAM, level, format);

    int exit_code;
    size_t positionals = cmn_config_positional_count(config);
    if (positionals > 0 && streq(cmn_config_positional(config, 0), "dlq"))
        exit_code = s_run_replay(config);
    else if (positionals > 0 &&
             streq(cmn_config_positional(config, 0), "keygen"))
        exit_code = s_run_keygen(config);
    else if (positionals > 0) {
        fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", SC_PROGRAM,
                cmn_config_positional(config, 0));
        exit_code = CMN_EXIT_USAGE;
    } else {
        sc_settings_t settings;
        memset(&settings, 0, sizeof settings);
        if (s_settings_load(config, &settings) != 0)
            exit_code = CMN_EXIT_USAGE;
        else
            exit_code = s_run_service(&settings, config);
    }
    cmn_config_destroy(&config);
    return exit_code;
}
