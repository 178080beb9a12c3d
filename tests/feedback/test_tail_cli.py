#!/usr/bin/python3
"""mds-feedback-tail's command line: --help/--version, exit code 2 with a
message naming the bad flag or variable, exit code 1 when the count is not
reached. Usage: test_tail_cli.py PATH/TO/mds-feedback-tail"""
import os
import socket
import subprocess
import sys

TAIL = sys.argv[1]
RUN_DEADLINE_S = 20  # no single run of the tool may take longer than this
failures = []
passes = []


def run(args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDS_TAIL_")}
    env.update(env_extra or {})
    try:
        done = subprocess.run([TAIL] + args, env=env, capture_output=True,
                              text=True, timeout=RUN_DEADLINE_S)
    except subprocess.TimeoutExpired as expired:
        return None, str(expired.stdout), "still running after %ds" % (
            RUN_DEADLINE_S)
    return done.returncode, done.stdout, done.stderr


def check(label, condition, detail=""):
    print(("ok    " if condition else "FAIL  ") + label)
    (passes if condition else failures).append(label)
    if not condition:
        print("      " + detail.replace("\n", "\n      "))


def unused_port():
    """A port nobody listens on: bound, read, released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --help names every option with its variable; --version prints the version.
code, out, err = run(["--help"])
check("--help exits 0", code == 0, err)
for name in ("--endpoint", "MDS_TAIL_ENDPOINT", "--coordinator",
             "MDS_TAIL_COORDINATOR", "--count", "MDS_TAIL_COUNT", "--timeout",
             "MDS_TAIL_TIMEOUT"):
    check("--help lists " + name, name in out, out)
code, out, err = run(["--version"])
check("--version exits 0", code == 0 and "mds-feedback-tail" in out, out + err)

# Bad usage: exit 2, and stderr names what was wrong.
bad = [
    (["--count", "-1"], {}, "--count"),
    (["--count", "many"], {}, "--count"),
    (["--timeout", "soon"], {}, "--timeout"),
    (["--timeout", "-3"], {}, "--timeout"),
    (["--no-such-flag"], {}, "--no-such-flag"),
    (["--coordinator", "a/b"], {}, "--coordinator"),
    (["--coordinator", "x" * 65], {}, "--coordinator"),
    (["--endpoint", "not-an-endpoint"], {}, "not-an-endpoint"),
    (["--endpoint", ","], {}, "--endpoint"),
    (["--log-level", "loud"], {}, "--log-level"),
    (["stray-argument"], {}, "stray-argument"),
    ([], {"MDS_TAIL_COUNT": "lots"}, "MDS_TAIL_COUNT"),
    ([], {"MDS_TAIL_TIMEOUT": "-1"}, "MDS_TAIL_TIMEOUT"),
    ([], {"MDS_TAIL_ENDPOINT": "bogus://x"}, "MDS_TAIL_ENDPOINT"),
    ([], {"MDS_TAIL_COORDINATOR": "a/b"}, "MDS_TAIL_COORDINATOR"),
]
for args, env, named in bad:
    code, out, err = run(args, env)
    label = "bad usage %s %s exits 2 naming %s" % (args, env, named)
    check(label, code == 2 and named in err and out == "",
          "exit %s\nstdout: %s\nstderr: %s" % (code, out, err))

# Nothing to read: the count is not reached before the timeout, exit 1.
endpoint = "tcp://127.0.0.1:%d" % unused_port()
code, out, err = run(["--endpoint", endpoint, "--count", "1",
                      "--timeout", "0.2"])
check("count not reached exits 1", code == 1 and out == "",
      "exit %s\nstdout: %s\nstderr: %s" % (code, out, err))
code, out, err = run(["--endpoint", endpoint, "--timeout", "0.2"])
check("no event without --count exits 1", code == 1 and out == "",
      "exit %s\nstdout: %s\nstderr: %s" % (code, out, err))
# The same through variables, several endpoints and an exact coordinator.
code, out, err = run([], {"MDS_TAIL_ENDPOINT": endpoint + "," + endpoint,
                          "MDS_TAIL_COORDINATOR": "alpha",
                          "MDS_TAIL_COUNT": "2", "MDS_TAIL_TIMEOUT": "0.2"})
check("variables accepted, count not reached exits 1",
      code == 1 and out == "" and "mds.fb/alpha/" in err,
      "exit %s\nstdout: %s\nstderr: %s" % (code, out, err))

print("%d passed, %d failed" % (len(passes), len(failures)))
sys.exit(1 if failures else 0)
