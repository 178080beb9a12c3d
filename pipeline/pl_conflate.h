/* pl_conflate: while a provider is throttled, only the latest quote per
 * symbol waits (issue 16, docs/spool.md "Conflation").
 *
 * A quote offered for a symbol that already has one waiting replaces it
 * (the older one is counted as conflated, never sent); a quote for a new
 * symbol takes the next place. Trades and bars are never conflated: the
 * caller spools them (pl_conflate_applies says which kinds). Quotes leave
 * in the order their symbols first came. Bounded: a table full of symbols
 * refuses a new one, and the caller spools that quote instead. Pure: no
 * I/O, no clock. Owned by one thread; not thread-safe. */
#ifndef PL_CONFLATE_H
#define PL_CONFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>

#define PL_CONFLATE_SYMBOLS_DEFAULT 4096

typedef struct _pl_conflate_t pl_conflate_t;

/* A table for `symbols` distinct (provider, symbol) pairs at most, > 0.
 * Caller owns the result; NULL when out of memory. */
pl_conflate_t *pl_conflate_new(size_t symbols);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_conflate_destroy(pl_conflate_t **self_p);

/* Whether records of `kind` may be conflated: quotes only. */
bool pl_conflate_applies(mdbp_record_kind_t kind);

/* pl_conflate_offer results. */
#define PL_CONFLATE_HELD 0     /* a new symbol: the quote waits */
#define PL_CONFLATE_REPLACED 1 /* the waiting quote was replaced, counted */
#define PL_CONFLATE_NO_ROOM -1 /* table full: the caller keeps the quote */

/* Offers a quote (copied). Returns one of the results above. */
int pl_conflate_offer(pl_conflate_t *self, const mdbp_record_t *quote);

/* Moves up to `max` waiting quotes into `records`, oldest symbol first.
 * Returns how many. */
size_t pl_conflate_take(pl_conflate_t *self, mdbp_record_t *records,
                        size_t max);

/* Quotes waiting, and quotes replaced (conflated away) since the start. */
size_t pl_conflate_count(pl_conflate_t *self);
uint64_t pl_conflate_replaced(pl_conflate_t *self);

#endif
