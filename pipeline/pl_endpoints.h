/* pl_endpoints: every address of an endpoint list, kept in step with DNS:
 * one socket connected to all of them (the subscriber's SUB), or one link
 * per address made by the owner (the sender's DEALER per coordinator).
 *
 * Each item is tcp://HOST:PORT, ipc://... or inproc://... A tcp host name
 * is resolved with `resolve` (default getaddrinfo, IPv4) and every address
 * it has is connected; pl_endpoints_refresh() resolves again, connects the
 * new addresses and disconnects the vanished ones, so that the pods behind
 * a Kubernetes headless Service all get traffic within one refresh. A name
 * that does not resolve now keeps the addresses it had. Owned by the
 * thread that owns the socket. */
#ifndef PL_ENDPOINTS_H
#define PL_ENDPOINTS_H

#include <czmq.h>
#include <stdbool.h>

/* Addresses connected at most per list. */
#define PL_ENDPOINTS_MAX 64
/* Room for one IPv4 address as text ("255.255.255.255"). */
#define PL_ENDPOINTS_ADDRESS_TEXT_MAX 16
/* Room for a connect failure's description, with its NUL. */
#define PL_ENDPOINTS_ERROR_MAX 256

/* Resolves `host` into at most `max` IPv4 addresses as text. Returns how
 * many (0 is a valid answer: the name has no address now), or -1 when the
 * name cannot be resolved now. Called from the socket's thread. */
typedef int(pl_endpoints_resolve_fn)(
    const char *host, char addresses[][PL_ENDPOINTS_ADDRESS_TEXT_MAX],
    size_t max, void *arg);

/* The default resolver: getaddrinfo(), IPv4, duplicates removed. */
int pl_endpoints_resolve_dns(const char *host,
                             char addresses[][PL_ENDPOINTS_ADDRESS_TEXT_MAX],
                             size_t max, void *arg);

/* Checks a list: every item is tcp://HOST:PORT, ipc://... or inproc://....
 * Returns 0, or -1 with the bad item in `bad` (capacity bytes). */
int pl_endpoints_check(const char *endpoints, char *bad, size_t capacity);

typedef struct _pl_endpoints_t pl_endpoints_t;

/* Links mode: `address` appeared (`added`: make a link, return 0, or -1
 * when it cannot be made now; the address is tried again at the next
 * refresh) or vanished (remove its link; the return is ignored). */
typedef int(pl_endpoints_link_fn)(const char *address, bool added, void *arg);

/* A set for `socket` (borrowed) and `endpoints` (copied); `resolve` NULL
 * means pl_endpoints_resolve_dns; `module` names the log lines. Connects
 * nothing yet. Returns NULL when out of memory. */
pl_endpoints_t *pl_endpoints_new(zsock_t *socket, const char *endpoints,
                                 pl_endpoints_resolve_fn *resolve, void *arg,
                                 const char *module);

/* Like pl_endpoints_new, but each address goes to `link` (links mode, no
 * socket): the owner makes one connection per address. */
pl_endpoints_t *pl_endpoints_new_links(const char *endpoints,
                                       pl_endpoints_resolve_fn *resolve,
                                       void *arg, pl_endpoints_link_fn *link,
                                       void *link_arg, const char *module);

/* Destroys it (the socket keeps its connections); tolerates NULL and sets
 * *self_p to NULL. */
void pl_endpoints_destroy(pl_endpoints_t **self_p);

/* Resolves every endpoint, connects new addresses and disconnects vanished
 * ones. Returns how many addresses are connected. */
size_t pl_endpoints_refresh(pl_endpoints_t *self);

/* The first connect the socket refused (an unusable endpoint, such as an
 * ipc path longer than a socket address holds), "" when none. */
const char *pl_endpoints_failure(const pl_endpoints_t *self);

#endif
