"""Garbage from the network never stops the service: random bytes on the
ingest and feedback ports from raw TCP sockets (not ZeroMQ), an XSUB client
flooding the feedback XPUB with random frames and subscriptions (which must
not make the publisher flood every subscriber with snapshots), and
producers that disconnect before their ack. Afterwards a real producer's
batches are all acked and stored, a real subscriber still gets heartbeats,
and the disconnected producers' records are in the database too
(at-least-once: the ack is lost, the data is not)."""
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Collector, Coordinator, Producer, Subscriber,  # noqa
                     batch_message, batches_of, check, records, sqlite_count,
                     wait_for)
import zmq  # noqa: E402

SUBSCRIPTION_FLOOD = 5000
GONE_PRODUCERS = 10
GONE_BATCH = 300


def raw_garbage(port, rnd):
    for _ in range(30):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            try:
                sock.sendall(bytes(rnd.getrandbits(8)
                                   for _ in range(rnd.randint(1, 3000))))
            except OSError:
                pass  # the peer may drop us mid-way: fine
    # A ZMTP 3.0 signature and version followed by junk.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00NULL"
                         + bytes(rnd.getrandbits(8) for _ in range(2000)))
        except OSError:
            pass


def main(binary):
    rnd = random.Random(7)
    context = zmq.Context.instance()
    with Coordinator(binary, MDS_HEARTBEAT_MS=200) as coordinator:
        coordinator.start(ready=True)
        collector = Collector(Subscriber(coordinator.feedback_endpoint,
                                         coordinator.coordinator_id)).start()
        wait_for(lambda: collector.events, 5, "a first feedback message")

        raw_garbage(coordinator.ingest_port, rnd)
        raw_garbage(coordinator.feedback_port, rnd)
        check(coordinator.health(), "not healthy after raw TCP garbage")

        flood = context.socket(zmq.XSUB)
        flood.setsockopt(zmq.LINGER, 0)
        flood.setsockopt(zmq.SNDHWM, 0)  # no drops on our side: all arrive
        flood.connect(coordinator.feedback_endpoint)
        started = time.monotonic()
        for _ in range(SUBSCRIPTION_FLOOD):
            flood.send(b"\x01")  # subscribe to everything, again and again
            flood.send(bytes([rnd.choice([0, 1, 2, 255])])
                       + bytes(rnd.getrandbits(8)
                               for _ in range(rnd.randint(0, 30))))
        flood_seconds = time.monotonic() - started
        # Every plain subscription arrives (a random frame may count too
        # when it happens to be one); wait until the count stops moving.
        seen = []

        def settled():
            seen.append(coordinator.metrics().get(
                "coordinator_feedback_subscriptions_total", 0))
            return len(seen) >= 3 and seen[-1] == seen[-3] \
                and seen[-1] >= SUBSCRIPTION_FLOOD
        wait_for(settled, 20, "the flood of subscriptions to arrive",
                 interval=0.2)
        flood_seconds = time.monotonic() - started
        flood.close()

        # Producers that vanish before their ack.
        for index in range(GONE_PRODUCERS):
            gone = context.socket(zmq.DEALER)
            gone.setsockopt(zmq.LINGER, 2000)
            gone.connect(coordinator.ingest_endpoint)
            gone.send(batch_message("gone-%d" % index, 1,
                                    records(100000 + index * GONE_BATCH,
                                            GONE_BATCH)))
            gone.close()

        producer = Producer(coordinator.ingest_endpoint)
        acks = producer.send_all(batches_of(records(0, 5000)), timeout=60)
        check(len(acks) == 10, "%d acks" % len(acks))
        producer.close()
        expected = 5000 + GONE_PRODUCERS * GONE_BATCH
        wait_for(lambda: coordinator.metrics().get(
            "coordinator_records_written_total", 0) >= expected, 20,
            "the vanished producers' records to be written")
        beats_before = sum(1 for _, event in collector.events
                           if event["type"] == "heartbeat")
        wait_for(lambda: sum(1 for _, event in collector.events
                             if event["type"] == "heartbeat") > beats_before,
                 5, "a heartbeat after the garbage")
        events = collector.stop()
        metrics = coordinator.metrics()
        snapshots = metrics['coordinator_feedback_messages_total{'
                            'coordinator_id="%s",type="snapshot"}'
                            % coordinator.coordinator_id]
        check(coordinator.stop() == 0, "exit code not 0")

    # The snapshot rate is bounded (10 ms apart), whatever the flood.
    bound = 2 + (flood_seconds + 1.0) / 0.010
    check(snapshots <= bound, "%d snapshots for a %.2f s flood (bound %d)"
          % (snapshots, flood_seconds, bound))
    check(sqlite_count(coordinator.db_path) == expected,
          "%d rows, expected %d" % (sqlite_count(coordinator.db_path),
                                    expected))
    seqs = [event["seq"] for _, event in events]
    check(seqs == sorted(seqs), "seq went backwards")
    print("ok: garbage survived; %d subscriptions gave %d snapshots; %d rows"
          % (seen[-1], snapshots, expected))


if __name__ == "__main__":
    main(sys.argv[1])
