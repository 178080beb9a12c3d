#!/usr/bin/python3
"""CURVE refusals and the allow-list directory on the real mds-coordinator
(issue 12, item 9, CURVE parts).

Before the fix every refused handshake was one log line (2,000 lines in
3 s), and czmq's certificate loader printed a line of any file in the
allow-list directory that was not a certificate (a symlink to /etc/passwd
leaked a line of it). Now: every refusal is counted in
mds_curve_denied_total but logged at most once per socket per 10 s with a
`suppressed=` count; a symlink leaving the directory, a FIFO and a file
that is not a certificate are refused by name (client_file_refused), their
content never printed; a Kubernetes-style link inside the directory
(name -> ..data/name) and a plain certificate still admit their clients.
Usage: test_curve_limits.py mds-coordinator"""
import os
import shutil
import subprocess
import sys
import tempfile

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sec_support as sec  # noqa: E402
from harness import Coordinator, batch_message, decode, records  # noqa: E402

COORDINATOR = sys.argv[1]
REFUSALS = 200
SECRET_LINE = "this-line-must-never-reach-the-log-5d41402a"
DEADLINE_S = 20
checker = sec.Checker()


def keygen(path):
    subprocess.run([COORDINATOR, "keygen", path], check=True,
                   capture_output=True, timeout=30)


def acked(context, coordinator, client, server, seq):
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sec.curve_client(sock, client, server)
    sock.connect(coordinator.ingest_endpoint)
    sock.send(batch_message("curve-client", seq, records(seq * 10, 1)))
    reply = sock.recv() if sock.poll(DEADLINE_S * 1000) else None
    sock.close(0)
    return reply is not None and decode(reply).get("type") == "ack"


def denied_total(coordinator):
    code, body = coordinator.get("/metrics")
    if code != 200:
        return 0.0
    return sum(sec.metric(body, "mds_curve_denied_total", socket="ingest",
                          reason=reason)
               for reason in ("unknown_key", "handshake"))


def main():
    workdir = tempfile.mkdtemp(prefix="mds-curve-limits-")
    keys = {name: os.path.join(workdir, name)
            for name in ("server", "plain", "linked", "outside")}
    for path in keys.values():
        keygen(path)
    clients = os.path.join(workdir, "clients")
    data = os.path.join(clients, "..data")
    os.makedirs(data)
    shutil.copy(keys["plain"], clients)
    # A Kubernetes volume: name -> ..data/name, inside the directory.
    shutil.copy(keys["linked"], os.path.join(data, "linked"))
    os.symlink("..data/linked", os.path.join(clients, "linked"))
    # Refused: links leaving the directory, a FIFO, text that is no
    # certificate.
    os.symlink("/etc/passwd", os.path.join(clients, "passwd-link"))
    os.symlink(keys["outside"], os.path.join(clients, "outside-link"))
    os.mkfifo(os.path.join(clients, "a-fifo"))
    with open(os.path.join(clients, "notes.txt"), "w") as handle:
        handle.write(SECRET_LINE + "\n" + "curve\n    secret = 1\n")
    context = zmq.Context()
    with Coordinator(COORDINATOR,
                     MDS_CURVE_SECRET_KEY_FILE=keys["server"] + "_secret",
                     MDS_CURVE_CLIENTS_DIR=clients) as coordinator:
        coordinator.start()
        server = keys["server"]
        checker.check("a plain certificate admits its client",
                      acked(context, coordinator, keys["plain"],
                            server, 1))
        checker.check("a link inside the directory (..data) admits its "
                      "client", acked(context, coordinator,
                                      keys["linked"], server, 2))
        checker.check("a link to a certificate outside the directory does "
                      "not", not acked(context, coordinator,
                                       keys["outside"], server, 3))
        log = coordinator.read_log()
        with open("/etc/passwd") as handle:
            passwd_lines = [line.strip() for line in handle if line.strip()]
        checker.check("no line of /etc/passwd or of the text file in the log",
                      not any(line in log for line in passwd_lines)
                      and SECRET_LINE not in log, log[-1500:])
        for name in ("passwd-link", "outside-link", "a-fifo", "notes.txt"):
            checker.check("%s refused by name" % name,
                          'client_file_refused' in log
                          and 'file="%s"' % name in log, log[-1500:])

        # A flood of plaintext peers: all counted, hardly any logged.
        before = denied_total(coordinator)
        lines_before = coordinator.read_log().count(
            "curve: denied socket=ingest")
        port = int(coordinator.ingest_endpoint.rsplit(":", 1)[1])
        for _ in range(REFUSALS):
            sock = sec.zmtp_peer(port, "DEALER")
            try:
                sock.recv(1024)  # the server hangs up on a NULL peer
            except OSError:
                pass
            sock.close()
        counted = sec.wait_until(
            lambda: denied_total(coordinator) >= before + REFUSALS, DEADLINE_S)
        checker.check("%d plaintext peers: every one counted" % REFUSALS,
                      counted, denied_total(coordinator) - before)
        lines = coordinator.read_log().count("curve: denied socket=ingest")
        checker.check("... logged at most twice (one line per 10 s), with "
                      "a suppressed count", lines - lines_before <= 2
                      and "suppressed=" in coordinator.read_log(),
                      lines - lines_before)
        checker.check("the allowed client still gets acks",
                      acked(context, coordinator, keys["plain"],
                            server, 4))
        checker.check("SIGTERM: exit 0", coordinator.stop() == 0)
    context.term()
    shutil.rmtree(workdir, ignore_errors=True)
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
