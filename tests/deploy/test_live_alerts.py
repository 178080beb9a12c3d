#!/usr/bin/python3
"""Live: the absent, down and flap alerts fire on a real Prometheus
scraping the real services (issue 13, "Done when": "the sink-down, absent
and flap alerts fire in their promtool tests and live").

  test_live_alerts.py MDS_COORDINATOR MDP_PIPELINE

Prometheus (Debian's /usr/bin/prometheus) runs with the configuration
test_live.py derives from deploy/prometheus/prometheus.yml (same jobs,
paths and labels, targets rewritten to the ports found at run time, 1 s
intervals) and the same TEST COPY of the shipped rules: every `for:` cut to
2 s, expressions and thresholds unchanged. The coordinator writes to SQLite.

1. Flapping, for real: the coordinator runs with legal but very tight
   settings (capacity 1000, watermarks 0.1 / 0.2, no dead band, no dwell)
   and a producer that ignores credits (proto/ingest.md allows it) sends
   bursts of BURST_RECORDS records, one at a time: each burst takes the
   queue past the high watermark (HARD) and its commit empties it (OK).
   The loop runs until CoordinatorLevelFlapping fires (its 5-minute rate of
   mds_feedback_events_total above 12 a minute), bounded by a deadline and
   a number of bursts; the alert carries namespace, instance and
   coordinator_id. While both run no Absent alert is pending and no Down
   alert fires.
2. The coordinator is killed (SIGKILL): CoordinatorDown fires for its
   target (job, instance, namespace), and PipelineDown does not (the
   pipeline still answers). Then its target leaves the configuration (what
   a StatefulSet scaled to 0 does to the ServiceMonitor's endpoints; SIGHUP
   reloads Prometheus): CoordinatorAbsent fires with job and namespace, and
   CoordinatorDown is gone (no `up` series is left to be 0). absent() has
   no series to take labels from: the rule names the namespace.
   A second pipeline that reaches no coordinator (its feedback and store
   endpoints are closed ports: what a client left out of the CURVE
   allow-list sees) answers /health but not /ready, and
   PipelineNoCoordinator fires for it, and only for it.
3. The same for the pipeline: killed, PipelineDown fires (not for the
   other pipeline, still up); the pipelines' targets removed,
   PipelineAbsent fires.
"""

import json
import os
import signal
import sys
import tempfile
import time

from deploy_common import (Checker, fail, free_port, http_get, processes,
                           skip, start, stop_all)
from test_live import NAMESPACE, PROMETHEUS, prometheus_config, query

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import harness  # noqa: E402  (tests/lib, after the path is set)

STARTUP_DEADLINE_S = 20
SCRAPE_DEADLINE_S = 30       # first scrape comes after ~5 s
ALERT_DEADLINE_S = 30
FLAP_DEADLINE_S = 45         # bursts until the flap alert fires
POLL_S = 0.25

# The flapping coordinator: legal settings (feedback.md: 0 <= D <= L < H
# <= C, dwell >= 0) with as little hysteresis as allowed.
QUEUE_CAPACITY = 1000        # records
LOW_WATERMARK = 0.1          # 100 records
HIGH_WATERMARK = 0.2         # 200 records: HARD
BURST_RECORDS = 300          # one burst: past the high watermark at once
BURSTS_MAX = 3000            # bounded: at most 900000 records
BURST_REPLY_S = 5.0          # a burst's ack; resent after that
FLAP_PER_MINUTE = 12         # the alert's threshold (mdbp-alerts.yml)

# The pipeline: a low, credit-honouring rate in batches that fit a credit.
PIPELINE_RATE = 200          # records/s
PIPELINE_BATCH = 50          # records

COORDINATOR_ID = "live-flapping"
DOWN = ("CoordinatorDown", "PipelineDown")
ABSENT = ("CoordinatorAbsent", "PipelineAbsent")

c = Checker()


def alive(name):
    """Fails when a service the test did not stop has exited."""
    for proc, proc_name, log in processes:
        if proc.poll() is not None:
            fail(f"{proc_name} exited with {proc.returncode} while waiting "
                 f"for {name}; its log:\n{open(log).read()[-3000:]}")


def wait_for(what, deadline_s, probe):
    """Polls probe() until it returns a true value; fails at the deadline."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        alive(what)
        last = probe()
        if last:
            return last
        time.sleep(POLL_S)
    fail(f"timed out after {deadline_s} s waiting for {what} (last: {last!r})")


def alerts(prom):
    """{alertname: [(state, labels), ...]} pending or firing now."""
    status, body = http_get(prom + "/api/v1/alerts")
    if status != 200:
        fail(f"/api/v1/alerts: HTTP {status}")
    found = {}
    for alert in json.loads(body)["data"]["alerts"]:
        found.setdefault(alert["labels"]["alertname"], []).append(
            (alert["state"], alert["labels"]))
    return found


def firing(prom, name):
    """The label sets of `name`'s firing alerts."""
    return [labels for state, labels in alerts(prom).get(name, [])
            if state == "firing"]


def kill(name):
    """SIGKILL (a crash, an OOM kill: no last words) and forget it."""
    for entry in list(processes):
        proc, proc_name, _ = entry
        if proc_name == name:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            processes.remove(entry)
            return
    fail(f"{name} is not running")


def reload_prometheus(prom, workdir, targets, gone):
    """Rewrites the configuration with `targets` (the job `gone` kept, with
    no target) and SIGHUPs Prometheus; waits until it scrapes none."""
    prometheus_config(workdir, targets)
    proc = next(p for p, n, _ in processes if n == "prometheus")
    proc.send_signal(signal.SIGHUP)

    def no_target():
        status, body = http_get(prom + "/api/v1/targets")
        return status == 200 and not [
            t for t in json.loads(body)["data"]["activeTargets"]
            if t["labels"].get("job") == gone]
    wait_for(f"Prometheus without a {gone} target", STARTUP_DEADLINE_S,
             no_target)


def check_fires(prom, name, expected):
    """`name` fires, one alert, with the labels `expected` (a subset)."""
    found = wait_for(f"{name} firing", ALERT_DEADLINE_S,
                     lambda: firing(prom, name))
    c.check(len(found) == 1 and all(found[0].get(k) == v
                                    for k, v in expected.items()),
            f"{name} fires with {expected} (labels {found})")


def unexpected_now(prom):
    """The Absent alerts pending or firing and the Down alerts firing now
    (a Down alert may be pending for one scrape that timed out on a busy
    machine; for: 2 s of them is not a blip)."""
    now = alerts(prom)
    return ({n for n in ABSENT if n in now}
            | {n for n in DOWN if "firing" in {s for s, _ in now.get(n, [])}})


def flap(prom, ingest):
    """Credit-ignoring bursts until CoordinatorLevelFlapping fires."""
    producer = harness.Producer(f"tcp://127.0.0.1:{ingest}",
                                producer_id="live-bursts")
    end = time.monotonic() + FLAP_DEADLINE_S
    bursts, found, seen = 0, [], set()
    try:
        while bursts < BURSTS_MAX and time.monotonic() < end:
            alive("CoordinatorLevelFlapping")
            recs = harness.records(bursts * BURST_RECORDS, BURST_RECORDS)
            producer.send_all([recs], window=1,
                              timeout=end - time.monotonic() + BURST_REPLY_S,
                              reply_timeout=BURST_REPLY_S)
            bursts += 1
            found = firing(prom, "CoordinatorLevelFlapping")
            if found:
                break
            seen |= unexpected_now(prom)
    finally:
        producer.close()
    changes = query(prom, f'sum(mds_feedback_events_total'
                    f'{{coordinator_id="{COORDINATOR_ID}"}})')
    print(f"{bursts} bursts of {BURST_RECORDS} records; level changes "
          f"published: {changes}")
    c.check(found, f"CoordinatorLevelFlapping fires within "
            f"{FLAP_DEADLINE_S} s of bursts")
    if found:
        labels = found[0]
        c.check(labels.get("namespace") == NAMESPACE
                and labels.get("coordinator_id") == COORDINATOR_ID
                and labels.get("instance"),
                f"CoordinatorLevelFlapping carries namespace, instance and "
                f"coordinator_id ({labels})")
    rate = query(prom, "max(sum by (coordinator_id) (rate("
                 "mds_feedback_events_total[5m])) * 60)")
    c.check(rate and rate[0][1] > FLAP_PER_MINUTE,
            f"level changes per minute over 5 m above {FLAP_PER_MINUTE} "
            f"({rate})")
    seen |= unexpected_now(prom)
    c.check(not seen, f"while both services run no Absent alert is pending "
            f"and no Down alert fires ({sorted(seen)})")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    coordinator_bin, pipeline_bin = (os.path.abspath(p) for p in sys.argv[1:3])
    if not os.access(PROMETHEUS, os.X_OK):
        skip(f"{PROMETHEUS} is not installed (Debian package prometheus)")
    for binary in (coordinator_bin, pipeline_bin):
        if not os.access(binary, os.X_OK):
            fail(f"{binary} is not built")
    with tempfile.TemporaryDirectory(prefix="mdbp-live-alerts-") as workdir:
        try:
            run_live(workdir, coordinator_bin, pipeline_bin)
        finally:
            stop_all()
    c.finish()


def run_live(workdir, coordinator_bin, pipeline_bin):
    ingest, feedback, coordinator_http = free_port(), free_port(), free_port()
    pipeline_http, prometheus_port = free_port(), free_port()
    coordinator_dir = os.path.join(workdir, "coordinator")
    os.makedirs(os.path.join(coordinator_dir, "data"))
    start("mds-coordinator", [coordinator_bin], {
        "MDS_INGEST_ENDPOINT": f"tcp://127.0.0.1:{ingest}",
        "MDS_FEEDBACK_ENDPOINT": f"tcp://127.0.0.1:{feedback}",
        "MDS_HTTP_PORT": str(coordinator_http),
        "MDS_HTTP_BIND": "127.0.0.1",
        "MDS_SINK": "sqlite:" + os.path.join(coordinator_dir, "data",
                                             "market.db"),
        "MDS_COORDINATOR_ID": COORDINATOR_ID,
        "MDS_QUEUE_CAPACITY": str(QUEUE_CAPACITY),
        "MDS_LOW_WATERMARK": str(LOW_WATERMARK),
        "MDS_HIGH_WATERMARK": str(HIGH_WATERMARK),
        "MDS_DEAD_BAND": "0",
        "MDS_DWELL_MS": "0",
        "MDS_LOG_FORMAT": "json",
    }, coordinator_dir)
    wait_for("mds-coordinator /health", STARTUP_DEADLINE_S, lambda: http_get(
        f"http://127.0.0.1:{coordinator_http}/health")[0] == 200)
    start("mdp-pipeline", [pipeline_bin], {
        "MDP_STORE_ENDPOINTS": f"tcp://127.0.0.1:{ingest}",
        "MDP_FEEDBACK_ENDPOINTS": f"tcp://127.0.0.1:{feedback}",
        "MDP_PROVIDERS": "ibkr",
        "MDP_RATE_IBKR_CAPACITY": str(PIPELINE_RATE),
        "MDP_RATE_IBKR_REFILL_RATE": str(PIPELINE_RATE),
        "MDP_SEND_BATCH_RECORDS": str(PIPELINE_BATCH),
        "MDP_METRICS_ENABLE": "true",
        "MDP_METRICS_STANDALONE_PORT": str(pipeline_http),
        "MDP_METRICS_BIND": "127.0.0.1",
        "MDP_LOG_FORMAT": "json",
    }, workdir)
    wait_for("mdp-pipeline /health", STARTUP_DEADLINE_S, lambda: http_get(
        f"http://127.0.0.1:{pipeline_http}/health")[0] == 200)
    # Alive, never ready: nothing answers on its coordinator addresses.
    lonely_http = free_port()
    start("mdp-pipeline-lonely", [pipeline_bin], {
        "MDP_STORE_ENDPOINTS": f"tcp://127.0.0.1:{free_port()}",
        "MDP_FEEDBACK_ENDPOINTS": f"tcp://127.0.0.1:{free_port()}",
        "MDP_PROVIDERS": "ibkr",
        "MDP_RATE_IBKR_CAPACITY": str(PIPELINE_RATE),
        "MDP_RATE_IBKR_REFILL_RATE": str(PIPELINE_RATE),
        "MDP_METRICS_ENABLE": "true",
        "MDP_METRICS_STANDALONE_PORT": str(lonely_http),
        "MDP_METRICS_BIND": "127.0.0.1",
        "MDP_LOG_FORMAT": "json",
    }, workdir)
    wait_for("mdp-pipeline-lonely /health", STARTUP_DEADLINE_S,
             lambda: http_get(
                 f"http://127.0.0.1:{lonely_http}/health")[0] == 200)
    status, _ = http_get(f"http://127.0.0.1:{lonely_http}/ready")
    c.check(status is not None and status != 200, f"the pipeline that "
            f"reaches no coordinator is alive but not ready ({status})")

    targets = {"mds-coordinator": f"127.0.0.1:{coordinator_http}",
               "mdp-pipeline": [f"127.0.0.1:{pipeline_http}",
                                f"127.0.0.1:{lonely_http}"]}
    config = prometheus_config(workdir, targets)
    start("prometheus", [
        PROMETHEUS, f"--config.file={config}",
        f"--storage.tsdb.path={os.path.join(workdir, 'tsdb')}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}",
        "--log.level=warn",
    ], {}, workdir)
    prom = f"http://127.0.0.1:{prometheus_port}"
    wait_for("Prometheus ready", STARTUP_DEADLINE_S,
             lambda: http_get(prom + "/-/ready")[0] == 200)
    for job in targets:
        wait_for(f"{job} scraped", SCRAPE_DEADLINE_S, lambda job=job: any(
            v == 1 for _, v in query(prom, f'up{{job="{job}"}}')))
        c.check(True, f"Prometheus scrapes {job}")
    # The rules evaluated once both targets were up (before the first
    # scrape absent() held for a moment).
    wait_for("no Absent alert and no Down alert firing", ALERT_DEADLINE_S,
             lambda: not unexpected_now(prom))
    c.check(True, "both up: no Absent alert, no Down alert firing")

    flap(prom, ingest)
    check_fires(prom, "PipelineNoCoordinator", {
        "instance": f"127.0.0.1:{lonely_http}", "namespace": NAMESPACE,
        "severity": "warning"})

    # The coordinator dies; the pipeline lives on.
    kill("mds-coordinator")
    check_fires(prom, "CoordinatorDown", {
        "job": "mds-coordinator", "instance": targets["mds-coordinator"],
        "namespace": NAMESPACE, "severity": "critical"})
    now = alerts(prom)
    c.check("PipelineDown" not in now and "CoordinatorAbsent" not in now,
            f"the pipeline's target is up and the coordinator's is there: "
            f"neither PipelineDown nor CoordinatorAbsent ({sorted(now)})")
    reload_prometheus(prom, workdir, dict(targets, **{"mds-coordinator": ""}),
                      "mds-coordinator")
    check_fires(prom, "CoordinatorAbsent", {
        "job": "mds-coordinator", "namespace": NAMESPACE,
        "severity": "critical"})
    wait_for("CoordinatorDown resolved (no up series left)",
             ALERT_DEADLINE_S, lambda: "CoordinatorDown" not in alerts(prom))
    c.check(True, "CoordinatorDown resolves once the target is gone")

    # Then the pipeline.
    kill("mdp-pipeline")
    check_fires(prom, "PipelineDown", {
        "job": "mdp-pipeline", "instance": f"127.0.0.1:{pipeline_http}",
        "namespace": NAMESPACE, "severity": "critical"})
    reload_prometheus(prom, workdir, {"mds-coordinator": "",
                                      "mdp-pipeline": []}, "mdp-pipeline")
    check_fires(prom, "PipelineAbsent", {
        "job": "mdp-pipeline", "namespace": NAMESPACE,
        "severity": "critical"})
    wait_for("PipelineDown resolved (no up series left)", ALERT_DEADLINE_S,
             lambda: "PipelineDown" not in alerts(prom))
    c.check(True, "PipelineDown resolves once the target is gone")


if __name__ == "__main__":
    main()
