/* pl_provider_push: a live feed that cannot be paused.
 *
 * One epoll set holds the listening socket (or the FIFO) and every client
 * connection, level-triggered; pl_push_fd() is that set, so the producer's
 * loop polls one descriptor. Each connection has a line buffer: complete
 * lines are parsed one per pl_push_next() call, reads happen only when no
 * complete line is buffered (bounded memory: one buffer per connection). */
#define _GNU_SOURCE
#include "pl_provider_push.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmn_log.h"
#include <mdbp/text.h>

#define PL_PUSH_MODULE "push"
#define PL_PUSH_PATH_MAX 4096
#define PL_PUSH_BACKLOG 16
#define PL_PUSH_FIFO_MODE 0600
#define PL_PUSH_PORT_MAX 65535
/* A connection's buffer: one longest line, its line break and more. */
#define PL_PUSH_BUFFER_BYTES (2 * PL_PUSH_LINE_MAX + 2)
#define PL_PUSH_EVENTS_MAX 16
#define PL_PUSH_DECIMAL 10

typedef struct {
    int fd;          /* -1: free slot */
    bool fifo;       /* the FIFO (never closed on end of input) */
    bool skipping;   /* inside a line too long: drop up to its end */
    bool closing;    /* end of input: parse what is left, then close */
    size_t start, end; /* unread bytes: buffer[start..end) */
    char buffer[PL_PUSH_BUFFER_BYTES];
} s_connection_t;

struct _pl_push_t {
    char provider[MDBP_NAME_MAX + 1];
    char path[PL_PUSH_PATH_MAX]; /* FIFO */
    int epoll;
    int listener;     /* TCP, -1 for a FIFO */
    int fifo_writer;  /* our own writer: no end of input between writers */
    int port;
    s_connection_t *connections; /* PL_PUSH_CONNECTIONS_MAX (1 for a FIFO) */
    size_t slots, open, next;    /* slots, open ones, round-robin start */
    uint64_t bad_lines, accepted;
};

/* Parses "PORT" or "HOST:PORT" into an IPv4 address. Returns 0 or -1. */
static int s_parse_tcp(const char *address, struct sockaddr_in *out)
{
    char host[INET_ADDRSTRLEN + 1] = PL_PUSH_HOST_DEFAULT;
    const char *colon = strrchr(address, ':');
    const char *port_text = colon ? colon + 1 : address;
    if (colon) {
        size_t length = (size_t)(colon - address);
        if (length == 0 || length >= sizeof host)
            return -1;
        memcpy(host, address, length);
        host[length] = '\0';
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(port_text, &end, PL_PUSH_DECIMAL);
    if (!*port_text || *end || errno || port < 0 || port > PL_PUSH_PORT_MAX)
        return -1;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

bool pl_push_address_valid(const char *address)
{
    assert(address);
    size_t fifo = strlen(PL_PUSH_FIFO_PREFIX);
    if (strncmp(address, PL_PUSH_FIFO_PREFIX, fifo) == 0)
        return address[fifo] && strlen(address + fifo) < PL_PUSH_PATH_MAX;
    struct sockaddr_in ignored;
    return s_parse_tcp(address, &ignored) == 0;
}

static int s_watch(pl_push_t *self, int fd, uint64_t tag)
{
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(self->epoll, EPOLL_CTL_ADD, fd, &event);
}

/* The tag of the listener in the epoll set; connections are their slot. */
#define PL_PUSH_TAG_LISTENER UINT64_MAX

static int s_open_tcp(pl_push_t *self, const char *address)
{
    struct sockaddr_in where;
    if (s_parse_tcp(address, &where) != 0) {
        errno = EINVAL;
        return -1;
    }
    int one = 1;
    self->listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            0);
    if (self->listener < 0 ||
        setsockopt(self->listener, SOL_SOCKET, SO_REUSEADDR, &one,
                   sizeof one) != 0 ||
        bind(self->listener, (struct sockaddr *)&where, sizeof where) != 0 ||
        listen(self->listener, PL_PUSH_BACKLOG) != 0)
        return -1;
    socklen_t length = sizeof where;
    if (getsockname(self->listener, (struct sockaddr *)&where, &length) != 0)
        return -1;
    self->port = ntohs(where.sin_port);
    self->slots = PL_PUSH_CONNECTIONS_MAX;
    return s_watch(self, self->listener, PL_PUSH_TAG_LISTENER);
}

static int s_open_fifo(pl_push_t *self, const char *path)
{
    snprintf(self->path, sizeof self->path, "%s", path);
    struct stat info;
    if (mkfifo(self->path, PL_PUSH_FIFO_MODE) != 0 && errno != EEXIST)
        return -1;
    if (stat(self->path, &info) != 0)
        return -1;
    if (!S_ISFIFO(info.st_mode)) {
        errno = ENOTSUP;
        return -1;
    }
    self->slots = 1;
    int fd = open(self->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* With a writer of our own the FIFO never reports end of input when
     * the last real writer leaves: the next one simply carries on. */
    self->fifo_writer = open(self->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    self->connections[0].fd = fd;
    self->connections[0].fifo = true;
    self->open = 1;
    return s_watch(self, fd, 0);
}

pl_push_t *pl_push_new(const pl_push_config_t *config)
{
    assert(config && config->provider && config->address);
    size_t length = strlen(config->provider);
    if (length == 0 || length > MDBP_NAME_MAX) {
        errno = EINVAL;
        return NULL;
    }
    pl_push_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    memcpy(self->provider, config->provider, length + 1);
    self->listener = -1;
    self->fifo_writer = -1;
    self->epoll = epoll_create1(EPOLL_CLOEXEC);
    self->connections =
        calloc(PL_PUSH_CONNECTIONS_MAX, sizeof *self->connections);
    if (self->epoll < 0 || !self->connections) {
        pl_push_destroy(&self);
        return NULL;
    }
    for (size_t k = 0; k < PL_PUSH_CONNECTIONS_MAX; k++)
        self->connections[k].fd = -1;
    size_t fifo = strlen(PL_PUSH_FIFO_PREFIX);
    bool is_fifo = strncmp(config->address, PL_PUSH_FIFO_PREFIX, fifo) == 0;
    int rc = is_fifo ? s_open_fifo(self, config->address + fifo)
                     : s_open_tcp(self, config->address);
    if (rc != 0) {
        int error = errno;
        cmn_log_error(PL_PUSH_MODULE, "listen_failed",
                      "provider=%s address=\"%s\" error=\"%s\"",
                      self->provider, config->address, strerror(error));
        pl_push_destroy(&self);
        errno = error;
        return NULL;
    }
    cmn_log_info(PL_PUSH_MODULE, "listening",
                 "provider=%s address=\"%s\" port=%d", self->provider,
                 config->address, self->port);
    return self;
}

static void s_close_connection(pl_push_t *self, size_t slot)
{
    s_connection_t *connection = &self->connections[slot];
    if (connection->fd < 0)
        return;
    epoll_ctl(self->epoll, EPOLL_CTL_DEL, connection->fd, NULL);
    close(connection->fd);
    connection->fd = -1;
    connection->start = connection->end = 0;
    connection->skipping = connection->closing = false;
    self->open--;
}

void pl_push_destroy(pl_push_t **self_p)
{
    assert(self_p);
    pl_push_t *self = *self_p;
    if (!self)
        return;
    if (self->connections)
        for (size_t k = 0; k < PL_PUSH_CONNECTIONS_MAX; k++)
            if (self->connections[k].fd >= 0)
                close(self->connections[k].fd);
    if (self->listener >= 0)
        close(self->listener);
    if (self->fifo_writer >= 0)
        close(self->fifo_writer);
    if (self->epoll >= 0)
        close(self->epoll);
    free(self->connections);
    free(self);
    *self_p = NULL;
}

int pl_push_fd(pl_push_t *self)
{
    assert(self);
    return self->epoll;
}

static void s_accept(pl_push_t *self)
{
    while (true) {
        int fd = accept4(self->listener, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: none left; others: the client is gone */
        size_t slot = 0;
        while (slot < self->slots && self->connections[slot].fd >= 0)
            slot++;
        if (slot == self->slots || s_watch(self, fd, slot) != 0) {
            cmn_log_warning(PL_PUSH_MODULE, "connection_refused",
                            "provider=%s reason=\"%s\"", self->provider,
                            slot == self->slots ? "too many connections"
                                                : strerror(errno));
            close(fd);
            continue;
        }
        self->connections[slot].fd = fd;
        self->open++;
        self->accepted++;
        cmn_log_info(PL_PUSH_MODULE, "connected", "provider=%s open=%zu",
                     self->provider, self->open);
    }
}

/* Reads what the connection's socket holds into its buffer. */
static void s_fill(pl_push_t *self, size_t slot)
{
    s_connection_t *connection = &self->connections[slot];
    if (connection->start > 0) {
        memmove(connection->buffer, connection->buffer + connection->start,
                connection->end - connection->start);
        connection->end -= connection->start;
        connection->start = 0;
    }
    size_t room = sizeof connection->buffer - connection->end;
    if (room == 0)
        return;
    ssize_t got = read(connection->fd, connection->buffer + connection->end,
                       room);
    if (got > 0) {
        connection->end += (size_t)got;
        return;
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (connection->fifo)
        return; /* our own writer keeps it open: not reached */
    connection->closing = true; /* end of input or a reset */
    cmn_log_info(PL_PUSH_MODULE, "disconnected", "provider=%s", self->provider);
}

/* The next line of a connection's buffer, NUL-terminated in place. Returns
 * the line, or NULL when none is complete (a too-long one is skipped and
 * counted). At end of input the unterminated rest is a line too. */
static char *s_line(pl_push_t *self, s_connection_t *connection)
{
    while (connection->start < connection->end) {
        char *begin = connection->buffer + connection->start;
        size_t available = connection->end - connection->start;
        char *newline = memchr(begin, '\n', available);
        if (!newline && !connection->closing) {
            if (available > PL_PUSH_LINE_MAX + 1) {
                /* No line break in a whole line's room: too long. */
                if (!connection->skipping)
                    self->bad_lines++;
                connection->skipping = true;
                connection->start = connection->end;
            }
            return NULL;
        }
        size_t length = newline ? (size_t)(newline - begin) : available;
        connection->start += newline ? length + 1 : length;
        if (connection->skipping) {
            connection->skipping = false; /* the end of the long line */
            continue;
        }
        if (length > 0 && begin[length - 1] == '\r')
            length--;
        begin[length] = '\0';
        if (length > PL_PUSH_LINE_MAX || memchr(begin, '\0', length)) {
            self->bad_lines++;
            continue;
        }
        return begin;
    }
    return NULL;
}

/* Parses one line: 1 (record), 0 (skip quietly), -1 (bad, counted). */
static int s_parse(pl_push_t *self, const char *line, mdbp_record_t *record)
{
    const char *start = line + strspn(line, " \t");
    if (*start == '\0' || *start == '#')
        return 0;
    mdbp_error_t error = {{0}};
    int parsed = *start == '{' ? mdbp_text_parse_json(start, record, &error)
                               : mdbp_text_parse_csv(start, record, &error);
    if (parsed == 1)
        return 0; /* a CSV header */
    if (parsed != 0) {
        self->bad_lines++;
        cmn_log_debug(PL_PUSH_MODULE, "bad_line", "provider=%s error=\"%s\"",
                      self->provider, error.text);
        return -1;
    }
    snprintf(record->provider, sizeof record->provider, "%s", self->provider);
    return 1;
}

/* A record from the buffered lines, round-robin over connections. */
static int s_next_buffered(pl_push_t *self, mdbp_record_t *record)
{
    for (size_t turn = 0; turn < self->slots; turn++) {
        size_t slot = (self->next + turn) % self->slots;
        s_connection_t *connection = &self->connections[slot];
        if (connection->fd < 0)
            continue;
        char *line;
        while ((line = s_line(self, connection)))
            if (s_parse(self, line, record) == 1) {
                self->next = (slot + 1) % self->slots;
                return 1;
            }
        if (connection->closing)
            s_close_connection(self, slot);
    }
    return 0;
}

int pl_push_next(pl_push_t *self, mdbp_record_t *record)
{
    assert(self && record);
    if (s_next_buffered(self, record))
        return 1;
    struct epoll_event events[PL_PUSH_EVENTS_MAX];
    int ready = epoll_wait(self->epoll, events, PL_PUSH_EVENTS_MAX, 0);
    for (int k = 0; k < ready; k++) {
        if (events[k].data.u64 == PL_PUSH_TAG_LISTENER)
            s_accept(self);
        else if (self->connections[events[k].data.u64].fd >= 0)
            s_fill(self, (size_t)events[k].data.u64);
    }
    return ready > 0 ? s_next_buffered(self, record) : 0;
}

bool pl_push_buffered(pl_push_t *self)
{
    assert(self);
    for (size_t slot = 0; slot < self->slots; slot++) {
        s_connection_t *connection = &self->connections[slot];
        if (connection->fd >= 0 &&
            (connection->closing ||
             memchr(connection->buffer + connection->start, '\n',
                    connection->end - connection->start)))
            return true;
    }
    return false;
}

int pl_push_port(pl_push_t *self)
{
    assert(self);
    return self->port;
}

size_t pl_push_connections(pl_push_t *self)
{
    assert(self);
    return self->listener >= 0 ? self->open : 0;
}

uint64_t pl_push_bad_lines(pl_push_t *self)
{
    assert(self);
    return self->bad_lines;
}

uint64_t pl_push_accepted(pl_push_t *self)
{
    assert(self);
    return self->accepted;
}
