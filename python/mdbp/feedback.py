"""The feedback channel (proto/feedback.md): a strict decoder of the
two-frame messages and a subscriber that tracks each coordinator.

    client = FeedbackClient(["tcp://127.0.0.1:5556"], coordinator="coord-1")
    while True:
        for update in client.poll(timeout_s=0.5):
            print(update.coordinator_id, update.kind, update.state)
        for coordinator_id in client.check_staleness():
            print(coordinator_id, "is stale: apply the fail-safe")

By section of the spec: one SUB socket connected to every endpoint (1),
exact coordinator topics "mds.fb/<id>/" (2), the map's required and optional
keys with their types (3), every malformed message dropped and counted,
version mismatches counted apart, a key given twice or a key that is not a
str refused, unknown keys ignored (4), per coordinator epoch and seq
tracking with gaps, restarts and stale/duplicate messages (5), staleness
after ttl_ms on a monotonic clock (7), and going_away: the coordinator is
forgotten at once (7.1)."""
import math
import time

import msgpack
import zmq

from . import curve as curve_keys

TOPIC_PREFIX = b"mds.fb/"
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5556"
VERSION = 1
LEVELS = ("ok", "soft", "hard")
TYPES = ("transition", "heartbeat", "snapshot")
ID_MAX_BYTES = 64
REASON_MAX_BYTES = 128
UINT64_MAX = 2 ** 64 - 1
UINT32_MAX = 2 ** 32 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
RECEIVE_HWM_MESSAGES = 10000  # queued in the socket before ZeroMQ drops

# Section 3.1 and 3.2: key -> (type, inclusive range or None).
_UINT64 = ("uint", (0, UINT64_MAX))
REQUIRED = {
    "v": _UINT64,
    "type": ("str", None),
    "coordinator_id": ("str", None),
    "epoch": _UINT64,
    "seq": _UINT64,
    "ts_ns": ("int", (INT64_MIN, INT64_MAX)),
    "level": ("str", None),
    "prev_level": ("str", None),
    "queue_size": _UINT64,
    "capacity": _UINT64,
    "low_wm": _UINT64,
    "high_wm": _UINT64,
    "utilization": ("float", (0.0, 1.0)),
    "scale_hint": ("float", (0.0, 1.0)),
    "ttl_ms": ("uint", (0, UINT32_MAX)),
}
OPTIONAL = {
    "reason": ("str", None),
    "drain_rate": ("float", (0.0, math.inf)),
    # added in v1.1
    "oldest_age_ms": ("uint", (0, UINT32_MAX)),
    "commit_latency_ms": ("float", (0.0, math.inf)),
    "sink_state": ("str", None),
    "pressure": ("float", (0.0, 1.0)),
    "credit_initial": ("uint", (0, UINT32_MAX)),
    "going_away": ("bool", None),
    "scale_hint_critical": ("float", (0.0, 1.0)),
    "scale_hint_bulk": ("float", (0.0, 1.0)),
    "credit_initial_critical": ("uint", (0, UINT32_MAX)),
}
SINK_STATES = ("up", "degraded", "down")


class Malformed(Exception):
    """A message that section 4 says to drop."""


class VersionMismatch(Malformed):
    """A well-formed map whose `v` is not 1: another protocol version."""


def _check_value(key, value, spec):
    kind, bounds = spec
    if kind == "bool":
        if not isinstance(value, bool):  # msgpack true/false only
            raise Malformed("key %r: expected bool, got %s"
                            % (key, type(value).__name__))
        return value
    if kind == "str":
        if not isinstance(value, str):  # bin arrives as bytes: ill-typed
            raise Malformed("key %r: expected str, got %s"
                            % (key, type(value).__name__))
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Malformed("key %r: expected %s, got %s"
                        % (key, kind, type(value).__name__))
    if kind == "float":
        value = float(value)  # any integer is accepted and converted
        if not math.isfinite(value):
            raise Malformed("key %r: not finite" % key)
    elif not isinstance(value, int):
        raise Malformed("key %r: expected %s, got float" % (key, kind))
    low, high = bounds
    if not low <= value <= high:
        raise Malformed("key %r: %r out of range %r..%r"
                        % (key, value, low, high))
    return value


class MapPairs(tuple):
    """A decoded msgpack map as the tuple of its (key, value) pairs, in
    order, repetitions kept (feedback.md 3.4). Nested maps (inside an
    unknown key's value) stay so: they are never checked, and a tuple is not
    taken for an array (a list) or any other value type."""


def unpack_map(body, error=None, unicode_errors="strict"):
    """The msgpack map of `body` as a dict, refusing what the stock msgpack
    library lets through (feedback.md 3.3, 3.4, 4): a top-level key given
    twice (a dict would keep the last value silently), a key that is not a
    str (with strict_map_key=True a bin key still passes, as bytes), bytes
    after the map, invalid UTF-8. `error` is the exception class to raise
    (Malformed by default). unicode_errors="surrogateescape" reads invalid
    UTF-8 into lone surrogates instead of failing, for a caller that refuses
    it per field (a batch's record names, ingest.md 3)."""
    error = error or Malformed
    try:
        # raw=False: str -> str, bin -> bytes. unpackb refuses trailing bytes.
        # The hook only keeps the pairs: it runs for nested maps too, whose
        # keys are none of our business (unknown values are ignored).
        message = msgpack.unpackb(body, raw=False, strict_map_key=False,
                                  object_pairs_hook=MapPairs,
                                  unicode_errors=unicode_errors)
    except Exception as failure:  # truncated, extra data, bad UTF-8, ...
        raise error("not one msgpack value: %s" % failure)
    if not isinstance(message, MapPairs):
        raise error("not a map: a msgpack %s" % type(message).__name__)
    result = {}
    for key, value in message:
        if not isinstance(key, str):
            raise error("a map key is not a str: %r" % (key,))
        if key in result:
            raise error("key %r appears twice" % key)
        result[key] = value
    return result


def decode(frames):
    """The state dict of one feedback message (a list of frames as bytes).
    Raises VersionMismatch or Malformed (with the reason) for a message to
    drop. Unknown keys are left out of the result."""
    if len(frames) != 2:
        raise Malformed("expected 2 frames, got %d" % len(frames))
    topic, body = frames
    topic_id = topic[len(TOPIC_PREFIX):-1]
    if not (topic.startswith(TOPIC_PREFIX) and topic.endswith(b"/")
            and topic_id and b"/" not in topic_id):
        raise Malformed("topic %r is not mds.fb/<id>/" % topic[:80])
    state = decode_body(body)
    if state["coordinator_id"].encode() != topic_id:
        raise Malformed("coordinator_id %r differs from the topic's %r"
                        % (state["coordinator_id"], topic_id.decode("utf-8",
                                                                    "replace")))
    return state


def decode_body(body):
    """The state dict of the map frame alone (the second frame), validated
    as feedback.md section 4 requires; raises VersionMismatch or Malformed.
    The conformance corpus holds such frames."""
    message = unpack_map(body)
    # The version first: a v2 map may legitimately lack v1's keys.
    if "v" not in message:
        raise Malformed("missing key 'v'")
    version = _check_value("v", message["v"], REQUIRED["v"])
    if version != VERSION:
        raise VersionMismatch("version %d (this client reads %d)"
                              % (version, VERSION))
    state = {}
    for key, spec in REQUIRED.items():
        if key not in message:
            raise Malformed("missing key %r" % key)
        state[key] = _check_value(key, message[key], spec)
    for key, spec in OPTIONAL.items():
        if key in message:
            state[key] = _check_value(key, message[key], spec)
    if state["type"] not in TYPES:
        raise Malformed("key 'type': unknown %r" % state["type"])
    for key in ("level", "prev_level"):
        if state[key] not in LEVELS:
            raise Malformed("key %r: unknown level %r" % (key, state[key]))
    coordinator_id = state["coordinator_id"].encode()
    if not 1 <= len(coordinator_id) <= ID_MAX_BYTES or b"/" in coordinator_id \
            or any(byte < 0x20 or byte == 0x7F for byte in coordinator_id):
        raise Malformed("key 'coordinator_id': invalid %r"
                        % state["coordinator_id"][:80])
    if "sink_state" in state and state["sink_state"] not in SINK_STATES:
        raise Malformed("key 'sink_state': unknown %r" % state["sink_state"])
    if "reason" in state and len(state["reason"].encode()) > REASON_MAX_BYTES:
        raise Malformed("key 'reason': longer than %d bytes" % REASON_MAX_BYTES)
    return state


def topic_for(coordinator_id):
    """The exact subscription of one coordinator: b"mds.fb/<id>/"."""
    encoded = coordinator_id.encode()
    if not 1 <= len(encoded) <= ID_MAX_BYTES or b"/" in encoded:
        raise ValueError("a coordinator id is 1 to 64 bytes without '/'")
    return TOPIC_PREFIX + encoded + b"/"


class CoordinatorState:
    """What we know of one coordinator (section 5 and 7)."""

    def __init__(self, coordinator_id):
        self.coordinator_id = coordinator_id
        self.state = None        # the newest accepted message (a dict)
        self.epoch = None
        self.seq = None
        self.received = None     # monotonic seconds of the newest message
        self.stale = False
        self.messages = 0        # accepted messages
        self.gaps = 0            # times seq jumped within an epoch
        self.missed = 0          # messages those jumps skipped
        self.restarts = 0        # epoch changes after the first message
        self.duplicates = 0      # same epoch, seq <= last: ignored

    @property
    def level(self):
        return self.state["level"] if self.state else None

    def expires_at(self):
        """Monotonic seconds when the state stops being trusted."""
        return self.received + self.state["ttl_ms"] / 1000.0

    def summary(self):
        return {"coordinator_id": self.coordinator_id, "epoch": self.epoch,
                "seq": self.seq, "level": self.level, "stale": self.stale,
                "messages": self.messages, "gaps": self.gaps,
                "missed": self.missed, "restarts": self.restarts,
                "duplicates": self.duplicates}


class Update:
    """One accepted message and what it meant for its coordinator."""

    def __init__(self, coordinator, state, gap, restarted, recovered,
                 gone=False):
        self.coordinator_id = coordinator.coordinator_id
        self.kind = state["type"]      # transition / heartbeat / snapshot
        self.state = state             # every decoded key
        self.gap = gap                 # messages missed just before this one
        self.restarted = restarted     # a new epoch (coordinator restart)
        self.recovered = recovered     # it was stale until this message
        self.gone = gone               # going_away: forgotten (7.1)

    def as_dict(self):
        result = dict(self.state)
        result.update({"gap": self.gap, "restarted": self.restarted,
                       "recovered": self.recovered, "gone": self.gone})
        return result


class FeedbackClient:
    """Subscribes to one coordinator or all of them on some endpoints and
    tracks each coordinator's state. `clock` returns monotonic seconds (give
    another one to drive staleness in a test); `curve` (mdbp.curve.CurveKeys)
    makes the socket a CURVE client. Not thread-safe."""

    def __init__(self, endpoints, coordinator=None, context=None,
                 clock=time.monotonic, clock_synchronised=False,
                 wall_clock=time.time_ns, curve=None):
        self.clock = clock
        # feedback.md 7: with clocks known to be synchronised (NTP), a
        # state's trust runs from its ts_ns, not from its receipt, so a
        # message that waited in a backlog does not look fresh.
        self.clock_synchronised = clock_synchronised
        self.wall_clock = wall_clock
        self.coordinators = {}   # coordinator_id -> CoordinatorState
        self.malformed = 0       # dropped messages (version mismatches too)
        self.gone = 0            # coordinators forgotten on going_away
        self.version_mismatches = 0
        self.last_error = None
        self._context = context or zmq.Context.instance()
        self.socket = self._context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVHWM, RECEIVE_HWM_MESSAGES)
        self.socket.setsockopt(zmq.SUBSCRIBE, topic_for(coordinator)
                               if coordinator else TOPIC_PREFIX)
        curve_keys.apply(self.socket, curve)  # mdbp.curve.CurveKeys or None
        for endpoint in endpoints:
            self.socket.connect(endpoint)

    def close(self):
        self.socket.close()

    def handle(self, frames):
        """Applies one received message. Returns an Update, or None for a
        message dropped (malformed: counted, `last_error` says why) or
        ignored (a stale or duplicate seq: counted on its coordinator)."""
        try:
            state = decode(frames)
        except VersionMismatch as error:
            self.version_mismatches += 1
            self.malformed += 1
            self.last_error = str(error)
            return None
        except Malformed as error:
            self.malformed += 1
            self.last_error = str(error)
            return None
        now = self.clock()
        coordinator_id = state["coordinator_id"]
        if state.get("going_away"):
            # 7.1: it is exiting. Forget it at once: no state to trust, no
            # staleness alert or fail-safe later; a message after this (a
            # restart) makes it a new coordinator.
            coordinator = self.coordinators.pop(coordinator_id, None) \
                or CoordinatorState(coordinator_id)
            self.gone += 1
            return Update(coordinator, state, 0, False, False, gone=True)
        coordinator = self.coordinators.get(coordinator_id)
        if coordinator is None:
            coordinator = CoordinatorState(coordinator_id)
            self.coordinators[coordinator_id] = coordinator
        gap, restarted = 0, False
        if coordinator.epoch is not None and coordinator.epoch == state["epoch"]:
            if state["seq"] <= coordinator.seq:
                coordinator.duplicates += 1
                return None
            gap = state["seq"] - coordinator.seq - 1
        elif coordinator.epoch is not None:
            restarted = True  # another epoch: forget the old seq
            coordinator.restarts += 1
        if gap:
            coordinator.gaps += 1
            coordinator.missed += gap
        recovered = coordinator.stale
        coordinator.state = state
        coordinator.epoch = state["epoch"]
        coordinator.seq = state["seq"]
        coordinator.received = now - self._age_s(state)
        coordinator.stale = False
        coordinator.messages += 1
        return Update(coordinator, state, gap, restarted, recovered)

    def _age_s(self, state):
        """Seconds the state is already old on receipt: 0 unless the
        clocks are synchronised; never more than its ttl_ms."""
        if not self.clock_synchronised:
            return 0.0
        age_ns = self.wall_clock() - state["ts_ns"]
        return min(max(age_ns, 0) / 1e9, state["ttl_ms"] / 1000.0)

    def poll(self, timeout_s):
        """Waits up to `timeout_s` for messages and applies all that are
        ready. Returns the Updates (possibly none)."""
        updates = []
        if not self.socket.poll(max(0, int(timeout_s * 1000))):
            return updates
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return updates
            update = self.handle(frames)
            if update is not None:
                updates.append(update)

    def check_staleness(self):
        """Marks every coordinator whose ttl_ms ran out since its last
        message as stale. Returns the ids that became stale just now."""
        now = self.clock()
        newly = []
        for coordinator in self.coordinators.values():
            if not coordinator.stale and now > coordinator.expires_at():
                coordinator.stale = True
                newly.append(coordinator.coordinator_id)
        return newly

    def next_deadline(self):
        """Monotonic seconds of the next possible staleness, or None."""
        times = [c.expires_at() for c in self.coordinators.values()
                 if not c.stale]
        return min(times) if times else None
