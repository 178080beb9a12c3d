#!/usr/bin/python3
"""Slow HTTP clients (slowloris) against both services (issue 12, item 3).

Before the fix civetweb had 4 worker threads and a 5 s request timeout: 4
slow clients delayed /health by up to 5 s and 16 made probes time out. Now
each service has 128 workers (MDS_HTTP_THREADS / MDP_HTTP_THREADS) and a
2 s request timeout: with 64 slow connections open (each reopened as soon
as the server cuts it off), every /health probe is answered 200. The wait
per probe is bounded and generous (this is not a timing test:
bench/run prints the latency figure); a third scenario shows the request
timeout cutting a slow client off. Usage: test_slow_clients.py
mds-coordinator mdp-pipeline"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pipeline"))
import sec_support as sec  # noqa: E402
from harness import Coordinator, free_port  # noqa: E402
from pl_support import Pipeline  # noqa: E402
from slow_clients import SlowClients, probe  # noqa: E402

COORDINATOR, PIPELINE = sys.argv[1:3]
SLOW_CLIENTS = 64
PROBES = 10
PROBE_TIMEOUT_S = 3.0   # generous: a kubelet's probe timeout (deploy/)
checker = sec.Checker()


def flood_and_probe(name, port):
    flood = SlowClients(port, SLOW_CLIENTS).start()
    try:
        results = [probe(port, timeout=PROBE_TIMEOUT_S) for _ in range(PROBES)]
    finally:
        flood.stop()
    answered = sum(1 for status, _ in results if status == 200)
    checker.check("%s: %d slow clients open, %d/%d /health probes answered "
                  "200 (slowest %.0f ms)"
                  % (name, SLOW_CLIENTS, answered, PROBES,
                     max(seconds for _, seconds in results) * 1000),
                  answered == PROBES, results)
    checker.check("%s: /health answers after the flood" % name,
                  probe(port)[0] == 200)


def scenario_request_timeout(coordinator):
    """One slow client is cut off after its request timeout (the server
    closes it: SlowClients counts a reopen)."""
    flood = SlowClients(coordinator.http_port, 1).start()
    try:
        cut = sec.wait_until(lambda: flood.reopened >= 1, 15, interval=0.05)
    finally:
        flood.stop()
    checker.check("coordinator: a slow client is cut off by the request "
                  "timeout", cut)


def main():
    with Coordinator(COORDINATOR) as coordinator:
        coordinator.start()
        flood_and_probe("coordinator", coordinator.http_port)
        scenario_request_timeout(coordinator)
        checker.check("coordinator: SIGTERM exit 0", coordinator.stop() == 0)
    store = "tcp://127.0.0.1:%d" % free_port()
    with Pipeline(PIPELINE, MDP_STORE_ENDPOINTS=store,
                  MDP_FB_ENABLE_FEEDBACK="false") as pipeline:
        pipeline.start()
        flood_and_probe("pipeline", pipeline.http_port)
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
