/* cmn_check: problems collected for a `check` subcommand, ports and paths
 * tried, the report (see cmn_check.h). */
#include "cmn_check.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMN_CHECK_TEXT_BYTES 768 /* one problem or passed check */
#define CMN_CHECK_PATH_BYTES 4096
#define CMN_CHECK_PORT_MAX 65535
#define CMN_CHECK_LISTEN_BACKLOG 1

typedef struct {
    cmn_check_kind_t kind;
    char *text;
} s_item_t;

struct _cmn_check_t {
    char *program;
    s_item_t *problems; /* in the order found */
    size_t problem_count;
    char **passed; /* texts of the checks that passed */
    size_t passed_count;
};

cmn_check_t *cmn_check_new(const char *program)
{
    assert(program);
    cmn_check_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->program = strdup(program);
    if (!self->program) {
        free(self);
        return NULL;
    }
    return self;
}

void cmn_check_destroy(cmn_check_t **self_p)
{
    assert(self_p);
    cmn_check_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->problem_count; index++)
        free(self->problems[index].text);
    for (size_t index = 0; index < self->passed_count; index++)
        free(self->passed[index]);
    free(self->problems);
    free(self->passed);
    free(self->program);
    free(self);
    *self_p = NULL;
}

/* Appends a copy of `text`; start-up only, out of memory is fatal. */
static void s_add(cmn_check_t *self, bool problem, cmn_check_kind_t kind,
                  const char *text)
{
    char *copy = strdup(text);
    assert(copy);
    if (problem) {
        s_item_t *items =
            realloc(self->problems, (self->problem_count + 1) * sizeof *items);
        assert(items);
        self->problems = items;
        items[self->problem_count++] = (s_item_t){kind, copy};
    } else {
        char **items =
            realloc(self->passed, (self->passed_count + 1) * sizeof *items);
        assert(items);
        self->passed = items;
        items[self->passed_count++] = copy;
    }
}

void cmn_check_problem(cmn_check_t *self, cmn_check_kind_t kind,
                       const char *subject, const char *format, ...)
{
    assert(self && format);
    (void)subject; /* named in the text; kept for callers' clarity */
    char text[CMN_CHECK_TEXT_BYTES];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    s_add(self, true, kind, text);
}

void cmn_check_passed(cmn_check_t *self, const char *format, ...)
{
    assert(self && format);
    char text[CMN_CHECK_TEXT_BYTES];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    s_add(self, false, CMN_CHECK_CONFIG, text);
}

static void s_on_config_problem(void *arg, const char *subject,
                                const char *text)
{
    cmn_check_problem(arg, CMN_CHECK_CONFIG, subject, "%s", text);
}

void cmn_check_attach(cmn_check_t *self, cmn_config_t *config)
{
    assert(self && config);
    cmn_config_collect(config, s_on_config_problem, self);
}

size_t cmn_check_count(cmn_check_t *self, bool all, cmn_check_kind_t kind)
{
    assert(self);
    size_t count = 0;
    for (size_t index = 0; index < self->problem_count; index++)
        count += all || self->problems[index].kind == kind;
    return count;
}

const char *cmn_check_text(cmn_check_t *self, size_t index,
                           cmn_check_kind_t *kind)
{
    assert(self && index < self->problem_count);
    if (kind)
        *kind = self->problems[index].kind;
    return self->problems[index].text;
}

/* A host name the services would bind (libzmq resolves one): its first
 * IPv4 address into `address`. A name that does not resolve here is a
 * runtime problem (DNS, /etc/hosts), not a bad value. */
static int s_resolve(cmn_check_t *self, const char *subject, const char *host,
                     struct sockaddr_in *address)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int error = getaddrinfo(host, NULL, &hints, &found);
    if (error != 0 || !found) {
        cmn_check_problem(self, CMN_CHECK_RUNTIME, subject,
                          "%s: host '%s' has no IPv4 address here: %s",
                          subject, host, gai_strerror(error));
        return -1;
    }
    address->sin_addr = ((struct sockaddr_in *)found->ai_addr)->sin_addr;
    freeaddrinfo(found);
    return 0;
}

int cmn_check_port(cmn_check_t *self, const char *subject, const char *host,
                   int port)
{
    assert(self && subject);
    const char *shown =
        host && *host && strcmp(host, "*") != 0 ? host : "0.0.0.0";
    if (port == 0) {
        cmn_check_passed(self, "%s: port 0: a free port is picked at start",
                         subject);
        return 0;
    }
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port)};
    if (port < 0 || port > CMN_CHECK_PORT_MAX) {
        cmn_check_problem(self, CMN_CHECK_CONFIG, subject,
                          "%s: port %d is not within 0..%d", subject, port,
                          CMN_CHECK_PORT_MAX);
        return -1;
    }
    if (inet_pton(AF_INET, shown, &address.sin_addr) != 1 &&
        s_resolve(self, subject, shown, &address) != 0)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* As the services bind (libzmq and civetweb set SO_REUSEADDR): a port
     * in TIME_WAIT is free for them, one with a listener is not. */
    int on = 1;
    int result = -1;
    if (fd >= 0 &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
        bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        listen(fd, CMN_CHECK_LISTEN_BACKLOG) == 0)
        result = 0;
    int error = errno;
    if (fd >= 0)
        close(fd);
    if (result == 0)
        cmn_check_passed(self, "%s: port %d on %s is free (tried, released)",
                         subject, port, shown);
    else
        cmn_check_problem(self, CMN_CHECK_RUNTIME, subject,
                          "%s: cannot bind %s:%d: %s%s", subject, shown, port,
                          strerror(error),
                          error == EADDRINUSE ? " (another process listens "
                                                "there: a second instance?)"
                                              : "");
    return result;
}

int cmn_check_endpoint(cmn_check_t *self, const char *subject,
                       const char *endpoint)
{
    assert(self && subject);
    if (!endpoint || strncmp(endpoint, "inproc://", strlen("inproc://")) == 0)
        return 0;
    if (strncmp(endpoint, "ipc://", strlen("ipc://")) == 0)
        return cmn_check_writable(self, subject, endpoint + strlen("ipc://"));
    const char *colon = strrchr(endpoint, ':');
    const char *host = endpoint + strlen("tcp://");
    if (strncmp(endpoint, "tcp://", strlen("tcp://")) != 0 || !colon ||
        colon < host) {
        cmn_check_problem(self, CMN_CHECK_CONFIG, subject,
                          "%s: '%s' is not tcp://HOST:PORT, ipc://PATH or "
                          "inproc://NAME",
                          subject, endpoint);
        return -1;
    }
    if (strcmp(colon + 1, "*") == 0) {
        cmn_check_passed(self, "%s: port *: a free port is picked at start",
                         subject);
        return 0;
    }
    char name[CMN_CHECK_TEXT_BYTES];
    snprintf(name, sizeof name, "%.*s", (int)(colon - host), host);
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 0 ||
        port > CMN_CHECK_PORT_MAX) {
        cmn_check_problem(self, CMN_CHECK_CONFIG, subject,
                          "%s: '%s' has no port number within 0..%d", subject,
                          endpoint, CMN_CHECK_PORT_MAX);
        return -1;
    }
    return cmn_check_port(self, subject, name, (int)port);
}

int cmn_check_writable(cmn_check_t *self, const char *subject, const char *path)
{
    assert(self && subject);
    if (!path || !*path) {
        cmn_check_problem(self, CMN_CHECK_CONFIG, subject, "%s: empty path",
                          subject);
        return -1;
    }
    struct stat info;
    if (stat(path, &info) == 0) {
        if (S_ISDIR(info.st_mode)) {
            cmn_check_problem(self, CMN_CHECK_CONFIG, subject,
                              "%s: '%s' is a directory, not a file", subject,
                              path);
            return -1;
        }
        if (access(path, W_OK) != 0) {
            cmn_check_problem(self, CMN_CHECK_CONFIG, subject,
                              "%s: '%s' is not writable: %s", subject, path,
                              strerror(errno));
            return -1;
        }
        cmn_check_passed(self, "%s: '%s' exists and is writable", subject,
                         path);
        return 0;
    }
    /* The nearest directory above that exists must let us create the rest. */
    char directory[CMN_CHECK_PATH_BYTES];
    snprintf(directory, sizeof directory, "%s", path);
    for (;;) {
        char *slash = strrchr(directory, '/');
        if (!slash) {
            snprintf(directory, sizeof directory, ".");
            break;
        }
        if (slash == directory) {
            directory[1] = '\0';
            break;
        }
        *slash = '\0';
        if (stat(directory, &info) == 0)
            break;
    }
    int error = 0;
    if (stat(directory, &info) != 0)
        error = errno;
    else if (!S_ISDIR(info.st_mode))
        error = ENOTDIR;
    else if (access(directory, W_OK | X_OK) != 0)
        error = errno;
    if (error != 0) {
        cmn_check_problem(self, CMN_CHECK_CONFIG, subject,
                          "%s: cannot create '%s': directory '%s': %s", subject,
                          path, directory, strerror(error));
        return -1;
    }
    cmn_check_passed(self, "%s: '%s' can be created (in '%s')", subject, path,
                     directory);
    return 0;
}

int cmn_check_report(cmn_check_t *self, cmn_config_t *config, FILE *out,
                     FILE *problems)
{
    assert(self && out && problems);
    if (config) {
        fprintf(out, "%s check: effective configuration\n", self->program);
        cmn_config_print_effective(config, out);
    }
    if (self->passed_count > 0)
        fprintf(out, "\nchecks passed:\n");
    for (size_t index = 0; index < self->passed_count; index++)
        fprintf(out, "  ok  %s\n", self->passed[index]);
    fflush(out);
    size_t config_count = cmn_check_count(self, false, CMN_CHECK_CONFIG);
    size_t runtime_count = cmn_check_count(self, false, CMN_CHECK_RUNTIME);
    for (size_t index = 0; index < self->problem_count; index++)
        fprintf(problems, "%s: %s: %s\n", self->program,
                self->problems[index].kind == CMN_CHECK_CONFIG ? "config"
                                                               : "runtime",
                self->problems[index].text);
    int code = config_count > 0    ? CMN_EXIT_USAGE
               : runtime_count > 0 ? CMN_EXIT_FAILURE
                                   : CMN_EXIT_OK;
    if (self->problem_count > 0)
        fprintf(problems,
                "%s check: %zu problem%s (%zu config, %zu runtime): exit %d\n",
                self->program, self->problem_count,
                self->problem_count == 1 ? "" : "s", config_count,
                runtime_count, code);
    else
        fprintf(out, "%s check: no problems\n", self->program);
    fflush(problems);
    return code;
}
