"""mdp-pipeline with several real mds-coordinators (SQLite each), issue 11
item 4: one connection per coordinator, batches where the credit is.

part "hang": two coordinators; one is SIGSTOPped mid-stream. Records keep
  reaching the other (its rows grow while the first is stopped), the
  pipeline marks the hung one down (pipeline_store_up 0: its ZMTP
  heartbeats go unanswered) and is never paused; after SIGCONT every record
  is stored: the union of the two stores' keys is exactly what was
  produced, and the rows beyond it (a batch that timed out at the hung one
  and went to the other as well) are at most the records the pipeline
  counted as moved.
part "hard": two coordinators; one's database is locked (a real exclusive
  SQLite transaction), so it goes HARD (sink down / oldest record). The
  other gets the traffic, the provider is not paused while one coordinator
  still takes records; after the lock is released every record is stored
  exactly (union of keys = produced).
part "added": the endpoint list names a third coordinator that is not
  running yet; once it starts it gets batches too (a pod KEDA adds behind
  a static list; DNS re-resolution itself is pl_actors'
  test_sender_connects_every_address_again, with a resolver hook).
part "gone": one of two coordinators is killed (SIGKILL: no going_away);
  its feedback goes stale, then is forgotten after MDP_FB_FORGET_SEC: its
  pipeline_feedback_stale{source} series disappears (no permanent alert);
  its batches go to the other one at once (the reconnect is refused) and
  every record is stored (union of keys = produced).
part "none": no coordinator listens: the pipeline never logs `sender:
  connected`, /status says no coordinator answers, and it warns
  (`no_coordinator`, rate-limited) after PL_SEND_NONE_WARN_NS.

usage: test_multi_coordinator.py MDP_PIPELINE MDS_COORDINATOR PART...
"""
import json
import os
import signal
import sys

from pl_support import Pipeline, check, free_port, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator, SqliteLock, sqlite_keys  # noqa: E402

RATE = 3000
LIMIT = 24000
NONE_WARN_SEC = 10
FORGET_SEC = 3


def coordinator(binary, index, **env):
    options = dict(MDS_COORDINATOR_ID="multi-%d-%d" % (os.getpid(), index),
                   MDS_HEARTBEAT_MS=200)
    options.update(env)
    return Coordinator(binary, **options)


def pipeline_for(binary, coords, **env):
    options = dict(
        MDP_PROVIDERS="sim",
        MDP_STORE_ENDPOINTS=",".join(c.ingest_endpoint for c in coords),
        MDP_FEEDBACK_ENDPOINTS=",".join(c.feedback_endpoint for c in coords),
        MDP_PROVIDER_SIM_LIMIT=LIMIT,
        MDP_PROVIDER_SIM_SYMBOLS="AAPL,MSFT,GOOG,AMZN",
        MDP_RATE_SIM_REFILL_RATE=RATE, MDP_RATE_SIM_CAPACITY=300,
        MDP_SEND_BATCH_RECORDS=200, MDP_SEND_BATCH_MS=50,
        MDP_SEND_ACK_TIMEOUT_MS=2000, MDP_SHUTDOWN_TIMEOUT_MS=10000)
    options.update(env)
    return Pipeline(binary, **options)


def written(coord):
    return coord.metrics().get("coordinator_records_written_total", 0.0)


def up_key(coord):
    return 'pipeline_store_up{address="%s"}' % coord.ingest_endpoint


def finish_exact(pipeline, coords):
    """Waits for the whole run to be acked, stops everything and checks
    the stores: the union of keys is what was produced, extra rows at most
    the records counted as moved."""
    pipeline.wait_metric('pipeline_records_produced_total{provider="sim"}',
                         lambda v: v == LIMIT, 60, "the whole run produced")
    pipeline.wait_metric("pipeline_records_acked_total",
                         lambda v: v >= LIMIT, 60, "every record acked")
    moved = pipeline.metric("pipeline_records_moved_total")
    check(pipeline.stop() == 0, "SIGTERM did not exit 0")
    for coord in coords:
        check(coord.stop() == 0, "a coordinator did not exit 0")
    keys = [sqlite_keys(c.db_path) for c in coords]
    union = set().union(*keys)
    rows = sum(len(k) for k in keys)
    check(len(union) == LIMIT, "stored %d distinct records, produced %d"
          % (len(union), LIMIT))
    check(rows - len(union) <= moved, "%d rows beyond the distinct ones, "
          "only %d records counted as moved" % (rows - len(union), moved))
    return rows - len(union), moved


def part_hang(pipeline_binary, coordinator_binary):
    with coordinator(coordinator_binary, 0) as first, \
            coordinator(coordinator_binary, 1) as second:
        first.start(ready=True)
        second.start(ready=True)
        with pipeline_for(pipeline_binary, [first, second]) as pipeline:
            pipeline.start()
            wait_for(lambda: written(first) > 0 and written(second) > 0, 20,
                     "both coordinators written to")
            second.signal(signal.SIGSTOP)
            try:
                before = written(first)
                pipeline.wait_metric(up_key(second), lambda v: v == 0, 15,
                                     "the hung coordinator marked down")
                wait_for(lambda: written(first) >= before + 3 * RATE, 20,
                         "records keep reaching the other coordinator")
                check(pipeline.metric('pipeline_paused{provider="sim"}') == 0,
                      "paused while one coordinator takes records")
                check(pipeline.metric(up_key(first)) == 1,
                      "the running coordinator is not up")
            finally:
                second.signal(signal.SIGCONT)
            extra, moved = finish_exact(pipeline, [first, second])
    print("ok: hang (%d extra rows, %d records moved)" % (extra, moved))


def part_hard(pipeline_binary, coordinator_binary):
    with coordinator(coordinator_binary, 0) as first, \
            coordinator(coordinator_binary, 1, MDS_QUEUE_CAPACITY=2000,
                        MDS_DWELL_MS=100) as second:
        first.start(ready=True)
        second.start(ready=True)
        with pipeline_for(pipeline_binary, [first, second]) as pipeline:
            pipeline.start()
            wait_for(lambda: written(first) > 0 and written(second) > 0, 20,
                     "both coordinators written to")
            level = 'pipeline_feedback_level{source="%s"}' \
                % second.coordinator_id
            lock = SqliteLock(second.db_path)
            lock.acquire()
            try:
                pipeline.wait_metric(level, lambda v: v == 2, 30,
                                     "the locked coordinator at HARD")
                before = written(first)
                wait_for(lambda: written(first) >= before + 3 * RATE, 20,
                         "the other coordinator gets the traffic")
                check(pipeline.metric('pipeline_paused{provider="sim"}') == 0,
                      "paused while one coordinator takes records")
            finally:
                lock.release()
                lock.close()
            extra, moved = finish_exact(pipeline, [first, second])
    print("ok: hard (%d extra rows, %d records moved)" % (extra, moved))


def part_added(pipeline_binary, coordinator_binary):
    with coordinator(coordinator_binary, 0) as first, \
            coordinator(coordinator_binary, 1) as second, \
            coordinator(coordinator_binary, 2) as third:
        first.start(ready=True)
        second.start(ready=True)
        with pipeline_for(pipeline_binary, [first, second, third]) \
                as pipeline:
            pipeline.start()
            wait_for(lambda: written(first) > 0 and written(second) > 0, 20,
                     "the two running coordinators written to")
            check(pipeline.metric(up_key(third)) == 0,
                  "a coordinator not running is up")
            third.start(ready=True)
            pipeline.wait_metric(up_key(third), lambda v: v == 1, 15,
                                 "the new coordinator up")
            wait_for(lambda: written(third) > 0, 20,
                     "the new coordinator gets batches")
            finish_exact(pipeline, [first, second, third])
    print("ok: added")


def part_gone(pipeline_binary, coordinator_binary):
    with coordinator(coordinator_binary, 0) as first, \
            coordinator(coordinator_binary, 1) as second:
        first.start(ready=True)
        second.start(ready=True)
        with pipeline_for(pipeline_binary, [first, second],
                          MDP_FB_FORGET_SEC=FORGET_SEC) as pipeline:
            pipeline.start()
            wait_for(lambda: written(first) > 0 and written(second) > 0, 20,
                     "both coordinators written to")
            stale = 'pipeline_feedback_stale{source="%s"}' \
                % second.coordinator_id
            second.kill()
            pipeline.wait_metric(stale, lambda v: v == 1, 15,
                                 "the killed coordinator stale")
            wait_for(lambda: stale not in pipeline.metrics(), FORGET_SEC + 10,
                     "the killed coordinator's stale series gone")
            check(pipeline.metric(up_key(second)) == 0,
                  "the killed coordinator is up")
            # Its store keeps what it committed before it died.
            pipeline.wait_metric('pipeline_records_produced_total'
                                 '{provider="sim"}', lambda v: v == LIMIT,
                                 60, "the whole run produced")
            pipeline.wait_metric("pipeline_records_acked_total",
                                 lambda v: v >= LIMIT - 0.5, 60,
                                 "every record acked")
            moved = pipeline.metric("pipeline_records_moved_total")
            check(pipeline.stop() == 0, "SIGTERM did not exit 0")
            check(first.stop() == 0, "the coordinator did not exit 0")
            keys = [sqlite_keys(c.db_path) for c in (first, second)]
            union = set().union(*keys)
            check(len(union) == LIMIT, "stored %d distinct records, "
                  "produced %d" % (len(union), LIMIT))
            extra = sum(len(k) for k in keys) - len(union)
            check(extra <= moved, "%d extra rows, %d records moved"
                  % (extra, moved))
    print("ok: gone")


def part_none(pipeline_binary):
    nobody = "tcp://127.0.0.1:%d" % free_port()
    with Pipeline(pipeline_binary, MDP_PROVIDERS="sim",
                  MDP_STORE_ENDPOINTS=nobody, MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_RATE_SIM_REFILL_RATE=100, MDP_RATE_SIM_CAPACITY=10,
                  MDP_SHUTDOWN_TIMEOUT_MS=200) as pipeline:
        pipeline.start()

        def says_none():
            code, body = pipeline.get("/status")
            sender = json.loads(body).get("sender", {}) if code == 200 else {}
            return sender.get("store_answering") is False and \
                sender.get("warning") == "no coordinator answers"
        wait_for(says_none, 10, "/status: no coordinator answers")
        wait_for(lambda: "sender: no_coordinator" in pipeline.read_log(),
                 NONE_WARN_SEC + 10, "the no_coordinator warning")
        log = pipeline.read_log()
        check("sender: connected" not in log,
              "logged connected with nothing listening:\n" + log[-2000:])
        check(pipeline.metric("pipeline_store_connections") == 0,
              "a connection counted with nothing listening")
        pipeline.stop()
    print("ok: none")


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    parts = {"hang": lambda: part_hang(pipeline_binary, coordinator_binary),
             "hard": lambda: part_hard(pipeline_binary, coordinator_binary),
             "added": lambda: part_added(pipeline_binary, coordinator_binary),
             "gone": lambda: part_gone(pipeline_binary, coordinator_binary),
             "none": lambda: part_none(pipeline_binary)}
    for name in sys.argv[3:]:
        parts[name]()


if __name__ == "__main__":
    main()
