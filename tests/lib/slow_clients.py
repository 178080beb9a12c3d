"""A slow-client flood (slowloris) on 127.0.0.1 for the HTTP tests and
bench/run (stdlib only).

SlowClients(port, count) keeps `count` connections open that send a request
line and then one header byte every `interval` seconds without ever ending
the headers; one the server closes (its request timeout) is reopened at
once, so the flood holds as many worker threads as it can. probe() times
one GET on a fresh connection meanwhile."""
import select
import socket
import threading
import time

REQUEST_START = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class SlowClients:
    def __init__(self, port, count, interval=0.2):
        self.port = port
        self.count = count
        self.interval = interval
        self.sockets = []
        self.reopened = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2.0)
        try:
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(REQUEST_START)
        except OSError:
            sock.close()
            return None
        sock.setblocking(False)
        return sock

    def start(self):
        while len(self.sockets) < self.count:
            sock = self._open()
            if sock is not None:
                self.sockets.append(sock)
        self.thread.start()
        return self

    def _run(self):
        while not self.stopping.is_set():
            # A readable socket was answered (408) or closed: reopen it.
            readable, _, _ = select.select(self.sockets, [], [], self.interval)
            for sock in readable:
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if data:
                    continue  # an error page; the close follows
                self.sockets.remove(sock)
                sock.close()
                fresh = self._open()
                if fresh is not None:
                    self.sockets.append(fresh)
                    self.reopened += 1
            for sock in list(self.sockets):
                try:
                    sock.send(b"a")
                except OSError:
                    pass  # closed: select reports it next round
            while len(self.sockets) < self.count and not self.stopping.is_set():
                fresh = self._open()
                if fresh is None:
                    break
                self.sockets.append(fresh)

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()
        self.sockets = []


def probe(port, path="/health", timeout=10.0):
    """(status or None, seconds) of one GET on a new connection."""
    started = time.monotonic()
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
               "\r\n\r\n" % path).encode()
    status = None
    try:
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=timeout) as sock:
            sock.settimeout(max(0.1, timeout - (time.monotonic() - started)))
            sock.sendall(request)
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            parts = data.split(b" ", 2)
            if len(parts) >= 2 and parts[1].isdigit():
                status = int(parts[1])
    except OSError:
        status = None
    return status, time.monotonic() - started
