#!/usr/bin/python3
"""A consumer of mds-coordinator's feedback channel: a thin command line
over the mdbp package (python/, `pip install ./python`), which implements
proto/feedback.md. Without the package installed it uses the copy in this
source tree.

Library use (the package's):

    from mdbp.feedback import FeedbackClient
    client = FeedbackClient(["tcp://127.0.0.1:5556"], coordinator="coord-1")
    while True:
        for update in client.poll(timeout_s=0.5):
            print(update.coordinator_id, update.kind, update.state)
        for coordinator_id in client.check_staleness():
            print(coordinator_id, "is stale: apply the fail-safe")

Command line: feedback_client.py --endpoint tcp://HOST:5556 [--coordinator ID]
[--count N] [--timeout SECONDS] [--json]; see --help. What the client checks
and tracks is described in mdbp/feedback.py."""
import argparse
import json
import math
import os
import sys
import time

import zmq

try:
    import mdbp  # noqa: F401  (installed)
except ImportError:  # not installed: the package of this source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), os.pardir, os.pardir, "python"))
from mdbp.feedback import (DEFAULT_ENDPOINT, LEVELS, OPTIONAL,  # noqa: F401
                           REQUIRED, TOPIC_PREFIX, TYPES, VERSION,
                           CoordinatorState, FeedbackClient, Malformed,
                           Update, VersionMismatch, decode, decode_body,
                           topic_for, unpack_map)


def _text_line(update):
    state = update.state
    notes = []
    if update.gap:
        notes.append("gap=%d" % update.gap)
    if update.restarted:
        notes.append("restarted")
    if update.recovered:
        notes.append("recovered")
    if "reason" in state:
        notes.append("reason=%r" % state["reason"])
    for key in ("sink_state", "oldest_age_ms", "pressure", "credit_initial"):
        if key in state:
            notes.append("%s=%s" % (key, state[key]))
    if update.gone:
        notes.append("going_away: forgotten")
    return "%s %s epoch=%d seq=%d level=%s prev=%s queue=%d/%d " \
           "scale_hint=%.3f ttl_ms=%d%s" % (
               state["coordinator_id"], state["type"], state["epoch"],
               state["seq"], state["level"], state["prev_level"],
               state["queue_size"], state["capacity"], state["scale_hint"],
               state["ttl_ms"], "".join(" " + note for note in notes))


def _positive_seconds(text):
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be >= 0 seconds")
    return value


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Prints the feedback of mds-coordinator and tracks each "
                    "coordinator's epoch, seq gaps, level and staleness.")
    parser.add_argument("--endpoint", action="append",
                        help="endpoint to connect to (repeatable or "
                             "comma-separated; default %s)" % DEFAULT_ENDPOINT)
    parser.add_argument("--coordinator",
                        help="only this coordinator id (exact match)")
    parser.add_argument("--count", type=_count, default=0,
                        help="exit after this many messages (0: no limit)")
    parser.add_argument("--timeout", type=_positive_seconds, default=0,
                        help="exit after this many seconds (0: no limit)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line instead of text")
    args = parser.parse_args(argv)
    endpoints = [part for value in (args.endpoint or [DEFAULT_ENDPOINT])
                 for part in value.split(",") if part]
    if not endpoints:
        parser.error("--endpoint: no endpoint given")
    try:
        client = FeedbackClient(endpoints, coordinator=args.coordinator)
    except (ValueError, zmq.ZMQError) as error:
        parser.error("%s" % error)

    def emit(obj, text):
        print(json.dumps(obj) if args.json else text, flush=True)

    start = time.monotonic()
    received = 0
    malformed_seen = 0
    try:
        while args.count == 0 or received < args.count:
            wait_s = 0.2
            if args.timeout:
                left = start + args.timeout - time.monotonic()
                if left <= 0:
                    break
                wait_s = min(wait_s, left)
            for update in client.poll(wait_s):
                emit(update.as_dict(), _text_line(update))
                received += 1
                if args.count and received >= args.count:
                    break
            if client.malformed != malformed_seen:
                malformed_seen = client.malformed
                print("feedback_client: dropped malformed message (%d so "
                      "far): %s" % (malformed_seen, client.last_error),
                      file=sys.stderr, flush=True)
            for coordinator_id in client.check_staleness():
                emit({"stale": coordinator_id},
                     "%s stale: no message within ttl_ms, apply the "
                     "fail-safe" % coordinator_id)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    summary = {"received": received, "malformed": client.malformed,
               "gone": client.gone,
               "version_mismatches": client.version_mismatches,
               "coordinators": [c.summary()
                                for c in client.coordinators.values()]}
    print("feedback_client: summary %s" % json.dumps(summary),
          file=sys.stderr, flush=True)
    wanted = args.count or 1
    return 0 if received >= wanted else 1


if __name__ == "__main__":
    sys.exit(main())
