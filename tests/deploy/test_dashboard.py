#!/usr/bin/python3
"""The Grafana dashboard and provisioning: valid JSON, the seed's four panels
(queue depth, rate scale, backpressure state, pods) plus the coordinator's
throughput, write latency and breaker, every panel on the provisioned
datasource uid, every query valid PromQL (`promtool check rules` on them as
recording rules) with no Grafana-only variables, so the live test can run
each one against a real Prometheus as it is."""

import json
import os
import tempfile

import yaml

from deploy_common import DEPLOY, Checker, require_tool, run

promtool = require_tool("promtool", "Debian package prometheus")
c = Checker()
grafana = os.path.join(DEPLOY, "grafana")
dashboard = json.load(open(os.path.join(grafana, "dashboards",
                                        "mdbp-backpressure.json")))
datasources = yaml.safe_load(open(os.path.join(
    grafana, "provisioning", "datasources", "prometheus.yml")))["datasources"]
providers = yaml.safe_load(open(os.path.join(
    grafana, "provisioning", "dashboards", "mdbp.yml")))["providers"]
uids = {d["uid"] for d in datasources if d["type"] == "prometheus"}
c.check(len(uids) == 1, "one provisioned Prometheus datasource")
c.check(providers[0]["options"]["path"] == "/var/lib/grafana/dashboards",
        "dashboards provisioned from the folder compose mounts")

titles = [p["title"] for p in dashboard["panels"]]
for title in ("Store Queue Depth", "Pipeline Rate Scale", "Backpressure State",
              "Pipeline Pods", "Coordinator Throughput", "Batch Write Latency",
              "Sink Circuit Breaker"):
    c.check(title in titles, f"panel {title!r}")
c.check(len(set(p["id"] for p in dashboard["panels"])) == len(titles),
        "panel ids unique")

exprs = []
for panel in dashboard["panels"]:
    c.check(panel["datasource"]["uid"] in uids,
            f"{panel['title']}: provisioned datasource")
    c.check(len(panel["targets"]) > 0, f"{panel['title']}: has queries")
    for target in panel["targets"]:
        c.check(target["datasource"]["uid"] in uids,
                f"{panel['title']}/{target['refId']}: provisioned datasource")
        c.check("$" not in target["expr"],
                f"{panel['title']}/{target['refId']}: no Grafana variables")
        exprs.append(target["expr"])

with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": e}
        for i, e in enumerate(exprs)]}]}, f)
    f.flush()
    result = run([promtool, "check", "rules", f.name])
    print(result.stdout + result.stderr, end="")
    c.check(result.returncode == 0, f"all {len(exprs)} queries are valid PromQL")
c.finish()
