/* pl_rate_coordinator: per-provider token buckets, cooldowns and breakers.
 *
 * The C counterpart of the seed's RateCoordinator. Each registered provider
 * has a bucket (capacity, refill rate, scale from feedback), a pressure level
 * (for metrics), cooldowns by scope and a circuit breaker:
 *
 *   closed --threshold consecutive failures--> open
 *   open --breaker timeout--> half-open (one probe token is granted)
 *   half-open --success--> closed, --failure--> open again
 *
 * A cooldown in scope PL_RATE_SCOPE_GLOBAL or "provider:<its name>" stops
 * every grant of the provider until it ends; "symbol:S" is a timer that the
 * producer hands the provider, which makes no record of S while it lasts
 * (pl_synthetic_pause); /status lists every live one. Owned by one thread
 * (the producer actor); not thread-safe. Providers are addressed by the index
 * pl_rate_coordinator_add() returned. */
#ifndef PL_RATE_COORDINATOR_H
#define PL_RATE_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmn_clock.h"
#include "pl_bucket.h"
#include <mdbp/common.h>

#define PL_RATE_PROVIDERS_MAX 32
#define PL_RATE_SCOPE_MAX 48     /* bytes of a scope name, NUL excluded */
#define PL_RATE_COOLDOWNS_MAX 16 /* live cooldowns per provider */
#define PL_RATE_SCOPE_GLOBAL "global"
#define PL_RATE_SCOPE_PROVIDER_PREFIX "provider:"
#define PL_RATE_SCOPE_SYMBOL_PREFIX "symbol:"

/* Seed defaults (RateCoordinator.register_provider); mdp-pipeline's are in
 * its option table. */
#define PL_RATE_COOLDOWN_SEC_DEFAULT 600
#define PL_RATE_BREAKER_THRESHOLD_DEFAULT 5
#define PL_RATE_BREAKER_TIMEOUT_SEC_DEFAULT 60

typedef struct {
    double capacity;            /* burst, tokens */
    double refill_rate;         /* tokens per second at scale 1.0 */
    double cooldown_sec;        /* duration of a cooldown given 0 seconds */
    int breaker_threshold;      /* consecutive failures that open it */
    double breaker_timeout_sec; /* open -> half-open */
} pl_rate_config_t;

/* The values are the pipeline_breaker_state gauge's, the same encoding as
 * the coordinator's coordinator_breaker_state (one dashboard reads both). */
typedef enum {
    PL_BREAKER_CLOSED = 0,
    PL_BREAKER_HALF_OPEN = 1,
    PL_BREAKER_OPEN = 2,
} pl_breaker_state_t;

/* "closed", "open", "half-open". */
const char *pl_breaker_state_name(pl_breaker_state_t state);

typedef struct _pl_rate_coordinator_t pl_rate_coordinator_t;

/* An empty coordinator reading `clock` (borrowed); buckets ramp over
 * `ramp_ns` after a pause. Caller owns the result. */
pl_rate_coordinator_t *pl_rate_coordinator_new(cmn_clock_t *clock,
                                               int64_t ramp_ns);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_rate_coordinator_destroy(pl_rate_coordinator_t **self_p);

/* Registers a provider (name copied). Returns its index, or -1 when the name
 * is taken, empty or too long, or the table is full. */
int pl_rate_coordinator_add(pl_rate_coordinator_t *self, const char *provider,
                            const pl_rate_config_t *config);

/* The index of a provider, or -1. */
int pl_rate_coordinator_find(pl_rate_coordinator_t *self, const char *provider);
size_t pl_rate_coordinator_count(pl_rate_coordinator_t *self);
const char *pl_rate_coordinator_name(pl_rate_coordinator_t *self, size_t idx);

/* Grants up to `max` tokens (0 during a global cooldown, while the breaker
 * is open, or while a half-open probe is out). */
uint64_t pl_rate_coordinator_take(pl_rate_coordinator_t *self, size_t idx,
                                  uint64_t max);

/* Grants exactly `n` tokens or none. */
bool pl_rate_coordinator_try(pl_rate_coordinator_t *self, size_t idx,
                             uint64_t n);

/* Nanoseconds until `n` tokens may be granted, counting cooldown and
 * breaker; PL_BUCKET_WAIT_FOREVER while paused. */
int64_t pl_rate_coordinator_wait_ns(pl_rate_coordinator_t *self, size_t idx,
                                    uint64_t n);

/* Blocking acquire (the seed's `acquire`): waits for `n` tokens until
 * `deadline_ns` (monotonic). Returns 0 or PL_BUCKET_TIMEOUT. */
int pl_rate_coordinator_acquire(pl_rate_coordinator_t *self, size_t idx,
                                uint64_t n, int64_t deadline_ns);

/* Feedback: the scale applied to the provider's refill rate, clamped to
 * [0, 1] (set_budget_scale), and its pressure level (set_global_pressure). */
void pl_rate_coordinator_set_scale(pl_rate_coordinator_t *self, size_t idx,
                                   double scale);
double pl_rate_coordinator_scale(pl_rate_coordinator_t *self, size_t idx);
void pl_rate_coordinator_set_pressure(pl_rate_coordinator_t *self, size_t idx,
                                      mdbp_level_t level);
mdbp_level_t pl_rate_coordinator_pressure(pl_rate_coordinator_t *self,
                                           size_t idx);

/* Changes the base refill rate, keeping the token accounting. */
void pl_rate_coordinator_set_rate(pl_rate_coordinator_t *self, size_t idx,
                                  double refill_rate);

/* Starts (or extends) a cooldown of `seconds` in `scope` (copied, truncated
 * to PL_RATE_SCOPE_MAX); seconds <= 0 uses the provider's cooldown_sec. When
 * the table is full the cooldown ending soonest is replaced. */
void pl_rate_coordinator_trigger_cooldown(pl_rate_coordinator_t *self,
                                          size_t idx, const char *scope,
                                          double seconds);

/* Nanoseconds left in the cooldown of `scope`, 0 when none. */
int64_t pl_rate_coordinator_cooldown_ns(pl_rate_coordinator_t *self, size_t idx,
                                        const char *scope);

/* Live cooldowns, for /status: how many, and the k-th scope and time left.
 * Expired ones are dropped by pl_rate_coordinator_cooldown_count(). */
size_t pl_rate_coordinator_cooldown_count(pl_rate_coordinator_t *self,
                                          size_t idx);
const char *pl_rate_coordinator_cooldown_scope(pl_rate_coordinator_t *self,
                                               size_t idx, size_t k);
int64_t pl_rate_coordinator_cooldown_left_ns(pl_rate_coordinator_t *self,
                                             size_t idx, size_t k);

/* Breaker inputs: the outcome of work done with granted tokens. */
void pl_rate_coordinator_record_failure(pl_rate_coordinator_t *self,
                                        size_t idx);
void pl_rate_coordinator_record_success(pl_rate_coordinator_t *self,
                                        size_t idx);
/* The breaker state now (open turns half-open once its timeout passed). */
pl_breaker_state_t pl_rate_coordinator_breaker(pl_rate_coordinator_t *self,
                                               size_t idx);

/* The provider's bucket, for readings (tokens, effective rate, paused). */
pl_bucket_t *pl_rate_coordinator_bucket(pl_rate_coordinator_t *self,
                                        size_t idx);

#endif
