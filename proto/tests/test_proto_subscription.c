/* Unit tests of the subscription verdicts: what the feedback publisher
 * passes to libzmq and what it refuses (issue 12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mdbp/subscription.h>

#define TOPIC "mds.fb/coord-1/"

static mdbp_subscription_verdict_t s_check(const char *message, size_t size,
                                            size_t *length)
{
    const void *prefix = NULL;
    mdbp_subscription_verdict_t verdict = mdbp_subscription_check(
        TOPIC, strlen(TOPIC), message, size, &prefix, length);
    if (verdict == MDBP_SUBSCRIPTION_SUBSCRIBE ||
        verdict == MDBP_SUBSCRIPTION_UNSUBSCRIBE)
        assert_ptr_equal(prefix, message + 1);
    return verdict;
}

static void test_prefixes_of_our_topic_apply(void **state)
{
    (void)state;
    size_t length = 99;
    assert_int_equal(s_check("\1", 1, &length), MDBP_SUBSCRIPTION_SUBSCRIBE);
    assert_int_equal(length, 0); /* everything */
    assert_int_equal(s_check("\1mds.fb/", 8, &length),
                     MDBP_SUBSCRIPTION_SUBSCRIBE);
    assert_int_equal(length, 7);
    assert_int_equal(s_check("\1" TOPIC, 1 + strlen(TOPIC), &length),
                     MDBP_SUBSCRIPTION_SUBSCRIBE);
    assert_int_equal(length, strlen(TOPIC));
    assert_int_equal(s_check("\0mds.fb/", 8, &length),
                     MDBP_SUBSCRIPTION_UNSUBSCRIBE);
}

static void test_other_topics_are_refused(void **state)
{
    (void)state;
    /* coord-10's topic does not start with coord-1's, nor the reverse. */
    assert_int_equal(s_check("\1mds.fb/coord-10/", 17, NULL),
                     MDBP_SUBSCRIPTION_OTHER_TOPIC);
    assert_int_equal(s_check("\1mds.fb/coord-1/x", 17, NULL),
                     MDBP_SUBSCRIPTION_OTHER_TOPIC);
    assert_int_equal(s_check("\1other", 6, NULL),
                     MDBP_SUBSCRIPTION_OTHER_TOPIC);
    /* Leaving a topic never applied is ignored, not counted. */
    assert_int_equal(s_check("\0other", 6, NULL), MDBP_SUBSCRIPTION_IGNORED);
}

static void test_size_limit(void **state)
{
    (void)state;
    /* The longest topic: a 64-byte id; 1 + 72 = 73 bytes is valid. */
    char id[MDBP_ID_MAX + 1];
    memset(id, 'a', MDBP_ID_MAX);
    id[MDBP_ID_MAX] = '\0';
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    int topic_length = mdbp_feedback_topic(id, topic, sizeof topic);
    assert_int_equal(topic_length, 72);
    char message[MDBP_SUBSCRIPTION_BYTES_MAX + 2];
    message[0] = 1;
    memcpy(message + 1, topic, (size_t)topic_length);
    assert_int_equal(MDBP_SUBSCRIPTION_BYTES_MAX, 73);
    assert_int_equal(mdbp_subscription_check(topic, (size_t)topic_length,
                                              message, 73, NULL, NULL),
                     MDBP_SUBSCRIPTION_SUBSCRIBE);
    message[73] = '/';
    assert_int_equal(mdbp_subscription_check(topic, (size_t)topic_length,
                                              message, 74, NULL, NULL),
                     MDBP_SUBSCRIPTION_OVERSIZED);
    message[0] = 0;
    assert_int_equal(mdbp_subscription_check(topic, (size_t)topic_length,
                                              message, 74, NULL, NULL),
                     MDBP_SUBSCRIPTION_IGNORED);
    /* 8 MiB (the attack of issue 12) is refused without being read. */
    size_t huge = 8u << 20;
    char *big = calloc(1, huge);
    assert_non_null(big);
    big[0] = 1;
    assert_int_equal(s_check(big, huge, NULL), MDBP_SUBSCRIPTION_OVERSIZED);
    free(big);
}

static void test_not_subscriptions(void **state)
{
    (void)state;
    assert_int_equal(s_check("", 0, NULL), MDBP_SUBSCRIPTION_IGNORED);
    assert_int_equal(s_check("\2mds", 4, NULL), MDBP_SUBSCRIPTION_IGNORED);
    assert_int_equal(s_check(NULL, 0, NULL), MDBP_SUBSCRIPTION_IGNORED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefixes_of_our_topic_apply),
        cmocka_unit_test(test_other_topics_are_refused),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_not_subscriptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
