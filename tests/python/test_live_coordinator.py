#!/usr/bin/python3
"""The mdbp Python package against a live mds-coordinator (real SQLite file,
ports chosen at run time): its FeedbackClient reads the real channel, its
Producer delivers records exactly (rows counted in the database), a resend
of the same records comes back as duplicates, every batch of the
conformance corpus gets from the coordinator the verdict (and nack code)
the package's decode_batch gives it, and a coordinator that stops is
forgotten (going_away) while one that dies goes stale.

Usage: test_live_coordinator.py MDS_COORDINATOR CORPUS_DIR [EXPECT_MDBP_IN]
With EXPECT_MDBP_IN, the imported mdbp must live under that directory (the
install test runs this script with a venv's interpreter)."""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from harness import Coordinator, check, sqlite_count, wait_for  # noqa: E402

import mdbp  # noqa: E402
from mdbp import conformance, curve  # noqa: E402
from mdbp.feedback import FeedbackClient  # noqa: E402
from mdbp.ingest import (BatchVersionMismatch, MalformedBatch,  # noqa: E402
                         Producer, decode_batch, decode_reply)

DEADLINE_S = 20           # each wait below ends well before this or fails
HEARTBEAT_MS = 200        # ttl_ms is 3 heartbeats: staleness within 0.6 s
RECORDS = 3000
BATCH_RECORDS = 500
REPLY_WAIT_S = 10.0


def make_records(count, provider="py-pkg"):
    result = []
    for index in range(count):
        ts_ns = 1_700_000_000_000_000_000 + index * 1000
        kind = ("trade", "quote", "bar")[index % 3]
        price = 100.0 + (index % 40) * 0.5
        if kind == "trade":
            result.append([kind, provider, "AAPL", ts_ns, price, 1.0])
        elif kind == "quote":
            result.append([kind, provider, "MSFT", ts_ns, price, 2.0,
                           price + 0.1, 3.0])
        else:
            result.append([kind, provider, "ES=F", ts_ns, price, price + 1,
                           price - 1, price, 10.0])
    return result


def stored(coordinator):
    try:
        return sqlite_count(coordinator.db_path)
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def first_update(client, what):
    updates = []
    wait_for(lambda: updates.extend(client.poll(0.1)) or updates,
             DEADLINE_S, what)
    return updates[0]


def quiet(_text):
    pass


def test_feedback(coordinator, client):
    update = first_update(client, "a first feedback message")
    state = update.state
    check(update.coordinator_id == coordinator.coordinator_id,
          "coordinator id %r" % update.coordinator_id)
    check(state["capacity"] == 10000 and state["level"] == "ok"
          and state["ttl_ms"] == 3 * HEARTBEAT_MS,
          "a fresh coordinator's state: %r" % state)
    for key in ("credit_initial", "sink_state", "pressure", "oldest_age_ms"):
        check(key in state, "v1.1 key %s present: %r" % (key, state))
    check(client.malformed == 0, "nothing malformed: %s" % client.last_error)
    print("ok feedback: %s %s" % (update.kind, state["level"]))


def test_producer(coordinator, feedback):
    records = make_records(RECORDS)
    producer = Producer(coordinator.ingest_endpoint, producer_id="py-pkg-1",
                        window=4, feedback_endpoints=[feedback], log=quiet)
    try:
        summary = producer.run(records, batch_size=BATCH_RECORDS,
                               deadline_s=DEADLINE_S)
    finally:
        producer.close()
    check(summary.complete and summary.written == RECORDS,
          "every record written once: %r" % summary.as_dict())
    check(producer.credit is not None, "the coordinator sent credits")
    wait_for(lambda: stored(coordinator) == RECORDS, DEADLINE_S,
             "%d rows in the database" % RECORDS)
    # A second run (a new session) with the same records: all duplicates.
    again = Producer(coordinator.ingest_endpoint, producer_id="py-pkg-1",
                     window=2, log=quiet)
    try:
        summary = again.run(records, batch_size=BATCH_RECORDS,
                            deadline_s=DEADLINE_S)
    finally:
        again.close()
    check(again.session != producer.session, "a new session per run")
    check(summary.complete and summary.written == 0
          and summary.duplicates == RECORDS,
          "the resend is stored once: %r" % summary.as_dict())
    check(stored(coordinator) == RECORDS, "still %d rows" % RECORDS)
    print("ok producer: %d records written, then %d duplicates"
          % (RECORDS, RECORDS))


def package_verdict(body):
    """(verdict, code) of the package's batch decoder."""
    try:
        decode_batch(body)
    except BatchVersionMismatch as error:
        return "version", error.code
    except MalformedBatch as error:
        return "invalid", error.code
    return "valid", None


def exchange(socket, body):
    """Sends one frame, returns the decoded reply (nack full: waits and
    resends, the corpus's big batch may meet a busy queue)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        socket.send(body)
        check(socket.poll(int(REPLY_WAIT_S * 1000)), "a reply in time")
        reply = decode_reply(socket.recv())
        if reply["type"] == "nack" and reply["reason"] == "full":
            check(time.monotonic() < deadline, "queue full for too long")
            time.sleep(reply["retry_after_ms"] / 1000.0)
            continue
        return reply


def test_corpus_batches(coordinator, corpus):
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(coordinator.ingest_endpoint)
    count = 0
    try:
        for kind, verdict, name, _, body in conformance.cases(corpus):
            if kind != "batch":
                continue
            count += 1
            mine, code = package_verdict(body)
            check(mine == verdict, "%s: package says %s" % (name, mine))
            reply = exchange(socket, body)
            if verdict == "valid":
                check(reply["type"] == "ack", "%s: acked: %r" % (name, reply))
                continue
            check(reply["type"] == "nack" and reply["reason"] == "malformed",
                  "%s: nack malformed: %r" % (name, reply))
            check(reply.get("code") == code,
                  "%s: the coordinator's code %r, the package's %r (%s)"
                  % (name, reply.get("code"), code, reply["detail"]))
    finally:
        socket.close(0)
    check(count > 0, "the corpus has batch cases")
    print("ok corpus: %d batches, the coordinator agrees with the package"
          % count)


def spec_golden(corpus, name):
    """A golden reply of ingest.md, decoded (keys in the bytes' order)."""
    with open(os.path.join(corpus, "..", "ingest.md"), encoding="utf-8") as spec:
        text = spec.read()
    at = text.index("<!-- golden: %s -->" % name)
    start = text.index("\n", text.index("```", at)) + 1
    return msgpack.unpackb(bytes.fromhex(text[start:text.index("```", start)]),
                           raw=False)


def same_but_credit(reply_frame, expected, what):
    got = msgpack.unpackb(reply_frame, raw=False)
    check(list(got) == list(expected), "%s: keys %r, the spec shows %r"
          % (what, list(got), list(expected)))
    check({k: v for k, v in got.items() if k != "credit"}
          == {k: v for k, v in expected.items() if k != "credit"},
          "%s: %r, the spec shows %r" % (what, got, expected))


def test_spec_replies(coordinator, corpus):
    """The later reply examples of ingest.md 4.2 are what the coordinator
    sends (its credit aside), and the REQ framing of section 1."""
    with open(os.path.join(corpus, "batch", "valid-golden.msgpack"),
              "rb") as body:
        stored = msgpack.unpackb(body.read(), raw=False)["records"]
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(coordinator.ingest_endpoint)
    try:
        # Batch 12: two records of the golden batch (stored by the corpus
        # run) and one new one.
        batch = {"v": 1, "type": "batch", "producer_id": "feed-ibkr-1",
                 "session": 9876543210, "batch_seq": 12,
                 "records": stored[:2] + [["trade", "ibkr", "AAPL",
                                           1700000000000000002, 189.52, 50.0]]}
        socket.send(msgpack.packb(batch))
        check(socket.poll(int(REPLY_WAIT_S * 1000)), "ack in time")
        same_but_credit(socket.recv(), spec_golden(corpus, "ack-duplicates"),
                        "ack with duplicates")
        socket.send(msgpack.packb([1, 2, 3]))
        check(socket.poll(int(REPLY_WAIT_S * 1000)), "nack in time")
        same_but_credit(socket.recv(), spec_golden(corpus, "nack-batch-seq-0"),
                        "nack with batch_seq 0")
        # A DEALER speaking like a REQ: [""][batch] -> [""][reply].
        socket.send_multipart([b"", msgpack.packb(dict(batch, batch_seq=13))])
        check(socket.poll(int(REPLY_WAIT_S * 1000)), "reply in time")
        frames = socket.recv_multipart()
        check(len(frames) == 2 and frames[0] == b""
              and decode_reply(frames[1])["type"] == "ack",
              "the delimiter echoed, the reply last: %r" % frames)
    finally:
        socket.close(0)
    req = zmq.Context.instance().socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(coordinator.ingest_endpoint)
    try:
        req.send(msgpack.packb(dict(batch, batch_seq=14)))
        check(req.poll(int(REPLY_WAIT_S * 1000)), "REQ reply in time")
        reply = decode_reply(req.recv())
        check(reply["type"] == "ack" and reply["batch_seq"] == 14
              and reply["duplicates"] == 3, "REQ: %r" % reply)
    finally:
        req.close(0)
    print("ok spec replies: ack with duplicates, batch_seq 0, REQ framing")


def test_stale(binary, workdir):
    with Coordinator(binary, workdir=workdir,
                     MDS_HEARTBEAT_MS=HEARTBEAT_MS) as coordinator:
        coordinator.start()
        client = FeedbackClient([coordinator.feedback_endpoint],
                                coordinator=coordinator.coordinator_id)
        try:
            first_update(client, "feedback before the crash")
            coordinator.kill()
            newly = []
            wait_for(lambda: newly.extend(client.check_staleness()) or newly,
                     DEADLINE_S, "the dead coordinator marked stale")
            check(newly == [coordinator.coordinator_id], "stale: %r" % newly)
        finally:
            client.close()
    print("ok stale after a crash")


def test_going_away(coordinator, client):
    check(client.coordinators, "the coordinator is known")
    coordinator.stop()
    gone = []
    wait_for(lambda: gone.extend(u for u in client.poll(0.1) if u.gone)
             or gone, DEADLINE_S, "the going_away message")
    check(gone[0].state["ttl_ms"] == 0
          and gone[0].state["reason"].split(" ")[0] == "shutdown",
          "going_away state: %r" % gone[0].state)
    check(not client.coordinators, "forgotten at once")
    check(client.check_staleness() == [], "a gone coordinator is not stale")
    print("ok going_away")


def test_curve(binary, workdir):
    """feedback.md 1.1 as written: keygen, the allow-list, the client keys
    from the certificate files; a plaintext subscriber is refused."""
    keys_dir = os.path.join(workdir, "keys")
    os.mkdir(keys_dir)
    clients = os.path.join(keys_dir, "clients")
    os.mkdir(clients)
    for name in ("coordinator", os.path.join("clients", "feed-1")):
        subprocess.run([binary, "keygen", os.path.join(keys_dir, name)],
                       check=True, stdout=subprocess.DEVNULL)
    # The allow-list holds the public certificate only.
    os.rename(os.path.join(clients, "feed-1_secret"),
              os.path.join(keys_dir, "feed-1_secret"))
    keys = curve.client_keys(os.path.join(keys_dir, "feed-1_secret"),
                             os.path.join(keys_dir, "coordinator"))
    with Coordinator(binary, workdir=workdir, MDS_HEARTBEAT_MS=HEARTBEAT_MS,
                     MDS_CURVE_SECRET_KEY_FILE=os.path.join(
                         keys_dir, "coordinator_secret"),
                     MDS_CURVE_CLIENTS_DIR=clients) as coordinator:
        coordinator.start()
        client = FeedbackClient([coordinator.feedback_endpoint],
                                coordinator=coordinator.coordinator_id,
                                curve=keys)
        plain = FeedbackClient([coordinator.feedback_endpoint])
        try:
            first_update(client, "feedback over CURVE")
            producer = Producer(coordinator.ingest_endpoint,
                                producer_id="py-curve", curve=keys,
                                log=quiet)
            try:
                summary = producer.run(make_records(300, "py-curve"),
                                       batch_size=100, deadline_s=DEADLINE_S)
            finally:
                producer.close()
            check(summary.complete and summary.written == 300,
                  "records over CURVE: %r" % summary.as_dict())
            wait_for(lambda: coordinator.metrics().get(
                "mds_curve_denied_total", 0) >= 1, DEADLINE_S,
                "the plaintext subscriber refused and counted")
            check(not plain.poll(0), "nothing reached the plaintext client")
        finally:
            client.close()
            plain.close()
    print("ok CURVE: keys from the certificate files, plaintext refused")


def main(binary, corpus, expect_in=None):
    if expect_in:
        check(os.path.abspath(mdbp.__file__).startswith(
            os.path.abspath(expect_in)),
            "mdbp imported from %s, not under %s" % (mdbp.__file__, expect_in))
    # One directory per coordinator (database, log), removed at the end.
    top = tempfile.mkdtemp(prefix="mdbp-live-")
    workdirs = [os.path.join(top, name) for name in ("main", "stale", "curve")]
    for workdir in workdirs:
        os.mkdir(workdir)
    with Coordinator(binary, workdir=workdirs[0],
                     MDS_HEARTBEAT_MS=HEARTBEAT_MS) as coordinator:
        coordinator.start()
        client = FeedbackClient([coordinator.feedback_endpoint],
                                coordinator=coordinator.coordinator_id)
        try:
            test_feedback(coordinator, client)
            test_producer(coordinator, coordinator.feedback_endpoint)
            test_corpus_batches(coordinator, corpus)
            test_spec_replies(coordinator, corpus)
            test_going_away(coordinator, client)
        finally:
            client.close()
    test_stale(binary, workdirs[1])
    test_curve(binary, workdirs[2])
    shutil.rmtree(top, ignore_errors=True)
    print("test_live_coordinator: every check passed (mdbp %s from %s)"
          % (mdbp.__version__, os.path.dirname(mdbp.__file__)))


if __name__ == "__main__":
    main(*sys.argv[1:])
