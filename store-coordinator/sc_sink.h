/* sc_sink: where a worker writes batches of records — SQLite, PostgreSQL, or
 * nothing (benchmarks).
 *
 * A sink is chosen by URI: `sqlite:PATH`, `postgres://...` (or
 * `postgresql://...`, any libpq connection URI), `null:`. Each worker owns
 * one sink (one connection); a sink is not thread-safe. The connection and
 * the schema are made lazily on the first write or ping, so a database that
 * is down at start-up is a transient error handled by the worker's retries
 * and breaker, not a crash. Every record's key is (kind, provider, symbol,
 * ts_ns): writing a record that is already stored counts as a duplicate and
 * changes nothing. */
#ifndef SC_SINK_H
#define SC_SINK_H

#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>

typedef struct _sc_sink_t sc_sink_t;

/* How long one write or ping may wait for the database unless
 * sc_sink_set_timeout says otherwise (MDS_DB_TIMEOUT_MS's default). */
#define SC_SINK_TIMEOUT_MS_DEFAULT 5000

typedef enum {
    SC_SINK_OK = 0,
    SC_SINK_TRANSIENT = 1, /* busy/locked, connection lost, serialization:
                              retrying the same batch may succeed */
    SC_SINK_PERMANENT = 2, /* the database rejects the data itself (a
                              constraint): retrying cannot succeed */
} sc_sink_status_t;

typedef struct {
    size_t written;    /* rows newly inserted */
    size_t duplicates; /* rows whose key was already stored */
} sc_sink_counts_t;

/* Issue 15: a database that refuses this coordinator for a reason no retry
 * fixes (the operator must): named once, clearly, in the log, /ready and
 * `mds-coordinator check`. */
typedef enum {
    SC_SINK_PROBLEM_NONE = 0,
    SC_SINK_PROBLEM_AUTHENTICATION = 1, /* password, user, pg_hba.conf */
    SC_SINK_PROBLEM_NO_DATABASE = 2,    /* the database does not exist */
    SC_SINK_PROBLEM_COUNT
} sc_sink_problem_t;

/* The problem an error text (sc_sink_error) shows, or NONE. Pure. */
sc_sink_problem_t sc_sink_problem_of(const char *error);

/* "none", "authentication_failed", "database_missing". */
const char *sc_sink_problem_name(sc_sink_problem_t problem);

/* One sentence for an operator: what is wrong and what to fix. */
const char *sc_sink_problem_text(sc_sink_problem_t problem);

/* Checks a sink URI without connecting. Returns 0, or -1 with a message in
 * `error` naming what is wrong (for start-up validation, exit 2). */
int sc_sink_check_uri(const char *uri, char *error, size_t error_capacity);

/* Start-up preparation for a URI that passed sc_sink_check_uri, on the main
 * thread before any worker starts: for SQLite, creates the directories and
 * the file (empty) and checks that an existing file is a SQLite database.
 * Returns 0, or -1 with a message in `error` (a configuration error, exit
 * 2). */
int sc_sink_prepare(const char *uri, char *error, size_t error_capacity);

/* "sqlite", "postgres" or "null" for a URI that passed sc_sink_check_uri. */
const char *sc_sink_kind_of(const char *uri);

/* A sink for `uri` (must have passed sc_sink_check_uri). Does not connect.
 * Caller owns the result. */
sc_sink_t *sc_sink_new(const char *uri);

/* Closes the connection and frees; tolerates NULL, sets *self_p to NULL. */
void sc_sink_destroy(sc_sink_t **self_p);

/* Opens the connection now (a worker's start-up). SC_SINK_OK; TRANSIENT
 * when the database cannot be reached now (the worker retries later);
 * PERMANENT when this sink can never work (a SQLite file that is not a
 * database): the start-up fails, sc_sink_error() says why. */
sc_sink_status_t sc_sink_start(sc_sink_t *self);

/* Bounds every later write and ping: past `timeout_ms` (> 0) without an
 * answer the call cancels what it started, drops the connection and returns
 * SC_SINK_TRANSIENT, even when the server is frozen. PostgreSQL only (SQLite
 * waits on its own busy timeout; null never waits); a no-op elsewhere.
 * Default SC_SINK_TIMEOUT_MS_DEFAULT. */
void sc_sink_set_timeout(sc_sink_t *self, int64_t timeout_ms);

/* Writes `count` records in one transaction (connecting and creating the
 * schema first if needed). On SC_SINK_OK `counts` says how many rows were new
 * and how many were duplicates; on any error nothing of the batch is stored
 * and sc_sink_error() says why. */
sc_sink_status_t sc_sink_write(sc_sink_t *self, const mdbp_record_t *records,
                               size_t count, sc_sink_counts_t *counts);

/* Checks that the database is reachable (connecting if needed). */
sc_sink_status_t sc_sink_ping(sc_sink_t *self);

/* The last error's text ("" when none): one line without double quotes, so
 * it can be logged as error="..." or written to a dead-letter line as is.
 * Belongs to the sink; valid until the next call on it. */
const char *sc_sink_error(sc_sink_t *self);

/* "sqlite", "postgres" or "null". */
const char *sc_sink_kind(sc_sink_t *self);

#endif
