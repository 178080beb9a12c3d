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
} proto_batch_t;

/* Appends a batch message to `out`. Returns 0 or -1 (count over the limit,
 * a string too long, a non-finite number). */
int proto_batch_encode(const char *producer_id, uint64_t batch_seq,
                       const proto_record_t *records, size_t count,
                       msgpack_sbuffer *out);

/* Decodes a batch into `batch` and up to `records_capacity` records in the
 * caller's array. Returns 0, or -1 with `error` saying what and where
 * ("record 17: key 'ts_ns'..."). When the header decoded but a record did
 * not, batch->batch_seq and producer_id are still filled (for the nack). */
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
} proto_reply_t;

/* Appends a reply message to `out`. Returns 0 or -1. */
int proto_reply_encode(const proto_reply_t *reply, msgpack_sbuffer *out);

/* Decodes a reply. Returns 0, or -1 with `error`. */
int proto_reply_decode(const void *data, size_t size, proto_reply_t *reply,
                       proto_error_t *error);

#endif
