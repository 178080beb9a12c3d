/* cmn_random: a small fast generator (xorshift64) for jitter and sampling;
 * not for anything that needs unpredictability. */
#ifndef CMN_RANDOM_H
#define CMN_RANDOM_H

#include <stdint.h>

/* Bits of a double's significand: cmn_random_unit keeps the top ones. */
#define CMN_RANDOM_UNIT_BITS 53
#define CMN_RANDOM_UNIT_SHIFT (64 - CMN_RANDOM_UNIT_BITS)

/* Advances the xorshift64 `state` (owned by the caller, never 0) and
 * returns it. No shared state: each caller's thread owns its own. */
static inline uint64_t cmn_random_next(uint64_t *state)
{
    uint64_t value = *state;
    value ^= value << 13;
    value ^= value >> 7;
    value ^= value << 17;
    *state = value;
    return value;
}

/* A double in [0, 1) from the top 53 bits of `bits`. */
static inline double cmn_random_unit(uint64_t bits)
{
    return (double)(bits >> CMN_RANDOM_UNIT_SHIFT) /
           (double)(UINT64_C(1) << CMN_RANDOM_UNIT_BITS);
}

#endif
