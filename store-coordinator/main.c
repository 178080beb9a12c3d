/* mds-coordinator: the store's write coordinator.
 *
 * Takes batches of market data on a ROUTER socket, queues them (bounded),
 * writes them to a database with N workers, acks each batch once all its
 * records are committed, and publishes its backpressure level on an XPUB
 * socket. This file only wires the parts together: options (sc_config),
 * the sockets bound at start, the core actor (which starts the workers
 * and the publisher), HTTP (sc_http), signals and the shutdown order;
 * subcommands `dlq replay FILE` (sc_replay) and `keygen PATH`. */
#include <czmq.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "cmn_clock.h"
#include "cmn_config.h"
#include "cmn_curve.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_monitor.h"
#include "cmn_process.h"
#include "cmn_webhook.h"
#include <mdbp/ingest.h>
#include "sc_actor.h"
#include "sc_check.h"
#include "sc_config.h"
#include "sc_core.h"
#include "sc_http.h"
#include "sc_replay.h"
#include "sc_settings.h"
#include "sc_sink.h"
#include "sc_state.h"
#include "sc_stats.h"

#define SC_PROGRAM "mds-coordinator"
#define SC_INGEST_RCVHWM 256   /* messages per producer, then TCP pushback */
/* Replies per producer before dropping (and counting) them: with the
 * envelope limit (MDBP_ENVELOPE_BYTES_MAX) a producer that never reads its
 * replies holds at most about 1024 x 2.3 KiB (issue 12). */
#define SC_INGEST_SNDHWM 1024
/* Larger messages are cut off by ZeroMQ (the peer is disconnected); between
 * the protocol limit and this they are read and nacked malformed. */
#define SC_INGEST_MAXMSGSIZE (2 * MDBP_MESSAGE_BYTES_MAX)
/* Largest frame the feedback XPUB reads: the longest valid subscription
 * is 73 bytes (82 as a ZMTP 3.1 SUBSCRIBE command, 33 more under CURVE),
 * but the CURVE handshake needs HELLO (200 bytes) and INITIATE (about 300
 * plus the client's metadata). libzmq disconnects a peer that sends more,
 * before storing anything (docs/security.md, "Limits"). */
#define SC_FEEDBACK_MAXMSGSIZE 1024
#define SC_SOCKET_LINGER_MS 2000 /* let the last acks and event go out */
#define SC_SIGNAL_POLL_MS 100    /* a second signal is noticed this fast */
#define SC_WEBHOOK_METRIC_PREFIX "mds_feedback_webhook"
#define SC_CURVE_METRIC_PREFIX "mds"

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

/* Counts the connections the plaintext sockets lose: a peer libzmq drops
 * for a frame over ZMQ_MAXMSGSIZE is seen nowhere else. CURVE sockets
 * carry the CURVE guard's monitor instead and are not counted
 * (cmn_monitor.h says why). */
static int s_monitor(cmn_metrics_t *metrics, zsock_t *router, zsock_t *xpub,
                     cmn_monitor_t *monitors[2])
{
    cmn_metric_t *family = cmn_metrics_counter(
        metrics, SC_CURVE_METRIC_PREFIX CMN_MONITOR_DISCONNECTS_SUFFIX,
        CMN_MONITOR_DISCONNECTS_HELP, "socket");
    if (!family)
        return -1;
    monitors[0] = cmn_monitor_new(router, "ingest",
                                  cmn_metric_series(family, "ingest", NULL));
    monitors[1] = cmn_monitor_new(
        xpub, "feedback", cmn_metric_series(family, "feedback", NULL));
    return monitors[0] && monitors[1] ? 0 : -1;
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

/* The HTTP webhook broadcaster (MDS_FB_*), or NULL when it is off. */
static cmn_webhook_t *s_webhook_new(const sc_settings_t *settings,
                                    cmn_clock_t *clock, cmn_metrics_t *metrics,
                                    bool *failed)
{
    *failed = false;
    if (!settings->fb_http_enabled)
        return NULL;
    cmn_webhook_config_t config = {
        .endpoint = settings->fb_http_endpoint,
        .timeout_ms = settings->fb_http_timeout_ms,
        .max_retries = settings->fb_http_max_retries,
        .backoff_ms = settings->fb_http_backoff_ms,
        .backoff_max_ms = settings->fb_http_backoff_max_ms,
        .queue_capacity = settings->fb_http_queue_capacity,
        .clock = clock,
        .metrics = metrics,
        .metric_prefix = SC_WEBHOOK_METRIC_PREFIX,
        .bearer_token = settings->fb_http_token,
    };
    cmn_webhook_t *webhook = cmn_webhook_new(&config);
    *failed = webhook == NULL;
    return webhook;
}

/* Runs the service until SIGTERM/SIGINT, then drains. */
static int s_run_service(const sc_settings_t *settings)
{
    sc_state_t state;
    sc_state_init(&state);
    cmn_metrics_t *metrics = cmn_metrics_new();
    sc_stats_t stats;
    cmn_clock_t *clock = cmn_clock_new_system();
    if (!metrics || !clock || sc_stats_init(&stats, metrics, settings) != 0) {
        cmn_log_error("main", "start_failed", "%s", "out of memory");
        return CMN_EXIT_FAILURE;
    }
    cmn_process_metrics(metrics, "mds_build_info", MDBP_VERSION); /* #15 */
    int exit_code = CMN_EXIT_FAILURE;
    zactor_t *core = NULL;
    sc_http_t *http = NULL;
    cmn_curve_t *curve = NULL;
    zsock_t *router = NULL, *xpub = NULL;
    cmn_monitor_t *monitors[2] = {NULL, NULL};
    bool failed = false;
    cmn_webhook_t *webhook = s_webhook_new(settings, clock, metrics, &failed);
    if (failed)
        goto done;
    if (settings->curve_secret_key_file) {
        curve = cmn_curve_server_new(settings->curve_secret_key_file,
                                     settings->curve_clients_dir, metrics,
                                     SC_CURVE_METRIC_PREFIX);
        if (!curve)
            goto done;
    }
    router = s_bind(ZMQ_ROUTER, settings->ingest_endpoint, "ingest", curve);
    xpub = s_bind(ZMQ_XPUB, settings->feedback_endpoint, "feedback", curve);
    if (!router || !xpub ||
        (!curve && s_monitor(metrics, router, xpub, monitors) != 0))
        goto done;
    zsock_set_xpub_verbose(xpub, 1);
    /* Issue 12: libzmq keeps ~48 bytes per byte of a subscription prefix:
     * the publisher applies only prefixes of its topic itself (manual), and
     * the transport drops a peer whose frame is over the cap (s_bind). */
    zsock_set_xpub_manual(xpub, 1);
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
    char error[SC_ACTOR_ERROR_MAX];
    core = sc_actor_start(sc_core_actor, &core_args, error);
    if (!core) {
        /* e.g. a worker whose sink cannot be opened: exit 1, naming it. */
        fprintf(stderr, "%s: cannot start: %s\n", SC_PROGRAM, error);
        goto done;
    }
    http = sc_http_new(settings, &state, metrics);
    if (!http)
        goto done;
    cmn_log_info("main", "listening",
                 "coordinator_id=%s ingest=\"%s\" feedback=\"%s\" "
                 "http_port=%d sink=%s epoch=%llu",
                 settings->coordinator_id, settings->ingest_endpoint,
                 settings->feedback_endpoint, sc_http_port(http),
                 sc_sink_kind_of(settings->sink_uri),
                 (unsigned long long)settings->epoch);

    s_wait_and_drain(core);
    exit_code = CMN_EXIT_OK;
    /* HTTP first (mg_stop takes about 2 s once it has served a request):
     * the core goes on answering `nack draining` meanwhile, so a batch sent
     * after the drain gets a reply, never silence; the ROUTER closes only
     * when the core stops, just before the process exits, and peers then
     * see the disconnect at once (proto/ingest.md section 4.2). */
    sc_http_destroy(&http);

done:
    zactor_destroy(&core); /* the publisher stops posting */
    zsock_destroy(&router);
    zsock_destroy(&xpub);
    cmn_monitor_destroy(&monitors[0]); /* after their sockets closed */
    cmn_monitor_destroy(&monitors[1]);
    cmn_webhook_destroy(&webhook);
    cmn_curve_destroy(&curve);
    sc_http_destroy(&http);
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

    size_t option_count = 0;
    const cmn_option_t *options = sc_config_options(&option_count);
    cmn_config_t *config = cmn_config_new(
        SC_PROGRAM, MDBP_VERSION,
        "The store's write coordinator: bounded queue, database sinks, "
        "backpressure feedback.\n"
        "Subcommands:\n"
        "  check            validate every option, try the ports and the "
        "database,\n"
        "                   print the effective configuration and every "
        "problem\n"
        "                   (exit 0 ok, 2 configuration, 1 runtime "
        "problems)\n"
        "  dlq replay FILE  send a dead-letter file back to the database\n"
        "  keygen PATH      CURVE key pair: PATH and PATH_secret",
        options, option_count);
    /* Issue 15: `check` collects every problem instead of stopping. */
    cmn_check_t *check =
        sc_check_requested(argc, argv) ? cmn_check_new(SC_PROGRAM) : NULL;
    if (check)
        cmn_check_attach(check, config);
    int loaded = cmn_config_load(config, argc, argv);
    if (loaded == CMN_CONFIG_EXIT || (loaded != 0 && !check)) {
        cmn_config_destroy(&config);
        cmn_check_destroy(&check);
        return loaded == CMN_CONFIG_EXIT ? CMN_EXIT_OK : CMN_EXIT_USAGE;
    }
    if (check) /* the report is the output; only errors are logged */
        cmn_log_setup(SC_PROGRAM, CMN_LOG_ERROR, CMN_LOG_TEXT);
    else
        sc_config_log_setup(config, SC_PROGRAM);
    /* #15: warn about unknown MDS_* variables (the tail's and tests' own
     * variables and compose's MDS_PG_PASSWORD are not ours). */
    cmn_config_warn_unknown(
        config,
        &(cmn_config_unknown_t){"MDS_", NULL, NULL,
                                "MDS_TAIL_ MDS_TEST_ MDS_PG_PASSWORD"},
        NULL);

    int exit_code;
    size_t positionals = cmn_config_positional_count(config);
    const char *command =
        positionals > 0 ? cmn_config_positional(config, 0) : NULL;
    if (check)
        exit_code = sc_check_command(config, check);
    else if (command && streq(command, "dlq"))
        exit_code = sc_replay_command(config, SC_PROGRAM);
    else if (command && streq(command, "keygen"))
        exit_code = s_run_keygen(config);
    else if (command && streq(command, "check")) {
        /* Only argv[1] turns collecting on before the options load. */
        fprintf(stderr, "%s: put check first: %s check [OPTION]...\n",
                SC_PROGRAM, SC_PROGRAM);
        exit_code = CMN_EXIT_USAGE;
    }
    else if (command) {
        fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", SC_PROGRAM,
                command);
        exit_code = CMN_EXIT_USAGE;
    } else {
        sc_settings_t settings;
        memset(&settings, 0, sizeof settings);
        if (sc_config_settings(config, &settings) != 0 ||
            sc_config_prepare(config, &settings) != 0)
            exit_code = CMN_EXIT_USAGE;
        else
            exit_code = s_run_service(&settings);
    }
    cmn_config_destroy(&config);
    cmn_check_destroy(&check);
    return exit_code;
}
