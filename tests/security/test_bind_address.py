#!/usr/bin/python3
"""The HTTP bind address of both services is validated (issue 12, item 7).

Before the fix MDS_HTTP_BIND=256.0.0.0 silently bound 0.0.0.0 and
`a:PORT,b` opened a second listener; the log printed the requested address.
Now anything but one IPv4 address stops start-up with exit code 2 and a
message naming the variable (MDS_HTTP_BIND, MDP_METRICS_BIND), and the
log's `http: listening` line gives the address bound.
Usage: test_bind_address.py mds-coordinator mdp-pipeline"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pipeline"))
import sec_support as sec  # noqa: E402
from harness import Coordinator, free_port  # noqa: E402
from pl_support import Pipeline  # noqa: E402

COORDINATOR, PIPELINE = sys.argv[1:3]
EXIT_USAGE = 2
START_TIMEOUT_S = 10
checker = sec.Checker()


def bad_values():
    other = free_port()
    return ["256.0.0.0", "127.0.0.1:%d,127.0.0.1" % other,
            "127.0.0.1,127.0.0.2", "localhost", " 127.0.0.1", "1.2.3",
            "127.0.0.01"]  # (an empty variable means unset: the default)


def run_to_exit(binary, env):
    environment = dict(os.environ)
    environment.update(env)
    process = subprocess.Popen([binary], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=START_TIMEOUT_S)
        return process.returncode, output.decode(errors="replace")
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return None, output.decode(errors="replace")


def scenario(name, binary, env, variable):
    for value in bad_values():
        code, output = run_to_exit(binary, dict(env, **{variable: value}))
        checker.check("%s: %s=%r exits %d naming the variable"
                      % (name, variable, value, EXIT_USAGE),
                      code == EXIT_USAGE and variable in output,
                      "exit %s, output: %s" % (code, output[-400:]))


def listening_line(log):
    match = re.search(r"http: listening address=(\S+) port=(\d+)", log)
    return match.groups() if match else None


def main():
    coordinator = Coordinator(COORDINATOR)
    scenario("coordinator", COORDINATOR, coordinator.env, "MDS_HTTP_BIND")
    with coordinator:
        coordinator.start()
        line = listening_line(coordinator.read_log())
        checker.check("coordinator: the log gives the bound address",
                      line == ("127.0.0.1", str(coordinator.http_port)), line)
        coordinator.stop()
    pipeline = Pipeline(PIPELINE, MDP_FB_ENABLE_FEEDBACK="false",
                        MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % free_port())
    scenario("pipeline", PIPELINE, pipeline.env, "MDP_METRICS_BIND")
    with pipeline:
        pipeline.start()
        line = listening_line(pipeline.read_log())
        checker.check("pipeline: the log gives the bound address",
                      line == ("127.0.0.1", str(pipeline.http_port)), line)
    return checker.finish()


if __name__ == "__main__":
    sys.exit(main())
