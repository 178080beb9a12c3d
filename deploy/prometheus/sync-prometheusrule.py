#!/usr/bin/python3
"""Rewrites deploy/kubernetes/base/prometheusrule.yaml from
deploy/prometheus/rules/mdbp-alerts.yml (the plain rule file is the source;
tests/deploy/test_kustomize.py fails when the two differ). Run after editing
the rules: deploy/prometheus/sync-prometheusrule.py"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "rules", "mdbp-alerts.yml")
TARGET = os.path.join(HERE, "..", "kubernetes", "base", "prometheusrule.yaml")

text = open(TARGET).read()
head = text[:text.index("spec:\n") + len("spec:\n")]
rules = open(RULES).read()
body = rules[rules.index("groups:"):]
indented = "".join("  " + line if line.strip() else line
                   for line in body.splitlines(True))
with open(TARGET, "w") as f:
    f.write(head + indented)
