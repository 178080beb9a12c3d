"""Typos are loud (issue 15, item 3), on the real binaries.

usage: test_typos.py MDS_COORDINATOR MDP_PIPELINE

- mds-coordinator with MDS_QUEU_CAPACITY=100 starts (a warning never stops
  start-up), logs exactly one warning naming it with "did you mean
  MDS_QUEUE_CAPACITY?", and /status shows the default capacity (the typo
  changed nothing); the same in JSON log lines; the tail's own MDS_TAIL_*
  variables are not warned about.
- mdp-pipeline warns about MDP_SEND_WINDW (did you mean MDP_SEND_WINDOW?)
  once, and MDP_RATE_IBKR_CAPACITY creates the provider ibkr (the seed's
  meaning) with a warning saying so.
- A misspelled flag stops either binary with exit 2 and "did you mean".
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pipeline"))
from harness import Coordinator, check  # noqa: E402
from pl_support import Pipeline  # noqa: E402

DEFAULT_CAPACITY = 10000


def warnings_in(log, variable):
    return [line for line in log.splitlines()
            if "unknown_variable" in line and variable in line]


def coordinator_typo(binary, log_format):
    with Coordinator(binary, MDS_QUEU_CAPACITY=100,
                     MDS_TAIL_ENDPOINT="tcp://127.0.0.1:1",
                     MDS_LOG_FORMAT=log_format) as coordinator:
        coordinator.start()
        status = coordinator.status()
        check(coordinator.stop() == 0, "coordinator did not exit 0")
        log = coordinator.read_log()
    check(status["capacity"] == DEFAULT_CAPACITY,
          "capacity %r: the misspelled variable was used" % status["capacity"])
    lines = warnings_in(log, "MDS_QUEU_CAPACITY")
    check(len(lines) == 1, "%d warnings about MDS_QUEU_CAPACITY in:\n%s"
          % (len(lines), log))
    if log_format == "json":
        event = json.loads(lines[0])
        check(event.get("variable") == "MDS_QUEU_CAPACITY" and
              "did you mean MDS_QUEUE_CAPACITY?" in event.get("hint", "") and
              event.get("level") in ("warning", "warn"),
              "JSON warning %r" % event)
    else:
        check("warning" in lines[0] and
              'hint="ignored; did you mean MDS_QUEUE_CAPACITY?"' in lines[0],
              "warning line %r" % lines[0])
    check(not warnings_in(log, "MDS_TAIL_"), "the tail's variable warned")
    check(not warnings_in(log, "MDS_HTTP_PORT"), "a known variable warned")


def pipeline_typos(binary):
    with Pipeline(binary, MDP_STORE_ENDPOINTS="tcp://127.0.0.1:1",
                  MDP_FEEDBACK_ENDPOINTS="tcp://127.0.0.1:2",
                  MDP_SEND_WINDW=3, MDP_RATE_IBKR_CAPACITY=5) as pipeline:
        pipeline.start()
        check(pipeline.stop() == 0, "pipeline did not exit 0")
        log = pipeline.read_log()
    window = warnings_in(log, "MDP_SEND_WINDW")
    check(len(window) == 1 and "did you mean MDP_SEND_WINDOW?" in window[0],
          "warnings about MDP_SEND_WINDW: %r" % window)
    # The seed's meaning (issue 15, item 6): a provider named by its
    # MDP_RATE_<NAME>_* variables exists, and a warning says so.
    created = [line for line in log.splitlines()
               if "provider_created name=ibkr" in line]
    check(len(created) == 1 and "MDP_RATE_IBKR_*" in created[0] and
          "warning" in created[0],
          "no warning that ibkr was created: %r" % created)
    check(len([line for line in log.splitlines()
               if "unknown_variable" in line]) == 1,
          "other variables warned about:\n%s" % log)


def flag_typo(binary, flag, expected):
    result = subprocess.run([binary, flag, "5"], capture_output=True,
                            text=True, timeout=30)
    check(result.returncode == 2, "%s %s exited %d" % (binary, flag,
                                                        result.returncode))
    check(expected in result.stderr, "stderr %r lacks %r"
          % (result.stderr, expected))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    coordinator, pipeline = sys.argv[1:3]
    coordinator_typo(coordinator, "text")
    coordinator_typo(coordinator, "json")
    pipeline_typos(pipeline)
    flag_typo(coordinator, "--queue-capacty",
              "unknown option --queue-capacty: did you mean "
              "--queue-capacity? (see --help)")
    flag_typo(pipeline, "--send-windw",
              "unknown option --send-windw: did you mean --send-window?")
    print("typos: warned once each with a suggestion; flags refused with one")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print("FAIL: %s" % error)
        sys.exit(1)
