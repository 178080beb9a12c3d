/* sc_intake: admit, credits, dispatch, level, drain (see sc_intake.h).
 *
 * Bookkeeping beside the queue:
 *  - a flight per queued batch (the queue's tag points at it): its
 *    producer, batch_seq and the shell's newest envelope; a producer's
 *    flights are linked, so a resend is found among its own few;
 *  - producers (producer_id + session): records in flight, last batch;
 *  - arrivals: (end position, push time) per queued batch not yet taken,
 *    oldest first, so the oldest waiting record's age is the front's and a
 *    chunk's is known when it is taken; a busy worker keeps its chunk's. */
#include "sc_intake.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h"

#define S_MS_PER_SEC 1000.0
#define S_DRAIN_RATE_SMOOTHING 0.5
/* Weight of the newest chunk in the commit-latency average. */
#define S_LATENCY_WEIGHT 0.2
/* Below this drain rate (records/s) nothing is draining. */
#define S_DRAIN_RATE_IDLE 1.0
#define S_NONE SIZE_MAX

typedef struct {
    bool busy;                 /* holds a chunk */
    bool abandoned;            /* its chunk was taken back at the deadline */
    uint64_t chunk_id;         /* the chunk it holds */
    int64_t dispatched_ns;     /* when it got it */
    int64_t arrival_ns;        /* when the chunk's oldest record arrived */
    sc_intake_worker_t health; /* as last reported */
    mdbp_record_t *buffer;    /* batch_size records: its chunk's copy */
} s_worker_t;

typedef struct {
    bool used;
    char producer_id[MDBP_ID_MAX + 1];
    uint64_t session;     /* 0: a v1 producer (keyed by id alone) */
    mdbp_priority_t priority; /* of its latest batch */
    uint32_t weight;          /* its share: batch weight x class multiplier */
    uint64_t inflight;    /* records queued, not yet acked */
    int64_t last_seen_ns; /* its last batch */
    size_t flights;       /* its first flight, or S_NONE */
} s_producer_t;

typedef struct {
    void *tag;       /* the shell's newest envelope */
    size_t producer; /* index, or S_NONE (untracked) */
    uint64_t batch_seq;
    uint64_t session;
    size_t count;
    size_t prev, next; /* in the producer's list; next: free list too */
} s_flight_t;

typedef struct {
    uint64_t end;      /* position after its last record */
    int64_t pushed_ns; /* when it was queued */
} s_arrival_t;

struct _sc_intake_t {
    sc_intake_config_t config;
    sc_queue_t *queue;
    sc_watermark_t *watermark;
    s_worker_t *workers;      /* config.workers */
    int64_t now_ns;           /* latest time seen */
    int64_t pending_since_ns; /* oldest waiting record's arrival, or 0 */
    /* flights, producers, arrivals */
    s_flight_t *flights; /* capacity entries */
    size_t flight_free;  /* free list head */
    s_producer_t producers[SC_INTAKE_PRODUCERS_MAX];
    size_t producers_used; /* entries [0, used) may be in use */
    uint32_t active;       /* active producers at the last update */
    uint64_t active_weight;   /* their share weights, summed */
    uint64_t critical_weight; /* the critical ones' (0: no reserve held) */
    uint64_t critical_inflight; /* records the critical ones have in flight */
    s_arrival_t *arrivals; /* ring of capacity entries */
    size_t arrival_head, arrival_count;
    uint64_t pushed; /* records ever queued (positions) */
    uint64_t taken;  /* records ever taken */
    /* drain signals */
    uint64_t committed_window; /* records committed in this window */
    /* issue 15: what /status explains, over the same windows */
    uint64_t offered_window;    /* records in decoded batches, any verdict */
    uint64_t pushed_at_window;  /* `pushed` when this window began */
    uint64_t written_window;    /* rows newly written */
    uint64_t duplicates_window; /* rows already stored */
    sc_snapshot_rates_t rates;  /* smoothed, records/s */
    int64_t window_start_ns;   /* drain-rate window start */
    double drain_rate;         /* records/s, smoothed */
    double latency_ms;         /* commit latency, averaged */
    bool latency_seen;
    int64_t last_commit_ns;    /* latest commit, or 0 */
    int64_t above_since_ns;    /* oldest age above the target since */
    bool sink_down;            /* sink_state down */
    const char *down_cause;    /* why, for the reason */
    bool committed_since_down; /* a commit came since it went down */
    int64_t recovered_ns;      /* when it came back, or 0 */
    bool dead_letter_failed;   /* the core's own dead-letter write */
    /* the combined level */
    mdbp_level_t level;
    mdbp_level_t previous;
    int64_t changed_ns;
    bool last_up_was_sink; /* the latest rise was sink_down */
    char reason[MDBP_REASON_MAX + 1];
    double pressure; /* at the last update */
    uint64_t depth;  /* at the last update */
    /* drain */
    bool draining;
    bool drained; /* FLUSHED or EXPIRED reported */
    int64_t drain_deadline_ns;
    size_t abandon_cursor;         /* next worker sc_intake_abandon checks */
    int64_t malformed_logged_ns;   /* last malformed log line, or 0 */
    uint64_t malformed_suppressed; /* not logged since */
};

sc_intake_t *sc_intake_new(const sc_intake_config_t *config, int64_t now_ns)
{
    assert(config);
    assert(config->workers >= 1);
    assert(config->batch_size >= 1);
    sc_intake_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->queue = sc_queue_new(config->capacity);
    self->watermark = sc_watermark_new(&config->watermark, now_ns);
    self->workers = calloc(config->workers, sizeof *self->workers);
    self->flights = calloc(config->capacity, sizeof *self->flights);
    self->arrivals = calloc(config->capacity, sizeof *self->arrivals);
    bool ok = self->queue && self->watermark && self->workers &&
              self->flights && self->arrivals;
    for (size_t i = 0; ok && i < config->workers; i++) {
        self->workers[i].buffer =
            calloc(config->batch_size, sizeof *self->workers[i].buffer);
        ok = self->workers[i].buffer != NULL;
    }
    if (!ok) {
        sc_intake_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < config->capacity; i++)
        self->flights[i].next = i + 1 < config->capacity ? i + 1 : S_NONE;
    self->flight_free = 0;
    self->now_ns = now_ns;
    self->window_start_ns = now_ns;
    self->changed_ns = now_ns;
    self->level = self->previous = MDBP_LEVEL_OK;
    return self;
}

void sc_intake_destroy(sc_intake_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sc_intake_t *self = *self_p;
    if (self->workers)
        for (size_t i = 0; i < self->config.workers; i++)
            free(self->workers[i].buffer);
    free(self->workers);
    free(self->flights);
    free(self->arrivals);
    sc_watermark_destroy(&self->watermark);
    sc_queue_destroy(&self->queue);
    free(self);
    *self_p = NULL;
}

/* ---- producers and credits ---- */

static bool s_active(const sc_intake_t *self, const s_producer_t *producer)
{
    return producer->used && (producer->inflight > 0 ||
                              self->now_ns - producer->last_seen_ns <
                                  SC_INTAKE_PRODUCER_ACTIVE_MS * CMN_NS_PER_MS);
}

/* The producer entry for (id, session), created when new; S_NONE when the
 * table is full of producers with records in flight. */
static size_t s_producer(sc_intake_t *self, const char *id, uint64_t session)
{
    size_t free_entry = S_NONE, idle_entry = S_NONE;
    for (size_t i = 0; i < self->producers_used; i++) {
        s_producer_t *producer = &self->producers[i];
        if (!producer->used) {
            if (free_entry == S_NONE)
                free_entry = i;
            continue;
        }
        if (producer->session == session &&
            strcmp(producer->producer_id, id) == 0)
            return i;
        if (producer->inflight == 0 &&
            (idle_entry == S_NONE ||
             producer->last_seen_ns < self->producers[idle_entry].last_seen_ns))
            idle_entry = i;
    }
    size_t index = free_entry;
    if (index == S_NONE && self->producers_used < SC_INTAKE_PRODUCERS_MAX)
        index = self->producers_used++;
    if (index == S_NONE)
        index = idle_entry; /* forget the longest idle one */
    if (index == S_NONE)
        return S_NONE;
    s_producer_t *producer = &self->producers[index];
    *producer = (s_producer_t){.used = true,
                               .session = session,
                               .last_seen_ns = self->now_ns,
                               .flights = S_NONE};
    snprintf(producer->producer_id, sizeof producer->producer_id, "%s", id);
    return index;
}

/* The depth that producers honouring credits keep the queue at or under:
 * where the level comes back to OK (L - D; L when D >= L; at least one
 * record). So the level stays an alarm for a store that cannot drain
 * (sojourn, sink down) or for producers that ignore credits, and never
 * cycles OK/SOFT under plain overload (the scenario suite measured 107
 * level changes/min at 1.5x with credits sharing the room below H
 * instead). Not raised to a batch: with a queue smaller than a batch
 * (MDS_QUEUE_CAPACITY=300) that held the queue at HARD (bench/loop). */
static uint64_t s_target(const sc_intake_t *self)
{
    const sc_watermark_config_t *watermark = &self->config.watermark;
    if (watermark->low > watermark->dead_band)
        return watermark->low - watermark->dead_band;
    return watermark->low > 0 ? watermark->low : 1;
}

/* How much of its share a producer of `priority` keeps at `pressure`
 * (ingest.md 4.5): bulk is cut first and reaches 0 halfway through SOFT,
 * normal at HARD, critical never (its room bounds it). */
static double s_class_factor(mdbp_priority_t priority, double pressure)
{
    double factor = priority == MDBP_PRIORITY_CRITICAL ? 1.0
                    : priority == MDBP_PRIORITY_BULK   ? 1.0 - 2.0 * pressure
                                                       : 1.0 - pressure;
    return factor > 0.0 ? factor : 0.0;
}

/* A producer's share weight: its batch's weight (absent: 1) times its
 * class's multiplier. */
static uint32_t s_share_weight(mdbp_priority_t priority, uint32_t weight)
{
    uint32_t multiplier = priority == MDBP_PRIORITY_CRITICAL
                              ? SC_INTAKE_CLASS_MULTIPLIER_CRITICAL
                          : priority == MDBP_PRIORITY_BULK
                              ? SC_INTAKE_CLASS_MULTIPLIER_BULK
                              : SC_INTAKE_CLASS_MULTIPLIER_NORMAL;
    return (weight > 0 ? weight : 1) * multiplier;
}

/* The room above the high watermark that only critical producers may
 * fill (ingest.md 4.5). */
static uint64_t s_reserve(const sc_intake_t *self)
{
    uint64_t high = self->config.watermark.high;
    return self->config.capacity > high ? self->config.capacity - high : 0;
}

/* A producer's class and share weight as the credit split sees them. */
typedef struct {
    mdbp_priority_t priority;
    uint32_t weight; /* s_share_weight */
    uint64_t inflight;
} s_claim_t;

/* The part of the target a claim's class shares (ingest.md 4.5), and the
 * share weights of the active producers sharing it (`extra_weight`: a new
 * one of the claim's class): critical producers share up to
 * SC_INTAKE_CRITICAL_SHARE_MAX of the target (all of it when no other
 * class is active), the others what critical records in flight leave. */
static double s_class_part(const sc_intake_t *self, const s_claim_t *claim,
                           uint64_t extra_weight, uint64_t *weights)
{
    double target = (double)s_target(self);
    bool critical = claim->priority == MDBP_PRIORITY_CRITICAL;
    uint64_t others = self->active_weight - self->critical_weight;
    *weights = (critical ? self->critical_weight : others) + extra_weight;
    if (*weights < claim->weight)
        *weights = claim->weight; /* not counted yet: new since the update */
    /* A non-critical claim is another class itself, counted or not (a
     * producer new since the update). */
    bool mixed = !critical || others > 0;
    double critical_part =
        mixed ? target * SC_INTAKE_CRITICAL_SHARE_MAX : target;
    if (critical)
        return critical_part;
    /* As of the last update: the shell updates after every input, and the
     * room below the target bounds a grant anyway. */
    double taken = (double)self->critical_inflight;
    return target - (taken < critical_part ? taken : critical_part);
}

/* What one producer may have in flight: its share weight's part of what
 * its class shares (s_class_part), scaled by its class's factor; never
 * more than it has now plus the room
 * left below the target, counting records of producers that ignore
 * credits too. A critical producer's room reaches the capacity: the
 * reserve above H is its own when the queue is deep (a slow or stopped
 * sink, producers that ignore credits), but its share stays a share of
 * the target, so under plain overload the queue stays where the level is
 * OK (granting the reserve as standing credit measured 102 level changes
 * a minute in bench/classes). */
static uint64_t s_allowed(const sc_intake_t *self, const s_claim_t *claim,
                          uint64_t extra_weight)
{
    if (self->draining)
        return 0;
    bool critical = claim->priority == MDBP_PRIORITY_CRITICAL;
    uint64_t target = s_target(self);
    uint64_t depth = sc_queue_depth(self->queue);
    uint64_t ceiling = critical ? self->config.capacity : target;
    uint64_t room = ceiling > depth ? ceiling - depth : 0;
    uint64_t weights = 0;
    double part = s_class_part(self, claim, extra_weight, &weights);
    double fair = part * s_class_factor(claim->priority, self->pressure) *
                  (double)claim->weight / (double)weights;
    uint64_t allowed = fair > 0 ? (uint64_t)fair : 0;
    /* More producers than target records: one each rather than none, or
     * a crowd would wait forever on an empty queue. */
    if (fair > 0 && allowed == 0)
        allowed = 1;
    if (allowed > claim->inflight + room)
        allowed = claim->inflight + room;
    if (allowed > self->config.capacity)
        allowed = self->config.capacity;
    return allowed;
}

static uint32_t s_credit(const sc_intake_t *self, size_t index)
{
    s_claim_t claim = {.priority = MDBP_PRIORITY_NORMAL,
                       .weight = s_share_weight(MDBP_PRIORITY_NORMAL, 1)};
    if (index != S_NONE) {
        const s_producer_t *producer = &self->producers[index];
        claim = (s_claim_t){.priority = producer->priority,
                            .weight = producer->weight,
                            .inflight = producer->inflight};
    }
    return (uint32_t)s_allowed(self, &claim, 0);
}

/* True when a batch of `count` records of `priority` would take the
 * reserve while a critical producer needs it. */
static bool s_takes_reserve(const sc_intake_t *self, mdbp_priority_t priority,
                            size_t count)
{
    if (priority == MDBP_PRIORITY_CRITICAL || self->critical_weight == 0)
        return false;
    uint64_t limit = self->config.capacity - s_reserve(self);
    return sc_queue_depth(self->queue) + count > limit;
}

/* ---- flights ---- */

static size_t s_flight_new(sc_intake_t *self, size_t producer,
                           const sc_intake_batch_t *batch)
{
    size_t index = self->flight_free;
    assert(index != S_NONE); /* a live batch holds >= 1 of capacity */
    s_flight_t *flight = &self->flights[index];
    self->flight_free = flight->next;
    *flight = (s_flight_t){.tag = batch->tag,
                           .producer = producer,
                           .batch_seq = batch->batch_seq,
                           .session = batch->session,
                           .count = batch->count,
                           .prev = S_NONE,
                           .next = S_NONE};
    if (producer != S_NONE) {
        s_producer_t *owner = &self->producers[producer];
        flight->next = owner->flights;
        if (owner->flights != S_NONE)
            self->flights[owner->flights].prev = index;
        owner->flights = index;
        owner->inflight += batch->count;
    }
    return index;
}

static void s_flight_free(sc_intake_t *self, size_t index)
{
    s_flight_t *flight = &self->flights[index];
    if (flight->producer != S_NONE) {
        s_producer_t *owner = &self->producers[flight->producer];
        if (flight->prev != S_NONE)
            self->flights[flight->prev].next = flight->next;
        else
            owner->flights = flight->next;
        if (flight->next != S_NONE)
            self->flights[flight->next].prev = flight->prev;
        owner->inflight -= flight->count;
    }
    flight->tag = NULL;
    flight->next = self->flight_free;
    self->flight_free = index;
}

/* The flight of (producer, batch_seq), or S_NONE. */
static size_t s_flight_find(sc_intake_t *self, size_t producer,
                            uint64_t batch_seq)
{
    for (size_t index = self->producers[producer].flights; index != S_NONE;
         index = self->flights[index].next)
        if (self->flights[index].batch_seq == batch_seq)
            return index;
    return S_NONE;
}

/* The queue's batch callback, turned into the shell's ack. */
typedef struct {
    sc_intake_t *self;
    sc_intake_ack_fn *fn;
    void *arg;
} s_relay_t;

static void s_on_batch(const sc_batch_result_t *result, void *arg)
{
    s_relay_t *relay = arg;
    sc_intake_t *self = relay->self;
    size_t index = (size_t)((s_flight_t *)result->tag - self->flights);
    s_flight_t *flight = &self->flights[index];
    sc_intake_ack_t ack = {
        .tag = flight->tag,
        .batch_seq = result->batch_seq,
        .session = flight->session,
        .written = result->written,
        .duplicates = result->duplicates,
        .dead_lettered = result->dead_lettered,
    };
    size_t producer = flight->producer;
    s_flight_free(self, index);
    ack.credit = s_credit(self, producer);
    if (relay->fn)
        relay->fn(&ack, relay->arg);
}

/* ---- arrivals (the oldest record's age) ---- */

static void s_arrival_push(sc_intake_t *self, size_t count, int64_t now_ns)
{
    assert(self->arrival_count < self->config.capacity);
    self->pushed += count;
    size_t slot =
        (self->arrival_head + self->arrival_count) % self->config.capacity;
    self->arrivals[slot] =
        (s_arrival_t){.end = self->pushed, .pushed_ns = now_ns};
    self->arrival_count++;
}

/* `count` records taken from the front: returns when the first of them
 * arrived. */
static int64_t s_arrival_take(sc_intake_t *self, size_t count)
{
    assert(self->arrival_count > 0);
    int64_t arrival = self->arrivals[self->arrival_head].pushed_ns;
    self->taken += count;
    while (self->arrival_count > 0 &&
           self->arrivals[self->arrival_head].end <= self->taken) {
        self->arrival_head = (self->arrival_head + 1) % self->config.capacity;
        self->arrival_count--;
    }
    return arrival;
}

/* Age of the oldest record not yet committed (0 when none). */
static int64_t s_oldest_age_ns(sc_intake_t *self, int64_t now_ns)
{
    int64_t oldest = INT64_MAX;
    if (self->arrival_count > 0)
        oldest = self->arrivals[self->arrival_head].pushed_ns;
    for (size_t i = 0; i < self->config.workers; i++) {
        const s_worker_t *worker = &self->workers[i];
        if (worker->busy && !worker->abandoned && worker->arrival_ns < oldest)
            oldest = worker->arrival_ns;
    }
    return oldest == INT64_MAX || oldest > now_ns ? 0 : now_ns - oldest;
}

/* ---- admission ---- */

static void s_nack(sc_intake_admission_t *out, mdbp_nack_reason_t reason,
                   mdbp_nack_code_t code, uint32_t retry_after_ms,
                   const char *detail)
{
    out->verdict = SC_INTAKE_NACK;
    out->reason = reason;
    out->code = code;
    out->retry_after_ms = retry_after_ms;
    /* A decoder's text may be longer than a nack's detail: cut it. */
    snprintf(out->detail, sizeof out->detail, "%.*s", (int)MDBP_REASON_MAX,
             detail);
}

static bool s_breaker_open(sc_intake_t *self)
{
    for (size_t i = 0; i < self->config.workers; i++)
        if (self->workers[i].health.breaker == SC_BREAKER_OPEN)
            return true;
    return false;
}

/* When resending a batch of `count` records may succeed against a queue
 * filled up to `limit` records at most: the time the sink needs, at the
 * drain rate, to free the room that is missing below it. */
static uint32_t s_retry_after_below(sc_intake_t *self, size_t count,
                                    uint64_t limit)
{
    /* Nothing drains before a breaker's trial (or a hung database's
     * return): the smoothed rate would promise too much. */
    if (s_breaker_open(self) || self->sink_down)
        return self->config.breaker_timeout_ms;
    if (self->drain_rate < S_DRAIN_RATE_IDLE)
        return SC_INTAKE_RETRY_AFTER_IDLE_MS;
    uint64_t wanted = sc_queue_depth(self->queue) + count;
    uint64_t needed = wanted > limit ? wanted - limit : 1;
    double ms = (double)needed * S_MS_PER_SEC / self->drain_rate;
    if (ms < SC_INTAKE_RETRY_AFTER_MIN_MS)
        return SC_INTAKE_RETRY_AFTER_MIN_MS;
    if (ms > SC_INTAKE_RETRY_AFTER_MAX_MS)
        return SC_INTAKE_RETRY_AFTER_MAX_MS;
    return (uint32_t)ms;
}

/* The same against the whole queue. */
static uint32_t s_retry_after_full(sc_intake_t *self, size_t count)
{
    return s_retry_after_below(self, count, sc_queue_capacity(self->queue));
}

/* The known producer (id, session), or S_NONE. */
static size_t s_producer_find(sc_intake_t *self, const char *id,
                              uint64_t session)
{
    for (size_t i = 0; i < self->producers_used; i++) {
        const s_producer_t *producer = &self->producers[i];
        if (producer->used && producer->session == session &&
            strcmp(producer->producer_id, id) == 0)
            return i;
    }
    return S_NONE;
}

/* The producer a reply is for (session echoed, credit), or S_NONE. A
 * well-formed batch makes a new producer known; a malformed one does not
 * (garbage with made-up ids cannot crowd the table or dilute the shares). */
static size_t s_reply_to(sc_intake_t *self, const sc_intake_batch_t *batch,
                         bool create, sc_intake_admission_t *out)
{
    size_t producer = S_NONE;
    if (batch && batch->producer_id && batch->producer_id[0] != '\0') {
        producer =
            create ? s_producer(self, batch->producer_id, batch->session)
                   : s_producer_find(self, batch->producer_id, batch->session);
        if (producer != S_NONE) {
            s_producer_t *entry = &self->producers[producer];
            entry->last_seen_ns = self->now_ns;
            if (create) {
                entry->priority = batch->priority;
                entry->weight = s_share_weight(batch->priority, batch->weight);
            }
        }
    }
    out->session = batch ? batch->session : 0;
    return producer;
}

static void s_malformed_log(sc_intake_t *self, sc_intake_admission_t *out)
{
    if (self->malformed_logged_ns == 0 ||
        self->now_ns - self->malformed_logged_ns >=
            SC_INTAKE_MALFORMED_LOG_INTERVAL_MS * CMN_NS_PER_MS) {
        out->log = true;
        out->suppressed = self->malformed_suppressed;
        self->malformed_logged_ns = self->now_ns;
        self->malformed_suppressed = 0;
    } else
        self->malformed_suppressed++;
}

void sc_intake_malformed(sc_intake_t *self, const sc_intake_batch_t *header,
                         const mdbp_error_t *error, int64_t now_ns,
                         sc_intake_admission_t *out)
{
    assert(self && error && out);
    *out = (sc_intake_admission_t){0};
    self->now_ns = now_ns;
    size_t producer = s_reply_to(self, header, false, out);
    mdbp_nack_code_t code = error->code == MDBP_NACK_CODE_NONE
                                 ? MDBP_NACK_CODE_NOT_A_MAP
                                 : error->code;
    s_nack(out, MDBP_NACK_MALFORMED, code, 0, error->text);
    snprintf(out->field, sizeof out->field, "%s", error->field);
    out->has_record_index = error->has_record_index;
    out->record_index = error->record_index;
    out->credit = s_credit(self, producer);
    s_malformed_log(self, out);
}

void sc_intake_admit(sc_intake_t *self, const sc_intake_batch_t *batch,
                     int64_t now_ns, sc_intake_admission_t *out)
{
    assert(self && batch && out);
    *out = (sc_intake_admission_t){0};
    self->now_ns = now_ns;
    self->offered_window += batch->count;
    size_t producer = s_reply_to(self, batch, true, out);
    if (producer != S_NONE && batch->session != 0) {
        size_t flight = s_flight_find(self, producer, batch->batch_seq);
        if (flight != S_NONE) {
            /* Still queued or being written: keep it, answer the newest
             * envelope once it commits (ingest.md 5). */
            out->verdict = SC_INTAKE_RESENT;
            out->replaced = self->flights[flight].tag;
            self->flights[flight].tag = batch->tag;
            out->credit = s_credit(self, producer);
            return;
        }
    }
    if (self->draining) {
        s_nack(out, MDBP_NACK_DRAINING, MDBP_NACK_CODE_DRAINING,
               SC_INTAKE_RETRY_AFTER_DRAINING_MS,
               "coordinator is shutting down");
        out->credit = s_credit(self, producer);
        return;
    }
    if (batch->count == 0) {
        out->verdict = SC_INTAKE_ACK;
        out->credit = s_credit(self, producer);
        return;
    }
    size_t capacity = sc_queue_capacity(self->queue);
    if (batch->count > capacity) {
        s_nack(out, MDBP_NACK_MALFORMED, MDBP_NACK_CODE_OVER_CAPACITY, 0, "");
        snprintf(out->detail, sizeof out->detail,
                 "batch of %zu records exceeds the queue capacity %zu",
                 batch->count, capacity);
        snprintf(out->field, sizeof out->field, "%s", "records");
        out->credit = s_credit(self, producer);
        s_malformed_log(self, out);
        return;
    }
    if (s_takes_reserve(self, batch->priority, batch->count)) {
        /* The missing room is below H, not below the capacity. */
        s_nack(out, MDBP_NACK_FULL, MDBP_NACK_CODE_QUEUE_FULL,
               s_retry_after_below(self, batch->count,
                                   self->config.capacity - s_reserve(self)),
               "queue full for this class: the rest is reserved for critical");
        out->credit = s_credit(self, producer);
        return;
    }
    bool was_idle = sc_queue_pending(self->queue) == 0;
    size_t flight = s_flight_new(self, producer, batch);
    if (sc_queue_push(self->queue, batch->records, batch->count,
                      &self->flights[flight],
                      batch->batch_seq) == SC_QUEUE_FULL) {
        s_flight_free(self, flight);
        s_nack(out, MDBP_NACK_FULL, MDBP_NACK_CODE_QUEUE_FULL,
               s_retry_after_full(self, batch->count), "queue full");
        out->credit = s_credit(self, producer);
        return;
    }
    s_arrival_push(self, batch->count, now_ns);
    if (was_idle)
        self->pending_since_ns = now_ns;
    out->verdict = SC_INTAKE_QUEUED;
    out->credit = s_credit(self, producer);
}

void sc_intake_worker(sc_intake_t *self, size_t worker,
                      const sc_intake_worker_t *health)
{
    assert(self && health && worker < self->config.workers);
    self->workers[worker].health = *health;
}

/* ---- dispatch and commits ---- */

size_t sc_intake_dispatch(sc_intake_t *self, int64_t now_ns, bool input_idle,
                          sc_intake_dispatch_t *out)
{
    assert(self && out);
    const sc_intake_config_t *config = &self->config;
    self->now_ns = now_ns;
    size_t given = 0;
    for (size_t i = 0; i < config->workers; i++) {
        s_worker_t *worker = &self->workers[i];
        if (worker->busy)
            continue;
        size_t pending = sc_queue_pending(self->queue);
        if (pending == 0)
            break;
        bool timed_out =
            now_ns - self->pending_since_ns >= config->batch_timeout_ns;
        bool eager = config->batch_eager && input_idle;
        if (pending < config->batch_size && !eager && !self->draining &&
            !timed_out)
            break;
        sc_intake_dispatch_t *dispatch = &out[given++];
        dispatch->worker = i;
        size_t count = sc_queue_take(self->queue, config->batch_size,
                                     worker->buffer, &dispatch->chunk);
        worker->arrival_ns = s_arrival_take(self, count);
        worker->busy = true;
        worker->abandoned = false;
        worker->chunk_id = dispatch->chunk.id;
        worker->dispatched_ns = now_ns;
    }
    if (sc_queue_pending(self->queue) == 0)
        self->pending_since_ns = 0;
    return given;
}

int sc_intake_done(sc_intake_t *self, size_t worker, uint64_t chunk_id,
                   size_t written, size_t duplicates, size_t dead_lettered,
                   int64_t now_ns, sc_intake_ack_fn *fn, void *arg)
{
    assert(self && worker < self->config.workers);
    self->now_ns = now_ns;
    s_worker_t *slot = &self->workers[worker];
    if (!slot->busy || slot->chunk_id != chunk_id)
        return -1;
    slot->busy = false;
    slot->abandoned = false; /* if it was, it is written now after all */
    /* The database answered: whatever happened to the chunk before. */
    self->last_commit_ns = now_ns;
    self->committed_since_down = true;
    double latency_ms =
        (double)(now_ns - slot->dispatched_ns) / (double)CMN_NS_PER_MS;
    self->latency_ms = self->latency_seen
                           ? (1.0 - S_LATENCY_WEIGHT) * self->latency_ms +
                                 S_LATENCY_WEIGHT * latency_ms
                           : latency_ms;
    self->latency_seen = true;
    s_relay_t relay = {self, fn, arg};
    if (sc_queue_commit(self->queue, chunk_id, written, duplicates,
                        dead_lettered, s_on_batch, &relay) != 0)
        return -1;
    self->committed_window += written + duplicates + dead_lettered;
    self->written_window += written;
    self->duplicates_window += duplicates;
    return 0;
}

/* ---- drain ---- */

void sc_intake_drain(sc_intake_t *self, int64_t now_ns)
{
    assert(self);
    self->now_ns = now_ns;
    if (self->draining)
        return;
    self->draining = true;
    self->drain_deadline_ns = now_ns + self->config.drain_timeout_ns;
}

void sc_intake_hurry(sc_intake_t *self, int64_t now_ns)
{
    assert(self);
    self->now_ns = now_ns;
    if (self->draining && self->drain_deadline_ns > now_ns)
        self->drain_deadline_ns = now_ns;
}

size_t sc_intake_abandon(sc_intake_t *self, sc_chunk_t *chunk)
{
    assert(self && chunk);
    size_t count =
        sc_queue_take(self->queue, sc_queue_capacity(self->queue), NULL, chunk);
    if (count > 0) {
        s_arrival_take(self, count);
        return count;
    }
    self->pending_since_ns = 0;
    while (self->abandon_cursor < self->config.workers) {
        s_worker_t *worker = &self->workers[self->abandon_cursor++];
        if (worker->busy && !worker->abandoned &&
            sc_queue_chunk(self->queue, worker->chunk_id, chunk) == 0) {
            worker->abandoned = true;
            return chunk->count;
        }
    }
    self->abandon_cursor = 0;
    return 0;
}

void sc_intake_dead_lettered(sc_intake_t *self, const sc_chunk_t *chunk,
                             sc_intake_ack_fn *fn, void *arg)
{
    assert(self && chunk);
    s_relay_t relay = {self, fn, arg};
    if (sc_queue_commit(self->queue, chunk->id, 0, 0, chunk->count, s_on_batch,
                        &relay) == 0)
        self->committed_window += chunk->count;
}

void sc_intake_dead_letter_failed(sc_intake_t *self)
{
    assert(self);
    self->dead_letter_failed = true;
}

void sc_intake_discard(sc_intake_t *self, sc_intake_ack_fn *fn, void *arg)
{
    assert(self);
    s_relay_t relay = {self, fn, arg};
    sc_chunk_t chunk;
    while (sc_intake_abandon(self, &chunk) > 0)
        sc_queue_commit(self->queue, chunk.id, 0, 0, chunk.count, s_on_batch,
                        &relay);
}

/* ---- the level ---- */

/* One step of the exponential average every rate uses. */
static double s_smooth(double average, double window_rate)
{
    return S_DRAIN_RATE_SMOOTHING * average +
           (1.0 - S_DRAIN_RATE_SMOOTHING) * window_rate;
}

static void s_update_drain_rate(sc_intake_t *self, int64_t now_ns,
                                sc_intake_update_t *out)
{
    int64_t elapsed = now_ns - self->window_start_ns;
    if (elapsed < SC_INTAKE_DRAIN_RATE_WINDOW_MS * CMN_NS_PER_MS)
        return;
    double per_ns = (double)CMN_NS_PER_SEC / (double)elapsed;
    self->drain_rate =
        s_smooth(self->drain_rate, (double)self->committed_window * per_ns);
    sc_snapshot_rates_t *rates = &self->rates;
    rates->incoming =
        s_smooth(rates->incoming,
                 (double)(self->pushed - self->pushed_at_window) * per_ns);
    rates->offered =
        s_smooth(rates->offered, (double)self->offered_window * per_ns);
    rates->written =
        s_smooth(rates->written, (double)self->written_window * per_ns);
    rates->duplicates =
        s_smooth(rates->duplicates, (double)self->duplicates_window * per_ns);
    self->committed_window = 0;
    self->pushed_at_window = self->pushed;
    self->offered_window = self->written_window = self->duplicates_window = 0;
    self->window_start_ns = now_ns;
    out->drain_rate_changed = true;
}

/* A worker has held its chunk for the stall time and nothing committed in
 * that time either. */
static bool s_stalled(sc_intake_t *self, int64_t now_ns)
{
    int64_t stall = self->config.stall_ns;
    if (stall <= 0 || now_ns - self->last_commit_ns < stall)
        return false;
    for (size_t i = 0; i < self->config.workers; i++) {
        const s_worker_t *worker = &self->workers[i];
        if (worker->busy && !worker->abandoned &&
            now_ns - worker->dispatched_ns >= stall)
            return true;
    }
    return false;
}

/* Sink health (feedback.md 6.4): returns the sink pressure and fills the
 * state. */
static double s_sink(sc_intake_t *self, int64_t now_ns,
                     mdbp_sink_state_t *state)
{
    /* Every writer's breaker open, or every writer that holds records
     * (an idle one has nothing to prove the database works with). */
    size_t open_count = 0, held = 0, held_open = 0;
    bool degraded = false, dlq_failing = false;
    for (size_t i = 0; i < self->config.workers; i++) {
        const s_worker_t *worker = &self->workers[i];
        const sc_intake_worker_t *health = &worker->health;
        bool open = health->breaker == SC_BREAKER_OPEN;
        open_count += open;
        if (worker->busy && !worker->abandoned) {
            held++;
            held_open += open;
        }
        degraded |= health->breaker != SC_BREAKER_CLOSED || health->retrying;
        dlq_failing |= health->dlq_failing;
    }
    bool all_open =
        open_count == self->config.workers || (held > 0 && held_open == held);
    dlq_failing |= self->dead_letter_failed;
    bool stalled = s_stalled(self, now_ns);
    if (!self->sink_down && (all_open || stalled || dlq_failing)) {
        self->sink_down = true;
        self->committed_since_down = false;
        self->recovered_ns = 0;
        self->down_cause = all_open ? "every writer's breaker is open"
                           : dlq_failing
                               ? "the dead-letter file cannot be written"
                               : "no commit within the stall timeout";
    } else if (self->sink_down && self->committed_since_down && !all_open &&
               !stalled && !dlq_failing) {
        self->sink_down = false;
        self->recovered_ns = now_ns;
    }
    *state = self->sink_down ? MDBP_SINK_STATE_DOWN
             : degraded      ? MDBP_SINK_STATE_DEGRADED
                             : MDBP_SINK_STATE_UP;
    if (self->sink_down)
        return 1.0;
    if (self->recovered_ns == 0)
        return 0.0;
    int64_t elapsed = now_ns - self->recovered_ns;
    if (elapsed >= self->config.recovery_ns) {
        self->recovered_ns = 0;
        return 0.0;
    }
    return 1.0 - (double)elapsed / (double)self->config.recovery_ns;
}

/* Sojourn pressure: 0 until the oldest age has been above the target for
 * the interval, then rising to 1 at SC_INTAKE_SOJOURN_HARD_FACTOR x the
 * target. */
static double s_sojourn(sc_intake_t *self, int64_t age_ns, int64_t now_ns)
{
    int64_t target = self->config.sojourn_target_ns;
    if (target <= 0 || age_ns <= target) {
        self->above_since_ns = 0;
        return 0.0;
    }
    if (self->above_since_ns == 0)
        self->above_since_ns = now_ns;
    if (now_ns - self->above_since_ns < self->config.sojourn_interval_ns)
        return 0.0;
    double pressure = (double)(age_ns - target) /
                      (double)((SC_INTAKE_SOJOURN_HARD_FACTOR - 1) * target);
    return pressure > 1.0 ? 1.0 : pressure;
}

static mdbp_level_t s_level_of(double pressure)
{
    return pressure >= 1.0  ? MDBP_LEVEL_HARD
           : pressure > 0.0 ? MDBP_LEVEL_SOFT
                            : MDBP_LEVEL_OK;
}

static mdbp_level_t s_max_level(mdbp_level_t a, mdbp_level_t b)
{
    return a > b ? a : b;
}

/* The reason of a change to `wanted` (feedback.md 3.2: a machine-stable
 * word first). */
static void s_reason(sc_intake_t *self, mdbp_level_t wanted, bool up,
                     mdbp_level_t depth_level, mdbp_level_t sojourn_level,
                     mdbp_level_t sink_level, int64_t age_ns)
{
    char *reason = self->reason;
    size_t size = sizeof self->reason;
    uint32_t age_ms = (uint32_t)(age_ns / CMN_NS_PER_MS);
    uint32_t target_ms =
        (uint32_t)(self->config.sojourn_target_ns / CMN_NS_PER_MS);
    if (up && self->sink_down && sink_level == wanted) {
        snprintf(reason, size, "sink_down %s", self->down_cause);
        self->last_up_was_sink = true;
        return;
    }
    if (up && sojourn_level == wanted && sojourn_level > depth_level) {
        snprintf(reason, size, "sojourn oldest record %u ms old, target %u ms",
                 age_ms, target_ms);
        self->last_up_was_sink = false;
        return;
    }
    if (up) {
        snprintf(reason, size, "depth %s",
                 wanted == MDBP_LEVEL_HARD ? "queue at or above high watermark"
                                            : "queue above low watermark");
        self->last_up_was_sink = false;
        return;
    }
    if (self->last_up_was_sink ||
        (self->recovered_ns != 0 && sink_level == wanted)) {
        snprintf(reason, size, "recovered %s", "the sink is writing again");
        return;
    }
    if (sojourn_level == wanted && sojourn_level > depth_level)
        snprintf(reason, size, "sojourn oldest record %u ms old, target %u ms",
                 age_ms, target_ms);
    else
        snprintf(reason, size, "depth %s",
                 wanted == MDBP_LEVEL_SOFT
                     ? "queue below high watermark minus dead-band"
                     : "queue at or below low watermark minus dead-band");
}

/* The active producers, their weights (all, critical) and per class. */
static void s_count_active(sc_intake_t *self, sc_snapshot_t *snapshot)
{
    self->active = 0;
    self->active_weight = self->critical_weight = self->critical_inflight = 0;
    for (size_t i = 0; i < self->producers_used; i++) {
        const s_producer_t *producer = &self->producers[i];
        if (!s_active(self, producer))
            continue;
        self->active++;
        self->active_weight += producer->weight;
        if (producer->priority == MDBP_PRIORITY_CRITICAL) {
            self->critical_weight += producer->weight;
            self->critical_inflight += producer->inflight;
        }
        snapshot->class_producers[producer->priority]++;
    }
}

void sc_intake_update(sc_intake_t *self, int64_t now_ns,
                      sc_intake_update_t *out)
{
    assert(self && out);
    *out = (sc_intake_update_t){0};
    self->now_ns = now_ns;
    uint64_t depth = sc_queue_depth(self->queue);
    sc_watermark_update(self->watermark, depth, now_ns, NULL);
    s_update_drain_rate(self, now_ns, out);
    int64_t age_ns = s_oldest_age_ns(self, now_ns);
    mdbp_sink_state_t sink_state;
    double sink_pressure = s_sink(self, now_ns, &sink_state);
    double sojourn_pressure = s_sojourn(self, age_ns, now_ns);
    double depth_hint = sc_watermark_scale_hint(&self->config.watermark, depth);
    double pressure = 1.0 - depth_hint;
    if (sojourn_pressure > pressure)
        pressure = sojourn_pressure;
    if (sink_pressure > pressure)
        pressure = sink_pressure;

    mdbp_level_t depth_level = sc_watermark_level(self->watermark);
    mdbp_level_t sojourn_level = s_level_of(sojourn_pressure);
    mdbp_level_t sink_level =
        self->sink_down ? MDBP_LEVEL_HARD : s_level_of(sink_pressure);
    mdbp_level_t wanted =
        s_max_level(depth_level, s_max_level(sojourn_level, sink_level));
    sc_snapshot_t *snapshot = &out->snapshot;
    if (wanted > self->level ||
        (wanted < self->level &&
         now_ns - self->changed_ns >= self->config.watermark.dwell_ns)) {
        s_reason(self, wanted, wanted > self->level, depth_level, sojourn_level,
                 sink_level, age_ns);
        self->previous = self->level;
        self->level = wanted;
        self->changed_ns = now_ns;
        snapshot->changed = true;
    }
    self->pressure = pressure;
    self->depth = depth;
    s_count_active(self, snapshot);
    s_claim_t newcomer = {.priority = MDBP_PRIORITY_NORMAL,
                          .weight = s_share_weight(MDBP_PRIORITY_NORMAL, 1)};
    uint64_t initial = s_allowed(self, &newcomer, newcomer.weight);
    /* A critical newcomer is not cut by pressure: at HARD it may still
     * start (ingest.md 4.5). */
    s_claim_t critical = {.priority = MDBP_PRIORITY_CRITICAL,
                          .weight = s_share_weight(MDBP_PRIORITY_CRITICAL, 1)};
    uint64_t initial_critical = s_allowed(self, &critical, critical.weight);

    snapshot->level = self->level;
    snapshot->previous = self->previous;
    snapshot->depth = depth;
    snapshot->pressure = pressure;
    snapshot->scale_hint = 1.0 - pressure;
    snapshot->oldest_age_ms = (uint32_t)(age_ns / CMN_NS_PER_MS);
    snapshot->commit_latency_ms = self->latency_ms;
    snapshot->sink_state = sink_state;
    snapshot->drain_rate = self->drain_rate;
    snapshot->credit_initial = (uint32_t)initial;
    snapshot->credit_initial_critical = (uint32_t)initial_critical;
    snapshot->producers = self->active;
    for (int priority = 0; priority < MDBP_PRIORITY_COUNT; priority++)
        snapshot->class_factor[priority] =
            s_class_factor((mdbp_priority_t)priority, pressure);
    snprintf(snapshot->reason, sizeof snapshot->reason, "%s", self->reason);
    snapshot->changed_ns = self->changed_ns;
    snapshot->rates = self->rates;

    if (self->draining && !self->drained) {
        if (depth == 0)
            out->drain = SC_INTAKE_DRAIN_FLUSHED;
        else if (now_ns >= self->drain_deadline_ns)
            out->drain = SC_INTAKE_DRAIN_EXPIRED;
        self->drained = out->drain != SC_INTAKE_DRAIN_NONE;
    }
}

static int64_t s_earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t sc_intake_deadline(sc_intake_t *self)
{
    assert(self);
    int64_t deadline =
        self->window_start_ns + SC_INTAKE_DRAIN_RATE_WINDOW_MS * CMN_NS_PER_MS;
    bool idle_worker = false;
    for (size_t i = 0; i < self->config.workers; i++)
        idle_worker |= !self->workers[i].busy;
    if (idle_worker && sc_queue_pending(self->queue) > 0)
        deadline = s_earliest(deadline, self->pending_since_ns +
                                            self->config.batch_timeout_ns);
    if (self->level != MDBP_LEVEL_OK) {
        /* A step down held by a dwell (the combined or the depth one). */
        int64_t dwell = self->config.watermark.dwell_ns;
        int64_t ends[2] = {self->changed_ns + dwell,
                           sc_watermark_changed_ns(self->watermark) + dwell};
        for (int i = 0; i < 2; i++)
            if (ends[i] > self->now_ns)
                deadline = s_earliest(deadline, ends[i]);
    }
    /* Records waiting, a sink down or recovering: the age, the stall and
     * the ramp move with time alone. */
    if (sc_queue_depth(self->queue) > 0 || self->sink_down ||
        self->recovered_ns != 0)
        deadline = s_earliest(deadline, self->now_ns + SC_INTAKE_REFRESH_MS *
                                                           CMN_NS_PER_MS);
    /* The moment a held chunk would make the sink stalled. */
    for (size_t i = 0; self->config.stall_ns > 0 && i < self->config.workers;
         i++) {
        const s_worker_t *worker = &self->workers[i];
        if (!worker->busy || worker->abandoned)
            continue;
        int64_t since = worker->dispatched_ns > self->last_commit_ns
                            ? worker->dispatched_ns
                            : self->last_commit_ns;
        if (since + self->config.stall_ns > self->now_ns)
            deadline = s_earliest(deadline, since + self->config.stall_ns);
    }
    if (self->draining && !self->drained)
        deadline = s_earliest(deadline, self->drain_deadline_ns);
    return deadline;
}

size_t sc_intake_depth(sc_intake_t *self)
{
    assert(self);
    return sc_queue_depth(self->queue);
}

size_t sc_intake_capacity(sc_intake_t *self)
{
    assert(self);
    return sc_queue_capacity(self->queue);
}

mdbp_level_t sc_intake_level(sc_intake_t *self)
{
    assert(self);
    return self->level;
}

bool sc_intake_draining(sc_intake_t *self)
{
    assert(self);
    return self->draining;
}
