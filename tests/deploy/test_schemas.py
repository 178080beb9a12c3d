#!/usr/bin/python3
"""Every object that `kubectl kustomize` renders from every overlay (and the
base) validates against its schema: Kubernetes API models, KEDA CRDs and
Prometheus-operator CRDs (npm packages pinned in tests/deploy/package.json
and package-lock.json; install them with `npm ci --prefix tests/deploy`).
A deliberately broken ScaledObject and Deployment must be rejected, so the
validator is known to be able to fail."""

import os
import tempfile

from deploy_common import (HERE, KUBERNETES, fail, kustomize, overlays,
                           require_tool, run, skip)

node = require_tool("node", "Node.js 20, Debian package nodejs")
validator = os.path.join(HERE, "validate-manifests.cjs")
for package in ("kubernetes-models", "@kubernetes-models/keda",
                "@kubernetes-models/prometheus-operator", "yaml"):
    if not os.path.isdir(os.path.join(HERE, "node_modules", package)):
        skip(f"npm package {package} is not installed: run "
             f"`npm ci --prefix tests/deploy` (versions pinned in "
             f"package-lock.json)")

BROKEN = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: broken
spec:
  scaleTargetRef:
    name: mds-coordinator
  minReplicaCount: "one"
  triggers:
    - type: prometheus
      metadata:
        threshold: 2000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  template:
    spec:
      containers:
        - name: c
          ports:
            - containerPort: http
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: broken
spec:
  endpoints: {}
---
apiVersion: example.com/v1
kind: Unknown
metadata:
  name: nobody-knows-me
"""

with tempfile.TemporaryDirectory() as tmp:
    files = []
    for path in overlays() + [os.path.join(KUBERNETES, "base")]:
        out = os.path.join(tmp, os.path.basename(path) + ".yaml")
        with open(out, "w") as f:
            f.write(kustomize(path))
        files.append(out)
    result = run([node, validator] + files, cwd=HERE)
    print(result.stdout, end="")
    if result.returncode != 0:
        fail(f"schema validation failed (exit {result.returncode}):\n"
             f"{result.stderr}")

    broken = os.path.join(tmp, "broken.yaml")
    with open(broken, "w") as f:
        f.write(BROKEN)
    result = run([node, validator, broken], cwd=HERE)
    print(result.stdout, end="")
    rejected = result.stdout.count("FAIL ")
    if result.returncode != 1 or rejected != 4:
        fail(f"the validator accepted a broken manifest: exit "
             f"{result.returncode}, {rejected} of 4 objects rejected")
print("every rendered object is valid; broken objects are rejected")
