"""Helpers shared by the tests in tests/deploy (stdlib + PyYAML only; run
with /usr/bin/python3, whose python3-yaml comes with yamllint)."""

import glob
import os
import shutil
import subprocess
import sys

import yaml

SKIP = 77  # meson's "skipped" exit code

SOURCE_ROOT = os.path.abspath(
    os.environ.get("MESON_SOURCE_ROOT")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(SOURCE_ROOT, "deploy")
KUBERNETES = os.path.join(DEPLOY, "kubernetes")
HERE = os.path.dirname(os.path.abspath(__file__))


def skip(message):
    print(f"SKIP: {message}")
    sys.exit(SKIP)


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def require_tool(name, hint):
    path = shutil.which(name)
    if path is None:
        skip(f"{name} is not installed ({hint})")
    return path


def run(argv, **kwargs):
    """Runs argv; returns the CompletedProcess (text mode, captured)."""
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def overlays():
    paths = sorted(glob.glob(os.path.join(KUBERNETES, "overlays", "*")))
    return [p for p in paths
            if os.path.exists(os.path.join(p, "kustomization.yaml"))]


def kustomize(path):
    """Renders a kustomization with `kubectl kustomize`; returns the text."""
    kubectl = require_tool("kubectl", "needed to render deploy/kubernetes")
    result = run([kubectl, "kustomize", path])
    if result.returncode != 0:
        fail(f"kubectl kustomize {os.path.relpath(path, SOURCE_ROOT)}:\n"
             f"{result.stderr}")
    return result.stdout


def objects(text):
    return [o for o in yaml.safe_load_all(text) if o]


def find(objs, kind, name):
    for obj in objs:
        if obj.get("kind") == kind and obj["metadata"]["name"] == name:
            return obj
    return None


class Checker:
    """Collects failed checks so one run reports all of them."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def check(self, condition, message):
        self.count += 1
        if not condition:
            self.failures.append(message)
        print(f"  {'ok' if condition else 'not ok'}: {message}")
        return condition

    def finish(self):
        if self.failures:
            fail(f"{len(self.failures)} of {self.count} checks failed")
        print(f"{self.count} checks passed")
        sys.exit(0)
