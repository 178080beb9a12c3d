/* pl_provider_synthetic: a seeded random-walk market for a list of symbols.
 *
 * Produces trades, quotes and one-second bars, round-robin over the symbols.
 * Event times come from the wall clock the caller passes and are strictly
 * increasing per (kind, symbol): a record gets max(now, previous + 1 ns). A
 * bar covers one whole wall-clock second and is emitted when the symbol's
 * first record of a later second is made; the partial first second after
 * start is never emitted as a bar, so that a restarted pipeline cannot repeat
 * a key of the previous run. Not thread-safe. */
#ifndef PL_PROVIDER_SYNTHETIC_H
#define PL_PROVIDER_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>

#define PL_SYNTHETIC_SYMBOLS_MAX 256
#define PL_SYNTHETIC_SYMBOLS_DEFAULT "AAPL,MSFT,GOOG,AMZN"

typedef struct {
    const char *provider; /* the records' provider name */
    const char *symbols;  /* comma-separated */
    uint64_t seed;        /* same seed, same prices */
} pl_synthetic_config_t;

typedef struct _pl_synthetic_t pl_synthetic_t;

/* A market for `config` (strings copied). Returns NULL when the provider
 * name or a symbol is empty or too long, or there are too many symbols.
 * Caller owns the result. */
pl_synthetic_t *pl_synthetic_new(const pl_synthetic_config_t *config);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_synthetic_destroy(pl_synthetic_t **self_p);

/* Fills `records[0..count)` with the next records, timed at `wall_ns` (or
 * just after the previous record of the same kind and symbol), round-robin
 * over the symbols not paused at `wall_ns`. Returns how many it made:
 * `count`, or 0 when every symbol is paused. */
size_t pl_synthetic_generate(pl_synthetic_t *self, int64_t wall_ns,
                             mdbp_record_t *records, size_t count);

/* Makes no record of `symbol` before `until_wall_ns` (a symbol:S cooldown;
 * a later call replaces the time). Returns 0, or -1 for an unknown
 * symbol. */
int pl_synthetic_pause(pl_synthetic_t *self, const char *symbol,
                       int64_t until_wall_ns);

/* How many symbols are not paused at `wall_ns`. */
size_t pl_synthetic_active(pl_synthetic_t *self, int64_t wall_ns);

/* How many symbols it generates for (from its configuration). */
size_t pl_synthetic_symbol_count(pl_synthetic_t *self);

#endif
