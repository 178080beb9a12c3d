/* pl_status: what /status and /ready show, published by the actors. */
#include "pl_status.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_STATUS_SERVICE "market-data-pipeline"
/* Bytes of the document around the parts (service, ready, braces) and
 * around each part (quotes, colon, comma), NUL included. */
#define PL_STATUS_FRAME_BYTES 256
#define PL_STATUS_PART_FRAME_BYTES 8

/* The keys of the parts before the senders. */
static const char *const s_keys[PL_STATUS_SENDERS] = {"providers",
                                                      "coordinators"};
const mdbp_priority_t pl_status_importance[MDBP_PRIORITY_COUNT] = {
    MDBP_PRIORITY_CRITICAL, MDBP_PRIORITY_NORMAL, MDBP_PRIORITY_BULK};

struct _pl_status_t {
    pthread_mutex_t mutex;             /* guards parts */
    char *parts[PL_STATUS_PART_COUNT]; /* owned JSON texts or NULL */
    bool feedback;                     /* the loop is on */
    atomic_bool subscribed;
    atomic_bool fresh;
};

pl_status_t *pl_status_new(bool feedback)
{
    pl_status_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->mutex, NULL);
    self->feedback = feedback;
    atomic_init(&self->subscribed, false);
    atomic_init(&self->fresh, false);
    return self;
}

void pl_status_destroy(pl_status_t **self_p)
{
    assert(self_p);
    pl_status_t *self = *self_p;
    if (!self)
        return;
    for (int part = 0; part < PL_STATUS_PART_COUNT; part++)
        free(self->parts[part]);
    pthread_mutex_destroy(&self->mutex);
    free(self);
    *self_p = NULL;
}

static void s_replace(pl_status_t *self, int part, const char *json);

void pl_status_publish(pl_status_t *self, pl_status_part_t part,
                       const char *json)
{
    assert(self && part < PL_STATUS_SENDERS && json);
    s_replace(self, part, json);
}

void pl_status_publish_sender(pl_status_t *self, mdbp_priority_t priority,
                              const char *json)
{
    assert(self && priority < MDBP_PRIORITY_COUNT && json);
    s_replace(self, PL_STATUS_SENDERS + (int)priority, json);
}

static void s_replace(pl_status_t *self, int part, const char *json)
{
    char *copy = strdup(json);
    if (!copy)
        return; /* keep the previous text */
    pthread_mutex_lock(&self->mutex);
    char *old = self->parts[part];
    self->parts[part] = copy;
    pthread_mutex_unlock(&self->mutex);
    free(old);
}

void pl_status_set_subscribed(pl_status_t *self, bool subscribed)
{
    assert(self);
    atomic_store(&self->subscribed, subscribed);
}

void pl_status_set_fresh(pl_status_t *self, bool fresh)
{
    assert(self);
    atomic_store(&self->fresh, fresh);
}

bool pl_status_ready(pl_status_t *self)
{
    assert(self);
    if (!self->feedback)
        return true;
    return atomic_load(&self->subscribed) && atomic_load(&self->fresh);
}

/* The part of the i-th sender in importance order, or NULL. */
static const char *s_sender(const pl_status_t *self, size_t rank)
{
    for (size_t k = 0; k < MDBP_PRIORITY_COUNT; k++) {
        int index = PL_STATUS_SENDERS + (int)pl_status_importance[k];
        const char *part = self->parts[index];
        if (part && rank-- == 0)
            return part;
    }
    return NULL;
}

char *pl_status_render(pl_status_t *self)
{
    assert(self);
    bool ready = pl_status_ready(self);
    pthread_mutex_lock(&self->mutex);
    size_t length = PL_STATUS_FRAME_BYTES;
    for (int part = 0; part < PL_STATUS_PART_COUNT; part++)
        length += (part < PL_STATUS_SENDERS ? strlen(s_keys[part]) : 0) +
                  (self->parts[part] ? strlen(self->parts[part]) : 0) +
                  PL_STATUS_PART_FRAME_BYTES;
    const char *first = s_sender(self, 0);
    length += first ? strlen(first) : 0; /* "sender" repeats it */
    char *text = malloc(length);
    if (text) {
        int used = snprintf(text, length,
                            "{\"service\":\"%s\",\"ready\":%s,"
                            "\"feedback_enabled\":%s",
                            PL_STATUS_SERVICE, ready ? "true" : "false",
                            self->feedback ? "true" : "false");
        for (int part = 0; part < PL_STATUS_SENDERS; part++)
            used += snprintf(text + used, length - (size_t)used, ",\"%s\":%s",
                             s_keys[part],
                             self->parts[part] ? self->parts[part] : "[]");
        used += snprintf(text + used, length - (size_t)used,
                         ",\"sender\":%s,\"senders\":[", first ? first : "{}");
        const char *sender;
        for (size_t rank = 0; (sender = s_sender(self, rank)); rank++)
            used += snprintf(text + used, length - (size_t)used, "%s%s",
                             rank ? "," : "", sender);
        snprintf(text + used, length - (size_t)used, "]}");
    }
    pthread_mutex_unlock(&self->mutex);
    return text;
}
