#!/usr/bin/python3
"""`promtool check config` on deploy/prometheus/prometheus.yml, and
`promtool check rules` + `promtool test rules` on the alert rules twice: as
the plain rule file and as extracted from the PrometheusRule object that
`kubectl kustomize` renders (the unit tests in deploy/prometheus/tests are
run against both copies). Also checks that every alert has a unit test."""

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
