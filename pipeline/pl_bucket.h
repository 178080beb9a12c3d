/* pl_bucket: a token bucket on an injected clock, with scale, pause and ramp.
 *
 * Tokens refill continuously at `rate * scale` per second up to `capacity`
 * (the burst). A scale of 0.0 is a real pause: nothing is granted, the banked
 * burst included (it is forfeited, so that recovery is governed by the ramp
 * alone). When the scale rises again from 0.0 the effective rate ramps
 * linearly from 0 to `rate * scale` over `ramp_ns`, instead of jumping to
 * full speed. Any change of rate or scale first refills up to now at the old
 * rate, so no token is gained or lost by the change.
 *
 * A bucket is owned by one thread (the producer actor): no locks, so an
 * uncontended take is a clock read and a few arithmetic operations. */
#ifndef PL_BUCKET_H
#define PL_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "cmn_clock.h"

typedef struct _pl_bucket_t pl_bucket_t;

/* pl_bucket_acquire(): the tokens cannot be had before the deadline. */
#define PL_BUCKET_TIMEOUT 1
/* pl_bucket_wait_ns(): the tokens will never come as things stand (paused,
 * rate 0, or more than the capacity). */
#define PL_BUCKET_WAIT_FOREVER INT64_MAX

/* A full bucket of `capacity` tokens refilling at `rate` tokens/s, scale 1.0.
 * `ramp_ns` is the ramp duration after a pause (0: no ramp). The clock is
 * borrowed and must outlive the bucket. Caller owns the result. */
pl_bucket_t *pl_bucket_new(cmn_clock_t *clock, double capacity, double rate,
                           int64_t ramp_ns);

/* Destroys the bucket; tolerates NULL and sets *self_p to NULL. */
void pl_bucket_destroy(pl_bucket_t **self_p);

/* Takes `n` tokens if they are all available now. Returns true if taken. */
bool pl_bucket_try(pl_bucket_t *self, double n);

/* Takes as many whole tokens as are available, at most `max`. Returns how
 * many were taken (0 while paused). */
uint64_t pl_bucket_take(pl_bucket_t *self, uint64_t max);

/* Waits (sleeping on a system clock, advancing a virtual one) until `n`
 * tokens are taken. Returns 0, or PL_BUCKET_TIMEOUT at once when they cannot
 * be had before `deadline_ns` (monotonic) as things stand: nobody else can
 * change the bucket while its owner waits, so waiting longer is useless. */
int pl_bucket_acquire(pl_bucket_t *self, double n, int64_t deadline_ns);

/* Nanoseconds until `n` tokens are available (0 if they are now), or
 * PL_BUCKET_WAIT_FOREVER. */
int64_t pl_bucket_wait_ns(pl_bucket_t *self, double n);

/* Changes the base refill rate (tokens/s), keeping the accounting. */
void pl_bucket_set_rate(pl_bucket_t *self, double rate);

/* Changes the capacity; banked tokens above it are dropped. */
void pl_bucket_set_capacity(pl_bucket_t *self, double capacity);

/* Sets the scale, clamped to [0, 1]. 0 pauses; rising from 0 starts the
 * ramp. Keeps the accounting. */
void pl_bucket_set_scale(pl_bucket_t *self, double scale);

/* Readings (they refill up to now first, hence not const). */
double pl_bucket_tokens(pl_bucket_t *self);
/* The rate now in tokens/s: rate * scale * ramp progress. */
double pl_bucket_effective_rate(pl_bucket_t *self);
double pl_bucket_rate(pl_bucket_t *self);
double pl_bucket_capacity(pl_bucket_t *self);
double pl_bucket_scale(pl_bucket_t *self);
bool pl_bucket_paused(pl_bucket_t *self);
/* True while recovering from a pause. */
bool pl_bucket_ramping(pl_bucket_t *self);

#endif
