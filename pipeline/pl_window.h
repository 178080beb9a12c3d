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
 *   WAITING --pl_window_sent(failed): no connection--> WAITING (+retry_ns)
 *   IN_FLIGHT --ack--> FREE
 *   IN_FLIGHT --nack malformed--> FREE (dropped: the store will never take
 *                                 it; counted as rejected)
 *   IN_FLIGHT --nack full|draining--> WAITING (retry_after; every new send
 *                                 waits as long: the window backs off)
 *   IN_FLIGHT --ack timeout--> WAITING (due now, cause timeout); the timeout
 *                              of a slot doubles after each of its timeouts,
 *                              at most 2^PL_WINDOW_BACKOFF_SHIFT_MAX times
 *                              (acks come after the commit: a slow database
 *                              must not get ever more copies)
 *   IN_FLIGHT --a connection (re)established--> WAITING (due now, cause
 *                              reconnect: a restarted coordinator lost it)
 *   IN_FLIGHT --a connection lost, another still up--> WAITING (+retry_ns,
 *                              cause disconnect: failover to the others)
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

#include "proto_ingest.h"

/* Ack timeouts double per timeout of a batch, at most this many times. */
#define PL_WINDOW_BACKOFF_SHIFT_MAX 3
/* pl_window_deadline() when nothing is due. */
#define PL_WINDOW_NEVER INT64_MAX

typedef struct {
    size_t slots;           /* unacknowledged batches at most */
    size_t batch_records;   /* records per batch at most */
    int64_t batch_ns;       /* an open batch waits at most this long */
    int64_t ack_timeout_ns; /* first ack timeout of a batch */
    int64_t retry_ns;       /* after a failed send or a disconnect */
    int64_t nack_retry_ns;  /* after a nack with retry_after_ms = 0 */
} pl_window_config_t;

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
} pl_window_counters_t;

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

/* The SEND of `slot` succeeded (`sent`) or could not leave now. */
void pl_window_sent(pl_window_t *self, size_t slot, bool sent, int64_t now);

/* The SEAL of `slot` could not be encoded: the slot is freed and its
 * records counted as rejected. */
void pl_window_drop(pl_window_t *self, size_t slot);

/* An ack of `batch_seq`. Returns ACKED (outcome filled) or LATE. */
pl_window_reply_t pl_window_ack(pl_window_t *self, uint64_t batch_seq,
                                int64_t now, pl_window_outcome_t *outcome);

/* A nack of `batch_seq`. Returns REJECTED, BACKOFF or LATE. */
pl_window_reply_t pl_window_nack(pl_window_t *self, uint64_t batch_seq,
                                 proto_nack_reason_t reason,
                                 uint32_t retry_after_ms, int64_t now,
                                 pl_window_outcome_t *outcome);

/* A connection to a coordinator was established / lost. */
void pl_window_connected(pl_window_t *self, int64_t now);
void pl_window_disconnected(pl_window_t *self, int64_t now);

/* Starts a flush ending at `deadline_ns` at the latest. */
void pl_window_flush(pl_window_t *self, int64_t deadline_ns);
/* A running flush ends at `now` (stop waiting for acks). */
void pl_window_hurry(pl_window_t *self, int64_t now);

/* When the engine next needs pl_window_next(), PL_WINDOW_NEVER if not
 * before the next input. */
int64_t pl_window_deadline(const pl_window_t *self, int64_t now);

/* Readings. */
size_t pl_window_used(const pl_window_t *self);
size_t pl_window_unacked_records(const pl_window_t *self);
size_t pl_window_open_records(const pl_window_t *self);
uint64_t pl_window_next_seq(const pl_window_t *self);
int64_t pl_window_backoff_until(const pl_window_t *self);
int pl_window_connections(const pl_window_t *self);
bool pl_window_flushing(const pl_window_t *self);
const pl_window_counters_t *pl_window_counters(const pl_window_t *self);

#endif
