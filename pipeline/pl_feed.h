/* pl_feed: a push provider's records on their way to the chunk: the push
 * source, its spool and its conflation table (issue 16; docs/spool.md).
 *
 * The producer actor owns one per push provider and calls it from its
 * loop. A record read from the source goes straight into the chunk only
 * when nothing older waits (spool and conflation table empty), the chunk
 * has room, the producer may hand records over (not blocked on the sender,
 * not stopping) and the bucket grants a token; otherwise it waits: a quote
 * of a conflating feed in the table (latest per symbol), anything else in
 * the spool, in order. Waiting records are drained first, spool then table,
 * as tokens come. With the spool's block policy a refused record is held
 * and the source is not read until there is room again (TCP flow control
 * then pushes back on the writer).
 *
 * A drained spool segment is deleted once the sender's acknowledged count
 * has reached the number of records handed over when it was drained
 * (pl_feed_release). It writes its metrics (pipeline_spool_*,
 * pipeline_conflated_total, pipeline_push_*). Producer thread only. */
#ifndef PL_FEED_H
#define PL_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_conflate.h"
#include "pl_metrics.h"
#include "pl_provider_push.h"
#include "pl_rate_coordinator.h"
#include "pl_spool.h"

typedef struct _pl_feed_t pl_feed_t;

typedef struct {
    pl_push_t *push;   /* taken (nulled) */
    pl_spool_t *spool; /* taken (nulled) */
    bool conflate_quotes;
    pl_spool_recovery_t recovery; /* what the spool's open found */
} pl_feed_config_t;

/* A feed over what `config` holds (taken even on failure). Returns NULL
 * when out of memory. Caller owns the result. */
pl_feed_t *pl_feed_new(pl_feed_config_t *config);

/* Registers and looks up its series for provider `name` (once, in the
 * producer's thread before use). */
void pl_feed_metrics(pl_feed_t *self, pl_metrics_t *metrics, const char *name);

/* Puts the quotes of the conflation table into the spool (so a graceful
 * stop keeps them), closes the spool and the source. Tolerates NULL and
 * sets *self_p to NULL. */
void pl_feed_destroy(pl_feed_t **self_p, int64_t now_wall_ns);

/* The descriptor to poll, and whether it should be polled now (false
 * while a record is held by the block policy). */
int pl_feed_fd(pl_feed_t *self);
bool pl_feed_reading(pl_feed_t *self);
/* Whether it has work without waiting for the descriptor: complete lines
 * buffered (and reading), or waiting records to drain. */
bool pl_feed_buffered(pl_feed_t *self);
bool pl_feed_waiting(pl_feed_t *self);

/* Reads at most `budget` records from the source. Those that may go
 * straight (see above; `may_send`, a token of provider `idx` of `rate`)
 * go into `out` (room `room`); the others wait. Returns how many went into
 * `out`. */
size_t pl_feed_intake(pl_feed_t *self, mdbp_record_t *out, size_t room,
                      bool may_send, pl_rate_coordinator_t *rate, size_t idx,
                      size_t budget, int64_t now_wall_ns);

/* Moves waiting records into `out` (room `room`), one token each, oldest
 * first (spool, then conflated quotes). Returns how many. */
size_t pl_feed_drain(pl_feed_t *self, mdbp_record_t *out, size_t room,
                     pl_rate_coordinator_t *rate, size_t idx,
                     int64_t now_wall_ns);

/* Deletes drained segments once `acked` (the sender's acknowledged
 * records) reaches `handed` as it was when they were drained (`handed`:
 * records made so far by the producer, every provider, the chunk
 * included). */
void pl_feed_release(pl_feed_t *self, uint64_t handed, uint64_t acked);

/* Housekeeping: the age bound, a due fsync, the gauges. Returns the wall
 * time it is next due (INT64_MAX: nothing). */
int64_t pl_feed_tick(pl_feed_t *self, int64_t now_wall_ns);

/* Readings for /status and tests. */
uint64_t pl_feed_spool_records(pl_feed_t *self);
uint64_t pl_feed_conflated(pl_feed_t *self);
uint64_t pl_feed_bad_lines(pl_feed_t *self);
int pl_feed_port(pl_feed_t *self);

#endif
