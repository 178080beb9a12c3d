#!/usr/bin/python3
"""CURVE on both channels of a live mds-coordinator (MDS_CURVE_SECRET_KEY_FILE,
MDS_CURVE_CLIENTS_DIR), with key pairs made by `mds-coordinator keygen`.

Feedback (XPUB): an allowed subscriber (pyzmq and mds-feedback-tail) gets
events; one with an unknown key and a plaintext one get nothing. Ingest
(ROUTER): an allowed producer's batches are acked and written; an unknown
key's and a plaintext producer's batches are never answered nor written.
Each refusal is logged (`curve: denied`) and counted in
mds_curve_denied_total{socket,reason}. Finally mdp-pipeline with
MDP_CURVE_* keys writes records through the ingest channel and hears the
feedback channel.
Usage: test_curve_live.py mds-coordinator mds-feedback-tail mdp-pipeline"""
import os
import shutil
import subprocess
import sys
import tempfile

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pipeline"))
import sec_support as sec  # noqa: E402
from harness import (Coordinator, batch_message, decode, records,  # noqa: E402
                     sqlite_count)
from pl_support import Pipeline  # noqa: E402

COORDINATOR, TAIL, PIPELINE = sys.argv[1:4]
DEADLINE_S = 20
checker = sec.Checker()


def keygen(path):
    result = subprocess.run([COORDINATOR, "keygen", path],
                            capture_output=True, text=True, timeout=30)
    checker.check("keygen %s" % os.path.basename(path),
                  result.returncode == 0 and os.path.exists(path)
                  and os.path.exists(path + "_secret")
                  and os.stat(path + "_secret").st_mode & 0o077 == 0,
                  result.stderr)


def denied(coordinator, socket, reason):
    code, body = coordinator.get("/metrics")
    return sec.metric(body, "mds_curve_denied_total", socket=socket,
                      reason=reason) if code == 200 else 0.0


def sub(context, endpoint, client=None, server=None):
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    if client:
        sec.curve_client(sock, client, server)
    sock.setsockopt(zmq.SUBSCRIBE, b"mds.fb/")
    sock.connect(endpoint)
    return sock


def dealer(context, endpoint, client=None, server=None):
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDTIMEO, 0)
    if client:
        sec.curve_client(sock, client, server)
    sock.connect(endpoint)
    return sock


def drain(sock):
    """Messages waiting on `sock` now (never blocks)."""
    got = []
    while sock.poll(0):
        got.append(sock.recv_multipart())
    return got


def scenario_feedback(coordinator, context, keys):
    endpoint = coordinator.feedback_endpoint
    allowed = sub(context, endpoint, keys["allowed"], keys["server"])
    unknown = sub(context, endpoint, keys["unknown"], keys["server"])
    plain = sub(context, endpoint)
    refused = sec.wait_until(
        lambda: denied(coordinator, "feedback", "unknown_key") >= 1
        and denied(coordinator, "feedback", "handshake") >= 1, DEADLINE_S)
    checker.check("feedback: unknown key and plaintext refused, counted",
                  refused, coordinator.read_log()[-2000:])
    heard = []
    sec.wait_until(lambda: heard.extend(drain(allowed)) or len(heard) >= 3,
                   DEADLINE_S)
    checker.check("feedback: the allowed subscriber hears events",
                  len(heard) >= 3 and heard[0][0].startswith(b"mds.fb/"),
                  heard[:1])
    checker.check("feedback: unknown key received nothing",
                  drain(unknown) == [])
    checker.check("feedback: plaintext received nothing", drain(plain) == [])
    for sock in (allowed, unknown, plain):
        sock.close()

    tail = subprocess.run(
        [TAIL, "--endpoint", endpoint, "--count", "2", "--timeout",
         str(DEADLINE_S), "--curve-secret-key-file",
         keys["allowed"] + "_secret", "--curve-server-key-file",
         keys["server"]], capture_output=True, text=True,
        timeout=DEADLINE_S + 10)
    checker.check("mds-feedback-tail with keys: two events, exit 0",
                  tail.returncode == 0 and len(tail.stdout.splitlines()) == 2,
                  "%s %s %s" % (tail.returncode, tail.stdout, tail.stderr))
    before = denied(coordinator, "feedback", "handshake")
    # Heartbeats every 100 ms: 1.5 s without one means refused, not idle.
    tail = subprocess.run([TAIL, "--endpoint", endpoint, "--count", "1",
                           "--timeout", "1.5"], capture_output=True,
                          text=True, timeout=DEADLINE_S)
    checker.check("mds-feedback-tail plaintext: nothing, exit 1",
                  tail.returncode == 1 and tail.stdout == "",
                  "%s %s %s" % (tail.returncode, tail.stdout, tail.stderr))
    checker.check("mds-feedback-tail plaintext: refusal counted",
                  sec.wait_until(lambda: denied(coordinator, "feedback",
                                                "handshake") > before,
                                 DEADLINE_S))
    bad = subprocess.run([TAIL, "--curve-secret-key-file", keys["server"],
                          "--count", "1"], capture_output=True, text=True,
                         timeout=DEADLINE_S)
    checker.check("mds-feedback-tail: one key file only is a usage error",
                  bad.returncode == 2 and "curve" in bad.stderr, bad.stderr)


def scenario_ingest(coordinator, context, keys):
    endpoint = coordinator.ingest_endpoint
    allowed = dealer(context, endpoint, keys["allowed"], keys["server"])
    unknown = dealer(context, endpoint, keys["unknown"], keys["server"])
    plain = dealer(context, endpoint)
    for index, sock in enumerate((unknown, plain)):
        try:
            sock.send(batch_message("intruder-%d" % index, 1,
                                    records(10_000 + index * 100, 10)))
        except zmq.Again:
            pass  # nothing connected: the message cannot even be queued
    refused = sec.wait_until(
        lambda: denied(coordinator, "ingest", "unknown_key") >= 1
        and denied(coordinator, "ingest", "handshake") >= 1, DEADLINE_S)
    checker.check("ingest: unknown key and plaintext refused, counted",
                  refused, coordinator.read_log()[-2000:])
    allowed.send(batch_message("allowed", 1, records(0, 10)))
    replies = []
    sec.wait_until(lambda: replies.extend(drain(allowed)) or replies,
                   DEADLINE_S)
    reply = decode(replies[0][-1]) if replies else {}
    checker.check("ingest: the allowed producer's batch is acked",
                  reply.get("type") == "ack" and reply.get("batch_seq") == 1,
                  reply)
    checker.check("ingest: only the allowed records were written",
                  sqlite_count(coordinator.db_path) == 10,
                  sqlite_count(coordinator.db_path))
    checker.check("ingest: unknown key got no reply", drain(unknown) == [])
    checker.check("ingest: plaintext got no reply", drain(plain) == [])
    for sock in (allowed, unknown, plain):
        sock.close()
    log = coordinator.read_log()
    checker.check("denials logged on both sockets",
                  "curve: denied socket=feedback" in log
                  and "curve: denied socket=ingest" in log, log[-2000:])


def scenario_pipeline(coordinator, keys):
    before = sqlite_count(coordinator.db_path)
    with Pipeline(PIPELINE, MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                  MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                  MDP_PROVIDER_SYNTHETIC_LIMIT=200,
                  MDP_RATE_SYNTHETIC_CAPACITY=1000,
                  MDP_RATE_SYNTHETIC_REFILL_RATE=1000,
                  MDP_CURVE_SECRET_KEY_FILE=keys["allowed"] + "_secret",
                  MDP_CURVE_SERVER_KEY_FILE=keys["server"]) as pipeline:
        pipeline.start()
        written = sec.wait_until(
            lambda: sqlite_count(coordinator.db_path) >= before + 200,
            DEADLINE_S)
        checker.check("mdp-pipeline with keys: its records are written",
                      written, pipeline.read_log()[-2000:])
        heard = sec.wait_until(
            lambda: coordinator.coordinator_id in pipeline.get("/status")[1],
            DEADLINE_S)
        checker.check("mdp-pipeline with keys: hears the coordinator", heard,
                      pipeline.get("/status"))
        pipeline.stop()
    bad = Pipeline(PIPELINE, MDP_CURVE_SECRET_KEY_FILE=keys["server"])
    result = subprocess.run([PIPELINE], env=dict(os.environ, **bad.env),
                            capture_output=True, text=True, timeout=30)
    checker.check("mdp-pipeline: one key file only is a usage error",
                  result.returncode == 2
                  and "curve-server-key-file" in result.stderr,
                  result.stderr)


def main():
    workdir = tempfile.mkdtemp(prefix="mds-curve-")
    keys = {name: os.path.join(workdir, name)
            for name in ("server", "allowed", "unknown")}
    for path in keys.values():
        keygen(path)
    clients = os.path.join(workdir, "clients")
    os.mkdir(clients)
    shutil.copy(keys["allowed"], clients)  # the public certificate only
    context = zmq.Context()
    with Coordinator(COORDINATOR, MDS_HEARTBEAT_MS=100,
                     MDS_CURVE_SECRET_KEY_FILE=keys["server"] + "_secret",
                     MDS_CURVE_CLIENTS_DIR=clients) as coordinator:
        coordinator.start(ready=True)
        scenario_feedback(coordinator, context, keys)
        scenario_ingest(coordinator, context, keys)
        scenario_pipeline(coordinator, keys)
        coordinator.stop()
    # Half a configuration is refused at start-up.
    lonely = Coordinator(COORDINATOR,
                         MDS_CURVE_SECRET_KEY_FILE=keys["server"] + "_secret")
    result = subprocess.run([COORDINATOR], env=dict(os.environ, **lonely.env),
                            capture_output=True, text=True, timeout=30)
    checker.check("mds-coordinator: secret key without allow-list exits 2",
                  result.returncode == 2
                  and "curve-clients-dir" in result.stderr, result.stderr)
    context.term()
    shutil.rmtree(workdir, ignore_errors=True)
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
