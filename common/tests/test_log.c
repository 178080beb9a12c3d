/* Unit tests for cmn_log: both line formats, level filtering, parsing.
 * stderr is redirected into a pipe for each test and read back. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmn_log.h"

#define CAPTURE_BYTES 65536

typedef struct {
    int saved_stderr; /* the real stderr, restored after the test */
    int read_end;     /* what the code under test wrote */
} capture_t;

static void s_capture_start(capture_t *capture)
{
    int ends[2];
    assert_int_equal(pipe(ends), 0);
    capture->saved_stderr = dup(STDERR_FILENO);
    assert_true(capture->saved_stderr >= 0);
    assert_true(dup2(ends[1], STDERR_FILENO) >= 0);
    close(ends[1]);
    capture->read_end = ends[0];
}

/* Restores stderr and returns everything written meanwhile. */
static void s_capture_end(capture_t *capture, char *out, size_t size)
{
    assert_true(dup2(capture->saved_stderr, STDERR_FILENO) >= 0);
    close(capture->saved_stderr);
    size_t length = 0;
    ssize_t got;
    while (length + 1 < size &&
           (got = read(capture->read_end, out + length, size - 1 - length)) > 0)
        length += (size_t)got;
    out[length] = '\0';
    close(capture->read_end);
}

static void s_assert_matches(const char *text, const char *pattern)
{
    regex_t regex;
    assert_int_equal(regcomp(&regex, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int result = regexec(&regex, text, 0, NULL, 0);
    regfree(&regex);
    if (result != 0)
        fail_msg("'%s' does not match /%s/", text, pattern);
}

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static void test_text_format(void **state)
{
    (void)state;
    char out[CAPTURE_BYTES];
    capture_t capture;
    cmn_log_setup("mds-coordinator", CMN_LOG_INFO, CMN_LOG_TEXT);
    s_capture_start(&capture);
    cmn_log_info("queue", "level_changed", "from=%s to=%s", "ok", "soft");
    cmn_log_error("sink", "down", NULL);
    cmn_log_debug("queue", "hidden", "x=1"); /* below the level */
    cmn_log_warning("http", "bad\nrequest", "path=\"%s\"", "/a\nb");
    s_capture_end(&capture, out, sizeof out);
    s_assert_matches(out, "^" TS " info mds-coordinator queue: level_changed "
                          "from=ok to=soft\n" TS " error mds-coordinator "
                          "sink: down\n" TS " warning mds-coordinator http: "
                          "bad\\\\nrequest path=\"/a\\\\nb\"\n$");
}

static void test_json_format(void **state)
{
    (void)state;
    char out[CAPTURE_BYTES];
    capture_t capture;
    cmn_log_setup("mdp-pipeline", CMN_LOG_DEBUG, CMN_LOG_JSON);
    s_capture_start(&capture);
    cmn_log_debug("bucket", "refill", "tokens=%d rate=%.1f", 12, 2.5);
    cmn_log_info("policy", "scale",
                 "reason=\"queue is \\\"soft\\\" now\" "
                 "path=C:\\\\x note ok=1 tail");
    cmn_log_error("sink", "down", NULL);
    s_capture_end(&capture, out, sizeof out);
    s_assert_matches(
        out,
        "^\\{\"ts\":\"" TS
        "\",\"level\":\"debug\",\"service\":\"mdp-pipeline\","
        "\"module\":\"bucket\",\"event\":\"refill\",\"tokens\":12,"
        "\"rate\":2.5\\}\n"
        "\\{\"ts\":\"" TS "\",\"level\":\"info\",\"service\":\"mdp-pipeline\","
        "\"module\":\"policy\",\"event\":\"scale\","
        "\"reason\":\"queue is \\\\\"soft\\\\\" now\","
        "\"path\":\"C:\\\\\\\\\\\\\\\\x\",\"ok\":1,\"msg\":\"note "
        "tail\"\\}\n"
        "\\{\"ts\":\"" TS "\",\"level\":\"error\",\"service\":\"mdp-pipeline\","
        "\"module\":\"sink\",\"event\":\"down\"\\}\n$");
}

/* JSON writes a decimal conversion (or a number in the format) as a JSON
 * number; a %s value stays a string whatever it holds (its type must not
 * depend on a peer's bytes), and so does anything that is not a number by
 * JSON's grammar (inf, hex, a unit, a leading zero). */
static void test_json_numbers(void **state)
{
    (void)state;
    char out[CAPTURE_BYTES];
    capture_t capture;
    cmn_log_setup("svc", CMN_LOG_INFO, CMN_LOG_JSON);
    s_capture_start(&capture);
    cmn_log_info("m", "e",
                 "count=%zu delta=%lld ratio=%.2f big=%g tiny=%e unsigned=%u "
                 "literal=-3 id=%s hex=%x octal=%o inf=%g percent=%d%% "
                 "unit=%dms zero=007 quoted=\"%d\" version=1.0.0",
                 (size_t)42, -5LL, 0.5, 1e21, 2.5e-7, 7u, "42", 255u, 8u,
                 HUGE_VAL, 50, 3, 9);
    s_capture_end(&capture, out, sizeof out);
    assert_non_null(strstr(
        out, "\"count\":42,\"delta\":-5,\"ratio\":0.50,\"big\":1e+21,"
             "\"tiny\":2.500000e-07,\"unsigned\":7,\"literal\":-3,"
             "\"id\":\"42\",\"hex\":\"ff\",\"octal\":\"10\",\"inf\":\"inf\","
             "\"percent\":\"50%\",\"unit\":\"3ms\",\"zero\":\"007\","
             "\"quoted\":\"9\",\"version\":\"1.0.0\"}\n"));
}

static void test_long_line_is_one_line(void **state)
{
    (void)state;
    static char value[5000];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    char out[CAPTURE_BYTES];
    capture_t capture;
    cmn_log_setup("svc", CMN_LOG_INFO, CMN_LOG_JSON);
    s_capture_start(&capture);
    cmn_log_info("m", "e", "big=%s", value);
    s_capture_end(&capture, out, sizeof out);
    assert_non_null(strstr(out, value));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    assert_string_equal(out + strlen(out) - 3, "\"}\n");
}

/* A value from a peer (a nack detail quoting a map key) cannot forge
 * fields: in JSON mode it stays inside its string, whether the format
 * quoted it or not; the format's own fields are the only members. */
static void test_json_value_cannot_forge_fields(void **state)
{
    (void)state;
    char out[CAPTURE_BYTES];
    capture_t capture;
    cmn_log_setup("svc", CMN_LOG_INFO, CMN_LOG_JSON);
    s_capture_start(&capture);
    cmn_log_warning("ingest", "nack", "peer=%s detail=\"%s\" n=%d",
                    "p1 level=error", "key \" level=error event=forged x=\"",
                    7);
    cmn_log_info("ingest", "words", "%s", "event=forged");
    s_capture_end(&capture, out, sizeof out);
    s_assert_matches(
        out, "^\\{\"ts\":\"" TS "\",\"level\":\"warning\","
             "\"service\":\"svc\",\"module\":\"ingest\",\"event\":\"nack\","
             "\"peer\":\"p1 level=error\","
             "\"detail\":\"key \\\\\" level=error event=forged x=\\\\\"\","
             "\"n\":7\\}\n"
             "\\{\"ts\":\"" TS "\",\"level\":\"info\",\"service\":\"svc\","
             "\"module\":\"ingest\",\"event\":\"words\","
             "\"msg\":\"event=forged\"\\}\n$");
}

/* In text mode a value's quotes, backslashes and control bytes (ESC, which
 * a terminal would obey) are escaped; an unquoted value that would split
 * into several fields is quoted. */
static void test_text_value_is_escaped(void **state)
{
    (void)state;
    char out[CAPTURE_BYTES];
    capture_t capture;
    cmn_log_setup("svc", CMN_LOG_INFO, CMN_LOG_TEXT);
    s_capture_start(&capture);
    cmn_log_warning("ingest", "nack", "detail=\"%s\" peer=%s path=%s",
                    "k\" level=error \\ \x1b[31m\x7f\t", "p1 event=forged",
                    "/plain");
    s_capture_end(&capture, out, sizeof out);
    const char *expected =
        " warning svc ingest: nack detail=\"k\\\" level=error \\\\ "
        "\\x1b[31m\\x7f\\t\" peer=\"p1 event=forged\" path=/plain\n";
    assert_non_null(strstr(out, expected));
    assert_null(strchr(out, '\x1b'));
}

static void test_errno_is_preserved(void **state)
{
    (void)state;
    char out[CAPTURE_BYTES];
    capture_t capture;
    cmn_log_setup("svc", CMN_LOG_INFO, CMN_LOG_TEXT);
    s_capture_start(&capture);
    errno = ECONNREFUSED;
    cmn_log_error("m", "connect_failed", "errno=%d", errno);
    assert_int_equal(errno, ECONNREFUSED);
    s_capture_end(&capture, out, sizeof out);
    assert_non_null(strstr(out, "m: connect_failed errno="));
}

static void test_parse_and_enabled(void **state)
{
    (void)state;
    cmn_log_level_t level;
    assert_int_equal(cmn_log_level_parse("error", &level), 0);
    assert_int_equal(level, CMN_LOG_ERROR);
    assert_int_equal(cmn_log_level_parse("WARN", &level), 0);
    assert_int_equal(level, CMN_LOG_WARNING);
    assert_int_equal(cmn_log_level_parse("warning", &level), 0);
    assert_int_equal(level, CMN_LOG_WARNING);
    assert_int_equal(cmn_log_level_parse("Debug", &level), 0);
    assert_int_equal(level, CMN_LOG_DEBUG);
    assert_int_equal(cmn_log_level_parse("verbose", &level), -1);
    assert_int_equal(cmn_log_level_parse(NULL, &level), -1);

    cmn_log_format_t format;
    assert_int_equal(cmn_log_format_parse("json", &format), 0);
    assert_int_equal(format, CMN_LOG_JSON);
    assert_int_equal(cmn_log_format_parse("text", &format), 0);
    assert_int_equal(format, CMN_LOG_TEXT);
    assert_int_equal(cmn_log_format_parse("yaml", &format), -1);

    cmn_log_setup("svc", CMN_LOG_WARNING, CMN_LOG_TEXT);
    assert_true(cmn_log_enabled(CMN_LOG_ERROR));
    assert_true(cmn_log_enabled(CMN_LOG_WARNING));
    assert_false(cmn_log_enabled(CMN_LOG_INFO));
    assert_false(cmn_log_enabled(CMN_LOG_DEBUG));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_json_format),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_long_line_is_one_line),
        cmocka_unit_test(test_json_value_cannot_forge_fields),
        cmocka_unit_test(test_text_value_is_escaped),
        cmocka_unit_test(test_errno_is_preserved),
        cmocka_unit_test(test_parse_and_enabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
