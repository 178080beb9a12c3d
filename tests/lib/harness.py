"""Shared pieces of the cross-process tests of mds-coordinator.

stdlib + pyzmq + msgpack only (run with /usr/bin/python3). Everything waits
by polling with a deadline; nothing sleeps to synchronise.

- free_port(): a TCP port free on 127.0.0.1 right now.
- Coordinator: starts the binary with an environment on free ports and a
  temp dir, waits for /health, stops it (SIGTERM, SIGKILL), reads /metrics.
- Producer: a DEALER client that sends batches (proto/ingest.md) and waits
  for their acks, resending on nack full/draining or after a timeout.
- Subscriber: a SUB client on the feedback channel (proto/feedback.md).
"""
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import msgpack
import zmq

KINDS = ("trade", "quote", "bar")
BATCH_SIZE = 500


def fail(message):
    raise AssertionError(message)


def check(condition, message):
    if not condition:
        fail(message)


def wait_for(predicate, timeout, what, interval=0.01):
    """Polls predicate() until it returns a true value or the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            fail("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_handed_out = set()  # ports free_port() returned in this process


def free_port():
    """A free TCP port on 127.0.0.1 for a server under test.

    Chosen at random BELOW the kernel's ephemeral range: a port the kernel
    hands out for bind(0) is from that range, and any outgoing connection
    (ZeroMQ connects a lot, tests run in parallel) may take it between this
    probe and the server's own bind ("Address already in use"). Never the
    same port twice in one test process: the ports of one service are
    probed before any is bound, so a repeat would collide (seen once in CI:
    feedback and HTTP on one port)."""
    high = min(_ephemeral_low(), 32768) - 1
    low = max(1024, high - 12000)
    for _ in range(500):
        port = random.randint(low, high)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port in %d..%d" % (low, high))


def record(index, kind="trade", provider="test", symbol=None):
    """A valid record (list form, as on the wire) with a unique key per
    (kind, index)."""
    symbol = symbol or "SYM%d" % (index % 7)
    ts_ns = 1_700_000_000_000_000_000 + index
    if kind == "trade":
        return ["trade", provider, symbol, ts_ns, 100.0 + index % 13, 1.0]
    if kind == "quote":
        return ["quote", provider, symbol, ts_ns, 99.5, 2.0, 100.5, 3.0]
    return ["bar", provider, symbol, ts_ns, 100.0, 101.0, 99.0, 100.5, 10.0]


def records(start, count, kinds=KINDS):
    """`count` records numbered from `start`, kinds in rotation."""
    return [record(i, kinds[i % len(kinds)]) for i in range(start, start + count)]


def batch_message(producer_id, batch_seq, recs):
    return msgpack.packb({"v": 1, "type": "batch", "producer_id": producer_id,
                          "batch_seq": batch_seq, "records": recs},
                         use_bin_type=True)


def decode(frame):
    return msgpack.unpackb(frame, raw=False)


def http_get(port, path, timeout=2.0):
    """(status, body) of GET http://127.0.0.1:port/path; (None, "") when
    nothing answers."""
    url = "http://127.0.0.1:%d%s" % (port, path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:  # refused, reset, timed out (URLError is an OSError)
        return None, ""


def tail_file(path, limit):
    """The last `limit` characters of a (log) file, "" if unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode(errors="replace")[-limit:]
    except OSError:
        return ""


class Coordinator:
    """One mds-coordinator process with its own ports and temp dir."""

    def __init__(self, binary, workdir=None, sink=None, **env):
        self.binary = os.path.abspath(binary)
        self.workdir = workdir or tempfile.mkdtemp(prefix="mds-test-")
        self.ingest_port = free_port()
        self.feedback_port = free_port()
        self.http_port = free_port()
        self.db_path = os.path.join(self.workdir, "market.db")
        self.dlq_path = os.path.join(self.workdir, "dead-letter.ndjson")
        self.log_path = os.path.join(self.workdir, "coordinator.log")
        self.env = {
            "MDS_INGEST_ENDPOINT": "tcp://127.0.0.1:%d" % self.ingest_port,
            "MDS_FEEDBACK_ENDPOINT": "tcp://127.0.0.1:%d" % self.feedback_port,
            "MDS_HTTP_PORT": str(self.http_port),
            "MDS_HTTP_BIND": "127.0.0.1",
            "MDS_SINK": sink or "sqlite:" + self.db_path,
            "MDS_DLQ_PATH": self.dlq_path,
            "MDS_COORDINATOR_ID": "test-%d" % os.getpid(),
            "MDS_LOG_LEVEL": "info",
        }
        # A value of None removes the variable (tests a default).
        self.env.update({key: str(value) for key, value in env.items()
                         if value is not None})
        self.unset = [key for key, value in env.items() if value is None]
        for key in self.unset:
            self.env.pop(key, None)
        self.process = None
        self.log = None

    @property
    def ingest_endpoint(self):
        return self.env["MDS_INGEST_ENDPOINT"]

    @property
    def feedback_endpoint(self):
        return self.env["MDS_FEEDBACK_ENDPOINT"]

    @property
    def coordinator_id(self):
        return self.env.get("MDS_COORDINATOR_ID") or socket.gethostname()

    def start(self, timeout=10.0, ready=False):
        environment = dict(os.environ)
        environment.update(self.env)
        for key in self.unset:
            environment.pop(key, None)
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([self.binary], env=environment,
                                        stdout=self.log, stderr=self.log,
                                        cwd=self.workdir)
        wait_for(lambda: self._alive_and(self.health), timeout,
                 "/health of the coordinator")
        if ready:
            wait_for(lambda: self._alive_and(lambda: self.get("/ready")[0] == 200),
                     timeout, "/ready of the coordinator")
        return self

    def _alive_and(self, probe):
        if self.process.poll() is not None:
            fail("coordinator exited with %s; log:\n%s"
                 % (self.process.returncode, self.read_log()))
        return probe()

    def read_log(self):
        return tail_file(self.log_path, 6000)

    def get(self, path, timeout=2.0):
        return http_get(self.http_port, path, timeout)

    def health(self):
        return self.get("/health")[0] == 200

    def status(self):
        code, body = self.get("/status")
        check(code == 200, "/status answered %s" % code)
        return json.loads(body)

    def metrics(self):
        """/metrics as {name{labels}: value} plus {name: sum over series}."""
        code, body = self.get("/metrics")
        check(code == 200, "/metrics answered %s" % code)
        values = {}
        for line in body.splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
            name = key.split("{", 1)[0]
            if name != key:
                values[name] = values.get(name, 0.0) + float(value)
        return values

    def signal(self, number):
        self.process.send_signal(number)

    def stop(self, timeout=30.0):
        """SIGTERM, then wait; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            fail("coordinator did not stop within %.0f s; log:\n%s"
                 % (timeout, self.read_log()))
        finally:
            self.log.close()

    def kill(self):
        """SIGKILL: a crash."""
        self.process.kill()
        self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.log and not self.log.closed:
            self.log.close()
        if exc[0] is not None and self.process is not None:
            print("--- coordinator log ---\n" + self.read_log())
        return False


class Producer:
    """A DEALER that sends batches and collects replies by batch_seq."""

    def __init__(self, endpoint, producer_id="test-producer", context=None):
        self.context = context or zmq.Context.instance()
        self.endpoint = endpoint
        self.producer_id = producer_id
        self.socket = None
        self.connect()
        self.next_seq = 1
        self.replies = []

    def connect(self):
        if self.socket is not None:
            self.socket.close(0)
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(self.endpoint)

    def close(self):
        self.socket.close(0)

    def send_raw(self, *frames):
        self.socket.send_multipart(list(frames))

    def recv(self, timeout):
        """One reply (decoded) or None after `timeout` seconds."""
        if self.socket.poll(int(timeout * 1000)) == 0:
            return None
        reply = decode(self.socket.recv())
        self.replies.append(reply)
        return reply

    def send_all(self, batches, window=8, timeout=60.0, reply_timeout=3.0):
        """Sends every batch (a list of record lists) with at most `window`
        unacked, resending on nack full/draining (after retry_after_ms) and
        after `reply_timeout` without a reply. Returns {batch_seq: ack}."""
        deadline = time.monotonic() + timeout
        pending = {}   # batch_seq -> (message, resend_at)
        acks = {}
        queue = list(batches)
        queue.reverse()
        while queue or pending:
            check(time.monotonic() < deadline,
                  "send_all: %d batches unacked after %.0f s (last replies %s)"
                  % (len(pending) + len(queue), timeout, self.replies[-3:]))
            while queue and len(pending) < window:
                seq = self.next_seq
                self.next_seq += 1
                message = batch_message(self.producer_id, seq, queue.pop())
                self.socket.send(message)
                pending[seq] = [message, time.monotonic() + reply_timeout]
            now = time.monotonic()
            for seq, entry in pending.items():
                if now >= entry[1]:
                    self.socket.send(entry[0])
                    entry[1] = now + reply_timeout
            wait = max(0.0, min(entry[1] for entry in pending.values()) - now) \
                if pending else 0.0
            reply = self.recv(min(wait, 0.1))
            if reply is None:
                continue
            seq = reply.get("batch_seq")
            if seq not in pending:
                continue
            if reply["type"] == "ack":
                acks[seq] = reply
                del pending[seq]
            elif reply["reason"] in ("full", "draining"):
                pending[seq][1] = time.monotonic() + \
                    max(reply.get("retry_after_ms", 10), 1) / 1000.0
            else:
                fail("batch %d nacked %s: %s" % (seq, reply["reason"],
                                                 reply.get("detail")))
        return acks


def batches_of(recs, size=BATCH_SIZE):
    return [recs[i:i + size] for i in range(0, len(recs), size)]


class Subscriber:
    """A SUB socket on the feedback channel; events are decoded maps."""

    def __init__(self, endpoint, coordinator_id="", context=None, rcvhwm=None):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.socket.setsockopt(zmq.RCVHWM, rcvhwm)
        prefix = "mds.fb/" + (coordinator_id + "/" if coordinator_id else "")
        self.socket.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.socket.connect(endpoint)

    def recv(self, timeout):
        """(receive time, event) or None after `timeout` seconds."""
        if self.socket.poll(int(timeout * 1000)) == 0:
            return None
        topic, body = self.socket.recv_multipart()
        received = time.monotonic()
        event = decode(body)
        check(topic.decode() == "mds.fb/%s/" % event["coordinator_id"],
              "topic %r does not match the event" % topic)
        return received, event

    def close(self):
        self.socket.close(0)


def sqlite_count(db_path, table=None):
    """Rows in one table or in trades + quotes + bars."""
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        tables = [table] if table else ["trades", "quotes", "bars"]
        return sum(connection.execute("SELECT count(*) FROM %s" % name)
                   .fetchone()[0] for name in tables)
    finally:
        connection.close()


def sqlite_keys(db_path):
    """Every stored key as (kind, provider, symbol, ts_ns)."""
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        keys = []
        for kind, table in (("trade", "trades"), ("quote", "quotes"),
                            ("bar", "bars")):
            keys += [(kind,) + tuple(row) for row in connection.execute(
                "SELECT provider, symbol, ts_ns FROM %s" % table)]
        return keys
    finally:
        connection.close()


def key_of(rec):
    return (rec[0], rec[1], rec[2], rec[3])


class SqliteLock:
    """Holds the write lock of a SQLite database (BEGIN IMMEDIATE), so that
    the coordinator's writes fail busy: a database that is down or slow."""

    def __init__(self, db_path):
        self.connection = sqlite3.connect(db_path, timeout=10,
                                          isolation_level=None,
                                          check_same_thread=False)

    def acquire(self):
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self):
        self.connection.execute("COMMIT")

    def close(self):
        self.connection.close()


class SlowDatabase:
    """A thread that keeps the SQLite write lock `hold` seconds out of every
    `hold + gap`: each of the coordinator's transactions waits ~100 ms."""

    def __init__(self, db_path, hold=0.1, gap=0.005):
        import threading
        self.lock = SqliteLock(db_path)
        self.hold = hold
        self.gap = gap
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopping.is_set():
            self.lock.acquire()
            self.stopping.wait(self.hold)
            self.lock.release()
            self.stopping.wait(self.gap)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        self.lock.close()
        return False


def psql(uri, sql):
    """Runs one statement with psql (the PostgreSQL client); returns the
    unaligned output."""
    result = subprocess.run(["psql", uri, "-X", "-A", "-t", "-q", "-c", sql],
                            capture_output=True, text=True, timeout=30)
    check(result.returncode == 0, "psql %r: %s" % (sql, result.stderr))
    return result.stdout.strip()


def pg_count(uri):
    return int(psql(uri, "SELECT (SELECT count(*) FROM trades) + "
                         "(SELECT count(*) FROM quotes) + "
                         "(SELECT count(*) FROM bars)"))


def pg_keys(uri):
    keys = []
    for kind, table in (("trade", "trades"), ("quote", "quotes"),
                        ("bar", "bars")):
        out = psql(uri, "SELECT provider, symbol, ts_ns FROM %s" % table)
        for line in out.splitlines():
            provider, symbol, ts_ns = line.split("|")
            keys.append((kind, provider, symbol, int(ts_ns)))
    return keys


def stream_in_background(producer, batches, **options):
    """Runs producer.send_all in a thread; returns (thread, result dict with
    'acks' or 'error')."""
    import threading
    result = {}

    def run():
        try:
            result["acks"] = producer.send_all(batches, **options)
        except BaseException as error:  # reported by the caller
            result["error"] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


class Collector:
    """Reads a Subscriber in a background thread, keeping (receive time,
    event) pairs, so that receive times are not delayed by the test."""

    def __init__(self, subscriber):
        import threading
        self.subscriber = subscriber
        self.events = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopping.is_set():
            got = self.subscriber.recv(0.05)
            if got:
                self.events.append(got)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self.subscriber.close()
        return self.events
