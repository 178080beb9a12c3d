"""Conflation of a throttled push feed, and the push options' validation
(issue 16).

A push provider with MDP_PROVIDER_LIVE_CONFLATE=quote and a slow bucket
(the real mds-coordinator on SQLite behind it) gets a burst of quotes for a
few symbols mixed with trades and bars, written as fast as the client can.
Once idle: every trade and bar is stored exactly once (never conflated);
the quotes stored plus those counted as conflated
(pipeline_conflated_total{kind="quote"}) are exactly the quotes sent; some
were conflated; the latest quote of every symbol is stored. Then bad push
options stop start-up with exit 2 naming the variable.

usage: test_push_conflate.py MDP_PIPELINE MDS_COORDINATOR
"""
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile

from pl_support import Pipeline, check, free_port, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402

LINES = 6000
SYMBOLS = 8
BASE_TS = 1_700_000_000_000_000_000


def kind_of(index):
    return "trade" if index % 5 == 0 else "bar" if index % 7 == 0 else "quote"


def line(index):
    symbol = "Q%d" % (index % SYMBOLS)
    ts = BASE_TS + index
    kind = kind_of(index)
    if kind == "trade":
        return "trade,x,%s,%d,10.5,1\n" % (symbol, ts)
    if kind == "bar":
        return "bar,x,%s,%d,1,2,0.5,1.5,100\n" % (symbol, ts)
    return "quote,x,%s,%d,%d.5,10,100.5,20\n" % (symbol, ts, index % 90)


def rows(db, table):
    try:
        with sqlite3.connect(db, timeout=10) as connection:
            return connection.execute(
                "SELECT symbol, ts_ns FROM %s" % table).fetchall()
    except sqlite3.OperationalError:
        return []


def check_rejected(binary, variable, value, extra=None):
    env = dict(os.environ)
    env.update({"MDP_PROVIDERS": "live", "MDP_METRICS_ENABLE": "false",
                "MDP_PROVIDER_LIVE_SOURCE": "push:%d" % free_port(),
                "MDP_PROVIDER_LIVE_SPOOL_DIR": tempfile.mkdtemp()})
    env.update(extra or {})
    env[variable] = value
    out = subprocess.run([binary], env=env, capture_output=True, text=True,
                         timeout=20)
    check(out.returncode == 2, "%s=%s exits 2, got %d"
          % (variable, value, out.returncode))
    check(variable in out.stderr, "the message names %s: %s"
          % (variable, out.stderr.strip()[-300:]))


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    push_port = free_port()
    with Coordinator(coordinator_binary) as coordinator:
        coordinator.start()
        env = {
            "MDP_PROVIDERS": "live",
            "MDP_PROVIDER_LIVE_SOURCE": "push:%d" % push_port,
            "MDP_PROVIDER_LIVE_SPOOL_DIR": tempfile.mkdtemp(prefix="mdp-cf-"),
            "MDP_PROVIDER_LIVE_CONFLATE": "quote",
            "MDP_RATE_LIVE_REFILL_RATE": 1500,
            "MDP_RATE_LIVE_CAPACITY": 50,
            "MDP_STORE_ENDPOINTS": coordinator.ingest_endpoint,
            "MDP_FEEDBACK_ENDPOINTS": coordinator.feedback_endpoint,
        }
        with Pipeline(pipeline_binary, **env) as pipeline:
            pipeline.start()
            with socket.create_connection(("127.0.0.1", push_port),
                                          timeout=10) as sock:
                sock.sendall("".join(line(k) for k in range(LINES)).encode())
            sent = [kind_of(k) for k in range(LINES)]
            trades, bars = sent.count("trade"), sent.count("bar")
            quotes = sent.count("quote")
            db = coordinator.db_path
            wait_for(lambda: len(rows(db, "trades")) == trades and
                     len(rows(db, "bars")) == bars, 30,
                     "every trade and bar stored")
            key = 'pipeline_conflated_total{provider="live",kind="quote"}'

            def settled():
                metrics = pipeline.metrics()
                waiting = metrics.get(
                    'pipeline_spool_conflated_waiting{provider="live"}', 1)
                return waiting == 0 and metrics.get(
                    'pipeline_spool_records{provider="live"}', 1) == 0 and \
                    len(rows(db, "quotes")) + metrics.get(key, 0) == quotes
            wait_for(settled, 30, "quotes stored + conflated == quotes sent")
            conflated = pipeline.metric(key)
            stored_quotes = rows(db, "quotes")
            print("quotes: sent %d, stored %d, conflated %d"
                  % (quotes, len(stored_quotes), conflated))
            check(conflated > 0, "some quotes were conflated")
            check(len(rows(db, "trades")) == trades, "trades exactly once")
            check(len(rows(db, "bars")) == bars, "bars exactly once")
            stored_set = set(stored_quotes)
            for symbol in range(SYMBOLS):
                latest = max(k for k in range(LINES)
                             if kind_of(k) == "quote" and k % SYMBOLS == symbol)
                check(("Q%d" % symbol, BASE_TS + latest) in stored_set,
                      "the latest quote of Q%d is stored" % symbol)
            check(pipeline.stop() == 0, "SIGTERM exits 0")

    check_rejected(pipeline_binary, "MDP_PROVIDER_LIVE_SPOOL_FULL", "sometimes")
    check_rejected(pipeline_binary, "MDP_PROVIDER_LIVE_SPOOL_FSYNC", "always")
    check_rejected(pipeline_binary, "MDP_PROVIDER_LIVE_CONFLATE", "trade")
    check_rejected(pipeline_binary, "MDP_PROVIDER_LIVE_SOURCE",
                   "push:localhost:7000")
    check_rejected(pipeline_binary, "MDP_PROVIDER_LIVE_SPOOL_MAX_BYTES", "10")
    print("ok: conflation counted, trades and bars whole, bad options exit 2")


if __name__ == "__main__":
    main()
