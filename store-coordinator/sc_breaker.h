/* sc_breaker: a circuit breaker (closed / open / half-open) so that a worker
 * stops hammering a database that is down.
 *
 * Closed: every write is allowed; `threshold` consecutive failures open it.
 * Open: nothing is allowed until `open_ns` have passed since it opened; then
 * it is half-open. Half-open: one trial write is allowed; success closes it,
 * failure opens it again for another `open_ns`. Pure: time comes in as
 * arguments (monotonic ns), so tests use a virtual clock. One thread. */
#ifndef SC_BREAKER_H
#define SC_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SC_BREAKER_CLOSED = 0,
    SC_BREAKER_HALF_OPEN = 1,
    SC_BREAKER_OPEN = 2,
} sc_breaker_state_t;

typedef struct _sc_breaker_t sc_breaker_t;

/* A closed breaker. threshold >= 1, open_ns >= 0. Caller owns it. */
sc_breaker_t *sc_breaker_new(uint32_t threshold, int64_t open_ns);

/* Frees; tolerates NULL and sets *self_p to NULL. */
void sc_breaker_destroy(sc_breaker_t **self_p);

/* True when a write may be tried at `now_ns` (moves open to half-open when
 * its time is up). */
bool sc_breaker_allow(sc_breaker_t *self, int64_t now_ns);

/* Nanoseconds until a write may be tried (0 when allowed now). */
int64_t sc_breaker_wait_ns(sc_breaker_t *self, int64_t now_ns);

/* Reports the outcome of a write. A success closes the breaker; a failure
 * counts toward the threshold (or reopens a half-open breaker). */
void sc_breaker_success(sc_breaker_t *self);
void sc_breaker_failure(sc_breaker_t *self, int64_t now_ns);

/* The current state (as of the last call). */
sc_breaker_state_t sc_breaker_state(sc_breaker_t *self);

/* "closed", "half_open", "open". */
const char *sc_breaker_state_name(sc_breaker_state_t state);

#endif
