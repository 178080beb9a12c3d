"""Helpers shared by the tests in tests/deploy (stdlib + PyYAML only; run
with /usr/bin/python3, whose python3-yaml comes with yamllint)."""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

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


def generated(objs, kind, name):
    """The object kustomize generated as `name`: its name is `name-<hash>`
    (configMapGenerator), or `name` itself."""
    for obj in objs:
        actual = obj["metadata"]["name"]
        if obj.get("kind") == kind and (actual == name or re.fullmatch(
                re.escape(name) + r"-[a-z0-9]{10}", actual)):
            return obj
    return None


HPA_TOLERANCE = 0.1  # the kube-controller-manager's default


def hpa_desired(metric_type, value, threshold, current):
    """Replicas the HPA wants for one external metric (KEDA's triggers), as
    the Kubernetes HPA algorithm computes them before min/max and behavior:
    Value compares the value itself with the target and scales the current
    count by the ratio; AverageValue divides the value by target x current.
    Within the tolerance the count stays."""
    import math
    if metric_type == "Value":
        ratio = value / threshold
        if abs(ratio - 1.0) <= HPA_TOLERANCE:
            return current
        return math.ceil(ratio * current)
    ratio = value / (threshold * current)
    if abs(ratio - 1.0) <= HPA_TOLERANCE:
        return current
    return math.ceil(value / threshold)


def _now_range(cell):
    """A replica table's "now" cell as a range of counts."""
    if cell == "any":
        return range(0, 1000)
    low, _, high = cell.partition("-")
    return range(int(low), int(high or low) + 1)


def replica_table(readme_path):
    """The rows of the replica table between the replica-table markers:
    (ScaledObject, replicas now as a range(), value from, value to,
    HARD True/False or None for any, replicas wanted); a row applies when
    from < value <= to and the current count is in the range ("any" is
    range(0, 1000), "2-10" is range(2, 11), "3" is range(3, 4))."""
    text = open(readme_path).read()
    block = re.search(r"<!-- replica-table:begin -->(.*?)"
                      r"<!-- replica-table:end -->", text, re.S)
    if not block:
        fail(f"{readme_path} has no replica table")
    rows = []
    for line in block.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"-?[\d.]+", cells[2]):
            rows.append((cells[0], _now_range(cells[1]),
                         float(cells[2]), float(cells[3]),
                         {"yes": True, "no": False}.get(cells[4]),
                         int(cells[5])))
    return rows


WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def workload(objs, name):
    """The Deployment or StatefulSet called `name` (the coordinator is a
    StatefulSet, the pipeline a Deployment)."""
    for kind in WORKLOAD_KINDS:
        obj = find(objs, kind, name)
        if obj is not None:
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


# --- live services (the tests that start the real binaries) ---------------

STOP_DEADLINE_S = 15  # SIGTERM to every service, then SIGKILL

processes = []  # (Popen, name, log path) of each service started


def free_port():
    """A free port on 127.0.0.1, below the ephemeral range: no bind race."""
    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    from harness import free_port as harness_free_port
    return harness_free_port()


def http_get(url, timeout=2.0):
    """(status, body) or (None, error text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (OSError, ValueError) as err:
        return None, str(err)


def start(name, argv, env, workdir):
    """Starts a service with `env` (none of the caller's MDS_/MDP_
    variables), its output in workdir/NAME.log; stop_all() stops it."""
    log = os.path.join(workdir, f"{name}.log")
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("MDS_", "MDP_"))}
    full_env.update(env)
    proc = subprocess.Popen(argv, env=full_env, cwd=workdir,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    processes.append((proc, name, log))
    return proc


def stop_all():
    """SIGTERM to the services, last started first; SIGKILL to any still
    running after STOP_DEADLINE_S."""
    for proc, _, _ in reversed(processes):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + STOP_DEADLINE_S
    for proc, name, _ in reversed(processes):
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} ignored SIGTERM; killing it")
            proc.kill()
            proc.wait()
