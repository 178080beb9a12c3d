#!/usr/bin/python3
"""The prod overlay's CURVE configuration works, set up the way
deploy/README.md tells a user to set it up.

  test_curve.py MDS_COORDINATOR MDP_PIPELINE MDS_FEEDBACK_TAIL

1. The README's "curve-setup" block runs as written in a temp dir, with
   mds-coordinator (the build's) on PATH. No cluster here: its
   `kubectl -n market-data create secret generic|configmap NAME
   --from-file=...` lines are carried out by a stand-in that implements
   --from-file as kubectl does (KEY=PATH, a file, or every file of a
   folder) and keeps each object's data.
2. `kubectl kustomize overlays/prod`: every Secret and ConfigMap volume of
   the two Deployments must be one of those objects; each is laid out as
   the kubelet mounts it (a timestamped folder, a `..data` symlink to it,
   and one symlink per projected key; `items` and `defaultMode` applied).
3. mds-coordinator and mdp-pipeline start with the variables of the prod
   ConfigMaps whose names contain `_CURVE_`, their mount paths mapped to
   those folders (ports and the sink are the test's, on 127.0.0.1).
   Checks: the pipeline is ready (it hears the feedback channel) and its
   records arrive (ingest channel); both sockets count accepted CURVE
   handshakes and no denial.
4. A consumer with a key pair that is not in the allow-list
   (mds-feedback-tail) gets nothing and is counted as unknown_key, and on
   a real Prometheus scraping the coordinator (test_live.py's
   configuration and test copy of the rules) CoordinatorCurveUnknownKey
   fires at once, with namespace and socket, and CoordinatorCurveDenied
   does not (skipped, said so, without /usr/bin/prometheus). Its
   public certificate is then added to the clients ConfigMap and the
   volume updated the way the kubelet does (new folder, `..data` swapped
   atomically): without any restart, it now receives events.
5. SIGTERM ends both services with exit 0.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from deploy_common import (DEPLOY, KUBERNETES, Checker, fail,
                           free_port, generated, http_get, kustomize, objects, processes,
                           start, stop_all, workload)
from test_live import PROMETHEUS, prometheus_config, query

NAMESPACE = "market-data"
DEADLINE_S = 20
POLL_S = 0.2
TAIL_WAIT_S = 2          # one attempt of mds-feedback-tail
c = Checker()


def metric(body, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in body.splitlines():
        match = re.match(r"^([a-z_:]+)(?:\{(.*)\})?\s+(\S+)$", line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def wait_for(what, probe):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        for proc, name, log in processes:
            if proc.poll() is not None:
                fail(f"{name} exited with {proc.returncode} while waiting for "
                     f"{what}; its log:\n{open(log).read()[-3000:]}")
        result = probe()
        if result:
            return result
        time.sleep(POLL_S)
    for _, name, log in processes:
        print(f"--- {name} log:\n{open(log).read()[-2000:]}")
    fail(f"timed out after {DEADLINE_S} s waiting for {what}")


# --- 1. the README's block, with a stand-in for `kubectl create` -----------

def readme_block():
    text = open(os.path.join(DEPLOY, "README.md")).read()
    block = re.search(r"<!-- curve-setup:begin -->\s*```sh\n(.*?)```\s*"
                      r"<!-- curve-setup:end -->", text, re.S)
    if not block:
        fail("deploy/README.md has no curve-setup block")
    return [line for line in block.group(1).replace("\\\n", " ").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def kubectl_create(argv, cwd, store):
    """`kubectl -n NS create secret generic|configmap NAME --from-file=...`:
    stores {key: bytes} under (kind, NAME)."""
    args = argv[1:]
    namespace = None
    if args[:1] == ["-n"]:
        namespace, args = args[1], args[2:]
    if args[:3] == ["create", "secret", "generic"]:
        kind, rest = "Secret", args[3:]
    elif args[:2] == ["create", "configmap"]:
        kind, rest = "ConfigMap", args[2:]
    else:
        fail(f"the stand-in kubectl does not know {shlex.join(argv)}")
    c.check(namespace == NAMESPACE, f"{kind} {rest[0]} is created in "
            f"namespace {NAMESPACE}")
    name, data = rest[0], {}
    for option in rest[1:]:
        if not option.startswith("--from-file="):
            fail(f"the stand-in kubectl does not know {option}")
        spec = option[len("--from-file="):]
        key, _, path = spec.rpartition("=")
        path = os.path.join(cwd, path)
        if os.path.isdir(path):
            if key:
                fail(f"--from-file={spec}: a key with a folder")
            for entry in sorted(os.listdir(path)):
                if os.path.isfile(os.path.join(path, entry)):
                    data[entry] = open(os.path.join(path, entry), "rb").read()
        else:
            data[key or os.path.basename(path)] = open(path, "rb").read()
    for key in data:
        c.check(re.fullmatch(r"[-._a-zA-Z0-9]+", key) is not None,
                f"{kind} {name}: key {key!r} is a valid key name")
    store[(kind, name)] = data


def run_readme(workdir, coordinator_bin):
    bindir = os.path.join(workdir, "bin")
    os.makedirs(bindir)
    os.symlink(coordinator_bin, os.path.join(bindir, "mds-coordinator"))
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
    cwd = os.path.join(workdir, "admin")
    os.makedirs(cwd)
    store = {}
    for line in readme_block():
        argv = shlex.split(line, comments=True)
        if argv[0] == "kubectl":
            kubectl_create(argv, cwd, store)
            continue
        result = subprocess.run(["bash", "-euc", line], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            fail(f"README line `{line}` exited {result.returncode}: "
                 f"{result.stderr}")
    c.check(len(store) > 0, f"the README creates {sorted(store)}")
    return cwd, store


# --- 2. the kubelet's layout of Secret and ConfigMap volumes ---------------

def project(source, data):
    """{path in the volume: (bytes, mode)} as the kubelet projects it."""
    mode = source.get("defaultMode", 0o644)
    items = source.get("items")
    if items is None:
        return {key: (value, mode) for key, value in data.items()}
    projected = {}
    for item in items:
        if item["key"] not in data:
            fail(f"volume item {item['key']!r} is not a key of the object "
                 f"(keys: {sorted(data)})")
        projected[item["path"]] = (data[item["key"]], item.get("mode", mode))
    return projected


def kubelet_write(volume_dir, files, generation):
    """Writes `files` the way the kubelet's atomic writer does: into a new
    hidden folder, then swaps the `..data` symlink to it in one rename, and
    keeps one top-level symlink per file (`NAME -> ..data/NAME`)."""
    os.makedirs(volume_dir, exist_ok=True)
    payload = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{generation}"
    for path, (content, mode) in files.items():
        target = os.path.join(volume_dir, payload, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
        os.chmod(target, mode)
    data_link = os.path.join(volume_dir, "..data")
    old = os.readlink(data_link) if os.path.islink(data_link) else None
    os.symlink(payload, data_link + "_tmp")
    os.replace(data_link + "_tmp", data_link)
    for path in files:
        top = path.split("/")[0]
        link = os.path.join(volume_dir, top)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..data", top), link)
    for entry in os.listdir(volume_dir):
        link = os.path.join(volume_dir, entry)
        if (os.path.islink(link) and not entry.startswith("..")
                and entry not in {p.split("/")[0] for p in files}):
            os.unlink(link)
    if old:
        shutil.rmtree(os.path.join(volume_dir, old))


def pod_mounts(objs, deployment_name, store, podroot):
    """Writes the workload's Secret/ConfigMap volumes under `podroot`;
    returns {mountPath: local folder} for their mounts."""
    deployment = workload(objs, deployment_name)
    spec = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {}
    for mount in spec["containers"][0].get("volumeMounts", []):
        volume = volumes.get(mount["name"])
        if volume is None:
            continue              # a volumeClaimTemplate: no keys there
        for kind, field, name_key in (("Secret", "secret", "secretName"),
                                      ("ConfigMap", "configMap", "name")):
            if field not in volume:
                continue
            name = volume[field][name_key]
            if not c.check((kind, name) in store,
                           f"{deployment_name} mounts {kind} {name}: the "
                           f"README creates it"):
                continue
            local = os.path.join(podroot, deployment_name, mount["name"])
            kubelet_write(local, project(volume[field], store[(kind, name)]),
                          1)
            mounts[mount["mountPath"]] = (local, volume[field])
    return mounts


def curve_env(objs, config_name, mounts):
    """The ConfigMap's *_CURVE_* variables, mount paths mapped to folders."""
    data = generated(objs, "ConfigMap", config_name)["data"]
    env = {}
    for name, value in data.items():
        if "_CURVE_" not in name:
            continue
        for mount_path, (local, _) in mounts.items():
            root = mount_path.rstrip("/")
            if value == root or value.startswith(root + "/"):
                value = local + value[len(root):]
                break
        else:
            fail(f"{config_name}: {name}={value} is on no Secret/ConfigMap "
                 f"mount")
        env[name] = value
    c.check(len(env) == 2, f"{config_name}: CURVE variables {sorted(env)}")
    return env


# --- 3. the services ------------------------------------------------------

def tail(tail_bin, endpoint, secret, server):
    """Exit code of one mds-feedback-tail attempt wanting one event."""
    result = subprocess.run(
        [tail_bin, "--endpoint", endpoint, "--count", "1",
         "--timeout", str(TAIL_WAIT_S), "--curve-secret-key-file", secret,
         "--curve-server-key-file", server],
        capture_output=True, text=True, timeout=TAIL_WAIT_S + 10)
    return result.returncode


def start_prometheus(workdir, coordinator_http):
    """Prometheus scraping the coordinator, its unknown_key series seen at
    0 (an increase needs the sample before the refusal); None, said so,
    when Prometheus is not installed."""
    if not os.access(PROMETHEUS, os.X_OK):
        print(f"NOTE: {PROMETHEUS} is not installed (Debian package "
              f"prometheus): CoordinatorCurveUnknownKey not checked live")
        return None
    home = os.path.join(workdir, "prometheus")
    os.makedirs(home)
    config = prometheus_config(home, {
        "mds-coordinator": f"127.0.0.1:{coordinator_http}"})
    port = free_port()
    start("prometheus", [
        PROMETHEUS, f"--config.file={config}",
        f"--storage.tsdb.path={os.path.join(home, 'tsdb')}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
    ], {}, home)
    prom = f"http://127.0.0.1:{port}"
    wait_for("Prometheus ready",
             lambda: http_get(prom + "/-/ready")[0] == 200)
    wait_for("Prometheus has the unknown_key series at 0", lambda: [
        v for _, v in query(prom, 'mds_curve_denied_total{socket="feedback",'
                            'reason="unknown_key"}') if v == 0])
    return prom


def check_unknown_key_alert(prom, instance):
    """The allow-list miss fires CoordinatorCurveUnknownKey (no `for:`: a
    refused client may never retry), not CoordinatorCurveDenied."""
    def states():
        status, body = http_get(prom + "/api/v1/alerts")
        if status != 200:
            return None
        found = {}
        for alert in json.loads(body)["data"]["alerts"]:
            found.setdefault(alert["labels"]["alertname"], []).append(alert)
        return found
    firing = wait_for("CoordinatorCurveUnknownKey firing", lambda: [
        a["labels"] for a in (states() or {}).get(
            "CoordinatorCurveUnknownKey", []) if a["state"] == "firing"])
    c.check(len(firing) == 1 and firing[0].get("namespace") == NAMESPACE
            and firing[0].get("socket") == "feedback"
            and firing[0].get("instance") == instance,
            f"CoordinatorCurveUnknownKey fires for the allow-list miss with "
            f"namespace, instance and socket=feedback ({firing})")
    now = states() or {}
    c.check("CoordinatorCurveDenied" not in now, f"CoordinatorCurveDenied "
            f"(handshake failures) does not ({sorted(now)})")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    coordinator_bin, pipeline_bin, tail_bin = (os.path.abspath(p)
                                               for p in sys.argv[1:4])
    objs = objects(kustomize(os.path.join(KUBERNETES, "overlays", "prod")))
    with tempfile.TemporaryDirectory(prefix="mdbp-curve-") as workdir:
        try:
            run(workdir, objs, coordinator_bin, pipeline_bin, tail_bin)
        finally:
            stop_all()
    c.finish()


def run(workdir, objs, coordinator_bin, pipeline_bin, tail_bin):
    admin, store = run_readme(workdir, coordinator_bin)
    podroot = os.path.join(workdir, "pods")
    coordinator_mounts = pod_mounts(objs, "mds-coordinator", store, podroot)
    pipeline_mounts = pod_mounts(objs, "mdp-pipeline", store, podroot)
    coordinator_env = curve_env(objs, "mds-coordinator-config",
                                coordinator_mounts)
    pipeline_env = curve_env(objs, "mdp-pipeline-config", pipeline_mounts)

    ingest, feedback, http = free_port(), free_port(), free_port()
    pipeline_http = free_port()
    data_dir = os.path.join(workdir, "coordinator")
    os.makedirs(data_dir)
    start("mds-coordinator", [coordinator_bin], dict(coordinator_env, **{
        "MDS_INGEST_ENDPOINT": f"tcp://127.0.0.1:{ingest}",
        "MDS_FEEDBACK_ENDPOINT": f"tcp://127.0.0.1:{feedback}",
        "MDS_HTTP_PORT": str(http),
        "MDS_HTTP_BIND": "127.0.0.1",
        "MDS_SINK": f"sqlite:{os.path.join(data_dir, 'market.db')}",
        "MDS_DLQ_PATH": os.path.join(data_dir, "dead-letter.ndjson"),
        "MDS_COORDINATOR_ID": "curve-coordinator",
        "MDS_HEARTBEAT_MS": "200",
        "MDS_DRAIN_TIMEOUT_MS": "2000",
    }), data_dir)
    coordinator_url = f"http://127.0.0.1:{http}"
    wait_for("mds-coordinator /health",
             lambda: http_get(coordinator_url + "/health")[0] == 200)
    log = open(processes[0][2]).read()
    c.check("server_ready" in log, "the coordinator logs curve: server_ready")
    prom = start_prometheus(workdir, http)

    start("mdp-pipeline", [pipeline_bin], dict(pipeline_env, **{
        "MDP_STORE_ENDPOINTS": f"tcp://127.0.0.1:{ingest}",
        "MDP_FEEDBACK_ENDPOINTS": f"tcp://127.0.0.1:{feedback}",
        "MDP_PROVIDERS": "ibkr",
        "MDP_RATE_IBKR_CAPACITY": "1000",
        "MDP_RATE_IBKR_REFILL_RATE": "1000",
        "MDP_METRICS_STANDALONE_PORT": str(pipeline_http),
        "MDP_METRICS_BIND": "127.0.0.1",
        "MDP_SHUTDOWN_TIMEOUT_MS": "2000",
    }), workdir)
    pipeline_url = f"http://127.0.0.1:{pipeline_http}"
    wait_for("mdp-pipeline /ready (feedback heard over CURVE)",
             lambda: http_get(pipeline_url + "/ready")[0] == 200)
    c.check(True, "the pipeline hears the feedback channel")

    def coordinator_metrics():
        status, body = http_get(coordinator_url + "/metrics")
        return body if status == 200 else ""

    wait_for("records from the pipeline over CURVE", lambda: metric(
        coordinator_metrics(), "coordinator_records_received_total") > 0)
    body = coordinator_metrics()
    c.check(True, "the pipeline's records arrive (" + str(int(metric(
        body, "coordinator_records_received_total"))) + " records)")
    for sock in ("ingest", "feedback"):
        c.check(metric(body, "mds_curve_handshakes_total", socket=sock) >= 1,
                f"CURVE handshakes accepted on {sock}")
    c.check(metric(body, "mds_curve_denied_total") == 0,
            "no CURVE denial so far")

    # An outsider, then the same key allowed through the ConfigMap.
    subprocess.run([coordinator_bin, "keygen", "keys/dashboard"], cwd=admin,
                   check=True, capture_output=True, timeout=30)
    endpoint = f"tcp://127.0.0.1:{feedback}"
    secret = os.path.join(admin, "keys", "dashboard_secret")
    server = os.path.join(admin, "keys", "coordinator")
    c.check(tail(tail_bin, endpoint, secret, server) != 0,
            "a consumer whose key is not allowed gets no event")
    wait_for("the refusal counted as unknown_key", lambda: metric(
        coordinator_metrics(), "mds_curve_denied_total", socket="feedback",
        reason="unknown_key") >= 1)
    c.check(True, "the refusal is counted (mds_curve_denied_total "
            "reason=unknown_key)")
    if prom:
        check_unknown_key_alert(prom, f"127.0.0.1:{http}")

    clients = store[("ConfigMap", "mds-curve-clients")]
    clients["dashboard"] = open(os.path.join(admin, "keys", "dashboard"),
                                "rb").read()
    mount = coordinator_env["MDS_CURVE_CLIENTS_DIR"]
    source = next(s for local, s in coordinator_mounts.values()
                  if local == mount)
    kubelet_write(mount, project(source, clients), 2)
    wait_for("the new client allowed without a restart",
             lambda: tail(tail_bin, endpoint, secret, server) == 0)
    c.check(True, "after the ConfigMap update the consumer gets events, "
            "the coordinator still running")

    for name in ("mdp-pipeline", "mds-coordinator"):
        proc = next(p for p, n, _ in processes if n == name)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            code = None
        c.check(code == 0, f"{name} exits 0 on SIGTERM (exit {code})")


if __name__ == "__main__":
    main()
