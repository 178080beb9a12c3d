/* cmn_process: process_* metrics read from /proc at scrape time.
 *
 * /proc/PID/stat gives CPU ticks, the start time in ticks since boot, the
 * virtual size and the resident pages; /proc/stat gives the boot time;
 * /proc/PID/fd has one entry per open descriptor; /proc/PID/limits the
 * soft limit of open files. Values follow prometheus_client's process
 * collector, so dashboards written for it work unchanged. */
#include "cmn_process.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMN_PROCESS_PATH_BYTES 256
#define CMN_PROCESS_STAT_BYTES 4096 /* one /proc/PID/stat line */
#define CMN_PROCESS_LINE_BYTES 512  /* a line of /proc/stat or limits */
#define CMN_PROCESS_TEXT_BYTES 2048 /* the whole rendering */
#define CMN_PROCESS_STAT_UTIME 14   /* field numbers of proc(5) stat */
#define CMN_PROCESS_STAT_STIME 15
#define CMN_PROCESS_STAT_STARTTIME 22
#define CMN_PROCESS_STAT_VSIZE 23
#define CMN_PROCESS_STAT_RSS 24
#define CMN_PROCESS_STAT_FIRST_AFTER_COMM 3 /* "state" follows "(comm)" */
#define CMN_PROCESS_LIMITS_PREFIX "Max open files"

typedef struct {
    char text[CMN_PROCESS_TEXT_BYTES];
    size_t length;
} s_out_t;

static void s_sample(s_out_t *out, const char *name, const char *type,
                     const char *help, double value)
{
    if (out->length >= sizeof out->text)
        return;
    int written =
        snprintf(out->text + out->length, sizeof out->text - out->length,
                 "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name,
                 type, name, value);
    if (written > 0)
        out->length += (size_t)written;
}

/* Reads the fields of /proc/PID/stat we need; returns 0 or -1. */
static int s_read_stat(const char *proc_dir, unsigned long long fields[],
                       size_t field_count)
{
    char path[CMN_PROCESS_PATH_BYTES], line[CMN_PROCESS_STAT_BYTES];
    snprintf(path, sizeof path, "%s/stat", proc_dir);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    bool read = fgets(line, sizeof line, file) != NULL;
    fclose(file);
    /* The command name is in parentheses and may hold spaces or ')'. */
    char *cursor = read ? strrchr(line, ')') : NULL;
    if (!cursor)
        return -1;
    cursor++;
    for (size_t number = CMN_PROCESS_STAT_FIRST_AFTER_COMM;
         number < field_count; number++) {
        while (*cursor == ' ')
            cursor++;
        if (!*cursor)
            return -1;
        char *end = NULL;
        fields[number] = strtoull(cursor, &end, 10); /* "state" reads 0 */
        cursor = strchr(cursor, ' ');
        if (!cursor)
            return number + 1 == field_count ? 0 : -1;
    }
    return 0;
}

/* Seconds since the epoch at boot (btime of /proc/stat), or -1. */
static double s_boot_time(void)
{
    FILE *file = fopen("/proc/stat", "r");
    if (!file)
        return -1;
    char line[CMN_PROCESS_LINE_BYTES];
    double boot = -1;
    while (fgets(line, sizeof line, file))
        if (strncmp(line, "btime ", strlen("btime ")) == 0) {
            boot = strtod(line + strlen("btime "), NULL);
            break;
        }
    fclose(file);
    return boot;
}

static long s_open_fds(const char *proc_dir)
{
    char path[CMN_PROCESS_PATH_BYTES];
    snprintf(path, sizeof path, "%s/fd", proc_dir);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    long count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)))
        if (entry->d_name[0] != '.')
            count++;
    closedir(dir);
    return count - 1; /* the descriptor opendir itself holds */
}

/* The soft limit of open files, or -1 (also for "unlimited"). */
static double s_max_fds(const char *proc_dir)
{
    char path[CMN_PROCESS_PATH_BYTES], line[CMN_PROCESS_LINE_BYTES];
    snprintf(path, sizeof path, "%s/limits", proc_dir);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    double limit = -1;
    while (fgets(line, sizeof line, file))
        if (strncmp(line, CMN_PROCESS_LIMITS_PREFIX,
                    strlen(CMN_PROCESS_LIMITS_PREFIX)) == 0) {
            char *end = NULL;
            const char *value = line + strlen(CMN_PROCESS_LIMITS_PREFIX);
            double parsed = strtod(value, &end);
            if (end != value)
                limit = parsed;
            break;
        }
    fclose(file);
    return limit;
}

char *cmn_process_render(const char *proc_dir)
{
    s_out_t out = {.length = 0};
    out.text[0] = '\0';
    unsigned long long fields[CMN_PROCESS_STAT_RSS + 1] = {0};
    double ticks = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    if (s_read_stat(proc_dir, fields, CMN_PROCESS_STAT_RSS + 1) == 0 &&
        ticks > 0) {
        s_sample(&out, "process_cpu_seconds_total", "counter",
                 "Total user and system CPU time spent in seconds.",
                 (double)(fields[CMN_PROCESS_STAT_UTIME] +
                          fields[CMN_PROCESS_STAT_STIME]) /
                     ticks);
        s_sample(&out, "process_virtual_memory_bytes", "gauge",
                 "Virtual memory size in bytes.",
                 (double)fields[CMN_PROCESS_STAT_VSIZE]);
        if (page > 0)
            s_sample(&out, "process_resident_memory_bytes", "gauge",
                     "Resident memory size in bytes.",
                     (double)fields[CMN_PROCESS_STAT_RSS] * page);
        double boot = s_boot_time();
        if (boot >= 0)
            s_sample(&out, "process_start_time_seconds", "gauge",
                     "Start time of the process since unix epoch in seconds.",
                     boot + (double)fields[CMN_PROCESS_STAT_STARTTIME] / ticks);
    }
    long open_fds = s_open_fds(proc_dir);
    if (open_fds >= 0)
        s_sample(&out, "process_open_fds", "gauge",
                 "Number of open file descriptors.", (double)open_fds);
    double max_fds = s_max_fds(proc_dir);
    if (max_fds >= 0)
        s_sample(&out, "process_max_fds", "gauge",
                 "Maximum number of open file descriptors.", max_fds);
    return strdup(out.text);
}

static char *s_collect(void *arg)
{
    (void)arg;
    return cmn_process_render("/proc/self");
}

int cmn_process_metrics(cmn_metrics_t *metrics, const char *build_info_name,
                        const char *version)
{
    if (!metrics || !build_info_name || !version)
        return -1;
    cmn_metric_t *info = cmn_metrics_gauge(
        metrics, build_info_name,
        "Always 1; the label version is this binary's version.", "version");
    cmn_series_t *series = info ? cmn_metric_series(info, version, NULL) : NULL;
    if (!series)
        return -1;
    cmn_series_set(series, 1);
    cmn_metrics_collector(metrics, s_collect, NULL);
    return 0;
}
