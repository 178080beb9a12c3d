/* cmn_curve: certificates, a ZAP handler and a guard actor counting denials.
 *
 * Design. Our ZAP handler actor decides: the client's key must be in the
 * allow-list directory, read by cmn_allowlist (not by czmq's zcertstore,
 * which printed a line of any non-certificate file it found there) and
 * reread when the directory changes. The
 * guard actor reads one socket monitor per secured socket: libzmq reports
 * each failed handshake there (the ZAP refusal, a plaintext peer, a broken
 * handshake), so counting does not depend on the ZAP handler's internals. A
 * secured socket's owner calls cmn_curve_server_apply(), which starts the
 * monitor and asks the guard, over its pipe, to connect to it; a mutex
 * serialises those calls because the owners of the two sockets may be two
 * actors. */
#include "cmn_curve.h"
#include "cmn_allowlist.h"
#include "cmn_clock.h"
#include "cmn_log.h"
#include "cmn_ratelimit.h"
#include "cmn_monitor.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMN_CURVE_PATH_BYTES 4096   /* a certificate path plus "_secret" */
#define CMN_CURVE_ENDPOINT_BYTES 64 /* "inproc://cmn-curve-monitor-N" */
#define CMN_CURVE_NAME_BYTES 256    /* a metric family name */
#define CMN_CURVE_KEY_BYTES 32      /* binary CURVE key */
#define CMN_CURVE_EVENT_BYTES 6     /* uint16 event + uint32 value */
#define CMN_CURVE_SECRET_MODE 0600  /* secret certificate file */
#define CMN_CURVE_PUBLIC_MODE 0644  /* public certificate file */
#define CMN_CURVE_SECRET_SUFFIX "_secret"
#define CMN_CURVE_ZAP_DOMAIN "mdbp"
#define CMN_CURVE_ZAP_ENDPOINT "inproc://zeromq.zap.01" /* libzmq's, fixed */
#define CMN_CURVE_ZAP_VERSION "1.0"
#define CMN_CURVE_ZAP_MECHANISM "CURVE"
#define CMN_CURVE_ZAP_BIND_ATTEMPTS 200 /* x 10 ms: 2 s at most */
#define CMN_CURVE_ZAP_BIND_RETRY_MS 10
/* A flood of refused handshakes is counted in full but logged at most once
 * per socket per this interval, with the number not logged (issue 12). */
#define CMN_CURVE_DENIED_LOG_INTERVAL_MS 10000
#define CMN_CURVE_NS_PER_MS 1000000LL
#define CMN_CURVE_MONITOR_EVENTS                                               \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                                    \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |   \
     ZMQ_EVENT_HANDSHAKE_SUCCEEDED)

/* ZAP said no (AUTH), or the handshake failed before ZAP: a plaintext or
 * mismatched peer shows as PROTOCOL or NO_DETAIL depending on timing. */
enum { S_REASON_UNKNOWN_KEY, S_REASON_HANDSHAKE, S_REASONS };
static const char *const s_reason_names[S_REASONS] = {"unknown_key",
                                                      "handshake"};

struct _cmn_curve_t {
    zcert_t *cert;          /* the server key pair */
    zactor_t *auth;         /* ZAP handler with the allow-list */
    char *clients_dir;      /* the allow-list directory (the handler's) */
    zactor_t *guard;        /* reads the monitors */
    pthread_mutex_t lock;   /* serialises requests on the guard pipe */
    cmn_metric_t *denied;   /* family: {socket, reason} */
    cmn_metric_t *accepted; /* family: {socket} */
};

static atomic_uint s_monitor_counter;

/* ---- certificates ------------------------------------------------------ */

static bool s_key_is_zero(const byte *key)
{
    byte any = 0;
    for (size_t index = 0; index < CMN_CURVE_KEY_BYTES; index++)
        any |= key[index];
    return any == 0;
}

static bool s_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

int cmn_curve_keygen(const char *path, const char *name)
{
    assert(path && name);
    char secret_path[CMN_CURVE_PATH_BYTES];
    if (snprintf(secret_path, sizeof secret_path, "%s%s", path,
                 CMN_CURVE_SECRET_SUFFIX) >= (int)sizeof secret_path) {
        fprintf(stderr, "keygen: path too long: %s\n", path);
        return -1;
    }
    if (s_exists(path) || s_exists(secret_path)) {
        fprintf(stderr, "keygen: refusing to overwrite %s or %s\n", path,
                secret_path);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, "keygen: cannot create a key pair\n");
        return -1;
    }
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "created-by", "mdbp keygen");
    /* The secret file must never exist with a wider mode, even briefly. */
    mode_t previous = umask(S_IRWXG | S_IRWXO);
    int rc = zcert_save(cert, path);
    umask(previous);
    zcert_destroy(&cert);
    if (rc != 0 || chmod(secret_path, CMN_CURVE_SECRET_MODE) != 0 ||
        chmod(path, CMN_CURVE_PUBLIC_MODE) != 0) {
        fprintf(stderr, "keygen: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Loads a certificate for the checks below; NULL with `*reason` set when
 * the path is empty or the file is not a czmq certificate. */
static zcert_t *s_load_checked(const char *path, const char **reason)
{
    assert(reason);
    *reason = NULL;
    if (!path || !*path) {
        *reason = "empty path";
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert)
        *reason = "not a readable czmq certificate";
    return cert;
}

int cmn_curve_check_secret(const char *path, const char **reason)
{
    zcert_t *cert = s_load_checked(path, reason);
    if (!cert)
        return -1;
    bool zero = s_key_is_zero(zcert_secret_key(cert)) ||
                s_key_is_zero(zcert_public_key(cert));
    zcert_destroy(&cert);
    if (zero) {
        *reason = "certificate has no secret key (give the NAME_secret file)";
        return -1;
    }
    return 0;
}

int cmn_curve_check_public(const char *path, const char **reason)
{
    zcert_t *cert = s_load_checked(path, reason);
    if (!cert)
        return -1;
    bool zero = s_key_is_zero(zcert_public_key(cert));
    zcert_destroy(&cert);
    if (zero) {
        *reason = "certificate has no public key";
        return -1;
    }
    return 0;
}

int cmn_curve_check_directory(const char *path, const char **reason)
{
    assert(reason);
    *reason = NULL;
    struct stat info;
    if (!path || !*path) {
        *reason = "empty path";
        return -1;
    }
    if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode)) {
        *reason = "not a directory";
        return -1;
    }
    if (access(path, R_OK | X_OK) != 0) {
        *reason = "directory not readable";
        return -1;
    }
    return 0;
}

/* ---- guard actor: socket monitors -> log + metrics --------------------- */

typedef struct {
    zsock_t *monitor; /* PAIR connected to a socket monitor */
    char *name;       /* the socket's label */
    cmn_series_t *denied[S_REASONS];
    cmn_series_t *accepted;
    cmn_ratelimit_t denied_log; /* one denial line per interval */
} s_watch_t;

typedef struct {
    cmn_curve_t *owner; /* metric families (registry is thread-safe) */
    zpoller_t *poller;
    zlist_t *watches; /* s_watch_t */
} s_guard_t;

static void s_watch_destroy(s_watch_t **watch_p)
{
    s_watch_t *watch = *watch_p;
    if (!watch)
        return;
    zsock_destroy(&watch->monitor);
    free(watch->name);
    free(watch);
    *watch_p = NULL;
}

static int s_guard_watch(s_guard_t *guard, const char *endpoint,
                         const char *name)
{
    s_watch_t *watch = calloc(1, sizeof *watch);
    if (!watch)
        return -1;
    watch->name = strdup(name);
    watch->monitor = zsock_new(ZMQ_PAIR);
    if (!watch->name || !watch->monitor ||
        zsock_connect(watch->monitor, "%s", endpoint) != 0) {
        s_watch_destroy(&watch);
        return -1;
    }
    for (int reason = 0; reason < S_REASONS; reason++)
        watch->denied[reason] = cmn_metric_series(guard->owner->denied, name,
                                                  s_reason_names[reason], NULL);
    watch->accepted = cmn_metric_series(guard->owner->accepted, name, NULL);
    watch->denied_log = cmn_ratelimit_make(CMN_CURVE_DENIED_LOG_INTERVAL_MS *
                                           CMN_CURVE_NS_PER_MS);
    zpoller_add(guard->poller, watch->monitor);
    zlist_append(guard->watches, watch);
    return 0;
}

/* Reads one monitor event. Returns false when the monitor stopped (the
 * secured socket was closed). */
static bool s_guard_event(s_watch_t *watch)
{
    zmsg_t *message = zmsg_recv(watch->monitor);
    if (!message)
        return false;
    zframe_t *header = zmsg_first(message);
    zframe_t *address = zmsg_next(message);
    if (!header || zframe_size(header) != CMN_CURVE_EVENT_BYTES) {
        zmsg_destroy(&message);
        return true;
    }
    uint16_t event;
    uint32_t value;
    memcpy(&event, zframe_data(header), sizeof event);
    memcpy(&value, zframe_data(header) + sizeof event, sizeof value);
    char *endpoint = address ? zframe_strdup(address) : NULL;
    bool running = event != ZMQ_EVENT_MONITOR_STOPPED;
    int reason = -1;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        reason = S_REASON_UNKNOWN_KEY;
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
             event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        reason = S_REASON_HANDSHAKE;
    if (reason >= 0) {
        cmn_series_inc(watch->denied[reason]); /* every one */
        uint64_t suppressed = 0;
        if (cmn_ratelimit_allow(&watch->denied_log, cmn_clock_now_mono_ns(),
                                &suppressed))
            cmn_log_warning("curve", "denied",
                            "socket=%s reason=%s code=0x%x endpoint=%s "
                            "suppressed=%llu",
                            watch->name, s_reason_names[reason],
                            (unsigned)value, endpoint ? endpoint : "?",
                            (unsigned long long)suppressed);
    } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        cmn_series_inc(watch->accepted);
        cmn_log_debug("curve", "accepted", "socket=%s endpoint=%s", watch->name,
                      endpoint ? endpoint : "?");
    }
    free(endpoint);
    zmsg_destroy(&message);
    return running;
}

static void s_guard_actor(zsock_t *pipe, void *arg)
{
    s_guard_t guard = {.owner = arg, .watches = zlist_new()};
    guard.poller = zpoller_new(pipe, NULL);
    if (!guard.poller || !guard.watches) {
        zpoller_destroy(&guard.poller);
        zlist_destroy(&guard.watches);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    while (true) {
        void *which = zpoller_wait(guard.poller, -1);
        if (!which) {
            if (zpoller_terminated(guard.poller))
                break;
            continue;
        }
        if (which == pipe) {
            char *command = NULL, *endpoint = NULL, *name = NULL;
            if (zstr_recvx(pipe, &command, &endpoint, &name, NULL) < 0)
                break;
            bool terminate = !command || streq(command, "$TERM");
            if (!terminate && streq(command, "WATCH"))
                zsock_signal(pipe,
                             endpoint && name &&
                                     s_guard_watch(&guard, endpoint, name) == 0
                                 ? 0
                                 : 1);
            zstr_free(&command);
            zstr_free(&endpoint);
            zstr_free(&name);
            if (terminate)
                break;
            continue;
        }
        for (s_watch_t *watch = zlist_first(guard.watches); watch;
             watch = zlist_next(guard.watches)) {
            if (watch->monitor != which)
                continue;
            if (!s_guard_event(watch)) {
                zpoller_remove(guard.poller, watch->monitor);
                zlist_remove(guard.watches, watch);
                s_watch_destroy(&watch);
            }
            break;
        }
    }
    s_watch_t *watch;
    while ((watch = zlist_pop(guard.watches)))
        s_watch_destroy(&watch);
    zlist_destroy(&guard.watches);
    zpoller_destroy(&guard.poller);
}

/* ---- ZAP handler actor: the allow-list decides ------------------------- */

/* Answers one ZAP request (RFC 27): 200 for a CURVE client whose key is in
 * the allow-list, 400 otherwise. */
static void s_zap_answer(zsock_t *handler, cmn_allowlist_t *allowlist)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request);
    char *sequence = zmsg_popstr(request);
    char *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request);
    char *identity = zmsg_popstr(request);
    char *mechanism = zmsg_popstr(request);
    zframe_t *key = zmsg_pop(request);
    bool allowed = false;
    if (version && streq(version, CMN_CURVE_ZAP_VERSION) && mechanism &&
        streq(mechanism, CMN_CURVE_ZAP_MECHANISM) && key &&
        zframe_size(key) == CMN_ALLOWLIST_KEY_BYTES) {
        cmn_allowlist_refresh(allowlist, false); /* files added/removed */
        allowed = cmn_allowlist_has(allowlist, zframe_data(key));
    }
    /* A reply needs the version and the request id back. */
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, CMN_CURVE_ZAP_VERSION);
    zmsg_addstr(reply, sequence ? sequence : "");
    zmsg_addstr(reply, allowed ? "200" : "400");
    zmsg_addstr(reply, allowed ? "OK" : "no access");
    zmsg_addstr(reply, "");      /* user id */
    zmsg_addmem(reply, NULL, 0); /* metadata */
    zmsg_send(&reply, handler);
    zframe_destroy(&key);
    zstr_free(&version);
    zstr_free(&sequence);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&identity);
    zstr_free(&mechanism);
    zmsg_destroy(&request);
}

/* Binds the ZAP endpoint. A previous handler's socket (a server object
 * destroyed just before) may still hold it until libzmq's reaper closes
 * it: retry for a bounded time. Returns 0 or -1. */
static int s_zap_bind(zsock_t *handler)
{
    for (int attempt = 0; attempt < CMN_CURVE_ZAP_BIND_ATTEMPTS; attempt++) {
        if (zsock_bind(handler, "%s", CMN_CURVE_ZAP_ENDPOINT) == 0)
            return 0;
        if (zmq_errno() != EADDRINUSE)
            return -1;
        zclock_sleep(CMN_CURVE_ZAP_BIND_RETRY_MS);
    }
    return -1;
}

/* The ZAP handler: binds libzmq's ZAP endpoint and reads the allow-list,
 * then says "READY" (or "FAILED") on its pipe and answers until $TERM. */
static void s_zap_actor(zsock_t *pipe, void *arg)
{
    const char *clients_dir = arg;
    zsock_signal(pipe, 0);
    cmn_allowlist_t *allowlist = cmn_allowlist_new(clients_dir);
    zsock_t *handler = zsock_new(ZMQ_REP);
    zpoller_t *poller = NULL;
    if (!allowlist || !handler || s_zap_bind(handler) != 0 ||
        !(poller = zpoller_new(pipe, handler, NULL))) {
        zsock_destroy(&handler);
        cmn_allowlist_destroy(&allowlist);
        zstr_send(pipe, "FAILED");
        /* Wait for $TERM like every actor. */
        char *command = NULL;
        while ((command = zstr_recv(pipe)) && !streq(command, "$TERM"))
            zstr_free(&command);
        zstr_free(&command);
        return;
    }
    zstr_send(pipe, "READY");
    while (true) {
        void *which = zpoller_wait(poller, -1);
        if (which == handler) {
            s_zap_answer(handler, allowlist);
            continue;
        }
        if (which != pipe)
            break; /* interrupted */
        char *command = zstr_recv(pipe);
        bool terminate = !command || streq(command, "$TERM");
        zstr_free(&command);
        if (terminate)
            break;
    }
    zpoller_destroy(&poller);
    /* Free the endpoint now, for a handler that starts right after. */
    zsock_unbind(handler, "%s", CMN_CURVE_ZAP_ENDPOINT);
    zsock_destroy(&handler);
    cmn_allowlist_destroy(&allowlist);
}

/* ---- server ------------------------------------------------------------ */

cmn_curve_t *cmn_curve_server_new(const char *secret_key_file,
                                  const char *clients_dir,
                                  cmn_metrics_t *metrics,
                                  const char *metric_prefix)
{
    assert(metrics && metric_prefix);
    const char *reason = NULL;
    if (cmn_curve_check_secret(secret_key_file, &reason) != 0) {
        cmn_log_error("curve", "bad_secret_key", "file=\"%s\" reason=\"%s\"",
                      secret_key_file ? secret_key_file : "", reason);
        return NULL;
    }
    if (cmn_curve_check_directory(clients_dir, &reason) != 0) {
        cmn_log_error("curve", "bad_clients_dir", "dir=\"%s\" reason=\"%s\"",
                      clients_dir ? clients_dir : "", reason);
        return NULL;
    }
    if (!zsys_has_curve()) {
        cmn_log_error("curve", "unsupported", "reason=libzmq_without_curve");
        return NULL;
    }
    cmn_curve_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    char name[CMN_CURVE_NAME_BYTES];
    snprintf(name, sizeof name, "%s_curve_denied_total", metric_prefix);
    self->denied = cmn_metrics_counter(
        metrics, name,
        "CURVE handshakes refused: unknown_key (not in the allow-list), "
        "handshake (plaintext or mismatched peer, broken handshake).",
        "socket,reason");
    snprintf(name, sizeof name, "%s_curve_handshakes_total", metric_prefix);
    self->accepted = cmn_metrics_counter(
        metrics, name, "CURVE handshakes accepted.", "socket");
    self->cert = zcert_load(secret_key_file);
    self->clients_dir = strdup(clients_dir);
    if (!self->denied || !self->accepted || !self->cert || !self->clients_dir) {
        cmn_log_error("curve", "start_failed", "reason=resources");
        cmn_curve_destroy(&self);
        return NULL;
    }
    /* Only listed clients (never "allow any"). */
    self->auth = zactor_new(s_zap_actor, self->clients_dir);
    char *status = self->auth ? zstr_recv(self->auth) : NULL;
    bool ready = status && streq(status, "READY");
    zstr_free(&status);
    if (!ready) {
        cmn_log_error("curve", "start_failed", "reason=zap_handler");
        cmn_curve_destroy(&self);
        return NULL;
    }
    self->guard = zactor_new(s_guard_actor, self);
    if (!self->guard) {
        cmn_log_error("curve", "start_failed", "reason=guard");
        cmn_curve_destroy(&self);
        return NULL;
    }
    cmn_log_info("curve", "server_ready", "public_key=%s clients_dir=%s",
                 zcert_public_txt(self->cert), clients_dir);
    return self;
}

void cmn_curve_destroy(cmn_curve_t **self_p)
{
    assert(self_p);
    cmn_curve_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->guard);
    zactor_destroy(&self->auth);
    free(self->clients_dir);
    zcert_destroy(&self->cert);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int cmn_curve_server_apply(cmn_curve_t *self, zsock_t *socket, const char *name)
{
    assert(self && socket && name);
    zcert_apply(self->cert, socket);
    zsock_set_curve_server(socket, 1);
    zsock_set_zap_domain(socket, CMN_CURVE_ZAP_DOMAIN);
    char endpoint[CMN_CURVE_ENDPOINT_BYTES];
    snprintf(endpoint, sizeof endpoint, "inproc://cmn-curve-monitor-%u",
             atomic_fetch_add(&s_monitor_counter, 1));
    if (zmq_socket_monitor(zsock_resolve(socket), endpoint,
                           CMN_CURVE_MONITOR_EVENTS) != 0) {
        cmn_log_error("curve", "monitor_failed", "socket=%s error=\"%s\"", name,
                      zmq_strerror(zmq_errno()));
        return -1;
    }
    pthread_mutex_lock(&self->lock);
    int rc = zstr_sendx(self->guard, "WATCH", endpoint, name, NULL);
    if (rc == 0)
        rc = zsock_wait(self->guard);
    pthread_mutex_unlock(&self->lock);
    if (rc != 0) {
        cmn_log_error("curve", "monitor_failed", "socket=%s reason=guard",
                      name);
        return -1;
    }
    cmn_log_info("curve", "socket_secured", "socket=%s", name);
    return 0;
}

const char *cmn_curve_server_public_txt(cmn_curve_t *self)
{
    assert(self);
    return zcert_public_txt(self->cert);
}

/* ---- client ------------------------------------------------------------ */

int cmn_curve_client_apply(void *socket, const char *secret_key_file,
                           const char *server_key_file)
{
    assert(socket);
    const char *reason = NULL;
    if (cmn_curve_check_secret(secret_key_file, &reason) != 0) {
        cmn_log_error("curve", "bad_secret_key", "file=\"%s\" reason=\"%s\"",
                      secret_key_file ? secret_key_file : "", reason);
        return -1;
    }
    if (cmn_curve_check_public(server_key_file, &reason) != 0) {
        cmn_log_error("curve", "bad_server_key", "file=\"%s\" reason=\"%s\"",
                      server_key_file ? server_key_file : "", reason);
        return -1;
    }
    zcert_t *mine = zcert_load(secret_key_file);
    zcert_t *server = zcert_load(server_key_file);
    if (!mine || !server) {
        zcert_destroy(&mine);
        zcert_destroy(&server);
        return -1;
    }
    zcert_apply(mine, socket);
    zsock_set_curve_serverkey(socket, zcert_public_txt(server));
    zcert_destroy(&mine);
    zcert_destroy(&server);
    return 0;
}
