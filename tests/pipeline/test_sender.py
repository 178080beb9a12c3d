"""mdp-pipeline's sender against a store that never answers (a Python
ROUTER that receives and stays silent): the window fills and bounds what is
in flight, each batch is resent after its ack timeout with the timeout
doubling per timeout (never a flood of copies), and SIGTERM with a full
window still exits 0 within MDP_SHUTDOWN_TIMEOUT_MS, reporting what was not
acknowledged and not handed over.

Failover: with two stores, one that takes batches and never answers, and one
that acks, the silent one holds at most the initial credit (500 records)
and the acking one gets the rest; when the silent one goes away (its port
refuses the reconnect) its batches are resent to the other at once (cause
"disconnect"), long before their ack timeout, and every record is
acknowledged.

usage: test_sender.py MDP_PIPELINE
"""
import re
import sys
import time

import msgpack
import zmq

from pl_support import Pipeline, check, wait_for

ACK_TIMEOUT_MS = 300
WINDOW = 3


def main():
    binary = sys.argv[1]
    context = zmq.Context.instance()
    store = context.socket(zmq.ROUTER)
    port = store.bind_to_random_port("tcp://127.0.0.1")
    arrivals = {}  # batch_seq -> [monotonic arrival times]

    def drain():
        while store.poll(0):
            _, body = store.recv_multipart()
            batch = msgpack.unpackb(body, raw=False)
            arrivals.setdefault(batch["batch_seq"], []).append(
                time.monotonic())

    with Pipeline(binary, MDP_PROVIDERS="sim",
                  MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % port,
                  MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_RATE_SIM_REFILL_RATE=1000, MDP_RATE_SIM_CAPACITY=100,
                  MDP_SEND_BATCH_RECORDS=50, MDP_SEND_WINDOW=WINDOW,
                  MDP_SEND_ACK_TIMEOUT_MS=ACK_TIMEOUT_MS,
                  MDP_SHUTDOWN_TIMEOUT_MS=1500) as pipeline:
        pipeline.start()

        def five_copies_of_the_first():
            drain()
            return len(arrivals.get(1, [])) >= 5
        wait_for(five_copies_of_the_first, 30, "batch 1 sent five times")
        check(set(arrivals) == set(range(1, WINDOW + 1)),
              "batches beyond the window were sent: %s" % sorted(arrivals))
        # From the second copy on: the first may arrive while start() still
        # waits for /health, and be stamped late here.
        times = arrivals[1][1:5]
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        # 0.6 s, 1.2 s, 2.4 s: each wait at least the ack timeout, and the
        # third clearly longer than the first (doubling, not a fixed period).
        check(all(gap >= ACK_TIMEOUT_MS / 1000.0 * 0.9 for gap in gaps),
              "a resend came before its ack timeout: %s" % gaps)
        check(gaps[2] > gaps[0] * 2, "ack timeouts do not grow: %s" % gaps)
        metrics = pipeline.metrics()
        check(metrics["pipeline_unacked_batches"] == WINDOW,
              "window not full: %s" % metrics["pipeline_unacked_batches"])
        check(metrics['pipeline_batches_resent_total{cause="timeout"}'] >= 3,
              "timeouts not counted")
        unacked = metrics["pipeline_unacked_records"]

        started = time.monotonic()
        code = pipeline.stop(timeout=20)
        took = time.monotonic() - started
        check(code == 0, "SIGTERM with a full window exited %s" % code)
        log = pipeline.read_log()
        found = re.search(r"shutdown_report result=incomplete produced=(\d+) "
                          r"stored=(\d+) never_sent=(\d+) sent_unacked=(\d+)",
                          log)
        check(found, "no shutdown_report line:\n" + log[-2000:])
        check(int(found.group(4)) >= unacked,
              "reported %s sent and unacked, the gauge said %d"
              % (found.group(4), unacked))
        print("ok: stopped in %.1f s, %s sent and unacked, %s never sent"
              % (took, found.group(4), found.group(3)))


def failover(binary):
    context = zmq.Context.instance()
    silent = context.socket(zmq.ROUTER)
    silent.setsockopt(zmq.LINGER, 0)
    silent_port = silent.bind_to_random_port("tcp://127.0.0.1")
    acking = context.socket(zmq.ROUTER)
    acking_port = acking.bind_to_random_port("tcp://127.0.0.1")
    limit = 2000
    keys = set()

    def serve():
        while silent is not None and silent.poll(0):
            silent.recv_multipart()
        while acking.poll(0):
            identity, body = acking.recv_multipart()
            batch = msgpack.unpackb(body, raw=False)
            new = 0
            for record in batch["records"]:
                key = tuple(record[:4])
                if key not in keys:
                    keys.add(key)
                    new += 1
            reply = {"v": 1, "type": "ack", "batch_seq": batch["batch_seq"],
                     "written": new,
                     "duplicates": len(batch["records"]) - new,
                     "dead_lettered": 0}
            acking.send_multipart([identity, msgpack.packb(reply)])

    with Pipeline(binary, MDP_PROVIDERS="sim",
                  MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d,tcp://127.0.0.1:%d"
                  % (silent_port, acking_port),
                  MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_PROVIDER_SIM_LIMIT=limit,
                  MDP_RATE_SIM_REFILL_RATE=2000, MDP_RATE_SIM_CAPACITY=100,
                  MDP_SEND_BATCH_RECORDS=50, MDP_SEND_WINDOW=WINDOW,
                  MDP_SEND_ACK_TIMEOUT_MS=600000,
                  MDP_SHUTDOWN_TIMEOUT_MS=100) as pipeline:
        pipeline.start()
        wait_for(lambda: serve() or
                 pipeline.metric("pipeline_store_connections") == 2, 10,
                 "both stores connected")

        silent_unacked = ('pipeline_store_unacked_records{address='
                          '"tcp://127.0.0.1:%d"}' % silent_port)

        def stuck():
            serve()
            return pipeline.metric(silent_unacked) > 0
        wait_for(stuck, 20, "a batch held by the silent store")
        # It never holds more than the initial credit (no reply, no
        # credit_initial: 500 records); the acking one gets the rest.
        wait_for(lambda: serve() or
                 pipeline.metric("pipeline_records_acked_total") > 500, 20,
                 "records acked by the other store")
        check(pipeline.metric(silent_unacked) <= 500,
              "the silent store holds %d records"
              % pipeline.metric(silent_unacked))
        silent.close()
        silent = None
        wait_for(lambda: serve() or
                 pipeline.metric("pipeline_records_acked_total") == limit,
                 20, "every record acked after the silent store left")
        check(pipeline.metric('pipeline_batches_resent_total'
                              '{cause="disconnect"}') >= 1,
              "no batch resent because of the disconnection")
        check(len(keys) == limit, "the acking store has %d distinct "
              "records, produced %d" % (len(keys), limit))
        check(pipeline.stop() == 0, "SIGTERM did not exit 0")
    print("ok: failover on disconnect")


if __name__ == "__main__":
    main()
    failover(sys.argv[1])
