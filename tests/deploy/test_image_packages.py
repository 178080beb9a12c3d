#!/usr/bin/python3
"""The Dockerfiles install the right Debian packages.

  test_image_packages.py DOCKERFILE BINARY [DOCKERFILE BINARY ...]

For each pair: every shared library the built BINARY needs (its NEEDED
entries, `objdump -p`) is mapped to the Debian package that ships it
(`dpkg -S`); the Dockerfile's final (runtime) stage must install exactly
those packages, apart from libc6/libgcc-s1 which debian:bookworm-slim already
has and sanitizer runtimes of an instrumented build. The build stage must use
package names from scripts/install-deps (the list .ci/run installs), and the
final stage must be non-root with an exec-form ENTRYPOINT, STOPSIGNAL SIGTERM
and a HEALTHCHECK on /health."""

import os
import re
import sys

from deploy_common import SOURCE_ROOT, Checker, fail, require_tool, run

# In debian:bookworm-slim already (Priority: required).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1"}
# Runtime of -Db_sanitize builds; never part of an image.
SANITIZER_PACKAGE = re.compile(r"^lib(asan|ubsan|lsan|tsan)\d+$")

objdump = require_tool("objdump", "Debian package binutils")
ldd = require_tool("ldd", "Debian package libc-bin")
dpkg = require_tool("dpkg", "a Debian system")
c = Checker()


def stages(path):
    """[(stage name, [instructions])] with continuation lines joined."""
    text = re.sub(r"\\\n", " ", open(path).read())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            match = re.search(r"\bAS\s+(\S+)", rest, re.I)
            result.append((match.group(1) if match else "", []))
        elif result:
            result[-1][1].append((word.upper(), rest.strip()))
    return result


def apt_packages(instructions):
    packages = set()
    for word, rest in instructions:
        if word != "RUN":
            continue
        for command in re.split(r"&&|;", rest):
            tokens = command.split()
            if "apt-get" in tokens and "install" in tokens:
                after = tokens[tokens.index("install") + 1:]
                packages |= {t for t in after if not t.startswith("-")}
    return packages


def needed_packages(binary):
    result = run([objdump, "-p", binary])
    if result.returncode != 0:
        fail(f"objdump -p {binary}: {result.stderr}")
    sonames = re.findall(r"^\s*NEEDED\s+(\S+)", result.stdout, re.M)
    c.check(len(sonames) > 0, f"{binary} has NEEDED entries")
    # Where the dynamic loader finds each one on this machine.
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)",
                               run([ldd, binary]).stdout, re.M))
    packages = {}
    for soname in sonames:
        path = resolved.get(soname, "")
        c.check(path != "", f"{soname} resolves (ldd)")
        # dpkg knows a file under the path it shipped it at; with merged
        # /usr that may be /lib/... or /usr/lib/....
        candidates = [path, os.path.realpath(path)]
        candidates += [p[4:] if p.startswith("/usr/") else "/usr" + p
                       for p in list(candidates)]
        names = set()
        for candidate in candidates:
            owners = run([dpkg, "-S", candidate])
            names = {line.split(":")[0] for line in owners.stdout.splitlines()
                     if ": " in line}
            if names:
                break
        c.check(len(names) == 1,
                f"{soname} belongs to one Debian package ({sorted(names)})")
        for name in names:
            packages.setdefault(name, []).append(soname)
    return packages


def install_deps_packages():
    path = os.path.join(SOURCE_ROOT, "scripts", "install-deps")
    if not os.path.exists(path):
        return None
    text = open(path).read()
    match = re.search(r"PACKAGES=\((.*?)\n\)", text, re.S)
    if not match:
        return None
    body = "\n".join(line.split("#")[0] for line in match.group(1).splitlines())
    return set(body.split())


if len(sys.argv) < 3 or len(sys.argv) % 2 != 1:
    print(__doc__)
    sys.exit(2)
ci_packages = install_deps_packages()
for dockerfile, binary in zip(sys.argv[1::2], sys.argv[2::2]):
    name = os.path.basename(dockerfile)
    if not os.path.exists(binary):
        fail(f"{binary} is not built")
    all_stages = stages(dockerfile)
    c.check(len(all_stages) >= 2, f"{name}: multi-stage")
    final_name, final = all_stages[-1]
    build = [i for n, stage in all_stages[:-1] for i in stage]
    froms = re.findall(r"^FROM\s+(\S+)", open(dockerfile).read(), re.M)
    c.check(all(f in ("${DEBIAN_IMAGE}", "debian:bookworm-slim") for f in froms)
            and "ARG DEBIAN_IMAGE=debian:bookworm-slim" in open(dockerfile).read(),
            f"{name}: every stage on debian:bookworm-slim")

    needed = needed_packages(binary)
    wanted = {p for p in needed if p not in BASE_IMAGE_PACKAGES
              and not SANITIZER_PACKAGE.match(p)}
    runtime = apt_packages(final)
    print(f"{name}: {os.path.basename(binary)} needs "
          + ", ".join(f"{p} ({', '.join(s)})" for p, s in sorted(needed.items())))
    print(f"{name}: runtime stage installs {sorted(runtime)}")
    for package in sorted(wanted - runtime):
        c.check(False, f"{name}: runtime stage lacks {package} "
                f"({', '.join(needed[package])})")
    for package in sorted(runtime - wanted):
        c.check(False, f"{name}: runtime stage installs {package}, "
                f"which {os.path.basename(binary)} does not link")
    c.check(wanted == runtime, f"{name}: runtime packages = linked libraries")

    build_packages = apt_packages(build)
    c.check(not any(p.endswith("-dev") for p in runtime),
            f"{name}: no -dev package in the runtime stage")
    if ci_packages is not None:
        missing = sorted(build_packages - ci_packages)
        c.check(not missing, f"{name}: build-stage packages are in "
                f"scripts/install-deps (not there: {missing})")
    for package in sorted(wanted):
        dev = {"libzmq5": "libzmq3-dev", "libczmq4": "libczmq-dev",
               "libmsgpackc2": "libmsgpack-dev",
               "libcivetweb1": "libcivetweb-dev",
               "libsqlite3-0": "libsqlite3-dev", "libpq5": "libpq-dev"}
        if package in dev:
            c.check(dev[package] in build_packages,
                    f"{name}: build stage has {dev[package]} for {package}")

    words = {w for w, _ in final}
    entry = [r for w, r in final if w == "ENTRYPOINT"]
    c.check(len(entry) == 1 and entry[0].startswith("["),
            f"{name}: exec-form ENTRYPOINT (SIGTERM reaches the service)")
    c.check(("STOPSIGNAL", "SIGTERM") in final, f"{name}: STOPSIGNAL SIGTERM")
    health = [r for w, r in final if w == "HEALTHCHECK"]
    c.check(len(health) == 1 and "/health" in health[0]
            and "mdbp-healthcheck" in health[0], f"{name}: HEALTHCHECK /health")
    user = [r for w, r in final if w == "USER"]
    c.check(len(user) == 1 and re.fullmatch(r"[1-9]\d*(:\d+)?", user[0]),
            f"{name}: numeric non-root USER")
    c.check("COPY" in words and any(
        "--from=build" in r for w, r in final if w == "COPY"),
        f"{name}: binary copied from the build stage")
c.finish()
