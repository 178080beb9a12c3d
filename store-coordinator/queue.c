/* queue: the bounded record ring with per-batch and per-chunk bookkeeping.
 *
 * Positions are absolute record numbers (uint64, never wrap in practice);
 * a record at position p lives in slot p % capacity. Three cursors:
 * head (oldest slot still in use) <= take (next record for a worker) <=
 * tail (next free position). Batches and chunks are kept in two rings of
 * `capacity` entries, indexed by absolute numbers too: each live batch and
 * each live chunk holds at least one record in the ring, so neither ring can
 * hold more entries than the record ring has slots. */
#include "queue.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    void *tag;          /* the caller's, returned in the result */
    uint64_t batch_seq; /* the caller's, returned in the result */
    uint64_t first;     /* position of its first record */
    size_t count;       /* records */
    size_t remaining;   /* records not yet committed */
    size_t written;     /* attributed so far */
    size_t duplicates;
    size_t dead_lettered;
} s_batch_t;

typedef struct {
    uint64_t start;       /* position of its first record */
    size_t count;         /* records */
    uint64_t first_batch; /* number of the batch holding `start` */
    bool done;            /* committed */
} s_chunk_t;

struct _sc_queue_t {
    size_t capacity;         /* slots in each ring */
    proto_record_t *records; /* the record ring */
    s_batch_t *batches;      /* the batch ring */
    s_chunk_t *chunks;       /* the chunk ring */
    uint64_t head;           /* oldest record position still in use */
    uint64_t take;           /* next record position for a worker */
    uint64_t tail;           /* next record position to fill */
    uint64_t batch_head;     /* oldest batch not complete */
    uint64_t batch_take;     /* batch holding position `take` */
    uint64_t batch_tail;     /* next batch number */
    uint64_t chunk_head;     /* oldest chunk whose slots are not reused */
    uint64_t chunk_tail;     /* next chunk id */
    size_t depth;            /* records pushed and not committed */
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
    self->chunks = calloc(capacity, sizeof *self->chunks);
    if (!self->records || !self->batches || !self->chunks)
        sc_queue_destroy(&self);
    return self;
}

void sc_queue_destroy(sc_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sc_queue_t *self = *self_p;
    free(self->records);
    free(self->batches);
    free(self->chunks);
    free(self);
    *self_p = NULL;
}

int sc_queue_push(sc_queue_t *self, const proto_record_t *records, size_t count,
                  void *tag, uint64_t batch_seq)
{
    assert(self);
    assert(count >= 1);
    if (count > sc_queue_free(self))
        return SC_QUEUE_FULL;
    size_t slot = (size_t)(self->tail % self->capacity);
    size_t first_part = self->capacity - slot;
    if (first_part > count)
        first_part = count;
    memcpy(self->records + slot, records, first_part * sizeof *records);
    if (count > first_part)
        memcpy(self->records, records + first_part,
               (count - first_part) * sizeof *records);

    s_batch_t *batch = &self->batches[self->batch_tail % self->capacity];
    *batch = (s_batch_t){
        .tag = tag,
        .batch_seq = batch_seq,
        .first = self->tail,
        .count = count,
        .remaining = count,
    };
    self->batch_tail++;
    self->tail += count;
    self->depth += count;
    return 0;
}

size_t sc_queue_take(sc_queue_t *self, size_t max, sc_chunk_t *chunk)
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

    uint64_t id = self->chunk_tail++;
    s_chunk_t *entry = &self->chunks[id % self->capacity];
    *entry = (s_chunk_t){
        .start = self->take,
        .count = count,
        .first_batch = self->batch_take,
        .done = false,
    };
    self->take += count;
    while (self->batch_take < self->batch_tail) {
        const s_batch_t *batch =
            &self->batches[self->batch_take % self->capacity];
        if (batch->first + batch->count > self->take)
            break;
        self->batch_take++;
    }
    chunk->id = id;
    chunk->records = self->records + slot;
    chunk->count = count;
    return count;
}

/* The chunk entry for `id` when it is live and not committed, else NULL. */
static s_chunk_t *s_chunk_find(sc_queue_t *self, uint64_t id)
{
    if (id < self->chunk_head || id >= self->chunk_tail)
        return NULL;
    s_chunk_t *entry = &self->chunks[id % self->capacity];
    return entry->done ? NULL : entry;
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
    uint64_t number = entry->first_batch;
    while (left > 0) {
        assert(number < self->batch_tail);
        s_batch_t *batch = &self->batches[number % self->capacity];
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
        if (batch->remaining == 0 && fn) {
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
        position += overlap;
        left -= overlap;
        number++;
    }
    entry->done = true;
    self->depth -= entry->count;

    /* Slots are reused only in ring order. */
    while (self->chunk_head < self->chunk_tail) {
        s_chunk_t *oldest = &self->chunks[self->chunk_head % self->capacity];
        if (!oldest->done)
            break;
        self->head = oldest->start + oldest->count;
        self->chunk_head++;
    }
    while (self->batch_head < self->batch_take &&
           self->batches[self->batch_head % self->capacity].remaining == 0)
        self->batch_head++;
    return 0;
}

int sc_queue_chunk(sc_queue_t *self, uint64_t id, sc_chunk_t *chunk)
{
    assert(self);
    s_chunk_t *entry = s_chunk_find(self, id);
    if (!entry)
        return -1;
    chunk->id = id;
    chunk->records = self->records + entry->start % self->capacity;
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
    return self->capacity - (size_t)(self->tail - self->head);
}

size_t sc_queue_capacity(sc_queue_t *self)
{
    assert(self);
    return self->capacity;
}
