"""The specs work for a third party: the hex examples of feedback.md and
ingest.md decode with Python's msgpack to the documented values, and the
Python examples of both specs (the subscriber of feedback.md 9, the reply
decoder of ingest.md 6) give every case of the conformance corpus its
verdict: valid accepted, invalid malformed, version a version mismatch.
Usage: test_proto_docs.py feedback.md ingest.md CONFORMANCE_DIR"""
import json
import os
import re
import sys

import msgpack


def block_after(document, marker):
    at = document.index(marker)
    start = document.index("```", at)
    start = document.index("\n", start) + 1
    return document[start:document.index("```", start)]


def golden(document, name):
    return bytes.fromhex(block_after(document, "<!-- golden: %s -->" % name))


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def corpus_cases(directory, wanted_kind):
    """(verdict, file, body) of every case of one kind in cases.tsv."""
    with open(os.path.join(directory, "cases.tsv"), encoding="utf-8") as tsv:
        for line in tsv:
            if not line.strip() or line.startswith("#"):
                continue
            kind, verdict, name, _ = line.rstrip("\n").split("\t")
            if kind == wanted_kind:
                with open(os.path.join(directory, name), "rb") as body:
                    yield verdict, name, body.read()


def verdict_of(decode, malformed, mismatch, body):
    try:
        decode(body)
    except mismatch:
        return "version"
    except malformed:
        return "invalid"
    return "valid"


def check_corpus(directory, kind, decode, malformed, mismatch):
    counts = {}
    for verdict, name, body in corpus_cases(directory, kind):
        got = verdict_of(decode, malformed, mismatch, body)
        check(got == verdict, "%s: the spec's example says %s, the corpus %s"
              % (name, got, verdict))
        counts[verdict] = counts.get(verdict, 0) + 1
    check(all(counts.get(v, 0) > 0 for v in ("valid", "invalid", "version")),
          "%s cases of every verdict: %r" % (kind, counts))
    return counts


def main(feedback_path, ingest_path, corpus_dir):
    feedback = open(feedback_path, encoding="utf-8").read()
    ingest = open(ingest_path, encoding="utf-8").read()

    message = msgpack.unpackb(golden(feedback, "feedback"), raw=False)
    check(message == {
        "v": 1, "type": "transition", "coordinator_id": "coord-1",
        "epoch": 12345678901234567890, "seq": 42,
        "ts_ns": 1700000000123456789, "level": "soft", "prev_level": "ok",
        "queue_size": 6500, "capacity": 10000, "low_wm": 5000,
        "high_wm": 8000, "utilization": 0.65, "scale_hint": 0.5,
        "ttl_ms": 3000, "reason": "queue above low watermark",
        "drain_rate": 12500.5}, "feedback example: %r" % message)

    snippet = block_after(feedback, "<!-- example: python-subscriber -->")
    check(snippet.startswith("import math"), "snippet found")
    scope = {"__name__": "snippet"}
    exec(compile(snippet, "feedback.md", "exec"), scope)
    decode, malformed = scope["decode_feedback"], scope["Malformed"]
    mismatch = scope["VersionMismatch"]
    check(not issubclass(mismatch, malformed), "a version mismatch is told "
          "apart from a malformed message")
    topic = b"mds.fb/coord-1/"
    state = decode([topic, golden(feedback, "feedback")])
    check(state["level"] == "soft" and state["seq"] == 42, "snippet decodes")

    def rejected(frames):
        try:
            decode(frames)
        except malformed:
            return True
        return False

    def packed(**changes):
        copy = dict(message)
        for key, value in changes.items():
            if value is None:
                del copy[key]
            else:
                copy[key] = value
        return msgpack.packb(copy)

    check(not rejected([topic, packed(future_key=[1, 2])]), "unknown key")
    check(not rejected([topic, packed(utilization=1)]), "int as float")
    check(rejected([topic]), "one frame")
    check(rejected([b"mds.fb/coord-1", packed()]), "topic without slash")
    check(rejected([b"mds.fb/coord-2/", packed()]), "topic of another id")
    try:
        decode([topic, packed(v=2, seq=None)])
        raise AssertionError("v=2 accepted")
    except mismatch:
        pass  # a version mismatch, whatever keys it lacks
    check(rejected([topic, packed(v=True)]), "v=true is not version 1")
    check(rejected([topic, packed(v="1")]), "v as str")
    check(rejected([topic, packed(seq=None)]), "missing seq")
    check(rejected([topic, packed(seq="1")]), "seq as str")
    check(rejected([topic, packed(seq=-1)]), "negative seq")
    check(rejected([topic, packed(level="medium")]), "unknown level")
    check(rejected([topic, packed(scale_hint=1.5)]), "scale_hint > 1")
    check(rejected([topic, packed(reason=5)]), "reason as int")
    check(rejected([topic, packed() + b"\xc0"]), "trailing bytes")
    check(rejected([topic, packed()[:-1]]), "truncated")

    # v1.1: the new keys decode with Python's msgpack as documented, and the
    # snippet accepts them and rejects bad values.
    v11 = msgpack.unpackb(golden(feedback, "feedback-v1.1"), raw=False)
    expected = dict(message, seq=43, ts_ns=1700000000223456789, level="hard",
                    prev_level="soft", scale_hint=0.0, reason="sink_down",
                    drain_rate=0.0, oldest_age_ms=2150, commit_latency_ms=12.5,
                    sink_state="down", pressure=1.0, credit_initial=500,
                    going_away=False)
    check(v11 == expected, "feedback v1.1 example: %r" % v11)
    check(list(v11)[-6:] == ["oldest_age_ms", "commit_latency_ms",
                             "sink_state", "pressure", "credit_initial",
                             "going_away"], "v1.1 key order")
    state = decode([topic, golden(feedback, "feedback-v1.1")])
    check(state["sink_state"] == "down" and state["going_away"] is False,
          "snippet decodes v1.1")
    away = msgpack.unpackb(golden(feedback, "going-away"), raw=False)
    check(away["going_away"] is True and away["ttl_ms"] == 0
          and away["reason"] == "shutdown" and away["type"] == "heartbeat",
          "going_away example: %r" % away)
    for bad in (dict(sink_state="gone"), dict(pressure=1.5),
                dict(going_away=1), dict(commit_latency_ms=-1.0),
                dict(commit_latency_ms=float("nan")),
                dict(oldest_age_ms=2 ** 32), dict(credit_initial=-1)):
        check(rejected([topic, packed(**bad)]), "v1.1 bad value %r" % bad)

    # The golden messages and the whole corpus through the snippet.
    for name in ("feedback", "feedback-v1.1", "going-away"):
        check(scope["decode_map"](golden(feedback, name))["coordinator_id"]
              == "coord-1", "snippet decodes golden %s" % name)
    counts = check_corpus(corpus_dir, "feedback", scope["decode_map"],
                          malformed, mismatch)
    check(counts["invalid"] >= 43, "43 crafted invalid messages or more")

    batch = msgpack.unpackb(golden(ingest, "batch"), raw=False)
    check(batch == {
        "v": 1, "type": "batch", "producer_id": "feed-ibkr-1", "batch_seq": 7,
        "records": [
            ["trade", "ibkr", "AAPL", 1700000000000000000, 189.5, 100.0],
            ["quote", "ibkr", "AAPL", 1700000000000000001, 189.49, 300.0,
             189.51, 200.0],
            ["bar", "ibkr", "AAPL", 1699999940000000000, 189.0, 190.25,
             188.75, 189.5, 125000.0]]}, "batch example: %r" % batch)
    ack = msgpack.unpackb(golden(ingest, "ack"), raw=False)
    check(ack == {"v": 1, "type": "ack", "batch_seq": 7, "written": 3,
                  "duplicates": 0, "dead_lettered": 0}, "ack: %r" % ack)
    nack = msgpack.unpackb(golden(ingest, "nack"), raw=False)
    check(nack == {"v": 1, "type": "nack", "batch_seq": 8, "reason": "full",
                   "retry_after_ms": 200, "detail": "queue full"},
          "nack: %r" % nack)
    ack11 = msgpack.unpackb(golden(ingest, "ack-v1.1"), raw=False)
    check(ack11 == dict(ack, session=9876543210, credit=1500),
          "ack v1.1: %r" % ack11)
    nack11 = msgpack.unpackb(golden(ingest, "nack-v1.1"), raw=False)
    check(nack11 == {"v": 1, "type": "nack", "batch_seq": 9,
                     "reason": "malformed", "retry_after_ms": 0,
                     "detail": "record 2: field 'price' must be > 0",
                     "session": 9876543210, "credit": 1500,
                     "code": "bad_record", "record_index": 2,
                     "field": "price"}, "nack v1.1: %r" % nack11)
    # The JSON shown for ack and nack in section 4 is the same message.
    for shown, expected in ((r'\{"v": 1, "type": "ack".*\}', ack),
                            (r'\{"v": 1, "type": "nack".*\}', nack)):
        check(json.loads(re.search(shown, ingest).group(0)) == expected,
              "section 4 shows the golden reply")
    check_ingest_example(ingest, corpus_dir)
    print("test_proto_docs: every check passed")


def check_ingest_example(ingest, corpus_dir):
    """The producer example of ingest.md 6: its reply decoder over the
    golden replies and the corpus; its REQ framing as shown."""
    snippet = block_after(ingest, "<!-- example: python-producer -->")
    scope = {"__name__": "snippet"}
    exec(compile(snippet, "ingest.md", "exec"), scope)
    decode = scope["decode_reply"]
    for name in ("ack", "nack", "ack-v1.1", "nack-v1.1", "ack-duplicates",
                 "nack-batch-seq-0", "nack-draining"):
        reply = decode(golden(ingest, name))
        check(reply["type"] in ("ack", "nack"), "golden %s decodes" % name)
    check_corpus(corpus_dir, "reply", decode, scope["Malformed"],
                 scope["VersionMismatch"])
    # The JSON shown after each of the later examples is the same message.
    for name in ("ack-duplicates", "nack-batch-seq-0", "nack-draining"):
        marker = "<!-- golden: %s -->" % name
        after = ingest.index("```", ingest.index("```", ingest.index(marker))
                             + 3) + 3
        shown = json.loads(_next_block(ingest, after))
        decoded = msgpack.unpackb(golden(ingest, name), raw=False)
        check(shown == decoded and list(shown) == list(decoded),
              "%s: the JSON shown is the golden message" % name)


def _next_block(document, start):
    """The text of the first code block at or after `start`."""
    begin = document.index("\n", document.index("```", start)) + 1
    return document[begin:document.index("```", begin)]


if __name__ == "__main__":
    main(*sys.argv[1:4])
