#!/usr/bin/python3
"""The Grafana dashboard and provisioning: valid JSON, the seed's four panels
(queue depth, rate scale, backpressure state, pods) plus the coordinator's
throughput, write latency, breaker, replicas, queue utilisation, level
changes, store pressure (the coordinator scaler's own query), sink state,
oldest record age and commit latency; a datasource variable (defaulting to the provisioned uid) that
every panel uses and a namespace variable every query filters on; units
(records per second, fractions); `or vector(0)` where no data means 0;
every kube-state-metrics series a panel uses named in its description;
every query valid PromQL (`promtool check rules` on them as recording rules,
the variables substituted as Grafana does), so the live test can run each
one against a real Prometheus."""

import json
import os
import re
import tempfile

import yaml

from deploy_common import DEPLOY, Checker, require_tool, run

NAMESPACE = "market-data"  # prometheus.yml's target label, the manifests'

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

for title in ("Coordinator Replicas", "Queue Utilisation", "Level Changes",
              "Store Pressure", "Sink State", "Oldest Record Age",
              "Commit Latency"):
    c.check(title in titles, f"panel {title!r}")

variables = {v["name"]: v for v in dashboard["templating"]["list"]}
source = variables.get("datasource", {})
c.check(source.get("type") == "datasource"
        and source.get("query") == "prometheus"
        and source.get("current", {}).get("value") in uids,
        "variable datasource: a Prometheus datasource, the provisioned one "
        "by default")
namespace = variables.get("namespace", {})
c.check(namespace.get("type") == "query"
        and namespace.get("datasource", {}).get("uid") == "${datasource}"
        and "label_values(" in json.dumps(namespace.get("query"))
        and namespace.get("current", {}).get("value") == NAMESPACE,
        f"variable namespace: label_values on the chosen datasource, "
        f"{NAMESPACE} by default")


def substituted(expr):
    """The query as Grafana sends it with the variables' default values."""
    return expr.replace("$namespace", NAMESPACE)


exprs = []
for panel in dashboard["panels"]:
    title = panel["title"]
    c.check(panel["datasource"]["uid"] == "${datasource}",
            f"{title}: the datasource variable")
    c.check(len(panel["targets"]) > 0, f"{title}: has queries")
    for target in panel["targets"]:
        expr = target["expr"]
        where = f"{title}/{target['refId']}"
        c.check(target["datasource"]["uid"] == "${datasource}",
                f"{where}: the datasource variable")
        used = set(re.findall(r"\$\{?(\w+)", expr))
        c.check(used == {"namespace"}, f"{where}: filters on $namespace "
                f"and uses no other variable ({sorted(used)})")
        selectors = re.findall(r"\b([a-z_:]+)\{([^}]*)\}", expr)
        # Series names outside a selector (label lists removed first).
        bare = re.findall(r"\b(?:coordinator|pipeline|mds|kube)_\w+\b(?![{\w])",
                          re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)",
                                 "", expr))
        c.check(not bare and all('namespace="$namespace"' in labels
                                 for _, labels in selectors),
                f"{where}: every series selector has namespace=\"$namespace\"")
        for metric in re.findall(r"\b(kube_\w+)", expr):
            c.check(metric in panel.get("description", ""),
                    f"{where}: kube-state-metrics series {metric} named in "
                    f"the panel's description")
        exprs.append(substituted(expr))

by_title = {p["title"]: p for p in dashboard["panels"]}
units = {"Coordinator Throughput": "rec/s", "Queue Utilisation": "percentunit",
         "Batch Write Latency": "s", "Pipeline Rate Scale": "percentunit",
         "Store Pressure": "percentunit", "Oldest Record Age": "s",
         "Commit Latency": "s"}
# The scaler's own query is on the dashboard, as the scaler runs it.
scaler = yaml.safe_load(open(os.path.join(
    DEPLOY, "kubernetes", "components", "coordinator-autoscaling",
    "scaledobject-coordinator.yaml")))
scaling = " ".join(scaler["spec"]["triggers"][0]["metadata"]["query"].split())
pressure_exprs = [substituted(t["expr"]) for t in
                  by_title.get("Store Pressure", {}).get("targets", [])]
c.check(scaling in pressure_exprs,
        f"Store Pressure plots the coordinator scaler's query ({scaling})")
for title, unit in units.items():
    got = by_title[title]["fieldConfig"]["defaults"].get("unit", "")
    c.check(got.replace(" ", "").endswith(unit.replace(" ", "")),
            f"{title}: unit {unit} ({got})")
# Counts that are 0 when there is nothing to count, not "No data".
for title in ("Pipeline Pods", "Coordinator Replicas"):
    first = by_title[title]["targets"][0]["expr"]
    c.check(first.startswith("count(") and first.endswith(" or vector(0)"),
            f"{title}: {first} shows 0, not No data")

with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": e}
        for i, e in enumerate(exprs)]}]}, f)
    f.flush()
    result = run([promtool, "check", "rules", f.name])
    print(result.stdout + result.stderr, end="")
    c.check(result.returncode == 0, f"all {len(exprs)} queries are valid PromQL")
c.finish()
