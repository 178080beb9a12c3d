/* proto_subscription: subscription verdicts (see proto_subscription.h). */
#include "proto_subscription.h"

#include <stdbool.h>
#include <string.h>

#define PROTO_SUBSCRIPTION_SUBSCRIBE_BYTE 1
#define PROTO_SUBSCRIPTION_UNSUBSCRIBE_BYTE 0

proto_subscription_verdict_t
proto_subscription_check(const char *topic, size_t topic_length,
                         const void *data, size_t size, const void **prefix,
                         size_t *prefix_length)
{
    const unsigned char *bytes = data;
    if (!bytes || size < 1 ||
        (bytes[0] != PROTO_SUBSCRIPTION_SUBSCRIBE_BYTE &&
         bytes[0] != PROTO_SUBSCRIPTION_UNSUBSCRIBE_BYTE))
        return PROTO_SUBSCRIPTION_IGNORED;
    bool subscribe = bytes[0] == PROTO_SUBSCRIPTION_SUBSCRIBE_BYTE;
    size_t length = size - 1;
    if (size > PROTO_SUBSCRIPTION_BYTES_MAX)
        return subscribe ? PROTO_SUBSCRIPTION_OVERSIZED
                         : PROTO_SUBSCRIPTION_IGNORED;
    if (length > topic_length || memcmp(bytes + 1, topic, length) != 0)
        return subscribe ? PROTO_SUBSCRIPTION_OTHER_TOPIC
                         : PROTO_SUBSCRIPTION_IGNORED;
    if (prefix)
        *prefix = bytes + 1;
    if (prefix_length)
        *prefix_length = length;
    return subscribe ? PROTO_SUBSCRIPTION_SUBSCRIBE
                     : PROTO_SUBSCRIPTION_UNSUBSCRIBE;
}
