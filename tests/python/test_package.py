#!/usr/bin/python3
"""The mdbp package without a coordinator: every case of the conformance
corpus gets its verdict from the package's decoders, the choices the corpus
leaves open are the strict ones (README of proto/conformance), and the
staleness rules of feedback.md 7 (a backlog does not look fresh with
synchronised clocks) on a driven clock.

Usage: test_package.py CORPUS_DIR (with the package on PYTHONPATH)"""
import sys

import msgpack

from mdbp import conformance
from mdbp.feedback import FeedbackClient, Malformed, decode
from mdbp.ingest import MalformedBatch, MalformedReply, decode_batch, \
    decode_reply


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def test_corpus(corpus):
    counts = {}
    for kind, verdict, name, _, body in conformance.cases(corpus):
        got, reason = conformance.verdict(kind, body)
        check(got == verdict, "%s: expected %s, got %s (%s)"
              % (name, verdict, got, reason))
        counts[kind, verdict] = counts.get((kind, verdict), 0) + 1
    for kind in conformance.KINDS:
        for verdict in conformance.VERDICTS:
            check(counts.get((kind, verdict), 0) > 0,
                  "the corpus has %s %s cases" % (kind, verdict))
    check(counts["feedback", "invalid"] >= 43, "at least 43 invalid feedback")
    check(conformance.run(corpus) == [], "run() agrees")
    print("ok corpus: %s" % sorted(counts.items()))


STATE = {"v": 1, "type": "heartbeat", "coordinator_id": "c1", "epoch": 5,
         "seq": 1, "ts_ns": 0, "level": "ok", "prev_level": "ok",
         "queue_size": 0, "capacity": 100, "low_wm": 50, "high_wm": 80,
         "utilization": 0.0, "scale_hint": 1.0, "ttl_ms": 3000}
TOPIC = b"mds.fb/c1/"


def rejected(decoder, error, body):
    try:
        decoder(body)
    except error:
        return True
    return False


def test_open_choices():
    # An unknown key twice, invalid UTF-8 in free text: the package refuses
    # (a decoder may; the corpus leaves it open).
    body = msgpack.packb(STATE)
    twice = body[:1].replace(b"\x8f", b"\xde\x00\x11") + body[1:] \
        + b"\xa1x\x01\xa1x\x01"
    check(rejected(lambda b: decode([TOPIC, b]), Malformed, twice),
          "feedback: unknown key twice")
    bad_utf8 = msgpack.packb(dict(STATE, reason="x")).replace(
        b"\xa1x", b"\xa1\xff")
    check(rejected(lambda b: decode([TOPIC, b]), Malformed, bad_utf8),
          "feedback: reason not UTF-8")
    ack = {"v": 1, "type": "ack", "batch_seq": 1, "written": 1,
           "duplicates": 0, "dead_lettered": 0}
    body = msgpack.packb(ack)
    check(rejected(decode_reply, MalformedReply,
                   b"\x88" + body[1:] + b"\xa1x\x01\xa1x\x01"),
          "reply: unknown key twice")
    batch = {"v": 1, "type": "batch", "producer_id": "p", "batch_seq": 1,
             "records": [["trade", "p", "S", 1, 1.0, 1.0]]}
    body = msgpack.packb(batch)
    check(rejected(decode_batch, MalformedBatch,
                   b"\x87" + body[1:] + b"\xa1x\x01\xa1x\x01"),
          "batch: unknown key twice")
    check(not rejected(lambda b: decode([TOPIC, b]), Malformed,
                       msgpack.packb(STATE)), "the plain state is valid")
    check(rejected(lambda b: decode([b"mds.fb/c2/", b]), Malformed,
                   msgpack.packb(STATE)), "topic of another id")
    print("ok open choices are strict")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_backlog(synchronised):
    clock = Clock()
    wall_ns = 1_700_000_010_000_000_000
    client = FeedbackClient([], clock=clock, clock_synchronised=synchronised,
                            wall_clock=lambda: wall_ns)
    try:
        old = dict(STATE, ts_ns=wall_ns - 2_990_000_000)  # 2.99 s old
        update = client.handle([TOPIC, msgpack.packb(old)])
        check(update is not None, "accepted")
        clock.now += 0.02
        stale = client.check_staleness()
    finally:
        client.close()
    if synchronised:
        check(stale == ["c1"], "a 2.99 s-old state expires 10 ms later")
    else:
        check(stale == [], "without synchronised clocks: from receipt")
    print("ok backlog, clock_synchronised=%s" % synchronised)


def main(corpus):
    test_corpus(corpus)
    test_open_choices()
    test_backlog(True)
    test_backlog(False)
    print("test_package: every check passed")


if __name__ == "__main__":
    main(sys.argv[1])
