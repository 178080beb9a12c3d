"""End to end with SQLite: 100,000 records in batches, every ack arrives, the
database holds exactly 100,000 rows; resending every batch leaves it at
100,000 (every record acked as a duplicate); two workers (MDS_WORKERS=2; a
sqlite: sink defaults to one) never trip over each other's SQLite lock (no
sink errors, no retries)."""
import sys

sys.path.insert(0, __import__("os").path.join(
    __import__("os").path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batches_of, check, records,  # noqa
                     sqlite_count)

RECORDS = 100_000


def main(binary):
    with Coordinator(binary, MDS_WORKERS=2) as coordinator:
        coordinator.start(ready=True)
        producer = Producer(coordinator.ingest_endpoint)
        batches = batches_of(records(0, RECORDS))

        acks = producer.send_all(batches, window=16, timeout=50)
        check(len(acks) == len(batches), "acks: %d of %d" % (len(acks), len(batches)))
        written = sum(ack["written"] for ack in acks.values())
        duplicates = sum(ack["duplicates"] for ack in acks.values())
        check(written + duplicates == RECORDS,
              "acks count %d + %d records" % (written, duplicates))
        check(written == RECORDS, "first pass wrote %d" % written)
        check(sqlite_count(coordinator.db_path) == RECORDS,
              "database holds %d rows" % sqlite_count(coordinator.db_path))

        acks = producer.send_all(batches, window=16, timeout=50)
        check(len(acks) == len(batches), "resend acks: %d" % len(acks))
        duplicates = sum(ack["duplicates"] for ack in acks.values())
        check(duplicates == RECORDS, "resend: %d duplicates" % duplicates)
        check(sqlite_count(coordinator.db_path) == RECORDS,
              "after resend the database holds %d rows"
              % sqlite_count(coordinator.db_path))

        metrics = coordinator.metrics()
        check(metrics["coordinator_records_written_total"] == RECORDS,
              "written_total %s" % metrics["coordinator_records_written_total"])
        check(metrics["coordinator_records_duplicate_total"] == RECORDS,
              "duplicate_total %s" % metrics["coordinator_records_duplicate_total"])
        check(coordinator.status()["depth"] == 0, "queue not empty at the end")
        # Two workers share one SQLite file without a single
        # "database is locked": they take turns in the process, not in
        # SQLite's busy handler.
        check(metrics.get("coordinator_sink_errors_total", 0) == 0
              and metrics["coordinator_sink_retries_total"] == 0,
              "sink errors %s, retries %s under plain load"
              % (metrics.get("coordinator_sink_errors_total"),
                 metrics["coordinator_sink_retries_total"]))
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: %d records, resent, still %d rows" % (RECORDS, RECORDS))


if __name__ == "__main__":
    main(sys.argv[1])
