"""mdp-pipeline and signals, the same rules as mds-coordinator:

- SIGHUP is logged ("main: signal name=SIGHUP action=ignored") and ignored:
  the process keeps serving and producing, and a later SIGTERM still
  flushes and exits 0.
- A second SIGINT (Ctrl-C twice) during the flush stops waiting: against a
  store that never answers and a 600 s MDP_SHUTDOWN_TIMEOUT_MS, the process
  exits 0 at once, reporting the unacknowledged records.
- An actor that cannot start makes main exit 1 naming it (a store or
  feedback endpoint the socket refuses: an ipc path longer than a socket
  address holds).

usage: test_signals.py MDP_PIPELINE
"""
import os
import signal
import subprocess
import sys

import msgpack
import zmq

from pl_support import Pipeline, check, wait_for

LONG_TIMEOUT_MS = 600000  # the flush would wait this long without a 2nd signal
EXIT_WAIT_SEC = 30


def acking_store(context):
    """A ROUTER that acks every batch; returns (socket, pump)."""
    store = context.socket(zmq.ROUTER)
    port = store.bind_to_random_port("tcp://127.0.0.1")

    def pump():
        while store.poll(0):
            identity, body = store.recv_multipart()
            batch = msgpack.unpackb(body, raw=False)
            reply = {"v": 1, "type": "ack", "batch_seq": batch["batch_seq"],
                     "written": len(batch["records"]), "duplicates": 0,
                     "dead_lettered": 0}
            store.send_multipart([identity, msgpack.packb(reply)])
    return store, port, pump


def test_sighup_is_ignored(binary, context):
    store, port, pump = acking_store(context)
    with Pipeline(binary, MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % port,
                  MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_RATE_SYNTHETIC_REFILL_RATE=2000,
                  MDP_RATE_SYNTHETIC_CAPACITY=100) as pipeline:
        pipeline.start()

        def acked(minimum):
            def probe():
                pump()
                return pipeline.metric("pipeline_records_acked_total") >= \
                    minimum
            return probe
        wait_for(acked(1), 20, "records acked before SIGHUP")
        pipeline.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "main: signal name=SIGHUP action=ignored"
                 in pipeline.read_log(), 10, "the SIGHUP log line")
        before = pipeline.metric("pipeline_records_acked_total")
        wait_for(acked(before + 1), 20, "records acked after SIGHUP")
        check(pipeline.get("/health")[0] == 200, "/health after SIGHUP")
        pipeline.process.send_signal(signal.SIGTERM)

        def exited():
            pump()
            return pipeline.process.poll() is not None
        wait_for(exited, EXIT_WAIT_SEC, "exit after SIGTERM")
        check(pipeline.process.returncode == 0,
              "exit %s after SIGHUP then SIGTERM" % pipeline.process.returncode)
        log = pipeline.read_log()
        check("main: shutdown_report result=complete" in log,
              "no clean flush after SIGHUP:\n%s" % log)
    store.close()
    print("ok: SIGHUP logged and ignored; SIGTERM still flushes")


def test_second_sigint_flushes_now(binary, context):
    store = context.socket(zmq.ROUTER)  # takes batches, never answers
    port = store.bind_to_random_port("tcp://127.0.0.1")
    with Pipeline(binary, MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % port,
                  MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_RATE_SYNTHETIC_REFILL_RATE=1000,
                  MDP_RATE_SYNTHETIC_CAPACITY=100,
                  MDP_SHUTDOWN_TIMEOUT_MS=LONG_TIMEOUT_MS) as pipeline:
        pipeline.start()
        wait_for(lambda: store.poll(0) and store.recv_multipart(), 20,
                 "a batch at the silent store")
        pipeline.process.send_signal(signal.SIGINT)
        wait_for(lambda: "main: signal name=SIGINT action=flush"
                 in pipeline.read_log(), 10, "the first SIGINT's log line")
        check(pipeline.process.poll() is None,
              "exited on the first SIGINT with a batch unacknowledged")
        pipeline.process.send_signal(signal.SIGINT)
        wait_for(lambda: pipeline.process.poll() is not None, EXIT_WAIT_SEC,
                 "exit after the second SIGINT (else it waits %d s)"
                 % (LONG_TIMEOUT_MS // 1000))
        check(pipeline.process.returncode == 0,
              "exit %s after two SIGINTs" % pipeline.process.returncode)
        log = pipeline.read_log()
        check("action=flush_now (second signal)" in log,
              "no flush_now log line:\n%s" % log)
        check("main: shutdown_report result=incomplete" in log and
              "sent_unacked=0 " not in log,
              "the unacknowledged records are not reported:\n%s" % log)
    store.close()
    print("ok: a second SIGINT stops waiting for acks")


def test_start_failure_exits_1(binary):
    refused = "ipc:///tmp/" + "x" * 200
    for variable, actor in (("MDP_STORE_ENDPOINTS", "sender"),
                            ("MDP_FEEDBACK_ENDPOINTS", "subscriber")):
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith("MDP_")}
        environment.update({variable: refused,
                            "MDP_METRICS_STANDALONE_PORT": "0",
                            "MDP_METRICS_BIND": "127.0.0.1"})
        result = subprocess.run([binary], env=environment,
                                capture_output=True, timeout=EXIT_WAIT_SEC)
        err = result.stderr.decode(errors="replace")
        check(result.returncode == 1,
              "%s refused: exit %d, expected 1:\n%s"
              % (variable, result.returncode, err))
        check("main: start_failed actor=%s" % actor in err and
              "cannot connect to ipc:///tmp/xxx" in err,
              "%s refused: no message naming the %s:\n%s"
              % (variable, actor, err))
    print("ok: an actor that cannot start makes main exit 1 naming it")


def main():
    binary = sys.argv[1]
    context = zmq.Context.instance()
    test_sighup_is_ignored(binary, context)
    test_second_sigint_flushes_now(binary, context)
    test_start_failure_exits_1(binary)


if __name__ == "__main__":
    main()
