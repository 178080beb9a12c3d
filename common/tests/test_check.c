/* Unit tests for cmn_check and cmn_config's collect mode (issue 15): every
 * problem of a configuration at once, each value's origin, the effective
 * table with secrets hidden, ports and paths tried for real, exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmn_check.h"
#include "cmn_config.h"

static const cmn_option_t s_options[] = {
    {.flag = "workers",
     .env = "CK_WORKERS",
     .type = CMN_OPT_INT,
     .default_value = "2",
     .help = "writers",
     .min = 1,
     .max = 8},
    {.flag = "ratio",
     .env = "CK_RATIO",
     .type = CMN_OPT_DOUBLE,
     .default_value = "0.5",
     .help = "a fraction",
     .min = 0,
     .max = 1},
    {.flag = "sink",
     .env = "CK_SINK",
     .type = CMN_OPT_STRING,
     .default_value = "postgres://user:hunter2@db/market",
     .help = "where"},
    {.flag = "admin-token",
     .env = "CK_ADMIN_TOKEN",
     .type = CMN_OPT_STRING,
     .default_value = NULL,
     .help = "a secret"},
};
#define OPTION_COUNT (sizeof s_options / sizeof *s_options)

static cmn_config_t *s_config(void)
{
    return cmn_config_new("ck", "1", "test", s_options, OPTION_COUNT);
}

/* The whole text of `print` into a string (caller frees). */
static char *s_capture(cmn_config_t *config)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cmn_config_print_effective(config, out);
    fclose(out);
    return text;
}

static void test_every_problem_is_collected(void **state)
{
    (void)state;
    setenv("CK_WORKERS", "many", 1);
    setenv("CK_RATIO", "2", 1);
    setenv("CK_WORKRES", "3", 1); /* a typo */
    cmn_config_t *config = s_config();
    cmn_check_t *check = cmn_check_new("ck");
    cmn_check_attach(check, config);
    char *argv[] = {"ck", "check", "--wrokers", "4", "--sink", NULL};
    assert_int_equal(cmn_config_load(config, 5, argv), -1);
    cmn_config_unknown_t rules = {"CK_", NULL, NULL, NULL};
    assert_int_equal(cmn_config_warn_unknown(config, &rules, NULL), 1);
    /* unknown flag, missing value, two bad values, one unknown variable */
    assert_int_equal(cmn_check_count(check, true, CMN_CHECK_CONFIG), 5);
    assert_int_equal(cmn_check_count(check, false, CMN_CHECK_RUNTIME), 0);
    const char *expected[] = {"did you mean --workers", "--sink needs a value",
                              "CK_WORKERS='many'", "CK_RATIO='2'",
                              "did you mean CK_WORKERS"};
    for (size_t i = 0; i < 5; i++) {
        cmn_check_kind_t kind;
        const char *text = cmn_check_text(check, i, &kind);
        assert_int_equal(kind, CMN_CHECK_CONFIG);
        if (!strstr(text, expected[i]))
            fail_msg("problem %zu \"%s\" lacks \"%s\"", i, text, expected[i]);
    }
    /* The bad values fell back to their defaults for the rules after. */
    assert_int_equal(cmn_config_int(config, "workers"), 2);
    assert_true(cmn_config_double(config, "ratio") == 0.5);
    /* The positional after the unknown flag was taken for its value. */
    assert_int_equal(cmn_config_positional_count(config), 1);
    FILE *sink = fopen("/dev/null", "w");
    assert_int_equal(cmn_check_report(check, config, sink, sink), 2);
    fclose(sink);
    cmn_check_destroy(&check);
    assert_null(check);
    cmn_config_destroy(&config);
    unsetenv("CK_WORKERS");
    unsetenv("CK_RATIO");
    unsetenv("CK_WORKRES");
}

static void test_origin_and_effective_table(void **state)
{
    (void)state;
    setenv("CK_RATIO", "0.25", 1);
    setenv("CK_ADMIN_TOKEN", "s3cret", 1);
    cmn_config_t *config = s_config();
    char *argv[] = {"ck", "--workers=3", NULL};
    assert_int_equal(cmn_config_load(config, 2, argv), 0);
    assert_int_equal(cmn_config_origin(config, "workers"),
                     CMN_CONFIG_ORIGIN_FLAG);
    assert_int_equal(cmn_config_origin(config, "ratio"),
                     CMN_CONFIG_ORIGIN_ENVIRONMENT);
    assert_int_equal(cmn_config_origin(config, "sink"),
                     CMN_CONFIG_ORIGIN_DEFAULT);
    assert_string_equal(cmn_config_origin_name(CMN_CONFIG_ORIGIN_ENVIRONMENT),
                        "environment");
    char value[128];
    assert_string_equal(cmn_config_display(config, "sink", value, sizeof value),
                        "postgres://user:****@db/market");
    assert_string_equal(
        cmn_config_display(config, "admin-token", value, sizeof value), "****");
    char *text = s_capture(config);
    assert_non_null(strstr(text, "VARIABLE"));
    assert_non_null(strstr(text, "CK_WORKERS"));
    assert_non_null(strstr(text, "flag --workers"));
    assert_non_null(strstr(text, "environment"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "s3cret"));
    free(text);
    cmn_config_destroy(&config);
    unsetenv("CK_RATIO");
    unsetenv("CK_ADMIN_TOKEN");
}

/* Every place a database URI may hold a password is masked (the review
 * found a URI without a path, and query passwords, shown in clear). */
static void test_passwords_are_masked_everywhere(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"postgres://u:secret@host/db", "postgres://u:****@host/db"},
        {"postgres://u:secret@host", "postgres://u:****@host"},
        {"postgresql://u:secret@host:5432", "postgresql://u:****@host:5432"},
        {"postgres://host/db?user=u&password=secret&sslmode=require",
         "postgres://host/db?user=u&password=****&sslmode=require"},
        {"postgres:///db?user=u&password=secret",
         "postgres:///db?user=u&password=****"},
        {"host=db user=u password=secret dbname=m",
         "host=db user=u password=**** dbname=m"},
        {"postgres://u@host/db", "postgres://u@host/db"},
        {"postgres://host/a:b@c", "postgres://host/a:b@c"},
        {"sqlite:/data/market.db", "sqlite:/data/market.db"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(cmn_config_mask(cases[i][0], out, sizeof out),
                            cases[i][1]);
}

static void test_port_in_use_is_a_runtime_problem(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t length = sizeof address;
    getsockname(fd, (struct sockaddr *)&address, &length);
    int port = ntohs(address.sin_port);
    cmn_check_t *check = cmn_check_new("ck");
    assert_int_equal(cmn_check_port(check, "CK_PORT", "127.0.0.1", port), -1);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    assert_int_equal(cmn_check_endpoint(check, "CK_ENDPOINT", endpoint), -1);
    assert_int_equal(cmn_check_count(check, false, CMN_CHECK_RUNTIME), 2);
    assert_non_null(strstr(cmn_check_text(check, 0, NULL), "in use"));
    close(fd);
    /* Released now: free, tried and released again. */
    assert_int_equal(cmn_check_port(check, "CK_PORT", "127.0.0.1", port), 0);
    assert_int_equal(cmn_check_port(check, "CK_PORT", "127.0.0.1", port), 0);
    assert_int_equal(
        cmn_check_endpoint(check, "CK_ENDPOINT", "tcp://127.0.0.1:*"), 0);
    assert_int_equal(cmn_check_endpoint(check, "CK_ENDPOINT", "tcp://nope"),
                     -1);
    assert_int_equal(cmn_check_port(check, "CK_PORT", "not-an-ip", 1), -1);
    /* Runtime only: exit 1; with a config problem: exit 2. */
    FILE *sink = fopen("/dev/null", "w");
    cmn_check_t *runtime = cmn_check_new("ck");
    cmn_check_problem(runtime, CMN_CHECK_RUNTIME, "x", "down");
    assert_int_equal(cmn_check_report(runtime, NULL, sink, sink), 1);
    assert_int_equal(cmn_check_report(check, NULL, sink, sink), 2);
    cmn_check_t *none = cmn_check_new("ck");
    assert_int_equal(cmn_check_report(none, NULL, sink, sink), 0);
    fclose(sink);
    cmn_check_destroy(&none);
    cmn_check_destroy(&runtime);
    cmn_check_destroy(&check);
}

static void test_writable_creates_nothing(void **state)
{
    (void)state;
    char dir[] = "/tmp/cmn-check-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], plain[256];
    snprintf(path, sizeof path, "%s/a/b/file.db", dir);
    snprintf(plain, sizeof plain, "%s/plain", dir);
    FILE *file = fopen(plain, "w");
    fclose(file);
    cmn_check_t *check = cmn_check_new("ck");
    assert_int_equal(cmn_check_writable(check, "CK_PATH", path), 0);
    char created[256];
    snprintf(created, sizeof created, "%s/a", dir);
    assert_int_not_equal(access(created, F_OK), 0); /* nothing made */
    assert_int_equal(cmn_check_writable(check, "CK_PATH", plain), 0);
    char under[300];
    snprintf(under, sizeof under, "%s/x.db", plain); /* under a file */
    assert_int_equal(cmn_check_writable(check, "CK_PATH", under), -1);
    assert_int_equal(cmn_check_writable(check, "CK_PATH", dir), -1);
    assert_int_equal(cmn_check_count(check, false, CMN_CHECK_CONFIG), 2);
    cmn_check_destroy(&check);
    unlink(plain);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_problem_is_collected),
        cmocka_unit_test(test_origin_and_effective_table),
        cmocka_unit_test(test_passwords_are_masked_everywhere),
        cmocka_unit_test(test_port_in_use_is_a_runtime_problem),
        cmocka_unit_test(test_writable_creates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
