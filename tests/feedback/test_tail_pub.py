#!/usr/bin/python3
"""mds-feedback-tail against test publishers (real ZeroMQ sockets on
127.0.0.1): decoding, malformed messages, the exact coordinator filter,
several endpoints, SIGINT and a count not reached.
Usage: test_tail_pub.py PATH/TO/mds-feedback-tail"""
import signal
import sys
import time

import zmq

import fb_support as fb

TAIL = sys.argv[1]
DEADLINE_S = 20  # each scenario finishes well before this or fails
checker = fb.Checker()
# The keys added in v1.1, as a coordinator sends them.
V11_KEYS = {"oldest_age_ms": 2150, "commit_latency_ms": 12.5,
            "sink_state": "down", "pressure": 0.75, "credit_initial": 500,
            "going_away": False}
context = zmq.Context()


def scenario_decode_and_malformed():
    publisher = fb.Publisher(context)
    tail = fb.Process([TAIL, "--endpoint", publisher.endpoint, "--count", "3",
                       "--timeout", str(DEADLINE_S)])
    bad_per_round = len(fb.garbage("alpha", 0))
    reason = 'queue "hot" \u00e9\\'

    def one_round(index):
        for frames in fb.garbage("alpha", index):
            publisher.send(frames)
        extra = {}
        if index % 2 == 0:
            extra = {"reason": reason, "drain_rate": 1234.5}
            extra.update(V11_KEYS)
        publisher.send_event(fb.event("alpha", index, kind="transition",
                                      level="soft", utilization=0.85,
                                      queue_size=85, **extra))

    code = fb.publish_until_exit(tail, publisher, one_round, DEADLINE_S)
    tail.stop()
    publisher.close()
    errors = tail.stderr_text()
    checker.check("malformed+valid: exit 0 after 3 events", code == 0,
                  "exit %s\n%s" % (code, errors))
    try:
        objects = fb.parse_lines(tail.stdout)
    except ValueError as error:
        checker.check("malformed+valid: stdout is JSON lines", False,
                      "%s\n%s" % (error, tail.stdout))
        return
    checker.check("malformed+valid: exactly 3 lines", len(objects) == 3,
                  tail.stdout)
    for index, obj in enumerate(objects):
        fb.check_event_line(checker, "line %d" % index, obj)
    seqs = [obj.get("seq") for obj in objects]
    checker.check("malformed+valid: consecutive seq",
                  len(seqs) == 3 and seqs == list(range(seqs[0], seqs[0] + 3)),
                  seqs)
    for obj in objects:
        sent_optional = obj["seq"] % 2 == 0
        checker.check("seq %d: optional fields only when sent" % obj["seq"],
                      ("reason" in obj) == sent_optional
                      and ("drain_rate" in obj) == sent_optional, obj)
        if sent_optional:
            checker.check("seq %d: reason round-trips" % obj["seq"],
                          obj["reason"] == reason
                          and obj["drain_rate"] == 1234.5, obj)
            checker.check("seq %d: v1.1 keys printed" % obj["seq"],
                          all(obj.get(key) == value and
                              type(obj.get(key)) is type(value)
                              for key, value in V11_KEYS.items()), obj)
        else:
            checker.check("seq %d: no v1.1 key when not sent" % obj["seq"],
                          not set(V11_KEYS) & set(obj), obj)
        checker.check("seq %d: values" % obj["seq"],
                      obj["type"] == "transition" and obj["level"] == "soft"
                      and obj["coordinator_id"] == "alpha"
                      and obj["queue_size"] == 85 and obj["epoch"] == 7
                      and obj["utilization"] == 0.85, obj)
    reports = [line for line in tail.stderr if "malformed topic=" in line]
    # The rounds after the first decoded event arrived whole: at least two.
    checker.check("malformed: one stderr line each (>= 2 rounds)",
                  len(reports) >= 2 * bad_per_round,
                  "%d reports\n%s" % (len(reports), errors))
    checker.check("malformed: frame count named",
                  "expected 2 frames" in errors, errors)
    checker.check("malformed: id mismatch named",
                  "differs from the topic" in errors, errors)
    checker.check("malformed: bad version named",
                  "'v'" in errors or "version" in errors, errors)
    checker.check("malformed: counted in the summary",
                  "malformed=%d" % len(reports) in errors, errors)


def scenario_prefix_filter():
    """--coordinator alpha must not match 'alphabet' or 'alph'."""
    publisher = fb.Publisher(context)
    tail = fb.Process([TAIL, "--endpoint", publisher.endpoint,
                       "--coordinator", "alpha", "--count", "3",
                       "--timeout", str(DEADLINE_S)])

    def one_round(index):
        # The neighbours go first: once an 'alpha' event arrives, the ones
        # sent before it on the same connection were filtered, not missed.
        for name in ("alphabet", "alph", "alpha_", "alpha"):
            publisher.send_event(fb.event(name, index))

    code = fb.publish_until_exit(tail, publisher, one_round, DEADLINE_S)
    tail.stop()
    publisher.close()
    objects = fb.parse_lines(tail.stdout)
    checker.check("filter: exit 0 after 3 events", code == 0,
                  "exit %s\n%s" % (code, tail.stderr_text()))
    checker.check("filter: only the exact id",
                  len(objects) == 3
                  and all(obj["coordinator_id"] == "alpha"
                          for obj in objects),
                  tail.stdout)
    checker.check("filter: nothing malformed",
                  "malformed=0" in tail.stderr_text(), tail.stderr_text())


def scenario_endpoints_and_sigint(use_variable):
    """Two publishers, one tail; SIGINT after both were seen exits 0."""
    east, west = fb.Publisher(context), fb.Publisher(context)
    if use_variable:
        how = "MDS_TAIL_ENDPOINT"
        tail = fb.Process([TAIL], env={
            "MDS_TAIL_ENDPOINT": east.endpoint + "," + west.endpoint})
    else:
        how = "--endpoint twice"
        tail = fb.Process([TAIL, "--endpoint", east.endpoint,
                           "--endpoint=" + west.endpoint])
    seen = set()
    deadline = time.monotonic() + DEADLINE_S
    index = 0
    while seen != {"east", "west"} and time.monotonic() < deadline \
            and tail.running():
        east.send_event(fb.event("east", index))
        west.send_event(fb.event("west", index))
        index += 1
        line = tail.next_line(0.02)
        while line is not None:
            seen.add(fb.parse_lines([line])[0]["coordinator_id"])
            line = tail.next_line(0)
    checker.check("%s: events from both endpoints" % how,
                  seen == {"east", "west"}, "%s\n%s" % (
                      seen, tail.stderr_text()))
    tail.proc.send_signal(signal.SIGINT)
    code = tail.wait(DEADLINE_S)
    tail.stop()
    east.close()
    west.close()
    checker.check("%s: SIGINT after events exits 0" % how, code == 0,
                  "exit %s\n%s" % (code, tail.stderr_text()))


def scenario_too_few():
    """Some events, but fewer than --count before --timeout: exit 1."""
    publisher = fb.Publisher(context)
    tail = fb.Process([TAIL, "--endpoint", publisher.endpoint,
                       "--count", "1000", "--timeout", "1.5"])
    deadline = time.monotonic() + DEADLINE_S
    index = 0
    # Publish until the first line shows the subscription works, then stop.
    while tail.lines.empty() and time.monotonic() < deadline \
            and tail.running():
        publisher.send_event(fb.event("alpha", index))
        index += 1
        tail.wait(0.02)
    code = tail.wait(DEADLINE_S)
    tail.stop()
    publisher.close()
    checker.check("too few: some events then exit 1",
                  code == 1 and 1 <= len(tail.stdout) < 1000,
                  "exit %s, %d lines\n%s" % (code, len(tail.stdout),
                                             tail.stderr_text()))
    checker.check("too few: summary says so",
                  "too_few" in tail.stderr_text(), tail.stderr_text())


scenario_decode_and_malformed()
scenario_prefix_filter()
scenario_endpoints_and_sigint(use_variable=False)
scenario_endpoints_and_sigint(use_variable=True)
scenario_too_few()
context.term()
sys.exit(checker.finish())
