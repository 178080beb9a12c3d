#!/usr/bin/python3
"""Every MDS_* / MDP_* variable that deploy/ and docker-compose.yml set is
one the binaries know (the VARIABLE column of their --help; names with a
<NAME> part match any provider name), so a typo or a renamed option cannot
hide in a manifest.

  test_env_names.py MDS_COORDINATOR MDP_PIPELINE"""

import os
import re
import sys

from deploy_common import DEPLOY, SOURCE_ROOT, Checker, fail, run

if len(sys.argv) != 3:
    print(__doc__)
    sys.exit(2)
c = Checker()


def known_names(binary, env=None):
    result = run([binary, "--help"], env=dict(os.environ, **(env or {})))
    if result.returncode != 0:
        fail(f"{binary} --help exited {result.returncode}: {result.stderr}")
    names = set(re.findall(r"\b(MD[SP]_[A-Z0-9_<>]+)", result.stdout))
    c.check(len(names) > 5, f"{os.path.basename(binary)} --help lists "
            f"its variables ({len(names)})")
    return [re.compile("^" + re.sub(r"<[A-Z]+>", "[A-Z0-9]+",
                                    re.escape(n).replace("\\<", "<")
                                    .replace("\\>", ">")) + "$")
            for n in names]


files = [os.path.join(SOURCE_ROOT, "docker-compose.yml")]
for root, _, names in os.walk(DEPLOY):
    files += [os.path.join(root, n) for n in names
              if n.endswith((".yaml", ".yml")) or n.startswith("Dockerfile")]
# mdp-pipeline's --help lists the per-provider variables (MDP_PROVIDER_<NAME>_*,
# MDP_RATE_<NAME>_*) of the providers MDP_PROVIDERS names.
providers = set()
for path in files:
    for value in re.findall(r"MDP_PROVIDERS[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9_,]+)",
                            open(path).read()):
        providers |= set(value.split(","))
c.check(len(providers) > 0, f"deploy files name providers ({sorted(providers)})")
patterns = {"MDS_": known_names(sys.argv[1]),
            "MDP_": known_names(sys.argv[2],
                                {"MDP_PROVIDERS": ",".join(sorted(providers))})}
used = {}
for path in files:
    for line in open(path):
        if line.lstrip().startswith("#"):
            continue
        # As a key (compose/ConfigMap), an env name, or a Dockerfile ENV.
        for name in re.findall(r"(?:^|[\s\"'-]|name: )(MD[SP]_[A-Z0-9_]+)"
                               r"(?=[:=\"'\s])", line):
            used.setdefault(name, set()).add(os.path.relpath(path, SOURCE_ROOT))
c.check(len(used) > 10, f"found the variables the deploy files set ({len(used)})")
for name in sorted(used):
    ok = any(p.match(name) for p in patterns[name[:4]])
    c.check(ok, f"{name} (in {', '.join(sorted(used[name]))}) is a known "
            f"variable")
c.finish()
