"""A looping replay whose next pass would overflow ts_ns (issue 12 item 4),
live: mdp-pipeline replays a two-line file (ts 1 and 4e18) with
MDP_PROVIDER_RP_LOOP=true into the real mds-coordinator (SQLite). The second
pass ends at 8e18; the third would pass 2^63 - 1, so the replay ends there
(`replay: loop_ended`) instead of wrapping to negative times that dropped
whole batches as encode_failed and stored wrapped rows. Exactly the four
records of the two passes are stored, nothing is dropped.

usage: test_replay_loop.py MDP_PIPELINE MDS_COORDINATOR
"""
import os
import sqlite3
import sys

from pl_support import Pipeline, check, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator  # noqa: E402

EXPECTED = [1, 4000000000000000000, 4000000000000000001, 8000000000000000000]


def stored_times(db_path):
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        return sorted(row[0] for row in connection.execute(
            "SELECT ts_ns FROM trades WHERE provider = 'rp'"))
    except sqlite3.OperationalError:
        return []  # the table is not there yet
    finally:
        connection.close()


def main():
    pipeline_binary, coordinator_binary = sys.argv[1], sys.argv[2]
    with Coordinator(coordinator_binary) as coordinator:
        coordinator.start(ready=True)
        replay_path = os.path.join(coordinator.workdir, "replay.csv")
        with open(replay_path, "w") as handle:
            handle.write("trade,x,AAPL,1,1,1\n"
                         "trade,x,AAPL,4000000000000000000,1,1\n")
        with Pipeline(pipeline_binary,
                      MDP_PROVIDERS="rp",
                      MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                      MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint,
                      MDP_PROVIDER_RP_SOURCE="replay:" + replay_path,
                      MDP_PROVIDER_RP_LOOP="true",
                      MDP_RATE_RP_REFILL_RATE=1000,
                      MDP_SEND_BATCH_MS=5) as pipeline:
            pipeline.start()
            wait_for(lambda: "loop_ended" in pipeline.read_log(), 20,
                     "the replay to end before ts_ns overflows")
            wait_for(lambda: len(stored_times(coordinator.db_path))
                     >= len(EXPECTED), 20, "the two passes to be stored")
            check(pipeline.stop() == 0, "pipeline exit code not 0")
            log = pipeline.read_log()
            check("encode_failed" not in log, "batches were dropped:\n" + log)
        times = stored_times(coordinator.db_path)
        check(times == EXPECTED, "stored ts_ns %r, expected %r"
              % (times, EXPECTED))
        check(coordinator.stop() == 0, "coordinator exit code not 0")
    print("ok: the loop ended before overflowing; %d rows, none wrapped"
          % len(EXPECTED))


if __name__ == "__main__":
    main()
