"""examples/python/producer.py against a real mds-coordinator (a real
SQLite file, ports chosen at run time): every record acked and stored once,
a resend is all duplicates, a malformed batch is reported with the
coordinator's detail, a crash and restart mid-run, a stalled coordinator (reply
timeouts), a producer stopped by SIGTERM, a tiny queue (nack full),
the feedback channel's HARD level and capacity, a draining coordinator. `readers` checks
the text readers (ingest.md section 7) without a coordinator.

Usage: test_producer.py CASE MDS_COORDINATOR PRODUCER_PY"""
import json
import os
import re
import signal
import subprocess
import sys
import sqlite3
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, SlowDatabase, SqliteLock, check,  # noqa
                     sqlite_count, sqlite_keys, wait_for)

PYTHON = "/usr/bin/python3"
RUN_TIMEOUT_S = 90


def make_records(count, start=0, provider="feed-a"):
    """`count` valid mixed records (wire arrays), distinct identities."""
    result = []
    for index in range(start, start + count):
        ts_ns = 1_700_000_000_000_000_000 + index * 1000
        symbol = ("AAPL", "MSFT", "ES=F", "BTC-USD")[index % 4]
        kind = ("trade", "quote", "bar")[index % 3]
        price = 100.0 + (index % 50) * 0.25
        if kind == "trade":
            result.append([kind, provider, symbol, ts_ns, price, index % 7 + 1])
        elif kind == "quote":
            result.append([kind, provider, symbol, ts_ns, price - 0.01, 300,
                           price + 0.01, 200])
        else:
            result.append([kind, provider, symbol, ts_ns, price, price + 1,
                           price - 1, price + 0.5, 1e5 + index])
    return result


NAMES = {"trade": ("price", "size"),
         "quote": ("bid", "bid_size", "ask", "ask_size"),
         "bar": ("open", "high", "low", "close", "volume")}


def write_ndjson(path, records):
    with open(path, "w") as handle:
        handle.write("# %d records\n\n" % len(records))
        for rec in records:
            names = ("kind", "provider", "symbol", "ts_ns") + NAMES[rec[0]]
            handle.write(json.dumps(dict(zip(names, rec))) + "\n")


def write_csv(path, records):
    with open(path, "w") as handle:
        handle.write("kind,provider,symbol,ts_ns,f1,f2,f3,f4,f5\n")
        for rec in records:
            handle.write(",".join(str(value) for value in rec) + "\r\n")


def stored_count(coordinator):
    """Rows stored so far; 0 while the coordinator has not created its
    tables yet."""
    try:
        return sqlite_count(coordinator.db_path)
    except sqlite3.OperationalError:
        return 0


def keys(records):
    return {(rec[0], rec[1], rec[2], rec[3]) for rec in records}


class Run:
    """One producer.py process; .summary is its --json summary. Its stderr
    is read as it comes (.saw() waits for a log line)."""

    def __init__(self, producer_py, args):
        self.command = [PYTHON, producer_py, "--json"] + [str(a) for a in args]
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.summary = None
        self.err_lines = []
        self.out_lines = []
        self.readers = [threading.Thread(target=self._read, daemon=True,
                                         args=(stream, lines))
                        for stream, lines in ((self.process.stdout,
                                               self.out_lines),
                                              (self.process.stderr,
                                               self.err_lines))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line)

    def saw(self, text):
        return any(text in line for line in list(self.err_lines))

    def wait(self, timeout=RUN_TIMEOUT_S):
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            check(False, "producer still running after %d s:\n%s"
                  % (timeout, "".join(self.err_lines)[-3000:]))
        for reader in self.readers:
            reader.join()
        self.stdout = "".join(self.out_lines)
        self.stderr = "".join(self.err_lines)
        self.returncode = self.process.returncode
        lines = [line for line in self.out_lines if line.startswith("{")]
        check(len(lines) == 1, "expected one JSON summary, got:\n%s\n%s"
              % (self.stdout, self.stderr[-3000:]))
        self.summary = json.loads(lines[0])
        return self

    def __str__(self):
        return "exit %s, summary %s\nstderr:\n%s" % (
            self.returncode, self.summary, self.stderr[-3000:])


def run(producer_py, *args, timeout=RUN_TIMEOUT_S):
    return Run(producer_py, args).wait(timeout)


def expect_complete(result, records, written=None, duplicates=None):
    summary = result.summary
    check(result.returncode == 0, "not complete: %s" % result)
    check(summary["complete"] and summary["records"] == records
          and summary["acked"] == records and summary["unacked"] == 0
          and summary["rejected"] == 0, "counts: %s" % result)
    check(summary["written"] + summary["duplicates"]
          + summary["dead_lettered"] == records, "ack sums: %s" % result)
    check(summary["dead_lettered"] == 0, "dead-lettered: %s" % result)
    if written is not None:
        check(summary["written"] == written, "written: %s" % result)
    if duplicates is not None:
        check(summary["duplicates"] == duplicates, "duplicates: %s" % result)


def expect_stored(coordinator, records):
    stored = sqlite_keys(coordinator.db_path)
    check(len(stored) == len(records) and set(stored) == keys(records),
          "%d rows stored (%d distinct) for %d records"
          % (len(stored), len(set(stored)), len(records)))


def case_roundtrip(binary, producer_py, workdir):
    """5,000 mixed records from CSV: all acked and stored; the same file
    again: all duplicates; the same records as NDJSON: duplicates too."""
    records = make_records(5000)
    csv_path = os.path.join(workdir, "records.csv")
    ndjson_path = os.path.join(workdir, "records.ndjson")
    write_csv(csv_path, records)
    write_ndjson(ndjson_path, records)
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        endpoint = ("--endpoint", coordinator.ingest_endpoint)
        first = run(producer_py, csv_path, *endpoint)
        expect_complete(first, 5000, written=5000, duplicates=0)
        check(first.summary["sent"] == 5000 and first.summary["batches"] == 10,
              "sent: %s" % first)
        expect_stored(coordinator, records)
        again = run(producer_py, csv_path, *endpoint, "--batch-size", 777)
        expect_complete(again, 5000, written=0, duplicates=5000)
        as_json = run(producer_py, ndjson_path, *endpoint, "--window", 1)
        expect_complete(as_json, 5000, written=0, duplicates=5000)
        check(sqlite_count(coordinator.db_path) == 5000, "rows after resends")
        coordinator.stop()


def case_malformed(binary, producer_py, workdir):
    """One record with a negative size: its batch is reported with the
    coordinator's detail, kept in the rejects file, nothing of it stored;
    every other batch is stored; the exit code is 1."""
    records = make_records(5000)
    bad_index = 2346  # batch 5 (records 2000..2499) at 500 per batch
    check(records[bad_index][0] == "trade", "the bad record is a trade")
    records[bad_index][5] = -3
    path = os.path.join(workdir, "one-bad.ndjson")
    write_ndjson(path, records)
    rejects = os.path.join(workdir, "rejects.ndjson")
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        result = run(producer_py, path, "--endpoint",
                     coordinator.ingest_endpoint, "--rejects", rejects)
        summary = result.summary
        check(result.returncode == 1, "exit code: %s" % result)
        check(not summary["complete"] and summary["acked"] == 4500
              and summary["rejected"] == 500 and summary["unacked"] == 0
              and summary["nacks"] == {"malformed": 1}, "counts: %s" % result)
        failures = summary["failures"]
        check(len(failures) == 1 and failures[0]["batch_seq"] == 5,
              "failures: %s" % result)
        detail = failures[0]["detail"]
        # The coordinator's detail names the record (0-based in the batch)
        # and the field (ingest.md 3 and 4.2).
        check(re.search(r"\brecord %d\b" % (bad_index - 2000), detail)
              and "size" in detail, "detail %r" % detail)
        check(detail in result.stderr, "detail not reported: %s" % result)
        # The report points at the input line: 2 header lines + 1-based.
        check("%s:%d" % (path, bad_index + 3) in result.stderr,
              "line not named: %s" % result)
        with open(rejects) as handle:
            rejected = [json.loads(line) for line in handle]
        check(len(rejected) == 500 and all(detail in line["reason"]
                                           for line in rejected),
              "rejects file: %d lines" % len(rejected))
        check(rejected[bad_index - 2000]["size"] == -3, "the bad record")
        good = records[:2000] + records[2500:]
        expect_stored(coordinator, good)
        coordinator.stop()


def case_crash(binary, producer_py, workdir):
    """SIGKILL the coordinator mid-run and restart it on the same ports and
    database: the producer resends and every record is stored once."""
    count = 20000
    records = make_records(count, provider="feed-crash")
    path = os.path.join(workdir, "crash.csv")
    write_csv(path, records)
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        # --rate spreads the run over >= 4 s so the kill lands mid-run.
        producer = Run(producer_py, [path, "--endpoint",
                                     coordinator.ingest_endpoint,
                                     "--batch-size", 250, "--window", 8,
                                     "--rate", 5000, "--timeout", 2])
        wait_for(lambda: stored_count(coordinator) >= 2000, 30,
                 "2000 records stored")
        coordinator.kill()
        check(producer.process.poll() is None, "producer ended before the kill")
        stored_at_kill = sqlite_count(coordinator.db_path)
        check(stored_at_kill < count, "all stored before the kill")
        coordinator.start(ready=True)
        result = producer.wait()
        expect_complete(result, count)
        summary = result.summary
        check(summary["disconnects"] >= 1 or summary["timeouts"] >= 1,
              "the producer did not notice the crash: %s" % result)
        check(summary["written"] >= count - stored_at_kill,
              "written %d, %d missing at the kill"
              % (summary["written"], count - stored_at_kill))
        expect_stored(coordinator, records)
        coordinator.stop()


def case_stalled(binary, producer_py, workdir):
    """SIGSTOP the coordinator mid-run (the connection stays up, no reply
    comes): the producer times out and resends; after SIGCONT the late
    replies are ignored and every record is stored once. SIGTERM to a
    second producer run: it stops, reports what was not acked, exits 1."""
    count = 10000
    records = make_records(count, provider="feed-stall")
    path = os.path.join(workdir, "stall.csv")
    write_csv(path, records)
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        producer = Run(producer_py, [path, "--endpoint",
                                     coordinator.ingest_endpoint,
                                     "--batch-size", 250, "--window", 4,
                                     "--rate", 5000, "--timeout", 0.5])
        wait_for(lambda: stored_count(coordinator) >= 1000, 30,
                 "1000 records stored")
        coordinator.signal(signal.SIGSTOP)
        try:
            wait_for(lambda: producer.saw("no reply within the timeout"), 30,
                     "a reply timeout")
        finally:
            coordinator.signal(signal.SIGCONT)
        result = producer.wait()
        expect_complete(result, count)
        check(result.summary["timeouts"] >= 1 and result.summary["resends"]
              >= 1, "no timeout: %s" % result)
        expect_stored(coordinator, records)

        # A stop by signal: the summary says what is left, exit code 1.
        stopped = Run(producer_py, ["--generate", 50000, "--endpoint",
                                    coordinator.ingest_endpoint, "--rate",
                                    2000])
        wait_for(lambda: stored_count(coordinator) >= count + 1000, 30,
                 "the second run started")
        stopped.process.send_signal(signal.SIGTERM)
        stopped.wait()
        summary = stopped.summary
        check(stopped.returncode == 1 and summary["stopped"] == "stopped"
              and not summary["complete"] and summary["acked"] >= 1000
              and summary["acked"] + summary["unacked"] == summary["records"],
              "stopped run: %s" % stopped)
        check(stored_count(coordinator) >= count + summary["acked"],
              "acked records not stored")
        coordinator.stop()


def case_full(binary, producer_py, workdir):
    """A queue of 300 records behind a slow database: batches of 100 with a
    window of 8 are held back, by the coordinator's credits (v1.1, ingest.md
    4.4: the producer waits for credit) or by `nack full` (resent after
    retry_after_ms), and all end up stored."""
    count = 3000
    with Coordinator(binary, MDS_QUEUE_CAPACITY=300, MDS_BATCH_SIZE=100) \
            as coordinator:
        coordinator.start(ready=True)
        records = make_records(count, provider="feed-full")
        path = os.path.join(workdir, "full.ndjson")
        write_ndjson(path, records)
        with SlowDatabase(coordinator.db_path, hold=0.05):
            result = run(producer_py, path, "--endpoint",
                         coordinator.ingest_endpoint, "--batch-size", 100,
                         "--window", 8)
        expect_complete(result, count, written=count)
        summary = result.summary
        check(summary["nacks"].get("full", 0) >= 1
              or summary["credit_waits"] >= 1,
              "never held back (no nack full, no credit wait): %s" % result)
        check(summary["resends"] >= summary["nacks"].get("full", 0),
              "nacked batches not resent: %s" % result)
        expect_stored(coordinator, records)
        coordinator.stop()


def case_feedback(binary, producer_py, workdir):
    """With --feedback, the producer is held back by a 300-record queue
    behind a slow database (it pauses while the coordinator is HARD, or
    waits for credit: v1.1) and still stores all."""
    count = 3000
    with Coordinator(binary, MDS_QUEUE_CAPACITY=300, MDS_BATCH_SIZE=100) \
            as coordinator:
        coordinator.start(ready=True)
        records = make_records(count, provider="feed-fb")
        path = os.path.join(workdir, "feedback.csv")
        write_csv(path, records)
        with SlowDatabase(coordinator.db_path, hold=0.05):
            result = run(producer_py, path, "--endpoint",
                         coordinator.ingest_endpoint, "--feedback",
                         coordinator.feedback_endpoint, "--coordinator",
                         coordinator.coordinator_id, "--batch-size", 100,
                         "--window", 8)
        expect_complete(result, count, written=count)
        summary = result.summary
        check(summary["feedback_messages"] >= 1, "no feedback: %s" % result)
        # Held back by a HARD pause, or (v1.1) by the coordinator's credits,
        # which keep the queue below the high watermark.
        check(summary["hard_pauses"] >= 1 or summary["credit_waits"] >= 1,
              "never held back: %s" % result)
        check(summary["hard_pauses"] == 0
              or "coordinator HARD" in result.stderr, "pause not logged")
        expect_stored(coordinator, records)
        coordinator.stop()


def case_capacity(binary, producer_py, workdir):
    """A queue of 250 records and batches of 1,000 asked for: with
    --feedback the producer learns the capacity and cuts its batches, so
    nothing is refused as malformed (a batch over the capacity would be)."""
    with Coordinator(binary, MDS_QUEUE_CAPACITY=250) as coordinator:
        coordinator.start(ready=True)
        records = make_records(2000, provider="feed-cap")
        path = os.path.join(workdir, "capacity.csv")
        write_csv(path, records)
        result = run(producer_py, path, "--endpoint",
                     coordinator.ingest_endpoint, "--feedback",
                     coordinator.feedback_endpoint, "--batch-size", 1000)
        expect_complete(result, 2000, written=2000)
        # 2000 / 250 = 8 batches at least; credits (v1.1) may cut more.
        check(result.summary["batches"] >= 8, "batches: %s" % result)
        check("batches of 250 records at most" in result.stderr,
              "capacity not logged: %s" % result)
        expect_stored(coordinator, records)
        coordinator.stop()


def case_draining(binary, producer_py, workdir):
    """SIGTERM mid-run while the database is locked: the coordinator drains
    and answers `nack draining`; it exits once the lock is gone and is
    started again; the producer resends and every record is stored once."""
    count = 20000
    records = make_records(count, provider="feed-drain")
    path = os.path.join(workdir, "drain.csv")
    write_csv(path, records)
    with Coordinator(binary, MDS_DRAIN_TIMEOUT_MS=30000, MDS_BATCH_SIZE=100) \
            as coordinator:
        coordinator.start(ready=True)
        producer = Run(producer_py, [path, "--endpoint",
                                     coordinator.ingest_endpoint,
                                     "--batch-size", 250, "--window", 8,
                                     "--rate", 5000, "--timeout", 2])
        wait_for(lambda: stored_count(coordinator) >= 2000, 30,
                 "2000 records stored")
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()  # the drain cannot finish while we hold it
        try:
            depth = 'coordinator_queue_depth{coordinator_id="%s"}' \
                % coordinator.coordinator_id
            wait_for(lambda: coordinator.metrics().get(depth, 0) >= 1, 30,
                     "records waiting in the queue")
            coordinator.signal(signal.SIGTERM)
            # (Its HTTP server is already closed: ask the producer.)
            wait_for(lambda: producer.saw("nack draining"), 30,
                     "a nack draining")
        finally:
            lock.release()
            lock.close()
        # stop() would send a second SIGTERM (drain now, dead-letter the
        # rest): wait for the drain to end by itself instead.
        wait_for(lambda: coordinator.process.poll() is not None, 60,
                 "the coordinator to finish its drain")
        check(coordinator.stop() == 0, "drain exit code")
        check(producer.process.poll() is None, "producer ended early")
        coordinator.start(ready=True)
        result = producer.wait()
        expect_complete(result, count)
        expect_stored(coordinator, records)
        check(result.summary["nacks"].get("draining", 0) >= 1,
              "no nack draining seen: %s" % result)
        coordinator.stop()


CASES = {name[len("case_"):]: function for name, function in globals().items()
         if name.startswith("case_")}


def main(argv):
    case, binary, producer_py = argv[1], argv[2], argv[3]
    with tempfile.TemporaryDirectory(prefix="producer-example-") as workdir:
        CASES[case](binary, producer_py, workdir)
    print("ok: %s" % case)


if __name__ == "__main__":
    main(sys.argv)
