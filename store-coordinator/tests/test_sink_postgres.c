/* test_sink_postgres: the PostgreSQL sink against a real server started by
 * tests/lib/with_postgres.sh (MDS_TEST_PG_URI, MDS_TEST_PG_STOP/START): rows
 * land once, redelivery is ignored, a rejected record fails the whole batch,
 * a lock held elsewhere and a stopped server are TRANSIENT and the sink
 * recovers, a frozen (SIGSTOPped) server makes writes and pings TRANSIENT
 * at the client deadline instead of hanging, and a 10,000-record batch is
 * stored exactly. Each test starts
 * from dropped tables; rows are read back through libpq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_sink_contract.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include "sc_sink.h"

#define SKIP_STATUS 77

static const char *s_uri;

/* Server processes a test may SIGSTOP: the postmaster and its children. */
enum { FROZEN_MAX = 64 };

typedef struct {
    PGconn *conn; /* the test's own connection, for checks */
    sc_sink_t *sink;
    pid_t frozen[FROZEN_MAX]; /* SIGSTOPped by the test, to SIGCONT */
    size_t frozen_count;
} fixture_t;

/* Resumes every server process the test stopped; safe to call twice. The
 * teardown calls it too, so a failed assertion never leaves the server
 * stopped (with_postgres.sh's clean-up also sends SIGCONT). */
static void s_thaw(fixture_t *fixture)
{
    for (size_t index = 0; index < fixture->frozen_count; index++)
        kill(fixture->frozen[index], SIGCONT);
    fixture->frozen_count = 0;
}

static void s_exec_ok(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(result);
}

static PGconn *s_connect(void)
{
    PGconn *conn = PQconnectdb(s_uri);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    s_exec_ok(conn, "SET client_min_messages = warning");
    return conn;
}

static int s_setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    fixture->conn = s_connect();
    s_exec_ok(fixture->conn, "DROP TABLE IF EXISTS trades, quotes, bars");
    char error[256];
    assert_int_equal(sc_sink_check_uri(s_uri, error, sizeof(error)), 0);
    fixture->sink = sc_sink_new(s_uri);
    assert_non_null(fixture->sink);
    *state = fixture;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fixture = *state;
    s_thaw(fixture);
    sc_sink_destroy(&fixture->sink);
    PQfinish(fixture->conn);
    free(fixture);
    return 0;
}

/* One number from a query on the test's own connection. */
static long long s_query_number(fixture_t *fixture, const char *sql)
{
    PGresult *result = PQexec(fixture->conn, sql);
    if (PQresultStatus(result) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(fixture->conn));
    long long value = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return value;
}

static long long s_count_rows(fixture_t *fixture, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    return s_query_number(fixture, sql);
}

/* s_count_rows as the contract's counter. */
static long long s_counter(void *fixture, const char *table)
{
    return s_count_rows(fixture, table);
}

static long long s_total_rows(fixture_t *fixture)
{
    return test_total_rows(s_counter, fixture);
}

static void test_check_uri(void **state)
{
    (void)state;
    char error[256] = "";
    assert_int_equal(sc_sink_check_uri("postgres://u@h:5432/db?sslmode=disable",
                                       error, sizeof(error)),
                     0);
    assert_int_equal(
        sc_sink_check_uri("postgresql://h/db", error, sizeof(error)), 0);
    assert_int_equal(sc_sink_check_uri("postgres://h:notaport/db?bogus=1",
                                       error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "PostgreSQL"));
}

static void test_batches_of_each_kind_land_once(void **state)
{
    fixture_t *fixture = *state;
    assert_string_equal(sc_sink_kind(fixture->sink), "postgres");
    test_sink_lands_once(fixture->sink, s_counter, fixture);

    /* A batch of one kind only. */
    sc_sink_counts_t counts;
    mdbp_record_t bars[5];
    for (int index = 0; index < 5; index++)
        bars[index] = test_bar("ONLY", TEST_TS_BASE_NS + index, 10, 11);
    assert_int_equal(sc_sink_write(fixture->sink, bars, 5, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 5);
    assert_string_equal(sc_sink_error(fixture->sink), "");
}

static void test_values_round_trip(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t records[3] = {
        test_trade("RT", TEST_TS_BASE_NS, 101.25, 7),
        test_quote("RT", TEST_TS_BASE_NS, 99.5, 100.5),
        test_bar("RT", TEST_TS_BASE_NS + 1, 90, 110),
    };
    records[2].u.bar.close = 105;
    records[0].u.trade.price = 0.1; /* not exact in binary: bits must match */
    snprintf(records[1].symbol, sizeof(records[1].symbol), "RT");
    snprintf(records[0].provider, sizeof(records[0].provider), "%s",
             "tab\tquote'back\\slash é");
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, 3, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 3);

    PGresult *result = PQexec(
        fixture->conn,
        "SELECT t.provider, t.ts_ns, t.price = 0.1, t.size, q.ask, b.close,"
        " b.low, b.ts_ns, t.ingested_at <= now()"
        " FROM trades t, quotes q, bars b");
    assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(result), 1);
    assert_string_equal(PQgetvalue(result, 0, 0), "tab\tquote'back\\slash é");
    assert_true(strtoll(PQgetvalue(result, 0, 1), NULL, 10) == TEST_TS_BASE_NS);
    assert_string_equal(PQgetvalue(result, 0, 2), "t");
    assert_string_equal(PQgetvalue(result, 0, 3), "7");
    assert_string_equal(PQgetvalue(result, 0, 4), "100.5");
    assert_string_equal(PQgetvalue(result, 0, 5), "105");
    assert_string_equal(PQgetvalue(result, 0, 6), "90");
    assert_true(strtoll(PQgetvalue(result, 0, 7), NULL, 10) ==
                TEST_TS_BASE_NS + 1);
    assert_string_equal(PQgetvalue(result, 0, 8), "t");
    PQclear(result);
}

/* A batch of fresh records with one replaced by `bad`: PERMANENT, nothing of
 * the batch stored. */
static void s_expect_rejected(fixture_t *fixture, mdbp_record_t bad,
                              int64_t ts_base_ns)
{
    enum { BATCH = 50, BAD_INDEX = 37 };
    mdbp_record_t records[BATCH];
    test_fill_mixed(records, BATCH, "REJ", ts_base_ns);
    records[BAD_INDEX] = bad;
    long long before = s_total_rows(fixture);
    sc_sink_counts_t counts = {1, 1};
    sc_sink_status_t status =
        sc_sink_write(fixture->sink, records, BATCH, &counts);
    if (status != SC_SINK_PERMANENT)
        fail_msg("expected PERMANENT, got %d: %s", (int)status,
                 sc_sink_error(fixture->sink));
    assert_int_equal(counts.written, 0);
    assert_int_equal(counts.duplicates, 0);
    assert_null(strchr(sc_sink_error(fixture->sink), '"'));
    assert_null(strchr(sc_sink_error(fixture->sink), '\n'));
    assert_true(strlen(sc_sink_error(fixture->sink)) > 0);
    assert_int_equal(s_total_rows(fixture), before);
}

static void test_rejected_record_fails_the_whole_batch(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t good[10];
    test_fill_mixed(good, 10, "GOOD", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, good, 10, &counts),
                     SC_SINK_OK);

    int64_t base = TEST_TS_BASE_NS + INT64_C(1000000000);
    s_expect_rejected(fixture, test_trade("BAD", base, -1, 1), base);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "23514"));
    s_expect_rejected(fixture, test_trade("BAD", base, 0, 1), base);
    s_expect_rejected(fixture, test_trade("BAD", base, 10, -5), base);
    s_expect_rejected(fixture, test_quote("BAD", base, 10, -1), base);
    s_expect_rejected(fixture, test_bar("BAD", base, 20, 10), base); /* h<l */
    s_expect_rejected(fixture, test_trade("BAD", base, NAN, 1), base);
    s_expect_rejected(fixture, test_trade("BAD", base, INFINITY, 1), base);
    s_expect_rejected(fixture, test_trade("", base, 10, 1), base);
    mdbp_record_t invalid_utf8 = test_trade("BAD", base, 10, 1);
    snprintf(invalid_utf8.symbol, sizeof(invalid_utf8.symbol), "\xff\xfe");
    s_expect_rejected(fixture, invalid_utf8, base);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "SQLSTATE 22"));
    mdbp_record_t unknown = test_trade("BAD", base, 10, 1);
    unknown.kind = (mdbp_record_kind_t)7;
    s_expect_rejected(fixture, unknown, base);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "record 37"));

    /* The same connection goes on working. */
    mdbp_record_t next[10];
    test_fill_mixed(next, 10, "NEXT", base);
    assert_int_equal(sc_sink_write(fixture->sink, next, 10, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 10);
    assert_int_equal(s_total_rows(fixture), 20);
}

static void test_large_batch_is_exact(void **state)
{
    fixture_t *fixture = *state;
    enum { BATCH = MDBP_BATCH_RECORDS_MAX };
    static mdbp_record_t records[BATCH];
    test_fill_mixed(records, BATCH, "BIG", TEST_TS_BASE_NS);
    /* Long names use the whole field. */
    memset(records[0].symbol, 'S', MDBP_SYMBOL_MAX);
    records[0].symbol[MDBP_SYMBOL_MAX] = '\0';
    memset(records[0].provider, 'P', MDBP_NAME_MAX);
    records[0].provider[MDBP_NAME_MAX] = '\0';
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, BATCH, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, BATCH);
    for (int kind = 0; kind < MDBP_RECORD_KIND_COUNT; kind++)
        assert_int_equal(
            s_count_rows(fixture, kind == 0   ? "trades"
                                  : kind == 1 ? "quotes"
                                              : "bars"),
            test_mixed_kind_count(BATCH, (mdbp_record_kind_t)kind));

    /* Every timestamp and price made it, bit for bit: compare sums. */
    long double ts_sum = 0;
    double volume_sum = 0;
    for (size_t index = 0; index < BATCH; index++) {
        ts_sum += (long double)(records[index].ts_ns - TEST_TS_BASE_NS);
        if (records[index].kind == MDBP_RECORD_BAR)
            volume_sum += records[index].u.bar.volume;
    }
    long long stored_ts = s_query_number(
        fixture,
        "SELECT (SELECT sum(ts_ns - 1704153600000000000) FROM trades) +"
        " (SELECT sum(ts_ns - 1704153600000000000) FROM quotes) +"
        " (SELECT sum(ts_ns - 1704153600000000000) FROM bars)");
    assert_true((long double)stored_ts == ts_sum);
    assert_int_equal(s_query_number(fixture, "SELECT sum(volume) FROM bars"),
                     (long long)volume_sum);
    assert_int_equal(
        s_query_number(fixture,
                       "SELECT count(*) FROM trades WHERE"
                       " length(symbol) = 32 AND length(provider) = 32"),
        1);
    assert_int_equal(s_query_number(fixture,
                                    "SELECT count(*) FROM quotes WHERE"
                                    " ask = bid + 0.5 AND bid_size = 100 AND"
                                    " ask_size = 200"),
                     test_mixed_kind_count(BATCH, MDBP_RECORD_QUOTE));
    assert_int_equal(s_query_number(fixture,
                                    "SELECT count(*) FROM bars WHERE"
                                    " high = low + 1 AND open = low AND"
                                    " close = high"),
                     test_mixed_kind_count(BATCH, MDBP_RECORD_BAR));

    /* The same 10,000 again: all duplicates. */
    assert_int_equal(sc_sink_write(fixture->sink, records, BATCH, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 0);
    assert_int_equal(counts.duplicates, BATCH);
    assert_int_equal(s_total_rows(fixture), BATCH);
}

static void test_lock_held_elsewhere_is_transient(void **state)
{
    fixture_t *fixture = *state;
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_OK);
    PGconn *other = s_connect();
    s_exec_ok(other, "BEGIN");
    s_exec_ok(other, "LOCK TABLE quotes IN ACCESS EXCLUSIVE MODE");

    mdbp_record_t records[30];
    test_fill_mixed(records, 30, "LOCK", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, 30, &counts),
                     SC_SINK_TRANSIENT);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "55P03"));
    s_exec_ok(other, "COMMIT");
    PQfinish(other);

    assert_int_equal(s_total_rows(fixture), 0);
    assert_int_equal(sc_sink_write(fixture->sink, records, 30, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 30);
}

static void test_dropped_table_recovers_on_next_write(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t records[9];
    test_fill_mixed(records, 9, "DROP", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, 9, &counts),
                     SC_SINK_OK);
    s_exec_ok(fixture->conn, "DROP TABLE quotes");

    test_fill_mixed(records, 9, "DROP", TEST_TS_BASE_NS + 1000000);
    assert_int_equal(sc_sink_write(fixture->sink, records, 9, &counts),
                     SC_SINK_TRANSIENT);
    assert_int_equal(s_count_rows(fixture, "trades"), 3);
    assert_int_equal(sc_sink_write(fixture->sink, records, 9, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 9);
    assert_int_equal(s_count_rows(fixture, "quotes"), 3);
    assert_int_equal(s_total_rows(fixture), 15);
}

static void s_run_script(const char *variable)
{
    const char *script = getenv(variable);
    if (script == NULL)
        fail_msg("%s is not set (run under tests/lib/with_postgres.sh)",
                 variable);
    assert_int_equal(system(script), 0);
}

static void test_server_stopped_is_transient_then_recovers(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t records[60];
    test_fill_mixed(records, 60, "DOWN", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, 30, &counts),
                     SC_SINK_OK);
    PQfinish(fixture->conn);
    fixture->conn = NULL;

    s_run_script("MDS_TEST_PG_STOP");
    /* The open connection is dead, then connecting is refused; both are
     * TRANSIENT, and nothing crashes or hangs. */
    for (int attempt = 0; attempt < 3; attempt++) {
        assert_int_equal(
            sc_sink_write(fixture->sink, records + 30, 30, &counts),
            SC_SINK_TRANSIENT);
        assert_true(strlen(sc_sink_error(fixture->sink)) > 0);
        assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_TRANSIENT);
    }
    s_run_script("MDS_TEST_PG_START");

    assert_int_equal(sc_sink_write(fixture->sink, records + 30, 30, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 30);
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_OK);
    fixture->conn = s_connect();
    assert_int_equal(s_total_rows(fixture), 60);
    /* Everything again: all duplicates after the restart. */
    assert_int_equal(sc_sink_write(fixture->sink, records, 60, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.duplicates, 60);

    /* A connection idle across a restart: the first ping once the server
     * is back says reachable (no false "not ready" until the next ping). */
    PQfinish(fixture->conn);
    fixture->conn = NULL;
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_OK);
    s_run_script("MDS_TEST_PG_STOP");
    s_run_script("MDS_TEST_PG_START");
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_OK);
    fixture->conn = s_connect();
}

/* Several workers connecting at once to a database without the schema must
 * all succeed (CREATE TABLE IF NOT EXISTS alone can race). */
enum { RACERS = 4, RACER_BATCH = 30 };

static void *s_racer(void *arg)
{
    intptr_t racer = (intptr_t)arg;
    sc_sink_t *sink = sc_sink_new(s_uri);
    mdbp_record_t records[RACER_BATCH];
    char symbol[16];
    snprintf(symbol, sizeof(symbol), "RACE%d", (int)racer);
    test_fill_mixed(records, RACER_BATCH, symbol, TEST_TS_BASE_NS);
    sc_sink_counts_t counts = {0, 0};
    sc_sink_status_t status =
        sink != NULL ? sc_sink_write(sink, records, RACER_BATCH, &counts)
                     : SC_SINK_TRANSIENT;
    if (status != SC_SINK_OK)
        fprintf(stderr, "racer %d: %s\n", (int)racer,
                sink != NULL ? sc_sink_error(sink) : "no sink");
    sc_sink_destroy(&sink);
    return (void *)(intptr_t)(status == SC_SINK_OK &&
                              counts.written == RACER_BATCH);
}

static void test_concurrent_first_connections(void **state)
{
    fixture_t *fixture = *state;
    pthread_t threads[RACERS];
    for (intptr_t racer = 0; racer < RACERS; racer++)
        assert_int_equal(
            pthread_create(&threads[racer], NULL, s_racer, (void *)racer), 0);
    for (int racer = 0; racer < RACERS; racer++) {
        void *ok = NULL;
        assert_int_equal(pthread_join(threads[racer], &ok), 0);
        assert_true(ok != NULL);
    }
    assert_int_equal(s_total_rows(fixture), RACERS * RACER_BATCH);
}

static void test_unreachable_server_is_transient(void **state)
{
    (void)state;
    /* Port 1 on 127.0.0.1: nothing listens, the connect is refused. */
    sc_sink_t *sink = sc_sink_new("postgresql://postgres@127.0.0.1:1/none");
    assert_non_null(sink);
    mdbp_record_t records[3];
    test_fill_mixed(records, 3, "NOPE", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(sink, records, 3, &counts),
                     SC_SINK_TRANSIENT);
    assert_non_null(strstr(sc_sink_error(sink), "connect"));
    assert_int_equal(sc_sink_ping(sink), SC_SINK_TRANSIENT);
    sc_sink_destroy(&sink);
}

/* The postmaster's pid: the first line of the data dir's postmaster.pid. */
static pid_t s_postmaster_pid(void)
{
    const char *data = getenv("MDS_TEST_PG_DATA");
    assert_non_null(data);
    char path[512];
    snprintf(path, sizeof(path), "%s/postmaster.pid", data);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    long pid = 0;
    int fields = fscanf(file, "%ld", &pid);
    fclose(file);
    assert_int_equal(fields, 1);
    assert_true(pid > 1);
    return (pid_t)pid;
}

/* Children of `parent` from /proc (backends, walwriter, ...). */
static size_t s_children(pid_t parent, pid_t *children, size_t capacity)
{
    DIR *proc = opendir("/proc");
    assert_non_null(proc);
    size_t found = 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL && found < capacity) {
        char *end = NULL;
        long pid = strtol(entry->d_name, &end, 10);
        if (pid <= 0 || *end != '\0')
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        FILE *file = fopen(path, "r");
        if (file == NULL)
            continue; /* gone meanwhile */
        char line[512];
        bool read = fgets(line, sizeof(line), file) != NULL;
        fclose(file);
        /* "pid (comm) state ppid ...": comm may hold spaces; skip past ')'. */
        char *after = read ? strrchr(line, ')') : NULL;
        char state_letter;
        long ppid;
        if (after != NULL &&
            sscanf(after + 1, " %c %ld", &state_letter, &ppid) == 2 &&
            ppid == (long)parent)
            children[found++] = (pid_t)pid;
    }
    closedir(proc);
    return found;
}

/* Freezes the whole server (as an operator's `kill -STOP` or a hung host
 * would): the postmaster first, so it forks nothing new, then its
 * children. */
static void s_freeze(fixture_t *fixture)
{
    pid_t postmaster = s_postmaster_pid();
    assert_int_equal(kill(postmaster, SIGSTOP), 0);
    fixture->frozen[fixture->frozen_count++] = postmaster;
    fixture->frozen_count +=
        s_children(postmaster, fixture->frozen + fixture->frozen_count,
                   FROZEN_MAX - fixture->frozen_count);
    for (size_t index = 1; index < fixture->frozen_count; index++)
        kill(fixture->frozen[index], SIGSTOP);
}

/* A sink call on a thread of its own, so that a call that hangs (the bug
 * this guards against) fails the test instead of blocking it forever. */
typedef struct {
    sc_sink_t *sink;
    const mdbp_record_t *records; /* NULL: ping */
    size_t count;
    sc_sink_status_t status;
    pthread_mutex_t lock;
    pthread_cond_t finished_cond;
    bool finished;
} call_t;

static void *s_call_run(void *arg)
{
    call_t *call = arg;
    sc_sink_counts_t counts;
    sc_sink_status_t status =
        call->records != NULL
            ? sc_sink_write(call->sink, call->records, call->count, &counts)
            : sc_sink_ping(call->sink);
    pthread_mutex_lock(&call->lock);
    call->status = status;
    call->finished = true;
    pthread_cond_signal(&call->finished_cond);
    pthread_mutex_unlock(&call->lock);
    return NULL;
}

/* Far above any deadline the test sets: only a hang gets here. */
#define HANG_LIMIT_S 60

/* Runs a write (or a ping when `records` is NULL) and returns its status;
 * fails the test, after resuming the server and joining the thread, when
 * the call has not returned within HANG_LIMIT_S. */
static sc_sink_status_t
s_bounded_call(fixture_t *fixture, const mdbp_record_t *records, size_t count)
{
    call_t call = {.sink = fixture->sink, .records = records, .count = count};
    pthread_mutex_init(&call.lock, NULL);
    pthread_cond_init(&call.finished_cond, NULL);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_call_run, &call), 0);
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += HANG_LIMIT_S;
    pthread_mutex_lock(&call.lock);
    int waited = 0;
    while (!call.finished && waited != ETIMEDOUT)
        waited =
            pthread_cond_timedwait(&call.finished_cond, &call.lock, &limit);
    bool finished = call.finished;
    pthread_mutex_unlock(&call.lock);
    if (!finished)
        s_thaw(fixture); /* lets the hung call return, so it can be joined */
    pthread_join(thread, NULL);
    pthread_cond_destroy(&call.finished_cond);
    pthread_mutex_destroy(&call.lock);
    if (!finished)
        fail_msg("sink call still blocked after %d s with the server frozen",
                 HANG_LIMIT_S);
    return call.status;
}

/* Short, so the test is quick; the code path is the default's. */
#define FROZEN_TIMEOUT_MS 300

static void test_frozen_server_is_transient_at_the_deadline(void **state)
{
    fixture_t *fixture = *state;
    sc_sink_set_timeout(fixture->sink, FROZEN_TIMEOUT_MS);
    enum { BATCH = 40 };
    mdbp_record_t first[BATCH], second[BATCH];
    test_fill_mixed(first, BATCH, "FROZEN", TEST_TS_BASE_NS);
    test_fill_mixed(second, BATCH, "FROZEN", TEST_TS_BASE_NS + BATCH);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, first, BATCH, &counts),
                     SC_SINK_OK);
    /* The test's own connection would be frozen too. */
    PQfinish(fixture->conn);
    fixture->conn = NULL;

    s_freeze(fixture);
    /* On the open connection: the INSERT pipeline gets no answer. */
    assert_int_equal(s_bounded_call(fixture, second, BATCH), SC_SINK_TRANSIENT);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "deadline"));
    /* Then on a new connection: the kernel accepts it for the stopped
     * postmaster, the startup exchange gets no answer. */
    assert_int_equal(s_bounded_call(fixture, NULL, 0), SC_SINK_TRANSIENT);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "deadline"));
    assert_int_equal(s_bounded_call(fixture, second, BATCH), SC_SINK_TRANSIENT);
    s_thaw(fixture);

    /* Back: the batch lands exactly once, whatever the abandoned attempt
     * did after the server resumed (its rows then count as duplicates). */
    sc_sink_set_timeout(fixture->sink, SC_SINK_TIMEOUT_MS_DEFAULT);
    assert_int_equal(sc_sink_write(fixture->sink, second, BATCH, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written + counts.duplicates, BATCH);
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_OK);
    fixture->conn = s_connect();
    assert_int_equal(s_total_rows(fixture), 2 * BATCH);
}

int main(void)
{
    s_uri = getenv("MDS_TEST_PG_URI");
    if (s_uri == NULL || s_uri[0] == '\0') {
        fprintf(stderr, "test_sink_postgres: SKIP: MDS_TEST_PG_URI is not "
                        "set (run under tests/lib/with_postgres.sh)\n");
        return SKIP_STATUS;
    }
#define FIXTURE_TEST(name)                                                     \
    cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_uri),
        FIXTURE_TEST(test_batches_of_each_kind_land_once),
        FIXTURE_TEST(test_values_round_trip),
        FIXTURE_TEST(test_rejected_record_fails_the_whole_batch),
        FIXTURE_TEST(test_large_batch_is_exact),
        FIXTURE_TEST(test_lock_held_elsewhere_is_transient),
        FIXTURE_TEST(test_dropped_table_recovers_on_next_write),
        FIXTURE_TEST(test_concurrent_first_connections),
        FIXTURE_TEST(test_server_stopped_is_transient_then_recovers),
        FIXTURE_TEST(test_frozen_server_is_transient_at_the_deadline),
        cmocka_unit_test(test_unreachable_server_is_transient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
