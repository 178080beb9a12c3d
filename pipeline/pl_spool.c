/* pl_spool: a durable, bounded, append-only spool of records.
 *
 * Layout in memory: the segments in order (oldest first); those before
 * `head` were read to their end (drained, waiting for pl_spool_release),
 * `head_offset` is where the next unread record of segment `head` starts,
 * and the last segment is the one appended to while `tail_fd` is open. A
 * segment read to its end while it is the tail is sealed (closed) so that
 * it can be released too; the next append starts a new one. After open,
 * appends always go to a new segment: the recovered ones are sealed. */
#include "pl_spool.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmn_log.h"
#include <mdbp/text.h>

#define PL_SPOOL_MODULE "spool"
#define PL_SPOOL_SEQ_DIGITS 16
/* Room in a path for "/", the segment's file name and its NUL. */
#define PL_SPOOL_NAME_ROOM 64
#define PL_SPOOL_DIRECTORY_MAX (PL_SPOOL_PATH_MAX - PL_SPOOL_NAME_ROOM)
#define PL_SPOOL_SEGMENTS_INITIAL 16
#define PL_SPOOL_DIR_MODE 0755
#define PL_SPOOL_FILE_MODE 0644
#define PL_SPOOL_RECORD_MAX                                                   \
    (PL_SPOOL_RECORD_HEADER_BYTES + PL_SPOOL_PAYLOAD_MAX)

typedef struct {
    uint64_t seq;  /* in the file name */
    uint64_t size; /* bytes in the file */
} s_segment_t;

struct _pl_spool_t {
    pl_spool_config_t config;
    char directory[PL_SPOOL_DIRECTORY_MAX];
    s_segment_t *segments;
    size_t count, allocated;
    size_t head;          /* first segment with unread records */
    uint64_t head_offset; /* of the next unread record in it */
    int read_fd;          /* segment `read_seq`, -1: none */
    uint64_t read_seq;
    int tail_fd;          /* the last segment, appended to; -1: sealed */
    uint64_t next_seq;    /* of the next segment made */
    uint64_t records;     /* unread */
    uint64_t bytes;       /* unread, record headers included */
    int64_t oldest_ns;    /* appended time of the head record, 0: unknown */
    bool dirty;           /* appended since the last fdatasync */
    int64_t dirty_ns;     /* appended time of the oldest unsynced record */
    uint64_t dropped[PL_SPOOL_DROP_COUNT];
    uint64_t syncs;
};

static const char *const s_drop_names[PL_SPOOL_DROP_COUNT] = {
    "oldest", "newest", "age", "corrupt"};
static const char *const s_full_names[] = {"drop-oldest", "drop-newest",
                                           "block"};
static const char *const s_fsync_names[] = {"record", "interval", "never"};

const char *pl_spool_drop_name(pl_spool_drop_t reason)
{
    assert(reason < PL_SPOOL_DROP_COUNT);
    return s_drop_names[reason];
}

const char *pl_spool_full_name(pl_spool_full_t policy)
{
    assert(policy <= PL_SPOOL_FULL_BLOCK);
    return s_full_names[policy];
}

const char *pl_spool_fsync_name(pl_spool_fsync_t policy)
{
    assert(policy <= PL_SPOOL_FSYNC_NEVER);
    return s_fsync_names[policy];
}

uint32_t pl_spool_crc32(uint32_t crc, const void *data, size_t length)
{
    /* Bitwise, reflected polynomial 0xEDB88320: small and fast enough for
     * records of at most a kilobyte (the write dominates). */
    const uint32_t polynomial = 0xEDB88320u;
    const unsigned char *bytes = data;
    crc = ~crc;
    for (size_t k = 0; k < length; k++) {
        crc ^= bytes[k];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (polynomial & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void s_put_u32(unsigned char *out, uint32_t value)
{
    for (int k = 0; k < 4; k++)
        out[k] = (unsigned char)(value >> (8 * k));
}

static uint32_t s_get_u32(const unsigned char *in)
{
    uint32_t value = 0;
    for (int k = 0; k < 4; k++)
        value |= (uint32_t)in[k] << (8 * k);
    return value;
}

static void s_put_i64(unsigned char *out, int64_t value)
{
    for (int k = 0; k < 8; k++)
        out[k] = (unsigned char)((uint64_t)value >> (8 * k));
}

static int64_t s_get_i64(const unsigned char *in)
{
    uint64_t value = 0;
    for (int k = 0; k < 8; k++)
        value |= (uint64_t)in[k] << (8 * k);
    return (int64_t)value;
}

/* The CRC of a record: its appended time (as stored) and its payload. */
static uint32_t s_record_crc(const unsigned char *stamp,
                             const unsigned char *payload, size_t length)
{
    return pl_spool_crc32(pl_spool_crc32(0, stamp, sizeof(int64_t)), payload,
                          length);
}

static void s_path(const pl_spool_t *self, uint64_t seq, char *path)
{
    snprintf(path, PL_SPOOL_PATH_MAX, "%s/%s%016" PRIx64 "%s", self->directory,
             PL_SPOOL_SEGMENT_PREFIX, seq, PL_SPOOL_SEGMENT_SUFFIX);
}

/* Whether `name` is a segment file name; its sequence number in *seq. */
static bool s_segment_name(const char *name, uint64_t *seq)
{
    size_t prefix = strlen(PL_SPOOL_SEGMENT_PREFIX);
    if (strlen(name) != prefix + PL_SPOOL_SEQ_DIGITS +
                            strlen(PL_SPOOL_SEGMENT_SUFFIX) ||
        strncmp(name, PL_SPOOL_SEGMENT_PREFIX, prefix) != 0 ||
        strcmp(name + prefix + PL_SPOOL_SEQ_DIGITS, PL_SPOOL_SEGMENT_SUFFIX))
        return false;
    uint64_t value = 0;
    for (size_t k = 0; k < PL_SPOOL_SEQ_DIGITS; k++) {
        char c = name[prefix + k];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : -1;
        if (digit < 0)
            return false;
        value = value << 4 | (uint64_t)digit;
    }
    *seq = value;
    return true;
}

static int s_compare_segments(const void *a, const void *b)
{
    uint64_t left = ((const s_segment_t *)a)->seq;
    uint64_t right = ((const s_segment_t *)b)->seq;
    return left < right ? -1 : left > right;
}

static int s_add_segment(pl_spool_t *self, uint64_t seq, uint64_t size)
{
    if (self->count == self->allocated) {
        size_t allocated =
            self->allocated ? self->allocated * 2 : PL_SPOOL_SEGMENTS_INITIAL;
        s_segment_t *grown =
            realloc(self->segments, allocated * sizeof *grown);
        if (!grown)
            return -1;
        self->segments = grown;
        self->allocated = allocated;
    }
    self->segments[self->count++] = (s_segment_t){seq, size};
    return 0;
}

/* Reads exactly `length` bytes at `offset`. Returns 0, 1 when the file
 * ends first, -1 on a read error. */
static int s_read_at(int fd, void *buffer, size_t length, uint64_t offset)
{
    size_t done = 0;
    while (done < length) {
        ssize_t got = pread(fd, (char *)buffer + done, length - done,
                            (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            return 1;
        done += (size_t)got;
    }
    return 0;
}

static int s_write_all(int fd, const void *buffer, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t put = write(fd, (const char *)buffer + done, length - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return -1;
        done += (size_t)put;
    }
    return 0;
}

/* One record at `offset` of `fd`: 0 with its payload length and appended
 * time (payload in `payload` when not NULL), 1 when it is torn (the file
 * ends inside it) or corrupt (bad length or CRC), -1 on a read error. */
static int s_read_record(int fd, uint64_t offset, uint32_t *length,
                         int64_t *appended_ns, char *payload)
{
    unsigned char header[PL_SPOOL_RECORD_HEADER_BYTES];
    unsigned char body[PL_SPOOL_PAYLOAD_MAX];
    int rc = s_read_at(fd, header, sizeof header, offset);
    if (rc != 0)
        return rc;
    *length = s_get_u32(header);
    if (*length == 0 || *length > PL_SPOOL_PAYLOAD_MAX)
        return 1;
    rc = s_read_at(fd, body, *length, offset + sizeof header);
    if (rc != 0)
        return rc;
    if (s_record_crc(header + 8, body, *length) != s_get_u32(header + 4))
        return 1;
    *appended_ns = s_get_i64(header + 8);
    if (payload) {
        memcpy(payload, body, *length);
        payload[*length] = '\0';
    }
    return 0;
}

/* Reads segment `seq` back: checks its header, counts its good records
 * and cuts a torn or corrupt tail. Returns 0 (the segment is added) or -1
 * (logged; errno set). A file too short for its header is removed. */
static int s_recover_segment(pl_spool_t *self, uint64_t seq,
                             pl_spool_recovery_t *recovery)
{
    char path[PL_SPOOL_PATH_MAX];
    s_path(self, seq, path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) {
        int error = errno;
        cmn_log_error(PL_SPOOL_MODULE, "open_failed", "path=\"%s\" error=\"%s\"",
                      path, strerror(error));
        if (fd >= 0)
            close(fd);
        errno = error;
        return -1;
    }
    uint64_t size = (uint64_t)info.st_size;
    unsigned char header[PL_SPOOL_HEADER_BYTES];
    int rc = s_read_at(fd, header, sizeof header, 0);
    if (rc == 1) { /* killed while creating it: holds no record */
        close(fd);
        recovery->torn++;
        recovery->truncated_bytes += size;
        cmn_log_warning(PL_SPOOL_MODULE, "segment_torn",
                        "path=\"%s\" bytes=%" PRIu64 " action=removed", path,
                        size);
        return unlink(path);
    }
    if (rc != 0 || memcmp(header, PL_SPOOL_MAGIC, PL_SPOOL_MAGIC_BYTES) != 0 ||
        s_get_u32(header + PL_SPOOL_MAGIC_BYTES) != PL_SPOOL_FORMAT_VERSION) {
        cmn_log_error(PL_SPOOL_MODULE, "not_a_segment", "path=\"%s\"", path);
        close(fd);
        errno = EINVAL;
        return -1;
    }
    uint64_t offset = PL_SPOOL_HEADER_BYTES, records = 0;
    while (offset < size) {
        uint32_t length = 0;
        int64_t appended = 0;
        rc = s_read_record(fd, offset, &length, &appended, NULL);
        if (rc < 0) {
            int error = errno;
            cmn_log_error(PL_SPOOL_MODULE, "read_failed", "path=\"%s\"", path);
            close(fd);
            errno = error;
            return -1;
        }
        if (rc == 1) {
            /* A kill -9 (or power cut) during a write: the last good
             * record ends here. */
            recovery->torn++;
            recovery->truncated_bytes += size - offset;
            cmn_log_warning(PL_SPOOL_MODULE, "segment_torn",
                            "path=\"%s\" offset=%" PRIu64 " bytes=%" PRIu64
                            " action=truncated",
                            path, offset, size - offset);
            if (ftruncate(fd, (off_t)offset) != 0 || fdatasync(fd) != 0) {
                int error = errno;
                close(fd);
                errno = error;
                return -1;
            }
            size = offset;
            break;
        }
        offset += PL_SPOOL_RECORD_HEADER_BYTES + length;
        records++;
        self->bytes += PL_SPOOL_RECORD_HEADER_BYTES + length;
    }
    close(fd);
    self->records += records;
    recovery->records += records;
    recovery->segments++;
    return s_add_segment(self, seq, size);
}

/* Lists and reads back the directory's segments, oldest first. */
static int s_recover(pl_spool_t *self, pl_spool_recovery_t *recovery)
{
    DIR *dir = opendir(self->directory);
    if (!dir)
        return -1;
    s_segment_t *found = NULL;
    size_t count = 0, allocated = 0;
    struct dirent *entry;
    int rc = 0;
    while ((entry = readdir(dir))) {
        uint64_t seq;
        if (!s_segment_name(entry->d_name, &seq))
            continue;
        if (count == allocated) {
            allocated = allocated ? allocated * 2 : PL_SPOOL_SEGMENTS_INITIAL;
            s_segment_t *grown = realloc(found, allocated * sizeof *grown);
            if (!grown) {
                rc = -1;
                break;
            }
            found = grown;
        }
        found[count++] = (s_segment_t){seq, 0};
    }
    closedir(dir);
    if (count)
        qsort(found, count, sizeof *found, s_compare_segments);
    for (size_t k = 0; rc == 0 && k < count; k++) {
        rc = s_recover_segment(self, found[k].seq, recovery);
        self->next_seq = found[k].seq + 1;
    }
    free(found);
    return rc;
}

pl_spool_t *pl_spool_open(const pl_spool_config_t *config,
                          pl_spool_recovery_t *recovery)
{
    assert(config && config->directory && config->max_bytes > 0);
    assert(config->full <= PL_SPOOL_FULL_BLOCK &&
           config->fsync <= PL_SPOOL_FSYNC_NEVER);
    pl_spool_recovery_t ignored;
    if (!recovery)
        recovery = &ignored;
    memset(recovery, 0, sizeof *recovery);
    if (strlen(config->directory) >= PL_SPOOL_DIRECTORY_MAX) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    pl_spool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    snprintf(self->directory, sizeof self->directory, "%s", config->directory);
    self->config.directory = self->directory;
    self->read_fd = -1;
    self->tail_fd = -1;
    self->head_offset = PL_SPOOL_HEADER_BYTES;
    if (mkdir(self->directory, PL_SPOOL_DIR_MODE) != 0 && errno != EEXIST) {
        int error = errno;
        cmn_log_error(PL_SPOOL_MODULE, "mkdir_failed",
                      "directory=\"%s\" error=\"%s\"", self->directory,
                      strerror(error));
        free(self);
        errno = error;
        return NULL;
    }
    if (s_recover(self, recovery) != 0) {
        int error = errno;
        cmn_log_error(PL_SPOOL_MODULE, "recover_failed",
                      "directory=\"%s\" error=\"%s\"", self->directory,
                      strerror(error));
        pl_spool_close(&self);
        errno = error;
        return NULL;
    }
    cmn_log_info(PL_SPOOL_MODULE, "opened",
                 "directory=\"%s\" segments=%" PRIu64 " records=%" PRIu64
                 " torn=%" PRIu64 " truncated_bytes=%" PRIu64,
                 self->directory, recovery->segments, recovery->records,
                 recovery->torn, recovery->truncated_bytes);
    return self;
}

/* Forces the tail's bytes to disk. */
static int s_fdatasync(pl_spool_t *self)
{
    if (self->tail_fd < 0 || !self->dirty)
        return 0;
    self->syncs++;
    if (fdatasync(self->tail_fd) != 0) {
        cmn_log_error(PL_SPOOL_MODULE, "fsync_failed", "error=\"%s\"",
                      strerror(errno));
        return -1;
    }
    self->dirty = false;
    return 0;
}

/* Closes the tail segment (synced unless the policy is never). */
static void s_seal(pl_spool_t *self)
{
    if (self->tail_fd < 0)
        return;
    if (self->config.fsync != PL_SPOOL_FSYNC_NEVER)
        s_fdatasync(self);
    close(self->tail_fd);
    self->tail_fd = -1;
    self->dirty = false;
}

void pl_spool_close(pl_spool_t **self_p)
{
    assert(self_p);
    pl_spool_t *self = *self_p;
    if (!self)
        return;
    if (self->tail_fd >= 0) {
        s_fdatasync(self);
        close(self->tail_fd);
    }
    if (self->read_fd >= 0)
        close(self->read_fd);
    free(self->segments);
    free(self);
    *self_p = NULL;
}

/* Starts a new tail segment. */
static int s_new_tail(pl_spool_t *self)
{
    char path[PL_SPOOL_PATH_MAX];
    uint64_t seq = self->next_seq;
    s_path(self, seq, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
                  PL_SPOOL_FILE_MODE);
    if (fd < 0) {
        cmn_log_error(PL_SPOOL_MODULE, "create_failed",
                      "path=\"%s\" error=\"%s\"", path, strerror(errno));
        return -1;
    }
    unsigned char header[PL_SPOOL_HEADER_BYTES] = {0};
    memcpy(header, PL_SPOOL_MAGIC, PL_SPOOL_MAGIC_BYTES);
    s_put_u32(header + PL_SPOOL_MAGIC_BYTES, PL_SPOOL_FORMAT_VERSION);
    if (s_write_all(fd, header, sizeof header) != 0 ||
        s_add_segment(self, seq, sizeof header) != 0) {
        cmn_log_error(PL_SPOOL_MODULE, "create_failed",
                      "path=\"%s\" error=\"%s\"", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    if (self->config.fsync != PL_SPOOL_FSYNC_NEVER) {
        /* The new name must survive a power cut with the records in it. */
        int dir = open(self->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            fsync(dir);
            close(dir);
        }
    }
    self->next_seq = seq + 1;
    self->tail_fd = fd;
    if (self->records == 0) {
        /* Nothing unread: reading starts in the new segment. */
        self->head = self->count - 1;
        self->head_offset = PL_SPOOL_HEADER_BYTES;
    }
    return 0;
}

/* Moves the head past segments read to their end. A sealed segment read
 * to its end becomes drained; the tail stays the head while appended. */
static void s_advance_head(pl_spool_t *self)
{
    while (self->head < self->count &&
           self->head_offset >= self->segments[self->head].size) {
        bool is_open_tail =
            self->head == self->count - 1 && self->tail_fd >= 0;
        if (is_open_tail)
            return;
        self->head++;
        self->head_offset = PL_SPOOL_HEADER_BYTES;
    }
}

/* The read descriptor of the head segment, opened on demand. */
static int s_head_fd(pl_spool_t *self)
{
    uint64_t seq = self->segments[self->head].seq;
    if (self->read_fd >= 0 && self->read_seq == seq)
        return self->read_fd;
    if (self->read_fd >= 0)
        close(self->read_fd);
    char path[PL_SPOOL_PATH_MAX];
    s_path(self, seq, path);
    self->read_fd = open(path, O_RDONLY | O_CLOEXEC);
    self->read_seq = seq;
    if (self->read_fd < 0)
        cmn_log_error(PL_SPOOL_MODULE, "open_failed", "path=\"%s\" error=\"%s\"",
                      path, strerror(errno));
    return self->read_fd;
}

/* Reads the head record. Returns 0 (payload, length, appended time), 1
 * when there is none, -1 on a read error or a record that went bad on
 * disk since it was checked (logged). */
static int s_peek(pl_spool_t *self, char *payload, uint32_t *length,
                  int64_t *appended_ns)
{
    s_advance_head(self);
    if (self->records == 0 || self->head >= self->count)
        return 1;
    int fd = s_head_fd(self);
    if (fd < 0)
        return -1;
    int rc = s_read_record(fd, self->head_offset, length, appended_ns, payload);
    if (rc != 0) {
        cmn_log_error(PL_SPOOL_MODULE, "read_failed",
                      "segment=%" PRIu64 " offset=%" PRIu64,
                      self->segments[self->head].seq, self->head_offset);
        return -1;
    }
    return 0;
}

/* The head record leaves the spool (read out or dropped). */
static void s_pop(pl_spool_t *self, uint32_t length)
{
    uint64_t size = PL_SPOOL_RECORD_HEADER_BYTES + length;
    self->head_offset += size;
    self->records--;
    self->bytes -= size;
    self->oldest_ns = 0;
    if (self->records == 0 && self->tail_fd >= 0 &&
        self->head == self->count - 1) {
        /* Read to the end while it is the tail: seal it so that it can be
         * released; the next append starts a new segment. */
        s_seal(self);
    }
    s_advance_head(self);
}

/* Drops the head record, counted under `reason`. Returns 0 or -1. */
static int s_drop_head(pl_spool_t *self, pl_spool_drop_t reason)
{
    uint32_t length = 0;
    int64_t appended = 0;
    if (s_peek(self, NULL, &length, &appended) != 0)
        return -1;
    s_pop(self, length);
    self->dropped[reason]++;
    return 0;
}

static bool s_expired(const pl_spool_t *self, int64_t appended_ns,
                      int64_t now_ns)
{
    return self->config.max_age_ns > 0 &&
           now_ns - appended_ns > self->config.max_age_ns;
}

int pl_spool_append(pl_spool_t *self, const mdbp_record_t *record,
                    int64_t now_ns)
{
    assert(self && record);
    unsigned char buffer[PL_SPOOL_RECORD_MAX + 1];
    int length = mdbp_text_format_json(
        record, NULL, (char *)buffer + PL_SPOOL_RECORD_HEADER_BYTES,
        PL_SPOOL_PAYLOAD_MAX + 1);
    if (length <= 0 || length > PL_SPOOL_PAYLOAD_MAX) {
        cmn_log_error(PL_SPOOL_MODULE, "record_too_large", "symbol=%s",
                      record->symbol);
        return -1;
    }
    uint64_t size = PL_SPOOL_RECORD_HEADER_BYTES + (uint64_t)length;
    if (size > self->config.max_bytes) {
        /* Could never fit, whatever the policy: waiting would not help. */
        self->dropped[PL_SPOOL_DROP_NEWEST]++;
        return PL_SPOOL_DROPPED;
    }
    if (self->bytes + size > self->config.max_bytes) {
        if (self->config.full == PL_SPOOL_FULL_BLOCK)
            return PL_SPOOL_FULL;
        if (self->config.full == PL_SPOOL_FULL_DROP_NEWEST) {
            self->dropped[PL_SPOOL_DROP_NEWEST]++;
            return PL_SPOOL_DROPPED;
        }
        while (self->records > 0 && self->bytes + size > self->config.max_bytes)
            if (s_drop_head(self, PL_SPOOL_DROP_OLDEST) != 0)
                return -1;
    }
    /* A segment holds at least one record, however small the setting. */
    if (self->tail_fd >= 0 &&
        self->segments[self->count - 1].size > PL_SPOOL_HEADER_BYTES &&
        self->segments[self->count - 1].size + size >
            self->config.segment_bytes)
        s_seal(self);
    if (self->tail_fd < 0 && s_new_tail(self) != 0)
        return -1;
    s_put_i64(buffer + 8, now_ns);
    s_put_u32(buffer, (uint32_t)length);
    s_put_u32(buffer + 4,
              s_record_crc(buffer + 8, buffer + PL_SPOOL_RECORD_HEADER_BYTES,
                           (size_t)length));
    s_segment_t *tail = &self->segments[self->count - 1];
    if (s_write_all(self->tail_fd, buffer, (size_t)size) != 0) {
        cmn_log_error(PL_SPOOL_MODULE, "write_failed", "error=\"%s\"",
                      strerror(errno));
        /* No half record may stay behind a good one appended later. */
        if (ftruncate(self->tail_fd, (off_t)tail->size) != 0)
            s_seal(self);
        return -1;
    }
    tail->size += size;
    self->records++;
    self->bytes += size;
    if (!self->dirty)
        self->dirty_ns = now_ns;
    self->dirty = true;
    return pl_spool_sync(self, now_ns);
}

int pl_spool_take(pl_spool_t *self, mdbp_record_t *records, size_t max,
                  int64_t now_ns)
{
    assert(self && (records || max == 0));
    size_t got = 0;
    char payload[PL_SPOOL_PAYLOAD_MAX + 1];
    while (got < max && self->records > 0) {
        uint32_t length = 0;
        int64_t appended = 0;
        if (s_peek(self, payload, &length, &appended) != 0)
            return got ? (int)got : -1;
        s_pop(self, length);
        if (s_expired(self, appended, now_ns)) {
            self->dropped[PL_SPOOL_DROP_AGE]++;
            continue;
        }
        mdbp_error_t error = {{0}};
        if (mdbp_text_parse_json(payload, &records[got], &error) != 0) {
            self->dropped[PL_SPOOL_DROP_CORRUPT]++;
            cmn_log_warning(PL_SPOOL_MODULE, "bad_record", "error=\"%s\"",
                            error.text);
            continue;
        }
        got++;
    }
    return (int)got;
}

uint64_t pl_spool_expire(pl_spool_t *self, int64_t now_ns)
{
    assert(self);
    uint64_t expired = 0;
    if (self->config.max_age_ns <= 0)
        return 0;
    while (self->records > 0) {
        int64_t oldest = pl_spool_oldest_ns(self);
        if (oldest == 0 || !s_expired(self, oldest, now_ns) ||
            s_drop_head(self, PL_SPOOL_DROP_AGE) != 0)
            break;
        expired++;
    }
    return expired;
}

size_t pl_spool_drained_segments(pl_spool_t *self)
{
    assert(self);
    s_advance_head(self);
    return self->head;
}

void pl_spool_release(pl_spool_t *self, size_t count)
{
    assert(self);
    s_advance_head(self);
    if (count > self->head)
        count = self->head;
    for (size_t k = 0; k < count; k++) {
        char path[PL_SPOOL_PATH_MAX];
        s_path(self, self->segments[k].seq, path);
        if (self->read_fd >= 0 && self->read_seq == self->segments[k].seq) {
            close(self->read_fd);
            self->read_fd = -1;
        }
        if (unlink(path) != 0)
            cmn_log_warning(PL_SPOOL_MODULE, "unlink_failed",
                            "path=\"%s\" error=\"%s\"", path, strerror(errno));
    }
    memmove(self->segments, self->segments + count,
            (self->count - count) * sizeof *self->segments);
    self->count -= count;
    self->head -= count;
}

int pl_spool_sync(pl_spool_t *self, int64_t now_ns)
{
    assert(self);
    if (!self->dirty || self->config.fsync == PL_SPOOL_FSYNC_NEVER)
        return 0;
    if (self->config.fsync == PL_SPOOL_FSYNC_INTERVAL &&
        now_ns < pl_spool_sync_due_ns(self))
        return 0;
    return s_fdatasync(self);
}

int64_t pl_spool_sync_due_ns(pl_spool_t *self)
{
    assert(self);
    if (!self->dirty || self->config.fsync == PL_SPOOL_FSYNC_NEVER)
        return INT64_MAX;
    if (self->config.fsync == PL_SPOOL_FSYNC_RECORD)
        return INT64_MIN;
    return self->dirty_ns + self->config.fsync_interval_ns;
}

uint64_t pl_spool_records(pl_spool_t *self)
{
    assert(self);
    return self->records;
}

uint64_t pl_spool_bytes(pl_spool_t *self)
{
    assert(self);
    return self->bytes;
}

int64_t pl_spool_oldest_ns(pl_spool_t *self)
{
    assert(self);
    if (self->records == 0)
        return 0;
    if (self->oldest_ns == 0) {
        uint32_t length = 0;
        int64_t appended = 0;
        if (s_peek(self, NULL, &length, &appended) == 0)
            self->oldest_ns = appended;
    }
    return self->oldest_ns;
}

uint64_t pl_spool_max_bytes(pl_spool_t *self)
{
    assert(self);
    return self->config.max_bytes;
}

uint64_t pl_spool_dropped(pl_spool_t *self, pl_spool_drop_t reason)
{
    assert(self && reason < PL_SPOOL_DROP_COUNT);
    return self->dropped[reason];
}

uint64_t pl_spool_syncs(pl_spool_t *self)
{
    assert(self);
    return self->syncs;
}

pl_spool_full_t pl_spool_policy(pl_spool_t *self)
{
    assert(self);
    return self->config.full;
}
