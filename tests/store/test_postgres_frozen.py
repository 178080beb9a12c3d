"""Database frozen (under tests/lib/with_postgres.sh): while a client
streams, every PostgreSQL server process is SIGSTOPped (a hung host: the
kernel still accepts connections, nothing answers, server-side timeouts
cannot fire). The client-side deadline (MDS_DB_TIMEOUT_MS) turns each
database call into a TRANSIENT error: a `write_failed` log line names the
deadline, /ready turns 503 and the breaker opens. SIGTERM during the hang
exits (within the drain timeout plus a generous margin; no timing is
asserted beyond "it exited") with exit code 0, and every record acked
before the exit is stored in the database or in the dead-letter file. The
server is resumed (SIGCONT) on every exit path."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batches_of, check, key_of,  # noqa
                     pg_keys, records, stream_in_background, wait_for)

RECORDS = 20_000
BATCH = 250
DB_TIMEOUT_MS = 500
DRAIN_TIMEOUT_MS = 2000
# "It exited": far above drain timeout + DB timeout + mg_stop's ~2 s.
EXIT_LIMIT_S = 30


def server_pids():
    """The postmaster (first line of the data dir's postmaster.pid) and its
    children, from /proc."""
    data = os.environ["MDS_TEST_PG_DATA"]
    with open(os.path.join(data, "postmaster.pid")) as handle:
        postmaster = int(handle.readline())
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                stat = handle.read()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == postmaster:
            children.append(int(entry))
    return [postmaster] + children


class Frozen:
    """SIGSTOPs the server on entry (postmaster first, so it forks nothing
    new) and SIGCONTs it on exit, whatever happened."""

    def __init__(self):
        self.pids = []

    def freeze(self):
        pids = server_pids()
        os.kill(pids[0], signal.SIGSTOP)
        self.pids = server_pids()  # children forked meanwhile, if any
        for pid in self.pids:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.pids = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.thaw()
        return False


def dead_letter_keys(path):
    if not os.path.exists(path):
        return set()
    keys = set()
    with open(path) as handle:
        for line in handle:
            if line.strip():
                entry = json.loads(line)
                keys.add((entry["kind"], entry["provider"], entry["symbol"],
                          entry["ts_ns"]))
    return keys


def main(binary):
    uri = os.environ["MDS_TEST_PG_URI"]
    # meson's timeout sends SIGTERM: unwind so that the server is resumed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Coordinator(binary, sink=uri, MDS_QUEUE_CAPACITY=5000,
                     MDS_DB_TIMEOUT_MS=DB_TIMEOUT_MS,
                     MDS_DRAIN_TIMEOUT_MS=DRAIN_TIMEOUT_MS,
                     MDS_RETRY_LIMIT=2, MDS_BREAKER_THRESHOLD=2,
                     MDS_BREAKER_TIMEOUT_MS=500, MDS_RETRY_BASE_MS=10,
                     MDS_RETRY_MAX_MS=100) as coordinator, \
            Frozen() as frozen:
        coordinator.start(ready=True)
        recs = records(0, RECORDS)
        batches = batches_of(recs, BATCH)
        producer = Producer(coordinator.ingest_endpoint)
        stream_in_background(producer, batches, window=8, timeout=60,
                             reply_timeout=2.0)
        wait_for(lambda: len(producer.replies) >= 10, 20, "first acks")

        frozen.freeze()
        wait_for(lambda: coordinator.get("/ready")[0] == 503, 30,
                 "/ready 503 with the database frozen")
        wait_for(lambda: coordinator.status()["breaker"] == "open", 30,
                 "the breaker to open with the database frozen")
        wait_for(lambda: "deadline" in coordinator.read_log(), 10,
                 "a log line naming the client deadline")
        check(coordinator.process.poll() is None, "coordinator exited")

        # SIGTERM with the database still frozen.
        coordinator.signal(signal.SIGTERM)
        signalled = time.monotonic()
        wait_for(lambda: coordinator.process.poll() is not None, EXIT_LIMIT_S,
                 "the coordinator to exit after SIGTERM (database frozen)")
        code = coordinator.process.returncode
        exited_after = time.monotonic() - signalled
        check(code == 0, "exit code %s" % code)
        acked = {reply["batch_seq"] for reply in list(producer.replies)
                 if reply["type"] == "ack"}
        frozen.thaw()

        # Nothing acked is lost: each acked batch is in the database (once
        # the server is back) or in the dead-letter file.
        stored = set(pg_keys(uri)) | dead_letter_keys(coordinator.dlq_path)
        missing = [seq for seq in acked
                   if not {key_of(rec) for rec in batches[seq - 1]} <= stored]
        check(not missing, "acked batches not stored anywhere: %s"
              % missing[:10])
        producer.close()
    print("ok: database frozen: /ready 503, breaker open, deadline logged; "
          "SIGTERM exited 0 after %.1f s (drain timeout %.1f s); %d acked "
          "batches all stored" % (exited_after, DRAIN_TIMEOUT_MS / 1000.0,
                                  len(acked)))


if __name__ == "__main__":
    main(sys.argv[1])
