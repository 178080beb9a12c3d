#!/usr/bin/env python3
"""Writes the conformance corpus of proto/conformance/ (README.md there).

Every case is one msgpack body (the second frame of a feedback message, a
batch, or a reply) written by the small hand-made encoder below, not by a
msgpack library: a library cannot write a map with the same key twice, a
binary key, a float32, or an integer in a wider format than it needs, and
the corpus needs all of them. The valid examples of the specs are checked
byte for byte against the golden hex blocks of feedback.md and ingest.md.

Usage: make_corpus.py [OUTDIR]   (default: the directory of this script)
It rewrites cases.tsv and every case file; run it again after adding a case
and commit the result (the files are the corpus, this script its source).
"""
import math
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.dirname(HERE)


# --- a msgpack encoder that can write anything ------------------------------

class Raw:
    """Bytes written as they are (a hand-picked format, or garbage)."""

    def __init__(self, data):
        self.data = data


class Bin:
    """A msgpack bin value (bin8/16/32) holding these bytes."""

    def __init__(self, data):
        self.data = data


class Map:
    """A map from a list of (key, value) pairs: keys may repeat or be of any
    type. `header` forces a format: 'fix', 'map16' or 'map32'."""

    def __init__(self, pairs, header=None):
        self.pairs = list(pairs)
        self.header = header


def f32(value):
    return Raw(b"\xca" + struct.pack(">f", value))


def u64(value):
    return Raw(b"\xcf" + struct.pack(">Q", value))


def i64(value):
    return Raw(b"\xd3" + struct.pack(">q", value))


def u32(value):
    return Raw(b"\xce" + struct.pack(">I", value))


def i8(value):
    return Raw(b"\xd0" + struct.pack(">b", value))


def i32(value):
    return Raw(b"\xd2" + struct.pack(">i", value))


def str8(text):
    data = text.encode("utf-8")
    return Raw(b"\xd9" + struct.pack(">B", len(data)) + data)


def str16(text):
    data = text.encode("utf-8")
    return Raw(b"\xda" + struct.pack(">H", len(data)) + data)


def str_bytes(data):
    """A str value holding these bytes (possibly not UTF-8)."""
    return Raw(_str_header(len(data)) + data)


def _str_header(length):
    if length < 32:
        return bytes([0xa0 | length])
    if length < 256:
        return b"\xd9" + struct.pack(">B", length)
    if length < 65536:
        return b"\xda" + struct.pack(">H", length)
    return b"\xdb" + struct.pack(">I", length)


def _int(value):
    if 0 <= value <= 0x7f:
        return bytes([value])
    if -32 <= value < 0:
        return struct.pack(">b", value)
    if value >= 0:
        for limit, code, fmt in ((0xff, 0xcc, ">B"), (0xffff, 0xcd, ">H"),
                                 (0xffffffff, 0xce, ">I"),
                                 (0xffffffffffffffff, 0xcf, ">Q")):
            if value <= limit:
                return bytes([code]) + struct.pack(fmt, value)
        raise ValueError("integer too large for msgpack: %d" % value)
    for limit, code, fmt in ((-0x80, 0xd0, ">b"), (-0x8000, 0xd1, ">h"),
                             (-0x80000000, 0xd2, ">i"),
                             (-0x8000000000000000, 0xd3, ">q")):
        if value >= limit:
            return bytes([code]) + struct.pack(fmt, value)
    raise ValueError("integer too small for msgpack: %d" % value)


def _count_header(count, fix, code16, code32, fix_max=15):
    if count <= fix_max:
        return bytes([fix | count])
    if count < 65536:
        return bytes([code16]) + struct.pack(">H", count)
    return bytes([code32]) + struct.pack(">I", count)


def enc(value):
    if isinstance(value, Raw):
        return value.data
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return b"\xcb" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _str_header(len(data)) + data
    if isinstance(value, Bin):
        length = len(value.data)
        if length < 256:
            return b"\xc4" + struct.pack(">B", length) + value.data
        if length < 65536:
            return b"\xc5" + struct.pack(">H", length) + value.data
        return b"\xc6" + struct.pack(">I", length) + value.data
    if isinstance(value, (list, tuple)):
        return (_count_header(len(value), 0x90, 0xdc, 0xdd)
                + b"".join(enc(item) for item in value))
    if isinstance(value, Map):
        count = len(value.pairs)
        if value.header == "map16":
            head = b"\xde" + struct.pack(">H", count)
        elif value.header == "map32":
            head = b"\xdf" + struct.pack(">I", count)
        else:
            head = _count_header(count, 0x80, 0xde, 0xdf)
        return head + b"".join(enc(k) + enc(v) for k, v in value.pairs)
    if isinstance(value, dict):
        return enc(Map(value.items()))
    raise TypeError("cannot encode %r" % (value,))


# --- editing a list of pairs --------------------------------------------------

def edit(pairs, **changes):
    """A copy of `pairs` with keys replaced in place (value DROP removes the
    key) and new keys appended, in the order given."""
    out = []
    for key, value in pairs:
        if key in changes:
            if changes[key] is not DROP:
                out.append((key, changes[key]))
        else:
            out.append((key, value))
    seen = {key for key, _ in pairs}
    for key, value in changes.items():
        if key not in seen and value is not DROP:
            out.append((key, value))
    return out


DROP = object()


# --- the golden examples of the specs ---------------------------------------

def golden(document, name):
    text = open(os.path.join(PROTO, document), encoding="utf-8").read()
    at = text.index("<!-- golden: %s -->" % name)
    start = text.index("\n", text.index("```", at)) + 1
    return bytes.fromhex(text[start:text.index("```", start)])


FEEDBACK = [
    ("v", 1), ("type", "transition"), ("coordinator_id", "coord-1"),
    ("epoch", 12345678901234567890), ("seq", 42),
    ("ts_ns", 1700000000123456789), ("level", "soft"), ("prev_level", "ok"),
    ("queue_size", 6500), ("capacity", 10000), ("low_wm", 5000),
    ("high_wm", 8000), ("utilization", 0.65), ("scale_hint", 0.5),
    ("ttl_ms", 3000), ("reason", "queue above low watermark"),
    ("drain_rate", 12500.5),
]
FEEDBACK_V11 = edit(
    FEEDBACK, seq=43, ts_ns=1700000000223456789, level="hard",
    prev_level="soft", scale_hint=0.0, reason="sink_down", drain_rate=0.0,
    oldest_age_ms=2150, commit_latency_ms=12.5, sink_state="down",
    pressure=1.0, credit_initial=500, going_away=False)
GOING_AWAY = edit(
    FEEDBACK, type="heartbeat", seq=44, ts_ns=1700000001000000000,
    level="ok", prev_level="ok", queue_size=0, utilization=0.0,
    scale_hint=1.0, ttl_ms=0, reason="shutdown", drain_rate=DROP,
    going_away=True)
REQUIRED_FEEDBACK = [key for key, _ in FEEDBACK[:15]]

TRADE = ["trade", "ibkr", "AAPL", 1700000000000000000, 189.5, 100.0]
QUOTE = ["quote", "ibkr", "AAPL", 1700000000000000001, 189.49, 300.0,
         189.51, 200.0]
BAR = ["bar", "ibkr", "AAPL", 1699999940000000000, 189.0, 190.25, 188.75,
       189.5, 125000.0]
BATCH = [("v", 1), ("type", "batch"), ("producer_id", "feed-ibkr-1"),
         ("batch_seq", 7), ("records", [TRADE, QUOTE, BAR])]
ACK = [("v", 1), ("type", "ack"), ("batch_seq", 7), ("written", 3),
       ("duplicates", 0), ("dead_lettered", 0)]
NACK = [("v", 1), ("type", "nack"), ("batch_seq", 8), ("reason", "full"),
        ("retry_after_ms", 200), ("detail", "queue full")]
SESSION = 9876543210
ACK_V11 = ACK + [("session", SESSION), ("credit", 1500)]
NACK_V11 = [("v", 1), ("type", "nack"), ("batch_seq", 9),
            ("reason", "malformed"), ("retry_after_ms", 0),
            ("detail", "record 2: field 'price' must be > 0"),
            ("session", SESSION), ("credit", 1500), ("code", "bad_record"),
            ("record_index", 2), ("field", "price")]

ACK_DUPLICATES = [("v", 1), ("type", "ack"), ("batch_seq", 12),
                  ("written", 1), ("duplicates", 2), ("dead_lettered", 0),
                  ("session", SESSION), ("credit", 1500)]
NACK_SEQ0 = [("v", 1), ("type", "nack"), ("batch_seq", 0),
             ("reason", "malformed"), ("retry_after_ms", 0),
             ("detail", "message: expected a map, got array"),
             ("credit", 1500), ("code", "not_a_map")]
NACK_DRAINING = [("v", 1), ("type", "nack"), ("batch_seq", 10),
                 ("reason", "draining"), ("retry_after_ms", 1000),
                 ("detail", "coordinator is shutting down"),
                 ("session", SESSION), ("credit", 1500), ("code", "draining")]


def check_goldens():
    """The hand-made encoder writes exactly the specs' example bytes."""
    for document, name, pairs in (
            ("feedback.md", "feedback", FEEDBACK),
            ("feedback.md", "feedback-v1.1", FEEDBACK_V11),
            ("feedback.md", "going-away", GOING_AWAY),
            ("ingest.md", "batch", BATCH), ("ingest.md", "ack", ACK),
            ("ingest.md", "nack", NACK), ("ingest.md", "ack-v1.1", ACK_V11),
            ("ingest.md", "nack-v1.1", NACK_V11),
            ("ingest.md", "ack-duplicates", ACK_DUPLICATES),
            ("ingest.md", "nack-batch-seq-0", NACK_SEQ0),
            ("ingest.md", "nack-draining", NACK_DRAINING)):
        written = enc(Map(pairs))
        if written != golden(document, name):
            raise SystemExit("make_corpus: %s golden %r differs from the "
                             "encoder's bytes" % (document, name))


# --- the cases ----------------------------------------------------------------

CASES = []  # (kind, verdict, name, body bytes, description)


def case(kind, verdict, name, body, description):
    if isinstance(body, list):
        body = enc(Map(body))
    elif not isinstance(body, bytes):
        body = enc(body)
    if any(name == c[2] and kind == c[0] for c in CASES):
        raise SystemExit("make_corpus: duplicate case %s/%s" % (kind, name))
    if "\t" in description or "\n" in description:
        raise SystemExit("make_corpus: tab or newline in a description")
    CASES.append((kind, verdict, name, body, description))


def feedback_cases():
    k = "feedback"
    fb = FEEDBACK
    case(k, "valid", "golden-v1", fb, "feedback.md section 8, byte for byte")
    case(k, "valid", "golden-v1.1", FEEDBACK_V11,
         "feedback.md section 8.1 (every v1.1 key), byte for byte")
    case(k, "valid", "golden-going-away", GOING_AWAY,
         "feedback.md section 8.2 (going_away true, ttl_ms 0), byte for byte")
    case(k, "valid", "keys-reversed", list(reversed(fb)),
         "the keys in reverse order")
    case(k, "valid", "map32", Map(fb, header="map32"), "map32 header")
    case(k, "valid", "required-only", fb[:15],
         "only the 15 required keys")
    case(k, "valid", "wide-integers",
         edit(fb, v=u64(1), seq=u32(42), queue_size=i32(6500),
              ttl_ms=i8(100), capacity=u64(10000)),
         "integers in wider formats than needed, signed formats for uint keys")
    case(k, "valid", "ts-ns-int64", edit(fb, ts_ns=i64(1700000000123456789)),
         "ts_ns as int64 (0xd3)")
    case(k, "valid", "ts-ns-max", edit(fb, ts_ns=u64(2 ** 63 - 1)),
         "ts_ns 2^63-1 as uint64: the largest int64")
    case(k, "valid", "ts-ns-negative", edit(fb, ts_ns=-1),
         "ts_ns -1: an int key takes negative values")
    case(k, "valid", "epoch-max", edit(fb, epoch=2 ** 64 - 1),
         "epoch 2^64-1")
    case(k, "valid", "float32", edit(fb, utilization=f32(0.5),
                                      drain_rate=f32(12500.5)),
         "float32 values")
    case(k, "valid", "float-as-int",
         edit(fb, utilization=1, scale_hint=0, drain_rate=12500),
         "integers where floats are expected")
    case(k, "valid", "ttl-ms-max", edit(fb, ttl_ms=2 ** 32 - 1),
         "ttl_ms 2^32-1")
    case(k, "valid", "reason-128", edit(fb, reason="r" * 128),
         "reason of exactly 128 bytes")
    case(k, "valid", "reason-empty", edit(fb, reason=""), "reason empty")
    case(k, "valid", "reason-utf8", edit(fb, reason="d\u00e9p\u00f4t \u2191"),
         "reason with multi-byte UTF-8")
    id64 = "c" * 64
    case(k, "valid", "coordinator-id-64", edit(fb, coordinator_id=id64),
         "coordinator_id of exactly 64 bytes")
    case(k, "valid", "str-formats",
         edit(fb, type=str8("transition"), level=str16("soft"),
              coordinator_id=str8("coord-1")),
         "str8 and str16 where a fixstr would do")
    case(k, "valid", "unknown-keys",
         fb + [("future", [1, {"a": None}]), ("blob", Bin(b"\x00\xff")),
               ("nothing", None), ("z" * 40, 1.5)],
         "unknown str keys with any values (array, map, bin, nil) are ignored")
    case(k, "valid", "unknown-key-odd-map",
         fb + [("future", Map([(1, "x"), ("a", 1), ("a", 2),
                               (Bin(b"k"), None)]))],
         "an unknown key whose value is a map with an integer key, a key "
         "twice and a bin key: ignored with the value (only top-level keys "
         "are checked)")
    case(k, "valid", "edges", edit(fb, utilization=0.0, scale_hint=1.0,
                                    drain_rate=0.0),
         "utilization 0.0, scale_hint 1.0, drain_rate 0.0")
    case(k, "valid", "v11-edges",
         edit(FEEDBACK_V11, oldest_age_ms=2 ** 32 - 1, credit_initial=0,
              pressure=0, commit_latency_ms=0, going_away=True,
              sink_state="degraded"),
         "v1.1 keys at their edges: 2^32-1, 0, pressure as integer 0")
    case(k, "valid", "class-scales",
         FEEDBACK_V11 + [("scale_hint_critical", 1.0),
                         ("scale_hint_bulk", 0.0),
                         ("credit_initial_critical", 2 ** 32 - 1)],
         "v1.1 per-class share factors (ingest.md 4.5) at their edges")
    case(k, "valid", "going-away-ttl",
         edit(fb, going_away=True), "going_away true with a nonzero ttl_ms")

    # version: v is a uint other than 1, whatever else the map has or lacks
    case(k, "version", "v2", edit(fb, v=2), "v = 2, otherwise the v1 example")
    case(k, "version", "v0", edit(fb, v=0), "v = 0")
    case(k, "version", "v2-only", [("v", 2)], "v = 2 and no other key")
    case(k, "version", "v2-other-keys",
         [("v", 2), ("kind", "state"), ("level", 3)],
         "v = 2 with keys v1 does not know and a level v1 would refuse")
    case(k, "version", "v-max", edit(fb, v=u64(2 ** 64 - 1)), "v = 2^64-1")
    case(k, "version", "v2-last", edit(fb, v=DROP) + [("v", 2)],
         "v = 2 as the last key")

    # invalid: every rule of section 4, one at a time
    def bad(name, pairs, description):
        case(k, "invalid", name, pairs, description)

    bad("repeated-key-same", fb + [("level", "soft")],
        "key 'level' twice, same value")
    bad("repeated-key-differs", fb + [("seq", 43)],
        "key 'seq' twice, different values")
    bad("repeated-key-v", [("v", 1)] + fb, "key 'v' twice")
    bad("binary-key-extra", fb + [(Bin(b"extra"), 1)],
        "an extra key that is bin, not str")
    bad("binary-key-required", edit(fb, level=DROP) + [(Bin(b"level"), "soft")],
        "key 'level' written as bin (a lenient decoder takes it for the str)")
    bad("binary-key-repeat", fb + [(Bin(b"seq"), 43)],
        "all keys present, plus 'seq' again as a bin key")
    bad("integer-key", fb + [(1, "x")], "an integer key")
    bad("nil-key", fb + [(None, "x")], "a nil key")
    bad("array-key", fb + [([1], "x")], "an array key")
    bad("ttl-ms-2e32", edit(fb, ttl_ms=2 ** 32), "ttl_ms 2^32 (above uint32)")
    bad("ttl-ms-negative", edit(fb, ttl_ms=-1), "ttl_ms -1")
    bad("drain-rate-negative", edit(fb, drain_rate=-1.0), "drain_rate -1.0")
    bad("drain-rate-inf", edit(fb, drain_rate=math.inf), "drain_rate +inf")
    bad("drain-rate-minus-inf", edit(fb, drain_rate=-math.inf),
        "drain_rate -inf")
    bad("drain-rate-nan", edit(fb, drain_rate=math.nan), "drain_rate NaN")
    bad("drain-rate-str", edit(fb, drain_rate="12"), "drain_rate as str")
    bad("reason-129", edit(fb, reason="r" * 129), "reason of 129 bytes")
    bad("reason-int", edit(fb, reason=5), "reason as int")
    bad("reason-bin", edit(fb, reason=Bin(b"queue")), "reason as bin")
    bad("coordinator-id-65", edit(fb, coordinator_id="c" * 65),
        "coordinator_id of 65 bytes")
    bad("coordinator-id-slash", edit(fb, coordinator_id="coord/1"),
        "coordinator_id containing '/'")
    bad("coordinator-id-empty", edit(fb, coordinator_id=""),
        "coordinator_id empty")
    bad("coordinator-id-control", edit(fb, coordinator_id="coord\x01"),
        "coordinator_id with a control character (0x01)")
    bad("coordinator-id-del", edit(fb, coordinator_id="coord\x7f"),
        "coordinator_id with DEL (0x7f)")
    bad("coordinator-id-int", edit(fb, coordinator_id=1),
        "coordinator_id as int")
    bad("ts-ns-2e63", edit(fb, ts_ns=u64(2 ** 63)),
        "ts_ns 2^63 as uint64 (above int64)")
    bad("ts-ns-float", edit(fb, ts_ns=1.7e18), "ts_ns as float")
    bad("ts-ns-str", edit(fb, ts_ns="1700000000123456789"), "ts_ns as str")
    for key in REQUIRED_FEEDBACK:
        bad("missing-" + key.replace("_", "-"), edit(fb, **{key: DROP}),
            "required key '%s' missing" % key)
    bad("v-str", edit(fb, v="1"), "v as str \"1\": ill-typed, not a version")
    bad("v-true", edit(fb, v=True), "v as bool true (not the integer 1)")
    bad("v-float", edit(fb, v=1.0), "v as float 1.0")
    bad("type-unknown", edit(fb, type="status"), "unknown type")
    bad("type-bin", edit(fb, type=Bin(b"transition")), "type as bin")
    bad("level-unknown", edit(fb, level="medium"), "unknown level")
    bad("level-case", edit(fb, level="SOFT"), "level in capitals")
    bad("prev-level-empty", edit(fb, prev_level=""), "prev_level empty")
    bad("level-bin", edit(fb, level=Bin(b"soft")), "level as bin")
    bad("epoch-negative", edit(fb, epoch=-1), "epoch -1")
    bad("epoch-float", edit(fb, epoch=1.0), "epoch as float")
    bad("seq-negative", edit(fb, seq=-1), "seq -1")
    bad("seq-str", edit(fb, seq="42"), "seq as str")
    bad("seq-nil", edit(fb, seq=None), "seq nil")
    bad("queue-size-negative", edit(fb, queue_size=-5), "queue_size -5")
    bad("capacity-bool", edit(fb, capacity=True), "capacity as bool")
    bad("utilization-above-1", edit(fb, utilization=1.5), "utilization 1.5")
    bad("utilization-negative", edit(fb, utilization=-0.1),
        "utilization -0.1")
    bad("utilization-nan", edit(fb, utilization=math.nan), "utilization NaN")
    bad("utilization-bool", edit(fb, utilization=True),
        "utilization as bool")
    bad("scale-hint-inf", edit(fb, scale_hint=math.inf), "scale_hint +inf")
    bad("scale-hint-above-1", edit(fb, scale_hint=f32(1.5)),
        "scale_hint 1.5 as float32")
    bad("scale-hint-str", edit(fb, scale_hint="0.5"), "scale_hint as str")
    v11 = FEEDBACK_V11
    bad("oldest-age-2e32", edit(v11, oldest_age_ms=2 ** 32),
        "oldest_age_ms 2^32")
    bad("oldest-age-negative", edit(v11, oldest_age_ms=-1),
        "oldest_age_ms -1")
    bad("credit-initial-2e32", edit(v11, credit_initial=2 ** 32),
        "credit_initial 2^32")
    bad("credit-initial-float", edit(v11, credit_initial=500.0),
        "credit_initial as float")
    bad("commit-latency-negative", edit(v11, commit_latency_ms=-1.0),
        "commit_latency_ms -1.0")
    bad("commit-latency-inf", edit(v11, commit_latency_ms=math.inf),
        "commit_latency_ms +inf")
    bad("commit-latency-nan", edit(v11, commit_latency_ms=math.nan),
        "commit_latency_ms NaN")
    bad("sink-state-unknown", edit(v11, sink_state="gone"),
        "sink_state not up|degraded|down")
    bad("pressure-above-1", edit(v11, pressure=1.5), "pressure 1.5")
    bad("scale-hint-bulk-above-1", v11 + [("scale_hint_bulk", 1.5)],
        "scale_hint_bulk 1.5")
    bad("scale-hint-critical-str", v11 + [("scale_hint_critical", "1")],
        "scale_hint_critical as str")
    bad("scale-hint-bulk-nan", v11 + [("scale_hint_bulk", math.nan)],
        "scale_hint_bulk NaN")
    bad("credit-initial-critical-2-32",
        v11 + [("credit_initial_critical", u64(2 ** 32))],
        "credit_initial_critical 2^32")
    bad("pressure-nan", edit(v11, pressure=math.nan), "pressure NaN")
    bad("going-away-int", edit(v11, going_away=1), "going_away as integer 1")
    bad("going-away-nil", edit(v11, going_away=None), "going_away nil")
    bad("going-away-str", edit(v11, going_away="true"), "going_away as str")
    body = enc(Map(fb))
    case(k, "invalid", "trailing-byte", body + b"\xc0",
         "one byte (nil) after the map")
    case(k, "invalid", "two-maps", body + body, "two maps in one frame")
    case(k, "invalid", "truncated", body[:-1], "the map's last byte missing")
    case(k, "invalid", "count-too-high",
         b"\xde\x00\x12" + body[3:], "map16 header says 18 entries, 17 follow")
    case(k, "invalid", "empty", b"", "an empty frame")
    case(k, "invalid", "array", enc([1, "transition"]), "an array, not a map")
    case(k, "invalid", "nil", b"\xc0", "nil, not a map")
    case(k, "invalid", "empty-map", b"\x80", "an empty map")
    case(k, "invalid", "reserved-byte", b"\xc1", "the never-used byte 0xc1")
    case(k, "invalid", "ext-value", edit(fb, seq=Raw(b"\xd4\x01\x2a")),
         "seq as a fixext1 value")


def trade(ts_ns, price=1, size=0, provider="p", symbol="s"):
    return ["trade", provider, symbol, ts_ns, price, size]


def batch_cases():
    k = "batch"
    b = BATCH

    def rec(record):  # the golden batch with one record replaced
        return edit(b, records=[TRADE, record, BAR])

    case(k, "valid", "golden", b, "ingest.md section 6, byte for byte")
    case(k, "valid", "session", b[:3] + [("session", SESSION)] + b[3:],
         "v1.1 session, written right after producer_id as our encoder does")
    case(k, "valid", "priority-weight",
         b[:3] + [("session", SESSION), ("priority", "critical"),
                  ("weight", 3)] + b[3:],
         "v1.1 priority class and weight (4.5), in our encoder's order")
    case(k, "valid", "priority-normal", b + [("priority", "normal")],
         "priority normal spelled out (the same as absent)")
    case(k, "valid", "weight-max", b + [("weight", 1000)], "weight 1000")
    case(k, "valid", "keys-reversed", list(reversed(b)),
         "keys in reverse order")
    case(k, "valid", "unknown-keys", b + [("hint", {"x": [1]}),
                                          ("blob", Bin(b"\x01"))],
         "unknown keys ignored")
    case(k, "valid", "unknown-key-odd-map",
         b + [("hint", Map([(7, 1), ("x", 1), ("x", 2)]))],
         "an unknown key whose value is a map with an integer key and a key "
         "twice: ignored")
    case(k, "valid", "batch-seq-0", edit(b, batch_seq=0),
         "batch_seq 0: reserved, but not refused (ingest.md 2)")
    case(k, "valid", "session-max", b + [("session", u64(2 ** 64 - 1))],
         "session 2^64-1")
    case(k, "valid", "numbers",
         rec(["quote", "ibkr", "AAPL", i64(1700000000000000001), 189,
              f32(300.0), u32(190), 0]),
         "integer and float32 numbers, ts_ns as int64, a size of 0")
    case(k, "valid", "bar-high-equals-low",
         rec(["bar", "ibkr", "AAPL", 1, 5.0, 5.0, 5.0, 5.0, 0.0]),
         "a bar with high == low")
    case(k, "valid", "names-32", rec(trade(1, provider="p" * 32,
                                           symbol="S" * 32)),
         "provider and symbol of exactly 32 bytes")
    case(k, "valid", "names-unicode",
         rec(trade(2, provider="b\u00f6rse", symbol="\u00c4PL\u00a0X")),
         "multi-byte UTF-8 names, U+00A0 (not a control character)")
    case(k, "valid", "names-near-controls",
         rec(trade(4, provider="\u00a0\u061b\u200d\u2027",
                   symbol="\u202f\u2065\u206a\ufeff")),
         "code points next to the control characters of ingest.md 3 "
         "(U+00A0, U+061B, U+200D, U+2027, U+202F, U+2065, U+206A, U+FEFF) "
         "are allowed")
    case(k, "valid", "records-10000",
         edit(b, records=[trade(i + 1) for i in range(10000)]),
         "10,000 records: the most one batch may hold")
    case(k, "valid", "producer-id-64", edit(b, producer_id="p" * 64),
         "producer_id of 64 bytes")

    case(k, "version", "v2", edit(b, v=2), "v = 2")
    case(k, "version", "v0-only", [("v", 0)], "v = 0 and no other key")

    def bad(name, pairs, description):
        case(k, "invalid", name, pairs, description)

    bad("repeated-key", b + [("batch_seq", 8)], "key 'batch_seq' twice")
    bad("repeated-records", b + [("records", [TRADE])], "key 'records' twice")
    bad("integer-key", b + [(7, 1)], "an integer key")
    bad("binary-key", b + [(Bin(b"hint"), 1)], "a bin key")
    bad("binary-key-required", edit(b, batch_seq=DROP)
        + [(Bin(b"batch_seq"), 7)], "key 'batch_seq' written as bin")
    for key in ("v", "type", "producer_id", "batch_seq", "records"):
        bad("missing-" + key.replace("_", "-"), edit(b, **{key: DROP}),
            "required key '%s' missing" % key)
    bad("type-ack", edit(b, type="ack"), "type 'ack' sent as a batch")
    bad("type-bin", edit(b, type=Bin(b"batch")), "type as bin")
    bad("v-true", edit(b, v=True), "v as bool true")
    bad("producer-id-empty", edit(b, producer_id=""), "producer_id empty")
    bad("producer-id-65", edit(b, producer_id="p" * 65),
        "producer_id of 65 bytes")
    bad("producer-id-bin", edit(b, producer_id=Bin(b"feed")),
        "producer_id as bin")
    bad("batch-seq-negative", edit(b, batch_seq=-1), "batch_seq -1")
    bad("batch-seq-str", edit(b, batch_seq="7"), "batch_seq as str")
    bad("batch-seq-float", edit(b, batch_seq=7.0), "batch_seq as float")
    bad("session-0", b + [("session", 0)], "session 0 (bad_value)")
    bad("session-negative", b + [("session", -3)], "session -3")
    bad("session-str", b + [("session", "1")], "session as str")
    bad("priority-unknown", b + [("priority", "urgent")],
        "priority not one of the three classes (bad_value)")
    bad("priority-case", b + [("priority", "Critical")],
        "priority names are lower case")
    bad("priority-int", b + [("priority", 1)], "priority as an integer")
    bad("weight-0", b + [("weight", 0)], "weight 0 (bad_value)")
    bad("weight-1001", b + [("weight", 1001)], "weight over 1000")
    bad("weight-float", b + [("weight", 2.0)], "weight as float")
    bad("records-empty", edit(b, records=[]), "records empty")
    bad("records-map", edit(b, records={"0": TRADE}), "records as a map")
    bad("records-10001", edit(b, records=[trade(i + 1)
                                          for i in range(10001)]),
        "10,001 records (too_many_records)")
    body = enc(Map(b))
    case(k, "invalid", "trailing-byte", body + b"\x00", "a byte after the map")
    case(k, "invalid", "truncated", body[:-3], "cut short")
    case(k, "invalid", "not-a-map", enc([1, 2]), "an array")
    case(k, "invalid", "empty", b"", "an empty frame")
    bad("record-not-array", rec("trade"), "a record that is a str")
    bad("record-map", rec(Map([(0, "trade"), (1, "ibkr"), (2, "AAPL"),
                               (3, 1), (4, 1.0), (5, 1.0)])),
        "a record that is a map of index to element, not an array")
    bad("records-map-int-keys", edit(b, records=Map([(0, TRADE)])),
        "records as a map with integer keys")
    bad("record-kind-unknown", rec(["tick", "ibkr", "AAPL", 1, 1.0, 1.0]),
        "unknown kind 'tick'")
    bad("record-kind-bin", rec([Bin(b"trade"), "ibkr", "AAPL", 1, 1.0, 1.0]),
        "kind as bin")
    bad("record-trade-5", rec(["trade", "ibkr", "AAPL", 1, 1.0]),
        "a trade of 5 elements")
    bad("record-trade-7", rec(["trade", "ibkr", "AAPL", 1, 1.0, 1.0, 1.0]),
        "a trade of 7 elements")
    bad("record-quote-6", rec(["quote", "ibkr", "AAPL", 1, 1.0, 1.0]),
        "a quote of 6 elements")
    bad("provider-empty", rec(trade(3, provider="")), "provider empty")
    bad("provider-33", rec(trade(3, provider="p" * 33)),
        "provider of 33 bytes")
    bad("provider-bin", rec(["trade", Bin(b"ibkr"), "AAPL", 3, 1.0, 1.0]),
        "provider as bin")
    bad("symbol-empty", rec(trade(3, symbol="")), "symbol empty")
    bad("symbol-33", rec(trade(3, symbol="S" * 33)), "symbol of 33 bytes")
    for name, char in (("nul", "\x00"), ("c0", "\x01"), ("newline", "\n"),
                       ("del", "\x7f"), ("c1-nel", "\u0085"),
                       ("c1-9f", "\u009f"),
                       ("line-separator", "\u2028"),
                       ("paragraph-separator", "\u2029"),
                       ("alm", "\u061c"), ("lrm", "\u200e"),
                       ("rlm", "\u200f"), ("lre", "\u202a"),
                       ("lri", "\u2066"),
                       ("rlo", "\u202e"), ("fsi", "\u2068"),
                       ("pdi", "\u2069")):
        bad("symbol-control-" + name,
            rec(trade(3, symbol="AA" + char + "PL")),
            "symbol with the control character U+%04X (ingest.md 3)"
            % ord(char))
    bad("provider-control-tab", rec(trade(3, provider="ib\tkr")),
        "provider with a TAB")
    bad("symbol-bad-utf8", rec(["trade", "ibkr", str_bytes(b"AA\xffPL"),
                                3, 1.0, 1.0]), "symbol not valid UTF-8")
    bad("symbol-overlong-utf8", rec(["trade", "ibkr", str_bytes(b"A\xc0\xafB"),
                                     3, 1.0, 1.0]),
        "symbol with an overlong UTF-8 sequence")
    bad("ts-ns-0", rec(trade(0)), "ts_ns 0 (must be > 0)")
    bad("ts-ns-negative", rec(trade(-5)), "ts_ns -5")
    bad("ts-ns-float", rec(trade(1.5)), "ts_ns as float")
    bad("ts-ns-2e63", rec(trade(u64(2 ** 63))), "ts_ns 2^63")
    bad("price-0", rec(trade(3, price=0)), "price 0 (must be > 0)")
    bad("price-negative", rec(trade(3, price=-1.0)), "price -1.0")
    bad("price-nan", rec(trade(3, price=math.nan)), "price NaN")
    bad("price-inf", rec(trade(3, price=math.inf)), "price +inf")
    bad("price-str", rec(trade(3, price="1.0")), "price as str")
    bad("size-negative", rec(trade(3, size=-1)), "size -1")
    bad("size-nan", rec(trade(3, size=math.nan)), "size NaN")
    bad("bar-high-below-low",
        rec(["bar", "ibkr", "AAPL", 3, 5.0, 4.0, 4.5, 4.2, 1.0]),
        "a bar with high < low")
    bad("quote-bid-0", rec(["quote", "ibkr", "AAPL", 3, 0.0, 1.0, 1.0, 1.0]),
        "a quote with bid 0")
    bad("volume-inf", rec(["bar", "ibkr", "AAPL", 3, 5.0, 6.0, 4.0, 5.0,
                           math.inf]), "a bar with volume +inf")


def reply_cases():
    k = "reply"
    ack, nack = ACK, NACK
    case(k, "valid", "golden-ack", ack, "ingest.md 6, ack, byte for byte")
    case(k, "valid", "golden-nack", nack, "ingest.md 6, nack full")
    case(k, "valid", "golden-ack-v1.1", ACK_V11, "ingest.md 6, v1.1 ack")
    case(k, "valid", "golden-nack-v1.1", NACK_V11, "ingest.md 6, v1.1 nack")
    case(k, "valid", "golden-ack-duplicates", ACK_DUPLICATES,
         "ingest.md 4.2, ack with duplicates, byte for byte")
    case(k, "valid", "ack-dead-lettered",
         edit(ACK_V11, written=1, duplicates=0, dead_lettered=2),
         "ack with dead-lettered records")
    case(k, "valid", "golden-nack-batch-seq-0", NACK_SEQ0,
         "ingest.md 4.2, nack of a message whose batch_seq could not be read")
    case(k, "valid", "golden-nack-draining", NACK_DRAINING,
         "ingest.md 4.2, nack draining")
    case(k, "valid", "nack-no-detail", edit(nack, detail=DROP),
         "nack without detail (optional for decoders)")
    case(k, "valid", "nack-unknown-reason", edit(nack, reason="throttled"),
         "a reason this version does not know: handled like full")
    case(k, "valid", "nack-unknown-code", NACK_V11[:7] + [("code", "slow")],
         "a code this version does not know")
    case(k, "valid", "unknown-key-odd-map",
         ack + [("extra", Map([(None, 1), ("y", 1), ("y", 1)]))],
         "an unknown key whose value is a map with a nil key and a key "
         "twice: ignored")
    case(k, "valid", "unknown-keys", ack + [("extra", [1, 2])],
         "unknown keys ignored")
    case(k, "valid", "keys-reversed", list(reversed(NACK_V11)),
         "keys in reverse order")
    case(k, "valid", "edges",
         edit(NACK_V11, retry_after_ms=2 ** 32 - 1, credit=2 ** 32 - 1,
              record_index=9999, field="f" * 32, detail="d" * 128),
         "retry_after_ms and credit 2^32-1, record_index 9999, field of 32 "
         "bytes, detail of 128 bytes")

    case(k, "version", "v2", edit(ack, v=2), "v = 2")

    def bad(name, pairs, description):
        case(k, "invalid", name, pairs, description)

    bad("repeated-key", ack + [("written", 3)], "key 'written' twice")
    bad("integer-key", ack + [(1, 1)], "an integer key")
    bad("binary-key", ack + [(Bin(b"x"), 1)], "a bin key")
    for key in ("v", "type", "batch_seq", "written", "duplicates",
                "dead_lettered"):
        bad("ack-missing-" + key.replace("_", "-"), edit(ack, **{key: DROP}),
            "ack without '%s'" % key)
    for key in ("reason", "retry_after_ms"):
        bad("nack-missing-" + key.replace("_", "-"), edit(nack, **{key: DROP}),
            "nack without '%s'" % key)
    bad("type-batch", edit(ack, type="batch"), "type 'batch' as a reply")
    bad("written-negative", edit(ack, written=-1), "written -1")
    bad("written-float", edit(ack, written=3.0), "written as float")
    bad("retry-after-2e32", edit(nack, retry_after_ms=2 ** 32),
        "retry_after_ms 2^32")
    bad("reason-bin", edit(nack, reason=Bin(b"full")), "reason as bin")
    bad("reason-int", edit(nack, reason=1), "reason as int")
    bad("detail-129", edit(nack, detail="d" * 129), "detail of 129 bytes")
    bad("detail-int", edit(nack, detail=0), "detail as int")
    bad("session-0", edit(ACK_V11, session=0), "session 0")
    bad("session-str", edit(ACK_V11, session="1"), "session as str")
    bad("credit-2e32", edit(ACK_V11, credit=2 ** 32), "credit 2^32")
    bad("credit-negative", edit(ACK_V11, credit=-1), "credit -1")
    bad("code-int", edit(NACK_V11, code=3), "code as int")
    bad("record-index-10000", edit(NACK_V11, record_index=10000),
        "record_index 10000")
    bad("field-33", edit(NACK_V11, field="f" * 33), "field of 33 bytes")
    bad("field-bin", edit(NACK_V11, field=Bin(b"price")), "field as bin")
    body = enc(Map(ack))
    case(k, "invalid", "trailing-byte", body + b"\xc0", "a byte after the map")
    case(k, "invalid", "truncated", body[:-1], "cut short")
    case(k, "invalid", "not-a-map", b"\x93\x01\x02\x03", "an array")


def main(outdir):
    check_goldens()
    feedback_cases()
    batch_cases()
    reply_cases()
    for sub in ("feedback", "batch", "reply"):
        os.makedirs(os.path.join(outdir, sub), exist_ok=True)
        for old in os.listdir(os.path.join(outdir, sub)):
            if old.endswith(".msgpack"):
                os.remove(os.path.join(outdir, sub, old))
    lines = [
        "# The conformance corpus (README.md): one case a line,",
        "# kind<TAB>verdict<TAB>file<TAB>description.",
        "# Written by make_corpus.py: edit that, not this file.",
    ]
    for kind, verdict, name, body, description in CASES:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):
            raise SystemExit("make_corpus: bad case name %r" % name)
        path = "%s/%s-%s.msgpack" % (kind, verdict, name)
        with open(os.path.join(outdir, path), "wb") as out:
            out.write(body)
        lines.append("\t".join((kind, verdict, path, description)))
    with open(os.path.join(outdir, "cases.tsv"), "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    counts = {}
    for kind, verdict, *_ in CASES:
        counts[kind, verdict] = counts.get((kind, verdict), 0) + 1
    print("make_corpus: %d cases: %s" % (len(CASES), ", ".join(
        "%s %s %d" % (kind, verdict, n)
        for (kind, verdict), n in sorted(counts.items()))))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
