/* sc_sink_impl: the small table of functions each sink backend provides; only
 * sc_sink.c and the backends (sc_sink_null.c, sc_sink_sqlite.c,
 * sc_sink_postgres.c) include it.
 *
 * sc_sink.c owns the public sc_sink_t (backend, its state, the last error's
 * text) and does the URI dispatch; a backend only ever sees its own state and
 * an error buffer to fill. A backend's write must leave nothing of the batch
 * stored when it returns an error (one transaction per batch). */
#ifndef SC_SINK_IMPL_H
#define SC_SINK_IMPL_H

#include <stdarg.h>
#include <stddef.h>

#include "sc_sink.h"

/* Room for one error text, including the NUL. */
#define SC_SINK_ERROR_MAX 512

/* The error buffer a backend writes into. */
typedef struct {
    char text[SC_SINK_ERROR_MAX];
} sc_sink_error_t;

typedef struct {
    const char *kind; /* "sqlite", "postgres", "null" */
    /* Checks the part of the URI after the scheme dispatch (the whole URI is
     * passed). Returns 0 or -1 with `error`. Never connects. */
    int (*check)(const char *uri, char *error, size_t error_capacity);
    /* Optional (NULL: nothing to do): start-up preparation on the main
     * thread, see sc_sink_prepare. Returns 0 or -1 with `error`. */
    int (*prepare)(const char *uri, char *error, size_t error_capacity);
    /* New state for a URI that passed check(); does not connect. NULL when
     * out of memory. */
    void *(*open)(const char *uri);
    /* Optional (NULL: SC_SINK_OK): see sc_sink_start. */
    sc_sink_status_t (*start)(void *state, sc_sink_error_t *error);
    /* Closes the connection and frees the state (never NULL). */
    void (*close)(void *state);
    /* One transaction per call; see sc_sink_write. */
    sc_sink_status_t (*write)(void *state, const mdbp_record_t *records,
                              size_t count, sc_sink_counts_t *counts,
                              sc_sink_error_t *error);
    /* See sc_sink_ping. */
    sc_sink_status_t (*ping)(void *state, sc_sink_error_t *error);
    /* See sc_sink_set_timeout; NULL for a backend that never waits on a
     * server. */
    void (*set_timeout)(void *state, int64_t timeout_ms);
} sc_sink_backend_t;

extern const sc_sink_backend_t sc_sink_null_backend;
extern const sc_sink_backend_t sc_sink_sqlite_backend;
extern const sc_sink_backend_t sc_sink_postgres_backend;

/* Formats `error` (printf style); always NUL-terminated, truncated if long. */
void sc_sink_error_set(sc_sink_error_t *error, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* The table name for a record kind ("trades", "quotes", "bars"). */
const char *sc_sink_table_name(mdbp_record_kind_t kind);

#endif
