"""Shutdown. (1) SIGTERM with a full queue: new batches are nacked
`draining`, the queue is flushed once the database is back, every acked
record is in the database, exit 0. (2) SIGTERM while the database stays
locked past MDS_DRAIN_TIMEOUT_MS: the queued records go to the dead-letter
file (fsync'd) and their batches are acked with `dead_lettered`; `dlq replay`
then sends them through a new coordinator and all are stored once. (3) A
SIGHUP changes nothing; a second SIGTERM during a drain that cannot finish
(database locked, drain timeout far away) cuts it short: the queue is
dead-lettered and acked at once and the process exits 0. (4) After the
drain, until the process exits, every batch is answered `nack draining`
(never silence); the socket closes last and the producer sees the
disconnect; every record acked before SIGTERM is stored, none nacked is;
the shutdown heartbeat is the last feedback message, although regular
heartbeats (every 100 ms) would fall in that window."""
import os
import signal
import subprocess
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, SqliteLock, Subscriber,  # noqa
                     batch_message, check, key_of, records, sqlite_count,
                     sqlite_keys, wait_for)

BATCH = 100


def fill(coordinator, producer, batches, capacity):
    """Sends `batches` batches at once; waits until the queue is full."""
    sent = {}
    for seq in range(1, batches + 1):
        recs = records(seq * BATCH, BATCH)
        sent[seq] = recs
        producer.send_raw(batch_message("shutdown", seq, recs))
    wait_for(lambda: coordinator.status()["depth"] == capacity, 10,
             "a full queue")
    return sent


def collect(producer, expected, timeout, what, replies=None):
    """Reads replies into `replies` (by batch_seq) until it holds
    `expected`."""
    replies = {} if replies is None else replies

    def done():
        reply = producer.recv(0.05)
        if reply:
            replies.setdefault(reply["batch_seq"], reply)
        return len(replies) >= expected
    wait_for(done, timeout, what)
    return replies


def flush_on_sigterm(binary):
    capacity = 2000
    with Coordinator(binary, MDS_QUEUE_CAPACITY=capacity,
                     MDS_DRAIN_TIMEOUT_MS=20000, MDS_BREAKER_TIMEOUT_MS=200,
                     MDS_RETRY_BASE_MS=10, MDS_RETRY_MAX_MS=50) as coordinator:
        coordinator.start(ready=True)
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()
        producer = Producer(coordinator.ingest_endpoint)
        sent = fill(coordinator, producer, 25, capacity)
        full = collect(producer, 5, 10, "nacks for the batches over capacity")
        check(all(r["type"] == "nack" and r["reason"] == "full"
                  for r in full.values()), "over capacity: %r" % full)
        # Each with a usable hint: within the documented 5..5000 ms, or the
        # breaker timeout while the breaker is open.
        check(all(5 <= r["retry_after_ms"] <= 5000 for r in full.values()),
              "retry hints %r" % [r["retry_after_ms"] for r in full.values()])

        coordinator.signal(signal.SIGHUP)  # ignored: still serving
        check(coordinator.get("/health")[0] == 200
              and not coordinator.status()["draining"], "SIGHUP stopped it")
        coordinator.signal(15)
        wait_for(lambda: coordinator.status()["draining"], 10, "draining")
        producer.send_raw(batch_message("shutdown", 99, records(99_000, 10)))
        late = collect(producer, 6, 10, "a nack for a batch sent while draining",
                       full)
        check(late[99]["type"] == "nack" and late[99]["reason"] == "draining",
              "while draining: %r" % late[99])
        check(coordinator.get("/ready")[0] == 503, "ready while draining")

        lock.release()
        lock.close()
        replies = collect(producer, 26, 20, "acks of the flushed queue", late)
        check(coordinator.process.wait(timeout=30) == 0, "exit code not 0")
        acked = [seq for seq, r in replies.items() if r["type"] == "ack"]
        check(len(acked) == capacity // BATCH, "acked %d batches" % len(acked))
        stored = set(sqlite_keys(coordinator.db_path))
        for seq in acked:
            for rec in sent[seq]:
                check(key_of(rec) in stored, "acked record %r not stored" % rec)
        check(len(stored) == capacity, "stored %d rows" % len(stored))
        producer.close()
    print("ok: SIGTERM flushed %d queued records, all acked records stored"
          % capacity)


def dead_letter_on_timeout(binary):
    capacity = 1000
    with Coordinator(binary, MDS_QUEUE_CAPACITY=capacity,
                     MDS_DRAIN_TIMEOUT_MS=300, MDS_BREAKER_TIMEOUT_MS=200,
                     MDS_RETRY_BASE_MS=10, MDS_RETRY_MAX_MS=50) as coordinator:
        coordinator.start(ready=True)
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()
        producer = Producer(coordinator.ingest_endpoint)
        sent = fill(coordinator, producer, capacity // BATCH, capacity)
        coordinator.signal(15)
        replies = collect(producer, capacity // BATCH, 20,
                          "acks of the dead-lettered batches")
        check(coordinator.process.wait(timeout=30) == 0, "exit code not 0")
        check(all(r["type"] == "ack" and r["dead_lettered"] == BATCH
                  for r in replies.values()), "replies %r" % replies)
        lock.release()
        lock.close()
        check(sqlite_count(coordinator.db_path) == 0, "written while locked")
        with open(coordinator.dlq_path) as handle:
            lines = [line for line in handle if line.strip()]
        check(len(lines) == capacity, "dead-letter file has %d lines"
              % len(lines))
        check(all('"reason"' in line for line in lines), "a line lacks reason")

        # Replay through a new coordinator on the same database.
        coordinator.start(ready=True)
        environment = dict(os.environ)
        environment["MDS_INGEST_ENDPOINT"] = coordinator.ingest_endpoint
        result = subprocess.run([coordinator.binary, "dlq", "replay",
                                 coordinator.dlq_path], env=environment,
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 0, "replay exit %d: %s %s"
              % (result.returncode, result.stdout, result.stderr))
        check("accepted=%d" % capacity in result.stdout, result.stdout)
        stored = set(sqlite_keys(coordinator.db_path))
        check(len(stored) == capacity, "after replay %d rows" % len(stored))
        for recs in sent.values():
            for rec in recs:
                check(key_of(rec) in stored, "replayed record missing")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: drain timeout dead-lettered %d records (acked), replay "
          "stored them all" % capacity)


def second_sigterm(binary):
    capacity = 1000
    with Coordinator(binary, MDS_QUEUE_CAPACITY=capacity,
                     MDS_DRAIN_TIMEOUT_MS=600000, MDS_BREAKER_TIMEOUT_MS=200,
                     MDS_RETRY_BASE_MS=10, MDS_RETRY_MAX_MS=50) as coordinator:
        coordinator.start(ready=True)
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()
        producer = Producer(coordinator.ingest_endpoint)
        fill(coordinator, producer, capacity // BATCH, capacity)
        coordinator.signal(signal.SIGTERM)
        wait_for(lambda: coordinator.status()["draining"], 10, "draining")
        coordinator.signal(signal.SIGHUP)  # ignored while draining too
        coordinator.signal(signal.SIGTERM)
        # Far sooner than the 10-minute drain timeout.
        replies = collect(producer, capacity // BATCH, 30,
                          "acks after the second SIGTERM")
        check(coordinator.process.wait(timeout=30) == 0, "exit code not 0")
        check(all(r["type"] == "ack" and r["dead_lettered"] == BATCH
                  for r in replies.values()), "replies %r" % replies)
        with open(coordinator.dlq_path) as handle:
            lines = handle.readlines()
        check(len(lines) == capacity, "dead-letter file has %d lines"
              % len(lines))
        lock.release()
        lock.close()
        producer.close()
    print("ok: a second SIGTERM dead-lettered and acked %d records at once"
          % capacity)


def answered_until_exit(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=1000,
                     MDS_HEARTBEAT_MS=100) as coordinator:
        coordinator.start(ready=True)
        subscriber = Subscriber(coordinator.feedback_endpoint,
                                coordinator.coordinator_id)
        check(subscriber.recv(10) is not None, "no feedback message")
        producer = Producer(coordinator.ingest_endpoint)
        monitor = producer.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        acked = {}
        for seq in range(1, 6):
            recs = records(seq * BATCH, BATCH)
            producer.send_raw(batch_message("shutdown", seq, recs))
            reply = producer.recv(5)
            check(reply and reply["type"] == "ack", "before SIGTERM: %r"
                  % reply)
            acked[seq] = recs
        coordinator.signal(signal.SIGTERM)
        # The signal is asynchronous: a batch may still be acked until the
        # core knows it drains. (Not /status: with an empty queue the drain
        # ends at once and HTTP stops first.)
        wait_for(lambda: "core: draining" in coordinator.read_log(), 10,
                 "draining")

        # Send one batch at a time until the producer sees the disconnect:
        # each must get `nack draining` (or the disconnect) within the
        # deadline. Batches sent after the log says "drained" prove the
        # window between the drain and the exit is answered too.
        nacked = {}
        after_drain = 0
        disconnected = False
        drained = False
        seq = 100
        deadline = time.monotonic() + 30
        while not disconnected:
            check(time.monotonic() < deadline, "no disconnect within 30 s")
            seq += 1
            drained = drained or "core: drained" in coordinator.read_log()
            recs = records(seq * BATCH, BATCH)
            producer.send_raw(batch_message("shutdown", seq, recs))
            reply_deadline = time.monotonic() + 2
            reply = None
            while reply is None and not disconnected:
                check(time.monotonic() < reply_deadline,
                      "batch %d (sent %s the drain) got neither a reply nor "
                      "a disconnect within 2 s"
                      % (seq, "after" if drained else "during"))
                reply = producer.recv(0.01)
                while monitor.poll(0):
                    event = recv_monitor_message(monitor)["event"]
                    disconnected |= event == zmq.EVENT_DISCONNECTED
            if reply is not None:
                check(reply["type"] == "nack" and reply["reason"] == "draining"
                      and reply["batch_seq"] == seq
                      and reply["retry_after_ms"] > 0,
                      "while shutting down: %r" % reply)
                nacked[seq] = recs
                after_drain += drained
        check(after_drain > 0, "no batch sent after the drain was answered "
              "(%d nacked in all)" % len(nacked))
        check(coordinator.process.wait(timeout=30) == 0, "exit code not 0")
        # The process is gone: what the SUB holds arrives at once.
        events = []
        while True:
            got = subscriber.recv(0.2)
            if got is None:
                break
            events.append(got[1])
        shutdown = [i for i, e in enumerate(events)
                    if e["type"] == "heartbeat"
                    and e.get("reason") == "shutdown"]
        check(shutdown and shutdown[0] == len(events) - 1,
              "the shutdown heartbeat is not the last message: %r"
              % [(e["type"], e.get("reason")) for e in events[-5:]])
        # v1.1 (feedback.md 7.1): it says going_away, to be trusted for 0 ms;
        # no message before it does.
        last = events[-1]
        check(last.get("going_away") is True and last["ttl_ms"] == 0,
              "the last message: going_away %r ttl_ms %r"
              % (last.get("going_away"), last["ttl_ms"]))
        check(not any(e.get("going_away") for e in events[:-1]),
              "going_away before the last message")
        subscriber.close()
        stored = set(sqlite_keys(coordinator.db_path))
        for recs in acked.values():
            for rec in recs:
                check(key_of(rec) in stored, "acked record %r not stored" % rec)
        for recs in nacked.values():
            for rec in recs:
                check(key_of(rec) not in stored, "nacked record %r stored"
                      % rec)
        monitor.close(0)
        producer.close()
    print("ok: %d batches nacked `draining` (%d after the drain) until the "
          "exit, then the disconnect; %d acked batches stored"
          % (len(nacked), after_drain, len(acked)))


if __name__ == "__main__":
    flush_on_sigterm(sys.argv[1])
    dead_letter_on_timeout(sys.argv[1])
    second_sigterm(sys.argv[1])
    answered_until_exit(sys.argv[1])
