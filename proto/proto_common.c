/* proto_common: names of levels and record kinds shared by both channels. */
#include "proto_common.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

static const char *const s_level_names[] = {"ok", "soft", "hard"};
static const char *const s_kind_names[] = {"trade", "quote", "bar"};
/* Indexed by proto_nack_code_t; NONE and UNKNOWN have no wire name. */
static const char *const s_code_names[] = {NULL,
                                           "queue_full",
                                           "draining",
                                           "version",
                                           "not_a_map",
                                           "missing_key",
                                           "bad_key",
                                           "bad_value",
                                           "too_large",
                                           "too_many_records",
                                           "over_capacity",
                                           "bad_record",
                                           "in_flight",
                                           NULL};
_Static_assert(sizeof s_code_names / sizeof s_code_names[0] ==
                   PROTO_NACK_CODE_UNKNOWN + 1,
               "a name for each nack code");

const char *proto_level_name(proto_level_t level)
{
    assert(level >= PROTO_LEVEL_OK && level <= PROTO_LEVEL_HARD);
    return s_level_names[level];
}

int proto_level_parse(const char *name, proto_level_t *level)
{
    for (int index = PROTO_LEVEL_OK; index <= PROTO_LEVEL_HARD; index++) {
        if (strcasecmp(name, s_level_names[index]) == 0) {
            *level = (proto_level_t)index;
            return 0;
        }
    }
    return -1;
}

const char *proto_record_kind_name(proto_record_kind_t kind)
{
    assert(kind >= PROTO_RECORD_TRADE && kind <= PROTO_RECORD_BAR);
    return s_kind_names[kind];
}

const char *proto_nack_code_name(proto_nack_code_t code)
{
    assert(code >= PROTO_NACK_CODE_NONE && code <= PROTO_NACK_CODE_UNKNOWN);
    return s_code_names[code];
}

proto_nack_code_t proto_nack_code_parse(const char *name, size_t length)
{
    for (int code = PROTO_NACK_CODE_QUEUE_FULL; code < PROTO_NACK_CODE_UNKNOWN;
         code++) {
        if (strlen(s_code_names[code]) == length &&
            memcmp(s_code_names[code], name, length) == 0)
            return (proto_nack_code_t)code;
    }
    return PROTO_NACK_CODE_UNKNOWN;
}
