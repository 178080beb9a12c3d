/* pl_provider_replay: replays a file of trades, quotes and bars. */
#include "pl_provider_replay.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmn_log.h"
#include <mdbp/text.h>

#define PL_REPLAY_MODULE "replay"
#define PL_REPLAY_PATH_MAX 4096

struct _pl_replay_t {
    char provider[MDBP_NAME_MAX + 1];
    char path[PL_REPLAY_PATH_MAX];
    bool loop;
    FILE *file;
    char line[PL_REPLAY_LINE_MAX + 2]; /* + '\r' + NUL */
    uint64_t line_number;              /* of the last line read, in this pass */
    uint64_t bad_lines;
    uint64_t passes;        /* completed */
    uint64_t good_in_pass;  /* good records in the current pass */
    int64_t min_ts, max_ts; /* span of the first pass */
    int64_t shift_ns;       /* added to every ts_ns in this pass */
};

pl_replay_t *pl_replay_new(const pl_replay_config_t *config)
{
    assert(config && config->provider && config->path);
    size_t provider_length = strlen(config->provider);
    if (provider_length == 0 || provider_length > MDBP_NAME_MAX ||
        strlen(config->path) >= PL_REPLAY_PATH_MAX)
        return NULL;
    pl_replay_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    memcpy(self->provider, config->provider, provider_length + 1);
    strcpy(self->path, config->path);
    self->loop = config->loop;
    self->min_ts = INT64_MAX;
    self->max_ts = INT64_MIN;
    self->file = fopen(self->path, "r");
    struct stat info;
    if (self->file && fstat(fileno(self->file), &info) == 0 &&
        S_ISDIR(info.st_mode)) {
        fclose(self->file); /* fopen() accepts a directory; reads fail */
        self->file = NULL;
        errno = EISDIR;
    }
    if (!self->file) {
        int error = errno;
        cmn_log_error(PL_REPLAY_MODULE, "open_failed",
                      "path=\"%s\" error=\"%s\"", self->path, strerror(error));
        free(self);
        errno = error; /* for the caller's message */
        return NULL;
    }
    return self;
}

void pl_replay_destroy(pl_replay_t **self_p)
{
    assert(self_p);
    pl_replay_t *self = *self_p;
    if (!self)
        return;
    if (self->file)
        fclose(self->file);
    free(self);
    *self_p = NULL;
}

static void s_bad_line(pl_replay_t *self, const char *reason)
{
    self->bad_lines++;
    cmn_log_warning(PL_REPLAY_MODULE, "bad_line",
                    "path=\"%s\" line=%llu error=\"%s\"", self->path,
                    (unsigned long long)self->line_number, reason);
}

/* Starts the next pass. Returns 0, or -1 when there is none. */
static int s_rewind(pl_replay_t *self)
{
    self->passes++;
    if (!self->loop || self->good_in_pass == 0)
        return -1;
    if (self->passes == 1)
        self->shift_ns = 0;
    /* Each pass after the first starts one span + 1 ns later; ts_ns > 0
     * (validated), so the span cannot overflow. A pass whose last record
     * would pass INT64_MAX is never started: the replay ends instead of
     * wrapping to negative times. */
    int64_t shift;
    int64_t last;
    if (__builtin_add_overflow(self->shift_ns, self->max_ts - self->min_ts + 1,
                               &shift) ||
        __builtin_add_overflow(shift, self->max_ts, &last)) {
        cmn_log_warning(PL_REPLAY_MODULE, "loop_ended",
                        "path=\"%s\" passes=%llu reason=\"ts_ns would "
                        "pass the largest time\"",
                        self->path, (unsigned long long)self->passes);
        self->loop = false;
        return -1;
    }
    self->shift_ns = shift;
    self->good_in_pass = 0;
    self->line_number = 0;
    rewind(self->file);
    return 0;
}

/* Parses one line. Returns 1 (record), 0 (skip quietly) or -1 (bad). */
static int s_parse(char *text, mdbp_record_t *record, mdbp_error_t *error)
{
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == '\r'))
        text[--length] = '\0';
    const char *start = text + strspn(text, " \t");
    if (*start == '\0' || *start == '#')
        return 0;
    int parsed = *start == '{' ? mdbp_text_parse_json(start, record, error)
                               : mdbp_text_parse_csv(start, record, error);
    if (parsed == 1)
        return 0; /* a CSV header */
    if (parsed != 0)
        return -1;
    return 1;
}

int pl_replay_next(pl_replay_t *self, mdbp_record_t *record)
{
    assert(self && record);
    while (true) {
        size_t length;
        int read = mdbp_text_read_line(self->file, self->line,
                                        PL_REPLAY_LINE_MAX, &length);
        if (read <= 0) {
            if (read < 0) {
                cmn_log_error(PL_REPLAY_MODULE, "read_failed",
                              "path=\"%s\" line=%llu", self->path,
                              (unsigned long long)self->line_number + 1);
                clearerr(self->file);
                return -1;
            }
            if (s_rewind(self) != 0)
                return 0;
            continue;
        }
        self->line_number++;
        if (read == MDBP_TEXT_LINE_TOO_LONG) {
            s_bad_line(self, "line too long");
            continue;
        }
        if (read == MDBP_TEXT_LINE_HAS_NUL) {
            s_bad_line(self, "line contains a NUL byte");
            continue;
        }
        mdbp_error_t error = {{0}};
        int parsed = s_parse(self->line, record, &error);
        if (parsed == 0)
            continue;
        if (parsed < 0) {
            s_bad_line(self, error.text);
            continue;
        }
        snprintf(record->provider, sizeof record->provider, "%s",
                 self->provider);
        if (self->passes == 0) {
            if (record->ts_ns < self->min_ts)
                self->min_ts = record->ts_ns;
            if (record->ts_ns > self->max_ts)
                self->max_ts = record->ts_ns;
        }
        int64_t shifted;
        if (__builtin_add_overflow(record->ts_ns, self->shift_ns, &shifted)) {
            s_bad_line(self, "ts_ns overflows after looping");
            continue;
        }
        record->ts_ns = shifted;
        self->good_in_pass++;
        return 1;
    }
}

uint64_t pl_replay_bad_lines(pl_replay_t *self)
{
    assert(self);
    return self->bad_lines;
}

uint64_t pl_replay_line(pl_replay_t *self)
{
    assert(self);
    return self->line_number;
}

uint64_t pl_replay_passes(pl_replay_t *self)
{
    assert(self);
    return self->passes;
}
