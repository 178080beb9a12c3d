"""mdp-pipeline start-up checks: --help lists every option with its
variable and default, --version works, and every bad flag or variable
exits 2 with a message naming it (nothing starts: no port is bound).

usage: test_config.py MDP_PIPELINE
"""
import os
import subprocess
import sys
import tempfile

from pl_support import check

PROVIDERS = "ibkr,polygon"


def run(binary, args=(), **env):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("MDP_")}
    environment.update(env)
    result = subprocess.run([binary] + list(args), env=environment,
                            capture_output=True, timeout=20)
    return (result.returncode, result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"))


def main():
    binary = sys.argv[1]
    code, out, err = run(binary, ["--help"], MDP_PROVIDERS=PROVIDERS)
    check(code == 0, "--help exited %d: %s" % (code, err))
    for variable, default in [
            ("MDP_PROVIDERS", "synthetic"), ("MDP_STORE_ENDPOINTS", None),
            ("MDP_FEEDBACK_ENDPOINTS", None), ("MDP_FB_STALE_LEVEL", "soft"),
            ("MDP_FB_SCALE_SOFT", "0.5"), ("MDP_FB_RAMP_MS", "2000"),
            ("MDP_METRICS_STANDALONE_PORT", "8000"),
            ("MDP_ADMIN_TOKEN", None), ("MDP_SHUTDOWN_TIMEOUT_MS", None),
            ("MDP_RATE_IBKR_CAPACITY", "60"),
            ("MDP_RATE_POLYGON_REFILL_RATE", "60"),
            ("MDP_RATE_POLYGON_BREAKER_THRESHOLD", "5"),
            ("MDP_PROVIDER_IBKR_SOURCE", "synthetic"),
            ("MDP_PROVIDER_POLYGON_SYMBOLS", None),
            ("MDP_PROVIDER_IBKR_PRIORITY", None)]:
        # "--flag  VARIABLE  DEFAULT" (or the default on the next line
        # when the three do not fit in 80 columns), the description below.
        help_lines = out.splitlines() + [""]
        lines = [line + " " + help_lines[index + 1].replace("default:", "")
                 for index, line in enumerate(help_lines[:-1])
                 if variable + " " in line + " "]
        check(lines, "--help does not list %s:\n%s" % (variable, out))
        if default is not None:
            check((" %s " % default) in lines[0] + " ",
                  "--help shows no default %s for %s: %s"
                  % (default, variable, lines[0]))
    flag_of = {"MDP_RATE_IBKR_CAPACITY": "--rate-ibkr-capacity"}
    for variable, flag in flag_of.items():
        check(any(flag in line and variable in line
                  for line in out.splitlines()),
              "--help pairs no flag %s with %s" % (flag, variable))
    code, out, _ = run(binary, ["--version"])
    check(code == 0 and out.startswith("mdp-pipeline "),
          "--version: %d %r" % (code, out))

    workdir = tempfile.mkdtemp(prefix="mdp-config-")
    missing = os.path.join(workdir, "missing.csv")
    bad_cases = [
        ({"MDP_SEND_WINDOW": "abc"}, "MDP_SEND_WINDOW"),
        ({"MDP_PROVIDERS": "ibkr", "MDP_RATE_IBKR_CAPACITY": "-5"},
         "MDP_RATE_IBKR_CAPACITY"),
        ({"MDP_RATE_SYNTHETIC_REFILL_RATE": "fast"},
         "MDP_RATE_SYNTHETIC_REFILL_RATE"),
        ({"MDP_FB_STALE_LEVEL": "extreme"}, "MDP_FB_STALE_LEVEL"),
        ({"MDP_FB_POLICY": "random"}, "MDP_FB_POLICY"),
        ({"MDP_FB_SCALE_SOFT": "1.5"}, "MDP_FB_SCALE_SOFT"),
        ({"MDP_PROVIDERS": "ibkr", "MDP_PROVIDER_IBKR_SOURCE": "kafka"},
         "MDP_PROVIDER_IBKR_SOURCE"),
        ({"MDP_PROVIDERS": " , "}, "MDP_PROVIDERS"),
        ({"MDP_PROVIDERS": "ibkr,IBKR"}, "MDP_PROVIDERS"),
        ({"MDP_PROVIDERS": "a;b"}, "MDP_PROVIDERS"),
        ({"MDP_PROVIDERS": "live,backfill",
          "MDP_PROVIDER_LIVE_PRIORITY": "urgent"},
         "MDP_PROVIDER_LIVE_PRIORITY"),
        # An explicit list is the user's: a leftover variable naming a
        # provider it lacks stops start-up, naming that variable (it must
        # not add a synthetic market to a real store).
        ({"MDP_PROVIDERS": "ibkr", "MDP_RATE_SYNTHETIC_CAPACITY": "5"},
         "MDP_RATE_SYNTHETIC_*"),
        ({"MDP_PROVIDERS": "ibkr", "MDP_FB_PROVIDER_NAME": "polygon"},
         "MDP_FB_PROVIDER_NAME"),
        ({"MDP_PROVIDER_SYNTHETIC_SOURCE": "replay:" + missing},
         "MDP_PROVIDER_SYNTHETIC_SOURCE"),
        ({"MDP_PROVIDER_SYNTHETIC_SOURCE": "replay:" + workdir},
         "MDP_PROVIDER_SYNTHETIC_SOURCE"),
        ({"MDP_PROVIDER_SYNTHETIC_SOURCE": "replay:"},
         "MDP_PROVIDER_SYNTHETIC_SOURCE"),
        ({"MDP_PROVIDER_SYNTHETIC_SYMBOLS": " , "},
         "MDP_PROVIDER_SYNTHETIC_SYMBOLS"),
        ({"MDP_STORE_ENDPOINTS": "localhost:5555"}, "MDP_STORE_ENDPOINTS"),
        ({"MDP_STORE_ENDPOINTS": " , "}, "MDP_STORE_ENDPOINTS"),
        ({"MDP_FEEDBACK_ENDPOINTS": "udp://x:1"}, "MDP_FEEDBACK_ENDPOINTS"),
        ({"MDP_FB_PROVIDER_NAME": "a;b"}, "MDP_FB_PROVIDER_NAME"),
        ({"MDP_METRICS_BIND": "not-an-address"}, "MDP_METRICS_BIND"),
        ({"MDP_METRICS_STANDALONE_PORT": "70000"},
         "MDP_METRICS_STANDALONE_PORT"),
        ({"MDP_LOG_LEVEL": "loud"}, "MDP_LOG_LEVEL"),
        # Issue 12: an id the wire refuses (over 64 bytes) stops start-up
        # instead of dropping every batch; a tab before a number is not
        # skipped.
        ({"MDP_PRODUCER_ID": "p" * 65}, "MDP_PRODUCER_ID"),
        ({"MDP_SEND_WINDOW": "\t4"}, "MDP_SEND_WINDOW"),
        ({"MDP_FB_SCALE_SOFT": "\n0.5"}, "MDP_FB_SCALE_SOFT"),
    ]
    for env, variable in bad_cases:
        code, _, err = run(binary, **env)
        check(code == 2, "%s: exit %d, expected 2; stderr: %s"
              % (env, code, err))
        check(variable in err, "%s: the message does not name %s: %s"
              % (env, variable, err))
    code, _, err = run(binary, ["--send-window=0"])
    check(code == 2 and "--send-window" in err,
          "--send-window=0: %d %s" % (code, err))
    code, _, err = run(binary, ["--provider-live-priority=urgent"],
                       MDP_PROVIDERS="live,backfill")
    check(code == 2 and "--provider-live-priority" in err,
          "--provider-live-priority=urgent: %d %s" % (code, err))
    code, _, err = run(binary, ["--no-such-flag"])
    check(code == 2 and "--no-such-flag" in err,
          "--no-such-flag: %d %s" % (code, err))
    print("ok: %d bad configurations refused" % (len(bad_cases) + 3))


if __name__ == "__main__":
    main()
