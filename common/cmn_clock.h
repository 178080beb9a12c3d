/* cmn_clock: the one place time is read, so tests can drive it.
 *
 * Every module whose behaviour depends on time (watermark dwell, heartbeats,
 * token refill, staleness, retries, breakers) is given a clock and reads it
 * here. A system clock reads CLOCK_MONOTONIC / CLOCK_REALTIME; a virtual clock
 * only moves when cmn_clock_advance() is called, so a scenario can run a
 * minute of behaviour in milliseconds. Reads are thread-safe (atomics). */
#ifndef CMN_CLOCK_H
#define CMN_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CMN_NS_PER_MS INT64_C(1000000)
#define CMN_NS_PER_SEC INT64_C(1000000000)

typedef struct _cmn_clock_t cmn_clock_t;

/* A clock reading the operating system. Caller owns the result. */
cmn_clock_t *cmn_clock_new_system(void);

/* A virtual clock starting at the given monotonic and wall-clock times (ns).
 * It moves only through cmn_clock_advance(). Caller owns the result. */
cmn_clock_t *cmn_clock_new_virtual(int64_t mono_ns, int64_t wall_ns);

/* Destroys the clock; tolerates NULL and sets *self_p to NULL. */
void cmn_clock_destroy(cmn_clock_t **self_p);

/* Monotonic nanoseconds (arbitrary origin, never goes back). Any thread. */
int64_t cmn_clock_mono_ns(cmn_clock_t *self);

/* Wall-clock nanoseconds since the Unix epoch. Any thread. */
int64_t cmn_clock_wall_ns(cmn_clock_t *self);

/* True for a virtual clock. */
bool cmn_clock_is_virtual(cmn_clock_t *self);

/* Moves a virtual clock forward by delta_ns (both readings). Asserts that the
 * clock is virtual and delta_ns >= 0. */
void cmn_clock_advance(cmn_clock_t *self, int64_t delta_ns);

/* Convenience: the system monotonic time without a clock object, for code
 * that only measures durations for metrics (never for behaviour). */
int64_t cmn_clock_now_mono_ns(void);

#endif
