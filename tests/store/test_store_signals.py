"""The loop measures the store (issue 11, protocol v1.1), against the real
binary and a real SQLite file:

1. sink down: the database locked under a short queue (far below the low
   watermark) makes the level HARD with reason `sink_down` once every
   worker's breaker is open, scale_hint 0, sink_state `down` in feedback,
   /status and metrics; unlocked, the level comes back to OK with the
   reason `recovered` and the records are stored.
2. a resend of a batch still held (same producer_id, session, batch_seq)
   from another connection is not queued again: the records are received
   once, `coordinator_resends_held_total` counts it, and exactly one ack
   goes to the newest connection, carrying the session and a credit; a
   reply for another session of the same producer id carries that one.
3. nacks carry machine-readable codes (`bad_record` with record_index and
   field; `over_capacity`), the session and a credit."""
import os
import sys
import time

import msgpack
import zmq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Collector, Coordinator, Producer, SqliteLock,  # noqa
                     Subscriber, check, records, sqlite_count, wait_for)

CAPACITY = 1000


def batch(producer_id, seq, recs, session=None):
    message = {"v": 1, "type": "batch", "producer_id": producer_id,
               "batch_seq": seq, "records": recs}
    if session is not None:
        message["session"] = session
    return msgpack.packb(message, use_bin_type=True)


def sink_down(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=CAPACITY,
                     MDS_BREAKER_TIMEOUT_MS=300, MDS_RETRY_BASE_MS=10,
                     MDS_RETRY_MAX_MS=40, MDS_SINK_RECOVERY_MS=300,
                     MDS_DWELL_MS=50) as coordinator:
        coordinator.start(ready=True)
        collector = Collector(Subscriber(coordinator.feedback_endpoint,
                                         coordinator.coordinator_id))
        collector.start()
        wait_for(lambda: collector.events, 5, "a first feedback message")
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()
        producer = Producer(coordinator.ingest_endpoint)
        producer.send_raw(batch("down", 1, records(0, 20), session=11))
        wait_for(lambda: coordinator.status()["level"] == "hard", 15,
                 "HARD with the database locked")
        status = coordinator.status()
        check(status["depth"] == 20 and status["sink_state"] == "down"
              and status["scale_hint"] == 0.0 and status["pressure"] == 1.0,
              "/status while down: %r" % status)
        metrics = coordinator.metrics()
        check(metrics["coordinator_sink_state"] == 2
              and metrics["coordinator_pressure"] == 1.0,
              "metrics while down: sink_state %r pressure %r"
              % (metrics["coordinator_sink_state"],
                 metrics["coordinator_pressure"]))
        wait_for(lambda: any(e["type"] == "transition" and e["level"] == "hard"
                             for _, e in collector.events), 5,
                 "the HARD transition")
        hard = [e for _, e in collector.events
                if e["type"] == "transition" and e["level"] == "hard"][0]
        check(hard["reason"].split(" ")[0] == "sink_down"
              and hard["sink_state"] == "down" and hard["scale_hint"] == 0.0
              and hard["queue_size"] == 20,
              "the HARD transition: %r" % hard)
        lock.release()
        wait_for(lambda: coordinator.status()["level"] == "ok", 15,
                 "OK again once the database is unlocked")
        wait_for(lambda: producer.recv(0.1) is not None, 10, "the ack")
        check(producer.replies[-1]["type"] == "ack"
              and producer.replies[-1]["session"] == 11,
              "the reply: %r" % producer.replies[-1])
        events = [e for _, e in collector.events]
        steps = [e for e in events if e["type"] == "transition"]
        check(steps[-1]["level"] == "ok"
              and steps[-1]["reason"].split(" ")[0] == "recovered",
              "the way back: %r" % [(e["level"], e["reason"]) for e in steps])
        check(sqlite_count(coordinator.db_path) == 20, "records not stored")
        collector.stop()
        producer.close()
        lock.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: sink down -> HARD (%s), then %s"
          % (hard["reason"], steps[-1]["reason"]))


def resend_held(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=CAPACITY) as coordinator:
        coordinator.start(ready=True)
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()
        context = zmq.Context.instance()
        first = Producer(coordinator.ingest_endpoint, context=context)
        second = Producer(coordinator.ingest_endpoint, context=context)
        recs = records(100, 50)
        first.send_raw(batch("resender", 7, recs, session=1234))
        wait_for(lambda: coordinator.status()["depth"] == 50, 10,
                 "the batch queued")
        # The same batch again, as after an ack timeout and a reconnect.
        second.send_raw(batch("resender", 7, recs, session=1234))
        wait_for(lambda: coordinator.metrics().get(
            "coordinator_resends_held_total", 0) == 1, 10,
                 "the resend recognised")
        check(coordinator.status()["depth"] == 50, "queued twice")
        check(coordinator.metrics()["coordinator_records_received_total"]
              == 50, "records received twice")
        lock.release()
        reply = None
        deadline = time.monotonic() + 15
        while reply is None and time.monotonic() < deadline:
            reply = second.recv(0.1)
        check(reply is not None, "no ack to the newest connection")
        check(reply["type"] == "ack" and reply["batch_seq"] == 7
              and reply["written"] == 50 and reply["session"] == 1234
              and reply["credit"] >= 1, "the ack: %r" % reply)
        # The first connection gets nothing (one answer per batch): a ping
        # batch on it is answered, and that is all it ever receives.
        first.send_raw(batch("resender", 8, [], session=1234))
        got = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not got:
            answer = first.recv(0.1)
            if answer:
                got.append(answer)
        check(len(got) == 1 and got[0]["batch_seq"] == 8,
              "the older connection received %r" % got)
        check(sqlite_count(coordinator.db_path) == 50, "records not once")
        first.close()
        second.close()
        lock.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: a resend of a held batch kept once, acked once to the newest "
          "connection (credit %d)" % reply["credit"])


def nack_codes(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=100) as coordinator:
        coordinator.start(ready=True)
        producer = Producer(coordinator.ingest_endpoint)
        bad = records(0, 3, kinds=("trade",))
        bad[2][4] = -1.0  # price must be > 0
        producer.send_raw(batch("codes", 1, bad, session=99))
        reply = producer.recv(5)
        check(reply and reply["type"] == "nack"
              and reply["reason"] == "malformed"
              and reply["code"] == "bad_record"
              and reply["record_index"] == 2 and reply["field"] == "price"
              and reply["session"] == 99 and "credit" in reply,
              "bad record nack: %r" % reply)
        producer.send_raw(batch("codes", 2, records(0, 101), session=99))
        reply = producer.recv(5)
        check(reply and reply["code"] == "over_capacity"
              and reply["reason"] == "malformed",
              "over capacity nack: %r" % reply)
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: nack codes bad_record (index 2, field price), over_capacity")


if __name__ == "__main__":
    sink_down(sys.argv[1])
    resend_held(sys.argv[1])
    nack_codes(sys.argv[1])
