#!/usr/bin/python3
"""Ingest envelope limits on the real mds-coordinator (issue 12, item 1).

libzmq's ZMQ_MAXMSGSIZE caps each frame, not a message: before the fix a
message of 12 x 7 MiB frames + a 1-record batch was queued with its 84 MiB
envelope and acked with an 88 MB reply, and a peer that never read its
replies made the coordinator hold every one of them. Now: a message with
more than 8 envelope frames or over 2 KiB of envelope (the
attack trips the byte limit at its second frame) is nacked malformed
(a small reply to the routing id only), counted in
coordinator_ingest_refused_total{reason}, never queued; RSS stays bounded
while a peer that never reads sends 8 of them; a REQ client's empty
delimiter still works; the service keeps answering.
Usage: test_ingest_limits.py mds-coordinator"""
import os
import sys
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sec_support as sec  # noqa: E402
from harness import Coordinator, batch_message, decode, records  # noqa: E402

COORDINATOR = sys.argv[1]
FRAME_BYTES = 7 << 20        # the attack's frames
ATTACK_FRAMES = 12
ATTACK_MESSAGES = 8
# Generous: the fixed coordinator holds at most a message in flight (libzmq
# delivers a multipart message whole); before the fix it held 8 x 88 MB.
RSS_GROWTH_BOUND_MB = 300
REPLY_TIMEOUT_S = 20
checker = sec.Checker()


def dealer(context, endpoint):
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SNDHWM, 0)
    socket.connect(endpoint)
    return socket


def reply_of(socket, timeout=REPLY_TIMEOUT_S):
    if socket.poll(int(timeout * 1000)) == 0:
        return None
    return socket.recv_multipart()


def refused(coordinator, reason):
    return coordinator.metrics().get(
        'coordinator_ingest_refused_total{coordinator_id="%s",reason="%s"}'
        % (coordinator.coordinator_id, reason), 0.0)


def scenario_refusals(coordinator, context):
    big = b"x" * FRAME_BYTES
    socket = dealer(context, coordinator.ingest_endpoint)
    batch = batch_message("attacker", 41, records(0, 1))
    socket.send_multipart([big] * ATTACK_FRAMES + [batch])
    frames = reply_of(socket)
    checker.check("12 x 7 MiB envelope frames: answered", frames is not None)
    if frames:
        reply = decode(frames[-1])
        checker.check("... with one small frame, nothing echoed",
                      len(frames) == 1 and len(frames[0]) < 1024,
                      "%d frames, %d bytes" % (len(frames),
                                               sum(map(len, frames))))
        checker.check("... nack malformed for batch_seq 41",
                      reply.get("type") == "nack"
                      and reply.get("reason") == "malformed"
                      and reply.get("batch_seq") == 41, reply)
    # The second frame already takes the envelope over 2 KiB.
    checker.check("... counted as envelope_bytes",
                  sec.wait_until(lambda: refused(coordinator,
                                                 "envelope_bytes") >= 1, 5))
    socket.send_multipart([b"y"] * 20 + [batch_message("attacker", 42,
                                                       records(1, 1))])
    frames = reply_of(socket)
    checker.check("20 one-byte envelope frames: nacked malformed",
                  frames is not None and len(frames) == 1
                  and decode(frames[0]).get("reason") == "malformed"
                  and decode(frames[0]).get("batch_seq") == 42, frames)
    checker.check("... counted as envelope_frames",
                  sec.wait_until(lambda: refused(coordinator,
                                                 "envelope_frames") >= 1, 5))
    metrics = coordinator.metrics()
    checker.check("refused batches were never queued",
                  metrics.get("coordinator_records_received_total", 0) == 0,
                  metrics.get("coordinator_records_received_total"))
    # A proxy hop or two stays within the limits: 7 frames of 255 bytes.
    hops = [b"h" * 255] * 6
    socket.send_multipart(hops + [batch_message("hops", 43, records(2, 1))])
    frames = reply_of(socket)
    checker.check("6 extra envelope frames of 255 bytes: acked and echoed",
                  frames is not None and frames[:-1] == hops
                  and decode(frames[-1]).get("type") == "ack", frames)
    socket.close(0)


def scenario_req(coordinator, context):
    socket = context.socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(coordinator.ingest_endpoint)
    socket.send(batch_message("req-client", 7, records(10, 1)))
    frames = reply_of(socket)
    checker.check("a REQ client (empty delimiter) gets its ack",
                  frames is not None and len(frames) == 1
                  and decode(frames[0]).get("type") == "ack"
                  and decode(frames[0]).get("batch_seq") == 7, frames)
    socket.close(0)


def scenario_memory(coordinator, context):
    pid = coordinator.process.pid
    before = sec.rss_mb(pid)
    # A peer that never reads its replies, for real: a hand-spoken DEALER
    # with a small receive buffer (a libzmq one would read them into its
    # own queue).
    silent = sec.zmtp_peer(coordinator.ingest_port, "DEALER",
                           receive_buffer=4096)
    big = b"z" * FRAME_BYTES
    already = refused(coordinator, "envelope_bytes")
    peak = before
    for seq in range(ATTACK_MESSAGES):
        sec.zmtp_send(silent, [big] * ATTACK_FRAMES
                      + [batch_message("silent", 100 + seq,
                                       records(20 + seq, 1))])
        peak = max(peak, sec.rss_mb(pid))
    done = sec.wait_until(
        lambda: refused(coordinator, "envelope_bytes")
        >= already + ATTACK_MESSAGES, 60, interval=0.05)
    checker.check("8 attack messages from a peer that never reads: all "
                  "refused", done)
    after = sec.rss_mb(pid)
    peak = max(peak, after)
    checker.check("RSS grew by less than %d MB (%.0f -> %.0f MB, peak seen "
                  "%.0f)" % (RSS_GROWTH_BOUND_MB, before, after, peak),
                  after - before < RSS_GROWTH_BOUND_MB)
    producer = dealer(context, coordinator.ingest_endpoint)
    producer.send(batch_message("after", 1, records(50, 3)))
    frames = reply_of(producer)
    checker.check("the service keeps answering: a normal batch is acked",
                  frames is not None
                  and decode(frames[-1]).get("type") == "ack", frames)
    checker.check("/health answers 200", coordinator.health())
    silent.close()
    producer.close(0)


def main():
    context = zmq.Context()
    with Coordinator(COORDINATOR) as coordinator:
        coordinator.start()
        scenario_refusals(coordinator, context)
        scenario_req(coordinator, context)
        scenario_memory(coordinator, context)
        checker.check("SIGTERM: exit 0", coordinator.stop() == 0)
    context.term()
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
