/* pl_feed: a push provider's records on their way to the chunk. */
#include "pl_feed.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h"
#include "cmn_log.h"

#define PL_FEED_MODULE "feed"
/* Records moved out of the spool per read (a stack buffer). */
#define PL_FEED_DRAIN_STEP 256
/* Spool reasons plus a write error of the spool itself. */
#define PL_FEED_DROP_WRITE_ERROR "write_error"

struct _pl_feed_t {
    pl_push_t *push;
    pl_spool_t *spool;
    pl_conflate_t *conflate; /* NULL: no conflation */
    pl_spool_recovery_t recovery;
    mdbp_record_t held; /* refused by the block policy */
    bool holding;
    /* Release of drained segments: how many, once acked >= mark. */
    size_t release_segments;
    uint64_t release_mark;
    /* What the counters were last told. */
    uint64_t dropped_seen[PL_SPOOL_DROP_COUNT];
    uint64_t conflated_seen, bad_seen, syncs_seen, write_errors;
    cmn_series_t *records, *bytes, *max_bytes, *oldest_age, *waiting_quotes,
        *dropped[PL_SPOOL_DROP_COUNT], *write_error, *torn, *recovered,
        *syncs, *conflated, *bad_lines, *connections;
};

pl_feed_t *pl_feed_new(pl_feed_config_t *config)
{
    assert(config && config->push && config->spool);
    pl_feed_t *self = calloc(1, sizeof *self);
    if (self && config->conflate_quotes) {
        self->conflate = pl_conflate_new(PL_CONFLATE_SYMBOLS_DEFAULT);
        if (!self->conflate) {
            free(self);
            self = NULL;
        }
    }
    if (!self) {
        pl_push_destroy(&config->push);
        pl_spool_close(&config->spool);
        return NULL;
    }
    self->push = config->push;
    self->spool = config->spool;
    self->recovery = config->recovery;
    config->push = NULL;
    config->spool = NULL;
    return self;
}

void pl_feed_metrics(pl_feed_t *self, pl_metrics_t *metrics, const char *name)
{
    assert(self && metrics && name);
    cmn_metrics_t *r = metrics->registry;
    cmn_metric_t *records = cmn_metrics_gauge(
        r, "pipeline_spool_records",
        "Records waiting in the provider's spool (unread).", "provider");
    cmn_metric_t *bytes = cmn_metrics_gauge(
        r, "pipeline_spool_bytes",
        "Bytes of the records waiting in the spool (record headers "
        "included).",
        "provider");
    cmn_metric_t *max_bytes = cmn_metrics_gauge(
        r, "pipeline_spool_max_bytes",
        "The spool's byte bound (MDP_PROVIDER_<NAME>_SPOOL_MAX_BYTES).",
        "provider");
    cmn_metric_t *oldest = cmn_metrics_gauge(
        r, "pipeline_spool_oldest_age_seconds",
        "Age of the oldest record waiting in the spool (0: empty).",
        "provider");
    cmn_metric_t *waiting = cmn_metrics_gauge(
        r, "pipeline_spool_conflated_waiting",
        "Quotes waiting in the conflation table (latest per symbol).",
        "provider");
    cmn_metric_t *dropped = cmn_metrics_counter(
        r, "pipeline_spool_dropped_total",
        "Records the spool dropped, by reason (oldest, newest: full; age; "
        "corrupt; write_error).",
        "provider,reason");
    cmn_metric_t *torn = cmn_metrics_counter(
        r, "pipeline_spool_torn_total",
        "Segments cut at a torn or corrupt record when the spool was read "
        "back at start-up.",
        "provider");
    cmn_metric_t *recovered = cmn_metrics_counter(
        r, "pipeline_spool_recovered_records_total",
        "Records read back from the spool directory at start-up.",
        "provider");
    cmn_metric_t *syncs = cmn_metrics_counter(
        r, "pipeline_spool_fsyncs_total", "fdatasync calls of the spool.",
        "provider");
    cmn_metric_t *conflated = cmn_metrics_counter(
        r, "pipeline_conflated_total",
        "Records replaced by a later one of the same symbol while "
        "throttled (never sent), by kind (quotes only).",
        "provider,kind");
    cmn_metric_t *bad = cmn_metrics_counter(
        r, "pipeline_push_bad_lines_total",
        "Push lines that did not parse (or too long, or holding NUL), "
        "skipped.",
        "provider");
    cmn_metric_t *connections = cmn_metrics_gauge(
        r, "pipeline_push_connections", "TCP clients of the push provider.",
        "provider");
    self->records = cmn_metric_series(records, name, NULL);
    self->bytes = cmn_metric_series(bytes, name, NULL);
    self->max_bytes = cmn_metric_series(max_bytes, name, NULL);
    self->oldest_age = cmn_metric_series(oldest, name, NULL);
    self->waiting_quotes = cmn_metric_series(waiting, name, NULL);
    for (size_t k = 0; k < PL_SPOOL_DROP_COUNT; k++)
        self->dropped[k] = cmn_metric_series(
            dropped, name, pl_spool_drop_name((pl_spool_drop_t)k), NULL);
    self->write_error =
        cmn_metric_series(dropped, name, PL_FEED_DROP_WRITE_ERROR, NULL);
    self->torn = cmn_metric_series(torn, name, NULL);
    self->recovered = cmn_metric_series(recovered, name, NULL);
    self->syncs = cmn_metric_series(syncs, name, NULL);
    self->conflated = cmn_metric_series(
        conflated, name, mdbp_record_kind_name(MDBP_RECORD_QUOTE), NULL);
    self->bad_lines = cmn_metric_series(bad, name, NULL);
    self->connections = cmn_metric_series(connections, name, NULL);
    cmn_series_add(self->torn, self->recovery.torn);
    cmn_series_add(self->recovered, self->recovery.records);
    cmn_series_set(self->max_bytes, (double)pl_spool_max_bytes(self->spool));
}

/* Into the spool; a record the block policy refuses is held. */
static void s_spool(pl_feed_t *self, const mdbp_record_t *record,
                    int64_t now_wall_ns)
{
    int rc = pl_spool_append(self->spool, record, now_wall_ns);
    if (rc == PL_SPOOL_FULL) {
        self->held = *record;
        self->holding = true;
    } else if (rc < 0) {
        self->write_errors++;
        if (self->write_error)
            cmn_series_inc(self->write_error);
    }
}

/* Records that wait go here: the conflation table or the spool. */
static void s_wait(pl_feed_t *self, const mdbp_record_t *record,
                   int64_t now_wall_ns)
{
    if (self->conflate && pl_conflate_applies(record->kind) &&
        pl_conflate_offer(self->conflate, record) != PL_CONFLATE_NO_ROOM)
        return;
    s_spool(self, record, now_wall_ns);
}

void pl_feed_destroy(pl_feed_t **self_p, int64_t now_wall_ns)
{
    assert(self_p);
    pl_feed_t *self = *self_p;
    if (!self)
        return;
    mdbp_record_t quote;
    size_t kept = 0;
    while (self->conflate && pl_conflate_take(self->conflate, &quote, 1) == 1)
        if (pl_spool_append(self->spool, &quote, now_wall_ns) == 0)
            kept++;
    if (kept)
        cmn_log_info(PL_FEED_MODULE, "conflated_spooled", "quotes=%zu", kept);
    if (self->holding)
        cmn_log_warning(PL_FEED_MODULE, "held_record_lost",
                        "reason=\"spool full (block) at stop\"");
    cmn_log_info(PL_FEED_MODULE, "closed", "spool_records=%llu",
                 (unsigned long long)pl_spool_records(self->spool));
    pl_conflate_destroy(&self->conflate);
    pl_spool_close(&self->spool);
    pl_push_destroy(&self->push);
    free(self);
    *self_p = NULL;
}

int pl_feed_fd(pl_feed_t *self)
{
    assert(self);
    return pl_push_fd(self->push);
}

bool pl_feed_reading(pl_feed_t *self)
{
    assert(self);
    return !self->holding;
}

bool pl_feed_buffered(pl_feed_t *self)
{
    assert(self);
    return !self->holding && pl_push_buffered(self->push);
}

bool pl_feed_waiting(pl_feed_t *self)
{
    assert(self);
    return pl_spool_records(self->spool) > 0 ||
           (self->conflate && pl_conflate_count(self->conflate) > 0);
}

/* The held record goes in once the spool has room. */
static void s_retry_held(pl_feed_t *self, int64_t now_wall_ns)
{
    if (!self->holding)
        return;
    self->holding = false;
    mdbp_record_t record = self->held;
    s_spool(self, &record, now_wall_ns);
}

size_t pl_feed_intake(pl_feed_t *self, mdbp_record_t *out, size_t room,
                      bool may_send, pl_rate_coordinator_t *rate, size_t idx,
                      size_t budget, int64_t now_wall_ns)
{
    assert(self && (out || room == 0) && rate);
    s_retry_held(self, now_wall_ns);
    size_t direct = 0;
    mdbp_record_t record;
    for (size_t k = 0; k < budget && !self->holding; k++) {
        if (pl_push_next(self->push, &record) != 1)
            break;
        bool straight = may_send && direct < room && !pl_feed_waiting(self) &&
                        pl_rate_coordinator_try(rate, idx, 1);
        if (straight)
            out[direct++] = record;
        else
            s_wait(self, &record, now_wall_ns);
    }
    return direct;
}

size_t pl_feed_drain(pl_feed_t *self, mdbp_record_t *out, size_t room,
                     pl_rate_coordinator_t *rate, size_t idx,
                     int64_t now_wall_ns)
{
    assert(self && (out || room == 0) && rate);
    size_t moved = 0;
    while (moved < room && pl_spool_records(self->spool) > 0) {
        uint64_t want = room - moved;
        if (want > PL_FEED_DRAIN_STEP)
            want = PL_FEED_DRAIN_STEP;
        if (want > pl_spool_records(self->spool))
            want = pl_spool_records(self->spool);
        uint64_t granted = pl_rate_coordinator_take(rate, idx, want);
        if (granted == 0)
            break;
        int got = pl_spool_take(self->spool, out + moved, (size_t)granted,
                                now_wall_ns);
        if (got <= 0)
            break; /* a read error (logged) or only expired records */
        moved += (size_t)got;
    }
    while (self->conflate && moved < room &&
           pl_conflate_count(self->conflate) > 0 &&
           pl_spool_records(self->spool) == 0 &&
           pl_rate_coordinator_try(rate, idx, 1))
        moved += pl_conflate_take(self->conflate, out + moved, 1);
    s_retry_held(self, now_wall_ns);
    return moved;
}

void pl_feed_release(pl_feed_t *self, uint64_t handed, uint64_t acked)
{
    assert(self);
    if (self->release_segments > 0 && acked >= self->release_mark) {
        pl_spool_release(self->spool, self->release_segments);
        self->release_segments = 0;
    }
    if (self->release_segments == 0) {
        size_t drained = pl_spool_drained_segments(self->spool);
        if (drained > 0) {
            self->release_segments = drained;
            self->release_mark = handed;
        }
    }
}

int64_t pl_feed_tick(pl_feed_t *self, int64_t now_wall_ns)
{
    assert(self);
    pl_spool_expire(self->spool, now_wall_ns);
    pl_spool_sync(self->spool, now_wall_ns);
    if (self->records) {
        int64_t oldest = pl_spool_oldest_ns(self->spool);
        double age = oldest > 0 ? (double)(now_wall_ns - oldest) /
                                      (double)CMN_NS_PER_SEC
                                : 0;
        cmn_series_set(self->records, (double)pl_spool_records(self->spool));
        cmn_series_set(self->bytes, (double)pl_spool_bytes(self->spool));
        cmn_series_set(self->oldest_age, age > 0 ? age : 0);
        cmn_series_set(self->waiting_quotes,
                       self->conflate
                           ? (double)pl_conflate_count(self->conflate)
                           : 0);
        for (size_t k = 0; k < PL_SPOOL_DROP_COUNT; k++) {
            uint64_t now = pl_spool_dropped(self->spool, (pl_spool_drop_t)k);
            cmn_series_add(self->dropped[k], now - self->dropped_seen[k]);
            self->dropped_seen[k] = now;
        }
        uint64_t syncs = pl_spool_syncs(self->spool);
        cmn_series_add(self->syncs, syncs - self->syncs_seen);
        self->syncs_seen = syncs;
        uint64_t conflated = pl_feed_conflated(self);
        cmn_series_add(self->conflated, conflated - self->conflated_seen);
        self->conflated_seen = conflated;
        uint64_t bad = pl_push_bad_lines(self->push);
        cmn_series_add(self->bad_lines, bad - self->bad_seen);
        self->bad_seen = bad;
        cmn_series_set(self->connections,
                       (double)pl_push_connections(self->push));
    }
    return pl_spool_sync_due_ns(self->spool);
}

uint64_t pl_feed_spool_records(pl_feed_t *self)
{
    assert(self);
    return pl_spool_records(self->spool);
}

uint64_t pl_feed_conflated(pl_feed_t *self)
{
    assert(self);
    return self->conflate ? pl_conflate_replaced(self->conflate) : 0;
}

uint64_t pl_feed_bad_lines(pl_feed_t *self)
{
    assert(self);
    return pl_push_bad_lines(self->push);
}

int pl_feed_port(pl_feed_t *self)
{
    assert(self);
    return pl_push_port(self->push);
}
