#!/usr/bin/python3
"""docker-compose.yml: `docker-compose config -q` exits 0 (Debian's
docker-compose, offline), and the resolved file (postgres profile included)
has what deploy/README.md promises: health checks, ordered start-up, named
volumes, a stop grace period above the drain timeout, PostgreSQL only under
its profile, only files that exist mounted into the containers, every port
published on 127.0.0.1 only (plaintext ZeroMQ, Grafana's default password),
and every localhost port the README's compose section uses is published."""

import os
import re

import yaml

from deploy_common import DEPLOY, SOURCE_ROOT, Checker, fail, require_tool, run

# What deploy/README.md tells the user to open: service -> container ports.
PUBLISHED = {
    "mds-coordinator": {5555, 5556, 9102},
    "mdp-pipeline": {8000},
    "prometheus": {9090},
    "grafana": {3000},
    "postgres": {5432},
    "mds-coordinator-pg": {9102},
    "mdp-pipeline-pg": {8000},
}

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



def port_spec(port):
    """(host address, host port, container port) of a published port."""
    if isinstance(port, dict):
        return (port.get("host_ip"), int(port["published"]),
                int(port["target"]))
    parts = str(port).split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    return None, int(parts[0]), int(parts[-1])


# Resources: every service has a CPU and memory limit and a memory
# reservation below it; ours match the Kubernetes manifests' limits.
def memory_bytes(text):
    match = re.fullmatch(r"(\d+)([kmg]?)b?", str(text).lower())
    c.check(match is not None, f"memory {text!r} parses")
    return int(match.group(1)) * 1024 ** " kmg".index(match.group(2) or " ")


K8S_LIMITS = {"mds-coordinator": ("2", "512m"), "mdp-pipeline": ("1", "256m")}
for name, service in services.items():
    limit = service.get("mem_limit")
    reserve = service.get("mem_reservation")
    c.check(float(service.get("cpus", 0)) > 0 and limit and reserve
            and memory_bytes(reserve) <= memory_bytes(limit),
            f"{name}: cpus, mem_limit and mem_reservation <= mem_limit "
            f"({service.get('cpus')}, {limit}, {reserve})")
for name, (cpus, memory) in K8S_LIMITS.items():
    for lane in (name, name + "-pg"):
        c.check(float(services[lane]["cpus"]) == float(cpus)
                and memory_bytes(services[lane]["mem_limit"])
                == memory_bytes(memory),
                f"{lane}: limits as in Kubernetes ({cpus} cpus, {memory})")

# Versions: the images are tagged with the project's version, which is the
# Dockerfiles' VERSION and their OCI version label.
version = re.search(r"version\s*:\s*'([^']+)'",
                    open(os.path.join(SOURCE_ROOT, "meson.build")).read())[1]
for name in ("mds-coordinator", "mdp-pipeline", "mds-coordinator-pg",
             "mdp-pipeline-pg"):
    c.check(services[name]["image"].endswith(":" + version),
            f"{name}: image tag {version} ({services[name]['image']})")
for dockerfile in ("Dockerfile.coordinator", "Dockerfile.pipeline"):
    text = open(os.path.join(DEPLOY, "docker", dockerfile)).read()
    c.check(re.search(rf"^ARG VERSION={re.escape(version)}$", text, re.M)
            is not None, f"{dockerfile}: ARG VERSION={version}")
    runtime = text.split("AS runtime", 1)[-1]
    for label in ("title", "description", "version", "revision",
                  "base.name"):
        c.check(f"org.opencontainers.image.{label}=" in runtime,
                f"{dockerfile}: OCI label {label} on the final image")
    c.check('org.opencontainers.image.version="${VERSION}"' in runtime
            and re.search(r"^ARG VERSION$", runtime, re.M) is not None,
            f"{dockerfile}: the version label is VERSION")

host_ports = {}
for name, service in services.items():
    specs = [port_spec(p) for p in service.get("ports", [])]
    for host_ip, host_port, target in specs:
        c.check(host_ip == "127.0.0.1", f"{name}: port {host_port} is "
                f"published on 127.0.0.1 only (got {host_ip or 'all'})")
        c.check(host_port not in host_ports,
                f"{name}: host port {host_port} is not taken twice")
        host_ports[host_port] = name
    c.check({target for _, _, target in specs} == PUBLISHED.get(name, set()),
            f"{name}: publishes {sorted(PUBLISHED.get(name, set()))}")

# The README's compose section: each localhost port it uses is published.
readme = open(os.path.join(DEPLOY, "README.md")).read()
section = readme.split("## docker-compose", 1)[1].split("\n## ", 1)[0]
used = {int(p) for p in re.findall(r"(?:localhost|127\.0\.0\.1):(\d+)",
                                   section)}
c.check(len(used) >= 4, f"the README's compose section uses ports "
        f"{sorted(used)}")
for port in sorted(used):
    c.check(port in host_ports, f"README: localhost:{port} is published "
            f"({host_ports.get(port)})")

c.finish()
