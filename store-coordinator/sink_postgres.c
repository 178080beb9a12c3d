/* sink_postgres: writes batches into PostgreSQL (`postgres://...` or
 * `postgresql://...`, any libpq connection URI).
 *
 * One connection per sink (per worker), opened lazily with a connect timeout
 * and TCP keepalives (overridable in the URI), so a dead server costs a
 * bounded wait, never a hang. On connect the schema is created (IF NOT EXISTS,
 * under an advisory lock because concurrent CREATE TABLE IF NOT EXISTS can
 * fail on PostgreSQL's catalog) together with a session-local staging table.
 *
 * The bulk path: the whole batch, all kinds at once, goes in one binary COPY
 * into the TEMP staging table (ON COMMIT DELETE ROWS), then one
 * `INSERT INTO t SELECT ... FROM staging WHERE kind = K ON CONFLICT DO
 * NOTHING` per kind present and COMMIT, in one round trip. The INSERT's row
 * count is the number written; the rest of the batch were duplicates
 * (including a key repeated inside the batch, which DO NOTHING skips too).
 * Four round trips per batch whatever its size; no per-row allocation (one
 * COPY buffer kept and grown).
 *
 * Errors are classified by SQLSTATE: classes 22 (data) and 23 (constraint)
 * are PERMANENT, the transaction is rolled back and the connection kept;
 * everything else (class 08 connection, 40001/40P01 serialization and
 * deadlock, 53 resources, 57P0x shutdown, a lost connection with no
 * SQLSTATE, even a table dropped under us) is TRANSIENT, and the connection is
 * closed so that the next write reconnects and re-creates what is missing. */
#include <assert.h>
#include <endian.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_log.h"
#include "sink_impl.h"

/* libpq options the URI may override (it is processed after them). */
#define S_CONNECT_TIMEOUT_S "5"
#define S_KEEPALIVES_IDLE_S "10"
#define S_KEEPALIVES_INTERVAL_S "5"
#define S_KEEPALIVES_COUNT "3"
#define S_TCP_USER_TIMEOUT_MS "15000"
#define S_APPLICATION_NAME "mds-coordinator"
/* Server-side limits so that a lock held elsewhere or a stuck statement
 * turns into a TRANSIENT error (55P03, 57014) instead of a worker waiting
 * forever. A URI with its own `options` replaces these. */
#define S_SESSION_OPTIONS "-c lock_timeout=2000 -c statement_timeout=60000"

/* An arbitrary constant naming the advisory lock that serializes schema
 * creation between coordinators and workers ("mds" in ASCII). */
#define S_SCHEMA_LOCK_KEY "7168883"

/* Binary COPY framing (PostgreSQL "COPY ... (FORMAT binary)"). */
static const char s_copy_signature[] = "PGCOPY\n\377\r\n"; /* + its NUL */
#define S_COPY_SIGNATURE_BYTES 11
#define S_COPY_FIELDS 9 /* kind, provider, symbol, ts_ns, v1..v5 */
#define S_COPY_VALUES 5
/* Worst case bytes per row: field count, then length + data per field. */
#define S_COPY_ROW_BYTES_MAX                                                   \
    (2 + (4 + 2) + (4 + PROTO_NAME_MAX) + (4 + PROTO_SYMBOL_MAX) + (4 + 8) +   \
     S_COPY_VALUES * (4 + 8))
#define S_COPY_HEADER_BYTES (S_COPY_SIGNATURE_BYTES + 4 + 4)
#define S_COPY_TRAILER_BYTES 2

/* Mirrors proto_record_validate plus what a market makes impossible (prices
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
    "COMMIT;"
    /* Session-local, so no lock needed; emptied by every commit/rollback. */
    "CREATE TEMP TABLE IF NOT EXISTS sc_staging ("
    " kind smallint, provider text, symbol text, ts_ns bigint,"
    " v1 double precision, v2 double precision, v3 double precision,"
    " v4 double precision, v5 double precision) ON COMMIT DELETE ROWS;";

static const char s_copy_sql[] =
    "COPY sc_staging FROM STDIN (FORMAT binary)";

/* Per kind, the move from staging into the real table. */
static const char *const s_insert_sql[PROTO_RECORD_KIND_COUNT] = {
    [PROTO_RECORD_TRADE] =
        "INSERT INTO trades (provider, symbol, ts_ns, price, size)"
        " SELECT provider, symbol, ts_ns, v1, v2 FROM sc_staging"
        " WHERE kind = 0 ON CONFLICT DO NOTHING;",
    [PROTO_RECORD_QUOTE] =
        "INSERT INTO quotes (provider, symbol, ts_ns, bid, bid_size, ask,"
        " ask_size) SELECT provider, symbol, ts_ns, v1, v2, v3, v4"
        " FROM sc_staging WHERE kind = 1 ON CONFLICT DO NOTHING;",
    [PROTO_RECORD_BAR] =
        "INSERT INTO bars (provider, symbol, ts_ns, open, high, low, close,"
        " volume) SELECT provider, symbol, ts_ns, v1, v2, v3, v4, v5"
        " FROM sc_staging WHERE kind = 2 ON CONFLICT DO NOTHING;",
};

/* Longest "INSERT ...; INSERT ...; INSERT ...; COMMIT" we build. */
#define S_MOVE_SQL_MAX 1024

typedef struct {
    char *uri;          /* owned copy of the connection URI */
    PGconn *conn;       /* NULL until the first write or ping */
    char *copy_buffer;  /* binary COPY data, kept between batches */
    size_t copy_capacity;
} s_postgres_t;

static int s_postgres_check(const char *uri, char *error,
                            size_t error_capacity)
{
    char *message = NULL;
    PQconninfoOption *options = PQconninfoParse(uri, &message);
    if (options == NULL) {
        /* libpq's message ends with a newline; drop it. */
        size_t length = message != NULL ? strcspn(message, "\n") : 0;
        snprintf(error, error_capacity,
                 "sink URI is not a valid PostgreSQL connection URI: %.*s",
                 (int) length, message != NULL ? message : "out of memory");
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
    return self;
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
    free(self->copy_buffer);
    free(self->uri);
    free(self);
}

/* libpq prints NOTICEs (e.g. "relation already exists, skipping") to stderr
 * by default; they are expected here, so they are dropped. */
static void s_ignore_notice(void *arg, const char *message)
{
    (void) arg;
    (void) message;
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
    PGresult *result = PQexec(self->conn, "ROLLBACK");
    bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (!ok)
        s_disconnect(self);
}

/* Classifies a failed `result` (may be NULL: out of memory or connection
 * lost), fills `error`, clears the result, rolls back, and closes the
 * connection unless the error was about the data or a retryable conflict. */
static sc_sink_status_t s_fail(s_postgres_t *self, PGresult *result,
                               const char *context, sc_sink_error_t *error)
{
    const char *state =
        result != NULL ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
    const char *message = result != NULL ? PQresultErrorMessage(result) : "";
    if (message == NULL || message[0] == '\0')
        message = PQerrorMessage(self->conn);
    s_set_error(error, context, state, message);
    bool lost = PQstatus(self->conn) != CONNECTION_OK;
    sc_sink_status_t status = !lost && s_is_permanent(state)
                                  ? SC_SINK_PERMANENT
                                  : SC_SINK_TRANSIENT;
    bool keep = !lost && (status == SC_SINK_PERMANENT ||
                          s_keeps_connection(state));
    PQclear(result);
    /* Drain anything still queued from a multi-statement query. */
    while (self->conn != NULL && (result = PQgetResult(self->conn)) != NULL)
        PQclear(result);
    if (keep)
        s_rollback(self);
    else
        s_disconnect(self);
    return status;
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
        "connect_timeout",    "keepalives",
        "keepalives_idle",    "keepalives_interval",
        "keepalives_count",   "tcp_user_timeout",
        "fallback_application_name", "options",
        "dbname",
        NULL,
    };
    const char *const values[] = {
        S_CONNECT_TIMEOUT_S,   "1",
        S_KEEPALIVES_IDLE_S,   S_KEEPALIVES_INTERVAL_S,
        S_KEEPALIVES_COUNT,    S_TCP_USER_TIMEOUT_MS,
        S_APPLICATION_NAME,    S_SESSION_OPTIONS,
        self->uri,
        NULL,
    };
    self->conn = PQconnectdbParams(keywords, values, 1);
    if (self->conn == NULL) {
        sc_sink_error_set(error, "postgres: connect: out of memory");
        return SC_SINK_TRANSIENT;
    }
    if (PQstatus(self->conn) != CONNECTION_OK) {
        s_set_error(error, "connect", NULL, PQerrorMessage(self->conn));
        s_disconnect(self);
        return SC_SINK_TRANSIENT;
    }
    PQsetNoticeProcessor(self->conn, s_ignore_notice, NULL);

    if (!PQsendQuery(self->conn, s_schema_sql)) {
        s_set_error(error, "create schema", NULL, PQerrorMessage(self->conn));
        s_disconnect(self);
        return SC_SINK_TRANSIENT;
    }
    PGresult *result;
    PGresult *failed = NULL;
    while ((result = PQgetResult(self->conn)) != NULL) {
        ExecStatusType status = PQresultStatus(result);
        if (failed == NULL && status != PGRES_COMMAND_OK &&
            status != PGRES_TUPLES_OK)
            failed = result;
        else
            PQclear(result);
    }
    if (failed != NULL || PQstatus(self->conn) != CONNECTION_OK) {
        const char *state =
            failed != NULL ? PQresultErrorField(failed, PG_DIAG_SQLSTATE)
                           : NULL;
        s_set_error(error, "create schema", state,
                    failed != NULL ? PQresultErrorMessage(failed)
                                   : PQerrorMessage(self->conn));
        PQclear(failed);
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

/* Appends big-endian integers and raw bytes to the COPY buffer; the caller
 * reserved room for the worst case. */
static char *s_put16(char *cursor, uint16_t value)
{
    value = htobe16(value);
    memcpy(cursor, &value, sizeof(value));
    return cursor + sizeof(value);
}

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
    cursor = s_put32(cursor, (uint32_t) length);
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

/* Encodes the batch as binary COPY data. Returns its size, or 0 when the
 * buffer cannot grow. Also marks which kinds are present. */
static size_t s_encode(s_postgres_t *self, const proto_record_t *records,
                       size_t count, bool present[PROTO_RECORD_KIND_COUNT])
{
    size_t needed = S_COPY_HEADER_BYTES + count * S_COPY_ROW_BYTES_MAX +
                    S_COPY_TRAILER_BYTES;
    if (needed > self->copy_capacity) {
        char *grown = realloc(self->copy_buffer, needed);
        if (grown == NULL)
            return 0;
        self->copy_buffer = grown;
        self->copy_capacity = needed;
    }
    char *cursor = self->copy_buffer;
    memcpy(cursor, s_copy_signature, S_COPY_SIGNATURE_BYTES);
    cursor += S_COPY_SIGNATURE_BYTES;
    cursor = s_put32(cursor, 0); /* flags */
    cursor = s_put32(cursor, 0); /* header extension length */

    for (size_t index = 0; index < count; index++) {
        const proto_record_t *record = &records[index];
        double values[S_COPY_VALUES];
        size_t used = 0;
        switch (record->kind) {
        case PROTO_RECORD_TRADE:
            values[used++] = record->u.trade.price;
            values[used++] = record->u.trade.size;
            break;
        case PROTO_RECORD_QUOTE:
            values[used++] = record->u.quote.bid;
            values[used++] = record->u.quote.bid_size;
            values[used++] = record->u.quote.ask;
            values[used++] = record->u.quote.ask_size;
            break;
        case PROTO_RECORD_BAR:
            values[used++] = record->u.bar.open;
            values[used++] = record->u.bar.high;
            values[used++] = record->u.bar.low;
            values[used++] = record->u.bar.close;
            values[used++] = record->u.bar.volume;
            break;
        }
        present[record->kind] = true;
        cursor = s_put16(cursor, S_COPY_FIELDS);
        cursor = s_put32(cursor, sizeof(uint16_t));
        cursor = s_put16(cursor, (uint16_t) record->kind);
        cursor = s_put_text(cursor, record->provider, sizeof(record->provider));
        cursor = s_put_text(cursor, record->symbol, sizeof(record->symbol));
        cursor = s_put32(cursor, sizeof(uint64_t));
        cursor = s_put64(cursor, (uint64_t) record->ts_ns);
        for (size_t value = 0; value < S_COPY_VALUES; value++) {
            if (value < used)
                cursor = s_put_double(cursor, values[value]);
            else
                cursor = s_put32(cursor, UINT32_MAX); /* -1: NULL */
        }
    }
    cursor = s_put16(cursor, UINT16_MAX); /* -1: end of data */
    return (size_t) (cursor - self->copy_buffer);
}

/* Sends `size` bytes of COPY data and ends the COPY. Returns the COPY's final
 * result (caller clears), NULL when libpq failed to send. */
static PGresult *s_copy(s_postgres_t *self, size_t size)
{
    PGresult *result = PQexec(self->conn, s_copy_sql);
    if (PQresultStatus(result) != PGRES_COPY_IN)
        return result;
    PQclear(result);
    /* PQputCopyData takes an int length; a batch is far below 2 GiB
     * (PROTO_BATCH_RECORDS_MAX * S_COPY_ROW_BYTES_MAX). */
    if (PQputCopyData(self->conn, self->copy_buffer, (int) size) != 1) {
        PQputCopyEnd(self->conn, "client failed to send data");
    } else if (PQputCopyEnd(self->conn, NULL) != 1) {
        return PQgetResult(self->conn);
    }
    return PQgetResult(self->conn);
}

static sc_sink_status_t s_postgres_write(void *state,
                                         const proto_record_t *records,
                                         size_t count,
                                         sc_sink_counts_t *counts,
                                         sc_sink_error_t *error)
{
    s_postgres_t *self = state;
    /* A record of an unknown kind is the data's fault: check before any
     * connection work so it is PERMANENT even with the database down. */
    for (size_t index = 0; index < count; index++) {
        unsigned kind = (unsigned) records[index].kind;
        if (kind >= PROTO_RECORD_KIND_COUNT) {
            sc_sink_error_set(error, "postgres: record %zu: unknown kind %u",
                              index, kind);
            return SC_SINK_PERMANENT;
        }
    }
    sc_sink_status_t status = s_connect(self, error);
    if (status != SC_SINK_OK || count == 0)
        return status;

    bool present[PROTO_RECORD_KIND_COUNT] = {false};
    size_t size = s_encode(self, records, count, present);
    if (size == 0) {
        sc_sink_error_set(error, "postgres: out of memory for %zu records",
                          count);
        return SC_SINK_TRANSIENT;
    }

    PGresult *result = PQexec(self->conn, "BEGIN");
    if (PQresultStatus(result) != PGRES_COMMAND_OK)
        return s_fail(self, result, "begin transaction", error);
    PQclear(result);

    result = s_copy(self, size);
    if (PQresultStatus(result) != PGRES_COMMAND_OK)
        return s_fail(self, result, "copy into staging", error);
    PQclear(result);
    /* The COPY's own result may be followed by nothing else. */
    while ((result = PQgetResult(self->conn)) != NULL)
        PQclear(result);

    /* The moves and the commit in one round trip. */
    char move_sql[S_MOVE_SQL_MAX] = "";
    size_t used = 0;
    for (size_t kind = 0; kind < PROTO_RECORD_KIND_COUNT; kind++) {
        if (present[kind])
            used += (size_t) snprintf(move_sql + used,
                                      sizeof(move_sql) - used, "%s",
                                      s_insert_sql[kind]);
    }
    snprintf(move_sql + used, sizeof(move_sql) - used, "COMMIT");
    if (!PQsendQuery(self->conn, move_sql))
        return s_fail(self, NULL, "insert", error);
    size_t written = 0;
    bool committed = false;
    while ((result = PQgetResult(self->conn)) != NULL) {
        if (PQresultStatus(result) != PGRES_COMMAND_OK)
            return s_fail(self, result, "insert", error);
        const char *command = PQcmdStatus(result);
        if (strncmp(command, "INSERT", strlen("INSERT")) == 0)
            written += strtoul(PQcmdTuples(result), NULL, 10);
        else if (strcmp(command, "COMMIT") == 0)
            committed = true;
        PQclear(result);
    }
    if (!committed || PQtransactionStatus(self->conn) != PQTRANS_IDLE) {
        /* A COMMIT of an aborted transaction answers "ROLLBACK". */
        return s_fail(self, NULL, "commit", error);
    }
    assert(written <= count);
    counts->written = written;
    counts->duplicates = count - written;
    return SC_SINK_OK;
}

static sc_sink_status_t s_postgres_ping(void *state, sc_sink_error_t *error)
{
    s_postgres_t *self = state;
    sc_sink_status_t status = s_connect(self, error);
    if (status != SC_SINK_OK)
        return status;
    PGresult *result = PQexec(self->conn, "SELECT 1");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        s_fail(self, result, "ping", error);
        return SC_SINK_TRANSIENT; /* reachability, never the data's fault */
    }
    PQclear(result);
    return SC_SINK_OK;
}

const sc_sink_backend_t sc_sink_postgres_backend = {
    .kind = "postgres",
    .check = s_postgres_check,
    .open = s_postgres_open,
    .close = s_postgres_close,
    .write = s_postgres_write,
    .ping = s_postgres_ping,
};
