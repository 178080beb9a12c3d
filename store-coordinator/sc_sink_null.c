/* sc_sink_null: a sink that stores nothing and counts every record as written.
 *
 * For benchmarks only (`MDS_SINK=null:`): it measures the coordinator without
 * a database. It keeps no keys, so it never reports duplicates, and a
 * coordinator acking into it loses the data by design. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_sink_impl.h"

/* The null sink has no state; a non-NULL token marks a successful open. */
static char s_null_state;

static int s_null_check(const char *uri, char *error, size_t error_capacity)
{
    if (strcmp(uri, "null:") != 0) {
        snprintf(error, error_capacity,
                 "sink URI '%.200s': the null sink takes no argument "
                 "(write 'null:')",
                 uri);
        return -1;
    }
    return 0;
}

static void *s_null_open(const char *uri)
{
    (void)uri;
    return &s_null_state;
}

static void s_null_close(void *state)
{
    (void)state;
}

static sc_sink_status_t s_null_write(void *state, const mdbp_record_t *records,
                                     size_t count, sc_sink_counts_t *counts,
                                     sc_sink_error_t *error)
{
    (void)state;
    (void)records;
    (void)error;
    counts->written = count;
    counts->duplicates = 0;
    return SC_SINK_OK;
}

static sc_sink_status_t s_null_ping(void *state, sc_sink_error_t *error)
{
    (void)state;
    (void)error;
    return SC_SINK_OK;
}

const sc_sink_backend_t sc_sink_null_backend = {
    .kind = "null",
    .check = s_null_check,
    .open = s_null_open,
    .close = s_null_close,
    .write = s_null_write,
    .ping = s_null_ping,
};
