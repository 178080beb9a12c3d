"""A dead-letter file that cannot be written (issue 11, item e): a record
the database refuses for good cannot be dead-lettered while a directory
stands where the file should be, so its batch is NOT acked as
dead_lettered (it is kept, retried), the level goes HARD with reason
`sink_down` while the queue is short, and /ready turns 503. Once the path
can be written again the line lands in the file, the batch is acked with
dead_lettered = 1, and the level comes back to OK."""
import json
import os
import shutil
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Coordinator, Producer, check, record, records,  # noqa
                     wait_for)

import msgpack

TRIGGER = ("CREATE TRIGGER reject_bad BEFORE INSERT ON trades "
           "WHEN NEW.symbol = 'BADSYM' "
           "BEGIN SELECT RAISE(ABORT, 'rejected by the test trigger'); END")
HELD_S = 2.0  # no ack may come while the file cannot be written


def main(binary):
    with Coordinator(binary, MDS_RETRY_BASE_MS=10, MDS_RETRY_MAX_MS=100,
                     MDS_SINK_RECOVERY_MS=200, MDS_DWELL_MS=50) as coordinator:
        coordinator.start(ready=True)
        connection = sqlite3.connect(coordinator.db_path, timeout=10)
        connection.execute(TRIGGER)
        connection.commit()
        connection.close()
        # A directory where the dead-letter file should be.
        if os.path.exists(coordinator.dlq_path):
            os.remove(coordinator.dlq_path)
        os.mkdir(coordinator.dlq_path)

        recs = records(0, 10, kinds=("trade",))
        recs[3] = record(3, "trade", symbol="BADSYM")
        producer = Producer(coordinator.ingest_endpoint)
        producer.send_raw(msgpack.packb(
            {"v": 1, "type": "batch", "producer_id": "dlq-test",
             "session": 5, "batch_seq": 1, "records": recs},
            use_bin_type=True))
        wait_for(lambda: coordinator.status()["level"] == "hard", 15,
                 "HARD while the dead-letter file cannot be written")
        status = coordinator.status()
        check(status["sink_state"] == "down" and status["depth"] == 10,
              "/status: %r" % status)
        check(coordinator.get("/ready")[0] == 503, "/ready not 503")
        check(producer.recv(HELD_S) is None,
              "a reply came while the dead letter was nowhere: %r"
              % producer.replies)

        os.rmdir(coordinator.dlq_path)
        reply = None
        deadline = time.monotonic() + 15
        while reply is None and time.monotonic() < deadline:
            reply = producer.recv(0.1)
        check(reply is not None and reply["type"] == "ack"
              and reply["dead_lettered"] == 1 and reply["written"] == 9
              and reply["session"] == 5, "the ack: %r" % reply)
        with open(coordinator.dlq_path) as handle:
            lines = [json.loads(line) for line in handle if line.strip()]
        check(len(lines) == 1 and lines[0]["symbol"] == "BADSYM",
              "dead-letter lines: %r" % lines)
        wait_for(lambda: coordinator.status()["level"] == "ok", 15,
                 "OK once the dead letter is on disk")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")
    shutil.rmtree(coordinator.workdir, ignore_errors=True)
    print("ok: no ack while the dead-letter file was a directory (HARD, "
          "sink_down), acked with dead_lettered 1 once it could be written")


if __name__ == "__main__":
    main(sys.argv[1])
