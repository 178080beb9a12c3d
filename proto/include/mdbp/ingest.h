/* mdbp_ingest: the data channel's messages (ingest.md).
 *
 * A producer's DEALER sends one-frame `batch` messages to the coordinator's
 * ROUTER; the coordinator answers each with an `ack` (every record committed
 * to the database) or a `nack` (full, malformed, draining) carrying a retry
 * hint. Records travel as compact msgpack arrays. */
#ifndef MDBP_INGEST_H
#define MDBP_INGEST_H

#include <mdbp/buffer.h>
#include <mdbp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A producer's priority class (ingest.md 4.5, v1.1): how the coordinator
 * shares its queue under pressure. NORMAL is the value of a batch without
 * the key (every v1 producer). */
typedef enum {
    MDBP_PRIORITY_NORMAL = 0,
    MDBP_PRIORITY_CRITICAL = 1,
    MDBP_PRIORITY_BULK = 2,
} mdbp_priority_t;
#define MDBP_PRIORITY_COUNT 3
/* A producer's share weight within its class: 1 (absent) .. this. */
#define MDBP_WEIGHT_MAX 1000

/* "normal", "critical", "bulk". */
MDBP_EXPORT const char *mdbp_priority_name(mdbp_priority_t priority);

/* The class named `text` (length bytes, not NUL-terminated). Returns 0, or
 * -1 when it names none. */
MDBP_EXPORT int mdbp_priority_parse(const char *text, size_t length,
                                    mdbp_priority_t *priority);

typedef struct {
    char producer_id[MDBP_ID_MAX + 1];
    uint64_t batch_seq; /* per producer, increasing; echoed in the reply */
    size_t count;       /* records decoded into the caller's array */
    /* v1.1: the producer run's id; 0 = absent (a v1 producer): the wire
     * never carries 0 (a decoder refuses it). */
    uint64_t session;
    /* v1.1: the producer's class and weight; NORMAL and 0 = absent (a
     * weight of 1). */
    mdbp_priority_t priority;
    uint32_t weight;
} mdbp_batch_t;

/* Appends a batch message to `out`. Returns 0 or -1 (count over the limit,
 * a string too long, a non-finite number). Writes no `session`: the bytes
 * of a v1 batch. */
MDBP_EXPORT int mdbp_batch_encode(const char *producer_id, uint64_t batch_seq,
                                  const mdbp_record_t *records, size_t count,
                                  mdbp_buffer_t *out);

/* The same with the v1.1 `session` key (written after producer_id) when
 * `session` is not 0; with 0 the bytes are mdbp_batch_encode's. */
MDBP_EXPORT int mdbp_batch_encode_session(const char *producer_id,
                                          uint64_t session, uint64_t batch_seq,
                                          const mdbp_record_t *records,
                                          size_t count, mdbp_buffer_t *out);

/* The same with every v1.1 header key of `header` that is set (session
 * not 0, priority not NORMAL, weight above 1), in the order session,
 * priority, weight after producer_id; header->count is ignored (`count`
 * is). With none set the bytes are mdbp_batch_encode's. */
MDBP_EXPORT int mdbp_batch_encode_header(const mdbp_batch_t *header,
                                         const mdbp_record_t *records,
                                         size_t count, mdbp_buffer_t *out);

/* Decodes a batch into `batch` and up to `records_capacity` records in the
 * caller's array. Returns 0, or -1 with `error` saying what and where
 * ("record 17: key 'ts_ns'...") in `text` and, for the v1.1 nack keys, in
 * `code`, `field` and `record_index` (copy them into the mdbp_reply_t).
 * When the header decoded but a record did not, batch->batch_seq,
 * producer_id and session are still filled (for the nack). A record count
 * over `records_capacity` is TOO_MANY_RECORDS; the caller checks its queue
 * capacity itself (OVER_CAPACITY). */
MDBP_EXPORT int mdbp_batch_decode(const void *data, size_t size,
                                  mdbp_batch_t *batch, mdbp_record_t *records,
                                  size_t records_capacity, mdbp_error_t *error);

/* Checks one record's values (finite numbers, sizes >= 0, names not empty).
 * Returns 0 or -1 with `error`. Used by the decoder and by producers. */
MDBP_EXPORT int mdbp_record_validate(const mdbp_record_t *record,
                                     mdbp_error_t *error);

typedef enum {
    MDBP_REPLY_ACK = 0,
    MDBP_REPLY_NACK = 1,
} mdbp_reply_type_t;

typedef enum {
    MDBP_NACK_FULL = 0,
    MDBP_NACK_MALFORMED = 1,
    MDBP_NACK_DRAINING = 2,
} mdbp_nack_reason_t;
/* How many reasons there are (a define: an enum member would be one more
 * case for every switch). */
#define MDBP_NACK_REASON_COUNT 3

/* "full", "malformed", "draining". */
MDBP_EXPORT const char *mdbp_nack_reason_name(mdbp_nack_reason_t reason);

/* A reply. The v1.1 keys are written only when set (so a reply without
 * them has the v1 bytes) and are "absent" after decoding a v1 reply:
 * session 0, has_credit false, code NONE, has_record_index false,
 * field "". */
typedef struct {
    mdbp_reply_type_t type;
    uint64_t batch_seq; /* 0 when the batch was unreadable */
    /* ack */
    uint32_t written;       /* records newly stored */
    uint32_t duplicates;    /* records already stored (redelivery) */
    uint32_t dead_lettered; /* records rejected into the dead-letter file */
    /* nack */
    mdbp_nack_reason_t reason;
    uint32_t retry_after_ms;           /* hint: when resending may succeed */
    char detail[MDBP_REASON_MAX + 1]; /* human-readable, may be empty */
    /* v1.1, ack and nack */
    uint64_t session; /* echoed from the batch; 0 = absent */
    bool has_credit;
    uint32_t credit; /* records this producer session may have unacked */
    /* v1.1, nack only (ignored by the encoder on an ack) */
    mdbp_nack_code_t code; /* NONE = absent; UNKNOWN only when decoded */
    bool has_record_index;
    uint32_t record_index;           /* < MDBP_BATCH_RECORDS_MAX */
    char field[MDBP_FIELD_MAX + 1]; /* "" = absent */
} mdbp_reply_t;

/* Appends a reply message to `out`. Returns 0 or -1 (a reason, code,
 * record_index or string out of range; code UNKNOWN cannot be encoded). */
MDBP_EXPORT int mdbp_reply_encode(const mdbp_reply_t *reply,
                                  mdbp_buffer_t *out);

/* Decodes a reply. Returns 0, or -1 with `error`. A nack `reason` this
 * version does not know decodes as MDBP_NACK_FULL and an unknown `code`
 * as MDBP_NACK_CODE_UNKNOWN (ingest.md 4.3): neither is malformed. A
 * `session` that is present and differs from the producer's own is the
 * caller's to ignore. */
MDBP_EXPORT int mdbp_reply_decode(const void *data, size_t size,
                                  mdbp_reply_t *reply, mdbp_error_t *error);

#ifdef __cplusplus
}
#endif

#endif
