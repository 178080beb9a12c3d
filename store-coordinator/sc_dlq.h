/* sc_dlq: the dead-letter file, one NDJSON record per line with a "reason".
 *
 * Records the database rejects for good (and, at shutdown, records that
 * could not be written before the drain timeout) are appended here so that
 * nothing is silently dropped; `mds-coordinator dlq replay FILE` sends them
 * back. The file is opened lazily in append mode, each line is one write(2)
 * (so two writers appending to the same file never interleave lines), and
 * sc_dlq_sync() must succeed before the records count as handled (acked).
 * The file is followed by path: deleted or moved while running (an operator
 * moving it aside before a replay), the next append or sync opens the path
 * again and what was not yet on disk is written there. A file that cannot
 * be written (disk full, EIO, permission, a file-size limit) makes append
 * or sync return -1, and nothing appended since the last successful sync
 * may then be acked. One owner thread per object. */
#ifndef SC_DLQ_H
#define SC_DLQ_H

#include <stddef.h>

#include <mdbp/common.h>

typedef struct _sc_dlq_t sc_dlq_t;

/* A dead-letter writer for `path` (copied); nothing is opened yet. Caller
 * owns the result. */
sc_dlq_t *sc_dlq_new(const char *path);

/* Closes and frees; tolerates NULL and sets *self_p to NULL. */
void sc_dlq_destroy(sc_dlq_t **self_p);

/* Appends one line: the record as NDJSON with `reason`, to the file now at
 * the path (reopened if the open one was deleted or moved). Returns 0, or
 * -1 (logged) when the file cannot be opened or written; the record is then
 * not dead-lettered (append it again later). */
int sc_dlq_append(sc_dlq_t *self, const mdbp_record_t *record,
                  const char *reason);

/* Makes every line appended since the last successful sync durable at the
 * path (fsync; lines whose file was deleted meanwhile, or that a failed
 * fsync may have lost, are written again first). Returns 0 (also when
 * nothing was appended), or -1 (logged): then none of those lines count as
 * stored; calling again retries all of them. */
int sc_dlq_sync(sc_dlq_t *self);

/* Lines appended by this object so far. */
size_t sc_dlq_count(sc_dlq_t *self);

/* The path. */
const char *sc_dlq_path(sc_dlq_t *self);

#endif
