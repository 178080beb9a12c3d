"""Start-up failure of an actor reaches main: a worker whose sink cannot be
opened (a SQLite file with SQLite's header but no database behind it, which
the header check at start-up lets through) makes the coordinator exit 1
with a message naming the sink (MDS_SINK and the file), instead of running
"not ready" forever. The ports it bound are released (a second start on
the same ports works once the file is fixed)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator, check, fail  # noqa

SQLITE_HEADER = b"SQLite format 3\x00"
EXIT_DEADLINE_S = 20.0


def main(binary):
    with Coordinator(binary) as coordinator:
        with open(coordinator.db_path, "wb") as file:
            file.write(SQLITE_HEADER + b"\xff" * 4080)
        environment = dict(os.environ)
        environment.update(coordinator.env)
        process = subprocess.Popen([coordinator.binary], env=environment,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE,
                                   cwd=coordinator.workdir)
        try:
            _, stderr = process.communicate(timeout=EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            fail("still running %.0f s after start with a broken sink: %s"
                 % (EXIT_DEADLINE_S, stderr.decode(errors="replace")[-2000:]))
        text = stderr.decode(errors="replace")
        check(process.returncode == 1,
              "exit %d, expected 1: %s" % (process.returncode, text[-2000:]))
        check("MDS_SINK" in text and coordinator.db_path in text,
              "the message does not name the sink: %s" % text[-2000:])
        check("not a database" in text, "no reason given: %s" % text[-2000:])
        line = [entry for entry in text.splitlines()
                if "cannot start" in entry]
        check(line, "no 'cannot start' line: %s" % text[-2000:])
        print("exit 1: %s" % line[-1])

        # The same ports and paths with the file removed: it starts.
        os.remove(coordinator.db_path)
        started = time.monotonic()
        coordinator.start(ready=True)
        check(coordinator.stop() == 0, "the repaired start did not exit 0")
        print("ok: repaired start ready after %.1f s"
              % (time.monotonic() - started))


if __name__ == "__main__":
    main(sys.argv[1])
