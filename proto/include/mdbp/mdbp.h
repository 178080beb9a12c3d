/* mdbp: the whole public interface of libmdbp, the codec of the
 * market-data backpressure wire protocol v1 (see API.md; the specs are
 * feedback.md and ingest.md).
 *
 * Build against the installed library with pkg-config:
 *   cc app.c $(pkg-config --cflags --libs mdbp)
 * Each header also stands alone; all are C11 and C++ (extern "C"). */
#ifndef MDBP_MDBP_H
#define MDBP_MDBP_H

#include <mdbp/buffer.h>
#include <mdbp/common.h>
#include <mdbp/feedback.h>
#include <mdbp/ingest.h>
#include <mdbp/subscription.h>
#include <mdbp/text.h>

#endif
