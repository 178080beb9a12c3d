"""`mdp-pipeline check` (issue 15, item 3):

1. a configuration with planted mistakes: every one listed at once, exit 2;
2. a good configuration against a real coordinator: exit 0, the effective
   configuration with each value's origin, the store answering a ZMTP
   handshake and the feedback endpoint publishing, and nothing stored;
3. the same configuration with nothing listening and the HTTP port taken:
   exit 1, each runtime problem named.

usage: test_check.py MDP_PIPELINE MDS_COORDINATOR
"""
import os
import socket
import subprocess
import sys

from pl_support import check, free_port

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402


def run(binary, args=(), **env):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("MDP_")}
    environment.update({key: str(value) for key, value in env.items()})
    result = subprocess.run([binary, "check"] + list(args), env=environment,
                            capture_output=True, timeout=30)
    return (result.returncode, result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"))


def planted_mistakes(binary):
    code, out, err = run(
        binary, ["--no-such-flag=1"],
        MDP_SEND_WINDOW="abc", MDP_FB_SCALE_SOFT="2",
        MDP_SEND_BACH_MS="5", MDP_METRICS_BIND="nope",
        MDP_PROVIDER_SYNTHETIC_SOURCE="replay:/nonexistent/file.csv",
        MDP_EXIT_WHEN_DONE="true", MDP_PROVIDERS="synthetic,other",
        MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % free_port(),
        MDP_FB_ENABLE_FEEDBACK="false")
    check(code == 2, "planted mistakes: exit %d, expected 2:\n%s" % (code, err))
    for needle in ("--no-such-flag", "MDP_SEND_WINDOW='abc'",
                   "MDP_FB_SCALE_SOFT='2'",
                   "did you mean MDP_SEND_BATCH_MS",
                   "MDP_METRICS_BIND='nope'",
                   "MDP_PROVIDER_SYNTHETIC_SOURCE",
                   "MDP_EXIT_WHEN_DONE", "MDP_STORE_ENDPOINTS"):
        check(needle in err, "%r not reported:\n%s" % (needle, err))
    check("effective configuration" in out, "no effective configuration")
    # A bad provider list: no per-provider option exists, still a report.
    code, _, err = run(binary, MDP_PROVIDERS="ibkr,IBKR",
                       MDP_EXIT_WHEN_DONE="true",
                       MDP_FB_ENABLE_FEEDBACK="false",
                       MDP_METRICS_STANDALONE_PORT=0,
                       MDP_STORE_ENDPOINTS="inproc://nowhere")
    check(code == 2 and "MDP_PROVIDERS='ibkr,IBKR'" in err,
          "a bad provider list: exit %d:\n%s" % (code, err))
    print("ok: every planted mistake listed at once (exit 2)")


def origins(out):
    rows = {}
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].startswith("MDP_"):
            rows[parts[0]] = (parts[1], parts[2])
    return rows


def good_config(binary, coordinator_binary):
    with Coordinator(coordinator_binary, MDS_HEARTBEAT_MS=200) as coordinator:
        coordinator.start(ready=True)
        http_port = free_port()
        env = dict(MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                   MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                   MDP_METRICS_BIND="127.0.0.1",
                   MDP_METRICS_STANDALONE_PORT=http_port,
                   MDP_ADMIN_TOKEN="s3cret-token",
                   MDP_FB_PROVIDER_NAME="ibkr")
        code, out, err = run(binary, ["--send-window", "8"], **env)
        check(code == 0, "good config: exit %d:\n%s%s" % (code, out, err))
        rows = origins(out)
        check(rows["MDP_SEND_WINDOW"] == ("8", "flag --send-window"),
              "origin of a flag: %r" % (rows["MDP_SEND_WINDOW"],))
        check(rows["MDP_STORE_ENDPOINTS"][1] == "environment",
              "origin of a variable: %r" % (rows["MDP_STORE_ENDPOINTS"],))
        check(rows["MDP_SEND_BATCH_RECORDS"] == ("500", "default"),
              "origin of a default: %r" % (rows["MDP_SEND_BATCH_RECORDS"],))
        check("s3cret-token" not in out, "the admin token is printed")
        check("MDP_RATE_IBKR_CAPACITY" in rows,
              "the created provider's options are not shown")
        check("provider ibkr: synthetic (created: named by "
              "MDP_FB_PROVIDER_NAME)" in out, "providers not listed:\n" + out)
        check("a ZeroMQ peer answers" in out, "no store handshake:\n" + out)
        check("coordinator %s publishes" % coordinator.coordinator_id in out,
              "no feedback message:\n" + out)
        metrics = coordinator.metrics()
        check(metrics.get("coordinator_batches_received_total", 0) == 0,
              "check sent a batch")
    print("ok: a good configuration checks out (exit 0), nothing stored")
    return env


def nothing_listening(binary, env):
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", int(env["MDP_METRICS_STANDALONE_PORT"])))
    taken.listen(1)
    try:
        code, _, err = run(binary, **env)
    finally:
        taken.close()
    check(code == 1, "nothing listening: exit %d, expected 1:\n%s"
          % (code, err))
    for needle in ("runtime: MDP_STORE_ENDPOINTS",
                   "runtime: MDP_FEEDBACK_ENDPOINTS",
                   "MDP_METRICS_STANDALONE_PORT"):
        check(needle in err, "%r not reported:\n%s" % (needle, err))
    print("ok: nothing listening and a taken port: exit 1, each named")


def main():
    binary, coordinator_binary = sys.argv[1], sys.argv[2]
    planted_mistakes(binary)
    env = good_config(binary, coordinator_binary)
    nothing_listening(binary, env)


if __name__ == "__main__":
    main()
