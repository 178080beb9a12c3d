/* mdbp_common: what both channels of wire protocol v1 share: the version,
 * limits, the record, the backpressure level and decode errors.
 *
 * The specs are feedback.md and ingest.md; this codec (libmdbp, API.md) is
 * one implementation of them, with no dependency on czmq and msgpack-c used
 * inside only (no msgpack type in these headers), so a third party can
 * install it and link it alone: `pkg-config --cflags --libs mdbp`. */
#ifndef MDBP_COMMON_H
#define MDBP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the public functions: the shared library is built with
 * -fvisibility=hidden and exports these only (never the internals). */
#if defined(__GNUC__) || defined(__clang__)
#define MDBP_EXPORT __attribute__((visibility("default")))
#else
#define MDBP_EXPORT
#endif

/* Lets C++ (g++ -Wpedantic) read the anonymous struct of mdbp_error_t,
 * which C11 has and ISO C++ has not; GCC and clang accept it in both. */
#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#define MDBP_ANONYMOUS_STRUCT __extension__ struct
#else
#define MDBP_ANONYMOUS_STRUCT struct
#endif

#define MDBP_PROTOCOL_VERSION 1

/* Limits (bytes exclude the terminating NUL). A decoder rejects more. */
#define MDBP_ID_MAX 64               /* coordinator_id, producer_id */
#define MDBP_NAME_MAX 32             /* provider */
#define MDBP_SYMBOL_MAX 32           /* symbol */
#define MDBP_REASON_MAX 128          /* reason, nack detail */
#define MDBP_BATCH_RECORDS_MAX 10000 /* records in one batch */
/* The ingest ROUTER's envelope (ingest.md section 1): at most this many
 * frames before the batch (routing id, a REQ delimiter, proxy hops) and
 * this many bytes together (libzmq routing ids are at most 255 bytes). */
#define MDBP_ENVELOPE_FRAMES_MAX 8
#define MDBP_ENVELOPE_BYTES_MAX 2048
#define MDBP_MESSAGE_BYTES_MAX (4 * 1024 * 1024) /* one message */
#define MDBP_FIELD_MAX 32                        /* nack `field` (v1.1) */

typedef enum {
    MDBP_LEVEL_OK = 0,
    MDBP_LEVEL_SOFT = 1,
    MDBP_LEVEL_HARD = 2,
} mdbp_level_t;

/* "ok", "soft", "hard". */
MDBP_EXPORT const char *mdbp_level_name(mdbp_level_t level);
/* Parses a level name (case-insensitive). Returns 0 or -1. */
MDBP_EXPORT int mdbp_level_parse(const char *name, mdbp_level_t *level);

typedef enum {
    MDBP_RECORD_TRADE = 0,
    MDBP_RECORD_QUOTE = 1,
    MDBP_RECORD_BAR = 2,
} mdbp_record_kind_t;

#define MDBP_RECORD_KIND_COUNT 3

/* "trade", "quote", "bar". */
MDBP_EXPORT const char *mdbp_record_kind_name(mdbp_record_kind_t kind);

/* One market-data record. Its unique key is (kind, provider, symbol, ts_ns):
 * a redelivered record with the same key is ignored by the store. */
typedef struct {
    mdbp_record_kind_t kind;
    char provider[MDBP_NAME_MAX + 1];
    char symbol[MDBP_SYMBOL_MAX + 1];
    int64_t ts_ns; /* event time, ns since the Unix epoch */
    union {
        struct {
            double price;
            double size;
        } trade;
        struct {
            double bid;
            double bid_size;
            double ask;
            double ask_size;
        } quote;
        struct {
            double open;
            double high;
            double low;
            double close;
            double volume;
        } bar;
    } u;
} mdbp_record_t;

/* The machine-readable nack codes of ingest.md 4.2 (added in v1.1), which
 * refine the nack `reason`. NONE means absent (a v1 nack, or no error);
 * UNKNOWN is what a decoder reports for a code string this version does not
 * know (a later v1.x may add codes): it is never encoded. */
typedef enum {
    MDBP_NACK_CODE_NONE = 0,
    MDBP_NACK_CODE_QUEUE_FULL,
    MDBP_NACK_CODE_DRAINING,
    MDBP_NACK_CODE_VERSION,
    MDBP_NACK_CODE_NOT_A_MAP,
    MDBP_NACK_CODE_MISSING_KEY,
    MDBP_NACK_CODE_BAD_KEY,
    MDBP_NACK_CODE_BAD_VALUE,
    MDBP_NACK_CODE_TOO_LARGE,
    MDBP_NACK_CODE_TOO_MANY_RECORDS,
    MDBP_NACK_CODE_OVER_CAPACITY,
    MDBP_NACK_CODE_BAD_RECORD,
    MDBP_NACK_CODE_IN_FLIGHT,
    MDBP_NACK_CODE_UNKNOWN,
} mdbp_nack_code_t;

/* The wire name of a code ("queue_full", ...); NULL for NONE and UNKNOWN,
 * which have none. */
MDBP_EXPORT const char *mdbp_nack_code_name(mdbp_nack_code_t code);
/* The code of a wire name of `length` bytes: UNKNOWN when it is not one of
 * the closed list (never NONE). */
MDBP_EXPORT mdbp_nack_code_t mdbp_nack_code_parse(const char *name,
                                                  size_t length);

/* Why a decode failed: a short text naming the key or position, e.g.
 * "missing key 'seq'", "key 'level': expected one of ok|soft|hard", and
 * (v1.1) the same said for machines, so a coordinator can copy it into its
 * nack: `code` (NOT_A_MAP, MISSING_KEY, BAD_KEY, BAD_VALUE, VERSION,
 * TOO_LARGE, TOO_MANY_RECORDS or BAD_RECORD; NONE until a decoder fails),
 * `field` (the key or record field at fault, "" when not known) and, for
 * BAD_RECORD, `record_index`. Every decoder resets these on entry; `text` is
 * only written on failure.
 *
 * The members sit in an anonymous struct whose first member is a scalar so
 * that the v1 initialiser `mdbp_error_t error = {{0}};` stays a complete
 * zero initialiser (no -Wmissing-field-initializers, no -Wmissing-braces). */
typedef struct {
    MDBP_ANONYMOUS_STRUCT {
        mdbp_nack_code_t code;
        char text[160];
        char field[MDBP_FIELD_MAX + 1];
        bool has_record_index;
        uint32_t record_index; /* 0-based, when has_record_index */
    };
} mdbp_error_t;

#ifdef __cplusplus
}
#endif

#endif
