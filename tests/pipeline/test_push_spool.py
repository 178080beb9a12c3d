"""A push feed faster than the store: spooled, drained, stored exactly once,
across a kill -9 of the pipeline (issue 16).

The real mds-coordinator (SQLite) is made slow (SlowDatabase holds the
database's write lock ~95% of the time) and small (a queue of 2000), and the
pipeline's bucket for the push provider runs at 2000 records/s. An
independent Python client writes CSV lines to the pipeline's TCP push port
at about twice that (bounded: FEED records). The pipeline must not block
the socket: what it cannot send goes to its spool (checked: the spool
gauge rises). With the spool holding records the pipeline is killed with
SIGKILL; the spool directory is then read by this test's own reader of the
format (spool_format.py, docs/spool.md): CRCs good, records in order. The
pipeline restarts on the same spool: it reports the recovered records and
every record that was in the spool reaches the database without the client
sending anything. The client then resends the whole feed (a push writer
cannot know which of its lines were durable when the pipeline died: the
store's keys make the duplicates harmless) and the rest; once idle every
record is in SQLite exactly once: COUNT(*) equals the feed and the keys are
the feed's keys. One malformed line is counted as bad.

usage: test_push_spool.py MDP_PIPELINE MDS_COORDINATOR
"""
import os
import socket
import sys
import tempfile
import time

from pl_support import Pipeline, check, free_port, wait_for
import spool_format

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator, SlowDatabase, sqlite_count, sqlite_keys  # noqa: E402

FEED = 16000            # records of the whole feed
FIRST = 9000            # sent before the kill
FEED_RATE = 4000        # lines per second written by the client
BUCKET_RATE = 2000      # the pipeline's push provider, records/s
CHUNK = 100             # lines per write
PROVIDER = "live"
BASE_TS = 1_700_000_000_000_000_000
KINDS = ("trade", "quote", "bar")


def line(index):
    """Record `index` of the feed as CSV (unique key per index)."""
    kind = KINDS[index % 3]
    ts = BASE_TS + index
    symbol = "S%02d" % (index % 40)
    if kind == "trade":
        return "trade,x,%s,%d,%d.25,%d\n" % (symbol, ts, 100 + index % 7, 10)
    if kind == "quote":
        return "quote,x,%s,%d,99.5,10,100.5,20\n" % (symbol, ts)
    return "bar,x,%s,%d,1,2,0.5,1.5,100\n" % (symbol, ts)


def expected_key(index):
    return (KINDS[index % 3], PROVIDER, "S%02d" % (index % 40), BASE_TS + index)


def connect(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def feed(port, start, stop, rate=FEED_RATE, extra=""):
    """Writes lines start..stop at about `rate` a second (paced by the
    clock: it is the feed's own schedule, not a synchronisation)."""
    sock = connect(port)
    began = time.monotonic()
    try:
        if extra:
            sock.sendall(extra.encode())
        for first in range(start, stop, CHUNK):
            text = "".join(line(k) for k in range(first, min(stop, first + CHUNK)))
            sock.sendall(text.encode())
            due = began + (first - start + CHUNK) / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        sock.close()


def pipeline_env(coordinator, push_port, spool_dir):
    prefix = "MDP_PROVIDER_%s_" % PROVIDER.upper()
    return {
        "MDP_PROVIDERS": PROVIDER,
        prefix + "SOURCE": "push:%d" % push_port,
        prefix + "SPOOL_DIR": spool_dir,
        prefix + "SPOOL_FSYNC": "interval",
        "MDP_RATE_%s_REFILL_RATE" % PROVIDER.upper(): BUCKET_RATE,
        "MDP_RATE_%s_CAPACITY" % PROVIDER.upper(): 500,
        "MDP_STORE_ENDPOINTS": coordinator.ingest_endpoint,
        "MDP_FEEDBACK_ENDPOINTS": coordinator.feedback_endpoint,
        "MDP_SEND_BATCH_RECORDS": 200,
        "MDP_SEND_ACK_TIMEOUT_MS": 2000,
        "MDP_FB_RAMP_MS": 200,
    }


def stored(db_path):
    try:
        return sqlite_count(db_path)
    except Exception:  # tables not made yet
        return 0


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    spool_dir = tempfile.mkdtemp(prefix="mdp-spool-test-")
    push_port = free_port()
    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=2000,
                     MDS_LOW_WATERMARK=0.25, MDS_HIGH_WATERMARK=0.75,
                     MDS_BATCH_SIZE=200) as coordinator:
        coordinator.start()
        env = pipeline_env(coordinator, push_port, spool_dir)
        with SlowDatabase(coordinator.db_path, hold=0.1, gap=0.005):
            with Pipeline(pipeline_binary, **env) as pipeline:
                pipeline.start()
                feed(push_port, 0, FIRST, extra="trade,x,BAD,not-a-time,1,1\n")
                # The feed outran the store: the spool holds records.
                pipeline.wait_metric(
                    'pipeline_spool_records{provider="live"}',
                    lambda value: value >= 500, 20, "records in the spool")
                pipeline.wait_metric(
                    'pipeline_push_bad_lines_total{provider="live"}',
                    lambda value: value == 1, 10, "the bad line counted")
                pipeline.process.kill()  # SIGKILL: no flush, no close
                pipeline.process.wait()
            in_spool = spool_format.read_spool(spool_dir)
            check(len(in_spool) > 0, "the spool directory holds records")
            for record in in_spool:
                check(record["provider"] == PROVIDER, "provider replaced")
            stamps = [record["appended_ns"] for record in in_spool]
            check(stamps == sorted(stamps), "spooled records are in order")
            spooled_keys = {spool_format.key(record) for record in in_spool}
            print("spool at the kill: %d records, %d segments, %d stored"
                  % (len(in_spool), len(spool_format.segments(spool_dir)),
                     stored(coordinator.db_path)))

        # Restart on the same spool; the store is fast again.
        with Pipeline(pipeline_binary, **env) as pipeline:
            pipeline.start()
            recovered = pipeline.metric(
                'pipeline_spool_recovered_records_total{provider="live"}')
            check(recovered == len(in_spool),
                  "recovered %s records, the spool held %d"
                  % (recovered, len(in_spool)))

            def spool_delivered():
                keys = set(sqlite_keys(coordinator.db_path))
                return spooled_keys <= keys
            wait_for(spool_delivered, 30,
                     "every spooled record stored after the restart")
            # The writer resends the whole feed, then the rest.
            feed(push_port, 0, FEED, rate=FEED_RATE * 2)
            wait_for(lambda: stored(coordinator.db_path) >= FEED, 40,
                     "every record stored")
            pipeline.wait_metric(
                'pipeline_spool_records{provider="live"}',
                lambda value: value == 0, 20, "an empty spool")
            keys = sqlite_keys(coordinator.db_path)
            check(len(keys) == FEED,
                  "%d rows stored, the feed has %d" % (len(keys), FEED))
            check(set(keys) == {expected_key(k) for k in range(FEED)},
                  "the stored keys are the feed's")
            metrics = pipeline.metrics()
            check(metrics.get("pipeline_spool_dropped_total", 0) == 0,
                  "nothing dropped by the spool")
            check(pipeline.stop() == 0, "SIGTERM exits 0")
        print("ok: %d records stored exactly once across a kill -9 "
              "(%d were in the spool)" % (FEED, len(in_spool)))


if __name__ == "__main__":
    main()
