#!/usr/bin/python3
"""mds-feedback-tail and the Python example against a live mds-coordinator.

The coordinator's sink is a PostgreSQL address where nothing listens, so
every record sent stays queued: a batch of 60 records into a queue of 100
(low watermark 50) gives exactly one transition ok -> soft, deterministic
without any timing. Heartbeats every 100 ms keep the channel busy.
Usage: test_live_coordinator.py SOURCE_ROOT mds-coordinator mds-feedback-tail"""
import os
import sys
import time

ROOT, COORDINATOR, TAIL = sys.argv[1:4]
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import harness  # noqa: E402
import feedback_client as fc  # noqa: E402
import fb_support as fb  # noqa: E402

DEADLINE_S = 20  # each wait finishes well before this or fails
HEARTBEAT_MS = 100
checker = fb.Checker()


def start_coordinator(coordinator_id, **env):
    """A coordinator whose records never leave the queue."""
    settings = dict(MDS_COORDINATOR_ID=coordinator_id, MDS_QUEUE_CAPACITY=100,
                    MDS_HEARTBEAT_MS=HEARTBEAT_MS, MDS_DRAIN_TIMEOUT_MS=0,
                    MDS_LOG_LEVEL="warning")
    settings.update(env)
    unreachable = "postgres://postgres@127.0.0.1:%d/none" % harness.free_port()
    coordinator = harness.Coordinator(COORDINATOR, sink=unreachable,
                                      **settings)
    return coordinator.start()


def run_tail(args):
    tail = fb.Process([TAIL] + args)
    code = tail.wait(DEADLINE_S + 5)
    tail.stop()
    return code, tail


def scenario_tail_count(coordinator):
    code, tail = run_tail(["--endpoint", coordinator.feedback_endpoint,
                           "--count", "3", "--timeout", str(DEADLINE_S)])
    checker.check("tail --count 3: exit 0", code == 0,
                  "exit %s\n%s" % (code, tail.stderr_text()))
    try:
        objects = fb.parse_lines(tail.stdout)
    except ValueError as error:
        checker.check("tail --count 3: valid JSON lines", False,
                      "%s\n%s" % (error, tail.stdout))
        return
    checker.check("tail --count 3: three lines", len(objects) == 3,
                  tail.stdout)
    for index, obj in enumerate(objects):
        fb.check_event_line(checker, "live line %d" % index, obj)
    seqs = [obj.get("seq") for obj in objects]
    checker.check("tail --count 3: consecutive seq, one epoch",
                  len(objects) == 3
                  and seqs == list(range(seqs[0], seqs[0] + 3))
                  and len({obj["epoch"] for obj in objects}) == 1, seqs)
    checker.check("tail --count 3: this coordinator, its capacity",
                  all(obj["coordinator_id"] == coordinator.coordinator_id
                      and obj["capacity"] == 100 and obj["low_wm"] == 50
                      and obj["high_wm"] == 80 for obj in objects), objects)
    checker.check("tail --count 3: nothing malformed",
                  "malformed=0" in tail.stderr_text(), tail.stderr_text())


def scenario_tail_filter(exact, longer):
    """--coordinator fb-1 with coordinators fb-1 and fb-10 on the socket."""
    both = exact.feedback_endpoint + "," + longer.feedback_endpoint
    code, tail = run_tail(["--endpoint", both, "--count", "30",
                           "--timeout", str(DEADLINE_S)])
    ids = {obj["coordinator_id"] for obj in fb.parse_lines(tail.stdout)}
    checker.check("tail unfiltered: hears both coordinators",
                  code == 0 and ids == {exact.coordinator_id,
                                        longer.coordinator_id},
                  "exit %s ids %s\n%s" % (code, ids, tail.stderr_text()))
    code, tail = run_tail(["--endpoint", both, "--coordinator",
                           exact.coordinator_id, "--count", "10",
                           "--timeout", str(DEADLINE_S)])
    ids = {obj["coordinator_id"] for obj in fb.parse_lines(tail.stdout)}
    checker.check("tail --coordinator %s: not %s" % (exact.coordinator_id,
                                                    longer.coordinator_id),
                  code == 0 and ids == {exact.coordinator_id},
                  "exit %s ids %s\n%s" % (code, ids, tail.stderr_text()))


def wait_updates(client, wanted, what):
    """Polls the client until `wanted(updates)`; fails on the deadline."""
    updates = []
    deadline = time.monotonic() + DEADLINE_S
    while not wanted(updates):
        if time.monotonic() > deadline:
            checker.check("python client: " + what, False,
                          [u.as_dict() for u in updates])
            return None
        updates.extend(client.poll(0.05))
    return updates


def scenario_python_client(coordinator):
    client = fc.FeedbackClient([coordinator.feedback_endpoint],
                               coordinator=coordinator.coordinator_id)
    cid = coordinator.coordinator_id
    first = wait_updates(client, lambda got: got, "a first message")
    if first is None:
        return
    checker.check("python client: first state is ok",
                  first[0].state["level"] == "ok"
                  and first[0].kind in ("snapshot", "heartbeat"),
                  first[0].as_dict())
    producer = harness.Producer(coordinator.ingest_endpoint)
    producer.send_raw(harness.batch_message("fb-test", 1,
                                            harness.records(0, 60)))
    updates = wait_updates(
        client, lambda got: any(u.kind == "transition" for u in got)
        and sum(u.kind == "heartbeat" for u in got
                if u.state["level"] == "soft") >= 2,
        "a transition and two heartbeats after it")
    producer.close()
    if updates is None:
        return
    transition = [u for u in updates if u.kind == "transition"][0].state
    checker.check("python client: transition ok -> soft decoded",
                  transition["level"] == "soft"
                  and transition["prev_level"] == "ok"
                  and transition["queue_size"] == 60
                  and transition["capacity"] == 100
                  and transition["utilization"] == 0.6
                  and 0.0 < transition["scale_hint"] < 1.0, transition)
    state = client.coordinators[cid]
    checker.check("python client: no gaps, one epoch, level soft",
                  state.gaps == 0 and state.restarts == 0
                  and state.level == "soft" and client.malformed == 0,
                  state.summary())
    ttl_s = state.state["ttl_ms"] / 1000.0

    # Staleness: the coordinator dies; after ttl_ms without a message the
    # client must call it stale.
    coordinator.kill()
    client.poll(0.01)
    killed_at = time.monotonic()
    stale = []
    while not stale and time.monotonic() < killed_at + DEADLINE_S:
        client.poll(0.05)
        stale = client.check_staleness()
    checker.check("python client: stale after the coordinator died",
                  stale == [cid] and state.stale
                  and time.monotonic() - killed_at >= ttl_s * 0.9,
                  (stale, state.summary()))

    # A restart on the same endpoint: a new epoch, and the client recovers.
    again = start_coordinator(cid, MDS_FEEDBACK_ENDPOINT=
                              coordinator.feedback_endpoint)
    old_epoch = state.epoch
    try:
        updates = wait_updates(client, lambda got: got,
                               "a message after restart")
    finally:
        again.__exit__(None, None, None)
    if updates is None:
        return
    checker.check("python client: restart seen as a new epoch",
                  updates[0].restarted and updates[0].recovered
                  and state.epoch != old_epoch and not state.stale
                  and state.restarts == 1 and state.level == "ok",
                  (updates[0].as_dict(), state.summary()))
    client.close()


def scenario_python_cli(coordinator):
    cli = fb.Process([sys.executable,
                      os.path.join(ROOT, "examples", "python",
                                   "feedback_client.py"),
                      "--endpoint", coordinator.feedback_endpoint,
                      "--coordinator", coordinator.coordinator_id,
                      "--count", "3", "--json", "--timeout", str(DEADLINE_S)])
    code = cli.wait(DEADLINE_S + 5)
    cli.stop()
    objects = fb.parse_lines(cli.stdout)
    seqs = [obj["seq"] for obj in objects]
    checker.check("python cli: three live messages, consecutive seq",
                  code == 0 and len(objects) == 3
                  and seqs == list(range(seqs[0], seqs[0] + 3))
                  and all(obj["gap"] == 0 for obj in objects),
                  "exit %s\n%s\n%s" % (code, cli.stdout, cli.stderr_text()))


tag = "fb%d" % os.getpid()
exact = start_coordinator(tag + "-1")
longer = start_coordinator(tag + "-10")
try:
    scenario_tail_count(exact)
    scenario_tail_filter(exact, longer)
    scenario_python_cli(longer)
    scenario_python_client(exact)
finally:
    for coordinator in (exact, longer):
        coordinator.__exit__(None, None, None)
sys.exit(checker.finish())
