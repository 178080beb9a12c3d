"""Helpers of the mdp-pipeline cross-process tests (stdlib + pyzmq +
msgpack, run with /usr/bin/python3). Everything waits by polling with a
deadline."""
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (check, fail, free_port, http_get, tail_file,  # noqa: E402,F401
                     wait_for)


class Pipeline:
    """One mdp-pipeline process on a free HTTP port."""

    def __init__(self, binary, **env):
        self.binary = os.path.abspath(binary)
        self.workdir = tempfile.mkdtemp(prefix="mdp-test-")
        self.http_port = free_port()
        self.log_path = os.path.join(self.workdir, "pipeline.log")
        self.env = {
            "MDP_METRICS_STANDALONE_PORT": str(self.http_port),
            "MDP_METRICS_BIND": "127.0.0.1",
            "MDP_LOG_LEVEL": "info",
        }
        self.env.update({key: str(value) for key, value in env.items()})
        self.process = None
        self.log = None

    def start(self, timeout=10.0):
        environment = dict(os.environ)
        environment.update(self.env)
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([self.binary], env=environment,
                                        stdout=self.log, stderr=self.log)
        wait_for(lambda: self._alive() and self.get("/health")[0] == 200,
                 timeout, "/health of the pipeline")
        return self

    def _alive(self):
        if self.process.poll() is not None:
            fail("pipeline exited with %s; log:\n%s"
                 % (self.process.returncode, self.read_log()))
        return True

    def read_log(self):
        return tail_file(self.log_path, 8000)

    def get(self, path, timeout=2.0):
        return http_get(self.http_port, path, timeout)

    def metrics_text(self):
        code, body = self.get("/metrics")
        check(code == 200, "/metrics answered %s" % code)
        return body

    def metrics(self):
        """{name{labels}: value} plus {name: sum over its series}."""
        values = {}
        for line in self.metrics_text().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
            name = key.split("{", 1)[0]
            if name != key:
                values[name] = values.get(name, 0.0) + float(value)
        return values

    def metric(self, key, default=0.0):
        return self.metrics().get(key, default)

    def wait_metric(self, key, predicate, timeout, what=None):
        """Polls /metrics until predicate(value of key) holds."""
        def probe():
            self._alive()
            return predicate(self.metrics().get(key, float("nan")))
        wait_for(probe, timeout, what or key)

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            fail("pipeline did not stop within %.0f s; log:\n%s"
                 % (timeout, self.read_log()))
        finally:
            self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.log and not self.log.closed:
            self.log.close()
        if exc[0] is not None:
            print("--- pipeline log ---\n" + self.read_log())
        return False


def promtool_check(promtool, text):
    """Runs `promtool check metrics` on text; fails unless it exits 0."""
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=30)
    check(result.returncode == 0, "promtool check metrics exited %d: %s%s"
          % (result.returncode, result.stdout.decode(), result.stderr.decode()))
