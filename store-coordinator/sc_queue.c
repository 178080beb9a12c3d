/* sc_queue: the bounded record ring with per-batch and per-chunk bookkeeping.
 *
 * Positions are absolute record numbers (uint64, never wrap in practice);
 * a record at position p lives in slot p % capacity. The ring holds only
 * the records not yet taken, [take, tail): taking copies a chunk out, so
 * ring space never waits for a slow worker. Batches and chunks live in two
 * pools of `capacity` entries with free lists, because they complete in any
 * order: a live batch or chunk holds at least one uncommitted record, and
 * the depth never exceeds the capacity, so a pool never runs dry. Batches
 * are linked in push order (`next`), which is how a chunk finds the batches
 * its records belong to. */
#include "sc_queue.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* No entry (end of a batch link, empty cursor). */
#define S_NONE SIZE_MAX

typedef struct {
    void *tag;          /* the caller's, returned in the result */
    uint64_t batch_seq; /* the caller's, returned in the result */
    uint64_t first;     /* position of its first record */
    size_t count;       /* records */
    size_t remaining;   /* records not yet committed */
    size_t written;     /* attributed so far */
    size_t duplicates;
    size_t dead_lettered;
    size_t next; /* the batch pushed after this one, or S_NONE */
} s_batch_t;

typedef struct {
    uint64_t id;                   /* 0 when the entry is free */
    uint64_t start;                /* position of its first record */
    size_t count;                  /* records */
    size_t first_batch;            /* the batch holding `start` */
    const mdbp_record_t *records; /* where the taker reads them */
} s_chunk_t;

struct _sc_queue_t {
    size_t capacity;         /* records; also entries in each pool */
    mdbp_record_t *records; /* the record ring */
    s_batch_t *batches;      /* batch pool */
    size_t *batch_free;      /* stack of free batch entries */
    size_t batch_free_count;
    s_chunk_t *chunks;  /* chunk pool */
    size_t *chunk_free; /* stack of free chunk entries */
    size_t chunk_free_count;
    uint64_t take;         /* next record position for a worker */
    uint64_t tail;         /* next record position to fill */
    size_t batch_take;     /* batch holding position `take`, or S_NONE */
    size_t batch_last;     /* the last batch pushed while live, or S_NONE */
    uint64_t chunk_serial; /* takes so far: makes chunk ids unique */
    size_t depth;          /* records pushed and not committed */
};

sc_queue_t *sc_queue_new(size_t capacity)
{
    assert(capacity >= 1);
    sc_queue_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = capacity;
    self->records = calloc(capacity, sizeof *self->records);
    self->batches = calloc(capacity, sizeof *self->batches);
    self->batch_free = calloc(capacity, sizeof *self->batch_free);
    self->chunks = calloc(capacity, sizeof *self->chunks);
    self->chunk_free = calloc(capacity, sizeof *self->chunk_free);
    if (!self->records || !self->batches || !self->batch_free ||
        !self->chunks || !self->chunk_free) {
        sc_queue_destroy(&self);
        return NULL;
    }
    /* Lowest entries on top: a quiet queue keeps touching the same few. */
    for (size_t i = 0; i < capacity; i++) {
        self->batch_free[i] = capacity - 1 - i;
        self->chunk_free[i] = capacity - 1 - i;
    }
    self->batch_free_count = capacity;
    self->chunk_free_count = capacity;
    self->batch_take = S_NONE;
    self->batch_last = S_NONE;
    return self;
}

void sc_queue_destroy(sc_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sc_queue_t *self = *self_p;
    free(self->records);
    free(self->batches);
    free(self->batch_free);
    free(self->chunks);
    free(self->chunk_free);
    free(self);
    *self_p = NULL;
}

int sc_queue_push(sc_queue_t *self, const mdbp_record_t *records, size_t count,
                  void *tag, uint64_t batch_seq)
{
    assert(self);
    assert(count >= 1);
    if (count > sc_queue_free(self))
        return SC_QUEUE_FULL;
    /* The ring holds [take, tail) <= depth records: room is guaranteed. */
    size_t slot = (size_t)(self->tail % self->capacity);
    size_t first_part = self->capacity - slot;
    if (first_part > count)
        first_part = count;
    memcpy(self->records + slot, records, first_part * sizeof *records);
    if (count > first_part)
        memcpy(self->records, records + first_part,
               (count - first_part) * sizeof *records);

    assert(self->batch_free_count > 0);
    size_t index = self->batch_free[--self->batch_free_count];
    self->batches[index] = (s_batch_t){
        .tag = tag,
        .batch_seq = batch_seq,
        .first = self->tail,
        .count = count,
        .remaining = count,
        .next = S_NONE,
    };
    if (self->batch_last != S_NONE)
        self->batches[self->batch_last].next = index;
    self->batch_last = index;
    if (self->batch_take == S_NONE)
        self->batch_take = index;
    self->tail += count;
    self->depth += count;
    return 0;
}

size_t sc_queue_take(sc_queue_t *self, size_t max, mdbp_record_t *buffer,
                     sc_chunk_t *chunk)
{
    assert(self);
    assert(max >= 1);
    size_t waiting = (size_t)(self->tail - self->take);
    if (waiting == 0)
        return 0;
    size_t slot = (size_t)(self->take % self->capacity);
    size_t count = self->capacity - slot; /* never across the ring's end */
    if (count > waiting)
        count = waiting;
    if (count > max)
        count = max;
    const mdbp_record_t *records = self->records + slot;
    if (buffer) {
        memcpy(buffer, records, count * sizeof *buffer);
        records = buffer;
    }

    /* Pending records belong to no chunk, so an entry is free. */
    assert(self->chunk_free_count > 0);
    size_t index = self->chunk_free[--self->chunk_free_count];
    uint64_t id = ++self->chunk_serial * self->capacity + index;
    self->chunks[index] = (s_chunk_t){
        .id = id,
        .start = self->take,
        .count = count,
        .first_batch = self->batch_take,
        .records = records,
    };
    self->take += count;
    while (self->batch_take != S_NONE) {
        const s_batch_t *batch = &self->batches[self->batch_take];
        if (batch->first + batch->count > self->take)
            break;
        self->batch_take = batch->next;
    }
    chunk->id = id;
    chunk->records = records;
    chunk->count = count;
    return count;
}

/* The chunk entry for `id` when it is live, else NULL. */
static s_chunk_t *s_chunk_find(sc_queue_t *self, uint64_t id)
{
    s_chunk_t *entry = &self->chunks[id % self->capacity];
    return id != 0 && entry->id == id ? entry : NULL;
}

int sc_queue_commit(sc_queue_t *self, uint64_t id, size_t written,
                    size_t duplicates, size_t dead_lettered,
                    sc_queue_batch_fn *fn, void *arg)
{
    assert(self);
    s_chunk_t *entry = s_chunk_find(self, id);
    if (!entry)
        return -1;
    assert(written + duplicates + dead_lettered == entry->count);
    (void)written; /* the rest of the chunk: only the assert needs it */

    /* Attribute the chunk's counts to the batches it covers, in order. */
    uint64_t position = entry->start;
    size_t left = entry->count;
    size_t index = entry->first_batch;
    while (left > 0) {
        assert(index != S_NONE);
        s_batch_t *batch = &self->batches[index];
        assert(position >= batch->first);
        uint64_t batch_end = batch->first + batch->count;
        size_t overlap = (size_t)(batch_end - position);
        if (overlap > left)
            overlap = left;
        size_t dead = overlap < dead_lettered ? overlap : dead_lettered;
        dead_lettered -= dead;
        size_t dup = overlap - dead < duplicates ? overlap - dead : duplicates;
        duplicates -= dup;
        batch->dead_lettered += dead;
        batch->duplicates += dup;
        batch->written += overlap - dead - dup;
        batch->remaining -= overlap;
        size_t next = batch->next;
        if (batch->remaining == 0) {
            if (fn) {
                sc_batch_result_t result = {
                    .tag = batch->tag,
                    .batch_seq = batch->batch_seq,
                    .count = batch->count,
                    .written = batch->written,
                    .duplicates = batch->duplicates,
                    .dead_lettered = batch->dead_lettered,
                };
                fn(&result, arg);
            }
            /* Complete: nothing links to it any more but the last push. */
            if (self->batch_last == index)
                self->batch_last = S_NONE;
            self->batch_free[self->batch_free_count++] = index;
        }
        position += overlap;
        left -= overlap;
        index = next;
    }
    self->depth -= entry->count;
    entry->id = 0;
    self->chunk_free[self->chunk_free_count++] = (size_t)(entry - self->chunks);
    return 0;
}

int sc_queue_chunk(sc_queue_t *self, uint64_t id, sc_chunk_t *chunk)
{
    assert(self);
    s_chunk_t *entry = s_chunk_find(self, id);
    if (!entry)
        return -1;
    chunk->id = id;
    chunk->records = entry->records;
    chunk->count = entry->count;
    return 0;
}

size_t sc_queue_depth(sc_queue_t *self)
{
    assert(self);
    return self->depth;
}

size_t sc_queue_pending(sc_queue_t *self)
{
    assert(self);
    return (size_t)(self->tail - self->take);
}

size_t sc_queue_free(sc_queue_t *self)
{
    assert(self);
    return self->capacity - self->depth;
}

size_t sc_queue_capacity(sc_queue_t *self)
{
    assert(self);
    return self->capacity;
}
