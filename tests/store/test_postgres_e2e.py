"""End to end with PostgreSQL (run under tests/lib/with_postgres.sh, which
starts a throwaway server and exports MDS_TEST_PG_URI): 100,000 records, every
ack arrives, exactly 100,000 rows; resending every batch leaves 100,000."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batches_of, check, pg_count,  # noqa
                     records)

RECORDS = 100_000


def main(binary):
    uri = os.environ["MDS_TEST_PG_URI"]
    with Coordinator(binary, sink=uri) as coordinator:
        coordinator.start(ready=True)
        producer = Producer(coordinator.ingest_endpoint)
        batches = batches_of(records(0, RECORDS))
        acks = producer.send_all(batches, window=16, timeout=50)
        check(len(acks) == len(batches), "acks %d" % len(acks))
        written = sum(ack["written"] for ack in acks.values())
        check(written == RECORDS, "first pass wrote %d" % written)
        check(pg_count(uri) == RECORDS, "rows %d" % pg_count(uri))
        acks = producer.send_all(batches, window=16, timeout=50)
        duplicates = sum(ack["duplicates"] for ack in acks.values())
        check(duplicates == RECORDS, "resend: %d duplicates" % duplicates)
        check(pg_count(uri) == RECORDS, "after resend %d rows" % pg_count(uri))
        check(coordinator.status()["sink"]["kind"] == "postgres", "sink kind")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: PostgreSQL %d records, resent, still %d rows"
          % (RECORDS, RECORDS))


if __name__ == "__main__":
    main(sys.argv[1])
