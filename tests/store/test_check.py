"""`mds-coordinator check` (issue 15, item 3) and a refused PostgreSQL login
at start-up, against the real binary, real ports and a real PostgreSQL
(run under tests/lib/with_postgres.sh; it gets a password and
scram-sha-256 authentication for TCP here).

1. a bad configuration with planted mistakes (a bad integer, a variable
   with a typo, a misspelled flag, the HTTP port in use, a SQLite path under
   a plain file, low watermark above high): every one is listed at once,
   exit 2;
2. a wrong PostgreSQL password (and a bad value): the refused login is
   named once, clearly, without the password; exit 2 (a config problem
   too); a missing database alone: named, exit 1 (runtime only); a port in
   use alone: exit 1;
3. a good configuration (the right password, a flag, a variable):
   exit 0 and the effective table with each value's origin, the password
   hidden;
4. start-up with the wrong password: one clear log line for the whole
   process however often the workers retry, and /ready's body says why."""
import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, batch_message, check,  # noqa
                     free_port, psql, records, wait_for)

PASSWORD = "right-horse-battery"
WRONG = "wrong-staple"
RETRIES_SEEN = 6  # write attempts refused before the log is judged


def run_check(binary, env, args=(), cwd=None):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("MDS_")}
    environment.update(env)
    result = subprocess.run([binary, "check"] + list(args), env=environment,
                            capture_output=True, text=True, timeout=60,
                            cwd=cwd)
    return result.returncode, result.stdout, result.stderr


def problems(stderr):
    return [line for line in stderr.splitlines()
            if line.startswith("mds-coordinator: ")]


def listener():
    """A socket listening on a free port: a port in use."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def with_password(uri, password):
    # postgresql://postgres@HOST:PORT/DB -> postgresql://postgres:PW@...
    scheme, rest = uri.split("://", 1)
    user, host = rest.split("@", 1)
    return "%s://%s:%s@%s" % (scheme, user, password, host)


def require_passwords(uri, data_dir):
    """Gives postgres a password, then TCP logins need it (scram)."""
    psql(uri, "ALTER USER postgres PASSWORD '%s'" % PASSWORD)
    hba = os.path.join(data_dir, "pg_hba.conf")
    with open(hba, "w") as handle:
        handle.write("local all all trust\n"
                     "host all all 127.0.0.1/32 scram-sha-256\n")
    psql(uri, "SELECT pg_reload_conf()")
    wrong = with_password(uri, WRONG)

    def refused():
        result = subprocess.run(["psql", wrong, "-X", "-c", "SELECT 1"],
                                capture_output=True, text=True, timeout=30)
        return result.returncode != 0
    wait_for(refused, 20, "PostgreSQL to ask for the password")


def planted_mistakes(binary, workdir):
    busy = listener()
    open(os.path.join(workdir, "plain-file"), "w").close()
    env = {
        "MDS_WORKERS": "two",                      # a bad integer
        "MDS_QUEU_CAPACITY": "100",                # a typo
        "MDS_HTTP_PORT": str(busy.getsockname()[1]),  # in use
        "MDS_HTTP_BIND": "127.0.0.1",
        "MDS_SINK": "sqlite:plain-file/market.db",  # no directory there
        "MDS_LOW_WATERMARK": "0.9",                # above the high one
        "MDS_INGEST_ENDPOINT": "tcp://127.0.0.1:*",
        "MDS_FEEDBACK_ENDPOINT": "tcp://127.0.0.1:*",
        "MDS_DLQ_PATH": os.path.join(workdir, "dlq.ndjson"),
    }
    code, out, err = run_check(binary, env, ["--batch-sise", "3"],
                               cwd=workdir)
    busy.close()
    found = problems(err)
    expected = [
        ("MDS_WORKERS='two'", "must be an integer"),
        ("unknown variable MDS_QUEU_CAPACITY", "did you mean "
                                               "MDS_QUEUE_CAPACITY"),
        ("unknown option --batch-sise", "did you mean --batch-size"),
        ("runtime: MDS_HTTP_PORT", "Address already in use"),
        ("MDS_SINK", "Not a directory"),
        ("MDS_LOW_WATERMARK='0.9'", "below the high watermark"),
    ]
    for first, second in expected:
        check(any(first in line and second in line for line in found),
              "check did not list %r / %r; it said:\n%s" % (first, second,
                                                           err))
    check(len(found) == len(expected) and "6 problems" in err,
          "more or fewer problems than planted:\n%s" % err)
    check(code == 2, "exit %d with config problems, not 2" % code)
    check("MDS_WORKERS" in out and "environment" in out,
          "the effective table is printed even so:\n%s" % out)


def postgres_cases(binary, uri, workdir):
    base = {"MDS_HTTP_PORT": "0", "MDS_HTTP_BIND": "127.0.0.1",
            "MDS_INGEST_ENDPOINT": "tcp://127.0.0.1:*",
            "MDS_FEEDBACK_ENDPOINT": "tcp://127.0.0.1:*",
            "MDS_DLQ_PATH": os.path.join(workdir, "dlq.ndjson"),
            "MDS_DB_TIMEOUT_MS": "5000"}
    # A wrong password and a bad value: both, the login named once.
    env = dict(base, MDS_SINK=with_password(uri, WRONG),
               MDS_DWELL_MS="-5")
    code, out, err = run_check(binary, env, cwd=workdir)
    found = problems(err)
    check(sum("authentication_failed" in line for line in found) == 1
          and any("refused the login" in line for line in found)
          and any("MDS_DWELL_MS='-5'" in line for line in found),
          "wrong password: %s" % err)
    check(WRONG not in out + err, "the password is shown:\n%s%s" % (out, err))
    check(code == 2, "exit %d with a config problem too, not 2" % code)
    # A missing database alone: a runtime problem, exit 1.
    missing = with_password(uri, PASSWORD).rsplit("/", 1)[0] + "/no_such_db"
    code, out, err = run_check(binary, dict(base, MDS_SINK=missing),
                               cwd=workdir)
    check(code == 1 and any("database_missing" in line and
                            "does not exist" in line
                            for line in problems(err)),
          "missing database: exit %d\n%s" % (code, err))
    # A port in use alone: exit 1.
    busy = listener()
    code, out, err = run_check(
        binary, dict(base, MDS_SINK=with_password(uri, PASSWORD),
                     MDS_INGEST_ENDPOINT="tcp://127.0.0.1:%d"
                                         % busy.getsockname()[1]),
        cwd=workdir)
    busy.close()
    check(code == 1 and len(problems(err)) == 1 and
          "MDS_INGEST_ENDPOINT" in err, "port in use: exit %d\n%s"
          % (code, err))
    # Good: exit 0, the table with origins, the password hidden.
    code, out, err = run_check(
        binary, dict(base, MDS_SINK=with_password(uri, PASSWORD)),
        ["--workers", "3"], cwd=workdir)
    check(code == 0 and not problems(err), "good config: exit %d\n%s%s"
          % (code, out, err))
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith("MDS_")}
    check(rows["MDS_WORKERS"] == ["3", "flag", "--workers"],
          "workers row %r" % rows["MDS_WORKERS"])
    check(rows["MDS_SINK"][-1] == "environment" and
          ":****@" in rows["MDS_SINK"][0] and PASSWORD not in out,
          "sink row %r" % rows["MDS_SINK"])
    check(rows["MDS_QUEUE_CAPACITY"] == ["10000", "default"],
          "queue capacity row %r" % rows["MDS_QUEUE_CAPACITY"])
    check("PostgreSQL answers" in out and "no problems" in out,
          "good config report:\n%s" % out)


def startup_refused(binary, uri):
    """The service with the wrong password: named once, /ready says why."""
    with Coordinator(binary, sink=with_password(uri, WRONG), MDS_WORKERS=3,
                     MDS_RETRY_BASE_MS=10, MDS_RETRY_MAX_MS=40,
                     MDS_BREAKER_THRESHOLD=2, MDS_BREAKER_TIMEOUT_MS=100,
                     MDS_SINK_STALL_MS=0) as coordinator:
        coordinator.start()

        def says_why():
            code, body = coordinator.get("/ready")
            return code == 503 and "refused the login" in \
                json.loads(body).get("reason", "")
        wait_for(says_why, 20, "/ready to say the login is refused")
        producer = Producer(coordinator.ingest_endpoint)
        producer.send_raw(batch_message("refused", 1, records(0, 10)))
        wait_for(lambda: coordinator.metrics().get(
                     "coordinator_sink_errors_total", 0) >= RETRIES_SEEN,
                 30, "%d refused write attempts" % RETRIES_SEEN)
        status = coordinator.status()
        check(status["sink"].get("problem") == "authentication_failed",
              "/status sink %r" % status["sink"])
        log = coordinator.read_log()
        named = [line for line in log.splitlines()
                 if "authentication_failed" in line]
        check(len(named) == 1 and " error " in named[0] and
              "refused the login" in named[0], "named lines:\n%s" % log)
        noisy = [line for line in log.splitlines()
                 if "warning" in line and ("write_failed" in line or
                                           "database_unreachable" in line or
                                           "breaker_open" in line)]
        check(not noisy, "one line per worker/attempt:\n%s" % "\n".join(noisy))
        check(WRONG not in log, "the password is in the log")
        producer.close()
        coordinator.kill()


def main(binary):
    uri = os.environ.get("MDS_TEST_PG_URI")
    data_dir = os.environ.get("MDS_TEST_PG_DATA")
    check(uri and data_dir, "run under tests/lib/with_postgres.sh")
    workdir = tempfile.mkdtemp(prefix="mds-check-")
    planted_mistakes(binary, workdir)
    require_passwords(uri, data_dir)
    postgres_cases(binary, uri, workdir)
    startup_refused(binary, uri)
    print("ok")


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
