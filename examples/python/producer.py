#!/usr/bin/python3
"""A producer for mds-coordinator's ingest channel, written from
proto/ingest.md (and proto/feedback.md for backpressure) alone, with pyzmq
and msgpack only.

Library use:

    producer = Producer("tcp://127.0.0.1:5555", producer_id="feed-1",
                        window=4, feedback_endpoints=["tcp://127.0.0.1:5556"])
    summary = producer.run(records, batch_size=500)   # records: wire arrays
    producer.close()
    print(summary.as_dict(), summary.complete)

Command line: producer.py (FILE | --generate N) [--endpoint E] [--window W]
[--batch-size B] [--feedback E] [--rate R] [--deadline S] [--json]; see
--help.

What it does, section by section of ingest.md: one DEALER connected to the
coordinator's ROUTER, one frame per batch (1); batches of 1..10,000 records
with increasing batch_seq from 1 (2, 3); replies strictly decoded, matched by
batch_seq, malformed or unknown ones dropped and counted (4); at-least-once
delivery (5): a bounded window of batches in flight, a batch is kept until
it is acked, resent after a reply timeout (which doubles per timeout, at
most 8x), after retry_after_ms on `nack full` / `nack draining` (and no new
batch is started before then either), and at once when libzmq reports that
the connection dropped; a `nack malformed` batch is never resent: its
detail is reported and its records go to an optional rejects file in the
dead-letter format of 7.1. Records as text (7): strict NDJSON and CSV
readers. Backpressure (feedback.md 6, 7): with --feedback, the first batch
waits (up to 2 s) for the first state, batches are cut to the queue's
`capacity` (a larger batch is refused as malformed), no new batch is
started while the coordinator's level is HARD, the window (and --rate)
follow scale_hint while it is SOFT, and a stale coordinator gets the
fail-safe (half the window and half the rate).

v1.1 (ingest.md 4.4, 5): every batch carries this run's random `session`,
replies carrying another session are ignored, and the producer honours
credits: it never has more unacked records at the coordinator than its last
`credit`, sends one batch of at most min(credit_initial, capacity) (500
without feedback) before its first reply, and cuts batches to fit."""
import argparse
import json
import math
import collections
import os
import re
import secrets
import signal
import socket as socketlib
import sys
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedback_client  # noqa: E402  (the sibling example: feedback.md)

VERSION = 1
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_WINDOW_BATCHES = 4
DEFAULT_BATCH_RECORDS = 500
DEFAULT_REPLY_TIMEOUT_S = 5.0
RECORDS_PER_BATCH_MAX = 10000
PRODUCER_ID_MAX_BYTES = 64
DETAIL_MAX_BYTES = 128
UINT64_MAX = 2 ** 64 - 1
UINT32_MAX = 2 ** 32 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
TIMEOUT_BACKOFF_MAX = 8          # a batch's reply timeout grows to 8x at most
RETRY_FLOOR_MS = 10              # never resend sooner, even on retry_after 0
UNSENDABLE_RETRY_S = 0.05        # no live connection: try again this soon
IDLE_POLL_S = 0.2                # longest sleep in the loop (checks, signals)
STALE_FACTOR = 0.5               # fail-safe rate fraction of a stale store
HEARTBEAT_IVL_MS = 1000          # ZMTP heartbeats: a silent peer is noticed
HEARTBEAT_TIMEOUT_MS = 3000
SEND_HWM_MESSAGES = 1000
FEEDBACK_FIRST_WAIT_S = 2.0      # for the first state before the first batch
FAILURES_SHOWN_MAX = 20          # malformed batches printed one per line
CREDIT_INITIAL_DEFAULT = 500     # records before a first reply, no feedback
RECORD_INDEX_LIMIT = 10000       # nack record_index is below this
FIELD_MAX_BYTES = 32             # nack field
NACK_CODES = ("queue_full", "draining", "version", "not_a_map",
              "missing_key", "bad_key", "bad_value", "too_large",
              "too_many_records", "over_capacity", "bad_record", "in_flight")

# The record arrays of section 3: kind -> the names of its numbers.
NUMBER_FIELDS = {
    "trade": ("price", "size"),
    "quote": ("bid", "bid_size", "ask", "ask_size"),
    "bar": ("open", "high", "low", "close", "volume"),
}
KINDS = tuple(NUMBER_FIELDS)
HEAD_FIELDS = ("kind", "provider", "symbol", "ts_ns")
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


# --------------------------------------------------------------------------
# Records as text (ingest.md section 7)

class InputError(Exception):
    """A line that is not a record in the format; str() is the 7.3 text."""


def _unique_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise InputError("json: key %r given twice" % key)
        result[key] = value
    return result


def _no_constant(name):
    raise InputError("json: %s is not a JSON number" % name)


def _checked_string(prefix, name, value):
    if "\x00" in value:
        raise InputError("%s: field '%s': \\u0000 is refused" % (prefix, name))
    try:
        value.encode("utf-8")  # a lone surrogate (\ud800) is not UTF-8
    except UnicodeEncodeError:
        raise InputError("%s: field '%s': not valid UTF-8 (lone surrogate?)"
                         % (prefix, name))
    return value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_ndjson(text):
    """One NDJSON line (7.1) -> a record array. Raises InputError. Value
    rules (> 0, lengths...) are left to the coordinator, which names the
    field in its nack."""
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys,
                         parse_constant=_no_constant)
    except InputError:
        raise
    except json.JSONDecodeError as error:
        raise InputError("json: %s at column %d"
                         % (error.msg[:1].lower() + error.msg[1:], error.colno))
    except RecursionError:
        raise InputError("json: nested too deep")
    if not isinstance(obj, dict):
        raise InputError("json: expected an object")
    for key in ("kind",) + HEAD_FIELDS[1:]:
        if key not in obj:
            raise InputError("json: missing key '%s'" % key)
    kind = obj["kind"]
    if not isinstance(kind, str) or kind not in NUMBER_FIELDS:
        raise InputError("json: key 'kind': expected one of %s"
                         % ", ".join(KINDS))
    fields = NUMBER_FIELDS[kind]
    for key in fields:
        if key not in obj:
            raise InputError("json: missing key '%s'" % key)
    for key, value in obj.items():
        if isinstance(value, (dict, list)):
            raise InputError("json: key '%s': nested values are refused" % key)
    record = [kind]
    for key in ("provider", "symbol"):
        if not isinstance(obj[key], str):
            raise InputError("json: key '%s': expected a string" % key)
        record.append(_checked_string("json", key, obj[key]))
    ts_ns = obj["ts_ns"]
    if isinstance(ts_ns, bool) or not isinstance(ts_ns, int):
        raise InputError("json: key 'ts_ns': expected an integer")
    if not INT64_MIN <= ts_ns <= INT64_MAX:
        raise InputError("json: key 'ts_ns': outside the 64-bit range")
    record.append(ts_ns)
    for key in fields:
        if not _is_number(obj[key]):
            raise InputError("json: key '%s': expected a number" % key)
        record.append(float(obj[key]))  # the store keeps doubles anyway
    for key, value in obj.items():  # unknown keys: strings must be sane too
        if isinstance(value, str) and key not in ("kind", "provider", "symbol"):
            _checked_string("json", key, value)
    return record


def parse_csv(text):
    """One CSV line (7.2) -> a record array, or None for a header line.
    Raises InputError."""
    if text.endswith("\r"):
        text = text[:-1]
    if text.startswith("kind,"):
        return None
    parts = text.split(",")
    kind = parts[0]
    if kind not in NUMBER_FIELDS:
        raise InputError("csv: field 1 (kind): expected one of %s, got %r"
                         % (", ".join(KINDS), kind[:40]))
    fields = NUMBER_FIELDS[kind]
    if len(parts) != len(HEAD_FIELDS) + len(fields):
        raise InputError("csv: a %s has %d fields, got %d"
                         % (kind, len(HEAD_FIELDS) + len(fields), len(parts)))
    record = [kind, _checked_string("csv", "provider", parts[1]),
              _checked_string("csv", "symbol", parts[2])]
    if not JSON_INTEGER.fullmatch(parts[3]):
        raise InputError("csv: field 4 (ts_ns): expected an integer")
    ts_ns = int(parts[3])
    if not INT64_MIN <= ts_ns <= INT64_MAX:
        raise InputError("csv: field 4 (ts_ns): outside the 64-bit range")
    record.append(ts_ns)
    for position, name in enumerate(fields, start=len(HEAD_FIELDS) + 1):
        text_value = parts[position - 1]
        if not JSON_NUMBER.fullmatch(text_value):
            raise InputError("csv: field %d (%s): expected a number"
                             % (position, name))
        record.append(float(text_value))
    return record


def detect_format(path):
    """'csv' or 'ndjson' from the extension, else from the first line that
    is neither blank nor a comment ('{' starts NDJSON)."""
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".ndjson", ".jsonl", ".json")):
        return "ndjson"
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith(b"#"):
                return "ndjson" if line.startswith(b"{") else "csv"
    return "csv"


def read_records(path, fmt):
    """Yields (origin "PATH:LINE", record) for every record of the file.
    Blank lines and comments ('#' after optional blanks) are skipped. Raises InputError
    naming the line for the first bad one."""
    parse = parse_csv if fmt == "csv" else parse_ndjson
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            origin = "%s:%d" % (path, number)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("%s: %s: not valid UTF-8" % (origin, fmt))
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                record = parse(line)
            except InputError as error:
                raise InputError("%s: %s" % (origin, error))
            if record is not None:
                yield origin, record


def check_file(path, fmt, errors_max=FAILURES_SHOWN_MAX):
    """Reads the whole file once without sending: (records, [errors])."""
    count, errors = 0, []
    parse = parse_csv if fmt == "csv" else parse_ndjson
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if parse(line) is not None:
                    count += 1
            except UnicodeDecodeError:
                errors.append("%s:%d: %s: not valid UTF-8" % (path, number, fmt))
            except InputError as error:
                errors.append("%s:%d: %s" % (path, number, error))
            if len(errors) >= errors_max:
                break
    return count, errors


def generate(count, provider="example", symbols=("AAPL", "MSFT", "ES=F"),
             start_ns=None):
    """`count` valid records, kinds in rotation, each with its own ts_ns
    (start_ns + index) so that no two share an identity (3.1)."""
    start_ns = start_ns or time.time_ns()
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        symbol = symbols[index % len(symbols)]
        ts_ns = start_ns + index
        price = 100.0 + (index % 97) / 4.0
        if kind == "trade":
            record = [kind, provider, symbol, ts_ns, price, float(index % 9 + 1)]
        elif kind == "quote":
            record = [kind, provider, symbol, ts_ns, price - 0.01, 100.0,
                      price + 0.01, 200.0]
        else:
            record = [kind, provider, symbol, ts_ns, price, price + 0.5,
                      price - 0.5, price + 0.25, 1000.0 + index]
        yield "generated:%d" % index, record


def record_as_json(record, reason=None):
    """A record as an NDJSON object of 7.1 (a dead-letter line when a
    reason is given); NaN and infinities become null."""
    kind = record[0]
    names = HEAD_FIELDS + NUMBER_FIELDS.get(kind, ())
    obj = {}
    for name, value in zip(names, record):
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        obj[name] = value
    if reason is not None:
        obj["reason"] = reason
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------
# Batches and replies (ingest.md sections 2 and 4)

def encode_batch(producer_id, batch_seq, records, session=None):
    """The one frame of a batch: a msgpack map in the order of section 2
    (ints in the smallest format, floats as float64, str for strings), with
    the v1.1 `session` after producer_id when given."""
    message = {"v": VERSION, "type": "batch", "producer_id": producer_id}
    if session is not None:
        if not 1 <= session <= UINT64_MAX:
            raise ValueError("session must be a nonzero uint64")
        message["session"] = session
    message["batch_seq"] = batch_seq
    message["records"] = records
    return msgpack.packb(message, use_bin_type=True)


def new_session():
    """A random nonzero 64-bit session for this run (ingest.md 2)."""
    return secrets.randbits(64) or 1


class MalformedReply(Exception):
    """A reply that 4.3 says to drop."""


def _reply_keys(pairs):
    result = {}
    for key, value in pairs:
        if not isinstance(key, str):
            raise MalformedReply("a map key is not a str")
        if key in result:
            raise MalformedReply("key %r given twice" % key)
        result[key] = value
    return result


def _uint(message, key, high=UINT64_MAX):
    if key not in message:
        raise MalformedReply("missing key %r" % key)
    value = message[key]
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 0 <= value <= high:
        raise MalformedReply("key %r: expected a uint up to %d" % (key, high))
    return value


def decode_reply(frame):
    """The reply dict ('type', 'batch_seq' and the keys of its type) of one
    frame, or raises MalformedReply. Unknown keys are ignored."""
    try:
        message = msgpack.unpackb(frame, raw=False, strict_map_key=False,
                                  object_pairs_hook=_reply_keys)
    except MalformedReply:
        raise
    except Exception as error:  # truncated, bytes after the map, bad UTF-8
        raise MalformedReply("not one msgpack value: %s" % error)
    if not isinstance(message, dict):
        raise MalformedReply("not a map")
    if _uint(message, "v") != VERSION:
        raise MalformedReply("version %r" % message["v"])
    kind = message.get("type")
    if kind not in ("ack", "nack"):
        raise MalformedReply("key 'type': %r" % (kind,))
    reply = {"type": kind, "batch_seq": _uint(message, "batch_seq")}
    # v1.1 keys, validated when present and only then in the result.
    if "session" in message:
        reply["session"] = _uint(message, "session")
        if reply["session"] == 0:
            raise MalformedReply("key 'session': 0")
    if "credit" in message:
        reply["credit"] = _uint(message, "credit", UINT32_MAX)
    if kind == "ack":
        for key in ("written", "duplicates", "dead_lettered"):
            reply[key] = _uint(message, key)
        return reply
    if "code" in message:  # an unknown code is kept: act on reason (4.2)
        if not isinstance(message["code"], str):
            raise MalformedReply("key 'code': not a str")
        reply["code"] = message["code"]
    if "record_index" in message:
        reply["record_index"] = _uint(message, "record_index",
                                      RECORD_INDEX_LIMIT - 1)
    if "field" in message:
        if not isinstance(message["field"], str) \
                or len(message["field"].encode()) > FIELD_MAX_BYTES:
            raise MalformedReply("key 'field': not a str of <= 32 bytes")
        reply["field"] = message["field"]
    if not isinstance(message.get("reason"), str):
        raise MalformedReply("key 'reason': missing or not a str")
    reply["reason"] = message["reason"]
    reply["retry_after_ms"] = _uint(message, "retry_after_ms", UINT32_MAX)
    detail = message.get("detail", "")
    if not isinstance(detail, str):
        raise MalformedReply("key 'detail': not a str")
    reply["detail"] = detail
    return reply


# --------------------------------------------------------------------------
# The producer (ingest.md section 5)

class Batch:
    """One batch kept until it is acked or refused as malformed."""

    def __init__(self, seq, origins, records, message):
        self.seq = seq
        self.origins = origins      # where each record came from
        self.records = records      # the wire arrays
        self.message = message      # the encoded frame, resent unchanged
        self.on_wire = False        # sent and waiting for a reply
        self.due_at = 0.0           # monotonic: (re)send at / reply timeout
        self.timeouts = 0           # reply timeouts so far
        self.attempts = 0           # times sent


class Summary:
    """What happened to the records of one run()."""

    def __init__(self):
        self.records = 0            # records taken from the source
        self.batches = 0
        self.sent = 0               # records sent (first sends)
        self.resends = 0            # batches sent again
        self.acked = 0              # records in acked batches
        self.written = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.nacks = {}             # reason -> nack replies
        self.rejected = 0           # records of batches nacked malformed
        self.failures = []          # (batch_seq, first origin, detail)
        self.timeouts = 0           # reply timeouts
        self.disconnects = 0        # connection drops reported by libzmq
        self.malformed_replies = 0
        self.foreign_replies = 0    # another session's (a previous run's)
        self.credit_waits = 0       # times a new batch waited for credit
        self.credit_splits = 0      # batches cut to fit the credit
        self.unmatched_replies = 0  # late or unknown batch_seq: ignored
        self.bad_acks = 0           # counts not adding up: dropped
        self.hard_pauses = 0        # times new batches stopped for HARD
        self.paused_s = 0.0         # seconds spent paused by HARD
        self.feedback_messages = 0
        self.unacked = 0            # records not acked when run() ended
        self.stopped = None         # why run() ended early, if it did
        self.elapsed_s = 0.0

    @property
    def complete(self):
        """True when every record taken was acknowledged."""
        return self.stopped is None and self.acked == self.records \
            and self.rejected == 0 and self.unacked == 0

    def as_dict(self):
        result = {key: value for key, value in vars(self).items()}
        result["failures"] = [{"batch_seq": seq, "first_record": origin,
                               "detail": detail}
                              for seq, origin, detail in self.failures]
        result["complete"] = self.complete
        result["paused_s"] = round(self.paused_s, 3)
        result["elapsed_s"] = round(self.elapsed_s, 3)
        return result


def _log_stderr(text):
    print("producer: " + text, file=sys.stderr, flush=True)


class Producer:
    """Sends records to one coordinator over a DEALER. Not thread-safe:
    one thread calls run() and close(). `clock` returns monotonic seconds.
    `rejects` is an open text file for the records of malformed batches
    (7.1 dead-letter lines) or None."""

    def __init__(self, endpoint, producer_id=None, window=DEFAULT_WINDOW_BATCHES,
                 reply_timeout_s=DEFAULT_REPLY_TIMEOUT_S,
                 feedback_endpoints=None, coordinator_id=None,
                 rate=None, rejects=None, log=_log_stderr, context=None,
                 clock=time.monotonic, session=None, honour_credit=True):
        producer_id = producer_id or default_producer_id()
        if not 1 <= len(producer_id.encode()) <= PRODUCER_ID_MAX_BYTES:
            raise ValueError("producer_id must be 1..64 bytes")
        if window < 1 or reply_timeout_s <= 0 or (rate is not None and rate <= 0):
            raise ValueError("window >= 1, reply timeout > 0, rate > 0")
        self.producer_id = producer_id
        self.session = session if session is not None else new_session()
        if not 1 <= self.session <= UINT64_MAX:
            raise ValueError("session must be a nonzero uint64")
        self.honour_credit = honour_credit
        self.credit = None          # last credit; None: no reply yet (4.4)
        self.credits_used = True    # False once a reply came without one
        self._carry = collections.deque()  # records cut from a batch
        self.window = window
        self.reply_timeout_s = reply_timeout_s
        self.rate = rate
        self.rejects = rejects
        self.log = log
        self.clock = clock
        self.next_seq = 1           # 0 is reserved (2)
        self.batches = {}           # batch_seq -> Batch, in send order
        self.hold_until = 0.0       # nack full/draining: no new batch before
        self.stopping = False       # set by stop() (a signal handler)
        self._context = context or zmq.Context.instance()
        self.socket = self._context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        # Only hand a batch to a live connection: while the coordinator is
        # away a send fails at once instead of queueing copies to resend.
        self.socket.setsockopt(zmq.IMMEDIATE, 1)
        self.socket.setsockopt(zmq.SNDHWM, SEND_HWM_MESSAGES)
        self.socket.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        self.socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        self.monitor = self.socket.get_monitor_socket(
            zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.socket.connect(endpoint)
        self.feedback = None
        if feedback_endpoints:
            self.feedback = feedback_client.FeedbackClient(
                feedback_endpoints, coordinator=coordinator_id,
                context=self._context, clock=clock)
        self.poller = zmq.Poller()
        self.poller.register(self.socket, zmq.POLLIN)
        self.poller.register(self.monitor, zmq.POLLIN)
        if self.feedback:
            self.poller.register(self.feedback.socket, zmq.POLLIN)
        self._hard_since = None
        self._tokens = 0.0
        self._tokens_at = None
        self._refusal_logged = {}   # nack reason -> when last logged
        self._capacity_logged = False

    def close(self):
        self.socket.disable_monitor()
        self.monitor.close(0)
        self.socket.close(0)
        if self.feedback:
            self.feedback.close()

    def stop(self):
        """Asks run() to return soon (unacked records are reported)."""
        self.stopping = True

    # -- feedback ----------------------------------------------------------

    def _pressure(self):
        """(level, factor): the worst level among the coordinators we hear
        of, and the fraction of the normal window/rate to use (1 ok,
        scale_hint soft, 0 hard, STALE_FACTOR stale). No feedback: ok."""
        if not self.feedback:
            return "ok", 1.0
        self.feedback.check_staleness()
        level, factor = "ok", 1.0
        for state in self.feedback.coordinators.values():
            if state.stale:
                if level == "ok":
                    level, factor = "stale", min(factor, STALE_FACTOR)
            elif state.level == "hard":
                return "hard", 0.0
            elif state.level == "soft":
                level = "soft"
                factor = min(factor, state.state["scale_hint"])
        return level, factor

    def _read_feedback(self):
        for update in self.feedback.poll(0):
            self.summary.feedback_messages += 1
            if update.kind == "transition" or update.restarted:
                self.log("feedback: %s level=%s queue=%d/%d%s" % (
                    update.coordinator_id, update.state["level"],
                    update.state["queue_size"], update.state["capacity"],
                    " (restarted)" if update.restarted else ""))

    def _await_feedback(self, deadline):
        """Waits (a little) for the first state: it says the capacity and
        the level before the first batch goes out."""
        until = self.clock() + FEEDBACK_FIRST_WAIT_S
        if deadline is not None:
            until = min(until, deadline)
        while not self.feedback.coordinators and not self.stopping:
            left = until - self.clock()
            if left <= 0:
                self.log("no feedback within %.1f s: starting without it"
                         % FEEDBACK_FIRST_WAIT_S)
                return
            if self.feedback.socket.poll(int(min(left, IDLE_POLL_S) * 1000)):
                self._read_feedback()

    # -- sending -----------------------------------------------------------

    def _batch_limit(self, batch_size):
        """batch_size, or less when the coordinator's queue is smaller: it
        refuses a batch larger than its capacity as malformed."""
        if self.feedback:
            for state in self.feedback.coordinators.values():
                if state.state and 1 <= state.state["capacity"] < batch_size:
                    if not self._capacity_logged:
                        self._capacity_logged = True
                        self.log("batches of %d records at most: the "
                                 "coordinator's queue capacity"
                                 % state.state["capacity"])
                    batch_size = state.state["capacity"]
        return batch_size

    def _credit_initial(self):
        """What a producer may send before a reply: min(credit_initial,
        capacity) of the feedback, or 500 without it (4.4)."""
        values = []
        if self.feedback:
            for state in self.feedback.coordinators.values():
                if state.state and "credit_initial" in state.state:
                    values.append(state.state["credit_initial"])
                    if state.state["capacity"] >= 1:
                        values.append(state.state["capacity"])
        return min(values) if values else CREDIT_INITIAL_DEFAULT

    def _credit_room(self, now):
        """Records a new batch may hold under the credit rule (4.4), or None
        when credits are not in use (ignored, or a v1 coordinator)."""
        if not self.honour_credit or not self.credits_used:
            return None
        unacked = sum(len(b.records) for b in self.batches.values())
        if self.credit is None:  # before the first reply: one batch
            return 0 if self.batches else self._credit_initial()
        room = self.credit - unacked
        if room > 0 or self.batches:
            return max(room, 0)
        # Credit 0 with nothing in flight: feedback raises it (a nonzero
        # credit_initial), or without feedback one batch after the last
        # reply's retry_after_ms, so a producer never waits forever.
        if self.feedback and self.feedback.coordinators:
            return self._credit_initial()
        return CREDIT_INITIAL_DEFAULT if now >= self.hold_until else 0

    def _take(self, source):
        """The next (origin, record): records cut from a batch first."""
        if self._carry:
            return self._carry.popleft()
        return next(source, None)

    def _new_batch(self, source, batch_size):
        batch_size = self._batch_limit(batch_size)
        origins, records = [], []
        while len(records) < batch_size:
            item = self._take(source)
            if item is None:
                break
            origins.append(item[0])
            records.append(item[1])
        if not records:
            return None
        seq = self.next_seq
        self.next_seq += 1
        message = encode_batch(self.producer_id, seq, records, self.session)
        self.summary.records += len(records)
        self.summary.batches += 1
        return Batch(seq, origins, records, message)

    def _fit_credit(self, now, pending):
        """Cuts `pending` (not sent yet) to the credit; False when there is
        no room for any record now."""
        room = self._credit_room(now)
        if room is None or len(pending.records) <= room:
            return True
        if room == 0:
            self.summary.credit_waits += 1
            return False
        for item in reversed(list(zip(pending.origins[room:],
                                      pending.records[room:]))):
            self._carry.appendleft(item)
        self.summary.records -= len(pending.records) - room
        pending.origins = pending.origins[:room]
        pending.records = pending.records[:room]
        pending.message = encode_batch(self.producer_id, pending.seq,
                                       pending.records, self.session)
        self.summary.credit_splits += 1
        return True

    def _may_start(self, now, factor, pending):
        """May the batch `pending` (already built) be started now?"""
        if now < self.hold_until or factor <= 0.0:
            return False
        if not self._fit_credit(now, pending):
            return False
        window = max(1, int(math.ceil(self.window * factor)))
        if len(self.batches) >= window:
            return False
        if self.rate is None:
            return True
        # Token bucket: rate x factor records per second, a burst of one
        # batch at most.
        if self._tokens_at is not None:
            self._tokens += (now - self._tokens_at) * self.rate * factor
        self._tokens = min(self._tokens, float(len(pending.records)))
        self._tokens_at = now
        if self._tokens + 1e-9 < len(pending.records):
            return False
        self._tokens -= len(pending.records)
        return True

    def _send(self, batch, now):
        """Hands `batch` to the connection; False when there is none."""
        try:
            self.socket.send(batch.message, zmq.NOBLOCK)
        except zmq.Again:
            batch.due_at = now + UNSENDABLE_RETRY_S
            return False
        if batch.attempts == 0:
            self.summary.sent += len(batch.records)
        else:
            self.summary.resends += 1
        batch.attempts += 1
        batch.on_wire = True
        backoff = min(2 ** batch.timeouts, TIMEOUT_BACKOFF_MAX)
        batch.due_at = now + self.reply_timeout_s * backoff
        return True

    def _send_due(self, now):
        for batch in list(self.batches.values()):
            if batch.due_at > now:
                continue
            if batch.on_wire:  # no reply in time: resend (5, on timeout)
                batch.timeouts += 1
                self.summary.timeouts += 1
                self.log("batch %d: no reply within the timeout, resending"
                         % batch.seq)
                batch.on_wire = False
            if not self._send(batch, now):
                return  # no connection now: the rest waits too

    # -- replies -----------------------------------------------------------

    def _on_reply(self, frames, now):
        if len(frames) != 1:
            self.summary.malformed_replies += 1
            self.log("reply dropped: %d frames" % len(frames))
            return
        try:
            reply = decode_reply(frames[0])
        except MalformedReply as error:
            self.summary.malformed_replies += 1
            self.log("reply dropped: %s" % error)
            return
        if "session" in reply and reply["session"] != self.session:
            # A previous run's reply (same routing id): not ours (4.3).
            self.summary.foreign_replies += 1
            return
        if "credit" in reply:
            self.credit = reply["credit"]
        elif self.credit is None:
            self.credits_used = False  # a v1 coordinator: no credits
        batch = self.batches.get(reply["batch_seq"])
        if reply["type"] == "nack":
            reason = reply["reason"]
            self.summary.nacks[reason] = self.summary.nacks.get(reason, 0) + 1
        if batch is None:  # a second reply to a resent batch, or seq 0
            self.summary.unmatched_replies += 1
            if reply["type"] == "nack" and reply["reason"] == "malformed":
                self.log("nack malformed for batch_seq %d (not in flight): %s"
                         % (reply["batch_seq"], reply["detail"]))
            return
        if reply["type"] == "ack":
            total = reply["written"] + reply["duplicates"] + \
                reply["dead_lettered"]
            if total != len(batch.records):
                # Not an answer to this batch: drop it; the timeout resends.
                self.summary.bad_acks += 1
                self.log("ack of batch %d dropped: %d records counted, %d sent"
                         % (batch.seq, total, len(batch.records)))
                return
            del self.batches[batch.seq]
            self.summary.acked += total
            self.summary.written += reply["written"]
            self.summary.duplicates += reply["duplicates"]
            self.summary.dead_lettered += reply["dead_lettered"]
            if reply["dead_lettered"]:
                self.log("batch %d: %d records dead-lettered by the "
                         "coordinator" % (batch.seq, reply["dead_lettered"]))
            return
        if reply["reason"] == "malformed":
            # Never resend it unchanged (4.2): report and keep its records.
            del self.batches[batch.seq]
            self.summary.rejected += len(batch.records)
            self.summary.failures.append((batch.seq, batch.origins[0],
                                          reply["detail"]))
            self.log("batch %d (%d records from %s) nacked malformed: %s%s"
                     % (batch.seq, len(batch.records), batch.origins[0],
                        reply["detail"], self._origin_hint(batch, reply)))
            if self.rejects is not None:
                for record in batch.records:
                    self.rejects.write(record_as_json(
                        record, "nack malformed: " + reply["detail"]) + "\n")
                self.rejects.flush()
            return
        # full, draining, or a reason this version does not know: the same
        # batch again after retry_after_ms, and nothing new before then.
        wait_s = max(reply["retry_after_ms"], RETRY_FLOOR_MS) / 1000.0
        reason = reply["reason"]
        if now - self._refusal_logged.get(reason, -math.inf) >= 1.0:
            self._refusal_logged[reason] = now
            self.log("nack %s (%s): resending after %d ms"
                     % (reason, reply["detail"], wait_s * 1000))
        batch.on_wire = False
        batch.due_at = now + wait_s
        self.hold_until = max(self.hold_until, now + wait_s)

    @staticmethod
    def _origin_hint(batch, reply):
        """Where the record named by a detail like 'record 17: ...' came
        from. The detail is for humans; this is only a hint in the log."""
        match = re.match(r"record ([0-9]+)\b", reply["detail"])
        if match and int(match.group(1)) < len(batch.origins):
            return " (record %s is %s)" % (match.group(1),
                                           batch.origins[int(match.group(1))])
        return ""

    def _on_monitor(self, now):
        while True:
            try:
                event = recv_monitor_message(self.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_DISCONNECTED:
                # Replies on their way are lost (5, on reconnect): resend
                # every batch on the wire as soon as a connection is back.
                self.summary.disconnects += 1
                waiting = [b for b in self.batches.values() if b.on_wire]
                self.log("connection dropped; %d batches to resend"
                         % len(waiting))
                for batch in waiting:
                    batch.on_wire = False
                    batch.due_at = now
            elif event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                for batch in self.batches.values():
                    if not batch.on_wire:
                        batch.due_at = min(batch.due_at, max(now, self.hold_until))

    # -- the loop ----------------------------------------------------------

    def run(self, records, batch_size=DEFAULT_BATCH_RECORDS, deadline_s=None):
        """Sends every record of `records` (wire arrays, or (origin, array)
        pairs) and returns a Summary once each was acked or refused, or
        when `deadline_s` seconds have passed or stop() was called."""
        if not 1 <= batch_size <= RECORDS_PER_BATCH_MAX:
            raise ValueError("batch_size must be 1..%d" % RECORDS_PER_BATCH_MAX)
        self.summary = summary = Summary()
        start = self.clock()
        deadline = start + deadline_s if deadline_s else None
        source = iter(_with_origins(records))
        if self.feedback:
            self._await_feedback(deadline)
        pending = None      # the next batch, built but not yet started
        exhausted = False
        while True:
            now = self.clock()
            if self.stopping:
                summary.stopped = "stopped"
                break
            if deadline is not None and now >= deadline:
                summary.stopped = "deadline"
                break
            level, factor = self._pressure()
            if level == "hard" and self._hard_since is None:
                self._hard_since = now
                summary.hard_pauses += 1
                self.log("coordinator HARD: no new batch until it eases")
            elif level != "hard" and self._hard_since is not None:
                summary.paused_s += now - self._hard_since
                self._hard_since = None
            while not exhausted:
                if pending is None:
                    pending = self._new_batch(source, batch_size)
                    if pending is None:
                        exhausted = True
                        break
                if not self._may_start(now, factor, pending):
                    break
                self.batches[pending.seq] = pending
                pending.due_at = now
                pending = None
            self._send_due(now)
            if exhausted and not self.batches:
                break
            wake = min([b.due_at for b in self.batches.values()]
                       + [now + IDLE_POLL_S])
            if not exhausted and now < self.hold_until:
                wake = min(wake, self.hold_until)
            if self.rate is not None and pending is not None:
                wake = min(wake, now + UNSENDABLE_RETRY_S)
            if deadline is not None:
                wake = min(wake, deadline)
            ready = dict(self.poller.poll(max(0, int((wake - now) * 1000))))
            now = self.clock()
            if self.monitor in ready:
                self._on_monitor(now)
            if self.feedback and self.feedback.socket in ready:
                self._read_feedback()
            if self.socket in ready:
                while True:
                    try:
                        frames = self.socket.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._on_reply(frames, self.clock())
        if self._hard_since is not None:
            summary.paused_s += self.clock() - self._hard_since
            self._hard_since = None
        summary.unacked = sum(len(b.records) for b in self.batches.values())
        if pending is not None:
            summary.unacked += len(pending.records)
        self.batches.clear()
        summary.elapsed_s = self.clock() - start
        return summary


def _with_origins(records):
    for index, item in enumerate(records):
        if isinstance(item, tuple):
            yield item
        else:
            yield "record:%d" % index, item


def default_producer_id():
    """Stable across restarts of the same program on the same host (2)."""
    return ("producer-py-" + socketlib.gethostname())[:PRODUCER_ID_MAX_BYTES]


# --------------------------------------------------------------------------
# Command line

def format_summary(summary):
    nacks = ", ".join("%s=%d" % item for item in sorted(summary.nacks.items()))
    lines = [
        "records %d in %d batches: sent %d, acked %d (written %d, duplicates "
        "%d, dead_lettered %d), rejected %d, unacked %d"
        % (summary.records, summary.batches, summary.sent, summary.acked,
           summary.written, summary.duplicates, summary.dead_lettered,
           summary.rejected, summary.unacked),
        "nacks: %s; resends %d, timeouts %d, disconnects %d, malformed "
        "replies %d, unmatched replies %d, HARD pauses %d (%.1f s)"
        % (nacks or "none", summary.resends, summary.timeouts,
           summary.disconnects, summary.malformed_replies,
           summary.unmatched_replies, summary.hard_pauses, summary.paused_s),
        "credit: waits %d, batches cut %d; other sessions' replies %d"
        % (summary.credit_waits, summary.credit_splits,
           summary.foreign_replies),
    ]
    for seq, origin, detail in summary.failures[:FAILURES_SHOWN_MAX]:
        lines.append("malformed batch %d (first record %s): %s"
                     % (seq, origin, detail))
    if len(summary.failures) > FAILURES_SHOWN_MAX:
        lines.append("... and %d more malformed batches"
                     % (len(summary.failures) - FAILURES_SHOWN_MAX))
    if summary.stopped:
        lines.append("ended early: %s" % summary.stopped)
    lines.append("result: %s" % ("every record acknowledged"
                                 if summary.complete else "INCOMPLETE"))
    return "\n".join(lines)


def _positive(kind, low):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text)
        if not (isinstance(value, int) or math.isfinite(value)) or value < low:
            raise argparse.ArgumentTypeError("must be >= %s" % low)
        return value
    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Sends market-data records to mds-coordinator "
                    "(proto/ingest.md) and prints what became of them. Exit "
                    "code 0 when every record was acknowledged, 1 when not, "
                    "2 on bad usage or a bad input file (nothing is sent).")
    parser.add_argument("file", nargs="?",
                        help="records as CSV or NDJSON (ingest.md 7)")
    parser.add_argument("--generate", type=_positive(int, 1), metavar="N",
                        help="send N generated records instead of a file")
    parser.add_argument("--format", choices=("auto", "csv", "ndjson"),
                        default="auto", help="input format (default: from "
                        "the extension, else the first line)")
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT,
                        help="the coordinator's ingest endpoint (default %s)"
                        % DEFAULT_ENDPOINT)
    parser.add_argument("--producer-id", default=None,
                        help="1..64 bytes (default producer-py-HOSTNAME)")
    parser.add_argument("--batch-size", type=_positive(int, 1),
                        default=DEFAULT_BATCH_RECORDS,
                        help="records per batch, 1..10000 (default %d)"
                        % DEFAULT_BATCH_RECORDS)
    parser.add_argument("--window", type=_positive(int, 1),
                        default=DEFAULT_WINDOW_BATCHES,
                        help="batches in flight at most (default %d)"
                        % DEFAULT_WINDOW_BATCHES)
    parser.add_argument("--timeout", type=_positive(float, 0.001),
                        default=DEFAULT_REPLY_TIMEOUT_S,
                        help="seconds to wait for a reply before resending "
                        "(default %g; doubles per timeout, 8x at most)"
                        % DEFAULT_REPLY_TIMEOUT_S)
    parser.add_argument("--rate", type=_positive(float, 0.001), default=None,
                        help="records per second at most (default: no limit)")
    parser.add_argument("--feedback", action="append", metavar="ENDPOINT",
                        help="the coordinator's feedback endpoint: pause "
                        "while it is HARD, follow scale_hint while SOFT "
                        "(repeatable)")
    parser.add_argument("--coordinator", default=None,
                        help="with --feedback: only this coordinator id")
    parser.add_argument("--deadline", type=_positive(float, 0), default=0,
                        help="give up after this many seconds (0: never)")
    parser.add_argument("--rejects", metavar="FILE",
                        help="append the records of batches nacked "
                        "malformed here, as NDJSON dead-letter lines")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON object on stdout")
    parser.add_argument("--quiet", action="store_true",
                        help="no log lines on stderr, only the summary")
    args = parser.parse_args(argv)

    if (args.file is None) == (args.generate is None):
        parser.error("give either FILE or --generate N")
    if args.batch_size > RECORDS_PER_BATCH_MAX:
        parser.error("--batch-size %d: at most %d"
                     % (args.batch_size, RECORDS_PER_BATCH_MAX))
    producer_id = args.producer_id or default_producer_id()
    if not 1 <= len(producer_id.encode()) <= PRODUCER_ID_MAX_BYTES:
        parser.error("--producer-id %r: 1..64 bytes" % producer_id)

    if args.file is not None:
        try:
            fmt = args.format if args.format != "auto" \
                else detect_format(args.file)
            count, errors = check_file(args.file, fmt)
        except OSError as error:
            print("producer: %s" % error, file=sys.stderr)
            return 2
        if errors:
            for error in errors:
                print("producer: %s" % error, file=sys.stderr)
            print("producer: %s is not a valid %s file; nothing sent"
                  % (args.file, fmt), file=sys.stderr)
            return 2
        records = read_records(args.file, fmt)
    else:
        records = generate(args.generate)

    rejects = None
    if args.rejects:
        try:
            rejects = open(args.rejects, "a", encoding="utf-8")
        except OSError as error:
            parser.error("--rejects %s: %s" % (args.rejects, error))
    log = (lambda text: None) if args.quiet else _log_stderr
    try:
        producer = Producer(args.endpoint, producer_id=producer_id,
                            window=args.window, reply_timeout_s=args.timeout,
                            feedback_endpoints=[part for value in
                                                args.feedback or []
                                                for part in value.split(",")
                                                if part],
                            coordinator_id=args.coordinator, rate=args.rate,
                            rejects=rejects, log=log)
    except (ValueError, zmq.ZMQError) as error:
        parser.error(str(error))
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: producer.stop())
    try:
        summary = producer.run(records, batch_size=args.batch_size,
                               deadline_s=args.deadline or None)
    except InputError as error:  # the file changed since it was checked
        print("producer: %s" % error, file=sys.stderr)
        return 2
    finally:
        producer.close()
        if rejects is not None:
            rejects.close()
    if args.json:
        print(json.dumps(summary.as_dict()), flush=True)
        print(format_summary(summary), file=sys.stderr, flush=True)
    else:
        print(format_summary(summary), flush=True)
    return 0 if summary.complete else 1


if __name__ == "__main__":
    sys.exit(main())
