/* sc_sink: picks the backend for a sink URI and keeps the last error's text.
 *
 * The backends (sc_sink_null.c, sc_sink_sqlite.c, sc_sink_postgres.c) implement
 * the table in sc_sink_impl.h; this file only dispatches, so the worker sees
 * one type whatever the database. */
#include "sc_sink.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_config.h"
#include "sc_sink_impl.h"

/* Room for a sink URI as an error shows it (passwords masked). */
#define SC_SINK_URI_SHOWN_MAX 512

struct _sc_sink_t {
    const sc_sink_backend_t *backend; /* chosen from the URI's scheme */
    void *state;                      /* the backend's own, owned */
    sc_sink_error_t error;            /* last error, "" when none */
};

/* URI prefixes and the backend each selects. */
static const struct {
    const char *prefix;
    const sc_sink_backend_t *backend;
} s_schemes[] = {
    {"sqlite:", &sc_sink_sqlite_backend},
    {"postgres://", &sc_sink_postgres_backend},
    {"postgresql://", &sc_sink_postgres_backend},
    {"null:", &sc_sink_null_backend},
};

#define S_SCHEME_COUNT (sizeof(s_schemes) / sizeof(s_schemes[0]))

static const sc_sink_backend_t *s_backend_for(const char *uri)
{
    for (size_t index = 0; index < S_SCHEME_COUNT; index++) {
        const char *prefix = s_schemes[index].prefix;
        if (strncmp(uri, prefix, strlen(prefix)) == 0)
            return s_schemes[index].backend;
    }
    return NULL;
}

void sc_sink_error_set(sc_sink_error_t *error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error->text, sizeof(error->text), format, args);
    va_end(args);
}

const char *sc_sink_table_name(mdbp_record_kind_t kind)
{
    switch (kind) {
    case MDBP_RECORD_TRADE:
        return "trades";
    case MDBP_RECORD_QUOTE:
        return "quotes";
    case MDBP_RECORD_BAR:
        return "bars";
    }
    return "unknown";
}

/* Keeps the error text on one line and free of double quotes, so that it
 * can be logged as key="value" and written to a dead-letter line as is
 * (database messages quote names: relation "trades"). */
static void s_error_tidy(sc_sink_error_t *error)
{
    for (char *cursor = error->text; *cursor != '\0'; cursor++) {
        if (*cursor == '"')
            *cursor = '\'';
        else if ((unsigned char)*cursor < 0x20 || *cursor == 0x7f)
            *cursor = ' ';
    }
}

int sc_sink_check_uri(const char *uri, char *error, size_t error_capacity)
{
    assert(error != NULL || error_capacity == 0);
    if (uri == NULL || uri[0] == '\0') {
        snprintf(error, error_capacity,
                 "sink URI is empty; expected sqlite:PATH, "
                 "postgres://... or null:");
        return -1;
    }
    const sc_sink_backend_t *backend = s_backend_for(uri);
    if (backend == NULL) {
        char masked[SC_SINK_URI_SHOWN_MAX];
        snprintf(error, error_capacity,
                 "sink URI '%.200s' has an unknown scheme; expected "
                 "sqlite:PATH, postgres://..., postgresql://... or null:",
                 cmn_config_mask(uri, masked, sizeof masked));
        return -1;
    }
    return backend->check(uri, error, error_capacity);
}

int sc_sink_prepare(const char *uri, char *error, size_t error_capacity)
{
    assert(uri != NULL);
    const sc_sink_backend_t *backend = s_backend_for(uri);
    assert(backend != NULL); /* callers check the URI first */
    if (backend == NULL || backend->prepare == NULL)
        return 0;
    return backend->prepare(uri, error, error_capacity);
}

/* What PostgreSQL (and libpq) say when the login itself is refused; the
 * server's English messages (lc_messages=C, the default of initdb here). */
static const char *const s_authentication_marks[] = {
    "password authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "authentication failed",
    "SQLSTATE 28", /* invalid authorization specification */
    NULL,
};

/* `word "name" does not exist`, with either quote (sc_sink_error turns
 * double quotes into single ones). */
static bool s_does_not_exist(const char *error, const char *word)
{
    char quoted[2][32];
    snprintf(quoted[0], sizeof quoted[0], "%s \"", word);
    snprintf(quoted[1], sizeof quoted[1], "%s '", word);
    return (strstr(error, quoted[0]) || strstr(error, quoted[1])) &&
           strstr(error, "does not exist");
}

sc_sink_problem_t sc_sink_problem_of(const char *error)
{
    if (!error || !*error)
        return SC_SINK_PROBLEM_NONE;
    if (s_does_not_exist(error, "database") || strstr(error, "SQLSTATE 3D000"))
        return SC_SINK_PROBLEM_NO_DATABASE;
    if (s_does_not_exist(error, "role"))
        return SC_SINK_PROBLEM_AUTHENTICATION;
    for (const char *const *mark = s_authentication_marks; *mark; mark++)
        if (strstr(error, *mark))
            return SC_SINK_PROBLEM_AUTHENTICATION;
    return SC_SINK_PROBLEM_NONE;
}

const char *sc_sink_problem_name(sc_sink_problem_t problem)
{
    static const char *const names[SC_SINK_PROBLEM_COUNT] = {
        "none", "authentication_failed", "database_missing"};
    assert(problem >= 0 && problem < SC_SINK_PROBLEM_COUNT);
    return names[problem];
}

const char *sc_sink_problem_text(sc_sink_problem_t problem)
{
    static const char *const texts[SC_SINK_PROBLEM_COUNT] = {
        "no problem",
        "the database refused the login: check the user and password in "
        "MDS_SINK (and pg_hba.conf)",
        "the database named in MDS_SINK does not exist: create it or fix "
        "the name",
    };
    assert(problem >= 0 && problem < SC_SINK_PROBLEM_COUNT);
    return texts[problem];
}

const char *sc_sink_kind_of(const char *uri)
{
    assert(uri != NULL);
    const sc_sink_backend_t *backend = s_backend_for(uri);
    return backend ? backend->kind : "unknown";
}

sc_sink_status_t sc_sink_start(sc_sink_t *self)
{
    assert(self != NULL);
    self->error.text[0] = '\0';
    if (self->backend->start == NULL)
        return SC_SINK_OK;
    sc_sink_status_t status = self->backend->start(self->state, &self->error);
    if (status != SC_SINK_OK && self->error.text[0] == '\0')
        sc_sink_error_set(&self->error, "%s: unknown error",
                          self->backend->kind);
    s_error_tidy(&self->error);
    return status;
}

sc_sink_t *sc_sink_new(const char *uri)
{
    assert(uri != NULL);
    const sc_sink_backend_t *backend = s_backend_for(uri);
    assert(backend != NULL); /* callers check the URI at start-up */
    if (backend == NULL)
        return NULL;
    sc_sink_t *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return NULL;
    self->backend = backend;
    self->state = backend->open(uri);
    if (self->state == NULL) {
        free(self);
        return NULL;
    }
    return self;
}

void sc_sink_destroy(sc_sink_t **self_p)
{
    assert(self_p != NULL);
    sc_sink_t *self = *self_p;
    if (self == NULL)
        return;
    self->backend->close(self->state);
    free(self);
    *self_p = NULL;
}

void sc_sink_set_timeout(sc_sink_t *self, int64_t timeout_ms)
{
    assert(self != NULL);
    assert(timeout_ms > 0);
    if (self->backend->set_timeout != NULL)
        self->backend->set_timeout(self->state, timeout_ms);
}

sc_sink_status_t sc_sink_write(sc_sink_t *self, const mdbp_record_t *records,
                               size_t count, sc_sink_counts_t *counts)
{
    assert(self != NULL);
    assert(counts != NULL);
    assert(records != NULL || count == 0);
    counts->written = 0;
    counts->duplicates = 0;
    self->error.text[0] = '\0';
    sc_sink_status_t status =
        self->backend->write(self->state, records, count, counts, &self->error);
    if (status != SC_SINK_OK) {
        /* The contract: on error nothing of the batch is stored. */
        counts->written = 0;
        counts->duplicates = 0;
        if (self->error.text[0] == '\0')
            sc_sink_error_set(&self->error, "%s: unknown error",
                              self->backend->kind);
        s_error_tidy(&self->error);
    }
    return status;
}

sc_sink_status_t sc_sink_ping(sc_sink_t *self)
{
    assert(self != NULL);
    self->error.text[0] = '\0';
    sc_sink_status_t status = self->backend->ping(self->state, &self->error);
    if (status != SC_SINK_OK && self->error.text[0] == '\0')
        sc_sink_error_set(&self->error, "%s: unknown error",
                          self->backend->kind);
    s_error_tidy(&self->error);
    return status;
}

const char *sc_sink_error(sc_sink_t *self)
{
    assert(self != NULL);
    return self->error.text;
}

const char *sc_sink_kind(sc_sink_t *self)
{
    assert(self != NULL);
    return self->backend->kind;
}
