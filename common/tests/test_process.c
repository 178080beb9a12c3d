/* Unit tests for cmn_process (process_* read from /proc, build info) and
 * the cmn_metrics collectors it is built on. promtool checks a rendering
 * with them in test_metrics_promtool.py (metrics_dump). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmn_metrics.h"
#include "cmn_process.h"

/* The value of the sample line `name VALUE` in an exposition text. */
static double s_value(const char *text, const char *name)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *found = strstr(text, needle);
    assert_non_null(found);
    return strtod(found + strlen(needle), NULL);
}

static void test_process_values_are_real(void **state)
{
    (void)state;
    char *text = cmn_process_render("/proc/self");
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(text, "# TYPE process_open_fds gauge\n"));
    double rss = s_value(text, "process_resident_memory_bytes");
    double virtual_bytes = s_value(text, "process_virtual_memory_bytes");
    assert_true(rss > 0 && virtual_bytes >= rss);
    assert_true(s_value(text, "process_cpu_seconds_total") >= 0);
    double start = s_value(text, "process_start_time_seconds");
    double now = (double)time(NULL);
    /* This test process started a moment ago, not at boot or the epoch. */
    assert_true(start <= now + 1 && start > now - 600);
    double open_fds = s_value(text, "process_open_fds");
    assert_true(open_fds >= 3); /* stdin, stdout, stderr at least */
    assert_true(s_value(text, "process_max_fds") >= open_fds);
    free(text);

    /* One more descriptor is counted as one more. */
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    text = cmn_process_render("/proc/self");
    assert_true(s_value(text, "process_open_fds") == open_fds + 1);
    free(text);
    close(fd);
}

static void test_process_without_proc_says_nothing(void **state)
{
    (void)state;
    /* No made-up zeros when the source is missing. */
    char *text = cmn_process_render("/nonexistent/proc/self");
    assert_non_null(text);
    assert_null(strstr(text, "process_open_fds"));
    assert_null(strstr(text, "process_cpu_seconds_total"));
    free(text);
}

static char *s_fixed_collector(void *arg)
{
    return strdup(arg);
}

static char *s_empty_collector(void *arg)
{
    (void)arg;
    return NULL;
}

static void test_registry_renders_collectors_and_build_info(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_metrics_gauge(metrics, "first_gauge", "Registered first.", NULL);
    assert_int_equal(cmn_process_metrics(metrics, "mds_build_info", "9.8.7"),
                     0);
    cmn_metrics_collector(metrics, s_empty_collector, NULL);
    cmn_metrics_collector(metrics, s_fixed_collector,
                          "# HELP extra_value An extra.\n"
                          "# TYPE extra_value gauge\nextra_value 7\n");
    char *text = cmn_metrics_render(metrics, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE mds_build_info gauge\n"
                                 "mds_build_info{version=\"9.8.7\"} 1\n"));
    /* Families first, then the collectors in the order they were added. */
    const char *first = strstr(text, "first_gauge 0\n");
    const char *process = strstr(text, "\nprocess_open_fds ");
    const char *extra = strstr(text, "\nextra_value 7\n");
    assert_non_null(first);
    assert_non_null(process);
    assert_non_null(extra);
    assert_true(first < process && process < extra);
    free(text);
    assert_int_equal(cmn_process_metrics(NULL, "x_build_info", "1"), -1);
    cmn_metrics_destroy(&metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_values_are_real),
        cmocka_unit_test(test_process_without_proc_says_nothing),
        cmocka_unit_test(test_registry_renders_collectors_and_build_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
