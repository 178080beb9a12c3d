#!/usr/bin/python3
"""examples/python/feedback_client.py, the consumer written from
proto/feedback.md alone: the spec's golden message, seq gaps, restarts,
duplicates, malformed messages and staleness against a test publisher (real
sockets), and its command line.
Usage: test_python_client.py SOURCE_ROOT"""
import os
import re
import subprocess
import sys
import time

import zmq

import fb_support as fb

ROOT = sys.argv[1]
EXAMPLE_DIR = os.path.join(ROOT, "examples", "python")
EXAMPLE = os.path.join(EXAMPLE_DIR, "feedback_client.py")
sys.path.insert(0, EXAMPLE_DIR)
import feedback_client as fc  # noqa: E402

DEADLINE_S = 20  # each scenario finishes well before this or fails
checker = fb.Checker()
context = zmq.Context()


def golden_bytes():
    """The example message of feedback.md section 8, from its hex dump."""
    with open(os.path.join(ROOT, "proto", "feedback.md")) as spec:
        text = spec.read()
    block = text.split("<!-- golden: feedback -->", 1)[1]
    dump = block.split("```", 2)[1]
    return bytes(int(byte, 16) for byte in re.findall(r"\b[0-9a-f]{2}\b",
                                                       dump))


def scenario_golden():
    body = golden_bytes()
    checker.check("golden: 256 bytes in the spec", len(body) == 256, len(body))
    state = fc.decode([b"mds.fb/coord-1/", body])
    expected = {"v": 1, "type": "transition", "coordinator_id": "coord-1",
                "epoch": 12345678901234567890, "seq": 42,
                "ts_ns": 1700000000123456789, "level": "soft",
                "prev_level": "ok", "queue_size": 6500, "capacity": 10000,
                "low_wm": 5000, "high_wm": 8000, "utilization": 0.65,
                "scale_hint": 0.5, "ttl_ms": 3000,
                "reason": "queue above low watermark", "drain_rate": 12500.5}
    checker.check("golden: decodes to the spec's table", state == expected,
                  state)
    for frames, what in (([b"mds.fb/coord-2/", body], "topic id differs"),
                         ([b"mds.fb/coord-1/", body + b"\x00"],
                          "bytes after the map")):
        try:
            fc.decode(frames)
            checker.check("golden: %s is malformed" % what, False)
        except fc.Malformed:
            checker.check("golden: %s is malformed" % what, True)


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def receive_until(client, wanted, deadline_s):
    """Polls until `wanted(updates)` is true or the deadline; returns the
    updates."""
    updates = []
    deadline = time.monotonic() + deadline_s
    while not wanted(updates) and time.monotonic() < deadline:
        updates.extend(client.poll(0.05))
    return updates


def scenario_tracking():
    publisher = fb.Publisher(context)
    clock = FakeClock()
    client = fc.FeedbackClient([publisher.endpoint], context=context,
                               clock=clock)
    # Slow joiner: publish until one arrives; after it, the connection holds
    # every later message in order.
    first = []
    deadline = time.monotonic() + DEADLINE_S
    seq = 0
    while not first and time.monotonic() < deadline:
        seq += 1
        publisher.send_event(fb.event("alpha", seq, epoch=7))
        first = client.poll(0.02)
    checker.check("tracking: a first heartbeat arrives", len(first) >= 1,
                  client.last_error)
    if not first:
        return
    # Messages still in flight from the joining loop arrive before the ones
    # below (one connection keeps order), so count from the last one sent.
    last = seq
    before = client.malformed
    garbage = fb.garbage("alpha", 0)
    send = publisher.send_event
    send(fb.event("alpha", last + 1, kind="transition", level="soft",
                  prev_level="ok", queue_size=85, utilization=0.85,
                  scale_hint=0.17, reason="queue above low watermark"))
    send(fb.event("alpha", last + 3, level="soft"))          # one missed
    send(fb.event("alpha", last + 3, level="soft"))          # duplicate
    send(fb.event("alpha", last + 2, level="soft"))          # stale
    for frames in garbage:
        publisher.send(frames)
    send(fb.event("alpha", 5, epoch=8, level="ok"))           # restart
    send(fb.event("alpha", 6, epoch=8, level="ok", future_key=[1, {"x": 2}],
                  ttl_ms=2000))                               # unknown key
    updates = receive_until(
        client, lambda got: any(u.state["epoch"] == 8 and u.state["seq"] == 6
                                for u in got), DEADLINE_S)
    summary = [(u.kind, u.state["epoch"], u.state["seq"], u.gap,
                u.restarted) for u in updates
               if u.state["epoch"] == 8 or u.state["seq"] > last]
    checker.check("tracking: accepted messages, gaps and restart",
                  summary == [("transition", 7, last + 1, 0, False),
                              ("heartbeat", 7, last + 3, 1, False),
                              ("heartbeat", 8, 5, 0, True),
                              ("heartbeat", 8, 6, 0, False)], summary)
    alpha = client.coordinators["alpha"]
    checker.check("tracking: counters",
                  (alpha.gaps, alpha.missed, alpha.restarts,
                   alpha.duplicates) == (1, 1, 1, 2), alpha.summary())
    transitions = [u.state for u in updates if u.kind == "transition"]
    checker.check("tracking: transition decoded in full",
                  len(transitions) == 1
                  and transitions[0]["level"] == "soft"
                  and transitions[0]["prev_level"] == "ok"
                  and transitions[0]["reason"] == "queue above low watermark"
                  and transitions[0]["scale_hint"] == 0.17, transitions)
    checker.check("tracking: unknown key ignored",
                  updates and "future_key" not in updates[-1].state,
                  updates and updates[-1].state)
    checker.check("tracking: every garbage message dropped and counted",
                  client.malformed - before == len(garbage)
                  and client.version_mismatches == 1,
                  "malformed %d of %d, version %d, last %s" % (
                      client.malformed - before, len(garbage),
                      client.version_mismatches, client.last_error))
    checker.check("tracking: level follows", alpha.level == "ok", alpha.level)

    # Staleness on the injected clock: ttl_ms of the last message is 2000.
    clock.now += 1.999
    checker.check("staleness: fresh within ttl_ms",
                  client.check_staleness() == [] and not alpha.stale)
    clock.now += 0.002
    checker.check("staleness: stale after ttl_ms",
                  client.check_staleness() == ["alpha"] and alpha.stale)
    checker.check("staleness: reported once", client.check_staleness() == [])
    send(fb.event("alpha", 7, epoch=8))
    updates = receive_until(client, lambda got: got, DEADLINE_S)
    checker.check("staleness: the next message recovers",
                  len(updates) == 1 and updates[0].recovered
                  and not alpha.stale, [u.as_dict() for u in updates])
    client.close()
    publisher.close()


def scenario_cli():
    publisher = fb.Publisher(context)
    argv = [sys.executable, EXAMPLE, "--endpoint", publisher.endpoint,
            "--coordinator", "alpha", "--count", "3", "--json",
            "--timeout", str(DEADLINE_S)]
    client = fb.Process(argv)

    def one_round(index):
        publisher.send_event(fb.event("alphabet", index))
        for frames in fb.garbage("alpha", index):
            publisher.send(frames)
        publisher.send_event(fb.event("alpha", index,
                                      kind="transition" if index % 5 == 0
                                      else "heartbeat"))

    code = fb.publish_until_exit(client, publisher, one_round, DEADLINE_S)
    client.stop()
    publisher.close()
    checker.check("cli: --count 3 exits 0", code == 0,
                  "exit %s\n%s" % (code, client.stderr_text()))
    objects = fb.parse_lines(client.stdout)
    seqs = [obj.get("seq") for obj in objects]
    checker.check("cli: three JSON lines of alpha only, consecutive seq",
                  len(objects) == 3
                  and all(obj["coordinator_id"] == "alpha" for obj in objects)
                  and seqs == list(range(seqs[0], seqs[0] + 3)),
                  client.stdout)
    checker.check("cli: summary on stderr",
                  '"received": 3' in client.stderr_text(),
                  client.stderr_text())
    checker.check("cli: malformed messages reported, not fatal",
                  "dropped malformed message" in client.stderr_text()
                  and '"malformed": 0' not in client.stderr_text(),
                  client.stderr_text())

    def run(args):
        done = subprocess.run([sys.executable, EXAMPLE] + args,
                              capture_output=True, text=True,
                              timeout=DEADLINE_S)
        return done.returncode, done.stdout, done.stderr

    for args in (["--count", "-1"], ["--timeout", "x"], ["--bogus"],
                 ["--coordinator", "a/b"], ["--endpoint", "nowhere"]):
        code, out, err = run(args + ["--timeout", "0.1"])
        checker.check("cli: bad usage %s exits 2" % args,
                      code == 2 and out == "", "exit %s\n%s" % (code, err))
    with fb.socket_free_port() as port:
        code, out, err = run(["--endpoint", "tcp://127.0.0.1:%d" % port,
                              "--count", "1", "--timeout", "0.2"])
    checker.check("cli: nothing before --timeout exits 1",
                  code == 1 and out == "", "exit %s\n%s" % (code, err))


scenario_golden()
scenario_tracking()
scenario_cli()
context.term()
sys.exit(checker.finish())
