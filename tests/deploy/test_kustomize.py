#!/usr/bin/python3
"""Renders every overlay of deploy/kubernetes with `kubectl kustomize` and
checks what deploy/kubernetes/README.md promises of the rendered objects:
probes, resources, security contexts, grace periods above the drain timeout,
the headless ZeroMQ service (and the pipelines' MDP_STORE_ENDPOINTS and
MDP_FEEDBACK_ENDPOINTS on it: spread over every coordinator),
NetworkPolicies (evaluated for sample peers), ServiceMonitors, the
ScaledObjects (fallback, ignoreNullValues, the seed's producer scaler only
where opted in) and the PrometheusRule matching the plain rule file (its
namespace matchers naming the overlay's namespace), and CURVE (prod: every
key variable names a file on a read-only mount of the right Secret or ConfigMap; dev: no CURVE at all).
Schema validation is test_schemas.py; test_curve.py runs the prod CURVE
configuration for real."""

import os
import re

import yaml

from deploy_common import (DEPLOY, HPA_TOLERANCE, KUBERNETES, SOURCE_ROOT,
                           Checker, find,
                           generated, hpa_desired, kustomize, objects,
                           overlays, replica_table)

NAMESPACE = "market-data"
IMAGE_USER = 10001  # USER in deploy/docker/Dockerfile.*
# The CURVE variables (docs/security.md) and what each must point at:
# a file from a Secret, a file from a ConfigMap, or a whole mounted folder.
CURVE_FILES = {
    "mds-coordinator": {"MDS_CURVE_SECRET_KEY_FILE": "secret",
                        "MDS_CURVE_CLIENTS_DIR": "configMap-dir"},
    "mdp-pipeline": {"MDP_CURVE_SECRET_KEY_FILE": "secret",
                     "MDP_CURVE_SERVER_KEY_FILE": "configMap"},
}
CONFIG_MAPS = {"mds-coordinator": "mds-coordinator-config",
               "mdp-pipeline": "mdp-pipeline-config"}
STARTUP_TIMEOUT_MIN_S = 3
STARTUP_BUDGET_MIN_S = 60
PROJECT_VERSION = re.search(r"version\s*:\s*'([^']+)'", open(os.path.join(
    SOURCE_ROOT, "meson.build")).read()).group(1)
c = Checker()


def containers(deployment):
    return deployment["spec"]["template"]["spec"]["containers"]


def selects(selector, labels):
    """matchLabels/matchExpressions semantics of a LabelSelector."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and present and value in expr["values"]:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def port_number(deployment, port):
    if isinstance(port, int):
        return port
    for container in containers(deployment):
        for p in container.get("ports", []):
            if p["name"] == port:
                return p["containerPort"]
    return None


def allowed(objs, target, port, peer_labels, peer_namespace_labels,
            peer_namespace):
    """Whether the NetworkPolicies let a peer pod reach `target` (a
    Deployment) on container port `port`, as the NetworkPolicy spec says:
    isolated if any policy selects the pod, then allowed if any rule of any
    selecting policy matches."""
    pod_labels = target["spec"]["template"]["metadata"]["labels"]
    selecting = [p for p in objs if p["kind"] == "NetworkPolicy"
                 and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
                 and selects(p["spec"]["podSelector"], pod_labels)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(port_number(target, p.get("port")) == port
                                 for p in ports):
                continue
            peers = rule.get("from")
            if not peers:
                return True
            for peer in peers:
                ns_sel = peer.get("namespaceSelector")
                pod_sel = peer.get("podSelector")
                if ns_sel is None:
                    ns_ok = peer_namespace == policy["metadata"]["namespace"]
                else:
                    ns_ok = selects(ns_sel, peer_namespace_labels)
                pod_ok = pod_sel is None or selects(pod_sel, peer_labels)
                if "ipBlock" not in peer and ns_ok and pod_ok:
                    return True
    return False


def check_workload(name, objs, deployment):
    spec = deployment["spec"]["template"]["spec"]
    pod_sc = spec.get("securityContext", {})
    c.check(pod_sc.get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
    c.check(pod_sc.get("runAsUser") == IMAGE_USER,
            f"{name}: runAsUser is the image's user {IMAGE_USER}")
    c.check(pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{name}: seccomp RuntimeDefault")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    spread = {t["topologyKey"]: t for t in
              spec.get("topologySpreadConstraints", [])}
    for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname"):
        rule = spread.get(key, {})
        c.check(rule.get("whenUnsatisfiable") == "ScheduleAnyway"
                and selects(rule.get("labelSelector", {}), labels),
                f"{name}: spread over {key} (ScheduleAnyway, own pods)")
    budgets = [b for b in objs if b["kind"] == "PodDisruptionBudget"
               and selects(b["spec"]["selector"], labels)]
    c.check(len(budgets) == 1 and budgets[0]["spec"].get("maxUnavailable")
            == 1 and "minAvailable" not in budgets[0]["spec"],
            f"{name}: one PodDisruptionBudget, maxUnavailable 1")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claims = {t["metadata"]["name"] for t in
              deployment["spec"].get("volumeClaimTemplates", [])}
    for container in containers(deployment):
        cname = f"{name}/{container['name']}"
        sc = container.get("securityContext", {})
        c.check(sc.get("readOnlyRootFilesystem") is True,
                f"{cname}: read-only root filesystem")
        c.check(sc.get("allowPrivilegeEscalation") is False,
                f"{cname}: no privilege escalation")
        c.check(sc.get("capabilities", {}).get("drop") == ["ALL"],
                f"{cname}: drops ALL capabilities")
        c.check("add" not in sc.get("capabilities", {}),
                f"{cname}: adds no capability")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                c.check(res in resources.get(kind, {}),
                        f"{cname}: resources.{kind}.{res}")
        startup = container.get("startupProbe", {})
        c.check(startup.get("timeoutSeconds", 1) >= STARTUP_TIMEOUT_MIN_S
                and startup.get("periodSeconds", 10)
                * startup.get("failureThreshold", 3) >= STARTUP_BUDGET_MIN_S,
                f"{cname}: startup probe {startup.get('timeoutSeconds', 1)} s "
                f"per try, {STARTUP_BUDGET_MIN_S} s or more in all (a cold "
                f"start)")
        live = container.get("livenessProbe", {}).get("httpGet", {})
        ready = container.get("readinessProbe", {}).get("httpGet", {})
        c.check(live.get("path") == "/health", f"{cname}: liveness /health")
        c.check(ready.get("path") == "/ready", f"{cname}: readiness /ready")
        c.check(port_number(deployment, live.get("port")) is not None,
                f"{cname}: liveness port exists")
        for mount in container.get("volumeMounts", []):
            c.check(mount["name"] in volumes or mount["name"] in claims,
                    f"{cname}: volume {mount['name']} defined")
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            if ref:
                c.check(find(objs, "ConfigMap", ref) is not None,
                        f"{cname}: ConfigMap {ref} rendered")
    return volumes


def container_env(objs, deployment):
    """The variables the first container gets: its ConfigMaps, then env."""
    container = containers(deployment)[0]
    env = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        config = find(objs, "ConfigMap", ref) if ref else None
        env.update((config or {}).get("data", {}))
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env


# The pipeline's coordinator addresses (pipeline/README.md, "Sending" and
# "Feedback"): every A record of each host is connected and the names are
# resolved again every *_RESOLVE_SEC, so a headless Service (one A record
# per coordinator pod) spreads the pipelines over every coordinator and
# subscribes them to each one's feedback; a ClusterIP Service would be one
# address, one coordinator per connection.
PIPELINE_ENDPOINTS = {"MDP_STORE_ENDPOINTS": ("ingest", "MDP_STORE_RESOLVE_SEC"),
                      "MDP_FEEDBACK_ENDPOINTS": ("feedback",
                                                 "MDP_FB_RESOLVE_SEC")}
RESOLVE_SEC_MAX = 60  # a coordinator added by KEDA gets traffic within this


def service_of_host(objs, host, namespace):
    """The Service a host name in `namespace` resolves to (NAME,
    NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local), or None."""
    parts = host.split(".")
    name = parts[0]
    rest = ".".join(parts[1:])
    if rest not in ("", namespace, f"{namespace}.svc",
                    f"{namespace}.svc.cluster.local"):
        return None
    return find(objs, "Service", name)


def check_pipeline_endpoints(overlay, objs, coordinator, pipeline):
    """Every address of MDP_STORE_ENDPOINTS and MDP_FEEDBACK_ENDPOINTS is a
    headless Service of the coordinator pods on their ingest / feedback
    port, not-ready pods published, re-resolved often enough."""
    env = container_env(objs, pipeline)
    pod_labels = coordinator["spec"]["template"]["metadata"]["labels"]
    for variable, (port_name, resolve) in PIPELINE_ENDPOINTS.items():
        value = env.get(variable)
        if not c.check(isinstance(value, str) and value,
                       f"{overlay}: pipeline {variable} is set"):
            continue
        for endpoint in value.split(","):
            match = re.fullmatch(r"tcp://([^:/]+):(\d+)", endpoint.strip())
            if not c.check(match is not None, f"{overlay}: {variable} "
                           f"{endpoint} is tcp://HOST:PORT"):
                continue
            host, port = match.group(1), int(match.group(2))
            service = service_of_host(objs, host, NAMESPACE)
            what = f"{overlay}: {variable} {endpoint}"
            if not c.check(service is not None,
                           f"{what} names a Service of the overlay"):
                continue
            spec = service["spec"]
            c.check(spec.get("clusterIP") == "None",
                    f"{what}: {service['metadata']['name']} is headless "
                    f"(one address per coordinator pod)")
            c.check(selects({"matchLabels": spec.get("selector", {})},
                            pod_labels),
                    f"{what}: the Service selects the coordinator pods")
            c.check(spec.get("publishNotReadyAddresses") is True,
                    f"{what}: not-ready coordinators stay addressed (HARD "
                    f"feedback, draining)")
            ports = [p for p in spec.get("ports", []) if p["port"] == port]
            c.check(len(ports) == 1 and port_number(
                coordinator, ports[0]["targetPort"])
                == port_number(coordinator, port_name),
                f"{what}: port {port} is the coordinator's {port_name} port")
        seconds = int(env.get(resolve) or 30)  # the pipeline's default
        c.check(1 <= seconds <= RESOLVE_SEC_MAX,
                f"{overlay}: {resolve} {seconds} s: a new coordinator is "
                f"found within {RESOLVE_SEC_MAX} s")


def mount_of(deployment, path):
    """(volumeMount, volume, path inside the volume) serving `path`: the
    mount with the longest mountPath that contains it."""
    spec = deployment["spec"]["template"]["spec"]
    best = None
    for mount in containers(deployment)[0].get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/")
        if path == root or path.startswith(root + "/"):
            if best is None or len(root) > len(best["mountPath"]):
                best = mount
    if best is None:
        return None, None, None
    volume = next((v for v in spec.get("volumes", [])
                   if v["name"] == best["name"]), None)
    return best, volume, path[len(best["mountPath"].rstrip("/")):].lstrip("/")


def check_curve(overlay, objs, deployments):
    """prod: CURVE on, every key file on a read-only mount of the right
    source, Secrets readable by the image's user only through the pod's
    fsGroup. dev: CURVE off (no variable, no key volume)."""
    for name, deployment in deployments.items():
        env = container_env(objs, deployment)
        curve = {k: v for k, v in env.items() if "_CURVE_" in k}
        sources = [v.get("secret", {}).get("secretName")
                   or v.get("configMap", {}).get("name")
                   for v in deployment["spec"]["template"]["spec"]["volumes"]]
        if not overlay.startswith("prod"):
            c.check(curve == {}, f"{overlay}: {name} has no CURVE variable "
                    f"({sorted(curve)})")
            c.check(not any("curve" in (s or "") for s in sources),
                    f"{overlay}: {name} mounts no CURVE keys")
            continue
        c.check(set(curve) == set(CURVE_FILES[name]),
                f"{overlay}: {name} sets {sorted(CURVE_FILES[name])} "
                f"({sorted(curve)})")
        c.check(set(curve) <= set(generated(objs, "ConfigMap",
                                            CONFIG_MAPS[name])
                                  .get("data", {})),
                f"{overlay}: {name}'s CURVE variables are in its ConfigMap")
        pod_sc = deployment["spec"]["template"]["spec"]["securityContext"]
        for variable, kind in CURVE_FILES[name].items():
            path = curve.get(variable)
            if not isinstance(path, str):
                continue
            mount, volume, inside = mount_of(deployment, path)
            what = f"{overlay}: {name} {variable}={path}"
            if not c.check(mount is not None and volume is not None,
                           f"{what} is on a mounted volume"):
                continue
            c.check(mount.get("readOnly") is True, f"{what}: mounted read-only")
            source_kind = kind.split("-")[0]
            source = volume.get(source_kind)
            if not c.check(source is not None,
                           f"{what}: the volume is a {source_kind}"):
                continue
            if kind.endswith("-dir"):
                c.check(inside == "", f"{what}: the whole mounted folder")
                continue
            items = source.get("items")
            c.check(items is not None
                    and inside in [item["path"] for item in items],
                    f"{what}: the volume projects {inside!r} by name")
            if source_kind == "secret":
                mode = source.get("defaultMode", 0o644)
                c.check(mode & 0o007 == 0 and mode & 0o040 != 0,
                        f"{what}: mode {mode:o}, nothing for others")
                c.check(pod_sc.get("fsGroup") == IMAGE_USER,
                        f"{what}: readable through fsGroup {IMAGE_USER}")


def desired_replicas(spec, u, hard, now):
    """What the HPA wants from every trigger of a ScaledObject (the largest,
    clamped): `u` for the pressure trigger, 1 or 0 (HARD or not) for the
    HARD trigger."""
    wanted = []
    for trigger in spec["triggers"]:
        query = trigger["metadata"]["query"]
        value = (1.0 if hard else 0.0) \
            if "pipeline_backpressure_state" in query else u
        wanted.append(hpa_desired(trigger["metricType"], value,
                                  float(trigger["metadata"]["threshold"]),
                                  now))
    return min(spec["maxReplicaCount"],
               max(spec["minReplicaCount"], max(wanted)))


def check_replica_table(overlay, scalers):
    """Every row of the README's replica table, for every count it names
    (within min..max) and HARD value it covers, at its middle and at its
    upper bound, is the HPA's arithmetic on the rendered triggers."""
    readme = os.path.join(KUBERNETES, "README.md")
    rows = replica_table(readme)
    names = {row[0] for row in rows}
    c.check(names == {"mds-coordinator-scaler", "mdp-pipeline-scaler"},
            f"the replica table covers both scalers ({sorted(names)})")
    for name, nows, low_v, high_v, hard, wanted in rows:
        if name not in scalers:
            continue
        spec = scalers[name]["spec"]
        counts = [n for n in nows if spec["minReplicaCount"] <= n
                  <= spec["maxReplicaCount"]]
        bad = []
        for now in counts:
            for is_hard in ((False, True) if hard is None else (hard,)):
                for value in ((max(low_v, 0.0) + high_v) / 2, high_v):
                    got = desired_replicas(spec, value, is_hard, now)
                    if got != wanted:
                        bad.append((now, is_hard, value, got))
        c.check(counts and not bad, f"{overlay}: replica table row {name} "
                f"now {nows.start}..{nows.stop - 1}, u {low_v:g}..{high_v:g}, "
                f"HARD {hard} -> {wanted} (HPA disagrees: {bad[:3]})")


def check_overlay(path):
    overlay = os.path.basename(path)
    print(f"overlay {overlay}")
    objs = objects(kustomize(path))
    for obj in objs:
        if obj["kind"] != "Namespace":
            c.check(obj["metadata"].get("namespace") == NAMESPACE,
                    f"{overlay}: {obj['kind']}/{obj['metadata']['name']} "
                    f"in namespace {NAMESPACE}")
    namespace = find(objs, "Namespace", NAMESPACE)
    ns_labels = (namespace or {}).get("metadata", {}).get("labels", {})
    for mode in ("enforce", "audit", "warn"):
        c.check(ns_labels.get(f"pod-security.kubernetes.io/{mode}")
                == "restricted",
                f"{overlay}: namespace Pod Security {mode}=restricted")
    # Generated ConfigMaps: a hashed name, so that an edit rolls the pods.
    for name in CONFIG_MAPS.values():
        config_map = generated(objs, "ConfigMap", name)
        c.check(config_map is not None
                and config_map["metadata"]["name"] != name,
                f"{overlay}: ConfigMap {name} is generated with a hash "
                f"({(config_map or {}).get('metadata', {}).get('name')})")
    for kind in ("StatefulSet", "Deployment"):
        for obj in (o for o in objs if o["kind"] == kind):
            for container in containers(obj):
                tag = container["image"].rsplit(":", 1)[-1]
                c.check(tag == PROJECT_VERSION,
                        f"{overlay}: {obj['metadata']['name']} runs image "
                        f"tag {PROJECT_VERSION} (the project's version)")
    coordinator = find(objs, "StatefulSet", "mds-coordinator")
    pipeline = find(objs, "Deployment", "mdp-pipeline")
    if not (c.check(coordinator is not None,
                    f"{overlay}: mds-coordinator is a StatefulSet")
            and c.check(pipeline is not None, f"{overlay}: mdp-pipeline")):
        return
    volumes = check_workload(f"{overlay}: mds-coordinator", objs, coordinator)
    check_workload(f"{overlay}: mdp-pipeline", objs, pipeline)
    check_curve(overlay, objs, {"mds-coordinator": coordinator,
                                "mdp-pipeline": pipeline})

    check_pipeline_endpoints(overlay, objs, coordinator, pipeline)

    # Grace period above the drain timeout.
    config = generated(objs, "ConfigMap", "mds-coordinator-config")["data"]
    drain_s = int(config["MDS_DRAIN_TIMEOUT_MS"]) / 1000
    grace = coordinator["spec"]["template"]["spec"].get(
        "terminationGracePeriodSeconds", 30)
    c.check(grace > drain_s, f"{overlay}: terminationGracePeriodSeconds "
            f"{grace} > MDS_DRAIN_TIMEOUT_MS {drain_s:g} s")

    pipeline_config = generated(objs, "ConfigMap",
                                "mdp-pipeline-config")["data"]
    shutdown_s = int(pipeline_config["MDP_SHUTDOWN_TIMEOUT_MS"]) / 1000
    grace = pipeline["spec"]["template"]["spec"].get(
        "terminationGracePeriodSeconds", 30)
    c.check(grace > shutdown_s, f"{overlay}: pipeline grace period {grace} > "
            f"MDP_SHUTDOWN_TIMEOUT_MS {shutdown_s:g} s")

    # No data loss: the dead-letter file (records acked as dead-lettered,
    # never resent by a pipeline) is on each pod's own PersistentVolumeClaim,
    # which outlives the pod, in every overlay.
    dlq = config.get("MDS_DLQ_PATH", "")
    mount, volume, _ = mount_of(coordinator, dlq)
    templates = {t["metadata"]["name"]: t for t in
                 coordinator["spec"].get("volumeClaimTemplates", [])}
    c.check(dlq.startswith("/") and mount is not None,
            f"{overlay}: MDS_DLQ_PATH {dlq} is on a mounted volume")
    if mount is not None:
        c.check(volume is None and mount["name"] in templates,
                f"{overlay}: the dead-letter file's volume "
                f"{mount['name']!r} is a volumeClaimTemplate (a PVC per pod, "
                f"not an emptyDir)")
        c.check(not mount.get("readOnly"),
                f"{overlay}: the dead-letter volume is writable")
        claim = templates.get(mount["name"], {}).get("spec", {})
        c.check(claim.get("accessModes") == ["ReadWriteOnce"]
                and claim.get("resources", {}).get("requests", {})
                .get("storage"),
                f"{overlay}: the claim is ReadWriteOnce with a size")
    c.check(not any("emptyDir" in v for n, v in volumes.items()
                    if n != "tmp"),
            f"{overlay}: no coordinator data on an emptyDir "
            f"({sorted(volumes)})")
    c.check(coordinator["spec"].get("serviceName") == "mds-coordinator-zmq",
            f"{overlay}: the StatefulSet's pods are named under the "
            f"headless service")
    env = {e["name"]: e for e in containers(coordinator)[0].get("env", [])}
    if overlay == "dev":
        c.check(mount is not None and config["MDS_SINK"].startswith(
            "sqlite:" + mount["mountPath"].rstrip("/") + "/")
            and "MDS_SINK" not in env,
            "dev: MDS_SINK is SQLite on the claim")
        c.check(coordinator["spec"].get("replicas") == 1,
                "dev: one coordinator (one writer for the SQLite file)")
        c.check(coordinator["spec"].get("updateStrategy", {}).get("type")
                in (None, "RollingUpdate"),
                "dev: the rolling update replaces the one pod in place")
    if overlay.startswith("prod"):
        secret = env.get("MDS_SINK", {}).get("valueFrom", {}).get(
            "secretKeyRef", {})
        c.check(secret.get("name") == "mds-postgres" and secret.get("key"),
                f"{overlay}: MDS_SINK from the mds-postgres Secret")

    # Services: metrics ClusterIP and the headless ZeroMQ service.
    pod_labels = coordinator["spec"]["template"]["metadata"]["labels"]
    zmq = find(objs, "Service", "mds-coordinator-zmq")
    if c.check(zmq is not None, f"{overlay}: headless service"):
        c.check(zmq["spec"].get("clusterIP") == "None",
                f"{overlay}: mds-coordinator-zmq is headless")
        c.check(sorted(p["port"] for p in zmq["spec"]["ports"]) == [5555, 5556],
                f"{overlay}: mds-coordinator-zmq has 5555 and 5556")
        c.check(selects({"matchLabels": zmq["spec"]["selector"]}, pod_labels),
                f"{overlay}: mds-coordinator-zmq selects the coordinator")
        c.check(zmq["spec"].get("publishNotReadyAddresses") is True,
                f"{overlay}: HARD feedback still reachable when not ready")
    for service in (o for o in objs if o["kind"] == "Service"):
        target = coordinator if selects(
            {"matchLabels": service["spec"]["selector"]}, pod_labels) \
            else pipeline
        for p in service["spec"]["ports"]:
            c.check(port_number(target, p["targetPort"]) is not None,
                    f"{overlay}: {service['metadata']['name']} port "
                    f"{p['targetPort']} exists on the pod")
    for monitor in (o for o in objs if o["kind"] == "ServiceMonitor"):
        matched = [s for s in objs if s["kind"] == "Service" and selects(
            monitor["spec"]["selector"], s["metadata"].get("labels", {}))]
        names = {p.get("name") for s in matched for p in s["spec"]["ports"]}
        c.check(len(matched) == 1 and all(
            e["port"] in names and e["path"] == "/metrics"
            for e in monitor["spec"]["endpoints"]),
            f"{overlay}: ServiceMonitor {monitor['metadata']['name']} "
            f"selects one Service with its port")

    # NetworkPolicies, evaluated for sample peers.
    same_ns = {"kubernetes.io/metadata.name": NAMESPACE}
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    other_ns = {"kubernetes.io/metadata.name": "default"}
    pipeline_pod = {"app": "mdp-pipeline"}
    consumer = {"app": "dashboard", "mds-feedback-consumer": "true"}
    stranger = {"app": "something-else"}
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    cases = [
        (coordinator, 5555, pipeline_pod, same_ns, NAMESPACE, True),
        (coordinator, 5556, pipeline_pod, same_ns, NAMESPACE, True),
        (coordinator, 5556, consumer, other_ns, "default", True),
        (coordinator, 5555, consumer, other_ns, "default", False),
        (coordinator, 5555, stranger, same_ns, NAMESPACE, False),
        (coordinator, 5556, stranger, same_ns, NAMESPACE, False),
        (coordinator, 5555, pipeline_pod, other_ns, "default", False),
        (coordinator, 9102, prometheus, monitoring, "monitoring", True),
        (coordinator, 9102, pipeline_pod, same_ns, NAMESPACE, False),
        (coordinator, 9102, prometheus, other_ns, "default", False),
        (pipeline, 8000, prometheus, monitoring, "monitoring", True),
        (pipeline, 8000, stranger, same_ns, NAMESPACE, False),
        (coordinator, 5556, prometheus, monitoring, "monitoring", False),
    ]
    for target, port, labels, ns_labels, ns, expected in cases:
        got = allowed(objs, target, port, labels, ns_labels, ns)
        c.check(got == expected,
                f"{overlay}: {labels} from namespace {ns} -> "
                f"{target['metadata']['name']}:{port} "
                f"{'allowed' if expected else 'denied'}")

    # ScaledObjects.
    scalers = {o["metadata"]["name"]: o for o in objs
               if o["kind"] == "ScaledObject"}
    expected = {"dev": set(), "prod": {"mds-coordinator-scaler"},
                "prod-pipeline-autoscaling": {"mds-coordinator-scaler",
                                              "mdp-pipeline-scaler"}}
    if overlay in expected:
        c.check(set(scalers) == expected[overlay],
                f"{overlay}: ScaledObjects {sorted(expected[overlay])}")
    for name, scaler in scalers.items():
        spec = scaler["spec"]
        target = spec["scaleTargetRef"]["name"]
        kind = spec["scaleTargetRef"].get("kind", "Deployment")
        c.check(find(objs, kind, target) is not None,
                f"{overlay}: {name} targets a rendered {kind}")
        low, high = spec["minReplicaCount"], spec["maxReplicaCount"]
        fallback = spec.get("fallback", {})
        # Never scales down on a failure: the maximum (or, KEDA 2.15+,
        # behavior currentReplicasIfHigher).
        c.check(fallback.get("failureThreshold", 0) >= 1
                and (fallback.get("replicas") == high
                     or fallback.get("behavior") == "currentReplicasIfHigher"),
                f"{overlay}: {name} falls back to maxReplicaCount {high}, "
                f"never below the current count")
        managed = find(objs, kind, target) or {}
        c.check("replicas" not in managed.get("spec", {}),
                f"{overlay}: {kind} {target} (KEDA-managed) sets no "
                f"spec.replicas, so an apply cannot reset the count")
        if low >= 1:
            c.check("cooldownPeriod" not in spec,
                    f"{overlay}: {name} has no cooldownPeriod (only used "
                    f"to and from 0 replicas)")
        behavior = spec.get("advanced", {}).get(
            "horizontalPodAutoscalerConfig", {}).get("behavior", {})
        c.check("stabilizationWindowSeconds" in behavior.get("scaleDown", {}),
                f"{overlay}: {name} paces scale-down with HPA behavior")
        for trigger in spec["triggers"]:
            meta = trigger["metadata"]
            tname = f"{overlay}: {name}/{trigger.get('name')}"
            c.check(trigger["type"] == "prometheus", f"{tname}: prometheus")
            c.check(meta.get("ignoreNullValues") == "false",
                    f"{tname}: ignoreNullValues \"false\"")
            c.check(trigger.get("metricType", "AverageValue")
                    in ("AverageValue", "Value"),
                    f"{tname}: metricType AverageValue or Value (the replica "
                    f"math of deploy_common.hpa_desired)")
            c.check(re.fullmatch(r"\d+(\.\d+)?", meta.get("threshold", ""))
                    is not None and float(meta["threshold"]) > 0,
                    f"{tname}: numeric threshold")
            c.check(f'namespace="{NAMESPACE}"' in meta.get("query", ""),
                    f"{tname}: query limited to namespace {NAMESPACE}")
    if "mds-coordinator-scaler" in scalers:
        triggers = scalers["mds-coordinator-scaler"]["spec"]["triggers"]
        c.check(len(triggers) == 1, f"{overlay}: the coordinator scaler has "
                f"one trigger (the replica table has one dimension)")
        for trigger in triggers:
            query = " ".join(trigger["metadata"]["query"].split())
            # The loop's own pressure (a fraction), averaged over the
            # coordinators (falls as added coordinators take their share),
            # compared as a Value: the HPA scales the current count.
            c.check(re.fullmatch(r"avg\(coordinator_pressure\{[^}]*\}\)",
                                 query) is not None
                    and trigger.get("metricType") == "Value",
                    f"{overlay}: coordinators scaled on the average store "
                    f"pressure as a Value ({query})")
            # Pressure 1 (sink down, queue at the high watermark) must be
            # past the target by more than the HPA's tolerance.
            c.check(0 < float(trigger["metadata"]["threshold"])
                    < 1 / (1 + HPA_TOLERANCE),
                    f"{overlay}: pressure target below 1 / (1 + tolerance): "
                    f"a sink down asks for more coordinators")
        for scaler in scalers.values():
            for trigger in scaler["spec"]["triggers"]:
                query = trigger["metadata"]["query"]
                c.check("queue_depth" not in query
                        or "coordinator_queue_capacity" in query,
                        f"{overlay}: {scaler['metadata']['name']}/"
                        f"{trigger.get('name')}: a queue trigger is a "
                        f"fraction of capacity, not a record count")
        check_replica_table(overlay, scalers)
    # PrometheusRule == deploy/prometheus/rules/mdbp-alerts.yml.
    rule = find(objs, "PrometheusRule", "mdbp-alerts")
    plain = yaml.safe_load(open(os.path.join(
        DEPLOY, "prometheus", "rules", "mdbp-alerts.yml")))
    c.check(rule is not None and rule["spec"] == plain,
            f"{overlay}: PrometheusRule equals rules/mdbp-alerts.yml")
    # Rules that name the namespace (absent() has no series to take it
    # from) name the one the overlay deploys to.
    workload_ns = coordinator["metadata"].get("namespace")
    for group in (rule or {}).get("spec", {}).get("groups", []):
        for alert in group["rules"]:
            named = re.findall(r'namespace\s*=~?\s*"([^"]*)"', alert["expr"])
            c.check(all(n == workload_ns for n in named),
                    f"{overlay}: {alert['alert']} names namespace "
                    f"{workload_ns} only ({named})")
            if "absent(" in alert["expr"]:
                c.check(named == [workload_ns],
                        f"{overlay}: {alert['alert']}: absent() names the "
                        f"namespace, so the alert carries it")


found = overlays()
c.check({"dev", "prod"} <= {os.path.basename(p) for p in found},
        "overlays dev and prod exist")
for overlay_path in found:
    check_overlay(overlay_path)
# The base renders on its own too.
c.check(len(objects(kustomize(os.path.join(KUBERNETES, "base")))) > 0,
        "base renders")
print(f"rendered {len(found)} overlays under "
      f"{os.path.relpath(KUBERNETES, SOURCE_ROOT)}")
c.finish()
