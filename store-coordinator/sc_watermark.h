/* sc_watermark: the backpressure level of the queue (OK / SOFT / HARD), with
 * hysteresis, as specified in proto/feedback.md.
 *
 * Pure state machine: it is driven by (queue size, monotonic time) and never
 * reads a clock itself, so tests drive the dwell with a virtual clock. With
 * capacity C, low watermark L, high watermark H, dead-band D and dwell T:
 *  - up is immediate: HARD when size >= H; SOFT when L < size < H (from OK);
 *  - down: from HARD only when size < H - D; from SOFT to OK only when
 *    size <= L - D; and only when at least T has passed since the last level
 *    change; a step down goes straight to the level the size calls for
 *    (OK when size <= L - D, else SOFT);
 *  - D = 0 and T = 0 give the seed's rules exactly.
 * The owner re-evaluates on every queue change and on a timer, so that a
 * step down held back by the dwell happens when the dwell ends. One thread. */
#ifndef SC_WATERMARK_H
#define SC_WATERMARK_H

#include <stdbool.h>
#include <stdint.h>

#include <mdbp/common.h>

typedef struct {
    uint64_t capacity;  /* records */
    uint64_t low;       /* L, records, < high */
    uint64_t high;      /* H, records, <= capacity */
    uint64_t dead_band; /* D, records */
    int64_t dwell_ns;   /* T, minimum time in a level before stepping down */
} sc_watermark_config_t;

typedef struct _sc_watermark_t sc_watermark_t;

/* Checks a configuration: 0 <= dead_band <= low < high <= capacity, dwell
 * >= 0 (feedback.md). Returns 0 or -1
 * with a short reason in `reason` (for start-up messages). */
int sc_watermark_config_check(const sc_watermark_config_t *config,
                              const char **reason);

/* A state machine at level OK, last changed at `now_ns`. `config` is copied
 * and must pass sc_watermark_config_check (asserted). Caller owns it. */
sc_watermark_t *sc_watermark_new(const sc_watermark_config_t *config,
                                 int64_t now_ns);

/* Frees; tolerates NULL and sets *self_p to NULL. */
void sc_watermark_destroy(sc_watermark_t **self_p);

/* Re-evaluates the level for queue `size` at time `now_ns` (never earlier
 * than a previous call). Returns true when the level changed; `*previous`
 * (may be NULL) then holds the level before. */
bool sc_watermark_update(sc_watermark_t *self, uint64_t size, int64_t now_ns,
                         mdbp_level_t *previous);

/* The current level. */
mdbp_level_t sc_watermark_level(sc_watermark_t *self);

/* Monotonic time of the last level change. */
int64_t sc_watermark_changed_ns(sc_watermark_t *self);

/* The multiplier producers should apply for this size: 1 when size <= L,
 * (H - size) / (H - L) in between, 0 when size >= H. */
double sc_watermark_scale_hint(const sc_watermark_config_t *config,
                               uint64_t size);

/* The publisher checks the hint this often and sends a heartbeat early when
 * it has moved (sc_watermark_hint_moved) since the last message, so that
 * `proportional` producers follow the queue between heartbeats. */
#define SC_HINT_CHECK_MS 50
/* A move of the hint by at least this much is worth a message. */
#define SC_HINT_STEP 0.05

/* True when `hint` has moved far enough from the last published one to be
 * sent early: by SC_HINT_STEP or more, or onto 0 (pause) or 1 (full rate)
 * from elsewhere. */
bool sc_watermark_hint_moved(double published, double hint);

#endif
