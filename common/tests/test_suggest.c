/* Unit tests for "did you mean" (issue 15): cmn_suggest's distance and
 * closeness, cmn_config's unknown-flag message and its warnings about
 * unknown variables, per-name families included. stderr is redirected to
 * a temporary file for each check and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmn_config.h"
#include "cmn_log.h"
#include "cmn_suggest.h"

#define CAPTURE_BYTES 8192

static const cmn_option_t s_options[] = {
    {.flag = "queue-capacity",
     .env = "TST_QUEUE_CAPACITY",
     .type = CMN_OPT_INT,
     .default_value = "10000",
     .help = "records",
     .min = 1,
     .max = 1e7},
    {.flag = "workers",
     .env = "TST_WORKERS",
     .type = CMN_OPT_INT,
     .default_value = "2",
     .help = "threads",
     .min = 1,
     .max = 64},
    {.flag = "providers",
     .env = "TST_PROVIDERS",
     .type = CMN_OPT_STRING,
     .default_value = "synthetic",
     .help = "names"},
    {.flag = "rate-synthetic-capacity",
     .env = "TST_RATE_SYNTHETIC_CAPACITY",
     .type = CMN_OPT_DOUBLE,
     .default_value = "60",
     .help = "burst",
     .min = 1,
     .max = 1e9},
    {.flag = "rate-synthetic-refill-rate",
     .env = "TST_RATE_SYNTHETIC_REFILL_RATE",
     .type = CMN_OPT_DOUBLE,
     .default_value = "60",
     .help = "rate",
     .min = 0,
     .max = 1e9},
};
#define OPTION_COUNT (sizeof s_options / sizeof *s_options)

typedef struct {
    int saved; /* the real stderr */
    FILE *file;
} capture_t;

static void s_capture_start(capture_t *capture)
{
    fflush(stderr);
    capture->file = tmpfile();
    assert_non_null(capture->file);
    capture->saved = dup(STDERR_FILENO);
    assert_true(capture->saved >= 0);
    assert_true(dup2(fileno(capture->file), STDERR_FILENO) >= 0);
}

static void s_capture_end(capture_t *capture, char *out, size_t size)
{
    fflush(stderr);
    assert_true(dup2(capture->saved, STDERR_FILENO) >= 0);
    close(capture->saved);
    rewind(capture->file);
    size_t length = fread(out, 1, size - 1, capture->file);
    out[length] = '\0';
    fclose(capture->file);
}

static size_t s_distance(const char *a, const char *b)
{
    return cmn_suggest_distance(a, strlen(a), b, strlen(b));
}

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(s_distance("MDS_QUEUE_CAPACITY", "MDS_QUEUE_CAPACITY"), 0);
    assert_int_equal(s_distance("MDS_QUEU_CAPACITY", "MDS_QUEUE_CAPACITY"), 1);
    assert_int_equal(s_distance("MDS_QEUUE_CAPACITY", "MDS_QUEUE_CAPACITY"),
                     1); /* a swap of neighbours is one edit */
    assert_int_equal(s_distance("queue-capacity", "QUEUE_CAPACITY"), 0);
    assert_int_equal(s_distance("", "abc"), 3);
    assert_int_equal(s_distance("kitten", "sitting"), 3);
    char long_name[CMN_SUGGEST_LENGTH_MAX + 2];
    memset(long_name, 'A', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_true(s_distance(long_name, "A") == SIZE_MAX);
}

static void test_close(void **state)
{
    (void)state;
    assert_false(cmn_suggest_close(0, 10)); /* the same name: no typo */
    assert_true(cmn_suggest_close(1, 3));   /* one edit, even when short */
    assert_false(cmn_suggest_close(2, 7));
    assert_true(cmn_suggest_close(2, 8));
    assert_true(cmn_suggest_close(3, 18));
    assert_false(cmn_suggest_close(4, 40)); /* never more than three */
}

/* Loads argv and returns what went to stderr. */
static int s_load(char **argv, int argc, char *out, size_t size)
{
    cmn_config_t *config =
        cmn_config_new("demo", "1", "Test.", s_options, OPTION_COUNT);
    capture_t capture;
    s_capture_start(&capture);
    int rc = cmn_config_load(config, argc, argv);
    s_capture_end(&capture, out, size);
    cmn_config_destroy(&config);
    return rc;
}

static void test_unknown_flag_says_did_you_mean(void **state)
{
    (void)state;
    char out[CAPTURE_BYTES];
    char *typo[] = {"demo", "--queue-capacty", "5"};
    assert_int_equal(s_load(typo, 3, out, sizeof out), -1);
    assert_string_equal(out, "demo: unknown option --queue-capacty: did you "
                             "mean --queue-capacity? (see --help)\n");
    char *with_value[] = {"demo", "--wrkers=3"};
    assert_int_equal(s_load(with_value, 2, out, sizeof out), -1);
    assert_string_equal(out, "demo: unknown option --wrkers: did you mean "
                             "--workers? (see --help)\n");
    char *one_dash[] = {"demo", "-workers", "3"};
    assert_int_equal(s_load(one_dash, 3, out, sizeof out), -1);
    assert_non_null(strstr(out, "did you mean --workers?"));
    char *builtin[] = {"demo", "--versoin"};
    assert_int_equal(s_load(builtin, 2, out, sizeof out), -1);
    assert_non_null(strstr(out, "did you mean --version?"));
    /* Nothing close: no guess. */
    char *far[] = {"demo", "--bogus"};
    assert_int_equal(s_load(far, 2, out, sizeof out), -1);
    assert_string_equal(out, "demo: unknown option --bogus (see --help)\n");
}

/* Runs the warnings over `environment` and returns what was logged. */
static size_t s_warn(char **environment, const char *ignored, char *out,
                     size_t size)
{
    cmn_config_t *config =
        cmn_config_new("demo", "1", "Test.", s_options, OPTION_COUNT);
    char *argv[] = {"demo"};
    assert_int_equal(cmn_config_load(config, 1, argv), 0);
    cmn_config_unknown_t rules = {"TST_", "TST_RATE_", "TST_PROVIDERS",
                                  ignored};
    capture_t capture;
    s_capture_start(&capture);
    size_t warned = cmn_config_warn_unknown(config, &rules, environment);
    s_capture_end(&capture, out, size);
    cmn_config_destroy(&config);
    return warned;
}

static void test_unknown_variables_are_warned_once_each(void **state)
{
    (void)state;
    cmn_log_setup("demo", CMN_LOG_INFO, CMN_LOG_TEXT);
    char out[CAPTURE_BYTES];
    char *environment[] = {
        "TST_QUEU_CAPACITY=100",      /* a typo of an option */
        "TST_WORKERS=3",              /* known: nothing said */
        "OTHER_QUEU_CAPACITY=1",      /* not this service's prefix */
        "TST_RATE_IBKR_CAPACITY=5",   /* a provider that is not listed */
        "TST_RATE_IBKR_CAPACTY=5",    /* not listed and misspelled */
        "TST_RATE_SYNTHETIC_CAPACTY", /* a listed one, misspelled */
        "TST_TOTALLY_DIFFERENT=1",    /* nothing close */
        "TST_TAIL_ENDPOINT=x",        /* another program's: ignored */
        NULL};
    assert_int_equal(s_warn(environment, "TST_TAIL_", out, sizeof out), 5);
    assert_non_null(strstr(out, "config: unknown_variable "
                                "variable=TST_QUEU_CAPACITY hint=\"ignored; "
                                "did you mean TST_QUEUE_CAPACITY?\"\n"));
    assert_non_null(strstr(out, "variable=TST_RATE_IBKR_CAPACITY "
                                "hint=\"ignored: IBKR is not in "
                                "TST_PROVIDERS (synthetic)\"\n"));
    assert_non_null(strstr(out, "variable=TST_RATE_IBKR_CAPACTY "
                                "hint=\"ignored: IBKR is not in "
                                "TST_PROVIDERS (synthetic); did you mean "
                                "TST_RATE_IBKR_CAPACITY?\"\n"));
    assert_non_null(strstr(out, "variable=TST_RATE_SYNTHETIC_CAPACTY "
                                "hint=\"ignored; did you mean "
                                "TST_RATE_SYNTHETIC_CAPACITY?\"\n"));
    assert_non_null(strstr(out, "variable=TST_TOTALLY_DIFFERENT "
                                "hint=\"ignored: no such option"));
    assert_null(strstr(out, "TST_WORKERS"));
    assert_null(strstr(out, "OTHER_"));
    assert_null(strstr(out, "TST_TAIL_"));
    /* Once each: five lines. */
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 5);

    char *clean[] = {"TST_WORKERS=3", "PATH=/bin", NULL};
    assert_int_equal(s_warn(clean, NULL, out, sizeof out), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_unknown_flag_says_did_you_mean),
        cmocka_unit_test(test_unknown_variables_are_warned_once_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
