/* sink_postgres: writes batches into PostgreSQL (`postgres://...`).
 * Placeholder until the libpq backend lands: the URI is refused at start-up
 * with a clear message, so nothing can be configured to use it. */
#include <stdio.h>

#include "sink_impl.h"

static int s_postgres_check(const char *uri, char *error,
                            size_t error_capacity)
{
    snprintf(error, error_capacity,
             "sink URI '%.200s': the postgres sink is not in this build yet",
             uri);
    return -1;
}

static void *s_postgres_open(const char *uri)
{
    (void) uri;
    return NULL;
}

static void s_postgres_close(void *state)
{
    (void) state;
}

static sc_sink_status_t s_postgres_write(void *state,
                                         const proto_record_t *records,
                                         size_t count,
                                         sc_sink_counts_t *counts,
                                         sc_sink_error_t *error)
{
    (void) state;
    (void) records;
    (void) count;
    (void) counts;
    sc_sink_error_set(error, "postgres: not in this build yet");
    return SC_SINK_TRANSIENT;
}

static sc_sink_status_t s_postgres_ping(void *state, sc_sink_error_t *error)
{
    (void) state;
    sc_sink_error_set(error, "postgres: not in this build yet");
    return SC_SINK_TRANSIENT;
}

const sc_sink_backend_t sc_sink_postgres_backend = {
    .kind = "postgres",
    .check = s_postgres_check,
    .open = s_postgres_open,
    .close = s_postgres_close,
    .write = s_postgres_write,
    .ping = s_postgres_ping,
};
