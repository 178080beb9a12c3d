"""Priority classes (proto/ingest.md 4.5) across processes: the real
mds-coordinator made slow by its own settings (one SQLite writer, a
commit every 5 records: far below what the pipelines offer, whatever the
machine), and two providers each offering several times what it can
write: `live` in the `critical` class, `backfill` in `bulk`.

Two modes, the same behaviour:
- default: two real mdp-pipelines, one per provider, each classed by
  MDP_SEND_PRIORITY;
- --one-pipeline: ONE mdp-pipeline runs both providers, each classed by
  MDP_PROVIDER_<NAME>_PRIORITY: a producer session (and window) per class.

What must hold (behaviour, never timings):
- /status lists one active producer in each class;
- the critical feed keeps flowing while bulk is throttled: of the rows
  stored while both run, the critical provider has at least 2x the bulk
  one's (both saturate their credits; critical comes first and takes up
  to 0.95 of the target, bulk what it leaves; with equal classes they
  share alike);
- no pipeline drops a record (pipeline_records_rejected_total 0);
- once the critical feed stops (its pipeline stopped; in one pipeline,
  its provider paused by /admin/scale), bulk gets the store: its rows grow.
One pipeline also shows one sender per class in /status (same
producer_id, sessions of their own), and, once both providers are paused
and their windows drained, per-class counters that add up to the
pipeline's (pipeline_class_records_{sent,acked}_total).

usage: test_priority.py MDP_PIPELINE MDS_COORDINATOR [--one-pipeline]
"""
import json
import re
import os
import sqlite3
import sys
import urllib.error
import urllib.request

from pl_support import Pipeline, check, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402

TABLES = ("trades", "quotes", "bars")
OFFERED = 40000  # records/s each provider's bucket allows
CRITICAL_SHARE = 2  # critical rows >= this x bulk rows (equal classes: 1)
WARM_UP_ROWS = 5000
SAMPLE_ROWS = 20000
BULK_GROWTH_ROWS = 2000  # bulk rows stored once critical is gone
CLASSES = ("critical", "bulk")
ADMIN_TOKEN = "priority-test-token"


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


def rate_env(provider):
    upper = provider.upper()
    return {"MDP_RATE_%s_REFILL_RATE" % upper: OFFERED,
            "MDP_RATE_%s_CAPACITY" % upper: 500}


def pipeline(binary, coordinator, provider, priority):
    return Pipeline(binary,
                    MDP_PROVIDERS=provider,
                    MDP_PRODUCER_ID=provider,
                    MDP_SEND_PRIORITY=priority,
                    MDP_SEND_WINDOW=16,  # the credit binds, not the window
                    MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                    MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                    **rate_env(provider))


def shared_pipeline(binary, coordinator):
    """live (critical) and backfill (bulk) in one pipeline; MDP_SEND_PRIORITY
    is normal, so each class comes from its provider's own variable."""
    env = dict(rate_env("live"), **rate_env("backfill"))
    return Pipeline(binary,
                    MDP_PROVIDERS="live,backfill",
                    MDP_PRODUCER_ID="shared",
                    MDP_SEND_PRIORITY="normal",
                    MDP_PROVIDER_LIVE_PRIORITY="critical",
                    MDP_PROVIDER_BACKFILL_PRIORITY="bulk",
                    MDP_SEND_WINDOW=16,
                    MDP_ADMIN_TOKEN=ADMIN_TOKEN,
                    MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                    MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                    **env)


def wait_both_classes(coordinator):
    def both_classes_seen():
        classes = coordinator.status().get("classes", {})
        return all(classes.get(name, {}).get("producers") == 1
                   for name in CLASSES)
    wait_for(both_classes_seen, 20, "one critical, one bulk producer")


def check_critical_share(db):
    """Samples the rows stored under steady overload, past the start-up
    bursts (a first batch each before any credit)."""
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


def wait_bulk_grows(db):
    after = rows_by_provider(db).get("backfill", 0)
    wait_for(lambda: rows_by_provider(db).get("backfill", 0)
             >= after + BULK_GROWTH_ROWS, 60,
             "bulk rows growing once critical is gone")


def check_no_rejection(pipelines):
    for each in pipelines:
        check(each.metric("pipeline_records_rejected_total") == 0,
              "a pipeline dropped records")


def check_admitted(coordinator):
    metrics = coordinator.metrics()
    for name in CLASSES:
        admitted = metrics.get(
            'coordinator_class_records_total{coordinator_id="%s",'
            'priority="%s",outcome="admitted"}'
            % (coordinator.coordinator_id, name), 0)
        check(admitted > 0, "no %s records counted as admitted" % name)


def two_pipelines(pipeline_binary, coordinator):
    db = coordinator.db_path
    with pipeline(pipeline_binary, coordinator, "live",
                  "critical") as live, \
            pipeline(pipeline_binary, coordinator, "backfill",
                     "bulk") as backfill:
        live.start()
        backfill.start()
        wait_both_classes(coordinator)
        check_critical_share(db)
        check_no_rejection((live, backfill))
        check(live.stop() == 0, "the critical pipeline did not exit 0")
        wait_bulk_grows(db)
        check_no_rejection((backfill,))
        check(backfill.stop() == 0, "the bulk pipeline did not exit 0")


def pipeline_status(shared):
    code, body = shared.get("/status")
    check(code == 200, "pipeline /status answered %s" % code)
    return json.loads(body)


def check_senders(shared):
    """One sender per class in use, most important first; "sender" is the
    first; one producer_id, a session each."""
    status = pipeline_status(shared)
    senders = status.get("senders", [])
    check([each.get("priority") for each in senders] == list(CLASSES),
          "senders' priorities %s, expected %s"
          % ([each.get("priority") for each in senders], list(CLASSES)))
    check(status.get("sender", {}).get("priority") == CLASSES[0],
          "\"sender\" is not the first of senders: %s" % status.get("sender"))
    check({each.get("producer_id") for each in senders} == {"shared"},
          "the senders' producer ids: %s"
          % [each.get("producer_id") for each in senders])
    sessions = [each.get("session") for each in senders]
    check(len(set(sessions)) == len(CLASSES),
          "the senders share a session: %s" % sessions)
    print("ok: /status senders %s, sessions %s"
          % ([each["priority"] for each in senders], sessions))


def pause(shared, provider):
    url = ("http://127.0.0.1:%d/admin/scale?provider=%s&scale=0"
           % (shared.http_port, provider))
    request = urllib.request.Request(url, data=b"", method="POST")
    request.add_header("Authorization", "Bearer " + ADMIN_TOKEN)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            code = response.status
    except urllib.error.HTTPError as error:
        code = error.code
    check(code == 202, "pausing %s answered %s" % (provider, code))
    shared.wait_metric('pipeline_paused{provider="%s"}' % provider,
                       lambda value: value == 1, 10, "%s paused" % provider)


def drained(shared):
    """Both providers paused: the metrics once nothing is unacked and two
    scrapes agree (no counter moves, none is half-updated), else None."""
    def counters():
        metrics = shared.metrics()
        unacked = [metrics.get('pipeline_class_unacked_records'
                               '{priority="%s"}' % name, -1)
                   for name in CLASSES]
        moving = {key: value for key, value in metrics.items()
                  if key.startswith(("pipeline_class_records_",
                                     "pipeline_records_sent_total",
                                     "pipeline_records_acked_total"))}
        return metrics, unacked == [0] * len(CLASSES), moving
    first, first_idle, first_counters = counters()
    second, second_idle, second_counters = counters()
    if first_idle and second_idle and first_counters == second_counters:
        return second
    return None


def check_class_counters(shared):
    metrics = wait_for(lambda: drained(shared), 30, "both windows drained")
    for kind in ("sent", "acked"):
        per_class = [metrics.get('pipeline_class_records_%s_total'
                                 '{priority="%s"}' % (kind, name), 0)
                     for name in CLASSES]
        total = metrics.get("pipeline_records_%s_total" % kind, 0)
        check(all(value > 0 for value in per_class),
              "a class %s nothing: %s" % (kind, per_class))
        check(sum(per_class) == total,
              "records %s per class %s do not add up to %d"
              % (kind, per_class, total))
        print("ok: records %s per class %s = %d" % (kind, per_class, total))
    check(metrics.get('pipeline_class_ack_latency_seconds_count'
                      '{priority="critical"}', 0) > 0,
          "no critical ack latency observed")


def one_pipeline(pipeline_binary, coordinator):
    db = coordinator.db_path
    with shared_pipeline(pipeline_binary, coordinator) as shared:
        shared.start()
        wait_both_classes(coordinator)
        check_senders(shared)
        check_critical_share(db)
        check_no_rejection((shared,))
        pause(shared, "live")
        wait_bulk_grows(db)
        pause(shared, "backfill")
        check_class_counters(shared)
        check_no_rejection((shared,))
        check(shared.stop() == 0, "the pipeline did not exit 0")
        check_report(shared)


def check_report(shared):
    """SIGTERM with both classes drained: the one shutdown report adds the
    two senders up, every record produced stored."""
    with open(shared.log_path, errors="replace") as log:
        reports = re.findall(r"shutdown_report (.*)$", log.read(), re.M)
    check(len(reports) == 1, "expected one shutdown_report, got %r" % reports)
    fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', reports[0]))
    check(fields.get("result") == "complete" and
          fields.get("produced") == fields.get("stored") and
          int(fields.get("produced", 0)) > 0,
          "the report does not add up: %s" % reports[0])
    print("ok: %s" % reports[0])


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    mode = one_pipeline if "--one-pipeline" in sys.argv[3:] else \
        two_pipelines
    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=4000,
                     MDS_WORKERS=1, MDS_BATCH_SIZE=5) as coordinator:
        coordinator.start(ready=True)
        wait_for(lambda: os.path.exists(coordinator.db_path), 10,
                 "the database file")
        mode(pipeline_binary, coordinator)
        check_admitted(coordinator)
    print("ok: bulk absorbs the throttling, critical keeps flowing")


if __name__ == "__main__":
    main()
