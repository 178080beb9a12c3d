/* bench_floor_sqlite: the floor for ingest into SQLite, a bare batch-insert
 * loop of the rows bench_loadgen sends (unique trades) into the same table,
 * with the sink's settings (WAL, synchronous=NORMAL, one prepared INSERT ...
 * ON CONFLICT DO NOTHING, one transaction per BATCH rows).
 *
 *   bench_floor_sqlite PATH ROWS [BATCH]   prints `records_per_s R` */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_BATCH_DEFAULT 500
#define BENCH_SYMBOLS 4
#define BENCH_PRICE 100.0
/* Prices step by a cent over this many steps above BENCH_PRICE. */
#define BENCH_PRICE_STEPS 100
#define BENCH_NS_PER_SEC 1000000000LL

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS trades ("
    " provider TEXT NOT NULL CHECK (length(provider) > 0),"
    " symbol TEXT NOT NULL CHECK (length(symbol) > 0),"
    " ts_ns INTEGER NOT NULL CHECK (ts_ns > 0),"
    " price REAL NOT NULL CHECK (price > 0 AND price < 9e999),"
    " size REAL NOT NULL CHECK (size >= 0 AND size < 9e999),"
    " ingested_at INTEGER NOT NULL,"
    " PRIMARY KEY (provider, symbol, ts_ns)) WITHOUT ROWID;";

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / (double)BENCH_NS_PER_SEC;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_floor_sqlite PATH ROWS [BATCH]\n");
        return 2;
    }
    long rows = atol(argv[2]);
    long batch = argc > 3 ? atol(argv[3]) : BENCH_BATCH_DEFAULT;
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "PRAGMA synchronous=NORMAL;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, s_schema, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_floor_sqlite: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_stmt *insert;
    sqlite3_prepare_v2(db,
                       "INSERT INTO trades (provider, symbol, ts_ns, price,"
                       " size, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT (provider, symbol, ts_ns) DO NOTHING",
                       -1, &insert, NULL);
    long long ts = (long long)time(NULL) * BENCH_NS_PER_SEC + 1;
    char symbol[16];
    double start = s_now();
    for (long done = 0; done < rows;) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (long k = 0; k < batch && done < rows; k++, done++) {
            snprintf(symbol, sizeof symbol, "SYM%d", (int)(ts % BENCH_SYMBOLS));
            sqlite3_bind_text(insert, 1, "bench", -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 2, symbol, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(insert, 3, ts++);
            sqlite3_bind_double(insert, 4,
                                BENCH_PRICE + (double)(k % BENCH_PRICE_STEPS) /
                                                  BENCH_PRICE_STEPS);
            sqlite3_bind_double(insert, 5, 1.0);
            sqlite3_bind_int64(insert, 6, ts);
            if (sqlite3_step(insert) != SQLITE_DONE) {
                fprintf(stderr, "bench_floor_sqlite: %s\n", sqlite3_errmsg(db));
                return 1;
            }
            sqlite3_reset(insert);
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "bench_floor_sqlite: %s\n", sqlite3_errmsg(db));
            return 1;
        }
    }
    double elapsed = s_now() - start;
    printf("records_per_s %.0f\n", (double)rows / elapsed);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return 0;
}
