#!/usr/bin/python3
"""The Dockerfiles' build stages build: their `meson setup` / `ninja`
commands run as written on the source tree (the build context), with only
the output folder /build moved to a temp dir, and produce the binary that
the final stage COPYs, which then starts (`--version`). The images ship
the release build: buildtype release, compiled with -O3 and -DNDEBUG
(read back from the build directory, not from the Dockerfile's text).

No Docker engine is needed; the packages the stage installs are the ones
this machine has (scripts/install-deps installs the same names, which
test_image_packages.py checks)."""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

from deploy_common import DEPLOY, SOURCE_ROOT, Checker, require_tool, run

require_tool("meson", "Debian package meson")
require_tool("ninja", "Debian package ninja-build")
c = Checker()
IMAGE_BUILD_DIR = "/build"
RELEASE_FLAGS = ("-O3", "-DNDEBUG")


def check_release(name, build_dir):
    """The configured build is a release build and every source file (the
    binaries' and their static libraries') is compiled with RELEASE_FLAGS."""
    result = run(["meson", "introspect", "--buildoptions", build_dir])
    options = {o["name"]: o["value"] for o in json.loads(result.stdout or "[]")}
    c.check(options.get("buildtype") == "release",
            f"{name}: buildtype release ({options.get('buildtype')})")
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        commands = [e["command"] for e in json.load(f)]
    c.check(len(commands) > 0
            and all(all(flag in shlex.split(cmd) for flag in RELEASE_FLAGS)
                    for cmd in commands),
            f"{name}: every file compiled with {' '.join(RELEASE_FLAGS)} "
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
c.finish()
