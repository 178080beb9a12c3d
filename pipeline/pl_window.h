/* pl_window: the send window, a pure state machine (engine of pl_sender).
 *
 * It decides when a batch closes, which batch is sent or sent again, and
 * when the sender may read more records; the pl_sender shell owns the
 * sockets and the bytes and does what the engine's actions say. No
 * sockets, no clock: every call takes `now` (monotonic ns), and
 * pl_window_deadline() says when the engine next needs a call.
 *
 * Records enter the open batch (pl_window_fill, at most pl_window_room). The
 * open batch is sealed into a free slot when it holds `batch_records`, when
 * it is `batch_ns` old, or while a flush runs (action SEAL). A slot is in one
 * of three states:
 *
 *   FREE --SEAL--> WAITING (due now, or when the nack backoff ends)
 *   WAITING --due, no backoff: SEND, pl_window_sent(ok)--> IN_FLIGHT
 *   WAITING --pl_window_sent(failed): no connection--> WAITING (that
 *                              coordinator skipped for retry_ns)
 *   IN_FLIGHT --ack--> FREE
 *   IN_FLIGHT --nack malformed--> FREE (dropped: the store will never take
 *                                 it; counted as rejected)
 *   IN_FLIGHT --nack full|draining--> WAITING (due now, elsewhere: that
 *                                 coordinator backs off for retry_after,
 *                                 or after draining takes nothing new)
 *   IN_FLIGHT --ack timeout--> WAITING (due now, cause timeout); the timeout
 *                              of a slot doubles after each of its timeouts,
 *                              at most 2^PL_WINDOW_BACKOFF_SHIFT_MAX times
 *                              (acks come after the commit: a slow database
 *                              must not get ever more copies)
 *   IN_FLIGHT --its coordinator's connection (re)established--> WAITING
 *                              (due now, cause reconnect: a restarted
 *                              coordinator lost it)
 *
 * Several coordinators (issue 11, item 4): the shell adds one engine
 * coordinator per address it connects (pl_window_coordinator_add) and
 * tells it that coordinator's events (connected = ZMTP handshake done,
 * disconnected, replies). Each has its own credit, its own unacked
 * records, its own nack backoff and its going_away. A batch goes to the
 * *eligible* coordinator with the most room (credit - unacked there;
 * ties: the fewest unacked, then in turn), where eligible means connected,
 * not backing off after a nack full, not going away (a nack draining, until
 * it reconnects or PL_WINDOW_GOING_AWAY_NS pass). A hung coordinator (a
 * SIGSTOPped process: no reply and no ZMTP heartbeat answered) is seen
 * as a disconnect by the shell's heartbeats; before that, its credit
 * bounds what waits there. A batch is cut to the largest room, so a coordinator
 * at HARD (credit 0) gets nothing new and nothing waits for it while another
 * has credit; with no room anywhere records stay in the open batch and the
 * producer blocks (a provider pauses only when all are full).
 * A batch in flight at a coordinator that disconnects stays charged to it
 * until its ack timeout (a hung coordinator that resumes still commits and
 * answers it: resending at once would make a copy in another store); then
 * it goes wherever the room is, first to the coordinator that may hold it.
 * Only when the reconnect is refused (pl_window_unreachable: nothing
 * listens, the process died) does it go elsewhere at once.
 * A send to another coordinator than the one that may hold the batch is
 * counted (records_moved): the only source of duplicates across stores.
 * Batches parked at a disconnected coordinator do not count against the
 * window of `slots` (the others keep their full window); they use up to as
 * many extra slots (PL_WINDOW_PARKED_FACTOR): memory stays bounded.
 *
 * v1.1 (proto/ingest.md 4.4 and 5):
 *
 * - Session: every batch carries the run's `session`; a reply carrying
 *   another session (a previous run with the same routing id) is FOREIGN
 *   and ignored.
 * - Credits: a batch is cut to fit the coordinator's grant: unacked
 *   records never exceed the last `credit` of a reply; before the first
 *   reply from a coordinator, at most min(credit_initial, capacity)
 *   records unacked there, or PL_WINDOW_FIRST_RECORDS when no feedback
 *   said credit_initial (a conservative initial credit: a coordinator
 *   that never answers holds at most that much); after a reply without
 *   `credit` (v1) only the window limits. With credit 0 and nothing in
 *   flight, one batch of the first size may go when credit_initial is
 *   nonzero, or without feedback after the reply's retry hint (ingest.md
 *   4.4).
 * - Capacity: batches are cut to the coordinators' queue capacity (from
 *   feedback, pl_window_set_limits); a batch nacked `over_capacity` is
 *   SPLIT: its slot is freed and its records come back to the shell, which
 *   fills them again (in batches now cut to fit), before new records: never
 *   dropped.
 * - Alive but slow is not lost: while every coordinator's feedback is
 *   fresh (limits.alive) and the batch's coordinator is connected (its
 *   ZMTP heartbeats answered) an in-flight batch is not timed out (its
 *   timer is re-armed); it is resent on a reconnect, or once the feedback
 *   goes silent or the connection drops.
 *
 * Flush: pl_window_flush() seals at once and reports FLUSHED when nothing
 * is left (no open record, no slot used, no input pending) or at the
 * deadline; pl_window_hurry() moves the deadline to now. Not thread-safe:
 * owned by the sender actor. */
#ifndef PL_WINDOW_H
#define PL_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/ingest.h>

/* Ack timeouts double per timeout of a batch, at most this many times. */
#define PL_WINDOW_BACKOFF_SHIFT_MAX 3
/* Records unacked at a coordinator before its first reply, when no
 * feedback said credit_initial (ingest.md 4.4). */
#define PL_WINDOW_FIRST_RECORDS 500
/* pl_window_deadline() when nothing is due. */
#define PL_WINDOW_NEVER INT64_MAX
/* Slot indices per window slot: `slots` batches at connected coordinators
 * plus as many parked at disconnected (hung) ones until their timeout. */
#define PL_WINDOW_PARKED_FACTOR 2
/* Coordinators known at most (one per connected address). */
#define PL_WINDOW_COORDINATORS_MAX 64
/* A coordinator that said draining gets nothing new for this long unless
 * it reconnects first (a restarted one). */
#define PL_WINDOW_GOING_AWAY_NS (10 * INT64_C(1000000000))

typedef struct {
    size_t slots;           /* unacknowledged batches at most */
    size_t batch_records;   /* records per batch at most */
    int64_t batch_ns;       /* an open batch waits at most this long */
    int64_t ack_timeout_ns; /* first ack timeout of a batch */
    int64_t retry_ns;       /* after a failed send or a disconnect */
    int64_t nack_retry_ns;  /* after a nack with retry_after_ms = 0 */
    uint64_t session;       /* v1.1: this run's, nonzero; 0: v1 (none) */
} pl_window_config_t;

/* What feedback says (pl_feedback_limits): 0 / false when unknown. */
typedef struct {
    uint64_t capacity; /* smallest queue capacity */
    bool has_credit_initial;
    uint32_t credit_initial;
    bool alive; /* every known coordinator's feedback is fresh */
} pl_window_limits_t;

/* Why a slot is sent again (the `cause` label of the resend counter). */
typedef enum {
    PL_WINDOW_CAUSE_NONE = 0, /* first send */
    PL_WINDOW_CAUSE_TIMEOUT = 1,
    PL_WINDOW_CAUSE_RECONNECT = 2,
    PL_WINDOW_CAUSE_DISCONNECT = 3,
    PL_WINDOW_CAUSE_FULL = 4,
    PL_WINDOW_CAUSE_DRAINING = 5,
    PL_WINDOW_CAUSE_COUNT = 6,
} pl_window_cause_t;

/* "none", "timeout", "reconnect", "disconnect", "full", "draining". */
const char *pl_window_cause_name(pl_window_cause_t cause);

typedef enum {
    PL_WINDOW_SEAL = 1,      /* encode the open batch into `slot` */
    PL_WINDOW_SEND = 2,      /* send `slot`, then pl_window_sent() */
    PL_WINDOW_TIMED_OUT = 3, /* `slot` timed out (for the log) */
    PL_WINDOW_FLUSHED = 4,   /* the flush ended: `records` unacked */
} pl_window_action_kind_t;

typedef struct {
    pl_window_action_kind_t kind;
    size_t slot;
    int coordinator; /* SEND: where to (pl_window_coordinator_add id) */
    uint64_t batch_seq;
    size_t records;          /* of the slot; FLUSHED: records not acked */
    uint32_t attempts;       /* sends of the slot so far */
    pl_window_cause_t cause; /* SEND: why (NONE for a first send) */
} pl_window_action_t;

/* What a reply did (pl_window_ack / pl_window_nack). */
typedef enum {
    PL_WINDOW_ACKED = 0,    /* slot freed */
    PL_WINDOW_REJECTED = 1, /* nack malformed: slot freed, records dropped */
    PL_WINDOW_BACKOFF = 2,  /* nack full|draining: resend after retry */
    PL_WINDOW_LATE = 3,     /* no slot holds that batch_seq: ignored */
    PL_WINDOW_FOREIGN = 4,  /* another session's reply: ignored */
    PL_WINDOW_SPLIT = 5,    /* over_capacity: slot freed, records returned */
} pl_window_reply_t;

typedef struct {
    size_t slot;
    size_t records;
    int64_t latency_ns; /* ack: since the last send of the slot */
} pl_window_outcome_t;

/* Totals since creation, for /status. */
typedef struct {
    uint64_t records_sent;   /* first sends */
    uint64_t records_resent; /* sends after the first */
    uint64_t records_acked;
    uint64_t records_rejected;
    uint64_t batches_sent;
    uint64_t timeouts;
    uint64_t deferred; /* timeouts not taken: the coordinator is alive */
    uint64_t foreign;  /* replies of another session ignored */
    uint64_t splits;   /* batches split (over_capacity) */
    /* records_rejected by the nack's code (NONE: a v1 coordinator's or an
     * encoding failure) */
    uint64_t rejected_by_code[MDBP_NACK_CODE_UNKNOWN + 1];
    /* records sent to another coordinator than the one that may hold
     * them (after a timeout): possible duplicates across stores */
    uint64_t records_moved;
} pl_window_counters_t;

/* Where the records the window holds are, for the shutdown report (issue
 * 15): each is counted once. */
typedef struct {
    uint64_t never_sent;   /* the open batch, sealed batches never sent and
                              records returned by a split */
    uint64_t maybe_stored; /* sent, no answer (in flight, timed out, lost
                              with a connection): an ack may be lost */
    uint64_t refused_full;     /* last answer nack full: not stored */
    uint64_t refused_draining; /* last answer nack draining: not stored */
} pl_window_loss_t;

/* One coordinator as the engine sees it (pl_window_coordinator). */
typedef struct {
    bool present;    /* added and not removed */
    bool connected;  /* handshake done, not disconnected since */
    bool going_away; /* said draining; nothing new until it reconnects */
    bool eligible;   /* may get a new batch now (credit aside) */
    size_t credit;   /* in force; SIZE_MAX: none (v1) */
    size_t unacked_records;
    size_t unacked_batches;
    int64_t backoff_until_ns; /* no send there before (nack full) */
    int64_t heard_ns;         /* last reply or connect */
} pl_window_coordinator_view_t;

typedef struct _pl_window_t pl_window_t;

/* An empty window; config copied (slots, batch_records > 0). Returns NULL
 * when out of memory. Caller owns the result. */
pl_window_t *pl_window_new(const pl_window_config_t *config);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_window_destroy(pl_window_t **self_p);

/* Records the open batch can take now (0 while it is full). */
size_t pl_window_room(const pl_window_t *self);

/* `records` (<= pl_window_room) entered the open batch at `now`; the first
 * starts its age. */
void pl_window_fill(pl_window_t *self, size_t records, int64_t now);

/* The next action due at `now`, into `action`. Returns false when there is
 * none. SEAL and TIMED_OUT change the state as they are returned; a SEND is
 * returned again until pl_window_sent() reports on it. `input_pending`
 * says whether the shell holds records not yet filled (a flush waits for
 * them). */
bool pl_window_next(pl_window_t *self, int64_t now, bool input_pending,
                    pl_window_action_t *action);

/* The SEND `action` (its slot, to its coordinator) succeeded (`sent`) or
 * could not leave now (that coordinator is then skipped for retry_ns). */
void pl_window_sent(pl_window_t *self, const pl_window_action_t *action,
                    bool sent, int64_t now);

/* The SEAL of `slot` could not be encoded: the slot is freed and its
 * records counted as rejected. */
void pl_window_drop(pl_window_t *self, size_t slot);

/* An ack of `batch_seq`. Returns ACKED (outcome filled) or LATE. */
pl_window_reply_t pl_window_ack(pl_window_t *self, uint64_t batch_seq,
                                int64_t now, pl_window_outcome_t *outcome);

/* A nack of `batch_seq`. Returns REJECTED, BACKOFF or LATE. */
pl_window_reply_t pl_window_nack(pl_window_t *self, uint64_t batch_seq,
                                 mdbp_nack_reason_t reason,
                                 uint32_t retry_after_ms, int64_t now,
                                 pl_window_outcome_t *outcome);

/* A decoded reply from `coordinator`: checks the session, takes the credit,
 * then acts as pl_window_ack / pl_window_nack; a nack `malformed` with code
 * over_capacity (or, from a v1 coordinator, its spec'd detail "batch of N
 * records exceeds the queue capacity C") is SPLIT: the shell must give the
 * slot's records back with pl_window_return() before it fills new ones.
 * Returns what happened (outcome filled unless FOREIGN or LATE). */
pl_window_reply_t pl_window_reply(pl_window_t *self, int coordinator,
                                  const mdbp_reply_t *reply, int64_t now,
                                  pl_window_outcome_t *outcome);

/* The shell holds `records` returned by SPLITs, not yet filled again (it
 * fills them first; a flush waits for them). */
void pl_window_return(pl_window_t *self, size_t records);

/* New feedback limits (capacity, credit_initial, alive). */
void pl_window_set_limits(pl_window_t *self, const pl_window_limits_t *limits,
                          int64_t now);

/* The batch size in force: batch_records cut to the capacity. */
size_t pl_window_batch_limit(const pl_window_t *self);

/* A new coordinator (an address the shell connected), not connected yet.
 * Returns its id (>= 0), or -1 when PL_WINDOW_COORDINATORS_MAX are known. */
int pl_window_coordinator_add(pl_window_t *self);

/* The coordinator is gone (its address vanished from DNS): batches in
 * flight there wait for a send elsewhere, due now (cause disconnect); the
 * id may be reused. */
void pl_window_coordinator_remove(pl_window_t *self, int coordinator,
                                  int64_t now);

/* `coordinator`'s connection was established (handshake) / lost. */
void pl_window_connected(pl_window_t *self, int coordinator, int64_t now);
void pl_window_disconnected(pl_window_t *self, int coordinator, int64_t now);

/* A reconnect to `coordinator` was refused (nothing listens: the process
 * died): its batches in flight go elsewhere now (cause disconnect). */
void pl_window_unreachable(pl_window_t *self, int coordinator, int64_t now);

/* `coordinator` as of `now` into `view`. */
void pl_window_coordinator(const pl_window_t *self, int coordinator,
                           int64_t now, pl_window_coordinator_view_t *view);

/* Starts a flush ending at `deadline_ns` at the latest. */
void pl_window_flush(pl_window_t *self, int64_t deadline_ns);
/* A running flush ends at `now` (stop waiting for acks). */
void pl_window_hurry(pl_window_t *self, int64_t now);

/* When the engine next needs pl_window_next(), PL_WINDOW_NEVER if not
 * before the next input. */
int64_t pl_window_deadline(const pl_window_t *self, int64_t now);

/* Slot indices (action.slot is below it): the shell keeps one buffer per
 * index. slots * PL_WINDOW_PARKED_FACTOR. */
size_t pl_window_slot_count(const pl_window_t *self);

/* Readings. */
size_t pl_window_used(const pl_window_t *self);
size_t pl_window_unacked_records(const pl_window_t *self);
size_t pl_window_open_records(const pl_window_t *self);
uint64_t pl_window_next_seq(const pl_window_t *self);
/* The earliest time a connected coordinator takes a batch after a nack
 * backoff (0 when one takes it now, or none is connected). */
int64_t pl_window_backoff_until(const pl_window_t *self);
/* Coordinators connected now. */
int pl_window_connections(const pl_window_t *self);
/* The credit in force, summed over the connected coordinators: records
 * that may be unacked now (SIZE_MAX: one has none, a v1 coordinator). */
size_t pl_window_credit(const pl_window_t *self);
bool pl_window_flushing(const pl_window_t *self);
const pl_window_counters_t *pl_window_counters(const pl_window_t *self);
/* The records held now, by what is known of them. */
void pl_window_loss(const pl_window_t *self, pl_window_loss_t *loss);

#endif
