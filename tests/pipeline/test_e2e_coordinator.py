"""mdp-pipeline against the real mds-coordinator (SQLite).

The pipeline streams a bounded synthetic run plus a replay file with one
malformed line. The coordinator's database is locked from this test (a real
exclusive SQLite transaction), so its queue fills with what the window holds
(32 batches of up to 200 records held up to 100 ms, more than the 3000 of
capacity: the pipeline resends nothing while the coordinator's heartbeats
arrive, so only a window larger than the queue fills it): the pipeline's gauges must follow to SOFT and HARD
(paused), then back to OK once the lock is released.
The coordinator is then killed with SIGKILL and restarted. At the end every
record the pipeline produced is in the database exactly once, /metrics passes
promtool, and SIGTERM exits 0.

usage: test_e2e_coordinator.py MDP_PIPELINE MDS_COORDINATOR [PROMTOOL]
"""
import os
import sqlite3
import sys

from pl_support import Pipeline, check, promtool_check, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402

LIMIT = 12000          # synthetic records in the run
RATE = 3000            # records/s at scale 1.0
REPLAY_GOOD = 40       # good lines in the replay file
TABLES = ("trades", "quotes", "bars")


def write_replay(path):
    with open(path, "w") as handle:
        handle.write("kind,provider,symbol,ts_ns,f1,f2,f3,f4,f5\n")
        for index in range(REPLAY_GOOD):
            if index == 10:
                handle.write("trade,x,BAD,not-a-number,1,1\n")  # line 12
            handle.write("trade,x,RPL,%d,%d.5,10\n"
                         % (1_600_000_000_000_000_000 + index, 100 + index))


def count_rows(db_path, provider):
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        total = 0
        for table in TABLES:
            try:
                total += connection.execute(
                    "SELECT COUNT(*) FROM %s WHERE provider = ?" % table,
                    (provider,)).fetchone()[0]
            except sqlite3.OperationalError:
                pass  # table not created yet
        return total
    finally:
        connection.close()


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    promtool = sys.argv[3] if len(sys.argv) > 3 else None
    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=3000,
                     MDS_HEARTBEAT_MS=200, MDS_DWELL_MS=100) as coordinator:
        coordinator.start(ready=True)
        replay_path = os.path.join(coordinator.workdir, "replay.csv")
        write_replay(replay_path)
        source = "test-%d" % os.getpid()
        with Pipeline(pipeline_binary,
                      MDP_PROVIDERS="sim,rp",
                      MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                      MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                      MDP_PROVIDER_SIM_LIMIT=LIMIT,
                      MDP_PROVIDER_SIM_SYMBOLS="AAPL,MSFT,GOOG",
                      MDP_RATE_SIM_REFILL_RATE=RATE,
                      MDP_RATE_SIM_CAPACITY=300,
                      MDP_PROVIDER_RP_SOURCE="replay:" + replay_path,
                      MDP_RATE_RP_REFILL_RATE=50,
                      MDP_FB_RAMP_MS=300,
                      MDP_SEND_BATCH_RECORDS=200,
                      MDP_SEND_ACK_TIMEOUT_MS=2000,
                      MDP_SEND_BATCH_MS=100,
                      MDP_SEND_WINDOW=32) as pipeline:
            pipeline.start()
            # It streams, and it is ready once feedback is fresh.
            wait_for(lambda: pipeline.get("/ready")[0] == 200, 15,
                     "/ready of the pipeline")
            pipeline.wait_metric("pipeline_records_acked_total",
                                 lambda v: v > 0, 15, "first acks")
            depth = 'pipeline_feedback_queue_depth{source="%s"}' % source
            pipeline.wait_metric(depth, lambda v: v >= 0, 10,
                                 "queue depth gauge of " + source)

            # The store stalls: an exclusive lock on its database.
            lock = sqlite3.connect(coordinator.db_path, timeout=10,
                                   isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            try:
                pipeline.wait_metric(
                    'pipeline_backpressure_state{provider="sim"}',
                    lambda v: v == 2, 30, "HARD backpressure")
                metrics = pipeline.metrics()
                check(metrics['pipeline_rate_scale_factor{provider="sim"}']
                      == 0.0, "scale is not 0 at HARD")
                check(metrics['pipeline_paused{provider="sim"}'] == 1.0,
                      "not paused at HARD")
                check(metrics[depth] > 0, "queue depth not echoed")
                check(metrics.get('pipeline_feedback_events_total'
                                  '{level="hard"}', 0) > 0,
                      "no hard event counted")
                # Alive but slow is not lost: past the 2 s ack timeout
                # with the coordinator's heartbeats arriving, nothing is
                # timed out and resent (no self-inflicted load).
                pipeline.wait_metric("pipeline_ack_timeouts_deferred_total",
                                     lambda v: v > 0, 30,
                                     "an ack timeout deferred")
                check(pipeline.metric('pipeline_batches_resent_total'
                                      '{cause="timeout"}') == 0,
                      "batches resent while the coordinator was heard")
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            pipeline.wait_metric('pipeline_backpressure_state{provider="sim"}',
                                 lambda v: v == 0, 30, "back to OK")
            pipeline.wait_metric('pipeline_rate_scale_factor{provider="sim"}',
                                 lambda v: v == 1.0, 10, "scale back to 1")
            check(pipeline.metric('pipeline_rate_change_latency_seconds_count')
                  >= 2, "rate changes not observed in the histogram")

            # A crash of the coordinator while records are in flight.
            pipeline.wait_metric('pipeline_records_produced_total'
                                 '{provider="sim"}',
                                 lambda v: v > LIMIT / 2 or v == LIMIT, 60,
                                 "half of the run")
            coordinator.kill()
            coordinator.start(ready=False)
            pipeline.wait_metric("pipeline_feedback_restarts_total",
                                 lambda v: v >= 1, 30,
                                 "the restart seen by the subscriber")

            # Everything produced gets acknowledged...
            pipeline.wait_metric('pipeline_records_produced_total'
                                 '{provider="sim"}',
                                 lambda v: v == LIMIT, 60, "the whole run")
            pipeline.wait_metric('pipeline_records_produced_total'
                                 '{provider="rp"}',
                                 lambda v: v == REPLAY_GOOD, 30,
                                 "the whole replay file")
            produced = pipeline.metric("pipeline_records_produced_total")
            pipeline.wait_metric("pipeline_records_acked_total",
                                 lambda v: v == produced, 60,
                                 "acks of every record")
            metrics = pipeline.metrics()
            check(metrics['pipeline_replay_bad_lines_total{provider="rp"}']
                  == 1, "the malformed replay line was not counted once")
            check("line=12" in pipeline.read_log(),
                  "the malformed line was not reported with its number")
            check(metrics["pipeline_unacked_records"] == 0,
                  "records still unacknowledged")

            # ... and is in the database exactly once.
            sim_rows = count_rows(coordinator.db_path, "sim")
            rp_rows = count_rows(coordinator.db_path, "rp")
            check(sim_rows == LIMIT, "database has %d sim records, "
                  "produced %d" % (sim_rows, LIMIT))
            check(rp_rows == REPLAY_GOOD, "database has %d replayed "
                  "records, expected %d" % (rp_rows, REPLAY_GOOD))

            if promtool:
                promtool_check(promtool, pipeline.metrics_text())
            code = pipeline.stop()
            check(code == 0, "SIGTERM exit code %s" % code)
        coordinator.stop()
    print("ok: %d records produced, stored exactly once" % (LIMIT + REPLAY_GOOD))


if __name__ == "__main__":
    main()
