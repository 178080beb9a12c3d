/* sc_dlq: the dead-letter file, one NDJSON record per line with a "reason".
 *
 * Records the database rejects for good (and, at shutdown, records that
 * could not be written before the drain timeout) are appended here so that
 * nothing is silently dropped; `mds-coordinator dlq replay FILE` sends them
 * back. The file is opened lazily in append mode, each line is one write(2)
 * (so two writers appending to the same file never interleave lines), and
 * sc_dlq_sync() must succeed before the records count as handled (acked).
 * One owner thread per object. */
#ifndef SC_DLQ_H
#define SC_DLQ_H

#include <stddef.h>

#include "proto_common.h"

typedef struct _sc_dlq_t sc_dlq_t;

/* A dead-letter writer for `path` (copied); nothing is opened yet. Caller
 * owns the result. */
sc_dlq_t *sc_dlq_new(const char *path);

/* Closes and frees; tolerates NULL and sets *self_p to NULL. */
void sc_dlq_destroy(sc_dlq_t **self_p);

/* Appends one line: the record as NDJSON with `reason`. Returns 0, or -1
 * (logged) when the file cannot be opened or written. */
int sc_dlq_append(sc_dlq_t *self, const proto_record_t *record,
                  const char *reason);

/* Flushes appended lines to disk (fsync). Returns 0 (also when nothing was
 * appended), or -1 (logged). */
int sc_dlq_sync(sc_dlq_t *self);

/* Lines appended by this object so far. */
size_t sc_dlq_count(sc_dlq_t *self);

/* The path. */
const char *sc_dlq_path(sc_dlq_t *self);

#endif
