/* sc_writer: how a worker gets one chunk into the database, as a pure engine
 * (see sc_engine.h). The worker (the shell) does what sc_writer_next says
 * and reports the outcome; it never decides itself.
 *
 * Rules for a chunk of N records:
 *  - write it whole in one transaction;
 *  - TRANSIENT (busy, connection lost): retry after a backoff of retry_base
 *    doubling per consecutive failure up to retry_max, jittered uniformly
 *    over its upper half (workers do not retry in step); each failure counts
 *    toward the breaker (sc_breaker); after retry_limit consecutive
 *    failures the breaker is tripped, and from then on the chunk is tried
 *    once each time the breaker half-opens. A chunk is never given up;
 *  - PERMANENT (the database refuses the data): isolate: write the chunk
 *    again record by record; a record refused on its own is dead-lettered
 *    (DEAD_LETTER); a dead-letter write that fails is retried after the
 *    same backoff, without touching the database's breaker (then the
 *    record is written again);
 *  - when every record is stored or dead-lettered and some were
 *    dead-lettered, the dead-letter file is synced (SYNC, retried after the
 *    backoff, the breaker untouched) before DONE: an ack means on disk.
 * Idle, the engine asks for a ping every SC_WRITER_PING_INTERVAL_MS since
 * the last contact with the database while the breaker allows (for
 * /ready). One thread (the worker). */
#ifndef SC_WRITER_H
#define SC_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sc_breaker.h"
#include "sc_engine.h"
#include "sc_sink.h"

/* An idle worker checks its database this often (for /ready). */
#define SC_WRITER_PING_INTERVAL_MS 1000

typedef struct {
    uint32_t retry_limit;        /* quick retries before the breaker */
    int64_t retry_base_ns;       /* first backoff */
    int64_t retry_max_ns;        /* backoff cap */
    uint32_t breaker_threshold;  /* consecutive failures that open it */
    int64_t breaker_timeout_ns;  /* how long it stays open */
    sc_engine_random_fn *random; /* jitter source */
    void *random_arg;            /* its argument */
} sc_writer_config_t;

typedef enum {
    SC_WRITER_IDLE = 0,        /* no chunk: wait for one (or the ping) */
    SC_WRITER_PING = 1,        /* idle: check the database now */
    SC_WRITER_WRITE = 2,       /* write records [index, index + count) */
    SC_WRITER_WAIT = 3,        /* nothing until `until_ns` */
    SC_WRITER_DEAD_LETTER = 4, /* append record `index` to the DLQ */
    SC_WRITER_SYNC = 5,        /* fsync the dead-letter file */
    SC_WRITER_DONE = 6,        /* report the chunk with sc_writer_counts */
} sc_writer_step_t;

typedef struct {
    sc_writer_step_t step;
    size_t index;     /* WRITE, DEAD_LETTER */
    size_t count;     /* WRITE */
    int64_t until_ns; /* WAIT; IDLE: the next ping (SC_ENGINE_NEVER: none) */
} sc_writer_action_t;

/* What an outcome meant, for the shell's logs and metrics. */
typedef enum {
    SC_WRITER_STORED = 0,  /* the records are in the database */
    SC_WRITER_RETRY = 1,   /* transient: backing off (a retry counted) */
    SC_WRITER_ISOLATE = 2, /* the chunk was refused: one by one now */
    SC_WRITER_REFUSED = 3, /* one record refused: dead-letter it next */
    SC_WRITER_SETTLED = 4, /* dead-letter line or sync done */
} sc_writer_outcome_t;

typedef struct {
    size_t written;
    size_t duplicates;
    size_t dead_lettered;
} sc_writer_counts_t;

typedef struct _sc_writer_t sc_writer_t;

/* An idle writer with a closed breaker whose first ping is due at once.
 * Caller owns it. */
sc_writer_t *sc_writer_new(const sc_writer_config_t *config, int64_t now_ns);

/* Frees; tolerates NULL and sets *self_p to NULL. */
void sc_writer_destroy(sc_writer_t **self_p);

/* A new chunk of `count` (>= 1) records; the writer must be idle. */
void sc_writer_begin(sc_writer_t *self, size_t count);

/* What to do now. */
void sc_writer_next(sc_writer_t *self, int64_t now_ns,
                    sc_writer_action_t *action);

/* The outcome of the WRITE just done (counts with SC_SINK_OK). */
sc_writer_outcome_t sc_writer_wrote(sc_writer_t *self, sc_sink_status_t status,
                                    const sc_sink_counts_t *counts,
                                    int64_t now_ns);

/* The outcome of the DEAD_LETTER (0 appended, -1 failed) or SYNC just
 * done. */
sc_writer_outcome_t sc_writer_dead_lettered(sc_writer_t *self, int result,
                                            int64_t now_ns);
sc_writer_outcome_t sc_writer_synced(sc_writer_t *self, int result,
                                     int64_t now_ns);

/* A PING was just done (whatever its outcome: pings never move the
 * breaker); the next is due SC_WRITER_PING_INTERVAL_MS later. */
void sc_writer_pinged(sc_writer_t *self, int64_t now_ns);

/* After DONE: the chunk's counts; the writer is idle again. */
sc_writer_counts_t sc_writer_finish(sc_writer_t *self);

/* Consecutive transient failures of the current step (1 on the first). */
uint32_t sc_writer_attempt(sc_writer_t *self);

/* The breaker's state as of the last call. */
sc_breaker_state_t sc_writer_breaker(sc_writer_t *self);

#endif
