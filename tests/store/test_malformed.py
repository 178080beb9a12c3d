"""Bad input: malformed ingest messages of every kind are nacked `malformed`,
counted, logged once per interval (not once per message), and the service
goes on serving (a valid batch is still acked, also
through a REQ socket whose empty delimiter frame is echoed)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import msgpack  # noqa: E402
import zmq  # noqa: E402
from harness import (Coordinator, Producer, batch_message, check,  # noqa: E402
                     decode, record, records)

CAPACITY = 1000


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def batch(recs, **changes):
    body = {"v": 1, "type": "batch", "producer_id": "bad", "batch_seq": 7,
            "records": recs}
    body.update(changes)
    return pack({key: value for key, value in body.items() if value is not None})


def malformed_messages():
    good = record(1)
    valid = batch([good])
    return {
        "not msgpack": b"\xc1\xc1\xc1",
        "empty frame": b"",
        "an array": pack([1, 2, 3]),
        "a string": pack("batch"),
        "truncated": valid[:-3],
        "missing records": batch(None, records=None),
        "missing batch_seq": batch([good], batch_seq=None),
        "wrong version": batch([good], v=99),
        "wrong type": batch([good], type="ack"),
        "records not an array": batch([good], records={"a": 1}),
        "record not an array": batch([{"kind": "trade"}]),
        "record too short": batch([good[:4]]),
        "record too long": batch([good + [1.0]]),
        "unknown kind": batch([["tick"] + good[1:]]),
        "NaN price": batch([good[:4] + [float("nan"), 1.0]]),
        "infinite size": batch([good[:4] + [1.0, float("inf")]]),
        "negative size": batch([good[:4] + [1.0, -1.0]]),
        "zero price": batch([good[:4] + [0.0, 1.0]]),
        "empty symbol": batch([good[:2] + [""] + good[3:]]),
        "symbol too long": batch([good[:2] + ["S" * 40] + good[3:]]),
        "negative ts_ns": batch([good[:3] + [-5] + good[4:]]),
        "price as string": batch([good[:4] + ["100", 1.0]]),
        "bar high below low": batch([["bar", "t", "X", 5, 10.0, 9.0, 11.0, 10.0, 1.0]]),
        "producer_id too long": batch([good], producer_id="p" * 100),
        # Unicode controls the spec forbids (issue 12 item 9).
        "symbol with U+202E": batch([good[:2] + ["A\u202eB"] + good[3:]]),
        "symbol with U+2028": batch([good[:2] + ["A\u2028"] + good[3:]]),
        "provider with U+0085": batch([good[:1] + ["p\u0085"] + good[2:]]),
        "over the queue capacity": batch(records(0, CAPACITY + 1)),
        "over the batch limit": batch([record(i) for i in range(10001)]),
    }


def main(binary):
    with Coordinator(binary, MDS_QUEUE_CAPACITY=CAPACITY) as coordinator:
        coordinator.start(ready=True)
        producer = Producer(coordinator.ingest_endpoint)
        cases = malformed_messages()
        for name, message in cases.items():
            producer.send_raw(message)
            reply = producer.recv(5.0)
            check(reply is not None, "%s: no reply" % name)
            check(reply["type"] == "nack" and reply["reason"] == "malformed",
                  "%s: got %r" % (name, reply))
            check(reply["detail"], "%s: nack without detail" % name)
            print("nacked %-24s %s" % (name, reply["detail"]))

        metrics = coordinator.metrics()
        check(metrics["coordinator_malformed_messages_total"] == len(cases),
              "malformed_total %s != %d"
              % (metrics["coordinator_malformed_messages_total"], len(cases)))
        key = 'coordinator_nacks_total{coordinator_id="%s",reason="malformed"}' \
            % coordinator.coordinator_id
        check(metrics[key] == len(cases), "nacks{malformed} %s" % metrics[key])
        check(metrics["coordinator_records_received_total"] == 0,
              "a malformed message changed the queue")
        # Logged at most once per interval (10 s): one line for the burst.
        logged = coordinator.read_log().count("malformed_message")
        check(logged == 1, "%d malformed_message log lines for %d messages"
              % (logged, len(cases)))

        # A single frame over ZMQ_MAXMSGSIZE (8 MiB): libzmq drops the
        # connection, no reply comes, and the disconnect is counted.
        lost_key = 'mds_socket_disconnects_total{socket="ingest"}'
        before = coordinator.metrics()[lost_key]
        context = zmq.Context.instance()
        big = context.socket(zmq.DEALER)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(coordinator.ingest_endpoint)
        big.send(b"\x00" * (9 * 1024 * 1024))
        deadline = time.monotonic() + 10.0
        while (coordinator.metrics()[lost_key] <= before
               and time.monotonic() < deadline):
            time.sleep(0.05)  # polling with a deadline, not synchronising
        check(coordinator.metrics()[lost_key] > before,
              "a frame over 8 MiB was not counted as a lost connection")
        check(not big.poll(200), "a reply came to an oversized frame")
        big.close(0)

        # Still serving: a valid batch from the same DEALER...
        acks = producer.send_all([records(0, 10)], timeout=10)
        check(list(acks.values())[0]["written"] == 10, "valid batch not written")
        # ...and through a REQ socket (envelope with an empty delimiter).
        req = context.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(coordinator.ingest_endpoint)
        req.send(batch_message("req-client", 1, records(100, 5)))
        check(req.poll(10000), "REQ client got no reply")
        reply = decode(req.recv())
        check(reply["type"] == "ack" and reply["batch_seq"] == 1
              and reply["written"] == 5, "REQ reply %r" % reply)
        req.close(0)
        check(coordinator.health(), "not healthy after bad input")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: %d malformed kinds nacked and counted" % len(cases))


if __name__ == "__main__":
    main(sys.argv[1])
