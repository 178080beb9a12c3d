/* metrics_dump: fills a registry like a service would (every metric type,
 * label values that need escaping, special values, an empty family) and
 * writes its rendering to the file named by argv[1], for promtool. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmn_metrics.h"
#include "cmn_process.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: metrics_dump FILE\n");
        return 2;
    }
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_metric_t *records =
        cmn_metrics_counter(metrics, "mds_records_total",
                            "Records by sink and outcome.", "sink,outcome");
    cmn_series_add(cmn_metric_series(records, "sqlite", "ok", NULL), 1234);
    cmn_series_inc(
        cmn_metric_series(records, "pg \"main\"", "fail\\ed\n", NULL));
    cmn_series_inc(cmn_metric_series(records, "caf\xc3\xa9", "\xff", NULL));
    cmn_metrics_counter(metrics, "mds_dlq_records_total",
                        "Help with \\ backslash\nand newline.", "reason");
    cmn_metric_t *level = cmn_metrics_gauge(metrics, "mds_backpressure_level",
                                            "0 ok, 1 soft, 2 hard.", NULL);
    cmn_series_set(cmn_metric_series(level, NULL), 1);
    cmn_metric_t *values = cmn_metrics_gauge(metrics, "test_special_values",
                                             "Odd doubles.", "kind");
    cmn_series_set(cmn_metric_series(values, "nan", NULL), NAN);
    cmn_series_set(cmn_metric_series(values, "inf", NULL), INFINITY);
    cmn_series_set(cmn_metric_series(values, "minus_inf", NULL), -INFINITY);
    cmn_series_set(cmn_metric_series(values, "tiny", NULL), 1e-300);
    cmn_series_gauge_add(cmn_metric_series(values, "negative", NULL), -0.25);
    cmn_metric_t *latency = cmn_metrics_histogram(
        metrics, "mds_commit_duration_seconds", "Commit latency.", "sink",
        CMN_METRICS_LATENCY_BOUNDS, CMN_METRICS_LATENCY_BOUND_COUNT);
    cmn_series_t *sqlite = cmn_metric_series(latency, "sqlite", NULL);
    for (int index = 0; index < 100; index++)
        cmn_series_observe(sqlite, index * 0.003);
    cmn_metric_series(latency, "postgres", NULL); /* no observations yet */
    cmn_metric_t *plain =
        cmn_metrics_histogram(metrics, "pl_batch_size_records", "Batch sizes.",
                              NULL, (const double[]){1, 10, 100}, 3);
    cmn_series_observe(cmn_metric_series(plain, NULL), 42);

    /* process_* from /proc and a build-info gauge, as the services have. */
    if (cmn_process_metrics(metrics, "mds_build_info", "1.0.0") != 0)
        return 1;

    size_t length = 0;
    char *text = cmn_metrics_render(metrics, &length);
    FILE *file = fopen(argv[1], "w");
    int rc = text && file && fwrite(text, 1, length, file) == length ? 0 : 1;
    if (file && fclose(file) != 0)
        rc = 1;
    free(text);
    cmn_metrics_destroy(&metrics);
    return rc;
}
