/* pl_scale_cell: the feedback scale, from the subscriber thread to the
 * producer's buckets through one C11 atomic (issue 10, item 3).
 *
 * Only a transport: the value is decided by the pure engines (pl_feedback
 * with pl_policy in the subscriber thread); the producer applies it to the
 * buckets of the providers the policy scales, capped by a manual override,
 * through pl_rate_coordinator_set_scale, as before. What changes is the
 * hop: the subscriber stores the decided scale here at once, and the
 * producer polls the cell before every take, so a fall is in force for the
 * next grant without an inproc message or a wake-up of the producer on the
 * hot path. The decision message still follows (pressure level, gauges,
 * logs) and is the producer's wake-up when it sleeps with nothing due (a
 * rise out of a pause).
 *
 * Memory ordering: one writer (the subscriber thread), one reader (the
 * producer thread), one self-contained 64-bit word (the double's bits), so
 * no update can be torn or lost; the newest store wins, which is the
 * engine's newest decision. The store is memory_order_release and the
 * poll memory_order_acquire: nothing else is published with the value
 * today, but a companion field written before the store would be seen with
 * it. On x86-64 both are plain moves. The word is lock-free (checked at
 * compile time): no lock on either path. */
#ifndef PL_SCALE_CELL_H
#define PL_SCALE_CELL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct _pl_scale_cell_t pl_scale_cell_t;

/* What a reader's `seen` starts at: the first poll reports the value. */
#define PL_SCALE_CELL_UNSEEN UINT64_MAX

/* A cell holding `initial` (clamped like every store). Caller owns it. */
pl_scale_cell_t *pl_scale_cell_new(double initial);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_scale_cell_destroy(pl_scale_cell_t **self_p);

/* The writer: publishes `scale`, clamped to [0, 1] (NaN: 0, as the bucket
 * reads it). */
void pl_scale_cell_store(pl_scale_cell_t *self, double scale);

/* The reader: true, with the value in *scale, when the cell holds another
 * value than the one *seen stands for (then *seen is updated); false when
 * nothing changed since. */
bool pl_scale_cell_poll(pl_scale_cell_t *self, uint64_t *seen, double *scale);

/* Where a decision's propagation latency is observed, one rule for both
 * threads so that each decision is counted once: a scale that does not
 * rise (`next` <= `previous`, the decision before) is in force at the
 * store, since every later take obeys it (a pause forfeits the tokens);
 * a rise is in force only once the producer applied it (a paused producer
 * sleeps until the decision message wakes it), so the producer observes
 * it. True: at the store (the subscriber). */
bool pl_scale_cell_observed_at_store(double previous, double next);

#endif
