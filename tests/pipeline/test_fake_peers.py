"""mdp-pipeline against peers written here: a Python XPUB publishing
feedback events and a Python ROUTER playing the store (no coordinator).

Feedback over real sockets: level changes move the scale gauges; a seq gap
is counted; an epoch change is a restart, not a gap; malformed and
unknown-version messages are counted and dropped; two coordinators combine to
the freest (least severe); a silent coordinator turns stale and the fail-safe (SOFT)
applies (also when it was HARD: exactly the fail-safe level). Sending: the ROUTER nacks `full` first (the pipeline backs off and
resends), then acks; every record produced is acknowledged, each batch's
records arrive, and SIGTERM exits 0.

usage: test_fake_peers.py MDP_PIPELINE [PROMTOOL]
"""
import sys
import time

import msgpack
import zmq

from pl_support import Pipeline, check, free_port, promtool_check, wait_for

LIMIT = 3000
TTL_MS = 600


def event(coordinator, epoch, seq, level, kind="heartbeat", depth=10,
          version=1):
    return msgpack.packb({
        "v": version, "type": kind, "coordinator_id": coordinator,
        "epoch": epoch, "seq": seq, "ts_ns": time.time_ns(),
        "level": level, "prev_level": level, "queue_size": depth,
        "capacity": 1000, "low_wm": 500, "high_wm": 800,
        "utilization": depth / 1000.0,
        "scale_hint": {"ok": 1.0, "soft": 0.5, "hard": 0.0}[level],
        "ttl_ms": TTL_MS}, use_bin_type=True)


class Store:
    """A ROUTER that nacks the first `nacks` batches as full, then acks."""

    def __init__(self, context, nacks):
        self.socket = context.socket(zmq.ROUTER)
        self.port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.nacks = nacks
        self.keys = set()
        self.batches = 0

    def serve(self):
        while self.socket.poll(0):
            identity, body = self.socket.recv_multipart()
            batch = msgpack.unpackb(body, raw=False)
            self.batches += 1
            if self.nacks > 0:
                self.nacks -= 1
                reply = {"v": 1, "type": "nack",
                         "batch_seq": batch["batch_seq"], "reason": "full",
                         "retry_after_ms": 50, "detail": "test"}
            else:
                written = 0
                for record in batch["records"]:
                    key = tuple(record[:4])
                    if key not in self.keys:
                        self.keys.add(key)
                        written += 1
                reply = {"v": 1, "type": "ack",
                         "batch_seq": batch["batch_seq"], "written": written,
                         "duplicates": len(batch["records"]) - written,
                         "dead_lettered": 0}
            self.socket.send_multipart(
                [identity, msgpack.packb(reply, use_bin_type=True)])


def main():
    binary = sys.argv[1]
    promtool = sys.argv[2] if len(sys.argv) > 2 else None
    context = zmq.Context.instance()
    store = Store(context, nacks=3)
    feedback = context.socket(zmq.XPUB)
    feedback_port = free_port()
    feedback.bind("tcp://127.0.0.1:%d" % feedback_port)
    state = {"c1": [11, 0, "ok"], "c2": [21, 0, "ok"]}  # epoch, seq, level
    silent = set()

    def publish(coordinator, level=None, skip=0, epoch=None, raw=None):
        entry = state[coordinator]
        if epoch is not None:
            entry[0], entry[1] = epoch, 0
        if level is not None:
            entry[2] = level
        entry[1] += 1 + skip
        topic = ("mds.fb/%s/" % coordinator).encode()
        body = raw if raw is not None else event(coordinator, entry[0],
                                                 entry[1], entry[2])
        feedback.send_multipart([topic, body])

    def pump():
        """Store replies and heartbeats of non-silent coordinators."""
        store.serve()
        while feedback.poll(0):
            feedback.recv()  # subscriptions
        for coordinator in state:
            if coordinator not in silent:
                publish(coordinator)

    with Pipeline(binary,
                  MDP_PROVIDERS="sim",
                  MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % store.port,
                  MDP_FEEDBACK_ENDPOINTS="tcp://localhost:%d" % feedback_port,
                  MDP_PROVIDER_SIM_LIMIT=LIMIT,
                  MDP_RATE_SIM_REFILL_RATE=1000,
                  MDP_RATE_SIM_CAPACITY=100,
                  MDP_FB_RAMP_MS=100,
                  MDP_SEND_BATCH_RECORDS=100,
                  MDP_SEND_ACK_TIMEOUT_MS=1000) as pipeline:
        pipeline.start()

        def until(key, predicate, what, timeout=20):
            def probe():
                pump()
                return predicate(pipeline.metrics().get(key, float("nan")))
            wait_for(probe, timeout, what, interval=0.05)

        depth = 'pipeline_feedback_queue_depth{source="%s"}'
        until(depth % "c1", lambda v: v == 10, "c1 heard")
        until(depth % "c2", lambda v: v == 10, "c2 heard")
        wait_for(lambda: pump() or pipeline.get("/ready")[0] == 200, 10,
                 "/ready")
        scale = 'pipeline_rate_scale_factor{provider="sim"}'
        state_key = 'pipeline_backpressure_state{provider="sim"}'

        # Two coordinators: the freest wins (the sender routes around the
        # others); paused only when both are HARD.
        state["c2"][2] = "hard"
        state["c1"][2] = "soft"
        until(scale, lambda v: v == 0.5, "scale 0.5 (c1 soft, c2 hard)")
        check(pipeline.metric('pipeline_paused{provider="sim"}') == 0,
              "paused while c1 still takes records")
        state["c1"][2] = "hard"
        until(state_key, lambda v: v == 2, "HARD (both hard)")
        until('pipeline_paused{provider="sim"}', lambda v: v == 1, "paused")
        state["c1"][2] = "ok"
        until(state_key, lambda v: v == 0, "OK again (c1 ok, c2 hard)")
        until(scale, lambda v: v == 1.0, "scale back to 1")
        state["c2"][2] = "ok"

        # A gap of three messages from c1: one gap counted.
        publish("c1", skip=3)
        until("pipeline_feedback_seq_gaps_total", lambda v: v == 1,
              "one sequence gap")
        # c2 restarts: a new epoch starting at seq 1 is not a gap.
        publish("c2", epoch=22)
        until("pipeline_feedback_restarts_total", lambda v: v == 1,
              "one restart")
        # Garbage, and a message of protocol version 2.
        feedback.send_multipart([b"mds.fb/c1/", b"\x81\xa1v"])
        feedback.send_multipart([b"mds.fb/c1/", b"not msgpack at all"])
        feedback.send_multipart([b"mds.fb/c1/",
                                 event("c1", 11, 10**6, "hard", version=2)])
        until('pipeline_feedback_malformed_total{reason="version"}',
              lambda v: v == 1, "an unknown version counted")
        until('pipeline_feedback_malformed_total{reason="malformed"}',
              lambda v: v == 2, "malformed messages counted")
        check(pipeline.metric("pipeline_feedback_seq_gaps_total") == 1,
              "a restart or a dropped message counted as a gap")
        check(pipeline.metric(state_key) == 0,
              "a dropped message changed the level")

        # c1 goes silent: stale after its ttl, fail-safe SOFT (c2 is HARD
        # meanwhile, or the freest, c2, would hide it).
        state["c2"][2] = "hard"
        until('pipeline_feedback_level{source="c2"}', lambda v: v == 2,
              "c2 hard")
        silent.add("c1")
        until('pipeline_feedback_stale{source="c1"}', lambda v: v == 1,
              "c1 stale")
        until(state_key, lambda v: v == 1, "fail-safe SOFT")
        wait_for(lambda: pump() or pipeline.get("/ready")[0] == 503, 10,
                 "not ready while stale")
        silent.discard("c1")
        until(state_key, lambda v: v == 0, "OK once c1 is heard again")
        # c1 goes silent at HARD: stale counts as exactly the fail-safe
        # (SOFT), so a dead coordinator does not pause us until forgotten.
        state["c1"][2] = "hard"
        until('pipeline_paused{provider="sim"}', lambda v: v == 1,
              "paused (c1 hard)")
        silent.add("c1")
        until(state_key, lambda v: v == 1, "stale HARD coordinator -> SOFT")
        until(scale, lambda v: v == 0.5, "scale 0.5 while c1 is stale")
        check(pipeline.metric('pipeline_paused{provider="sim"}') == 0,
              "still paused by a stale coordinator")
        silent.discard("c1")
        state["c1"][2] = "ok"
        until(state_key, lambda v: v == 0, "OK once c1 is heard at ok")
        state["c2"][2] = "ok"

        # Every record is acknowledged despite the nacks.
        until('pipeline_records_produced_total{provider="sim"}',
              lambda v: v == LIMIT, "the whole run", timeout=30)
        until("pipeline_records_acked_total", lambda v: v == LIMIT,
              "every record acked", timeout=30)
        metrics = pipeline.metrics()
        check(metrics.get('pipeline_nacks_total{reason="full"}') == 3,
              "nacks not counted")
        check(metrics.get("pipeline_records_resent_total", 0) > 0,
              "nacked batches were not resent")
        check(len(store.keys) == LIMIT, "the store received %d distinct "
              "records, produced %d" % (len(store.keys), LIMIT))
        code, status = pipeline.get("/status")
        check(code == 200 and '"coordinators":[{' in status,
              "/status lacks coordinators: %s" % status[:300])
        if promtool:
            promtool_check(promtool, pipeline.metrics_text())
        check(pipeline.stop() == 0, "SIGTERM did not exit 0")
    print("ok")


if __name__ == "__main__":
    main()
