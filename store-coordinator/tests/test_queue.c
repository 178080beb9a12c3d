/* Unit tests for the bounded record queue: push/take/commit, batches acked
 * only when all their records are committed, out-of-order commits, the ring
 * wrapping, refusing what does not fit, and a stuck oldest chunk never
 * keeping newer data out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sc_queue.h"

#define RESULTS_MAX 64

typedef struct {
    sc_batch_result_t results[RESULTS_MAX];
    size_t count;
} acks_t;

static void on_batch(const sc_batch_result_t *result, void *arg)
{
    acks_t *acks = arg;
    assert_true(acks->count < RESULTS_MAX);
    acks->results[acks->count++] = *result;
}

/* Records numbered by ts_ns so that tests can check what a chunk holds. */
static void make_records(mdbp_record_t *records, size_t count, int64_t first)
{
    memset(records, 0, count * sizeof *records);
    for (size_t i = 0; i < count; i++) {
        records[i].kind = MDBP_RECORD_TRADE;
        strcpy(records[i].provider, "test");
        strcpy(records[i].symbol, "AAPL");
        records[i].ts_ns = first + (int64_t)i;
    }
}

static void test_batch_acked_when_all_chunks_commit(void **state)
{
    (void)state;
    sc_queue_t *queue = sc_queue_new(10);
    mdbp_record_t records[6];
    make_records(records, 6, 100);
    int tag = 0;
    assert_int_equal(sc_queue_push(queue, records, 6, &tag, 7), 0);
    assert_int_equal(sc_queue_depth(queue), 6);
    assert_int_equal(sc_queue_free(queue), 4);

    sc_chunk_t first, second;
    mdbp_record_t buffer_first[4], buffer_second[4];
    assert_int_equal(sc_queue_take(queue, 4, buffer_first, &first), 4);
    assert_int_equal(sc_queue_take(queue, 4, buffer_second, &second), 2);
    assert_ptr_equal(first.records, buffer_first);
    assert_int_equal(first.records[0].ts_ns, 100);
    assert_int_equal(second.records[0].ts_ns, 104);
    assert_int_equal(sc_queue_pending(queue), 0);

    acks_t acks = {0};
    /* The later chunk commits first: no ack yet, its room is free. */
    assert_int_equal(
        sc_queue_commit(queue, second.id, 1, 1, 0, on_batch, &acks), 0);
    assert_int_equal(acks.count, 0);
    assert_int_equal(sc_queue_depth(queue), 4);
    assert_int_equal(sc_queue_free(queue), 6);

    assert_int_equal(sc_queue_commit(queue, first.id, 4, 0, 0, on_batch, &acks),
                     0);
    assert_int_equal(acks.count, 1);
    assert_ptr_equal(acks.results[0].tag, &tag);
    assert_int_equal(acks.results[0].batch_seq, 7);
    assert_int_equal(acks.results[0].count, 6);
    assert_int_equal(acks.results[0].written, 5);
    assert_int_equal(acks.results[0].duplicates, 1);
    assert_int_equal(sc_queue_depth(queue), 0);
    assert_int_equal(sc_queue_free(queue), 10);

    /* A second commit of the same chunk changes nothing. */
    assert_int_equal(sc_queue_commit(queue, first.id, 4, 0, 0, on_batch, &acks),
                     -1);
    assert_int_equal(acks.count, 1);
    sc_queue_destroy(&queue);
    assert_null(queue);
}

static void test_chunk_spans_batches(void **state)
{
    (void)state;
    sc_queue_t *queue = sc_queue_new(100);
    mdbp_record_t records[10];
    int tags[3];
    make_records(records, 10, 0);
    assert_int_equal(sc_queue_push(queue, records, 3, &tags[0], 1), 0);
    assert_int_equal(sc_queue_push(queue, records + 3, 3, &tags[1], 2), 0);
    assert_int_equal(sc_queue_push(queue, records + 6, 4, &tags[2], 3), 0);

    sc_chunk_t chunk;
    assert_int_equal(sc_queue_take(queue, 8, NULL, &chunk), 8);
    acks_t acks = {0};
    /* 2 dead-lettered and 3 duplicates, attributed in batch order. */
    sc_queue_commit(queue, chunk.id, 3, 3, 2, on_batch, &acks);
    assert_int_equal(acks.count, 2);
    assert_int_equal(acks.results[0].batch_seq, 1);
    assert_int_equal(acks.results[0].dead_lettered, 2);
    assert_int_equal(acks.results[0].duplicates, 1);
    assert_int_equal(acks.results[0].written, 0);
    assert_int_equal(acks.results[1].batch_seq, 2);
    assert_int_equal(acks.results[1].duplicates, 2);
    assert_int_equal(acks.results[1].written, 1);

    assert_int_equal(sc_queue_take(queue, 8, NULL, &chunk), 2);
    assert_int_equal(chunk.records[1].ts_ns, 9);
    sc_queue_commit(queue, chunk.id, 2, 0, 0, on_batch, &acks);
    assert_int_equal(acks.count, 3);
    assert_int_equal(acks.results[2].batch_seq, 3);
    assert_int_equal(acks.results[2].written, 4);
    assert_int_equal(sc_queue_depth(queue), 0);
    sc_queue_destroy(&queue);
}

static void test_full_and_wrap(void **state)
{
    (void)state;
    sc_queue_t *queue = sc_queue_new(8);
    mdbp_record_t records[9];
    make_records(records, 9, 0);
    /* Larger than the free space: refused, nothing changed. */
    assert_int_equal(sc_queue_push(queue, records, 9, NULL, 1), SC_QUEUE_FULL);
    assert_int_equal(sc_queue_depth(queue), 0);

    assert_int_equal(sc_queue_push(queue, records, 6, NULL, 1), 0);
    assert_int_equal(sc_queue_push(queue, records, 3, NULL, 2), SC_QUEUE_FULL);
    sc_chunk_t chunk;
    acks_t acks = {0};
    assert_int_equal(sc_queue_take(queue, 6, NULL, &chunk), 6);
    sc_queue_commit(queue, chunk.id, 6, 0, 0, on_batch, &acks);
    assert_int_equal(sc_queue_free(queue), 8);

    /* This batch wraps: slots 6, 7, then 0..3. */
    mdbp_record_t buffer[100];
    make_records(records, 6, 1000);
    assert_int_equal(sc_queue_push(queue, records, 6, NULL, 3), 0);
    /* Up to the ring's end. */
    assert_int_equal(sc_queue_take(queue, 100, buffer, &chunk), 2);
    assert_int_equal(chunk.records[0].ts_ns, 1000);
    sc_chunk_t rest, none;
    assert_int_equal(sc_queue_take(queue, 100, NULL, &rest), 4);
    assert_int_equal(rest.records[0].ts_ns, 1002);
    assert_int_equal(rest.records[3].ts_ns, 1005);
    assert_int_equal(sc_queue_take(queue, 100, NULL, &none), 0);

    /* An uncommitted chunk can be looked up (shutdown dead-lettering). */
    sc_chunk_t found;
    assert_int_equal(sc_queue_chunk(queue, chunk.id, &found), 0);
    assert_ptr_equal(found.records, chunk.records);
    assert_int_equal(found.count, 2);
    sc_queue_commit(queue, chunk.id, 0, 0, 2, on_batch, &acks);
    assert_int_equal(sc_queue_chunk(queue, chunk.id, &found), -1);
    sc_queue_commit(queue, rest.id, 4, 0, 0, on_batch, &acks);
    assert_int_equal(acks.count, 2);
    assert_int_equal(acks.results[1].batch_seq, 3);
    assert_int_equal(acks.results[1].dead_lettered, 2);
    assert_int_equal(acks.results[1].written, 4);
    assert_int_equal(sc_queue_free(queue), 8);
    sc_queue_destroy(&queue);
}

static void test_many_rounds_keep_counts(void **state)
{
    (void)state;
    /* Odd sizes so that batches, chunks and the ring end never line up. */
    sc_queue_t *queue = sc_queue_new(37);
    mdbp_record_t records[11];
    acks_t acks;
    size_t pushed = 0, acked_records = 0;
    for (int round = 0; round < 1000; round++) {
        make_records(records, 11, round * 11);
        while (sc_queue_push(queue, records, 1 + (size_t)round % 11, NULL,
                             (uint64_t)round) == 0)
            pushed += 1 + (size_t)round % 11;
        sc_chunk_t chunks[64];
        size_t taken = 0;
        while (taken < 64 && sc_queue_take(queue, 5, NULL, &chunks[taken]) > 0)
            taken++;
        /* Commit in reverse order. */
        for (size_t i = taken; i-- > 0;) {
            acks.count = 0;
            sc_queue_commit(queue, chunks[i].id, chunks[i].count, 0, 0,
                            on_batch, &acks);
            for (size_t a = 0; a < acks.count; a++)
                acked_records += acks.results[a].written;
        }
        assert_int_equal(sc_queue_depth(queue), 0);
        assert_int_equal(sc_queue_free(queue), 37);
    }
    assert_int_equal(pushed, acked_records);
    sc_queue_destroy(&queue);
}

/* A worker stuck on the oldest chunk (a database retry) holds only its own
 * records: the rest of the capacity keeps taking, writing and acking new
 * batches, and the queue refuses only what would exceed the capacity. */
static void test_stuck_oldest_chunk_does_not_block(void **state)
{
    (void)state;
    enum { CAPACITY = 100, BATCH = 10 };
    sc_queue_t *queue = sc_queue_new(CAPACITY);
    mdbp_record_t records[BATCH];
    mdbp_record_t stuck_buffer[BATCH], other_buffer[BATCH];
    acks_t acks = {0};
    make_records(records, BATCH, 0);
    assert_int_equal(sc_queue_push(queue, records, BATCH, NULL, 0), 0);
    sc_chunk_t stuck;
    assert_int_equal(sc_queue_take(queue, BATCH, stuck_buffer, &stuck), BATCH);

    /* Many times the capacity flows past the stuck chunk. */
    for (int round = 1; round <= 50; round++) {
        make_records(records, BATCH, round * BATCH);
        assert_int_equal(
            sc_queue_push(queue, records, BATCH, NULL, (uint64_t)round), 0);
        sc_chunk_t chunk;
        assert_int_equal(sc_queue_take(queue, BATCH, other_buffer, &chunk),
                         BATCH);
        assert_int_equal(chunk.records[0].ts_ns, round * BATCH);
        acks.count = 0;
        sc_queue_commit(queue, chunk.id, BATCH, 0, 0, on_batch, &acks);
        assert_int_equal(acks.count, 1);
        assert_int_equal(acks.results[0].batch_seq, round);
        assert_int_equal(sc_queue_depth(queue), BATCH);
    }
    /* The stuck chunk's copy is intact though its slots were reused. */
    assert_int_equal(stuck.records[BATCH - 1].ts_ns, BATCH - 1);

    /* Up to the capacity, and not one record more. */
    size_t accepted = BATCH;
    while (sc_queue_push(queue, records, 1, NULL, 99) == 0)
        accepted++;
    assert_int_equal(accepted, CAPACITY);
    assert_int_equal(sc_queue_free(queue), 0);
    assert_int_equal(sc_queue_push(queue, records, 1, NULL, 99), SC_QUEUE_FULL);

    acks.count = 0;
    assert_int_equal(
        sc_queue_commit(queue, stuck.id, BATCH, 0, 0, on_batch, &acks), 0);
    assert_int_equal(acks.count, 1);
    assert_int_equal(acks.results[0].batch_seq, 0);
    assert_int_equal(sc_queue_free(queue), BATCH);
    sc_queue_destroy(&queue);
}

/* A batch split over chunks that commit out of order, while later batches
 * complete and their pool entries are reused: each batch is reported once,
 * when its last record commits, with its own tag. */
static void test_out_of_order_with_reuse(void **state)
{
    (void)state;
    sc_queue_t *queue = sc_queue_new(20);
    mdbp_record_t records[8];
    acks_t acks = {0};
    int tags[4];
    make_records(records, 8, 0);
    assert_int_equal(sc_queue_push(queue, records, 8, &tags[0], 1), 0);
    sc_chunk_t a, b;
    assert_int_equal(sc_queue_take(queue, 5, NULL, &a), 5);
    assert_int_equal(sc_queue_take(queue, 5, NULL, &b), 3);
    for (int round = 0; round < 30; round++) {
        assert_int_equal(sc_queue_push(queue, records, 2, &tags[1], 100), 0);
        sc_chunk_t chunk;
        assert_int_equal(sc_queue_take(queue, 5, NULL, &chunk), 2);
        sc_queue_commit(queue, chunk.id, 2, 0, 0, on_batch, &acks);
    }
    assert_int_equal(acks.count, 30);
    sc_queue_commit(queue, b.id, 3, 0, 0, on_batch, &acks);
    assert_int_equal(acks.count, 30);
    assert_int_equal(sc_queue_push(queue, records, 3, &tags[2], 200), 0);
    sc_queue_commit(queue, a.id, 4, 1, 0, on_batch, &acks);
    assert_int_equal(acks.count, 31);
    assert_ptr_equal(acks.results[30].tag, &tags[0]);
    assert_int_equal(acks.results[30].written, 7);
    assert_int_equal(acks.results[30].duplicates, 1);
    sc_chunk_t last;
    assert_int_equal(sc_queue_take(queue, 5, NULL, &last), 3);
    sc_queue_commit(queue, last.id, 3, 0, 0, on_batch, &acks);
    assert_int_equal(acks.count, 32);
    assert_ptr_equal(acks.results[31].tag, &tags[2]);
    assert_int_equal(sc_queue_depth(queue), 0);
    sc_queue_destroy(&queue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_acked_when_all_chunks_commit),
        cmocka_unit_test(test_chunk_spans_batches),
        cmocka_unit_test(test_full_and_wrap),
        cmocka_unit_test(test_many_rounds_keep_counts),
        cmocka_unit_test(test_stuck_oldest_chunk_does_not_block),
        cmocka_unit_test(test_out_of_order_with_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
