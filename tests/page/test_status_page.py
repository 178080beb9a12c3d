"""The live status page (issue 15, item 1) in a real browser.

usage: test_status_page.py MDS_COORDINATOR MDP_PIPELINE LOG_DIR [CHROMIUM]

Starts a coordinator on SQLite and a pipeline feeding it (127.0.0.1, ports
chosen at run time), holds the database's write lock so the queue fills to
HARD and stays there, then loads each service's `/` in Debian's headless
chromium and asserts on the DOM it rendered from the live /status: the
level and depth the coordinator page shows are /status's, its workers are
listed, its charts drawn; the pipeline page has a row for the provider with
/status's scale and a row for the coordinator at its level. Also checks the
page's headers (CSP, no-store) and saves a screenshot of each page into
LOG_DIR. The coordinator page shows /status's reason word, the time of
the last change and its hint (issue 15). Then, live through the DevTools protocol (one page left open):
the page shows HARD, the database lock is released, and without a reload
the page's level follows /status down to OK, the step down from HARD is in
its transitions table, its hint says full rate and its written rate
becomes positive; a screenshot
of that is saved too. Exit 77 (skipped) only when chromium is not
installed.
"""
import base64
import html.parser
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pipeline"))
from harness import (Coordinator, SqliteLock, check, http_get,  # noqa: E402
                     wait_for)
from pl_support import Pipeline  # noqa: E402

CAPACITY = 2000            # records: HARD at 0.8 of it
BROWSER_BUDGET_MS = 5000   # virtual time the page runs before the dump
BROWSER_TIMEOUT_S = 90     # wall-clock bound of one chromium run
STABLE_READS = 3           # equal /status depths in a row = a stuck queue
LIVE_TIMEOUT_S = 60        # the live page following /status


class DevTools:
    """A headless chromium with one page, driven over the DevTools
    protocol (python3-websocket)."""

    def __init__(self, chromium, profile):
        import websocket  # python3-websocket (scripts/install-deps)
        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
             "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "--window-size=1280,900",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.ids = itertools.count(1)
        browser_url = None
        deadline = time.monotonic() + BROWSER_TIMEOUT_S
        while browser_url is None:
            line = self.process.stderr.readline()
            check(line or self.process.poll() is None,
                  "chromium exited before DevTools listened")
            check(time.monotonic() < deadline, "no DevTools address")
            if "DevTools listening on " in line:
                browser_url = line.split("DevTools listening on ", 1)[1].strip()
        port = int(browser_url.split(":")[2].split("/")[0])
        code, body = http_get(port, "/json/list")
        check(code == 200, "/json/list answered %s" % code)
        pages = [t for t in json.loads(body) if t["type"] == "page"]
        check(pages, "no page target in %s" % body)
        self.socket = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=BROWSER_TIMEOUT_S)

    def call(self, method, **params):
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method,
                                     "params": params}))
        while True:  # events arrive in between: skip them
            reply = json.loads(self.socket.recv())
            if reply.get("id") == ident:
                check("error" not in reply, "%s: %s" % (method, reply))
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression,
                           returnByValue=True)
        return result["result"].get("value")

    def close(self):
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process.stderr.close()


LEVEL_ROWS_JS = (
    "JSON.stringify([...document.querySelectorAll("
    "'#transitions tbody tr[data-what=\"level\"]')]"
    ".map(r => [...r.cells].map(c => c.textContent)))")


def live_page(chromium, coordinator, lock, screenshot):
    """The page left open follows the coordinator from HARD to OK."""
    profile = tempfile.mkdtemp(prefix="mds-page-devtools-")
    browser = DevTools(chromium, profile)
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate",
                     url="http://127.0.0.1:%d/" % coordinator.http_port)
        level = "document.getElementById('level').dataset.value"
        wait_for(lambda: browser.evaluate(level) == "hard", LIVE_TIMEOUT_S,
                 "the open page to show HARD", 0.1)
        lock.release()  # the sink writes again: the queue drains
        wait_for(lambda: coordinator.status()["level"] == "ok",
                 LIVE_TIMEOUT_S, "/status at OK", 0.1)
        wait_for(lambda: browser.evaluate(level) == "ok", LIVE_TIMEOUT_S,
                 "the open page to follow /status to OK", 0.1)
        hint = "document.getElementById('hint').dataset.value"
        wait_for(lambda: "producers at full rate" in browser.evaluate(hint),
                 LIVE_TIMEOUT_S, "the open page's hint at full rate", 0.1)
        reason = "document.getElementById('reason').dataset.value"
        check(browser.evaluate(reason) in ("depth", "recovered"),
              "the open page's reason at OK: %r" % browser.evaluate(reason))
        rows = json.loads(browser.evaluate(LEVEL_ROWS_JS))
        check(any(row[2] == "hard" and row[3] in ("soft", "ok")
                  for row in rows), "no step down from HARD among the "
                                    "transitions shown: %r" % rows)
        rate = "Number(document.getElementById('rate-out').dataset.value)"
        wait_for(lambda: (browser.evaluate(rate) or 0) > 0, LIVE_TIMEOUT_S,
                 "a written rate above 0 on the page", 0.2)
        shot = browser.call("Page.captureScreenshot", format="png")
        with open(screenshot, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))
        return rows
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


class Dom(html.parser.HTMLParser):
    """Elements of a dumped DOM: by id, and every start tag with attrs."""

    def __init__(self):
        super().__init__()
        self.by_id = {}
        self.elements = []   # (tag, attrs dict, text list)
        self.stack = []

    def handle_starttag(self, tag, attrs):
        element = (tag, dict(attrs), [])
        self.elements.append(element)
        if element[1].get("id"):
            self.by_id[element[1]["id"]] = element
        if tag not in ("br", "img", "meta", "link", "input", "hr"):
            self.stack.append(element)

    def handle_endtag(self, tag):
        while self.stack:
            element = self.stack.pop()
            if element[0] == tag:
                break

    def handle_data(self, data):
        for element in self.stack:
            element[2].append(data)

    def text(self, element_id):
        check(element_id in self.by_id, "no #%s in the page" % element_id)
        return "".join(self.by_id[element_id][2]).strip()

    def attr(self, element_id, name):
        check(element_id in self.by_id, "no #%s in the page" % element_id)
        return self.by_id[element_id][1].get(name)

    def find(self, tag=None, **attrs):
        return [e for e in self.elements
                if (tag is None or e[0] == tag) and
                all(e[1].get(k.replace("_", "-")) == v
                    for k, v in attrs.items())]


def chromium_command(chromium, profile, url, extra):
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
            "--virtual-time-budget=%d" % BROWSER_BUDGET_MS] + extra + [url]


def load(chromium, url, screenshot):
    """The DOM chromium rendered at `url`, parsed; saves a screenshot."""
    profile = tempfile.mkdtemp(prefix="mds-page-chromium-")
    try:
        result = subprocess.run(
            chromium_command(chromium, profile, url, ["--dump-dom"]),
            capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S)
        check(result.returncode == 0 and "<html" in result.stdout,
              "chromium --dump-dom %s failed (%d): %s"
              % (url, result.returncode, result.stderr[-2000:]))
        shot = subprocess.run(
            chromium_command(chromium, profile, url,
                             ["--screenshot=" + screenshot,
                              "--window-size=1280,900"]),
            capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S)
        check(shot.returncode == 0 and os.path.getsize(screenshot) > 0,
              "chromium --screenshot failed: %s" % shot.stderr[-2000:])
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    dom = Dom()
    dom.feed(result.stdout)
    return dom


def check_headers(port):
    """The page's files answer with a CSP of 'self' and no caching."""
    import urllib.request
    for path, kind in (("/", "text/html"), ("/page.js", "text/javascript"),
                       ("/page.css", "text/css")):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=5) as response:
            headers = response.headers
            check(response.status == 200, "%s answered %s"
                  % (path, response.status))
            check(headers["Content-Type"].startswith(kind),
                  "%s is %s" % (path, headers["Content-Type"]))
            csp = headers.get("Content-Security-Policy", "")
            check("default-src 'none'" in csp and "script-src 'self'" in csp
                  and "unsafe-inline" not in csp,
                  "%s has CSP %r" % (path, csp))
            check(headers.get("Cache-Control") == "no-store",
                  "%s has Cache-Control %r" % (path, headers["Cache-Control"]))
            body = response.read().decode()
            check("http://" not in body.replace("http://www.w3.org/", "")
                  and "https://" not in body,
                  "%s refers to another origin" % path)


def status_of(port):
    code, body = http_get(port, "/status")
    check(code == 200, "/status answered %s" % code)
    return json.loads(body)


def stuck_status(coordinator):
    """/status once the queue is HARD and its depth no longer moves."""
    reads = []

    def settled():
        reads.append(coordinator.status())
        last = reads[-STABLE_READS:]
        return (len(last) == STABLE_READS and
                all(s["level"] == "hard" and s["depth"] == last[0]["depth"]
                    for s in last)) and last[-1]
    return wait_for(settled, 60, "a HARD queue of steady depth", 0.3)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    coordinator_binary, pipeline_binary, log_dir = sys.argv[1:4]
    chromium = sys.argv[4] if len(sys.argv) > 4 else None
    chromium = chromium or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: chromium is not installed (scripts/install-deps "
              "installs it: apt-get install chromium)")
        sys.exit(77)
    os.makedirs(log_dir, exist_ok=True)

    with Coordinator(coordinator_binary, MDS_QUEUE_CAPACITY=CAPACITY,
                     MDS_RETRY_MAX_MS=200) as coordinator:
        coordinator.start(ready=True)
        lock = SqliteLock(coordinator.db_path)
        lock.acquire()   # every write now fails busy: the queue fills
        with Pipeline(pipeline_binary,
                      MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                      MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                      MDP_RATE_SYNTHETIC_REFILL_RATE=3000,
                      MDP_RATE_SYNTHETIC_CAPACITY=3000) as pipeline:
            pipeline.start()
            status = stuck_status(coordinator)
            check_headers(coordinator.http_port)
            check_headers(pipeline.http_port)

            # The coordinator's page: the level and depth of /status.
            url = "http://127.0.0.1:%d/" % coordinator.http_port
            dom = load(chromium, url,
                       os.path.join(log_dir, "status-page-coordinator.png"))
            after = coordinator.status()
            check(dom.attr("coordinator", "hidden") is None,
                  "the coordinator view is hidden")
            check(dom.attr("level", "data-value") == status["level"] ==
                  after["level"] == "hard",
                  "page level %r, /status %r then %r"
                  % (dom.attr("level", "data-value"), status["level"],
                     after["level"]))
            shown = dom.attr("depth", "data-value")
            check(shown in (str(status["depth"]), str(after["depth"])),
                  "page depth %r, /status %d then %d"
                  % (shown, status["depth"], after["depth"]))
            check(dom.text("capacity") == "{:,}".format(CAPACITY),
                  "capacity shown %r" % dom.text("capacity"))
            check(dom.text("since").startswith(("in this level",
                                                "seen in this level")),
                  "time in level shown %r" % dom.text("since"))
            # Issue 15: the reason, since when, and the hint of /status.
            check(dom.attr("reason", "data-value") in
                  (status["reason"], after["reason"]) and
                  status["reason"] in ("sink_down", "depth", "sojourn") and
                  dom.text("reason") == "reason: " +
                  dom.attr("reason", "data-value").replace("_", " "),
                  "page reason %r (%r), /status %r then %r"
                  % (dom.text("reason"), dom.attr("reason", "data-value"),
                     status["reason"], after["reason"]))
            check("(since " in dom.text("since"),
                  "no time of the change shown: %r" % dom.text("since"))
            shown_hint = dom.attr("hint", "data-value")
            check(shown_hint and shown_hint == dom.text("hint") and
                  shown_hint.startswith(("queue", "the sink")) and
                  ": producers paused" in shown_hint and
                  ": producers paused" in after["hint"],
                  "page hint %r, /status %r" % (shown_hint, after["hint"]))
            check("low %s" % "{:,}".format(status["low_watermark"])
                  in dom.text("watermarks"),
                  "watermarks shown %r" % dom.text("watermarks"))
            workers = dom.find("tr", data_worker="0")
            check(len(workers) == 1 and
                  len(dom.find("tr")) >= len(status["workers"]),
                  "workers table: %d rows for worker 0" % len(workers))
            check(dom.find("polyline", data_series="depth"),
                  "no depth chart line")
            # The bar's colour is the depth's band (a pipeline honouring
            # credits holds at most its initial credit at a coordinator
            # that never answers: the queue need not reach the high mark).
            depth = int(shown)
            band = ("hard" if depth >= status["high_watermark"] else
                    "soft" if depth >= status["low_watermark"] else "ok")
            check(dom.find("rect", data_level=band),
                  "the depth bar is not drawn (depth %d, %s)" % (depth, band))
            check(dom.attr("connection", "data-state") == "live",
                  "connection %r" % dom.attr("connection", "data-state"))
            check(dom.find("td") and '"hard"' in dom.text("raw"),
                  "the raw fields do not show the level")

            # The pipeline's page: its provider and coordinator rows.
            pl_status = status_of(pipeline.http_port)
            url = "http://127.0.0.1:%d/" % pipeline.http_port
            dom = load(chromium, url,
                       os.path.join(log_dir, "status-page-pipeline.png"))
            check(dom.attr("pipeline", "hidden") is None,
                  "the pipeline view is hidden")
            rows = dom.find("tr", data_provider="synthetic")
            check(len(rows) == 1, "%d rows for provider synthetic" % len(rows))
            scales = [e[1].get("data-value")
                      for e in dom.find("span", **{"class": "scale-value"})]
            expected = [str(p["scale"]).rstrip("0").rstrip(".") or "0"
                        for p in pl_status["providers"]]
            check([s.rstrip("0").rstrip(".") or "0" for s in scales]
                  == expected,
                  "scales shown %r, /status %r" % (scales, expected))
            rows = dom.find("tr", data_coordinator=status["coordinator_id"])
            check(len(rows) == 1, "%d rows for coordinator %s"
                  % (len(rows), status["coordinator_id"]))
            levels = [e[1].get("data-level") for e in dom.elements
                      if e[0] == "td" and e[1].get("data-level")]
            check("hard" in levels, "coordinator levels shown %r" % levels)
            check(dom.attr("pl-level", "data-value") == "hard",
                  "pipeline pressure %r" % dom.attr("pl-level", "data-value"))

            # Live: one page open while the database comes back.
            rows = live_page(chromium, coordinator, lock,
                             os.path.join(log_dir, "status-page-live.png"))
            check(pipeline.stop() == 0, "pipeline did not exit 0")
        lock.close()
        check(coordinator.stop() == 0, "coordinator did not exit 0")
    print("status page: coordinator (hard, depth %d) and pipeline pages "
          "rendered from /status; live page followed it to ok (%d level "
          "transitions shown); screenshots in %s"
          % (status["depth"], len(rows), log_dir))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print("FAIL: %s" % error)
        sys.exit(1)
