/* Unit tests for cmn_json: commas, nesting, escaping, numbers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cmn_json.h"

static void test_nested_document(void **state)
{
    (void)state;
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "level", "soft");
    cmn_json_int(json, "depth", -42);
    cmn_json_uint(json, "capacity", UINT64_MAX);
    cmn_json_bool(json, "ready", true);
    cmn_json_bool(json, "draining", false);
    cmn_json_null(json, "reason");
    cmn_json_array_begin(json, "sinks");
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "name", "sqlite");
    cmn_json_object_end(json);
    cmn_json_int(json, NULL, 1);
    cmn_json_array_begin(json, NULL);
    cmn_json_array_end(json);
    cmn_json_object_begin(json, NULL);
    cmn_json_object_end(json);
    cmn_json_array_end(json);
    cmn_json_object_end(json);
    const char *expected =
        "{\"level\":\"soft\",\"depth\":-42,\"capacity\":18446744073709551615,"
        "\"ready\":true,\"draining\":false,\"reason\":null,"
        "\"sinks\":[{\"name\":\"sqlite\"},1,[],{}]}";
    assert_string_equal(cmn_json_text(json), expected);
    assert_int_equal(cmn_json_length(json), strlen(expected));

    cmn_json_reset(json);
    assert_string_equal(cmn_json_text(json), "");
    cmn_json_array_begin(json, NULL);
    cmn_json_string(json, NULL, NULL); /* NULL string is null */
    cmn_json_array_end(json);
    assert_string_equal(cmn_json_text(json), "[null]");
    cmn_json_destroy(&json);
    assert_null(json);
}

static void test_string_escaping(void **state)
{
    (void)state;
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "q\"k", "a\"b\\c\nd\re\tf\x01g/\x7f");
    cmn_json_string(json, "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    cmn_json_string(json, "bad",
                    "x\xff"
                    "y\xc0\xafz\xed\xa0\x80");
    cmn_json_object_end(json);
    assert_string_equal(
        cmn_json_text(json),
        "{\"q\\\"k\":\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g/\x7f\","
        "\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
        "\"bad\":\"x\\ufffdy\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffd\"}");
    cmn_json_destroy(&json);
}

static void test_escape_into_small_buffer(void **state)
{
    (void)state;
    char out[8];
    /* Needs 10 bytes: a\"b\\c\n  -> never split an escape. */
    size_t needed = cmn_json_escape("a\"b\\c\n", out, sizeof out);
    assert_int_equal(needed, strlen("a\\\"b\\\\c\\n"));
    assert_string_equal(out, "a\\\"b\\\\c");
    assert_int_equal(cmn_json_escape("abc", NULL, 0), 3);
    char exact[4];
    assert_int_equal(cmn_json_escape("abc", exact, sizeof exact), 3);
    assert_string_equal(exact, "abc");
}

static void test_numbers(void **state)
{
    (void)state;
    cmn_json_t *json = cmn_json_new();
    cmn_json_array_begin(json, NULL);
    cmn_json_double(json, NULL, 0.1);
    cmn_json_double(json, NULL, 2.0);
    cmn_json_double(json, NULL, 1.0 / 3.0);
    cmn_json_double(json, NULL, -1.5e300);
    cmn_json_double(json, NULL, NAN);
    cmn_json_double(json, NULL, INFINITY);
    cmn_json_double(json, NULL, -INFINITY);
    cmn_json_int(json, NULL, INT64_MIN);
    cmn_json_array_end(json);
    assert_string_equal(cmn_json_text(json),
                        "[0.1,2,0.33333333333333331,-1.5e+300,null,null,null,"
                        "-9223372036854775808]");
    cmn_json_destroy(&json);
}

static void test_large_document_grows(void **state)
{
    (void)state;
    cmn_json_t *json = cmn_json_new();
    cmn_json_array_begin(json, NULL);
    for (int index = 0; index < 10000; index++)
        cmn_json_int(json, NULL, index);
    cmn_json_array_end(json);
    const char *text = cmn_json_text(json);
    assert_int_equal(text[0], '[');
    assert_int_equal(text[cmn_json_length(json) - 1], ']');
    assert_non_null(strstr(text, ",9999]"));
    cmn_json_destroy(&json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_document),
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_escape_into_small_buffer),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_large_document_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
