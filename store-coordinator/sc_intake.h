/* sc_intake: the core's decisions, as a pure engine (see sc_engine.h).
 *
 * It owns the queue (sc_queue) and the depth level machine (sc_watermark)
 * and decides:
 *  - admit: a decoded batch is queued whole, acked at once (empty),
 *    recognised as a resend of a batch it still holds (v1.1: same
 *    producer_id, session and batch_seq: not queued again, the ack will go
 *    to the newest envelope), or refused with a nack reason, a code, a
 *    detail and a retry hint (`full`: the time the sink needs to free the
 *    missing room at the smoothed drain rate, 5..5000 ms, 100 ms while
 *    nothing drains, the breaker timeout while a breaker is open or the
 *    sink is down;
 *    `draining`: 1000 ms; `malformed`: 0, at most one log line per 10 s);
 *  - credits (ingest.md 4.4, 4.5) on every reply, per producer
 *    (producer_id + session): a share, among the active producers by
 *    weight x class multiplier, of the target depth scaled by its class's
 *    factor of the
 *    pressure (critical 1, normal 1 - p, bulk 1 - 2p), never more than
 *    its records in flight plus the room left (critical: up to the
 *    capacity); while a critical producer is active, other batches may
 *    not fill the reserve above the high watermark; see
 *    store-coordinator/README.md "Credits";
 *  - dispatch: which idle worker gets which chunk (a full chunk at once; a
 *    partial one after batch_timeout, when the input is idle and eager
 *    dispatch is on, or while draining);
 *  - the level (feedback.md 6 and 6.4) after every change: the highest of
 *    the depth level (sc_watermark, hysteresis and dwell), the sojourn
 *    level (the oldest uncommitted record's age above the target for the
 *    interval: SOFT, at 4x the target HARD) and the sink level (every
 *    worker's breaker open, no commit for the stall timeout while records
 *    wait, or a dead-letter file that cannot be written: `sink_down`, HARD
 *    at once; after the next commit the sink pressure ramps from 1 to 0
 *    over the recovery time, `recovered`); steps down wait for the dwell;
 *  - the drain rate (an exponential average over 1 s windows of records
 *    committed) and the commit latency (dispatch to commit, averaged);
 *  - drain: after sc_intake_drain, everything queued is dispatched; once
 *    the queue is empty the drain is FLUSHED; at the drain deadline
 *    (drain_timeout, or now after sc_intake_hurry) it is EXPIRED and the
 *    shell takes every unwritten chunk with sc_intake_abandon to
 *    dead-letter it.
 * Acks come out of sc_intake_done / sc_intake_dead_lettered through an
 * sc_intake_ack_fn with the tag given to sc_intake_admit (the shell's reply
 * envelope). The shell calls sc_intake_update after every input and arms
 * its timer at sc_intake_deadline. One thread (the core). */
#ifndef SC_INTAKE_H
#define SC_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>
#include <mdbp/ingest.h>
#include "sc_breaker.h"
#include "sc_engine.h"
#include "sc_queue.h"
#include "sc_snapshot.h"
#include "sc_watermark.h"

/* Retry hints (ms) of `nack full` and `nack draining`. */
#define SC_INTAKE_RETRY_AFTER_MIN_MS 5
#define SC_INTAKE_RETRY_AFTER_MAX_MS 5000
#define SC_INTAKE_RETRY_AFTER_IDLE_MS 100
#define SC_INTAKE_RETRY_AFTER_DRAINING_MS 1000
/* The drain rate is measured over windows of this length. */
#define SC_INTAKE_DRAIN_RATE_WINDOW_MS 1000
/* At most one malformed-message log line per this interval. */
#define SC_INTAKE_MALFORMED_LOG_INTERVAL_MS 10000
/* While records wait (or the sink recovers) the age, the stall and the
 * ramp are re-evaluated at least this often. */
#define SC_INTAKE_REFRESH_MS 50
/* A producer counts as active (for credit shares) while it has records in
 * flight or sent a batch within this time. */
#define SC_INTAKE_PRODUCER_ACTIVE_MS 5000
/* Producers (producer_id + session) tracked for credits and resends; more
 * at once are served as untracked (a share, no resend detection). */
#define SC_INTAKE_PRODUCERS_MAX 256
/* Critical first (ingest.md 4.5): critical producers share the target
 * among themselves by weight, up to this part of it while producers of
 * other classes are active (they keep the rest, so a greedy feed labelled
 * critical by mistake cannot starve them; 0.9 capped a live feed at 89 %
 * of what the store wrote in bench/classes, where the producers' CPU
 * took the store below its rate alone); the others share what the
 * critical ones leave, by weight times their class's multiplier: under
 * plain overload, where credits keep the level at OK and the pressure at
 * 0, normal and bulk still split it 2 : 1; pressure then cuts bulk first
 * (1 - 2p), normal next (1 - p), critical never. */
#define SC_INTAKE_CRITICAL_SHARE_MAX 0.95
#define SC_INTAKE_CLASS_MULTIPLIER_CRITICAL 1
#define SC_INTAKE_CLASS_MULTIPLIER_NORMAL 2
#define SC_INTAKE_CLASS_MULTIPLIER_BULK 1
/* The sojourn pressure reaches 1 (HARD) at this multiple of the target. */
#define SC_INTAKE_SOJOURN_HARD_FACTOR 4

typedef struct {
    size_t capacity;                 /* queue capacity, records */
    sc_watermark_config_t watermark; /* thresholds, dead-band, dwell */
    size_t workers;                  /* 1 .. SC_WORKERS_MAX */
    size_t batch_size;               /* records per chunk, at most */
    int64_t batch_timeout_ns;        /* longest wait for a full chunk */
    bool batch_eager;                /* partial chunks when input is idle */
    int64_t drain_timeout_ns;        /* flush budget after sc_intake_drain */
    uint32_t breaker_timeout_ms;     /* retry hint while a breaker is open */
    int64_t sojourn_target_ns;       /* oldest-record age target; 0: off */
    int64_t sojourn_interval_ns;     /* above the target this long: SOFT */
    int64_t stall_ns;                /* no commit this long: down; 0: off */
    int64_t recovery_ns;             /* sink pressure ramp after down */
} sc_intake_config_t;

typedef enum {
    SC_INTAKE_QUEUED = 0, /* in the queue; acked when committed */
    SC_INTAKE_ACK = 1,    /* nothing to store (empty batch): ack now */
    SC_INTAKE_NACK = 2,   /* refused: nack with reason/code/retry/detail */
    SC_INTAKE_RESENT = 3, /* a batch still held: the engine keeps the new
                             tag; free `replaced` (the old one) unanswered */
} sc_intake_verdict_t;

/* A decoded batch (or, for sc_intake_malformed, what of its header was
 * read: producer_id "" and session 0 when nothing). */
typedef struct {
    const char *producer_id;
    uint64_t session; /* v1.1; 0 = absent */
    uint64_t batch_seq;
    mdbp_priority_t priority; /* v1.1 class; NORMAL when absent */
    uint32_t weight;          /* v1.1 share weight; 0 = absent (1) */
    const mdbp_record_t *records;
    size_t count;
    void *tag; /* the reply envelope, the shell's */
} sc_intake_batch_t;

typedef struct {
    sc_intake_verdict_t verdict;
    mdbp_nack_reason_t reason;        /* with SC_INTAKE_NACK */
    mdbp_nack_code_t code;            /* with SC_INTAKE_NACK */
    uint32_t retry_after_ms;           /* with SC_INTAKE_NACK */
    char detail[MDBP_REASON_MAX + 1]; /* with SC_INTAKE_NACK */
    char field[MDBP_FIELD_MAX + 1];   /* with SC_INTAKE_NACK, or "" */
    bool has_record_index;
    uint32_t record_index;
    uint64_t session; /* echoed (0: absent) */
    uint32_t credit;  /* for every reply */
    void *replaced;   /* with SC_INTAKE_RESENT: the older tag */
    /* Malformed only: log this one (false: rate-limited), and how many
     * were not logged since the last line. */
    bool log;
    uint64_t suppressed;
} sc_intake_admission_t;

/* A batch is complete: answer `tag` (NULL-free) with an ack. */
typedef struct {
    void *tag;
    uint64_t batch_seq;
    uint64_t session; /* echoed (0: absent) */
    uint32_t credit;
    size_t written;
    size_t duplicates;
    size_t dead_lettered;
} sc_intake_ack_t;

typedef void(sc_intake_ack_fn)(const sc_intake_ack_t *ack, void *arg);

/* One chunk for one worker: send `chunk` to worker `worker`. */
typedef struct {
    size_t worker;
    sc_chunk_t chunk;
} sc_intake_dispatch_t;

typedef enum {
    SC_INTAKE_DRAIN_NONE = 0,    /* not draining, or not finished yet */
    SC_INTAKE_DRAIN_FLUSHED = 1, /* every record committed: finish now */
    SC_INTAKE_DRAIN_EXPIRED = 2, /* deadline: abandon the rest, finish */
} sc_intake_drain_t;

/* What sc_intake_update found. */
typedef struct {
    sc_snapshot_t snapshot;  /* the whole state, read together */
    bool drain_rate_changed; /* a window closed */
    sc_intake_drain_t drain; /* reported once */
} sc_intake_update_t;

/* A worker's health as it reported it (retry hints, sink state). */
typedef struct {
    sc_breaker_state_t breaker;
    bool retrying;    /* backing off after a transient failure */
    bool dlq_failing; /* its dead-letter file cannot be written */
} sc_intake_worker_t;

typedef struct _sc_intake_t sc_intake_t;

/* An engine with an empty queue at level OK at `now_ns`. NULL when memory
 * is short. Allocates the queue and one chunk buffer of batch_size records
 * per worker. Caller owns it. */
sc_intake_t *sc_intake_new(const sc_intake_config_t *config, int64_t now_ns);

/* Frees; tolerates NULL and sets *self_p to NULL. Tags still held are not
 * touched: call sc_intake_discard first. */
void sc_intake_destroy(sc_intake_t **self_p);

/* A decoded batch (the records are copied). On SC_INTAKE_QUEUED and
 * SC_INTAKE_RESENT the engine keeps batch->tag until the batch is acked;
 * otherwise the tag stays the caller's, to answer with `out`. */
void sc_intake_admit(sc_intake_t *self, const sc_intake_batch_t *batch,
                     int64_t now_ns, sc_intake_admission_t *out);

/* A message that could not be decoded: `error` from the decoder (its code,
 * field and record index go into the nack), `header` what of the batch was
 * read (may be NULL). A nack malformed, logged at most once per
 * SC_INTAKE_MALFORMED_LOG_INTERVAL_MS. */
void sc_intake_malformed(sc_intake_t *self, const sc_intake_batch_t *header,
                         const mdbp_error_t *error, int64_t now_ns,
                         sc_intake_admission_t *out);

/* Worker `worker`'s health as it last reported it. */
void sc_intake_worker(sc_intake_t *self, size_t worker,
                      const sc_intake_worker_t *health);

/* Chunks for idle workers now; `input_idle`: the ingest socket has nothing
 * more to read (eager dispatch may send a partial chunk). Fills at most
 * `workers` entries of `out` and returns how many. Each chunk's records
 * live in the engine's buffer for that worker until its sc_intake_done. */
size_t sc_intake_dispatch(sc_intake_t *self, int64_t now_ns, bool input_idle,
                          sc_intake_dispatch_t *out);

/* Worker `worker` committed chunk `chunk_id` with these counts; `fn` gets
 * every batch now complete (its newest tag: ack it). Returns 0, or -1 when
 * the chunk was already settled (abandoned at the drain deadline) or is not
 * that worker's. The worker is idle afterwards either way. */
int sc_intake_done(sc_intake_t *self, size_t worker, uint64_t chunk_id,
                   size_t written, size_t duplicates, size_t dead_lettered,
                   int64_t now_ns, sc_intake_ack_fn *fn, void *arg);

/* Begins the drain: new batches are nacked draining from now on; the
 * deadline is now + drain_timeout. Idempotent. */
void sc_intake_drain(sc_intake_t *self, int64_t now_ns);

/* During a drain: the deadline is now (the second signal). */
void sc_intake_hurry(sc_intake_t *self, int64_t now_ns);

/* After SC_INTAKE_DRAIN_EXPIRED (or at teardown): the next chunk nobody
 * will write, waiting or held by a worker; returns its count (0: none
 * left). The chunk's records stay valid until the next call. */
size_t sc_intake_abandon(sc_intake_t *self, sc_chunk_t *chunk);

/* An abandoned chunk is safe in the dead-letter file: its batches complete
 * (acked through `fn`) with its records dead-lettered. */
void sc_intake_dead_lettered(sc_intake_t *self, const sc_chunk_t *chunk,
                             sc_intake_ack_fn *fn, void *arg);

/* The core's own dead-letter write failed (at the drain deadline): the
 * batches stay unacked and the sink counts as down (HARD). */
void sc_intake_dead_letter_failed(sc_intake_t *self);

/* Teardown without a drain: every tag still held goes to `fn` (to be
 * freed, not answered). */
void sc_intake_discard(sc_intake_t *self, sc_intake_ack_fn *fn, void *arg);

/* Re-evaluates the level, the drain signals and the drain at `now_ns`
 * (call after every input and at the deadline). */
void sc_intake_update(sc_intake_t *self, int64_t now_ns,
                      sc_intake_update_t *out);

/* When the engine next needs sc_intake_update (and sc_intake_dispatch)
 * without any input: the end of the drain-rate window, a partial chunk's
 * batch timeout, the end of a dwell that holds a step down, the drain
 * deadline, the next refresh while records wait or the sink recovers. */
int64_t sc_intake_deadline(sc_intake_t *self);

/* Readers for the shell (logs). */
size_t sc_intake_depth(sc_intake_t *self);
size_t sc_intake_capacity(sc_intake_t *self);
mdbp_level_t sc_intake_level(sc_intake_t *self);
bool sc_intake_draining(sc_intake_t *self);

#endif
