#!/usr/bin/python3
"""yamllint (config deploy/.yamllint) passes on every YAML file under
deploy/, on docker-compose.yml and on the promtool unit tests."""

import os

from deploy_common import DEPLOY, SOURCE_ROOT, fail, require_tool, run

yamllint = require_tool("yamllint", "Debian package yamllint")
targets = [DEPLOY, os.path.join(SOURCE_ROOT, "docker-compose.yml")]
result = run([yamllint, "-s", "-f", "parsable", "-c",
              os.path.join(DEPLOY, ".yamllint")] + targets)
print(result.stdout + result.stderr, end="")
if result.returncode != 0:
    fail(f"yamllint exited {result.returncode}")
count = sum(1 for _, _, files in os.walk(DEPLOY)
            for f in files if f.endswith((".yml", ".yaml")))
if count < 20:
    fail(f"only {count} YAML files found under deploy/: wrong folder?")
print(f"yamllint: {count + 1} files clean")
