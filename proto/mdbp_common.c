/* mdbp_common: names of levels and record kinds shared by both channels. */
#include <mdbp/common.h>

#include <assert.h>
#include <string.h>
#include <strings.h>

static const char *const s_level_names[] = {"ok", "soft", "hard"};
static const char *const s_kind_names[] = {"trade", "quote", "bar"};
/* Indexed by mdbp_nack_code_t; NONE and UNKNOWN have no wire name. */
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
                   MDBP_NACK_CODE_UNKNOWN + 1,
               "a name for each nack code");

const char *mdbp_level_name(mdbp_level_t level)
{
    assert(level >= MDBP_LEVEL_OK && level <= MDBP_LEVEL_HARD);
    return s_level_names[level];
}

int mdbp_level_parse(const char *name, mdbp_level_t *level)
{
    for (int index = MDBP_LEVEL_OK; index <= MDBP_LEVEL_HARD; index++) {
        if (strcasecmp(name, s_level_names[index]) == 0) {
            *level = (mdbp_level_t)index;
            return 0;
        }
    }
    return -1;
}

const char *mdbp_record_kind_name(mdbp_record_kind_t kind)
{
    assert(kind >= MDBP_RECORD_TRADE && kind <= MDBP_RECORD_BAR);
    return s_kind_names[kind];
}

const char *mdbp_nack_code_name(mdbp_nack_code_t code)
{
    assert(code >= MDBP_NACK_CODE_NONE && code <= MDBP_NACK_CODE_UNKNOWN);
    return s_code_names[code];
}

mdbp_nack_code_t mdbp_nack_code_parse(const char *name, size_t length)
{
    for (int code = MDBP_NACK_CODE_QUEUE_FULL; code < MDBP_NACK_CODE_UNKNOWN;
         code++) {
        if (strlen(s_code_names[code]) == length &&
            memcmp(s_code_names[code], name, length) == 0)
            return (mdbp_nack_code_t)code;
    }
    return MDBP_NACK_CODE_UNKNOWN;
}
