#!/usr/bin/python3
"""The webhook broadcaster of a live mds-coordinator (MDS_FB_ENABLE_HTTP_
BROADCAST): a receiver that is down, then hung, then up.

Transitions are made by holding the SQLite write lock while 900 records
arrive (capacity 1000: SOFT, then HARD), then releasing it (drain: OK). While
the receiver is down (port refused) and then hung (every request blocked on
a lock this test holds), the coordinator still acks every batch: the
webhook never slows ingest. Once the receiver answers, it gets every
transition, in the order of their `seq`, each as JSON with feedback.md's
keys. Delivery is at least once: a request that timed out while hung may
arrive twice, so order is checked on first arrivals.
Usage: test_webhook_live.py mds-coordinator"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sec_support as sec  # noqa: E402
from harness import (Collector, Coordinator, Producer, SqliteLock,  # noqa: E402
                     Subscriber, batch_message, records, wait_for)

COORDINATOR = sys.argv[1]
DEADLINE_S = 30
PREFIX = "mds_feedback_webhook_"
checker = sec.Checker()


def cycle(coordinator, producer, first_seq):
    """SOFT, HARD, then OK again; returns how many batches were acked."""
    lock = SqliteLock(coordinator.db_path)
    lock.acquire()
    seqs = list(range(first_seq, first_seq + 9))
    for seq in seqs:
        producer.send_raw(batch_message("webhook", seq, records(seq * 100, 100)))
    wait_for(lambda: coordinator.status()["level"] == "hard", DEADLINE_S,
             "level HARD with the database locked")
    lock.release()
    lock.close()
    acked = set()

    def all_acked():
        reply = producer.recv(0.05)
        if reply and reply["type"] == "ack":
            acked.add(reply["batch_seq"])
        return acked >= set(seqs)
    wait_for(all_acked, DEADLINE_S, "acks after the database came back")
    wait_for(lambda: coordinator.status()["level"] == "ok", DEADLINE_S,
             "level OK after draining")
    return len(acked & set(seqs))


def transitions(collector):
    return [event for _, event in list(collector.events)
            if event["type"] == "transition"]


def main():
    reserved, port = sec.reserve_port()
    endpoint = "http://127.0.0.1:%d/hooks/feedback" % port
    with Coordinator(COORDINATOR, MDS_QUEUE_CAPACITY=1000,
                     MDS_HEARTBEAT_MS=200, MDS_BREAKER_TIMEOUT_MS=200,
                     MDS_RETRY_BASE_MS=10, MDS_RETRY_MAX_MS=50,
                     MDS_FB_ENABLE_HTTP_BROADCAST="true",
                     MDS_FB_HTTP_ENDPOINT=endpoint,
                     MDS_FB_HTTP_TIMEOUT=0.5, MDS_FB_HTTP_MAX_RETRIES=1000,
                     MDS_FB_HTTP_BACKOFF=0.02,
                     MDS_FB_HTTP_BACKOFF_MAX=0.2) as coordinator:
        coordinator.start(ready=True)
        collector = Collector(Subscriber(coordinator.feedback_endpoint,
                                         coordinator.coordinator_id))
        collector.start()
        wait_for(lambda: collector.events, 5, "a first feedback message")
        producer = Producer(coordinator.ingest_endpoint)

        # Down: connection refused.
        acked = cycle(coordinator, producer, 1)
        checker.check("receiver down: every batch acked", acked == 9, acked)
        retried = sec.wait_until(
            lambda: coordinator.metrics().get(PREFIX + "retried_total", 0) >= 2,
            DEADLINE_S)
        checker.check("receiver down: posts retried", retried,
                      coordinator.metrics())

        # Hung: the receiver accepts and blocks on the gate we hold.
        receiver = None
        with_gate = False
        try:
            reserved.close()
            receiver = sec.Receiver(port)
            receiver.gate.acquire()
            with_gate = True
            reached = sec.wait_until(lambda: receiver.count_entered() >= 1,
                                     DEADLINE_S)
            checker.check("receiver hung: a retry reached it", reached)
            acked = cycle(coordinator, producer, 100)
            checker.check("receiver hung: every batch acked (ingest "
                          "unaffected)", acked == 9, acked)
            checker.check("receiver hung: nothing recorded yet",
                          receiver.received() == [], receiver.received())
            before = coordinator.metrics().get(PREFIX + "retried_total", 0)
            timed_out = sec.wait_until(
                lambda: coordinator.metrics().get(PREFIX + "retried_total", 0)
                > before, DEADLINE_S)
            checker.check("receiver hung: the attempt timed out and is "
                          "retried", timed_out)
        finally:
            if with_gate:
                receiver.gate.release()

        # Up: everything arrives, in order.
        published = sec.wait_until(
            lambda: len(transitions(collector)) >= 6
            and transitions(collector)[-1]["level"] == "ok", DEADLINE_S)
        checker.check("two rounds of transitions published (ok at the end)",
                      published, transitions(collector))
        expected = [event["seq"] for event in transitions(collector)]

        def distinct():
            seen = []
            for body in receiver.received():
                seq = json.loads(body)["seq"]
                if seq not in seen:
                    seen.append(seq)
            return seen
        arrived = sec.wait_until(lambda: len(distinct()) >= len(expected),
                                 DEADLINE_S)
        checker.check("receiver up: every transition arrived", arrived,
                      (distinct(), expected))
        checker.check("receiver up: in seq order", distinct() == expected,
                      (distinct(), expected))
        bodies = [json.loads(body) for body in receiver.received()]
        published = {event["seq"]: event for event in transitions(collector)}
        same = all(body["type"] == "transition"
                   and body["coordinator_id"] == coordinator.coordinator_id
                   and body["level"] in ("ok", "soft", "hard")
                   and body["level"] == published[body["seq"]]["level"]
                   and body["prev_level"]
                   == published[body["seq"]]["prev_level"]
                   and body["v"] == 1 and "queue_size" in body
                   and "scale_hint" in body and "ttl_ms" in body
                   for body in bodies)
        checker.check("bodies: feedback.md keys, level names, as published",
                      same, bodies[:3])
        sent = sec.wait_until(
            lambda: coordinator.metrics().get(PREFIX + "sent_total", 0)
            >= len(expected), DEADLINE_S)
        checker.check("metrics: every transition counted sent", sent,
                      coordinator.metrics())
        metrics = coordinator.metrics()
        checker.check("metrics: nothing failed or dropped",
                      metrics.get(PREFIX + "failed_total", 0) == 0
                      and metrics.get(PREFIX + "dropped_total", 0) == 0,
                      metrics)
        collector.stop()
        producer.close()
        coordinator.stop()
        receiver.close()
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
