/* sc_replay: `mds-coordinator dlq replay FILE` sends the records of a
 * dead-letter file back through a running coordinator's ingest endpoint.
 *
 * Reads the NDJSON lines with mdbp_text (the "reason" key is ignored; blank
 * lines and '#' comments are skipped), sends them as batches from a DEALER
 * and waits for each batch's ack: a `nack full` or `draining` is resent after
 * its retry hint, a missing reply after a timeout (the store ignores
 * duplicates, so resending is safe), a `nack malformed` counts the batch as
 * rejected; an ack's `dead_lettered` records were refused again (they are
 * back in the dead-letter file). Only the lines present when the replay
 * starts are read: the coordinator may append to the same file. A
 * coordinator that does not accept the connection within 3 s is reported
 * at once. Malformed lines are reported with their line number, skipped and
 * counted. Prints one summary line to stdout. */
#ifndef SC_REPLAY_H
#define SC_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "cmn_config.h"

typedef struct {
    const char *path;         /* the dead-letter file */
    const char *endpoint;     /* e.g. tcp://127.0.0.1:5555 */
    size_t batch_size;        /* records per batch */
    int64_t reply_timeout_ms; /* resend after this long without a reply */
    int64_t deadline_ms;      /* give up a batch after this long */
} sc_replay_config_t;

/* Runs the replay. Returns the exit code: 0 when every record was acked and
 * stored, 1 when some were rejected, unreadable, dead-lettered again or not
 * acked in time, or the coordinator was not there. */
int sc_replay_run(const sc_replay_config_t *config);

/* The `dlq replay FILE` subcommand from the loaded options (positional
 * arguments "dlq" "replay" FILE; MDS_INGEST_ENDPOINT, MDS_BATCH_SIZE).
 * Returns the exit code (2 for a usage error, printed with `program`). */
int sc_replay_command(cmn_config_t *config, const char *program);

/* The address to connect to for a bind endpoint: a "*" host becomes
 * 127.0.0.1 (tcp://127.0.0.1:5555); anything else is copied. */
void sc_replay_connect_address(const char *bind_endpoint, char *out,
                               size_t capacity);

#endif
