"""scripts/run-stack, as a user runs it (issue 15, item 4).

usage: test_run_stack.py RUN_STACK BUILD_DIR [--postgres]

Runs the real script with its ports moved by variables (chosen now, on
127.0.0.1), a temp data directory and the given meson build directory:

- the banner comes once both services answer /ready, and says what is
  really configured (the ports, the SQLite path, or the PostgreSQL URL
  without its password);
- every socket the coordinator, the pipeline and Prometheus listen on is
  bound to 127.0.0.1 (read from /proc/net/tcp through their descriptors);
- with --prometheus, the local Prometheus scrapes both services (targets
  up, job labels of deploy/prometheus) and has the shipped rules loaded;
- a second run-stack on the same data directory exits 1 at once naming the
  first one's pid;
- Ctrl-C (SIGINT to the script's process group, as a terminal sends it)
  stops everything and exits 0; the ports are free again.

With --postgres (run under tests/lib/with_postgres.sh) the sink is the
throwaway server's URL given a password, which the banner must not show.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import check, free_port, http_get, tail_file, wait_for  # noqa: E402

START_TIMEOUT_S = 240   # install-deps' check and a no-op ninja included
STOP_TIMEOUT_S = 90
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 in /proc/net/tcp
LISTEN_STATE = "0A"
PASSWORD = "not-to-be-shown"


def listening_sockets(pids):
    """[(address hex, port)] of the TCP sockets the processes listen on."""
    inodes = set()
    for pid in pids:
        fd_dir = "/proc/%d/fd" % pid
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            match = re.match(r"socket:\[(\d+)\]", target)
            if match:
                inodes.add(match.group(1))
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                address, port = fields[1].split(":")
                if fields[3] == LISTEN_STATE and fields[9] in inodes:
                    found.append((address, int(port, 16)))
    return found


def listening_ports():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                if fields[3] == LISTEN_STATE:
                    ports.add(int(fields[1].split(":")[1], 16))
    return ports


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read().decode())


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    run_stack = os.path.abspath(sys.argv[1])
    build_dir = os.path.abspath(sys.argv[2])
    postgres = "--postgres" in sys.argv[3:]
    data = tempfile.mkdtemp(prefix="run-stack-test-")
    log_path = os.path.join(data, "run-stack.out")
    ports = {name: free_port() for name in
             ("http", "ingest", "feedback", "pipeline", "prometheus")}
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("MDS_", "MDP_"))]:
        if key != "MDS_TEST_PG_URI":
            del env[key]
    env.update({
        "RUN_STACK_DATA_DIR": data,
        "RUN_STACK_BUILD_DIR": build_dir,
        "RUN_STACK_PROMETHEUS_PORT": str(ports["prometheus"]),
        "MDS_HTTP_PORT": str(ports["http"]),
        "MDS_INGEST_ENDPOINT": "tcp://127.0.0.1:%d" % ports["ingest"],
        "MDS_FEEDBACK_ENDPOINT": "tcp://127.0.0.1:%d" % ports["feedback"],
        "MDP_METRICS_STANDALONE_PORT": str(ports["pipeline"]),
    })
    args = [run_stack]
    if postgres:
        uri = os.environ.get("MDS_TEST_PG_URI")
        check(uri, "MDS_TEST_PG_URI is not set (run under with_postgres.sh)")
        # Trust authentication ignores it; the banner must hide it anyway.
        url = uri.replace("postgres@", "postgres:%s@" % PASSWORD, 1)
        args += ["--postgres", url]
        expected_sink = "PostgreSQL " + url.replace(PASSWORD, "***")
    else:
        args += ["--prometheus"]
        expected_sink = "SQLite %s/market.db" % os.path.realpath(data)

    log = open(log_path, "wb")
    first = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def banner():
            check(first.poll() is None, "run-stack exited with %s:\n%s"
                  % (first.returncode, tail_file(log_path, 6000)))
            text = tail_file(log_path, 200000)
            return "run-stack: running" in text and "  data " in text and text
        text = wait_for(banner, START_TIMEOUT_S, "the run-stack banner", 0.2)
        check("run-stack: running (Ctrl-C to stop)" in text,
              "the banner says not ready:\n%s" % text[-3000:])
        # The banner only once both answer /ready.
        check(http_get(ports["http"], "/ready")[0] == 200, "coordinator /ready")
        check(http_get(ports["pipeline"], "/ready")[0] == 200, "pipeline /ready")
        for needle in ("http://127.0.0.1:%d/" % ports["http"],
                       "http://127.0.0.1:%d/" % ports["pipeline"],
                       "ingest tcp://127.0.0.1:%d" % ports["ingest"],
                       "feedback tcp://127.0.0.1:%d" % ports["feedback"],
                       "  sink         " + expected_sink):
            check(needle in text, "banner lacks %r:\n%s" % (needle, text[-3000:]))
        check(PASSWORD not in text, "the password is in the output")
        pids = [int(pid) for pid in re.findall(r"\(pid (\d+)", text)]
        check(len(pids) == (2 if postgres else 3), "pids in banner %r" % pids)

        # Loopback only, for every listening socket of every process.
        sockets = listening_sockets(pids)
        wanted = set(ports.values()) - ({ports["prometheus"]} if postgres
                                        else set())
        check(wanted <= {port for _, port in sockets},
              "listening %r, expected ports %r" % (sockets, sorted(wanted)))
        check(all(address == LOOPBACK_HEX for address, _ in sockets),
              "a socket is not on 127.0.0.1: %r" % sockets)

        if postgres:
            def written():
                code, body = http_get(ports["http"], "/metrics")
                match = re.search(r"^coordinator_records_written_total\{[^}]*\} "
                                  r"(\d+)", body, re.M)
                return code == 200 and match and int(match.group(1)) > 0
            wait_for(written, 60, "records written to PostgreSQL", 0.2)
        else:
            base = "http://127.0.0.1:%d" % ports["prometheus"]
            check("  prometheus   %s/" % base in text, "no Prometheus URL")

            def scraped():
                targets = get_json(base + "/api/v1/targets")["data"]
                up = {t["labels"]["job"]: t["health"]
                      for t in targets["activeTargets"]}
                return (up.get("mds-coordinator") == "up" and
                        up.get("mdp-pipeline") == "up") and targets
            targets = wait_for(scraped, 90, "Prometheus scraping both", 0.5)
            labels = [t["labels"] for t in targets["activeTargets"]
                      if t["labels"]["job"] == "mds-coordinator"][0]
            check(labels.get("namespace") == "market-data" and
                  labels.get("sink") == "sqlite", "labels %r" % labels)
            groups = get_json(base + "/api/v1/rules")["data"]["groups"]
            check(groups and any(g["rules"] for g in groups),
                  "the shipped rules are not loaded: %r" % groups)

        # A second run-stack on the same data directory is refused.
        second = subprocess.run([run_stack], env=env, capture_output=True,
                                text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
        check(second.returncode == 1, "second run-stack exited %d"
              % second.returncode)
        check("another run-stack (pid %d)" % first.pid in second.stderr,
              "second run-stack said %r" % second.stderr)
        check(first.poll() is None, "the first run-stack stopped")

        # Ctrl-C: the terminal signals the foreground process group.
        os.killpg(first.pid, signal.SIGINT)
        code = first.wait(timeout=STOP_TIMEOUT_S)
        output = tail_file(log_path, 6000)
        check(code == 0, "run-stack exited %d after Ctrl-C:\n%s"
              % (code, output))
        check("run-stack: stopped" in output, "no 'stopped':\n%s" % output)

        def gone():
            for pid in pids:
                try:
                    os.kill(pid, 0)
                    return False
                except ProcessLookupError:
                    pass
            return True
        wait_for(gone, 30, "the services to exit")
        check(not (wanted & listening_ports()), "ports still listening")
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGTERM)
            first.wait(timeout=STOP_TIMEOUT_S)
        log.close()
    print("run-stack%s: banner after /ready, loopback only, second instance "
          "refused, Ctrl-C exits 0" % (" --postgres" if postgres
                                       else " --prometheus"))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print("FAIL: %s" % error)
        sys.exit(1)
