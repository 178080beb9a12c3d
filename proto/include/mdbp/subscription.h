/* mdbp_subscription: what a feedback publisher does with a subscription.
 *
 * An XPUB socket hands the publisher every subscription message it gets
 * from a subscriber: a first byte 1 (subscribe) or 0 (unsubscribe) and a
 * topic prefix (feedback.md section 2). Only a prefix of the publisher's
 * own topic can ever receive anything, and no topic is longer than
 * MDBP_FEEDBACK_TOPIC_MAX - 1 bytes: anything else is refused (not passed
 * on to libzmq's subscription trie), so the trie holds at most the
 * prefixes of one topic however many peers subscribe. Pure. */
#ifndef MDBP_SUBSCRIPTION_H
#define MDBP_SUBSCRIPTION_H

#include <stddef.h>

#include <mdbp/feedback.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest valid subscription message: 1 byte + the longest topic
 * ("mds.fb/" + 64-byte id + "/"), 73 bytes. */
#define MDBP_SUBSCRIPTION_BYTES_MAX MDBP_FEEDBACK_TOPIC_MAX

typedef enum {
    MDBP_SUBSCRIPTION_SUBSCRIBE,   /* apply: a prefix of our topic */
    MDBP_SUBSCRIPTION_UNSUBSCRIBE, /* apply: a prefix of our topic */
    MDBP_SUBSCRIPTION_OVERSIZED,   /* refuse: longer than any topic */
    MDBP_SUBSCRIPTION_OTHER_TOPIC, /* refuse: cannot receive our topic */
    MDBP_SUBSCRIPTION_IGNORED,     /* not a subscription, or a refused
                                       prefix's unsubscribe */
} mdbp_subscription_verdict_t;

/* The verdict on the `size`-byte subscription message `data` for a
 * publisher of `topic` (`topic_length` bytes). On SUBSCRIBE/UNSUBSCRIBE
 * *prefix and *prefix_length (may be NULL) give the prefix to apply. */
MDBP_EXPORT mdbp_subscription_verdict_t mdbp_subscription_check(
    const char *topic, size_t topic_length, const void *data, size_t size,
    const void **prefix, size_t *prefix_length);

#ifdef __cplusplus
}
#endif

#endif
