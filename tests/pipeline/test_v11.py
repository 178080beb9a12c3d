"""mdp-pipeline and protocol v1.1 (proto/ingest.md 4.4, 5), across
processes:

- Sessions: a pipeline killed with SIGKILL and started again with the same
  MDP_PRODUCER_ID sends batch 1 again under a new session; the store's
  ack of the previous run's batch 1 (its session) is ignored
  (pipeline_foreign_replies_total), only the ack carrying this run's
  session acknowledges it.
- Capacity: against the real mds-coordinator with MDS_QUEUE_CAPACITY=300
  and 500-record batches every record is stored: without feedback the
  first batch is nacked over the capacity and split (never dropped); with
  feedback the batches are cut to the capacity the feedback reports.

usage: test_v11.py MDP_PIPELINE MDS_COORDINATOR
"""
import os
import sqlite3
import sys

import msgpack
import zmq

from pl_support import Pipeline, check, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402

PRODUCER_ID = "fixed-producer"
CAPACITY = 300
BATCH = 500
RECORDS = 3000
TABLES = ("trades", "quotes", "bars")


def test_sessions(binary, context):
    store = context.socket(zmq.ROUTER)
    port = store.bind_to_random_port("tcp://127.0.0.1")
    env = dict(MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % port,
               MDP_PRODUCER_ID=PRODUCER_ID, MDP_FB_ENABLE_FEEDBACK="false",
               MDP_RATE_SYNTHETIC_REFILL_RATE=200,
               MDP_RATE_SYNTHETIC_CAPACITY=10, MDP_SEND_WINDOW=1,
               MDP_SEND_ACK_TIMEOUT_MS=60000)

    def first_batch():
        while True:
            if not store.poll(20000):
                check(False, "no batch at the store")
            identity, body = store.recv_multipart()
            batch = msgpack.unpackb(body, raw=False)
            if batch["batch_seq"] == 1:
                return identity, batch

    with Pipeline(binary, **env) as first:
        first.start()
        _, old = first_batch()
        check(old.get("session"), "batch without a session: %r" % old)
        first.process.kill()  # SIGKILL: its batch 1 is never acked
        first.process.wait()
    with Pipeline(binary, **env) as second:
        second.start()
        identity, new = first_batch()
        check(new["session"] != old["session"],
              "the restarted run kept its session %d" % new["session"])

        def ack(session):
            return msgpack.packb({
                "v": 1, "type": "ack", "batch_seq": 1,
                "written": len(new["records"]), "duplicates": 0,
                "dead_lettered": 0, "session": session, "credit": 1000})
        store.send_multipart([identity, ack(old["session"])])
        second.wait_metric("pipeline_foreign_replies_total",
                           lambda v: v == 1, 10, "the old ack ignored")
        check(second.metric("pipeline_records_acked_total") == 0,
              "the previous run's ack was taken for this run's batch 1")
        store.send_multipart([identity, ack(new["session"])])
        second.wait_metric("pipeline_records_acked_total",
                           lambda v: v == len(new["records"]), 10,
                           "this run's ack taken")
        check(second.stop() == 0, "the pipeline did not exit 0")
    store.close()
    print("ok: a restarted producer never takes its previous run's ack")


def count_rows(db_path):
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        total = 0
        for table in TABLES:
            try:
                total += connection.execute(
                    "SELECT COUNT(*) FROM %s" % table).fetchone()[0]
            except sqlite3.OperationalError:
                pass  # not created yet
        return total
    finally:
        connection.close()


def test_capacity(pipeline_binary, coordinator_binary, feedback):
    with Coordinator(coordinator_binary,
                     MDS_QUEUE_CAPACITY=CAPACITY) as coordinator:
        coordinator.start(ready=True)
        with Pipeline(pipeline_binary,
                      MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                      MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                      MDP_FB_ENABLE_FEEDBACK="true" if feedback else "false",
                      MDP_PROVIDER_SYNTHETIC_LIMIT=RECORDS,
                      MDP_RATE_SYNTHETIC_REFILL_RATE=20000,
                      MDP_RATE_SYNTHETIC_CAPACITY=BATCH,
                      MDP_SEND_BATCH_RECORDS=BATCH,
                      MDP_SEND_BATCH_MS=200) as pipeline:
            pipeline.start()
            pipeline.wait_metric("pipeline_records_acked_total",
                                 lambda v: v == RECORDS, 150,
                                 "every record acknowledged")
            metrics = pipeline.metrics()
            check(metrics.get("pipeline_records_rejected_total", 0) == 0,
                  "records dropped: %s"
                  % metrics.get("pipeline_records_rejected_total"))
            if not feedback:
                check(metrics.get("pipeline_batches_split_total", 0) >= 1,
                      "the 500-record batch was not split")
            check(pipeline.stop() == 0, "the pipeline did not exit 0")
        wait_for(lambda: count_rows(coordinator.db_path) == RECORDS, 30,
                 "%d rows stored" % RECORDS)
    print("ok: capacity %d, %d-record batches, feedback %s: all %d stored"
          % (CAPACITY, BATCH, "on" if feedback else "off", RECORDS))


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    context = zmq.Context.instance()
    test_sessions(pipeline_binary, context)
    test_capacity(pipeline_binary, coordinator_binary, feedback=False)
    test_capacity(pipeline_binary, coordinator_binary, feedback=True)


if __name__ == "__main__":
    main()
