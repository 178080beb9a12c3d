"""SQLite faults a user meets: (1) two coordinators on the same SQLite file
(each process's workers take turns on their own mutex, the two processes
meet in SQLite's lock): both streams are acked and every record is stored
exactly once; (2) the database file deleted while a coordinator runs: the
coordinator notices (it would otherwise ack records committed into the
deleted inode), reopens a new file, and every batch acked after the
deletion is in the new file."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batches_of, check, key_of,  # noqa
                     records, sqlite_count, sqlite_keys, stream_in_background,
                     wait_for)

PER_COORDINATOR = 20_000


def two_coordinators(binary):
    first = Coordinator(binary)
    db = first.db_path
    with first, Coordinator(binary, workdir=first.workdir,
                            sink="sqlite:" + db) as second:
        second.dlq_path = os.path.join(first.workdir, "second-dlq.ndjson")
        second.env["MDS_DLQ_PATH"] = second.dlq_path
        second.log_path = os.path.join(first.workdir, "second.log")
        first.start(ready=True)
        second.start(ready=True)
        streams = []
        for index, coordinator in enumerate((first, second)):
            recs = records(index * PER_COORDINATOR, PER_COORDINATOR)
            producer = Producer(coordinator.ingest_endpoint, "p%d" % index)
            streams.append(stream_in_background(
                producer, batches_of(recs), timeout=90) + (recs, producer))
        for thread, result, recs, producer in streams:
            thread.join(100)
            check(not thread.is_alive(), "a stream did not finish")
            if "error" in result:
                raise result["error"]
            producer.close()
        keys = sqlite_keys(db)
        check(len(keys) == 2 * PER_COORDINATOR, "%d rows" % len(keys))
        expected = {key_of(rec) for _, _, recs, _ in streams for rec in recs}
        check(set(keys) == expected, "keys differ")
        check(first.stop() == 0 and second.stop() == 0, "exit code not 0")
    print("ok: two coordinators on one SQLite file stored %d records once"
          % (2 * PER_COORDINATOR))


def deleted_file(binary):
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        producer = Producer(coordinator.ingest_endpoint)
        before = producer.send_all(batches_of(records(0, 3000)), timeout=30)
        check(len(before) == 6, "acks before the deletion")
        os.unlink(coordinator.db_path)
        recs = records(10_000, 3000)
        after = producer.send_all(batches_of(recs), timeout=30)
        check(sum(ack["written"] for ack in after.values()) == len(recs),
              "acks after the deletion: %r" % list(after.values())[:2])
        check(os.path.exists(coordinator.db_path), "no new database file")
        keys = set(sqlite_keys(coordinator.db_path))
        missing = [rec for rec in recs if key_of(rec) not in keys]
        check(not missing, "%d records acked after the deletion are not in "
              "the database file" % len(missing))
        check(sqlite_count(coordinator.db_path) == len(recs),
              "new file holds %d rows" % sqlite_count(coordinator.db_path))
        wait_for(lambda: coordinator.get("/ready")[0] == 200, 10,
                 "/ready after the new file")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: database file deleted while running: %d later records stored "
          "in the new file" % len(recs))


if __name__ == "__main__":
    two_coordinators(sys.argv[1])
    deleted_file(sys.argv[1])
