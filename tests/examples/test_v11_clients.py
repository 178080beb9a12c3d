"""The protocol v1.1 additions in the Python examples, written from
proto/*.md alone: the spec's v1.1 golden messages decode, bad v1.1 values
are refused, the feedback client forgets a going_away coordinator at once,
and the producer sends a session, ignores another session's reply and never
has more unacked records than its credit (against a test coordinator on a
real ROUTER socket, 127.0.0.1, port chosen at run time).

Usage: test_v11_clients.py EXAMPLES_DIR INGEST_MD FEEDBACK_MD"""
import sys
import threading
import time

import msgpack
import zmq

EXAMPLES, INGEST_MD, FEEDBACK_MD = sys.argv[1:4]
sys.path.insert(0, EXAMPLES)
import feedback_client as fc  # noqa: E402
import producer as pr  # noqa: E402

DEADLINE_S = 20   # the live scenario ends well before this or fails
CREDIT = 120      # what the test coordinator grants
TOPIC = b"mds.fb/coord-1/"


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def golden(path, name):
    document = open(path, encoding="utf-8").read()
    at = document.index("<!-- golden: %s -->" % name)
    start = document.index("\n", document.index("```", at)) + 1
    return bytes.fromhex(document[start:document.index("```", start)])


def refused(decode, frames, error):
    try:
        decode(frames)
    except error:
        return True
    return False


def test_feedback_decode():
    state = fc.decode([TOPIC, golden(FEEDBACK_MD, "feedback-v1.1")])
    check(state["sink_state"] == "down" and state["pressure"] == 1.0
          and state["oldest_age_ms"] == 2150
          and state["commit_latency_ms"] == 12.5
          and state["credit_initial"] == 500 and state["going_away"] is False,
          "v1.1 golden: %r" % state)
    base = msgpack.unpackb(golden(FEEDBACK_MD, "feedback-v1.1"), raw=False)
    for bad in ({"sink_state": "gone"}, {"sink_state": 1},
                {"pressure": 1.01}, {"pressure": float("nan")},
                {"oldest_age_ms": 2 ** 32}, {"oldest_age_ms": -1},
                {"commit_latency_ms": -0.1},
                {"commit_latency_ms": float("inf")},
                {"credit_initial": 1.5}, {"going_away": 1},
                {"going_away": None}):
        body = msgpack.packb(dict(base, **bad))
        check(refused(fc.decode, [TOPIC, body], fc.Malformed),
              "feedback %r accepted" % bad)


def test_going_away():
    class Clock:
        now = 100.0

        def __call__(self):
            return self.now

    clock = Clock()
    client = fc.FeedbackClient([], clock=clock)
    try:
        update = client.handle([TOPIC, golden(FEEDBACK_MD, "feedback")])
        check(update is not None and "coord-1" in client.coordinators,
              "first state taken")
        update = client.handle([TOPIC, golden(FEEDBACK_MD, "going-away")])
        check(update is not None and update.gone, "going_away update")
        check("coord-1" not in client.coordinators, "forgotten at once")
        clock.now += 3600  # far past any ttl: no stale alert for it
        check(client.check_staleness() == [], "no staleness after going_away")
        check(client.next_deadline() is None, "no deadline left")
        update = client.handle([TOPIC, golden(FEEDBACK_MD, "feedback")])
        check(update is not None and not update.restarted
              and client.coordinators["coord-1"].messages == 1,
              "a later message is a new coordinator")
        check(client.gone == 1, "gone counted")
    finally:
        client.close()


def test_reply_decode():
    ack = pr.decode_reply(golden(INGEST_MD, "ack-v1.1"))
    check(ack == {"type": "ack", "batch_seq": 7, "written": 3,
                  "duplicates": 0, "dead_lettered": 0,
                  "session": 9876543210, "credit": 1500}, "ack %r" % ack)
    nack = pr.decode_reply(golden(INGEST_MD, "nack-v1.1"))
    check(nack["code"] == "bad_record" and nack["record_index"] == 2
          and nack["field"] == "price" and nack["reason"] == "malformed"
          and nack["session"] == 9876543210, "nack %r" % nack)
    base = msgpack.unpackb(golden(INGEST_MD, "nack-v1.1"), raw=False)
    # An unknown code or reason is not malformed (4.2, 4.3).
    later = pr.decode_reply(msgpack.packb(dict(base, code="slow_down",
                                               reason="throttled")))
    check(later["code"] == "slow_down" and later["reason"] == "throttled",
          "unknown code/reason kept: %r" % later)
    for bad in ({"session": 0}, {"session": -1}, {"credit": 2 ** 32},
                {"credit": "1"}, {"code": 5}, {"record_index": 10000},
                {"field": "f" * 33}, {"field": None}):
        check(refused(pr.decode_reply, msgpack.packb(dict(base, **bad)),
                      pr.MalformedReply), "reply %r accepted" % bad)
    batch = msgpack.unpackb(pr.encode_batch("p", 3, [["trade", "x", "y", 1,
                                                      1.0, 1.0]], 77),
                            raw=False)
    check(list(batch) == ["v", "type", "producer_id", "session", "batch_seq",
                          "records"] and batch["session"] == 77,
          "batch with session: %r" % batch)


class TestCoordinator:
    """Answers batches on a ROUTER: holds them until CREDIT records wait
    (or 30 ms pass), then acks the oldest with credit CREDIT, after a bogus
    ack from another session for the very first batch. Records the most
    records any session had unanswered."""

    def __init__(self, context):
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.max_unacked = 0
        self.first_batch = None
        self.sessions = set()
        self.replied = False
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _ack(self, envelope, batch, session):
        reply = {"v": 1, "type": "ack", "batch_seq": batch["batch_seq"],
                 "written": len(batch["records"]), "duplicates": 0,
                 "dead_lettered": 0, "session": session, "credit": CREDIT}
        self.socket.send_multipart(envelope + [msgpack.packb(reply)])

    def _run(self):
        held, unacked, idle_since = [], 0, time.monotonic()
        deadline = time.monotonic() + DEADLINE_S
        while not self.stop and time.monotonic() < deadline:
            if self.socket.poll(10):
                frames = self.socket.recv_multipart()
                batch = msgpack.unpackb(frames[-1], raw=False)
                self.sessions.add(batch.get("session"))
                if self.first_batch is None:
                    self.first_batch = len(batch["records"])
                held.append((frames[:-1], batch))
                unacked += len(batch["records"])
                self.max_unacked = max(self.max_unacked, unacked)
                idle_since = time.monotonic()
            if held and (unacked >= CREDIT or not self.replied
                         or time.monotonic() - idle_since > 0.03):
                envelope, batch = held.pop(0)
                if not self.replied:  # a previous run's ack: to be ignored
                    self._ack(envelope, batch, batch["session"] ^ 1)
                    self.replied = True
                unacked -= len(batch["records"])
                self._ack(envelope, batch, batch["session"])
        self.socket.close(0)


def test_producer_credit():
    context = zmq.Context()
    coordinator = TestCoordinator(context)
    producer = pr.Producer(coordinator.endpoint, producer_id="v11-test",
                           window=8, log=lambda text: None, context=context)
    try:
        summary = producer.run(pr.generate(1000), batch_size=100,
                               deadline_s=DEADLINE_S)
    finally:
        producer.close()
        coordinator.stop = True
        coordinator.thread.join()
        context.term()
    result = summary.as_dict()
    check(summary.complete and summary.acked == 1000, "complete: %r" % result)
    check(coordinator.sessions == {producer.session}, "one session sent: %r"
          % coordinator.sessions)
    check(coordinator.first_batch <= pr.CREDIT_INITIAL_DEFAULT, "first batch")
    check(coordinator.max_unacked <= CREDIT, "unacked %d > credit %d"
          % (coordinator.max_unacked, CREDIT))
    check(summary.foreign_replies == 1 and summary.unmatched_replies == 0,
          "the other session's ack ignored: %r" % result)
    check(summary.credit_splits >= 1, "batches cut to the credit: %r" % result)


for test in (test_feedback_decode, test_going_away, test_reply_decode,
             test_producer_credit):
    test()
    print("ok", test.__name__)
