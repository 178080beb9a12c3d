/* mdbp_subscription: subscription verdicts (see mdbp/subscription.h). */
#include <mdbp/subscription.h>

#include <stdbool.h>
#include <string.h>

#define MDBP_SUBSCRIPTION_SUBSCRIBE_BYTE 1
#define MDBP_SUBSCRIPTION_UNSUBSCRIBE_BYTE 0

mdbp_subscription_verdict_t
mdbp_subscription_check(const char *topic, size_t topic_length,
                         const void *data, size_t size, const void **prefix,
                         size_t *prefix_length)
{
    const unsigned char *bytes = data;
    if (!bytes || size < 1 ||
        (bytes[0] != MDBP_SUBSCRIPTION_SUBSCRIBE_BYTE &&
         bytes[0] != MDBP_SUBSCRIPTION_UNSUBSCRIBE_BYTE))
        return MDBP_SUBSCRIPTION_IGNORED;
    bool subscribe = bytes[0] == MDBP_SUBSCRIPTION_SUBSCRIBE_BYTE;
    size_t length = size - 1;
    if (size > MDBP_SUBSCRIPTION_BYTES_MAX)
        return subscribe ? MDBP_SUBSCRIPTION_OVERSIZED
                         : MDBP_SUBSCRIPTION_IGNORED;
    if (length > topic_length || memcmp(bytes + 1, topic, length) != 0)
        return subscribe ? MDBP_SUBSCRIPTION_OTHER_TOPIC
                         : MDBP_SUBSCRIPTION_IGNORED;
    if (prefix)
        *prefix = bytes + 1;
    if (prefix_length)
        *prefix_length = length;
    return subscribe ? MDBP_SUBSCRIPTION_SUBSCRIBE
                     : MDBP_SUBSCRIPTION_UNSUBSCRIBE;
}
