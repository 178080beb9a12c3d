/* sc_dlq: append-only NDJSON dead-letter file (see sc_dlq.h). */
#include "sc_dlq.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmn_log.h"
#include "proto_text.h"

/* One line: a record as JSON is a few hundred bytes; the reason is cut to
 * PROTO_REASON_MAX before it is escaped. */
#define SC_DLQ_LINE_BYTES_MAX 4096
#define SC_DLQ_FILE_MODE 0644

struct _sc_dlq_t {
    char *path;   /* the file */
    int fd;       /* -1 until the first append */
    bool dirty;   /* lines written since the last fsync */
    size_t count; /* lines appended */
};

sc_dlq_t *sc_dlq_new(const char *path)
{
    assert(path);
    sc_dlq_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->path = strdup(path);
    if (!self->path) {
        free(self);
        return NULL;
    }
    self->fd = -1;
    return self;
}

void sc_dlq_destroy(sc_dlq_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sc_dlq_t *self = *self_p;
    if (self->fd >= 0) {
        sc_dlq_sync(self);
        close(self->fd);
    }
    free(self->path);
    free(self);
    *self_p = NULL;
}

static int s_dlq_open(sc_dlq_t *self)
{
    if (self->fd >= 0)
        return 0;
    self->fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                    SC_DLQ_FILE_MODE);
    if (self->fd < 0) {
        cmn_log_error("dlq", "open_failed", "path=\"%s\" error=\"%s\"",
                      self->path, strerror(errno));
        return -1;
    }
    return 0;
}

int sc_dlq_append(sc_dlq_t *self, const proto_record_t *record,
                  const char *reason)
{
    assert(self);
    assert(record);
    if (s_dlq_open(self) != 0)
        return -1;
    char short_reason[PROTO_REASON_MAX + 1];
    snprintf(short_reason, sizeof short_reason, "%s",
             reason && *reason ? reason : "unknown");
    char line[SC_DLQ_LINE_BYTES_MAX];
    int length =
        proto_text_format_json(record, short_reason, line, sizeof line - 1);
    if (length < 0) {
        cmn_log_error("dlq", "format_failed", "path=\"%s\"", self->path);
        return -1;
    }
    line[length++] = '\n';
    ssize_t done = write(self->fd, line, (size_t)length);
    if (done != length) {
        cmn_log_error("dlq", "write_failed", "path=\"%s\" error=\"%s\"",
                      self->path, done < 0 ? strerror(errno) : "short write");
        return -1;
    }
    self->dirty = true;
    self->count++;
    return 0;
}

int sc_dlq_sync(sc_dlq_t *self)
{
    assert(self);
    if (!self->dirty)
        return 0;
    if (fsync(self->fd) != 0) {
        cmn_log_error("dlq", "fsync_failed", "path=\"%s\" error=\"%s\"",
                      self->path, strerror(errno));
        return -1;
    }
    self->dirty = false;
    return 0;
}

size_t sc_dlq_count(sc_dlq_t *self)
{
    assert(self);
    return self->count;
}

const char *sc_dlq_path(sc_dlq_t *self)
{
    assert(self);
    return self->path;
}
