"""Checks that report every failure, not only the first: the Checker the
feedback and security tests print their lines with, and a poll that returns
what it saw instead of failing (stdlib only)."""
import time


class Checker:
    """Prints one line per check and the closing 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, label, condition, detail=""):
        print(("ok    " if condition else "FAIL  ") + label, flush=True)
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print("      " + str(detail).replace("\n", "\n      "), flush=True)
        return condition

    def finish(self):
        """The exit status: 1 when a check failed, else 0."""
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def wait_until(predicate, timeout, interval=0.01):
    """Polls predicate() until true or the deadline; returns its last value
    (harness.wait_for is the variant that fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
