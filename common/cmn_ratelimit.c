/* cmn_ratelimit: one log line per interval (see cmn_ratelimit.h). */
#include "cmn_ratelimit.h"

#include <assert.h>
#include <stddef.h>

cmn_ratelimit_t cmn_ratelimit_make(int64_t interval_ns)
{
    assert(interval_ns >= 0);
    return (cmn_ratelimit_t){.interval_ns = interval_ns};
}

bool cmn_ratelimit_allow(cmn_ratelimit_t *self, int64_t now_ns,
                         uint64_t *suppressed)
{
    assert(self);
    if (self->started && now_ns - self->last_ns < self->interval_ns) {
        self->suppressed++;
        return false;
    }
    if (suppressed)
        *suppressed = self->suppressed;
    self->started = true;
    self->last_ns = now_ns;
    self->suppressed = 0;
    return true;
}
