/* sc_worker: the shell around sc_writer: one sink, the dead-letter file, the
 * pipe to the core and one timer (see sc_worker.h).
 *
 * The engine says what to do (write, wait, dead-letter, sync, ping, done);
 * this file does it and reports the outcome. Waiting is the zloop timer, so
 * $TERM is obeyed at once even in a backoff. */
#include "sc_worker.h"

#include "cmn_log.h"
#include "cmn_random.h"
#include "sc_actor.h"
#include "sc_dlq.h"
#include "sc_sink.h"
#include "sc_writer.h"

#define S_RANDOM_SEED_MIX 0x9E3779B97F4A7C15ull

typedef struct {
    const sc_settings_t *settings;
    sc_state_t *state;
    sc_stats_t *stats;
    cmn_clock_t *clock;
    size_t index;                  /* this worker's number */
    zsock_t *pipe;                 /* to the core */
    zloop_t *loop;                 /* the pipe and the one timer */
    int timer_id;                  /* armed from the writer's deadline, or -1 */
    sc_sink_t *sink;               /* this worker's connection */
    sc_dlq_t *dlq;                 /* dead-letter file */
    sc_writer_t *writer;           /* the decisions */
    uint64_t random;               /* xorshift state for jitter */
    uint64_t chunk_id;             /* the chunk held, when busy */
    const mdbp_record_t *records; /* its records (the core's buffer) */
    int breaker;                   /* last published sc_breaker_state_t */
    bool retrying;                 /* last reported: backing off */
    bool dlq_failing;              /* the dead-letter file failed last time */
    bool reported_dlq;             /* last reported dlq_failing */
} s_self_t;

static uint64_t s_random(void *arg)
{
    return cmn_random_next((uint64_t *)arg);
}

/* Reports this worker's health to the core (retry hints, sink state)
 * when it changed: "HEALTH" breaker retrying dlq_failing 0. */
static void s_report_health(s_self_t *self, bool breaker_changed)
{
    bool retrying = sc_writer_attempt(self->writer) > 0;
    if (!breaker_changed && retrying == self->retrying &&
        self->dlq_failing == self->reported_dlq)
        return;
    self->retrying = retrying;
    self->reported_dlq = self->dlq_failing;
    zsock_send(self->pipe, "s8888", "HEALTH", (uint64_t)self->breaker,
               (uint64_t)retrying, (uint64_t)self->dlq_failing, (uint64_t)0);
}

/* Publishes the breaker's state (for /ready, /status, metrics and the
 * core) when it changed. */
static void s_publish_breaker(s_self_t *self)
{
    sc_breaker_state_t state = sc_writer_breaker(self->writer);
    int before = self->breaker;
    if (before == (int)state) {
        s_report_health(self, false);
        return;
    }
    self->breaker = (int)state;
    atomic_store(&self->state->breaker[self->index], (int)state);
    cmn_series_set(self->stats->breaker_state[self->index], state);
    s_report_health(self, true);
    if (state == SC_BREAKER_OPEN) {
        cmn_series_inc(self->stats->breaker_opens);
        /* Re-opening, or a refused login already named: debug. */
        bool quiet =
            before != SC_BREAKER_CLOSED ||
            atomic_load(&self->state->sink_problem) != SC_SINK_PROBLEM_NONE;
        cmn_log_event(quiet ? CMN_LOG_DEBUG : CMN_LOG_WARNING, "worker",
                      "breaker_open", "worker=%zu timeout_ms=%lld error=\"%s\"",
                      self->index,
                      (long long)self->settings->breaker_timeout_ms,
                      sc_sink_error(self->sink));
    } else if (state == SC_BREAKER_CLOSED)
        cmn_log_info("worker", "breaker_closed", "worker=%zu", self->index);
}

/* Issue 15: a database that refuses the login, or has no such database,
 * is named once for the whole process (whichever worker sees it first),
 * not once per worker and attempt; /ready says it too. Returns the problem
 * (NONE for any other outcome). */
static sc_sink_problem_t s_publish_problem(s_self_t *self,
                                           sc_sink_status_t status)
{
    sc_sink_problem_t problem =
        status == SC_SINK_TRANSIENT
            ? sc_sink_problem_of(sc_sink_error(self->sink))
            : SC_SINK_PROBLEM_NONE;
    if (status == SC_SINK_OK) {
        if (atomic_exchange(&self->state->sink_problem, SC_SINK_PROBLEM_NONE))
            cmn_log_info("worker", "database_accepted", "worker=%zu",
                         self->index);
        return problem;
    }
    if (problem == SC_SINK_PROBLEM_NONE) {
        /* Another kind of failure (the network, a full disk): the login
         * problem is no longer what goes on, and its retries must be
         * logged again (s_log_outcome). */
        atomic_store(&self->state->sink_problem, SC_SINK_PROBLEM_NONE);
        return problem;
    }
    int expected = SC_SINK_PROBLEM_NONE;
    if (problem != SC_SINK_PROBLEM_NONE &&
        atomic_compare_exchange_strong(&self->state->sink_problem, &expected,
                                       (int)problem))
        cmn_log_error("sink", sc_sink_problem_name(problem),
                      "kind=%s hint=\"%s\" error=\"%s\"",
                      sc_sink_kind(self->sink), sc_sink_problem_text(problem),
                      sc_sink_error(self->sink));
    return problem;
}

static sc_sink_problem_t s_publish_reachable(s_self_t *self,
                                             sc_sink_status_t status)
{
    atomic_store(&self->state->reachable[self->index],
                 status == SC_SINK_TRANSIENT ? SC_REACHABLE_NO
                                             : SC_REACHABLE_YES);
    return s_publish_problem(self, status);
}

/* One sink write, timed and counted. */
static sc_sink_status_t s_write(s_self_t *self, const mdbp_record_t *records,
                                size_t count, sc_sink_counts_t *counts)
{
    int64_t start = cmn_clock_now_mono_ns();
    sc_sink_status_t status = sc_sink_write(self->sink, records, count, counts);
    cmn_series_observe(self->stats->batch_duration,
                       (double)(cmn_clock_now_mono_ns() - start) /
                           (double)CMN_NS_PER_SEC);
    s_publish_reachable(self, status);
    if (status == SC_SINK_TRANSIENT)
        cmn_series_inc(self->stats->sink_errors[0]);
    else if (status == SC_SINK_PERMANENT)
        cmn_series_inc(self->stats->sink_errors[1]);
    return status;
}

static void s_log_outcome(s_self_t *self, sc_writer_outcome_t outcome,
                          size_t count, const char *what)
{
    if (outcome == SC_WRITER_RETRY) {
        cmn_series_inc(self->stats->sink_retries);
        uint32_t attempt = sc_writer_attempt(self->writer);
        /* A refused login is named once (s_publish_problem). */
        bool named =
            atomic_load(&self->state->sink_problem) != SC_SINK_PROBLEM_NONE;
        if ((attempt == 1 && !named) || cmn_log_enabled(CMN_LOG_DEBUG))
            cmn_log_event(
                named ? CMN_LOG_DEBUG : CMN_LOG_WARNING, "worker", what,
                "worker=%zu records=%zu attempt=%u "
                "error=\"%s\"",
                self->index, count, attempt, sc_sink_error(self->sink));
    } else if (outcome == SC_WRITER_ISOLATE)
        cmn_log_warning("worker", "batch_rejected",
                        "worker=%zu records=%zu error=\"%s\" "
                        "action=isolate",
                        self->index, count, sc_sink_error(self->sink));
}

static void s_ping(s_self_t *self, int64_t now)
{
    sc_sink_status_t status = sc_sink_ping(self->sink);
    int before = atomic_load(&self->state->reachable[self->index]);
    sc_sink_problem_t problem = s_publish_reachable(self, status);
    sc_writer_pinged(self->writer, now);
    if (status == SC_SINK_TRANSIENT && before != SC_REACHABLE_NO &&
        problem == SC_SINK_PROBLEM_NONE)
        cmn_log_warning("worker", "database_unreachable",
                        "worker=%zu error=\"%s\"", self->index,
                        sc_sink_error(self->sink));
}

static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg);

/* Does what the writer says until it waits or is idle, then arms the timer
 * for that moment. */
static void s_self_run(s_self_t *self)
{
    for (;;) {
        int64_t now = cmn_clock_mono_ns(self->clock);
        sc_writer_action_t action;
        sc_writer_next(self->writer, now, &action);
        s_publish_breaker(self);
        if (action.step == SC_WRITER_IDLE || action.step == SC_WRITER_WAIT) {
            sc_actor_arm(self->loop, &self->timer_id, action.until_ns, now,
                         s_self_handle_timer, self);
            return;
        }
        if (action.step == SC_WRITER_PING)
            s_ping(self, now);
        else if (action.step == SC_WRITER_WRITE) {
            sc_sink_counts_t counts = {0};
            sc_sink_status_t status = s_write(
                self, self->records + action.index, action.count, &counts);
            sc_writer_outcome_t outcome = sc_writer_wrote(
                self->writer, status, &counts, cmn_clock_mono_ns(self->clock));
            s_log_outcome(self, outcome, action.count, "write_failed");
        } else if (action.step == SC_WRITER_DEAD_LETTER) {
            int result = sc_dlq_append(self->dlq, &self->records[action.index],
                                       sc_sink_error(self->sink));
            self->dlq_failing = result != 0;
            if (result == 0)
                cmn_log_warning("worker", "record_dead_lettered",
                                "worker=%zu path=\"%s\" error=\"%s\"",
                                self->index, sc_dlq_path(self->dlq),
                                sc_sink_error(self->sink));
            sc_writer_outcome_t outcome = sc_writer_dead_lettered(
                self->writer, result, cmn_clock_mono_ns(self->clock));
            s_log_outcome(self, outcome, 1, "dead_letter_failed");
        } else if (action.step == SC_WRITER_SYNC) {
            int result = sc_dlq_sync(self->dlq);
            self->dlq_failing = result != 0;
            sc_writer_outcome_t outcome = sc_writer_synced(
                self->writer, result, cmn_clock_mono_ns(self->clock));
            s_log_outcome(self, outcome, 0, "dead_letter_sync_failed");
        } else { /* SC_WRITER_DONE */
            sc_writer_counts_t counts = sc_writer_finish(self->writer);
            cmn_series_add(self->stats->records_written, counts.written);
            cmn_series_add(self->stats->records_duplicate, counts.duplicates);
            cmn_series_add(self->stats->records_dead_lettered,
                           counts.dead_lettered);
            zsock_send(self->pipe, "s8888", "DONE", self->chunk_id,
                       (uint64_t)counts.written, (uint64_t)counts.duplicates,
                       (uint64_t)counts.dead_lettered);
            self->records = NULL;
        }
    }
}

static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_self_t *self = arg;
    self->timer_id = -1; /* a one-shot timer */
    s_self_run(self);
    return 0;
}

static int s_self_handle_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    char *command = NULL;
    uint64_t id = 0, count = 0;
    void *records = NULL;
    if (zsock_recv(reader, "s8p8", &command, &id, &records, &count) != 0)
        return -1;
    int result = 0;
    if (!command || streq(command, "$TERM"))
        result = -1;
    else if (streq(command, "CHUNK") && !self->records && count > 0) {
        self->chunk_id = id;
        self->records = records;
        sc_writer_begin(self->writer, (size_t)count);
        s_self_run(self);
    } else
        cmn_log_error("worker", "unknown_command", "command=%s", command);
    zstr_free(&command);
    return result;
}

static void s_self_destroy(s_self_t **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy(&self->loop);
    sc_writer_destroy(&self->writer);
    sc_dlq_destroy(&self->dlq);
    sc_sink_destroy(&self->sink);
    free(self);
    *self_p = NULL;
}

/* Opens the sink at once (a sink that can never work stops the start-up,
 * naming it; an unreachable database does not: the writer retries). */
static s_self_t *s_self_new(zsock_t *pipe, void *args, char *error)
{
    const sc_worker_args_t *given = args;
    const sc_settings_t *settings = given->settings;
    s_self_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, SC_ACTOR_ERROR_MAX, "worker %zu: out of memory",
                 given->index);
        return NULL;
    }
    *self = (s_self_t){
        .settings = settings,
        .state = given->state,
        .stats = given->stats,
        .clock = given->clock,
        .index = given->index,
        .pipe = pipe,
        .timer_id = -1,
        .breaker = SC_BREAKER_CLOSED,
    };
    self->random = settings->epoch ^ (S_RANDOM_SEED_MIX * (given->index + 1));
    if (self->random == 0)
        self->random = 1;
    sc_writer_config_t writer = {
        .retry_limit = settings->retry_limit,
        .retry_base_ns = settings->retry_base_ms * CMN_NS_PER_MS,
        .retry_max_ns = settings->retry_max_ms * CMN_NS_PER_MS,
        .breaker_threshold = settings->breaker_threshold,
        .breaker_timeout_ns = settings->breaker_timeout_ms * CMN_NS_PER_MS,
        .random = s_random,
        .random_arg = &self->random,
    };
    self->loop = zloop_new();
    self->sink = sc_sink_new(settings->sink_uri);
    if (self->sink)
        sc_sink_set_timeout(self->sink, settings->db_timeout_ms);
    self->dlq = sc_dlq_new(settings->dlq_path);
    self->writer = sc_writer_new(&writer, cmn_clock_mono_ns(self->clock));
    if (!self->loop || !self->sink || !self->dlq || !self->writer) {
        snprintf(error, SC_ACTOR_ERROR_MAX, "worker %zu: out of memory",
                 self->index);
        s_self_destroy(&self);
        return NULL;
    }
    if (sc_sink_start(self->sink) == SC_SINK_PERMANENT) {
        /* The sink's error names the file; the URI is not repeated (a
         * PostgreSQL URI may hold a password). */
        snprintf(error, SC_ACTOR_ERROR_MAX,
                 "worker %zu: sink (MDS_SINK, %s) cannot be opened: %s",
                 self->index, sc_sink_kind(self->sink),
                 sc_sink_error(self->sink));
        s_self_destroy(&self);
        return NULL;
    }
    zloop_reader(self->loop, pipe, s_self_handle_pipe, self);
    return self;
}

void sc_worker_actor(zsock_t *pipe, void *args)
{
    zsock_signal(pipe, 0);
    char error[SC_ACTOR_ERROR_MAX] = "";
    s_self_t *self = s_self_new(pipe, args, error);
    if (!self) {
        cmn_log_error("worker", "start_failed", "error=\"%s\"", error);
        sc_actor_report(pipe, error);
        sc_actor_wait_term(pipe);
        return;
    }
    sc_actor_report(pipe, NULL);
    s_self_run(self); /* the first ping at once, so /ready knows early */
    zloop_start(self->loop);
    s_self_destroy(&self);
}
