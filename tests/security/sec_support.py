"""Helpers of the security tests (stdlib + pyzmq + msgpack, run with
/usr/bin/python3): a webhook receiver that a test can hang on a lock it
holds, czmq certificate files read into pyzmq CURVE keys, raw HTTP
exchanges, and the checker every test prints its lines with."""
import os
import re
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import harness  # noqa: E402,F401
from checker import Checker, wait_until  # noqa: E402,F401


class Receiver:
    """A webhook receiver on 127.0.0.1. While the test holds `gate`, every
    request hangs after it arrived (counted in `entered`) and before its
    body is recorded."""

    def __init__(self, port=0):
        receiver = self
        self.gate = threading.Lock()
        self.lock = threading.Lock()
        self.bodies = []
        self.entered = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                with receiver.lock:
                    receiver.entered += 1
                with receiver.gate:
                    pass
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.bodies.append(body)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up (timeout): at least once

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def count_entered(self):
        with self.lock:
            return self.entered

    def received(self):
        with self.lock:
            return list(self.bodies)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def reserve_port():
    """A socket bound to a free port but not listening: connecting to it is
    refused until it is closed and a server takes the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def read_certificate(path):
    """(public, secret) Z85 keys of a czmq certificate file (secret None for
    a public certificate)."""
    with open(path) as handle:
        text = handle.read()
    public = re.search(r'public-key\s*=\s*"([^"]{40})"', text)
    secret = re.search(r'secret-key\s*=\s*"([^"]{40})"', text)
    return (public.group(1).encode() if public else None,
            secret.group(1).encode() if secret else None)


def curve_client(sock, client_cert, server_cert):
    """Makes a pyzmq socket a CURVE client (before connect)."""
    public, secret = read_certificate(client_cert + "_secret")
    server_public, _ = read_certificate(server_cert)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = server_public


def http_exchange(port, request, timeout=10.0):
    """Sends raw bytes and reads until the server closes or `timeout`.
    Returns (status or None, everything read)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(request)
        except OSError:
            pass  # the server may refuse early and close
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    data = b"".join(chunks)
    match = re.match(rb"HTTP/1\.\d (\d{3})", data)
    return (int(match.group(1)) if match else None), data


def metric(text, name, **labels):
    """The value of one series in a Prometheus text, 0.0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        series = key.split("{", 1)
        if series[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', series[1])) \
            if len(series) > 1 else {}
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


def rss_mb(pid):
    """VmRSS of a process in MB (0.0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def zmtp_peer(port, socket_type, receive_buffer=None):
    """A ZeroMQ peer spoken by hand (ZMTP 3.0, NULL mechanism) on a plain TCP
    socket: it sends what a test wants and reads only when the test does, so
    it can stop reading for real (a libzmq peer keeps reading into its own
    queue) or send a subscription that libzmq's own SUB would keep in its
    trie. Returns the connected socket; send frames with zmtp_send()."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    greeting = (b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00"
                + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)
    name = socket_type.encode()
    properties = (bytes([len(b"Socket-Type")]) + b"Socket-Type"
                  + struct.pack(">I", len(name)) + name)
    ready = bytes([5]) + b"READY" + properties
    sock.sendall(greeting + bytes([0x04, len(ready)]) + ready)
    return sock


def zmtp_send(sock, frames):
    """Sends one multipart message (long frames). False when the peer hung
    up first."""
    try:
        for index, frame in enumerate(frames):
            more = 0x01 if index + 1 < len(frames) else 0x00
            sock.sendall(bytes([0x02 | more]) + struct.pack(">Q", len(frame))
                         + frame)
        return True
    except OSError:
        return False
