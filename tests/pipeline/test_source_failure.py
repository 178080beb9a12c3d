"""A provider whose source fails opens its circuit breaker; the others go
on. The failing source is a replay of /proc/self/mem: a regular file that
opens but whose every read fails (EIO), a real read error without a mock.
With MDP_RATE_BAD_BREAKER_THRESHOLD=3 the breaker opens after three failed
reads (logged, gauge 1, /status "open"), lets one probe through per
MDP_RATE_BAD_BREAKER_TIMEOUT (half-open, which fails and re-opens it), so the
failures are bounded instead of a tight loop, while the healthy provider
keeps producing.

usage: test_source_failure.py MDP_PIPELINE
"""
import json
import sys

from pl_support import Pipeline, check, free_port, wait_for


def main():
    binary = sys.argv[1]
    with Pipeline(binary,
                  MDP_PROVIDERS="bad,good",
                  MDP_PROVIDER_BAD_SOURCE="replay:/proc/self/mem",
                  MDP_RATE_BAD_BREAKER_THRESHOLD=3,
                  MDP_RATE_BAD_BREAKER_TIMEOUT=0.3,
                  MDP_RATE_GOOD_REFILL_RATE=500,
                  MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % free_port(),
                  MDP_FB_ENABLE_FEEDBACK="false",
                  MDP_SHUTDOWN_TIMEOUT_MS=100) as pipeline:
        pipeline.start()
        pipeline.wait_metric('pipeline_breaker_state{provider="bad"}',
                             lambda v: v == 2, 10, "the breaker of bad open (2)")
        wait_for(lambda: "breaker_open provider=bad" in pipeline.read_log(),
                 10, "the breaker_open log line")
        log = pipeline.read_log()
        first_open = log.index("breaker_open provider=bad")
        check(log[:first_open].count("read_failed") == 3,
              "the breaker did not open after exactly 3 failed reads")

        # Probes: each timeout lets one read through, which fails again.
        wait_for(lambda: pipeline.read_log().count(
                     "breaker_open provider=bad was=half-open") >= 2,
                 10, "two failed half-open probes")
        log = pipeline.read_log()
        opens = log.count("breaker_open provider=bad")
        # (+1: a probe's failure may be logged before its breaker_open)
        check(log.count("read_failed") in (3 + opens - 1, 3 + opens),
              "reads while the breaker was open: %d failures, %d opens"
              % (log.count("read_failed"), opens))
        code, body = pipeline.get("/status")
        check(code == 200, "/status %s" % code)
        providers = {p["name"]: p for p in json.loads(body)["providers"]}
        check(providers["bad"]["breaker"] in ("open", "half-open"),
              "/status breaker of bad: %s" % providers["bad"]["breaker"])
        check(providers["good"]["breaker"] == "closed",
              "/status breaker of good: %s" % providers["good"]["breaker"])
        check(pipeline.metric('pipeline_records_produced_total'
                              '{provider="bad"}') == 0,
              "records from a source that cannot be read")

        # The healthy provider is not held back.
        produced = pipeline.metric('pipeline_records_produced_total'
                                   '{provider="good"}')
        pipeline.wait_metric('pipeline_records_produced_total'
                             '{provider="good"}',
                             lambda v: v > produced, 10,
                             "good producing while bad is broken")
        check(pipeline.stop() == 0, "SIGTERM did not exit 0")
    print("ok")


if __name__ == "__main__":
    main()
