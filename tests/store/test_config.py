"""Bad configuration exits 2 with a message naming the variable or flag (a
bad number, a negative capacity, an unknown log level, crossed watermarks,
an unknown sink, a SQLite file or dead-letter file that cannot be written...);
--help lists every option with its variable and default and exits 0."""
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
    ({"MDS_INGEST_ENDPOINT": "tcp//127.0.0.1:5555"}, [],
     "MDS_INGEST_ENDPOINT"),
    ({"MDS_FEEDBACK_ENDPOINT": "tcp://127.0.0.1:99999"}, [],
     "MDS_FEEDBACK_ENDPOINT"),
    ({}, ["--ingest-endpoint=tcp://127.0.0.1"], "--ingest-endpoint"),
    # A regular file where a directory must be (fails even as root): the
    # coordinator would otherwise run "not ready" forever.
    ({"MDS_SINK": "sqlite:plain-file/market.db"}, [], "MDS_SINK"),
    ({"MDS_SINK": "null:", "MDS_DLQ_PATH": "plain-file/dlq.ndjson"}, [],
     "MDS_DLQ_PATH"),
    # A file that is not a SQLite database (here a text file).
    ({"MDS_SINK": "sqlite:plain-file"}, [], "MDS_SINK"),
]

# Every option of the issue and the seeds, each with its variable.
OPTIONS = [
    "MDS_COORDINATOR_ID", "MDS_INGEST_ENDPOINT", "MDS_FEEDBACK_ENDPOINT",
    "MDS_HTTP_PORT", "MDS_SINK", "MDS_DLQ_PATH", "MDS_QUEUE_CAPACITY",
    "MDS_LOW_WATERMARK", "MDS_HIGH_WATERMARK", "MDS_DEAD_BAND",
    "MDS_DWELL_MS", "MDS_WORKERS", "MDS_BATCH_SIZE", "MDS_BATCH_TIMEOUT_MS",
    "MDS_HEARTBEAT_MS", "MDS_DRAIN_TIMEOUT_MS", "MDS_RETRY_LIMIT",
    "MDS_RETRY_BASE_MS", "MDS_RETRY_MAX_MS", "MDS_BREAKER_THRESHOLD",
    "MDS_BREAKER_TIMEOUT_MS", "MDS_LOG_LEVEL", "MDS_LOG_FORMAT",
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
        with open(os.path.join(cwd, "plain-file"), "w") as handle:
            handle.write("not a directory\n")
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
        rows = {}
        help_lines = result.stdout.splitlines() + [""]
        for index, line in enumerate(help_lines[:-1]):
            words = line.split()
            if len(words) >= 3 and words[0].startswith("--") \
                    and words[1].startswith("MDS_"):
                # FLAG VARIABLE DEFAULT, the description on the next line.
                rows[words[1]] = words + help_lines[index + 1].split()
        for variable in OPTIONS:
            check(variable in rows, "--help lacks %s" % variable)
        for variable, words in rows.items():
            # A default ("-" when none) and a description on every row;
            # no line wider than 80 columns.
            check(len(words) >= 4, "--help row of %s: %r" % (variable, words))
            check(words[0] == "--" + variable[4:].lower().replace("_", "-"),
                  "--help: %s has flag %s" % (variable, words[0]))
        check(rows["MDS_QUEUE_CAPACITY"][2] == "10000"
              and rows["MDS_WORKERS"][2] == "2"
              and rows["MDS_HEARTBEAT_MS"][2] == "1000"
              and rows["MDS_SINK"][2] == "sqlite:./data/market.db",
              "--help defaults differ from the issue's")
        wide = [line for line in result.stdout.splitlines() if len(line) > 80]
        check(not wide, "--help lines over 80 columns: %r" % wide)
        result = run(binary, {}, ["--version"], cwd)
        check(result.returncode == 0 and result.stdout.strip(), "--version")
    print("ok: %d bad configurations exit 2 naming the option" % len(BAD))


if __name__ == "__main__":
    main(sys.argv[1])
