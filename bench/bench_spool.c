/* bench_spool: the cost of the spool's fsync policies (issue 16).
 *
 * Appends records to a real spool in a directory given on the command line
 * (the disk under test) with each policy, then reads them all back, and
 * prints `name value` lines: microseconds per append and appends per second
 * for fsync=record, interval (100 ms) and never, and the read-back rate.
 * Never asserts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pl_spool.h"

#define BENCH_NS_PER_SEC 1000000000LL
#define BENCH_NS_PER_US 1000.0
#define BENCH_INTERVAL_NS (100 * 1000000LL)
#define BENCH_RECORDS_FAST 200000
#define BENCH_RECORDS_SYNCED 2000
#define BENCH_TAKE_STEP 512
#define BENCH_PATH_MAX 1024

static long long s_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * BENCH_NS_PER_SEC + now.tv_nsec;
}

static long long s_wall_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (long long)now.tv_sec * BENCH_NS_PER_SEC + now.tv_nsec;
}

/* Appends `count` trades with `policy` into a fresh spool under `base`,
 * prints the figures named `name`, reads them back (read rate printed for
 * the `never` run) and removes the files. */
static void s_run(const char *base, const char *name, pl_spool_fsync_t policy,
                  int count, int print_read)
{
    char directory[BENCH_PATH_MAX];
    snprintf(directory, sizeof directory, "%s/bench-spool-%s-%d", base, name,
             (int)getpid());
    pl_spool_config_t config = {.directory = directory,
                                .max_bytes = 1ULL << 40,
                                .segment_bytes = PL_SPOOL_SEGMENT_BYTES_DEFAULT,
                                .full = PL_SPOOL_FULL_DROP_NEWEST,
                                .fsync = policy,
                                .fsync_interval_ns = BENCH_INTERVAL_NS};
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    if (!spool) {
        fprintf(stderr, "bench_spool: cannot open %s\n", directory);
        return;
    }
    mdbp_record_t record = {.kind = MDBP_RECORD_TRADE};
    snprintf(record.provider, sizeof record.provider, "bench");
    record.u.trade.price = 189.25;
    record.u.trade.size = 100;
    long long began = s_now_ns();
    for (int k = 0; k < count; k++) {
        snprintf(record.symbol, sizeof record.symbol, "S%03d", k % 500);
        record.ts_ns = s_wall_ns();
        pl_spool_append(spool, &record, record.ts_ns);
    }
    long long took = s_now_ns() - began;
    printf("%s_append_us %.2f\n", name,
           (double)took / count / BENCH_NS_PER_US);
    printf("%s_appends_per_s %.0f\n", name,
           (double)count * BENCH_NS_PER_SEC / (double)took);
    printf("%s_fsyncs %llu\n", name,
           (unsigned long long)pl_spool_syncs(spool));
    mdbp_record_t out[BENCH_TAKE_STEP];
    began = s_now_ns();
    long long read = 0;
    int got;
    while ((got = pl_spool_take(spool, out, BENCH_TAKE_STEP, s_wall_ns())) > 0)
        read += got;
    took = s_now_ns() - began;
    if (print_read && read > 0)
        printf("read_records_per_s %.0f\n",
               (double)read * BENCH_NS_PER_SEC / (double)took);
    pl_spool_release(spool, pl_spool_drained_segments(spool));
    pl_spool_close(&spool);
    rmdir(directory);
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/tmp";
    s_run(base, "never", PL_SPOOL_FSYNC_NEVER, BENCH_RECORDS_FAST, 1);
    s_run(base, "interval", PL_SPOOL_FSYNC_INTERVAL, BENCH_RECORDS_FAST, 0);
    s_run(base, "record", PL_SPOOL_FSYNC_RECORD, BENCH_RECORDS_SYNCED, 0);
    return 0;
}
