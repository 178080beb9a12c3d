"""A newcomer's path through README.md, as a test (issue 15, "Done when").

usage: test_newcomer.py RUN_STACK BUILD_DIR README LOG_DIR [CHROMIUM]

Follows the README in order, with the real script and Debian's headless
chromium (driven over the DevTools protocol, tests/page's helper):

1. README's first command (the first line of its first sh block must be
   `scripts/run-stack`) runs as written; the test only moves the ports
   (chosen now, on 127.0.0.1, through the services' own variables, which
   the README documents) and the data directory (RUN_STACK_DATA_DIR, a
   temp dir) so that it cannot clash with anything. Its banner names the
   coordinator's status page; chromium opens it and the page shows the
   level, reason and hint /status gives. Ctrl-C: exit 0.
2. README's overload example (the command that sets MDP_RATE_* /
   MDP_SEND_* before `scripts/run-stack`), parsed from the README and run
   with exactly its variables (the pipeline's /status shows its send
   window). With the page open, it shows /status's level, reason and hint
   and a positive incoming rate while the pipeline floods the coordinator.
3. As the README goes on, the SQLite file is locked (the store cannot
   drain): the open page, without a reload, shows HARD, the reason the
   README names (`sink_down`) and a hint saying producers are paused,
   equal to /status's. The lock is released: the page follows back to OK.
4. Ctrl-C (SIGINT to the script's process group, as a terminal sends it):
   run-stack stops its services, prints "stopped" and exits 0; no process
   of its banner is left and no port of the stack listens.

Screenshots of the page (overload, then HARD) go to LOG_DIR. Exit 77
(skipped) only when chromium is not installed.
"""
import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "page"))
from harness import (SqliteLock, check, free_port, http_get,  # noqa: E402
                     tail_file, wait_for)
from test_status_page import DevTools  # noqa: E402
from test_run_stack import listening_ports  # noqa: E402

START_TIMEOUT_S = 120   # install-deps' check and a no-op ninja included
STOP_TIMEOUT_S = 60
PAGE_TIMEOUT_S = 30     # the open page following /status
LEVEL_TIMEOUT_S = 30    # /status reaching a level
OVERLOAD_KNOBS = ("MDP_RATE_", "MDP_SEND_")
RUN_STACK = "scripts/run-stack"

# [level, reason, hint] as the page shows them; null while the page is
# still loading (a navigation in progress has no such elements yet).
PAGE_JS = ("(() => { const e = ['level', 'reason', 'hint'].map("
           "id => document.getElementById(id)); "
           "return e.every(x => x) ? JSON.stringify(e.map("
           "x => x.dataset.value)) : null; })()")


def sh_commands(readme):
    """Every command of README's ```sh blocks, continuation lines joined,
    as shlex tokens (comments dropped), in order."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            if tokens:
                commands.append(tokens)
    return commands


def env_and_program(tokens):
    """({VAR: value}, rest) of a command `VAR=value ... program args`."""
    env = {}
    for index, token in enumerate(tokens):
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", token)
        if not match:
            return env, tokens[index:]
        env[match.group(1)] = match.group(2)
    return env, []


def readme_path(readme):
    """The first command and the overload example's variables."""
    commands = sh_commands(readme)
    check(commands and commands[0] == [RUN_STACK],
          "README's first command is %r, not %r"
          % (commands[0] if commands else None, RUN_STACK))
    for tokens in commands:
        env, rest = env_and_program(tokens)
        if rest == [RUN_STACK] and \
                any(k.startswith(OVERLOAD_KNOBS) for k in env):
            return env
    check(False, "README has no overload example (%s... %s)"
          % ("|".join(OVERLOAD_KNOBS), RUN_STACK))


class Stack:
    """One scripts/run-stack in its own process group, its output in a
    file."""

    def __init__(self, run_stack, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [run_stack], env=env, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self.pids = []

    def banner(self):
        def shown():
            check(self.process.poll() is None, "run-stack exited with %s:\n%s"
                  % (self.process.returncode,
                     tail_file(self.log_path, 6000)))
            text = tail_file(self.log_path, 200000)
            return "run-stack: running" in text and "  data " in text and text
        text = wait_for(shown, START_TIMEOUT_S, "the run-stack banner", 0.2)
        check("run-stack: running (Ctrl-C to stop)" in text,
              "the banner says not ready:\n%s" % text[-3000:])
        self.pids = [int(pid) for pid in re.findall(r"\(pid (\d+)", text)]
        check(len(self.pids) == 2, "pids in the banner: %r" % self.pids)
        return text

    def ctrl_c(self):
        """Ctrl-C as a terminal sends it; run-stack's own stop."""
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=STOP_TIMEOUT_S)
        output = tail_file(self.log_path, 6000)
        check(code == 0, "run-stack exited %d after Ctrl-C:\n%s"
              % (code, output))
        check("run-stack: stopped" in output, "no 'stopped':\n%s" % output)

        def gone():
            for pid in self.pids:
                try:
                    os.kill(pid, 0)
                    return False
                except ProcessLookupError:
                    pass
            return True
        wait_for(gone, STOP_TIMEOUT_S, "the services to exit", 0.1)

    def close(self):
        if self.process.poll() is None:   # a failed check: leave nothing
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def status(port):
    code, body = http_get(port, "/status")
    check(code == 200, "/status answered %s" % code)
    return json.loads(body)


def page_follows(browser, port, what, want=None):
    """Polls until the open page shows the level, reason and hint /status
    gives (read around the page's), optionally also `want(level, reason,
    hint)`; returns them."""
    seen = []

    def same():
        before = status(port)
        try:
            shown = browser.evaluate(PAGE_JS)
        except AssertionError:   # the context went with a navigation
            shown = None
        shown = json.loads(shown) if shown else None
        after = status(port)
        seen[:] = [shown, before.get("level"), before.get("reason"),
                   after.get("hint")]
        for truth in (before, after):
            if shown == [truth["level"], truth["reason"], truth["hint"]] \
                    and shown[2] and (want is None or want(*shown)):
                return shown
        return None
    try:
        return wait_for(same, PAGE_TIMEOUT_S, what, 0.2)
    except AssertionError:
        check(False, "%s: page [level, reason, hint] %r, /status %r"
              % (what, seen[:1], seen[1:]))


def values_of(tree, key):
    """Every value of `key` anywhere in a JSON document."""
    found = []
    if isinstance(tree, dict):
        for name, value in tree.items():
            if name == key:
                found.append(value)
            found += values_of(value, key)
    elif isinstance(tree, list):
        for value in tree:
            found += values_of(value, key)
    return found


def screenshot(browser, path):
    shot = browser.call("Page.captureScreenshot", format="png")
    with open(path, "wb") as handle:
        handle.write(base64.b64decode(shot["data"]))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    run_stack, build_dir, readme_file, log_dir = \
        [os.path.abspath(a) for a in sys.argv[1:5]]
    chromium = sys.argv[5] if len(sys.argv) > 5 else None
    chromium = chromium or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: chromium is not installed (scripts/install-deps "
              "installs it: apt-get install chromium)")
        sys.exit(77)
    os.makedirs(log_dir, exist_ok=True)
    with open(readme_file) as handle:
        readme = handle.read()
    overload = readme_path(readme)

    data = tempfile.mkdtemp(prefix="newcomer-test-")
    ports = {name: free_port() for name in
             ("http", "ingest", "feedback", "pipeline")}
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("MDS_", "MDP_", "RUN_STACK_"))}
    base_env.update({
        "RUN_STACK_DATA_DIR": data,
        "RUN_STACK_BUILD_DIR": build_dir,
        "MDS_HTTP_PORT": str(ports["http"]),
        "MDS_INGEST_ENDPOINT": "tcp://127.0.0.1:%d" % ports["ingest"],
        "MDS_FEEDBACK_ENDPOINT": "tcp://127.0.0.1:%d" % ports["feedback"],
        "MDP_METRICS_STANDALONE_PORT": str(ports["pipeline"]),
    })
    page_url = "http://127.0.0.1:%d/" % ports["http"]
    profile = tempfile.mkdtemp(prefix="newcomer-chromium-")
    browser = DevTools(chromium, profile)
    stack = lock = None
    passed = False
    try:
        browser.call("Page.enable")

        # 1. README's first command; its banner's status page.
        stack = Stack(run_stack, base_env, os.path.join(data, "first.out"))
        text = stack.banner()
        check("  coordinator  %s  status page" % page_url in text,
              "the banner does not name %s:\n%s" % (page_url, text[-3000:]))
        browser.call("Page.navigate", url=page_url)
        first = page_follows(browser, ports["http"],
                             "the page of the first run-stack")
        stack.ctrl_c()
        stack.close()

        # 2. The overload example, exactly its variables.
        env = dict(base_env)
        env.update(overload)
        stack = Stack(run_stack, env, os.path.join(data, "overload.out"))
        stack.banner()
        browser.call("Page.navigate", url=page_url)
        loaded = page_follows(browser, ports["http"],
                              "the page under the overload example")
        # The example's variables reached the pipeline, and its flood the
        # coordinator (the page's incoming rate).
        if "MDP_SEND_WINDOW" in overload:
            windows = values_of(status(ports["pipeline"]), "window")
            check(windows and all(w == int(overload["MDP_SEND_WINDOW"])
                                  for w in windows),
                  "pipeline /status windows %r, the example says %s"
                  % (windows, overload["MDP_SEND_WINDOW"]))
        rate_in = "Number(document.getElementById('rate-in').dataset.value)"
        wait_for(lambda: (browser.evaluate(rate_in) or 0) > 0,
                 PAGE_TIMEOUT_S, "an incoming rate above 0 on the page", 0.2)
        screenshot(browser, os.path.join(log_dir,
                                         "newcomer-overload.png"))

        # 3. The store cannot drain: HARD, its reason and hint on the page.
        lock = SqliteLock(os.path.join(data, "market.db"))
        lock.acquire()
        wait_for(lambda: status(ports["http"])["level"] == "hard",
                 LEVEL_TIMEOUT_S, "/status at HARD with the file locked", 0.2)
        hard = page_follows(
            browser, ports["http"], "the open page at HARD",
            lambda level, reason, hint: level == "hard" and
            "producers paused" in hint)
        check("`%s`" % hard[1] in readme,
              "the page's reason %r is not the one README names" % hard[1])
        screenshot(browser, os.path.join(log_dir, "newcomer-hard.png"))
        lock.release()
        lock.close()
        lock = None
        back = page_follows(browser, ports["http"], "the open page back at OK",
                            lambda level, reason, hint: level == "ok")

        # 4. Ctrl-C: nothing left running, no port listening.
        stack.ctrl_c()
        stack.close()
        stack = None
        left = set(ports.values()) & listening_ports()
        check(not left, "ports still listening: %r" % sorted(left))
        passed = True
    finally:
        if lock is not None:
            lock.close()
        if stack is not None:
            stack.close()
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)
        if passed:
            shutil.rmtree(data, ignore_errors=True)
        else:   # run-stack's output for the failure
            for name in ("first.out", "overload.out"):
                print("--- %s/%s:\n%s" % (data, name, tail_file(
                    os.path.join(data, name), 4000)))
    print("newcomer: first command %r, overload %s: page %r, locked: %r, "
          "back: %r; run-stack stopped by Ctrl-C, nothing left"
          % (first, " ".join("%s=%s" % kv for kv in sorted(overload.items())),
             loaded, hard, back))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print("FAIL: %s" % error)
        sys.exit(1)
