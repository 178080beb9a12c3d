"""A worker never dies from a sink error: records the database rejects for
good (here a test trigger RAISE(ABORT)s on one symbol: a constraint error,
PERMANENT) are isolated one by one into the dead-letter file with the
reason, the rest of their batch is written, every batch is acked, and the
worker goes on writing. After the trigger is dropped, `dlq replay` stores
the dead letters."""
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batches_of, check, record,  # noqa
                     records, sqlite_count)

TRIGGER = ("CREATE TRIGGER reject_bad BEFORE INSERT ON trades "
           "WHEN NEW.symbol = 'BADSYM' "
           "BEGIN SELECT RAISE(ABORT, 'rejected by the test trigger'); END")


def main(binary):
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        connection = sqlite3.connect(coordinator.db_path, timeout=10)
        connection.execute(TRIGGER)
        connection.commit()

        recs = records(0, 1000, kinds=("trade",))
        bad = [7, 450, 451, 999]
        for index in bad:
            recs[index] = record(index, "trade", symbol="BADSYM")
        producer = Producer(coordinator.ingest_endpoint)
        acks = producer.send_all(batches_of(recs, 100), timeout=30)
        check(len(acks) == 10, "acks %d" % len(acks))
        dead = sum(ack["dead_lettered"] for ack in acks.values())
        written = sum(ack["written"] for ack in acks.values())
        check(dead == len(bad), "dead_lettered %d" % dead)
        check(written == 1000 - len(bad), "written %d" % written)
        check(sqlite_count(coordinator.db_path) == 1000 - len(bad), "rows")

        with open(coordinator.dlq_path) as handle:
            lines = [json.loads(line) for line in handle if line.strip()]
        check(len(lines) == len(bad), "dead-letter lines %d" % len(lines))
        for line in lines:
            check(line["symbol"] == "BADSYM", "wrong record %r" % line)
            check("rejected by the test trigger" in line["reason"],
                  "reason %r" % line["reason"])

        # The workers are alive and writing.
        more = producer.send_all([records(5000, 200, kinds=("quote",))],
                                 timeout=10)
        check(list(more.values())[0]["written"] == 200, "later batch")
        metrics = coordinator.metrics()
        check(metrics["coordinator_records_dead_lettered_total"] == len(bad),
              "dead_lettered_total")
        check(metrics['coordinator_sink_errors_total{coordinator_id="%s",'
                      'kind="permanent"}' % coordinator.coordinator_id] >= 1,
              "permanent errors not counted")

        environment = dict(os.environ)
        environment["MDS_INGEST_ENDPOINT"] = coordinator.ingest_endpoint

        def replay(path, batch_size=500):
            environment["MDS_BATCH_SIZE"] = str(batch_size)
            return subprocess.run([coordinator.binary, "dlq", "replay", path],
                                  env=environment, capture_output=True,
                                  text=True, timeout=60)

        # Replayed while the trigger still refuses them: the records are
        # dead-lettered again, appended to the very file being replayed.
        # The replay reads only what was there, reports them, exits 1
        # (one record per batch: reading on would go round forever).
        result = replay(coordinator.dlq_path, batch_size=1)
        check(result.returncode == 1, "replay into the same refusal: %d %s %s"
              % (result.returncode, result.stdout, result.stderr))
        check("dead_lettered_again=%d" % len(bad) in result.stdout,
              "summary %r" % result.stdout)
        with open(coordinator.dlq_path) as handle:
            check(len(handle.readlines()) == 2 * len(bad),
                  "dead-letter file after a refused replay")

        connection.execute("DROP TRIGGER reject_bad")
        connection.commit()
        connection.close()
        # A damaged file: a malformed line, an overlong one and two with a
        # NUL byte are reported with their line numbers, skipped and
        # counted; the rest is stored. A NUL hides neither a record behind
        # it on its line nor, past 8191 bytes, the line's tail (issue 12
        # item 6: it was parsed as the next line and stored as SMUGGLED).
        damaged = coordinator.dlq_path + ".damaged"
        with open(coordinator.dlq_path, "rb") as source, \
                open(damaged, "wb") as target:
            lines = source.readlines()
            smuggled = dict(json.loads(lines[0]), symbol="SMUGGLED")
            nul_tail = dict(json.loads(lines[0]), symbol="NULTAIL")
            target.writelines(lines[:2])
            target.write(b"{not json at all\n")
            target.write(b"x" * 10000 + b"\n")
            target.write(b"#\0" + b"p" * (8191 - 2)
                         + json.dumps(smuggled).encode() + b"\n")
            target.write(json.dumps(nul_tail).encode() + b"\0junk\n")
            target.writelines(lines[2:])
        result = replay(damaged)
        check(result.returncode == 1, "damaged replay exit %d"
              % result.returncode)
        check(all(":%d:" % n in result.stderr for n in (3, 4, 5, 6)),
              "line numbers not reported: %r" % result.stderr)
        check(result.stderr.count("NUL byte") == 2,
              "NUL lines not named: %r" % result.stderr)
        check("unreadable=4" in result.stdout and "records=%d" % (2 * len(bad))
              in result.stdout, "summary %r" % result.stdout)
        check(sqlite_count(coordinator.db_path) == 1200, "rows after replay")
        stored = sqlite3.connect(coordinator.db_path, timeout=10)
        smuggled_rows = stored.execute(
            "SELECT COUNT(*) FROM trades WHERE symbol IN "
            "('SMUGGLED', 'NULTAIL')").fetchone()[0]
        stored.close()
        check(smuggled_rows == 0, "a NUL line's record was stored")
        result = replay(coordinator.dlq_path)  # all duplicates now: fine
        check(result.returncode == 0, "replay: %s %s" % (result.stdout,
                                                        result.stderr))
        check(sqlite_count(coordinator.db_path) == 1200, "rows after replay")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")

        # The coordinator is gone: a clear error naming the endpoint, soon.
        result = replay(coordinator.dlq_path)
        check(result.returncode == 1, "replay to nobody exit %d"
              % result.returncode)
        check("no coordinator at" in result.stderr
              and coordinator.ingest_endpoint in result.stderr,
              "replay to nobody said %r" % result.stderr)
    print("ok: %d rejected records dead-lettered with reasons, the rest "
          "written; replay: refused again (reported, file read once), "
          "damaged lines skipped by number, stored, coordinator down "
          "reported" % len(bad))


if __name__ == "__main__":
    main(sys.argv[1])
