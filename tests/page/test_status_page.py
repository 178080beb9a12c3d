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
LOG_DIR. Exit 77 (skipped) only when chromium is not installed.
"""
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pipeline"))
from harness import (Coordinator, SqliteLock, check, http_get,  # noqa: E402
                     wait_for)
from pl_support import Pipeline  # noqa: E402

CAPACITY = 2000            # records: HARD at 0.8 of it
BROWSER_BUDGET_MS = 5000   # virtual time the page runs before the dump
BROWSER_TIMEOUT_S = 90     # wall-clock bound of one chromium run
STABLE_READS = 3           # equal /status depths in a row = a stuck queue


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
            check("low %s" % "{:,}".format(status["low_watermark"])
                  in dom.text("watermarks"),
                  "watermarks shown %r" % dom.text("watermarks"))
            workers = dom.find("tr", data_worker="0")
            check(len(workers) == 1 and
                  len(dom.find("tr")) >= len(status["workers"]),
                  "workers table: %d rows for worker 0" % len(workers))
            check(dom.find("polyline", data_series="depth"),
                  "no depth chart line")
            check(dom.find("rect", data_level="hard"),
                  "the depth bar is not drawn at HARD")
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
            pipeline.stop()
        lock.release()
        lock.close()
        check(coordinator.stop() == 0, "coordinator did not exit 0")
    print("status page: coordinator (hard, depth %d) and pipeline pages "
          "rendered from /status; screenshots in %s" % (status["depth"],
                                                        log_dir))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print("FAIL: %s" % error)
        sys.exit(1)
