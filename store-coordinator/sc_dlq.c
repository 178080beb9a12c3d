/* sc_dlq: append-only NDJSON dead-letter file (see sc_dlq.h).
 *
 * Two promises, both about the records a caller is about to ack:
 * - They are in the file at the configured path. Before every append and
 *   every sync the open file is compared with stat(path) (st_dev, st_ino):
 *   deleted, moved or replaced, it is retired and the path opened again.
 *   Lines not yet synced when the file was retired are written again to
 *   the new file unless they are safe where they are (the old file still
 *   has a name, i.e. it was moved, and fsync succeeded).
 * - They are on disk. Lines written since the last successful sync are
 *   kept in memory (at most S_PENDING_BYTES_MAX, then an early sync) until
 *   fsync succeeds; a failed fsync may have dropped them from the page
 *   cache while a second fsync would report success (Linux reports a
 *   write-back error once), so after one the lines are written again before
 *   the next fsync. A line may therefore appear twice in the file; replay
 *   is idempotent (the sink counts the second copy as a duplicate).
 * A write that fails (disk full, EIO, a file-size limit) returns -1; if it
 * left part of a line, the next write starts with a newline so that only
 * that fragment is unreadable (replay skips and counts it). */
#include "sc_dlq.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmn_log.h"
#include <mdbp/text.h>

/* One line: a record as JSON is a few hundred bytes; the reason is cut to
 * MDBP_REASON_MAX before it is escaped. */
#define SC_DLQ_LINE_BYTES_MAX 4096
#define SC_DLQ_FILE_MODE 0644
/* Unsynced lines kept for a rewrite, at most; an append past this syncs
 * first, so memory stays bounded whatever the caller's batch. */
#define S_PENDING_BYTES_MAX (1024 * 1024)

struct _sc_dlq_t {
    char *path;    /* the file */
    int fd;        /* -1 until the first append */
    dev_t dev;     /* identity of the open file, from fstat */
    ino_t ino;     /*   (compared with stat(path)) */
    bool torn;     /* a failed write may have left part of a line */
    char *pending; /* lines written since the last successful sync */
    size_t pending_length;
    size_t pending_capacity;
    bool rewrite; /* pending lines are not (known to be) in fd */
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
    free(self->pending);
    free(self->path);
    free(self);
    *self_p = NULL;
}

/* Whether the open file is no longer the one at the path (deleted, moved,
 * or another file put there). */
static bool s_replaced(const sc_dlq_t *self)
{
    struct stat at_path;
    return stat(self->path, &at_path) != 0 || at_path.st_dev != self->dev ||
           at_path.st_ino != self->ino;
}

/* Closes a file that left the path. Its unsynced lines stay where they are
 * if it still has a name (it was moved) and fsync keeps them; otherwise
 * (deleted) they are marked for the new file. */
static void s_retire(sc_dlq_t *self)
{
    struct stat old;
    bool named = fstat(self->fd, &old) == 0 && old.st_nlink > 0;
    bool kept = self->pending_length == 0 ||
                (named && !self->rewrite && fsync(self->fd) == 0);
    close(self->fd);
    self->fd = -1;
    self->torn = false;
    cmn_log_warning("dlq", "file_replaced",
                    "path=\"%s\" reason=%s action=reopen unsynced_bytes=%zu "
                    "rewritten=%s",
                    self->path, named ? "moved" : "deleted",
                    self->pending_length, kept ? "no" : "yes");
    if (kept)
        self->pending_length = 0;
    else
        self->rewrite = true;
}

/* Writes `length` bytes as one write(2) (after a newline if the last write
 * tore a line). Returns 0, or -1 (logged). */
static int s_write(sc_dlq_t *self, const char *bytes, size_t length)
{
    char line[SC_DLQ_LINE_BYTES_MAX + 1];
    if (self->torn && length < sizeof line) {
        line[0] = '\n';
        memcpy(line + 1, bytes, length);
        bytes = line;
        length++;
    } else if (self->torn) {
        /* A rewrite longer than one line: the newline on its own. */
        if (write(self->fd, "\n", 1) != 1) {
            cmn_log_error("dlq", "write_failed", "path=\"%s\" error=\"%s\"",
                          self->path, strerror(errno));
            return -1;
        }
        self->torn = false;
    }
    ssize_t done = write(self->fd, bytes, length);
    if (done == (ssize_t)length) {
        self->torn = false;
        return 0;
    }
    int saved = errno;
    if (done != 0)
        self->torn = true; /* part of it may be in the file */
    cmn_log_error("dlq", "write_failed", "path=\"%s\" error=\"%s\"", self->path,
                  done < 0 ? strerror(saved) : "short write");
    return -1;
}

/* Makes fd the file at the path, opening it when needed, and writes there
 * the unsynced lines a retired file did not keep. Returns 0 or -1. */
static int s_ready(sc_dlq_t *self)
{
    if (self->fd >= 0) {
        if (s_replaced(self))
            s_retire(self);
    }
    if (self->fd < 0) {
        self->fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                        SC_DLQ_FILE_MODE);
        if (self->fd < 0) {
            cmn_log_error("dlq", "open_failed", "path=\"%s\" error=\"%s\"",
                          self->path, strerror(errno));
            return -1;
        }
        struct stat opened;
        if (fstat(self->fd, &opened) != 0) {
            cmn_log_error("dlq", "open_failed", "path=\"%s\" error=\"%s\"",
                          self->path, strerror(errno));
            close(self->fd);
            self->fd = -1;
            return -1;
        }
        self->dev = opened.st_dev;
        self->ino = opened.st_ino;
    }
    if (self->rewrite && self->pending_length > 0) {
        if (s_write(self, self->pending, self->pending_length) != 0)
            return -1;
    }
    self->rewrite = false;
    return 0;
}

int sc_dlq_append(sc_dlq_t *self, const mdbp_record_t *record,
                  const char *reason)
{
    assert(self);
    assert(record);
    char short_reason[MDBP_REASON_MAX + 1];
    snprintf(short_reason, sizeof short_reason, "%s",
             reason && *reason ? reason : "unknown");
    char line[SC_DLQ_LINE_BYTES_MAX];
    int formatted =
        mdbp_text_format_json(record, short_reason, line, sizeof line - 1);
    if (formatted < 0) {
        cmn_log_error("dlq", "format_failed", "path=\"%s\"", self->path);
        return -1;
    }
    line[formatted++] = '\n';
    size_t length = (size_t)formatted;
    if (self->pending_length + length > S_PENDING_BYTES_MAX &&
        sc_dlq_sync(self) != 0)
        return -1;
    /* Room to keep the line before it is written: once written it must be
     * kept until synced. */
    if (self->pending_length + length > self->pending_capacity) {
        size_t capacity = self->pending_capacity ? self->pending_capacity
                                                 : SC_DLQ_LINE_BYTES_MAX;
        while (capacity < self->pending_length + length)
            capacity *= 2;
        char *grown = realloc(self->pending, capacity);
        if (!grown) {
            cmn_log_error("dlq", "out_of_memory", "path=\"%s\"", self->path);
            return -1;
        }
        self->pending = grown;
        self->pending_capacity = capacity;
    }
    if (s_ready(self) != 0 || s_write(self, line, length) != 0)
        return -1;
    memcpy(self->pending + self->pending_length, line, length);
    self->pending_length += length;
    self->count++;
    return 0;
}

int sc_dlq_sync(sc_dlq_t *self)
{
    assert(self);
    if (self->pending_length == 0)
        return 0;
    /* Deleted or moved since the last append: the lines follow the path. */
    if (s_ready(self) != 0)
        return -1;
    if (fsync(self->fd) != 0) {
        cmn_log_error("dlq", "fsync_failed", "path=\"%s\" error=\"%s\"",
                      self->path, strerror(errno));
        /* The page cache may have dropped them: write them again. */
        self->rewrite = true;
        return -1;
    }
    self->pending_length = 0;
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
