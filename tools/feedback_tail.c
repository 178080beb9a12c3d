/* mds-feedback-tail: prints a coordinator's feedback channel as JSON lines.
 *
 * The reference consumer of proto/feedback.md and a debugging tool. One SUB
 * socket connects to every endpoint given; it subscribes either to every
 * coordinator ("mds.fb/") or to exactly one ("mds.fb/<id>/": the trailing
 * slash keeps "mds.fb/a/" from matching coordinator "ab"). Each message is
 * decoded with the proto codec and printed as one JSON object per line on
 * stdout (mdbp_text_format_feedback_json: the v1.1 keys oldest_age_ms,
 * commit_latency_ms, sink_state, pressure, credit_initial and going_away
 * when the message has them), flushed per line so a pipe sees it at once. A message that does not
 * decode is reported on stderr, counted and skipped: a garbage publisher never
 * stops the tool. It runs until --count events arrived, --timeout elapsed or
 * SIGINT/SIGTERM, and its exit code says whether enough arrived (0) or not
 * (1); bad usage exits 2. Single-threaded: plain libzmq, no actors needed. */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "cmn_clock.h"
#include "cmn_config.h"
#include "cmn_curve.h"
#include "cmn_log.h"
#include <mdbp/feedback.h>
#include <mdbp/text.h>

#define FT_PROGRAM "mds-feedback-tail"
#define FT_MODULE "tail"
#define FT_ENDPOINT_DEFAULT "tcp://127.0.0.1:5556"
/* Longest endpoint list (all --endpoint values joined) we accept. */
#define FT_ENDPOINTS_BYTES 4096
/* How long one poll may block: bounds how late a deadline is noticed. */
#define FT_POLL_SLICE_MS 200
/* Messages queued in the socket before ZeroMQ drops new ones. */
#define FT_RECEIVE_HWM_MESSAGES 10000
/* Longest timeout accepted: one year, far beyond any use. */
#define FT_TIMEOUT_SECONDS_MAX (365.0 * 24 * 3600)
/* Largest --count accepted (exactly representable as a double). */
#define FT_COUNT_MAX 1e15
/* Bytes of a topic or error text kept for a stderr report. */
#define FT_REPORT_BYTES 200

static const char *const s_log_levels[] = {"error", "warning", "info", "debug",
                                           NULL};
static const char *const s_log_formats[] = {"text", "json", NULL};

static const cmn_option_t s_options[] = {
    {"endpoint", "MDS_TAIL_ENDPOINT", CMN_OPT_STRING, FT_ENDPOINT_DEFAULT,
     "feedback endpoints to connect to, comma-separated; the flag may be "
     "repeated",
     0, 0, NULL},
    {"coordinator", "MDS_TAIL_COORDINATOR", CMN_OPT_STRING, NULL,
     "only the events of this coordinator id (exact match); default: all", 0, 0,
     NULL},
    {"count", "MDS_TAIL_COUNT", CMN_OPT_INT, "0",
     "exit after this many events (0: no limit)", 0, FT_COUNT_MAX, NULL},
    {"timeout", "MDS_TAIL_TIMEOUT", CMN_OPT_DOUBLE, "0",
     "exit after this many seconds (0: no limit)", 0, FT_TIMEOUT_SECONDS_MAX,
     NULL},
    {"curve-secret-key-file", "MDS_TAIL_CURVE_SECRET_KEY_FILE", CMN_OPT_STRING,
     NULL, "CURVE: this subscriber's czmq certificate (NAME_secret)", 0, 0,
     NULL},
    {"curve-server-key-file", "MDS_TAIL_CURVE_SERVER_KEY_FILE", CMN_OPT_STRING,
     NULL, "CURVE: the coordinator's public certificate", 0, 0, NULL},
    {"log-level", "MDS_TAIL_LOG_LEVEL", CMN_OPT_CHOICE, "info",
     "stderr detail: error, warning, info or debug", 0, 0, s_log_levels},
    {"log-format", "MDS_TAIL_LOG_FORMAT", CMN_OPT_CHOICE, "text",
     "stderr format: text or json", 0, 0, s_log_formats},
};

/* Set by SIGINT/SIGTERM; the loop sees it when zmq_poll returns EINTR. */
static volatile sig_atomic_t s_interrupted = 0;

static void s_on_signal(int signal_number)
{
    (void)signal_number;
    s_interrupted = 1;
}

static void s_signals_install(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    /* No SA_RESTART: zmq_poll must return EINTR so we stop at once. */
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    /* A closed stdout (| head) is a write error we handle, not a kill. */
    signal(SIGPIPE, SIG_IGN);
}

/* Copies `size` bytes of untrusted `data` into `out` for a log value:
 * anything but printable ASCII, and the quote and backslash that would break
 * a `key="value"` pair, becomes '?'. */
static void s_printable(const void *data, size_t size, char *out,
                        size_t capacity)
{
    const unsigned char *bytes = data;
    size_t length = 0;
    for (size_t index = 0; index < size && length + 1 < capacity; index++) {
        unsigned char byte = bytes[index];
        bool plain = byte >= ' ' && byte <= '~' && byte != '"' && byte != '\\';
        out[length++] = plain ? (char)byte : '?';
    }
    out[length] = '\0';
}

/* Joins the values of every `--endpoint X` / `--endpoint=X` in argv with
 * commas into `out`, because cmn_config keeps one value per flag. Like
 * cmn_config, it accepts an abbreviated flag (`--end`): no other option
 * starts with 'e'. Returns the number of flags found (0: use the configured
 * value), or -1 when the list does not fit. */
static int s_endpoint_flags(int argc, char **argv, char *out, size_t capacity)
{
    static const char flag[] = "endpoint";
    int found = 0;
    size_t length = 0;
    out[0] = '\0';
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (strcmp(arg, "--") == 0)
            break;
        if (strncmp(arg, "--", 2) != 0)
            continue;
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        if (name_length == 0 || name_length > sizeof flag - 1 ||
            strncmp(name, flag, name_length) != 0)
            continue;
        const char *value = NULL;
        if (equals)
            value = equals + 1;
        else if (index + 1 < argc)
            value = argv[++index];
        if (!value)
            continue;
        size_t more = strlen(value) + (found ? 1 : 0);
        if (length + more + 1 > capacity)
            return -1;
        length += (size_t)snprintf(out + length, capacity - length, "%s%s",
                                   found ? "," : "", value);
        found++;
    }
    return found;
}

/* What became of one received message. */
typedef enum {
    FT_RECEIVED_EVENT,     /* decoded into the event */
    FT_RECEIVED_MALFORMED, /* reported on stderr and skipped */
    FT_RECEIVED_NOTHING,   /* interrupted or a socket error */
} ft_received_t;

/* Checks the topic frame: "mds.fb/<id>/" with a valid id. Returns 0 and the
 * id in `id`, or -1 with `error`. */
static int s_topic_parse(const zmq_msg_t *topic, char *id, mdbp_error_t *error)
{
    const char *bytes = zmq_msg_data((zmq_msg_t *)topic);
    size_t size = zmq_msg_size((zmq_msg_t *)topic);
    size_t prefix = strlen(MDBP_FEEDBACK_TOPIC_PREFIX);
    if (size < prefix + 2 ||
        memcmp(bytes, MDBP_FEEDBACK_TOPIC_PREFIX, prefix) ||
        bytes[size - 1] != '/') {
        snprintf(error->text, sizeof error->text,
                 "topic is not " MDBP_FEEDBACK_TOPIC_PREFIX "<id>/");
        return -1;
    }
    size_t id_size = size - prefix - 1;
    if (id_size > MDBP_ID_MAX || memchr(bytes + prefix, '/', id_size) ||
        memchr(bytes + prefix, '\0', id_size)) {
        snprintf(error->text, sizeof error->text,
                 "topic id is longer than %d bytes or holds '/'", MDBP_ID_MAX);
        return -1;
    }
    memcpy(id, bytes + prefix, id_size);
    id[id_size] = '\0';
    return 0;
}

/* Receives every frame of one message and decodes it into `event`. */
static ft_received_t s_receive(void *socket, mdbp_feedback_t *event)
{
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    int frames = 0;
    int more = 1;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, 0) < 0) {
            zmq_msg_close(&frame);
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            if (errno != EINTR && errno != ETERM)
                cmn_log_error(FT_MODULE, "receive_failed", "error=\"%s\"",
                              zmq_strerror(errno));
            return FT_RECEIVED_NOTHING;
        }
        more = zmq_msg_more(&frame);
        /* Keep the first two frames; later ones only count. */
        if (frames == 0)
            zmq_msg_move(&topic, &frame);
        else if (frames == 1)
            zmq_msg_move(&body, &frame);
        zmq_msg_close(&frame);
        frames++;
    }

    mdbp_error_t error = {{0}};
    char id[MDBP_ID_MAX + 1] = "";
    int rc = -1;
    if (frames != 2)
        snprintf(error.text, sizeof error.text,
                 "expected 2 frames (topic, body), got %d", frames);
    else if (s_topic_parse(&topic, id, &error) == 0 &&
             mdbp_feedback_decode(zmq_msg_data(&body), zmq_msg_size(&body),
                                   event, &error) == 0) {
        if (strcmp(id, event->coordinator_id) == 0)
            rc = 0;
        else
            snprintf(error.text, sizeof error.text,
                     "coordinator_id differs from the topic's id");
    }
    if (rc != 0) {
        char topic_text[FT_REPORT_BYTES], error_text[FT_REPORT_BYTES];
        s_printable(zmq_msg_data(&topic), zmq_msg_size(&topic), topic_text,
                    sizeof topic_text);
        s_printable(error.text, strlen(error.text), error_text,
                    sizeof error_text);
        cmn_log_warning(FT_MODULE, "malformed",
                        "topic=\"%s\" bytes=%zu error=\"%s\"", topic_text,
                        zmq_msg_size(&body), error_text);
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return rc == 0 ? FT_RECEIVED_EVENT : FT_RECEIVED_MALFORMED;
}

/* Connects `socket` to each comma-separated endpoint of `list`. Returns 0,
 * or -1 after naming the bad endpoint (a usage error). */
static int s_connect_all(cmn_config_t *config, void *socket, const char *list,
                         const char *source)
{
    char *copy = strdup(list);
    if (!copy)
        return -1;
    int connected = 0;
    int rc = 0;
    char *cursor = copy;
    for (char *endpoint = strsep(&cursor, ","); endpoint;
         endpoint = strsep(&cursor, ",")) {
        if (*endpoint == '\0')
            continue;
        if (zmq_connect(socket, endpoint) != 0) {
            fprintf(stderr, "%s: invalid %s=%s: endpoint '%s': %s\n",
                    FT_PROGRAM, source, list, endpoint, zmq_strerror(errno));
            rc = -1;
            break;
        }
        cmn_log_info(FT_MODULE, "connected", "endpoint=%s", endpoint);
        connected++;
    }
    if (rc == 0 && connected == 0) {
        cmn_config_reject(config, "endpoint", "no endpoint given");
        rc = -1;
    }
    free(copy);
    return rc;
}

/* The run's counters, for the exit code and the closing summary. */
typedef struct {
    uint64_t events;
    uint64_t malformed;
    bool output_failed;
} ft_tally_t;

/* Receives and prints until `count` events (0: no limit), the deadline
 * (monotonic ns, 0: none) or a signal. */
static void s_run(void *socket, cmn_clock_t *clock, int64_t count,
                  int64_t deadline_ns, ft_tally_t *tally)
{
    while (!s_interrupted && (count == 0 || tally->events < (uint64_t)count)) {
        long wait_ms = FT_POLL_SLICE_MS;
        if (deadline_ns) {
            int64_t left_ns = deadline_ns - cmn_clock_mono_ns(clock);
            if (left_ns <= 0)
                break;
            /* Round up so we never spin on a sub-millisecond remainder. */
            int64_t left_ms = (left_ns + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS;
            if (left_ms < wait_ms)
                wait_ms = (long)left_ms;
        }
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll(&item, 1, wait_ms);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            cmn_log_error(FT_MODULE, "poll_failed", "error=\"%s\"",
                          zmq_strerror(errno));
            break;
        }
        if (ready == 0)
            continue;
        mdbp_feedback_t event;
        ft_received_t received = s_receive(socket, &event);
        if (received == FT_RECEIVED_MALFORMED) {
            tally->malformed++;
            continue;
        }
        if (received == FT_RECEIVED_NOTHING)
            continue; /* the loop condition sees the signal */
        char line[MDBP_TEXT_FEEDBACK_JSON_MAX];
        int length = mdbp_text_format_feedback_json(&event, line, sizeof line);
        if (length < 0) { /* cannot happen: the buffer holds any event */
            tally->malformed++;
            continue;
        }
        fwrite(line, 1, (size_t)length, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            cmn_log_error(FT_MODULE, "output_failed", "error=\"%s\"",
                          strerror(errno));
            tally->output_failed = true;
            break;
        }
        tally->events++;
    }
}

int main(int argc, char **argv)
{
    cmn_config_t *config = cmn_config_new(
        FT_PROGRAM, MDBP_VERSION,
        "Prints the feedback events of mds-coordinator as JSON lines.",
        s_options, sizeof s_options / sizeof s_options[0]);
    if (!config)
        return CMN_EXIT_FAILURE;
    int loaded = cmn_config_load(config, argc, argv);
    if (loaded != 0) {
        cmn_config_destroy(&config);
        return loaded == CMN_CONFIG_EXIT ? CMN_EXIT_OK : CMN_EXIT_USAGE;
    }
    int exit_code = CMN_EXIT_USAGE;
    void *context = NULL;
    void *socket = NULL;
    cmn_clock_t *clock = NULL;

    /* The choice lists are in the order of the enums. */
    cmn_log_setup(FT_PROGRAM,
                  (cmn_log_level_t)cmn_config_choice(config, "log-level"),
                  (cmn_log_format_t)cmn_config_choice(config, "log-format"));

    if (cmn_config_positional_count(config) > 0) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n",
                FT_PROGRAM, cmn_config_positional(config, 0));
        goto done;
    }
    char endpoint_flags[FT_ENDPOINTS_BYTES];
    int flag_count =
        s_endpoint_flags(argc, argv, endpoint_flags, sizeof endpoint_flags);
    if (flag_count < 0) {
        cmn_config_reject(config, "endpoint", "the endpoint list is too long");
        goto done;
    }
    const char *endpoints =
        flag_count > 0 ? endpoint_flags : cmn_config_string(config, "endpoint");
    const char *endpoint_source =
        flag_count > 0 ? "--endpoint" : cmn_config_source(config, "endpoint");

    char topic[MDBP_FEEDBACK_TOPIC_MAX] = MDBP_FEEDBACK_TOPIC_PREFIX;
    const char *coordinator = cmn_config_string(config, "coordinator");
    if (coordinator &&
        mdbp_feedback_topic(coordinator, topic, sizeof topic) < 0) {
        cmn_config_reject(config, "coordinator",
                          "an id is 1 to 64 bytes without '/'");
        goto done;
    }

    /* CURVE (docs/security.md): both files or neither. */
    const char *curve_secret =
        cmn_config_string(config, "curve-secret-key-file");
    const char *curve_server =
        cmn_config_string(config, "curve-server-key-file");
    const char *curve_reason = NULL;
    if (!curve_secret != !curve_server) {
        cmn_config_reject(config,
                          curve_secret ? "curve-server-key-file"
                                       : "curve-secret-key-file",
                          "CURVE needs both key files");
        goto done;
    }
    if (curve_secret &&
        cmn_curve_check_secret(curve_secret, &curve_reason) != 0) {
        cmn_config_reject(config, "curve-secret-key-file", curve_reason);
        goto done;
    }
    if (curve_server &&
        cmn_curve_check_public(curve_server, &curve_reason) != 0) {
        cmn_config_reject(config, "curve-server-key-file", curve_reason);
        goto done;
    }

    context = zmq_ctx_new();
    socket = context ? zmq_socket(context, ZMQ_SUB) : NULL;
    clock = cmn_clock_new_system();
    if (!socket || !clock) {
        cmn_log_error(FT_MODULE, "start_failed", "error=\"%s\"",
                      zmq_strerror(errno));
        exit_code = CMN_EXIT_FAILURE;
        goto done;
    }
    int linger_ms = 0;
    int hwm = FT_RECEIVE_HWM_MESSAGES;
    int64_t message_max = MDBP_MESSAGE_BYTES_MAX;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* A peer cannot make us allocate more than one protocol message. */
    zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &message_max, sizeof message_max);
    zmq_setsockopt(socket, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (curve_secret &&
        cmn_curve_client_apply(socket, curve_secret, curve_server) != 0) {
        exit_code = CMN_EXIT_FAILURE;
        goto done;
    }
    if (s_connect_all(config, socket, endpoints, endpoint_source) != 0)
        goto done;
    cmn_log_info(FT_MODULE, "subscribed", "topic=%s", topic);

    int64_t count = cmn_config_int(config, "count");
    double timeout_s = cmn_config_double(config, "timeout");
    int64_t deadline_ns = 0;
    if (timeout_s > 0)
        deadline_ns = cmn_clock_mono_ns(clock) +
                      (int64_t)(timeout_s * (double)CMN_NS_PER_SEC);
    s_signals_install();

    ft_tally_t tally = {0, 0, false};
    s_run(socket, clock, count, deadline_ns, &tally);

    uint64_t wanted = count > 0 ? (uint64_t)count : 1;
    bool enough = !tally.output_failed && tally.events >= wanted;
    cmn_log_info(FT_MODULE, "done",
                 "events=%llu malformed=%llu wanted=%llu "
                 "result=%s",
                 (unsigned long long)tally.events,
                 (unsigned long long)tally.malformed,
                 (unsigned long long)wanted, enough ? "ok" : "too_few");
    exit_code = enough ? CMN_EXIT_OK : CMN_EXIT_FAILURE;

done:
    if (socket)
        zmq_close(socket);
    if (context)
        zmq_ctx_term(context);
    cmn_clock_destroy(&clock);
    cmn_config_destroy(&config);
    return exit_code;
}
