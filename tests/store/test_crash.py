"""Crash: `kill -9` the coordinator while a client streams with retries,
restart it on the same database; after the client finishes, every record is
in the database exactly once (acks only after commit, resends are
de-duplicated by the record key)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batches_of, check, key_of,  # noqa
                     records, sqlite_count, sqlite_keys,
                     stream_in_background, wait_for)

RECORDS = 60_000


def main(binary):
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        recs = records(0, RECORDS)
        producer = Producer(coordinator.ingest_endpoint)
        thread, result = stream_in_background(
            producer, batches_of(recs, 250), window=8, timeout=50,
            reply_timeout=1.0)
        wait_for(lambda: sqlite_count(coordinator.db_path) >= RECORDS // 4, 20,
                 "a quarter of the records stored")
        coordinator.kill()
        stored_at_crash = sqlite_count(coordinator.db_path)
        check(stored_at_crash < RECORDS, "finished before the crash")
        coordinator.start()
        thread.join(60)
        check(not thread.is_alive(), "client still running")
        if "error" in result:
            raise result["error"]
        check(len(result["acks"]) == RECORDS // 250, "acks %d"
              % len(result["acks"]))
        keys = sqlite_keys(coordinator.db_path)
        check(len(keys) == RECORDS, "%d rows for %d records"
              % (len(keys), RECORDS))
        check(set(keys) == {key_of(rec) for rec in recs}, "keys differ")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: killed at %d stored rows, restarted, %d records exactly once"
          % (stored_at_crash, RECORDS))


if __name__ == "__main__":
    main(sys.argv[1])
