/* pl_window: the send window, a pure state machine (engine of pl_sender).
 *
 * Invariant: every record given to pl_window_fill() is counted in exactly
 * one place until it is acked or rejected: the open batch (`open_records`)
 * or one used slot (`unacked_records` is their sum). A slot in flight is
 * charged to exactly one coordinator (`at`), whose `unacked_records` sums
 * the slots charged to it. */
#include "pl_window.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h" /* constants only: the engine reads no clock */

typedef enum {
    S_FREE = 0,
    S_WAITING = 1,   /* sealed, not in flight: sent at due_ns */
    S_IN_FLIGHT = 2, /* sent, reply awaited until due_ns */
} s_state_t;

typedef struct {
    s_state_t state;
    uint64_t batch_seq;
    size_t records;
    int64_t sent_ns;   /* last send */
    int64_t due_ns;    /* in flight: timeout; waiting: next attempt */
    uint32_t attempts; /* sends so far */
    uint32_t timeouts; /* ack timeouts so far */
    pl_window_cause_t cause;
    int at;     /* in flight: the coordinator charged with it; else -1 */
    int holder; /* the coordinator that may hold a copy (-1: none) */
} s_slot_t;

/* What limits the records unacked (proto/ingest.md 4.4). */
typedef enum {
    S_CREDIT_FIRST = 0,   /* no reply yet: one first batch */
    S_CREDIT_NONE = 1,    /* the coordinator sends no credit (v1) */
    S_CREDIT_GRANTED = 2, /* the last reply's credit */
} s_credit_mode_t;

/* The detail a v1 coordinator gives a batch over its capacity (ingest.md
 * 4.2), for coordinators that send no `code`. */
#define S_OVER_CAPACITY_DETAIL "exceeds the queue capacity"

/* One coordinator (pl_window_coordinator_add). */
typedef struct {
    bool present;
    bool connected;
    int64_t going_away_until_ns; /* nothing new before, unless reconnected */
    s_credit_mode_t credit_mode;
    uint32_t credit;         /* GRANTED: its last reply's */
    int64_t credit_retry_ns; /* credit 0, no feedback: one batch after */
    size_t unacked_records;  /* of the slots charged to it */
    size_t unacked_batches;
    int64_t backoff_until_ns; /* no send there before (nack full) */
    int64_t heard_ns;         /* last reply or connect */
} s_coordinator_t;

struct _pl_window_t {
    pl_window_config_t config;
    s_slot_t *slots;
    size_t slot_count; /* config.slots live + as many parked */
    size_t used;
    size_t unacked_records;
    size_t open_records;
    int64_t open_started_ns;
    uint64_t next_seq;
    s_coordinator_t coordinators[PL_WINDOW_COORDINATORS_MAX];
    int coordinator_count; /* ids in use are below it */
    int turn;              /* the id after the last one sent to (ties) */
    bool flushing;
    int64_t flush_deadline_ns;
    pl_window_limits_t limits;
    size_t split_limit; /* batch size after a split (0: none) */
    size_t returned;    /* records the shell holds from a split */
    pl_window_counters_t counters;
};

static const char *const s_cause_names[PL_WINDOW_CAUSE_COUNT] = {
    "none", "timeout", "reconnect", "disconnect", "full", "draining"};

const char *pl_window_cause_name(pl_window_cause_t cause)
{
    assert(cause < PL_WINDOW_CAUSE_COUNT);
    return s_cause_names[cause];
}

pl_window_t *pl_window_new(const pl_window_config_t *config)
{
    assert(config && config->slots > 0 && config->batch_records > 0);
    pl_window_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    /* Room for `slots` batches at connected coordinators plus as many
     * parked at coordinators that stopped answering (their batches wait
     * for the ack timeout: they must not take the window from the
     * others). Memory stays bounded: twice the window at most. */
    self->slot_count = config->slots * PL_WINDOW_PARKED_FACTOR;
    self->slots = calloc(self->slot_count, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->next_seq = 1;
    return self;
}

void pl_window_destroy(pl_window_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        free((*self_p)->slots);
        free(*self_p);
        *self_p = NULL;
    }
}

size_t pl_window_batch_limit(const pl_window_t *self)
{
    size_t limit = self->config.batch_records;
    if (self->limits.capacity > 0 && self->limits.capacity < limit)
        limit = (size_t)self->limits.capacity;
    if (self->split_limit > 0 && self->split_limit < limit)
        limit = self->split_limit;
    return limit;
}

size_t pl_window_room(const pl_window_t *self)
{
    size_t limit = pl_window_batch_limit(self);
    return self->open_records < limit ? limit - self->open_records : 0;
}

/* The first credit: before a reply, or with credit 0 and nothing in
 * flight. */
static size_t s_first_records(const pl_window_t *self)
{
    size_t first = self->limits.has_credit_initial ? self->limits.credit_initial
                                                   : PL_WINDOW_FIRST_RECORDS;
    if (self->limits.capacity > 0 && self->limits.capacity < first)
        first = (size_t)self->limits.capacity;
    return first;
}

/* Records that may be unacked at `c` at `now` (SIZE_MAX: no credit in
 * force, a v1 coordinator). */
static size_t s_allowed(const pl_window_t *self, const s_coordinator_t *c,
                        int64_t now)
{
    switch (c->credit_mode) {
    case S_CREDIT_NONE:
        return SIZE_MAX;
    case S_CREDIT_FIRST:
        /* Conservative until it answers: one that never does (hung from
         * the start) holds at most this much. */
        return s_first_records(self);
    case S_CREDIT_GRANTED:
        break;
    }
    if (c->credit > 0 || c->unacked_batches > 0)
        return c->credit;
    /* Credit 0 and nothing in flight: a credit_initial in the feedback
     * allows one batch; without it, one after the reply's retry hint, so
     * that a reply that cannot come is not waited for forever. */
    if (self->limits.has_credit_initial)
        return self->limits.credit_initial > 0 ? s_first_records(self) : 0;
    return now >= c->credit_retry_ns ? s_first_records(self) : 0;
}

/* May `c` get a batch now, credit aside? */
static bool s_eligible(const s_coordinator_t *c, int64_t now)
{
    return c->present && c->connected && now >= c->backoff_until_ns &&
           now >= c->going_away_until_ns;
}

/* Records `c` can take now beyond what it holds (0: not eligible). */
static size_t s_room(const pl_window_t *self, const s_coordinator_t *c,
                     int64_t now)
{
    if (!s_eligible(c, now))
        return 0;
    size_t allowed = s_allowed(self, c, now);
    if (allowed == SIZE_MAX)
        return SIZE_MAX;
    return allowed > c->unacked_records ? allowed - c->unacked_records : 0;
}

/* How much of its credit `c` uses: unacked / allowed (without credit, v1:
 * the unacked records alone, scaled far below any credit's share). */
static double s_fill(const pl_window_t *self, const s_coordinator_t *c,
                     int64_t now)
{
    size_t allowed = s_allowed(self, c, now);
    if (allowed == SIZE_MAX)
        return (double)c->unacked_records / (double)SIZE_MAX;
    return allowed > 0 ? (double)c->unacked_records / (double)allowed : 1.0;
}

/* The coordinator for a batch of `records` at `now`, -1 when none fits:
 * `prefer` (the one that may hold it) when it fits, else the one using the
 * smallest part of its credit, ties in turn (so coordinators share the
 * load in proportion to their credits, and one that stops answering fills
 * its credit and gets nothing more). A batch larger than every room still
 * goes to an eligible coordinator holding nothing with a nonzero credit
 * (it was cut to a credit before; it must not wait forever for a room
 * that size). */
static int s_choose(const pl_window_t *self, size_t records, int prefer,
                    int64_t now)
{
    if (prefer >= 0 &&
        s_room(self, &self->coordinators[prefer], now) >= records)
        return prefer;
    int best = -1;
    double best_fill = 0;
    int count = self->coordinator_count;
    for (int step = 0; step < count; step++) {
        int id = (self->turn + step) % count;
        const s_coordinator_t *c = &self->coordinators[id];
        size_t room = s_room(self, c, now);
        bool fits = room >= records || (room > 0 && c->unacked_batches == 0);
        if (!fits)
            continue;
        double fill = s_fill(self, c, now);
        if (best < 0 || fill < best_fill) {
            best = id;
            best_fill = fill;
        }
    }
    return best;
}

/* The largest room of any coordinator now. */
static size_t s_room_max(const pl_window_t *self, int64_t now)
{
    size_t most = 0;
    for (int id = 0; id < self->coordinator_count; id++) {
        size_t room = s_room(self, &self->coordinators[id], now);
        if (room > most)
            most = room;
    }
    return most;
}

size_t pl_window_credit(const pl_window_t *self)
{
    size_t total = 0;
    for (int id = 0; id < self->coordinator_count; id++) {
        const s_coordinator_t *c = &self->coordinators[id];
        if (!c->present || !c->connected)
            continue;
        if (c->credit_mode == S_CREDIT_NONE)
            return SIZE_MAX;
        total += c->credit_mode == S_CREDIT_FIRST ? s_first_records(self)
                                                  : c->credit;
    }
    return total;
}

/* Records of the open batch that may be sealed now: cut to the batch
 * limit and to the largest room, less what sealed batches not in flight
 * (charged nowhere yet) will take of it. */
static size_t s_seal_count(const pl_window_t *self, int64_t now)
{
    size_t count = self->open_records;
    size_t limit = pl_window_batch_limit(self);
    if (count > limit)
        count = limit;
    size_t room = s_room_max(self, now);
    if (room != SIZE_MAX)
        for (size_t k = 0; k < self->slot_count && room > 0; k++)
            if (self->slots[k].state == S_WAITING)
                room = room > self->slots[k].records
                           ? room - self->slots[k].records
                           : 0;
    return count < room ? count : room;
}

void pl_window_fill(pl_window_t *self, size_t records, int64_t now)
{
    assert(records <= pl_window_room(self));
    if (records == 0)
        return;
    if (self->open_records == 0)
        self->open_started_ns = now;
    self->open_records += records;
}

static s_slot_t *s_free_slot(pl_window_t *self, size_t *index)
{
    for (size_t k = 0; k < self->slot_count; k++)
        if (self->slots[k].state == S_FREE) {
            *index = k;
            return &self->slots[k];
        }
    return NULL;
}

/* Slots that count against the window: all used but those in flight at a
 * disconnected coordinator (parked until their ack timeout). */
static size_t s_live_used(const pl_window_t *self)
{
    size_t parked = 0;
    for (size_t k = 0; k < self->slot_count; k++) {
        const s_slot_t *slot = &self->slots[k];
        if (slot->state == S_IN_FLIGHT && slot->at >= 0 &&
            !self->coordinators[slot->at].connected)
            parked++;
    }
    return self->used - parked;
}

/* The open batch must close now: full, old enough, or flushing. */
static bool s_seal_due(const pl_window_t *self, int64_t now)
{
    return self->open_records > 0 &&
           (self->open_records >= pl_window_batch_limit(self) ||
            self->flushing ||
            now - self->open_started_ns >= self->config.batch_ns);
}

static void s_fill_action(const s_slot_t *slot, size_t index,
                          pl_window_action_kind_t kind,
                          pl_window_action_t *action)
{
    action->kind = kind;
    action->slot = index;
    action->coordinator = slot->at;
    action->batch_seq = slot->batch_seq;
    action->records = slot->records;
    action->attempts = slot->attempts;
    action->cause = slot->cause;
}

/* The slot is no longer in flight at its coordinator. */
static void s_uncharge(pl_window_t *self, s_slot_t *slot)
{
    if (slot->at < 0)
        return;
    s_coordinator_t *c = &self->coordinators[slot->at];
    c->unacked_records -= slot->records;
    c->unacked_batches--;
    slot->at = -1;
}

static void s_release(pl_window_t *self, s_slot_t *slot)
{
    s_uncharge(self, slot);
    slot->holder = -1;
    slot->state = S_FREE;
    self->used--;
    self->unacked_records -= slot->records;
}

bool pl_window_next(pl_window_t *self, int64_t now, bool input_pending,
                    pl_window_action_t *action)
{
    /* 1. Ack timeouts: the batch goes back to waiting, due now. */
    for (size_t k = 0; k < self->slot_count; k++) {
        s_slot_t *slot = &self->slots[k];
        if (slot->state == S_IN_FLIGHT && now >= slot->due_ns &&
            self->limits.alive && slot->at >= 0 &&
            self->coordinators[slot->at].connected) {
            /* Its coordinator is heard: slow, not lost. A resend would
             * only add load; wait another timeout. */
            uint32_t shift = slot->timeouts < PL_WINDOW_BACKOFF_SHIFT_MAX
                                 ? slot->timeouts
                                 : PL_WINDOW_BACKOFF_SHIFT_MAX;
            slot->due_ns = now + (self->config.ack_timeout_ns << shift);
            self->counters.deferred++;
            continue;
        }
        if (slot->state == S_IN_FLIGHT && now >= slot->due_ns) {
            s_uncharge(self, slot); /* it may go elsewhere now */
            slot->state = S_WAITING;
            slot->timeouts++;
            slot->cause = PL_WINDOW_CAUSE_TIMEOUT;
            slot->due_ns = now;
            self->counters.timeouts++;
            s_fill_action(slot, k, PL_WINDOW_TIMED_OUT, action);
            return true;
        }
    }
    /* 2. The open batch closes into a free slot. */
    size_t index, count;
    s_slot_t *slot;
    if (s_seal_due(self, now) && (count = s_seal_count(self, now)) > 0 &&
        s_live_used(self) < self->config.slots &&
        (slot = s_free_slot(self, &index))) {
        slot->state = S_WAITING;
        slot->batch_seq = self->next_seq++;
        slot->records = count;
        slot->attempts = 0;
        slot->timeouts = 0;
        slot->cause = PL_WINDOW_CAUSE_NONE;
        slot->due_ns = now;
        slot->at = -1;
        slot->holder = -1;
        self->used++;
        self->unacked_records += count;
        /* The rest (cut by the credit or the capacity) stays open, as old
         * as it was: it closes as soon as it may. */
        self->open_records -= count;
        s_fill_action(slot, index, PL_WINDOW_SEAL, action);
        return true;
    }
    /* 3. Due sends, each where the room is (none fits: it waits). */
    for (size_t k = 0; k < self->slot_count; k++) {
        slot = &self->slots[k];
        int to;
        if (slot->state == S_WAITING && now >= slot->due_ns &&
            (to = s_choose(self, slot->records, slot->holder, now)) >= 0) {
            s_fill_action(slot, k, PL_WINDOW_SEND, action);
            action->coordinator = to;
            return true;
        }
    }
    /* 4. The flush ends when nothing is left or at its deadline. */
    if (self->flushing && ((self->used == 0 && self->open_records == 0 &&
                            !input_pending && self->returned == 0) ||
                           now >= self->flush_deadline_ns)) {
        self->flushing = false;
        action->kind = PL_WINDOW_FLUSHED;
        action->slot = 0;
        action->coordinator = -1;
        action->batch_seq = 0;
        action->records = self->unacked_records + self->open_records;
        action->attempts = 0;
        action->cause = PL_WINDOW_CAUSE_NONE;
        return true;
    }
    return false;
}

void pl_window_sent(pl_window_t *self, const pl_window_action_t *action,
                    bool sent, int64_t now)
{
    size_t index = action->slot;
    int to = action->coordinator;
    assert(index < self->slot_count);
    assert(to >= 0 && to < self->coordinator_count);
    s_slot_t *slot = &self->slots[index];
    assert(slot->state == S_WAITING);
    s_coordinator_t *c = &self->coordinators[to];
    if (!sent) {
        /* No connection there (ZMQ_IMMEDIATE) or its pipe is full: that
         * coordinator later, another one now if it has room. */
        c->backoff_until_ns = now + self->config.retry_ns;
        slot->due_ns = now;
        return;
    }
    if (slot->holder >= 0 && slot->holder != to)
        self->counters.records_moved += slot->records;
    slot->at = to;
    slot->holder = to;
    c->unacked_records += slot->records;
    c->unacked_batches++;
    self->turn = (to + 1) % self->coordinator_count;
    if (slot->attempts == 0) {
        self->counters.records_sent += slot->records;
        self->counters.batches_sent++;
    } else {
        self->counters.records_resent += slot->records;
    }
    uint32_t shift = slot->timeouts < PL_WINDOW_BACKOFF_SHIFT_MAX
                         ? slot->timeouts
                         : PL_WINDOW_BACKOFF_SHIFT_MAX;
    slot->attempts++;
    slot->state = S_IN_FLIGHT;
    slot->sent_ns = now;
    slot->due_ns = now + (self->config.ack_timeout_ns << shift);
}

void pl_window_drop(pl_window_t *self, size_t index)
{
    assert(index < self->slot_count);
    s_slot_t *slot = &self->slots[index];
    assert(slot->state != S_FREE);
    self->counters.records_rejected += slot->records;
    s_release(self, slot);
}

static s_slot_t *s_find(pl_window_t *self, uint64_t batch_seq, size_t *index)
{
    for (size_t k = 0; k < self->slot_count; k++)
        if (self->slots[k].state != S_FREE &&
            self->slots[k].batch_seq == batch_seq) {
            *index = k;
            return &self->slots[k];
        }
    return NULL;
}

pl_window_reply_t pl_window_ack(pl_window_t *self, uint64_t batch_seq,
                                int64_t now, pl_window_outcome_t *outcome)
{
    size_t index;
    s_slot_t *slot = s_find(self, batch_seq, &index);
    if (!slot)
        return PL_WINDOW_LATE;
    outcome->slot = index;
    outcome->records = slot->records;
    outcome->latency_ns = now - slot->sent_ns;
    self->counters.records_acked += slot->records;
    s_release(self, slot);
    return PL_WINDOW_ACKED;
}

pl_window_reply_t pl_window_nack(pl_window_t *self, uint64_t batch_seq,
                                 mdbp_nack_reason_t reason,
                                 uint32_t retry_after_ms, int64_t now,
                                 pl_window_outcome_t *outcome)
{
    size_t index;
    s_slot_t *slot = s_find(self, batch_seq, &index);
    if (!slot)
        return PL_WINDOW_LATE;
    outcome->slot = index;
    outcome->records = slot->records;
    outcome->latency_ns = now - slot->sent_ns;
    if (reason == MDBP_NACK_MALFORMED) {
        self->counters.records_rejected += slot->records;
        s_release(self, slot);
        return PL_WINDOW_REJECTED;
    }
    /* full or draining: nothing was stored. That coordinator backs off
     * (full: not hammered) or gets nothing new (draining: it is going
     * away); the batch goes to another one with room at once, or waits. */
    int64_t retry_ns = retry_after_ms ? (int64_t)retry_after_ms * CMN_NS_PER_MS
                                      : self->config.nack_retry_ns;
    if (slot->at >= 0) {
        s_coordinator_t *c = &self->coordinators[slot->at];
        if (reason == MDBP_NACK_DRAINING)
            c->going_away_until_ns = now + PL_WINDOW_GOING_AWAY_NS;
        else if (now + retry_ns > c->backoff_until_ns)
            c->backoff_until_ns = now + retry_ns;
    }
    s_uncharge(self, slot);
    slot->holder = -1; /* not stored: a send elsewhere is no copy */
    slot->state = S_WAITING;
    slot->due_ns = now;
    slot->cause = reason == MDBP_NACK_DRAINING ? PL_WINDOW_CAUSE_DRAINING
                                               : PL_WINDOW_CAUSE_FULL;
    return PL_WINDOW_BACKOFF;
}

static bool s_over_capacity(const mdbp_reply_t *reply)
{
    return reply->reason == MDBP_NACK_MALFORMED &&
           (reply->code == MDBP_NACK_CODE_OVER_CAPACITY ||
            (reply->code == MDBP_NACK_CODE_NONE &&
             strstr(reply->detail, S_OVER_CAPACITY_DETAIL)));
}

pl_window_reply_t pl_window_reply(pl_window_t *self, int coordinator,
                                  const mdbp_reply_t *reply, int64_t now,
                                  pl_window_outcome_t *outcome)
{
    assert(coordinator >= 0 && coordinator < self->coordinator_count);
    if (self->config.session && reply->session &&
        reply->session != self->config.session) {
        self->counters.foreign++;
        return PL_WINDOW_FOREIGN; /* a previous run's: not ours */
    }
    s_coordinator_t *c = &self->coordinators[coordinator];
    c->heard_ns = now;
    if (reply->has_credit) {
        c->credit_mode = S_CREDIT_GRANTED;
        c->credit = reply->credit;
        int64_t retry_ns =
            reply->type == MDBP_REPLY_NACK && reply->retry_after_ms
                ? (int64_t)reply->retry_after_ms * CMN_NS_PER_MS
                : self->config.nack_retry_ns;
        c->credit_retry_ns = now + retry_ns;
    } else if (c->credit_mode == S_CREDIT_FIRST) {
        c->credit_mode = S_CREDIT_NONE; /* a v1 coordinator */
    }
    if (reply->type == MDBP_REPLY_ACK)
        return pl_window_ack(self, reply->batch_seq, now, outcome);
    size_t index;
    s_slot_t *slot = s_find(self, reply->batch_seq, &index);
    if (slot && s_over_capacity(reply)) {
        /* It can never be queued: split it. The parts are new batches of
         * at most the capacity (or half this one when the capacity is not
         * known yet). */
        size_t half = slot->records / 2 ? slot->records / 2 : 1;
        size_t limit =
            self->limits.capacity > 0 && self->limits.capacity < slot->records
                ? (size_t)self->limits.capacity
                : half;
        if (self->split_limit == 0 || limit < self->split_limit)
            self->split_limit = limit;
        outcome->slot = index;
        outcome->records = slot->records;
        outcome->latency_ns = now - slot->sent_ns;
        self->counters.splits++;
        self->returned += slot->records;
        s_release(self, slot);
        return PL_WINDOW_SPLIT;
    }
    pl_window_reply_t result =
        pl_window_nack(self, reply->batch_seq, reply->reason,
                       reply->retry_after_ms, now, outcome);
    if (result == PL_WINDOW_REJECTED && reply->code <= MDBP_NACK_CODE_UNKNOWN)
        self->counters.rejected_by_code[reply->code] += outcome->records;
    return result;
}

void pl_window_return(pl_window_t *self, size_t records)
{
    self->returned = records;
}

void pl_window_set_limits(pl_window_t *self, const pl_window_limits_t *limits,
                          int64_t now)
{
    (void)now;
    self->limits = *limits;
    /* A capacity now known replaces the halving guess of a split. */
    if (limits->capacity > 0)
        self->split_limit = 0;
}

int pl_window_coordinator_add(pl_window_t *self)
{
    int id = 0;
    while (id < self->coordinator_count && self->coordinators[id].present)
        id++;
    if (id == PL_WINDOW_COORDINATORS_MAX)
        return -1;
    if (id == self->coordinator_count)
        self->coordinator_count++;
    self->coordinators[id] = (s_coordinator_t){.present = true};
    return id;
}

void pl_window_coordinator_remove(pl_window_t *self, int coordinator,
                                  int64_t now)
{
    assert(coordinator >= 0 && coordinator < self->coordinator_count);
    /* Gone for good (not in DNS any more): what it had goes elsewhere
     * now; a copy it committed before it went is in its store already. */
    for (size_t k = 0; k < self->slot_count; k++) {
        s_slot_t *slot = &self->slots[k];
        if (slot->holder == coordinator)
            slot->holder = -1;
        if (slot->state != S_IN_FLIGHT || slot->at != coordinator)
            continue;
        s_uncharge(self, slot);
        slot->state = S_WAITING;
        slot->cause = PL_WINDOW_CAUSE_DISCONNECT;
        slot->due_ns = now;
    }
    self->coordinators[coordinator] = (s_coordinator_t){.present = false};
    while (self->coordinator_count > 0 &&
           !self->coordinators[self->coordinator_count - 1].present)
        self->coordinator_count--;
    if (self->turn >= self->coordinator_count)
        self->turn = 0;
}

void pl_window_connected(pl_window_t *self, int coordinator, int64_t now)
{
    assert(coordinator >= 0 && coordinator < self->coordinator_count);
    s_coordinator_t *c = &self->coordinators[coordinator];
    c->connected = true;
    c->heard_ns = now;
    c->going_away_until_ns = 0; /* a restarted one takes batches again */
    /* Whatever was sent there before this connection may have gone into
     * a queue that is gone: send it again now (or when the backoff ends),
     * there first. */
    for (size_t k = 0; k < self->slot_count; k++) {
        s_slot_t *slot = &self->slots[k];
        if (slot->at != coordinator)
            continue;
        if (slot->state == S_IN_FLIGHT) {
            if (slot->sent_ns < now)
                slot->cause = PL_WINDOW_CAUSE_RECONNECT;
            s_uncharge(self, slot);
            slot->state = S_WAITING;
            slot->due_ns = now;
        }
    }
}

void pl_window_disconnected(pl_window_t *self, int coordinator, int64_t now)
{
    (void)now;
    assert(coordinator >= 0 && coordinator < self->coordinator_count);
    /* Its batches stay charged to it until their ack timeout: a hung
     * coordinator (heartbeats unanswered) that resumes still commits and
     * answers them, and one that restarted gets them again on reconnect.
     * Only the timeout sends them elsewhere (counted as moved). */
    self->coordinators[coordinator].connected = false;
}

void pl_window_unreachable(pl_window_t *self, int coordinator, int64_t now)
{
    assert(coordinator >= 0 && coordinator < self->coordinator_count);
    /* Refused: no process listens there (it died; a hung one still
     * accepts TCP). What it had can never be answered: elsewhere now. */
    for (size_t k = 0; k < self->slot_count; k++) {
        s_slot_t *slot = &self->slots[k];
        if (slot->state != S_IN_FLIGHT || slot->at != coordinator)
            continue;
        s_uncharge(self, slot);
        slot->state = S_WAITING;
        slot->cause = PL_WINDOW_CAUSE_DISCONNECT;
        slot->due_ns = now;
    }
}

void pl_window_coordinator(const pl_window_t *self, int coordinator,
                           int64_t now, pl_window_coordinator_view_t *view)
{
    assert(coordinator >= 0 && coordinator < self->coordinator_count);
    const s_coordinator_t *c = &self->coordinators[coordinator];
    view->present = c->present;
    view->connected = c->connected;
    view->going_away = now < c->going_away_until_ns;
    view->eligible = s_eligible(c, now);
    view->credit = c->credit_mode == S_CREDIT_NONE    ? SIZE_MAX
                   : c->credit_mode == S_CREDIT_FIRST ? s_first_records(self)
                                                      : c->credit;
    view->unacked_records = c->unacked_records;
    view->unacked_batches = c->unacked_batches;
    view->backoff_until_ns = c->backoff_until_ns;
    view->heard_ns = c->heard_ns;
}

void pl_window_flush(pl_window_t *self, int64_t deadline_ns)
{
    self->flushing = true;
    self->flush_deadline_ns = deadline_ns;
}

void pl_window_hurry(pl_window_t *self, int64_t now)
{
    if (self->flushing && self->flush_deadline_ns > now)
        self->flush_deadline_ns = now;
}

static int64_t s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* The next time a coordinator's eligibility or credit changes with time
 * alone (a backoff or a going-away ends, credit 0 opens one batch). */
static int64_t s_coordinators_deadline(const pl_window_t *self, int64_t now)
{
    int64_t next = PL_WINDOW_NEVER;
    for (int id = 0; id < self->coordinator_count; id++) {
        const s_coordinator_t *c = &self->coordinators[id];
        if (!c->present || !c->connected)
            continue;
        if (c->backoff_until_ns > now)
            next = s_min(next, c->backoff_until_ns);
        if (c->going_away_until_ns > now)
            next = s_min(next, c->going_away_until_ns);
        if (c->credit_mode == S_CREDIT_GRANTED && c->credit == 0 &&
            c->unacked_batches == 0 && !self->limits.has_credit_initial &&
            c->credit_retry_ns > now)
            next = s_min(next, c->credit_retry_ns);
    }
    return next;
}

int64_t pl_window_deadline(const pl_window_t *self, int64_t now)
{
    int64_t next = PL_WINDOW_NEVER;
    bool free_slot =
        s_live_used(self) < self->config.slots && self->used < self->slot_count;
    bool waiting = false;
    if (self->open_records > 0 && free_slot) {
        if (s_seal_count(self, now) > 0)
            next = s_seal_due(self, now)
                       ? now
                       : self->open_started_ns + self->config.batch_ns;
        else
            waiting = true; /* no room anywhere: until time opens some */
    }
    for (size_t k = 0; k < self->slot_count; k++) {
        const s_slot_t *slot = &self->slots[k];
        if (slot->state == S_IN_FLIGHT) {
            next = s_min(next, slot->due_ns);
        } else if (slot->state == S_WAITING) {
            if (slot->due_ns > now)
                next = s_min(next, slot->due_ns);
            else if (s_choose(self, slot->records, slot->holder, now) >= 0)
                next = now;
            else
                waiting = true;
        }
    }
    if (waiting)
        next = s_min(next, s_coordinators_deadline(self, now));
    if (self->flushing)
        next = s_min(next, self->flush_deadline_ns);
    return next;
}

size_t pl_window_slot_count(const pl_window_t *self)
{
    return self->slot_count;
}

size_t pl_window_used(const pl_window_t *self)
{
    return self->used;
}

size_t pl_window_unacked_records(const pl_window_t *self)
{
    return self->unacked_records;
}

size_t pl_window_open_records(const pl_window_t *self)
{
    return self->open_records;
}

uint64_t pl_window_next_seq(const pl_window_t *self)
{
    return self->next_seq;
}

int64_t pl_window_backoff_until(const pl_window_t *self)
{
    int64_t earliest = 0;
    for (int id = 0; id < self->coordinator_count; id++) {
        const s_coordinator_t *c = &self->coordinators[id];
        if (!c->present || !c->connected)
            continue;
        if (c->backoff_until_ns == 0)
            return 0;
        if (earliest == 0 || c->backoff_until_ns < earliest)
            earliest = c->backoff_until_ns;
    }
    return earliest;
}

int pl_window_connections(const pl_window_t *self)
{
    int connected = 0;
    for (int id = 0; id < self->coordinator_count; id++)
        connected +=
            self->coordinators[id].present && self->coordinators[id].connected;
    return connected;
}

bool pl_window_flushing(const pl_window_t *self)
{
    return self->flushing;
}

void pl_window_loss(const pl_window_t *self, pl_window_loss_t *loss)
{
    *loss = (pl_window_loss_t){.never_sent =
                                   self->open_records + self->returned};
    for (size_t k = 0; k < self->config.slots; k++) {
        const s_slot_t *slot = &self->slots[k];
        bool refused = slot->state == S_WAITING && slot->timeouts == 0 &&
                       (slot->cause == PL_WINDOW_CAUSE_FULL ||
                        slot->cause == PL_WINDOW_CAUSE_DRAINING);
        if (slot->state == S_FREE)
            continue;
        if (slot->attempts == 0)
            loss->never_sent += slot->records;
        else if (refused && slot->cause == PL_WINDOW_CAUSE_FULL)
            loss->refused_full += slot->records;
        else if (refused)
            loss->refused_draining += slot->records;
        else
            loss->maybe_stored += slot->records; /* an answer may be lost */
    }
}

const pl_window_counters_t *pl_window_counters(const pl_window_t *self)
{
    return &self->counters;
}
