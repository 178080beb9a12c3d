/* sc_hint: the one plain-language line /status and the status page show to
 * explain the level ("queue above high watermark because the sink is down:
 * producers paused"), and the machine word of a level change's reason.
 *
 * Pure: the facts come in (the level, the reason of its last change, the
 * sink state now, the depth against the watermarks, draining, the dwell
 * left), the text goes out; no clock, no state. Any thread. The cause is
 * what is true now where it is known now (a sink that went down after the
 * queue filled is named), else the reason of the last change; the effect
 * is what the level asks of producers (feedback.md 6: OK full rate, SOFT
 * slowed, HARD paused). */
#ifndef SC_HINT_H
#define SC_HINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>
#include <mdbp/feedback.h>

/* The first word of a level change's reason (feedback.md 3.2, sc_intake's
 * s_reason); NONE before the first change. */
typedef enum {
    SC_HINT_REASON_NONE = 0,
    SC_HINT_REASON_DEPTH = 1,
    SC_HINT_REASON_SOJOURN = 2,
    SC_HINT_REASON_SINK_DOWN = 3,
    SC_HINT_REASON_RECOVERED = 4,
    SC_HINT_REASON_COUNT
} sc_hint_reason_t;

/* Room for the longest hint, NUL included. */
#define SC_HINT_MAX 192

typedef struct {
    mdbp_level_t level;           /* the combined level now */
    sc_hint_reason_t reason;      /* of the change to that level */
    mdbp_sink_state_t sink_state; /* now */
    uint64_t depth;               /* records not committed */
    uint64_t low, high;           /* the watermarks, records */
    uint64_t dead_band;           /* records below a watermark to leave it */
    bool draining;                /* shutting down */
    int64_t dwell_remaining_ms;   /* before a step down may happen, >= 0 */
} sc_hint_input_t;

/* The reason word of `reason` ("sink_down every writer's breaker is open"
 * -> SC_HINT_REASON_SINK_DOWN); NONE for "" or NULL or a word it does not
 * know. */
sc_hint_reason_t sc_hint_reason_of(const char *reason);

/* "none", "depth", "sojourn", "sink_down", "recovered". */
const char *sc_hint_reason_name(sc_hint_reason_t reason);

/* Writes the hint for `input` into `out` (at most `size` bytes, always
 * NUL-terminated when size > 0); returns `out`. */
const char *sc_hint_text(const sc_hint_input_t *input, char *out, size_t size);

#endif
