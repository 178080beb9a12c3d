/* cmn_webhook: a queue actor and a sender actor delivering JSON POSTs.
 *
 * Design. The queue actor owns the FIFO of waiting events, the event being
 * delivered (`current`), its attempt count and the time its next attempt is
 * due. It hands `current` to the sender actor and keeps reading its pipe
 * while the sender is blocked in civetweb's client (connect, write, wait for
 * the answer), so posts are accepted and the FIFO bound applies whatever the
 * receiver does. The sender answers each POST with the HTTP status (0 for a
 * connection error or a timeout). Only one delivery is in flight, which
 * keeps events in order. Backoff due times are read from the given clock;
 * while waiting the actor polls at most every CMN_WEBHOOK_POLL_MAX_MS so a
 * virtual clock moved by a test is noticed. */
#include <czmq.h>

#include "cmn_webhook.h"
#include "cmn_log.h"
#include "cmn_random.h"

#include <assert.h>
#include <civetweb.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CMN_WEBHOOK_POLL_MAX_MS 50  /* re-read the clock while backing off */
#define CMN_WEBHOOK_ERROR_BYTES 256 /* civetweb's error text */
#define CMN_WEBHOOK_NAME_BYTES 256  /* a metric family name */
#define CMN_WEBHOOK_STATUS_BYTES 16 /* an HTTP status as text */
#define CMN_WEBHOOK_HTTP_PORT 80    /* when the URL names none */
#define CMN_WEBHOOK_PORT_MAX 65535
#define CMN_WEBHOOK_STATUS_NO_ANSWER 0 /* connection error or timeout */
#define CMN_WEBHOOK_JITTER_MIN 0.5     /* backoff * [0.5, 1.0) */
#define CMN_WEBHOOK_STATUS_TIMEOUT 408
#define CMN_WEBHOOK_STATUS_TOO_MANY 429
#define CMN_WEBHOOK_HTTP_PREFIX "http://"
#define CMN_WEBHOOK_HTTPS_PREFIX "https://"
#define CMN_WEBHOOK_CMD_POST "POST"
#define CMN_WEBHOOK_CMD_DONE "DONE"

struct _cmn_webhook_t {
    cmn_webhook_config_t config; /* copy; endpoint/prefix below are owned */
    char *endpoint;
    char *token; /* bearer token, or NULL */
    cmn_webhook_url_t url;
    cmn_series_t *sent;    /* events delivered (2xx) */
    cmn_series_t *failed;  /* events given up (retries spent or 4xx) */
    cmn_series_t *retried; /* failed attempts followed by a retry */
    cmn_series_t *dropped; /* events dropped (FIFO or pipe full, too big) */
    cmn_series_t *depth;   /* waiting events, delivery in progress included */
    zactor_t *actor;       /* the queue actor */
};

static pthread_once_t s_library_once = PTHREAD_ONCE_INIT;

static void s_library_init(void)
{
    mg_init_library(0);
}

int cmn_webhook_url_parse(const char *endpoint, cmn_webhook_url_t *url,
                          const char **reason)
{
    assert(url && reason);
    memset(url, 0, sizeof *url);
    *reason = NULL;
    if (!endpoint || !*endpoint) {
        *reason = "empty endpoint";
        return -1;
    }
    if (strlen(endpoint) >= CMN_WEBHOOK_URL_BYTES) {
        *reason = "endpoint too long";
        return -1;
    }
    if (strncasecmp(endpoint, CMN_WEBHOOK_HTTPS_PREFIX,
                    strlen(CMN_WEBHOOK_HTTPS_PREFIX)) == 0) {
        *reason = "https is not supported (no TLS in this build); use http:// "
                  "or a TLS-terminating proxy";
        return -1;
    }
    if (strncasecmp(endpoint, CMN_WEBHOOK_HTTP_PREFIX,
                    strlen(CMN_WEBHOOK_HTTP_PREFIX)) != 0) {
        *reason = "must start with http://";
        return -1;
    }
    const char *authority = endpoint + strlen(CMN_WEBHOOK_HTTP_PREFIX);
    size_t authority_length = strcspn(authority, "/?#");
    if (authority_length == 0) {
        *reason = "empty host";
        return -1;
    }
    if (memchr(authority, '@', authority_length)) {
        *reason = "user info is not supported";
        return -1;
    }
    if (authority[0] == '[') {
        *reason = "IPv6 addresses are not supported";
        return -1;
    }
    const char *colon = memchr(authority, ':', authority_length);
    size_t host_length = colon ? (size_t)(colon - authority) : authority_length;
    if (host_length == 0) {
        *reason = "empty host";
        return -1;
    }
    for (size_t index = 0; index < host_length; index++) {
        char letter = authority[index];
        if (!(letter == '.' || letter == '-' || letter == '_' ||
              (letter >= '0' && letter <= '9') ||
              (letter >= 'a' && letter <= 'z') ||
              (letter >= 'A' && letter <= 'Z'))) {
            *reason = "bad character in host";
            return -1;
        }
    }
    memcpy(url->host, authority, host_length);
    url->host[host_length] = '\0';
    url->port = CMN_WEBHOOK_HTTP_PORT;
    if (colon) {
        const char *digits = colon + 1;
        size_t digit_count = authority_length - host_length - 1;
        long port = 0;
        if (digit_count == 0 || digit_count > strlen("65535")) {
            *reason = "bad port";
            return -1;
        }
        for (size_t index = 0; index < digit_count; index++) {
            if (digits[index] < '0' || digits[index] > '9') {
                *reason = "bad port";
                return -1;
            }
            port = port * 10 + (digits[index] - '0');
        }
        if (port < 1 || port > CMN_WEBHOOK_PORT_MAX) {
            *reason = "bad port";
            return -1;
        }
        url->port = (int)port;
    }
    const char *rest = authority + authority_length;
    size_t rest_length = strcspn(rest, "#"); /* fragments are not sent */
    if (rest_length == 0)
        snprintf(url->path, sizeof url->path, "/");
    else if (rest[0] == '?')
        snprintf(url->path, sizeof url->path, "/%.*s", (int)rest_length, rest);
    else
        snprintf(url->path, sizeof url->path, "%.*s", (int)rest_length, rest);
    for (const char *letter = url->path; *letter; letter++) {
        if ((unsigned char)*letter <= ' ' || *letter == 0x7f) {
            *reason = "bad character in path";
            return -1;
        }
    }
    return 0;
}

int64_t cmn_webhook_backoff_ns(int64_t backoff_ms, int64_t max_ms, int retry,
                               double unit_random)
{
    assert(backoff_ms >= 0 && max_ms >= 0 && retry >= 1);
    assert(unit_random >= 0.0 && unit_random < 1.0);
    int64_t cap_ms = backoff_ms > max_ms ? backoff_ms : max_ms;
    int64_t wait_ms = backoff_ms;
    for (int step = 1; step < retry && wait_ms < cap_ms; step++)
        wait_ms *= 2;
    if (wait_ms > cap_ms)
        wait_ms = cap_ms;
    double factor =
        CMN_WEBHOOK_JITTER_MIN + (1.0 - CMN_WEBHOOK_JITTER_MIN) * unit_random;
    return (int64_t)((double)wait_ms * factor * (double)CMN_NS_PER_MS);
}

/* ---- sender actor: one blocking POST per request ---------------------- */

typedef struct {
    cmn_webhook_url_t url;
    int64_t timeout_ms;
    /* "Authorization: Bearer ...\r\n" or "" */
    char authorization[CMN_WEBHOOK_TOKEN_BYTES + 32];
} s_sender_args_t;

/* One POST. Returns the HTTP status, or CMN_WEBHOOK_STATUS_NO_ANSWER with
 * civetweb's reason in `error`. */
static int s_post(const s_sender_args_t *args, const void *body, size_t length,
                  char *error, size_t error_size)
{
    error[0] = '\0';
    struct mg_connection *connection =
        mg_connect_client(args->url.host, args->url.port, 0, error, error_size);
    if (!connection) {
        if (!error[0])
            snprintf(error, error_size, "connect failed");
        return CMN_WEBHOOK_STATUS_NO_ANSWER;
    }
    int status = CMN_WEBHOOK_STATUS_NO_ANSWER;
    int written =
        mg_printf(connection,
                  "POST %s HTTP/1.1\r\n"
                  "Host: %s:%d\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: %zu\r\n"
                  "Connection: close\r\n"
                  "User-Agent: mdbp-webhook/" MDBP_VERSION "\r\n"
                  "%s"
                  "\r\n",
                  args->url.path, args->url.host, args->url.port, length,
                  args->authorization);
    if (written <= 0 ||
        (length && mg_write(connection, body, length) != (int)length)) {
        snprintf(error, error_size, "send failed");
    } else {
        int timeout =
            args->timeout_ms > INT_MAX ? INT_MAX : (int)args->timeout_ms;
        if (mg_get_response(connection, error, error_size, timeout) >= 0) {
            const struct mg_response_info *info =
                mg_get_response_info(connection);
            status = info ? info->status_code : CMN_WEBHOOK_STATUS_NO_ANSWER;
        } else if (!error[0]) {
            snprintf(error, error_size, "no answer within %d ms", timeout);
        }
    }
    mg_close_connection(connection);
    return status;
}

static void s_sender_actor(zsock_t *pipe, void *arg)
{
    s_sender_args_t *args = arg;
    zsock_signal(pipe, 0);
    while (true) {
        zmsg_t *message = zmsg_recv(pipe);
        if (!message)
            break; /* interrupted */
        char *command = zmsg_popstr(message);
        bool terminate = !command || streq(command, "$TERM");
        if (!terminate && streq(command, CMN_WEBHOOK_CMD_POST)) {
            zframe_t *body = zmsg_pop(message);
            char error[CMN_WEBHOOK_ERROR_BYTES];
            int status =
                s_post(args, body ? zframe_data(body) : NULL,
                       body ? zframe_size(body) : 0, error, sizeof error);
            zframe_destroy(&body);
            char status_text[CMN_WEBHOOK_STATUS_BYTES];
            snprintf(status_text, sizeof status_text, "%d", status);
            zstr_sendx(pipe, CMN_WEBHOOK_CMD_DONE, status_text, error, NULL);
        }
        zstr_free(&command);
        zmsg_destroy(&message);
        if (terminate)
            break;
    }
}

/* ---- queue actor ------------------------------------------------------- */

typedef struct {
    cmn_webhook_t *owner; /* config, URL and series (read-only here) */
    zlist_t *waiting;     /* zframe_t bodies, oldest first */
    zframe_t *current;    /* being delivered or backing off; NULL: none */
    int attempts;         /* attempts made for `current` */
    int64_t due_ns;       /* next attempt for `current` (clock mono) */
    bool in_flight;       /* the sender holds `current` */
    zactor_t *sender;
    uint64_t random_state; /* xorshift64 for jitter */
} s_queue_t;

/* A number in [0, 1) (jitter needs no crypto quality). */
static double s_random_unit(s_queue_t *queue)
{
    return cmn_random_unit(cmn_random_next(&queue->random_state));
}

static void s_update_depth(s_queue_t *queue)
{
    cmn_series_set(queue->owner->depth, (double)zlist_size(queue->waiting) +
                                            (queue->current ? 1.0 : 0.0));
}

static void s_enqueue(s_queue_t *queue, zframe_t *body)
{
    cmn_webhook_t *owner = queue->owner;
    if (zlist_size(queue->waiting) >= owner->config.queue_capacity) {
        zframe_t *oldest = zlist_pop(queue->waiting);
        zframe_destroy(&oldest);
        cmn_series_inc(owner->dropped);
        cmn_log_warning("webhook", "dropped", "reason=queue_full capacity=%zu",
                        owner->config.queue_capacity);
    }
    if (zlist_append(queue->waiting, body) != 0) {
        zframe_destroy(&body);
        cmn_series_inc(owner->dropped);
    }
    s_update_depth(queue);
}

/* Starts the next attempt when the sender is idle and one is due. */
static void s_dispatch(s_queue_t *queue)
{
    if (queue->in_flight)
        return;
    if (!queue->current) {
        queue->current = zlist_pop(queue->waiting);
        queue->attempts = 0;
        queue->due_ns = 0;
        if (!queue->current)
            return;
    }
    if (queue->attempts > 0 &&
        cmn_clock_mono_ns(queue->owner->config.clock) < queue->due_ns)
        return;
    zmsg_t *message = zmsg_new();
    zmsg_addstr(message, CMN_WEBHOOK_CMD_POST);
    zframe_t *copy = zframe_dup(queue->current);
    zmsg_append(message, &copy);
    if (zmsg_send(&message, queue->sender) != 0) {
        zmsg_destroy(&message);
        return; /* retried at the next wake-up */
    }
    queue->attempts++;
    queue->in_flight = true;
}

static bool s_retryable(int status)
{
    return status == CMN_WEBHOOK_STATUS_NO_ANSWER || status >= 500 ||
           status == CMN_WEBHOOK_STATUS_TIMEOUT ||
           status == CMN_WEBHOOK_STATUS_TOO_MANY;
}

static void s_on_done(s_queue_t *queue, int status, const char *error)
{
    cmn_webhook_t *owner = queue->owner;
    queue->in_flight = false;
    if (status >= 200 && status < 300) {
        cmn_series_inc(owner->sent);
        zframe_destroy(&queue->current);
    } else if (s_retryable(status) &&
               queue->attempts <= owner->config.max_retries) {
        int64_t wait_ns = cmn_webhook_backoff_ns(
            owner->config.backoff_ms, owner->config.backoff_max_ms,
            queue->attempts, s_random_unit(queue));
        queue->due_ns = cmn_clock_mono_ns(owner->config.clock) + wait_ns;
        cmn_series_inc(owner->retried);
        cmn_log_warning("webhook", "retry",
                        "endpoint=%s status=%d attempt=%d wait_ms=%lld "
                        "error=\"%s\"",
                        owner->endpoint, status, queue->attempts,
                        (long long)(wait_ns / CMN_NS_PER_MS), error);
    } else {
        cmn_series_inc(owner->failed);
        cmn_log_error("webhook", "gave_up",
                      "endpoint=%s status=%d attempts=%d error=\"%s\"",
                      owner->endpoint, status, queue->attempts, error);
        zframe_destroy(&queue->current);
    }
    s_update_depth(queue);
}

/* Poll timeout: wait for anything while idle or in flight, else until the
 * backoff is due (re-reading the clock at least every POLL_MAX_MS). */
static int s_poll_timeout_ms(s_queue_t *queue)
{
    if (queue->in_flight || !queue->current)
        return -1;
    int64_t remaining_ns =
        queue->due_ns - cmn_clock_mono_ns(queue->owner->config.clock);
    if (remaining_ns <= 0)
        return 0;
    int64_t remaining_ms = (remaining_ns + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS;
    return remaining_ms < CMN_WEBHOOK_POLL_MAX_MS ? (int)remaining_ms
                                                  : CMN_WEBHOOK_POLL_MAX_MS;
}

static void s_queue_actor(zsock_t *pipe, void *arg)
{
    cmn_webhook_t *owner = arg;
    s_sender_args_t sender_args = {.url = owner->url,
                                   .timeout_ms = owner->config.timeout_ms};
    if (owner->token)
        snprintf(sender_args.authorization, sizeof sender_args.authorization,
                 "Authorization: Bearer %s\r\n", owner->token);
    s_queue_t queue = {.owner = owner, .waiting = zlist_new()};
    queue.random_state =
        owner->config.jitter_seed
            ? owner->config.jitter_seed
            : (uint64_t)cmn_clock_mono_ns(owner->config.clock) | 1;
    queue.sender = zactor_new(s_sender_actor, &sender_args);
    zpoller_t *poller =
        queue.sender ? zpoller_new(pipe, queue.sender, NULL) : NULL;
    if (!queue.waiting || !poller) {
        cmn_log_error("webhook", "start_failed", "reason=resources");
        zpoller_destroy(&poller);
        zactor_destroy(&queue.sender);
        zlist_destroy(&queue.waiting);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    while (true) {
        void *which = zpoller_wait(poller, s_poll_timeout_ms(&queue));
        if (which == pipe) {
            zmsg_t *message = zmsg_recv(pipe);
            if (!message)
                break;
            char *command = zmsg_popstr(message);
            bool terminate = !command || streq(command, "$TERM");
            if (!terminate && streq(command, CMN_WEBHOOK_CMD_POST)) {
                zframe_t *body = zmsg_pop(message);
                if (body)
                    s_enqueue(&queue, body);
            }
            zstr_free(&command);
            zmsg_destroy(&message);
            if (terminate)
                break;
        } else if (which == queue.sender) {
            char *command = NULL, *status = NULL, *error = NULL;
            if (zstr_recvx(queue.sender, &command, &status, &error, NULL) >=
                    0 &&
                command && streq(command, CMN_WEBHOOK_CMD_DONE))
                s_on_done(&queue, status ? atoi(status) : 0,
                          error ? error : "");
            zstr_free(&command);
            zstr_free(&status);
            zstr_free(&error);
        } else if (zpoller_terminated(poller)) {
            break;
        }
        s_dispatch(&queue);
    }
    /* Waits for an attempt in progress (bounded by the timeout). */
    zactor_destroy(&queue.sender);
    size_t left = zlist_size(queue.waiting) + (queue.current ? 1 : 0);
    if (left) {
        cmn_series_add(owner->dropped, left);
        cmn_log_warning("webhook", "stopped", "undelivered=%zu", left);
    }
    zframe_destroy(&queue.current);
    zframe_t *body;
    while ((body = zlist_pop(queue.waiting)))
        zframe_destroy(&body);
    zlist_destroy(&queue.waiting);
    zpoller_destroy(&poller);
}

/* ---- public interface ------------------------------------------------- */

static cmn_series_t *s_family(cmn_webhook_t *self, bool counter,
                              const char *suffix, const char *help)
{
    char name[CMN_WEBHOOK_NAME_BYTES];
    snprintf(name, sizeof name, "%s_%s", self->config.metric_prefix, suffix);
    cmn_metric_t *family =
        counter ? cmn_metrics_counter(self->config.metrics, name, help, NULL)
                : cmn_metrics_gauge(self->config.metrics, name, help, NULL);
    return family ? cmn_metric_series(family, NULL) : NULL;
}

cmn_webhook_t *cmn_webhook_new(const cmn_webhook_config_t *config)
{
    assert(config && config->clock && config->metrics && config->metric_prefix);
    assert(config->timeout_ms > 0 && config->max_retries >= 0 &&
           config->backoff_ms >= 0 && config->queue_capacity > 0);
    pthread_once(&s_library_once, s_library_init);
    const char *reason = NULL;
    cmn_webhook_url_t url;
    if (cmn_webhook_url_parse(config->endpoint, &url, &reason) != 0) {
        cmn_log_error("webhook", "bad_endpoint",
                      "endpoint=\"%s\" reason=\"%s\"",
                      config->endpoint ? config->endpoint : "", reason);
        return NULL;
    }
    cmn_webhook_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    if (self->config.backoff_max_ms == 0)
        self->config.backoff_max_ms = CMN_WEBHOOK_BACKOFF_MAX_MS_DEFAULT;
    self->url = url;
    self->endpoint = strdup(config->endpoint);
    if (config->bearer_token && *config->bearer_token &&
        strlen(config->bearer_token) < CMN_WEBHOOK_TOKEN_BYTES &&
        !strpbrk(config->bearer_token, "\r\n"))
        self->token = strdup(config->bearer_token);
    self->config.bearer_token = NULL; /* self->token is the copy */
    self->sent = s_family(self, true, "sent_total",
                          "Events delivered to the webhook (2xx).");
    self->failed = s_family(self, true, "failed_total",
                            "Events given up after the last retry or a 4xx.");
    self->retried = s_family(self, true, "retried_total",
                             "Failed webhook attempts followed by a retry.");
    self->dropped = s_family(self, true, "dropped_total",
                             "Events dropped: queue or pipe full, too large, "
                             "or undelivered at shutdown.");
    self->depth = s_family(self, false, "queue_depth",
                           "Events waiting for the webhook, the one being "
                           "delivered included.");
    self->config.endpoint = self->endpoint;
    self->config.metric_prefix = NULL; /* only used above */
    if (!self->endpoint || !self->sent || !self->failed || !self->retried ||
        !self->dropped || !self->depth) {
        cmn_webhook_destroy(&self);
        return NULL;
    }
    self->actor = zactor_new(s_queue_actor, self);
    if (!self->actor) {
        cmn_webhook_destroy(&self);
        return NULL;
    }
    cmn_log_info("webhook", "started",
                 "endpoint=%s timeout_ms=%lld max_retries=%d backoff_ms=%lld "
                 "queue_capacity=%zu",
                 self->endpoint, (long long)config->timeout_ms,
                 config->max_retries, (long long)config->backoff_ms,
                 config->queue_capacity);
    return self;
}

void cmn_webhook_destroy(cmn_webhook_t **self_p)
{
    assert(self_p);
    cmn_webhook_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->actor);
    free(self->endpoint);
    free(self->token);
    free(self);
    *self_p = NULL;
}

int cmn_webhook_post(cmn_webhook_t *self, const char *json)
{
    assert(self && json);
    size_t length = strlen(json);
    if (length > CMN_WEBHOOK_MAX_BODY_BYTES) {
        cmn_series_inc(self->dropped);
        cmn_log_error("webhook", "refused", "reason=too_large bytes=%zu max=%d",
                      length, CMN_WEBHOOK_MAX_BODY_BYTES);
        return -1;
    }
    void *handle = zsock_resolve(zactor_sock(self->actor));
    /* A message is queued whole or not at all: once the first part is
     * accepted the second is too. */
    if (zmq_send(handle, CMN_WEBHOOK_CMD_POST, strlen(CMN_WEBHOOK_CMD_POST),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(handle, json, length, ZMQ_DONTWAIT) < 0) {
        cmn_series_inc(self->dropped);
        return CMN_WEBHOOK_DROPPED;
    }
    return 0;
}
