/* pl_bucket: a token bucket on an injected clock, with scale, pause and ramp.
 *
 * Tokens refill continuously at `rate * scale` per second up to `capacity`
 * (the burst). A scale of 0.0 is a real pause: nothing is granted, the banked
 * burst included (it is forfeited, so that recovery is governed by the ramp
 * alone). Every rise of the scale ramps: the scale in force moves linearly
 * from where it is (0.0 after a pause) to the new scale over `ramp_ns`,
 * instead of jumping; a fall applies at once. Slow rises and quick falls
 * keep a step policy's OK/SOFT limit cycle slow (tests/scenarios/README.md).
 * Setting the scale it already targets changes nothing (a ramp goes on).
 * Any change of rate or scale first refills up to now at the old rate, so
 * no token is gained or lost by the change.
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
 * `ramp_ns` is the duration of every ramp up (0: none, rises are at once). The
 * clock is borrowed and must outlive the bucket. Caller owns the result. */
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

/* Sets the scale, clamped to [0, 1]. 0 pauses; a rise (from a pause or
 * not) starts a ramp from the scale in force now; a fall is immediate.
 * Keeps the accounting. */
void pl_bucket_set_scale(pl_bucket_t *self, double scale);

/* Readings (they refill up to now first, hence not const). */
double pl_bucket_tokens(pl_bucket_t *self);
/* The rate now in tokens/s: rate times the scale in force (on a ramp, the
 * point reached; pl_bucket_scale() is where the ramp goes). */
double pl_bucket_effective_rate(pl_bucket_t *self);
double pl_bucket_rate(pl_bucket_t *self);
double pl_bucket_capacity(pl_bucket_t *self);
double pl_bucket_scale(pl_bucket_t *self);
bool pl_bucket_paused(pl_bucket_t *self);
/* True while a ramp up is under way. */
bool pl_bucket_ramping(pl_bucket_t *self);

#endif
