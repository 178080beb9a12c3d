/* bench_floor_pg: the floor for ingest into PostgreSQL, a bare libpq loop
 * of the rows bench_loadgen sends (unique trades): one text COPY of BATCH
 * rows straight into a table of the sink's shape per transaction (no
 * de-duplication: the fastest bulk path libpq has).
 *
 *   bench_floor_pg CONNINFO ROWS [BATCH]   prints `records_per_s R` */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_BATCH_DEFAULT 500
#define BENCH_SYMBOLS 4
#define BENCH_LINE_MAX 160
#define BENCH_NS_PER_SEC 1000000000LL
#define BENCH_PRICE 100.0
/* Prices step by a cent over this many steps above BENCH_PRICE. */
#define BENCH_PRICE_STEPS 100

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / (double)BENCH_NS_PER_SEC;
}

static int s_exec(PGconn *conn, const char *sql, ExecStatusType expected)
{
    PGresult *result = PQexec(conn, sql);
    int ok = PQresultStatus(result) == expected;
    if (!ok)
        fprintf(stderr, "bench_floor_pg: %s", PQerrorMessage(conn));
    PQclear(result);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_floor_pg CONNINFO ROWS [BATCH]\n");
        return 2;
    }
    long rows = atol(argv[2]);
    long batch = argc > 3 ? atol(argv[3]) : BENCH_BATCH_DEFAULT;
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "bench_floor_pg: %s", PQerrorMessage(conn));
        return 1;
    }
    if (s_exec(conn,
               "CREATE TABLE IF NOT EXISTS floor_trades ("
               " provider text NOT NULL, symbol text NOT NULL,"
               " ts_ns bigint NOT NULL, price double precision NOT NULL,"
               " size double precision NOT NULL,"
               " ingested_at timestamptz NOT NULL DEFAULT now(),"
               " PRIMARY KEY (provider, symbol, ts_ns))",
               PGRES_COMMAND_OK) != 0)
        return 1;
    long long ts = (long long)time(NULL) * BENCH_NS_PER_SEC + 1;
    char line[BENCH_LINE_MAX];
    double start = s_now();
    for (long done = 0; done < rows;) {
        if (s_exec(conn, "BEGIN", PGRES_COMMAND_OK) != 0 ||
            s_exec(conn,
                   "COPY floor_trades (provider, symbol, ts_ns,"
                   " price, size) FROM STDIN",
                   PGRES_COPY_IN) != 0)
            return 1;
        for (long k = 0; k < batch && done < rows; k++, done++) {
            int length =
                snprintf(line, sizeof line, "bench\tSYM%d\t%lld\t%.2f\t1\n",
                         (int)(ts % BENCH_SYMBOLS), ts,
                         BENCH_PRICE + (double)(k % BENCH_PRICE_STEPS) /
                                           BENCH_PRICE_STEPS);
            ts++;
            PQputCopyData(conn, line, length);
        }
        PQputCopyEnd(conn, NULL);
        PGresult *result = PQgetResult(conn);
        if (PQresultStatus(result) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench_floor_pg: %s", PQerrorMessage(conn));
            return 1;
        }
        PQclear(result);
        while ((result = PQgetResult(conn)))
            PQclear(result);
        if (s_exec(conn, "COMMIT", PGRES_COMMAND_OK) != 0)
            return 1;
    }
    double elapsed = s_now() - start;
    printf("records_per_s %.0f\n", (double)rows / elapsed);
    PQfinish(conn);
    return 0;
}
