/* pl_window: the send window, a pure state machine (engine of pl_sender).
 *
 * Invariant: every record given to pl_window_fill() is counted in exactly
 * one place until it is acked or rejected: the open batch (`open_records`)
 * or one used slot (`unacked_records` is their sum). */
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

struct _pl_window_t {
    pl_window_config_t config;
    s_slot_t *slots;
    size_t used;
    size_t unacked_records;
    size_t open_records;
    int64_t open_started_ns;
    uint64_t next_seq;
    int64_t backoff_until_ns; /* no send before (nack full|draining) */
    int connections;
    bool flushing;
    int64_t flush_deadline_ns;
    pl_window_limits_t limits;
    s_credit_mode_t credit_mode;
    uint32_t credit;         /* GRANTED: the last reply's */
    int64_t credit_retry_ns; /* credit 0, no feedback: one batch after */
    size_t split_limit;      /* batch size after a split (0: none) */
    size_t returned;         /* records the shell holds from a split */
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
    self->slots = calloc(config->slots, sizeof *self->slots);
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

/* The first batch's size: before a reply, or with credit 0 and nothing in
 * flight. */
static size_t s_first_records(const pl_window_t *self)
{
    size_t first = self->limits.has_credit_initial ? self->limits.credit_initial
                                                   : PL_WINDOW_FIRST_RECORDS;
    if (self->limits.capacity > 0 && self->limits.capacity < first)
        first = (size_t)self->limits.capacity;
    return first;
}

/* Records that may be unacked at `now` (SIZE_MAX: no credit in force). */
static size_t s_allowed(const pl_window_t *self, int64_t now)
{
    switch (self->credit_mode) {
    case S_CREDIT_NONE:
        return SIZE_MAX;
    case S_CREDIT_FIRST:
        /* Only a coordinator whose feedback says credit_initial is known
         * to grant credits: the others (v1, or no feedback) get the
         * window, as v1 producers do. */
        if (!self->limits.has_credit_initial)
            return SIZE_MAX;
        return self->used == 0 ? s_first_records(self) : 0;
    case S_CREDIT_GRANTED:
        break;
    }
    if (self->credit > 0 || self->used > 0)
        return self->credit;
    /* Credit 0 and nothing in flight: a credit_initial in the feedback
     * allows one batch; without it, one after the reply's retry hint, so
     * that a reply that cannot come is not waited for forever. */
    if (self->limits.has_credit_initial)
        return self->limits.credit_initial > 0 ? s_first_records(self) : 0;
    return now >= self->credit_retry_ns ? s_first_records(self) : 0;
}

size_t pl_window_credit(const pl_window_t *self)
{
    if (self->credit_mode == S_CREDIT_FIRST)
        return self->limits.has_credit_initial ? s_first_records(self)
                                               : SIZE_MAX;
    return self->credit_mode == S_CREDIT_NONE ? SIZE_MAX : self->credit;
}

/* Records of the open batch that may be sealed now. */
static size_t s_seal_count(const pl_window_t *self, int64_t now)
{
    size_t count = self->open_records;
    size_t limit = pl_window_batch_limit(self);
    if (count > limit)
        count = limit;
    size_t allowed = s_allowed(self, now);
    size_t room =
        allowed > self->unacked_records ? allowed - self->unacked_records : 0;
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
    for (size_t k = 0; k < self->config.slots; k++)
        if (self->slots[k].state == S_FREE) {
            *index = k;
            return &self->slots[k];
        }
    return NULL;
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
    action->batch_seq = slot->batch_seq;
    action->records = slot->records;
    action->attempts = slot->attempts;
    action->cause = slot->cause;
}

static void s_release(pl_window_t *self, s_slot_t *slot)
{
    slot->state = S_FREE;
    self->used--;
    self->unacked_records -= slot->records;
}

bool pl_window_next(pl_window_t *self, int64_t now, bool input_pending,
                    pl_window_action_t *action)
{
    /* 1. Ack timeouts: the batch goes back to waiting, due now. */
    for (size_t k = 0; k < self->config.slots; k++) {
        s_slot_t *slot = &self->slots[k];
        if (slot->state == S_IN_FLIGHT && now >= slot->due_ns &&
            self->limits.alive) {
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
        (slot = s_free_slot(self, &index))) {
        slot->state = S_WAITING;
        slot->batch_seq = self->next_seq++;
        slot->records = count;
        slot->attempts = 0;
        slot->timeouts = 0;
        slot->cause = PL_WINDOW_CAUSE_NONE;
        slot->due_ns = now;
        self->used++;
        self->unacked_records += count;
        /* The rest (cut by the credit or the capacity) stays open, as old
         * as it was: it closes as soon as it may. */
        self->open_records -= count;
        s_fill_action(slot, index, PL_WINDOW_SEAL, action);
        return true;
    }
    /* 3. Due sends, unless the window backs off after a nack. */
    if (now >= self->backoff_until_ns)
        for (size_t k = 0; k < self->config.slots; k++) {
            slot = &self->slots[k];
            if (slot->state == S_WAITING && now >= slot->due_ns) {
                s_fill_action(slot, k, PL_WINDOW_SEND, action);
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
        action->batch_seq = 0;
        action->records = self->unacked_records + self->open_records;
        action->attempts = 0;
        action->cause = PL_WINDOW_CAUSE_NONE;
        return true;
    }
    return false;
}

void pl_window_sent(pl_window_t *self, size_t index, bool sent, int64_t now)
{
    assert(index < self->config.slots);
    s_slot_t *slot = &self->slots[index];
    assert(slot->state == S_WAITING);
    if (!sent) {
        /* No connection (ZMQ_IMMEDIATE) or the pipe is full: later. */
        slot->due_ns = now + self->config.retry_ns;
        return;
    }
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
    assert(index < self->config.slots);
    s_slot_t *slot = &self->slots[index];
    assert(slot->state != S_FREE);
    self->counters.records_rejected += slot->records;
    s_release(self, slot);
}

static s_slot_t *s_find(pl_window_t *self, uint64_t batch_seq, size_t *index)
{
    for (size_t k = 0; k < self->config.slots; k++)
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
    /* full or draining: back off, then resend this one; new batches wait
     * too, so that a full coordinator is not hammered. */
    int64_t retry_ns = retry_after_ms ? (int64_t)retry_after_ms * CMN_NS_PER_MS
                                      : self->config.nack_retry_ns;
    slot->state = S_WAITING;
    slot->due_ns = now + retry_ns;
    slot->cause = reason == MDBP_NACK_DRAINING ? PL_WINDOW_CAUSE_DRAINING
                                                : PL_WINDOW_CAUSE_FULL;
    if (slot->due_ns > self->backoff_until_ns)
        self->backoff_until_ns = slot->due_ns;
    return PL_WINDOW_BACKOFF;
}

static bool s_over_capacity(const mdbp_reply_t *reply)
{
    return reply->reason == MDBP_NACK_MALFORMED &&
           (reply->code == MDBP_NACK_CODE_OVER_CAPACITY ||
            (reply->code == MDBP_NACK_CODE_NONE &&
             strstr(reply->detail, S_OVER_CAPACITY_DETAIL)));
}

pl_window_reply_t pl_window_reply(pl_window_t *self, const mdbp_reply_t *reply,
                                  int64_t now, pl_window_outcome_t *outcome)
{
    if (self->config.session && reply->session &&
        reply->session != self->config.session) {
        self->counters.foreign++;
        return PL_WINDOW_FOREIGN; /* a previous run's: not ours */
    }
    if (reply->has_credit) {
        self->credit_mode = S_CREDIT_GRANTED;
        self->credit = reply->credit;
        int64_t retry_ns =
            reply->type == MDBP_REPLY_NACK && reply->retry_after_ms
                ? (int64_t)reply->retry_after_ms * CMN_NS_PER_MS
                : self->config.nack_retry_ns;
        self->credit_retry_ns = now + retry_ns;
    } else if (self->credit_mode == S_CREDIT_FIRST) {
        self->credit_mode = S_CREDIT_NONE; /* a v1 coordinator */
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

void pl_window_connected(pl_window_t *self, int64_t now)
{
    self->connections++;
    /* Whatever was sent before this connection may have gone to a
     * coordinator that died: send it again now (or when the backoff
     * ends); what waited for a connection may go now too. */
    int64_t due = now > self->backoff_until_ns ? now : self->backoff_until_ns;
    for (size_t k = 0; k < self->config.slots; k++) {
        s_slot_t *slot = &self->slots[k];
        if (slot->state == S_IN_FLIGHT) {
            if (slot->sent_ns < now)
                slot->cause = PL_WINDOW_CAUSE_RECONNECT;
            slot->state = S_WAITING;
            slot->due_ns = due;
        } else if (slot->state == S_WAITING && slot->due_ns > due) {
            slot->due_ns = due;
        }
    }
}

void pl_window_disconnected(pl_window_t *self, int64_t now)
{
    if (self->connections > 0)
        self->connections--;
    /* A batch in flight may have gone to the coordinator that went away,
     * which will never answer. With another still connected, send them
     * again soon rather than after the ack timeout (one DEALER does not
     * say which peer had which). Not at once: the event can come before
     * the socket dropped the dead pipe, and a send into it would be lost
     * again. With none left, the next connection resends them. */
    if (self->connections == 0)
        return;
    for (size_t k = 0; k < self->config.slots; k++) {
        s_slot_t *slot = &self->slots[k];
        if (slot->state != S_IN_FLIGHT)
            continue;
        slot->state = S_WAITING;
        slot->cause = PL_WINDOW_CAUSE_DISCONNECT;
        slot->due_ns = now + self->config.retry_ns;
    }
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

int64_t pl_window_deadline(const pl_window_t *self, int64_t now)
{
    int64_t next = PL_WINDOW_NEVER;
    bool free_slot = self->used < self->config.slots;
    if (self->open_records > 0 && free_slot) {
        if (s_seal_count(self, now) > 0)
            next = s_seal_due(self, now)
                       ? now
                       : self->open_started_ns + self->config.batch_ns;
        else if (self->credit_mode == S_CREDIT_GRANTED && self->used == 0 &&
                 !self->limits.has_credit_initial)
            next = self->credit_retry_ns; /* credit 0: one batch then */
    }
    for (size_t k = 0; k < self->config.slots; k++) {
        const s_slot_t *slot = &self->slots[k];
        if (slot->state == S_IN_FLIGHT)
            next = s_min(next, slot->due_ns);
        else if (slot->state == S_WAITING)
            next = s_min(next, slot->due_ns > self->backoff_until_ns
                                   ? slot->due_ns
                                   : self->backoff_until_ns);
    }
    if (self->flushing)
        next = s_min(next, self->flush_deadline_ns);
    return next;
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
    return self->backoff_until_ns;
}

int pl_window_connections(const pl_window_t *self)
{
    return self->connections;
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
