#!/usr/bin/python3
"""Subscription size on the feedback XPUB of the real mds-coordinator
(issue 12, item 2).

libzmq keeps ~48 bytes per byte of a subscription prefix: before the fix an
8 MiB subscription cost ~392 MB and removing it stalled the publisher past
the heartbeat TTL. Now the XPUB drops a peer whose subscription is over the
cap before storing it, and the publisher (ZMQ_XPUB_MANUAL) applies only
prefixes of its own topic, counting the rest in
coordinator_feedback_subscriptions_refused_total{reason}. Checked: an 8 MiB
subscription raises RSS by less than a bound while heartbeats keep reaching
a normal subscriber within their TTL; a 100-byte one is refused as
oversized, another coordinator's topic as other_topic; the longest valid
subscription (a 64-byte coordinator id, 73 bytes) still gets its snapshot.
Usage: test_feedback_limits.py mds-coordinator"""
import os
import sys
import threading
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sec_support as sec  # noqa: E402
from harness import Coordinator, Subscriber, decode  # noqa: E402

COORDINATOR = sys.argv[1]
HEARTBEAT_MS = 500
ATTACK_BYTES = 8 << 20
ATTACK_SECONDS = 3.0
RSS_GROWTH_BOUND_MB = 64    # generous: before the fix it was ~392 MB
checker = sec.Checker()


def refused(coordinator, reason):
    return coordinator.metrics().get(
        'coordinator_feedback_subscriptions_refused_total{coordinator_id="%s",'
        'reason="%s"}' % (coordinator.coordinator_id, reason), 0.0)


def attacker(port, stop):
    # By hand: libzmq's own SUB would keep the 8 MiB prefix in its trie
    # too (and crash freeing it, recursively).
    sock = sec.zmtp_peer(port, "SUB")
    sec.zmtp_send(sock, [b"\x01" + b"m" * ATTACK_BYTES])
    stop.wait(ATTACK_SECONDS)
    sock.close()  # leaving is what stalled the publisher before


def scenario_big_subscription(coordinator):
    pid = coordinator.process.pid
    subscriber = Subscriber(coordinator.feedback_endpoint,
                            coordinator.coordinator_id)
    first = subscriber.recv(5)
    checker.check("a normal subscriber receives events", first is not None)
    ttl_s = first[1]["ttl_ms"] / 1000.0 if first else 0.6
    before = sec.rss_mb(pid)
    stop = threading.Event()
    thread = threading.Thread(target=attacker,
                              args=(coordinator.feedback_port, stop))
    thread.start()
    last = time.monotonic()
    worst_gap = 0.0
    peak = before
    heartbeats = 0
    deadline = last + ATTACK_SECONDS + 2.0
    while time.monotonic() < deadline:
        got = subscriber.recv(ttl_s * 2)
        peak = max(peak, sec.rss_mb(pid))
        now = time.monotonic()
        worst_gap = max(worst_gap, now - last)
        if got is None:
            continue
        last = now
        heartbeats += got[1]["type"] == "heartbeat"
    stop.set()
    thread.join()
    checker.check("heartbeats kept flowing during the 8 MiB subscription "
                  "(%d, longest gap %.0f ms, TTL %.0f ms)"
                  % (heartbeats, worst_gap * 1000, ttl_s * 1000),
                  heartbeats >= 3 and worst_gap < ttl_s, worst_gap)
    checker.check("RSS grew by less than %d MB (%.0f -> peak %.0f MB)"
                  % (RSS_GROWTH_BOUND_MB, before, peak),
                  peak - before < RSS_GROWTH_BOUND_MB)
    subscriber.close()


def raw_subscription(coordinator, prefix):
    """An XSUB that sends one raw subscription message; returns it."""
    context = zmq.Context.instance()
    socket = context.socket(zmq.XSUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(coordinator.feedback_endpoint)
    socket.send(b"\x01" + prefix)
    return socket


def scenario_refused(coordinator):
    oversized = raw_subscription(coordinator, b"mds.fb/" + b"o" * 92)
    checker.check("a 100-byte subscription is refused as oversized",
                  sec.wait_until(lambda: refused(coordinator, "oversized")
                                 >= 1, 5))
    other = raw_subscription(coordinator, b"mds.fb/someone-else/")
    checker.check("another coordinator's topic is refused as other_topic",
                  sec.wait_until(lambda: refused(coordinator, "other_topic")
                                 >= 1, 5))
    oversized.close(0)
    other.close(0)


def scenario_longest_topic():
    long_id = ("t%d-" % os.getpid()).ljust(64, "x")
    with Coordinator(COORDINATOR, MDS_COORDINATOR_ID=long_id,
                     MDS_HEARTBEAT_MS=60000) as coordinator:
        coordinator.start()
        subscriber = Subscriber(coordinator.feedback_endpoint, long_id)
        got = subscriber.recv(5)
        checker.check("the longest valid subscription (73 bytes) gets its "
                      "snapshot", got is not None
                      and got[1]["type"] == "snapshot"
                      and got[1]["coordinator_id"] == long_id, got)
        subscriber.close()
        checker.check("SIGTERM: exit 0", coordinator.stop() == 0)


def main():
    with Coordinator(COORDINATOR, MDS_HEARTBEAT_MS=HEARTBEAT_MS) as coordinator:
        coordinator.start()
        scenario_big_subscription(coordinator)
        scenario_refused(coordinator)
        checker.check("/health answers 200", coordinator.health())
        checker.check("SIGTERM: exit 0", coordinator.stop() == 0)
    scenario_longest_topic()
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
