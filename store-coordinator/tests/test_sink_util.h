/* test_sink_util: record builders and temp-dir helpers shared by the sink
 * tests (header-only; every function is static inline). */
#ifndef TEST_SINK_UTIL_H
#define TEST_SINK_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mdbp/common.h>

/* A fixed base time so keys are reproducible: 2024-01-02T00:00:00Z. */
#define TEST_TS_BASE_NS INT64_C(1704153600000000000)
#define TEST_PROVIDER "synthetic"

static inline mdbp_record_t test_trade(const char *symbol, int64_t ts_ns,
                                        double price, double size)
{
    mdbp_record_t record;
    memset(&record, 0, sizeof(record));
    record.kind = MDBP_RECORD_TRADE;
    snprintf(record.provider, sizeof(record.provider), "%s", TEST_PROVIDER);
    snprintf(record.symbol, sizeof(record.symbol), "%s", symbol);
    record.ts_ns = ts_ns;
    record.u.trade.price = price;
    record.u.trade.size = size;
    return record;
}

static inline mdbp_record_t test_quote(const char *symbol, int64_t ts_ns,
                                        double bid, double ask)
{
    mdbp_record_t record;
    memset(&record, 0, sizeof(record));
    record.kind = MDBP_RECORD_QUOTE;
    snprintf(record.provider, sizeof(record.provider), "%s", TEST_PROVIDER);
    snprintf(record.symbol, sizeof(record.symbol), "%s", symbol);
    record.ts_ns = ts_ns;
    record.u.quote.bid = bid;
    record.u.quote.bid_size = 100;
    record.u.quote.ask = ask;
    record.u.quote.ask_size = 200;
    return record;
}

static inline mdbp_record_t test_bar(const char *symbol, int64_t ts_ns,
                                      double low, double high)
{
    mdbp_record_t record;
    memset(&record, 0, sizeof(record));
    record.kind = MDBP_RECORD_BAR;
    snprintf(record.provider, sizeof(record.provider), "%s", TEST_PROVIDER);
    snprintf(record.symbol, sizeof(record.symbol), "%s", symbol);
    record.ts_ns = ts_ns;
    record.u.bar.open = low;
    record.u.bar.high = high;
    record.u.bar.low = low;
    record.u.bar.close = high;
    record.u.bar.volume = 1000;
    return record;
}

/* Fills `records` with `count` valid records, kinds in turn (trade, quote,
 * bar), symbol `symbol`, timestamps from `ts_base_ns` one microsecond apart
 * (each kind's keys are distinct). */
static inline void test_fill_mixed(mdbp_record_t *records, size_t count,
                                   const char *symbol, int64_t ts_base_ns)
{
    for (size_t index = 0; index < count; index++) {
        int64_t ts_ns = ts_base_ns + (int64_t)index * 1000;
        double price = 100.0 + (double)(index % 97) * 0.25;
        switch (index % MDBP_RECORD_KIND_COUNT) {
        case 0:
            records[index] = test_trade(symbol, ts_ns, price, 10);
            break;
        case 1:
            records[index] = test_quote(symbol, ts_ns, price, price + 0.5);
            break;
        default:
            records[index] = test_bar(symbol, ts_ns, price, price + 1);
            break;
        }
    }
}

/* How many of the first `count` records test_fill_mixed made of `kind`. */
static inline size_t test_mixed_kind_count(size_t count,
                                           mdbp_record_kind_t kind)
{
    size_t full = count / MDBP_RECORD_KIND_COUNT;
    size_t rest = count % MDBP_RECORD_KIND_COUNT;
    return full + ((size_t)kind < rest ? 1 : 0);
}

/* Removes a directory tree (the test's temp dir); best effort. */
static inline void test_remove_tree(const char *path)
{
    struct stat info;
    if (lstat(path, &info) != 0)
        return;
    if (S_ISDIR(info.st_mode)) {
        DIR *directory = opendir(path);
        if (directory != NULL) {
            struct dirent *entry;
            while ((entry = readdir(directory)) != NULL) {
                if (strcmp(entry->d_name, ".") == 0 ||
                    strcmp(entry->d_name, "..") == 0)
                    continue;
                char child[4096];
                int length = snprintf(child, sizeof(child), "%s/%s", path,
                                      entry->d_name);
                if (length > 0 && (size_t)length < sizeof(child))
                    test_remove_tree(child);
            }
            closedir(directory);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Makes a fresh temp dir; `path` receives its name. Returns 0 or -1. */
static inline int test_make_temp_dir(char *path, size_t capacity)
{
    const char *base = getenv("TMPDIR");
    snprintf(path, capacity, "%s/test_sink_XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    return mkdtemp(path) != NULL ? 0 : -1;
}

#endif
