/* Unit tests for cmn_config: types, ranges, precedence, positionals, peek.
 * Exit codes and messages are checked by test_config_exit.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmn_config.h"

static const char *const s_modes[] = {"sqlite", "postgres", NULL};

static const cmn_option_t s_options[] = {
    {.flag = "capacity",
     .env = "CMN_TEST_CAPACITY",
     .type = CMN_OPT_INT,
     .default_value = "100",
     .help = "records",
     .min = 1,
     .max = 1000},
    {.flag = "ratio",
     .env = "CMN_TEST_RATIO",
     .type = CMN_OPT_DOUBLE,
     .default_value = "0.5",
     .help = "a fraction",
     .min = 0,
     .max = 1},
    {.flag = "verbose",
     .env = "CMN_TEST_VERBOSE",
     .type = CMN_OPT_BOOL,
     .default_value = "false",
     .help = "say more"},
    {.flag = "sink",
     .env = "CMN_TEST_SINK",
     .type = CMN_OPT_CHOICE,
     .default_value = "sqlite",
     .help = "where to",
     .choices = s_modes},
    {.flag = "name",
     .env = "CMN_TEST_NAME",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "a name"},
    {.flag = "code",
     .env = "CMN_TEST_CODE",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "a string of 1..4 bytes",
     .min = 1,
     .max = 4},
};
#define OPTION_COUNT (sizeof s_options / sizeof *s_options)

static int s_clear_env(void **state)
{
    (void)state;
    for (size_t index = 0; index < OPTION_COUNT; index++)
        unsetenv(s_options[index].env);
    unsetenv("CMN_TEST_RATE_ALPHA");
    return 0;
}

static cmn_config_t *s_config(void)
{
    return cmn_config_new("demo", "1.2.3", "Test.", s_options, OPTION_COUNT);
}

static void test_defaults(void **state)
{
    (void)state;
    cmn_config_t *config = s_config();
    char *argv[] = {"demo", NULL};
    assert_int_equal(cmn_config_load(config, 1, argv), 0);
    assert_int_equal(cmn_config_int(config, "capacity"), 100);
    assert_true(cmn_config_double(config, "ratio") == 0.5);
    assert_false(cmn_config_bool(config, "verbose"));
    assert_int_equal(cmn_config_choice(config, "sink"), 0);
    assert_null(cmn_config_string(config, "name"));
    assert_string_equal(cmn_config_source(config, "capacity"), "default");
    assert_int_equal(cmn_config_positional_count(config), 0);
    cmn_config_destroy(&config);
    assert_null(config);
    cmn_config_destroy(&config);
}

static void test_environment_and_flags(void **state)
{
    (void)state;
    setenv("CMN_TEST_CAPACITY", "7", 1);
    setenv("CMN_TEST_RATIO", "0.25", 1);
    setenv("CMN_TEST_VERBOSE", "yes", 1);
    setenv("CMN_TEST_SINK", "POSTGRES", 1);
    setenv("CMN_TEST_NAME", "", 1); /* empty counts as unset */
    cmn_config_t *config = s_config();
    char *argv[] = {"demo",      "--capacity",   "9", "replay",
                    "--ratio=1", "file.msgpack", NULL};
    assert_int_equal(cmn_config_load(config, 6, argv), 0);
    assert_int_equal(cmn_config_int(config, "capacity"), 9);
    assert_string_equal(cmn_config_source(config, "capacity"), "--capacity");
    assert_true(cmn_config_double(config, "ratio") == 1.0);
    assert_true(cmn_config_bool(config, "verbose"));
    assert_string_equal(cmn_config_source(config, "verbose"),
                        "CMN_TEST_VERBOSE");
    assert_int_equal(cmn_config_choice(config, "sink"), 1);
    assert_null(cmn_config_string(config, "name"));
    assert_int_equal(cmn_config_positional_count(config), 2);
    assert_string_equal(cmn_config_positional(config, 0), "replay");
    assert_string_equal(cmn_config_positional(config, 1), "file.msgpack");
    cmn_config_destroy(&config);
}

static void test_booleans(void **state)
{
    (void)state;
    cmn_config_t *config = s_config();
    char *bare[] = {"demo", "--verbose", "next", NULL};
    assert_int_equal(cmn_config_load(config, 3, bare), 0);
    assert_true(cmn_config_bool(config, "verbose"));
    assert_int_equal(cmn_config_positional_count(config), 1);
    cmn_config_destroy(&config);

    config = s_config();
    setenv("CMN_TEST_VERBOSE", "on", 1);
    char *spaced[] = {"demo", "--verbose", "OFF", NULL};
    assert_int_equal(cmn_config_load(config, 3, spaced), 0);
    assert_false(cmn_config_bool(config, "verbose"));
    assert_int_equal(cmn_config_positional_count(config), 0);
    cmn_config_destroy(&config);

    config = s_config();
    char *equals[] = {"demo", "--verbose=0", NULL};
    assert_int_equal(cmn_config_load(config, 2, equals), 0);
    assert_false(cmn_config_bool(config, "verbose"));
    cmn_config_destroy(&config);
}

/* Loads one bad argument and expects -1 (the message goes to stderr). */
static void s_expect_refused(char *arg)
{
    cmn_config_t *config = s_config();
    char *argv[] = {"demo", arg, NULL};
    assert_int_equal(cmn_config_load(config, 2, argv), -1);
    cmn_config_destroy(&config);
}

static void test_ranges_and_types(void **state)
{
    (void)state;
    s_expect_refused("--capacity=0");
    s_expect_refused("--capacity=1001");
    s_expect_refused("--capacity=1.5");
    s_expect_refused("--capacity=");
    s_expect_refused("--capacity= 5");
    /* Any white space before a number, not only ' ' (issue 12). */
    s_expect_refused("--capacity=\t5");
    s_expect_refused("--capacity=\n5");
    s_expect_refused("--capacity=\v5");
    s_expect_refused("--ratio=\t0.5");
    s_expect_refused("--ratio=\r0.5");
    s_expect_refused("--code=");
    s_expect_refused("--code=abcde");
    s_expect_refused("--ratio=-0.01");
    s_expect_refused("--ratio=inf");
    s_expect_refused("--ratio=0.5.1");
    s_expect_refused("--sink=mysql");
    s_expect_refused("--verbose=2");
    s_expect_refused("--unknown");
    s_expect_refused("--capacity"); /* needs a value */

    cmn_config_t *config = s_config();
    char *edges[] = {"demo", "--capacity=1000", "--ratio=0", "--code=abcd",
                     NULL};
    assert_int_equal(cmn_config_load(config, 4, edges), 0);
    assert_string_equal(cmn_config_string(config, "code"), "abcd");
    assert_int_equal(cmn_config_int(config, "capacity"), 1000);
    assert_true(cmn_config_double(config, "ratio") == 0.0);
    cmn_config_destroy(&config);
}

static void test_added_option_and_reject(void **state)
{
    (void)state;
    cmn_config_t *config = s_config();
    char flag[32], env[32];
    snprintf(flag, sizeof flag, "rate-%s-capacity", "alpha");
    snprintf(env, sizeof env, "CMN_TEST_RATE_%s", "ALPHA");
    cmn_config_add(config, &(cmn_option_t){.flag = flag,
                                           .env = env,
                                           .type = CMN_OPT_INT,
                                           .default_value = "5",
                                           .help = "bucket",
                                           .min = 0,
                                           .max = 50});
    memset(flag, 0, sizeof flag); /* the option was copied */
    setenv("CMN_TEST_RATE_ALPHA", "12", 1);
    char *argv[] = {"demo", NULL};
    assert_int_equal(cmn_config_load(config, 1, argv), 0);
    assert_int_equal(cmn_config_int(config, "rate-alpha-capacity"), 12);
    assert_string_equal(cmn_config_source(config, "rate-alpha-capacity"),
                        "CMN_TEST_RATE_ALPHA");
    cmn_config_reject(config, "rate-alpha-capacity", "test rejection");
    cmn_config_destroy(&config);
}

static void test_help_and_version_return_exit(void **state)
{
    (void)state;
    setenv("CMN_TEST_CAPACITY", "bad", 1); /* help wins over bad values */
    cmn_config_t *config = s_config();
    char *help[] = {"demo", "-h", NULL};
    assert_int_equal(cmn_config_load(config, 2, help), CMN_CONFIG_EXIT);
    char *version[] = {"demo", "--version", NULL};
    assert_int_equal(cmn_config_load(config, 2, version), CMN_CONFIG_EXIT);
    cmn_config_destroy(&config);
}

static void test_peek(void **state)
{
    (void)state;
    char *argv[] = {
        "demo",          "--providers", "a,b",           "--other=x",
        "--providers=c", "--",          "--providers=d", NULL};
    assert_string_equal(
        cmn_config_peek(7, argv, "providers", "CMN_TEST_NAME", "z"), "c");
    assert_string_equal(
        cmn_config_peek(3, argv, "providers", "CMN_TEST_NAME", "z"), "a,b");
    assert_string_equal(
        cmn_config_peek(1, argv, "providers", "CMN_TEST_NAME", "z"), "z");
    setenv("CMN_TEST_NAME", "envval", 1);
    assert_string_equal(
        cmn_config_peek(1, argv, "providers", "CMN_TEST_NAME", "z"), "envval");
    assert_string_equal(
        cmn_config_peek(4, argv, "other", "CMN_TEST_NAME", NULL), "x");
    /* A flag sharing a prefix is not the flag. */
    char *prefix[] = {"demo", "--providers-extra=q", NULL};
    assert_string_equal(
        cmn_config_peek(2, prefix, "providers", "CMN_TEST_NAME", "z"),
        "envval");
}

static void test_list_next(void **state)
{
    (void)state;
    const char *cursor = " alpha,beta , gamma,";
    const char *expected[] = {"alpha", "beta", "gamma"};
    size_t length, count = 0;
    const char *item;
    while ((item = cmn_config_list_next(&cursor, ", ", &length))) {
        assert_true(count < 3);
        assert_int_equal(length, strlen(expected[count]));
        assert_memory_equal(item, expected[count], length);
        count++;
    }
    assert_int_equal(count, 3);
    cursor = NULL;
    assert_null(cmn_config_list_next(&cursor, ",", &length));
    cursor = " ,, ";
    assert_null(cmn_config_list_next(&cursor, ", ", &length));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, s_clear_env),
        cmocka_unit_test_setup(test_environment_and_flags, s_clear_env),
        cmocka_unit_test_setup(test_booleans, s_clear_env),
        cmocka_unit_test_setup(test_ranges_and_types, s_clear_env),
        cmocka_unit_test_setup(test_added_option_and_reject, s_clear_env),
        cmocka_unit_test_setup(test_help_and_version_return_exit, s_clear_env),
        cmocka_unit_test_setup(test_peek, s_clear_env),
        cmocka_unit_test(test_list_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
