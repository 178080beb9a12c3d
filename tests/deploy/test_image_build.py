#!/usr/bin/python3
"""The Dockerfiles' build stages build: their `meson setup` / `ninja`
commands run as written on the source tree (the build context), with only
the output folder /build moved to a temp dir, and produce the binary that
the final stage COPYs, which then starts (`--version`). The images ship
the release build: buildtype release, compiled with -O3 and without -DNDEBUG
(asserts kept, as in every build; read back from the build directory, not from the Dockerfile's text).
Then the two release binaries run together with docker-compose.yml's
environment for them (addresses, ports and paths moved to the test's):
records are written end to end and SIGTERM ends both with exit 0.

No Docker engine is needed; the packages the stage installs are the ones
this machine has (scripts/install-deps installs the same names, which
test_image_packages.py checks)."""

import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time

import yaml

from deploy_common import (DEPLOY, SOURCE_ROOT, Checker, free_port, http_get,
                           require_tool, run)

require_tool("meson", "Debian package meson")
require_tool("ninja", "Debian package ninja-build")
c = Checker()
IMAGE_BUILD_DIR = "/build"
RELEASE_FLAGS = ("-O3",)
# Asserts stay in release builds (meson.build: b_ndebug=false).
FORBIDDEN_FLAGS = ("-DNDEBUG",)
SMOKE_DEADLINE_S = 20
SMOKE_POLL_S = 0.2


def check_release(name, build_dir):
    """The configured build is a release build and every source file (the
    binaries' and their static libraries') is compiled with RELEASE_FLAGS
    and none with FORBIDDEN_FLAGS."""
    result = run(["meson", "introspect", "--buildoptions", build_dir])
    options = {o["name"]: o["value"] for o in json.loads(result.stdout or "[]")}
    c.check(options.get("buildtype") == "release",
            f"{name}: buildtype release ({options.get('buildtype')})")
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        commands = [e["command"] for e in json.load(f)]
    c.check(len(commands) > 0
            and all(all(flag in shlex.split(cmd) for flag in RELEASE_FLAGS)
                    and not any(flag in shlex.split(cmd)
                                for flag in FORBIDDEN_FLAGS)
                    for cmd in commands),
            f"{name}: every file compiled with {' '.join(RELEASE_FLAGS)}, "
            f"none with {' '.join(FORBIDDEN_FLAGS)} "
            f"({len(commands)} files)")


def build_stage(path):
    """(RUN commands touching meson/ninja, COPY --from=build sources)."""
    text = re.sub(r"\\\n", " ", open(path).read())
    stage, commands, copies = None, [], []
    for line in text.splitlines():
        line = line.strip()
        match = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if match:
            stage = match.group(1)
            continue
        if stage == "build" and line.startswith("RUN "):
            for command in line[4:].split("&&"):
                command = command.strip()
                if command.startswith(("meson ", "ninja ")):
                    commands.append(command)
        match = re.match(r"COPY\s+--from=build\s+(\S+)\s+\S+", line)
        if match:
            copies.append(match.group(1))
    return commands, copies


def compose_environment(service):
    """The environment docker-compose.yml gives `service` (anchors and
    merge keys resolved by the YAML loader; no ${} in these two)."""
    compose = yaml.safe_load(open(os.path.join(SOURCE_ROOT,
                                               "docker-compose.yml")))
    return {k: str(v) for k, v in
            compose["services"][service]["environment"].items()}


def smoke(binaries, workdir):
    """The release binaries, with the compose stack's environment (only the
    addresses, ports and file paths moved to the test's), write records end
    to end and stop with exit 0 on SIGTERM."""
    ingest, feedback, http, pipeline_http = (free_port() for _ in range(4))
    data = os.path.join(workdir, "smoke")
    os.makedirs(data)
    coordinator_env = dict(compose_environment("mds-coordinator"), **{
        "MDS_INGEST_ENDPOINT": f"tcp://127.0.0.1:{ingest}",
        "MDS_FEEDBACK_ENDPOINT": f"tcp://127.0.0.1:{feedback}",
        "MDS_HTTP_PORT": str(http), "MDS_HTTP_BIND": "127.0.0.1",
        "MDS_SINK": f"sqlite:{os.path.join(data, 'market.db')}",
        "MDS_DLQ_PATH": os.path.join(data, "dead-letter.ndjson"),
        "MDS_DRAIN_TIMEOUT_MS": "2000"})
    pipeline_env = dict(compose_environment("mdp-pipeline"), **{
        "MDP_STORE_ENDPOINTS": f"tcp://127.0.0.1:{ingest}",
        "MDP_FEEDBACK_ENDPOINTS": f"tcp://127.0.0.1:{feedback}",
        "MDP_METRICS_STANDALONE_PORT": str(pipeline_http),
        "MDP_METRICS_BIND": "127.0.0.1",
        "MDP_SHUTDOWN_TIMEOUT_MS": "2000"})
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MDS_", "MDP_"))}
    procs = []
    try:
        for name, env in (("mds-coordinator", coordinator_env),
                          ("mdp-pipeline", pipeline_env)):
            log = open(os.path.join(data, name + ".log"), "w")
            procs.append((name, subprocess.Popen(
                [binaries[name]], env=dict(base, **env), cwd=data,
                stdout=log, stderr=subprocess.STDOUT),
                os.path.join(data, name + ".log")))

        def written():
            status, body = http_get(f"http://127.0.0.1:{http}/metrics")
            match = re.search(r"^coordinator_records_written_total(?:\{[^}]*\})?"
                              r"\s+(\S+)$", body or "", re.M)
            ready = http_get(f"http://127.0.0.1:{pipeline_http}/ready")[0]
            return (float(match.group(1)) if match else 0) > 0 and ready == 200

        end = time.monotonic() + SMOKE_DEADLINE_S
        ok = False
        while time.monotonic() < end and not ok:
            if any(p.poll() is not None for _, p, _ in procs):
                break
            ok = written()
            if not ok:
                time.sleep(SMOKE_POLL_S)
        if not c.check(ok, "release binaries with the compose environment: "
                       "records written, pipeline ready"):
            for name, _, log in procs:
                print(f"--- {name}:\n{open(log).read()[-2000:]}")
        for name, proc, _ in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=SMOKE_DEADLINE_S)
            except subprocess.TimeoutExpired:
                code = None
            c.check(code == 0, f"release {name} exits 0 on SIGTERM ({code})")
    finally:
        for _, proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


dockerfiles = sorted(os.path.join(DEPLOY, "docker", f)
                     for f in os.listdir(os.path.join(DEPLOY, "docker"))
                     if re.fullmatch(r"Dockerfile\.[a-z]+", f))
c.check(len(dockerfiles) == 2, f"two Dockerfiles ({len(dockerfiles)})")
with tempfile.TemporaryDirectory(prefix="mdbp-image-build-") as tmp:
    # One build directory per distinct `meson setup` command: Dockerfiles
    # configured the same way share it (built once), a different setup gets
    # its own, so neither can inherit the other's options.
    build_dirs = {}
    done = set()
    built = {}
    for dockerfile in dockerfiles:
        name = os.path.basename(dockerfile)
        commands, copies = build_stage(dockerfile)
        setups = [cmd for cmd in commands if cmd.startswith("meson setup")]
        c.check(len(setups) == 1
                and any(cmd.startswith("ninja") for cmd in commands),
                f"{name}: the build stage runs meson setup and ninja")
        build_dir = build_dirs.setdefault(
            tuple(setups), os.path.join(tmp, f"build-{len(build_dirs)}"))
        for command in commands:
            argv = [build_dir if word == IMAGE_BUILD_DIR else word
                    for word in shlex.split(command)]
            if tuple(argv) in done:
                continue  # the same setup as the other image
            done.add(tuple(argv))
            print(f"{name}: {' '.join(argv)}", flush=True)
            result = run(argv, cwd=SOURCE_ROOT)
            if not c.check(result.returncode == 0,
                           f"{name}: `{command}` exits 0"):
                print(result.stdout[-4000:] + result.stderr[-4000:])
        for source in copies:
            if not source.startswith(IMAGE_BUILD_DIR + "/"):
                continue
            binary = os.path.join(build_dir,
                                  source[len(IMAGE_BUILD_DIR) + 1:])
            exists = c.check(os.access(binary, os.X_OK),
                             f"{name}: {source} was built")
            check_release(name, build_dir)
            if exists:
                result = subprocess.run([binary, "--version"],
                                        capture_output=True, text=True,
                                        timeout=10)
                c.check(result.returncode == 0,
                        f"{name}: {os.path.basename(binary)} --version "
                        f"runs ({result.stdout.strip()})")
                built[os.path.basename(binary)] = binary
    if c.check(set(built) == {"mds-coordinator", "mdp-pipeline"},
               f"both services built ({sorted(built)})"):
        smoke(built, tmp)
c.finish()
