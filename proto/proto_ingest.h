/* proto_ingest: the data channel's messages (ingest.md).
 *
 * A producer's DEALER sends one-frame `batch` messages to the coordinator's
 * ROUTER; the coordinator answers each with an `ack` (every record committed
 * to the database) or a `nack` (full, malformed, draining) carrying a retry
 * hint. Records travel as compact msgpack arrays. */
#ifndef PROTO_INGEST_H
#define PROTO_INGEST_H

#include <msgpack.h>

#include "proto_common.h"

typedef struct {
    char producer_id[PROTO_ID_MAX + 1];
    uint64_t batch_seq; /* per producer, increasing; echoed in the reply */
    size_t count;       /* records decoded into the caller's array */
    /* v1.1: the producer run's id; 0 = absent (a v1 producer): the wire
     * never carries 0 (a decoder refuses it). */
    uint64_t session;
} proto_batch_t;

/* Appends a batch message to `out`. Returns 0 or -1 (count over the limit,
 * a string too long, a non-finite number). Writes no `session`: the bytes
 * of a v1 batch. */
int proto_batch_encode(const char *producer_id, uint64_t batch_seq,
                       const proto_record_t *records, size_t count,
                       msgpack_sbuffer *out);

/* The same with the v1.1 `session` key (written after producer_id) when
 * `session` is not 0; with 0 the bytes are proto_batch_encode's. */
int proto_batch_encode_session(const char *producer_id, uint64_t session,
                               uint64_t batch_seq,
                               const proto_record_t *records, size_t count,
                               msgpack_sbuffer *out);

/* Decodes a batch into `batch` and up to `records_capacity` records in the
 * caller's array. Returns 0, or -1 with `error` saying what and where
 * ("record 17: key 'ts_ns'...") in `text` and, for the v1.1 nack keys, in
 * `code`, `field` and `record_index` (copy them into the proto_reply_t).
 * When the header decoded but a record did not, batch->batch_seq,
 * producer_id and session are still filled (for the nack). A record count
 * over `records_capacity` is TOO_MANY_RECORDS; the caller checks its queue
 * capacity itself (OVER_CAPACITY). */
int proto_batch_decode(const void *data, size_t size, proto_batch_t *batch,
                       proto_record_t *records, size_t records_capacity,
                       proto_error_t *error);

/* Checks one record's values (finite numbers, sizes >= 0, names not empty).
 * Returns 0 or -1 with `error`. Used by the decoder and by producers. */
int proto_record_validate(const proto_record_t *record, proto_error_t *error);

typedef enum {
    PROTO_REPLY_ACK = 0,
    PROTO_REPLY_NACK = 1,
} proto_reply_type_t;

typedef enum {
    PROTO_NACK_FULL = 0,
    PROTO_NACK_MALFORMED = 1,
    PROTO_NACK_DRAINING = 2,
} proto_nack_reason_t;
/* How many reasons there are (a define: an enum member would be one more
 * case for every switch). */
#define PROTO_NACK_REASON_COUNT 3

/* "full", "malformed", "draining". */
const char *proto_nack_reason_name(proto_nack_reason_t reason);

/* A reply. The v1.1 keys are written only when set (so a reply without
 * them has the v1 bytes) and are "absent" after decoding a v1 reply:
 * session 0, has_credit false, code NONE, has_record_index false,
 * field "". */
typedef struct {
    proto_reply_type_t type;
    uint64_t batch_seq; /* 0 when the batch was unreadable */
    /* ack */
    uint32_t written;       /* records newly stored */
    uint32_t duplicates;    /* records already stored (redelivery) */
    uint32_t dead_lettered; /* records rejected into the dead-letter file */
    /* nack */
    proto_nack_reason_t reason;
    uint32_t retry_after_ms;           /* hint: when resending may succeed */
    char detail[PROTO_REASON_MAX + 1]; /* human-readable, may be empty */
    /* v1.1, ack and nack */
    uint64_t session; /* echoed from the batch; 0 = absent */
    bool has_credit;
    uint32_t credit; /* records this producer session may have unacked */
    /* v1.1, nack only (ignored by the encoder on an ack) */
    proto_nack_code_t code; /* NONE = absent; UNKNOWN only when decoded */
    bool has_record_index;
    uint32_t record_index;           /* < PROTO_BATCH_RECORDS_MAX */
    char field[PROTO_FIELD_MAX + 1]; /* "" = absent */
} proto_reply_t;

/* Appends a reply message to `out`. Returns 0 or -1 (a reason, code,
 * record_index or string out of range; code UNKNOWN cannot be encoded). */
int proto_reply_encode(const proto_reply_t *reply, msgpack_sbuffer *out);

/* Decodes a reply. Returns 0, or -1 with `error`. A nack `reason` this
 * version does not know decodes as PROTO_NACK_FULL and an unknown `code`
 * as PROTO_NACK_CODE_UNKNOWN (ingest.md 4.3): neither is malformed. A
 * `session` that is present and differs from the producer's own is the
 * caller's to ignore. */
int proto_reply_decode(const void *data, size_t size, proto_reply_t *reply,
                       proto_error_t *error);

#endif
