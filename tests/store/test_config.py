"""Bad configuration exits 2 with a message naming the variable or flag (a
bad number, a negative capacity, an unknown log level, crossed watermarks,
an unknown sink...); --help lists every option and exits 0."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import check  # noqa: E402

BAD = [
    ({"MDS_QUEUE_CAPACITY": "lots"}, [], "MDS_QUEUE_CAPACITY"),
    ({"MDS_QUEUE_CAPACITY": "-100"}, [], "MDS_QUEUE_CAPACITY"),
    ({"MDS_QUEUE_CAPACITY": "0"}, [], "MDS_QUEUE_CAPACITY"),
    ({}, ["--queue-capacity=-1"], "--queue-capacity"),
    ({"MDS_LOG_LEVEL": "loud"}, [], "MDS_LOG_LEVEL"),
    ({"MDS_LOG_FORMAT": "xml"}, [], "MDS_LOG_FORMAT"),
    ({"MDS_LOW_WATERMARK": "0.9"}, [], "MDS_LOW_WATERMARK"),
    ({"MDS_HIGH_WATERMARK": "1.5"}, [], "MDS_HIGH_WATERMARK"),
    ({"MDS_DEAD_BAND": "0.6"}, [], "MDS_DEAD_BAND"),
    ({"MDS_DWELL_MS": "-1"}, [], "MDS_DWELL_MS"),
    ({"MDS_WORKERS": "0"}, [], "MDS_WORKERS"),
    ({"MDS_BATCH_SIZE": "1e3"}, [], "MDS_BATCH_SIZE"),
    ({"MDS_HEARTBEAT_MS": "fast"}, [], "MDS_HEARTBEAT_MS"),
    ({"MDS_HTTP_PORT": "70000"}, [], "MDS_HTTP_PORT"),
    ({"MDS_BATCH_EAGER": "maybe"}, [], "MDS_BATCH_EAGER"),
    ({"MDS_SINK": "mysql://db"}, [], "MDS_SINK"),
    ({"MDS_COORDINATOR_ID": "a/b"}, [], "MDS_COORDINATOR_ID"),
    ({"MDS_RETRY_BASE_MS": "5000", "MDS_RETRY_MAX_MS": "100"}, [],
     "MDS_RETRY_BASE_MS"),
    ({}, ["--frobnicate"], "--frobnicate"),
    ({}, ["bogus"], "bogus"),
    ({}, ["dlq"], "dlq replay FILE"),
]


def run(binary, env, args, cwd):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("MDS_")}
    environment.update(env)
    return subprocess.run([binary] + args, env=environment, cwd=cwd,
                          capture_output=True, text=True, timeout=20)


def main(binary):
    binary = os.path.abspath(binary)
    with tempfile.TemporaryDirectory() as cwd:
        for env, args, name in BAD:
            result = run(binary, env, args, cwd)
            check(result.returncode == 2, "%s %s: exit %d (stderr %r)"
                  % (env, args, result.returncode, result.stderr))
            check(name in result.stderr, "%s %s: message does not name %s: %r"
                  % (env, args, name, result.stderr))
            print("exit 2: %s" % result.stderr.strip().splitlines()[-1])
        check(not os.path.exists(os.path.join(cwd, "data")),
              "a rejected configuration created ./data")
        result = run(binary, {}, ["--help"], cwd)
        check(result.returncode == 0, "--help exit %d" % result.returncode)
        for variable in ("MDS_QUEUE_CAPACITY", "MDS_SINK", "MDS_WORKERS",
                         "MDS_HEARTBEAT_MS", "MDS_DRAIN_TIMEOUT_MS",
                         "MDS_COORDINATOR_ID", "MDS_DEAD_BAND", "MDS_DWELL_MS",
                         "MDS_BREAKER_THRESHOLD", "MDS_HTTP_PORT"):
            check(variable in result.stdout, "--help lacks %s" % variable)
        result = run(binary, {}, ["--version"], cwd)
        check(result.returncode == 0 and result.stdout.strip(), "--version")
    print("ok: %d bad configurations exit 2 naming the option" % len(BAD))


if __name__ == "__main__":
    main(sys.argv[1])
