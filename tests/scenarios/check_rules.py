#!/usr/bin/python3
"""check_rules.py: every rule of the feedback loop is guarded by a test.

Usage: check_rules.py SOURCE_ROOT BUILD_ROOT [--list] [MUTANT...]

A mutation check. For each rule below it disables the rule in a copy of
the source tree (one line of the real engine replaced, as `sed` would),
rebuilds only the test programs that exercise that engine, runs them, and
fails when every one of them still passes: a rule no test notices is a rule
the tests do not guard. The copy and its build directory live in
BUILD_ROOT/rules-mutants and are reused between mutants and between runs,
so a mutant costs one compiled file and a few links. The unmutated copy
must pass the same programs first, so that a failure means the mutant.

No test-only switch is added to the production code: the mutants are
edits of the real source lines, and a line this script looks for that has
moved or changed makes it fail with the mutant's name (update the MUTANTS
table with the engine).
"""
import os
import shutil
import subprocess
import sys
import time

WORK_DIR = "rules-mutants"
SKIP_DIRS = {".git", "node_modules", "__pycache__"}
SETUP_TIMEOUT_SEC = 600
BUILD_TIMEOUT_SEC = 900
TEST_TIMEOUT_SEC = 120
NINJA_JOBS = "2"  # the machine is shared: no more than its two cores

# The test programs, by build path, with their arguments.
ANNOUNCER = ("store-coordinator/test_announcer",)
INTAKE = ("store-coordinator/test_intake",)
WINDOW = ("pipeline/tests/test_pl_window",)
SCENARIOS = ("tests/scenarios/test_scenarios",)


class Mutant:
    def __init__(self, name, path, line, replacement, rule, tests):
        self.name = name
        self.path = path  # relative to the source root
        self.line = line  # exact text, found exactly once
        self.replacement = replacement
        self.rule = rule  # what the mutant disables, for the report
        self.tests = tests


MUTANTS = [
    Mutant("early-heartbeat", "store-coordinator/sc_announcer.c",
           "        if (sc_watermark_hint_moved(self->hint, "
           "self->state.scale_hint))\n",
           "        if (false && sc_watermark_hint_moved(self->hint, "
           "self->state.scale_hint))\n",
           "sc_announcer: a heartbeat goes out early when scale_hint moved",
           [ANNOUNCER, SCENARIOS]),
    Mutant("heartbeat-never", "store-coordinator/sc_announcer.c",
           "    if (now_ns >= self->heartbeat_ns) {\n",
           "    if (false && now_ns >= self->heartbeat_ns) {\n",
           "sc_announcer: a regular heartbeat every heartbeat interval",
           [ANNOUNCER, SCENARIOS]),
    Mutant("heartbeat-interval", "store-coordinator/sc_announcer.c",
           "        self->heartbeat_ns = now_ns + s_jittered_interval(self);\n",
           "        self->heartbeat_ns = now_ns + 10 * "
           "s_jittered_interval(self);\n",
           "sc_announcer: the next heartbeat one interval (+-10%) later",
           [ANNOUNCER, SCENARIOS]),
    Mutant("retry-hint-full", "store-coordinator/sc_intake.c",
           "               s_retry_after_full(self, batch->count), "
           "\"queue full\");\n",
           "               0 * s_retry_after_full(self, batch->count), "
           "\"queue full\");\n",
           "sc_intake: `nack full` carries the time the sink needs",
           [INTAKE, SCENARIOS]),
    Mutant("window-resend", "pipeline/pl_window.c",
           "        if (slot->state == S_WAITING && "
           "now >= slot->due_ns &&\n",
           "        if (slot->state == S_WAITING && "
           "now >= slot->due_ns &&\n"
           "            slot->attempts == 0 &&\n",
           "pl_window: a batch not acked is sent again (any cause)",
           [WINDOW, SCENARIOS]),
    Mutant("window-resend-reconnect", "pipeline/pl_window.c",
           "        if (slot->state == S_IN_FLIGHT) {\n"
           "            if (slot->sent_ns < now)\n",
           "        if (false && slot->state == S_IN_FLIGHT) {\n"
           "            if (slot->sent_ns < now)\n",
           "pl_window: a new connection resends what was in flight",
           [WINDOW, SCENARIOS]),
    Mutant("window-resend-timeout", "pipeline/pl_window.c",
           "        if (slot->state == S_IN_FLIGHT && now >= slot->due_ns) {\n",
           "        if (false && slot->state == S_IN_FLIGHT && "
           "now >= slot->due_ns) {\n",
           "pl_window: a batch whose ack timed out is sent again",
           [WINDOW, SCENARIOS]),
]


def log(text):
    print(text, flush=True)


def is_build_dir(path, names):
    return "meson-private" in names or "build.ninja" in names


def sync_tree(source, copy):
    """Makes `copy` hold the files of `source` (build directories and VCS
    data left out). A file is rewritten only when its content differs, so
    that ninja rebuilds only what changed."""
    wanted = set()
    for root, dirs, files in os.walk(source):
        if is_build_dir(root, dirs + files):
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        relative = os.path.relpath(root, source)
        os.makedirs(os.path.join(copy, relative), exist_ok=True)
        for name in files:
            if name == ".git":
                continue
            path = os.path.normpath(os.path.join(relative, name))
            wanted.add(path)
            src, dst = os.path.join(source, path), os.path.join(copy, path)
            if os.path.islink(src):
                continue
            with open(src, "rb") as handle:
                data = handle.read()
            try:
                with open(dst, "rb") as handle:
                    same = handle.read() == data
            except FileNotFoundError:
                same = False
            if not same:
                with open(dst, "wb") as handle:
                    handle.write(data)
                shutil.copymode(src, dst)
    for root, dirs, files in os.walk(copy):
        relative = os.path.relpath(root, copy)
        for name in files:
            path = os.path.normpath(os.path.join(relative, name))
            if path not in wanted:
                os.unlink(os.path.join(copy, path))


def run(args, timeout, cwd=None):
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)
        return done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        out = (expired.stdout or b"") + (expired.stderr or b"")
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return None, out


def build(build_dir, tests):
    targets = sorted({test[0] for test in tests})
    return run(["ninja", "-C", build_dir, "-j", NINJA_JOBS] + targets,
               BUILD_TIMEOUT_SEC)


def run_tests(build_dir, tests):
    """[(program, exit status or None for a timeout, output)]"""
    results = []
    for test in tests:
        program = os.path.join(build_dir, test[0])
        status, out = run([program] + list(test[1:]), TEST_TIMEOUT_SEC,
                          cwd=build_dir)
        results.append((test[0], status, out))
    return results


def tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


def first_failures(out, count=2):
    """The first failed checks of a cmocka program or test_scenarios."""
    lines = [line.strip() for line in out.splitlines()
             if line.startswith("FAILED") or "[  FAILED  ]" in line
             or "[  ERROR   ]" in line]
    return [" ".join(line.split()) for line in lines[:count]]


def check_mutant(mutant, copy, build_dir):
    """Returns 'killed', 'survived' or 'error' (with the report printed)."""
    path = os.path.join(copy, mutant.path)
    with open(path) as handle:
        original = handle.read()
    count = original.count(mutant.line)
    if count != 1:
        log("ERROR    %-24s the line to mutate occurs %d times in %s "
            "(expected once; update check_rules.py):\n%s"
            % (mutant.name, count, mutant.path, mutant.line.rstrip()))
        return "error"
    started = time.monotonic()
    try:
        with open(path, "w") as handle:
            handle.write(original.replace(mutant.line, mutant.replacement))
        status, out = build(build_dir, mutant.tests)
        if status != 0:
            log("ERROR    %-24s the mutant does not build (it would prove "
                "nothing):\n%s" % (mutant.name, tail(out)))
            return "error"
        results = run_tests(build_dir, mutant.tests)
    finally:
        with open(path, "w") as handle:
            handle.write(original)
    seconds = time.monotonic() - started
    killers = ["%s (%s)" % (os.path.basename(program),
                            "timeout" if status is None else "exit %d" % status)
               for program, status, _ in results if status != 0]
    if killers:
        log("killed   %-24s %.1f s by %s\n         rule: %s"
            % (mutant.name, seconds, ", ".join(killers), mutant.rule))
        for program, status, out in results:
            if status != 0:
                for line in first_failures(out):
                    log("         %s: %s" % (os.path.basename(program), line))
        return "killed"
    log("SURVIVED %-24s %.1f s: %s pass with the rule disabled\n"
        "         rule: %s (add the missing assertion)"
        % (mutant.name, seconds,
           ", ".join(os.path.basename(t[0]) for t in mutant.tests),
           mutant.rule))
    return "survived"


def main():
    args = sys.argv[1:]
    if "--list" in args:
        for mutant in MUTANTS:
            print("%-24s %s" % (mutant.name, mutant.rule))
        return 0
    if len(args) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source, build_root, names = args[0], args[1], args[2:]
    chosen = [m for m in MUTANTS if not names or m.name in names]
    unknown = set(names) - {m.name for m in MUTANTS}
    if unknown:
        print("unknown mutant(s): %s (--list)" % ", ".join(sorted(unknown)),
              file=sys.stderr)
        return 2
    work = os.path.join(os.path.abspath(build_root), WORK_DIR)
    copy, build_dir = os.path.join(work, "src"), os.path.join(work, "build")
    started = time.monotonic()
    sync_tree(os.path.abspath(source), copy)
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        status, out = run(["meson", "setup", build_dir, copy],
                          SETUP_TIMEOUT_SEC)
        if status != 0:
            log("ERROR    meson setup of the copy failed:\n%s" % tail(out))
            return 1
    tests = sorted({test for mutant in chosen for test in mutant.tests})
    status, out = build(build_dir, tests)
    if status != 0:
        log("ERROR    the unmutated copy does not build:\n%s" % tail(out))
        return 1
    for program, status, out in run_tests(build_dir, tests):
        if status != 0:
            log("ERROR    the unmutated copy fails %s: fix that first\n%s"
                % (program, tail(out)))
            return 1
    log("baseline: %d test programs pass unmutated (%.1f s)"
        % (len(tests), time.monotonic() - started))
    outcomes = [check_mutant(mutant, copy, build_dir) for mutant in chosen]
    # Leave the copy's programs built from the unmutated sources.
    build(build_dir, tests)
    killed = outcomes.count("killed")
    log("%d of %d mutants killed, %d survived, %d errors (%.1f s)"
        % (killed, len(chosen), outcomes.count("survived"),
           outcomes.count("error"), time.monotonic() - started))
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
