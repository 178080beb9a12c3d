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
 *     unflushed). */
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
#include "pl_config.h"
#include "pl_http.h"
#include "pl_metrics.h"
#include "pl_policy.h"
#include "pl_producer.h"
#include "pl_sender.h"
#include "pl_status.h"
#include "pl_subscriber.h"

#define PL_DATA_ENDPOINT "inproc://pl-records"
#define PL_DECISIONS_ENDPOINT "inproc://pl-decisions"
#define PL_ADMIN_ENDPOINT "inproc://pl-admin"
#define PL_LIMITS_ENDPOINT "inproc://pl-limits"
/* A second signal is noticed this fast while main waits for an actor. */
#define PL_SIGNAL_POLL_MS 100
/* An actor answers at its deadline at the latest: allow this margin. */
#define PL_REPLY_MARGIN_NS CMN_NS_PER_SEC

typedef struct {
    pl_settings_t *settings;
    cmn_clock_t *clock;
    cmn_metrics_t *registry;
    pl_metrics_t *metrics;
    pl_status_t *status;
    pl_policy_t *policy;
    zactor_t *sender, *producer, *subscriber;
    cmn_http_t *http;
    bool hurried; /* a second signal came: nobody waits any more */
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

/* Waits for `actor`'s "s8" reply until `deadline_ns`, watching signals: a
 * second SIGTERM/SIGINT sends it `now_command` (answer at once). Returns
 * the number, or -1 when no answer came. */
static int64_t s_await(s_main_t *self, zactor_t *actor, const char *now_command,
                       int64_t deadline_ns)
{
    sigset_t signals;
    s_signal_set(&signals);
    const struct timespec no_wait = {0, 0};
    if (self->hurried)
        zsock_send(actor, "s", now_command);
    zpoller_t *poller = zpoller_new(actor, NULL);
    int64_t answer = -1;
    while (poller && cmn_clock_now_mono_ns() < deadline_ns) {
        if (zpoller_wait(poller, PL_SIGNAL_POLL_MS) == actor) {
            char *reply = NULL;
            uint64_t number = 0;
            if (zsock_recv(actor, "s8", &reply, &number) == 0 && reply)
                answer = (int64_t)number;
            zstr_free(&reply);
            break;
        }
        if (zpoller_terminated(poller))
            break;
        int number = sigtimedwait(&signals, NULL, &no_wait);
        if (number == SIGHUP)
            cmn_log_info("main", "signal", "name=SIGHUP action=ignored");
        else if (number > 0 && !self->hurried) {
            cmn_log_warning("main", "signal",
                            "name=%s action=flush_now (second signal)",
                            s_signal_name(number));
            self->hurried = true;
            zsock_send(actor, "s", now_command);
        }
    }
    zpoller_destroy(&poller);
    return answer;
}

/* Stop making records, then get the window acknowledged. */
static void s_shutdown(s_main_t *self)
{
    int64_t timeout_ns = self->settings->shutdown_timeout_ns;
    int64_t deadline = cmn_clock_now_mono_ns() + timeout_ns;
    cmn_log_info("main", "shutdown", "timeout_ms=%lld",
                 (long long)(timeout_ns / CMN_NS_PER_MS));
    zsock_send(self->producer, "s8", PL_PRODUCER_STOP,
               (uint64_t)(timeout_ns / CMN_NS_PER_MS));
    int64_t unsent = s_await(self, self->producer, PL_PRODUCER_NOW,
                             deadline + PL_REPLY_MARGIN_NS);
    int64_t left = (deadline - cmn_clock_now_mono_ns()) / CMN_NS_PER_MS;
    zsock_send(self->sender, "s8", PL_SENDER_FLUSH,
               (uint64_t)(left > 0 ? left : 0));
    int64_t unacked = s_await(self, self->sender, PL_SENDER_NOW,
                              deadline + PL_REPLY_MARGIN_NS);
    /* Unacknowledged records may or may not have been stored (an ack can
     * be lost); records the producer could not hand over were never sent.
     * -1: no answer. */
    if (unacked == 0 && unsent == 0)
        cmn_log_info("main", "flushed", "unacked_records=0");
    else
        cmn_log_warning("main", "shutdown_incomplete",
                        "unacked_records=%lld unsent_records=%lld",
                        (long long)unacked, (long long)unsent);
}

/* This run's session (proto/ingest.md 5): random, nonzero. */
static uint64_t s_session(void)
{
    uint64_t session = 0;
    while (session == 0)
        if (getrandom(&session, sizeof session, 0) != (ssize_t)sizeof session)
            session =
                (uint64_t)cmn_clock_now_mono_ns() ^ ((uint64_t)getpid() << 32);
    cmn_log_info("main", "session", "session=%llu",
                 (unsigned long long)session);
    return session;
}

static void s_start_failed(const char *actor, const char *reason)
{
    cmn_log_error("main", "start_failed", "actor=%s reason=\"%s\"", actor,
                  reason);
}

/* Starts the actors and HTTP. Returns an exit code (0: running). */
static int s_start(s_main_t *self)
{
    pl_settings_t *settings = self->settings;
    char error[PL_ACTOR_ERROR_MAX];
    pl_producer_config_t producer = {
        .clock = self->clock,
        .data_endpoint = PL_DATA_ENDPOINT,
        .decisions_endpoint = PL_DECISIONS_ENDPOINT,
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
    pl_sender_config_t sender = {
        .clock = self->clock,
        .endpoints = settings->store_endpoints,
        .producer_id = settings->producer_id,
        .data_endpoint = PL_DATA_ENDPOINT,
        .limits_endpoint = PL_LIMITS_ENDPOINT,
        .resolve_ns = settings->store_resolve_ns,
        .session = s_session(),
        .batch_records = settings->batch_records,
        .batch_ns = settings->batch_ns,
        .window = settings->window,
        .ack_timeout_ns = settings->ack_timeout_ns,
        .metrics = self->metrics,
        .status = self->status,
        .curve_secret_key_file = settings->curve_secret_key_file,
        .curve_server_key_file = settings->curve_server_key_file};
    /* The sender binds the data endpoint the producer connects to. */
    self->sender = pl_sender_new(&sender, error);
    if (!self->sender) {
        s_start_failed("sender", error);
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
            .limits_endpoint = PL_LIMITS_ENDPOINT,
            .feedback = {.stale_level = settings->stale_level,
                         .forget_ns = settings->forget_ns},
            .policy = self->policy,
            .metrics = self->metrics,
            .status = self->status,
            .curve_secret_key_file = settings->curve_secret_key_file,
            .curve_server_key_file = settings->curve_server_key_file};
        self->subscriber = pl_subscriber_new(&subscriber, error);
        if (!self->subscriber) {
            s_start_failed("subscriber", error);
            return CMN_EXIT_FAILURE;
        }
    }
    if (settings->http_enable) {
        self->http = pl_http_new(settings, self->registry, self->status,
                                 PL_ADMIN_ENDPOINT);
        if (!self->http) {
            s_start_failed("http", "cannot serve HTTP (see above)");
            return CMN_EXIT_FAILURE;
        }
        cmn_log_info("main", "http_listening", "port=%d",
                     cmn_http_port(self->http));
    }
    cmn_log_info("main", "started", "providers=%s feedback=%s policy=%s",
                 cmn_config_string(settings->config, "providers"),
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
    self.policy = pl_policy_new(&settings->policy);
    int exit_code = CMN_EXIT_FAILURE;
    if (!self.clock || !self.metrics || !self.status || !self.policy)
        s_start_failed("main", "out of memory");
    else
        exit_code = s_start(&self);
    if (exit_code == CMN_EXIT_OK) {
        s_wait_for_stop();
        s_shutdown(&self);
    }
    zactor_destroy(&self.subscriber);
    zactor_destroy(&self.producer);
    zactor_destroy(&self.sender);
    cmn_http_destroy(&self.http);
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
    int rc = pl_settings_load(&settings, argc, argv);
    if (rc != 0) {
        pl_settings_clear(&settings);
        return rc == PL_SETTINGS_EXIT ? CMN_EXIT_OK : CMN_EXIT_USAGE;
    }
    cmn_log_setup(PL_PROGRAM, settings.log_level, settings.log_format);
    /* #15: warn about unknown MDP_* variables, per-provider ones included. */
    cmn_config_warn_unknown(settings.config,
                            &(cmn_config_unknown_t){"MDP_",
                                                    "MDP_PROVIDER_ MDP_RATE_",
                                                    "MDP_PROVIDERS", NULL},
                            NULL);
    int exit_code = s_run(&settings);
    pl_settings_clear(&settings);
    return exit_code;
}
