#!/usr/bin/python3
"""HTTP hardening of both services (issue 5, item 5).

mdp-pipeline's only mutating endpoint, POST /admin/cooldown, is 404 while
MDP_ADMIN_TOKEN is unset; with a token, no or a wrong bearer token answers
401 and changes nothing (no cooldown in /status), the right one is accepted
(so the "nothing changed" check can see a change). On both services an
oversized body (413), oversized headers, garbage bytes and a request that
never completes are refused or cut off, and the service keeps serving.
Usage: test_http_hardening.py mds-coordinator mdp-pipeline"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pipeline"))
import sec_support as sec  # noqa: E402
from harness import Coordinator, free_port  # noqa: E402
from pl_support import Pipeline  # noqa: E402

COORDINATOR, PIPELINE = sys.argv[1:3]
DEADLINE_S = 20
TOKEN = "correct-horse-battery-staple"
MAX_BODY = 1024
REQUEST_TIMEOUT_MS = 500
checker = sec.Checker()


def post_cooldown(port, authorization=None, scope="global"):
    headers = "Authorization: %s\r\n" % authorization if authorization else ""
    request = ("POST /admin/cooldown?provider=synthetic&scope=%s&seconds=600 "
               "HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: 0\r\n"
               "Connection: close\r\n\r\n" % (scope, headers)).encode()
    return sec.http_exchange(port, request)[0]


def cooldowns(pipeline):
    code, body = pipeline.get("/status")
    if code != 200:
        return None
    providers = json.loads(body).get("providers", [])
    return [c for p in providers for c in p.get("cooldowns", [])]


def health(port):
    return sec.http_exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n"
                             b"Connection: close\r\n\r\n")[0]


def scenario_admin():
    store = "tcp://127.0.0.1:%d" % free_port()
    with Pipeline(PIPELINE, MDP_STORE_ENDPOINTS=store,
                  MDP_FB_ENABLE_FEEDBACK="false") as open_pipeline:
        open_pipeline.start()
        checker.check("no MDP_ADMIN_TOKEN: admin route is 404",
                      post_cooldown(open_pipeline.http_port,
                                    "Bearer " + TOKEN) == 404)
        open_pipeline.stop()
    with Pipeline(PIPELINE, MDP_STORE_ENDPOINTS=store,
                  MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_HTTP_MAX_REQUEST_BYTES=MAX_BODY,
                  MDP_HTTP_REQUEST_TIMEOUT_MS=REQUEST_TIMEOUT_MS,
                  MDP_ADMIN_TOKEN=TOKEN,
                  # Two symbols to name the refused and the accepted
                  # cooldowns with (a scope must name a real symbol).
                  MDP_PROVIDER_SYNTHETIC_SYMBOLS="AAPL,REFUSED,ACCEPTED"
                  ) as pipeline:
        pipeline.start()
        port = pipeline.http_port
        checker.check("status lists no cooldown at first",
                      sec.wait_until(lambda: cooldowns(pipeline) == [],
                                     DEADLINE_S), cooldowns(pipeline))
        # Refused requests name scope symbol:REFUSED; the accepted one,
        # sent after them on the same path, symbol:ACCEPTED. Once "accepted"
        # shows in /status, a refused request that had slipped through
        # would show too.
        checker.check("admin without a token: 401",
                      post_cooldown(port, None, "symbol:REFUSED") == 401)
        checker.check("admin with a wrong token: 401",
                      post_cooldown(port, "Bearer wrong-" + TOKEN,
                                    "symbol:REFUSED") == 401)
        checker.check("admin with a token prefix: 401",
                      post_cooldown(port, "Bearer " + TOKEN[:-1],
                                    "symbol:REFUSED") == 401)
        checker.check("admin with Basic auth: 401",
                      post_cooldown(port, "Basic " + TOKEN, "symbol:REFUSED") == 401)
        checker.check("admin with the token: accepted",
                      post_cooldown(port, "Bearer " + TOKEN, "symbol:ACCEPTED")
                      == 202)
        listed = sec.wait_until(
            lambda: [c for c in cooldowns(pipeline) or []
                     if "ACCEPTED" in json.dumps(c)], DEADLINE_S)
        checker.check("the accepted request is listed in /status", listed,
                      cooldowns(pipeline))
        checker.check("no refused request changed anything",
                      not [c for c in cooldowns(pipeline) or []
                           if "REFUSED" in json.dumps(c)],
                      cooldowns(pipeline))
        abuse(pipeline.http_port, "pipeline")
        pipeline.stop()


def abuse(port, name):
    """Oversized, garbage and incomplete requests; /health after each."""
    big = ("POST /admin/cooldown HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
           "\r\n" % (MAX_BODY * 64)).encode() + b"x" * (MAX_BODY * 64)
    status, _ = sec.http_exchange(port, big)
    checker.check("%s: oversized body refused (413)" % name, status == 413,
                  status)
    checker.check("%s: serving after the oversized body" % name,
                  health(port) == 200)

    chunked = (b"POST /admin/cooldown HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked\r\nAuthorization: Bearer " +
               TOKEN.encode() + b"\r\n\r\n" +
               (b"400\r\n" + b"y" * 0x400 + b"\r\n") * 64 + b"0\r\n\r\n")
    status, _ = sec.http_exchange(port, chunked)
    checker.check("%s: oversized chunked body refused" % name,
                  status in (404, 413), status)

    huge_header = (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: " +
                   b"h" * 200_000 + b"\r\n\r\n")
    status, _ = sec.http_exchange(port, huge_header)
    checker.check("%s: oversized headers refused" % name,
                  status is None or status >= 400, status)
    checker.check("%s: serving after oversized headers" % name,
                  health(port) == 200)

    for label, garbage in (("binary", bytes(range(256)) * 8),
                           ("bad request line", b"HELLO\r\n\r\n"),
                           ("bad version", b"GET /health HTTP/9.9\r\n\r\n"),
                           ("negative length",
                            b"POST /metrics HTTP/1.1\r\nContent-Length: -5"
                            b"\r\n\r\n")):
        status, _ = sec.http_exchange(port, garbage)
        checker.check("%s: garbage (%s) refused" % (name, label),
                      status is None or status >= 400, status)
    checker.check("%s: serving after garbage" % name, health(port) == 200)

    # A request that never completes is cut off by the request timeout.
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    try:
        closed = sock.recv(65536) is not None
    except (socket.timeout, OSError):
        closed = False
    sock.close()
    checker.check("%s: an incomplete request is cut off" % name,
                  closed and time.monotonic() - started < DEADLINE_S)
    checker.check("%s: serving after the incomplete request" % name,
                  health(port) == 200)
    # "/" is the embedded status page (issue 15); nothing else is a file.
    checker.check("%s: no file serving" % name,
                  all(sec.http_exchange(port, b"GET " + path + b" HTTP/1.1\r\n"
                                        b"Host: x\r\nConnection: close\r\n"
                                        b"\r\n")[0] == 404
                      for path in (b"/etc/passwd", b"/index.html",
                                   b"/page.js/../../etc/passwd",
                                   b"/common/page/status.html")))


def scenario_coordinator():
    with Coordinator(COORDINATOR, MDS_HTTP_MAX_REQUEST_BYTES=MAX_BODY,
                     MDS_HTTP_REQUEST_TIMEOUT_MS=REQUEST_TIMEOUT_MS) as coord:
        coord.start()
        abuse(coord.http_port, "coordinator")
        coord.stop()


def main():
    scenario_coordinator()
    scenario_admin()
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
