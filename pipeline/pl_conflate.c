/* pl_conflate: while a provider is throttled, only the latest quote per
 * symbol waits. The waiting quotes sit in an array in arrival order of
 * their symbols; a lookup compares a hash first, then the names (a few
 * thousand symbols at most: a linear scan is cheaper than it sounds next
 * to parsing the line the quote came in). */
#include "pl_conflate.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t hash; /* of provider and symbol */
    mdbp_record_t quote;
} s_entry_t;

struct _pl_conflate_t {
    s_entry_t *entries;
    size_t capacity;
    size_t head, count; /* waiting: entries[head..count) */
    uint64_t replaced;
};

/* FNV-1a over the provider and the symbol. */
static uint32_t s_hash(const mdbp_record_t *record)
{
    const uint32_t basis = 2166136261u, prime = 16777619u;
    uint32_t hash = basis;
    for (const char *c = record->provider; *c; c++)
        hash = (hash ^ (unsigned char)*c) * prime;
    hash = (hash ^ 0u) * prime; /* separator: ("ab","c") != ("a","bc") */
    for (const char *c = record->symbol; *c; c++)
        hash = (hash ^ (unsigned char)*c) * prime;
    return hash;
}

pl_conflate_t *pl_conflate_new(size_t symbols)
{
    assert(symbols > 0);
    pl_conflate_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = calloc(symbols, sizeof *self->entries);
    if (!self->entries) {
        free(self);
        return NULL;
    }
    self->capacity = symbols;
    return self;
}

void pl_conflate_destroy(pl_conflate_t **self_p)
{
    assert(self_p);
    pl_conflate_t *self = *self_p;
    if (!self)
        return;
    free(self->entries);
    free(self);
    *self_p = NULL;
}

bool pl_conflate_applies(mdbp_record_kind_t kind)
{
    return kind == MDBP_RECORD_QUOTE;
}

int pl_conflate_offer(pl_conflate_t *self, const mdbp_record_t *quote)
{
    assert(self && quote && pl_conflate_applies(quote->kind));
    uint32_t hash = s_hash(quote);
    for (size_t k = self->head; k < self->count; k++) {
        s_entry_t *entry = &self->entries[k];
        if (entry->hash == hash &&
            strcmp(entry->quote.symbol, quote->symbol) == 0 &&
            strcmp(entry->quote.provider, quote->provider) == 0) {
            entry->quote = *quote;
            self->replaced++;
            return PL_CONFLATE_REPLACED;
        }
    }
    if (self->count == self->capacity && self->head > 0) {
        /* Taken ones left room at the front: close the gap. */
        memmove(self->entries, self->entries + self->head,
                (self->count - self->head) * sizeof *self->entries);
        self->count -= self->head;
        self->head = 0;
    }
    if (self->count == self->capacity)
        return PL_CONFLATE_NO_ROOM;
    self->entries[self->count++] = (s_entry_t){hash, *quote};
    return PL_CONFLATE_HELD;
}

size_t pl_conflate_take(pl_conflate_t *self, mdbp_record_t *records,
                        size_t max)
{
    assert(self && (records || max == 0));
    size_t taken = 0;
    while (taken < max && self->head < self->count)
        records[taken++] = self->entries[self->head++].quote;
    if (self->head == self->count)
        self->head = self->count = 0;
    return taken;
}

size_t pl_conflate_count(pl_conflate_t *self)
{
    assert(self);
    return self->count - self->head;
}

uint64_t pl_conflate_replaced(pl_conflate_t *self)
{
    assert(self);
    return self->replaced;
}
