"""Slow consumers: a feedback subscriber that never reads (RCVHWM 1) and a
database that takes ~100 ms per transaction never stop the coordinator from
answering batches (ack, or nack full at once when the queue is full) and
publishing heartbeats on time to a subscriber that does read. Heartbeat
spacing is read from the events' own `ts_ns`, with a bound of 10 intervals:
a publisher stuck behind the subscriber or the database would show gaps of
seconds, a loaded CI machine only milliseconds."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Collector, Coordinator, Producer, SlowDatabase,  # noqa
                     Subscriber, batch_message, check, records, wait_for)

HEARTBEAT_MS = 100
RUN_SECONDS = 3.0
SEND_EVERY = 0.02
LONGEST_SILENCE = 2.0


def main(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=2000,
                     MDS_HEARTBEAT_MS=HEARTBEAT_MS, MDS_FEEDBACK_HWM=10,
                     MDS_BREAKER_TIMEOUT_MS=100, MDS_RETRY_BASE_MS=10,
                     MDS_RETRY_MAX_MS=50) as coordinator:
        coordinator.start(ready=True)
        stuck = Subscriber(coordinator.feedback_endpoint, rcvhwm=1)
        collector = Collector(Subscriber(coordinator.feedback_endpoint))
        collector.start()
        wait_for(lambda: collector.events, 5, "a first event")
        producer = Producer(coordinator.ingest_endpoint)
        sent = 0
        answered = set()
        silence = 0.0
        with SlowDatabase(coordinator.db_path):
            started = last_reply = time.monotonic()
            while time.monotonic() - started < RUN_SECONDS:
                sent += 1
                producer.send_raw(batch_message("slow", sent,
                                                records(sent * 200, 200)))
                until = time.monotonic() + SEND_EVERY
                while time.monotonic() < until:
                    reply = producer.recv(max(0.0, until - time.monotonic()))
                    if reply:
                        answered.add(reply["batch_seq"])
                        last_reply = time.monotonic()
                if len(answered) < sent:
                    silence = max(silence, time.monotonic() - last_reply)
                    check(silence < LONGEST_SILENCE,
                          "no reply for %.1f s (%d sent, %d answered)"
                          % (silence, sent, len(answered)))
        # Every batch is answered in the end.
        deadline = time.monotonic() + 30
        while len(answered) < sent and time.monotonic() < deadline:
            reply = producer.recv(1.0)
            if reply:
                answered.add(reply["batch_seq"])
        check(len(answered) == sent, "%d of %d answered" % (len(answered), sent))
        events = collector.stop()
        # By the coordinator's own publication times: the claim is that
        # the publisher never stalls, not that this process reads on time.
        beats = [event["ts_ns"] / 1e9 for _, event in events
                 if event["type"] == "heartbeat"]
        check(len(beats) >= RUN_SECONDS * 1000 / HEARTBEAT_MS / 2,
              "only %d heartbeats" % len(beats))
        widest = max(b - a for a, b in zip(beats, beats[1:]))
        # Never stalled behind the stuck subscriber or the slow database
        # (generous bound: the point is "keeps publishing", not timing).
        check(widest < 1.0, "heartbeats %.0f ms apart" % (widest * 1000))
        check(coordinator.health(), "not healthy")
        kinds = sorted({"%s/%s" % (r["type"], r.get("reason", ""))
                        for r in producer.replies})
        stuck.close()
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: %d batches answered (%s), longest silence %.0f ms, %d "
          "heartbeats, widest gap %.0f ms"
          % (sent, ", ".join(kinds), silence * 1000, len(beats), widest * 1000))


if __name__ == "__main__":
    main(sys.argv[1])
