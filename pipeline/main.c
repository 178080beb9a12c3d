/* mdp-pipeline: the producer service.
 *
 * main reads the settings (pl_config), builds the providers, starts the
 * actors (sender, producer, feedback subscriber: each reports its start-up
 * over its pipe, and a failure exits 1 naming it) and the HTTP server
 * (pl_http), then only waits for signals: the subscriber's decisions go
 * straight to the producer, admin commands straight from HTTP to the
 * producer. Signals are taken by sigwait() here, blocked in every thread:
 *
 *   SIGTERM/SIGINT: stop producing, flush the sender's window until
 *     MDP_SHUTDOWN_TIMEOUT_MS, exit 0;
 *   a second SIGTERM/SIGINT during the flush: stop waiting, report what is
 *     not acknowledged, exit 0;
 *   SIGHUP: logged and ignored (a closed terminal must not kill it
 *     unflushed);
 *   MDP_EXIT_WHEN_DONE: when every provider has ended, the same flush
 *     without a deadline, then exit 0.
 *
 * Whatever ends the run, main logs one shutdown_report: of the records
 * produced, how many are stored, refused by the coordinator (by nack
 * code), sent and unacknowledged (maybe stored), never sent. */
#include <ctype.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <czmq.h>

#include "cmn_clock.h"
#include "cmn_config.h"
#include "cmn_http.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_process.h"
#include "pl_check.h"
#include "pl_config.h"
#include "pl_http.h"
#include "pl_metrics.h"
#include "pl_policy.h"
#include "pl_producer.h"
#include "pl_sender.h"
#include "pl_status.h"
#include "pl_subscriber.h"

#define PL_DECISIONS_ENDPOINT "inproc://pl-decisions"
#define PL_ADMIN_ENDPOINT "inproc://pl-admin"
#define PL_POSTED_ENDPOINT "inproc://pl-posted-feedback"
/* A second signal is noticed this fast while main waits for an actor. */
#define PL_SIGNAL_POLL_MS 100
/* MDP_EXIT_WHEN_DONE: the flush after DONE waits this long for the acks
 * (a day: "until everything is acked"; a signal cuts it short). */
#define PL_DONE_FLUSH_MS (24LL * 3600 * 1000)
/* Where the seed's pipeline served /health, /ready and the app. */
#define PL_HTTP_PORT_SEED 8000
/* The refused_by list of the shutdown report (code:records, ...). */
#define PL_REPORT_CODES_MAX 512
/* An actor answers at its deadline at the latest: allow this margin. */
#define PL_REPLY_MARGIN_NS CMN_NS_PER_SEC

typedef struct {
    pl_settings_t *settings;
    cmn_clock_t *clock;
    cmn_metrics_t *registry;
    pl_metrics_t *metrics;
    pl_status_t *status;
    pl_policy_t *policy;
    zactor_t *producer, *subscriber;
    /* One sender per class in use (ingest.md 4.5: a producer session per
     * class), by mdbp_priority_t; NULL for a class no provider has. */
    zactor_t *senders[MDBP_PRIORITY_COUNT];
    /* The scale, subscriber -> buckets (pl_scale_cell.h); outlives both. */
    pl_scale_cell_t *scale_cell;
    cmn_http_t *http;
    cmn_http_t *metrics_http; /* the seed's standalone /metrics, or NULL */
    bool hurried; /* a second signal came: nobody waits any more */
    bool done;    /* MDP_EXIT_WHEN_DONE: every provider ended */
} s_main_t;

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

/* Each sender's endpoints (it binds them), by class. */
static const char *const s_data_endpoints[MDBP_PRIORITY_COUNT] = {
    "inproc://pl-records-normal", "inproc://pl-records-critical",
    "inproc://pl-records-bulk"};
static const char *const s_limits_endpoints[MDBP_PRIORITY_COUNT] = {
    "inproc://pl-limits-normal", "inproc://pl-limits-critical",
    "inproc://pl-limits-bulk"};

/* Waits for SIGTERM or SIGINT; SIGHUP is logged and ignored. */
static void s_wait_for_stop(void)
{
    sigset_t signals;
    s_signal_set(&signals);
    int number = 0;
    while (sigwait(&signals, &number) == 0 && number == SIGHUP)
        cmn_log_info("main", "signal", "name=SIGHUP action=ignored");
    cmn_log_info("main", "signal", "name=%s action=flush",
                 s_signal_name(number));
}

/* An actor's answer ("s88b": the producer's STOPPED and DONE, the
 * sender's FLUSHED). */
typedef struct {
    bool answered;
    uint64_t number, second;
    bool has_report;
    pl_sender_report_t report;
} s_reply_t;

/* Receives one message of `actor` into `reply` when it is `expected`;
 * returns false for another one (a DONE nobody waits for). */
static bool s_receive(zactor_t *actor, const char *expected, s_reply_t *reply)
{
    char *command = NULL;
    uint64_t number = 0, second = 0;
    byte *data = NULL;
    size_t size = 0;
    bool match = zsock_recv(actor, "s88b", &command, &number, &second, &data,
                            &size) == 0 &&
                 command && streq(command, expected);
    if (match) {
        reply->answered = true;
        reply->number = number;
        reply->second = second;
        reply->has_report = data && size == sizeof reply->report;
        if (reply->has_report)
            memcpy(&reply->report, data, sizeof reply->report);
    }
    zstr_free(&command);
    free(data);
    return match;
}

/* Waits for `actor`'s `expected` reply until `deadline_ns`, watching
 * signals: a second SIGTERM/SIGINT sends it `now_command` (answer at
 * once). `reply->answered` is false when no answer came. */
static void s_await(s_main_t *self, zactor_t *actor, const char *expected,
                    const char *now_command, int64_t deadline_ns,
                    s_reply_t *reply)
{
    sigset_t signals;
    s_signal_set(&signals);
    const struct timespec no_wait = {0, 0};
    *reply = (s_reply_t){.answered = false};
    if (self->hurried)
        zsock_send(actor, "s", now_command);
    zpoller_t *poller = zpoller_new(actor, NULL);
    while (poller && cmn_clock_now_mono_ns() < deadline_ns) {
        if (zpoller_wait(poller, PL_SIGNAL_POLL_MS) == actor &&
            s_receive(actor, expected, reply))
            break;
        if (zpoller_terminated(poller))
            break;
        int number = sigtimedwait(&signals, NULL, &no_wait);
        if (number == SIGHUP)
            cmn_log_info("main", "signal", "name=SIGHUP action=ignored");
        else if (number > 0 && !self->hurried) {
            cmn_log_warning("main", "signal", "name=%s action=flush_now %s",
                            s_signal_name(number),
                            self->done ? "(exit-when-done flush cut short)"
                                       : "(second signal)");
            self->hurried = true;
            zsock_send(actor, "s", now_command);
        }
    }
    zpoller_destroy(&poller);
}

/* Appends "code:records," for every nack code that refused records. */
static void s_refused_codes(const pl_window_counters_t *counters, char *out,
                            size_t capacity)
{
    out[0] = '\0';
    uint64_t coded = 0;
    for (int code = MDBP_NACK_CODE_NONE; code <= MDBP_NACK_CODE_UNKNOWN;
         code++) {
        uint64_t records = counters->rejected_by_code[code];
        coded += records;
        size_t used = strlen(out);
        if (records)
            snprintf(out + used, capacity - used, "%s%s:%llu", used ? "," : "",
                     code == MDBP_NACK_CODE_NONE
                         ? "malformed"
                         : mdbp_nack_code_name((mdbp_nack_code_t)code),
                     (unsigned long long)records);
    }
    size_t used = strlen(out);
    if (counters->records_rejected > coded) /* could not be encoded */
        snprintf(out + used, capacity - used, "%sunencodable:%llu",
                 used ? "," : "",
                 (unsigned long long)(counters->records_rejected - coded));
}

/* The one shutdown report (pipeline/README.md, "Shutdown"): every record
 * produced is in exactly one of stored, refused, sent_unacked, never_sent.
 * Without an answer from an actor its numbers are unknown (-1). */
static void s_report(const s_reply_t *producer, const s_reply_t *sender)
{
    if (!producer->answered || !sender->has_report) {
        cmn_log_warning("main", "shutdown_report",
                        "result=unknown producer_answered=%s "
                        "sender_answered=%s",
                        producer->answered ? "yes" : "no",
                        sender->has_report ? "yes" : "no");
        return;
    }
    const pl_sender_report_t *report = &sender->report;
    const pl_window_counters_t *counters = &report->counters;
    uint64_t never_sent = producer->number + report->input_never_sent +
                          report->window.never_sent;
    uint64_t refused_held =
        report->window.refused_full + report->window.refused_draining;
    uint64_t refused = counters->records_rejected + refused_held;
    uint64_t stored = counters->records_acked;
    uint64_t unacked = report->window.maybe_stored;
    char codes[PL_REPORT_CODES_MAX];
    s_refused_codes(counters, codes, sizeof codes);
    size_t used = strlen(codes);
    if (report->window.refused_full)
        snprintf(codes + used, sizeof codes - used, "%sfull:%llu",
                 used ? "," : "",
                 (unsigned long long)report->window.refused_full);
    used = strlen(codes);
    if (report->window.refused_draining)
        snprintf(codes + used, sizeof codes - used, "%sdraining:%llu",
                 used ? "," : "",
                 (unsigned long long)report->window.refused_draining);
    bool complete = never_sent == 0 && unacked == 0 && refused == 0;
    cmn_log_event(
        complete ? CMN_LOG_INFO : CMN_LOG_WARNING, "main", "shutdown_report",
        "result=%s produced=%llu stored=%llu never_sent=%llu "
        "sent_unacked=%llu refused=%llu refused_by=\"%s\"",
        complete ? "complete" : "incomplete",
        (unsigned long long)producer->second, (unsigned long long)stored,
        (unsigned long long)never_sent, (unsigned long long)unacked,
        (unsigned long long)refused, codes);
}

/* Stop making records, then get the window acknowledged; `done`: every
 * provider has ended (MDP_EXIT_WHEN_DONE): the flush waits for every ack,
 * a signal cuts it short. */
static void s_shutdown(s_main_t *self, bool done)
{
    self->done = done;
    int64_t timeout_ns = done ? PL_DONE_FLUSH_MS * CMN_NS_PER_MS
                              : self->settings->shutdown_timeout_ns;
    int64_t deadline = cmn_clock_now_mono_ns() + timeout_ns;
    cmn_log_info("main", "shutdown", "timeout_ms=%lld",
                 (long long)(timeout_ns / CMN_NS_PER_MS));
    zsock_send(self->producer, "s8", PL_PRODUCER_STOP,
               (uint64_t)(timeout_ns / CMN_NS_PER_MS));
    s_reply_t producer, sender;
    s_await(self, self->producer, PL_PRODUCER_STOPPED, PL_PRODUCER_NOW,
            deadline + PL_REPLY_MARGIN_NS, &producer);
    int64_t left = (deadline - cmn_clock_now_mono_ns()) / CMN_NS_PER_MS;
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++) /* flushing together */
        if (self->senders[k])
            zsock_send(self->senders[k], "s8", PL_SENDER_FLUSH,
                       (uint64_t)(left > 0 ? left : 0));
    sender = (s_reply_t){.answered = true, .has_report = true};
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++) {
        if (!self->senders[k])
            continue;
        s_reply_t one;
        s_await(self, self->senders[k], PL_SENDER_FLUSHED, PL_SENDER_NOW,
                deadline + PL_REPLY_MARGIN_NS, &one);
        sender.has_report = sender.has_report && one.has_report;
        if (one.has_report)
            pl_sender_report_add(&sender.report, &one.report);
    }
    s_report(&producer, &sender);
}

/* MDP_EXIT_WHEN_DONE: waits for a signal or the producer's DONE. Returns
 * true for DONE. */
static bool s_wait_for_done(s_main_t *self)
{
    sigset_t signals;
    s_signal_set(&signals);
    const struct timespec no_wait = {0, 0};
    zpoller_t *poller = zpoller_new(self->producer, NULL);
    bool done = false;
    while (poller && !done) {
        s_reply_t reply;
        if (zpoller_wait(poller, PL_SIGNAL_POLL_MS) == self->producer &&
            s_receive(self->producer, PL_PRODUCER_DONE, &reply)) {
            cmn_log_info("main", "done", "produced=%llu action=flush",
                         (unsigned long long)reply.number);
            done = true;
            break;
        }
        int number = sigtimedwait(&signals, NULL, &no_wait);
        if (number == SIGHUP)
            cmn_log_info("main", "signal", "name=SIGHUP action=ignored");
        else if (number > 0) {
            cmn_log_info("main", "signal", "name=%s action=flush",
                         s_signal_name(number));
            break;
        }
    }
    zpoller_destroy(&poller);
    return done;
}

/* A session of this run (proto/ingest.md 5), one per class: random,
 * nonzero. */
static uint64_t s_session(mdbp_priority_t priority)
{
    uint64_t session = 0;
    while (session == 0)
        if (getrandom(&session, sizeof session, 0) != (ssize_t)sizeof session)
            session =
                (uint64_t)cmn_clock_now_mono_ns() ^ ((uint64_t)getpid() << 32);
    cmn_log_info("main", "session", "session=%llu priority=%s",
                 (unsigned long long)session, mdbp_priority_name(priority));
    return session;
}

static void s_start_failed(const char *actor, const char *reason)
{
    cmn_log_error("main", "start_failed", "actor=%s reason=\"%s\"", actor,
                  reason);
}

/* The seed's standalone metrics server: /metrics alone on
 * MDP_METRICS_STANDALONE_PORT while MDP_HTTP_PORT serves the rest.
 * Returns NULL (logged) when it cannot listen. */
static cmn_http_t *s_metrics_http_new(s_main_t *self)
{
    pl_settings_t *settings = self->settings;
    cmn_http_config_t config = {
        .bind_address = settings->http_bind,
        .port = settings->metrics_port,
        .threads = settings->http_threads,
        .max_request_bytes = settings->http_max_request_bytes,
        .request_timeout_ms = settings->http_request_timeout_ms};
    cmn_http_t *http = cmn_http_new(&config, self->registry);
    if (http && cmn_http_start(http) == 0) {
        cmn_log_info("main", "metrics_listening", "port=%d routes=/metrics",
                     cmn_http_port(http));
        return http;
    }
    cmn_http_destroy(&http);
    s_start_failed("http", "cannot serve MDP_METRICS_STANDALONE_PORT");
    return NULL;
}

/* A sender for each class the providers have (each its own session: one
 * producer per class, ingest.md 4.5), and the producer's way to each.
 * Returns 0, or -1 (logged) when one cannot start. */
static int s_start_senders(s_main_t *self, pl_producer_config_t *producer)
{
    pl_settings_t *settings = self->settings;
    bool used[MDBP_PRIORITY_COUNT] = {false};
    for (size_t idx = 0; idx < settings->names.count; idx++)
        used[producer->sources[idx].priority] = true;
    bool primary = true;
    for (int rank = 0; rank < MDBP_PRIORITY_COUNT; rank++) {
        mdbp_priority_t priority = pl_status_importance[rank];
        if (!used[priority])
            continue;
        char error[PL_ACTOR_ERROR_MAX];
        pl_sender_config_t sender = {
            .clock = self->clock,
            .endpoints = settings->store_endpoints,
            .producer_id = settings->producer_id,
            .data_endpoint = s_data_endpoints[priority],
            .limits_endpoint = s_limits_endpoints[priority],
            .resolve_ns = settings->store_resolve_ns,
            .session = s_session(priority),
            .batch_records = settings->batch_records,
            .batch_ns = settings->batch_ns,
            .window = settings->window,
            .priority = priority,
            .weight = settings->weight,
            .primary = primary,
            .ack_timeout_ns = settings->ack_timeout_ns,
            .metrics = self->metrics,
            .status = self->status,
            .curve_secret_key_file = settings->curve_secret_key_file,
            .curve_server_key_file = settings->curve_server_key_file};
        /* The sender binds the data endpoint the producer connects to. */
        self->senders[priority] = pl_sender_new(&sender, error);
        if (!self->senders[priority]) {
            s_start_failed("sender", error);
            return -1;
        }
        producer->data_endpoints[priority] = s_data_endpoints[priority];
        primary = false;
    }
    return 0;
}

/* Starts the actors and HTTP. Returns an exit code (0: running). */
static int s_start(s_main_t *self)
{
    pl_settings_t *settings = self->settings;
    char error[PL_ACTOR_ERROR_MAX];
    pl_producer_config_t producer = {
        .clock = self->clock,
        .decisions_endpoint = PL_DECISIONS_ENDPOINT,
        .scale_cell = self->scale_cell,
        .admin_endpoint = PL_ADMIN_ENDPOINT,
        .policy = self->policy,
        .chunk_records = PL_PRODUCER_CHUNK_RECORDS_DEFAULT,
        .metrics = self->metrics,
        .status = self->status};
    if (pl_settings_build_providers(settings, self->clock, &producer.rate,
                                    producer.sources) != 0) {
        pl_rate_coordinator_destroy(&producer.rate);
        for (size_t idx = 0; idx < PL_RATE_PROVIDERS_MAX; idx++) {
            pl_synthetic_destroy(&producer.sources[idx].synthetic);
            pl_replay_destroy(&producer.sources[idx].replay);
            pl_feed_destroy(&producer.sources[idx].feed, 0);
        }
        return CMN_EXIT_USAGE;
    }
    if (s_start_senders(self, &producer) != 0) {
        pl_rate_coordinator_destroy(&producer.rate);
        for (size_t idx = 0; idx < PL_RATE_PROVIDERS_MAX; idx++) {
            pl_synthetic_destroy(&producer.sources[idx].synthetic);
            pl_replay_destroy(&producer.sources[idx].replay);
            pl_feed_destroy(&producer.sources[idx].feed, 0);
        }
        return CMN_EXIT_FAILURE;
    }
    self->producer = pl_producer_new(&producer, error);
    if (!self->producer) {
        s_start_failed("producer", error);
        return CMN_EXIT_FAILURE;
    }
    if (settings->feedback) {
        pl_subscriber_config_t subscriber = {
            .clock = self->clock,
            .endpoints = settings->feedback_endpoints,
            .resolve_ns = settings->resolve_ns,
            .tick_ns = PL_SUBSCRIBER_TICK_MS_DEFAULT * CMN_NS_PER_MS,
            .decisions_endpoint = PL_DECISIONS_ENDPOINT,
            .scale_cell = self->scale_cell,
            .feedback = {.stale_level = settings->stale_level,
                         .forget_ns = settings->forget_ns},
            .policy = self->policy,
            .metrics = self->metrics,
            .status = self->status,
            .curve_secret_key_file = settings->curve_secret_key_file,
            .curve_server_key_file = settings->curve_server_key_file,
            .posted_endpoint = PL_POSTED_ENDPOINT,
            .posted_ttl_ms = settings->posted_ttl_ms,
            .source_label = settings->source_label};
        for (int k = 0; k < MDBP_PRIORITY_COUNT; k++)
            if (self->senders[k])
                subscriber.limits_endpoints[k] = s_limits_endpoints[k];
        self->subscriber = pl_subscriber_new(&subscriber, error);
        if (!self->subscriber) {
            s_start_failed("subscriber", error);
            return CMN_EXIT_FAILURE;
        }
    }
    if (settings->http_enable) {
        self->http = pl_http_new(
            settings, self->registry, self->status, PL_ADMIN_ENDPOINT,
            settings->feedback ? PL_POSTED_ENDPOINT : NULL, self->metrics);
        if (!self->http) {
            s_start_failed("http", "cannot serve HTTP (see above)");
            return CMN_EXIT_FAILURE;
        }
        cmn_log_info("main", "http_listening", "port=%d",
                     cmn_http_port(self->http));
        if (settings->metrics_port >= 0 &&
            !(self->metrics_http = s_metrics_http_new(self)))
            return CMN_EXIT_FAILURE;
        if (settings->metrics_port < 0 &&
            settings->http_port != PL_HTTP_PORT_SEED &&
            strcmp(cmn_config_source(settings->config,
                                     "metrics-standalone-port"),
                   "default") != 0)
            cmn_log_warning(
                "main", "http_port_moved",
                "port=%d note=\"MDP_METRICS_STANDALONE_PORT moves every "
                "route, /health and /ready too, off %d; the seed moved "
                "/metrics only: set MDP_HTTP_PORT=%d for that\"",
                cmn_http_port(self->http), PL_HTTP_PORT_SEED,
                PL_HTTP_PORT_SEED);
    }
    char names[PL_RATE_PROVIDERS_MAX * (MDBP_NAME_MAX + 1) + 1] = "";
    for (size_t idx = 0; idx < settings->names.count; idx++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", idx ? "," : "",
                 settings->names.names[idx]);
    }
    cmn_log_info("main", "started", "providers=%s feedback=%s policy=%s",
                 names,
                 settings->feedback ? "on" : "off",
                 pl_policy_kind_name(pl_policy_kind(self->policy)));
    return CMN_EXIT_OK;
}

static int s_run(pl_settings_t *settings)
{
    s_main_t self = {.settings = settings};
    self.clock = cmn_clock_new_system();
    self.registry = cmn_metrics_new();
    /* #15: process_* and pipeline_build_info */
    cmn_process_metrics(self.registry, "pipeline_build_info", MDBP_VERSION);
    self.metrics = self.registry ? pl_metrics_new(self.registry) : NULL;
    self.status = pl_status_new(settings->feedback);
    self.scale_cell = pl_scale_cell_new(1.0); /* the producer starts at 1 */
    self.policy = pl_policy_new(&settings->policy);
    int exit_code = CMN_EXIT_FAILURE;
    if (!self.clock || !self.metrics || !self.status || !self.policy ||
        !self.scale_cell)
        s_start_failed("main", "out of memory");
    else
        exit_code = s_start(&self);
    if (exit_code == CMN_EXIT_OK && settings->exit_when_done)
        s_shutdown(&self, s_wait_for_done(&self));
    else if (exit_code == CMN_EXIT_OK) {
        s_wait_for_stop();
        s_shutdown(&self, false);
    }
    zactor_destroy(&self.subscriber);
    zactor_destroy(&self.producer);
    for (int k = 0; k < MDBP_PRIORITY_COUNT; k++)
        zactor_destroy(&self.senders[k]);
    pl_scale_cell_destroy(&self.scale_cell);
    cmn_http_destroy(&self.http);
    cmn_http_destroy(&self.metrics_http);
    pl_policy_destroy(&self.policy);
    pl_status_destroy(&self.status);
    pl_metrics_destroy(&self.metrics);
    cmn_metrics_destroy(&self.registry);
    cmn_clock_destroy(&self.clock);
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

    pl_settings_t settings;
    /* Issue 15: `mdp-pipeline check` lists every problem at once. */
    cmn_check_t *check =
        pl_check_requested(argc, argv) ? cmn_check_new(PL_PROGRAM) : NULL;
    if (check) {
        cmn_log_setup(PL_PROGRAM, CMN_LOG_ERROR, CMN_LOG_TEXT);
        pl_settings_load(&settings, argc, argv, check);
        int code = pl_check_command(&settings, check);
        cmn_check_destroy(&check);
        pl_settings_clear(&settings);
        return code;
    }
    int rc = pl_settings_load(&settings, argc, argv, NULL);
    if (rc != 0) {
        pl_settings_clear(&settings);
        return rc == PL_SETTINGS_EXIT ? CMN_EXIT_OK : CMN_EXIT_USAGE;
    }
    cmn_log_setup(PL_PROGRAM, settings.log_level, settings.log_format);
    /* #15: warn about unknown MDP_* variables, per-provider ones included. */
    cmn_config_warn_unknown(settings.config, &pl_settings_unknown, NULL);
    /* #15: the seed's variables name providers MDP_PROVIDERS may not list. */
    for (size_t k = 0; k < settings.implied.count; k++) {
        const char *name = settings.implied.names[k];
        const char *why = settings.implied.why[k];
        bool family = strcmp(why, "MDP_FB_PROVIDER_NAME") != 0;
        char upper[MDBP_NAME_MAX + 1];
        size_t length = 0;
        for (; name[length]; length++)
            upper[length] = (char)toupper((unsigned char)name[length]);
        upper[length] = '\0';
        cmn_log_warning("main", "provider_created",
                        "name=%s source=%s reason=\"named by %s%s%s%s but "
                        "not in MDP_PROVIDERS\"",
                        name, pl_settings_source(&settings, name), why,
                        family ? "_" : "", family ? upper : "",
                        family ? "_*" : "");
    }
    int exit_code = s_run(&settings);
    pl_settings_clear(&settings);
    return exit_code;
}
