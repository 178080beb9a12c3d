/* sc_sink_postgres: writes batches into PostgreSQL (`postgres://...` or
 * `postgresql://...`, any libpq connection URI).
 *
 * One connection per sink (per worker), opened lazily, with TCP keepalives
 * (overridable in the URI). Every call (connect, schema, prepare, the write
 * pipeline, rollback, ping) runs on a non-blocking connection against one
 * client-side deadline per sc_sink_write/sc_sink_ping (sc_sink_set_timeout,
 * MDS_DB_TIMEOUT_MS): the socket is polled with the time left, never waited
 * on forever. A server that stops answering (frozen, SIGSTOPped, a network
 * that drops everything) therefore costs at most the deadline: the query
 * under way is cancelled (from a short-lived thread, since libpq 15's
 * PQcancel blocks until the server answers), the connection is closed and
 * the call is TRANSIENT. Server-side timeouts cannot do this (a frozen server
 * runs no timers); they stay for what they are good at: lock and statement
 * timeouts turn a table locked elsewhere into an error. A batch abandoned at
 * the deadline may still commit once the server resumes; the retry then
 * counts its rows as duplicates (every write is idempotent by key), so an
 * unknown outcome is safe to call TRANSIENT.
 *
 * On connect the schema is created (IF NOT EXISTS, under an advisory lock
 * because concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL's
 * catalog) and one INSERT per kind is prepared.
 *
 * The bulk path: each kind's records become one column array per field, in
 * binary (no number formatting or parsing), and one prepared
 * `INSERT INTO t SELECT * FROM unnest($1::text[], ...) ON CONFLICT DO NOTHING`
 * per kind present is sent in pipeline mode followed by one Sync: the whole
 * batch is one implicit transaction and one round trip. The INSERT's row
 * count is the number written; the rest were duplicates (including a key
 * repeated inside the batch, which DO NOTHING skips too). One buffer, kept
 * and grown, holds the arrays: no per-row allocation. (Measured on this
 * machine, 500-record batches: this path ~115,000 rows/s, a multi-row INSERT
 * with text parameters ~100,000, binary COPY into a temp staging table then
 * INSERT ... SELECT ~75,000; the server's ON CONFLICT insertion dominates.)
 *
 * Errors are classified by SQLSTATE: classes 22 (data) and 23 (constraint)
 * are PERMANENT, the transaction is rolled back and the connection kept;
 * everything else (class 08 connection, 40001/40P01 serialization and
 * deadlock, 53 resources, 55P03 lock timeout, 57P0x shutdown, a lost
 * connection with no SQLSTATE, the client deadline, even a table dropped
 * under us) is TRANSIENT, and apart from serialization, deadlock and lock
 * timeouts the connection is closed so that the next write reconnects and
 * re-creates what is missing. */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h"
#include "cmn_log.h"
#include "sc_sink_impl.h"

/* libpq options the URI may override (it is processed after them). No
 * connect_timeout: the asynchronous connect below does not use it, the
 * call's deadline bounds connecting instead. */
#define S_KEEPALIVES_IDLE_S "10"
#define S_KEEPALIVES_INTERVAL_S "5"
#define S_KEEPALIVES_COUNT "3"
#define S_TCP_USER_TIMEOUT_MS "15000"
#define S_APPLICATION_NAME "mds-coordinator"
/* Server-side limits so that a lock held elsewhere or a stuck statement
 * turns into a TRANSIENT error (55P03, 57014) instead of a worker waiting
 * forever. A URI with its own `options` replaces these. */
#define S_SESSION_OPTIONS "-c lock_timeout=2000 -c statement_timeout=60000"

/* Cancel requests still waiting for a frozen server, at most, in the whole
 * process: past this a timed-out query is only disconnected (the server
 * notices when it resumes), so a long outage cannot pile up threads. */
#define S_CANCELS_IN_FLIGHT_MAX 4

/* An arbitrary constant naming the advisory lock that serializes schema
 * creation between coordinators and workers ("mds" in ASCII). */
#define S_SCHEMA_LOCK_KEY "7168883"

/* Binary array format (what array_recv reads): number of dimensions, has-
 * nulls flag, element type, then per dimension its size and lower bound;
 * then each element as a 4-byte length and its bytes. */
#define S_ARRAY_HEADER_BYTES (5 * 4)
#define S_OID_TEXT 25
#define S_OID_INT8 20
#define S_OID_FLOAT8 701
#define S_OID_TEXT_ARRAY 1009
#define S_OID_INT8_ARRAY 1016
#define S_OID_FLOAT8_ARRAY 1022
/* provider, symbol, ts_ns, then the kind's values. */
#define S_KEY_COLUMNS 3
#define S_COLUMNS_MAX (S_KEY_COLUMNS + 5)
/* Bytes one element takes at most, by column (length word included). */
#define S_TEXT_ELEMENT_BYTES_MAX (4 + MDBP_SYMBOL_MAX)
#define S_NUMBER_ELEMENT_BYTES (4 + 8)

/* Mirrors mdbp_record_validate plus what a market makes impossible (prices
 * > 0, high >= low). `x < 'Infinity'` also rejects NaN, which PostgreSQL
 * orders above every number. */
static const char s_schema_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(" S_SCHEMA_LOCK_KEY ");"
    "CREATE TABLE IF NOT EXISTS trades ("
    " provider text NOT NULL CHECK (provider <> ''),"
    " symbol text NOT NULL CHECK (symbol <> ''),"
    " ts_ns bigint NOT NULL CHECK (ts_ns > 0),"
    " price double precision NOT NULL"
    "  CHECK (price > 0 AND price < 'Infinity'),"
    " size double precision NOT NULL"
    "  CHECK (size >= 0 AND size < 'Infinity'),"
    " ingested_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (provider, symbol, ts_ns));"
    "CREATE TABLE IF NOT EXISTS quotes ("
    " provider text NOT NULL CHECK (provider <> ''),"
    " symbol text NOT NULL CHECK (symbol <> ''),"
    " ts_ns bigint NOT NULL CHECK (ts_ns > 0),"
    " bid double precision NOT NULL CHECK (bid > 0 AND bid < 'Infinity'),"
    " bid_size double precision NOT NULL"
    "  CHECK (bid_size >= 0 AND bid_size < 'Infinity'),"
    " ask double precision NOT NULL CHECK (ask > 0 AND ask < 'Infinity'),"
    " ask_size double precision NOT NULL"
    "  CHECK (ask_size >= 0 AND ask_size < 'Infinity'),"
    " ingested_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (provider, symbol, ts_ns));"
    "CREATE TABLE IF NOT EXISTS bars ("
    " provider text NOT NULL CHECK (provider <> ''),"
    " symbol text NOT NULL CHECK (symbol <> ''),"
    " ts_ns bigint NOT NULL CHECK (ts_ns > 0),"
    " open double precision NOT NULL CHECK (open > 0 AND open < 'Infinity'),"
    " high double precision NOT NULL CHECK (high > 0 AND high < 'Infinity'),"
    " low double precision NOT NULL CHECK (low > 0 AND low < 'Infinity'),"
    " close double precision NOT NULL"
    "  CHECK (close > 0 AND close < 'Infinity'),"
    " volume double precision NOT NULL"
    "  CHECK (volume >= 0 AND volume < 'Infinity'),"
    " ingested_at timestamptz NOT NULL DEFAULT now(),"
    " CHECK (high >= low),"
    " PRIMARY KEY (provider, symbol, ts_ns));"
    "COMMIT;";

/* Values per kind after the key columns. */
static const int s_value_columns[MDBP_RECORD_KIND_COUNT] = {
    [MDBP_RECORD_TRADE] = 2,
    [MDBP_RECORD_QUOTE] = 4,
    [MDBP_RECORD_BAR] = 5,
};

static const char *const s_statement_name[MDBP_RECORD_KIND_COUNT] = {
    [MDBP_RECORD_TRADE] = "sc_insert_trades",
    [MDBP_RECORD_QUOTE] = "sc_insert_quotes",
    [MDBP_RECORD_BAR] = "sc_insert_bars",
};

static const char *const s_insert_sql[MDBP_RECORD_KIND_COUNT] = {
    [MDBP_RECORD_TRADE] =
        "INSERT INTO trades (provider, symbol, ts_ns, price, size)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::int8[],"
        " $4::float8[], $5::float8[]) ON CONFLICT DO NOTHING",
    [MDBP_RECORD_QUOTE] =
        "INSERT INTO quotes (provider, symbol, ts_ns, bid, bid_size, ask,"
        " ask_size) SELECT * FROM unnest($1::text[], $2::text[], $3::int8[],"
        " $4::float8[], $5::float8[], $6::float8[], $7::float8[])"
        " ON CONFLICT DO NOTHING",
    [MDBP_RECORD_BAR] =
        "INSERT INTO bars (provider, symbol, ts_ns, open, high, low, close,"
        " volume) SELECT * FROM unnest($1::text[], $2::text[], $3::int8[],"
        " $4::float8[], $5::float8[], $6::float8[], $7::float8[],"
        " $8::float8[]) ON CONFLICT DO NOTHING",
};

typedef struct {
    char *uri;           /* owned copy of the connection URI */
    PGconn *conn;        /* NULL until the first write or ping; non-blocking */
    int64_t timeout_ms;  /* client-side deadline of one write or ping */
    int64_t deadline_ns; /* monotonic; when the call under way gives up */
    bool expired;        /* the call under way reached its deadline */
    char *arrays;        /* binary column arrays, kept between batches */
    size_t arrays_capacity;
} s_postgres_t;

/* Cancel threads running now (S_CANCELS_IN_FLIGHT_MAX). */
static atomic_int s_cancels_in_flight;

static int s_postgres_check(const char *uri, char *error, size_t error_capacity)
{
    char *message = NULL;
    PQconninfoOption *options = PQconninfoParse(uri, &message);
    if (options == NULL) {
        /* libpq's message ends with a newline; drop it. */
        size_t length = message != NULL ? strcspn(message, "\n") : 0;
        snprintf(error, error_capacity,
                 "sink URI is not a valid PostgreSQL connection URI: %.*s",
                 (int)length, message != NULL ? message : "out of memory");
        PQfreemem(message);
        return -1;
    }
    PQconninfoFree(options);
    return 0;
}

static void *s_postgres_open(const char *uri)
{
    s_postgres_t *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return NULL;
    self->uri = strdup(uri);
    if (self->uri == NULL) {
        free(self);
        return NULL;
    }
    self->timeout_ms = SC_SINK_TIMEOUT_MS_DEFAULT;
    return self;
}

static void s_postgres_set_timeout(void *state, int64_t timeout_ms)
{
    s_postgres_t *self = state;
    self->timeout_ms = timeout_ms;
}

/* Starts the deadline of one public call (write or ping). */
static void s_deadline_start(s_postgres_t *self)
{
    self->deadline_ns =
        cmn_clock_now_mono_ns() + self->timeout_ms * CMN_NS_PER_MS;
    self->expired = false;
}

/* Waits until the connection's socket is ready for `events` (POLLIN,
 * POLLOUT) or the call's deadline passes. Returns 0 when ready (`ready`, if
 * not NULL, says for what; an error or hang-up counts as ready so that libpq
 * reports it), or -1 when the deadline passed (`expired` set) or the socket
 * is gone. */
static int s_poll(s_postgres_t *self, short events, short *ready)
{
    struct pollfd entry = {.fd = PQsocket(self->conn), .events = events};
    if (entry.fd < 0)
        return -1;
    for (;;) {
        int64_t left_ns = self->deadline_ns - cmn_clock_now_mono_ns();
        if (left_ns <= 0) {
            self->expired = true;
            return -1;
        }
        /* Rounded up: poll(0) would spin through the last millisecond. */
        int left_ms = (int)((left_ns + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS);
        int polled = poll(&entry, 1, left_ms);
        if (polled > 0) {
            if (ready != NULL)
                *ready = entry.revents;
            return 0;
        }
        if (polled < 0 && errno != EINTR)
            return -1;
    }
}

/* Sends everything libpq has buffered, reading meanwhile (a server blocked
 * sending to us would otherwise never read our data). Returns 0 or -1. */
static int s_flush(s_postgres_t *self)
{
    for (;;) {
        int pending = PQflush(self->conn);
        if (pending <= 0)
            return pending;
        short ready = 0;
        if (s_poll(self, POLLIN | POLLOUT, &ready) != 0)
            return -1;
        if ((ready & POLLIN) != 0 && !PQconsumeInput(self->conn))
            return -1;
    }
}

/* The next result of the command under way into `*result` (NULL after its
 * last one; the caller clears it), waiting at most until the deadline.
 * Returns 0, or -1 when the deadline passed or the connection broke. */
static int s_next_result(s_postgres_t *self, PGresult **result)
{
    *result = NULL;
    if (s_flush(self) != 0)
        return -1;
    while (PQisBusy(self->conn)) {
        if (s_poll(self, POLLIN, NULL) != 0 || !PQconsumeInput(self->conn))
            return -1;
    }
    *result = PQgetResult(self->conn);
    return 0;
}

/* Drops the results still due for the command under way. Returns 0, or -1
 * as s_next_result. */
static int s_drain_results(s_postgres_t *self)
{
    PGresult *result;
    do {
        if (s_next_result(self, &result) != 0)
            return -1;
        PQclear(result);
    } while (result != NULL);
    return 0;
}

static void *s_cancel_run(void *arg)
{
    PGcancel *cancel = arg;
    char message[256];
    /* Blocks until the server answers: a frozen one answers when resumed. */
    if (!PQcancel(cancel, message, sizeof(message)))
        cmn_log_debug("sink", "cancel_failed", "kind=postgres error=\"%s\"",
                      message);
    PQfreeCancel(cancel);
    atomic_fetch_sub(&s_cancels_in_flight, 1);
    return NULL;
}

/* Asks the server to cancel the query under way, without waiting: libpq
 * 15's PQcancel waits for the server's answer, which a frozen server never
 * sends, so it runs on a detached thread of its own. Best effort. */
static void s_cancel(s_postgres_t *self)
{
    if (self->conn == NULL || PQstatus(self->conn) != CONNECTION_OK ||
        PQtransactionStatus(self->conn) != PQTRANS_ACTIVE)
        return;
    if (atomic_fetch_add(&s_cancels_in_flight, 1) >= S_CANCELS_IN_FLIGHT_MAX) {
        atomic_fetch_sub(&s_cancels_in_flight, 1);
        return;
    }
    PGcancel *cancel = PQgetCancel(self->conn);
    pthread_attr_t attributes;
    pthread_t thread;
    bool started = false;
    if (cancel != NULL && pthread_attr_init(&attributes) == 0) {
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        started =
            pthread_create(&thread, &attributes, s_cancel_run, cancel) == 0;
        pthread_attr_destroy(&attributes);
    }
    if (!started) {
        PQfreeCancel(cancel);
        atomic_fetch_sub(&s_cancels_in_flight, 1);
    }
}

static void s_disconnect(s_postgres_t *self)
{
    PQfinish(self->conn);
    self->conn = NULL;
}

static void s_postgres_close(void *state)
{
    s_postgres_t *self = state;
    s_disconnect(self);
    free(self->arrays);
    free(self->uri);
    free(self);
}

/* libpq prints NOTICEs (e.g. "relation already exists, skipping") to stderr
 * by default; they are expected here, so they are dropped. */
static void s_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Copies libpq's (multi-line) message into `error` on one line. */
static void s_set_error(sc_sink_error_t *error, const char *context,
                        const char *sqlstate, const char *message)
{
    sc_sink_error_set(error, "postgres: %s: %s%s%s", context,
                      sqlstate != NULL ? "SQLSTATE " : "",
                      sqlstate != NULL ? sqlstate : "",
                      sqlstate != NULL ? " " : "");
    size_t used = strlen(error->text);
    for (const char *cursor = message;
         cursor != NULL && *cursor != '\0' && used + 1 < sizeof(error->text);
         cursor++) {
        char next = *cursor == '\n' || *cursor == '\t' ? ' ' : *cursor;
        if (next == ' ' && (used == 0 || error->text[used - 1] == ' '))
            continue; /* collapse runs of spaces and line breaks */
        error->text[used++] = next;
    }
    while (used > 0 && error->text[used - 1] == ' ')
        used--;
    error->text[used] = '\0';
}

/* Whether SQLSTATE `state` means the data was rejected: class 22 (data
 * exception) or 23 (integrity constraint). */
static bool s_is_permanent(const char *state)
{
    return state != NULL &&
           (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
}

/* Serialization failure, deadlock, lock not available: a rollback clears
 * them, the connection is fine. */
static bool s_keeps_connection(const char *state)
{
    return state != NULL &&
           (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
            strcmp(state, "55P03") == 0);
}

/* Ends the open transaction (if any) after an error; a connection where even
 * that fails is closed. */
static void s_rollback(s_postgres_t *self)
{
    if (self->conn == NULL)
        return;
    if (PQstatus(self->conn) != CONNECTION_OK) {
        s_disconnect(self);
        return;
    }
    if (PQtransactionStatus(self->conn) == PQTRANS_IDLE)
        return;
    PGresult *result = NULL;
    bool ok = PQsendQuery(self->conn, "ROLLBACK") &&
              s_next_result(self, &result) == 0 &&
              PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (ok && s_drain_results(self) != 0)
        ok = false;
    if (!ok) {
        s_cancel(self);
        s_disconnect(self);
    }
}

/* Classifies a failed `result` (may be NULL: out of memory, connection
 * lost, deadline passed), fills `error`, clears the result, rolls back, and
 * closes the connection unless the error was about the data or a retryable
 * conflict. Past the deadline: cancels, closes, TRANSIENT. */
static sc_sink_status_t s_fail(s_postgres_t *self, PGresult *result,
                               const char *context, sc_sink_error_t *error)
{
    if (self->expired) {
        PQclear(result);
        sc_sink_error_set(error,
                          "postgres: %s: no answer within the client "
                          "deadline of %lld ms; cancelled and disconnected",
                          context, (long long)self->timeout_ms);
        s_cancel(self);
        s_disconnect(self);
        return SC_SINK_TRANSIENT;
    }
    const char *state =
        result != NULL ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
    const char *message = result != NULL ? PQresultErrorMessage(result) : "";
    if ((message == NULL || message[0] == '\0') && self->conn != NULL)
        message = PQerrorMessage(self->conn);
    s_set_error(error, context, state, message);
    /* A connection stuck in pipeline mode is as good as lost. */
    bool lost = self->conn == NULL || PQstatus(self->conn) != CONNECTION_OK ||
                PQpipelineStatus(self->conn) != PQ_PIPELINE_OFF;
    sc_sink_status_t status =
        !lost && s_is_permanent(state) ? SC_SINK_PERMANENT : SC_SINK_TRANSIENT;
    bool keep =
        !lost && (status == SC_SINK_PERMANENT || s_keeps_connection(state));
    PQclear(result);
    /* Drain anything still queued from a multi-statement query. */
    if (keep && s_drain_results(self) != 0)
        keep = false;
    if (keep)
        s_rollback(self);
    else {
        s_cancel(self);
        s_disconnect(self);
    }
    return status;
}

/* Runs `sql` (no parameters, may be several statements) to its end within
 * the deadline. Returns OK, or TRANSIENT with `error` (via s_fail). */
static sc_sink_status_t s_run(s_postgres_t *self, const char *sql,
                              const char *context, sc_sink_error_t *error)
{
    if (!PQsendQuery(self->conn, sql))
        return s_fail(self, NULL, context, error);
    PGresult *result;
    PGresult *failed = NULL;
    for (;;) {
        if (s_next_result(self, &result) != 0) {
            PQclear(failed);
            return s_fail(self, NULL, context, error);
        }
        if (result == NULL)
            break;
        ExecStatusType status = PQresultStatus(result);
        if (failed == NULL && status != PGRES_COMMAND_OK &&
            status != PGRES_TUPLES_OK)
            failed = result;
        else
            PQclear(result);
    }
    if (failed != NULL)
        return s_fail(self, failed, context, error);
    return SC_SINK_OK;
}

/* Prepares `sql` as `name` within the deadline. OK or as s_fail. */
static sc_sink_status_t s_prepare(s_postgres_t *self, const char *name,
                                  const char *sql, sc_sink_error_t *error)
{
    if (!PQsendPrepare(self->conn, name, sql, 0, NULL))
        return s_fail(self, NULL, "prepare insert", error);
    PGresult *result;
    if (s_next_result(self, &result) != 0)
        return s_fail(self, NULL, "prepare insert", error);
    if (PQresultStatus(result) != PGRES_COMMAND_OK)
        return s_fail(self, result, "prepare insert", error);
    PQclear(result);
    if (s_drain_results(self) != 0)
        return s_fail(self, NULL, "prepare insert", error);
    return SC_SINK_OK;
}

/* Connects without blocking: PQconnectPoll driven by s_poll until the
 * deadline (libpq's connect_timeout plays no part in this mode). Returns
 * 0, or -1 with `error` and the connection closed. */
static int s_connect_poll(s_postgres_t *self, const char *const keywords[],
                          const char *const values[], sc_sink_error_t *error)
{
    self->conn = PQconnectStartParams(keywords, values, 1);
    if (self->conn == NULL) {
        sc_sink_error_set(error, "postgres: connect: out of memory");
        return -1;
    }
    /* As the libpq manual says: start as if PQconnectPoll said WRITING. */
    PostgresPollingStatusType polling = PQstatus(self->conn) == CONNECTION_BAD
                                            ? PGRES_POLLING_FAILED
                                            : PGRES_POLLING_WRITING;
    while (polling != PGRES_POLLING_OK && polling != PGRES_POLLING_FAILED) {
        short events = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (s_poll(self, events, NULL) != 0) {
            if (self->expired)
                sc_sink_error_set(error,
                                  "postgres: connect: no answer within the "
                                  "client deadline of %lld ms",
                                  (long long)self->timeout_ms);
            else
                s_set_error(error, "connect", NULL, PQerrorMessage(self->conn));
            s_disconnect(self);
            return -1;
        }
        polling = PQconnectPoll(self->conn);
    }
    if (polling == PGRES_POLLING_FAILED ||
        PQstatus(self->conn) != CONNECTION_OK) {
        s_set_error(error, "connect", NULL, PQerrorMessage(self->conn));
        s_disconnect(self);
        return -1;
    }
    /* From here on no libpq call may block (PQfinish included). */
    if (PQsetnonblocking(self->conn, 1) != 0) {
        s_set_error(error, "connect", NULL, PQerrorMessage(self->conn));
        s_disconnect(self);
        return -1;
    }
    return 0;
}

/* Opens the connection and creates the schema. OK or TRANSIENT (nothing
 * about connecting is the data's fault). */
static sc_sink_status_t s_connect(s_postgres_t *self, sc_sink_error_t *error)
{
    if (self->conn != NULL && PQstatus(self->conn) == CONNECTION_OK)
        return SC_SINK_OK;
    s_disconnect(self);
    /* Our defaults first: the URI (dbname, expanded) comes after and wins. */
    const char *const keywords[] = {
        "keepalives",       "keepalives_idle",  "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "fallback_application_name",
        "options",          "dbname",           NULL,
    };
    const char *const values[] = {
        "1",
        S_KEEPALIVES_IDLE_S,
        S_KEEPALIVES_INTERVAL_S,
        S_KEEPALIVES_COUNT,
        S_TCP_USER_TIMEOUT_MS,
        S_APPLICATION_NAME,
        S_SESSION_OPTIONS,
        self->uri,
        NULL,
    };
    if (s_connect_poll(self, keywords, values, error) != 0)
        return SC_SINK_TRANSIENT;
    PQsetNoticeProcessor(self->conn, s_ignore_notice, NULL);

    sc_sink_status_t status = s_run(self, s_schema_sql, "create schema", error);
    for (size_t kind = 0; kind < MDBP_RECORD_KIND_COUNT; kind++)
        if (status == SC_SINK_OK)
            status = s_prepare(self, s_statement_name[kind], s_insert_sql[kind],
                               error);
    if (status != SC_SINK_OK) {
        /* Nothing about connecting is the data's fault. */
        s_disconnect(self);
        return SC_SINK_TRANSIENT;
    }
    /* Once per (re)connection, without the URI (it may hold a password);
     * failures are the worker's to log. */
    cmn_log_info("sink", "connected",
                 "kind=postgres host=%s port=%s dbname=%s user=%s",
                 PQhost(self->conn), PQport(self->conn), PQdb(self->conn),
                 PQuser(self->conn));
    return SC_SINK_OK;
}

/* Appends big-endian integers and raw bytes to the array buffer; the caller
 * reserved room for the worst case. */
static char *s_put32(char *cursor, uint32_t value)
{
    value = htobe32(value);
    memcpy(cursor, &value, sizeof(value));
    return cursor + sizeof(value);
}

static char *s_put64(char *cursor, uint64_t value)
{
    value = htobe64(value);
    memcpy(cursor, &value, sizeof(value));
    return cursor + sizeof(value);
}

static char *s_put_text(char *cursor, const char *text, size_t capacity)
{
    size_t length = strnlen(text, capacity);
    cursor = s_put32(cursor, (uint32_t)length);
    memcpy(cursor, text, length);
    return cursor + length;
}

static char *s_put_double(char *cursor, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    cursor = s_put32(cursor, sizeof(bits));
    return s_put64(cursor, bits);
}

/* One kind's part of a batch: a binary array per column. */
typedef struct {
    size_t rows;                      /* records of this kind */
    int columns;                      /* key columns + values */
    const char *start[S_COLUMNS_MAX]; /* each array's first byte */
    char *cursor[S_COLUMNS_MAX];      /* where its next element goes */
    int length[S_COLUMNS_MAX];        /* each array's size when done */
} s_kind_arrays_t;

static char *s_put_array_header(char *cursor, uint32_t element_oid,
                                size_t elements)
{
    cursor = s_put32(cursor, 1); /* dimensions */
    cursor = s_put32(cursor, 0); /* no NULL elements */
    cursor = s_put32(cursor, element_oid);
    cursor = s_put32(cursor, (uint32_t)elements);
    return s_put32(cursor, 1); /* lower bound */
}

/* Lays out and fills the column arrays of every kind present in the batch.
 * Returns 0, or -1 when the buffer cannot grow. */
static int s_encode(s_postgres_t *self, const mdbp_record_t *records,
                    size_t count, s_kind_arrays_t arrays[])
{
    for (size_t index = 0; index < count; index++)
        arrays[records[index].kind].rows++;
    size_t needed = 0;
    for (size_t kind = 0; kind < MDBP_RECORD_KIND_COUNT; kind++) {
        arrays[kind].columns = S_KEY_COLUMNS + s_value_columns[kind];
        if (arrays[kind].rows > 0)
            needed += (size_t)arrays[kind].columns * S_ARRAY_HEADER_BYTES +
                      arrays[kind].rows * (2 * S_TEXT_ELEMENT_BYTES_MAX +
                                           (size_t)(arrays[kind].columns - 2) *
                                               S_NUMBER_ELEMENT_BYTES);
    }
    if (needed > self->arrays_capacity) {
        char *grown = realloc(self->arrays, needed);
        if (grown == NULL)
            return -1;
        self->arrays = grown;
        self->arrays_capacity = needed;
    }
    /* Each column gets its worst-case region, one after the other. */
    char *next = self->arrays;
    for (size_t kind = 0; kind < MDBP_RECORD_KIND_COUNT; kind++) {
        s_kind_arrays_t *part = &arrays[kind];
        if (part->rows == 0)
            continue;
        for (int column = 0; column < part->columns; column++) {
            bool text = column < 2;
            uint32_t oid = text          ? S_OID_TEXT
                           : column == 2 ? S_OID_INT8
                                         : S_OID_FLOAT8;
            part->start[column] = next;
            part->cursor[column] = s_put_array_header(next, oid, part->rows);
            next += S_ARRAY_HEADER_BYTES +
                    part->rows * (text ? S_TEXT_ELEMENT_BYTES_MAX
                                       : S_NUMBER_ELEMENT_BYTES);
        }
    }
    for (size_t index = 0; index < count; index++) {
        const mdbp_record_t *record = &records[index];
        char **cursor = arrays[record->kind].cursor;
        cursor[0] =
            s_put_text(cursor[0], record->provider, sizeof(record->provider));
        cursor[1] =
            s_put_text(cursor[1], record->symbol, sizeof(record->symbol));
        cursor[2] = s_put32(cursor[2], sizeof(uint64_t));
        cursor[2] = s_put64(cursor[2], (uint64_t)record->ts_ns);
        switch (record->kind) {
        case MDBP_RECORD_TRADE:
            cursor[3] = s_put_double(cursor[3], record->u.trade.price);
            cursor[4] = s_put_double(cursor[4], record->u.trade.size);
            break;
        case MDBP_RECORD_QUOTE:
            cursor[3] = s_put_double(cursor[3], record->u.quote.bid);
            cursor[4] = s_put_double(cursor[4], record->u.quote.bid_size);
            cursor[5] = s_put_double(cursor[5], record->u.quote.ask);
            cursor[6] = s_put_double(cursor[6], record->u.quote.ask_size);
            break;
        case MDBP_RECORD_BAR:
            cursor[3] = s_put_double(cursor[3], record->u.bar.open);
            cursor[4] = s_put_double(cursor[4], record->u.bar.high);
            cursor[5] = s_put_double(cursor[5], record->u.bar.low);
            cursor[6] = s_put_double(cursor[6], record->u.bar.close);
            cursor[7] = s_put_double(cursor[7], record->u.bar.volume);
            break;
        }
    }
    for (size_t kind = 0; kind < MDBP_RECORD_KIND_COUNT; kind++)
        for (int column = 0; column < arrays[kind].columns; column++)
            if (arrays[kind].rows > 0)
                arrays[kind].length[column] =
                    (int)(arrays[kind].cursor[column] -
                          arrays[kind].start[column]);
    return 0;
}

/* Sends one prepared INSERT per kind present and a Sync (the batch's
 * transaction). Returns the number of INSERTs sent, or -1 when libpq could
 * not queue them. */
static int s_send(s_postgres_t *self, const s_kind_arrays_t arrays[])
{
    static const int binary_formats[S_COLUMNS_MAX] = {1, 1, 1, 1, 1, 1, 1, 1};
    if (!PQenterPipelineMode(self->conn))
        return -1;
    int sent = 0;
    for (size_t kind = 0; kind < MDBP_RECORD_KIND_COUNT; kind++) {
        const s_kind_arrays_t *part = &arrays[kind];
        if (part->rows == 0)
            continue;
        if (!PQsendQueryPrepared(self->conn, s_statement_name[kind],
                                 part->columns, part->start, part->length,
                                 binary_formats, 0))
            return -1;
        sent++;
    }
    return PQpipelineSync(self->conn) ? sent : -1;
}

static sc_sink_status_t s_postgres_write(void *state,
                                         const mdbp_record_t *records,
                                         size_t count, sc_sink_counts_t *counts,
                                         sc_sink_error_t *error)
{
    s_postgres_t *self = state;
    /* A record of an unknown kind is the data's fault: check before any
     * connection work so it is PERMANENT even with the database down. */
    for (size_t index = 0; index < count; index++) {
        unsigned kind = (unsigned)records[index].kind;
        if (kind >= MDBP_RECORD_KIND_COUNT) {
            sc_sink_error_set(error, "postgres: record %zu: unknown kind %u",
                              index, kind);
            return SC_SINK_PERMANENT;
        }
    }
    s_deadline_start(self);
    sc_sink_status_t status = s_connect(self, error);
    if (status != SC_SINK_OK || count == 0)
        return status;

    s_kind_arrays_t arrays[MDBP_RECORD_KIND_COUNT];
    memset(arrays, 0, sizeof(arrays));
    if (s_encode(self, records, count, arrays) != 0) {
        sc_sink_error_set(error, "postgres: out of memory for %zu records",
                          count);
        return SC_SINK_TRANSIENT;
    }
    int sent = s_send(self, arrays);
    if (sent < 0)
        return s_fail(self, NULL, "send batch", error);

    /* Each INSERT's results end with NULL; after a failed one the rest come
     * back PIPELINE_ABORTED; the Sync's own result closes the batch, with
     * the implicit transaction committed, or rolled back after an error. */
    PGresult *failed = NULL;
    size_t written = 0;
    for (int query = 0; query < sent; query++) {
        PGresult *result;
        for (;;) {
            if (s_next_result(self, &result) != 0) {
                PQclear(failed);
                return s_fail(self, NULL, "insert", error);
            }
            if (result == NULL)
                break;
            ExecStatusType result_status = PQresultStatus(result);
            if (result_status == PGRES_COMMAND_OK) {
                written += strtoul(PQcmdTuples(result), NULL, 10);
            } else if (failed == NULL &&
                       result_status != PGRES_PIPELINE_ABORTED) {
                failed = result;
                continue;
            }
            PQclear(result);
        }
    }
    PGresult *sync = NULL;
    if (s_next_result(self, &sync) != 0) {
        PQclear(failed);
        return s_fail(self, NULL, "insert", error);
    }
    bool synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    if (!synced && failed == NULL && sync != NULL) {
        failed = sync; /* e.g. the commit itself failed */
        sync = NULL;
    }
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(self->conn)) {
        /* Out of step with the server: start again on a new connection. */
        s_fail(self, failed, "insert", error);
        s_disconnect(self);
        return SC_SINK_TRANSIENT;
    }
    if (failed != NULL)
        return s_fail(self, failed, "insert", error);
    assert(written <= count);
    counts->written = written;
    counts->duplicates = count - written;
    return SC_SINK_OK;
}

static sc_sink_status_t s_postgres_ping(void *state, sc_sink_error_t *error)
{
    s_postgres_t *self = state;
    /* A connection idle across a server restart fails its first query
     * although the server is back: try once more on a fresh connection
     * before calling the database unreachable (/ready would blink). */
    bool fresh = self->conn == NULL;
    s_deadline_start(self);
    for (;;) {
        sc_sink_status_t status = s_connect(self, error);
        if (status != SC_SINK_OK)
            return status;
        if (s_run(self, "SELECT 1", "ping", error) == SC_SINK_OK)
            return SC_SINK_OK;
        /* A frozen server will not answer a second try either. */
        if (fresh || self->expired)
            return SC_SINK_TRANSIENT; /* reachability, never the data's */
        s_disconnect(self);
        fresh = true;
    }
}

const sc_sink_backend_t sc_sink_postgres_backend = {
    .kind = "postgres",
    .check = s_postgres_check,
    .open = s_postgres_open,
    .close = s_postgres_close,
    .write = s_postgres_write,
    .ping = s_postgres_ping,
    .set_timeout = s_postgres_set_timeout,
};
