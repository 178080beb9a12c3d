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

        connection.execute("DROP TRIGGER reject_bad")
        connection.commit()
        connection.close()
        environment = dict(os.environ)
        environment["MDS_INGEST_ENDPOINT"] = coordinator.ingest_endpoint
        result = subprocess.run([coordinator.binary, "dlq", "replay",
                                 coordinator.dlq_path], env=environment,
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 0, "replay: %s %s" % (result.stdout,
                                                        result.stderr))
        check(sqlite_count(coordinator.db_path) == 1200, "rows after replay")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: %d rejected records dead-lettered with reasons, the rest "
          "written, replay stored them" % len(bad))


if __name__ == "__main__":
    main(sys.argv[1])
