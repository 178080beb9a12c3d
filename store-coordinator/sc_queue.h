/* sc_queue: the coordinator's bounded record queue, the one place its memory is
 * bounded.
 *
 * A ring of `capacity` records plus the bookkeeping that lets a batch be
 * acknowledged only when every one of its records is committed:
 *  - a producer's batch is pushed whole (copied into the ring) or refused;
 *    it fits whenever depth + its count <= capacity;
 *  - workers take chunks: contiguous runs of records (never crossing the
 *    ring's end), possibly spanning several batches or part of one; taking
 *    copies the records into a buffer the taker provides (its own, one per
 *    worker), so the ring slots are free again at once — a worker stuck on
 *    an old chunk never keeps newer data out of the queue;
 *  - committing a chunk reports, through a callback, every batch whose last
 *    record was in it; chunks may commit in any order;
 *  - records count in the depth from push until commit.
 * Memory: capacity records in the ring, plus what the takers' buffers hold
 * (workers x batch size), plus two tables of `capacity` small entries.
 * Not thread-safe: one owner (the core actor); workers only read the buffer
 * of the chunk handed to them. */
#ifndef SC_QUEUE_H
#define SC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>

/* sc_queue_push result when the batch does not fit. */
#define SC_QUEUE_FULL 1

typedef struct _sc_queue_t sc_queue_t;

/* A run of records handed to a worker. */
typedef struct {
    uint64_t id;                   /* for sc_queue_commit */
    const mdbp_record_t *records; /* the taker's buffer (or the ring) */
    size_t count;
} sc_chunk_t;

/* Outcome of one batch, reported when its last record is committed. The
 * counts of a chunk that spans batches are attributed in batch order
 * (dead-lettered first, then duplicates); totals are exact. */
typedef struct {
    void *tag;          /* what was given to sc_queue_push */
    uint64_t batch_seq; /* what was given to sc_queue_push */
    size_t count;       /* records in the batch */
    size_t written;
    size_t duplicates;
    size_t dead_lettered;
} sc_batch_result_t;

typedef void(sc_queue_batch_fn)(const sc_batch_result_t *result, void *arg);

/* An empty queue of `capacity` records (>= 1). NULL when memory is short.
 * Caller owns the result. */
sc_queue_t *sc_queue_new(size_t capacity);

/* Frees the ring; tolerates NULL and sets *self_p to NULL. The tags of
 * batches never reported are not touched: drain them first with
 * sc_queue_take / sc_queue_commit. */
void sc_queue_destroy(sc_queue_t **self_p);

/* Copies a batch of `count` records (>= 1) in. Returns 0, or SC_QUEUE_FULL
 * (nothing changed) when depth + count would exceed the capacity. `tag`
 * (e.g. the reply envelope) stays the caller's and comes back in the batch
 * result. */
int sc_queue_push(sc_queue_t *self, const mdbp_record_t *records, size_t count,
                  void *tag, uint64_t batch_seq);

/* Takes the oldest not yet taken records, at most `max` (>= 1), into
 * `chunk`. With a `buffer` (room for `max` records, the caller's) the
 * records are copied there and chunk->records points at it: valid while the
 * caller keeps the buffer. With buffer NULL chunk->records points into the
 * ring: valid only until the next sc_queue_push (for callers that commit or
 * dead-letter at once). Either way the ring slots are reusable at once; the
 * records still count in the depth until committed. Returns the count (0
 * when none is waiting). */
size_t sc_queue_take(sc_queue_t *self, size_t max, mdbp_record_t *buffer,
                     sc_chunk_t *chunk);

/* Marks chunk `id` committed with its counts (written + duplicates +
 * dead_lettered == the chunk's count, asserted) and calls `fn` for each batch
 * now complete. Committing an already committed chunk is a no-op and returns
 * -1; otherwise returns 0. */
int sc_queue_commit(sc_queue_t *self, uint64_t id, size_t written,
                    size_t duplicates, size_t dead_lettered,
                    sc_queue_batch_fn *fn, void *arg);

/* Looks up an uncommitted chunk by id (for dead-lettering at shutdown).
 * Returns 0 and fills `chunk` (records as sc_queue_take gave them), or -1
 * when it is committed or unknown. */
int sc_queue_chunk(sc_queue_t *self, uint64_t id, sc_chunk_t *chunk);

/* Records pushed and not committed: the depth the watermarks look at. */
size_t sc_queue_depth(sc_queue_t *self);

/* Records pushed and not yet taken by a worker. */
size_t sc_queue_pending(sc_queue_t *self);

/* Free room: the largest batch that sc_queue_push accepts now (capacity -
 * depth). */
size_t sc_queue_free(sc_queue_t *self);

/* The capacity in records. */
size_t sc_queue_capacity(sc_queue_t *self);

#endif
