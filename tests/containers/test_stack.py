#!/usr/bin/python3
"""The images and the compose stack in a real container engine (issue 13).

1. Engine: uses the Docker engine DOCKER_HOST (or the default socket)
   points at if one answers; otherwise starts its own dockerd with its own
   data and exec roots under a temp dir and no change to the host's
   networking (--iptables=false --bridge=none ...). If neither is possible
   (not root, dockerd missing, the daemon does not come up) it says why and
   exits 77 (skipped): it never reports a pass it did not see.
2. Base: `debian:bookworm-slim` is built with debootstrap from Debian's
   packages when the engine does not have it (no registry is reachable),
   with the slim image's dpkg/apt clean-up settings.
3. Images: both project images built with the shipped Dockerfiles
   (`docker build --network host`, the repository as context), and, for the
   compose file's third-party services, PostgreSQL and Prometheus images
   made from Debian packages the same way (tests/containers/images).
   Grafana has no Debian package and no image here: it is left out.
4. Stack: docker-compose.yml with the postgres profile, as `docker-compose
   config` resolves it, run in one private network namespace (a holder
   container with network_mode none; every service joins it), so nothing
   is published on the host. Inside it each service listens on the port
   the compose file publishes it on (127.0.0.1:9112 for the -pg
   coordinator, ...), so the README's addresses hold there; the -pg lane's
   unpublished ZeroMQ ports move to free ones. The test reaches the
   services through that namespace (nsenter).
5. Checks: every service healthy; /health and /metrics of both
   coordinators and both pipelines; Prometheus scrapes all four and loaded
   the rules; the seed's dashboard, alert and KEDA queries (filtering
   source="store_coordinator", provider="ibkr") return data unchanged;
   rows in the SQLite file (on the named volume) and in PostgreSQL; user 10001 (the process's real uid, read from /proc), a
   read-only root (a write fails), the compose resource limits applied,
   the image tagged and OCI-labelled with the project's version;
   `docker-compose stop` (SIGTERM) ends every service with exit code 0.
6. Clean-up: containers, volumes, images and build cache it made; a daemon
   it started is stopped, its mounts (netns, overlays) unmounted and its
   roots deleted.

Prints the time of each phase and the total (the CI budget is 15 min)."""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
from deploy_common import SOURCE_ROOT, SKIP, Checker  # noqa: E402

BASE_IMAGE = "debian:bookworm-slim"
PROJECT_VERSION = re.search(r"version\s*:\s*'([^']+)'", open(os.path.join(
    SOURCE_ROOT, "meson.build")).read()).group(1)
DEBIAN_MIRROR = os.environ.get("MDBP_DEBIAN_MIRROR",
                               "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("MDBP_DEBIAN_SECURITY_MIRROR",
                                 "http://deb.debian.org/debian-security")
SERVICE_UID = 10001
DAEMON_START_DEADLINE_S = 60
DAEMON_STOP_DEADLINE_S = 30
HEALTHY_DEADLINE_S = 180
SCRAPE_DEADLINE_S = 90
ROWS_DEADLINE_S = 60
POLL_S = 0.5
# The seed's queries (market_data_pipeline phase 6.0: dashboard panels 1-3,
# verification queries 1-3, the alerts PipelineQueueHigh and
# PipelineHardBackpressure, the KEDA triggers), unchanged; the alerts' and
# the triggers' thresholds left off (a healthy stack is below them), which
# makes them the panels' expressions plus the second trigger's. The
# pod-count panel (kube_pod_info) needs kube-state-metrics: no cluster here.
SEED_QUERIES = (
    ("seed's panel 1, query 1, PipelineQueueHigh, KEDA trigger 1",
     'max(pipeline_feedback_queue_depth{source="store_coordinator"})'),
    ("seed's panel 2, query 2",
     'avg(pipeline_rate_scale_factor{provider="ibkr"})'),
    ("seed's panel 3, query 3, PipelineHardBackpressure",
     'max(pipeline_backpressure_state{provider="ibkr"})'),
    ("seed's KEDA trigger 2", "max(pipeline_backpressure_state)"),
)
# The shipped PipelineQueueHigh's join (source = coordinator_id) without its
# threshold: it must still match the seed-named coordinator.
SHIPPED_JOIN = (
    'max by (namespace, pod, instance, source) (pipeline_feedback_queue_depth'
    '{source="store_coordinator"}) / on (namespace, source) group_left '
    'max by (namespace, source) (label_replace(coordinator_queue_capacity, '
    '"source", "$1", "coordinator_id", "(.+)"))')
# Services of docker-compose.yml run here (grafana: no image, see above).
SERVICES = ("mds-coordinator", "mdp-pipeline", "prometheus", "postgres",
            "mds-coordinator-pg", "mdp-pipeline-pg")
OUR_SERVICES = ("mds-coordinator", "mdp-pipeline", "mds-coordinator-pg",
                "mdp-pipeline-pg")
LEFT_OUT = ("grafana",)
NETNS_SERVICE = "netns"
# The variable that sets each listening port of a service, by container
# port (None: the port is fixed by the image).
LISTEN_VARIABLES = {
    "mds-coordinator": {5555: ("MDS_INGEST_ENDPOINT", "tcp://*:{}"),
                        5556: ("MDS_FEEDBACK_ENDPOINT", "tcp://*:{}"),
                        9102: ("MDS_HTTP_PORT", "{}")},
    "mdp-pipeline": {8000: ("MDP_METRICS_STANDALONE_PORT", "{}")},
    "prometheus": {9090: None},
    "postgres": {5432: None},
}
LISTEN_VARIABLES["mds-coordinator-pg"] = LISTEN_VARIABLES["mds-coordinator"]
LISTEN_VARIABLES["mdp-pipeline-pg"] = LISTEN_VARIABLES["mdp-pipeline"]
# Test images for the compose file's third-party services.
TEST_IMAGES = {"postgres": "Dockerfile.postgres",
               "prometheus": "Dockerfile.prometheus"}

started_at = time.monotonic()
phase_started_at = started_at
phases = []


def phase(name):
    """Ends the running phase (its time is printed) and starts `name`."""
    global phase_started_at
    now = time.monotonic()
    if phases:
        phases[-1] = (phases[-1][0], now - phase_started_at)
        print(f"== {phases[-1][0]}: {phases[-1][1]:.0f} s", flush=True)
    phases.append((name, None))
    phase_started_at = now
    print(f"== {name} ...", flush=True)


def skip(message):
    print(f"SKIP: {message}", flush=True)
    sys.exit(SKIP)


def run(argv, check=True, **kwargs):
    """Runs argv with the engine's environment; output captured."""
    result = subprocess.run(argv, capture_output=True, text=True,
                            env=engine_env, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n"
                           f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def run_logged(argv, log_path, **kwargs):
    """Runs argv with its output in log_path; on failure raises with the
    log's tail."""
    with open(log_path, "w") as log:
        result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                env=engine_env, **kwargs)
    if result.returncode != 0:
        tail = open(log_path, errors="replace").read()[-4000:]
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}; "
                           f"end of {log_path}:\n{tail}")


def wait_for(what, deadline_s, probe):
    """Polls probe() until it returns a true value; raises after deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise RuntimeError(f"timed out after {deadline_s} s waiting for "
                               f"{what}")
        time.sleep(POLL_S)


# --- the engine -----------------------------------------------------------

engine_env = dict(os.environ)
engine_env.pop("DOCKER_CONTEXT", None)


class Engine:
    """A Docker engine: one already running, or a dockerd of our own."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.daemon = None           # Popen of our dockerd
        self.root = None             # its data + exec roots live here
        self.docker = None           # the CLI
        self.own = False

    def has_buildkit(self):
        """Whether this CLI can build with BuildKit: built in before 23.0,
        the buildx plugin from then on."""
        version = subprocess.run([self.docker, "version", "--format",
                                  "{{.Client.Version}}"], capture_output=True,
                                 text=True, env=engine_env).stdout.strip()
        major = re.match(r"(\d+)", version)
        if major and int(major.group(1)) < 23:
            return True
        return subprocess.run([self.docker, "buildx", "version"],
                              capture_output=True,
                              env=engine_env).returncode == 0

    def answers(self):
        result = subprocess.run([self.docker, "info", "--format",
                                 "{{.ServerVersion}}"], capture_output=True,
                                text=True, env=engine_env)
        return result.returncode == 0 and result.stdout.strip()

    def start(self):
        dockerd = shutil.which("dockerd")
        # The CLI shipped with the daemon (Debian's docker.io: /usr/bin)
        # speaks its API version and has BuildKit built in; another CLI
        # first on PATH may need a buildx plugin it lacks.
        candidates = [os.path.join(os.path.dirname(dockerd), "docker")
                      if dockerd else None, "/usr/bin/docker",
                      shutil.which("docker")]
        self.docker = next((p for p in candidates
                            if p and os.access(p, os.X_OK)), None)
        if self.docker is None:
            skip("no docker CLI (apt-get install docker.io)")
        if self.answers():
            print(f"using the running engine "
                  f"{engine_env.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}")
            return
        if dockerd is None:
            skip("no engine is running and dockerd is not installed "
                 "(apt-get install docker.io)")
        if os.geteuid() != 0:
            skip("no engine is running and starting dockerd needs root")
        # A short path: the daemon's unix sockets live below it.
        self.root = tempfile.mkdtemp(prefix="mdbp-ct-", dir="/tmp")
        namespace = f"mdbp-ct-{os.getpid()}"
        socket = os.path.join(self.root, "docker.sock")
        config = os.path.join(self.root, "daemon.json")
        with open(config, "w") as f:
            f.write("{}\n")          # not the host's /etc/docker/daemon.json
        argv = [dockerd,
                "--config-file", config,
                "--data-root", os.path.join(self.root, "root"),
                "--exec-root", os.path.join(self.root, "exec"),
                "--pidfile", os.path.join(self.root, "docker.pid"),
                "-H", f"unix://{socket}",
                "--containerd-namespace", namespace,
                "--containerd-plugins-namespace", f"{namespace}-plugins",
                # Host networking untouched: no bridge, no iptables rules.
                "--iptables=false", "--ip6tables=false", "--ip-forward=false",
                "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
                "--storage-driver=overlay2"]
        self.log = os.path.join(self.workdir, "dockerd.log")
        self.daemon = subprocess.Popen(argv, stdout=open(self.log, "w"),
                                       stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.own = True
        engine_env["DOCKER_HOST"] = f"unix://{socket}"
        end = time.monotonic() + DAEMON_START_DEADLINE_S
        while not self.answers():
            if self.daemon.poll() is not None or time.monotonic() > end:
                tail = open(self.log, errors="replace").read()[-2000:]
                self.stop()
                skip(f"dockerd could not start here (exit "
                     f"{self.daemon.returncode}); end of its log:\n{tail}")
            time.sleep(POLL_S)
        print(f"started dockerd (pid {self.daemon.pid}), roots in {self.root}")

    def stop(self):
        """Stops our daemon, unmounts what it left mounted below its roots
        and deletes them. Returns a list of what could not be cleaned."""
        problems = []
        if not self.own:
            return problems
        if self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=DAEMON_STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                problems.append("dockerd ignored SIGTERM: killed")
                self.daemon.kill()
                self.daemon.wait()
        containerd_pid = os.path.join(self.root, "exec", "containerd",
                                      "containerd.pid")
        if os.path.exists(containerd_pid):
            try:
                pid = int(open(containerd_pid).read().strip() or 0)
                if pid and os.path.exists(f"/proc/{pid}"):
                    os.kill(pid, signal.SIGTERM)
                    problems.append(f"containerd {pid} outlived dockerd")
            except (ValueError, OSError):
                pass
        for mount in reversed(self.mounts()):
            result = subprocess.run(["umount", "-l", mount],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                problems.append(f"umount {mount}: {result.stderr.strip()}")
        left = self.mounts()
        if left:
            problems.append(f"still mounted: {left}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
            if os.path.exists(self.root):
                problems.append(f"{self.root} could not be deleted")
        return problems

    def mounts(self):
        """Mount points below our roots (the netns, overlays, shm)."""
        points = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point == self.root or point.startswith(self.root + "/"):
                    points.append(point)
        return points


# --- images ---------------------------------------------------------------

def image_exists(engine, name):
    return run([engine.docker, "image", "inspect", name],
               check=False).returncode == 0


def slim(rootfs):
    """What debootstrap installed that the slim image does not keep: the
    files its dpkg settings (base/dpkg-docker.cfg) exclude, the downloaded
    packages, the package lists and the install logs."""
    excluded = {"usr/share/doc": "copyright", "usr/share/man": None,
                "usr/share/groff": None, "usr/share/info": None,
                "usr/share/lintian": None, "usr/share/linda": None,
                "usr/share/locale": "locale.alias"}
    for folder, keep in excluded.items():
        top = os.path.join(rootfs, folder)
        for dirpath, _, filenames in os.walk(top, topdown=False):
            for filename in filenames:
                if keep is None or filename != keep:
                    os.remove(os.path.join(dirpath, filename))
            if dirpath != top and not os.listdir(dirpath):
                os.rmdir(dirpath)
    for folder in ("var/cache/apt/archives", "var/cache/apt",
                   "var/lib/apt/lists", "var/log"):
        for entry in os.listdir(os.path.join(rootfs, folder)):
            path = os.path.join(rootfs, folder, entry)
            if os.path.isfile(path) and entry != "lock":
                os.remove(path)


def build_base(engine, workdir):
    """debian:bookworm-slim from Debian's packages (debootstrap minbase and
    the slim image's settings), imported into the engine."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        skip(f"{BASE_IMAGE} is not in the engine and debootstrap is not "
             f"installed (apt-get install debootstrap)")
    rootfs = os.path.join(workdir, "rootfs")
    run_logged([debootstrap, "--variant=minbase", "bookworm", rootfs,
                DEBIAN_MIRROR], os.path.join(workdir, "debootstrap.log"))
    base = os.path.join(HERE, "base")
    os.makedirs(os.path.join(rootfs, "etc/dpkg/dpkg.cfg.d"), exist_ok=True)
    shutil.copy(os.path.join(base, "dpkg-docker.cfg"),
                os.path.join(rootfs, "etc/dpkg/dpkg.cfg.d/docker"))
    shutil.copy(os.path.join(base, "apt-docker-clean.conf"),
                os.path.join(rootfs, "etc/apt/apt.conf.d/docker-clean"))
    sources = open(os.path.join(base, "debian.sources")).read()
    with open(os.path.join(rootfs, "etc/apt/sources.list.d/debian.sources"),
              "w") as f:
        f.write(sources.replace("@MIRROR@", DEBIAN_MIRROR)
                .replace("@SECURITY_MIRROR@", SECURITY_MIRROR))
    os.remove(os.path.join(rootfs, "etc/apt/sources.list"))
    slim(rootfs)
    tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c",
                            "."], stdout=subprocess.PIPE)
    result = subprocess.run([engine.docker, "import", "--change",
                             'CMD ["bash"]', "-", BASE_IMAGE],
                            stdin=tar.stdout, capture_output=True, text=True,
                            env=engine_env)
    tar.stdout.close()
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    if result.returncode != 0 or tar.returncode != 0:
        raise RuntimeError(f"docker import: {result.stderr}")


def build_image(engine, workdir, dockerfile, context, tag, buildkit):
    env_note = "BuildKit" if buildkit else "legacy builder"
    print(f"building {tag} from {os.path.relpath(dockerfile, SOURCE_ROOT)} "
          f"({env_note})", flush=True)
    engine_env["DOCKER_BUILDKIT"] = "1" if buildkit else "0"
    log = os.path.join(workdir, f"build-{tag.replace('/', '_')}.log")
    run_logged([engine.docker, "build", "--network", "host", "--progress",
                "plain", "-f", dockerfile, "-t", tag, context]
               if buildkit else
               [engine.docker, "build", "--network", "host", "--rm",
                "--force-rm", "-f", dockerfile, "-t", tag, context], log)


# --- the stack ------------------------------------------------------------

def published(service):
    """{container port: host port} of a resolved service's `ports`."""
    ports = {}
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports[int(port["target"])] = int(port["published"])
        else:
            parts = str(port).split("/")[0].split(":")
            ports[int(parts[-1])] = int(parts[-2] if len(parts) > 1
                                        else parts[-1])
    return ports


def port_map(services):
    """{(service, container port): port in the shared namespace}: the
    published host port, else the container port, else the next free one."""
    mapping, taken = {}, set()
    for name in SERVICES:
        for target, host in published(services[name]).items():
            mapping[(name, target)] = host
            taken.add(host)
    for name in SERVICES:
        for target in LISTEN_VARIABLES[name]:
            if (name, target) in mapping:
                continue
            port = target
            while port in taken:
                port += 10
            mapping[(name, target)] = port
            taken.add(port)
    return mapping


def rewrite(text, mapping):
    """`service:port` references moved to the shared namespace's ports."""
    for (name, target), port in mapping.items():
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}:{target}(?!\d)",
                      f"{name}:{port}", text)
    return text


def derive_compose(engine, workdir, project, images):
    """The file the test runs: docker-compose.yml resolved with its postgres
    profile, every service in the holder's network namespace, nothing
    published, ports moved as port_map() says, the test images for the
    third-party services, grafana left out."""
    result = run(["docker-compose", "-f",
                  os.path.join(SOURCE_ROOT, "docker-compose.yml"),
                  "--profile", "postgres", "config"], cwd=SOURCE_ROOT)
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    missing = [n for n in SERVICES + LEFT_OUT if n not in services]
    if missing:
        raise RuntimeError(f"docker-compose.yml lacks services {missing}")
    mapping = port_map(services)
    for name in LEFT_OUT:
        del services[name]
    for name in SERVICES:
        service = services[name]
        service.pop("ports", None)
        service.pop("networks", None)
        service.pop("build", None)
        service["network_mode"] = f"service:{NETNS_SERVICE}"
        depends = service.setdefault("depends_on", {})
        depends[NETNS_SERVICE] = {"condition": "service_started"}
        if name in images:
            service["image"] = images[name]
        env = service.get("environment") or {}
        for key, value in list(env.items()):
            if isinstance(value, str):
                env[key] = rewrite(value, mapping)
        for target, variable in LISTEN_VARIABLES[name].items():
            if variable is not None:
                key, form = variable
                env[key] = form.format(mapping[(name, target)])
        if env:
            service["environment"] = env
        health = service.get("healthcheck", {}).get("test")
        if isinstance(health, list):
            service["healthcheck"]["test"] = [
                str(mapping.get((name, int(a)), a)) if a.isdigit() else a
                for a in health]
    # Prometheus' configuration with the targets moved; the rules as shipped.
    prom_dir = os.path.join(workdir, "prometheus")
    shutil.copytree(os.path.join(SOURCE_ROOT, "deploy", "prometheus"),
                    prom_dir, ignore=shutil.ignore_patterns("tests"))
    config_path = os.path.join(prom_dir, "prometheus.yml")
    text = rewrite(open(config_path).read(), mapping)
    open(config_path, "w").write(text)
    os.chmod(prom_dir, 0o755)
    volumes = services["prometheus"]["volumes"]
    for i, volume in enumerate(volumes):
        if isinstance(volume, dict) and volume.get("target") == \
                "/etc/prometheus":
            volume["source"] = prom_dir
        elif isinstance(volume, str) and ":/etc/prometheus" in volume:
            volumes[i] = f"{prom_dir}:/etc/prometheus:ro"
    names = sorted(SERVICES)
    services[NETNS_SERVICE] = {
        "image": BASE_IMAGE,
        "command": ["sleep", "infinity"],
        "network_mode": "none",
        # sleep as PID 1 ignores SIGTERM; nothing to drain here.
        "stop_signal": "SIGKILL",
        # Every service name means this namespace's loopback, as the compose
        # network's DNS would give each its own address.
        "extra_hosts": [f"{n}:127.0.0.1" for n in names],
    }
    config.pop("networks", None)
    path = os.path.join(workdir, "docker-compose.containers.yml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    print(f"ports in the shared namespace: "
          f"{ {f'{n}:{t}': p for (n, t), p in sorted(mapping.items())} }")
    return path, mapping, config


class Stack:
    def __init__(self, engine, path, project):
        self.engine = engine
        self.compose = ["docker-compose", "-p", project, "-f", path,
                        "--profile", "postgres"]
        self.project = project

    def __call__(self, *args, check=True, **kwargs):
        return run(self.compose + list(args), check=check, **kwargs)

    def container(self, service):
        ids = self("ps", "-q", service).stdout.split()
        return ids[0] if ids else None

    def inspect(self, service):
        cid = self.container(service)
        if cid is None:
            return None
        return json.loads(run([self.engine.docker, "inspect", cid]).stdout)[0]


def http(netns_pid, url):
    """(status, body) of GET url from inside the stack's namespace."""
    result = subprocess.run(
        ["nsenter", "-t", str(netns_pid), "-n", "curl", "-s", "-m", "3",
         "-o", "-", "-w", "\n%{http_code}", url],
        capture_output=True, text=True)
    body, _, status = result.stdout.rpartition("\n")
    return (int(status) if status.isdigit() and status != "000" else None,
            body)


def memory_bytes(text):
    """Bytes of a compose memory size (512m, 1g, or a number)."""
    match = re.fullmatch(r"(\d+)([kmg]?)b?", str(text).lower())
    if match is None:
        return 0
    return int(match.group(1)) * 1024 ** " kmg".index(match.group(2) or " ")


def metric(text, name):
    """Sum of the samples of `name` (any labels) in an exposition."""
    total, seen = 0.0, False
    for line in text.splitlines():
        match = re.match(rf"{re.escape(name)}(?:{{[^}}]*}})?\s+(\S+)$", line)
        if match:
            total += float(match.group(1))
            seen = True
    return total if seen else None


def check_running(c, stack, mapping, config):
    netns_pid = stack.inspect(NETNS_SERVICE)["State"]["Pid"]

    def all_healthy():
        states = {}
        for name in SERVICES:
            info = stack.inspect(name)
            if info is None:
                states[name] = "missing"
                continue
            state = info["State"]
            if not state.get("Running"):
                raise RuntimeError(f"{name} is not running: {state}\n"
                                   f"{stack('logs', '--tail', '30', name, check=False).stdout}")
            states[name] = state.get("Health", {}).get("Status", "none")
        return all(s == "healthy" for s in states.values()) and states

    states = wait_for("every service healthy", HEALTHY_DEADLINE_S, all_healthy)
    c.check(True, f"every service healthy: {sorted(states)}")

    http_ports = {"mds-coordinator": 9102, "mds-coordinator-pg": 9102,
                  "mdp-pipeline": 8000, "mdp-pipeline-pg": 8000}
    for name, target in http_ports.items():
        port = mapping[(name, target)]
        status, _ = http(netns_pid, f"http://127.0.0.1:{port}/health")
        c.check(status == 200, f"{name}: GET 127.0.0.1:{port}/health 200 "
                f"({status})")
        status, body = http(netns_pid, f"http://127.0.0.1:{port}/metrics")
        c.check(status == 200 and "# TYPE" in body,
                f"{name}: /metrics serves an exposition ({status})")

    def written(name):
        port = mapping[(name, 9102)]
        status, body = http(netns_pid, f"http://127.0.0.1:{port}/metrics")
        value = metric(body, "coordinator_records_written_total") \
            if status == 200 else None
        return value if value else None

    for name in ("mds-coordinator", "mds-coordinator-pg"):
        value = wait_for(f"{name} writing records", ROWS_DEADLINE_S,
                         lambda: written(name))
        c.check(value > 0, f"{name}: coordinator_records_written_total "
                f"{value:.0f} > 0")
    for name in ("mdp-pipeline", "mdp-pipeline-pg"):
        port = mapping[(name, 8000)]
        _, body = http(netns_pid, f"http://127.0.0.1:{port}/metrics")
        names = set(re.findall(r"^(pipeline_\w+)", body, re.M))
        c.check(len(names) >= 5, f"{name}: {len(names)} pipeline_ series")

    # Prometheus as configured by deploy/prometheus (targets moved only).
    prom = f"http://127.0.0.1:{mapping[('prometheus', 9090)]}"
    jobs = ("mds-coordinator", "mdp-pipeline", "mds-coordinator-pg",
            "mdp-pipeline-pg")

    def all_up():
        status, body = http(netns_pid, f"{prom}/api/v1/query?query=up")
        if status != 200:
            return None
        up = {r["metric"]["job"]: r["value"][1]
              for r in json.loads(body)["data"]["result"]}
        return all(up.get(j) == "1" for j in jobs) and up

    up = wait_for("Prometheus scraping every job", SCRAPE_DEADLINE_S, all_up)
    c.check(True, f"Prometheus: up == 1 for {sorted(jobs)} ({up})")
    status, body = http(netns_pid, f"{prom}/api/v1/rules")
    groups = json.loads(body)["data"]["groups"] if status == 200 else []
    rules = sum(len(g["rules"]) for g in groups)
    c.check(rules > 0, f"Prometheus loaded {rules} rules from "
            f"deploy/prometheus/rules")

    # The seed's queries, unchanged, return data (deploy/README.md, "The
    # seed's queries"): the series come once the pipeline has heard the
    # coordinator and Prometheus has scraped it.
    def series(query):
        status, body = http(netns_pid, f"{prom}/api/v1/query?query="
                            + urllib.parse.quote(query))
        if status != 200:
            return None
        result = json.loads(body)["data"]["result"]
        values = [float(r["value"][1]) for r in result]
        return values if values and all(math.isfinite(v)
                                        for v in values) else None

    joined = (("the shipped PipelineQueueHigh's join", SHIPPED_JOIN),)
    for what, query in SEED_QUERIES + joined:
        try:
            values = wait_for(f"data for {query}", SCRAPE_DEADLINE_S,
                              lambda: series(query))
        except RuntimeError as err:
            values = None
            print(f"  {err}")
        c.check(values is not None, f"{what}: {query} -> {values}")

    # PostgreSQL: rows from the -pg lane.
    def pg_rows():
        result = stack("exec", "-T", "postgres", "psql", "-U", "mds", "-d",
                       "market", "-Atc", "SELECT count(*) FROM trades",
                       check=False)
        text = result.stdout.strip()
        return int(text) if result.returncode == 0 and text.isdigit() \
            and int(text) > 0 else None

    rows = wait_for("rows in PostgreSQL", ROWS_DEADLINE_S, pg_rows)
    c.check(rows > 0, f"postgres: {rows} rows in trades")

    services = config["services"]
    for name in OUR_SERVICES:
        info = stack.inspect(name)
        pid = info["State"]["Pid"]
        uids = [line.split()[1:] for line in open(f"/proc/{pid}/status")
                if line.startswith("Uid:")][0]
        c.check(all(int(u) == SERVICE_UID for u in uids),
                f"{name}: process {pid} runs as uid {SERVICE_UID} ({uids})")
        c.check(info["Config"]["User"] == f"{SERVICE_UID}:{SERVICE_UID}",
                f"{name}: image user {info['Config']['User']}")
        c.check(info["HostConfig"]["ReadonlyRootfs"] is True,
                f"{name}: read-only root filesystem")
        write = stack("exec", "-T", name, "/bin/bash", "-c",
                      "echo x > /usr/local/bin/probe", check=False)
        c.check(write.returncode != 0
                and "Read-only file system" in write.stderr,
                f"{name}: writing below / fails ({write.stderr.strip()})")
        limits = services[name]
        c.check(info["HostConfig"]["Memory"]
                == memory_bytes(limits.get("mem_limit", 0)) > 0,
                f"{name}: mem_limit {limits.get('mem_limit')} applied "
                f"({info['HostConfig']['Memory']} bytes)")
        c.check(info["HostConfig"]["MemoryReservation"]
                == memory_bytes(limits.get("mem_reservation", 0)) > 0,
                f"{name}: mem_reservation {limits.get('mem_reservation')} "
                f"applied")
        c.check(info["HostConfig"]["NanoCpus"]
                == round(float(limits.get("cpus", 0)) * 1e9) > 0,
                f"{name}: cpus {limits.get('cpus')} applied")
        labels = info["Config"].get("Labels") or {}
        c.check(labels.get("org.opencontainers.image.version")
                == PROJECT_VERSION
                and info["Config"]["Image"].endswith(":" + PROJECT_VERSION),
                f"{name}: image {info['Config']['Image']}, OCI version "
                f"label {labels.get('org.opencontainers.image.version')}")


def check_stopped(c, stack, engine, workdir):
    stack("stop")
    for name in SERVICES:
        state = stack.inspect(name)["State"]
        c.check(not state["Running"] and state["ExitCode"] == 0
                and not state["OOMKilled"],
                f"{name}: SIGTERM -> exit code {state['ExitCode']}")
    # The SQLite file on the named volume (the coordinator stopped: read it
    # from the host).
    volume = f"{stack.project}_mds-data"
    info = json.loads(run([engine.docker, "volume", "inspect",
                           volume]).stdout)[0]
    database = os.path.join(info["Mountpoint"], "market.db")
    copy = os.path.join(workdir, "market.db")
    if os.path.exists(database):
        shutil.copy(database, copy)
    result = subprocess.run(["sqlite3", copy, "SELECT count(*) FROM trades"],
                            capture_output=True, text=True)
    rows = int(result.stdout.strip()) if result.stdout.strip().isdigit() \
        else 0
    c.check(rows > 0, f"mds-coordinator: {rows} rows in the SQLite file on "
            f"volume {volume} ({result.stderr.strip()})")


def main():
    c = Checker()
    workdir = tempfile.mkdtemp(prefix="mdbp-containers-")
    project = f"mdbpct{os.getpid()}"
    engine = Engine(workdir)
    phase("engine")
    try:
        engine.start()
    except SystemExit:           # skipped: no engine here
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    stack = None
    made_images = []
    error = None
    images_before = set(run([engine.docker, "image", "ls", "-a", "-q",
                             "--no-trunc"]).stdout.split())
    try:
        # Our own daemon is deleted afterwards: BuildKit, as users build
        # (when the CLI has it). On a shared engine the legacy builder, whose
        # only cache is untagged images, removed afterwards.
        buildkit = engine.own and engine.has_buildkit()
        phase("base image")
        if image_exists(engine, BASE_IMAGE):
            print(f"{BASE_IMAGE} is in the engine")
        else:
            build_base(engine, workdir)
            made_images.append(BASE_IMAGE)
        phase("images")
        compose_raw = yaml.safe_load(open(os.path.join(SOURCE_ROOT,
                                                       "docker-compose.yml")))
        images = {}
        tags = {}
        for name in ("mds-coordinator", "mdp-pipeline"):
            service = compose_raw["services"][name]
            tags[name] = service["image"] if engine.own \
                else f"{project}/{name}:{PROJECT_VERSION}"
        for name, tag in tags.items():
            dockerfile = os.path.join(
                SOURCE_ROOT, compose_raw["services"][name]["build"]
                ["dockerfile"])
            build_image(engine, workdir, dockerfile, SOURCE_ROOT, tag,
                        buildkit)
            made_images.append(tag)
        images.update({"mds-coordinator": tags["mds-coordinator"],
                       "mds-coordinator-pg": tags["mds-coordinator"],
                       "mdp-pipeline": tags["mdp-pipeline"],
                       "mdp-pipeline-pg": tags["mdp-pipeline"]})
        for name, dockerfile in TEST_IMAGES.items():
            tag = f"{project}/{name}:test"
            build_image(engine, workdir,
                        os.path.join(HERE, "images", dockerfile),
                        os.path.join(HERE, "images"), tag, buildkit)
            made_images.append(tag)
            images[name] = tag
        for name, tag in tags.items():
            info = json.loads(run([engine.docker, "image", "inspect",
                                   tag]).stdout)[0]
            size = info["Size"] / 1e6
            print(f"{tag}: {size:.0f} MB")
        phase("stack up")
        path, mapping, config = derive_compose(engine, workdir, project,
                                               images)
        stack = Stack(engine, path, project)
        stack("up", "-d", "--no-build")
        phase("checks while running")
        check_running(c, stack, mapping, config)
        phase("stop (SIGTERM)")
        check_stopped(c, stack, engine, workdir)
    except RuntimeError as err:
        error = str(err)
        if stack is not None:
            print(stack("logs", "--tail", "40", check=False).stdout)
    finally:
        phase("clean-up")
        problems = []
        if stack is not None:
            result = stack("down", "-v", "--remove-orphans", "-t", "30",
                           check=False)
            if result.returncode != 0:
                problems.append(f"docker-compose down: {result.stderr}")
        if not engine.own:
            # Our tags, then every image the builds left (the legacy
            # builder keeps each build stage as an untagged image).
            for tag in reversed(made_images):
                result = run([engine.docker, "image", "rm", tag],
                             check=False)
                if result.returncode != 0:
                    problems.append(f"image rm {tag}: {result.stderr}")
            left = [i for i in run([engine.docker, "image", "ls", "-a", "-q",
                                    "--no-trunc"]).stdout.split()
                    if i not in images_before]
            if left:
                run([engine.docker, "image", "rm", *left], check=False)
            left = [i for i in run([engine.docker, "image", "ls", "-a", "-q",
                                    "--no-trunc"]).stdout.split()
                    if i not in images_before]
            if left:
                problems.append(f"images left: {left}")
        problems += engine.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        phase("done")
        print(f"total: {time.monotonic() - started_at:.0f} s "
              f"({', '.join(f'{n} {t:.0f} s' for n, t in phases[:-1])})")
    c.check(error is None, f"the stack ran: {error or 'ok'}")
    c.check(not problems, f"clean-up: {problems or 'complete'}")
    c.finish()


if __name__ == "__main__":
    main()
