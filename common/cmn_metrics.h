/* cmn_metrics: a registry of counters, gauges and histograms, rendered in
 * the Prometheus text exposition format 0.0.4.
 *
 * Families are registered with fixed label names; each labelled series is a
 * stable pointer whose updates are lock-free C11 atomics, written by the actor
 * that owns the value and read by the HTTP threads. Registering families and
 * creating series takes a mutex (start-up, or the rare new label value such as
 * a newly seen coordinator); rendering takes the same mutex to walk the lists,
 * never the values. Counter names must end in `_total`; use base units
 * (seconds, bytes). The output passes `promtool check metrics`. */
#ifndef CMN_METRICS_H
#define CMN_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct _cmn_metrics_t cmn_metrics_t;
typedef struct _cmn_metric_t cmn_metric_t; /* one family */
typedef struct _cmn_series_t cmn_series_t; /* one labelled series */

/* An empty registry. Caller owns the result. */
cmn_metrics_t *cmn_metrics_new(void);

/* Destroys the registry with its families and series; tolerates NULL and
 * sets *self_p to NULL. No thread may still use a series. */
void cmn_metrics_destroy(cmn_metrics_t **self_p);

/* Registers a family. `label_names` is a comma-separated list ("" or NULL for
 * none; at most 8). `help` must not be empty. Registering an existing name
 * with the same type returns the existing family. A family without labels
 * gets its one series at once (renders 0). The registry owns the family;
 * NULL only if memory ran out. */
cmn_metric_t *cmn_metrics_counter(cmn_metrics_t *self, const char *name,
                                  const char *help, const char *label_names);
cmn_metric_t *cmn_metrics_gauge(cmn_metrics_t *self, const char *name,
                                const char *help, const char *label_names);
/* `bounds` are the upper bounds of the buckets, strictly increasing; +Inf is
 * added. Copied. */
cmn_metric_t *cmn_metrics_histogram(cmn_metrics_t *self, const char *name,
                                    const char *help, const char *label_names,
                                    const double *bounds, size_t bound_count);

/* Returns the series for these label values (as many as the family has label
 * names, NULL-terminated varargs), creating it at 0 if needed. The registry
 * owns it; the pointer stays valid until the registry is destroyed (NULL only
 * if memory ran out). Takes the registry mutex: look series up once and keep
 * the pointer rather than calling this per update. */
cmn_series_t *cmn_metric_series(cmn_metric_t *metric, ...);

/* Removes a series from its family and frees it: a labelled series whose
 * subject is gone (a forgotten coordinator), so that it leaves /metrics
 * instead of showing its last value forever. Only the series' single
 * writer may call it, and every holder of the pointer must drop it (the
 * HTTP threads never see it again: rendering takes the mutex).
 * Tolerates NULL and sets *self_p to NULL. */
void cmn_series_remove(cmn_series_t **self_p);

/* Counter: adds n. Any thread. */
void cmn_series_add(cmn_series_t *self, uint64_t n);
/* Counter: adds 1. */
void cmn_series_inc(cmn_series_t *self);
/* Gauge: sets the value. */
void cmn_series_set(cmn_series_t *self, double value);
/* Gauge: adds delta (may be negative). */
void cmn_series_gauge_add(cmn_series_t *self, double delta);
/* Histogram: records one observation. */
void cmn_series_observe(cmn_series_t *self, double value);

/* Current value: counter total, gauge value, or histogram observation count. */
double cmn_series_value(cmn_series_t *self);
/* Histogram sum of observations (0 for other types). */
double cmn_series_sum(cmn_series_t *self);

/* Renders every family in registration order (a family without series
 * prints its HELP and TYPE lines only). Returns a NUL-terminated string the
 * caller frees, and its length in *length if not NULL; NULL if memory ran
 * out. Any thread. */
char *cmn_metrics_render(cmn_metrics_t *self, size_t *length);

/* A collector's samples, read when the registry is rendered (the
 * Prometheus clients' "collectors"): returns complete exposition text
 * (`# HELP`, `# TYPE` and sample lines, each ending in a newline) that the
 * caller frees, or NULL to add nothing. Runs on the scraping thread, outside
 * the registry mutex. */
typedef char *(cmn_metrics_collect_fn)(void *arg);

#define CMN_METRICS_COLLECTORS_MAX 4

/* Adds a collector whose text is appended after the families at every
 * render; `arg` is borrowed and must outlive the registry. At most
 * CMN_METRICS_COLLECTORS_MAX (asserted). Start-up only. */
void cmn_metrics_collector(cmn_metrics_t *self, cmn_metrics_collect_fn *collect,
                           void *arg);

/* Common bucket bounds in seconds, from 100 us to 10 s. */
extern const double CMN_METRICS_LATENCY_BOUNDS[];
extern const size_t CMN_METRICS_LATENCY_BOUND_COUNT;

#endif
