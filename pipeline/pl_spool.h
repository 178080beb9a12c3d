/* pl_spool: a durable, bounded, append-only spool of records a provider
 * cannot send yet (issue 16; the format and guarantees: docs/spool.md).
 *
 * Records are appended to segment files in one directory and read back in
 * the order they were appended. Each record carries a CRC32 and the time it
 * was appended; a segment is deleted only when it was read to its end and
 * the caller released it (after the store acknowledged what was read). At
 * open, the segments already in the directory are read back (a pipeline
 * killed with kill -9 resumes where the disk says), a torn or corrupt tail
 * is cut off at the last good record and counted.
 *
 * The spool is bounded by bytes (unread records) and by age (a record older
 * than the age bound is dropped, counted, when it reaches the head). When a
 * record does not fit, the policy decides: drop the oldest records until it
 * fits, drop the new one, or refuse it (block: the caller keeps it and stops
 * reading its source). Every dropped record is counted by reason.
 *
 * It does file I/O, but decides nothing from a clock: every call that
 * depends on time takes the wall time `now_ns` (append stamps, age bound,
 * the fsync interval). Owned by one thread (the producer actor); not
 * thread-safe. */
#ifndef PL_SPOOL_H
#define PL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>

/* A segment file: "spool-" 16 hex digits of its sequence number ".seg". */
#define PL_SPOOL_SEGMENT_PREFIX "spool-"
#define PL_SPOOL_SEGMENT_SUFFIX ".seg"
/* Segment header: magic (8 bytes) + format version (u32 LE) + zero u32. */
#define PL_SPOOL_MAGIC "MDPSPOOL"
#define PL_SPOOL_MAGIC_BYTES 8
#define PL_SPOOL_FORMAT_VERSION 1
#define PL_SPOOL_HEADER_BYTES 16
/* Record header: payload length (u32 LE), CRC32 (u32 LE) of the appended
 * time and the payload, appended time (i64 LE, ns since the epoch). */
#define PL_SPOOL_RECORD_HEADER_BYTES 16
/* The payload is the record as one NDJSON object (mdbp_text_format_json). */
#define PL_SPOOL_PAYLOAD_MAX 1024
#define PL_SPOOL_PATH_MAX 4096

#define PL_SPOOL_SEGMENT_BYTES_DEFAULT (4 * 1024 * 1024)

/* What happens to a record that does not fit. */
typedef enum {
    PL_SPOOL_FULL_DROP_OLDEST = 0,
    PL_SPOOL_FULL_DROP_NEWEST = 1,
    PL_SPOOL_FULL_BLOCK = 2, /* only for sources that can wait */
} pl_spool_full_t;

/* When appended bytes are forced to the disk (fdatasync). */
typedef enum {
    PL_SPOOL_FSYNC_RECORD = 0,   /* after every append */
    PL_SPOOL_FSYNC_INTERVAL = 1, /* at most fsync_interval_ns apart */
    PL_SPOOL_FSYNC_NEVER = 2,    /* the kernel decides (kill -9 is safe,
                                    a power cut is not) */
} pl_spool_fsync_t;

/* Why a record was dropped (the reason label of the metric). */
typedef enum {
    PL_SPOOL_DROP_OLDEST = 0, /* full, drop-oldest made room */
    PL_SPOOL_DROP_NEWEST = 1, /* full, drop-newest refused it */
    PL_SPOOL_DROP_AGE = 2,    /* older than the age bound */
    PL_SPOOL_DROP_CORRUPT = 3, /* CRC good but not a record (never written
                                  by this code; counted, skipped) */
} pl_spool_drop_t;

#define PL_SPOOL_DROP_COUNT 4

/* "oldest", "newest", "age", "corrupt". */
const char *pl_spool_drop_name(pl_spool_drop_t reason);
/* "drop-oldest", "drop-newest", "block"; "record", "interval", "never". */
const char *pl_spool_full_name(pl_spool_full_t policy);
const char *pl_spool_fsync_name(pl_spool_fsync_t policy);

typedef struct {
    const char *directory;     /* created if missing (one level) */
    uint64_t max_bytes;        /* unread record bytes at most, > 0 */
    int64_t max_age_ns;        /* 0: no age bound */
    uint64_t segment_bytes;    /* a segment rolls over past this size */
    pl_spool_full_t full;
    pl_spool_fsync_t fsync;
    int64_t fsync_interval_ns; /* PL_SPOOL_FSYNC_INTERVAL */
} pl_spool_config_t;

/* What pl_spool_open() found in the directory. */
typedef struct {
    uint64_t segments;        /* segment files read back */
    uint64_t records;         /* good records in them */
    uint64_t torn;            /* segments cut at a torn or corrupt record */
    uint64_t truncated_bytes; /* bytes cut off */
} pl_spool_recovery_t;

typedef struct _pl_spool_t pl_spool_t;

/* Opens (or creates) the spool in `config->directory` (strings copied),
 * reading back the segments there into `recovery` (may be NULL). Returns
 * NULL (logged, errno set) when the directory or a segment cannot be
 * opened or is not a spool. Caller owns the result. */
pl_spool_t *pl_spool_open(const pl_spool_config_t *config,
                          pl_spool_recovery_t *recovery);

/* Closes it (syncing what was appended, whatever the policy); the files
 * stay. Tolerates NULL and sets *self_p to NULL. */
void pl_spool_close(pl_spool_t **self_p);

/* pl_spool_append results besides 0 (appended). */
#define PL_SPOOL_DROPPED 1 /* drop-newest: the record was dropped, counted */
#define PL_SPOOL_FULL 2    /* block: not appended, not counted; retry later */

/* Appends `record` at wall time `now_ns`. Returns 0 (with drop-oldest,
 * perhaps after dropping older records, counted), PL_SPOOL_DROPPED,
 * PL_SPOOL_FULL, or -1 on a write error (logged; the record is not in the
 * spool). */
int pl_spool_append(pl_spool_t *self, const mdbp_record_t *record,
                    int64_t now_ns);

/* Reads up to `max` records in order into `records`, dropping (counted)
 * those older than the age bound at `now_ns`. Returns how many were read;
 * they leave the spool's count. -1 on a read error (logged). */
int pl_spool_take(pl_spool_t *self, mdbp_record_t *records, size_t max,
                  int64_t now_ns);

/* Drops the records at the head older than the age bound at `now_ns`
 * (counted), without reading them out. Returns how many. */
uint64_t pl_spool_expire(pl_spool_t *self, int64_t now_ns);

/* Segments read to their end and not yet released. */
size_t pl_spool_drained_segments(pl_spool_t *self);
/* Deletes the first `count` drained segments (at most the drained ones):
 * their records were acknowledged. */
void pl_spool_release(pl_spool_t *self, size_t count);

/* Forces appended bytes to disk when the policy says they are due at
 * `now_ns` (every record: at once; interval: once it passed). Returns 0 or
 * -1 (logged). */
int pl_spool_sync(pl_spool_t *self, int64_t now_ns);
/* When pl_spool_sync() next has work: INT64_MAX when nothing waits. */
int64_t pl_spool_sync_due_ns(pl_spool_t *self);

/* Readings: unread records and their bytes (headers included), the
 * appended time of the oldest unread one (0 when empty), the byte bound,
 * dropped records by reason, fdatasync calls. */
uint64_t pl_spool_records(pl_spool_t *self);
uint64_t pl_spool_bytes(pl_spool_t *self);
int64_t pl_spool_oldest_ns(pl_spool_t *self);
uint64_t pl_spool_max_bytes(pl_spool_t *self);
uint64_t pl_spool_dropped(pl_spool_t *self, pl_spool_drop_t reason);
uint64_t pl_spool_syncs(pl_spool_t *self);
pl_spool_full_t pl_spool_policy(pl_spool_t *self);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of `length` bytes, continuing
 * `crc` (0 to start). */
uint32_t pl_spool_crc32(uint32_t crc, const void *data, size_t length);

#endif
