"""Early heartbeats against a live coordinator (proto/feedback.md section 5):
when scale_hint moves by 0.05 or more since the last message, a heartbeat
goes out at once, between the regular ones.

The sink is a PostgreSQL address where nothing listens, so every record
sent stays queued and the depth is exactly what we sent. Capacity 100
(low 50, high 80): a first batch of 50 records (scale_hint 1.0), then
batches of 3 records, each moving scale_hint by 0.1 through the SOFT band.
Each step waits (with a deadline) for a message carrying the new depth
before the next batch, so every step is seen on its own. The regular
heartbeat interval is 5 s; the steps take far less, so most of the
heartbeats seen must be early ones: the test counts how many regular ones
could have fallen in the span (measured with the coordinator's own ts_ns)
and requires every SOFT step to have its own heartbeat with the step's
depth and scale_hint, with consecutive seq throughout."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, Subscriber, batch_message,  # noqa
                     check, free_port, records, wait_for)

CAPACITY = 100
LOW, HIGH = 50, 80
STEP = 3  # records: 0.1 of scale_hint between LOW and HIGH
HEARTBEAT_MS = 5000
JITTER = 0.1  # the regular interval is HEARTBEAT_MS +- 10 %
DEADLINE_S = 20  # each wait ends well before this or fails


def scale_hint(size):
    if size <= LOW:
        return 1.0
    if size >= HIGH:
        return 0.0
    return (HIGH - size) / (HIGH - LOW)


def wait_for_depth(subscriber, depth, events):
    """Reads messages into `events` until one carries `depth`."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        check(time.monotonic() < deadline,
              "no feedback message with queue_size %d within %d s; got %r"
              % (depth, DEADLINE_S, events[-3:]))
        got = subscriber.recv(0.05)
        if got is None:
            continue
        event = got[1]
        events.append(event)
        if event["queue_size"] == depth:
            return event


def main(binary):
    unreachable = "postgres://postgres@127.0.0.1:%d/none" % free_port()
    with Coordinator(binary, sink=unreachable, MDS_QUEUE_CAPACITY=CAPACITY,
                     MDS_HEARTBEAT_MS=HEARTBEAT_MS, MDS_DRAIN_TIMEOUT_MS=0,
                     MDS_LOG_LEVEL="warning") as coordinator:
        coordinator.start()
        subscriber = Subscriber(coordinator.feedback_endpoint,
                                coordinator.coordinator_id)
        events = []
        # The snapshot answering our subscription (depth 0).
        wait_for_depth(subscriber, 0, events)
        producer = Producer(coordinator.ingest_endpoint)

        depth = LOW
        producer.send_raw(batch_message("early", 1, records(0, LOW)))
        # scale_hint is still 1.0 at LOW: no message announces this depth
        # before the regular heartbeat, so ask /status.
        wait_for(lambda: coordinator.status()["depth"] == LOW, DEADLINE_S,
                 "depth %d" % LOW)
        first = len(events)  # messages from here on are the steps'
        steps = []
        seq = 1
        while depth + STEP < HIGH:
            seq += 1
            producer.send_raw(batch_message("early", seq,
                                            records(seq * 1000, STEP)))
            depth += STEP
            steps.append(depth)
            wait_for_depth(subscriber, depth, events)
        check(producer.recv(0) is None,
              "a batch was answered: %r" % producer.replies)

        seqs = [event["seq"] for event in events]
        check(seqs == list(range(seqs[0], seqs[0] + len(seqs))),
              "seq not consecutive: %r" % seqs)
        check(len({event["epoch"] for event in events}) == 1, "epoch changed")
        stepped = events[first:]
        by_depth = {}
        for event in stepped:
            check(abs(event["scale_hint"] - scale_hint(event["queue_size"]))
                  < 1e-9, "scale_hint %r at depth %d"
                  % (event["scale_hint"], event["queue_size"]))
            by_depth.setdefault(event["queue_size"], []).append(event)
        # The first step crosses into SOFT: its message may be the
        # transition (which carries the hint too); every later step must
        # have a heartbeat of its own.
        soft_steps = [d for d in steps
                      if by_depth[d][0]["type"] != "transition"]
        check(len(soft_steps) >= len(steps) - 1,
              "transitions at %r" % [d for d in steps
                                     if d not in soft_steps])
        for d in soft_steps:
            check(any(event["type"] == "heartbeat" and event["level"] == "soft"
                      for event in by_depth[d]),
                  "no heartbeat at depth %d: %r" % (d, by_depth[d]))
        hints = [by_depth[d][0]["scale_hint"] for d in steps]
        check(all(a - b >= 0.05 - 1e-9 for a, b in zip(hints, hints[1:])),
              "scale_hint did not move down by >= 0.05 per step: %r" % hints)

        # How many regular heartbeats could have fallen in the span of the
        # steps' messages (coordinator time): the rest are early ones.
        heartbeats = [e for e in stepped if e["type"] == "heartbeat"]
        span_ms = (stepped[-1]["ts_ns"] - stepped[0]["ts_ns"]) / 1e6
        regular_max = int(span_ms / (HEARTBEAT_MS * (1 - JITTER))) + 1
        check(len(heartbeats) - regular_max >= len(soft_steps) - 1,
              "%d heartbeats over %.0f ms: at most %d regular, too few early"
              % (len(heartbeats), span_ms, regular_max))
        producer.close()
        subscriber.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: %d steps through SOFT, %d heartbeats over %.0f ms (at most %d "
          "regular), scale_hint %s" % (len(steps), len(heartbeats), span_ms,
                                       regular_max,
                                       " ".join("%.2f" % h for h in hints)))


if __name__ == "__main__":
    main(sys.argv[1])
