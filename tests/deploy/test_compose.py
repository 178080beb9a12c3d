#!/usr/bin/python3
"""docker-compose.yml: `docker-compose config -q` exits 0 (Debian's
docker-compose, offline), and the resolved file (postgres profile included)
has what deploy/README.md promises: health checks, ordered start-up, named
volumes, a stop grace period above the drain timeout, PostgreSQL only under
its profile, and only files that exist mounted into the containers."""

import os
import re

import yaml

from deploy_common import SOURCE_ROOT, Checker, fail, require_tool, run

compose = require_tool("docker-compose", "Debian package docker-compose")
path = os.path.join(SOURCE_ROOT, "docker-compose.yml")

quiet = run([compose, "-f", path, "config", "-q"], cwd=SOURCE_ROOT)
if quiet.returncode != 0:
    fail(f"docker-compose config -q exited {quiet.returncode}:\n{quiet.stderr}")
print("docker-compose -f docker-compose.yml config -q: ok")

full = run([compose, "-f", path, "--profile", "postgres", "config"],
           cwd=SOURCE_ROOT)
if full.returncode != 0:
    fail(f"docker-compose --profile postgres config:\n{full.stderr}")
config = yaml.safe_load(full.stdout)
services = config["services"]
raw = yaml.safe_load(open(path))
c = Checker()


def volume_spec(volume):
    """(type, source, target) of a short ("src:dst[:mode]") or long entry."""
    if isinstance(volume, dict):
        return volume.get("type"), volume.get("source"), volume.get("target")
    parts = volume.split(":")
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith(("/", ".")) else "volume"
    return kind, source, target


def seconds(text):
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(text))
    c.check(match is not None, f"duration {text!r} parses")
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


for name in ("mds-coordinator", "mdp-pipeline", "prometheus", "grafana",
             "postgres", "mds-coordinator-pg", "mdp-pipeline-pg"):
    c.check(name in services, f"service {name} exists")
    c.check("healthcheck" in services.get(name, {}),
            f"service {name} has a healthcheck")

for name in ("postgres", "mds-coordinator-pg", "mdp-pipeline-pg"):
    c.check(raw["services"][name].get("profiles") == ["postgres"],
            f"{name} runs only under the postgres profile")
for name in ("mds-coordinator", "mdp-pipeline", "prometheus", "grafana"):
    c.check("profiles" not in raw["services"][name],
            f"{name} runs without a profile")

expected_order = {
    "mdp-pipeline": ("mds-coordinator", "service_healthy"),
    "mdp-pipeline-pg": ("mds-coordinator-pg", "service_healthy"),
    "mds-coordinator-pg": ("postgres", "service_healthy"),
    "grafana": ("prometheus", "service_healthy"),
    "prometheus": ("mds-coordinator", "service_started"),
}
for name, (dependency, condition) in expected_order.items():
    depends = services[name].get("depends_on", {})
    c.check(isinstance(depends, dict)
            and depends.get(dependency, {}).get("condition") == condition,
            f"{name} depends on {dependency} with {condition}")

for name in ("mds-coordinator", "mds-coordinator-pg"):
    service = services[name]
    env = service["environment"]
    drain_s = int(env["MDS_DRAIN_TIMEOUT_MS"]) / 1000
    c.check(seconds(service.get("stop_grace_period", "10s")) > drain_s,
            f"{name}: stop_grace_period above MDS_DRAIN_TIMEOUT_MS")
    c.check(service.get("read_only") is True, f"{name}: read-only root")
    c.check(service.get("cap_drop") == ["ALL"], f"{name}: drops capabilities")
    data = [volume_spec(v) for v in service.get("volumes", [])
            if volume_spec(v)[2] == "/var/lib/mds/data"]
    c.check(len(data) == 1 and data[0][0] == "volume"
            and data[0][1] in config["volumes"],
            f"{name}: data on a named volume")
c.check(services["mds-coordinator"]["environment"]["MDS_SINK"]
        .startswith("sqlite:/var/lib/mds/data/"),
        "mds-coordinator writes SQLite on its volume")
c.check(services["mds-coordinator-pg"]["environment"]["MDS_SINK"]
        .startswith("postgres://"), "mds-coordinator-pg writes PostgreSQL")
for name in ("mdp-pipeline", "mdp-pipeline-pg"):
    env = services[name]["environment"]
    c.check(seconds(services[name].get("stop_grace_period", "10s"))
            > int(env["MDP_SHUTDOWN_TIMEOUT_MS"]) / 1000,
            f"{name}: stop_grace_period above MDP_SHUTDOWN_TIMEOUT_MS")
    target = "mds-coordinator-pg" if name.endswith("-pg") else "mds-coordinator"
    c.check(env["MDP_STORE_ENDPOINTS"] == f"tcp://{target}:5555"
            and env["MDP_FEEDBACK_ENDPOINTS"] == f"tcp://{target}:5556",
            f"{name} is pointed at {target}")

for name, service in services.items():
    build = service.get("build")
    if build:
        dockerfile = os.path.join(build["context"], build["dockerfile"])
        c.check(os.path.isfile(dockerfile), f"{name}: {dockerfile} exists")
    for volume in service.get("volumes", []):
        kind, source, _ = volume_spec(volume)
        if kind == "bind":
            c.check(os.path.exists(source),
                    f"{name}: bind source {source} exists")

c.finish()
