/* cmn_metrics: the metrics registry and its Prometheus text rendering.
 *
 * Design: families and series live in linked lists guarded by one registry
 * mutex, taken only to register, to create a series and to render. Values
 * are C11 atomics updated without the mutex (relaxed order: each value is
 * independent, and a scrape only needs some recent value). A gauge is a
 * double stored as its bits in an _Atomic uint64_t and added to with a CAS
 * loop. A histogram keeps one atomic count per bucket (not cumulative) and
 * the sum as double bits; the renderer accumulates buckets and prints the
 * total as both the +Inf bucket and _count, so those always agree. Label
 * values are escaped once, when the series is created. */
#include "cmn_metrics.h"
#include "cmn_utf8.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMN_METRICS_MAX_LABELS 8    /* label names per family */
#define CMN_METRICS_NUMBER_BYTES 40 /* a formatted number */
#define CMN_METRICS_RENDER_INITIAL_BYTES 4096
#define CMN_METRICS_SHORT_DIGITS 15 /* tried first for a short round-trip */
#define CMN_METRICS_EXACT_DIGITS 17 /* always round-trips */
#define CMN_METRICS_EXACT_INTEGER_LIMIT 9007199254740992.0 /* 2^53 */

const double CMN_METRICS_LATENCY_BOUNDS[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,
};
const size_t CMN_METRICS_LATENCY_BOUND_COUNT =
    sizeof CMN_METRICS_LATENCY_BOUNDS / sizeof CMN_METRICS_LATENCY_BOUNDS[0];

typedef enum {
    S_COUNTER,
    S_GAUGE,
    S_HISTOGRAM,
} s_type_t;

static const char *const s_type_names[] = {"counter", "gauge", "histogram"};

struct _cmn_series_t {
    cmn_metric_t *metric;       /* the family: type and bucket bounds */
    char **label_values;        /* raw values, for lookup */
    char *labels;               /* `a="x",b="y"` escaped, "" without labels */
    _Atomic uint64_t value;     /* counter total, or gauge double bits */
    _Atomic uint64_t sum;       /* histogram: double bits of the sum */
    cmn_series_t *next;         /* creation order */
    _Atomic uint64_t buckets[]; /* histogram: per-bucket counts, +Inf last */
};

struct _cmn_metric_t {
    cmn_metrics_t *registry; /* owner, for its mutex */
    char *name;
    char *help; /* escaped for the HELP line */
    s_type_t type;
    char *label_names[CMN_METRICS_MAX_LABELS];
    size_t label_count;
    double *bounds; /* histogram bucket upper bounds, no +Inf */
    size_t bound_count;
    cmn_series_t *series; /* head, in creation order */
    cmn_series_t *last;   /* tail, for appending */
    cmn_metric_t *next;   /* registration order */
};

typedef struct {
    cmn_metrics_collect_fn *collect;
    void *arg;
} s_collector_t;

struct _cmn_metrics_t {
    pthread_mutex_t mutex; /* guards the lists, never the values */
    cmn_metric_t *families;
    cmn_metric_t *last;
    s_collector_t collectors[CMN_METRICS_COLLECTORS_MAX]; /* render time */
    size_t collector_count;
};

/* A growable text buffer; `failed` makes further appends no-ops. */
typedef struct {
    char *text;
    size_t length;
    size_t capacity;
    bool failed;
} s_text_t;

static void s_text_add(s_text_t *out, const char *bytes, size_t count)
{
    if (out->failed)
        return;
    if (out->length + count + 1 > out->capacity) {
        size_t capacity =
            out->capacity ? out->capacity : CMN_METRICS_RENDER_INITIAL_BYTES;
        while (out->length + count + 1 > capacity)
            capacity *= 2;
        char *text = realloc(out->text, capacity);
        if (!text) {
            out->failed = true;
            return;
        }
        out->text = text;
        out->capacity = capacity;
    }
    memcpy(out->text + out->length, bytes, count);
    out->length += count;
    out->text[out->length] = '\0';
}

static void s_text_add_string(s_text_t *out, const char *text)
{
    s_text_add(out, text, strlen(text));
}

/* Adds `text` escaped: backslash and newline always, the double quote too
 * for label values. Invalid UTF-8 becomes U+FFFD, which the format needs. */
static void s_text_add_escaped(s_text_t *out, const char *text, bool quote)
{
    const unsigned char *at = (const unsigned char *)text;
    while (*at) {
        size_t length;
        if (*at == '\\') {
            s_text_add(out, "\\\\", 2), length = 1;
        } else if (*at == '\n') {
            s_text_add(out, "\\n", 2), length = 1;
        } else if (*at == '"' && quote) {
            s_text_add(out, "\\\"", 2), length = 1;
        } else if (*at < 0x80) {
            s_text_add(out, (const char *)at, 1), length = 1;
        } else if ((length = cmn_utf8_length(at)) > 0) {
            s_text_add(out, (const char *)at, length);
        } else {
            s_text_add(out, "\xef\xbf\xbd", 3), length = 1;
        }
        at += length;
    }
}

/* Formats a double as the text format wants: NaN, +Inf, -Inf; integers
 * without exponent while exact; otherwise the shortest round-trip form. */
static void s_format_double(double value, char *out, size_t size)
{
    if (isnan(value))
        snprintf(out, size, "NaN");
    else if (isinf(value))
        snprintf(out, size, value > 0 ? "+Inf" : "-Inf");
    else if (value == floor(value) &&
             fabs(value) < CMN_METRICS_EXACT_INTEGER_LIMIT)
        snprintf(out, size, "%.0f", value);
    else {
        snprintf(out, size, "%.*g", CMN_METRICS_SHORT_DIGITS, value);
        if (strtod(out, NULL) != value)
            snprintf(out, size, "%.*g", CMN_METRICS_EXACT_DIGITS, value);
    }
}

static double s_bits_to_double(uint64_t bits)
{
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static uint64_t s_double_to_bits(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* Adds delta to a double stored as bits, lock-free. */
static void s_atomic_add_double(_Atomic uint64_t *target, double delta)
{
    uint64_t old = atomic_load_explicit(target, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        target, &old, s_double_to_bits(s_bits_to_double(old) + delta),
        memory_order_relaxed, memory_order_relaxed)) {
    }
}

cmn_metrics_t *cmn_metrics_new(void)
{
    cmn_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->mutex, NULL) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

/* Also frees a half-built series (its label array may be missing). */
static void s_series_destroy(cmn_series_t *series, size_t label_count)
{
    for (size_t index = 0; series->label_values && index < label_count; index++)
        free(series->label_values[index]);
    free(series->label_values);
    free(series->labels);
    free(series);
}

static void s_metric_destroy(cmn_metric_t *metric)
{
    cmn_series_t *series = metric->series;
    while (series) {
        cmn_series_t *next = series->next;
        s_series_destroy(series, metric->label_count);
        series = next;
    }
    for (size_t index = 0; index < metric->label_count; index++)
        free(metric->label_names[index]);
    free(metric->name);
    free(metric->help);
    free(metric->bounds);
    free(metric);
}

void cmn_metrics_destroy(cmn_metrics_t **self_p)
{
    assert(self_p);
    cmn_metrics_t *self = *self_p;
    if (!self)
        return;
    cmn_metric_t *metric = self->families;
    while (metric) {
        cmn_metric_t *next = metric->next;
        s_metric_destroy(metric);
        metric = next;
    }
    pthread_mutex_destroy(&self->mutex);
    free(self);
    *self_p = NULL;
}

/* True for [a-zA-Z_:][a-zA-Z0-9_:]* (colons only when `colons`). Used by
 * asserts only, hence unused in release builds. */
__attribute__((unused)) static bool s_valid_name(const char *name,
                                                 size_t length, bool colons)
{
    if (length == 0 || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t index = 0; index < length; index++) {
        char c = name[index];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || (colons && c == ':');
        if (!ok)
            return false;
    }
    return true;
}

/* Creates a series for these label values; NULL if memory ran out. Called
 * with the registry mutex held. */
static cmn_series_t *s_series_new(cmn_metric_t *metric,
                                  const char *const *values)
{
    size_t bucket_count =
        metric->type == S_HISTOGRAM ? metric->bound_count + 1 : 0;
    cmn_series_t *series =
        calloc(1, sizeof *series + bucket_count * sizeof series->buckets[0]);
    if (!series)
        return NULL;
    series->metric = metric;
    series->label_values = calloc(metric->label_count + 1, sizeof(char *));
    s_text_t labels = {NULL, 0, 0, false};
    s_text_add(&labels, "", 0);
    bool failed = !series->label_values;
    for (size_t index = 0; !failed && index < metric->label_count; index++) {
        series->label_values[index] = strdup(values[index]);
        failed = !series->label_values[index];
        if (index > 0)
            s_text_add(&labels, ",", 1);
        s_text_add_string(&labels, metric->label_names[index]);
        s_text_add(&labels, "=\"", 2);
        s_text_add_escaped(&labels, values[index], true);
        s_text_add(&labels, "\"", 1);
    }
    series->labels = labels.text;
    if (failed || labels.failed) {
        s_series_destroy(series, metric->label_count);
        return NULL;
    }
    atomic_init(&series->value,
                metric->type == S_GAUGE ? s_double_to_bits(0) : 0);
    atomic_init(&series->sum, s_double_to_bits(0));
    for (size_t index = 0; index < bucket_count; index++)
        atomic_init(&series->buckets[index], 0);
    if (metric->last)
        metric->last->next = series;
    else
        metric->series = series;
    metric->last = series;
    return series;
}

/* Finds or creates the series for `values`; call with the mutex held. */
static cmn_series_t *s_series_get(cmn_metric_t *metric,
                                  const char *const *values)
{
    for (cmn_series_t *series = metric->series; series; series = series->next) {
        size_t index = 0;
        while (index < metric->label_count &&
               strcmp(series->label_values[index], values[index]) == 0)
            index++;
        if (index == metric->label_count)
            return series;
    }
    return s_series_new(metric, values);
}

static cmn_metric_t *s_register(cmn_metrics_t *self, s_type_t type,
                                const char *name, const char *help,
                                const char *label_names, const double *bounds,
                                size_t bound_count)
{
    assert(self && name && help && *help);
    assert(s_valid_name(name, strlen(name), true));
    assert(type != S_COUNTER ||
           (strlen(name) > strlen("_total") &&
            strcmp(name + strlen(name) - strlen("_total"), "_total") == 0));
    pthread_mutex_lock(&self->mutex);
    for (cmn_metric_t *metric = self->families; metric; metric = metric->next) {
        if (strcmp(metric->name, name) == 0) {
            assert(metric->type == type); /* one name, one type */
            pthread_mutex_unlock(&self->mutex);
            return metric;
        }
    }
    cmn_metric_t *metric = calloc(1, sizeof *metric);
    s_text_t escaped_help = {NULL, 0, 0, false};
    s_text_add(&escaped_help, "", 0);
    s_text_add_escaped(&escaped_help, help, false);
    bool failed = !metric || escaped_help.failed;
    if (metric) {
        metric->registry = self;
        metric->type = type;
        metric->name = strdup(name);
        metric->help = escaped_help.text;
        escaped_help.text = NULL;
        failed = failed || !metric->name;
    }
    free(escaped_help.text);
    /* Label names: comma-separated, each a valid name; "le" is reserved. */
    const char *at = label_names ? label_names : "";
    while (!failed && *at) {
        const char *end = strchr(at, ',');
        size_t length = end ? (size_t)(end - at) : strlen(at);
        assert(metric->label_count < CMN_METRICS_MAX_LABELS);
        assert(s_valid_name(at, length, false));
        assert(!(type == S_HISTOGRAM && length == 2 && !memcmp(at, "le", 2)));
        metric->label_names[metric->label_count] = strndup(at, length);
        failed = !metric->label_names[metric->label_count++];
        at += length + (end ? 1 : 0);
    }
    if (!failed && type == S_HISTOGRAM) {
        for (size_t index = 1; index < bound_count; index++)
            assert(bounds[index] > bounds[index - 1]);
        metric->bounds =
            malloc((bound_count ? bound_count : 1) * sizeof *metric->bounds);
        failed = !metric->bounds;
        if (!failed && bound_count)
            memcpy(metric->bounds, bounds, bound_count * sizeof *bounds);
        metric->bound_count = bound_count;
    }
    /* A family without labels has exactly one series: create it now so it
     * renders (as 0) from the first scrape. */
    if (!failed && metric->label_count == 0)
        failed = !s_series_new(metric, NULL);
    if (failed) {
        if (metric)
            s_metric_destroy(metric);
        pthread_mutex_unlock(&self->mutex);
        return NULL;
    }
    if (self->last)
        self->last->next = metric;
    else
        self->families = metric;
    self->last = metric;
    pthread_mutex_unlock(&self->mutex);
    return metric;
}

cmn_metric_t *cmn_metrics_counter(cmn_metrics_t *self, const char *name,
                                  const char *help, const char *label_names)
{
    return s_register(self, S_COUNTER, name, help, label_names, NULL, 0);
}

cmn_metric_t *cmn_metrics_gauge(cmn_metrics_t *self, const char *name,
                                const char *help, const char *label_names)
{
    return s_register(self, S_GAUGE, name, help, label_names, NULL, 0);
}

cmn_metric_t *cmn_metrics_histogram(cmn_metrics_t *self, const char *name,
                                    const char *help, const char *label_names,
                                    const double *bounds, size_t bound_count)
{
    assert(bounds || bound_count == 0);
    return s_register(self, S_HISTOGRAM, name, help, label_names, bounds,
                      bound_count);
}

cmn_series_t *cmn_metric_series(cmn_metric_t *metric, ...)
{
    assert(metric);
    const char *values[CMN_METRICS_MAX_LABELS + 1];
    va_list args;
    va_start(args, metric);
    size_t count = 0;
    const char *value;
    while ((value = va_arg(args, const char *)) != NULL) {
        assert(count < metric->label_count); /* one value per label name */
        values[count++] = value;
    }
    va_end(args);
    assert(count == metric->label_count);
    pthread_mutex_lock(&metric->registry->mutex);
    cmn_series_t *series = s_series_get(metric, values);
    pthread_mutex_unlock(&metric->registry->mutex);
    return series;
}

void cmn_series_remove(cmn_series_t **self_p)
{
    assert(self_p);
    cmn_series_t *self = *self_p;
    if (!self)
        return;
    cmn_metric_t *metric = self->metric;
    pthread_mutex_lock(&metric->registry->mutex);
    cmn_series_t *before = NULL, *series = metric->series;
    while (series && series != self) {
        before = series;
        series = series->next;
    }
    assert(series); /* a series of this family */
    if (before)
        before->next = self->next;
    else
        metric->series = self->next;
    if (metric->last == self)
        metric->last = before;
    pthread_mutex_unlock(&metric->registry->mutex);
    s_series_destroy(self, metric->label_count);
    *self_p = NULL;
}

void cmn_series_add(cmn_series_t *self, uint64_t n)
{
    assert(self && self->metric->type == S_COUNTER);
    atomic_fetch_add_explicit(&self->value, n, memory_order_relaxed);
}

void cmn_series_inc(cmn_series_t *self)
{
    cmn_series_add(self, 1);
}

void cmn_series_set(cmn_series_t *self, double value)
{
    assert(self && self->metric->type == S_GAUGE);
    atomic_store_explicit(&self->value, s_double_to_bits(value),
                          memory_order_relaxed);
}

void cmn_series_gauge_add(cmn_series_t *self, double delta)
{
    assert(self && self->metric->type == S_GAUGE);
    s_atomic_add_double(&self->value, delta);
}

void cmn_series_observe(cmn_series_t *self, double value)
{
    assert(self && self->metric->type == S_HISTOGRAM);
    const double *bounds = self->metric->bounds;
    /* First bucket whose bound is >= value (NaN lands in +Inf). */
    size_t low = 0, high = self->metric->bound_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (value <= bounds[middle])
            high = middle;
        else
            low = middle + 1;
    }
    if (isnan(value))
        low = self->metric->bound_count;
    atomic_fetch_add_explicit(&self->buckets[low], 1, memory_order_relaxed);
    s_atomic_add_double(&self->sum, value);
}

static uint64_t s_histogram_count(cmn_series_t *self)
{
    uint64_t total = 0;
    for (size_t index = 0; index <= self->metric->bound_count; index++)
        total +=
            atomic_load_explicit(&self->buckets[index], memory_order_relaxed);
    return total;
}

double cmn_series_value(cmn_series_t *self)
{
    assert(self);
    uint64_t bits = atomic_load_explicit(&self->value, memory_order_relaxed);
    switch (self->metric->type) {
    case S_COUNTER:
        return (double)bits;
    case S_GAUGE:
        return s_bits_to_double(bits);
    case S_HISTOGRAM:
        return (double)s_histogram_count(self);
    }
    return 0;
}

double cmn_series_sum(cmn_series_t *self)
{
    assert(self);
    if (self->metric->type != S_HISTOGRAM)
        return 0;
    return s_bits_to_double(
        atomic_load_explicit(&self->sum, memory_order_relaxed));
}

/* Adds `name{labels,extra} value\n`; braces only when there are labels. */
static void s_render_sample(s_text_t *out, const char *name, const char *suffix,
                            const char *labels, const char *extra,
                            const char *value)
{
    s_text_add_string(out, name);
    s_text_add_string(out, suffix);
    if (*labels || extra) {
        s_text_add(out, "{", 1);
        s_text_add_string(out, labels);
        if (extra) {
            if (*labels)
                s_text_add(out, ",", 1);
            s_text_add_string(out, extra);
        }
        s_text_add(out, "}", 1);
    }
    s_text_add(out, " ", 1);
    s_text_add_string(out, value);
    s_text_add(out, "\n", 1);
}

static void s_render_histogram(s_text_t *out, cmn_metric_t *metric,
                               cmn_series_t *series)
{
    char value[CMN_METRICS_NUMBER_BYTES];
    char bound[CMN_METRICS_NUMBER_BYTES];
    char le[CMN_METRICS_NUMBER_BYTES + sizeof "le=\"\""];
    uint64_t cumulative = 0;
    for (size_t index = 0; index <= metric->bound_count; index++) {
        cumulative +=
            atomic_load_explicit(&series->buckets[index], memory_order_relaxed);
        if (index < metric->bound_count)
            s_format_double(metric->bounds[index], bound, sizeof bound);
        else
            snprintf(bound, sizeof bound, "+Inf");
        snprintf(le, sizeof le, "le=\"%s\"", bound);
        snprintf(value, sizeof value, "%llu", (unsigned long long)cumulative);
        s_render_sample(out, metric->name, "_bucket", series->labels, le,
                        value);
    }
    s_format_double(cmn_series_sum(series), value, sizeof value);
    s_render_sample(out, metric->name, "_sum", series->labels, NULL, value);
    snprintf(value, sizeof value, "%llu", (unsigned long long)cumulative);
    s_render_sample(out, metric->name, "_count", series->labels, NULL, value);
}

char *cmn_metrics_render(cmn_metrics_t *self, size_t *length)
{
    assert(self);
    s_text_t out = {NULL, 0, 0, false};
    s_text_add(&out, "", 0);
    pthread_mutex_lock(&self->mutex);
    for (cmn_metric_t *metric = self->families; metric; metric = metric->next) {
        s_text_add_string(&out, "# HELP ");
        s_text_add_string(&out, metric->name);
        s_text_add(&out, " ", 1);
        s_text_add_string(&out, metric->help);
        s_text_add_string(&out, "\n# TYPE ");
        s_text_add_string(&out, metric->name);
        s_text_add(&out, " ", 1);
        s_text_add_string(&out, s_type_names[metric->type]);
        s_text_add(&out, "\n", 1);
        for (cmn_series_t *series = metric->series; series;
             series = series->next) {
            char value[CMN_METRICS_NUMBER_BYTES];
            if (metric->type == S_HISTOGRAM) {
                s_render_histogram(&out, metric, series);
                continue;
            }
            uint64_t bits =
                atomic_load_explicit(&series->value, memory_order_relaxed);
            if (metric->type == S_COUNTER)
                snprintf(value, sizeof value, "%llu", (unsigned long long)bits);
            else
                s_format_double(s_bits_to_double(bits), value, sizeof value);
            s_render_sample(&out, metric->name, "", series->labels, NULL,
                            value);
        }
    }
    s_collector_t collectors[CMN_METRICS_COLLECTORS_MAX];
    size_t collector_count = self->collector_count;
    memcpy(collectors, self->collectors, sizeof collectors);
    pthread_mutex_unlock(&self->mutex);
    /* Collectors read their sources (/proc) without the registry mutex. */
    for (size_t index = 0; index < collector_count; index++) {
        char *text = collectors[index].collect(collectors[index].arg);
        if (text)
            s_text_add_string(&out, text);
        free(text);
    }
    if (out.failed) {
        free(out.text);
        return NULL;
    }
    if (length)
        *length = out.length;
    return out.text;
}

void cmn_metrics_collector(cmn_metrics_t *self, cmn_metrics_collect_fn *collect,
                           void *arg)
{
    assert(self && collect);
    pthread_mutex_lock(&self->mutex);
    assert(self->collector_count < CMN_METRICS_COLLECTORS_MAX);
    self->collectors[self->collector_count++] = (s_collector_t){collect, arg};
    pthread_mutex_unlock(&self->mutex);
}
