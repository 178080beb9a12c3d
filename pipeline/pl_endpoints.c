/* pl_endpoints: one socket connected to every address of an endpoint list.
 *
 * Resolution uses getaddrinfo in the owner's thread: a slow DNS server
 * delays that thread by up to its timeout (the subscriber's staleness and
 * the sender's window then show it honestly). */
#include "pl_endpoints.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>

#include "cmn_config.h"
#include "cmn_log.h"

#define PL_END_LIST_SEPARATORS ", "
#define PL_END_ADDRESS_MAX 256
#define PL_END_TCP_PREFIX "tcp://"
#define PL_END_IPC_PREFIX "ipc://"
#define PL_END_INPROC_PREFIX "inproc://"
/* Digits of a TCP port, with the NUL. */
#define PL_END_PORT_TEXT_MAX 16

typedef struct {
    char address[PL_END_ADDRESS_MAX]; /* what was connected */
    char origin[PL_END_ADDRESS_MAX];  /* the endpoint it came from */
    bool seen;                        /* found by the latest resolution */
} s_connection_t;

struct _pl_endpoints_t {
    zsock_t *socket;            /* borrowed; NULL in links mode */
    pl_endpoints_link_fn *link; /* links mode */
    void *link_arg;
    char *endpoints; /* owned copy */
    pl_endpoints_resolve_fn *resolve;
    void *arg;
    const char *module;
    s_connection_t connections[PL_ENDPOINTS_MAX];
    size_t count;
    char failure[PL_ENDPOINTS_ERROR_MAX];
};

/* Splits "tcp://host:port" into host and port. Returns 0 or -1. */
static int s_split_tcp(const char *endpoint, char *host, size_t host_size,
                       char *port, size_t port_size)
{
    if (strncmp(endpoint, PL_END_TCP_PREFIX, strlen(PL_END_TCP_PREFIX)) != 0)
        return -1;
    const char *rest = endpoint + strlen(PL_END_TCP_PREFIX);
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest || colon[1] == '\0')
        return -1;
    size_t host_length = (size_t)(colon - rest);
    if (host_length >= host_size || strlen(colon + 1) >= port_size)
        return -1;
    memcpy(host, rest, host_length);
    host[host_length] = '\0';
    strcpy(port, colon + 1);
    for (const char *c = port; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    return 0;
}

int pl_endpoints_check(const char *endpoints, char *bad, size_t capacity)
{
    const char *cursor = endpoints, *entry;
    size_t length, items = 0;
    while ((entry = cmn_config_list_next(&cursor, PL_END_LIST_SEPARATORS,
                                         &length))) {
        char item[PL_END_ADDRESS_MAX];
        char host[PL_END_ADDRESS_MAX], port[PL_END_PORT_TEXT_MAX];
        bool ok = length < sizeof item;
        if (ok) {
            memcpy(item, entry, length);
            item[length] = '\0';
            ok = strncmp(item, PL_END_IPC_PREFIX, strlen(PL_END_IPC_PREFIX)) ==
                     0 ||
                 strncmp(item, PL_END_INPROC_PREFIX,
                         strlen(PL_END_INPROC_PREFIX)) == 0 ||
                 s_split_tcp(item, host, sizeof host, port, sizeof port) == 0;
        }
        if (!ok) {
            snprintf(bad, capacity, "%.*s", (int)length, entry);
            return -1;
        }
        items++;
    }
    if (items == 0) {
        snprintf(bad, capacity, "(empty list)");
        return -1;
    }
    return 0;
}

int pl_endpoints_resolve_dns(const char *host,
                             char addresses[][PL_ENDPOINTS_ADDRESS_TEXT_MAX],
                             size_t max, void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc != 0) {
        cmn_log_warning("endpoints", "resolve_failed", "host=%s error=\"%s\"",
                        host, gai_strerror(rc));
        return -1;
    }
    size_t count = 0;
    for (struct addrinfo *info = found; info && count < max;
         info = info->ai_next) {
        const struct sockaddr_in *address =
            (const struct sockaddr_in *)info->ai_addr;
        if (!inet_ntop(AF_INET, &address->sin_addr, addresses[count],
                       PL_ENDPOINTS_ADDRESS_TEXT_MAX))
            continue;
        bool repeated = false; /* one entry per socket type and protocol */
        for (size_t k = 0; k < count && !repeated; k++)
            repeated = strcmp(addresses[k], addresses[count]) == 0;
        if (!repeated)
            count++;
    }
    freeaddrinfo(found);
    return (int)count;
}

/* What both modes share: the list, the resolver, the module. */
static pl_endpoints_t *s_new(const char *endpoints,
                             pl_endpoints_resolve_fn *resolve, void *arg,
                             const char *module)
{
    pl_endpoints_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->endpoints = strdup(endpoints);
    if (!self->endpoints) {
        free(self);
        return NULL;
    }
    self->resolve = resolve ? resolve : pl_endpoints_resolve_dns;
    self->arg = arg;
    self->module = module;
    return self;
}

pl_endpoints_t *pl_endpoints_new(zsock_t *socket, const char *endpoints,
                                 pl_endpoints_resolve_fn *resolve, void *arg,
                                 const char *module)
{
    assert(socket && endpoints && module);
    pl_endpoints_t *self = s_new(endpoints, resolve, arg, module);
    if (self)
        self->socket = socket;
    return self;
}

pl_endpoints_t *pl_endpoints_new_links(const char *endpoints,
                                       pl_endpoints_resolve_fn *resolve,
                                       void *arg, pl_endpoints_link_fn *link,
                                       void *link_arg, const char *module)
{
    assert(endpoints && link && module);
    pl_endpoints_t *self = s_new(endpoints, resolve, arg, module);
    if (self) {
        self->link = link;
        self->link_arg = link_arg;
    }
    return self;
}

void pl_endpoints_destroy(pl_endpoints_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        free((*self_p)->endpoints);
        free(*self_p);
        *self_p = NULL;
    }
}

static s_connection_t *s_find(pl_endpoints_t *self, const char *address)
{
    for (size_t k = 0; k < self->count; k++)
        if (strcmp(self->connections[k].address, address) == 0)
            return &self->connections[k];
    return NULL;
}

static void s_want(pl_endpoints_t *self, const char *origin,
                   const char *address)
{
    s_connection_t *connection = s_find(self, address);
    if (connection) {
        connection->seen = true;
        return;
    }
    if (self->count == PL_ENDPOINTS_MAX) {
        cmn_log_warning(self->module, "too_many_addresses", "address=%s",
                        address);
        return;
    }
    if (self->link) {
        if (self->link(address, true, self->link_arg) != 0)
            return; /* the owner logged it; tried again next refresh */
    } else if (zsock_connect(self->socket, "%s", address) != 0) {
        if (!self->failure[0])
            snprintf(self->failure, sizeof self->failure,
                     "cannot connect to %.200s: %s", address,
                     zmq_strerror(zmq_errno()));
        cmn_log_warning(self->module, "connect_failed",
                        "address=%s error=\"%s\"", address,
                        zmq_strerror(zmq_errno()));
        return;
    }
    connection = &self->connections[self->count++];
    snprintf(connection->address, sizeof connection->address, "%s", address);
    snprintf(connection->origin, sizeof connection->origin, "%s", origin);
    connection->seen = true;
    /* Connecting, not connected: nothing may listen there yet. */
    cmn_log_info(self->module, "address_added", "address=%s", address);
}

size_t pl_endpoints_refresh(pl_endpoints_t *self)
{
    for (size_t k = 0; k < self->count; k++)
        self->connections[k].seen = false;
    const char *cursor = self->endpoints, *entry;
    size_t length;
    while ((entry = cmn_config_list_next(&cursor, PL_END_LIST_SEPARATORS,
                                         &length))) {
        char item[PL_END_ADDRESS_MAX];
        snprintf(item, sizeof item, "%.*s", (int)length, entry);
        char host[PL_END_ADDRESS_MAX], port[PL_END_PORT_TEXT_MAX];
        struct in_addr literal;
        if (s_split_tcp(item, host, sizeof host, port, sizeof port) != 0 ||
            inet_pton(AF_INET, host, &literal) == 1) {
            s_want(self, item, item); /* ipc, inproc or an address literal */
            continue;
        }
        char addresses[PL_ENDPOINTS_MAX][PL_ENDPOINTS_ADDRESS_TEXT_MAX];
        int found = self->resolve(host, addresses, PL_ENDPOINTS_MAX, self->arg);
        if (found < 0) {
            /* Keep what this name resolved to before. */
            for (size_t k = 0; k < self->count; k++)
                if (strcmp(self->connections[k].origin, item) == 0)
                    self->connections[k].seen = true;
            continue;
        }
        for (int k = 0; k < found; k++) {
            char endpoint[PL_END_ADDRESS_MAX];
            snprintf(endpoint, sizeof endpoint, "tcp://%.15s:%s", addresses[k],
                     port);
            s_want(self, item, endpoint);
        }
    }
    size_t kept = 0;
    for (size_t k = 0; k < self->count; k++) {
        if (!self->connections[k].seen) {
            if (self->link)
                self->link(self->connections[k].address, false, self->link_arg);
            else
                zsock_disconnect(self->socket, "%s",
                                 self->connections[k].address);
            cmn_log_info(self->module, "address_removed", "address=%s",
                         self->connections[k].address);
            continue;
        }
        self->connections[kept++] = self->connections[k];
    }
    self->count = kept;
    return kept;
}

const char *pl_endpoints_failure(const pl_endpoints_t *self)
{
    return self->failure;
}
