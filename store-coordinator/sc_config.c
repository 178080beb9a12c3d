/* sc_config: the coordinator's options (the table --help prints), their
 * validation and the start-up checks on the file system; produces the
 * sc_settings_t every actor reads. Runs on the main thread at start-up. */
#include "sc_config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmn_clock.h"
#include "cmn_curve.h"
#include "cmn_http.h"
#include "cmn_log.h"
#include "cmn_webhook.h"
#include <mdbp/feedback.h>
#include "sc_sink.h"

#define SC_DATA_DIR_MODE 0755
#define SC_DATA_FILE_MODE 0644
#define SC_PORT_MAX 65535
#define SC_ERROR_BYTES 256
#define SC_MS_PER_SEC 1000.0
#define SC_EPOCH_MASK ((UINT64_C(1) << 53) - 1) /* exact in a double */
#define SC_HOST_NAME_MAX 256

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
     .max = MDBP_BATCH_RECORDS_MAX},
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
    {.flag = "sojourn-target-ms",
     .env = "MDS_SOJOURN_TARGET_MS",
     .type = CMN_OPT_INT,
     .default_value = "1000",
     .help = "oldest uncommitted record's age target: above it for "
             "MDS_SOJOURN_INTERVAL_MS the level is at least SOFT, at 4x it "
             "HARD (0: off)",
     .min = 0,
     .max = 3600000},
    {.flag = "sojourn-interval-ms",
     .env = "MDS_SOJOURN_INTERVAL_MS",
     .type = CMN_OPT_INT,
     .default_value = "500",
     .help = "how long the oldest record's age must stay above the target",
     .min = 0,
     .max = 3600000},
    {.flag = "sink-stall-ms",
     .env = "MDS_SINK_STALL_MS",
     .type = CMN_OPT_INT,
     .default_value = "2000",
     .help = "no commit for this long while a writer holds records: the "
             "sink is down (HARD, reason sink_down); 0: off",
     .min = 0,
     .max = 3600000},
    {.flag = "sink-recovery-ms",
     .env = "MDS_SINK_RECOVERY_MS",
     .type = CMN_OPT_INT,
     .default_value = "2000",
     .help = "after the sink is back, its pressure ramps from 1 to 0 "
             "over this time",
     .min = 1,
     .max = 3600000},
    {.flag = "db-timeout-ms",
     .env = "MDS_DB_TIMEOUT_MS",
     .type = CMN_OPT_INT,
     .default_value = "5000", /* SC_SINK_TIMEOUT_MS_DEFAULT */
     .help = "PostgreSQL: longest wait for one write or ping (connect "
             "included); then cancel, TRANSIENT",
     .min = 100,
     .max = 600000},
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
    /* Issue 15: a pipeline's POST /feedback takes its MDP_ADMIN_TOKEN. */
    {.flag = "fb-http-token",
     .env = "MDS_FB_HTTP_TOKEN",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "bearer token the webhook sends (a pipeline's MDP_ADMIN_TOKEN)",
     .max = CMN_WEBHOOK_TOKEN_BYTES - 1},
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

const cmn_option_t *sc_config_options(size_t *count)
{
    *count = sizeof s_options / sizeof s_options[0];
    return s_options;
}

void sc_config_log_setup(cmn_config_t *config, const char *program)
{
    cmn_log_level_t level = CMN_LOG_INFO;
    cmn_log_format_t format = CMN_LOG_TEXT;
    cmn_log_level_parse(s_log_levels[cmn_config_choice(config, "log-level")],
                        &level);
    cmn_log_format_parse(s_log_formats[cmn_config_choice(config, "log-format")],
                         &format);
    cmn_log_setup(program, level, format);
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
    int result = 0; /* every problem is reported (issue 15: check) */
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
    settings->fb_http_token = cmn_config_string(config, "fb-http-token");
    if (settings->fb_http_token &&
        strpbrk(settings->fb_http_token, "\r\n")) {
        cmn_config_reject(config, "fb-http-token", "a line break");
        result = -1;
    }
    if (settings->fb_http_timeout_ms < 1)
        settings->fb_http_timeout_ms = 1;
    const char *reason = NULL;
    cmn_webhook_url_t url;
    if (settings->fb_http_enabled && !settings->fb_http_endpoint) {
        cmn_config_reject(config, "fb-http-endpoint",
                          "required when MDS_FB_ENABLE_HTTP_BROADCAST is "
                          "true");
        result = -1;
    }
    if (settings->fb_http_endpoint &&
        cmn_webhook_url_parse(settings->fb_http_endpoint, &url, &reason) != 0) {
        cmn_config_reject(config, "fb-http-endpoint", reason);
        result = -1;
    }
    settings->curve_secret_key_file =
        cmn_config_string(config, "curve-secret-key-file");
    settings->curve_clients_dir =
        cmn_config_string(config, "curve-clients-dir");
    if (settings->curve_secret_key_file && !settings->curve_clients_dir) {
        cmn_config_reject(config, "curve-clients-dir",
                          "required with MDS_CURVE_SECRET_KEY_FILE (the "
                          "allow-list of client certificates)");
        result = -1;
    }
    if (settings->curve_clients_dir && !settings->curve_secret_key_file) {
        cmn_config_reject(config, "curve-secret-key-file",
                          "required with MDS_CURVE_CLIENTS_DIR");
        result = -1;
    }
    if (settings->curve_secret_key_file &&
        cmn_curve_check_secret(settings->curve_secret_key_file, &reason) != 0) {
        cmn_config_reject(config, "curve-secret-key-file", reason);
        result = -1;
    }
    if (settings->curve_clients_dir &&
        cmn_curve_check_directory(settings->curve_clients_dir, &reason) != 0) {
        cmn_config_reject(config, "curve-clients-dir", reason);
        result = -1;
    }
    return result;
}

/* Fills `settings` from the loaded configuration and checks the rules that
 * involve several options. Returns 0 or -1 (message printed). */
int sc_config_settings(cmn_config_t *config, sc_settings_t *settings)
{
    /* Every rule is checked and reported, not only the first broken one
     * (issue 15: `check` lists them all; start-up prints them all). */
    int result = 0;
    const char *id = cmn_config_string(config, "coordinator-id");
    char host[SC_HOST_NAME_MAX] = "";
    if (!id || !*id) {
        if (gethostname(host, sizeof host) != 0 || !*host)
            snprintf(host, sizeof host, "coordinator");
        host[MDBP_ID_MAX] = '\0';
        id = host;
    }
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    if (strlen(id) > MDBP_ID_MAX ||
        mdbp_feedback_topic(id, topic, sizeof topic) < 0) {
        cmn_config_reject(config, "coordinator-id",
                          "must be 1 to 64 bytes without '/'");
        result = -1;
        id = "coordinator"; /* to go on checking */
    }
    /* Length checked above; memcpy, not snprintf: at -O0 gcc cannot see
     * the check and raises -Wformat-truncation for host[256]. */
    memcpy(settings->coordinator_id, id, strlen(id) + 1);
    settings->ingest_endpoint = cmn_config_string(config, "ingest-endpoint");
    settings->feedback_endpoint =
        cmn_config_string(config, "feedback-endpoint");
    if (s_check_endpoint(config, "ingest-endpoint",
                         settings->ingest_endpoint) != 0)
        result = -1;
    if (s_check_endpoint(config, "feedback-endpoint",
                         settings->feedback_endpoint) != 0)
        result = -1;
    settings->sink_uri = cmn_config_string(config, "sink");
    settings->dlq_path = cmn_config_string(config, "dlq-path");
    char error[SC_ERROR_BYTES];
    if (sc_sink_check_uri(settings->sink_uri, error, sizeof error) != 0) {
        cmn_config_reject(config, "sink", error);
        result = -1;
    }
    if (!settings->dlq_path || !*settings->dlq_path) {
        cmn_config_reject(config, "dlq-path", "must not be empty");
        result = -1;
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
    bool watermarks_ok = true;
    if (low >= high) {
        cmn_config_reject(config, "low-watermark",
                          "must be below the high watermark");
        watermarks_ok = false;
    }
    if (settings->watermark.dead_band > settings->watermark.low) {
        cmn_config_reject(config, "dead-band",
                          "must not exceed the low watermark");
        watermarks_ok = false;
    }
    if (!watermarks_ok)
        result = -1;
    const char *reason = NULL;
    /* What the two rules above do not already say (rounding to records). */
    if (watermarks_ok &&
        sc_watermark_config_check(&settings->watermark, &reason) != 0) {
        cmn_config_reject(config, "high-watermark", reason);
        result = -1;
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
        result = -1;
    }
    settings->sojourn_target_ms = cmn_config_int(config, "sojourn-target-ms");
    settings->sojourn_interval_ms =
        cmn_config_int(config, "sojourn-interval-ms");
    settings->sink_stall_ms = cmn_config_int(config, "sink-stall-ms");
    settings->sink_recovery_ms = cmn_config_int(config, "sink-recovery-ms");
    settings->breaker_threshold =
        (uint32_t)cmn_config_int(config, "breaker-threshold");
    settings->breaker_timeout_ms = cmn_config_int(config, "breaker-timeout-ms");
    settings->db_timeout_ms = cmn_config_int(config, "db-timeout-ms");
    settings->http_bind = cmn_config_string(config, "http-bind");
    settings->http_port = (int)cmn_config_int(config, "http-port");
    settings->http_max_request_bytes =
        (size_t)cmn_config_int(config, "http-max-request-bytes");
    settings->http_request_timeout_ms =
        (int)cmn_config_int(config, "http-request-timeout-ms");
    settings->http_threads = (int)cmn_config_int(config, "http-threads");
    settings->epoch = s_random_epoch();
    /* Issue 12: one IPv4 address, or civetweb binds something else. */
    const char *bind_reason = NULL;
    if (cmn_http_check_bind_address(settings->http_bind, &bind_reason) != 0) {
        cmn_config_reject(config, "http-bind", bind_reason);
        result = -1;
    }
    if (s_security_load(config, settings) != 0)
        result = -1;
    return result;
}

int sc_config_prepare(cmn_config_t *config, const sc_settings_t *settings)
{
    char error[SC_ERROR_BYTES];
    if (sc_sink_prepare(settings->sink_uri, error, sizeof error) != 0) {
        cmn_config_reject(config, "sink", error);
        return -1;
    }
    return s_check_writable(config, "dlq-path", settings->dlq_path);
}
