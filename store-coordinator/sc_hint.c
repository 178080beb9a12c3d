/* sc_hint: the plain-language explanation of the level (see sc_hint.h). */
#include "sc_hint.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const s_reason_names[SC_HINT_REASON_COUNT] = {
    "none", "depth", "sojourn", "sink_down", "recovered"};

sc_hint_reason_t sc_hint_reason_of(const char *reason)
{
    if (!reason)
        return SC_HINT_REASON_NONE;
    size_t length = strcspn(reason, " ");
    for (int index = SC_HINT_REASON_DEPTH; index < SC_HINT_REASON_COUNT;
         index++)
        if (strlen(s_reason_names[index]) == length &&
            strncmp(reason, s_reason_names[index], length) == 0)
            return (sc_hint_reason_t)index;
    return SC_HINT_REASON_NONE;
}

const char *sc_hint_reason_name(sc_hint_reason_t reason)
{
    assert(reason >= SC_HINT_REASON_NONE && reason < SC_HINT_REASON_COUNT);
    return s_reason_names[reason];
}

/* Where the queue stands against the watermarks, as a phrase. */
static const char *s_depth_phrase(const sc_hint_input_t *input)
{
    uint64_t depth = input->depth, band = input->dead_band;
    if (depth >= input->high)
        return "queue above high watermark";
    /* A level is left only below its watermark minus the dead-band. */
    if (input->level == MDBP_LEVEL_HARD && depth + band >= input->high)
        return "queue below high watermark but not yet below it minus the "
               "dead-band";
    if (depth > input->low)
        return "queue above low watermark";
    if (input->level != MDBP_LEVEL_OK && depth + band > input->low)
        return "queue below low watermark but not yet below it minus the "
               "dead-band";
    return "queue below low watermark";
}

/* Why the level is what it is: the sink now first (it overrides an older
 * reason), then the reason of the last change. */
static void s_cause(const sc_hint_input_t *input, char *out, size_t size)
{
    const char *depth = s_depth_phrase(input);
    bool above_low = input->depth > input->low;
    if (input->sink_state == MDBP_SINK_STATE_DOWN) {
        if (above_low)
            snprintf(out, size, "%s because the sink is down", depth);
        else
            snprintf(out, size, "the sink is down (nothing is written)");
        return;
    }
    switch (input->reason) {
    case SC_HINT_REASON_SINK_DOWN:
    case SC_HINT_REASON_RECOVERED:
        if (input->level == MDBP_LEVEL_OK)
            snprintf(out, size, "the sink recovered and the %s", depth);
        else
            snprintf(out, size,
                     "the sink is writing again after an outage, "
                     "%s",
                     depth);
        return;
    case SC_HINT_REASON_SOJOURN:
        if (input->level == MDBP_LEVEL_OK)
            snprintf(out, size, "records no longer wait past the target, %s",
                     depth);
        else
            snprintf(out, size,
                     "records wait longer than the target (the "
                     "sink is slow), %s",
                     depth);
        return;
    case SC_HINT_REASON_DEPTH:
    case SC_HINT_REASON_NONE:
    case SC_HINT_REASON_COUNT:
        break;
    }
    if (input->sink_state == MDBP_SINK_STATE_DEGRADED && above_low)
        snprintf(out, size, "%s while the sink is degraded (retrying)", depth);
    else if (input->sink_state == MDBP_SINK_STATE_DEGRADED)
        snprintf(out, size, "%s; the sink is degraded (retrying)", depth);
    else
        snprintf(out, size, "%s", depth);
}

static const char *s_effect(mdbp_level_t level)
{
    return level == MDBP_LEVEL_HARD   ? "producers paused"
           : level == MDBP_LEVEL_SOFT ? "producers slowed"
                                      : "producers at full rate";
}

const char *sc_hint_text(const sc_hint_input_t *input, char *out, size_t size)
{
    assert(input && out);
    if (size == 0)
        return out;
    if (input->draining) {
        snprintf(out, size,
                 "shutting down: new batches refused while the "
                 "queue is written out");
        return out;
    }
    char cause[SC_HINT_MAX];
    s_cause(input, cause, sizeof cause);
    if (input->level != MDBP_LEVEL_OK && input->dwell_remaining_ms > 0)
        snprintf(out, size, "%s: %s (held at least %lld ms more: dwell)", cause,
                 s_effect(input->level), (long long)input->dwell_remaining_ms);
    else
        snprintf(out, size, "%s: %s", cause, s_effect(input->level));
    return out;
}
