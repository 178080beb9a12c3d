#!/usr/bin/python3
"""check_defaults.py: the scenario model's parameters are the programs' defaults.

Usage: check_defaults.py TEST_SCENARIOS MDS_COORDINATOR MDP_PIPELINE

Runs `TEST_SCENARIOS --defaults` (lines `VARIABLE value`, the values the
model of tests/scenarios uses) and both programs' `--help` (a table with a
VARIABLE and a DEFAULT column), and fails when a value differs, so that the
scenario suite always measures the configuration that ships.
"""
import subprocess
import sys

TIMEOUT_SEC = 30


def help_defaults(program):
    out = subprocess.run([program, "--help"], capture_output=True, text=True,
                         timeout=TIMEOUT_SEC)
    defaults = {}
    for line in (out.stdout + out.stderr).splitlines():
        parts = line.split()
        # "--flag VARIABLE DEFAULT description..."
        if len(parts) >= 3 and parts[0].startswith("--") and \
                parts[1][:4] in ("MDS_", "MDP_"):
            defaults[parts[1]] = parts[2]
    return defaults


def same(model, shipped):
    try:
        return float(model) == float(shipped)
    except ValueError:
        return model == shipped


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = subprocess.run([sys.argv[1], "--defaults"], capture_output=True,
                         text=True, timeout=TIMEOUT_SEC, check=True)
    model = dict(line.split(None, 1) for line in out.stdout.splitlines()
                 if line.strip())
    shipped = help_defaults(sys.argv[2])
    shipped.update(help_defaults(sys.argv[3]))
    failures = 0
    for variable, value in sorted(model.items()):
        value = value.strip()
        if variable not in shipped:
            print("FAILED %s: not in either program's --help" % variable)
            failures += 1
        elif not same(value, shipped[variable]):
            print("FAILED %s: model %s, program default %s"
                  % (variable, value, shipped[variable]))
            failures += 1
        else:
            print("ok     %s = %s" % (variable, value))
    if len(model) < 10:
        print("FAILED: only %d defaults read from the model" % len(model))
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
