"""/status explains the level (issue 15), against the real binary and a real
SQLite file:

1. sink down: the database locked makes the level HARD; /status says reason
   `sink_down`, a `since` time, the seconds in the level, sink state `down`
   and the hint "... the sink is down: producers paused"; /ready is 503 and
   its body says why. Unlocked, the level comes back to OK with reason
   `recovered` and a hint at full rate.
2. overload: a sink slowed by a lock held most of the time and a producer
   that ignores credits: the incoming (admitted) rate is above the written
   rate, the offered rate at least the incoming one, and the hint names the
   queue against the watermarks."""
import json
import os
import sys

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, SlowDatabase, SqliteLock,  # noqa
                     check, records, wait_for)

CAPACITY = 1000
OVERLOAD_CAPACITY = 20000
OVERLOAD_BATCHES = 200      # bounded: below the ingest RCVHWM of 256
OVERLOAD_BATCH_RECORDS = 100
FLOOD_BATCHES_PER_POLL = 5
FLOOD_BATCHES_MAX = 4000    # 400,000 records at most


def batch(producer_id, seq, recs):
    return msgpack.packb({"v": 1, "type": "batch", "producer_id": producer_id,
                          "batch_seq": seq, "records": recs},
                         use_bin_type=True)


def sink_down(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=CAPACITY,
                     MDS_BREAKER_TIMEOUT_MS=300, MDS_RETRY_BASE_MS=10,
                     MDS_RETRY_MAX_MS=40, MDS_SINK_RECOVERY_MS=300,
                     MDS_DWELL_MS=50) as coordinator:
        coordinator.start(ready=True)
        status = coordinator.status()
        check(status["level"] == "ok" and status["reason"] == "none"
              and "producers at full rate" in status["hint"]
              and status["since"].endswith("Z")
              and status["sink"]["state"] == "up",
              "/status at start: %r" % status)
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()
        producer = Producer(coordinator.ingest_endpoint)
        producer.send_raw(batch("down", 1, records(0, 20)))
        wait_for(lambda: coordinator.status()["reason"] == "sink_down", 15,
                 "reason sink_down with the database locked")
        status = coordinator.status()
        check(status["level"] == "hard" and status["sink_state"] == "down"
              and status["sink"]["state"] == "down"
              and "the sink is down" in status["hint"]
              and ": producers paused" in status["hint"]
              and status["seconds_in_level"] >= 0
              and status["since_ms"] > 0 and status["dwell_remaining_ms"] >= 0,
              "/status while down: %r" % status)
        code, body = coordinator.get("/ready")
        ready = json.loads(body)
        check(code == 503 and ("breaker" in ready.get("reason", "")
                               or "sink is down" in ready.get("reason", "")),
              "/ready while down: %s %s" % (code, body))
        lock.release()
        lock.close()
        wait_for(lambda: coordinator.status()["level"] == "ok", 15,
                 "OK once the database is unlocked")
        status = coordinator.status()
        check(status["reason"] == "recovered"
              and "producers at full rate" in status["hint"]
              and status["dwell_remaining_ms"] == 0,
              "/status after recovery: %r" % status)
        producer.close()
        check(coordinator.stop() == 0, "clean exit")


def overload(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=OVERLOAD_CAPACITY,
                     MDS_BATCH_SIZE=500,
                     MDS_SINK_STALL_MS=0) as coordinator:
        coordinator.start(ready=True)
        # A v1 producer that never reads its credits: it offers more than
        # the store writes.
        producer = Producer(coordinator.ingest_endpoint, "flood")
        # Packed first, then sent at once: the burst lands in one window.
        burst = [batch("flood", seq, records(seq * OVERLOAD_BATCH_RECORDS,
                                             OVERLOAD_BATCH_RECORDS))
                 for seq in range(1, OVERLOAD_BATCHES + 1)]
        with SlowDatabase(coordinator.db_path, hold=0.2, gap=0.01):
            for message in burst:
                producer.send_raw(message)
            seen = {}
            # Then a steady flood while /status is polled (bounded): a
            # single burst can be written inside one rate window before
            # the lock holder gets the database (seen under load).
            sent = [OVERLOAD_BATCHES]

            def incoming_above_written():
                for _ in range(FLOOD_BATCHES_PER_POLL):
                    if sent[0] >= FLOOD_BATCHES_MAX:
                        break
                    sent[0] += 1
                    producer.send_raw(batch(
                        "flood", sent[0],
                        records(sent[0] * OVERLOAD_BATCH_RECORDS,
                                OVERLOAD_BATCH_RECORDS)))
                status = coordinator.status()
                seen.update(status)
                return (status["incoming_rate"] > status["written_rate"]
                        and status["incoming_rate"] > 0)
            try:
                wait_for(incoming_above_written, 20,
                         "incoming rate above the written rate")
            except AssertionError:
                print("last /status: %r" % seen)
                raise
            check(seen["offered_rate"] >= seen["incoming_rate"]
                  and seen["duplicates_rate"] == 0
                  # The queue's words, or, when the slowed database made
                  # a breaker open meanwhile, the sink's (seen under load).
                  and (seen["hint"].startswith("queue ")
                       or (seen["hint"].startswith("the sink is down")
                           and seen["sink_state"] == "down"))
                  and "producers" in seen["hint"],
                  "/status overloaded: %r" % seen)
        producer.close()
        check(coordinator.stop() == 0, "clean exit")


def main():
    binary = sys.argv[1]
    sink_down(binary)
    overload(binary)
    print("ok")


if __name__ == "__main__":
    main()
