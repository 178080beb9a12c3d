/* proto_common: names of levels and record kinds shared by both channels. */
#include "proto_common.h"

#include <assert.h>
#include <strings.h>

static const char *const s_level_names[] = {"ok", "soft", "hard"};
static const char *const s_kind_names[] = {"trade", "quote", "bar"};

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
