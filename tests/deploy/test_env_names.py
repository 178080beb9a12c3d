#!/usr/bin/python3
"""Every MDS_* / MDP_* variable that deploy/, docker-compose.yml and the
documentation name is one the binaries know (the VARIABLE column of their
--help), so a typo or a renamed option cannot hide in a manifest or a doc.

  test_env_names.py MDS_COORDINATOR MDP_PIPELINE [MDS_FEEDBACK_TAIL]

- Manifests (docker-compose.yml, deploy/**/*.yaml|yml|env, Dockerfiles): the
  names they set, as keys, env names or ENV lines (comment lines skipped).
- Markdown (deploy/**/*.md, docs/*.md, proto/*.md, README.md): every name
  written. A name ending in `_` (`MDS_FB_`) stands for a family: some known
  name must start with it. `<NAME>` / `<PROVIDER>` stand for a provider.
- The variables docker-compose.yml itself interpolates (`${NAME...}`) are
  compose variables, not options; they are reported and allowed.
- mdp-pipeline's --help lists the per-provider variables of the providers
  MDP_PROVIDERS names: it is asked with its default and with the providers
  the deploy files name. mds-feedback-tail's variables are MDS_TAIL_*.
"""

import glob
import os
import re
import sys

from deploy_common import DEPLOY, SOURCE_ROOT, Checker, fail, run

if len(sys.argv) not in (3, 4):
    print(__doc__)
    sys.exit(2)
c = Checker()
PLACEHOLDER = r"<[A-Z]+>"


def known_names(binary, env=None):
    """The variables `binary --help` lists, literal names only (its prose
    about `MDP_RATE_<NAME>_*` families is not a name)."""
    result = run([binary, "--help"], env=dict(os.environ, **(env or {})))
    if result.returncode != 0:
        fail(f"{binary} --help exited {result.returncode}: {result.stderr}")
    names = {n for n in re.findall(r"\b(MD[SP]_[A-Z0-9_<>]+)", result.stdout)
             if "<" not in n and not n.endswith("_")}
    c.check(len(names) > 5, f"{os.path.basename(binary)} --help lists "
            f"its variables ({len(names)})")
    return names


def as_regex(name):
    """A written name as a pattern: placeholders match a provider name (or
    the help's own placeholder), a trailing `_` matches the rest."""
    parts = re.split(f"({PLACEHOLDER})", name)
    pattern = "".join("[A-Z0-9<>]+" if re.fullmatch(PLACEHOLDER, p)
                      else re.escape(p) for p in parts)
    return re.compile("^" + pattern + (".*" if name.endswith("_") else "$"))


manifests = [os.path.join(SOURCE_ROOT, "docker-compose.yml")]
for root, _, names in os.walk(DEPLOY):
    manifests += [os.path.join(root, n) for n in names
                  if n.endswith((".yaml", ".yml", ".env"))
                  or n.startswith("Dockerfile")]
docs = sorted(set(
    glob.glob(os.path.join(DEPLOY, "**", "*.md"), recursive=True)
    + glob.glob(os.path.join(SOURCE_ROOT, "docs", "*.md"))
    + glob.glob(os.path.join(SOURCE_ROOT, "proto", "*.md"))
    + [os.path.join(SOURCE_ROOT, "README.md")]))
docs = [d for d in docs if os.path.isfile(d)]

providers = set()
# Provider names a deploy file or a doc lists (its MDP_PROVIDER_<NAME>_*
# options exist for them).
for path in manifests + docs:
    for value in re.findall(r"MDP_PROVIDERS[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9_,]+)",
                            open(path).read()):
        providers |= set(value.split(","))
c.check(len(providers) > 0, f"deploy files and docs name providers ({sorted(providers)})")

known = known_names(sys.argv[1])
known |= known_names(sys.argv[2])
known |= known_names(sys.argv[2], {"MDP_PROVIDERS": ",".join(sorted(providers))})
if len(sys.argv) == 4:
    known |= known_names(sys.argv[3])
compose_variables = set(re.findall(
    r"\$\{(MD[SP]_[A-Z0-9_]+)", open(manifests[0]).read()))
print(f"compose variables (not options): {sorted(compose_variables)}")

used = {}
for path in manifests:
    for line in open(path):
        if line.lstrip().startswith("#"):
            continue
        # As a key (compose/ConfigMap), an env name, or a Dockerfile ENV.
        for name in re.findall(r"(?:^|[\s\"'-]|name: )(MD[SP]_[A-Z0-9_]+)"
                               r"(?=[:=\"'\s])", line):
            used.setdefault(name, set()).add(os.path.relpath(path, SOURCE_ROOT))
manifest_count = len(used)
for path in docs:
    for name in re.findall(r"\b(MD[SP]_[A-Z0-9_<>]+)", open(path).read()):
        used.setdefault(name, set()).add(os.path.relpath(path, SOURCE_ROOT))
c.check(manifest_count > 10, f"found the variables the deploy files set "
        f"({manifest_count})")
c.check(len(used) > manifest_count, f"found the variables the docs name "
        f"({len(used)} in all, {len(docs)} files)")

for name in sorted(used):
    where = ", ".join(sorted(used[name]))
    if name in compose_variables:
        c.check(True, f"{name} (in {where}) is a docker-compose variable")
        continue
    pattern = as_regex(name)
    ok = any(pattern.match(k) for k in known)
    family = " (a family)" if name.endswith("_") else ""
    c.check(ok, f"{name}{family} (in {where}) is a known variable")
c.finish()
