/* cmn_allowlist: a CURVE allow-list read by hand (see cmn_allowlist.h). */
#include "cmn_allowlist.h"
#include "cmn_log.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define CMN_ALLOWLIST_Z85_BYTES 40 /* a key in Z85 text */
#define CMN_ALLOWLIST_SECTION "curve"
#define CMN_ALLOWLIST_KEY_NAME "public-key"

struct _cmn_allowlist_t {
    char *dir;
    uint8_t (*keys)[CMN_ALLOWLIST_KEY_BYTES]; /* key_count keys */
    size_t key_count;
    size_t refused;
    bool scanned;
    struct stat last; /* the directory at the last scan */
};

/* ---- parsing (pure) ---------------------------------------------------- */

static bool s_text_only(const char *text, size_t length)
{
    for (size_t index = 0; index < length; index++) {
        unsigned char byte = (unsigned char)text[index];
        if (byte != '\n' && byte != '\r' && byte != '\t' &&
            (byte < 0x20 || byte > 0x7e))
            return false;
    }
    return true;
}

/* `line` (without its newline) as `public-key = value` inside the curve
 * section: copies the value without quotes into `value`. */
static bool s_key_line(const char *line, size_t length, char *value)
{
    size_t index = 0;
    while (index < length && (line[index] == ' ' || line[index] == '\t'))
        index++;
    size_t name_length = strlen(CMN_ALLOWLIST_KEY_NAME);
    if (length - index < name_length ||
        memcmp(line + index, CMN_ALLOWLIST_KEY_NAME, name_length) != 0)
        return false;
    index += name_length;
    while (index < length && line[index] == ' ')
        index++;
    if (index >= length || line[index] != '=')
        return false;
    index++;
    while (index < length && line[index] == ' ')
        index++;
    size_t end = length;
    while (end > index && (line[end - 1] == ' ' || line[end - 1] == '\r'))
        end--;
    if (end - index >= 2 && line[index] == '"' && line[end - 1] == '"') {
        index++;
        end--;
    }
    if (end - index != CMN_ALLOWLIST_Z85_BYTES)
        return false;
    memcpy(value, line + index, CMN_ALLOWLIST_Z85_BYTES);
    value[CMN_ALLOWLIST_Z85_BYTES] = '\0';
    return true;
}

int cmn_allowlist_parse(const char *text, size_t length,
                        uint8_t key[CMN_ALLOWLIST_KEY_BYTES],
                        const char **reason)
{
    assert(key && reason);
    if (!text || length == 0 || length > CMN_ALLOWLIST_FILE_BYTES_MAX) {
        *reason = "empty or too large for a certificate";
        return -1;
    }
    if (!s_text_only(text, length)) {
        *reason = "not text";
        return -1;
    }
    bool in_curve = false;
    int found = 0;
    char value[CMN_ALLOWLIST_Z85_BYTES + 1];
    const char *line = text;
    const char *end = text + length;
    while (line < end) {
        const char *newline = memchr(line, '\n', (size_t)(end - line));
        size_t line_length = (size_t)((newline ? newline : end) - line);
        bool indented = line_length > 0 && (line[0] == ' ' || line[0] == '\t');
        size_t first = 0;
        while (first < line_length &&
               (line[first] == ' ' || line[first] == '\t'))
            first++;
        bool blank = first == line_length || line[first] == '#' ||
                     (line_length - first == 1 && line[first] == '\r');
        if (!blank && !indented) {
            size_t section_length = strlen(CMN_ALLOWLIST_SECTION);
            size_t trimmed = line_length;
            while (trimmed > 0 &&
                   (line[trimmed - 1] == '\r' || line[trimmed - 1] == ' '))
                trimmed--;
            in_curve = trimmed == section_length &&
                       memcmp(line, CMN_ALLOWLIST_SECTION, section_length) == 0;
        } else if (!blank && in_curve && s_key_line(line, line_length, value))
            found++;
        line += line_length + 1;
    }
    if (found != 1) {
        *reason = found ? "more than one public-key"
                        : "not a certificate (no curve public-key)";
        return -1;
    }
    if (!zmq_z85_decode(key, value)) {
        *reason = "public-key is not Z85";
        return -1;
    }
    uint8_t any = 0;
    for (size_t index = 0; index < CMN_ALLOWLIST_KEY_BYTES; index++)
        any |= key[index];
    if (!any) {
        *reason = "public-key is all zero";
        return -1;
    }
    *reason = NULL;
    return 0;
}

/* ---- the directory ----------------------------------------------------- */

cmn_allowlist_t *cmn_allowlist_new(const char *dir)
{
    assert(dir);
    cmn_allowlist_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup(dir);
    if (!self->dir) {
        free(self);
        return NULL;
    }
    cmn_allowlist_refresh(self, true);
    return self;
}

void cmn_allowlist_destroy(cmn_allowlist_t **self_p)
{
    assert(self_p);
    cmn_allowlist_t *self = *self_p;
    if (!self)
        return;
    free(self->keys);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

static void s_refuse(cmn_allowlist_t *self, const char *name,
                     const char *reason)
{
    self->refused++;
    cmn_log_warning("curve", "client_file_refused",
                    "dir=\"%s\" file=\"%s\" reason=\"%s\"", self->dir, name,
                    reason);
}

/* Reads one entry's key. Returns 0, 1 when it is skipped silently (a
 * directory), or -1 (refused, logged). */
static int s_read_entry(cmn_allowlist_t *self, const char *real_dir,
                        const char *name, uint8_t *key)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", self->dir, name) >=
        (int)sizeof path) {
        s_refuse(self, name, "path too long");
        return -1;
    }
    struct stat info;
    if (lstat(path, &info) != 0) {
        s_refuse(self, name, "cannot stat");
        return -1;
    }
    char target[PATH_MAX];
    const char *open_path = path;
    if (S_ISLNK(info.st_mode)) {
        /* Only a link that stays inside the directory (a volume's
         * name -> ..data/name); never one to /etc/passwd. */
        size_t dir_length = strlen(real_dir);
        if (!realpath(path, target) || strncmp(target, real_dir, dir_length) ||
            target[dir_length] != '/') {
            s_refuse(self, name, "symlink leaving the directory");
            return -1;
        }
        if (stat(target, &info) != 0) {
            s_refuse(self, name, "cannot stat");
            return -1;
        }
        open_path = target;
    }
    if (S_ISDIR(info.st_mode))
        return 1;
    if (!S_ISREG(info.st_mode)) {
        s_refuse(self, name, "not a regular file");
        return -1;
    }
    if (info.st_size > CMN_ALLOWLIST_FILE_BYTES_MAX) {
        s_refuse(self, name, "too large for a certificate");
        return -1;
    }
    int fd = open(open_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat opened;
    if (fd < 0 || fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode)) {
        if (fd >= 0)
            close(fd);
        s_refuse(self, name, "cannot open as a regular file");
        return -1;
    }
    char text[CMN_ALLOWLIST_FILE_BYTES_MAX + 1];
    size_t length = 0;
    ssize_t count;
    while (length < sizeof text &&
           (count = read(fd, text + length, sizeof text - length)) > 0)
        length += (size_t)count;
    close(fd);
    const char *reason = NULL;
    if (cmn_allowlist_parse(text, length, key, &reason) != 0) {
        s_refuse(self, name, reason);
        return -1;
    }
    return 0;
}

size_t cmn_allowlist_refresh(cmn_allowlist_t *self, bool force)
{
    assert(self);
    struct stat now;
    if (stat(self->dir, &now) != 0) {
        if (!self->scanned || force)
            cmn_log_error("curve", "clients_dir_unreadable", "dir=\"%s\"",
                          self->dir);
        self->scanned = true;
        return self->key_count;
    }
    if (self->scanned && !force && now.st_ino == self->last.st_ino &&
        now.st_mtim.tv_sec == self->last.st_mtim.tv_sec &&
        now.st_mtim.tv_nsec == self->last.st_mtim.tv_nsec &&
        now.st_ctim.tv_sec == self->last.st_ctim.tv_sec &&
        now.st_ctim.tv_nsec == self->last.st_ctim.tv_nsec)
        return self->key_count;
    self->last = now;
    self->scanned = true;
    char real_dir[PATH_MAX];
    DIR *directory = opendir(self->dir);
    if (!directory || !realpath(self->dir, real_dir)) {
        if (directory)
            closedir(directory);
        cmn_log_error("curve", "clients_dir_unreadable", "dir=\"%s\"",
                      self->dir);
        return self->key_count;
    }
    uint8_t(*keys)[CMN_ALLOWLIST_KEY_BYTES] = NULL;
    size_t count = 0, capacity = 0, entries = 0;
    self->refused = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) &&
           entries < CMN_ALLOWLIST_ENTRIES_MAX) {
        if (entry->d_name[0] == '.')
            continue;
        entries++;
        if (count == capacity) {
            size_t grown = capacity ? capacity * 2 : 16;
            void *bigger = realloc(keys, grown * sizeof *keys);
            if (!bigger)
                break;
            keys = bigger;
            capacity = grown;
        }
        if (s_read_entry(self, real_dir, entry->d_name, keys[count]) == 0)
            count++;
    }
    closedir(directory);
    free(self->keys);
    self->keys = keys;
    self->key_count = count;
    cmn_log_info("curve", "clients_loaded", "dir=\"%s\" keys=%zu refused=%zu",
                 self->dir, count, self->refused);
    return count;
}

bool cmn_allowlist_has(const cmn_allowlist_t *self,
                       const uint8_t key[CMN_ALLOWLIST_KEY_BYTES])
{
    assert(self && key);
    for (size_t index = 0; index < self->key_count; index++)
        if (memcmp(self->keys[index], key, CMN_ALLOWLIST_KEY_BYTES) == 0)
            return true;
    return false;
}

size_t cmn_allowlist_refused(const cmn_allowlist_t *self)
{
    assert(self);
    return self->refused;
}
