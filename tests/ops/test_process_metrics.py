"""process_* and *_build_info on both services (issue 15, item 7), live.

usage: test_process_metrics.py MDS_COORDINATOR MDP_PIPELINE [PROMTOOL]

Runs a coordinator (SQLite) and a pipeline feeding it on 127.0.0.1 and reads
their /metrics: each has process_cpu_seconds_total, _resident_memory_bytes,
_virtual_memory_bytes, _open_fds, _max_fds, _start_time_seconds equal to
what /proc says of that very process (read here independently), and
mds_build_info / pipeline_build_info {version=<--version>} 1; the whole
rendering passes `promtool check metrics`.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pipeline"))
from harness import Coordinator, check, wait_for  # noqa: E402
from pl_support import Pipeline, promtool_check  # noqa: E402

PROCESS_NAMES = ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_virtual_memory_bytes", "process_open_fds",
                 "process_max_fds", "process_start_time_seconds")


def parse(text):
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def proc_start_time(pid):
    """Start time since the epoch from /proc/PID/stat and /proc/stat."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rpartition(")")[2].split()
    start_ticks = int(fields[22 - 3])  # field 22, counted from "state" (3)
    with open("/proc/stat") as handle:
        boot = next(int(line.split()[1]) for line in handle
                    if line.startswith("btime "))
    return boot + start_ticks / os.sysconf("SC_CLK_TCK")


def check_process(name, pid, text, build_info, version):
    values = parse(text)
    for metric in PROCESS_NAMES:
        check(metric in values, "%s: no %s in /metrics" % (name, metric))
        check("# TYPE %s %s" % (metric, "counter" if metric.endswith("_total")
                                else "gauge") in text,
              "%s: wrong TYPE of %s" % (name, metric))
    start = proc_start_time(pid)
    check(abs(values["process_start_time_seconds"] - start) < 0.02,
          "%s: process_start_time_seconds %r, /proc says %r"
          % (name, values["process_start_time_seconds"], start))
    open_fds = len(os.listdir("/proc/%d/fd" % pid))
    check(abs(values["process_open_fds"] - open_fds) <= 3,
          "%s: process_open_fds %r, /proc/%d/fd has %d"
          % (name, values["process_open_fds"], pid, open_fds))
    with open("/proc/%d/status" % pid) as handle:
        rss_kb = next(int(line.split()[1]) for line in handle
                      if line.startswith("VmRSS:"))
    check(values["process_resident_memory_bytes"] > 0 and
          values["process_virtual_memory_bytes"] >=
          values["process_resident_memory_bytes"],
          "%s: memory %r" % (name, values))
    check(values["process_resident_memory_bytes"] < 4 * rss_kb * 1024,
          "%s: rss %r vs VmRSS %d kB" % (name,
                                         values["process_resident_memory_bytes"],
                                         rss_kb))
    key = '%s{version="%s"}' % (build_info, version)
    check(values.get(key) == 1, "%s: no %s 1 in /metrics" % (name, key))


def version_of(binary):
    out = subprocess.run([binary, "--version"], capture_output=True,
                         text=True, timeout=10).stdout.split()
    check(len(out) == 2, "--version printed %r" % out)
    return out[1]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    coordinator_binary, pipeline_binary = sys.argv[1:3]
    promtool = sys.argv[3] if len(sys.argv) > 3 else None
    with Coordinator(coordinator_binary) as coordinator:
        coordinator.start(ready=True)
        with Pipeline(pipeline_binary,
                      MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                      MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint
                      ) as pipeline:
            pipeline.start()
            wait_for(lambda: coordinator.metrics().get(
                "coordinator_records_written_total", 0) > 0, 30,
                "records written")
            for name, process, text, info, binary in (
                    ("mds-coordinator", coordinator.process,
                     coordinator.get("/metrics")[1], "mds_build_info",
                     coordinator_binary),
                    ("mdp-pipeline", pipeline.process,
                     pipeline.metrics_text(), "pipeline_build_info",
                     pipeline_binary)):
                check_process(name, process.pid, text, info,
                              version_of(binary))
                if promtool:
                    promtool_check(promtool, text)
            check(pipeline.stop() == 0, "pipeline did not exit 0")
        check(coordinator.stop() == 0, "coordinator did not exit 0")
    print("process_* and build info: both services, equal to /proc%s"
          % (", promtool clean" if promtool else ""))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print("FAIL: %s" % error)
        sys.exit(1)
