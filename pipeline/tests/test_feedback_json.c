/* Unit tests of pl_feedback_json: the bodies POST /feedback accepts (the
 * coordinator's webhook JSON, byte for byte as mdbp_text writes it, and
 * the seed's FeedbackEvent) and the reasons it refuses the others with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pl_feedback_json.h"
#include <mdbp/text.h>

static int s_parse(const char *body, pl_posted_feedback_t *out, char *reason)
{
    return pl_feedback_json_parse(body, strlen(body), out, reason);
}

/* What the coordinator's webhook posts reads back as the same event. */
static void test_webhook_body_round_trips(void **state)
{
    (void)state;
    mdbp_feedback_t event = {.type = MDBP_FEEDBACK_TRANSITION,
                             .coordinator_id = "mds-0",
                             .epoch = 123456789,
                             .seq = 42,
                             .ts_ns = 1700000000000000000,
                             .level = MDBP_LEVEL_HARD,
                             .prev_level = MDBP_LEVEL_SOFT,
                             .queue_size = 9000,
                             .capacity = 10000,
                             .low_wm = 5000,
                             .high_wm = 8000,
                             .utilization = 0.9,
                             .scale_hint = 0.0,
                             .ttl_ms = 3000,
                             .has_reason = true,
                             .reason = "queue \"high\"",
                             .has_credit_initial = true,
                             .credit_initial = 250};
    char body[MDBP_TEXT_FEEDBACK_JSON_MAX];
    assert_true(mdbp_text_format_feedback_json(&event, body, sizeof body) > 0);
    pl_posted_feedback_t out;
    char reason[PL_FEEDBACK_JSON_REASON_MAX];
    assert_int_equal(s_parse(body, &out, reason), 0);
    assert_true(out.sequenced);
    assert_string_equal(out.event.coordinator_id, "mds-0");
    assert_int_equal(out.event.epoch, 123456789);
    assert_int_equal(out.event.seq, 42);
    assert_int_equal(out.event.ts_ns, 1700000000000000000);
    assert_int_equal(out.event.level, MDBP_LEVEL_HARD);
    assert_int_equal(out.event.prev_level, MDBP_LEVEL_SOFT);
    assert_int_equal(out.event.queue_size, 9000);
    assert_int_equal(out.event.capacity, 10000);
    assert_int_equal(out.event.high_wm, 8000);
    assert_true(out.event.utilization == 0.9);
    assert_true(out.event.scale_hint == 0.0);
    assert_true(out.event.has_reason);
    assert_string_equal(out.event.reason, "queue \"high\"");
    assert_true(out.event.has_credit_initial);
    assert_int_equal(out.event.credit_initial, 250);
}

/* The seed's FeedbackEvent: no epoch or seq, the level as its enum value. */
static void test_seed_shape(void **state)
{
    (void)state;
    pl_posted_feedback_t out;
    char reason[PL_FEEDBACK_JSON_REASON_MAX];
    assert_int_equal(s_parse(" {\"coordinator_id\": \"store_coordinator\", "
                             "\"queue_size\": 800, \"capacity\": 1000, "
                             "\"level\": \"SOFT\", \"reason\": null, "
                             "\"extra\": [1] }\n",
                             &out, reason),
                     -1); /* nested values are refused, even unknown ones */
    assert_non_null(strstr(reason, "nested"));
    assert_int_equal(s_parse("{\"coordinator_id\": \"store_coordinator\", "
                             "\"queue_size\": 800, \"capacity\": 1000, "
                             "\"level\": \"SOFT\", \"reason\": null, "
                             "\"source\": \"store\"}",
                             &out, reason),
                     0);
    assert_false(out.sequenced);
    assert_int_equal(out.event.type, MDBP_FEEDBACK_TRANSITION);
    assert_int_equal(out.event.level, MDBP_LEVEL_SOFT);
    assert_int_equal(out.event.prev_level, MDBP_LEVEL_SOFT);
    assert_true(out.event.utilization == 0.8);
    assert_true(out.event.scale_hint > 0.19 && out.event.scale_hint < 0.21);
    assert_false(out.event.has_reason);
    assert_int_equal(s_parse("{\"coordinator_id\":\"c\",\"level\":2}", &out,
                             reason),
                     0);
    assert_int_equal(out.event.level, MDBP_LEVEL_HARD);
}

/* Every refusal names what is wrong. */
static void test_refusals_have_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *body, *reason;
    } cases[] = {
        {"", "expected a JSON object"},
        {"[1]", "expected a JSON object"},
        {"{\"level\":\"ok\"}", "'coordinator_id' is required"},
        {"{\"coordinator_id\":\"c\"}", "'level' is required"},
        {"{\"coordinator_id\":\"c\",\"level\":\"extreme\"}", "'level' must"},
        {"{\"coordinator_id\":\"a/b\",\"level\":\"ok\"}", "'coordinator_id'"},
        {"{\"coordinator_id\":\"c\",\"level\":\"ok\",\"queue_size\":-1}",
         "'queue_size' must be an integer"},
        {"{\"coordinator_id\":\"c\",\"level\":\"ok\",\"queue_size\":\"9\"}",
         "'queue_size' must be an integer"},
        {"{\"coordinator_id\":\"c\",\"level\":\"ok\",\"epoch\":1}",
         "'epoch' and 'seq'"},
        {"{\"coordinator_id\":\"c\",\"level\":\"ok\",\"v\":2}", "'v' is 2"},
        {"{\"coordinator_id\":\"c\",\"level\":\"ok\",\"utilization\":1.5}",
         "'utilization' must be a number"},
        {"{\"coordinator_id\":\"c\",\"level\":\"ok\"} x",
         "text after the object"},
        {"{\"coordinator_id\" \"c\"}", "expected ':'"},
        {"{\"coordinator_id\":\"c\",\"level\":\"ok\"", "expected ',' or '}'"},
        {"{\"coordinator_id\":\"c\\q\"}", "bad escape"},
        {"{\"coordinator_id\":\"c", "unterminated string"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pl_posted_feedback_t out;
        char reason[PL_FEEDBACK_JSON_REASON_MAX];
        assert_int_equal(s_parse(cases[k].body, &out, reason), -1);
        if (!strstr(reason, cases[k].reason))
            fail_msg("body %s: reason '%s', expected '%s'", cases[k].body,
                     reason, cases[k].reason);
    }
    /* A NUL inside the given length is refused, not cut short. */
    pl_posted_feedback_t out;
    char reason[PL_FEEDBACK_JSON_REASON_MAX];
    const char with_nul[] = "{\"coordinator_id\":\"c\",\"level\":\"ok\"}\0x";
    assert_int_equal(
        pl_feedback_json_parse(with_nul, sizeof with_nul - 1, &out, reason),
        -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_body_round_trips),
        cmocka_unit_test(test_seed_shape),
        cmocka_unit_test(test_refusals_have_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
