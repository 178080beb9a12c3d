"""The pipeline tells the truth at shutdown (issue 15, item 5), against a
real coordinator:

1. MDP_EXIT_WHEN_DONE: a finite replay exits 0 by itself once every
   record is acknowledged; the database holds exactly its rows; the one
   shutdown report says complete, stored = rows.
2. A run with refused batches (nack full: a fresh session meets a queue an
   independent producer filled while the database is locked) and a killed
   coordinator (SIGKILL): the
   report is one line whose numbers add up to what was produced, names the
   refusal, and stored is exactly what the database (and dead-letter file)
   hold.

usage: test_shutdown_report.py MDP_PIPELINE MDS_COORDINATOR
"""
import os
import re
import sqlite3
import subprocess
import sys
import time

from pl_support import Pipeline, check, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batch_message,  # noqa: E402
                     records, sqlite_count)

REPLAY_ROWS = 1500
REPORT = re.compile(r"shutdown_report (.*)$", re.M)


def report_of(log):
    reports = REPORT.findall(log)
    check(len(reports) == 1, "expected one shutdown_report, got %d:\n%s"
          % (len(reports), log[-3000:]))
    fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', reports[0]))
    for key in ("produced", "stored", "never_sent", "sent_unacked",
                "refused"):
        fields[key] = int(fields[key])
    fields["refused_by"] = fields["refused_by"].strip('"')
    # The three warnings of old are gone: one report, nothing else.
    for old in ("shutdown_incomplete", "flush_deadline", "stop_deadline"):
        check(old not in log, "the old %s warning is still logged" % old)
    return fields


def wait_exit(process, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            return process.returncode
        time.sleep(0.05)
    fail_text = "%s: still running after %.0f s" % (what, timeout)
    process.kill()
    process.wait()
    check(False, fail_text)


def finite_replay(pipeline_binary, coordinator_binary):
    with Coordinator(coordinator_binary) as coordinator:
        coordinator.start(ready=True)
        path = os.path.join(coordinator.workdir, "replay.csv")
        with open(path, "w") as handle:
            handle.write("kind,provider,symbol,ts_ns,price,size\n")
            for k in range(REPLAY_ROWS):
                handle.write("trade,rp,SYM%d,%d,%d.5,%d\n"
                             % (k % 7, 1700000000000000000 + k, 100 + k % 50,
                                1 + k % 9))
        with Pipeline(pipeline_binary, MDP_PROVIDERS="rp",
                      MDP_PROVIDER_RP_SOURCE="replay:" + path,
                      MDP_RATE_RP_REFILL_RATE=5000,
                      MDP_RATE_RP_CAPACITY=1000,
                      MDP_EXIT_WHEN_DONE="true",
                      MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                      MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint
                      ) as pipeline:
            pipeline.start()
            code = wait_exit(pipeline.process, 40, "the finite replay")
            pipeline.log.close()
            log = pipeline.read_log()
            check(code == 0, "exit-when-done exited %d:\n%s" % (code, log))
            report = report_of(log)
        check(sqlite_count(coordinator.db_path) == REPLAY_ROWS,
              "rows: %d, expected %d" % (sqlite_count(coordinator.db_path),
                                         REPLAY_ROWS))
        check(report["result"] == "complete" and
              report["produced"] == REPLAY_ROWS and
              report["stored"] == REPLAY_ROWS and
              report["never_sent"] == 0 and report["sent_unacked"] == 0 and
              report["refused"] == 0, "report: %r" % report)
    print("ok: a finite replay exits 0 by itself with exactly %d rows"
          % REPLAY_ROWS)


def dead_letters(path):
    if not os.path.exists(path):
        return 0
    with open(path) as handle:
        return sum(1 for line in handle if line.strip())


def fill_queue(coordinator):
    """An independent v1 producer (no session, ignores credits) fills the
    coordinator's queue while its database is locked, until nack full."""
    producer = Producer(coordinator.ingest_endpoint, "filler")
    try:
        # Admitted batches are answered after their commit (never, while
        # locked): send more than the capacity, then wait for the nack.
        for seq in range(1, 13):
            producer.send_raw(batch_message("filler", seq,
                                            records(seq * 100, 100)))
        end = time.monotonic() + 10
        while time.monotonic() < end:
            reply = producer.recv(0.5)
            if reply and reply["type"] == "nack" and reply["reason"] == "full":
                return
        check(False, "the queue never filled")
    finally:
        producer.close()


def refused_and_killed(pipeline_binary, coordinator_binary):
    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=1000,
                     MDS_HEARTBEAT_MS=200) as coordinator:
        coordinator.start(ready=True)
        lock = sqlite3.connect(coordinator.db_path, timeout=10,
                               isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            fill_queue(coordinator)
            # A fresh session without feedback sends its first window at
            # once (no credit known yet): the full queue refuses it.
            with Pipeline(pipeline_binary, MDP_PROVIDERS="sim",
                          MDP_RATE_SIM_REFILL_RATE=3000,
                          MDP_RATE_SIM_CAPACITY=500,
                          MDP_FB_ENABLE_FEEDBACK="false",
                          MDP_SEND_BATCH_RECORDS=100,
                          MDP_SEND_WINDOW=4,
                          MDP_SHUTDOWN_TIMEOUT_MS=1000,
                          MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint
                          ) as pipeline:
                pipeline.start()
                pipeline.wait_metric('pipeline_nacks_total{reason="full"}',
                                     lambda v: v > 0, 20, "a nack full")
                coordinator.kill()
                code = pipeline.stop()
                log = pipeline.read_log()
                check(code == 0, "pipeline exited %d" % code)
                report = report_of(log)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        total = (report["stored"] + report["never_sent"] +
                 report["sent_unacked"] + report["refused"])
        check(report["result"] == "incomplete", "report: %r" % report)
        check(total == report["produced"] and report["produced"] > 0,
              "the numbers do not add up to produced: %r" % report)
        check(report["refused"] > 0 and "full:" in report["refused_by"],
              "the refusal is not named: %r" % report)
        check(report["never_sent"] > 0,
              "records behind the refused window were sent? %r" % report)
        kept = sqlite_count(coordinator.db_path) + \
            dead_letters(coordinator.dlq_path)
        check(report["stored"] == kept,
              "stored %d, the coordinator kept %d" % (report["stored"], kept))
    print("ok: the report adds up: %r" % report)


def killed_in_flight(pipeline_binary, coordinator_binary):
    """Batches in flight when the coordinator dies are "sent_unacked"
    (maybe stored), the acked ones exactly what the database holds."""
    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=1000,
                     MDS_HEARTBEAT_MS=200) as coordinator:
        coordinator.start(ready=True)
        with Pipeline(pipeline_binary, MDP_PROVIDERS="sim",
                      MDP_RATE_SIM_REFILL_RATE=2000,
                      MDP_RATE_SIM_CAPACITY=200,
                      MDP_FB_ENABLE_FEEDBACK="false",
                      MDP_SEND_BATCH_RECORDS=100,
                      MDP_SHUTDOWN_TIMEOUT_MS=1000,
                      MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint
                      ) as pipeline:
            pipeline.start()
            pipeline.wait_metric("pipeline_records_acked_total",
                                 lambda v: v > 0, 20, "first acks")
            lock = sqlite3.connect(coordinator.db_path, timeout=10,
                                   isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            try:
                # Writes fail now; then records the pipeline has in flight
                # sit in the coordinator's queue, uncommitted, till the kill.
                wait_for(lambda: coordinator.metrics().get(
                    "coordinator_sink_errors_total", 0) > 0, 20,
                    "the coordinator's writes failing")
                wait_for(lambda: pipeline.metric(
                    "pipeline_unacked_records") > 0 and coordinator.metrics()
                    .get("coordinator_queue_depth", 0) > 0, 20,
                    "records in flight, queued")
                coordinator.kill()
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            code = pipeline.stop()
            check(code == 0, "pipeline exited %d" % code)
            report = report_of(pipeline.read_log())
        total = (report["stored"] + report["never_sent"] +
                 report["sent_unacked"] + report["refused"])
        check(total == report["produced"] and report["stored"] > 0 and
              report["sent_unacked"] > 0 and report["refused"] == 0,
              "report: %r" % report)
        check(report["stored"] == sqlite_count(coordinator.db_path),
              "stored %d, rows %d" % (report["stored"],
                                      sqlite_count(coordinator.db_path)))
    print("ok: a killed coordinator's batches are sent_unacked: %r" % report)


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    finite_replay(pipeline_binary, coordinator_binary)
    refused_and_killed(pipeline_binary, coordinator_binary)
    killed_in_flight(pipeline_binary, coordinator_binary)


if __name__ == "__main__":
    main()
