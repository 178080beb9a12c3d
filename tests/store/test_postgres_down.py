"""Database down (under tests/lib/with_postgres.sh): while a client streams,
the PostgreSQL server is stopped for a few seconds. The breaker opens, the
level reaches HARD, nothing is acked while the server is down (nothing can
be written), /ready says 503; after the server is back every record is
written exactly once."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batches_of, check, key_of,  # noqa
                     pg_keys, records, stream_in_background, wait_for)

RECORDS = 40_000


def main(binary):
    uri = os.environ["MDS_TEST_PG_URI"]
    with Coordinator(binary, sink=uri, MDS_QUEUE_CAPACITY=5000,
                     MDS_BREAKER_THRESHOLD=3, MDS_BREAKER_TIMEOUT_MS=300,
                     MDS_RETRY_BASE_MS=10, MDS_RETRY_MAX_MS=100) as coordinator:
        coordinator.start(ready=True)
        recs = records(0, RECORDS)
        producer = Producer(coordinator.ingest_endpoint)
        thread, result = stream_in_background(
            producer, batches_of(recs, 250), window=8, timeout=55,
            reply_timeout=2.0)
        wait_for(lambda: len(producer.replies) >= 20, 20, "first acks")

        subprocess.run([os.environ["MDS_TEST_PG_STOP"]], check=True,
                       timeout=60)
        stopped = time.monotonic()
        wait_for(lambda: coordinator.status()["breaker"] == "open", 20,
                 "the breaker to open")
        wait_for(lambda: coordinator.status()["level"] == "hard", 20,
                 "level HARD with the database down")
        check(coordinator.get("/ready")[0] == 503, "/ready while down")
        # Nothing is acked once the breaker is seen open (acks of batches
        # committed before the stop have arrived by then).
        acks_when_open = sum(1 for r in producer.replies if r["type"] == "ack")
        down_until = time.monotonic() + 2.0
        while time.monotonic() < down_until:
            time.sleep(0.05)
        acks_later = sum(1 for r in producer.replies if r["type"] == "ack")
        check(acks_later == acks_when_open,
              "%d acks while the database was down"
              % (acks_later - acks_when_open))
        metrics = coordinator.metrics()
        check(metrics["coordinator_breaker_opens_total"] >= 1, "opens_total")
        check(metrics["coordinator_sink_retries_total"] >= 1, "retries_total")

        subprocess.run([os.environ["MDS_TEST_PG_START"]], check=True,
                       timeout=60)
        down_for = time.monotonic() - stopped
        thread.join(60)
        check(not thread.is_alive(), "client still running")
        if "error" in result:
            raise result["error"]
        keys = pg_keys(uri)
        check(len(keys) == RECORDS, "%d rows for %d records"
              % (len(keys), RECORDS))
        check(set(keys) == {key_of(rec) for rec in recs}, "keys differ")
        wait_for(lambda: coordinator.get("/ready")[0] == 200, 10,
                 "/ready after recovery")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: database down %.1f s, breaker opened, HARD, no acks while "
          "down, %d records written once" % (down_for, RECORDS))


if __name__ == "__main__":
    main(sys.argv[1])
