#!/usr/bin/python3
"""check_doc_defaults.py: every default the docs write down is the binaries'.

Usage: check_doc_defaults.py SOURCE_ROOT PROGRAM...

Reads each PROGRAM's option table (`PROGRAM --help-options=tsv`, the table
--help prints) and the documents users read for defaults: README.md,
store-coordinator/README.md, pipeline/README.md, docs/*.md and
deploy/README.md. A default is written down as
- a table row with a "Default" (or "Value") column and the variables in
  another cell (`MDS_A` / `MDS_B` | 0.5 / 0.8: values pair up in order,
  one value applies to every variable);
- `VARIABLE` (VALUE...) anywhere, and (`VARIABLE`, VALUE) in prose; in the
  pipeline's option table `_SUFFIX` (VALUE) continues the family of the
  variable before it, and `MDP_FB_SCALE_OK/SOFT/HARD` (1.0/0.5/0.0) names
  three.
A number is compared as a number (seconds written for a `_MS` variable are
converted), a word with the default's text; an option without a default
may be described in words ("host name", "unset") but not given a number.
Also: docs/security.md names every admin route an option's help names,
and README.md's Documents table links every docs/*.md.
Mentions that are deliberately not the default (a manifest's own value)
are listed in NOT_DEFAULTS with the reason. Fails naming file, line,
variable, the documented and the shipped value, like the scenario
defaults test (tests/scenarios/check_defaults.py).
"""
import glob
import os
import re
import subprocess
import sys

TIMEOUT_SEC = 30
DOCUMENTS = ["README.md", "store-coordinator/README.md", "pipeline/README.md",
             "docs/*.md", "deploy/README.md"]
# The name a per-provider family is looked up under: the default provider.
PROVIDER_PLACEHOLDER = "<NAME>"
DEFAULT_PROVIDER = "SYNTHETIC"
VARIABLE = r"MD[SP]_[A-Z0-9_<>]*[A-Z0-9>]"
NUMBER = re.compile(r"^(-?\d{1,3}(?:,\d{3})+|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)"
                    r"\s*(ms|s|seconds|sec)?\b", re.IGNORECASE)
SECURITY = "docs/security.md"
# (file, variable): why the value written there is not the default.
NOT_DEFAULTS = {}


def read_tables(programs, descriptions=None):
    defaults = {}
    for program in programs:
        out = subprocess.run([program, "--help-options=tsv"],
                             capture_output=True, text=True, env={},
                             timeout=TIMEOUT_SEC, check=True).stdout
        rows = [line.split("\t") for line in out.splitlines()
                if not line.startswith("#")]
        for row in rows[1:]:
            entry = dict(zip(rows[0], row))
            defaults[entry["variable"]] = entry["default"]
            if descriptions is not None:
                descriptions.append(entry["description"])
    return defaults


def check_admin_routes(root, descriptions):
    """docs/security.md names every admin route the options' help names
    (MDP_ADMIN_TOKEN: "bearer token of POST /admin/cooldown and ...")."""
    routes = sorted({route for text in descriptions
                     for route in re.findall(r"/admin/[a-z_]+", text)})
    with open(os.path.join(root, SECURITY), encoding="utf-8") as handle:
        security = handle.read()
    missing = [route for route in routes if route not in security]
    print("%s     %s names the admin routes of --help %s%s"
          % ("ok" if routes and not missing else "FAILED", SECURITY, routes,
             " (missing %s)" % missing if missing else ""))
    return 0 if routes and not missing else 1


def lookup_name(variable):
    return variable.replace(PROVIDER_PLACEHOLDER, DEFAULT_PROVIDER)


def as_number(text, variable):
    """The value as a number in the variable's unit, or None."""
    match = NUMBER.match(text.strip().strip("`"))
    if not match:
        return None
    value = float(match.group(1).replace(",", ""))
    unit = (match.group(2) or "").lower()
    if unit in ("s", "seconds", "sec") and variable.endswith("_MS"):
        value *= 1000
    return value


def agrees(text, shipped, variable):
    """None when the documented `text` says the shipped default, else why
    not."""
    text = text.strip().strip("`").strip()
    number = as_number(text, variable)
    if shipped == "":
        return None if number is None else "documented %s, no default" % text
    try:
        shipped_number = float(shipped)
    except ValueError:
        shipped_number = None
    if shipped_number is not None:
        if number is None or number != shipped_number:
            return "documented %r, --help %s" % (text, shipped)
        return None
    word = re.split(r"[\s;]", text)[0].strip("`")
    if word.lower() != shipped.lower():
        return "documented %r, --help %s" % (text, shipped)
    return None


def is_value(text, shipped):
    """In prose a parenthesis is a value when it starts with a number, or
    with the default's word, or describes an option without a default;
    "(half-open trial)" after a variable is a remark."""
    text = text.strip().strip("`")
    word = re.split(r"[\s;,]", text)[0].strip("`")
    return bool(NUMBER.match(text)) or word.lower() == shipped.lower() or \
        shipped == ""


def expand(names):
    """`MDP_FB_SCALE_OK/SOFT/HARD` -> three names; others as they are."""
    result = []
    for name in names:
        if "/" in name:
            first, *rest = name.split("/")
            base = first[:first.rfind("_") + 1]
            result += [first] + [base + part for part in rest]
        else:
            result.append(name)
    return result


def split_values(text, count):
    """`0.5 / 0.8` or `5, 50, 2000` into `count` values, or [text]."""
    for separator in (" / ", "/", ", "):
        parts = [p for p in text.split(separator) if p.strip()]
        if len(parts) == count and count > 1:
            return parts
    return [text]


def table_mentions(lines):
    """(line number, variable, value, strict) of tables with a default
    column."""
    header = None
    for number, line in enumerate(lines, 1):
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = [cell.lower() for cell in cells]
            continue
        if set(line) <= set("|-: "):
            continue
        column = next((i for i, name in enumerate(header)
                       if name in ("default", "value", "defaults")), None)
        if column is None or column >= len(cells):
            continue
        names = []
        for index, cell in enumerate(cells):
            if index != column:
                names += re.findall(r"`(%s)`" % VARIABLE, cell)
        names = expand(names)
        if not names:
            continue
        values = split_values(cells[column], len(names))
        for index, name in enumerate(names):
            yield number, name, values[index if len(values) > 1 else 0], True


def prose_mentions(lines):
    """(line number, variable, value, strict) of `VARIABLE` (VALUE) and
    (`VARIABLE`, VALUE) in text and in cells without a default column
    (strict: in a table, where a parenthesis after a variable is always its
    default)."""
    family = None
    for number, line in enumerate(lines, 1):
        pattern = (r"`(%s|_[A-Z0-9_]+(?:/[A-Z0-9_]+)*)`(?: \(([^()]*)\)|, "
                   r"([0-9][0-9.,]*(?: ?m?s)?)\))" % (VARIABLE + r"(?:/[A-Z]+)*"))
        for match in re.finditer(pattern, line):
            name, value = match.group(1), match.group(2) or match.group(3)
            if name.startswith("_"):
                if not family:
                    continue
                name = family + name
            elif PROVIDER_PLACEHOLDER in name:
                family = name[:name.index(PROVIDER_PLACEHOLDER) +
                              len(PROVIDER_PLACEHOLDER)]
            if " / " in value:
                # `A` / `B` (0.5 / 0.8): the value of the name it follows.
                value = value.split(" / ")[-1]
            for index, each in enumerate(expand([name])):
                parts = value.split("/") if "/" in name else [value]
                yield (number, each, parts[index if len(parts) > 1 else 0],
                       line.startswith("|"))


def check_documents_table(root):
    """README.md's Documents table links every document of docs/."""
    with open(os.path.join(root, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    table = readme[readme.find("## Documents"):]
    table = table[:table.find("\n## ", 1)]
    missing = [os.path.relpath(path, root) for path in
               sorted(glob.glob(os.path.join(root, "docs", "*.md")))
               if "(%s)" % os.path.relpath(path, root) not in table]
    print("%s     README.md's Documents table links every docs/*.md%s"
          % ("FAILED" if missing else "ok", " (missing %s)" % missing
             if missing else ""))
    return 1 if missing else 0


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = sys.argv[1]
    descriptions = []
    defaults = read_tables(sys.argv[2:], descriptions)
    files = []
    for pattern in DOCUMENTS:
        files += sorted(glob.glob(os.path.join(root, pattern)))
    failures = checked = 0
    for path in files:
        relative = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        seen = set()
        for number, name, value, strict in list(table_mentions(lines)) + \
                list(prose_mentions(lines)):
            if (number, name) in seen or (relative, name) in NOT_DEFAULTS:
                continue
            seen.add((number, name))
            variable = lookup_name(name)
            if variable not in defaults:
                print("FAILED %s:%d: %s is no option of the programs"
                      % (relative, number, name))
                failures += 1
                continue
            if not strict and not is_value(value, defaults[variable]):
                continue  # a remark in parentheses, not a value
            why = agrees(value, defaults[variable], variable)
            checked += 1
            if why:
                print("FAILED %s:%d: %s: %s" % (relative, number, name, why))
                failures += 1
            else:
                print("ok     %s:%d: %s = %s" % (relative, number, name,
                                                 value.strip()))
    failures += check_admin_routes(root, descriptions)
    failures += check_documents_table(root)
    if checked < 40:
        print("FAILED: only %d documented defaults found" % checked)
        failures += 1
    print("%d documented defaults checked, %d failed" % (checked, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
