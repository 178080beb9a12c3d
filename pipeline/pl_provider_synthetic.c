/* pl_provider_synthetic: a seeded random-walk market for a list of symbols. */
#include "pl_provider_synthetic.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h"
#include "cmn_config.h"
#include "cmn_random.h"

#define PL_SYNTHETIC_SEPARATORS ", "
/* xorshift64*: the output multiplier (Vigna, 2016). */
#define PL_SYNTHETIC_XORSHIFT_MULTIPLIER UINT64_C(0x2545f4914f6cdd1d)
#define PL_SYNTHETIC_PRICE_START 100.0
#define PL_SYNTHETIC_PRICE_FLOOR 0.01
/* Largest relative price step per record (a tenth of a percent). */
#define PL_SYNTHETIC_STEP_MAX 0.001
/* Half the bid/ask spread, relative to the price. */
#define PL_SYNTHETIC_HALF_SPREAD 0.0005
/* One record in this many is a trade; the others are quotes. */
#define PL_SYNTHETIC_TRADE_EVERY 3
#define PL_SYNTHETIC_SIZE_MAX 500
#define PL_SYNTHETIC_DEFAULT_SEED 0x9e3779b97f4a7c15ULL

typedef struct {
    char name[MDBP_SYMBOL_MAX + 1];
    double price;
    int64_t last_ts[MDBP_RECORD_KIND_COUNT]; /* per kind */
    int64_t bar_second; /* second of the bar being built, -1: none */
    bool bar_partial;   /* the first second after start: never emitted */
    bool bar_traded;    /* at least one trade in the bar */
    double open, high, low, close, volume;
    int64_t paused_until_ns; /* wall: no record before (symbol:S) */
} s_symbol_t;

struct _pl_synthetic_t {
    char provider[MDBP_NAME_MAX + 1];
    s_symbol_t *symbols;
    size_t count;
    size_t next;    /* round-robin cursor */
    uint64_t state; /* xorshift64* state, never 0 */
};

static uint64_t s_random(pl_synthetic_t *self)
{
    self->state ^= self->state >> 12;
    self->state ^= self->state << 25;
    self->state ^= self->state >> 27;
    return self->state * PL_SYNTHETIC_XORSHIFT_MULTIPLIER;
}

/* Uniform in [0, 1). */
static double s_uniform(pl_synthetic_t *self)
{
    return cmn_random_unit(s_random(self));
}

pl_synthetic_t *pl_synthetic_new(const pl_synthetic_config_t *config)
{
    assert(config && config->provider && config->symbols);
    size_t provider_length = strlen(config->provider);
    if (provider_length == 0 || provider_length > MDBP_NAME_MAX)
        return NULL;
    pl_synthetic_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->symbols = calloc(PL_SYNTHETIC_SYMBOLS_MAX, sizeof *self->symbols);
    if (!self->symbols) {
        free(self);
        return NULL;
    }
    memcpy(self->provider, config->provider, provider_length + 1);
    const char *cursor = config->symbols, *name;
    size_t length;
    while ((name = cmn_config_list_next(&cursor, PL_SYNTHETIC_SEPARATORS,
                                        &length))) {
        if (length > MDBP_SYMBOL_MAX ||
            self->count == PL_SYNTHETIC_SYMBOLS_MAX) {
            pl_synthetic_destroy(&self);
            return NULL;
        }
        s_symbol_t *symbol = &self->symbols[self->count++];
        memcpy(symbol->name, name, length);
        symbol->price = PL_SYNTHETIC_PRICE_START;
        symbol->bar_second = -1;
    }
    if (self->count == 0) {
        pl_synthetic_destroy(&self);
        return NULL;
    }
    self->state = config->seed ? config->seed : PL_SYNTHETIC_DEFAULT_SEED;
    /* Spread the starting prices so that symbols differ. */
    for (size_t k = 0; k < self->count; k++)
        self->symbols[k].price *= 0.5 + s_uniform(self);
    return self;
}

void pl_synthetic_destroy(pl_synthetic_t **self_p)
{
    assert(self_p);
    pl_synthetic_t *self = *self_p;
    if (!self)
        return;
    free(self->symbols);
    free(self);
    *self_p = NULL;
}

size_t pl_synthetic_symbol_count(pl_synthetic_t *self)
{
    assert(self);
    return self->count;
}

static int64_t s_next_ts(s_symbol_t *symbol, mdbp_record_kind_t kind,
                         int64_t wall_ns)
{
    int64_t ts = symbol->last_ts[kind] + 1;
    if (wall_ns > ts)
        ts = wall_ns;
    symbol->last_ts[kind] = ts;
    return ts;
}

static void s_start_record(pl_synthetic_t *self, s_symbol_t *symbol,
                           mdbp_record_t *record, mdbp_record_kind_t kind)
{
    memset(record, 0, sizeof *record);
    record->kind = kind;
    memcpy(record->provider, self->provider, sizeof record->provider);
    memcpy(record->symbol, symbol->name, sizeof record->symbol);
}

/* Emits the finished bar of `symbol` into `record` if there is one for a
 * second before `second`, and starts the bar of `second`. */
static bool s_roll_bar(pl_synthetic_t *self, s_symbol_t *symbol, int64_t second,
                       mdbp_record_t *record)
{
    if (symbol->bar_second == second)
        return false;
    bool emit =
        symbol->bar_second >= 0 && !symbol->bar_partial && symbol->bar_traded &&
        symbol->bar_second * CMN_NS_PER_SEC > symbol->last_ts[MDBP_RECORD_BAR];
    if (emit) {
        s_start_record(self, symbol, record, MDBP_RECORD_BAR);
        record->ts_ns = symbol->bar_second * CMN_NS_PER_SEC;
        symbol->last_ts[MDBP_RECORD_BAR] = record->ts_ns;
        record->u.bar.open = symbol->open;
        record->u.bar.high = symbol->high;
        record->u.bar.low = symbol->low;
        record->u.bar.close = symbol->close;
        record->u.bar.volume = symbol->volume;
    }
    symbol->bar_partial = symbol->bar_second < 0;
    symbol->bar_second = second;
    symbol->bar_traded = false;
    symbol->volume = 0;
    return emit;
}

int pl_synthetic_pause(pl_synthetic_t *self, const char *symbol,
                       int64_t until_wall_ns)
{
    assert(self && symbol);
    for (size_t k = 0; k < self->count; k++)
        if (strcmp(self->symbols[k].name, symbol) == 0) {
            self->symbols[k].paused_until_ns = until_wall_ns;
            return 0;
        }
    return -1;
}

size_t pl_synthetic_active(pl_synthetic_t *self, int64_t wall_ns)
{
    assert(self);
    size_t active = 0;
    for (size_t k = 0; k < self->count; k++)
        if (self->symbols[k].paused_until_ns <= wall_ns)
            active++;
    return active;
}

size_t pl_synthetic_generate(pl_synthetic_t *self, int64_t wall_ns,
                             mdbp_record_t *records, size_t count)
{
    assert(self && (records || count == 0));
    if (pl_synthetic_active(self, wall_ns) == 0)
        return 0;
    for (size_t made = 0; made < count; made++) {
        mdbp_record_t *record = &records[made];
        s_symbol_t *symbol = &self->symbols[self->next];
        self->next = (self->next + 1) % self->count;
        while (symbol->paused_until_ns > wall_ns) {
            /* Its turn goes to the next one (one is active: checked). */
            symbol = &self->symbols[self->next];
            self->next = (self->next + 1) % self->count;
        }

        uint64_t draw = s_random(self);
        mdbp_record_kind_t kind = draw % PL_SYNTHETIC_TRADE_EVERY == 0
                                       ? MDBP_RECORD_TRADE
                                       : MDBP_RECORD_QUOTE;
        int64_t ts = s_next_ts(symbol, kind, wall_ns);
        if (s_roll_bar(self, symbol, ts / CMN_NS_PER_SEC, record))
            continue; /* this slot got the bar; the draw is not used */

        double step = (2.0 * s_uniform(self) - 1.0) * PL_SYNTHETIC_STEP_MAX;
        symbol->price *= 1.0 + step;
        if (symbol->price < PL_SYNTHETIC_PRICE_FLOOR)
            symbol->price = PL_SYNTHETIC_PRICE_FLOOR;
        double size = (double)(1 + s_random(self) % PL_SYNTHETIC_SIZE_MAX);
        s_start_record(self, symbol, record, kind);
        record->ts_ns = ts;
        if (kind == MDBP_RECORD_TRADE) {
            record->u.trade.price = symbol->price;
            record->u.trade.size = size;
            if (!symbol->bar_traded) {
                symbol->open = symbol->high = symbol->low = symbol->price;
                symbol->bar_traded = true;
            }
            if (symbol->price > symbol->high)
                symbol->high = symbol->price;
            if (symbol->price < symbol->low)
                symbol->low = symbol->price;
            symbol->close = symbol->price;
            symbol->volume += size;
        } else {
            double half = symbol->price * PL_SYNTHETIC_HALF_SPREAD;
            record->u.quote.bid = symbol->price - half;
            record->u.quote.ask = symbol->price + half;
            record->u.quote.bid_size = size;
            record->u.quote.ask_size =
                (double)(1 + s_random(self) % PL_SYNTHETIC_SIZE_MAX);
        }
    }
    return count;
}
