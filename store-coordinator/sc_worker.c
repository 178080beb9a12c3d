/* sc_worker: writes chunks to a sink with retries, a breaker and dead-letters.
 *
 * One thread, one sink connection, one breaker. Waiting (backoff, open
 * breaker) is a poll on the pipe with a timeout, so $TERM is obeyed at
 * once. */
#include "sc_worker.h"

#include "sc_breaker.h"
#include "cmn_log.h"
#include "cmn_random.h"
#include "sc_dlq.h"
#include "sc_sink.h"

/* An idle worker checks its database this often (for /ready). */
#define SC_WORKER_PING_INTERVAL_MS 1000

typedef struct {
    const sc_settings_t *settings;
    sc_state_t *state;
    sc_stats_t *stats;
    cmn_clock_t *clock;
    size_t index;            /* this worker's number */
    zsock_t *pipe;           /* to the core */
    zpoller_t *poller;       /* on the pipe, for waits */
    sc_sink_t *sink;         /* this worker's connection */
    sc_breaker_t *breaker;   /* guards the sink */
    sc_dlq_t *dlq;           /* dead-letter file */
    bool terminated;         /* $TERM received */
    uint64_t random;         /* xorshift state for jitter */
    int64_t last_contact_ns; /* last write or ping */
} s_worker_t;

/* Counts of one chunk. */
typedef struct {
    size_t written;
    size_t duplicates;
    size_t dead_lettered;
} s_counts_t;

static void s_publish_breaker(s_worker_t *self)
{
    sc_breaker_state_t state = sc_breaker_state(self->breaker);
    int before =
        atomic_exchange(&self->state->breaker[self->index], (int)state);
    if (before == (int)state)
        return;
    cmn_series_set(self->stats->breaker_state[self->index], state);
    if (state == SC_BREAKER_OPEN) {
        cmn_series_inc(self->stats->breaker_opens);
        /* Re-opening after a failed trial is the same outage. */
        cmn_log_event(
            before == SC_BREAKER_CLOSED ? CMN_LOG_WARNING : CMN_LOG_DEBUG,
            "worker", "breaker_open", "worker=%zu timeout_ms=%lld error=\"%s\"",
            self->index, (long long)self->settings->breaker_timeout_ms,
            sc_sink_error(self->sink));
    } else if (state == SC_BREAKER_CLOSED)
        cmn_log_info("worker", "breaker_closed", "worker=%zu", self->index);
}

static void s_publish_reachable(s_worker_t *self, sc_sink_status_t status)
{
    atomic_store(&self->state->reachable[self->index],
                 status == SC_SINK_TRANSIENT ? SC_REACHABLE_NO
                                             : SC_REACHABLE_YES);
    self->last_contact_ns = cmn_clock_mono_ns(self->clock);
}

/* Waits `ms` unless $TERM arrives first. Returns 0, or -1 when terminated. */
static int s_wait(s_worker_t *self, int64_t ms)
{
    if (ms <= 0)
        return self->terminated ? -1 : 0;
    void *which = zpoller_wait(self->poller, (int)ms);
    if (which == self->pipe) {
        char *command = zstr_recv(self->pipe);
        /* The core sends nothing else to a busy worker. */
        self->terminated = true;
        zstr_free(&command);
    } else if (zpoller_terminated(self->poller))
        self->terminated = true;
    return self->terminated ? -1 : 0;
}

/* Waits until the breaker lets a write through. Returns 0 or -1. */
static int s_wait_breaker(s_worker_t *self)
{
    while (!self->terminated) {
        int64_t now = cmn_clock_mono_ns(self->clock);
        int64_t wait_ns = sc_breaker_wait_ns(self->breaker, now);
        s_publish_breaker(self);
        if (wait_ns == 0)
            return 0;
        if (s_wait(self, (wait_ns + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS) != 0)
            return -1;
    }
    return -1;
}

/* After the attempt-th consecutive transient failure: back off, or trip the
 * breaker once the quick retries are used up. Returns 0 or -1. */
static int s_backoff(s_worker_t *self, uint32_t attempt)
{
    int64_t now = cmn_clock_mono_ns(self->clock);
    sc_breaker_failure(self->breaker, now);
    cmn_series_inc(self->stats->sink_retries);
    if (attempt >= self->settings->retry_limit) {
        while (sc_breaker_state(self->breaker) != SC_BREAKER_OPEN)
            sc_breaker_failure(self->breaker, now);
    }
    s_publish_breaker(self);
    if (sc_breaker_state(self->breaker) == SC_BREAKER_OPEN)
        return s_wait_breaker(self);
    int64_t delay = self->settings->retry_base_ms;
    for (uint32_t i = 1; i < attempt && delay < self->settings->retry_max_ms;
         i++)
        delay *= 2;
    if (delay > self->settings->retry_max_ms)
        delay = self->settings->retry_max_ms;
    /* Full jitter over the upper half keeps workers from retrying in step. */
    int64_t half = delay / 2;
    int64_t jittered =
        half + (int64_t)(cmn_random_next(&self->random) % (uint64_t)(half + 1));
    return s_wait(self, jittered);
}

/* One sink write, timed and counted. */
static sc_sink_status_t s_write(s_worker_t *self, const proto_record_t *records,
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

/* Writes a chunk until every record is stored or dead-lettered. Returns 0,
 * or -1 when terminated first. */
static int s_process(s_worker_t *self, const proto_record_t *records,
                     size_t count, s_counts_t *out)
{
    bool one_by_one = false; /* isolating permanently rejected records */
    size_t index = 0;        /* next record when one by one */
    uint32_t attempt = 0;    /* consecutive transient failures */
    *out = (s_counts_t){0};
    while (index < count) {
        if (s_wait_breaker(self) != 0)
            return -1;
        size_t span = one_by_one ? 1 : count;
        sc_sink_counts_t counts = {0};
        sc_sink_status_t status = s_write(self, records + index, span, &counts);
        if (status == SC_SINK_OK) {
            sc_breaker_success(self->breaker);
            s_publish_breaker(self);
            out->written += counts.written;
            out->duplicates += counts.duplicates;
            index += span;
            attempt = 0;
        } else if (status == SC_SINK_TRANSIENT) {
            if (attempt == 0 || cmn_log_enabled(CMN_LOG_DEBUG))
                cmn_log_warning("worker", "write_failed",
                                "worker=%zu records=%zu attempt=%u "
                                "error=\"%s\"",
                                self->index, span, attempt + 1,
                                sc_sink_error(self->sink));
            if (s_backoff(self, ++attempt) != 0)
                return -1;
        } else if (!one_by_one && count > 1) {
            /* The database reached and refused something: find what. */
            sc_breaker_success(self->breaker);
            cmn_log_warning("worker", "batch_rejected",
                            "worker=%zu records=%zu error=\"%s\" "
                            "action=isolate",
                            self->index, count, sc_sink_error(self->sink));
            one_by_one = true;
            attempt = 0;
        } else {
            sc_breaker_success(self->breaker);
            if (sc_dlq_append(self->dlq, &records[index],
                              sc_sink_error(self->sink)) != 0) {
                /* Not stored anywhere yet: keep it and try again. */
                if (s_backoff(self, ++attempt) != 0)
                    return -1;
                continue;
            }
            cmn_log_warning("worker", "record_dead_lettered",
                            "worker=%zu path=\"%s\" error=\"%s\"", self->index,
                            sc_dlq_path(self->dlq), sc_sink_error(self->sink));
            out->dead_lettered++;
            index++;
            attempt = 0;
        }
    }
    /* Dead letters must be on disk before the batch can be acked. */
    attempt = 0;
    while (out->dead_lettered > 0 && sc_dlq_sync(self->dlq) != 0)
        if (s_backoff(self, ++attempt) != 0)
            return -1;
    cmn_series_add(self->stats->records_written, out->written);
    cmn_series_add(self->stats->records_duplicate, out->duplicates);
    cmn_series_add(self->stats->records_dead_lettered, out->dead_lettered);
    return 0;
}

static void s_ping(s_worker_t *self)
{
    int64_t now = cmn_clock_mono_ns(self->clock);
    if (now - self->last_contact_ns <
            SC_WORKER_PING_INTERVAL_MS * CMN_NS_PER_MS ||
        !sc_breaker_allow(self->breaker, now))
        return;
    sc_sink_status_t status = sc_sink_ping(self->sink);
    int before = atomic_load(&self->state->reachable[self->index]);
    s_publish_reachable(self, status);
    if (status == SC_SINK_TRANSIENT && before != SC_REACHABLE_NO)
        cmn_log_warning("worker", "database_unreachable",
                        "worker=%zu error=\"%s\"", self->index,
                        sc_sink_error(self->sink));
}

void sc_worker_actor(zsock_t *pipe, void *args)
{
    const sc_worker_args_t *given = args;
    s_worker_t self = {
        .settings = given->settings,
        .state = given->state,
        .stats = given->stats,
        .clock = given->clock,
        .index = given->index,
        .pipe = pipe,
    };
    self.random =
        given->settings->epoch ^ (0x9E3779B97F4A7C15ull * (given->index + 1));
    if (self.random == 0)
        self.random = 1;
    self.poller = zpoller_new(pipe, NULL);
    self.sink = sc_sink_new(self.settings->sink_uri);
    if (self.sink)
        sc_sink_set_timeout(self.sink, self.settings->db_timeout_ms);
    self.breaker =
        sc_breaker_new(self.settings->breaker_threshold,
                       self.settings->breaker_timeout_ms * CMN_NS_PER_MS);
    self.dlq = sc_dlq_new(self.settings->dlq_path);
    zsock_signal(pipe, 0);
    if (!self.poller || !self.sink || !self.breaker || !self.dlq) {
        cmn_log_error("worker", "start_failed", "worker=%zu", self.index);
        self.terminated = true;
    }
    /* First contact at once, so /ready knows early. */
    self.last_contact_ns = cmn_clock_mono_ns(self.clock) -
                           SC_WORKER_PING_INTERVAL_MS * CMN_NS_PER_MS;
    if (!self.terminated)
        s_ping(&self);

    while (!self.terminated) {
        void *which = zpoller_wait(self.poller, SC_WORKER_PING_INTERVAL_MS);
        if (which == NULL) {
            if (zpoller_terminated(self.poller))
                break;
            s_ping(&self);
            continue;
        }
        char *command = NULL;
        uint64_t id = 0, count = 0;
        void *records = NULL;
        if (zsock_recv(pipe, "s8p8", &command, &id, &records, &count) != 0)
            break;
        if (streq(command, "$TERM")) {
            zstr_free(&command);
            break;
        }
        if (streq(command, "CHUNK")) {
            s_counts_t counts;
            if (s_process(&self, records, (size_t)count, &counts) == 0)
                zsock_send(pipe, "s8888", "DONE", id, (uint64_t)counts.written,
                           (uint64_t)counts.duplicates,
                           (uint64_t)counts.dead_lettered);
        } else
            cmn_log_error("worker", "unknown_command", "command=%s", command);
        zstr_free(&command);
    }
    sc_dlq_destroy(&self.dlq);
    sc_breaker_destroy(&self.breaker);
    sc_sink_destroy(&self.sink);
    zpoller_destroy(&self.poller);
}
