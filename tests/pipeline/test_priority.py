"""Priority classes (proto/ingest.md 4.5) across processes: the real
mds-coordinator made slow by its own settings (one SQLite writer, a
commit every 5 records: far below what the pipelines offer, whatever the
machine), and two
real mdp-pipelines each offering several times what it can write: one
`critical` (MDP_SEND_PRIORITY=critical, provider `live`), one `bulk`
(provider `backfill`).

What must hold (behaviour, never timings):
- /status lists one active producer in each class;
- the critical feed keeps flowing while bulk is throttled: of the rows
  stored while both run, the critical provider has at least 2x the bulk
  one's (both saturate their credits, so rows follow the 4 : 1 split of
  the target: about 4x measured; with equal classes they share alike);
- neither pipeline drops a record (pipeline_records_rejected_total 0);
- once the critical pipeline stops, bulk gets the store: its rows grow.

usage: test_priority.py MDP_PIPELINE MDS_COORDINATOR
"""
import os
import sqlite3
import sys

from pl_support import Pipeline, check, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402

TABLES = ("trades", "quotes", "bars")
OFFERED = 40000  # records/s each pipeline's bucket allows
CRITICAL_SHARE = 2  # critical rows >= this x bulk rows (equal classes: 1)
WARM_UP_ROWS = 5000
SAMPLE_ROWS = 20000


def rows_by_provider(db_path):
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        counts = {}
        for table in TABLES:
            try:
                for provider, count in connection.execute(
                        "SELECT provider, COUNT(*) FROM %s GROUP BY provider"
                        % table):
                    counts[provider] = counts.get(provider, 0) + count
            except sqlite3.OperationalError:
                pass  # not created yet
        return counts
    finally:
        connection.close()


def pipeline(binary, coordinator, provider, priority):
    upper = provider.upper()
    return Pipeline(binary,
                    MDP_PROVIDERS=provider,
                    MDP_PRODUCER_ID=provider,
                    MDP_SEND_PRIORITY=priority,
                    MDP_SEND_WINDOW=16,  # the credit binds, not the window
                    MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                    MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                    **{"MDP_RATE_%s_REFILL_RATE" % upper: OFFERED,
                       "MDP_RATE_%s_CAPACITY" % upper: 500})


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=4000,
                     MDS_WORKERS=1, MDS_BATCH_SIZE=5) as coordinator:
        coordinator.start(ready=True)
        db = coordinator.db_path
        wait_for(lambda: os.path.exists(db), 10, "the database file")
        with pipeline(pipeline_binary, coordinator, "live",
                         "critical") as live, \
                pipeline(pipeline_binary, coordinator, "backfill",
                         "bulk") as backfill:
            live.start()
            backfill.start()

            def both_classes_seen():
                classes = coordinator.status().get("classes", {})
                return (classes.get("critical", {}).get("producers") == 1
                        and classes.get("bulk", {}).get("producers") == 1)
            wait_for(both_classes_seen, 20, "one critical, one bulk producer")

            # Past the start-up bursts (a first batch each before any
            # credit), in the steady overload.
            first = rows_by_provider(db).get("live", 0)
            wait_for(lambda: rows_by_provider(db).get("live", 0)
                     >= first + WARM_UP_ROWS, 60, "the warm-up")
            start = rows_by_provider(db)
            wait_for(lambda: rows_by_provider(db).get("live", 0)
                     - start.get("live", 0) >= SAMPLE_ROWS, 60,
                     "%d critical rows stored under overload" % SAMPLE_ROWS)
            end = rows_by_provider(db)
            live_rows = end.get("live", 0) - start.get("live", 0)
            bulk_rows = end.get("backfill", 0) - start.get("backfill", 0)
            check(live_rows >= CRITICAL_SHARE * bulk_rows,
                  "critical stored %d rows, bulk %d: bulk was not cut first"
                  % (live_rows, bulk_rows))
            print("ok: under overload critical stored %d rows, bulk %d"
                  % (live_rows, bulk_rows))
            for each in (live, backfill):
                check(each.metric("pipeline_records_rejected_total") == 0,
                      "a pipeline dropped records")

            check(live.stop() == 0, "the critical pipeline did not exit 0")
            after = rows_by_provider(db).get("backfill", 0)
            wait_for(lambda: rows_by_provider(db).get("backfill", 0)
                     >= after + 2000, 60,
                     "bulk rows growing once critical is gone")
            check(backfill.metric("pipeline_records_rejected_total") == 0,
                  "the bulk pipeline dropped records")
            check(backfill.stop() == 0, "the bulk pipeline did not exit 0")
        metrics = coordinator.metrics()
        admitted = metrics.get(
            'coordinator_class_records_total{coordinator_id="%s",'
            'priority="critical",outcome="admitted"}'
            % coordinator.coordinator_id, 0)
        check(admitted > 0, "no critical records counted as admitted")
    print("ok: bulk absorbs the throttling, critical keeps flowing")


if __name__ == "__main__":
    main()
