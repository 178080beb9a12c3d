#!/usr/bin/python3
"""`promtool check config` on deploy/prometheus/prometheus.yml, and
`promtool check rules` + `promtool test rules` on the alert rules twice: as
the plain rule file and as extracted from the PrometheusRule object that
`kubectl kustomize` renders (the unit tests in deploy/prometheus/tests are
run against both copies). Also checks that every alert has a unit test in
which it fires, that every alert a unit test expects has a namespace label,
and that every alert has a runbook line in deploy/README.md."""

import os
import shutil
import tempfile

import yaml

from deploy_common import (DEPLOY, KUBERNETES, Checker, find, kustomize,
                           objects, require_tool, run)

promtool = require_tool("promtool", "Debian package prometheus")
c = Checker()
rules_file = os.path.join(DEPLOY, "prometheus", "rules", "mdbp-alerts.yml")
tests_dir = os.path.join(DEPLOY, "prometheus", "tests")
test_files = sorted(os.path.join(tests_dir, f) for f in os.listdir(tests_dir)
                    if f.endswith((".yml", ".yaml")))


def promtool_ok(*args):
    result = run([promtool] + list(args))
    print(result.stdout + result.stderr, end="")
    return result.returncode == 0


c.check(promtool_ok("check", "config",
                    os.path.join(DEPLOY, "prometheus", "prometheus.yml")),
        "promtool check config prometheus.yml")
c.check(promtool_ok("check", "rules", rules_file),
        "promtool check rules (plain file)")
for test in test_files:
    c.check(promtool_ok("test", "rules", test),
            f"promtool test rules {os.path.basename(test)} (plain file)")

# Every alert has at least one unit test that expects it to fire.
alerts = {r["alert"] for g in yaml.safe_load(open(rules_file))["groups"]
          for r in g["rules"] if "alert" in r}
fired = set()
for test in test_files:
    for case in yaml.safe_load(open(test))["tests"]:
        for at in case.get("alert_rule_test", []):
            if at.get("exp_alerts"):
                fired.add(at["alertname"])
for alert in sorted(alerts):
    c.check(alert in fired, f"alert {alert} has a firing unit test")
# ... and every alert that a unit test expects carries `namespace` (the
# routing label; absent() alerts name it in their selector).
for test in test_files:
    for case in yaml.safe_load(open(test))["tests"]:
        for at in case.get("alert_rule_test", []):
            for expected in at.get("exp_alerts") or []:
                c.check("namespace" in expected.get("exp_labels", {}),
                        f"{os.path.basename(test)}: {at['alertname']} at "
                        f"{at['eval_time']} is expected with a namespace "
                        f"label")

# Every alert has its runbook line in deploy/README.md ("Alerts and
# runbook": a table whose first cell names one or more alerts, "A / B").
readme = open(os.path.join(DEPLOY, "README.md")).read()
runbook = readme.split("## Alerts and runbook", 1)[-1].split("\n## ", 1)[0]
rows = {name.strip() for line in runbook.splitlines()
        if line.startswith("| ") and not line.startswith("| alert ")
        for name in line.split("|")[1].split("/")}
for alert in sorted(alerts):
    c.check(alert in rows, f"alert {alert} has a runbook line in "
            f"deploy/README.md")
c.check(rows <= alerts, f"the runbook names no alert that does not exist "
        f"({sorted(rows - alerts)})")
for name in ("PipelineQueueHigh", "PipelineHardBackpressure",
             "PipelineRateScaleLow", "CoordinatorBreakerOpen",
             "CoordinatorDeadLettersGrowing", "PipelineFeedbackStale"):
    c.check(name in alerts, f"alert {name} exists")

# The same, from the rendered PrometheusRule object.
rule = find(objects(kustomize(os.path.join(KUBERNETES, "overlays", "prod"))),
            "PrometheusRule", "mdbp-alerts")
if c.check(rule is not None, "prod renders the PrometheusRule"):
    with tempfile.TemporaryDirectory() as tmp:
        rules_dir = os.path.join(tmp, "rules")
        os.mkdir(rules_dir)
        extracted = os.path.join(rules_dir, "mdbp-alerts.yml")
        with open(extracted, "w") as f:
            yaml.safe_dump(rule["spec"], f, sort_keys=False)
        c.check(promtool_ok("check", "rules", extracted),
                "promtool check rules (from the PrometheusRule)")
        # The unit tests name ../rules/mdbp-alerts.yml: copy them beside.
        copy_dir = os.path.join(tmp, "tests")
        os.mkdir(copy_dir)
        for test in test_files:
            copy = shutil.copy(test, copy_dir)
            c.check(promtool_ok("test", "rules", copy),
                    f"promtool test rules {os.path.basename(test)} "
                    f"(from the PrometheusRule)")
c.finish()
