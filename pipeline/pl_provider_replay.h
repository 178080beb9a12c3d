/* pl_provider_replay: replays a file of trades, quotes and bars.
 *
 * Source `replay:PATH`. Each line is one record, as NDJSON (a line starting
 * with '{') or CSV, in the formats of proto/ingest.md ("Records as text"):
 *
 *   kind,provider,symbol,ts_ns,fields...
 *   trade,ibkr,AAPL,1700000000000000000,189.5,100          (price, size)
 *   quote,ibkr,AAPL,1700000000000000001,189.4,200,189.6,300
 *                                   (bid, bid_size, ask, ask_size)
 *   bar,ibkr,AAPL,1700000000000000000,189,190,188.5,189.5,12000
 *                                   (open, high, low, close, volume)
 *   {"kind":"trade","provider":"ibkr","symbol":"AAPL",
 *    "ts_ns":1700000000000000000,"price":189.5,"size":100}
 *
 * A CSV header line (first field "kind"), blank lines and lines starting
 * with '#' are skipped. A bad line (that does not parse, or is longer than
 * PL_REPLAY_LINE_MAX) is reported with its line number, skipped and counted.
 * The provider field is replaced by the pipeline provider's name, so that
 * its rate limits, metrics and record keys agree. With `loop`, the file is
 * replayed again and again, each pass shifted in time by the span of the
 * file plus one nanosecond so that every pass's records are new ones; the
 * loop ends (logged) before a pass whose times would overflow int64. A line
 * holding a NUL byte is a bad line, whole. Not thread-safe. */
#ifndef PL_PROVIDER_REPLAY_H
#define PL_PROVIDER_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <mdbp/common.h>

#define PL_REPLAY_SOURCE_PREFIX "replay:"
#define PL_REPLAY_LINE_MAX 4096

typedef struct {
    const char *provider; /* the records' provider name */
    const char *path;
    bool loop;
} pl_replay_config_t;

typedef struct _pl_replay_t pl_replay_t;

/* A replay of `config->path` (strings copied). Returns NULL (logged) when
 * the file cannot be opened (errno says why; EISDIR for a directory) or the
 * provider name is invalid. Caller owns the result. */
pl_replay_t *pl_replay_new(const pl_replay_config_t *config);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_replay_destroy(pl_replay_t **self_p);

/* Reads the next good record. Returns 1 with `record` filled, 0 at the end
 * of the file (with `loop`: only when the file holds no good record, or
 * when the next pass's times would overflow), or
 * -1 on a read error (logged). */
int pl_replay_next(pl_replay_t *self, mdbp_record_t *record);

/* Bad lines skipped so far, and the number of the last line read. */
uint64_t pl_replay_bad_lines(pl_replay_t *self);
uint64_t pl_replay_line(pl_replay_t *self);
/* Completed passes over the file. */
uint64_t pl_replay_passes(pl_replay_t *self);

#endif
