"""The ingest protocol (proto/ingest.md): batches and replies, strictly
decoded, and a producer with a window, credits, sessions and resends.

    producer = Producer("tcp://127.0.0.1:5555", producer_id="feed-1",
                        window=4, feedback_endpoints=["tcp://127.0.0.1:5556"])
    summary = producer.run(records, batch_size=500)   # records: wire arrays
    producer.close()
    print(summary.as_dict(), summary.complete)

By section of the spec: one DEALER connected to the coordinator's ROUTER,
one frame per batch (1); batches of 1..10,000 records with increasing
batch_seq from 1 (2, 3); replies strictly decoded, matched by batch_seq,
malformed or unknown ones dropped and counted (4); at-least-once delivery
(5): a bounded window of batches in flight, a batch is kept until it is
acked, resent after a reply timeout (which doubles per timeout, at most 8x),
after retry_after_ms on `nack full` / `nack draining` (and no new batch is
started before then either), and at once when libzmq reports that the
connection dropped; a `nack malformed` batch is never resent: its detail is
reported and its records go to an optional rejects file in the dead-letter
format of 7.1. Backpressure (feedback.md 6, 7): with feedback endpoints, the
first batch waits (up to 2 s) for the first state, batches are cut to the
queue's `capacity`, no new batch is started while the coordinator's level is
HARD, the window (and the rate) follow scale_hint while it is SOFT (so
sending ramps up with scale_hint after HARD), and a stale coordinator gets
the fail-safe (half the window and half the rate).

v1.1 (4.4, 5): every batch carries this run's random `session`, replies
carrying another session are ignored, and the producer honours credits: it
never has more unacked records at the coordinator than its last `credit`,
sends one batch of at most min(credit_initial, capacity) (500 without
feedback) before its first reply, and cuts batches to fit."""
import collections
import math
import re
import secrets
import socket as socketlib
import sys
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from . import curve as curve_keys
from . import feedback as feedback_channel
from .records import (BadRecord, generate, record_as_json,  # noqa: F401
                      utf8_length, validate_record)

VERSION = 1
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_WINDOW_BATCHES = 4
DEFAULT_BATCH_RECORDS = 500
DEFAULT_REPLY_TIMEOUT_S = 5.0
RECORDS_PER_BATCH_MAX = 10000
PRODUCER_ID_MAX_BYTES = 64
DETAIL_MAX_BYTES = 128
MESSAGE_BYTES_MAX = 4 * 1024 * 1024  # one message (ingest.md 1)
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

# --------------------------------------------------------------------------
# Batches and replies (ingest.md sections 2 and 4)

# Priority classes and the share weight (ingest.md 4.5).
PRIORITIES = ("normal", "critical", "bulk")
WEIGHT_MAX = 1000


def encode_batch(producer_id, batch_seq, records, session=None,
                 priority=None, weight=None):
    """The one frame of a batch: a msgpack map in the order of section 2
    (ints in the smallest format, floats as float64, str for strings), with
    the v1.1 `session`, `priority` and `weight` after producer_id when
    given."""
    message = {"v": VERSION, "type": "batch", "producer_id": producer_id}
    if session is not None:
        if not 1 <= session <= UINT64_MAX:
            raise ValueError("session must be a nonzero uint64")
        message["session"] = session
    if priority is not None:
        if priority not in PRIORITIES:
            raise ValueError("priority must be one of %s"
                             % ", ".join(PRIORITIES))
        message["priority"] = priority
    if weight is not None:
        if not 1 <= weight <= WEIGHT_MAX:
            raise ValueError("weight must be 1..%d" % WEIGHT_MAX)
        message["weight"] = weight
    message["batch_seq"] = batch_seq
    message["records"] = records
    return msgpack.packb(message, use_bin_type=True)


def new_session():
    """A random nonzero 64-bit session for this run (ingest.md 2)."""
    return secrets.randbits(64) or 1


class MalformedReply(Exception):
    """A reply that 4.3 says to drop."""


class ReplyVersionMismatch(MalformedReply):
    """A reply map whose `v` is a uint other than 1: another version."""


class MalformedBatch(Exception):
    """A batch the coordinator answers `nack` / `malformed` (ingest.md 4.2).
    `code` is the nack code, `field` the key or record field at fault (or
    None), `record_index` the record's index for bad_record (or None), and
    `batch_seq` the batch's batch_seq when it could be read (else 0)."""

    def __init__(self, text, code, field=None, record_index=None,
                 batch_seq=0):
        Exception.__init__(self, text)
        self.code = code
        self.field = field
        self.record_index = record_index
        self.batch_seq = batch_seq


class BatchVersionMismatch(MalformedBatch):
    """A batch whose `v` is a uint other than 1 (code `version`)."""


def _uint(message, key, high=UINT64_MAX, error=MalformedReply):
    if key not in message:
        raise error("missing key %r" % key)
    value = message[key]
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 0 <= value <= high:
        raise error("key %r: expected a uint up to %d" % (key, high))
    return value


def decode_reply(frame):
    """The reply dict ('type', 'batch_seq' and the keys of its type) of one
    frame, or raises MalformedReply (ReplyVersionMismatch for another `v`).
    Unknown keys are ignored; a key given twice or a key that is not a str
    is malformed."""
    message = feedback_channel.unpack_map(frame, MalformedReply)
    if _uint(message, "v") != VERSION:
        raise ReplyVersionMismatch("version %r" % message["v"])
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
    if not isinstance(detail, str) \
            or len(detail.encode()) > DETAIL_MAX_BYTES:
        raise MalformedReply("key 'detail': not a str of <= %d bytes"
                             % DETAIL_MAX_BYTES)
    reply["detail"] = detail
    return reply


def decode_batch(frame, capacity=RECORDS_PER_BATCH_MAX):
    """The batch dict ('producer_id', 'batch_seq', 'records' and 'session'
    when present) of one frame, validated as the coordinator does (ingest.md
    2, 3 and 4.2), or raises MalformedBatch with the nack's code and field
    (BatchVersionMismatch for another `v`). `capacity` is the queue
    capacity: more records are `over_capacity`."""
    if len(frame) > MESSAGE_BYTES_MAX:
        raise MalformedBatch("message: %d bytes, more than %d"
                             % (len(frame), MESSAGE_BYTES_MAX), "too_large")

    class NotAMap(MalformedBatch):
        def __init__(self, text):
            code = "bad_key" if "key" in text else "not_a_map"
            MalformedBatch.__init__(self, text, code)

    # Invalid UTF-8 is refused where it is (a record's name: bad_record),
    # as the coordinator does, not as "not a map".
    message = feedback_channel.unpack_map(frame, NotAMap, "surrogateescape")

    def uint(key, seq=0):
        def error(text):
            code = "missing_key" if text.startswith("missing") \
                else "bad_value"
            return MalformedBatch(text, code, key, batch_seq=seq)
        return _uint(message, key, error=error)

    version = uint("v")
    if version != VERSION:
        raise BatchVersionMismatch("key 'v': unsupported version %d"
                                   % version, "version", "v")
    if "type" not in message:
        raise MalformedBatch("missing key 'type'", "missing_key", "type")
    if message["type"] != "batch":
        raise MalformedBatch("key 'type': expected batch", "bad_value", "type")
    batch = {"batch_seq": uint("batch_seq")}
    seq = batch["batch_seq"]
    if "session" in message:
        batch["session"] = uint("session", seq)
        if batch["session"] == 0:
            raise MalformedBatch("key 'session': must not be 0", "bad_value",
                                 "session", batch_seq=seq)
    if "priority" in message:
        if message["priority"] not in PRIORITIES:
            raise MalformedBatch("key 'priority': one of %s"
                                 % ", ".join(PRIORITIES), "bad_value",
                                 "priority", batch_seq=seq)
        batch["priority"] = message["priority"]
    if "weight" in message:
        batch["weight"] = uint("weight", seq)
        if not 1 <= batch["weight"] <= WEIGHT_MAX:
            raise MalformedBatch("key 'weight': 1..%d" % WEIGHT_MAX,
                                 "bad_value", "weight", batch_seq=seq)
    producer_id = message.get("producer_id")
    if producer_id is None:
        raise MalformedBatch("missing key 'producer_id'", "missing_key",
                             "producer_id", batch_seq=seq)
    if not isinstance(producer_id, str) \
            or not 1 <= (utf8_length(producer_id) or 0) \
            <= PRODUCER_ID_MAX_BYTES:
        raise MalformedBatch("key 'producer_id': a str of 1..%d bytes"
                             % PRODUCER_ID_MAX_BYTES, "bad_value",
                             "producer_id", batch_seq=seq)
    batch["producer_id"] = producer_id
    records = message.get("records")
    if records is None:
        raise MalformedBatch("missing key 'records'", "missing_key",
                             "records", batch_seq=seq)
    if not isinstance(records, list) or not records:
        raise MalformedBatch("key 'records': a non-empty array", "bad_value",
                             "records", batch_seq=seq)
    if len(records) > RECORDS_PER_BATCH_MAX:
        raise MalformedBatch("key 'records': more than %d"
                             % RECORDS_PER_BATCH_MAX, "too_many_records",
                             "records", batch_seq=seq)
    for index, record in enumerate(records):
        try:
            validate_record(record)
        except BadRecord as error:
            raise MalformedBatch("record %d: %s" % (index, error),
                                 "bad_record", error.field, index, seq)
    if len(records) > capacity:
        raise MalformedBatch("batch of %d records exceeds the queue "
                             "capacity %d" % (len(records), capacity),
                             "over_capacity", batch_seq=seq)
    batch["records"] = records
    return batch


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
    (7.1 dead-letter lines) or None; `curve` (mdbp.curve.CurveKeys) makes
    its sockets CURVE clients."""

    def __init__(self, endpoint, producer_id=None, window=DEFAULT_WINDOW_BATCHES,
                 reply_timeout_s=DEFAULT_REPLY_TIMEOUT_S,
                 feedback_endpoints=None, coordinator_id=None,
                 rate=None, rejects=None, log=_log_stderr, context=None,
                 clock=time.monotonic, session=None, honour_credit=True,
                 curve=None):
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
        curve_keys.apply(self.socket, curve)  # mdbp.curve.CurveKeys or None
        self.socket.connect(endpoint)
        self.feedback = None
        if feedback_endpoints:
            self.feedback = feedback_channel.FeedbackClient(
                feedback_endpoints, coordinator=coordinator_id,
                context=self._context, clock=clock, curve=curve)
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
        scale_hint soft, 0 hard, STALE_FACTOR stale or no state yet).
        Without feedback endpoints: ok."""
        if not self.feedback:
            return "ok", 1.0
        self.feedback.check_staleness()
        if not self.feedback.coordinators:
            # No state yet (or the coordinator went away): nothing says ok
            # (ingest.md 5, before the first feedback message).
            return "stale", STALE_FACTOR
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
