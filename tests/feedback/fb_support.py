"""Shared pieces of the feedback tests: a test publisher speaking
proto/feedback.md, a running mds-feedback-tail whose output is read live, and
small checks. stdlib + pyzmq + msgpack only (run with /usr/bin/python3)."""
import json
import os
import queue
import subprocess
import threading
import sys
import time

import msgpack
import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from checker import Checker  # noqa: E402,F401  (fb.Checker in the tests)

TOPIC_PREFIX = "mds.fb/"
LEVELS = ("ok", "soft", "hard")
TYPES = ("transition", "heartbeat", "snapshot")
# Every key a tail JSON line has; "reason" and "drain_rate" only when sent.
REQUIRED_KEYS = {"v", "type", "coordinator_id", "epoch", "seq", "ts_ns",
                 "level", "prev_level", "queue_size", "capacity", "low_wm", "high_wm",
                 "utilization", "scale_hint", "ttl_ms"}
OPTIONAL_KEYS = {"reason", "drain_rate",
                 # added in v1.1 (proto/feedback.md 3.2)
                 "oldest_age_ms", "commit_latency_ms", "sink_state",
                 "pressure", "credit_initial", "going_away"}


def topic(coordinator_id):
    return (TOPIC_PREFIX + coordinator_id + "/").encode()


def event(coordinator_id, seq, kind="heartbeat", level="ok", **extra):
    """One feedback map as feedback.md describes it."""
    body = {"v": 1, "type": kind, "coordinator_id": coordinator_id,
            "epoch": 7, "seq": seq, "ts_ns": time.time_ns(), "level": level,
            "prev_level": "ok", "queue_size": 10, "capacity": 100,
            "low_wm": 50, "high_wm": 80, "utilization": 0.1,
            "scale_hint": 1.0, "ttl_ms": 3000}
    body.update(extra)
    return body


def pack(body):
    return msgpack.packb(body, use_bin_type=True)


def garbage(coordinator_id, round_index):
    """One of each way a message can be wrong, all under a topic that a
    subscription to `coordinator_id` receives."""
    good = event(coordinator_id, 1000 + round_index)
    no_seq = dict(good)
    del no_seq["seq"]
    packed = pack(good)
    name = topic(coordinator_id)
    return [
        [name],                                        # one frame
        [name, packed, b"extra"],                      # three frames
        [name, b"\xc1\xc1 not msgpack"],               # not msgpack
        [name, b""],                                   # empty body
        [name, packed[:-4]],                           # truncated
        [name, packed + b"\x00"],                      # bytes after the map
        [name, pack([1, 2, 3])],                       # not a map
        [name, pack(dict(good, v=2))],                 # another version
        [name, pack(dict(good, v="1"))],               # version ill-typed
        [name, pack(no_seq)],                          # missing key
        [name, pack(dict(good, level="panic"))],       # unknown level
        [name, pack(dict(good, seq=-1))],              # negative uint
        [name, pack(dict(good, utilization=1.5))],     # out of 0..1
        [name, pack(dict(good, coordinator_id=coordinator_id + "x"))],
        [name, pack(dict(good, reason="r" * 10000))],  # reason too long
        [name[:-1], packed],                           # topic without '/'
    ]


class Publisher:
    """A PUB socket on 127.0.0.1, port chosen at run time."""

    def __init__(self, context):
        self.socket = context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = "tcp://127.0.0.1:%d" % port

    def send(self, frames):
        self.socket.send_multipart(frames)

    def send_event(self, body):
        self.send([topic(body["coordinator_id"]), pack(body)])

    def close(self):
        self.socket.close()


class Process:
    """A child process whose stdout lines and stderr are read by threads, so
    the test can wait for output with a deadline."""

    def __init__(self, argv, env=None):
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("MDS_TAIL_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=full_env)
        self.lines = queue.Queue()
        self.stdout = []
        self.stderr = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False),
                             daemon=True)]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream, is_stdout):
        for line in stream:
            if is_stdout:
                self.stdout.append(line)
                self.lines.put(line)
            else:
                self.stderr.append(line)

    def next_line(self, timeout):
        """The next stdout line, or None after `timeout` seconds."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        """The exit code, or None if still running after `timeout`; then
        every output thread has finished."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for thread in self._threads:
            thread.join(timeout)
        return code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr_text(self):
        return "".join(self.stderr)


def publish_until_exit(process, publisher, rounds, deadline_s,
                       period_s=0.02):
    """Calls publisher-side `rounds(index)` (which sends one round of
    messages) until `process` exits or the deadline passes. Returns the exit
    code, or None on the deadline. The loop is bounded by the deadline."""
    deadline = time.monotonic() + deadline_s
    index = 0
    while time.monotonic() < deadline:
        code = process.wait(period_s)
        if code is not None:
            return code
        rounds(index)
        index += 1
    return None


def parse_lines(lines):
    """The JSON objects of the tail's stdout; raises on a bad line."""
    return [json.loads(line) for line in lines]


def check_event_line(checker, label, obj):
    """A tail line has every required key, known names and nothing extra."""
    keys = set(obj)
    checker.check(label + ": required keys", REQUIRED_KEYS <= keys, obj)
    checker.check(label + ": no unknown keys",
                  keys <= REQUIRED_KEYS | OPTIONAL_KEYS, obj)
    checker.check(label + ": names", obj.get("type") in TYPES
                  and obj.get("level") in LEVELS
                  and obj.get("prev_level") in LEVELS, obj)


class socket_free_port:
    """A TCP port on 127.0.0.1 that nobody listens on (bound, then
    released on entry): for runs that must find nothing there."""

    def __enter__(self):
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc):
        return False
