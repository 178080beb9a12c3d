/* cmn_process: the process_* metrics and a build-info gauge.
 *
 * The metrics the Prometheus client libraries export for every process,
 * with their names, types and units: process_cpu_seconds_total (user +
 * system), process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds and process_start_time_seconds (since
 * the Unix epoch). They are read from /proc/self at scrape time (a
 * cmn_metrics collector), so they cost nothing between scrapes. A value
 * that cannot be read (no /proc) is left out rather than shown as 0. */
#ifndef CMN_PROCESS_H
#define CMN_PROCESS_H

#include <stddef.h>

#include "cmn_metrics.h"

/* Adds the process_* collector to `metrics` and a gauge `build_info_name`
 * (e.g. "mds_build_info") with the label version=`version`, set to 1.
 * Start-up only. Returns 0, or -1 when `metrics` is NULL or memory ran
 * out. */
int cmn_process_metrics(cmn_metrics_t *metrics, const char *build_info_name,
                        const char *version);

/* The process_* exposition text for the process with this /proc
 * directory (e.g. "/proc/self"), read now; the caller frees it. NULL when
 * memory ran out. For the collector and its tests. */
char *cmn_process_render(const char *proc_dir);

#endif
