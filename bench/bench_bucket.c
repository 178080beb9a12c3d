/* bench_bucket: the token bucket's acquire cost and rate accuracy.
 *
 * Cost: ns per uncontended pl_bucket_try() and pl_bucket_take() of one token
 * on the system clock (the bucket never runs dry). Accuracy: a bucket of
 * 10 ms burst (at least 2) at each rate, emptied first, then drained the way a
 * producer does (take what is there, else sleep in acquire) for about a second
 * (at least 20 tokens); achieved = tokens / the time they took. Each figure is
 * the median of REPEATS runs. Output: one line per figure, `name value`, for
 * bench/run. */
#include <stdio.h>
#include <stdlib.h>

#include "cmn_clock.h"
#include "pl_bucket.h"

#define BENCH_REPEATS 5
#define BENCH_COST_OPS 5000000
#define BENCH_HUGE 1e12 /* tokens: the bucket never runs dry */
#define BENCH_ACCURACY_SEC 1.0
#define BENCH_ACCURACY_REPEATS 3
#define BENCH_ACCURACY_MIN_TOKENS 20 /* 2 s at 10/s */
#define BENCH_BURST_SEC 0.01
/* With a capacity of 1 a sleep overshoot is lost (-1.4% at 100/s). */
#define BENCH_BURST_MIN 2.0
#define BENCH_TAKE_MAX 1000 /* a batch, as the producer takes */

static int s_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_median(double *values, size_t count)
{
    qsort(values, count, sizeof *values, s_compare);
    return values[count / 2];
}

int main(void)
{
    cmn_clock_t *clock = cmn_clock_new_system();
    double runs[BENCH_REPEATS];
    for (int r = 0; r < BENCH_REPEATS; r++) {
        pl_bucket_t *bucket = pl_bucket_new(clock, BENCH_HUGE, BENCH_HUGE, 0);
        int64_t start = cmn_clock_now_mono_ns();
        unsigned granted = 0;
        for (int k = 0; k < BENCH_COST_OPS; k++)
            granted += pl_bucket_try(bucket, 1.0);
        runs[r] = (double)(cmn_clock_now_mono_ns() - start) / BENCH_COST_OPS;
        if (granted != BENCH_COST_OPS)
            fprintf(stderr, "bench_bucket: try refused a token\n");
        pl_bucket_destroy(&bucket);
    }
    printf("try_ns %.1f\n", s_median(runs, BENCH_REPEATS));
    for (int r = 0; r < BENCH_REPEATS; r++) {
        pl_bucket_t *bucket = pl_bucket_new(clock, BENCH_HUGE, BENCH_HUGE, 0);
        int64_t start = cmn_clock_now_mono_ns();
        uint64_t granted = 0;
        for (int k = 0; k < BENCH_COST_OPS; k++)
            granted += pl_bucket_take(bucket, 1);
        runs[r] = (double)(cmn_clock_now_mono_ns() - start) / BENCH_COST_OPS;
        if (granted != BENCH_COST_OPS)
            fprintf(stderr, "bench_bucket: take refused a token\n");
        pl_bucket_destroy(&bucket);
    }
    printf("take_ns %.1f\n", s_median(runs, BENCH_REPEATS));

    static const double rates[] = {10, 100, 1000, 10000, 100000, 1000000};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        double rate = rates[i];
        for (int r = 0; r < BENCH_ACCURACY_REPEATS; r++) {
            /* The producer's loop: take what is there (at most a batch),
             * else sleep in acquire until one token comes. A burst of 10 ms
             * of tokens (at least 2), drained first, so it flatters no
             * figure; achieved = N tokens / the time they took. */
            double burst = rate * BENCH_BURST_SEC;
            pl_bucket_t *bucket = pl_bucket_new(
                clock, burst < BENCH_BURST_MIN ? BENCH_BURST_MIN : burst, rate,
                0);
            pl_bucket_take(bucket, UINT64_MAX);
            uint64_t wanted = (uint64_t)(rate * BENCH_ACCURACY_SEC);
            if (wanted < BENCH_ACCURACY_MIN_TOKENS)
                wanted = BENCH_ACCURACY_MIN_TOKENS;
            int64_t start = cmn_clock_now_mono_ns();
            uint64_t tokens = 0;
            while (tokens < wanted) {
                uint64_t max = wanted - tokens < BENCH_TAKE_MAX
                                   ? wanted - tokens
                                   : BENCH_TAKE_MAX;
                uint64_t got = pl_bucket_take(bucket, max);
                if (got == 0 && pl_bucket_acquire(bucket, 1.0, INT64_MAX) == 0)
                    got = 1;
                tokens += got;
            }
            double elapsed =
                (double)(cmn_clock_now_mono_ns() - start) / CMN_NS_PER_SEC;
            runs[r] = (double)tokens / elapsed;
            pl_bucket_destroy(&bucket);
        }
        printf("rate_%.0f %.3f\n", rate,
               s_median(runs, BENCH_ACCURACY_REPEATS));
    }
    cmn_clock_destroy(&clock);
    return 0;
}
