/* sc_engine: what the coordinator's pure engines (sc_intake, sc_announcer,
 * sc_writer, beside sc_queue, sc_watermark, sc_breaker) share.
 *
 * The rule (ARCHITECTURE.md, STYLE.md "Engines and shells"): an engine never
 * includes czmq.h, owns no socket and reads no clock. It takes its inputs
 * and the current monotonic time `now_ns`, returns what to do, and says when
 * it next wants to be called (its deadline); the actor that owns it (the
 * shell) arms one timer from that deadline. A unit test checks that no
 * engine includes czmq.h. */
#ifndef SC_ENGINE_H
#define SC_ENGINE_H

#include <stdint.h>

/* "No deadline": the engine has nothing to do until its next input. */
#define SC_ENGINE_NEVER INT64_MAX

/* A source of random bits for jitter (e.g. cmn_random_next over a state the
 * shell owns). Tests pass fixed sequences to pin the extremes. */
typedef uint64_t(sc_engine_random_fn)(void *arg);

#endif
