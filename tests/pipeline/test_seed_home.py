"""Seed users at home (issue 15, item 6): the seed's env starts the
pipeline, a real coordinator's webhook drives it over POST /feedback (no
ZeroMQ feedback connected at all), the seed's own event shape is accepted,
bad bodies are answered 400 with a reason and counted, the admin token
guards the route, and the seed's queries on source="store_coordinator"
return data in a real Prometheus scraping the pipeline.

usage: test_seed_home.py MDP_PIPELINE MDS_COORDINATOR
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from pl_support import Pipeline, check, free_port, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402

TOKEN = "seed-token-15"
PROMETHEUS = "/usr/bin/prometheus"
# The seed's verification query 1 / dashboard panel 1, and its alert.
SEED_QUERY = 'max(pipeline_feedback_queue_depth{source="store_coordinator"})'
SEED_ALERT = SEED_QUERY + " > 5000"


def post(port, path, body, token=TOKEN):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (port, path), data=data, method="POST",
        headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def status(pipeline):
    code, body = pipeline.get("/status")
    check(code == 200, "/status answered %s" % code)
    return json.loads(body)


def coordinators(pipeline):
    return {c["id"]: c for c in status(pipeline)["coordinators"]}


def check_receiver(pipeline):
    port = pipeline.http_port
    accepted = 'pipeline_feedback_http_requests_total{result="accepted"}'
    # The coordinator's webhook posts too: count from here.
    accepted_before = pipeline.metric(accepted)
    code, _ = post(port, "/feedback", {"coordinator_id": "x", "level": "ok"},
                   token=None)
    check(code == 401, "POST /feedback without the token: %d" % code)
    code, _ = post(port, "/feedback", {"coordinator_id": "x", "level": "ok"},
                   token="wrong")
    check(code == 401, "POST /feedback with a wrong token: %d" % code)
    bad = [(b"not json", "expected a JSON object"),
           (b'{"level":"hard"}', "coordinator_id"),
           (b'{"coordinator_id":"x","level":"extreme"}', "'level' must"),
           (b'{"coordinator_id":"x","level":"ok","queue_size":-3}',
            "queue_size")]
    for body, reason in bad:
        code, answer = post(port, "/feedback", body)
        check(code == 400, "%r answered %d" % (body, code))
        check(reason in json.loads(answer)["error"],
              "%r: reason %r lacks %r" % (body, answer, reason))
    check(pipeline.metric('pipeline_feedback_http_requests_total'
                          '{result="malformed"}') == len(bad),
          "malformed bodies not counted")

    # The seed's FeedbackEvent (model_dump of the dataclass).
    code, _ = post(port, "/feedback", {
        "coordinator_id": "seed-store", "queue_size": 950, "capacity": 1000,
        "level": "HARD", "reason": "high watermark"})
    check(code == 202, "the seed's event answered %d" % code)
    # The seed's store is known at HARD. (The provider's scale follows the
    # freest coordinator, ingest.md 4.4: the real coordinator's webhook
    # keeps saying OK, so the pipeline routes there and does not pause.)
    wait_for(lambda: coordinators(pipeline).get("seed-store", {})
             .get("level") == "hard", 10, "HARD from the seed's event")
    seed = coordinators(pipeline)["seed-store"]
    check(seed["epoch"] == 0 and seed["seq"] == 1 and
          seed["queue_depth"] == 950, "seed's event state: %r" % seed)
    code, _ = post(port, "/feedback", {
        "coordinator_id": "seed-store", "queue_size": 10, "capacity": 1000,
        "level": "OK"})
    check(code == 202, "the seed's second event answered %d" % code)
    wait_for(lambda: coordinators(pipeline)["seed-store"]["seq"] == 2, 10,
             "the seed's events numbered in order")
    # going_away forgets it at once (the coordinator's last word).
    code, _ = post(port, "/feedback", {
        "coordinator_id": "seed-store", "level": "ok", "going_away": True})
    check(code == 202, "going_away answered %d" % code)
    wait_for(lambda: "seed-store" not in coordinators(pipeline), 10,
             "the seed's coordinator forgotten on going_away")
    check(pipeline.metric(accepted) - accepted_before == 3,
          "accepted not counted")


def check_webhook(pipeline, coordinator):
    """The coordinator's own webhook (MDS_FB_HTTP_*) drives the pipeline:
    the pipeline's ZeroMQ feedback endpoint points at a closed port."""
    wait_for(lambda: pipeline.metric("pipeline_records_acked_total") > 0, 20,
             "records acked by the coordinator")
    lock = sqlite3.connect(coordinator.db_path, timeout=10,
                           isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        wait_for(lambda: pipeline.metric(
            'pipeline_backpressure_state{provider="ibkr"}') == 2, 30,
            "HARD from the coordinator's webhook")
        known = coordinators(pipeline)
        check(coordinator.coordinator_id in known,
              "the webhook's coordinator is not known: %r" % known)
        check(known[coordinator.coordinator_id]["epoch"] != 0,
              "the webhook's epoch was not kept")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_for(lambda: pipeline.metric(
        'pipeline_backpressure_state{provider="ibkr"}') == 0, 30,
        "back to OK from the coordinator's webhook")
    check(coordinator.metrics().get(
        "mds_feedback_webhook_sent_total", 0) >= 2,
        "the coordinator counted no webhook delivery")


def prometheus_query(prom, expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())["data"]["result"]


def check_prometheus(pipeline):
    """The seed's queries, unchanged, against a real Prometheus."""
    if not os.path.exists(PROMETHEUS):
        print("skip: %s is not installed" % PROMETHEUS)
        return
    workdir = tempfile.mkdtemp(prefix="mdp-seed-prom-")
    port = free_port()
    config = os.path.join(workdir, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: mdp-pipeline\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                % pipeline.http_port)
    log = open(os.path.join(workdir, "prometheus.log"), "wb")
    prometheus = subprocess.Popen(
        [PROMETHEUS, "--config.file=" + config,
         "--storage.tsdb.path=" + os.path.join(workdir, "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        stdout=log, stderr=log)
    prom = "http://127.0.0.1:%d" % port
    try:
        # A depth above the seed's alert threshold, held by a posted event.
        code, _ = post(pipeline.http_port, "/feedback", {
            "coordinator_id": "seed-store", "queue_size": 6000,
            "capacity": 10000, "level": "soft"})
        check(code == 202, "posted event answered %d" % code)

        def seed_answers():
            check(prometheus.poll() is None, "prometheus exited")
            try:
                result = prometheus_query(prom, SEED_ALERT)
            except (OSError, ValueError):
                return False
            return result and float(result[0]["value"][1]) == 6000
        wait_for(seed_answers, 30, "the seed's alert expression in Prometheus",
                 interval=0.2)
        panel = prometheus_query(prom, SEED_QUERY)
        check(panel and float(panel[0]["value"][1]) >= 6000,
              "the seed's panel query: %r" % panel)
        print("ok: the seed's queries answer in Prometheus")
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=10)
        log.close()


def check_standalone_port(binary):
    """The seed's MDP_METRICS_STANDALONE_PORT with MDP_HTTP_PORT: /metrics
    alone on the standalone port, everything else where probes look; alone,
    it moves every route, with a warning saying so."""
    from harness import http_get
    app_port, metrics_port = free_port(), free_port()
    pipeline = Pipeline(binary, MDP_HTTP_PORT=app_port,
                        MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % free_port(),
                        MDP_FB_ENABLE_FEEDBACK="false",
                        MDP_SHUTDOWN_TIMEOUT_MS=100)
    pipeline.env["MDP_METRICS_STANDALONE_PORT"] = str(metrics_port)
    pipeline.http_port = app_port
    with pipeline:
        pipeline.start()
        code, body = http_get(metrics_port, "/metrics")
        check(code == 200 and "pipeline_build_info" in body,
              "/metrics on the standalone port: %d" % code)
        check(http_get(metrics_port, "/health")[0] == 404,
              "/health moved to the standalone port")
        check(http_get(app_port, "/health")[0] == 200, "/health not at home")
        check("http_port_moved" not in pipeline.read_log(),
              "a warning although /health stayed")
        check(pipeline.stop() == 0, "exit")
    with Pipeline(binary, MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_SHUTDOWN_TIMEOUT_MS=100,
                  MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % free_port()
                  ) as pipeline:
        pipeline.start()
        check("http_port_moved" in pipeline.read_log(),
              "no note that every route moved:\n" + pipeline.read_log())
        check(pipeline.stop() == 0, "exit")
    print("ok: MDP_METRICS_STANDALONE_PORT with MDP_HTTP_PORT serves "
          "/metrics alone")


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    check_standalone_port(pipeline_binary)
    pipeline_port = free_port()
    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=2000,
                     MDS_HEARTBEAT_MS=200, MDS_DWELL_MS=100,
                     MDS_FB_ENABLE_HTTP_BROADCAST="true",
                     MDS_FB_HTTP_ENDPOINT="http://127.0.0.1:%d/feedback"
                     % pipeline_port,
                     MDS_FB_HTTP_TOKEN=TOKEN,
                     MDS_FB_HTTP_BACKOFF="0.05") as coordinator:
        coordinator.start(ready=True)
        # The seed's env (seed 000), plus where things are and the token.
        pipeline = Pipeline(pipeline_binary,
                            MDP_FB_ENABLE_FEEDBACK="true",
                            MDP_FB_PROVIDER_NAME="ibkr",
                            MDP_METRICS_ENABLE="true",
                            MDP_RATE_IBKR_REFILL_RATE=2000,
                            MDP_RATE_IBKR_CAPACITY=500,
                            MDP_METRICS_SOURCE_LABEL="store_coordinator",
                            MDP_ADMIN_TOKEN=TOKEN,
                            MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                            MDP_FEEDBACK_ENDPOINTS="tcp://127.0.0.1:%d"
                            % free_port(),
                            MDP_FB_RAMP_MS=100,
                            MDP_SHUTDOWN_TIMEOUT_MS=2000)
        pipeline.http_port = pipeline_port
        pipeline.env["MDP_METRICS_STANDALONE_PORT"] = str(pipeline_port)
        with pipeline:
            pipeline.start()
            log = pipeline.read_log()
            check("provider_created name=ibkr source=synthetic" in log,
                  "no note about the created provider:\n" + log)
            names = [p["name"] for p in status(pipeline)["providers"]]
            check(names == ["ibkr"], "providers: %r" % names)
            check_webhook(pipeline, coordinator)
            check_receiver(pipeline)
            check_prometheus(pipeline)
            code = pipeline.stop()
            check(code == 0, "pipeline exit %s" % code)
    print("ok: the seed's env, webhook and queries work")


if __name__ == "__main__":
    main()
