/* pl_provider_push: a live feed that cannot be paused (issue 16).
 *
 * Records arrive on their own schedule as text lines, NDJSON or CSV in the
 * formats of proto/ingest.md ("Records as text"; as pl_provider_replay
 * reads them), on a TCP socket or a FIFO:
 *
 *   push:PORT             listen on 127.0.0.1:PORT (0: any free port)
 *   push:HOST:PORT        listen on an IPv4 address
 *   push:fifo:PATH        read a FIFO (made if missing); it stays open
 *                         between writers
 *
 * Any number of TCP clients (at most PL_PUSH_CONNECTIONS_MAX at once) may
 * write lines; each connection's lines are read in order. A bad line (does
 * not parse, longer than PL_PUSH_LINE_MAX, holds a NUL byte) is skipped and
 * counted; blank lines, '#' comments and CSV headers are skipped quietly.
 * The provider field is replaced by the pipeline provider's name, as replay
 * does. The reader never blocks: pl_push_next() returns what the sockets
 * hold now, and pl_push_fd() is one descriptor (epoll) that turns readable
 * when more may be read, for the producer's loop. Because the source cannot
 * wait, the producer spools what it cannot send (pl_spool). Not
 * thread-safe. */
#ifndef PL_PROVIDER_PUSH_H
#define PL_PROVIDER_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <mdbp/common.h>

#define PL_PUSH_SOURCE_PREFIX "push:"
#define PL_PUSH_FIFO_PREFIX "fifo:"
#define PL_PUSH_HOST_DEFAULT "127.0.0.1"
#define PL_PUSH_LINE_MAX 4096
#define PL_PUSH_CONNECTIONS_MAX 64

typedef struct {
    const char *provider; /* the records' provider name */
    const char *address;  /* what follows "push:" */
} pl_push_config_t;

typedef struct _pl_push_t pl_push_t;

/* Whether `address` (what follows "push:") is well formed. */
bool pl_push_address_valid(const char *address);

/* Listens (or opens the FIFO) as `config` says (strings copied). Returns
 * NULL (logged, errno set) when it cannot. Caller owns the result. */
pl_push_t *pl_push_new(const pl_push_config_t *config);

/* Closes every socket; tolerates NULL and sets *self_p to NULL. */
void pl_push_destroy(pl_push_t **self_p);

/* A descriptor that polls readable while more input may be waiting. */
int pl_push_fd(pl_push_t *self);

/* The next good record the sockets hold now: returns 1 with `record`
 * filled, 0 when nothing more can be read without waiting. */
int pl_push_next(pl_push_t *self, mdbp_record_t *record);

/* Whether complete lines wait in its buffers (pl_push_fd() may not turn
 * readable for them: call pl_push_next() again soon). */
bool pl_push_buffered(pl_push_t *self);

/* The TCP port listened on (0 for a FIFO), connections open now, bad lines
 * skipped so far, connections accepted so far. */
int pl_push_port(pl_push_t *self);
size_t pl_push_connections(pl_push_t *self);
uint64_t pl_push_bad_lines(pl_push_t *self);
uint64_t pl_push_accepted(pl_push_t *self);

#endif
