/* Unit tests of pl_scale_cell: the feedback scale from one thread to
 * another through one atomic. No timing is asserted: the reader sees each
 * value within a bounded number of polls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>

#include "pl_scale_cell.h"

/* Polls a reader makes at most before it must have seen a store (the
 * writer waits for the acknowledgement, so one poll after the store
 * suffices; yielding keeps a 2-core machine usable). */
#define POLLS_MAX 100000000
/* Values the writer hands over, one after the other. */
#define VALUES 200

static void test_first_poll_reports_the_initial_value(void **state)
{
    (void)state;
    pl_scale_cell_t *cell = pl_scale_cell_new(1.0);
    assert_non_null(cell);
    uint64_t seen = PL_SCALE_CELL_UNSEEN;
    double scale = -1;
    assert_true(pl_scale_cell_poll(cell, &seen, &scale));
    assert_true(scale == 1.0);
    /* Nothing new: no report. */
    assert_false(pl_scale_cell_poll(cell, &seen, &scale));
    pl_scale_cell_store(cell, 0.25);
    assert_true(pl_scale_cell_poll(cell, &seen, &scale));
    assert_true(scale == 0.25);
    /* The same value again is no change. */
    pl_scale_cell_store(cell, 0.25);
    assert_false(pl_scale_cell_poll(cell, &seen, &scale));
    pl_scale_cell_destroy(&cell);
    assert_null(cell);
    pl_scale_cell_destroy(&cell); /* NULL tolerated */
}

static void test_stores_are_clamped_like_the_bucket(void **state)
{
    (void)state;
    pl_scale_cell_t *cell = pl_scale_cell_new(7.0);
    uint64_t seen = PL_SCALE_CELL_UNSEEN;
    double scale = -1;
    assert_true(pl_scale_cell_poll(cell, &seen, &scale));
    assert_true(scale == 1.0);
    pl_scale_cell_store(cell, -3.0);
    assert_true(pl_scale_cell_poll(cell, &seen, &scale));
    assert_true(scale == 0.0);
    pl_scale_cell_store(cell, 0.5);
    assert_true(pl_scale_cell_poll(cell, &seen, &scale));
    assert_true(scale == 0.5);
    pl_scale_cell_store(cell, (double)NAN);
    assert_true(pl_scale_cell_poll(cell, &seen, &scale));
    assert_true(scale == 0.0); /* NaN is a pause, as pl_bucket_set_scale */
    pl_scale_cell_destroy(&cell);
}

/* Each decision's latency is observed once: a fall or a repeat where it
 * is stored, a rise where the producer applied it. */
static void
test_a_fall_is_observed_at_the_store_a_rise_by_the_producer(void **state)
{
    (void)state;
    assert_true(pl_scale_cell_observed_at_store(1.0, 0.0));  /* OK -> HARD */
    assert_true(pl_scale_cell_observed_at_store(1.0, 0.5));  /* OK -> SOFT */
    assert_true(pl_scale_cell_observed_at_store(0.5, 0.5));  /* repeat */
    assert_false(pl_scale_cell_observed_at_store(0.0, 1.0)); /* HARD -> OK */
    assert_false(pl_scale_cell_observed_at_store(0.5, 0.75));
}

typedef struct {
    pl_scale_cell_t *cell;
    _Atomic int acknowledged; /* the index of the last value the reader saw */
    int timeouts;             /* a value not seen within POLLS_MAX polls */
} s_pair_t;

static double s_value(int k)
{
    /* Alternates a pause with distinct rising scales, as OK <-> HARD does. */
    return k % 2 ? 0.0 : (double)(k + 1) / (double)(VALUES + 1);
}

static void *s_reader(void *arg)
{
    s_pair_t *pair = arg;
    uint64_t seen = PL_SCALE_CELL_UNSEEN;
    double scale;
    for (int k = 0; k < VALUES; k++) {
        long polls = 0;
        while (!pl_scale_cell_poll(pair->cell, &seen, &scale) ||
               scale != s_value(k)) {
            if (++polls > POLLS_MAX) {
                pair->timeouts++;
                return NULL;
            }
            if (polls % 64 == 0)
                sched_yield();
        }
        atomic_store(&pair->acknowledged, k);
    }
    return NULL;
}

/* The writer stores each value once the reader saw the one before; the
 * reader must see exactly that value, in a bounded number of polls. */
static void test_another_thread_sees_every_store(void **state)
{
    (void)state;
    s_pair_t pair = {.cell = pl_scale_cell_new(s_value(0))};
    atomic_init(&pair.acknowledged, -1);
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, s_reader, &pair), 0);
    for (int k = 1; k < VALUES; k++) {
        long polls = 0;
        while (atomic_load(&pair.acknowledged) < k - 1 && polls < POLLS_MAX) {
            polls++;
            if (polls % 64 == 0)
                sched_yield();
        }
        if (polls >= POLLS_MAX)
            break; /* the reader gave up: reported below */
        pl_scale_cell_store(pair.cell, s_value(k));
    }
    assert_int_equal(pthread_join(reader, NULL), 0);
    assert_int_equal(pair.timeouts, 0);
    assert_int_equal(atomic_load(&pair.acknowledged), VALUES - 1);
    pl_scale_cell_destroy(&pair.cell);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_poll_reports_the_initial_value),
        cmocka_unit_test(test_stores_are_clamped_like_the_bucket),
        cmocka_unit_test(
            test_a_fall_is_observed_at_the_store_a_rise_by_the_producer),
        cmocka_unit_test(test_another_thread_sees_every_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
