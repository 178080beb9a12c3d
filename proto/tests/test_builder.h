/* test_builder: packs msgpack maps from a table of entries, leaving a key
 * out or giving it a value of the wrong type, for the decoder tests. */
#ifndef TEST_BUILDER_H
#define TEST_BUILDER_H

#include "mdbp_packer.h"
#include <stdint.h>
#include <string.h>

typedef enum {
    ENTRY_UINT,
    ENTRY_INT,
    ENTRY_STR,
    ENTRY_DOUBLE,
    ENTRY_FLOAT32,
    ENTRY_NIL,
    ENTRY_RAW, /* `raw`: pre-packed msgpack bytes (`raw_size`) */
} entry_kind_t;

typedef struct {
    const char *key;
    entry_kind_t kind;
    uint64_t u;
    int64_t i;
    const char *s;
    double d;
    const void *raw;
    size_t raw_size;
} entry_t;

static inline void builder_pack_value(msgpack_packer *packer,
                                      const entry_t *entry)
{
    switch (entry->kind) {
    case ENTRY_UINT:
        msgpack_pack_uint64(packer, entry->u);
        break;
    case ENTRY_INT:
        msgpack_pack_int64(packer, entry->i);
        break;
    case ENTRY_STR:
        msgpack_pack_str_with_body(packer, entry->s, strlen(entry->s));
        break;
    case ENTRY_DOUBLE:
        msgpack_pack_double(packer, entry->d);
        break;
    case ENTRY_FLOAT32:
        msgpack_pack_float(packer, (float)entry->d);
        break;
    case ENTRY_NIL:
        msgpack_pack_nil(packer);
        break;
    case ENTRY_RAW:
        mdbp_buffer_append(packer->data, entry->raw, entry->raw_size);
        break;
    }
}

/* Packs a map of `entries` into `out`, without the entry whose key is
 * `skip` and with the value of `wrong` replaced by one of another type (a
 * str for numbers, an integer for strings). */
static inline void builder_pack_map(mdbp_buffer_t *out, const entry_t *entries,
                                    size_t count, const char *skip,
                                    const char *wrong)
{
    msgpack_packer packer;
    msgpack_packer_init(&packer, out, mdbp_buffer_packer_write);
    size_t kept = 0;
    for (size_t index = 0; index < count; index++)
        if (!skip || strcmp(entries[index].key, skip) != 0)
            kept++;
    msgpack_pack_map(&packer, kept);
    for (size_t index = 0; index < count; index++) {
        const entry_t *entry = &entries[index];
        if (skip && strcmp(entry->key, skip) == 0)
            continue;
        msgpack_pack_str_with_body(&packer, entry->key, strlen(entry->key));
        if (wrong && strcmp(entry->key, wrong) == 0) {
            if (entry->kind == ENTRY_STR)
                msgpack_pack_int(&packer, 7);
            else
                msgpack_pack_str_with_body(&packer, "x", 1);
        } else
            builder_pack_value(&packer, entry);
    }
}

#endif
